"""Extrapolation uncertainty: the law is never exactly right, and the error grows beyond the data.

A fitted law describes the data it saw; at a target beyond them, the truth departs from the
law by an amount no fit to those data can measure.  bayescale adds that departure to every
forecast of a log-scale likelihood as a discrepancy on log y:

.. math::

    \\log \\mu^{\\text{true}}(x) = \\log f(x; \\theta) + \\delta(x), \\qquad
    \\delta(x) \\sim \\mathcal N\\big(0,\\ \\tau(h)^2\\big), \\qquad
    \\tau(h) = \\begin{cases} 0 & h = 0 \\\\ s_0 + \\kappa\\, h & h > 0 \\end{cases}

where ``h`` is how far the target lies beyond the fitted range, in decades (for laws of several
inputs, the largest of the inputs' distances beyond their largest fitted values).  Inside the
fitted range the forecast is unchanged; beyond it the interval widens by ``s0`` at once (held-out
runs scatter more than the fitted ones they were averaged like) and by ``kappa`` per decade (the
law's slope is uncertain beyond the data).  In the ``relative`` form, ``b`` is the forecast's own
sd of log y from parameters and noise at that target, so a smooth, well-pinned curve widens little
and a noisy or loosely pinned one much; in the ``absolute`` form ``b = 1``.

With ``autocorrelation`` (relative form only), the fit's own residuals also count: when they drift
together along the data (lag-1 autocorrelation ``rho`` of the residuals on log y, ordered by the input;
:func:`residual_autocorrelation`), the law misses a shape there or the runs share errors, and the
independent-noise posterior is too sure of the law beyond the data.  The forecast's total sd of log y
beyond the fitted range then becomes

.. math::

    b\\, k \\sqrt{1 + (s_0 + \\kappa h)^2}, \\qquad k = \\sqrt{\\frac{1 + \\rho}{1 - \\rho}},

``k`` being how much wider an estimate from ``n`` AR(1) residuals with correlation ``rho`` is than one
from ``n`` independent ones.  A curve whose residuals look independent (``rho = 0``) gets ``k = 1``.
``rho`` is measured on the curve itself and needs no corpus; ``s0`` and ``kappa`` on top of it come from one.

``s0`` and ``kappa`` are not fitted to the curve itself (its own data say nothing about what lies
beyond them): they are an empirical prior learned from backtests of bayescale's own stacked
forecasts on 132 real curves in ``../shared/data`` (fit the early points, score the held-out later
ones) by ``benchmarks/calibration.py --write-table --autocorrelation``, which writes the table
``discrepancy.csv`` beside this file (the default row: relative form with the autocorrelation factor,
every curve weighted equally).
Choose a row by name (``discrepancy="default"``), give your own values
(``discrepancy={"s0": 0.01, "kappa": 0.02}``) or switch it off (``discrepancy="off"``), which
reproduces the forecasts of bayescale 0.1.
"""

from __future__ import annotations

import csv
import dataclasses
import importlib.resources
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Mapping

import numpy as np

from ..errors import FitError
from .formula import Formula
from .roles import with_distances

__all__ = ["Discrepancy", "OFF", "FORMS", "get_discrepancy", "discrepancy_table", "horizon", "horizons",
           "largest_horizon", "antithetic_normal",
           "residual_autocorrelation", "autocorrelation_factor", "RHO_MAX"]

#: How the sd scales: ``absolute`` (sd of log y itself) or ``relative`` (a multiple of the forecast's own sd).
FORMS = ("absolute", "relative")
#: The largest residual autocorrelation used (a factor of at most sqrt(39) = 6.2 on the forecast's sd).
RHO_MAX = 0.95


@dataclass(frozen=True)
class Discrepancy:
    """Extrapolation uncertainty on log y: sd ``s0 + kappa * h`` at ``h > 0`` decades beyond the data.

    Attributes
    ----------
    name : str
    s0 : float
        sd of log y added to any forecast beyond the fitted range (times ``b``).
    kappa : float
        Further sd of log y per decade beyond the fitted range (times ``b``).
    source : str
        Where the values come from (the corpus they were learned on, or "user").
    form : {"absolute", "relative"}
        ``relative``: ``b`` is the forecast's own sd of log y (parameters and noise); ``absolute``: 1.
    autocorrelation : bool
        (relative form only) also widen by the fit's own residual autocorrelation ``rho``: the sd of a
        forecast beyond the data becomes ``b k sqrt(1 + (s0 + kappa h)^2)`` with
        ``k = sqrt((1 + rho) / (1 - rho))`` (see :func:`autocorrelation_factor`).
    rho : float
        The fit's lag-1 residual autocorrelation (:func:`residual_autocorrelation`), set per fit by
        :meth:`for_fit`; 0 until then.
    """

    name: str
    s0: float
    kappa: float
    source: str = ""
    form: str = "absolute"
    autocorrelation: bool = False
    rho: float = 0.0

    def __post_init__(self) -> None:
        if self.form not in FORMS:
            raise FitError(f"discrepancy form must be one of {', '.join(FORMS)}, got {self.form!r}")
        for k in ("s0", "kappa"):
            v = getattr(self, k)
            if not isinstance(v, (int, float)) or not np.isfinite(v) or v < 0:
                raise FitError(f"discrepancy {k} must be a finite number >= 0, got {v!r}")
        if self.autocorrelation and self.form != "relative":
            raise FitError("a discrepancy widened by the residual autocorrelation must be of the relative form")
        if not (isinstance(self.rho, (int, float)) and 0.0 <= self.rho <= RHO_MAX):
            raise FitError(f"discrepancy rho must be in [0, {RHO_MAX}], got {self.rho!r}")

    @property
    def off(self) -> bool:
        return self.s0 == 0 and self.kappa == 0 and not self.autocorrelation

    def for_fit(self, rho: float) -> "Discrepancy":
        """This discrepancy for a fit whose residual autocorrelation is ``rho`` (itself when it does not use it)."""
        if not self.autocorrelation:
            return self
        return dataclasses.replace(self, rho=float(np.clip(rho, 0.0, RHO_MAX)))

    def sd(self, h: np.ndarray, base: np.ndarray | float = 1.0) -> np.ndarray:
        """The discrepancy's sd of log y at horizons ``h`` (decades beyond the data; 0 inside); ``base``
        is the forecast's own sd of log y (used by the relative form)."""
        h = np.asarray(h, dtype=float)
        b = np.asarray(base, dtype=float) if self.form == "relative" else 1.0
        g = self.s0 + self.kappa * h
        if self.autocorrelation:  # total sd b k sqrt(1 + g^2): the discrepancy is what it adds to b
            k2 = autocorrelation_factor(self.rho) ** 2
            return np.where(h > 0, b * np.sqrt(np.maximum(k2 * (1.0 + g ** 2) - 1.0, 0.0)), 0.0)
        return np.where(h > 0, b * g, 0.0)

    def to_dict(self) -> dict[str, Any]:
        out = {"name": self.name, "s0": self.s0, "kappa": self.kappa, "form": self.form, "source": self.source}
        if self.autocorrelation:
            out.update(autocorrelation=True, rho=self.rho)
        return out


#: No extrapolation uncertainty: forecasts as bayescale 0.1 made them.
OFF = Discrepancy("off", 0.0, 0.0, "none")


@lru_cache(maxsize=1)
def discrepancy_table() -> dict[str, Discrepancy]:
    """The learned rows of ``discrepancy.csv`` (package data), by name."""
    text = importlib.resources.files("bayescale.spec").joinpath("discrepancy.csv").read_text(encoding="utf-8")
    rows = [r for r in csv.DictReader(line for line in text.splitlines() if not line.startswith("#"))]
    return {r["name"]: Discrepancy(r["name"], float(r["s0"]), float(r["kappa"]), r.get("source", ""),
                                   r.get("form") or "absolute", (r.get("autocorrelation") or "0") == "1")
            for r in rows}


def get_discrepancy(spec: str | Mapping[str, Any] | Discrepancy | None) -> Discrepancy:
    """A discrepancy by name (a row of the table, ``"default"`` or ``"off"``), from values, or itself."""
    if isinstance(spec, Discrepancy):
        return spec
    if isinstance(spec, tuple):  # as FitConfig stores values
        spec = dict(spec)
    if spec is None or spec == "default":
        spec = "default"
    if isinstance(spec, str):
        if spec == "off":
            return OFF
        table = discrepancy_table()
        if spec not in table:
            raise FitError(f"unknown discrepancy {spec!r}; choose one of off, {', '.join(table)} or give "
                           "{'s0': ..., 'kappa': ...}")
        return table[spec]
    if isinstance(spec, Mapping):
        unknown = set(spec) - {"s0", "kappa", "name", "form", "autocorrelation", "source", "rho"}
        if unknown or not {"s0", "kappa"} <= set(spec):
            raise FitError("a discrepancy given by values needs s0 and kappa (sd of log y, and its growth per "
                           f"decade beyond the data) and optionally form and autocorrelation, got {sorted(spec)}")
        try:
            s0, kappa = float(spec["s0"]), float(spec["kappa"])
        except (TypeError, ValueError):
            raise FitError(f"discrepancy values must be numbers, got {dict(spec)!r}") from None
        return Discrepancy(str(spec.get("name", "user")), s0, kappa, str(spec.get("source", "user")),
                           str(spec.get("form", "absolute")), bool(spec.get("autocorrelation", False)))
    raise FitError(f"discrepancy must be a name, a mapping with s0 and kappa, or off; got {spec!r}")


def antithetic_normal(seed: int | None, shape: tuple[int, ...], *stream: int) -> np.ndarray:
    """Standard normal draws of the discrepancy, shape ``shape``, in antithetic pairs along the first axis.

    The first half are drawn from ``default_rng([seed, 0x5EED, *stream])`` (a stream apart from the noise
    draws, so switching the discrepancy off leaves them as they were); the second half are their
    negatives.  The discrepancy is symmetric on the noise scale, and pairing keeps a forecast's median
    from wandering with the Monte Carlo noise of the draws.  ``stream`` separates the uses (forecasts,
    inverse forecasts, chained forecasts) so that none reuses another's numbers.
    """
    n = int(shape[0])
    rng = np.random.default_rng(None if seed is None else [int(seed), 0x5EED, *map(int, stream)])
    half = rng.standard_normal(((n + 1) // 2, *shape[1:]))
    return np.concatenate([half, -half])[:n]


def horizons(fitted: Mapping[str, np.ndarray], targets: Mapping[str, np.ndarray],
             distances: Mapping[str, Formula] | None = None) -> dict[str, np.ndarray]:
    """Decades beyond the fitted range per target along each input, ``max(0, log10(x / max fitted x))``, and
    along each of a law's declared ``distances`` (scales computed from the inputs, such as epochs = D / U:
    :mod:`bayescale.spec.roles`)."""
    sf, st = with_distances(fitted, distances or {}), with_distances(targets, distances or {})
    return {k: np.clip(np.log10(v / float(np.max(sf[k]))), 0.0, None) for k, v in st.items()}


def horizon(fitted: Mapping[str, np.ndarray], targets: Mapping[str, np.ndarray],
            distances: Mapping[str, Formula] | None = None) -> np.ndarray:
    """Decades beyond the fitted range per target: the largest of :func:`horizons`, 0 for a target inside
    the fitted range of every input and distance."""
    return largest_horizon(horizons(fitted, targets, distances))


def largest_horizon(per: Mapping[str, np.ndarray]) -> np.ndarray:
    """The largest of per-scale horizons (:func:`horizons`) per target: what :func:`horizon` returns."""
    return np.max(np.stack(list(per.values())), axis=0)


def autocorrelation_factor(rho: float) -> float:
    """``sqrt((1 + rho) / (1 - rho))``: how much wider a forecast's sd is when the residuals follow an AR(1)
    process with lag-1 correlation ``rho`` instead of being independent (the ratio of the variance of a mean
    of n AR(1) terms to that of n independent ones, for large n)."""
    r = float(np.clip(rho, 0.0, RHO_MAX))
    return float(np.sqrt((1.0 + r) / (1.0 - r)))


def residual_autocorrelation(inputs: Mapping[str, np.ndarray], resid: np.ndarray) -> float:
    r"""Lag-1 autocorrelation of a fit's residuals along its inputs, clipped to ``[0, RHO_MAX]``.

    .. math::

        \hat\rho = \frac{\sum_{i=1}^{m-1} \bar r_i \bar r_{i+1}}{\sum_{i=1}^{m} \bar r_i^2}

    where ``r`` are the residuals on the likelihood's noise scale (``log y - E[log mu]``), ``bar r_i`` their
    centred means over the rows sharing the i-th distinct value of an input, taken in increasing order.
    For several inputs, the largest over the inputs.  Residuals that drift together along an input mean
    the law misses a shape there (or the noise is correlated): the fit's uncertainty is then too narrow
    for a forecast further along it.  0 when no input has 4 distinct values.

    Written here because the one statistic needed (the standard sample autocorrelation at lag 1, as
    ``statsmodels.tsa.stattools.acf`` computes it) would otherwise add statsmodels as a dependency.
    """
    r = np.asarray(resid, dtype=float)
    best = 0.0
    for v in inputs.values():
        v = np.asarray(v, dtype=float)
        ok = np.isfinite(v) & np.isfinite(r)
        uniq, inv = np.unique(v[ok], return_inverse=True)
        if uniq.size < 4:
            continue
        means = np.bincount(inv, weights=r[ok]) / np.bincount(inv)
        c = means - means.mean()
        den = float(np.sum(c ** 2))
        if den > 0:
            best = max(best, float(np.sum(c[:-1] * c[1:]) / den))
    return float(np.clip(best, 0.0, RHO_MAX))
