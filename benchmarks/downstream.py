r"""Downstream accuracy forecasts: direct (scale -> accuracy) against chained (scale -> loss -> accuracy).

Three real data sets, read through ``bayescale.data_dir()`` (never copied here):

* **obsscaling** (Ruan et al. 2024; 148 public base models, no losses):
  - *within family*: every family with at least 6 sizes (Qwen1.5, Pythia, OPT, RWKV, Cerebras-GPT; RWKV's
    instruction-tuned ``rwkv-raven-14b`` is left out: it repeats the 14B size), x = parameters; fit all but
    the largest size, forecast the largest that has a value, on MMLU, ARC-C and the four arithmetic tasks of
    the emergent file (joined on ``Model``; only Qwen1.5, Pythia and OPT have them);
  - *the paper's split*: every model with a ``FLOPs (1E21)`` value, x = FLOPs; fit FLOPs <= 84e21,
    forecast the larger models, per task (models of all families together).
  This data set has no loss, nor any loss-like metric measured on the same text for every model (the
  paper's intermediate is a principal component of benchmark scores), so it gets the direct approach
  only; the chained comparison is done on Pythia and on Gadre et al.'s runs, which have a loss.
* **pythia_evals** (Biderman et al. 2023), both series (standard and deduplicated Pile): fit the sizes up
  to 2.8B at the final step (143000), forecast 6.9B and 12B on lambada_openai, piqa, arc_easy,
  arc_challenge, sciq and winogrande (``acc``).  Chained: stage 1 is ``power_law_offset`` of the LAMBADA
  log-perplexity (the cross-entropy of the last word, a loss) in N on the same fitted sizes; stage 2 maps
  that loss to the task's accuracy, fitted on every checkpoint from step 1000 on of the fitted sizes (the
  Llama 3 recipe fits stage 2 on many models and checkpoints); ``bs.chain`` carries both.
* **gadre_overtraining** (Gadre et al. 2024), per training corpus (C4, RedPajama, RefinedWeb): fit the
  runs with N <= 411M (all token multipliers), forecast the 1.4B and 6.9B runs' 17-task average accuracy
  (1 - ``err_avg17``).  Chained: stage 1 ``chinchilla`` L(N, D) of the C4-eval loss, stage 2 loss ->
  accuracy on the same fitted runs; direct: accuracy in compute 6ND.

Laws (the catalogue's bounded laws, ``models/``): ``sigmoid_floor``,
``acc = floor + (ceiling - floor) sigmoid(slope log(x / x50))``, for accuracy in scale (slope > 0) and in
loss (stage 2, slope < 0), with the ``logitnormal`` likelihood (normal noise on logit acc; the
extrapolation discrepancy shifts logit mu, so every interval stays in [0, 1]).  The floor is the task's
chance level, given (``floor=``): 0.25 for 4-way multiple choice (MMLU, ARC, SciQ), 0.5 for the two-way
PIQA and WinoGrande, 0 for generated answers (arithmetic, LAMBADA), and for Gadre's 17-task average the
mean of the 17 tasks' random baselines (0.191, from ``downstream_accuracy.csv``) -- unless more than 10% of
the fitted accuracies lie below the chance level (small models score below chance on ARC-Challenge and
MMLU: 76% of Pythia's ARC-Challenge checkpoints), where a floor at chance cannot fit them (the stage-2 fit
of ARC-Challenge then had R-hat 1.23 and a forecast stuck at the floor), and the floor is inferred
(``sigmoid_floor``'s own prior), for the Bayesian and the least-squares fits alike.  On the arithmetic
tasks ``bnsl1_error`` (a BNSL on the error rate, for sudden jumps; floor 0) is fitted too.  Arithmetic
accuracies of exactly 0 or 1 (2000 items) are clipped to [1/4000, 1 - 1/4000] for the logit-normal.

Baselines: the same sigmoid with the same floor fitted by least squares on the accuracy (scipy
``least_squares``, bounded, 8 starts; a point forecast, no interval); for the chained baseline,
least-squares stages (power law with offset on the loss, then the sigmoid in the loss), as Llama 3's point
fits.

Figures per forecast point: absolute error of the median (accuracy points), whether the 90% interval of a
new observation holds the truth (``cov90``) and of the law's expected value (``cov90 law``).  Sampling:
nutpie, 4 chains x 500 draws, 1000 tuning steps, target_accept 0.95, seed 0 (``--quick``: 2 x 100 on a
subset).  Each compiled model is reused across fits of its law (bayescale's in-process cache).

Usage::

    python benchmarks/downstream.py            # everything (rows.jsonl, table.md in --out; the table printed)
    python benchmarks/downstream.py --quick    # smoke test: one case per section, tiny draws
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import optimize

import bayescale as bs

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import baselines as bl  # noqa: E402

PROB = 0.9
CLIP = 1 / 4000
OBS_TASKS = ["MMLU", "ARC-C"]
ARITH = ["arithmetic_3ds_2_acc", "arithmetic_3da_2_acc", "arithmetic_2dm_2_acc", "arithmetic_2da_2_acc"]
PY_TASKS = ["lambada_openai", "piqa", "arc_easy", "arc_challenge", "sciq", "winogrande"]
FAMILIES_MIN = 6
PAPER_CUT = 84.0

LAW = "sigmoid_floor"
LIKELIHOOD = "logitnormal"
#: Chance levels (the floor of the sigmoid), by task.
FLOORS = {"MMLU": 0.25, "ARC-C": 0.25, **{t: 0.0 for t in ARITH}, "lambada_openai": 0.0, "piqa": 0.5,
          "arc_easy": 0.25, "arc_challenge": 0.25, "sciq": 0.25, "winogrande": 0.5}


def floor_for(chance: float, y) -> float | None:
    """The chance level as a fixed floor, or None (inferred) when more than 10% of ``y`` lie below it."""
    return None if np.mean(np.asarray(y, float) < chance) > 0.1 else chance


def gadre_floor(root: Path) -> float:
    """The chance level of Gadre's 17-task average accuracy: the mean of the tasks' random baselines."""
    a = pd.read_csv(root / "gadre_overtraining" / "downstream_accuracy.csv")
    return float(a[a["in_17"] == 1].drop_duplicates("task")["random_baseline_pct"].mean() / 100)


# ----------------------------------------------------------------------------- scoring and baselines
def score(truth, median, lower=np.nan, upper=np.nan, obs_lower=np.nan, obs_upper=np.nan) -> dict:
    """Absolute error of the median and whether each interval holds the truth (None without an interval)."""
    out = {"truth": float(truth), "median": float(median), "abs_err": float(abs(median - truth))}
    out["in90_law"] = None if np.isnan(lower) else bool(lower <= truth <= upper)
    out["in90_obs"] = None if np.isnan(obs_lower) else bool(obs_lower <= truth <= obs_upper)
    out.update(lower=float(lower), upper=float(upper), obs_lower=float(obs_lower), obs_upper=float(obs_upper))
    return out


def sigmoid_curve(x, F, c, k, m, down=False):
    """``F + (c - F) sigmoid(k (log x - m))`` (``down``: ``k (m - log x)``), i.e. ``sigmoid_floor`` with
    slope = +-k and x50 = e^m."""
    z = k * ((m - np.log(x)) if down else (np.log(x) - m))
    return F + (c - F) / (1 + np.exp(-z))


def fit_sigmoid_lsq(x, y, down=False, floor=None):
    """Least-squares sigmoid with floor (fixed at ``floor`` when given) and ceiling in [max(y, floor), 1];
    returns a predict function or None."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    lx = np.log(x)
    fl = None if floor is None else float(floor)
    lo = [max(float(y.max()), fl or 0.0), 0.0, float(lx.min()) - 12]
    hi = [1.0, 50.0, float(lx.max()) + 12]
    if fl is None:
        lo, hi = [0.0] + lo, [max(float(y.min()), 1e-9)] + hi
    lo[-3] = min(lo[-3], 1 - 1e-6)

    def curve(p, t):
        return sigmoid_curve(t, *(p if fl is None else [fl, *p]), down=down)

    best = None
    for m0 in np.quantile(lx, [0.0, 0.5, 1.0]).tolist() + [lx.max() + 2]:
        for k0 in (0.5, 2.0):
            p0 = [0.5 * (y.max() + 1), k0, m0] if fl is not None else [0.5 * y.min(), 0.5 * (y.max() + 1), k0, m0]
            p0 = np.clip(p0, np.array(lo) + 1e-9, np.array(hi) - 1e-9)
            try:
                r = optimize.least_squares(lambda p: curve(p, x) - y, p0, bounds=(lo, hi))
            except ValueError:
                continue
            if best is None or r.cost < best.cost:
                best = r
    if best is None:
        return None
    return lambda t: curve(best.x, np.asarray(t, float))


# ----------------------------------------------------------------------------- Bayesian fits
def bayes(df, law, x, y, kw, floor=None, likelihood=LIKELIHOOD):
    """A fit, or the reason it failed (a one-line error)."""
    try:
        extra = {} if floor is None else {"floor": floor}
        return bs.fit(df, law=law, x=x, y=y, likelihood=likelihood, **extra, **kw), None
    except bs.BayescaleError as exc:
        return None, str(exc)


def forecast_rows(fc_table, truths, base: dict, method: str, ok: bool, problems=()) -> list[dict]:
    rows = []
    for i, t in enumerate(truths):
        r = fc_table.iloc[i]
        rows.append({**base, "target": base["targets"][i], "method": method, "fit_ok": ok, "problems": list(problems),
                     **score(t, r["median"], r["lower"], r["upper"], r["obs_lower"], r["obs_upper"])})
    return rows


def point_rows(pred, truths, base: dict, method: str) -> list[dict]:
    return [{**base, "target": base["targets"][i], "method": method, "fit_ok": pred is not None,
             **score(t, np.nan if pred is None else float(pred[i]))} for i, t in enumerate(truths)]


def direct_case(fit_df, xcol, ycol, targets, truths, base, kw, chance) -> list[dict]:
    floor = floor_for(chance, fit_df[ycol])
    base = {**base, "floor": floor}
    rows = []
    laws = [(LAW, "bayescale direct")]
    if base["task"] in ARITH:
        laws.append(("bnsl1_error", "bayescale direct (bnsl1_error)"))
    for law, method in laws:
        f, err = bayes(fit_df, law, xcol, ycol, kw, floor=floor)
        if f is None:
            rows += [{**base, "target": t, "method": method, "failed": err} for t in targets]
        else:
            rows += forecast_rows(f.forecast(x=list(targets), prob=PROB).table(), truths, base, method,
                                  f.diagnostics().ok, f.diagnostics().problems)
    lsq = fit_sigmoid_lsq(fit_df[xcol], fit_df[ycol], floor=floor)
    rows += point_rows(None if lsq is None else lsq(targets), truths, base, "LSQ sigmoid direct")
    return rows


# ----------------------------------------------------------------------------- obsscaling
def obs_tables(root: Path) -> pd.DataFrame:
    d = pd.read_csv(root / "obsscaling" / "base_llm_benchmark_eval.csv")
    e = pd.read_csv(root / "obsscaling" / "base_llm_emergent_capability_eval.csv")
    d = d.merge(e, on="Model", how="left")
    d["params"] = d["Model Size (B)"] * 1e9
    d["flops"] = d["FLOPs (1E21)"] * 1e21
    for t in ARITH:
        d[t] = d[t].clip(CLIP, 1 - CLIP)
    return d[d["Model"] != "RWKV/rwkv-raven-14b"]


def obs_within_family(d: pd.DataFrame, kw, quick=False) -> list[dict]:
    rows = []
    fams = d.groupby("Model Family")["params"].nunique()
    fams = sorted(fams[fams >= FAMILIES_MIN].index)
    for fam in (["Pythia"] if quick else fams):
        for task in (["ARC-C"] if quick else OBS_TASKS + ARITH):
            g = d[(d["Model Family"] == fam) & d[task].notna()].sort_values("params")
            if g["params"].nunique() < FAMILIES_MIN:
                continue
            top = g["params"].max()
            fit_df, held = g[g["params"] < top], g[g["params"] == top]
            base = {"section": "obsscaling within family", "series": fam, "task": task,
                    "targets": held["params"].tolist(), "n_fit": len(fit_df)}
            rows += direct_case(fit_df, "params", task, held["params"].to_numpy(), held[task].to_numpy(), base, kw,
                                FLOORS[task])
            print(f"  {fam:<13} {task:<22} fit {len(fit_df)}, forecast {top / 1e9:g}B", flush=True)
    return rows


def obs_paper_split(d: pd.DataFrame, kw, quick=False) -> list[dict]:
    rows = []
    for task in (["ARC-C"] if quick else OBS_TASKS + ARITH):
        g = d[d["flops"].notna() & d[task].notna()]
        fit_df, held = g[g["FLOPs (1E21)"] <= PAPER_CUT], g[g["FLOPs (1E21)"] > PAPER_CUT]
        base = {"section": "obsscaling paper split", "series": "all families", "task": task,
                "targets": held["flops"].tolist(), "n_fit": len(fit_df), "models": held["Model"].tolist()}
        rows += direct_case(fit_df, "flops", task, held["flops"].to_numpy(), held[task].to_numpy(), base, kw,
                            FLOORS[task])
        print(f"  paper split {task:<22} fit {len(fit_df)}, forecast {len(held)}", flush=True)
    return rows


# ----------------------------------------------------------------------------- chained cases
def chained_case(f1, stage2_df, lcol, ycol, x_targets, truths, base, kw, chance) -> list[dict]:
    """Stage 2 fitted on ``stage2_df`` (loss -> accuracy), chained after the stage-1 fit ``f1``."""
    floor = floor_for(chance, stage2_df[ycol])
    base = {**base, "floor": floor}
    f2, err = bayes(stage2_df, LAW, lcol, ycol, kw, floor=floor)
    if f2 is None or f1 is None:
        return [{**base, "target": t, "method": "bayescale chained", "failed": err or "stage 1 failed"}
                for t in base["targets"]]
    c = bs.chain(f1, f2, x=x_targets, prob=PROB)
    problems = [f"stage {i}: {p}" for i, f in ((1, f1), (2, f2)) for p in f.diagnostics().problems]
    rows = forecast_rows(c.table(), truths, base, "bayescale chained", c.reliable, problems)
    t = c.table()
    for i, r in enumerate(rows):
        r.update(loss_median=float(t["loss_median"].iloc[i]), horizon_loss=float(t["horizon_loss"].iloc[i]),
                 parts={k: float(t[f"sd_{k}"].iloc[i]) for k in c.forecast.parts},
                 stage2_ok=f2.diagnostics().ok)
    return rows


def pythia(root: Path, kw, quick=False) -> list[dict]:
    d = pd.read_csv(root / "pythia_evals" / "pythia_v1_zero_shot.csv")
    rows = []
    for dedup in ([0] if quick else [0, 1]):
        s = d[d["deduped"] == dedup]
        series = "deduped" if dedup else "standard"
        fin = s[s["step"] == 143000]
        ppl = fin[(fin["task"] == "lambada_openai") & (fin["metric"] == "ppl")].copy()
        ppl["loss"] = np.log(ppl["value"])
        fit_l = ppl[ppl["params_nominal"] <= 2.8e9]
        held_l = ppl[ppl["params_nominal"] > 2.8e9].sort_values("params_nominal")
        targets = held_l["params_nominal"].to_numpy()
        f1, _ = bayes(fit_l, "power_law_offset", "params_nominal", "loss", kw, likelihood="lognormal")
        base = {"section": "pythia", "series": series, "task": "LAMBADA log-ppl (stage 1)",
                "targets": targets.tolist(), "n_fit": len(fit_l)}
        if f1 is not None:
            rows += forecast_rows(f1.forecast(x=targets, prob=PROB).table(), held_l["loss"].to_numpy(), base,
                                  "bayescale stage 1", f1.diagnostics().ok, f1.diagnostics().problems)
        pl = bl.fit_power_law_lsq(x=fit_l["params_nominal"].to_numpy(), y=fit_l["loss"].to_numpy())
        loss_lsq = pl.predict(targets)
        rows += point_rows(loss_lsq, held_l["loss"].to_numpy(), base, "LSQ stage 1")
        ck = s[(s["params_nominal"] <= 2.8e9) & (s["step"] >= 1000)]
        cl = ck[(ck["task"] == "lambada_openai") & (ck["metric"] == "ppl")].set_index(["model", "step"])["value"]
        for task in (["arc_easy", "lambada_openai"] if quick else PY_TASKS):
            acc = fin[(fin["task"] == task) & (fin["metric"] == "acc")]
            fit_a = acc[acc["params_nominal"] <= 2.8e9]
            truth = acc.set_index("params_nominal").loc[targets, "value"].to_numpy()
            base = {"section": "pythia", "series": series, "task": task, "targets": targets.tolist(),
                    "n_fit": len(fit_a)}
            rows += direct_case(fit_a, "params_nominal", "value", targets, truth, base, kw, FLOORS[task])
            ca = ck[(ck["task"] == task) & (ck["metric"] == "acc")].set_index(["model", "step"])["value"]
            s2 = pd.DataFrame({"loss": np.log(cl), "acc": ca}).dropna().reset_index(drop=True)
            rows += chained_case(f1, s2, "loss", "acc", targets, truth, {**base, "n_fit_stage2": len(s2)}, kw,
                                 FLOORS[task])
            lsq2 = fit_sigmoid_lsq(s2["loss"], s2["acc"], down=True, floor=floor_for(FLOORS[task], s2["acc"]))
            rows += point_rows(None if lsq2 is None else lsq2(loss_lsq), truth, base, "LSQ chained")
            print(f"  pythia {series:<8} {task:<15} stage 2 on {len(s2)} checkpoints", flush=True)
    return rows


def gadre(root: Path, kw, quick=False) -> list[dict]:
    err = pd.read_csv(root / "gadre_overtraining" / "downstream_avg_error.csv")
    loss = pd.read_csv(root / "gadre_overtraining" / "losses.csv")
    loss = loss[loss["eval_set"] == "c4_val"][["run", "loss"]]
    d = err.merge(loss, on="run")
    d["acc17"] = 1 - d["err_avg17"]
    floor = gadre_floor(root)
    rows = []
    for corpus in (["rpj"] if quick else ["c4_original", "rpj", "rw_original"]):
        g = d[d["train_dataset"] == corpus]
        fit_df, held = g[g["params"] <= 4.2e8], g[g["params"] > 4.2e8].sort_values(["params", "tokens"])
        targets = held["flops"].to_numpy()
        truth = held["acc17"].to_numpy()
        base = {"section": "gadre", "series": corpus, "task": "17-task avg accuracy", "targets": targets.tolist(),
                "n_fit": len(fit_df), "runs": held["run"].tolist()}
        rows += direct_case(fit_df, "flops", "acc17", targets, truth, base, kw, floor)
        f1, _ = bayes(fit_df, "chinchilla", ["params", "tokens"], "loss", kw, likelihood="lognormal")
        xin = {"N": held["params"].to_numpy(), "D": held["tokens"].to_numpy()}
        if f1 is not None:
            lb = {**base, "task": "C4-eval loss (stage 1)"}
            rows += forecast_rows(f1.forecast(x=xin, prob=PROB).table(), held["loss"].to_numpy(), lb,
                                  "bayescale stage 1", f1.diagnostics().ok, f1.diagnostics().problems)
        rows += chained_case(f1, fit_df, "loss", "acc17", xin, truth, base, kw, floor)
        print(f"  gadre {corpus:<12} fit {len(fit_df)}, forecast {len(held)}", flush=True)
    return rows


# ----------------------------------------------------------------------------- tables
def _agg(rs: list[dict]) -> str:
    ok = [r for r in rs if "failed" not in r]
    ae = np.array([r["abs_err"] for r in ok if np.isfinite(r["abs_err"])])
    o = [r["in90_obs"] for r in ok if r["in90_obs"] is not None]
    la = [r["in90_law"] for r in ok if r["in90_law"] is not None]
    w = [r["obs_upper"] - r["obs_lower"] for r in ok if np.isfinite(r["obs_lower"])]
    fits = [r["fit_ok"] for r in ok]
    cov = lambda v: f"{np.mean(v):.2f} ({sum(v)}/{len(v)})" if v else "n/a"  # noqa: E731
    width = f"{np.mean(w):.3f}" if w else "n/a"
    return (f"{len(rs)} | {np.mean(ae):.4f} | {np.median(ae):.4f} | {cov(o)} | {width} | {cov(la)} | "
            f"{sum(fits)}/{len(rs)}" if ae.size else f"{len(rs)} | n/a | n/a | n/a | n/a | n/a | 0/{len(rs)}")


HEAD = ("| {k} | method | points | mean abs err | median abs err | cov90 new obs | mean width90 new obs | cov90 law "
        "| fits ok |\n|---|---|---|---|---|---|---|---|---|")


def table(rows: list[dict]) -> str:
    out = []
    for section in dict.fromkeys(r["section"] for r in rows):
        rs = [r for r in rows if r["section"] == section]
        out.append(f"\n### {section}\n\n" + HEAD.format(k="task"))
        methods = list(dict.fromkeys(r["method"] for r in rs))
        for task in ["all"] + list(dict.fromkeys(r["task"] for r in rs)):
            for m in methods:
                sel = [r for r in rs if r["method"] == m and (task == "all" or r["task"] == task)]
                if task == "all" and "stage 1" in m:
                    continue
                if sel:
                    out.append(f"| {task} | {m} | {_agg(sel)} |")
    out.append("\n### every forecast point but the paper split's (truth, median [90% new-observation interval])\n")
    out.append("| section | series | task | target | truth | bayescale direct | bayescale chained | LSQ direct | LSQ chained "
               "| bnsl1_error direct |")
    out.append("|---|---|---|---|---|---|---|---|---|---|")
    key = lambda r: (r["section"], r["series"], r["task"], r["target"])  # noqa: E731
    cells: dict = {}
    for r in rows:
        if r["section"] != "obsscaling paper split":  # 46 models per task: in rows.jsonl, not here
            cells.setdefault(key(r), {})[r["method"]] = r
    for k, by in cells.items():
        def c(m):
            r = by.get(m)
            if r is None:
                return ""
            if "failed" in r:
                return "failed"
            s = f"{r['median']:.3f}"
            if np.isfinite(r["obs_lower"]):
                s += f" [{r['obs_lower']:.3f}, {r['obs_upper']:.3f}]" + ("" if r["fit_ok"] else " NOT OK")
            return s
        truth = next((r["truth"] for r in by.values() if "truth" in r), np.nan)
        first = c("bayescale direct") or c("bayescale stage 1")
        out.append(f"| {k[0]} | {k[1]} | {k[2]} | {k[3]:.3g} | {truth:.3f} | {first} | {c('bayescale chained')} | "
                   f"{c('LSQ sigmoid direct') or c('LSQ stage 1')} | {c('LSQ chained')} | "
                   f"{c('bayescale direct (bnsl1_error)')} |")
    return "\n".join(out)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="smoke test: one case per section, 2 chains x 100 draws")
    p.add_argument("--out", type=Path, default=HERE / "results" / "downstream", help="output folder")
    p.add_argument("--sections", nargs="+", default=["family", "paper", "pythia", "gadre"],
                   choices=["family", "paper", "pythia", "gadre"], help="which parts to run (default all)")
    a = p.parse_args(argv)
    root = bs.data_dir()
    kw = dict(draws=500, tune=1000, chains=4, cores=2, target_accept=0.95, seed=0, progressbar=False)
    if a.quick:
        kw.update(draws=100, tune=100, chains=2)
    a.out.mkdir(parents=True, exist_ok=True)
    warnings.filterwarnings("ignore")
    t0 = time.time()
    rows: list[dict] = []
    d = obs_tables(root)
    steps = {"family": lambda: obs_within_family(d, kw, a.quick), "paper": lambda: obs_paper_split(d, kw, a.quick),
             "pythia": lambda: pythia(root, kw, a.quick), "gadre": lambda: gadre(root, kw, a.quick)}
    for s in a.sections:
        print(f"{s}:", flush=True)
        rows += steps[s]()
    with open(a.out / "rows.jsonl", "w") as fh:
        for r in rows:
            fh.write(json.dumps(r, default=float) + "\n")
    t = table(rows)
    t += (f"\n\n{len(rows)} forecast rows; {time.time() - t0:.0f} s; sampling {kw['chains']} chains x "
          f"{kw['draws']} draws, {kw['tune']} tuning steps, target_accept {kw['target_accept']}, seed 0")
    (a.out / "table.md").write_text(t + "\n")
    print(t)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
