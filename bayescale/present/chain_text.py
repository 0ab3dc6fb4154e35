"""The plain-text and JSON views of a chained forecast (:class:`bayescale.inference.chain.Chained`)."""

from __future__ import annotations

from typing import Any

from .text import fmt, print_diagnostics

__all__ = ["chain_report", "print_chain"]


def _stage(fit) -> dict[str, Any]:
    return {"law": fit.law.name, "likelihood": fit.settings["likelihood"], "data": fit.data.source,
            "n_obs": fit.data.n, "x": [fit.data.columns.get(k, k) for k in fit.law.inputs],
            "y": fit.data.columns.get("y", "y"), "diagnostics": fit.diagnostics().to_dict()}


def chain_report(first, second, c) -> dict[str, Any]:
    """The JSON object of ``bayescale forecast FIRST --then SECOND --json``: both stages (law, data,
    diagnostics), the chain's settings and one record per target (``forecasts``)."""
    d = c.to_dict()
    d["columns_match"] = c.loss_name == c.second_input
    recs = d.pop("forecasts")
    return {"first": _stage(first), "second": _stage(second), "chain": d, "ok": c.reliable, "forecasts": recs}


def print_chain(first, second, c) -> None:
    """The table of a chained forecast: the loss at each target, the metric through it, and the parts."""
    pct = f"{c.prob * 100:g}%"
    for name, f in (("stage 1", first), ("stage 2", second)):
        xs = ", ".join(f.data.columns.get(k, k) for k in f.law.inputs)
        print(f"{name}: {f.law.name} ({f.settings['likelihood']})  {xs} -> {f.data.columns.get('y', 'y')}  "
              f"[{f.data.n} observations, {f.data.source}]")
        print_diagnostics(f.diagnostics(), lead="  ")
    if c.loss_name != c.second_input:
        print(f"note: stage 1 forecasts '{c.loss_name}' and stage 2 was fitted on '{c.second_input}': the chain assumes "
              "they are the same quantity")
    lo, hi = c.loss_range
    print(f"\nchained forecast ({pct} intervals; stage 2 fitted on {c.second_input} in [{fmt(lo)}, {fmt(hi)}]; "
          f"draws paired by a {c.pairing})")
    names = list(c.forecast.inputs)
    head = " ".join(f"{n:>11}" for n in names)
    print(f"{head} {'loss median':>11} {'loss lower':>11} {'loss upper':>11} {'median':>9} {'lower':>9} "
          f"{'upper':>9} {'obs lower':>9} {'obs upper':>9} {'dec out':>7} {'loss out':>8} {'sd stage1':>9} "
          f"{'sd param2':>9} {'sd extrap2':>10} {'sd noise':>9}")
    for _, r in c.table().iterrows():
        xs = " ".join(f"{fmt(r[n]):>11}" for n in names)
        print(f"{xs} {fmt(r['loss_median']):>11} {fmt(r['loss_lower']):>11} {fmt(r['loss_upper']):>11} "
              f"{fmt(r['median']):>9} {fmt(r['lower']):>9} {fmt(r['upper']):>9} {fmt(r['obs_lower']):>9} "
              f"{fmt(r['obs_upper']):>9} {r['horizon']:>7.2f} {r['horizon_loss']:>8.3f} {r['sd_stage1']:>9.4f} "
              f"{r['sd_stage2_parameters']:>9.4f} {r['sd_stage2_extrapolation']:>10.4f} {r['sd_noise']:>9.4f}")
    print("('median/lower/upper': the metric's expected value; 'obs': a new run; 'dec out': decades beyond stage "
          "1's data; 'loss out': decades of the median loss outside stage 2's fitted losses, either side; sds of "
          + {"log": "log y", "logit": "logit y"}.get(c.forecast.scale, "y") + " by source)")
    if not c.reliable:
        print("WARNING: a stage's diagnostics failed; these intervals are not reliable.")
