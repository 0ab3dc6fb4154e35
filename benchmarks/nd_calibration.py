"""Calibration of N-D forecasts (``chinchilla``, L = E + A/N^alpha + B/D^beta) on IsoFLOP and overtraining data.

Each data set is split as its SOURCE.md suggests (fit the smaller runs, forecast the larger ones), fitted
once with ``bs.fit`` at the package's defaults, and every held-out run is scored three ways from that one fit:

* **before**: ``fit.forecast(..., discrepancy="off")`` (parameter and noise uncertainty only);
* **after**: ``fit.forecast(...)`` at the default, the extrapolation uncertainty of
  :mod:`bayescale.spec.discrepancy`.  Its values were learned on 1-D curves only (revisiting_nsl,
  double_descent, nanogpt_embd): none of these data sets was used, so every figure here is out of sample.
* **autocorrelation**: the fit's own residual autocorrelation widens the forecast beyond the data
  (``{"s0": 0, "kappa": 0, "form": "relative", "autocorrelation": True}``): nothing learned from a corpus.

Splits:

* ``epoch_chinchilla``: fit C = 6ND <= 1e21 FLOPs, forecast the larger runs;
* ``gadre_overtraining``: per training corpus and evaluation set (24 curves), fit N <= 411M, forecast
  the 1.4B and 6.9B models;
* ``porian_isoflops``: per configuration (15), fit the IsoFLOP budgets C <= 1.6e18, forecast the larger;
* ``muennighoff_data_constrained``: fit runs of at most 4 epochs, forecast the more repeated runs (D
  counts repeated tokens: the Chinchilla law does not model repetition, so this is a test of what the
  intervals do when the law is wrong).

Printed per data set: coverage of the 50/80/90/95% intervals of a new observation, MSCE (mean of
(observed - nominal)^2 over levels 0.50..0.99), mean held-out lpd (per curve, then averaged; y scale),
RMSLE of the median, and the share of fits whose diagnostics passed.  ``--quick``: two gadre curves,
small draws (a smoke test).

Usage: ``python benchmarks/nd_calibration.py [--data epoch gadre porian muennighoff] [--quick]
[--likelihood studentt]``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any, Iterator, Sequence

import numpy as np
import pandas as pd
from scipy.special import logsumexp

import bayescale as bs

sys.path.insert(0, str(Path(__file__).resolve().parent))
from calibration import LEVELS, SHOW, coverage  # noqa: E402  (the same levels and coverage as the 1-D benchmark)

PORIAN_KEYS = ["dataset", "hparams", "warmup", "decay", "param_count", "loss_source"]


#: widen each forecast by the fit's own residual autocorrelation only (nothing learned from a corpus)
AUTOCORRELATION = {"s0": 0.0, "kappa": 0.0, "form": "relative", "autocorrelation": True, "name": "autocorrelation"}


def splits(names: Sequence[str], quick: bool) -> Iterator[tuple[str, str, str, pd.DataFrame, pd.DataFrame]]:
    """(data set, curve, law, fit rows, held-out rows) with columns N, D, y (and U for repeated data)."""
    root = bs.data_dir()
    if "epoch" in names:
        d = pd.read_csv(root / "epoch_chinchilla" / "chinchilla_fig4_points.csv")
        d = d.rename(columns={"params": "N", "tokens": "D", "loss": "y"})
        c = 6 * d["N"] * d["D"]
        yield "epoch_chinchilla", "C<=1e21", "chinchilla", d[c <= 1e21], d[c > 1e21]
    if "gadre" in names:
        d = pd.read_csv(root / "gadre_overtraining" / "losses.csv").rename(
            columns={"params": "N", "tokens": "D", "loss": "y"})
        groups = list(d.groupby(["train_dataset", "eval_set"], sort=True))
        for (corpus, ev), g in (groups[:2] if quick else groups):
            yield "gadre_overtraining", f"{corpus}|{ev}", "chinchilla", g[g["N"] <= 411_616_256], g[g["N"] > 411_616_256]
    if "porian" in names:
        d = pd.read_csv(root / "porian_isoflops" / "isoflop_points.csv").rename(
            columns={"params": "N", "tokens": "D", "loss": "y"})
        for key, g in d.groupby(PORIAN_KEYS, sort=True):
            yield "porian_isoflops", "|".join(map(str, key)), "chinchilla", g[g["flops"] <= 1.6e18], g[g["flops"] > 1.6e18]
    if "muennighoff" in names:
        d = pd.read_csv(root / "muennighoff_data_constrained" / "c4_final_val_loss.csv").rename(
            columns={"params": "N", "tokens": "D", "unique_tokens": "U", "val_loss": "y"})
        for law in ("chinchilla", "data_constrained"):  # the wrong law (no repetition), then the right one
            name = "muennighoff_data_constrained" + ("" if law == "chinchilla" else f" [{law}]")
            yield name, "epochs<=4", law, d[d["epochs"] <= 4], d[d["epochs"] > 4]


def score(fit, test: pd.DataFrame, discrepancy: Any, seed: int) -> pd.DataFrame:
    """Per held-out run: PIT of y under the new-observation draws, lpd, log error of the median."""
    x = {k: test[k].to_numpy(float) for k in fit.law.inputs}
    fc = fit.forecast(x=x, discrepancy=discrepancy, seed=seed)
    y = test["y"].to_numpy(float)
    obs, exp_ = fc.observed, fc.expected
    pit = np.mean(obs <= y[None, :], axis=0)
    noise = {k: v[:, None] for k, v in fit.draws(fit.likelihood.noise_names).items()}
    ll = fit.likelihood.logpdf(y[None, :], exp_, noise)
    lpd = logsumexp(ll, axis=0) - np.log(ll.shape[0])
    return pd.DataFrame({"pit": pit, "lpd": lpd, "log_err": np.log(np.median(exp_, axis=0)) - np.log(y),
                         "horizon": fc.horizon})


def summarise(points: pd.DataFrame) -> pd.DataFrame:
    rows = []
    for (ds, when), d in points.groupby(["dataset", "when"], sort=False):
        cov = {lv: coverage(d["pit"].to_numpy(), lv) for lv in LEVELS}
        per_curve = d.groupby("curve")
        rows.append({"dataset": ds, "when": when, "curves": per_curve.ngroups, "points": len(d),
                     **{f"cov{int(lv * 100)}": cov[lv] for lv in SHOW},
                     "msce": float(np.mean([(cov[lv] - lv) ** 2 for lv in LEVELS])),
                     "lpd": float(per_curve["lpd"].mean().mean()),
                     "rmsle": float(per_curve["log_err"].apply(lambda e: np.sqrt(np.mean(e ** 2))).mean()),
                     "fits_ok": float(per_curve["ok"].first().mean())})
    return pd.DataFrame(rows)


def markdown(table: pd.DataFrame) -> str:
    cols = list(table.columns)
    cell = lambda v: f"{v:.3f}" if isinstance(v, float) else str(v)  # noqa: E731
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in table.itertuples(index=False)]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", nargs="+", default=["epoch", "gadre", "porian", "muennighoff"],
                   choices=["epoch", "gadre", "porian", "muennighoff"])
    p.add_argument("--quick", action="store_true", help="two gadre curves, 2 chains x 200 draws (smoke test)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--likelihood", default="lognormal", choices=("lognormal", "studentt"),
                   help="the fits' likelihood (default lognormal, the package's)")
    p.add_argument("--out", type=Path, default=None, help="also write the points (CSV) here")
    a = p.parse_args(argv)
    names = ["gadre"] if a.quick else a.data
    sampling = dict(draws=200, tune=200, chains=2) if a.quick else {}  # otherwise the package's defaults
    parts, t0 = [], time.perf_counter()
    for ds, curve, law, train, test in splits(names, a.quick):
        t = time.perf_counter()
        inputs = list(bs.get_law(law).inputs)
        fit = bs.fit(train[[*inputs, "y"]], law=law, x=inputs, y="y", likelihood=a.likelihood, seed=a.seed,
                     progressbar=False, **sampling)
        ok = fit.diagnostics().ok
        for when, disc in (("before", "off"), ("after", "default"), ("autocorrelation", AUTOCORRELATION)):
            s = score(fit, test, disc, a.seed)
            s[["dataset", "curve", "when", "ok"]] = ds, curve, when, ok
            parts.append(s)
        print(f"{ds:<30} {curve:<52} fit {len(train):>4} held out {len(test):>4}  ok={ok}  "
              f"rho={fit.residual_autocorrelation:.2f}  {time.perf_counter() - t:5.1f} s", file=sys.stderr, flush=True)
    points = pd.concat(parts, ignore_index=True)
    table = summarise(points)
    print(markdown(table))
    print(f"\n{points['curve'].nunique()} curves, {time.perf_counter() - t0:.0f} s; sampling: "
          f"{'2 chains x 200 draws (quick)' if a.quick else 'the package defaults'}, seed {a.seed}, "
          f"likelihood {a.likelihood}")
    if a.out:
        a.out.parent.mkdir(parents=True, exist_ok=True)
        points.to_csv(a.out, index=False)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
