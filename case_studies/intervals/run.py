"""What a forecast interval is made of: parameters, noise and extrapolation, on a real learning curve.

One command::

    python case_studies/intervals/run.py            # 4 chains x 1000 draws
    python case_studies/intervals/run.py --quick    # small draws, smoke test, writes to a temp dir

A language-model learning curve of the revisiting_nsl benchmark (Alabdulmohsin et al. 2022; its own
fit / held-out split) is fitted with ``power_law_offset`` on the fit points and forecast over the
held-out range and beyond.  The figure ``interval_parts.png`` shows three nested 90% bands of the
forecast: the law's expected value with parameter uncertainty only; plus the extrapolation
uncertainty beyond the fitted range (bayescale.spec.discrepancy, the default learned prior); plus
the noise of a new run.  ``results.json`` / ``results.md`` give the three standard deviations of
log y at each target and whether the held-out runs fall inside each band.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

import bayescale as bs

HERE = Path(__file__).resolve().parent
CURVE = "LM|val_loss|1.68e+07"


def load_curve(name: str = CURVE) -> tuple[pd.DataFrame, pd.DataFrame]:
    d = pd.read_csv(bs.data_dir() / "revisiting_nsl" / "revisiting_nsl_benchmark.csv")
    d = d[d["curve_id"] == name].sort_values("seen_examples")
    fit = d[d["split"] == "fit"][["seen_examples", "value"]].rename(columns={"seen_examples": "x", "value": "y"})
    held = d[d["split"] != "fit"][["seen_examples", "value"]].rename(columns={"seen_examples": "x", "value": "y"})
    return fit.reset_index(drop=True), held.reset_index(drop=True)


def plot(fit, x, fc_on, fc_off, fit_df, held, path: Path) -> Path:
    import matplotlib.pyplot as plt  # deferred: plotting only

    t_on, t_off = fc_on.table(), fc_off.table()
    fig, ax = plt.subplots(figsize=(6.6, 4.2), layout="constrained")
    ax.fill_between(x, t_on["obs_lower"], t_on["obs_upper"], color="tab:blue", alpha=0.15,
                    label="+ noise of a new run")
    ax.fill_between(x, t_on["lower"], t_on["upper"], color="tab:blue", alpha=0.30,
                    label="+ extrapolation (beyond the data)")
    ax.fill_between(x, t_off["lower"], t_off["upper"], color="tab:blue", alpha=0.6,
                    label="parameters only (the law's expected value)")
    ax.plot(x, t_on["median"], color="navy", lw=1)
    ax.scatter(fit_df["x"], fit_df["y"], s=12, color="k", label="fitted runs", zorder=3)
    ax.scatter(held["x"], held["y"], s=14, facecolors="none", edgecolors="tab:red", label="held-out runs", zorder=3)
    ax.axvline(fit_df["x"].max(), color="0.5", ls=":", lw=1)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("seen examples")
    ax.set_ylabel("validation loss")
    ax.set_title(f"90% forecast intervals, {fit.law.name} ({CURVE})", fontsize=9)
    ax.legend(fontsize=7, loc="upper right")
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="2 chains x 300 draws; output to a temp dir unless --out")
    p.add_argument("--out", type=Path, default=None, help=f"output folder (default {HERE})")
    a = p.parse_args(argv)
    out = a.out or (Path(tempfile.mkdtemp()) if a.quick else HERE)
    out.mkdir(parents=True, exist_ok=True)
    fit_df, held = load_curve()
    kw = dict(draws=300, tune=300, chains=2) if a.quick else {}
    fit = bs.fit(fit_df, law="power_law_offset", x="x", y="y", seed=0, progressbar=False, **kw)
    lo, hi = float(fit_df["x"].min()), float(held["x"].max()) * 10
    x = np.geomspace(lo, hi, 80)
    fc_on, fc_off = fit.forecast(x=x, prob=0.9), fit.forecast(x=x, prob=0.9, discrepancy="off")
    on_h, off_h = fit.forecast(x=held["x"], prob=0.9).table(), fit.forecast(x=held["x"], prob=0.9,
                                                                             discrepancy="off").table()
    y = held["y"].to_numpy()
    inside = {
        "parameters only": float(np.mean((y >= off_h["lower"]) & (y <= off_h["upper"]))),
        "parameters + noise (bayescale 0.1)": float(np.mean((y >= off_h["obs_lower"]) & (y <= off_h["obs_upper"]))),
        "parameters + extrapolation": float(np.mean((y >= on_h["lower"]) & (y <= on_h["upper"]))),
        "all three (new run, default)": float(np.mean((y >= on_h["obs_lower"]) & (y <= on_h["obs_upper"]))),
    }
    targets = [float(fit_df["x"].max()), float(held["x"].max()), 10 * float(held["x"].max())]
    parts = fit.forecast(x=targets, prob=0.9).to_records()
    res = {"curve": CURVE, "law": fit.law.name, "diagnostics_ok": fit.diagnostics().ok,
           "n_fit": len(fit_df), "n_held_out": len(held), "discrepancy": fit.forecast(x=targets).discrepancy.to_dict(),
           "held_out_inside_90": inside, "targets": parts}
    (out / "results.json").write_text(json.dumps(res, indent=1))
    lines = [f"# What a 90% interval is made of ({CURVE}, {fit.law.name})", "",
             "| target x | decades beyond the data | sd log y: parameters | noise | extrapolation |", "|---|---|---|---|---|"]
    lines += [f"| {r['x']:.3g} | {r['horizon']:.2f} | {r['sd_log']['parameters']:.4f} | {r['sd_log']['noise']:.4f} | "
              f"{r['sd_log']['extrapolation']:.4f} |" for r in parts]
    lines += ["", f"Held-out runs ({len(held)}) inside each 90% band:", ""]
    lines += [f"- {k}: {v:.2f}" for k, v in inside.items()]
    (out / "results.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    print(f"figure: {plot(fit, x, fc_on, fc_off, fit_df, held, out / 'interval_parts.png')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
