"""Result types of a comparison: PSIS-LOO and leave-future-out scores of each law, and the whole
:class:`Comparison` (ranking, recommendation, break verdict, stacked forecast)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

import numpy as np
import pandas as pd

from ..inference.results import Forecast
from .stacking import stacked_forecast
from .verdict import Verdict

__all__ = ["LooResult", "LfoResult", "Comparison"]


@dataclass(frozen=True)
class LooResult:
    """PSIS-LOO of one law, with exact refits for points of high Pareto k."""

    law: str
    elpd: float
    se: float
    p_loo: float
    pareto_k: tuple[float, ...]
    k_threshold: float
    refits: tuple[int, ...] = ()
    unresolved: tuple[int, ...] = ()
    refit_ok: bool = True
    method: str = "psis"
    elpd_data: Any = field(default=None, repr=False, compare=False)
    #: Diagnostics of each exact refit, by the index of the point left out.
    refit_diagnostics: Mapping[int, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def pareto_k_max(self) -> float:
        """Largest Pareto k over the points (NaN when no point has one, e.g. every term exact)."""
        k = np.asarray(self.pareto_k, dtype=float)
        return float(np.nanmax(k)) if np.isfinite(k).any() else float("nan")

    @property
    def ok(self) -> bool:
        """No point left with a Pareto k above the threshold (refits' own diagnostics: ``refit_ok``)."""
        return not self.unresolved

    def to_dict(self) -> dict[str, Any]:
        return {
            "elpd": self.elpd, "se": self.se, "p_loo": self.p_loo,
            "pareto_k": list(self.pareto_k), "pareto_k_max": self.pareto_k_max,
            "k_threshold": self.k_threshold, "refits": list(self.refits),
            "unresolved": list(self.unresolved), "refit_ok": self.refit_ok,
            "method": self.method, "ok": self.ok,
        }


@dataclass(frozen=True)
class LfoResult:
    """Leave-future-out score of one law: fit below a scale, score the held-out largest scales."""

    law: str
    n_train: int
    n_test: int
    lpd: tuple[float, ...]
    rmsle: float
    ok: bool
    problems: tuple[str, ...] = ()

    @property
    def mean_lpd(self) -> float:
        return float(np.mean(self.lpd)) if self.lpd else float("nan")

    def to_dict(self) -> dict[str, Any]:
        return {"n_train": self.n_train, "n_test": self.n_test, "lpd": list(self.lpd),
                "mean_lpd": self.mean_lpd, "rmsle": self.rmsle, "ok": self.ok,
                "problems": list(self.problems)}


@dataclass(frozen=True)
class Comparison:
    """The result of :func:`bayescale.evaluate.compare.compare`.

    Attributes
    ----------
    fits : dict of law name to Fit
    loo : dict of law name to LooResult
    table : DataFrame
        ``az.compare`` of the (refit-corrected) LOO results: rank, elpd_diff, dse, weight (stacking), ...
    lfo : dict of law name to LfoResult (empty when LFO was skipped)
    recommended : str or None
        The single law preferred for forecasting (best LFO score, ties to the simplest; PSIS-LOO
        when LFO could not score every law), for when one law must be named.  To forecast, prefer
        the stacked mixture, :meth:`forecast` (see :mod:`bayescale.evaluate.stacking`).
    verdict : Verdict or None
        Break verdict when a broken law and the baseline were both compared.
    """

    fits: Mapping[str, Any] = field(repr=False)
    loo: Mapping[str, LooResult]
    table: pd.DataFrame = field(repr=False)
    lfo: Mapping[str, LfoResult]
    recommended: str | None
    verdict: Verdict | None
    recommended_by: str = ""

    @property
    def weights(self) -> dict[str, float]:
        """Stacking weights of the laws (``az.compare``'s ``weight``: the mixture of the laws' LOO
        predictive distributions with the best LOO log score, Yao et al. 2018)."""
        return {str(k): float(v) for k, v in self.table["weight"].items()}

    def forecast(self, *, x: Any, prob: float = 0.9, seed: int | None = None,
                 weights: Mapping[str, float] | None = None) -> Forecast:
        r"""Forecast from the stacked mixture of the compared laws, instead of betting on one.

        The predictive distribution is :math:`\sum_k w_k\, p_k(\tilde y \mid x, y)` over the laws
        :math:`k` with stacking weights :math:`w_k` (:attr:`weights`; or ``weights`` given).  Its draws
        are law :math:`k`'s forecast draws (expected value and new observation, each law's own
        :meth:`bayescale.Fit.forecast`), :math:`\lfloor w_k S \rfloor` of them (:math:`S` the smallest
        draw count of the laws), chosen at random without replacement from ``seed`` by ArviZ's
        ``weight_predictions`` (:mod:`bayescale.evaluate.stacking`).  Laws with weight below 0.001 are
        left out.

        Parameters
        ----------
        x : float, sequence, or mapping of input name to values
            Target scale(s), as for :meth:`bayescale.Fit.forecast`.
        prob : float
            Probability of the equal-tailed intervals, in (0, 1).
        seed : int, optional
            Seed of the draw selection and of the noise draws (defaults to the first fit's seed).
        weights : mapping of law name to weight, optional
            Weights to use instead of the stacking weights (normalised to sum to 1).

        Returns
        -------
        Forecast
            ``reliable`` is False when any law with weight is flagged by its diagnostics.
        """
        return stacked_forecast(self.fits, self.weights if weights is None else weights, x=x, prob=prob,
                                seed=seed)

    @property
    def ranking(self) -> list[str]:
        return list(self.table.index)

    def to_dict(self) -> dict[str, Any]:
        rows = []
        for name, r in self.table.iterrows():
            rows.append({"law": name, "rank": int(r["rank"]), "elpd": float(r["elpd"]), "se": float(r["se"]),
                         "p_loo": float(r["p"]), "elpd_diff": float(r["elpd_diff"]), "dse": float(r["dse"]),
                         "weight": float(r["weight"])})
        diags = {k: f.diagnostics().to_dict() for k, f in self.fits.items()}
        return {
            "ranking": rows,
            "loo": {k: v.to_dict() for k, v in self.loo.items()},
            "refits": {k: list(v.refits) for k, v in self.loo.items()},
            "lfo": {k: v.to_dict() for k, v in self.lfo.items()},
            "recommended": self.recommended,
            "recommended_by": self.recommended_by,
            "verdict": self.verdict.verdict if self.verdict else None,
            "verdict_details": self.verdict.to_dict() if self.verdict else None,
            "diagnostics": diags,
            "n_obs": next(iter(self.fits.values())).data.n,
            "data_source": next(iter(self.fits.values())).data.source,
        }
