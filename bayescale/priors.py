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

Every prior is sampled **non-centred**: a standard variable ``<name>_raw`` is
drawn and mapped through the prior's location and scale.  A conditional prior
such as the one above therefore samples the amplitude *at the reference
scale*, which removes the strong posterior correlation between an amplitude
and its exponent that otherwise slows NUTS down.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

import numpy as np
from scipy import stats

from .errors import LawError, PriorError
from .formula import Formula, evaluate, parse_call

__all__ = ["Prior", "DISTRIBUTIONS", "parse_prior"]

#: Allowed prior families and their required arguments.
DISTRIBUTIONS: dict[str, tuple[str, ...]] = {
    "Normal": ("mu", "sigma"),
    "LogNormal": ("mu", "sigma"),
    "HalfNormal": ("sigma",),
    "Uniform": ("lower", "upper"),
    "LogUniform": ("lower", "upper"),
    "Exponential": ("scale",),
    "Gamma": ("alpha", "beta"),
}


@dataclass(frozen=True)
class Prior:
    """A prior family with argument expressions.

    Attributes
    ----------
    text : str
        The prior as written, e.g. ``"HalfNormal(sigma=1)"``.
    dist : str
        One of :data:`DISTRIBUTIONS`.
    args : dict of str to Formula
        Argument expressions.
    """

    text: str
    dist: str
    args: Mapping[str, Formula] = field(hash=False, compare=False)

    @property
    def names(self) -> frozenset[str]:
        """Every free name the argument expressions use."""
        out: set[str] = set()
        for f in self.args.values():
            out |= f.names
        return frozenset(out)

    # -- sampling in PyMC -------------------------------------------------
    #: raw variable per family: (PyMC distribution, value-variable suffix of its default transform)
    RAW = {
        "Normal": ("Normal", ""),
        "LogNormal": ("Normal", ""),
        "HalfNormal": ("HalfNormal", "_log__"),
        "Uniform": ("Uniform", "_interval__"),
        "LogUniform": ("Uniform", "_interval__"),
        "Exponential": ("Exponential", "_log__"),
        "Gamma": ("Gamma", "_log__"),
    }

    def from_raw(self, raw, args: Mapping[str, Any], backend: Mapping[str, Any]):
        """The parameter from its standard raw variable (the non-centred map), on any backend."""
        d, a, exp, log = self.dist, args, backend["exp"], backend["log"]
        if d == "Normal":
            return a["mu"] + a["sigma"] * raw
        if d == "LogNormal":
            return exp(a["mu"] + a["sigma"] * raw)
        if d == "HalfNormal":
            return a["sigma"] * raw
        if d == "Uniform":
            return a["lower"] + (a["upper"] - a["lower"]) * raw
        if d == "LogUniform":
            lo, hi = log(a["lower"]), log(a["upper"])
            return exp(lo + (hi - lo) * raw)
        if d == "Exponential":
            return a["scale"] * raw
        if d == "Gamma":
            return raw / a["beta"]
        raise PriorError(f"unknown prior family {d!r}")  # unreachable: checked on parse

    def to_raw(self, value, args: Mapping[str, Any]):
        """Inverse of :meth:`from_raw` with numpy (for starting points)."""
        d, a, v = self.dist, args, np.asarray(value, dtype=float)
        if d == "Normal":
            return (v - a["mu"]) / a["sigma"]
        if d == "LogNormal":
            return (np.log(v) - a["mu"]) / a["sigma"]
        if d == "HalfNormal":
            return v / a["sigma"]
        if d == "Uniform":
            return (v - a["lower"]) / (a["upper"] - a["lower"])
        if d == "LogUniform":
            lo, hi = np.log(a["lower"]), np.log(a["upper"])
            return (np.log(v) - lo) / (hi - lo)
        if d == "Exponential":
            return v / a["scale"]
        if d == "Gamma":
            return v * a["beta"]
        raise PriorError(f"unknown prior family {d!r}")

    def build(self, name: str, env: Mapping[str, Any], backend: Mapping[str, Any]):
        """Add ``<name>_raw`` to the current PyMC model and return the parameter tensor."""
        import pymc as pm

        a = {k: evaluate(f, env, backend) for k, f in self.args.items()}
        raw_dist = self.RAW[self.dist][0]
        raw_name = f"{name}_raw"
        if raw_dist == "Normal":
            raw = pm.Normal(raw_name, 0.0, 1.0)
        elif raw_dist == "HalfNormal":
            raw = pm.HalfNormal(raw_name, 1.0)
        elif raw_dist == "Uniform":
            raw = pm.Uniform(raw_name, 0.0, 1.0)
        elif raw_dist == "Exponential":
            raw = pm.Exponential(raw_name, 1.0)
        else:
            raw = pm.Gamma(raw_name, a["alpha"], 1.0)
        return self.from_raw(raw, a, backend)

    # -- plain numpy draws (prior predictive without PyMC) ------------------
    def draw(self, env: Mapping[str, Any], rng: np.random.Generator, size: int) -> np.ndarray:
        """Draw ``size`` values with numpy, given values of the names it uses."""
        a = {k: np.asarray(evaluate(f, env), dtype=float) for k, f in self.args.items()}
        d = self.dist
        if d == "Normal":
            return a["mu"] + a["sigma"] * rng.standard_normal(size)
        if d == "LogNormal":
            return np.exp(a["mu"] + a["sigma"] * rng.standard_normal(size))
        if d == "HalfNormal":
            return a["sigma"] * np.abs(rng.standard_normal(size))
        if d == "Uniform":
            return a["lower"] + (a["upper"] - a["lower"]) * rng.uniform(size=size)
        if d == "LogUniform":
            lo, hi = np.log(a["lower"]), np.log(a["upper"])
            return np.exp(lo + (hi - lo) * rng.uniform(size=size))
        if d == "Exponential":
            return a["scale"] * rng.exponential(size=size)
        if d == "Gamma":
            return rng.gamma(a["alpha"], size=size) / a["beta"]
        raise PriorError(f"unknown prior family {d!r}")

    def logpdf(self, value: np.ndarray, env: Mapping[str, Any]) -> np.ndarray:
        """Log density of the parameter itself (used by tests and prior plots)."""
        a = {k: np.asarray(evaluate(f, env), dtype=float) for k, f in self.args.items()}
        d = self.dist
        v = np.asarray(value, dtype=float)
        if d == "Normal":
            return stats.norm.logpdf(v, a["mu"], a["sigma"])
        if d == "LogNormal":
            return stats.lognorm.logpdf(v, s=a["sigma"], scale=np.exp(a["mu"]))
        if d == "HalfNormal":
            return stats.halfnorm.logpdf(v, scale=a["sigma"])
        if d == "Uniform":
            return stats.uniform.logpdf(v, a["lower"], a["upper"] - a["lower"])
        if d == "LogUniform":
            return stats.loguniform.logpdf(v, a["lower"], a["upper"])
        if d == "Exponential":
            return stats.expon.logpdf(v, scale=a["scale"])
        if d == "Gamma":
            return stats.gamma.logpdf(v, a["alpha"], scale=1.0 / a["beta"])
        raise PriorError(f"unknown prior family {d!r}")


def parse_prior(text: str | Prior, *, param: str = "?") -> Prior:
    """Parse a prior string such as ``"Normal(mu=0.3, sigma=0.1)"``.

    Raises
    ------
    PriorError
        If the family is unknown or an argument is missing, extra or malformed.
    """
    if isinstance(text, Prior):
        return text
    try:
        dist, args = parse_call(text)
    except LawError as exc:
        raise PriorError(f"prior for {param!r}: {exc}") from None
    if dist not in DISTRIBUTIONS:
        raise PriorError(
            f"prior for {param!r}: unknown family {dist!r}; use one of {', '.join(DISTRIBUTIONS)}"
        )
    need = DISTRIBUTIONS[dist]
    extra = set(args) - set(need)
    missing = [k for k in need if k not in args]
    if extra or missing:
        raise PriorError(
            f"prior for {param!r}: {dist} takes arguments ({', '.join(need)}); "
            + (f"missing {', '.join(missing)}" if missing else f"unknown {', '.join(sorted(extra))}")
        )
    return Prior(text=text, dist=dist, args=args)
