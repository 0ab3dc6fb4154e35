"""Law specifications and the registry.

A law is a pure formula of its inputs and parameters plus a declarative spec:
name, inputs, parameters with default priors and the reason for each, and
references.  The catalogue lives in ``models/*.toml`` (installed as
``bayescale.models``); users can load their own file with :func:`load_law`
or build one in Python with :func:`make_law`.  The Python API, the CLI and
saved fits all go through :func:`get_law`.
"""

from __future__ import annotations

import importlib.resources
import json
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from ..errors import LawError, PriorError
from .data import stat_names
from .formula import Formula, evaluate, parse
from .priors import Prior, parse_prior
from .roles import ROLES, check_roles, distance_formulas

__all__ = ["Parameter", "Law", "ROLES", "make_law", "load_law", "get_law", "list_laws", "stat_names"]

#: Names reserved for the likelihood and the metric.
RESERVED = frozenset({"y", "sigma", "nu", "phi", "trials"})



@dataclass(frozen=True)
class Parameter:
    """One parameter of a law.

    Attributes
    ----------
    name : str
    prior : Prior
        Default prior.
    description : str
        What the parameter means.
    reason : str
        Why the default prior is what it is.
    derived : bool
        True for a parameter computed from parameters declared before it (``derived = "..."`` in a
        law file) instead of sampled: its ``prior`` is then ``Fixed(value=<the expression>)``, and the
        law's priors are on the parameters it is computed from.
    """

    name: str
    prior: Prior
    description: str = ""
    reason: str = ""
    derived: bool = False

    @property
    def expression(self) -> str:
        """The text of a derived parameter's expression (``""`` for a sampled one)."""
        return self.prior.args["value"].text if self.derived else ""


@dataclass(frozen=True)
class Law:
    """A scaling law: formula, inputs, parameters and default priors.

    Attributes
    ----------
    name : str
    formula : Formula
        The expected value of the metric, ``y = f(inputs; parameters)``.
    inputs : tuple of str
        Names of the scale variables, e.g. ``("x",)`` or ``("N", "D")``.
    parameters : tuple of Parameter
        In declaration order; a prior may use parameters declared before it.
    description, references : documentation.
    ordered : tuple of str
        Parameters (break positions) that share ``LogUniform`` bounds and are
        sampled jointly in increasing order by Dirichlet spacing.
    display : str
        The formula as papers write it (documentation only).
    """

    name: str
    formula: Formula
    inputs: tuple[str, ...]
    parameters: tuple[Parameter, ...]
    description: str = ""
    references: tuple[str, ...] = ()
    ordered: tuple[str, ...] = ()
    display: str = ""
    source: str = field(default="", compare=False)
    roles: Mapping[str, Any] = field(default_factory=dict, hash=False, compare=False)

    @property
    def break_positions(self) -> tuple[str, ...]:
        """Parameters declared as break positions (``d1, d2, ...`` for BNSL), in order."""
        return tuple(self.roles.get("break_positions", ()))

    @property
    def slope_changes(self) -> tuple[str, ...]:
        """Parameters declared as the slope change at each break, in the order of the breaks."""
        return tuple(self.roles.get("slope_changes", ()))

    @property
    def break_sharpness(self) -> tuple[str, ...]:
        """Parameters declared as the sharpness (smoothness) of each break, in the order of the breaks."""
        return tuple(self.roles.get("break_sharpness", ()))

    @property
    def is_broken(self) -> bool:
        """True for laws with declared breaks (the BNSL family)."""
        return bool(self.break_positions)

    @property
    def closed_form(self) -> str | None:
        """Name of the closed-form compute-optimal allocation that holds for this law, if any."""
        return self.roles.get("closed_form")

    @property
    def distances(self) -> dict[str, Formula]:
        """Scales computed from the inputs (role ``distances``, e.g. epochs = D / U) along which a forecast's
        distance beyond the data is measured as well as along each input (:mod:`bayescale.spec.roles`)."""
        return distance_formulas(self.roles)

    @property
    def param_names(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.parameters)

    @property
    def derived(self) -> tuple[str, ...]:
        """Parameters computed from others (``derived = "..."``), not sampled."""
        return tuple(p.name for p in self.parameters if p.derived)

    @property
    def sampled(self) -> tuple[str, ...]:
        """Parameters with a prior of their own: :attr:`param_names` less :attr:`derived`.  Counts of a
        law's parameters (identifiability, default designs, model choice) count these."""
        return tuple(p.name for p in self.parameters if not p.derived)

    @property
    def formula_params(self) -> tuple[str, ...]:
        """Parameters the formula itself uses: what evaluating or simulating the law needs."""
        return tuple(n for n in self.param_names if n in self.formula.names)

    def computed_from(self, name: str) -> tuple[str, ...]:
        """The sampled parameters a derived one is computed from (through derived ones), in declaration
        order (``()`` for a sampled one): where to put priors instead."""
        p = self.parameter(name)
        used = p.prior.names & set(self.param_names) if p.derived else set()
        return tuple(n for n in self.sampled if n in used or any(n in self.computed_from(u) for u in used))

    def parameter(self, name: str) -> Parameter:
        for p in self.parameters:
            if p.name == name:
                return p
        raise PriorError(
            f"law {self.name!r} has no parameter {name!r}; its parameters are "
            f"{', '.join(self.param_names)}"
        )

    def __call__(self, **values: Any) -> np.ndarray:
        """Evaluate the law with numpy: ``law(x=..., alpha=..., A=...)``."""
        need = set(self.inputs) | set(self.param_names)
        unknown = set(values) - need
        if unknown:
            raise LawError(
                f"law {self.name!r} got unknown argument(s) {', '.join(sorted(unknown))}; "
                f"it takes {', '.join(self.inputs + self.param_names)}"
            )
        env = {k: np.asarray(v, dtype=float) for k, v in values.items()}
        return np.asarray(evaluate(self.formula, env), dtype=float)

    def evaluate(self, inputs: Mapping[str, Any], params: Mapping[str, Any], backend=None):
        """Evaluate on any backend with separate input and parameter mappings."""
        return evaluate(self.formula, {**inputs, **params}, backend)

    def to_dict(self) -> dict[str, Any]:
        """Plain dict in the law-file format (round-trips through :func:`make_law`)."""
        return {
            "name": self.name,
            "description": self.description,
            "display": self.display,
            "formula": self.formula.text,
            "inputs": list(self.inputs),
            "references": list(self.references),
            "ordered": list(self.ordered),
            "roles": dict(self.roles),
            "parameters": [
                {
                    "name": p.name,
                    **({"derived": p.expression} if p.derived else {"prior": p.prior.text}),
                    "description": p.description,
                    "reason": p.reason,
                }
                for p in self.parameters
            ],
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict())


def make_law(
    *,
    name: str,
    formula: str,
    inputs: Sequence[str],
    parameters: Sequence[Mapping[str, Any]],
    description: str = "",
    references: Sequence[str] = (),
    ordered: Sequence[str] = (),
    display: str = "",
    source: str = "",
    roles: Mapping[str, Any] | None = None,
) -> Law:
    """Build and check a law.

    Parameters
    ----------
    name : str
    formula : str
        Expression for the expected metric, e.g. ``"E + A * x^(-alpha)"``.
    inputs : sequence of str
        Scale variable names used in the formula.
    parameters : sequence of mappings
        Each with ``name`` and ``prior`` (string), optionally ``description``
        and ``reason``; a prior may use data statistics
        (:func:`stat_names`) and parameters listed before it.  Instead of a
        ``prior``, ``derived`` (an expression of parameters listed before it
        and data statistics) computes the parameter from others, e.g. a
        slope change from a sampled effect size (see ``models/bnsl1.toml``).
    roles : mapping, optional
        Declared roles (:data:`ROLES`): ``break_positions`` and ``slope_changes`` (lists of
        parameter names, one per break) and ``closed_form`` (e.g. ``"chinchilla"``).

    Raises
    ------
    LawError, PriorError
        If anything is missing, unknown, forbidden or inconsistent.
    """
    where = f"law {name!r}" + (f" ({source})" if source else "")
    if not isinstance(name, str) or not name.isidentifier():
        raise LawError(f"{where}: the name must be an identifier (letters, digits, _)")
    inputs = tuple(inputs)
    if not inputs or not all(isinstance(v, str) and v.isidentifier() for v in inputs):
        raise LawError(f"{where}: 'inputs' must be a non-empty list of names, got {list(inputs)!r}")
    f = parse(formula)
    params: list[Parameter] = []
    seen: set[str] = set()
    stats = stat_names(inputs)
    for i, spec in enumerate(parameters):
        if not isinstance(spec, Mapping) or "name" not in spec or ("prior" in spec) == ("derived" in spec):
            raise LawError(f"{where}: parameter #{i + 1} needs a 'name' and either a 'prior' or (computed "
                           "from parameters before it) 'derived'")
        unknown_keys = set(spec) - {"name", "prior", "derived", "description", "reason"}
        if unknown_keys:
            raise LawError(
                f"{where}: parameter {spec['name']!r} has unknown key(s) "
                f"{', '.join(sorted(unknown_keys))}; use name, prior (or derived), description, reason"
            )
        pname = spec["name"]
        if not isinstance(pname, str) or not pname.isidentifier() or pname.startswith("_"):
            raise LawError(f"{where}: parameter name {pname!r} must be an identifier")
        if pname in RESERVED or pname in inputs or pname in stats or pname in seen:
            raise LawError(f"{where}: parameter name {pname!r} is reserved or used twice")
        derived = "derived" in spec
        if derived:
            expr = spec["derived"]
            if not isinstance(expr, str) or not expr.strip():
                raise LawError(f"{where}: 'derived' of {pname!r} must be an expression, got {expr!r}")
            try:
                prior = parse_prior(f"Fixed(value={expr.strip()})", param=pname)
            except PriorError as exc:
                raise LawError(f"{where}: 'derived' of {pname!r}: {exc}") from None
            if not prior.names & seen:
                raise LawError(f"{where}: 'derived' of {pname!r} uses no parameter declared before it; "
                               f"a constant is a prior: prior = \"Fixed(value={expr.strip()})\"")
        else:
            prior = parse_prior(spec["prior"], param=pname)
        bad = prior.names - stats - seen
        if bad:
            what = "'derived' expression" if derived else "prior"
            raise PriorError(
                f"{where}: {what} of {pname!r} uses {', '.join(sorted(bad))}, which is neither a "
                f"data statistic ({', '.join(sorted(stats))}) nor a parameter declared before it"
            )
        params.append(Parameter(pname, prior, spec.get("description", ""), spec.get("reason", ""), derived))
        seen.add(pname)
    if not params:
        raise LawError(f"{where}: a law needs at least one parameter")
    free = f.names - set(inputs) - seen
    if free:
        raise LawError(
            f"{where}: formula uses {', '.join(sorted(free))}, which is neither an input "
            f"({', '.join(inputs)}) nor a parameter"
        )
    # a parameter that only a derived one uses is used through it
    used = set(f.names).union(*(p.prior.names for p in params if p.derived))
    unused = (seen | set(inputs)) - used
    if unused:
        raise LawError(f"{where}: {', '.join(sorted(unused))} declared but not used in the formula")
    ordered = tuple(ordered)
    if ordered:
        texts = set()
        for o in ordered:
            if o not in seen:
                raise LawError(f"{where}: 'ordered' names {o!r}, which is not a parameter")
            p = next(p for p in params if p.name == o)
            if p.prior.dist != "LogUniform":
                raise LawError(f"{where}: ordered parameter {o!r} must have a LogUniform prior")
            texts.add(p.prior.text.replace(" ", ""))
        if len(texts) != 1:
            raise LawError(f"{where}: ordered parameters must share one LogUniform prior")
    roles = check_roles(dict(roles or {}), seen, inputs, where)
    return Law(
        roles=roles,
        name=name,
        formula=f,
        inputs=inputs,
        parameters=tuple(params),
        description=description,
        references=tuple(references),
        ordered=ordered,
        display=display,
        source=source,
    )


_LAW_KEYS = {"name", "formula", "inputs", "parameters", "description", "references", "ordered", "display", "roles"}


def _law_from_mapping(d: Mapping[str, Any], source: str) -> Law:
    unknown = set(d) - _LAW_KEYS
    if unknown:
        raise LawError(
            f"law file {source}: unknown key(s) {', '.join(sorted(unknown))}; "
            f"allowed: {', '.join(sorted(_LAW_KEYS))}"
        )
    missing = [k for k in ("name", "formula", "inputs", "parameters") if k not in d]
    if missing:
        raise LawError(f"law file {source}: missing key(s) {', '.join(missing)}")
    return make_law(
        name=d["name"],
        formula=d["formula"],
        inputs=d["inputs"],
        parameters=d["parameters"],
        description=d.get("description", ""),
        references=d.get("references", ()),
        ordered=d.get("ordered", ()),
        display=d.get("display", ""),
        source=source,
        roles=d.get("roles"),
    )


def load_law(path: str | Path) -> Law:
    """Load a law from a TOML file in the catalogue's format.

    Raises
    ------
    LawError
        If the file is missing, not TOML, or not a valid law.
    """
    p = Path(path)
    if not p.is_file():
        raise LawError(f"law file {str(p)!r} not found; check the path")
    try:
        d = tomllib.loads(p.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise LawError(f"law file {str(p)!r} is not valid TOML: {exc}") from None
    return _law_from_mapping(d, str(p))


def law_from_json(text: str) -> Law:
    """Rebuild a law saved with :meth:`Law.to_json`.

    Fits saved by bayescale 0.1.0 carry no roles; a saved law with the name and formula of a
    catalogue law takes the catalogue's roles.
    """
    d = json.loads(text)
    if "roles" not in d:
        same = _catalogue().get(d.get("name"))
        if same is not None and same.formula.text == d.get("formula"):
            d = {**d, "roles": dict(same.roles)}
    return _law_from_mapping(d, "saved fit")


_REGISTRY: dict[str, Law] | None = None


def _catalogue() -> dict[str, Law]:
    global _REGISTRY
    if _REGISTRY is None:
        reg: dict[str, Law] = {}
        for res in sorted(importlib.resources.files("bayescale.models").iterdir(), key=lambda r: r.name):
            if res.name.endswith(".toml"):
                d = tomllib.loads(res.read_text(encoding="utf-8"))
                law = _law_from_mapping(d, f"models/{res.name}")
                reg[law.name] = law
        _REGISTRY = reg
    return _REGISTRY


def list_laws() -> list[Law]:
    """Every law in the catalogue, by name."""
    return list(_catalogue().values())


def get_law(law: str | Path | Law) -> Law:
    """Resolve a law: a :class:`Law`, a catalogue name, or a path to a law file.

    Raises
    ------
    LawError
        For an unknown name (the message lists the catalogue).
    """
    if isinstance(law, Law):
        return law
    s = str(law)
    cat = _catalogue()
    if s in cat:
        return cat[s]
    if s.endswith(".toml") or Path(s).is_file():
        return load_law(s)
    raise LawError(f"unknown law {s!r}; choose one of {', '.join(cat)} or give a path to a .toml law file")
