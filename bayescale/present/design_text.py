"""The plain-text view of ``bayescale design`` (:class:`bayescale.inference.design.Design`)."""

from __future__ import annotations

from .text import fmt, print_diagnostics

__all__ = ["print_design"]


def _point(p) -> str:
    return ", ".join(f"{k}={fmt(v)}" for k, v in p.items())


def print_design(fit, d) -> None:
    """The ranked table of candidate runs, with the widths now, the settings and every flag."""
    pct = f"{d.prob * 100:g}%"
    names = list(d.target)
    print(f"law: {d.law}    target: {_point(d.target)}    {d.horizon:.2f} decades beyond the data")
    print(f"{pct} interval width now: {fmt(d.width)} (law's expected value), {fmt(d.width_observation)} "
          "(a new observation)")
    print(f"each candidate: {d.outcomes} results simulated from the posterior predictive (seed {d.seed}), the "
          "posterior reweighted by PSIS; extrapolation part recomputed with the candidate in the fitted range")
    print(f"cost = {d.cost}; ranked by expected reduction of the law's {pct} width per unit cost\n")
    head = " ".join(f"{n:>10}" for n in names)
    print(f"{'rank':>4} {head} {'cost':>10} {'decades':>7} {'width':>10} {'reduction':>10} {'+-se':>9} "
          f"{'%':>6} {'from h':>8} {'per cost':>10} {'obs red.':>10} {'k max':>6} {'k>0.7':>6} {'ess min':>7}")
    for r in d.rows:
        xs = " ".join(f"{fmt(r['candidate'][n]):>10}" for n in names)
        high = f"{r['high_k']}/{d.outcomes}" + ("*" if r["refits"] else "")
        print(f"{r['rank']:>4} {xs} {fmt(r['cost']):>10} {r['horizon']:>7.2f} {fmt(r['width']):>10} "
              f"{fmt(r['reduction']):>10} {fmt(r['reduction_se']):>9} {100 * r['relative']:>6.1f} "
              f"{fmt(r['from_horizon']):>8} {r['per_cost']:>10.3g} {fmt(r['obs_reduction']):>10} "
              f"{r['k_max']:>6.2f} {high:>6} {r['ess_min']:>7.0f}")
    print("(decades: the target's distance beyond the data after the run; width: mean width after; reduction: "
          "expected, +-se its Monte Carlo error over outcomes; from h: the part from the shorter extrapolation "
          "alone; obs red.: reduction of a new observation's interval; k, ess: of the importance weights)")
    flagged = [r for r in d.rows if r["high_k"] > r["refits"]]
    if flagged:
        print(f"WARNING: Pareto k > 0.7 for some simulated outcomes of {len(flagged)} candidate(s) (column k>0.7): "
              "the reweighted draws poorly stand in for a refit there; rerun with --refit (exact refits of those "
              "outcomes) or a fit with more draws")
    if any(r["refits"] for r in d.rows):
        print("(*: those outcomes were refitted exactly)")
    if not d.reliable:
        print_diagnostics(fit.diagnostics(), lead="\n")
