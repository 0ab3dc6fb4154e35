"""Calibration of the break verdict of :func:`bayescale.compare` by simulation.

Simulates many small datasets (about 20 points over 3 decades, 2% log-normal noise):

* ``null``: a single power law with offset, ``y = E + A x^-alpha`` (random E, alpha, A);
* ``break c=.. f=..``: a 1-break BNSL with slope change ``c1`` in {0.25, 0.5, 1.0} and sharpness
  ``f1`` in {0.1, 0.3}, the break placed log-uniformly so that at least 4 points lie above it
  and 4 below, floor ``a ~ U(0.2, 1)``, initial slope ``c0 ~ U(0.1, 0.4)``, and the reducible part
  at the break ``q a`` with ``q ~ U(0.5, 3)`` (so that the break is visible above the floor);

runs ``compare(laws=[power_law_offset, bnsl1])`` on each at the package's defaults (leave-future-out on,
nutpie 4 x 1000 draws and 1000 tuning steps, the automatic remedies; each worker compiles each law once
and swaps the data in), and prints

* the false-break rate: P(verdict = "break supported") on ``null`` data (target <= 5%);
* the detection rate: P("break supported") on data with ``c1 >= 0.5`` (target >= 80%);

with Wilson 95% intervals, and a table per scenario.

Usage::

    python benchmarks/break_verdict.py --quick          # 4 datasets per scenario
    python benchmarks/break_verdict.py --n 30           # 30 per scenario (7 scenarios)
    python benchmarks/break_verdict.py --n 15 --n-null 100 --readme benchmarks/README.md
                                                        # 100 null datasets, 15 per break scenario,
                                                        # and write the results
    python benchmarks/break_verdict.py --fast           # the old settings: 2 x 500 draws, no LFO
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
import warnings

import numpy as np

from bayescale.evaluate.many import dask_map

X = np.logspace(2, 5, 20)
NOISE = 0.02
SCENARIOS = [("null", None, None)] + [(f"break c1={c} f1={f}", c, f) for c in (0.25, 0.5, 1.0) for f in (0.1, 0.3)]
#: the package's defaults (draws, tuning, chains, remedies come from bayescale.fit); --fast: the old 2 x 500 without LFO
SETTINGS = dict(sampler="nutpie")
FAST = dict(draws=500, tune=500, chains=2, sampler="nutpie", lfo=False)
START, END = "<!-- break_verdict:start -->", "<!-- break_verdict:end -->"


def simulate_case(scenario: int, rep: int):
    """One dataset: (DataFrame with x, y; true parameters)."""
    import bayescale as bs

    name, c1, f1 = SCENARIOS[scenario]
    rng = np.random.default_rng(10_000 * scenario + rep)
    if c1 is None:
        E, alpha, r = rng.uniform(0.5, 2.0), rng.uniform(0.2, 0.6), rng.uniform(0.5, 3.0)
        params = {"E": E, "alpha": alpha, "A": r * E * X[0] ** alpha}
        law = "power_law_offset"
    else:
        a, c0, q = rng.uniform(0.2, 1.0), rng.uniform(0.1, 0.4), rng.uniform(0.5, 3.0)
        # at least 4 scales on each side of the break
        d1 = 10 ** rng.uniform(np.log10(X[3]), np.log10(X[-5]))
        law_obj = bs.get_law("bnsl1")
        base = {"a": 0.0, "c0": c0, "c1": c1, "d1": d1, "f1": f1, "b": 1.0}
        at_break = float(law_obj.evaluate({"x": np.array([d1])}, base)[0])
        # the reducible part at the break is q times the floor a: a break far below the floor
        # changes y by less than the noise and is not "a break of size c1" in any observable sense
        params = {"a": a, "c0": c0, "c1": c1, "d1": d1, "f1": f1, "b": q * a / at_break}
        law = "bnsl1"
    df = bs.simulate(law=law, x=X, params=params, noise=NOISE, seed=10_000 * scenario + rep)
    return df, params


def run_case(args):
    scenario, rep, settings = args
    warnings.simplefilter("ignore")
    import bayescale as bs

    df, params = simulate_case(scenario, rep)
    t = time.time()
    try:
        c = bs.compare(df, laws=["power_law_offset", "bnsl1"], x="x", seed=rep, progress=False, **settings)
    except Exception as exc:  # a failed case is recorded, not hidden
        return {"scenario": scenario, "rep": rep, "verdict": "error", "error": f"{type(exc).__name__}: {exc}"}
    v = c.verdict
    return {"scenario": scenario, "rep": rep, "verdict": v.verdict, "reliable": v.reliable,
            "elpd_diff": v.elpd_diff, "dse": v.dse, "lfo_diff": v.lfo_diff, "lfo_se": v.lfo_se,
            "lfo_points": v.lfo_points, "decided_by": v.decided_by, "warnings": list(v.warnings),
            "k_max": max(r.pareto_k_max for r in c.loo.values()),
            "refits": sum(len(r.refits) for r in c.loo.values()),
            "unresolved": sum(len(r.unresolved) for r in c.loo.values()),
            "seconds": time.time() - t, "true_d1": params.get("d1")}


def wilson(k: int, n: int) -> tuple[float, float]:
    from scipy.stats import binomtest

    if n == 0:
        return float("nan"), float("nan")
    ci = binomtest(k, n).proportion_ci(confidence_level=0.95, method="wilson")
    return float(ci.low), float(ci.high)


def summarise(rows, n_per, wall: float | None, workers, fast=False) -> str:
    lines = []
    by = {i: [r for r in rows if r["scenario"] == i] for i in range(len(SCENARIOS))}
    null = by[0]
    fb = sum(r["verdict"] == "break supported" for r in null)
    det_rows = [r for i, rs in by.items() if SCENARIOS[i][1] is not None and SCENARIOS[i][1] >= 0.5 for r in rs]
    det = sum(r["verdict"] == "break supported" for r in det_rows)
    lo, hi = wilson(fb, len(null))
    dlo, dhi = wilson(det, len(det_rows))
    how = ("nutpie 500 draws + 500 tune x 2 chains, no leave-future-out" if fast else
           "the package's defaults (nutpie 4 x 1000 draws, 1000 tune, automatic remedies, leave-future-out)")
    n_null = len(null)
    secs = [r["seconds"] for r in rows if "seconds" in r]
    when = (f"wall time {wall / 60:.1f} min" if wall is not None else "aggregated from earlier runs' rows")
    lines.append(f"Datasets: {len(rows)} ({n_null} null, {n_per} per break scenario, {len(SCENARIOS) - 1} break "
                 f"scenarios), 20 points over 3 decades, 2% noise; {how}; {workers} workers; {when}; "
                 f"median {np.median(secs) if secs else float('nan'):.0f} s per comparison.")
    lines.append("")
    lines.append(f"- **False-break rate** (null data, verdict 'break supported'): {fb}/{len(null)} = "
                 f"{fb / max(1, len(null)):.1%} (Wilson 95% {lo:.1%} to {hi:.1%}); target <= 5%.")
    lines.append(f"- **Detection rate** (c1 >= 0.5, verdict 'break supported'): {det}/{len(det_rows)} = "
                 f"{det / max(1, len(det_rows)):.1%} (Wilson 95% {dlo:.1%} to {dhi:.1%}); target >= 80%.")
    done = [r for r in rows if r["verdict"] != "error"]
    rel = sum(bool(r.get("reliable")) for r in done)
    lines.append(f"- **Reliable verdicts** (no R-hat/ESS/refit warning): {rel}/{len(done)} = "
                 f"{rel / max(1, len(done)):.1%}; target >= 90%.")
    lines.append("")
    lines.append("| scenario | n | break supported | no break supported | inconclusive | errors | "
                 "not reliable | median elpd diff | median dse | median LFO diff | LFO decided | refits | "
                 "unresolved k |")
    lines.append("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for i, rs in by.items():
        ok = [r for r in rs if r["verdict"] != "error"]
        cnt = {v: sum(r["verdict"] == v for r in rs) for v in
               ("break supported", "no break supported", "inconclusive", "error")}
        nrel = sum(not r.get("reliable", True) for r in ok)
        md = np.median([r["elpd_diff"] for r in ok]) if ok else float("nan")
        ms = np.median([r["dse"] for r in ok]) if ok else float("nan")
        lf = [r["lfo_diff"] for r in ok if r.get("lfo_points")]
        mf = f"{np.median(lf):.1f}" if lf else "-"
        dec = sum(r.get("decided_by") == "leave-future-out" for r in ok)
        lines.append(f"| {SCENARIOS[i][0]} | {len(rs)} | {cnt['break supported']} | {cnt['no break supported']} | "
                     f"{cnt['inconclusive']} | {cnt['error']} | {nrel} | {md:.1f} | {ms:.1f} | {mf} | {dec} | "
                     f"{sum(r.get('refits', 0) for r in ok)} | {sum(r.get('unresolved', 0) for r in ok)} |")
    errs = [r for r in rows if r["verdict"] == "error"]
    if errs:
        lines.append("")
        lines.append(f"Errors ({len(errs)}), first: {errs[0]['error']}")
    return "\n".join(lines)


def write_readme(path: str, text: str, command: str) -> None:
    block = f"{START}\nCommand: `{command}`\n\n{text}\n{END}"
    old = open(path).read() if os.path.exists(path) else ""
    if START in old and END in old:
        new = re.sub(re.escape(START) + ".*?" + re.escape(END), lambda m: block, old, flags=re.S)
    else:
        new = old + ("\n" if old and not old.endswith("\n") else "") + block + "\n"
    with open(path, "w") as fh:
        fh.write(new)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="4 datasets per scenario")
    p.add_argument("--n", type=int, default=30, help="datasets per break scenario (default 30)")
    p.add_argument("--n-null", type=int, default=None, help="null datasets (default: --n)")
    p.add_argument("--fast", action="store_true", help="the old settings: 2 x 500 draws, no leave-future-out")
    p.add_argument("--workers", type=int, default=2, help="Dask worker processes (default 2)")
    p.add_argument("--readme", default=None, help="write the results between markers in this file")
    p.add_argument("--rows", default=None, help="append each dataset's row to this JSON-lines file as it finishes")
    p.add_argument("--cases", nargs="+", default=None, metavar="SCENARIO:REP",
                   help="only these datasets, e.g. 0:0 0:45 (scenario 0 is null; the same seeds as a full run)")
    p.add_argument("--aggregate", nargs="+", default=None, metavar="ROWS",
                   help="no sampling: the table from the --rows files of earlier runs")
    a = p.parse_args(argv)
    if a.aggregate:
        rows = [json.loads(ln) for f in a.aggregate for ln in open(f) if ln.strip()]
        n_per = max([sum(r["scenario"] == i for r in rows) for i in range(1, len(SCENARIOS))], default=0)
        return _report(summarise(rows, n_per, None, a.workers, fast=a.fast), a.readme, argv)
    n = 4 if a.quick else a.n
    n_null = n if a.n_null is None or a.quick else a.n_null
    settings = FAST if a.fast else SETTINGS
    cases = [(s, r, settings) for r in range(max(n, n_null)) for s in range(len(SCENARIOS))
             if r < (n_null if s == 0 else n)]
    if a.cases:
        try:
            cases = [(int(sc), int(r), settings) for sc, r in (c.split(":") for c in a.cases)]
        except ValueError:
            p.error("--cases takes SCENARIO:REP pairs of whole numbers, e.g. 0:0 2:3")
        if any(not 0 <= sc < len(SCENARIOS) or r < 0 for sc, r, _ in cases):
            p.error(f"--cases: scenarios are 0..{len(SCENARIOS) - 1} and replicates >= 0")
        n = max([sum(sc == i for sc, _, _ in cases) for i in range(1, len(SCENARIOS))], default=0)
    t0 = time.time()
    rows = []
    # the package's Dask path (a LocalCluster of --workers processes), as bayescale.fit_many uses
    for i, row in enumerate(dask_map(run_case, cases, n_workers=a.workers), start=1):
        rows.append(row)
        if a.rows:
            with open(a.rows, "a") as fh:
                fh.write(json.dumps(row) + "\n")
        print(f"[{i}/{len(cases)}] {SCENARIOS[row['scenario']][0]:<20} rep {row['rep']:>3}: {row['verdict']}"
              + (f" (elpd diff {row['elpd_diff']:.1f}, dse {row['dse']:.1f}, {row['seconds']:.1f}s)"
                 if "elpd_diff" in row else f" {row.get('error', '')}"), file=sys.stderr, flush=True)
    return _report(summarise(rows, n, time.time() - t0, a.workers, fast=a.fast), a.readme, argv)


def _report(text: str, readme: str | None, argv) -> int:
    """Print the table and, with --readme, write it there with the command that made it."""
    print(text)
    if readme:
        cmd = "python benchmarks/break_verdict.py " + " ".join(argv if argv is not None else sys.argv[1:])
        write_readme(readme, text, cmd.strip())
    return 0


if __name__ == "__main__":
    sys.exit(main())
