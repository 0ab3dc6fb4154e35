"""Porian et al. (2024) IsoFLOP case study: fit small budgets, forecast the larger ones.

One command::

    python case_studies/porian_isoflops/run.py            # full draws (4 chains x 1000, nutpie)
    python case_studies/porian_isoflops/run.py --quick    # tiny draws, smoke test, writes to a temp dir

What it does
------------
For two training configurations on RefinedWeb (standard parameter count, validation loss):

* ``cosine``: base hyper-parameters, short warmup, cosine decay matched to each budget
  (the paper's "Cosine decay" step, Chinchilla-like);
* ``tuned_const``: tuned hyper-parameters, constant learning rate (the paper's last step),

it derives tokens from each run's budget and size with :func:`bayescale.isoflop_data`
(D = C / 6N; checked against the stored column), fits the chinchilla law
``L = E + A N^-alpha + B D^-beta`` on budgets C <= 1.6e18 FLOPs, and forecasts every IsoFLOP point at
3.2e18 .. 2.56e19 FLOPs (2x to 16x the largest fitted budget).  It reports the fraction of held-out
losses inside the 90% interval of a new observation and of the expected value, the RMSLE of the
posterior median, and whether the compute-optimal N*(C) interval covers the repository's
interpolated IsoFLOP minima ``n_star``.  Saves ``isoflops.png``, ``results.md``, ``results.json``.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

import bayescale as bs

HERE = Path(__file__).resolve().parent
FIT_MAX_C = 1.6e18
PROB = 0.9
CONFIGS = {
    "cosine": dict(dataset="rw", hparams="base", warmup="short", decay="chinchilla", param_count="standard",
                   loss_source="val"),
    "tuned_const": dict(dataset="rw", hparams="tuned", warmup="short", decay="const", param_count="standard",
                        loss_source="val"),
}


def select(df: pd.DataFrame, cfg: dict) -> pd.DataFrame:
    m = np.ones(len(df), dtype=bool)
    for k, v in cfg.items():
        m &= df[k].astype(str).to_numpy() == v
    return df[m].reset_index(drop=True)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="tiny draws (smoke test); output to a temp dir")
    ap.add_argument("--out", help="output folder (default: this folder; a temp dir with --quick)")
    ap.add_argument("--sampler", default=None, help="nutpie (default) or pymc")
    a = ap.parse_args(argv)
    if a.quick:
        scfg = dict(draws=60, tune=60, chains=2, cores=1, sampler=a.sampler or "pymc", progressbar=False)
    else:
        scfg = dict(draws=1000, tune=1000, chains=4, sampler=a.sampler or "nutpie", progressbar=False)
    out = Path(a.out) if a.out else (Path(tempfile.mkdtemp(prefix="porian_")) if a.quick else HERE)
    out.mkdir(parents=True, exist_ok=True)

    ddir = bs.data_dir() / "porian_isoflops"
    if not (ddir / "isoflop_points.csv").is_file():
        sys.exit(f"error: {ddir / 'isoflop_points.csv'} not found (set BAYESCALE_DATA to the shared data folder)")
    allpts = pd.read_csv(ddir / "isoflop_points.csv")
    optima = pd.read_csv(ddir / "compute_optimal_points.csv")

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(CONFIGS), figsize=(11, 4.2), layout="constrained", sharey=True)
    results, md = {}, []
    md.append(f"Settings: {scfg['chains']} chains x {scfg['draws']} draws (tune {scfg['tune']}), sampler "
              f"{scfg['sampler']}, seed 1; fit on C <= {FIT_MAX_C:.2g} FLOPs, {PROB:.0%} intervals.\n")
    md.append("| config | fit pts | held-out pts | divergences | max R-hat | min ESS bulk | ok | "
              "new-obs coverage | expected-value coverage | RMSLE (median) | RMSLE fit pts | "
              "N* interval covers n_star | N* exponent |")
    md.append("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for ax, (name, cfg) in zip(np.atleast_1d(axes), CONFIGS.items()):
        pts = select(allpts, cfg)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            pts = bs.isoflop_data(pts.drop(columns="tokens"), compute="flops", params="params")
        stored = select(allpts, cfg)["tokens"].to_numpy()
        relerr = float(np.max(np.abs(pts["tokens_derived"].to_numpy() / stored - 1)))
        print(f"\n[{name}] {len(pts)} IsoFLOP points; {caught[0].message if caught else ''}; "
              f"max relative difference from the stored tokens column: {relerr:.2e}")
        train = pts[pts["flops"] <= FIT_MAX_C]
        test = pts[pts["flops"] > FIT_MAX_C]
        t0 = time.perf_counter()
        f = bs.fit(train, law="chinchilla", x=["params", "tokens_derived"], y="loss", seed=1, **scfg)
        secs = time.perf_counter() - t0
        d = f.diagnostics()
        print(f"fit: {secs:.1f} s on {len(train)} points, sampler {f.settings['sampler_ran']}, divergences "
              f"{d.divergences}, max R-hat {d.max_rhat:.4f}, min ESS bulk/tail {d.min_ess_bulk:.0f}/"
              f"{d.min_ess_tail:.0f}, ok={d.ok}" + (f", remedy: {f.settings['remedy']}" if f.settings.get("remedy") else ""))
        for p in d.problems:
            print(f"  problem: {p}")
        fc = f.forecast(x={"N": test["params"].to_numpy(), "D": test["tokens_derived"].to_numpy()}, prob=PROB, seed=1)
        t = fc.table()
        y = test["loss"].to_numpy()
        in_obs = (y >= t["obs_lower"].to_numpy()) & (y <= t["obs_upper"].to_numpy())
        in_exp = (y >= t["lower"].to_numpy()) & (y <= t["upper"].to_numpy())
        rmsle = float(np.sqrt(np.mean((np.log(t["median"].to_numpy()) - np.log(y)) ** 2)))
        fit_med = np.median(f.expected({"N": train["params"].to_numpy(), "D": train["tokens_derived"].to_numpy()}), axis=0)
        rmsle_fit = float(np.sqrt(np.mean((np.log(fit_med) - np.log(train["loss"].to_numpy())) ** 2)))
        per_budget = (test.assign(in_obs=in_obs, in_exp=in_exp,
                                  logerr=np.log(t["median"].to_numpy()) - np.log(y))
                      .groupby("flops").agg(n=("loss", "size"), in_obs=("in_obs", "mean"), in_exp=("in_exp", "mean"),
                                            mean_log_error=("logerr", "mean")).reset_index())
        print(per_budget.to_string(float_format=lambda v: f"{v:.3g}"))

        # compute-optimal N*(C) at held-out budgets vs the repository's interpolated IsoFLOP minima
        opt = select(optima, cfg).dropna(subset=["n_star"])
        opt = opt[opt["flops"] > FIT_MAX_C]
        cover_nstar = None
        alloc_recs = []
        if len(opt):
            al = f.optimal_allocation(compute=opt["flops"].to_numpy(), prob=PROB)
            at = al.table()
            inside = (opt["n_star"].to_numpy() >= at["N_opt_lower"].to_numpy()) & \
                     (opt["n_star"].to_numpy() <= at["N_opt_upper"].to_numpy())
            cover_nstar = f"{int(inside.sum())}/{len(inside)}"
            for (_, q), ns, ins in zip(at.iterrows(), opt["n_star"], inside):
                alloc_recs.append({"compute": float(q["compute"]), "N_opt_median": float(q["N_opt_median"]),
                                   "N_opt_lower": float(q["N_opt_lower"]), "N_opt_upper": float(q["N_opt_upper"]),
                                   "n_star_repository": float(ns), "inside": bool(ins)})
            print(pd.DataFrame(alloc_recs).to_string(float_format=lambda v: f"{v:.3g}"))

        ab = f.draws(["alpha", "beta"])
        expo = ab["beta"] / (ab["alpha"] + ab["beta"])  # N* ~ C^a, a = beta / (alpha + beta)
        expo_q = [float(v) for v in np.quantile(expo, [0.5, (1 - PROB) / 2, (1 + PROB) / 2])]
        print(f"N* exponent a = beta/(alpha+beta): {expo_q[0]:.3f} [{expo_q[1]:.3f}, {expo_q[2]:.3f}]")
        s = f.summary(prob=PROB)
        lo_col, hi_col = [c for c in s.columns if c.startswith("eti")][:2]
        results[name] = {
            "config": cfg, "n_fit": int(len(train)), "n_held_out": int(len(test)), "fit_seconds": secs,
            "tokens_derived_max_rel_diff": relerr,
            "diagnostics": d.to_dict(), "remedy": f.settings.get("remedy"),
            "parameters": {p: {"median": float(s.loc[p, "median"]), "lower": float(s.loc[p, lo_col]),
                               "upper": float(s.loc[p, hi_col])} for p in f.param_names},
            "coverage_new_observation": float(in_obs.mean()), "coverage_expected": float(in_exp.mean()),
            "rmsle_median": rmsle, "rmsle_fit_points": rmsle_fit,
            "n_exponent": {"median": expo_q[0], "lower": expo_q[1], "upper": expo_q[2]},
            "per_budget": per_budget.to_dict(orient="records"), "n_star": alloc_recs,
        }
        md.append(f"| {name} | {len(train)} | {len(test)} | {d.divergences} | {d.max_rhat:.4f} | "
                  f"{d.min_ess_bulk:.0f} | {d.ok} | {in_obs.mean():.2f} ({int(in_obs.sum())}/{len(y)}) | "
                  f"{in_exp.mean():.2f} ({int(in_exp.sum())}/{len(y)}) | {rmsle:.4f} | {rmsle_fit:.4f} | "
                  f"{cover_nstar} | {expo_q[0]:.3f} [{expo_q[1]:.3f}, {expo_q[2]:.3f}] |")

        # figure: loss along each IsoFLOP, data and forecast band
        cmap = plt.get_cmap("viridis")
        budgets = np.sort(pts["flops"].unique())
        for i, c in enumerate(budgets):
            col = cmap(i / max(1, len(budgets) - 1))
            sub = pts[pts["flops"] == c]
            n = np.geomspace(sub["params"].min() / 1.5, sub["params"].max() * 1.5, 60)
            mu = f.expected({"N": n, "D": c / (6 * n)})
            lo, med, hi = np.quantile(mu, [(1 - PROB) / 2, 0.5, (1 + PROB) / 2], axis=0)
            held = c > FIT_MAX_C
            ax.plot(n, med, color=col, lw=1.2, ls="--" if held else "-")
            ax.fill_between(n, lo, hi, color=col, alpha=0.25, lw=0)
            ax.scatter(sub["params"], sub["loss"], s=14, color=col if not held else "none",
                       edgecolors=col, zorder=3)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("parameters N")
        ax.set_title(f"{name}: fit C <= {FIT_MAX_C:.2g} (filled, solid)\nforecast larger C (open, dashed), "
                     f"{PROB:.0%} bands" + ("" if d.ok else "\nWARNING: diagnostics failed"),
                     fontsize=8, color="k" if d.ok else "crimson")
    np.atleast_1d(axes)[0].set_ylabel("validation loss")
    sm = plt.cm.ScalarMappable(cmap="viridis", norm=matplotlib.colors.LogNorm(allpts["flops"].min(), allpts["flops"].max()))
    fig.colorbar(sm, ax=axes, label="compute C (FLOPs)", pad=0.01)
    fig.savefig(out / "isoflops.png", dpi=75)

    md.append("\nParameters (posterior median and 90% interval):\n")
    md.append("| config | E | A | B | alpha | beta | sigma |")
    md.append("|---|---|---|---|---|---|---|")
    for name, r in results.items():
        cells = [f"{r['parameters'][p]['median']:.4g} [{r['parameters'][p]['lower']:.4g}, "
                 f"{r['parameters'][p]['upper']:.4g}]" for p in ("E", "A", "B", "alpha", "beta", "sigma")]
        md.append(f"| {name} | " + " | ".join(cells) + " |")
    text = "\n".join(md)
    print("\n" + text)
    (out / "results.md").write_text(text + "\n")
    (out / "results.json").write_text(json.dumps({"settings": scfg, "fit_max_compute": FIT_MAX_C, "prob": PROB,
                                                  "configs": results}, indent=1, default=float))
    print(f"\nwrote {out / 'isoflops.png'}, {out / 'results.md'}, {out / 'results.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
