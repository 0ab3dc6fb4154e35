"""Repeated data (Muennighoff et al. 2023): does repeating tokens cost anything, and how far can a fit of
few epochs forecast many?

One command::

    python case_studies/repeated_data/run.py            # the package defaults (4 chains x 1000, nutpie)
    python case_studies/repeated_data/run.py --quick    # tiny draws, smoke test, writes to a temp dir

What it does
------------
On the ~300 C4 runs of ``muennighoff_data_constrained`` (N parameters, D tokens seen, U unique tokens,
so D / U epochs):

1. **Is repetition visible?** ``bayescale.compare`` of ``chinchilla`` (tokens are tokens) against
   ``data_constrained`` (repeated tokens worth less: D' = U + U R (1 - exp(-(D/U - 1)/R))) on all runs,
   each law fitted to its own inputs of the same rows; PSIS-LOO and leave-future-out.
2. **Forecasting many epochs from few.** Both laws fitted on the runs of at most 4 epochs, forecasting
   the runs of 5 to 9,000 epochs: coverage of the 90% interval of a new run and RMSLE of the median, by
   epochs.  ``data_constrained`` declares ``epochs = D / U`` as a distance, so its forecasts count their
   decades beyond the fitted epochs and widen with them (the extrapolation part of the interval);
   ``chinchilla``'s see every held-out run inside its fitted N and D ranges.

Saves ``repeated.png``, ``results.md``, ``results.json``.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

import bayescale as bs

HERE = Path(__file__).resolve().parent
FIT_MAX_EPOCHS = 4
PROB = 0.9
LAWS = ("chinchilla", "data_constrained")
BINS = [FIT_MAX_EPOCHS, 10, 30, 100, 1000, 1e4]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="tiny draws (smoke test); output to a temp dir")
    ap.add_argument("--out", help="output folder (default: this folder; a temp dir with --quick)")
    a = ap.parse_args(argv)
    scfg = dict(draws=100, tune=150, chains=2, cores=1) if a.quick else {}  # otherwise the package's defaults
    out = Path(a.out) if a.out else (Path(tempfile.mkdtemp(prefix="repeated_")) if a.quick else HERE)
    out.mkdir(parents=True, exist_ok=True)
    path = bs.data_dir() / "muennighoff_data_constrained" / "c4_final_val_loss.csv"
    if not path.is_file():
        sys.exit(f"error: {path} not found (set BAYESCALE_DATA to the shared data folder)")
    runs = pd.read_csv(path).rename(columns={"params": "N", "tokens": "D", "unique_tokens": "U", "val_loss": "y"})
    cols = {"N": "N", "D": "D", "U": "U"}
    md = [f"Settings: {'2 chains x 100 draws (quick)' if a.quick else 'the package defaults'}, seed 1; "
          f"{PROB:.0%} intervals.\n"]

    # 1. all runs: is repetition visible?
    t0 = time.perf_counter()
    cmp = bs.compare(runs, laws=list(LAWS), x=list(cols), y="y", seed=1, progress=False, **scfg)
    tab = cmp.table
    print(f"compare on {len(runs)} runs ({time.perf_counter() - t0:.0f} s):\n{tab[['elpd', 'se', 'elpd_diff', 'dse']]}")
    lfo = {nm: {"mean_lpd": float(np.mean(r.lpd)), "rmsle": float(r.rmsle), "ok": bool(r.ok)}
           for nm, r in cmp.lfo.items()}
    md += ["## All runs: PSIS-LOO and leave-future-out\n",
           "| law | elpd | se | difference | dse | LFO mean lpd | LFO RMSLE | fit ok |", "|---|---|---|---|---|---|---|---|"]
    for nm in tab.index:
        md.append(f"| {nm} | {tab.loc[nm, 'elpd']:.1f} | {tab.loc[nm, 'se']:.1f} | {tab.loc[nm, 'elpd_diff']:.1f} | "
                  f"{tab.loc[nm, 'dse']:.1f} | {lfo[nm]['mean_lpd']:.3f} | {lfo[nm]['rmsle']:.4f} | "
                  f"{cmp.fits[nm].diagnostics().ok} |")

    # 2. fit few epochs, forecast many
    train, test = runs[runs["epochs"] <= FIT_MAX_EPOCHS], runs[runs["epochs"] > FIT_MAX_EPOCHS]
    y = test["y"].to_numpy()
    forecasts, results = {}, {}
    for nm in LAWS:
        inputs = list(bs.get_law(nm).inputs)
        f = bs.fit(train[[*inputs, "y"]], law=nm, x=inputs, y="y", seed=1, progressbar=False, **scfg)
        t = f.forecast(x={k: test[k].to_numpy(float) for k in inputs}, prob=PROB, seed=1).table()
        inside = (y >= t["obs_lower"].to_numpy()) & (y <= t["obs_upper"].to_numpy())
        err = np.log(t["median"].to_numpy()) - np.log(y)
        by = (test.assign(inside=inside, err=err, horizon=t["horizon"].to_numpy())
              .assign(epochs_bin=lambda d: pd.cut(d["epochs"], BINS))
              .groupby("epochs_bin", observed=True)
              .agg(runs=("y", "size"), cover90=("inside", "mean"), mean_log_error=("err", "mean"),
                   decades_out=("horizon", "median")).reset_index()
              .assign(epochs_bin=lambda d: d["epochs_bin"].astype(str)))
        forecasts[nm] = t
        results[nm] = {"diagnostics": f.diagnostics().to_dict(), "coverage90_new_obs": float(inside.mean()),
                       "rmsle_median": float(np.sqrt(np.mean(err ** 2))), "by_epochs": by.to_dict(orient="records"),
                       "parameters": {p: float(np.median(v)) for p, v in f.draws(f.param_names).items()}}
        print(f"\n{nm}: fit {len(train)} runs of <= {FIT_MAX_EPOCHS} epochs, ok={f.diagnostics().ok}; "
              f"{len(test)} held out: 90% coverage {inside.mean():.2f}, RMSLE {results[nm]['rmsle_median']:.3f}")
        print(by.to_string(float_format=lambda v: f"{v:.3g}"))
    md += [f"\n## Fit runs of at most {FIT_MAX_EPOCHS} epochs ({len(train)}), forecast the {len(test)} others\n",
           "| law | fit ok | 90% new-run coverage | RMSLE of the median |", "|---|---|---|---|"]
    md += [f"| {nm} | {r['diagnostics']['ok']} | {r['coverage90_new_obs']:.2f} | {r['rmsle_median']:.3f} |"
           for nm, r in results.items()]
    md += ["\nBy epochs (90% coverage / mean log error of the median / median decades beyond the fitted data):\n",
           "| epochs | runs | " + " | ".join(LAWS) + " |", "|---|---|" + "---|" * len(LAWS)]
    for i, row in enumerate(results[LAWS[0]]["by_epochs"]):
        cells = [f"{r['cover90']:.2f} / {r['mean_log_error']:+.3f} / {r['decades_out']:.2f}"
                 for r in (results[nm]["by_epochs"][i] for nm in LAWS)]
        md.append(f"| {row['epochs_bin']} | {row['runs']} | " + " | ".join(cells) + " |")

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 4.2), layout="constrained", sharex=True, sharey=True)
    norm = matplotlib.colors.LogNorm(test["epochs"].min(), test["epochs"].max())
    for ax, nm in zip(axes, LAWS):
        t = forecasts[nm]
        c = plt.get_cmap("viridis")(norm(test["epochs"].to_numpy()))
        for yi, lo, hi, ci in zip(y, t["obs_lower"], t["obs_upper"], c):
            ax.plot([yi, yi], [lo, hi], color=ci, lw=0.6, alpha=0.6)
        ax.scatter(y, t["median"], s=8, c=c, zorder=3)
        lim = [y.min() * 0.95, y.max() * 1.05]
        ax.plot(lim, lim, color="k", lw=0.8)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("held-out loss")
        ax.set_title(f"{nm}: 90% coverage {results[nm]['coverage90_new_obs']:.2f}, "
                     f"RMSLE {results[nm]['rmsle_median']:.3f}", fontsize=9)
    axes[0].set_ylabel(f"forecast (median, {PROB:.0%} new-run interval)")
    fig.colorbar(plt.cm.ScalarMappable(cmap="viridis", norm=norm), ax=axes, label="epochs D / U", pad=0.01)
    fig.savefig(out / "repeated.png", dpi=75)

    text = "\n".join(md)
    print("\n" + text)
    (out / "results.md").write_text(text + "\n")
    (out / "results.json").write_text(json.dumps({
        "settings": scfg or "package defaults", "fit_max_epochs": FIT_MAX_EPOCHS, "prob": PROB,
        "compare": {nm: {"elpd": float(tab.loc[nm, "elpd"]), "se": float(tab.loc[nm, "se"]),
                         "elpd_diff": float(tab.loc[nm, "elpd_diff"]), "dse": float(tab.loc[nm, "dse"]),
                         "lfo": lfo[nm]} for nm in tab.index},
        "recommended": cmp.recommended, "forecast": results}, indent=1, default=float))
    print(f"\nwrote {out / 'repeated.png'}, {out / 'results.md'}, {out / 'results.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
