"""Pythia: benchmark accuracy at 6.9B and 12B from the sizes up to 2.8B, through the LAMBADA loss or directly.

One command::

    python case_studies/downstream/run.py            # 4 chains x 1000 draws
    python case_studies/downstream/run.py --quick    # small draws, two tasks, writes to a temp dir

Data: ``pythia_evals`` (Biderman et al. 2023; zero-shot lm-evaluation-harness results of every Pythia size
at 27 checkpoints), the deduplicated series (six sizes up to 2.8B, 70M .. 2.8B, so the one with the most
fitted sizes).  Two ways to forecast a task's accuracy at 6.9B and 12B:

* **direct**: the accuracy of the final checkpoints (step 143000) of the six sizes, against N, with the
  catalogue's ``sigmoid_floor`` (a sigmoid in log N from the task's chance level, given as ``floor``, up
  to a ceiling below 1) and the ``logitnormal`` likelihood;
* **chained** (``bs.chain``; the two-step approach of Llama 3's benchmark forecasts): stage 1,
  ``power_law_offset`` of the LAMBADA log-perplexity (the cross-entropy of the passage's last word: a loss)
  against N on the same six final checkpoints; stage 2, the task's accuracy against that loss on every
  checkpoint from step 1000 on of the six sizes (96 points), with the same law and likelihood (its slope
  negative: accuracy falls as the loss grows); the accuracy at 6.9B and 12B per posterior draw through the
  forecast loss.

The floor is the task's chance level (0 for LAMBADA, 0.5 for PIQA and WinoGrande, 0.25 for ARC and SciQ),
given, unless more than 10% of the fitted accuracies lie below it (ARC-Challenge), when it is inferred.

``downstream.png``: the stage-1 forecast of the loss, stage 2 for the headline task with the checkpoints,
the two forecasts of its accuracy against N, and every task's two forecasts at 12B against the truth.
``results.json`` / ``results.md``: each task's medians and 90% intervals (the law's expected value and a new
observation), the truth, and the parts of the chained interval.
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
TASKS = ["lambada_openai", "piqa", "arc_easy", "arc_challenge", "sciq", "winogrande"]
HEADLINE = "arc_easy"
TARGETS = np.array([6.9e9, 12e9])
FIT_MAX = 2.8e9
LAW = "sigmoid_floor"           # floor + (ceiling - floor) sigmoid(slope log(x / x50)), models/
LIKELIHOOD = "logitnormal"      # normal noise on logit accuracy: every interval inside [0, 1]
#: Chance levels, given as the sigmoid's floor: 0 for LAMBADA (a generated word), 0.5 for the two-way PIQA and
#: WinoGrande, 0.25 for the 4-way ARC and SciQ.
FLOORS = {"lambada_openai": 0.0, "piqa": 0.5, "arc_easy": 0.25, "arc_challenge": 0.25, "sciq": 0.25,
          "winogrande": 0.5}


def floor_for(chance: float, y) -> float | None:
    """The chance level as a fixed floor, or None (inferred) when more than 10% of ``y`` lie below it: small
    models score below chance on ARC-Challenge, which a floor at chance cannot fit."""
    return None if np.mean(np.asarray(y, float) < chance) > 0.1 else chance


def load() -> pd.DataFrame:
    d = pd.read_csv(bs.data_dir() / "pythia_evals" / "pythia_v1_zero_shot.csv")
    return d[d["deduped"] == 1]


def loss_table(d: pd.DataFrame) -> pd.DataFrame:
    """LAMBADA log-perplexity per model and step."""
    p = d[(d["task"] == "lambada_openai") & (d["metric"] == "ppl")].copy()
    p["loss"] = np.log(p["value"])
    return p[["model", "params_nominal", "step", "loss"]]


def acc_table(d: pd.DataFrame, task: str) -> pd.DataFrame:
    a = d[(d["task"] == task) & (d["metric"] == "acc")]
    return a[["model", "params_nominal", "step", "value"]].rename(columns={"value": "acc"})


def run_task(d, loss, f1, task, kw):
    acc = acc_table(d, task)
    final = acc[acc["step"] == 143000].sort_values("params_nominal")
    fit_a = final[final["params_nominal"] <= FIT_MAX]
    truth = final.set_index("params_nominal").loc[TARGETS, "acc"].to_numpy()
    s2 = acc.merge(loss, on=["model", "params_nominal", "step"])
    s2 = s2[(s2["params_nominal"] <= FIT_MAX) & (s2["step"] >= 1000)].reset_index(drop=True)
    floors = (floor_for(FLOORS[task], fit_a["acc"]), floor_for(FLOORS[task], s2["acc"]))
    direct = bs.fit(fit_a, law=LAW, x="params_nominal", y="acc", likelihood=LIKELIHOOD, floor=floors[0], **kw)
    second = bs.fit(s2, law=LAW, x="loss", y="acc", likelihood=LIKELIHOOD, floor=floors[1], **kw)
    return {"truth": truth, "fit": fit_a, "stage2_data": s2, "direct": direct, "second": second, "floors": floors,
            "fc_direct": direct.forecast(x=TARGETS, prob=0.9), "fc_chain": bs.chain(f1, second, x=TARGETS, prob=0.9)}


def _interval(t, i):
    return {"median": float(t["median"].iloc[i]), "lower": float(t["lower"].iloc[i]), "upper": float(t["upper"].iloc[i]),
            "obs_lower": float(t["obs_lower"].iloc[i]), "obs_upper": float(t["obs_upper"].iloc[i])}


def summarise(res, f1, held_loss) -> dict:
    out = {"series": "pythia deduped", "fit_sizes": sorted(float(v) for v in res[next(iter(res))]["fit"]["params_nominal"]),
           "targets": TARGETS.tolist(), "likelihood": LIKELIHOOD, "stage1": {"law": f1.law.name,
           "diagnostics_ok": f1.diagnostics().ok, "truth": held_loss.tolist(),
           "forecast": [_interval(f1.forecast(x=TARGETS, prob=0.9).table(), i) for i in range(len(TARGETS))]},
           "tasks": {}}
    for task, r in res.items():
        td, tc = r["fc_direct"].table(), r["fc_chain"].table()
        rows = []
        for i, n in enumerate(TARGETS):
            dd, cc = _interval(td, i), _interval(tc, i)
            cc["parts"] = {k: float(tc[f"sd_{k}"].iloc[i]) for k in r["fc_chain"].forecast.parts}
            cc["horizon_loss"] = float(tc["horizon_loss"].iloc[i])
            rows.append({"N": float(n), "truth": float(r["truth"][i]), "direct": dd, "chained": cc})
        out["tasks"][task] = {"n_stage2": len(r["stage2_data"]), "floor_direct": r["floors"][0],
                              "floor_stage2": r["floors"][1], "direct_ok": r["direct"].diagnostics().ok,
                              "stage2_ok": r["second"].diagnostics().ok, "forecasts": rows}
    pts = [(f, row) for t in out["tasks"].values() for f in t["forecasts"] for row in [f]]
    for way in ("direct", "chained"):
        err = [abs(f[way]["median"] - f["truth"]) for f, _ in pts]
        inside = [f[way]["obs_lower"] <= f["truth"] <= f[way]["obs_upper"] for f, _ in pts]
        width = [f[way]["obs_upper"] - f[way]["obs_lower"] for f, _ in pts]
        out[way] = {"mean_abs_err": float(np.mean(err)), "coverage90_new_obs": float(np.mean(inside)),
                    "points": len(pts), "mean_width90_new_obs": float(np.mean(width))}
    return out


def plot(d, loss, f1, res, path: Path) -> Path:
    import matplotlib.pyplot as plt  # deferred: plotting only
    from matplotlib.ticker import NullFormatter

    fig, ax = plt.subplots(2, 2, figsize=(10, 7.6), layout="constrained")
    fin = loss[loss["step"] == 143000].sort_values("params_nominal")
    n = np.geomspace(5e7, 2e10, 60)
    t1 = f1.forecast(x=n, prob=0.9).table()
    a = ax[0, 0]
    a.fill_between(n, t1["obs_lower"], t1["obs_upper"], alpha=0.2, color="tab:blue", label="90%, new run")
    a.fill_between(n, t1["lower"], t1["upper"], alpha=0.35, color="tab:blue", label="90%, the law")
    a.plot(n, t1["median"], color="navy", lw=1)
    fitm = fin["params_nominal"] <= FIT_MAX
    a.scatter(fin["params_nominal"][fitm], fin["loss"][fitm], color="k", s=14, zorder=3, label="fitted")
    a.scatter(fin["params_nominal"][~fitm], fin["loss"][~fitm], facecolors="none", edgecolors="tab:red", s=20,
              zorder=3, label="held out")
    a.set(xscale="log", xlabel="parameters N", ylabel="LAMBADA log-perplexity", title="stage 1: N -> loss")
    a.legend(fontsize=7)

    r = res.get(HEADLINE, next(iter(res.values())))
    task = HEADLINE if HEADLINE in res else next(iter(res))
    s2 = r["stage2_data"]
    grid = np.geomspace(1.2, float(s2["loss"].max()), 60)
    t2 = r["second"].forecast(x=grid, prob=0.9, discrepancy="off").table()
    a = ax[0, 1]
    sc = a.scatter(s2["loss"], s2["acc"], c=np.log10(s2["params_nominal"]), s=10, cmap="viridis", zorder=3)
    fig.colorbar(sc, ax=a, label="log10 N")
    a.fill_between(grid, t2["lower"], t2["upper"], alpha=0.35, color="tab:orange", label="90%, the law")
    a.plot(grid, t2["median"], color="tab:orange", lw=1)
    lo = r["fc_chain"].loss.table()
    for i in range(len(TARGETS)):
        a.axvspan(lo["lower"].iloc[i], lo["upper"].iloc[i], color="0.5", alpha=0.12)
    a.axvline(s2["loss"].min(), color="0.4", ls=":", lw=1)
    a.set(xscale="log", xlabel="LAMBADA log-perplexity (grey: stage 1's 90% intervals at 6.9B, 12B)",
          ylabel=f"{task} accuracy", title="stage 2: loss -> accuracy (checkpoints >= step 1000)")
    a.xaxis.set_minor_formatter(NullFormatter())
    a.set_xticks([1.5, 2, 3, 4, 6, 8], ["1.5", "2", "3", "4", "6", "8"])
    a.legend(fontsize=7)

    a = ax[1, 0]
    nd = np.geomspace(5e7, 2e10, 40)
    td = r["direct"].forecast(x=nd, prob=0.9).table()
    tc = bs.chain(f1, r["second"], x=nd, prob=0.9).table()
    a.fill_between(nd, td["lower"], td["upper"], alpha=0.3, color="tab:green", label="direct, 90% law")
    a.fill_between(nd, tc["lower"], tc["upper"], alpha=0.3, color="tab:purple", label="chained, 90% law")
    a.plot(nd, td["median"], color="tab:green", lw=1)
    a.plot(nd, tc["median"], color="tab:purple", lw=1)
    final = acc_table(d, task)
    final = final[final["step"] == 143000]
    fm = final["params_nominal"] <= FIT_MAX
    a.scatter(final["params_nominal"][fm], final["acc"][fm], color="k", s=14, zorder=3, label="fitted")
    a.scatter(final["params_nominal"][~fm], final["acc"][~fm], facecolors="none", edgecolors="tab:red", s=20,
              zorder=3, label="held out")
    a.set(xscale="log", xlabel="parameters N", ylabel=f"{task} accuracy", title="accuracy: direct vs chained")
    a.legend(fontsize=7)

    a = ax[1, 1]
    names = list(res)
    for j, t in enumerate(names):
        rr = res[t]
        for k, (fc, col, dx) in enumerate(((rr["fc_direct"].table(), "tab:green", -0.12),
                                           (rr["fc_chain"].table(), "tab:purple", 0.12))):
            i = len(TARGETS) - 1
            m = fc["median"].iloc[i]
            a.errorbar(j + dx, m, yerr=[[m - fc["obs_lower"].iloc[i]], [fc["obs_upper"].iloc[i] - m]], fmt="o",
                       color=col, ms=4, capsize=2, label=("direct" if k == 0 else "chained") if j == 0 else None)
        a.scatter(j, rr["truth"][-1], marker="x", color="tab:red", zorder=3, label="truth" if j == 0 else None)
    a.set_xticks(range(len(names)), names, rotation=30, fontsize=7)
    a.set(ylabel="accuracy at 12B", title="every task at 12B: median, 90% new-run interval")
    a.legend(fontsize=7)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="2 chains x 150 draws, two tasks; output to a temp dir")
    p.add_argument("--out", type=Path, default=None, help=f"output folder (default {HERE})")
    a = p.parse_args(argv)
    out = a.out or (Path(tempfile.mkdtemp()) if a.quick else HERE)
    out.mkdir(parents=True, exist_ok=True)
    kw = dict(seed=0, progressbar=False, target_accept=0.95)
    kw.update(dict(draws=150, tune=150, chains=2) if a.quick else dict(draws=1000, tune=1000, chains=4))
    d = load()
    loss = loss_table(d)
    fin = loss[loss["step"] == 143000]
    f1 = bs.fit(fin[fin["params_nominal"] <= FIT_MAX], law="power_law_offset", x="params_nominal", y="loss", **kw)
    held_loss = fin.set_index("params_nominal").loc[TARGETS, "loss"].to_numpy()
    res = {t: run_task(d, loss, f1, t, kw) for t in (["arc_easy", "lambada_openai"] if a.quick else TASKS)}
    s = summarise(res, f1, held_loss)
    (out / "results.json").write_text(json.dumps(s, indent=1))
    lines = [f"# Pythia (deduped): accuracy at 6.9B and 12B, direct vs chained through the LAMBADA loss", "",
             f"Stage 1 ({f1.law.name}, diagnostics {'ok' if f1.diagnostics().ok else 'NOT OK'}): LAMBADA log-ppl "
             + ", ".join(f"{n / 1e9:g}B {r['median']:.3f} [{r['obs_lower']:.3f}, {r['obs_upper']:.3f}] (truth {t:.3f})"
                         for n, r, t in zip(TARGETS, s["stage1"]["forecast"], held_loss)), "",
             "| task | N | truth | direct median [90% new run] | chained median [90% new run] | chained sd of logit acc: "
             "stage 1 / stage 2 params / stage 2 extrap / noise | fits ok (direct, stage 2) |",
             "|---|---|---|---|---|---|---|"]
    for task, t in s["tasks"].items():
        for f in t["forecasts"]:
            dd, cc, pp = f["direct"], f["chained"], f["chained"]["parts"]
            lines.append(f"| {task} | {f['N'] / 1e9:g}B | {f['truth']:.3f} | {dd['median']:.3f} [{dd['obs_lower']:.3f}, "
                         f"{dd['obs_upper']:.3f}] | {cc['median']:.3f} [{cc['obs_lower']:.3f}, {cc['obs_upper']:.3f}] | "
                         f"{pp['stage1']:.3f} / {pp['stage2_parameters']:.3f} / {pp['stage2_extrapolation']:.3f} / "
                         f"{pp['noise']:.3f} | {t['direct_ok']}, {t['stage2_ok']} |")
    lines += [""] + [f"- {w}: mean absolute error {s[w]['mean_abs_err']:.4f}, 90% new-run coverage "
                     f"{s[w]['coverage90_new_obs']:.2f} of {s[w]['points']}, mean width {s[w]['mean_width90_new_obs']:.3f}"
                     for w in ("direct", "chained")]
    (out / "results.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    print(f"figure: {plot(d, loss, f1, res, out / 'downstream.png')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
