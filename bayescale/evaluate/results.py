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
    """PSIS-LOO of one law, with exact refits for points of high Pareto k.

    ``pareto_k`` holds PSIS's k of every point, before the refits; ``pareto_k_max`` is the largest k
    after them (a refitted point's term is exact, so its k no longer counts) and ``pareto_k_max_psis``
    the largest before.  ``ok`` says whether the LOO estimate can be relied on: no point left with k
    above the threshold, and every exact refit passed its own diagnostics.  The fit's own sampling
    diagnostics are not part of it (``Fit.diagnostics().ok``; see :meth:`Comparison.status`).
    ``warnings`` flags ``p_loo`` above ``n_params`` (law and noise parameters) or above ``n/2``.
    """

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
    #: Parameters of the law and of its noise model (0 when unknown).
    n_params: int = 0
    warnings: tuple[str, ...] = ()

    @property
    def pareto_k_max(self) -> float:
        """Largest Pareto k after the exact refits: over the points not refitted (NaN when none is left)."""
        k = np.asarray(self.pareto_k, dtype=float).copy()
        k[list(self.refits)] = np.nan
        return float(np.nanmax(k)) if np.isfinite(k).any() else float("nan")

    @property
    def pareto_k_max_psis(self) -> float:
        """Largest Pareto k as PSIS found it, before the exact refits (NaN when no point has one)."""
        k = np.asarray(self.pareto_k, dtype=float)
        return float(np.nanmax(k)) if np.isfinite(k).any() else float("nan")

    @property
    def failed_refits(self) -> dict[int, Any]:
        """Diagnostics of the exact refits that failed them, by the index of the point left out."""
        return {i: d for i, d in self.refit_diagnostics.items() if not d.ok}

    @property
    def ok(self) -> bool:
        """The LOO estimate is reliable: no point left with a high Pareto k, and every exact refit passed."""
        return not self.unresolved and self.refit_ok

    def to_dict(self) -> dict[str, Any]:
        return {
            "elpd": self.elpd, "se": self.se, "p_loo": self.p_loo, "n_params": self.n_params,
            "pareto_k": list(self.pareto_k), "pareto_k_max": self.pareto_k_max,
            "pareto_k_max_psis": self.pareto_k_max_psis,
            "k_threshold": self.k_threshold, "refits": list(self.refits),
            "unresolved": list(self.unresolved), "refit_ok": self.refit_ok,
            "method": self.method, "ok": self.ok, "warnings": list(self.warnings),
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

    Each law has two checks, kept apart in the table of ``bayescale compare`` and in :meth:`to_dict`:
    ``fit`` (its sampling diagnostics, ``Fit.diagnostics().ok``: divergences, R-hat, ESS) and ``loo``
    (:attr:`LooResult.ok`: no point left with high Pareto k, every exact refit passed); the law is
    ``ok`` when both are (:meth:`status`).  :attr:`warnings` lists every problem found, one line each.
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

    def status(self, name: str) -> dict[str, Any]:
        """A law's checks: ``fit_ok`` (sampling diagnostics), ``loo_ok`` (:attr:`LooResult.ok`), ``ok``
        (both), and ``problems``, one line each (without the LOO ``warnings`` of p_loo)."""
        d = self.fits[name].diagnostics()
        lo = self.loo[name]
        problems = list(d.problems)
        if lo.unresolved:
            problems.append(f"{len(lo.unresolved)} point(s) with Pareto k > {lo.k_threshold:.2f} not refitted "
                            f"(points {list(lo.unresolved)}): its elpd is unreliable; allow more exact refits")
        if not lo.refit_ok:
            problems.append(f"the exact LOO refit without point(s) {list(lo.failed_refits)} failed its diagnostics")
        return {"ok": bool(d.ok and lo.ok), "fit_ok": bool(d.ok), "loo_ok": bool(lo.ok), "problems": problems}

    @property
    def warnings(self) -> list[str]:
        """Every problem of the compared laws, ``"law: problem"``: failed checks (:meth:`status`) and
        ``p_loo`` warnings (:attr:`LooResult.warnings`)."""
        return [f"{nm}: {w}" for nm in self.loo for w in [*self.status(nm)["problems"], *self.loo[nm].warnings]]

    def to_dict(self) -> dict[str, Any]:
        """The JSON object of ``bayescale compare --json``.

        ``ranking`` has one row per law, best first, with its checks (``ok``, ``fit_ok``, ``loo_ok``: the
        ``fit`` and ``loo`` columns of the printed table) and ``pareto_k_max`` after the exact refits;
        ``loo`` and ``diagnostics`` give the details by law; ``warnings`` every problem, one line each.
        """
        rows = []
        for name, r in self.table.iterrows():
            st = self.status(name)
            rows.append({"law": name, "rank": int(r["rank"]), "elpd": float(r["elpd"]), "se": float(r["se"]),
                         "p_loo": float(r["p"]), "elpd_diff": float(r["elpd_diff"]), "dse": float(r["dse"]),
                         "weight": float(r["weight"]), "pareto_k_max": self.loo[name].pareto_k_max,
                         "refits": len(self.loo[name].refits),
                         "ok": st["ok"], "fit_ok": st["fit_ok"], "loo_ok": st["loo_ok"]})
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
            "warnings": self.warnings,
            "n_obs": next(iter(self.fits.values())).data.n,
            "data_source": next(iter(self.fits.values())).data.source,
        }
