r"""Comparing laws: :func:`compare` fits each law (or takes fits already made) and scores them.

1. **PSIS-LOO** (ArviZ ``az.loo``) with **exact refits** for points of high
   Pareto k (:mod:`bayescale.evaluate.loo`): ``elpd_loo`` on the y scale, its
   standard error, ``p_loo`` and the Pareto k of every point.  Laws are ranked
   by ``az.compare`` (``elpd_diff``, its standard error ``dse``, and stacking
   ``weight``).
2. **Leave-future-out** (:mod:`bayescale.evaluate.lfo`): each law refitted
   below the largest scales and scored on them; the **recommended** law is
   chosen from these scores (or from PSIS-LOO when LFO cannot score every law).
3. **The break verdict** (:mod:`bayescale.evaluate.verdict`): when a broken law
   and the unbroken baseline are both compared, is the break real?

To forecast, use the stacked mixture of the laws, :meth:`Comparison.forecast`
(:mod:`bayescale.evaluate.stacking`), rather than the single recommended law.

The scoring math is in :mod:`bayescale.evaluate.scoring` and the result types in
:mod:`bayescale.evaluate.results`; this module re-exports the public names it
defined before they moved there.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Mapping, Sequence

import arviz_stats as az  # the statistics alone: the `arviz` package also imports its plots and matplotlib
import numpy as np

from ..errors import DataError, FitError, LawError
from ..inference.fit import fit as fit_law
from ..spec.data import Dataset, load_data
from ..spec.laws import get_law
from ..spec.likelihoods import get_likelihood
from .lfo import choose_law, lfo_score, lfo_split
from .loo import MAX_REFITS, check_max_refits, loo_with_refits
from .progress import ProgressArg, reporter
from .results import Comparison, LfoResult, LooResult
from .scoring import log_density, predictive_lpd, rmsle
from .verdict import BASELINE, C_NEAR_ZERO, VERDICT_PROB, Verdict, break_verdict, x_inner

__all__ = [
    "compare", "verdict_from", "Comparison",
    # defined in the modules of bayescale.evaluate, re-exported under their old address
    "LooResult", "LfoResult", "Verdict", "break_verdict", "log_density", "predictive_lpd", "rmsle", "lfo_split",
    "BASELINE", "MAX_REFITS", "C_NEAR_ZERO",
]


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
    progress: ProgressArg = None,
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
        Fits already made (all to the same data); the laws are refitted with their own
        configuration (:func:`bayescale.inference.fit.refit`) for LFO and exact LOO.
    x, y : column names for ``data``.
    where : mapping of column to value, optional
        Fit only the rows of ``data`` whose column equals the value (e.g. ``{"split": "fit"}``),
        as :func:`bayescale.fit`; the selection is reported in the fits' data source.
    baseline : str
        Unbroken law the broken ones are judged against (default ``power_law_offset``).
    lfo : bool
        Whether to run leave-future-out (one refit per law).
    lfo_k : int, optional
        Number of largest distinct scales held out, from 1 to one less than the number of distinct
        scales (default ``min(3, max(1, round(0.2 m)))``).
    max_refits : int
        Most exact leave-one-out refits per law for points of high Pareto k (>= 0).
    prob : float
        Probability of the posterior intervals used by the verdict.
    progress : bool or callable, optional
        One line per law fitted, per exact LOO refit and per leave-future-out refit: on standard error
        when True, or when None (the default) and standard error is a terminal; a callable receives
        each line instead (:mod:`bayescale.evaluate.progress`).  The laws are fitted without NUTS's
        own progress bar unless ``progressbar=True`` is passed.
    **fit_kwargs
        Passed to :func:`bayescale.inference.fit.fit` (draws, tune, chains, sampler, seed, likelihood, priors...).

    Returns
    -------
    Comparison

    Raises
    ------
    BayescaleError
        For bad arguments (laws, ``lfo_k``, ``max_refits``, ``prob``, data), before anything is fitted.
    """
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
    max_refits = check_max_refits(max_refits)
    inputs = {nm: tuple(get_law(nm).inputs) for nm in todo} | {nm: tuple(f.law.inputs) for nm, f in got.items()}
    # laws of fewer inputs are compared on the widest law's data, each fitted to its own inputs: the same
    # observations, so the same LOO points; leave-future-out splits on the first input, which they share
    widest = max(inputs.values(), key=len)
    if any(not set(v) <= set(widest) or v[0] != widest[0] for v in inputs.values()):
        raise LawError("laws can be compared on one dataset when one law's inputs include every other's and all "
                       "start with the same input (chinchilla's N, D within data_constrained's N, D, U): "
                       + "; ".join(f"{nm} has {', '.join(v)}" for nm, v in inputs.items()))
    say = reporter(progress)
    if todo:
        lik = get_likelihood(fit_kwargs.get("likelihood", "lognormal"))
        if where and isinstance(data, Dataset):
            raise DataError("where= selects rows of a CSV file or DataFrame; this data is already a Dataset")
        ds = data if isinstance(data, Dataset) else load_data(
            data, x=list(widest) if x is None else x, y=y, inputs=widest, positive_y=lik.positive_y, where=where)
    else:
        ds = max((f.data for f in got.values()), key=lambda d: len(d.inputs))
    if lfo:
        lfo_split(ds, lfo_k)  # a bad lfo_k fails here, before any fit
    if todo:
        kw = dict(fit_kwargs)
        kw.setdefault("cores", 1)
        progressbar = kw.pop("progressbar", False)
        for i, nm in enumerate(todo, start=1):
            say(f"fitting {nm} ({i}/{len(todo)})...")
            got[nm] = fit_law(ds.for_inputs(inputs[nm]), law=get_law(nm), progressbar=progressbar, **kw)
    ys = {nm: f.data.y for nm, f in got.items()}
    ref = next(iter(ys.values()))
    if any(v.shape != ref.shape or not np.allclose(v, ref) for v in ys.values()):
        raise DataError("the fits were made to different data; compare fits of the same dataset")
    loos = {nm: loo_with_refits(f, max_refits=max_refits, progress=say) for nm, f in got.items()}
    table = az.compare({nm: r.elpd_data for nm, r in loos.items()}, round_to="none")
    lfo_res = {nm: lfo_score(f, k=lfo_k, progress=say) for nm, f in got.items()} if lfo else {}
    rec, rec_by = choose_law(lfo_res, table, {nm: len(f.law.sampled) for nm, f in got.items()})
    verdict = verdict_from(got, loos, baseline=baseline, prob=prob, lfo=lfo_res)
    return Comparison(fits=got, loo=loos, table=table, lfo=lfo_res, recommended=rec, verdict=verdict,
                      recommended_by=rec_by)


def verdict_from(fits: Mapping[str, Any], loos: Mapping[str, LooResult], *, baseline: str = BASELINE,
                 prob: float = VERDICT_PROB, lfo: Mapping[str, LfoResult] | None = None) -> Verdict | None:
    """The break verdict of a comparison: the best broken law (by elpd) against ``baseline``.

    ``None`` unless ``baseline`` and at least one broken law (:attr:`bayescale.spec.laws.Law.is_broken`)
    were compared.  The slope changes and break positions are the law's declared roles.  Leave-future-out
    scores (``lfo``) enter the rule when both laws' LFO fits passed their diagnostics.
    """
    broken = [nm for nm, f in fits.items() if f.law.is_broken]
    if baseline not in fits or not broken:
        return None
    best = max(broken, key=lambda nm: loos[nm].elpd)
    pair = az.compare({best: loos[best].elpd_data, baseline: loos[baseline].elpd_data}, round_to="none",
                      reference=baseline)
    diff = float(loos[best].elpd - loos[baseline].elpd)
    dse = float(pair.loc[best, "dse"])
    f = fits[best]
    cs, dsn = f.law.slope_changes, f.law.break_positions
    dr = f.draws(cs + dsn)
    warn: list[str] = []
    block: dict[str, list[str]] = {}
    for nm in (best, baseline):
        # the scores' own diagnostics: for a break that is not identified, those of the pointwise
        # log-likelihood instead of the break parameters (Fit.comparison_diagnostics)
        d = fits[nm].comparison_diagnostics()
        block[nm] = [p for p in d.problems if "divergent" in p]
        if loos[nm].unresolved:
            block[nm].append(f"{len(loos[nm].unresolved)} point(s) with Pareto k > {loos[nm].k_threshold:.2f} "
                             "not refitted")
        warn += [f"{nm}: {p}" for p in d.problems if "divergent" not in p]
        if not loos[nm].refit_ok:  # which refit, and why: an R-hat of one point differs from divergences
            warn += [f"{nm}: the exact LOO refit without point {i} failed its diagnostics ({'; '.join(rd.problems)})"
                     for i, rd in loos[nm].failed_refits.items()] or [
                         f"{nm}: an exact LOO refit failed its diagnostics"]
    lb, lu = (lfo or {}).get(best), (lfo or {}).get(baseline)
    pointwise = (np.subtract(lb.lpd, lu.lpd) if lb is not None and lu is not None and lb.ok and lu.ok
                 and len(lb.lpd) == len(lu.lpd) else None)
    v = break_verdict(elpd_diff=diff, dse=dse, c_draws=[dr[c] for c in cs], d_draws=[dr[d] for d in dsn],
                      x_inner=x_inner(f.data), lfo_pointwise=pointwise, broken_blockers=block[best],
                      baseline_blockers=block[baseline], warnings=warn, broken_law=best, baseline=baseline, prob=prob,
                      unidentified=[b["break"] for b in f.unidentified_breaks])
    if not f.unidentified_breaks:
        return v
    note = (f"{best}: no break is identified (position and sharpness at their priors), so its fits are judged "
            "by the convergence of the log-likelihood of the points each score is made of, not of the break "
            "parameters")
    # "break supported" rests on the slope changes' and positions' intervals: their own diagnostics count
    extra = tuple(f"{best}: {p}" for p in f.diagnostics().problems if "divergent" not in p
                  and f"{best}: {p}" not in v.warnings) if v.verdict == "break supported" else ()
    return replace(v, reasons=v.reasons + (note,), warnings=v.warnings + extra)
