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

The parameters are not fitted to the curve itself (its own data say nothing about what lies
beyond them): they are an empirical prior learned from backtests of bayescale's own stacked
forecasts on 132 real curves in ``../shared/data`` (fit the early points, score the held-out later
ones) by ``benchmarks/calibration.py --write-table``, which writes the table ``discrepancy.csv``
beside this file (the default row: relative form, every curve weighted equally).
Choose a row by name (``discrepancy="default"``), give your own values
(``discrepancy={"s0": 0.01, "kappa": 0.02}``) or switch it off (``discrepancy="off"``), which
reproduces the forecasts of bayescale 0.1.
"""

from __future__ import annotations

import csv
import importlib.resources
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Mapping

import numpy as np

from ..errors import FitError

__all__ = ["Discrepancy", "OFF", "FORMS", "get_discrepancy", "discrepancy_table", "horizon", "antithetic_normal"]

#: How the sd scales: ``absolute`` (sd of log y itself) or ``relative`` (a multiple of the forecast's own sd).
FORMS = ("absolute", "relative")


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
    """

    name: str
    s0: float
    kappa: float
    source: str = ""
    form: str = "absolute"

    def __post_init__(self) -> None:
        if self.form not in FORMS:
            raise FitError(f"discrepancy form must be one of {', '.join(FORMS)}, got {self.form!r}")
        for k in ("s0", "kappa"):
            v = getattr(self, k)
            if not isinstance(v, (int, float)) or not np.isfinite(v) or v < 0:
                raise FitError(f"discrepancy {k} must be a finite number >= 0, got {v!r}")

    @property
    def off(self) -> bool:
        return self.s0 == 0 and self.kappa == 0

    def sd(self, h: np.ndarray, base: np.ndarray | float = 1.0) -> np.ndarray:
        """The discrepancy's sd of log y at horizons ``h`` (decades beyond the data; 0 inside); ``base``
        is the forecast's own sd of log y (used by the relative form)."""
        h = np.asarray(h, dtype=float)
        b = np.asarray(base, dtype=float) if self.form == "relative" else 1.0
        return np.where(h > 0, b * (self.s0 + self.kappa * h), 0.0)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "s0": self.s0, "kappa": self.kappa, "form": self.form, "source": self.source}


#: No extrapolation uncertainty: forecasts as bayescale 0.1 made them.
OFF = Discrepancy("off", 0.0, 0.0, "none")


@lru_cache(maxsize=1)
def discrepancy_table() -> dict[str, Discrepancy]:
    """The learned rows of ``discrepancy.csv`` (package data), by name."""
    text = importlib.resources.files("bayescale.spec").joinpath("discrepancy.csv").read_text(encoding="utf-8")
    rows = [r for r in csv.DictReader(line for line in text.splitlines() if not line.startswith("#"))]
    return {r["name"]: Discrepancy(r["name"], float(r["s0"]), float(r["kappa"]), r.get("source", ""),
                                   r.get("form") or "absolute") for r in rows}


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
        unknown = set(spec) - {"s0", "kappa", "name", "form"}
        if unknown or not {"s0", "kappa"} <= set(spec):
            raise FitError("a discrepancy given by values needs s0 and kappa (sd of log y, and its growth per "
                           f"decade beyond the data) and optionally form, got {sorted(spec)}")
        try:
            s0, kappa = float(spec["s0"]), float(spec["kappa"])
        except (TypeError, ValueError):
            raise FitError(f"discrepancy values must be numbers, got {dict(spec)!r}") from None
        return Discrepancy(str(spec.get("name", "user")), s0, kappa, "user", str(spec.get("form", "absolute")))
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


def horizon(fitted: Mapping[str, np.ndarray], targets: Mapping[str, np.ndarray]) -> np.ndarray:
    """Decades beyond the fitted range per target: the largest over inputs of ``log10(x / max fitted x)``,
    and 0 for a target inside the fitted range of every input."""
    h = np.zeros(len(next(iter(targets.values()))))
    for k, v in targets.items():
        top = float(np.max(np.asarray(fitted[k], dtype=float)))
        h = np.maximum(h, np.log10(np.asarray(v, dtype=float) / top))
    return np.clip(h, 0.0, None)
