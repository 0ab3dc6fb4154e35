"""Roles a law declares in its ``[roles]`` table, checked when the law is made.

* ``break_positions``, ``slope_changes`` and ``break_sharpness``: parameters, one per break and in the
  same order; the break verdict, the break plots and the identifiability check use them.
* ``closed_form``: the name of a closed-form compute-optimal allocation that holds for the law
  (``"chinchilla"``).
* ``distances``: scales computed from the inputs along which a forecast's distance beyond the data is
  measured as well as along each input, as a table of name to expression, e.g. ``epochs = "D / U"`` for
  repeated data.  A forecast of runs repeated 100 times from fits of at most 4 epochs extrapolates
  1.4 decades in epochs although each of N, D and U may lie inside the fitted range; the extrapolation
  part of its interval (:mod:`bayescale.spec.discrepancy`) grows with that distance.
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from ..errors import LawError
from .formula import Formula, evaluate, parse

__all__ = ["ROLES", "check_roles", "distance_formulas", "with_distances"]

#: Roles a law may declare (``[roles]`` in a law file); see the module docstring.
ROLES = ("break_positions", "slope_changes", "break_sharpness", "closed_form", "distances")


def check_roles(roles: dict[str, Any], params: set[str], inputs: tuple[str, ...], where: str) -> dict[str, Any]:
    """The declared roles, checked against the law's parameters and inputs (:class:`LawError` if wrong)."""
    unknown = set(roles) - set(ROLES)
    if unknown:
        raise LawError(f"{where}: unknown role(s) {', '.join(sorted(unknown))}; use {', '.join(ROLES)}")
    out: dict[str, Any] = {}
    for key in ("break_positions", "slope_changes", "break_sharpness"):
        names = roles.get(key, [])
        if isinstance(names, str) or not all(isinstance(n, str) and n in params for n in names):
            raise LawError(f"{where}: role {key} must list parameters of the law, got {names!r}")
        if names:
            out[key] = list(names)
    if len(out.get("break_positions", [])) != len(out.get("slope_changes", [])) or (
            "break_sharpness" in out and len(out["break_sharpness"]) != len(out["break_positions"])):
        raise LawError(f"{where}: give one slope change (and sharpness, if declared) per break position "
                       "(roles break_positions, slope_changes, break_sharpness of equal length)")
    if "closed_form" in roles:
        if roles["closed_form"] != "chinchilla":
            raise LawError(f"{where}: role closed_form must be 'chinchilla', got {roles['closed_form']!r}")
        out["closed_form"] = "chinchilla"
    if "distances" in roles:
        out["distances"] = _check_distances(roles["distances"], params, inputs, where)
    return out


def _check_distances(spec: Any, params: set[str], inputs: tuple[str, ...], where: str) -> dict[str, str]:
    if not isinstance(spec, Mapping) or not spec:
        raise LawError(f"{where}: role distances must be a table of name = expression in the inputs, "
                       f"e.g. epochs = \"D / U\"; got {spec!r}")
    out = {}
    for name, text in spec.items():
        if not str(name).isidentifier() or name in params or name in inputs:
            raise LawError(f"{where}: distance {name!r} must be an identifier that is neither an input nor a "
                           "parameter")
        f = parse(text) if isinstance(text, str) else None
        if f is None or not f.names or f.names - set(inputs):
            raise LawError(f"{where}: distance {name!r} must be an expression in the inputs "
                           f"({', '.join(inputs)}) only, got {text!r}")
        out[str(name)] = f.text
    return out


def distance_formulas(roles: Mapping[str, Any]) -> dict[str, Formula]:
    """The parsed expressions of the ``distances`` role (empty if none is declared)."""
    return {k: parse(v) for k, v in (roles.get("distances") or {}).items()}


def with_distances(inputs: Mapping[str, Any], formulas: Mapping[str, Formula]) -> dict[str, np.ndarray]:
    """``inputs`` plus each declared distance scale evaluated on them (the scales a horizon is measured on)."""
    out = {k: np.asarray(v, dtype=float) for k, v in inputs.items()}
    for k, f in formulas.items():
        out[k] = np.asarray(evaluate(f, out), dtype=float) * np.ones(len(next(iter(out.values()))))
    return out
