r"""Leave-future-out (LFO) scores, and the rule that recommends one law.

Each law is refitted on all but the largest ``k`` distinct scales (default
``k = min(3, max(1, round(0.2 m)))`` of ``m`` distinct scales) and scored on the held-out points by the mean log
predictive density on the y scale,
``mean_j log (1/S) sum_s p(y_j | theta_s)``, and the RMSLE of the posterior
median of the law's expected value.  This is the score to choose a law to
forecast with: the **recommended** law has the best LFO mean lpd; laws
whose summed lpd is within one standard error (of the pointwise difference,
and at least 1 nat) of the best are tied, and ties go to the law with the
fewest parameters.

LFO compares laws only when it can score every one of them: a law needs
as many distinct training scales as curve parameters, so on a short curve
(six points, say) the richer laws cannot be refitted below the held-out
scales.  Choosing among the laws LFO *could* score would silently drop the
others, so then the recommendation falls back to **PSIS-LOO** over all the
laws: the best ``elpd_loo``, with laws within ``max(1, dse)`` of it tied
and ties to the fewest parameters.  ``Comparison.recommended_by`` says
which rule chose.

This is a single forecast origin with several held-out points, each scored on its own, plus the
RMSLE.  ArviZ's ``lfo_cv`` (:func:`arviz_stats.lfo_cv`) computes another estimator, step-ahead
predictions from many forecast origins along a time dimension (with a joint density per block),
so it does not replace :func:`lfo_score`; the refit goes through
:func:`bayescale.inference.fit.refit`, with the fit's own configuration.
"""

from __future__ import annotations

from typing import Mapping

import numpy as np
import pandas as pd

from ..errors import DataError, FitError
from ..inference.fit import refit
from ..inference.model import check_identifiable
from ..inference.results import Fit
from .progress import Progress, silent
from .results import LfoResult
from .scoring import lpd_from_draws, pointwise_log_lik, rmsle, subset

__all__ = ["lfo_split", "lfo_refit", "lfo_score", "recommend", "recommend_by_loo", "choose_law", "LFO_SEED_OFFSET"]

#: The LFO refit has the seed of the fit plus this.
LFO_SEED_OFFSET = 500


def lfo_split(ds, k: int | None = None) -> tuple[np.ndarray, int]:
    """Boolean mask of training points (all but the largest ``k`` distinct scales), and ``k``.

    Default ``k = min(3, max(1, round(0.2 m)))`` for ``m`` distinct scales.

    Raises
    ------
    FitError
        For a ``k`` that is not an integer >= 1.
    DataError
        For a ``k`` that leaves no scale to train on.
    """
    if k is not None and (isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1):
        raise FitError(f"lfo_k={k!r}: give the number of largest distinct scales held out by leave-future-out "
                       "as an integer >= 1, or None for the default")
    x = np.asarray(next(iter(ds.inputs.values())), dtype=float)
    ux = np.unique(x)
    if k is None:
        k = min(3, max(1, int(round(0.2 * ux.size))))
    if not 1 <= k < ux.size:
        raise DataError(f"lfo_k={k}: leave-future-out holds out the largest k of the {ux.size} distinct scales "
                        f"and fits the rest, so k must be from 1 to {ux.size - 1}; give a smaller lfo_k (--lfo-k) or "
                        "skip leave-future-out (--no-lfo)")
    cut = ux[-k]
    return x < cut, k


def lfo_refit(fit: Fit, *, k: int | None = None,
              progress: Progress = silent) -> tuple[np.ndarray, int, Fit | DataError]:
    """``fit``'s law refitted on all but the largest ``k`` scales: ``(train, k, refit)``.

    ``train`` is :func:`lfo_split`'s mask; ``refit`` is the refitted :class:`~bayescale.inference.fit.Fit`, or the
    :class:`~bayescale.errors.DataError` that says why the law is not identified on the training points (too few
    scales left).  ``progress`` receives one line before the refit.
    """
    train, k = lfo_split(fit.data, k)
    tr = subset(fit.data, train)
    try:
        check_identifiable(fit.law, tr)
    except DataError as exc:
        return train, k, exc
    progress(f"leave-future-out refit of {fit.law.name} on the {int(train.sum())} points below the largest "
             f"{k} scale(s), to score the {int((~train).sum())} above")
    return train, k, refit(fit, tr, seed_offset=LFO_SEED_OFFSET)


def lfo_score(fit, *, k: int | None = None, progress: Progress = silent) -> LfoResult:
    """Refit ``fit``'s law on all but the largest ``k`` scales (:func:`lfo_refit`) and score the held-out points.

    ``progress`` receives one line before the refit (:mod:`bayescale.evaluate.progress`).
    """
    train, k, rf = lfo_refit(fit, k=k, progress=progress)
    test = ~train
    if isinstance(rf, DataError):
        return LfoResult(law=fit.law.name, n_train=int(train.sum()), n_test=int(test.sum()), lpd=(),
                         rmsle=float("nan"), ok=False, problems=(str(rf),))
    xin = {kk: v[test] for kk, v in fit.data.inputs.items()}
    yt = fit.data.y[test]
    ll = pointwise_log_lik(rf, xin, yt, None if fit.data.trials is None else fit.data.trials[test])
    lpd = lpd_from_draws(ll)
    d = rf.comparison_diagnostics(ll)  # an unidentified break: judged by the held-out points' log-likelihood
    return LfoResult(law=fit.law.name, n_train=int(train.sum()), n_test=int(test.sum()),
                     lpd=tuple(float(v) for v in lpd), rmsle=rmsle(rf, xin, yt), ok=d.ok, problems=d.problems)


def recommend(lfo: Mapping[str, LfoResult], n_params: Mapping[str, int]) -> str | None:
    """Law with the best LFO mean lpd; laws within one se (and 1 nat) of it tie, and the simplest wins."""
    scored = {k: v for k, v in lfo.items() if v.lpd and np.isfinite(v.mean_lpd)}
    if not scored:
        return None
    best = max(scored, key=lambda k: scored[k].mean_lpd)
    b = np.asarray(scored[best].lpd)
    tied = []
    for name, r in scored.items():
        diff = b - np.asarray(r.lpd)
        se = float(np.sqrt(diff.size) * np.std(diff, ddof=1)) if diff.size > 1 else 0.0
        if diff.sum() <= max(1.0, se):
            tied.append(name)
    return min(tied, key=lambda k: (n_params[k], -scored[k].mean_lpd))


def recommend_by_loo(table: pd.DataFrame, n_params: Mapping[str, int]) -> str | None:
    """Law with the best PSIS-LOO elpd; laws within ``max(1, dse)`` of it tie, and the simplest wins.

    ``table`` is ``az.compare``'s output (``elpd_diff`` and ``dse`` against the best law).
    """
    if table.empty:
        return None
    tied = [str(nm) for nm, r in table.iterrows()
            if float(r["elpd_diff"]) <= max(1.0, float(np.nan_to_num(r["dse"], nan=0.0)))]
    return min(tied, key=lambda k: (n_params[k], -float(table.loc[k, "elpd"])))


def choose_law(lfo: Mapping[str, LfoResult], table: pd.DataFrame,
               n_params: Mapping[str, int]) -> tuple[str | None, str]:
    """The recommended law and the rule that chose it (see the module docstring).

    LFO decides when it scored every law; otherwise PSIS-LOO over all laws decides, and the rule
    says which laws LFO could not score, so no law is dropped without a word.
    """
    if lfo:
        unscored = [k for k, v in lfo.items() if not (v.lpd and np.isfinite(v.mean_lpd))]
        if not unscored:
            return recommend(lfo, n_params), "leave-future-out (best mean lpd, ties to the simplest)"
        return (recommend_by_loo(table, n_params),
                "PSIS-LOO (best elpd, ties to the simplest), because leave-future-out could not score "
                + ", ".join(unscored))
    return recommend_by_loo(table, n_params), "PSIS-LOO (best elpd, ties to the simplest; no leave-future-out)"
