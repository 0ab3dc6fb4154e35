r"""Comparing laws, and the verdict on whether a break is real.

:func:`compare` fits each law (or takes fits already made) and scores them
three ways:

1. **PSIS-LOO** (ArviZ ``az.loo``): expected log pointwise predictive density
   ``elpd_loo = sum_j log p(y_j | y_{-j})`` on the y scale, its standard error,
   the effective number of parameters ``p_loo`` and the Pareto k of every
   point.  Laws are ranked by ``az.compare`` (``elpd_diff``, its standard
   error ``dse``, and stacking ``weight``).
2. **Exact refits for bad Pareto k.**  A point with
   ``k > min(0.7, 1 - 1/log10(S))`` (ArviZ's sample-size dependent threshold,
   never above 0.7) makes the PSIS estimate of its term unreliable, so the law
   is refitted without that point and the term is replaced by the exact
   leave-one-out density

   .. math:: \log p(y_j \mid y_{-j}) \approx \log \frac1S \sum_s p(y_j \mid \theta_s^{(-j)}).

   At most ``max_refits`` (default 5) points per law are refitted, worst k
   first; any left over are reported as unresolved and the law's LOO is
   flagged ``ok = False``.  The output says, per law, which points were
   refitted (``refits``) and which were not (``unresolved``).
3. **Leave-future-out (LFO).**  Each law is refitted on all but the largest
   ``k`` distinct scales (default ``k = min(3, max(1, round(0.2 m)))`` of
   ``m`` distinct scales) and scored on the held-out points by the mean log
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

Forecasting: the stacked mixture, not one law
---------------------------------------------
To forecast, use :meth:`Comparison.forecast` (``bayescale compare --target``):
the mixture of the laws' posterior predictive distributions with the
stacking weights of ``az.compare``.  ``recommended`` names the single law
the rule above prefers, for when one law must be reported, but betting on it
forecasts worse: with one to three held-out scales, LFO ties are common and
go to the simplest law, which extrapolates worst when the curve bends later.
On the 132 curves of ``benchmarks/extrapolation.py`` the mixture's held-out
RMSLE was equal or lower in three of four groups (language 0.0072 against
0.0164, nanoGPT width 0.0284 against 0.0667, image classification 0.0385
against 0.0386) and higher on double descent (0.0648 against 0.0606); the
numbers are in ``benchmarks/README.md``.

The break verdict
-----------------
On data from a single power law, LOO cannot prefer the unbroken law: the
broken law contains it (``c_i -> 0``), so their elpd ties.  The verdict is
therefore asymmetric: a break must earn its place.  Let ``B`` be the broken
law (``bnsl1``, ``bnsl2``, ...: any law with slope changes ``c1..`` and breaks
``d1..``) with the highest elpd, ``U`` the unbroken baseline
(``power_law_offset`` by default), ``Delta = elpd_B - elpd_U`` and ``dse`` its
standard error from ``az.compare``.  With 90% equal-tailed posterior
intervals,

**break supported** when all of:

* ``Delta >= 4`` and ``Delta >= 2 dse`` (the broken law wins clearly);
* for some break ``i``: the 90% interval of the slope change ``c_i``
  excludes 0, **and** the 90% interval of its position ``d_i`` lies inside
  ``[x_(2), x_(m-1)]``, the second-smallest to second-largest distinct scale
  (a break needs data on both sides; one whose posterior reaches the edge or
  beyond of the observed range is never "supported");
* neither fit has divergences (left after the automatic remedy) or points
  with Pareto k left unresolved: these bias the numbers above.

**no break supported** when the baseline's fit has no such problem and
either the baseline is ahead (``Delta <= 0``) or close behind
(``Delta <= dse`` and ``Delta < 4``: a large difference with a huge standard
error is not evidence against a break), or every slope change is concentrated near zero
(``P(|c_i| < 0.1) >= 0.9`` for every ``i``).

**inconclusive** otherwise.

Any other diagnostic failure (R-hat above 1.01, ESS below 100 per chain, an
exact refit that failed its own diagnostics) leaves the verdict as it is but
marks it ``reliable = False`` with the problems listed: rerun with more draws
before relying on it.  The numbers behind the verdict are returned (``Verdict.to_dict``) and printed
by ``bayescale compare``.  The thresholds are module constants; their false
break and detection rates, measured by simulation, are in
``benchmarks/README.md`` (``benchmarks/break_verdict.py``).
"""

from __future__ import annotations

import copy
import json
import os
import sys
from dataclasses import dataclass, field, replace
from typing import Any, Callable, Mapping, Sequence

import numpy as np
import pandas as pd

from ..errors import BayescaleError, DataError, FitError, LawError
from ..inference.fit import refit
from ..inference.sampling import COMPILE_CACHE
from ..predictive import check_prob
from ..spec.likelihoods import get_likelihood

__all__ = [
    "compare", "Comparison", "LooResult", "LfoResult", "Verdict", "break_verdict",
    "log_density", "predictive_lpd", "rmsle", "lfo_split", "BASELINE",
]

#: The unbroken law the broken ones are compared against.
BASELINE = "power_law_offset"
#: Verdict thresholds (see the module docstring).
BREAK_ELPD_MIN = 4.0
BREAK_DSE_MIN = 2.0
NO_BREAK_DSE = 1.0
VERDICT_PROB = 0.9
C_NEAR_ZERO = 0.1
C_NEAR_ZERO_PROB = 0.9
#: Pareto k above which a point is refitted exactly (ArviZ's threshold is used when lower).
K_MAX = 0.7
MAX_REFITS = 5

VERDICTS = ("break supported", "no break supported", "inconclusive")


# ----------------------------------------------------------------------------- scoring math
def log_density(
    y: np.ndarray, mu: np.ndarray, *, likelihood: str, sigma: np.ndarray, nu: np.ndarray | None = None
) -> np.ndarray:
    r"""Log density of observations ``y`` (shape (m,)) under draws ``mu`` (shape (S, m)), on the y scale.

    lognormal: ``log LogNormal(y; log mu, sigma)``; normal: ``log N(y; mu, sigma)``;
    studentt: ``log t_nu(log y; log mu, sigma) - log y`` (the Jacobian of ``log y``).
    ``sigma`` and ``nu`` are per-draw, shape (S,).
    """
    noise = {"sigma": np.asarray(sigma, dtype=float).reshape(-1, 1),
             "nu": None if nu is None else np.asarray(nu, dtype=float).reshape(-1, 1)}
    out = get_likelihood(likelihood).logpdf(np.asarray(y, dtype=float)[None, :], mu, noise)
    return np.where(np.isfinite(out), out, -np.inf)


def _noise(fit) -> dict[str, np.ndarray]:
    return fit.draws(fit.likelihood.noise_names)


def pointwise_log_lik(fit, inputs: Mapping[str, np.ndarray], y: np.ndarray) -> np.ndarray:
    """Draws of ``log p(y_j | theta_s)`` on the y scale, shape (S, m)."""
    mu = fit.expected({k: np.asarray(v, dtype=float) for k, v in inputs.items()})
    nz = _noise(fit)
    return log_density(y, mu, likelihood=fit.settings["likelihood"], sigma=nz["sigma"], nu=nz.get("nu"))


def predictive_lpd(fit, inputs: Mapping[str, np.ndarray], y: np.ndarray) -> np.ndarray:
    r"""Log predictive density of each point, ``log (1/S) sum_s p(y_j | theta_s)``, shape (m,)."""
    from scipy.special import logsumexp

    ll = pointwise_log_lik(fit, inputs, y)
    return logsumexp(ll, axis=0) - np.log(ll.shape[0])


def rmsle(fit, inputs: Mapping[str, np.ndarray], y: np.ndarray) -> float:
    """Root mean squared log error of the posterior median of the law's expected value."""
    mu = fit.expected({k: np.asarray(v, dtype=float) for k, v in inputs.items()})
    with np.errstate(divide="ignore", invalid="ignore"):
        err = np.log(np.median(mu, axis=0)) - np.log(np.asarray(y, dtype=float))
    return float(np.sqrt(np.mean(err ** 2)))


# ----------------------------------------------------------------------------- results
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
class Verdict:
    """Is the break real?  One of :data:`VERDICTS` with the numbers behind it."""

    verdict: str
    broken_law: str | None
    baseline: str | None
    elpd_diff: float
    dse: float
    breaks: tuple[Mapping[str, Any], ...] = ()
    x_range: tuple[float, float] = (float("nan"), float("nan"))
    reasons: tuple[str, ...] = ()
    prob: float = VERDICT_PROB
    warnings: tuple[str, ...] = ()

    @property
    def reliable(self) -> bool:
        """False when a diagnostic (R-hat, ESS, a refit) failed: rerun with more draws before relying on it."""
        return not self.warnings

    def to_dict(self) -> dict[str, Any]:
        return {
            "verdict": self.verdict, "broken_law": self.broken_law, "baseline": self.baseline,
            "elpd_diff": self.elpd_diff, "dse": self.dse, "prob": self.prob,
            "breaks": [dict(b) for b in self.breaks], "x_inner_range": list(self.x_range),
            "reasons": list(self.reasons), "reliable": self.reliable, "warnings": list(self.warnings),
            "rule": {"elpd_diff_min": BREAK_ELPD_MIN, "dse_min": BREAK_DSE_MIN,
                     "no_break_within_dse": NO_BREAK_DSE, "c_near_zero": C_NEAR_ZERO,
                     "c_near_zero_prob": C_NEAR_ZERO_PROB},
        }


def _eti(d: np.ndarray, prob: float) -> tuple[float, float]:
    lo, hi = np.quantile(d, [(1 - prob) / 2, (1 + prob) / 2])
    return float(lo), float(hi)


def break_verdict(
    *,
    elpd_diff: float,
    dse: float,
    c_draws: Sequence[np.ndarray],
    d_draws: Sequence[np.ndarray],
    x_inner: tuple[float, float],
    broken_blockers: Sequence[str] = (),
    baseline_blockers: Sequence[str] = (),
    warnings: Sequence[str] = (),
    broken_law: str | None = None,
    baseline: str | None = BASELINE,
    prob: float = VERDICT_PROB,
) -> Verdict:
    """Apply the break rule of the module docstring to comparison numbers and posterior draws.

    Parameters
    ----------
    elpd_diff, dse : float
        ``elpd(broken) - elpd(baseline)`` and its standard error.
    c_draws, d_draws : sequences of 1-D arrays
        Posterior draws of each slope change ``c_i`` and break position ``d_i`` of the broken law.
    x_inner : (float, float)
        Second-smallest and second-largest distinct scale: where a break is identifiable.
    broken_blockers, baseline_blockers : sequences of str
        Problems that bias the numbers of each law (divergences left after the remedy, Pareto k
        left unresolved): any of them rules out "break supported"; the baseline's rule out
        "no break supported".
    warnings : sequence of str
        Other diagnostic failures (R-hat, ESS, a refit's diagnostics): the verdict stands but is
        marked not reliable (``Verdict.reliable``).
    """
    lo_x, hi_x = float(x_inner[0]), float(x_inner[1])
    breaks = []
    any_real = False
    all_near_zero = True
    for i, (c, d) in enumerate(zip(c_draws, d_draws), start=1):
        c, d = np.asarray(c, dtype=float), np.asarray(d, dtype=float)
        c_lo, c_hi = _eti(c, prob)
        d_lo, d_hi = _eti(d, prob)
        excludes0 = c_lo > 0 or c_hi < 0
        inside = lo_x <= d_lo and d_hi <= hi_x
        p_near0 = float(np.mean(np.abs(c) < C_NEAR_ZERO))
        all_near_zero &= p_near0 >= C_NEAR_ZERO_PROB
        any_real |= excludes0 and inside
        breaks.append({"index": i, "c_median": float(np.median(c)), "c_lower": c_lo, "c_upper": c_hi,
                       "c_excludes_0": bool(excludes0), "p_abs_c_below": p_near0,
                       "d_median": float(np.median(d)), "d_lower": d_lo, "d_upper": d_hi,
                       "d_inside": bool(inside)})
    wins = elpd_diff >= BREAK_ELPD_MIN and elpd_diff >= BREAK_DSE_MIN * dse
    # "within 1 se" only counts for small differences: a large difference with a huge se is inconclusive
    close = elpd_diff <= 0 or (elpd_diff <= NO_BREAK_DSE * dse and elpd_diff < BREAK_ELPD_MIN)
    reasons = [f"elpd difference {elpd_diff:.2f} (se {dse:.2f}) "
               + ("meets" if wins else "does not meet")
               + f" >= {BREAK_ELPD_MIN:g} and >= {BREAK_DSE_MIN:g} se"]
    if breaks:
        reasons.append("a break has a slope change whose interval excludes 0 and a position inside the data"
                       if any_real else
                       "no break has both a slope change excluding 0 and a position inside the data")
    reasons += [f"{broken_law or 'broken law'}: {b}" for b in broken_blockers]
    reasons += [f"{baseline or 'baseline'}: {b}" for b in baseline_blockers]
    if wins and any_real and not broken_blockers and not baseline_blockers:
        v = "break supported"
    elif not baseline_blockers and (close or (breaks and all_near_zero)):
        v = "no break supported"
        if close:
            reasons.append(f"the baseline is ahead, or behind by less than {NO_BREAK_DSE:g} se and "
                           f"less than {BREAK_ELPD_MIN:g}")
        if breaks and all_near_zero:
            reasons.append(f"every slope change has P(|c| < {C_NEAR_ZERO:g}) >= {C_NEAR_ZERO_PROB:g}")
    else:
        v = "inconclusive"
    return Verdict(verdict=v, broken_law=broken_law, baseline=baseline, elpd_diff=float(elpd_diff),
                   dse=float(dse), breaks=tuple(breaks), x_range=(lo_x, hi_x), reasons=tuple(reasons),
                   prob=prob, warnings=tuple(warnings))


def _break_params(law) -> tuple[list[str], list[str]]:
    names = set(law.param_names)
    cs, ds = [], []
    i = 1
    while f"c{i}" in names and f"d{i}" in names:
        cs.append(f"c{i}")
        ds.append(f"d{i}")
        i += 1
    return cs, ds


def is_broken(law) -> bool:
    """True for laws with slope changes ``c1..`` at breaks ``d1..`` (the BNSL family)."""
    return bool(_break_params(law)[0])


def _x_inner(ds) -> tuple[float, float]:
    x = np.unique(next(iter(ds.inputs.values())))
    if x.size < 3:
        return float(x.max()), float(x.min())  # empty interval: no break can be inside
    return float(x[1]), float(x[-2])


# ----------------------------------------------------------------------------- refitting
_COMPILED = COMPILE_CACHE  # compiled models shared with bayescale.fit; benchmarks count them


def _subset(ds, keep: np.ndarray):
    from ..spec.data import Dataset

    return Dataset(inputs={k: np.asarray(v)[keep] for k, v in ds.inputs.items()}, y=np.asarray(ds.y)[keep],
                   columns=dict(ds.columns), source=ds.source)


def _refit(fit, ds, *, seed_offset: int = 0):
    """Fit ``fit``'s law to other data with ``fit``'s configuration (one core, no progress bar)."""
    return refit(fit, ds, seed_offset=seed_offset)


def loo_with_refits(fit, *, max_refits: int = MAX_REFITS, k_max: float = K_MAX) -> LooResult:
    """PSIS-LOO of a fit, replacing the terms of points with high Pareto k by exact refits."""
    import arviz as az
    import xarray as xr

    import warnings

    with warnings.catch_warnings():
        # high Pareto k is handled below (exact refits) and reported, so ArviZ's warning is redundant
        warnings.filterwarnings("ignore", message="Estimated shape parameter of Pareto")
        loo = az.loo(fit.tree, pointwise=True, var_name="y")
    k = np.asarray(loo.pareto_k.values, dtype=float).reshape(-1)
    thr = float(min(k_max, getattr(loo, "good_k", k_max) or k_max))
    bad = [int(i) for i in np.argsort(-k) if k[i] > thr]
    todo, left = bad[:max_refits], bad[max_refits:]
    elpd_i = np.asarray(loo.elpd_i.values, dtype=float).reshape(-1).copy()
    p = float(loo.p)
    refit_ok = True
    n = fit.data.n
    for j, i in enumerate(todo):
        keep = np.ones(n, dtype=bool)
        keep[i] = False
        rf = _refit(fit, _subset(fit.data, keep), seed_offset=1000 + j)
        refit_ok &= rf.diagnostics().ok
        new = float(predictive_lpd(rf, {kk: v[[i]] for kk, v in fit.data.inputs.items()}, fit.data.y[[i]])[0])
        p += elpd_i[i] - new  # p_loo = lppd - elpd_loo
        elpd_i[i] = new
    elpd, se = float(loo.elpd), float(loo.se)
    if todo:
        elpd = float(elpd_i.sum())
        se = float(np.sqrt(n * np.var(elpd_i)))  # ArviZ's formula for the se of elpd_loo
        loo = copy.copy(loo)
        loo.elpd_i = xr.DataArray(elpd_i.reshape(loo.elpd_i.shape), dims=loo.elpd_i.dims,
                                  coords=loo.elpd_i.coords)
        loo.elpd, loo.se, loo.p = elpd, se, p
    if not bad:
        method = "psis (all Pareto k below threshold)"
    else:
        method = f"psis with exact refits of {len(todo)} point(s) with k > {thr:.2f}"
        if left:
            method += f"; {len(left)} more not refitted (limit {max_refits}): elpd unreliable"
    return LooResult(law=fit.law.name, elpd=elpd, se=se, p_loo=p, pareto_k=tuple(float(v) for v in k),
                     k_threshold=thr, refits=tuple(todo), unresolved=tuple(left), refit_ok=bool(refit_ok),
                     method=method, elpd_data=loo)


# ----------------------------------------------------------------------------- LFO
def lfo_split(ds, k: int | None = None) -> tuple[np.ndarray, int]:
    """Boolean mask of training points (all but the largest ``k`` distinct scales), and ``k``.

    Default ``k = min(3, max(1, round(0.2 m)))`` for ``m`` distinct scales.
    """
    x = np.asarray(next(iter(ds.inputs.values())), dtype=float)
    ux = np.unique(x)
    if k is None:
        k = min(3, max(1, int(round(0.2 * ux.size))))
    if not 1 <= k < ux.size:
        raise DataError(f"leave-future-out needs 1 <= k < {ux.size} distinct scales, got k={k}")
    cut = ux[-k]
    return x < cut, k


def lfo_score(fit, *, k: int | None = None) -> LfoResult:
    """Refit ``fit``'s law on all but the largest ``k`` scales and score the held-out points."""
    from ..inference.model import check_identifiable

    train, k = lfo_split(fit.data, k)
    test = ~train
    tr = _subset(fit.data, train)
    try:
        check_identifiable(fit.law, tr)
    except DataError as exc:
        return LfoResult(law=fit.law.name, n_train=int(train.sum()), n_test=int(test.sum()), lpd=(),
                         rmsle=float("nan"), ok=False, problems=(str(exc),))
    rf = _refit(fit, tr, seed_offset=500)
    xin = {kk: v[test] for kk, v in fit.data.inputs.items()}
    yt = fit.data.y[test]
    d = rf.diagnostics()
    return LfoResult(law=fit.law.name, n_train=int(train.sum()), n_test=int(test.sum()),
                     lpd=tuple(float(v) for v in predictive_lpd(rf, xin, yt)), rmsle=rmsle(rf, xin, yt),
                     ok=d.ok, problems=d.problems)


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


# ----------------------------------------------------------------------------- compare
@dataclass(frozen=True)
class Comparison:
    """The result of :func:`compare`.

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
        the stacked mixture, :meth:`forecast` (see the module docstring).
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
                 weights: Mapping[str, float] | None = None) -> Any:
        r"""Forecast from the stacked mixture of the compared laws, instead of betting on one.

        The predictive distribution is :math:`\sum_k w_k\, p_k(\tilde y \mid x, y)` over the laws
        :math:`k` with stacking weights :math:`w_k` (:attr:`weights`; or ``weights`` given).  Its draws
        are law :math:`k`'s forecast draws (expected value and new observation, each law's own
        :meth:`bayescale.Fit.forecast`), :math:`n_k` of them, with :math:`n_k \propto w_k` (largest
        remainders; :math:`\sum n_k` = the smallest draw count of the laws) chosen at random without
        replacement from ``seed``.  Laws with weight below 0.001 are left out.

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
        from ..inference.fit import Forecast

        check_prob(prob)
        w = dict(self.weights if weights is None else weights)
        unknown = sorted(set(w) - set(self.fits))
        if unknown:
            raise LawError(f"weights name laws that were not compared: {', '.join(unknown)} "
                           f"(compared: {', '.join(self.fits)})")
        tot = sum(max(float(v), 0.0) for v in w.values())
        if not tot > 0:
            raise FitError("the stacking weights are all zero; give weights={law: weight, ...}")
        w = {k: max(float(v), 0.0) / tot for k, v in w.items() if float(v) / tot >= 1e-3}
        tot = sum(w.values())
        w = {k: v / tot for k, v in w.items()}
        if seed is None:
            seed = next(iter(self.fits.values())).settings.get("seed")
        fcs = {k: self.fits[k].forecast(x=x, prob=prob, seed=seed) for k in w}
        n_total = min(f.expected.shape[0] for f in fcs.values())
        # largest-remainder allocation of the draws; no library call does this in one step
        raw = {k: w[k] * n_total for k in w}
        n = {k: int(np.floor(v)) for k, v in raw.items()}
        for k in sorted(raw, key=lambda k: raw[k] - n[k], reverse=True)[: n_total - sum(n.values())]:
            n[k] += 1
        rng = np.random.default_rng(seed)
        exp, obs = [], []
        for k, f in fcs.items():
            idx = rng.choice(f.expected.shape[0], size=n[k], replace=False)
            exp.append(f.expected[idx])
            obs.append(f.observed[idx])
        first = next(iter(fcs.values()))
        return Forecast(inputs=first.inputs, expected=np.concatenate(exp), observed=np.concatenate(obs), prob=prob,
                        reliable=all(f.reliable for f in fcs.values()))

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


def compare(
    data: Any = None,
    *,
    laws: Sequence[str] | None = None,
    fits: Mapping[str, Any] | Sequence[Any] | None = None,
    x: Any = None,
    y: str = "y",
    where: Mapping[str, str] | None = None,
    baseline: str = BASELINE,
    lfo: bool = True,
    lfo_k: int | None = None,
    max_refits: int = MAX_REFITS,
    prob: float = VERDICT_PROB,
    **fit_kwargs: Any,
) -> Comparison:
    """Compare laws by PSIS-LOO (with exact refits), leave-future-out, and give the break verdict.

    Parameters
    ----------
    data : CSV path, DataFrame or Dataset, optional
        Data to fit every law in ``laws`` to.
    laws : sequence of str, optional
        Law names (at least two laws in all, counting ``fits``).
    fits : mapping or sequence of Fit, optional
        Fits already made (all to the same data); the laws are refitted with their own settings
        for LFO and exact LOO.
    x, y : column names for ``data``.
    where : mapping of column to value, optional
        Fit only the rows of ``data`` whose column equals the value (e.g. ``{"split": "fit"}``),
        as :func:`bayescale.fit`; the selection is reported in the fits' data source.
    baseline : str
        Unbroken law the broken ones are judged against (default ``power_law_offset``).
    lfo : bool
        Whether to run leave-future-out (one refit per law).
    lfo_k : int, optional
        Number of largest distinct scales held out (default ``min(3, max(1, round(0.2 m)))``).
    max_refits : int
        Most exact leave-one-out refits per law for points of high Pareto k.
    prob : float
        Probability of the posterior intervals used by the verdict.
    **fit_kwargs
        Passed to :func:`bayescale.fit` (draws, tune, chains, sampler, seed, likelihood, priors...).

    Returns
    -------
    Comparison
    """
    import arviz as az

    from ..inference.fit import fit as _fit
    from ..spec.laws import get_law

    got: dict[str, Any] = {}
    if fits is not None:
        items = fits.values() if isinstance(fits, Mapping) else fits
        for f in items:
            got[f.law.name] = f
    names = list(laws or [])
    for nm in names:
        get_law(nm)  # raises LawError with the catalogue for an unknown name
    if len(set(names) | set(got)) < 2:
        raise LawError("compare needs at least two laws, e.g. laws=['power_law_offset', 'bnsl1']")
    if len(set(names)) != len(names):
        raise LawError(f"laws repeated in {', '.join(names)}: name each law once")
    todo = [n for n in names if n not in got]
    if todo and data is None:
        raise DataError("give data to fit the laws " + ", ".join(todo) + " (or pass their fits)")
    if not 0 < prob < 1:
        raise FitError(f"verdict interval probability must be in (0, 1), got {prob!r}")
    if todo:
        from ..spec.data import Dataset, load_data

        first = get_law(todo[0])
        lik = fit_kwargs.get("likelihood", "lognormal")
        if where and isinstance(data, Dataset):
            raise DataError("where= selects rows of a CSV file or DataFrame; this data is already a Dataset")
        ds = data if isinstance(data, Dataset) else load_data(
            data, x=list(first.inputs) if x is None else x, y=y, inputs=first.inputs, positive_y=lik != "normal",
            where=where)
        kw = dict(fit_kwargs)
        kw.setdefault("cores", 1)
        progressbar = kw.pop("progressbar", False)
        for nm in todo:
            got[nm] = _fit(ds, law=get_law(nm), progressbar=progressbar, **kw)
    ys = {nm: f.data.y for nm, f in got.items()}
    ref = next(iter(ys.values()))
    if any(v.shape != ref.shape or not np.allclose(v, ref) for v in ys.values()):
        raise DataError("the fits were made to different data; compare fits of the same dataset")
    loos = {nm: loo_with_refits(f, max_refits=max_refits) for nm, f in got.items()}
    table = az.compare({nm: r.elpd_data for nm, r in loos.items()}, round_to="none")
    lfo_res = {nm: lfo_score(f, k=lfo_k) for nm, f in got.items()} if lfo else {}
    rec, rec_by = choose_law(lfo_res, table, {nm: len(f.law.parameters) for nm, f in got.items()})
    verdict = _verdict_from(got, loos, baseline=baseline, prob=prob)
    return Comparison(fits=got, loo=loos, table=table, lfo=lfo_res, recommended=rec, verdict=verdict,
                      recommended_by=rec_by)


def _verdict_from(fits, loos, *, baseline: str, prob: float) -> Verdict | None:
    broken = [nm for nm, f in fits.items() if is_broken(f.law)]
    if baseline not in fits or not broken:
        return None
    best = max(broken, key=lambda nm: loos[nm].elpd)
    import arviz as az

    pair = az.compare({best: loos[best].elpd_data, baseline: loos[baseline].elpd_data}, round_to="none",
                      reference=baseline)
    diff = float(loos[best].elpd - loos[baseline].elpd)
    dse = float(pair.loc[best, "dse"])
    f = fits[best]
    cs, dsn = _break_params(f.law)
    dr = f.draws(cs + dsn)
    warn: list[str] = []
    block: dict[str, list[str]] = {}
    for nm in (best, baseline):
        d = fits[nm].diagnostics()
        block[nm] = [p for p in d.problems if "divergent" in p]
        if loos[nm].unresolved:
            block[nm].append(f"{len(loos[nm].unresolved)} point(s) with Pareto k > {loos[nm].k_threshold:.2f} "
                             "not refitted")
        warn += [f"{nm}: {p}" for p in d.problems if "divergent" not in p]
        if not loos[nm].refit_ok:
            warn.append(f"{nm}: an exact LOO refit failed its diagnostics")
    return break_verdict(elpd_diff=diff, dse=dse, c_draws=[dr[c] for c in cs], d_draws=[dr[d] for d in dsn],
                         x_inner=_x_inner(f.data), broken_blockers=block[best], baseline_blockers=block[baseline],
                         warnings=warn, broken_law=best, baseline=baseline, prob=prob)
