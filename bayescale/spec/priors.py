"""Prior distributions for law parameters.

A prior is written as ``Name(key=expression, ...)``, for example
``LogNormal(mu=log(y_ref) + alpha*log(x_ref), sigma=2)``.  Its arguments are
formulas (see :mod:`bayescale.formula`) that may use

* numbers;
* data statistics, which make the defaults scale-aware: for each input ``v``
  of the law ``v_min``, ``v_max`` and ``v_ref`` (geometric mean), and for the
  metric ``y_min``, ``y_max``, ``y_ref`` (geometric mean of ``|y|``), ``y_sd``,
  ``y_start`` and ``y_end`` (mean metric at the smallest and largest value of
  the first input);
* parameters declared *earlier* in the law, which makes a prior conditional.

``Fixed(value=...)`` (or a bare number such as ``0.25``) is a point mass: the parameter is fixed
at that value and nothing is sampled for it, e.g. a known chance level ``floor=0.25``.  A law's
*derived* parameter (``derived = "..."`` in a law file, e.g. the BNSL slope change computed from the
break's sampled effect) is held as ``Fixed(value=<expression of earlier parameters>)``.

Every other prior is sampled **non-centred**: a standard variable ``<name>_raw`` is
drawn and mapped through the prior's location and scale.  A conditional prior
such as the one above therefore samples the amplitude *at the reference
scale*, which removes the strong posterior correlation between an amplitude
and its exponent that otherwise slows NUTS down.
"""

from __future__ import annotations

import ast

from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

import numpy as np
from scipy import stats

from ..errors import LawError, PriorError
from .formula import Formula, evaluate, parse_call

__all__ = ["Prior", "PriorFamily", "FAMILIES", "DISTRIBUTIONS", "parse_prior", "check_domain"]


@dataclass(frozen=True)
class PriorFamily:
    """One prior family: its arguments and the non-centred map from a standard raw variable.

    Attributes
    ----------
    name : str
    args : tuple of str
        Required arguments.
    raw : str
        The standard PyMC variable sampled (``Normal``, ``HalfNormal``, ``Uniform``,
        ``Exponential``, ``Gamma``).
    suffix : str
        Suffix of that variable's value variable under PyMC's default transform.
    from_raw : callable ``(raw, args, backend) -> value``
    to_raw : callable ``(value, args) -> raw`` (numpy)
    draw : callable ``(args, rng, size) -> values`` (numpy)
    logpdf : callable ``(value, args) -> log density`` (scipy)
    """

    name: str
    args: tuple[str, ...]
    raw: str
    suffix: str
    from_raw: Callable[..., Any] = field(repr=False)
    to_raw: Callable[..., Any] = field(repr=False)
    draw: Callable[..., Any] = field(repr=False)
    logpdf: Callable[..., Any] = field(repr=False)
    positive: tuple[str, ...] = ()  # arguments that must be > 0
    increasing: tuple[str, ...] = ()  # (lower, upper) that must satisfy lower < upper

    def domain_error(self, values: Mapping[str, float]) -> str | None:
        """Why these argument values are outside the family's domain, or None when they are valid.

        Only arguments present in ``values`` are checked (the others may depend on parameters).
        """
        for k, v in values.items():
            if not np.isfinite(v):
                return f"{k}={_num(v)} is not a finite number"
        for k in self.positive:
            if k in values and not values[k] > 0:
                return f"{k}={_num(values[k])} must be > 0"
        if self.increasing and all(k in values for k in self.increasing):
            lo, hi = self.increasing
            if not values[lo] < values[hi]:
                return f"{lo}={_num(values[lo])} must be below {hi}={_num(values[hi])}"
        return None


def _num(v: float) -> str:
    return f"{float(v):g}"


def _log_span(a, log):
    lo, hi = log(a["lower"]), log(a["upper"])
    return lo, hi - lo


#: The prior families, by name.
FAMILIES: dict[str, PriorFamily] = {f.name: f for f in (
    PriorFamily(
        "Normal", ("mu", "sigma"), "Normal", "",
        from_raw=lambda r, a, be: a["mu"] + a["sigma"] * r,
        to_raw=lambda v, a: (v - a["mu"]) / a["sigma"],
        draw=lambda a, rng, n: a["mu"] + a["sigma"] * rng.standard_normal(n),
        logpdf=lambda v, a: stats.norm.logpdf(v, a["mu"], a["sigma"]),
        positive=("sigma",),
    ),
    PriorFamily(
        "LogNormal", ("mu", "sigma"), "Normal", "",
        from_raw=lambda r, a, be: be["exp"](a["mu"] + a["sigma"] * r),
        to_raw=lambda v, a: (np.log(v) - a["mu"]) / a["sigma"],
        draw=lambda a, rng, n: np.exp(a["mu"] + a["sigma"] * rng.standard_normal(n)),
        logpdf=lambda v, a: stats.lognorm.logpdf(v, s=a["sigma"], scale=np.exp(a["mu"])),
        positive=("sigma",),
    ),
    PriorFamily(
        "HalfNormal", ("sigma",), "HalfNormal", "_log__",
        from_raw=lambda r, a, be: a["sigma"] * r,
        to_raw=lambda v, a: v / a["sigma"],
        draw=lambda a, rng, n: a["sigma"] * np.abs(rng.standard_normal(n)),
        logpdf=lambda v, a: stats.halfnorm.logpdf(v, scale=a["sigma"]),
        positive=("sigma",),
    ),
    PriorFamily(
        "Uniform", ("lower", "upper"), "Uniform", "_interval__",
        from_raw=lambda r, a, be: a["lower"] + (a["upper"] - a["lower"]) * r,
        to_raw=lambda v, a: (v - a["lower"]) / (a["upper"] - a["lower"]),
        draw=lambda a, rng, n: a["lower"] + (a["upper"] - a["lower"]) * rng.uniform(size=n),
        logpdf=lambda v, a: stats.uniform.logpdf(v, a["lower"], a["upper"] - a["lower"]),
        increasing=("lower", "upper"),
    ),
    PriorFamily(
        "LogUniform", ("lower", "upper"), "Uniform", "_interval__",
        from_raw=lambda r, a, be: be["exp"](_log_span(a, be["log"])[0] + _log_span(a, be["log"])[1] * r),
        to_raw=lambda v, a: (np.log(v) - _log_span(a, np.log)[0]) / _log_span(a, np.log)[1],
        draw=lambda a, rng, n: np.exp(_log_span(a, np.log)[0] + _log_span(a, np.log)[1] * rng.uniform(size=n)),
        logpdf=lambda v, a: stats.loguniform.logpdf(v, a["lower"], a["upper"]),
        positive=("lower", "upper"),
        increasing=("lower", "upper"),
    ),
    PriorFamily(
        "Exponential", ("scale",), "Exponential", "_log__",
        from_raw=lambda r, a, be: a["scale"] * r,
        to_raw=lambda v, a: v / a["scale"],
        draw=lambda a, rng, n: a["scale"] * rng.exponential(size=n),
        logpdf=lambda v, a: stats.expon.logpdf(v, scale=a["scale"]),
        positive=("scale",),
    ),
    PriorFamily(
        "Gamma", ("alpha", "beta"), "Gamma", "_log__",
        from_raw=lambda r, a, be: r / a["beta"],
        to_raw=lambda v, a: v * a["beta"],
        draw=lambda a, rng, n: rng.gamma(a["alpha"], size=n) / a["beta"],
        logpdf=lambda v, a: stats.gamma.logpdf(v, a["alpha"], scale=1.0 / a["beta"]),
        positive=("alpha", "beta"),
    ),
    # a point mass: the parameter is fixed at a value (e.g. a known chance level), nothing is sampled
    PriorFamily(
        "Fixed", ("value",), "", "",
        from_raw=lambda r, a, be: a["value"],
        to_raw=lambda v, a: np.zeros_like(v),
        draw=lambda a, rng, n: np.zeros(n) + a["value"],
        logpdf=lambda v, a: np.where(v == a["value"], 0.0, -np.inf),
    ),
)}

#: Allowed prior families and their required arguments.
DISTRIBUTIONS: dict[str, tuple[str, ...]] = {k: f.args for k, f in FAMILIES.items()}


@dataclass(frozen=True)
class Prior:
    """A prior family with argument expressions.

    Attributes
    ----------
    text : str
        The prior as written, e.g. ``"HalfNormal(sigma=1)"``.
    dist : str
        One of :data:`FAMILIES`.
    args : dict of str to Formula
        Argument expressions.
    """

    text: str
    dist: str
    args: Mapping[str, Formula] = field(hash=False, compare=False)

    @property
    def family(self) -> PriorFamily:
        return FAMILIES[self.dist]

    @property
    def names(self) -> frozenset[str]:
        """Every free name the argument expressions use."""
        out: set[str] = set()
        for f in self.args.values():
            out |= f.names
        return frozenset(out)

    @property
    def fixed(self) -> bool:
        """True for a point mass (``Fixed(value=...)``): no variable is sampled for the parameter."""
        return self.dist == "Fixed"

    @property
    def value_suffix(self) -> str:
        """Suffix of the raw variable's value variable under PyMC's default transform."""
        return self.family.suffix

    def arg_values(self, env: Mapping[str, Any], backend: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """The argument expressions evaluated in ``env``."""
        return {k: evaluate(f, env, backend) for k, f in self.args.items()}

    def from_raw(self, raw, args: Mapping[str, Any], backend: Mapping[str, Any]):
        """The parameter from its standard raw variable (the non-centred map), on any backend."""
        return self.family.from_raw(raw, args, backend)

    def to_raw(self, value, args: Mapping[str, Any]):
        """Inverse of :meth:`from_raw` with numpy (for starting points)."""
        return self.family.to_raw(np.asarray(value, dtype=float), args)

    def build(self, name: str, env: Mapping[str, Any], backend: Mapping[str, Any]):
        """Add ``<name>_raw`` to the current PyMC model and return the parameter tensor."""
        import pymc as pm  # deferred: PyMC is needed only where a model is built

        a = self.arg_values(env, backend)
        if self.fixed:
            import pytensor.tensor as pt

            return pt.as_tensor_variable(a["value"]).astype("float64")
        raw_name = f"{name}_raw"
        raw = {
            "Normal": lambda: pm.Normal(raw_name, 0.0, 1.0),
            "HalfNormal": lambda: pm.HalfNormal(raw_name, 1.0),
            "Uniform": lambda: pm.Uniform(raw_name, 0.0, 1.0),
            "Exponential": lambda: pm.Exponential(raw_name, 1.0),
            "Gamma": lambda: pm.Gamma(raw_name, a["alpha"], 1.0),
        }[self.family.raw]()
        return self.from_raw(raw, a, backend)

    # -- plain numpy draws (prior predictive without PyMC) ------------------
    def draw(self, env: Mapping[str, Any], rng: np.random.Generator, size: int) -> np.ndarray:
        """Draw ``size`` values with numpy, given values of the names it uses."""
        a = {k: np.asarray(v, dtype=float) for k, v in self.arg_values(env).items()}
        return self.family.draw(a, rng, size)

    def logpdf(self, value: np.ndarray, env: Mapping[str, Any]) -> np.ndarray:
        """Log density of the parameter itself (used by tests and prior plots)."""
        a = {k: np.asarray(v, dtype=float) for k, v in self.arg_values(env).items()}
        return self.family.logpdf(np.asarray(value, dtype=float), a)


def parse_prior(text: str | Prior, *, param: str = "?") -> Prior:
    """Parse a prior string such as ``"Normal(mu=0.3, sigma=0.1)"``.

    Raises
    ------
    PriorError
        If the family is unknown or an argument is missing, extra or malformed.
    """
    if isinstance(text, Prior):
        return text
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        text = repr(float(text))
    if isinstance(text, str) and _is_number(text):  # a bare number fixes the parameter
        text = f"Fixed(value={text.strip()})"
    try:
        dist, args = parse_call(text)
    except LawError as exc:
        raise PriorError(f"prior for {param!r}: {exc}") from None
    if dist not in FAMILIES:
        raise PriorError(
            f"prior for {param!r}: unknown family {dist!r}; use one of {', '.join(FAMILIES)}"
        )
    need = DISTRIBUTIONS[dist]
    extra = set(args) - set(need)
    missing = [k for k in need if k not in args]
    if extra or missing:
        raise PriorError(
            f"prior for {param!r}: {dist} takes arguments ({', '.join(need)}); "
            + (f"missing {', '.join(missing)}" if missing else f"unknown {', '.join(sorted(extra))}")
        )
    prior = Prior(text=text, dist=dist, args=args)
    check_domain(prior, {}, param=param)
    inc = prior.family.increasing
    if inc and ast.dump(args[inc[0]].tree) == ast.dump(args[inc[1]].tree):
        # the same expression on both sides is empty for every value of the names it uses
        raise PriorError(f"prior for {param!r}: {text}: {inc[0]} and {inc[1]} are the same expression, "
                         f"so the interval is empty")
    return prior


def _is_number(text: str) -> bool:
    try:
        return bool(np.isfinite(float(text)))
    except ValueError:
        return False


def check_domain(prior: Prior, env: Mapping[str, Any], *, param: str = "?", where: str | None = None) -> None:
    """Raise :class:`PriorError` if an argument of ``prior`` that ``env`` determines is out of its domain.

    Arguments that are numbers are checked when the prior is parsed; arguments that use data
    statistics are checked when ``env`` holds them (before a fit samples).  Arguments that use
    other parameters are checked where ``env`` also holds parameter values (the starting point, named
    by ``where`` in the message).
    """
    values: dict[str, float] = {}
    for k, f in prior.args.items():
        if f.names <= set(env):
            with np.errstate(all="ignore"):
                v = np.asarray(evaluate(f, env), dtype=float)
            if v.size == 1:
                values[k] = float(v)
    why = prior.family.domain_error(values)
    if why:
        used = sorted(set().union(*(prior.args[k].names for k in values)) & set(env))
        named = ", ".join(f"{n}={_num(env[n])}" for n in used)
        at = f" at {where} ({named or 'the data'})" if where else f" with {named}" if used else ""
        raise PriorError(f"prior for {param!r}: {prior.text}{at}: {why}")
