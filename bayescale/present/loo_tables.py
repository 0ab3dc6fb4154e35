"""The report's LOO comparison section: the main fit against the fits given with ``--compare``.

Fits of different laws go through :func:`bayescale.evaluate.compare.compare` (PSIS-LOO with optional
exact refits, leave-future-out, the break verdict).  That keys fits by law, so fits of one law (say
with different priors or likelihoods) are compared with ArviZ directly (``az.loo``, ``az.compare``).
Either way every elpd is on the scale of y, so fits with different likelihoods are comparable.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import arviz_stats as az  # the statistics alone: the `arviz` package also imports its plots and matplotlib
import numpy as np
import pandas as pd

from ..errors import BayescaleError
from ..evaluate.compare import Comparison, compare
from ..evaluate.loo import psis_loo
from .document import Block, Section
from .text import fmt_general as _g

__all__ = ["comparison_section", "PARETO_K_MAX"]

#: Pareto k above which a PSIS-LOO estimate is unreliable (ArviZ lowers it further for small samples).
PARETO_K_MAX = 0.7


def comparison_section(fit, fit_path: str | None, others: Sequence[tuple[Any, str | None]], warnings: list[str],
                       *, refits: int = 0, lfo: bool = False) -> Section:
    """The comparison section of ``fit`` against ``others`` (``(fit, path or None)`` pairs).

    Problems found (failed diagnostics of the other fits, Pareto k above the threshold, an unreliable
    break verdict) are appended to ``warnings``.
    """
    fits = [fit] + [f for f, _ in others]
    if len({f.law.name for f in fits}) == len(fits):
        return _laws_section(compare(fits=fits, lfo=lfo, max_refits=refits), fits, warnings, refits=refits)
    if refits or lfo:
        raise BayescaleError("exact LOO refits and leave-future-out need fits of different laws "
                             "(bayescale.compare keys them by law)")
    return _arviz_section(fits, _labels(fits, [fit_path] + [p for _, p in others]), warnings)


def _labels(fits: Sequence[Any], paths: Sequence[str | None]) -> list[str]:
    """One distinct label per fit: its law's name, then the file's stem or a number for repeats."""
    out: list[str] = []
    for f, p in zip(fits, paths):
        base = f.law.name
        lab = base
        if lab in out:
            lab = f"{base} ({Path(p).stem})" if p else f"{base} #{len(out) + 1}"
        k = 2
        while lab in out:
            lab = f"{base} #{k}"
            k += 1
        out.append(lab)
    return out


def _laws_section(c: Comparison, fits: Sequence[Any], warnings: list[str], *, refits: int) -> Section:
    """The section from :func:`bayescale.evaluate.compare.compare` (fits of different laws)."""
    by_name = {f.law.name: f for f in fits}
    for nm, f in by_name.items():
        if f is not fits[0] and not f.diagnostics().ok:
            warnings.extend(f"{nm}: {p}" for p in f.diagnostics().problems)
    rows = []
    for nm, r in c.table.iterrows():
        lo = c.loo[nm]
        k = np.asarray(lo.pareto_k, dtype=float)
        nbad = int(np.sum(k > lo.k_threshold))
        if lo.unresolved:
            warnings.append(f"LOO for {nm}: {len(lo.unresolved)} of {k.size} observations have Pareto k > "
                            f"{lo.k_threshold:.2g} (max {lo.pareto_k_max:.2f}) and were not refitted exactly; "
                            "its elpd estimate is unreliable")
        if not lo.refit_ok:
            warnings.append(f"LOO for {nm}: an exact leave-one-out refit failed its diagnostics")
        row = {"model": nm, "rank": int(r["rank"]), "elpd_loo": r["elpd"], "se": r["se"],
               "elpd_diff": r["elpd_diff"], "dse": r["dse"], "p_loo": r["p"], "weight": r["weight"],
               "Pareto k threshold": lo.k_threshold, "obs above it": nbad, "max Pareto k": lo.pareto_k_max,
               "refitted exactly": len(lo.refits), "diagnostics": "ok" if by_name[nm].diagnostics().ok else "FAILED"}
        if c.lfo:
            row["LFO mean lpd"] = c.lfo[nm].mean_lpd
            row["LFO RMSLE"] = c.lfo[nm].rmsle
        rows.append(row)
    table = pd.DataFrame(rows)
    sec = Section("compare", "Model comparison (PSIS-LOO)")
    sec.blocks.append(Block("p", text=(
        "Expected log predictive density of each fit by Pareto-smoothed importance-sampling leave-one-out "
        "(bayescale.compare on ArviZ az.loo / az.compare), on the scale of y, so fits with different likelihoods "
        "are comparable. elpd_diff is the difference to the best fit and dse its standard error: a difference "
        "within a few dse is not a clear preference, and a broken law cannot lose to the law it contains by much. "
        + ("Points with Pareto k above the threshold were refitted exactly (at most "
           f"{refits} per law). " if refits else
           "No exact refits were run for points with high Pareto k (bayescale report --refits N runs them). ")
        + f"Ranked first by LOO: {table.iloc[0]['model']}."
        + (f" Recommended for forecasting: {c.recommended} (by {c.recommended_by})." if c.recommended else "")
    )))
    sec.blocks.append(Block("table", table=table, bad_rows=[
        r["diagnostics"] != "ok" or len(c.loo[r["model"]].unresolved) > 0 for _, r in table.iterrows()]))
    v = c.verdict
    if v is not None:
        sec.blocks.append(Block("p", text=(
            f"Is the break real? {v.verdict.upper()} ({v.broken_law} against {v.baseline}: elpd difference "
            f"{_g(v.elpd_diff)}, dse {_g(v.dse)}"
            + (f"; leave-future-out difference {_g(v.lfo_diff)}, se {_g(v.lfo_se)}" if v.lfo_points else "")
            + ")." + ("" if v.reliable else " NOT RELIABLE: see the warnings."))))
        if v.reasons:
            sec.blocks.append(Block("list", items=list(v.reasons)))
        if not v.reliable:
            warnings.append(f"break verdict ({v.verdict}) is not reliable: " + "; ".join(v.warnings))
    return sec


def _arviz_section(fits: Sequence[Any], labels: Sequence[str], warnings: list[str]) -> Section:
    """PSIS-LOO of every fit and az.compare, with Pareto k and diagnostics warnings."""
    for f, lab in zip(fits[1:], labels[1:]):
        if not f.diagnostics().ok:
            warnings.extend(f"{lab}: {p}" for p in f.diagnostics().problems)
    # psis_loo: az.loo without ArviZ's Pareto k warning; this section reports k per fit (table, warnings)
    loos = {lab: psis_loo(f) for lab, f in zip(labels, fits)}
    cmp = az.compare(loos, round_to="none")  # from the LOO results above: no second az.loo
    rows = []
    for lab in cmp.index:
        lo = loos[lab]
        k = np.asarray(lo.pareto_k).reshape(-1)
        thr = min(PARETO_K_MAX, float(getattr(lo, "good_k", PARETO_K_MAX)))
        nbad = int(np.sum(k > thr))
        if nbad:
            warnings.append(f"LOO for {lab}: {nbad} of {k.size} observations have Pareto k > {thr:.2g} "
                            f"(max {np.max(k):.2f}); its elpd estimate is unreliable")
        r = cmp.loc[lab]
        ok = fits[labels.index(lab)].diagnostics().ok
        rows.append({"model": lab, "rank": int(r["rank"]), "elpd_loo": r["elpd"], "se": r["se"],
                     "elpd_diff": r["elpd_diff"], "dse": r["dse"], "p_loo": r["p"], "weight": r["weight"],
                     "Pareto k threshold": thr, "obs above it": nbad, "max Pareto k": float(np.max(k)),
                     "diagnostics": "ok" if ok else "FAILED"})
    table = pd.DataFrame(rows)
    best = table.iloc[0]["model"]
    sec = Section("compare", "Model comparison (PSIS-LOO)")
    sec.blocks.append(Block("p", text=(
        "Expected log predictive density of each fit by Pareto-smoothed importance-sampling leave-one-out "
        "(ArviZ az.loo / az.compare), on the scale of y, so fits with different likelihoods are comparable. "
        "elpd_diff is the difference to the best fit and dse its standard error: a difference within a few "
        "dse is not a clear preference, and a broken law cannot lose to the law it contains by much. "
        f"Ranked first: {best}. Rows whose fit failed its diagnostics or has Pareto k above the threshold "
        "are marked."
    )))
    sec.blocks.append(Block("table", table=table,
                            bad_rows=[r["diagnostics"] != "ok" or r["obs above it"] > 0 for _, r in table.iterrows()]))
    return sec
