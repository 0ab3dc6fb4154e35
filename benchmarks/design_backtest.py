r"""Backtest of next-run design (``bayescale design``): does the run it picks shrink the target interval more
than a random pick or always the largest affordable run?

Curves: learning curves of ``revisiting_nsl`` (Alabdulmohsin et al. 2022, read through
``bayescale.data_dir()``) with at least ``--min-points`` points: for image classification the points of
the benchmark's ``fit`` split (log-binned averages; its raw ``extrapolate`` checkpoints scatter about 3
times more and are not used), for the other domains every point of the curve.  All of them by default
(``--min-points 40``: 70 curves, 58 image classification, 10 BIG-bench, 2 language models), or ``--curves``
of them thinned evenly in order of ``curve_id``.  Per curve, with ``u = log10 x``:

* **fitted**: the points with ``u <= u_min + 0.45 (u_max - u_min)`` (``--fit-fraction``), fitted with
  ``power_law_offset`` (2 chains x 1000 draws, 1000 tuning steps, seed 0, nutpie; with 300 draws most
  fits failed the ESS and R-hat checks);
* **target**: the curve's last point (its interval is what a new run should shrink);
* **candidates**: ``--candidates`` not-yet-used points between the fitted range and the target, the
  nearest to evenly spaced positions in ``u`` at fractions 0.1 .. 0.9 of the gap (distinct points).

``fit.design`` ranks the candidates (64 simulated outcomes each, PSIS reweighting, seed 0).  Then the
fitted law is refitted once per candidate with that candidate's **real** point added, and the realised
shrinkage is ``1 - width_after / width_before`` of the 90% interval of the law's expected value at the
target (``Fit.forecast``, including the extrapolation part at the horizon each fit has).  Strategies:

* **design**: the candidate ``design`` ranks first;
* **random**: the expected value over candidates (their mean);
* **largest**: the largest candidate (nearest the target);
* **oracle**: the candidate with the largest realised shrinkage (what no strategy can beat).

Three settings, all from the same refits:

* **unit cost**: every run costs the same (``cost="1"``): realised shrinkage of the pick;
* **per cost**: cost = x (``design``'s default for one-input laws), design ranks by expected reduction per unit
  cost; the metric is the realised shrinkage per unit relative cost, ``shrinkage / (x / x_largest)``;
* **budget**: only candidates costing at most the middle candidate's x are affordable; design picks the
  best expected reduction among them, "largest" the largest affordable; realised shrinkage.

Each setting is also run with the extrapolation part switched off (``discrepancy="off"`` for both the
design and the realised widths), where any shrinkage comes from the posterior (the part reweighting
predicts) and none from a shorter horizon.  Tables give, over curves, the median [quartiles] of each
strategy's metric, the share of curves where design does at least as well as random, as largest and as
the oracle (it picked the best candidate), how far the expected shrinkage is from the realised one, and
the median Spearman correlation between the expected and the realised reduction across a curve's
candidates.

Usage::

    python benchmarks/design_backtest.py            # 70 curves x 5 candidates
    python benchmarks/design_backtest.py --quick    # smoke test: 2 curves x 3 candidates, tiny draws
    python benchmarks/design_backtest.py --aggregate-only   # the table again from rows.jsonl

Rows are appended to ``--out``/rows.jsonl (default ``benchmarks/results/design_backtest/``) as curves
finish, and the table is written to ``table.md`` there.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

import bayescale as bs

HERE = Path(__file__).resolve().parent
LAW = "power_law_offset"
FIT_KW = dict(draws=1000, tune=1000, chains=2, cores=2, seed=0, progressbar=False)
QUICK_KW = dict(draws=100, tune=150, chains=2, cores=2, seed=0, progressbar=False)
PROB = 0.9


def load_curves(min_points: int, n_curves: int) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """Curves with at least ``min_points`` points (module docstring), thinned evenly to ``n_curves`` (by id)."""
    r = pd.read_csv(bs.data_dir() / "revisiting_nsl" / "revisiting_nsl_benchmark.csv")
    r = r[(r["split"] == "fit") | (r["domain"] != "IC")]  # IC: the log-binned fit split only
    out = []
    for cid, d in r.groupby("curve_id", sort=True):
        d = d.sort_values("seen_examples").drop_duplicates("seen_examples")
        if len(d) >= min_points:
            out.append((cid, d["seen_examples"].to_numpy(float), d["value"].to_numpy(float)))
    if 0 < n_curves < len(out):
        out = [out[i] for i in np.unique(np.linspace(0, len(out) - 1, n_curves).round().astype(int))]
    return out


def split(x: np.ndarray, fit_fraction: float, n_cand: int) -> tuple[np.ndarray, int, np.ndarray]:
    """Indices of the fitted points, of the target (the last point) and of the candidates (module docstring)."""
    u = np.log10(x)
    fitted = np.nonzero(u <= u[0] + fit_fraction * (u[-1] - u[0]))[0]
    gap = np.arange(fitted[-1] + 1, len(x) - 1)  # not yet used, short of the target
    want = u[fitted[-1]] + np.linspace(0.1, 0.9, n_cand) * (u[-1] - u[fitted[-1]])
    cand = sorted({int(gap[np.argmin(np.abs(u[gap] - w))]) for w in want})
    return fitted, len(x) - 1, np.array(cand)


def width(fit, target: float, discrepancy: str | None) -> float:
    t = fit.forecast(x=[target], prob=PROB, discrepancy=discrepancy).table()
    return float(t["upper"].iloc[0] - t["lower"].iloc[0])


def run_curve(cid: str, x: np.ndarray, y: np.ndarray, a, kw: dict) -> dict:
    fitted, ti, ci = split(x, a.fit_fraction, a.candidates)
    t0 = time.time()
    base = bs.fit(pd.DataFrame({"x": x[fitted], "y": y[fitted]}), law=LAW, x="x", y="y", **kw)
    xt, xc = float(x[ti]), x[ci]
    rec = {"curve": cid, "n_fit": int(len(fitted)), "x_fit_max": float(x[fitted[-1]]), "target": xt,
           "candidates": xc.tolist(), "base_ok": base.diagnostics().ok, "settings": {}}
    refits = []
    for i in ci:
        ds = bs.Dataset(inputs={"x": np.append(x[fitted], x[i])}, y=np.append(y[fitted], y[i]),
                        columns=base.data.columns, source=f"{cid} + point {i}")
        refits.append(bs.refit(base, ds, cores=kw["cores"]))
    rec["refits_ok"] = [r.diagnostics().ok for r in refits]
    for disc in ("default", "off"):
        f = replace(base, config=base.config.replace(discrepancy=disc))
        d_arg = None if disc == "default" else "off"
        w0 = width(base, xt, d_arg)
        realised = np.array([1 - width(r, xt, d_arg) / w0 for r in refits])
        unit = f.design(target=xt, candidates=xc, cost="1", prob=PROB, seed=0, outcomes=a.outcomes)
        per = f.design(target=xt, candidates=xc, prob=PROB, seed=0, outcomes=a.outcomes)
        expected = {r["candidate"]["x"]: r["reduction"] / unit.width for r in unit.rows}
        rec["settings"][disc] = {
            "width_before": w0, "realised": realised.tolist(),
            "expected": [expected[float(v)] for v in xc],
            "k_max": max(r["k_max"] for r in unit.rows),
            "high_k": int(sum(r["high_k"] for r in unit.rows)),
            "pick_unit": int(np.nonzero(xc == unit.best["candidate"]["x"])[0][0]),
            "pick_per_cost": int(np.nonzero(xc == per.best["candidate"]["x"])[0][0]),
        }
    rec["time_s"] = time.time() - t0
    return rec


def _q(v) -> str:
    v = np.asarray(v, dtype=float)
    v = v[np.isfinite(v)]
    if not v.size:
        return "–"
    q = np.quantile(v, [0.25, 0.5, 0.75])
    return f"{q[1]:.3f} [{q[0]:.3f}, {q[2]:.3f}]"


def metrics(rec: dict, disc: str) -> dict[str, dict[str, float]]:
    """Each strategy's metric in each setting for one curve."""
    s = rec["settings"][disc]
    real, exp_ = np.array(s["realised"]), np.array(s["expected"])
    xc = np.array(rec["candidates"])
    rel_cost = xc / xc.max()
    per = real / rel_cost
    n = len(xc)
    afford = np.nonzero(xc <= np.sort(xc)[(n - 1) // 2])[0]
    # design within the budget: the best expected reduction among the affordable candidates
    pick_b = afford[int(np.argmax(exp_[afford]))]
    out = {
        "unit cost": {"design": real[s["pick_unit"]], "random": real.mean(), "largest": real[-1], "oracle": real.max()},
        "per cost": {"design": per[s["pick_per_cost"]], "random": per.mean(), "largest": per[-1], "oracle": per.max()},
        "budget": {"design": real[pick_b], "random": real[afford].mean(), "largest": real[afford[-1]],
                   "oracle": real[afford].max()},
    }
    rho = stats.spearmanr(exp_, real).statistic if n > 2 and np.ptp(real) > 0 and np.ptp(exp_) > 0 else np.nan
    out["_rho"] = float(rho)
    return out


def table(rows: list[dict]) -> str:
    lines = []
    for disc, title in (("default", "with the extrapolation part (the package's default forecast)"),
                        ("off", "law only (discrepancy off: shrinkage from the posterior alone)")):
        m = [metrics(r, disc) for r in rows]
        lines += [f"\n**{title}**, {len(rows)} curves; realised shrinkage of the 90% interval of the expected value "
                  "at the target, median [quartiles] over curves\n",
                  "| setting | design | random | largest | oracle | design >= random | design >= largest | "
                  "design = oracle |",
                  "|---|---|---|---|---|---|---|---|"]
        for setting in ("unit cost", "per cost", "budget"):
            v = {k: np.array([mm[setting][k] for mm in m]) for k in ("design", "random", "largest", "oracle")}
            lines.append(f"| {setting} | {_q(v['design'])} | {_q(v['random'])} | {_q(v['largest'])} | "
                         f"{_q(v['oracle'])} | {np.mean(v['design'] >= v['random'] - 1e-12):.2f} | "
                         f"{np.mean(v['design'] >= v['largest'] - 1e-12):.2f} | "
                         f"{np.mean(v['design'] >= v['oracle'] - 1e-12):.2f} |")
        rho = np.array([mm["_rho"] for mm in m])
        gap = np.concatenate([np.array(r["settings"][disc]["expected"]) - np.array(r["settings"][disc]["realised"])
                              for r in rows])
        lines.append(f"\nExpected minus realised shrinkage, over all {gap.size} candidates: median {np.median(gap):+.3f} "
                     f"(quartiles {np.quantile(gap, 0.25):+.3f}, {np.quantile(gap, 0.75):+.3f}).")
        picks = [r["settings"][disc] for r in rows]
        lines.append(f"Spearman correlation of expected and realised shrinkage across a curve's candidates: median "
                     f"{np.nanmedian(rho):.2f} (quartiles {np.nanquantile(rho, 0.25):.2f}, "
                     f"{np.nanquantile(rho, 0.75):.2f}; {int(np.isfinite(rho).sum())} curves).  Design picked the "
                     f"largest candidate (unit cost) on {np.mean([p['pick_unit'] == len(r['candidates']) - 1 for p, r in zip(picks, rows)]):.2f} "
                     f"of curves; simulated outcomes with Pareto k > 0.7: {sum(p['high_k'] for p in picks)} of "
                     f"{sum(len(r['candidates']) for r in rows) * rows[0].get('outcomes', 64)}.")
    ok = sum(r["base_ok"] and all(r["refits_ok"]) for r in rows)
    lines.append(f"\nFits passing diagnostics (base and every refit): {ok} of {len(rows)} curves; "
                 f"time per curve {np.median([r['time_s'] for r in rows]):.0f} s (median).")
    return "\n".join(lines)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="smoke test: 2 curves, 3 candidates, tiny draws")
    p.add_argument("--curves", type=int, default=0, help="number of curves, thinned evenly (default 0: all)")
    p.add_argument("--min-points", type=int, default=40, help="points a curve needs (default 40)")
    p.add_argument("--candidates", type=int, default=5, help="candidates per curve (default 5)")
    p.add_argument("--fit-fraction", type=float, default=0.45, help="share of the log-x range fitted (0.45)")
    p.add_argument("--outcomes", type=int, default=64, help="simulated outcomes per candidate (default 64)")
    p.add_argument("--out", type=Path, default=HERE / "results" / "design_backtest", help="output folder")
    p.add_argument("--aggregate-only", action="store_true", help="rebuild the table from OUT/rows.jsonl")
    a = p.parse_args(argv)
    if a.aggregate_only:
        rows = [json.loads(line) for line in (a.out / "rows.jsonl").read_text().splitlines() if line.strip()]
        out = f"Design backtest: {len(rows)} curves of revisiting_nsl, law {LAW} (rebuilt from rows.jsonl)\n" + table(rows)
        (a.out / "table.md").write_text(out + "\n")
        print(out)
        return 0
    kw = dict(FIT_KW)
    if a.quick:
        a.curves, a.candidates, a.outcomes, kw = 2, 3, 16, dict(QUICK_KW)
    warnings.simplefilter("ignore")
    curves = load_curves(a.min_points, a.curves)
    a.out.mkdir(parents=True, exist_ok=True)
    rows_file = a.out / "rows.jsonl"
    rows_file.write_text("")
    rows = []
    t0 = time.time()
    for n, (cid, x, y) in enumerate(curves, 1):
        rec = run_curve(cid, x, y, a, kw)
        rec["outcomes"] = a.outcomes
        rows.append(rec)
        with rows_file.open("a") as fh:
            fh.write(json.dumps(rec) + "\n")
        print(f"[{n}/{len(curves)}] {cid}: {rec['time_s']:.0f} s", file=sys.stderr, flush=True)
    out = (f"Design backtest: {len(rows)} curves of revisiting_nsl, law {LAW}, {a.candidates} candidates each, "
           f"{a.outcomes} simulated outcomes per candidate; {time.time() - t0:.0f} s in all\n" + table(rows))
    (a.out / "table.md").write_text(out + "\n")
    print(out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
