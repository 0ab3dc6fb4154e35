"""Plain-text and JSON views of results for the command line (no argparse here)."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..evaluate.verdict import C_NEAR_ZERO
from ..spec.discrepancy import autocorrelation_factor

__all__ = ["fit_report", "print_fit", "print_diagnostics", "print_forecast", "print_allocation", "print_reach", "print_comparison", "print_groups", "print_influential", "print_breaks_not_identified", "fmt", "fmt_nan", "fmt_general"]


def fmt(v: float) -> str:
    return f"{v:.4g}"


def fit_report(fit, forecast=None, *, prob: float = 0.9) -> dict[str, Any]:
    """The JSON object of ``bayescale fit --json`` (:meth:`bayescale.Fit.to_dict`)."""
    return fit.to_dict(forecast=forecast, prob=prob)


def _ci_cols(s) -> tuple[str, str]:
    cols = [c for c in s.columns if c.startswith(("eti", "hdi"))]
    return cols[0], cols[1]


def print_fit(fit, forecast=None, *, prob: float = 0.9) -> None:
    """The readable tables of ``bayescale fit``: parameters with ``prob`` intervals, diagnostics, forecasts."""
    s = fit.summary(prob=prob)
    pct = f"{prob * 100:g}%"
    diag = s.attrs["diagnostics"]
    lo, hi = _ci_cols(s)
    print(f"law: {fit.law.name}    likelihood: {fit.settings['likelihood']}    "
          f"sampler: {fit.settings['sampler_ran']}    observations: {fit.data.n}")
    print(f"data: {fit.data.source}")
    if fit.settings.get("remedy"):
        print(f"remedy applied: {fit.settings['remedy']}")
    print(f"\n{'parameter':<10} {'median':>11} {pct + ' lower':>11} {pct + ' upper':>11} {'r_hat':>7} {'ess_bulk':>9}")
    for name, r in s.iterrows():
        print(f"{name:<10} {fmt(r['median']):>11} {fmt(r[lo]):>11} {fmt(r[hi]):>11} "
              f"{r['r_hat']:>7.3f} {r['ess_bulk']:>9.0f}")
    for name, v in s.attrs.get("fixed", {}).items():
        print(f"{name:<10} {fmt(v):>11} (fixed)")
    print(f"\ndivergences: {diag.divergences}    max r_hat: {diag.max_rhat:.3f}    "
          f"min ess bulk/tail: {diag.min_ess_bulk:.0f}/{diag.min_ess_tail:.0f}")
    print_breaks_not_identified(fit)
    print_diagnostics(diag)
    print_influential(fit.influential)
    if forecast is not None:
        print_forecast(forecast)


def print_breaks_not_identified(fit) -> None:
    """Say so when a break's position and sharpness are at their priors (no break in the data)."""
    gone = fit.unidentified_breaks
    left = len(fit.law.break_positions) - len(gone)
    # a 3-break law with one break the data do not show is a 2-break law, not the unbroken one
    simpler = "power_law_offset" if left == 0 else f"bnsl{left}" if fit.law.name.startswith("bnsl") else None
    reduces = "the unbroken law" if left == 0 else f"a law with {left} break{'s' if left > 1 else ''}"
    for b in gone:
        print(f"break {b['break']} is not identified: its position {b['position']} and sharpness {b['sharpness']} "
              f"are as uncertain as their priors (sd ratios {b['position_sd_ratio']:.2f}, "
              f"{b['sharpness_sd_ratio']:.2f}), so the data show no break there and {fit.law.name} reduces to "
              f"{reduces}; its R-hat and ESS for these parameters measure the prior, not the data."
              + (f" Compare with {simpler}: bayescale compare DATA --laws {simpler},{fit.law.name}" if simpler else ""))


def print_influential(rows, lead: str = "") -> None:
    """Name the observations the answer hinges on (Pareto k > 0.7), with the remedy."""
    if not rows:
        return
    shown = "; ".join(f"{r['row']} (" + ", ".join(f"{k}={fmt(v)}" for k, v in r.items()
                                                   if k not in ("obs", "row", "pareto_k")) + f"; k={r['pareto_k']:.2f})"
                      for r in rows[:5])
    more = f" and {len(rows) - 5} more" if len(rows) > 5 else ""
    print(f"{lead}WARNING: the answer hinges on {len(rows)} observation(s) (PSIS-LOO Pareto k > 0.7): {shown}{more}. "
          "Check those runs, or refit with --likelihood studentt (robust to outlying runs) and compare.")


def print_diagnostics(diag, lead: str = "") -> None:
    """Print the verdict of :class:`bayescale.fit.Diagnostics` and each failed check."""
    if diag.ok:
        print(f"{lead}diagnostics: ok")
    else:
        print(f"{lead}diagnostics: NOT OK - do not rely on these numbers:")
        for p in diag.problems:
            print(f"  - {p}")


def print_forecast(fc) -> None:
    """The forecast table: intervals of the expected value and of a new observation, how far each target lies
    beyond the data, and the sd of log y from parameters, noise and extrapolation."""
    t = fc.table()
    pct = f"{fc.prob * 100:g}%"
    names = list(fc.inputs)
    parts = "horizon" in t and "sd_parameters" in t
    print(f"\nforecast ({pct} intervals; 'law' = expected value, 'new obs' = a new observation)")
    head = " ".join(f"{n:>11}" for n in names)
    tail = f" {'decades out':>11} {'sd param':>9} {'sd noise':>9} {'sd extrap':>9}" if parts else ""
    print(f"{head} {'law median':>11} {'law lower':>11} {'law upper':>11} {'obs lower':>11} {'obs upper':>11}{tail}")
    for _, r in t.iterrows():
        xs = " ".join(f"{fmt(r[n]):>11}" for n in names)
        extra = (f" {r['horizon']:>11.2f} {r['sd_parameters']:>9.4f} {r['sd_noise']:>9.4f} {r['sd_extrapolation']:>9.4f}"
                 if parts else "")
        print(f"{xs} {fmt(r['median']):>11} {fmt(r['lower']):>11} {fmt(r['upper']):>11} "
              f"{fmt(r['obs_lower']):>11} {fmt(r['obs_upper']):>11}{extra}")
    if parts:
        scale = {"log": "log y", "logit": "logit y"}.get(getattr(fc, "scale", "log"), "y")
        along = "".join(f" or of {a}" for a in getattr(fc, "along", ()))
        print(f"(sd of {scale} by source; 'decades out' = beyond the largest fitted value of an input{along}; no break "
              "beyond the data is modelled unless a break prior allows it)")
        disc = getattr(fc, "discrepancy", None)
        if disc is not None and disc.autocorrelation:
            print(f"(beyond the data the law's own sd is widened {autocorrelation_factor(disc.rho):.2f}x: its residuals "
                  f"drift together along the data, lag-1 autocorrelation {disc.rho:.2f})")
    if not fc.reliable:
        print("WARNING: the fit's diagnostics failed; these intervals are not reliable.")


def fmt_nan(v: float) -> str:
    v = float(v)
    if np.isnan(v):
        return "n/a"
    return "inf" if np.isinf(v) else f"{v:.4g}"


def print_allocation(fit, alloc) -> None:
    diag = fit.diagnostics()
    pct = f"{alloc.prob * 100:g}%"
    print(f"law: {fit.law.name}    likelihood: {fit.settings.get('likelihood')}    method: {alloc.method}    "
          f"C = {alloc.flops_per_token_param:g} N D")
    print(f"compute-optimal allocation (median [{pct} interval])")
    t = alloc.table()
    for _, r in t.iterrows():
        print(f"\nC = {r['compute']:.3g} FLOPs")
        for name, label in (("N_opt", "N* (params)"), ("D_opt", "D* (tokens)"),
                            ("tokens_per_param", "D*/N*"), ("loss_opt", "loss at optimum")):
            print(f"  {label:<16} {fmt_nan(r[name + '_median']):>11}  [{fmt_nan(r[name + '_lower'])}, "
                  f"{fmt_nan(r[name + '_upper'])}]")
        if r["edge_fraction"] > 0:
            print(f"  WARNING: {r['edge_fraction']:.1%} of draws have no interior optimum at this budget")
    print_diagnostics(diag, lead="\n")


def print_reach(r) -> None:
    """The inverse forecast of ``bayescale forecast --reach`` (:class:`bayescale.inference.reach.Reach`)."""
    pct = f"{r.prob * 100:g}%"
    if r.along == "input":
        path = f"as {r.scale} grows"
    else:
        path = (f"at D = {r.tokens_per_param:g} N" if r.along == "tokens_per_param" else
                "along the compute-optimal frontier") + f", C = {r.flops_per_token_param:g} N D"
    print(f"\nreach: the law's expected value gets {'up' if r.increasing else 'down'} to {fmt(r.target)} {path} "
          f"(direction {r.direction}; median [{pct} interval] over all {r.draws.size} draws)")
    for name, row in r.table().iterrows():
        print(f"  {name:<8} {fmt_nan(row['median']):>11}  [{fmt_nan(row['lower'])}, {fmt_nan(row['upper'])}]")
    print(f"  draws that never reach it up to {r.scale} = {r.bracket[1]:.3g}: {r.never_fraction:.1%} "
          "(counted as beyond that, so a bound may be inf)")
    if r.never_fraction == 1:
        print("  no draw reaches it: the target may lie beyond the law's limit (e.g. below its irreducible loss)")
    if r.at_start_fraction > 0:
        print(f"  draws already there at {r.scale} = {r.bracket[0]:.3g}: {r.at_start_fraction:.1%}")
    if np.isfinite(r.median):
        extra = ("the law alone (no extrapolation discrepancy)" if r.discrepancy.off else
                 f"the law with its extrapolation discrepancy ({r.discrepancy.name}), as the forward forecast")
        print(f"  the median lies {r.horizon:.2f} decades beyond the largest fitted {r.scale}; {extra} "
              "(no run-to-run noise)")
    for x, p in zip(r.by, r.by_prob):
        print(f"  P(reached by {r.scale} = {x:.4g}) = {p:.3f}")
    if not r.reliable:
        print("WARNING: the fit's diagnostics failed; this is not reliable.")


def _k(v: float) -> str:
    return "n/a" if not np.isfinite(v) else f"{v:.2f}"


def print_comparison(c) -> None:
    """The tables of ``bayescale compare``: PSIS-LOO ranking, leave-future-out, recommendation, break verdict.

    Each law's row has two checks, as in the JSON (:meth:`bayescale.evaluate.results.Comparison.to_dict`):
    ``fit`` (sampling diagnostics; ``fit_ok``) and ``loo`` (no high Pareto k left, every exact refit
    passed; ``loo_ok``); ``k_max`` is the largest Pareto k after the exact refits.  Every problem
    (:attr:`~bayescale.evaluate.results.Comparison.warnings`) follows as a ``WARNING`` line.
    """
    n = next(iter(c.fits.values())).data.n
    print(f"PSIS-LOO comparison ({n} observations; elpd on the y scale; se and dse are standard errors, "
          "no intervals)")
    print(f"{'law':<18} {'rank':>4} {'elpd':>9} {'se':>7} {'p_loo':>7} {'diff':>8} {'dse':>7} "
          f"{'weight':>7} {'k_max':>6} {'refits':>7} {'fit':>5} {'loo':>5}")
    for name, r in c.table.iterrows():
        lo = c.loo[name]
        st = c.status(name)
        print(f"{name:<18} {int(r['rank']):>4} {r['elpd']:>9.2f} {r['se']:>7.2f} {r['p']:>7.2f} "
              f"{r['elpd_diff']:>8.2f} {r['dse']:>7.2f} {r['weight']:>7.3f} {_k(lo.pareto_k_max):>6} "
              f"{len(lo.refits):>7} {'ok' if st['fit_ok'] else 'FAIL':>5} {'ok' if st['loo_ok'] else 'FAIL':>5}")
    print("  k_max: largest Pareto k after the exact refits; fit: sampling diagnostics; loo: no high Pareto k "
          "left and every exact refit passed")
    for name, lo in c.loo.items():
        print(f"  {name}: {lo.method}" + (f"; refitted points {list(lo.refits)} (k_max before the "
                                          f"refits {_k(lo.pareto_k_max_psis)})" if lo.refits else ""))
    for w in c.warnings:
        print(f"  WARNING {w}")
    if c.lfo:
        r0 = next(iter(c.lfo.values()))
        print(f"\nleave-future-out (fit on {r0.n_train} points, score the {r0.n_test} at the largest scales; "
              "no intervals)")
        print(f"{'law':<18} {'mean lpd':>9} {'rmsle':>8} {'fit':>5}")
        for name, r in sorted(c.lfo.items(), key=lambda kv: -np.nan_to_num(kv[1].mean_lpd, nan=-np.inf)):
            print(f"{name:<18} {r.mean_lpd:>9.3f} {r.rmsle:>8.4f} {'ok' if r.ok else 'FAIL':>5}"
                  + (f"  ({'; '.join(r.problems)})" if r.problems else ""))
    print(f"recommended single law: {c.recommended}  (by {c.recommended_by}); to forecast, prefer the stacked "
          f"mixture (--target or --target-input)")
    v = c.verdict
    if v is None:
        print("\nbreak verdict: not applicable (compare a broken law, e.g. bnsl1, with power_law_offset)")
        return
    pct = f"{v.prob * 100:g}%"
    lfo = f"; leave-future-out diff {v.lfo_diff:.2f}, se {v.lfo_se:.2f}" if v.lfo_points else ""
    print(f"\nbreak verdict: {v.verdict.upper()}  ({v.broken_law} vs {v.baseline}: elpd diff {v.elpd_diff:.2f}, "
          f"se {v.dse:.2f}{lfo}; {pct} equal-tailed intervals)")
    for b in v.breaks:
        print(f"  break {b['index']}: c{b['index']} median {b['c_median']:.3g}, {pct} interval "
              f"[{b['c_lower']:.3g}, {b['c_upper']:.3g}], P(|c|<{C_NEAR_ZERO:g}) {b['p_abs_c_below']:.2f}; "
              f"d{b['index']} median {b['d_median']:.4g}, {pct} interval [{b['d_lower']:.4g}, {b['d_upper']:.4g}] "
              f"({'inside' if b['d_inside'] else 'NOT inside'} [{v.x_range[0]:.4g}, {v.x_range[1]:.4g}])")
    for r in v.reasons:
        print(f"  - {r}")
    if not v.reliable:
        print("  WARNING: diagnostics failed, so this verdict is NOT reliable; rerun with more draws:")
        for w in v.warnings:
            print(f"    * {w}")


def fmt_general(v: Any) -> str:
    try:
        v = float(v)
    except (TypeError, ValueError):
        return str(v)
    if not np.isfinite(v):
        return str(v)
    return f"{v:.4g}"


def print_groups(table, *, prob: float = 0.9) -> None:
    """One line per group of a grouped fit: status, diagnostics, and each parameter's median."""
    pct = f"{prob * 100:g}%"
    params = [c[: -len("_median")] for c in table.columns if c.endswith("_median") and not c.startswith("forecast")]
    print(f"{len(table)} group(s): {int((table['status'] == 'ok').sum())} ok, "
          f"{int((table['status'] == 'unreliable').sum())} failed diagnostics, "
          f"{int((table['status'] == 'failed').sum())} failed")
    head = f"{'group':<24} {'status':<11} " + " ".join(f"{p:>11}" for p in params)
    fc = [c for c in table.columns if c.startswith("forecast") and c.endswith("_median")]
    head += "".join(f" {c.split('_')[0] + ' median':>17} {pct + ' obs interval':>23}" for c in fc)
    print(head)
    for _, r in table.iterrows():
        line = f"{str(r['group'])[:24]:<24} {r['status']:<11} "
        if r["status"] == "failed":
            print(line + f"{r['reason']}")
            continue
        line += " ".join(f"{fmt(r[p + '_median']):>11}" for p in params)
        for c in fc:
            k = c[: -len("_median")]
            line += f" {fmt(r[c]):>17} [{fmt(r[k + '_obs_lower'])}, {fmt(r[k + '_obs_upper'])}]".ljust(24)
        print(line)
