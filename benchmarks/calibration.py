"""Calibration of forecast intervals on real held-out points, before and after extrapolation uncertainty.

For every curve of the extrapolation benchmark (revisiting_nsl, double_descent, nanogpt_embd;
the benchmark's own fit / held-out split), bayescale compares ``power_law_offset`` and ``bnsl1``
on the fit points and forecasts the held-out points from the stacked mixture (the recommended
forecast).  From one set of fits, each held-out point is scored twice:

* **before**: parameter and noise uncertainty only (``discrepancy="off"``, bayescale 0.1);
* **after**: plus the extrapolation uncertainty of :mod:`bayescale.spec.discrepancy`, with values
  learned **without the data set being scored** (leave-one-dataset-out, see
  ``benchmarks/learn_discrepancy.py``; for a revisiting_nsl family, without all of revisiting_nsl
  and without colpret's copies of its LM curves).

Printed: coverage of the 50/80/90/95% intervals of a new observation, NSL-PFN's mean squared
calibration error (MSCE: mean of (observed - nominal coverage)^2 over levels 0.50, 0.51, ..., 0.99),
the mean held-out lpd on the y scale (and under NSL-PFN's protocol: y divided by the largest fitted
y for double descent and nanoGPT), and RMSLE of the median, by group and by extrapolation distance.
Writes ``table.md``, ``points.csv``, ``curves.jsonl`` and ``calibration.png`` (observed against nominal
coverage per group) to ``--out``.

Usage: ``python benchmarks/calibration.py`` (all 132 curves, 2 Dask workers);
``--every K`` for every K-th curve per domain; ``--quick`` (3 curves, small draws, CI).
``--backtest`` also refits each law on its own fit points below the largest scales and scores
variants whose discrepancy is scaled per curve by that self-backtest (tried, not adopted: see
benchmarks/README.md).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import pickle
import re
import sys
import time
import warnings
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import pandas as pd
from scipy.special import logsumexp

import bayescale as bs
from bayescale.evaluate.many import dask_map
from bayescale.spec.data import Dataset
from bayescale.spec.discrepancy import OFF, Discrepancy, autocorrelation_factor
from bayescale.spec.likelihoods import get_likelihood

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from extrapolation import GROUP, GROUPS, load_curves, select_curves  # noqa: E402
from learn_discrepancy import (excluded_for, fit_discrepancy, forecast_errors, leave_one_out,  # noqa: E402
                               load_corpus, write_table)

LAWS = ("power_law_offset", "bnsl1")
LEVELS = np.round(np.arange(0.50, 0.995, 0.01), 2)
SHOW = (0.5, 0.8, 0.9, 0.95)
DATASET = {"IC": "revisiting_nsl:IC", "NMT": "revisiting_nsl:NMT", "LM": "revisiting_nsl:LM",
           "BB": "revisiting_nsl:BB", "DD": "double_descent", "Nano": "nanogpt_embd", "ColPreT": "colpret_curves"}
#: NSL-PFN scores double descent and nanoGPT after dividing y by the largest fitted y
SCALED = ("DD", "Nano")
QUICK = ("IC|cal_5|BiT/50/1", "DD|df4k", "Nano|final_val_loss|0")
BINS = (0.0, 0.1, 0.25, 0.5, 1.0, np.inf)
#: the settings a cached fit is keyed by
KEY = ("laws", "draws", "tune", "chains", "seed", "backtest")
#: widen each law's forecast by its own residual autocorrelation only (nothing learned from the corpus)
AUTOCORRELATION = Discrepancy("autocorrelation", 0.0, 0.0, "the fit's residual autocorrelation", "relative", True)
#: sd of the prior on log lambda, the curve's own scale of the extrapolation uncertainty (--backtest)
LAMBDA_SD = 1.0


def _cache_path(cache: Path, name: str) -> Path:
    return cache / (re.sub(r"[^A-Za-z0-9._=-]+", "_", name) + ".pkl")


def fit_curve(job: tuple[Any, dict[str, Any]]) -> dict[str, Any]:
    """Compare the laws on a curve's fit points; return each law's draws at the held-out points.

    The result is kept in ``cfg["cache"]`` (a pickle per curve, keyed by the settings), so rescoring
    with other discrepancies needs no refit (``--reuse``)."""
    warnings.simplefilter("ignore")  # worker process: ArviZ's small-sample warnings are not this benchmark's
    curve, cfg = job
    cached = _cache_path(Path(cfg["cache"]), curve.name)
    if cfg.get("reuse") and cached.is_file():
        res = pickle.loads(cached.read_bytes())
        if res.get("cfg") == {k: cfg.get(k) for k in KEY} and all("rho" in v for v in res["laws"].values()):
            return res
    t0 = time.perf_counter()
    ds = Dataset(inputs={"x": curve.x_fit}, y=curve.y_fit, columns={"x": "x", "y": "y"}, source=curve.name)
    laws = [l for l in cfg["laws"] if len(bs.get_law(l).sampled) <= len(np.unique(curve.x_fit))]
    out: dict[str, Any] = {"curve": curve.name, "domain": curve.domain, "x_test": curve.x_test,
                           "y_test": curve.y_test, "x_fit_max": float(curve.x_fit.max()),
                           "y_fit_max": float(curve.y_fit.max()), "laws": {}}
    if len(laws) >= 2:
        c = bs.compare(ds, laws=laws, lfo=False, max_refits=0, draws=cfg["draws"], tune=cfg["tune"],
                       chains=cfg["chains"], seed=cfg["seed"], cores=1, progressbar=False)
        fits, weights = c.fits, c.weights
    else:
        f = bs.fit(ds, law=laws[0], draws=cfg["draws"], tune=cfg["tune"], chains=cfg["chains"], seed=cfg["seed"],
                   cores=1, progressbar=False)
        fits, weights = {laws[0]: f}, {laws[0]: 1.0}
    for name, f in fits.items():
        out["laws"][name] = {"weight": float(weights.get(name, 0.0)), "ok": bool(f.diagnostics().ok),
                             "mu": f.expected({"x": curve.x_test}),
                             "noise": f.draws(f.likelihood.noise_names), "likelihood": f.likelihood.name,
                             "rho": f.residual_autocorrelation}
    if cfg.get("backtest"):
        out["backtest"] = _self_backtest(ds, fits, weights)
    out["seconds"] = time.perf_counter() - t0
    out["cfg"] = {k: cfg.get(k) for k in KEY}
    cached.write_bytes(pickle.dumps(out))
    return out


def _self_backtest(ds: Dataset, fits: dict[str, Any], weights: dict[str, float]) -> dict[str, Any]:
    """The curve's own leave-future-out backtest inside its fit points: each stacked law refitted on all
    but the largest scales (:func:`bayescale.evaluate.lfo.lfo_refit`), its draws at those scales.

    In the same shape as a fit result, so :func:`predictive_summary` gives its log errors and sds."""
    from bayescale.evaluate.lfo import lfo_refit, lfo_split

    train, _ = lfo_split(ds)  # the same split as each law's refit below
    x = np.asarray(ds.inputs["x"], float)
    bt: dict[str, Any] = {"x_test": x[~train], "y_test": np.asarray(ds.y, float)[~train],
                          "x_fit_max": float(x[train].max()), "laws": {}}
    for name, f in fits.items():
        if weights.get(name, 0.0) <= 0:
            continue
        _, _, rf = lfo_refit(f)
        if isinstance(rf, Exception):  # too few scales left for this law: the others carry the backtest
            continue
        bt["laws"][name] = {"weight": float(weights[name]), "ok": bool(rf.diagnostics().ok),
                            "mu": rf.expected({"x": x[~train]}), "noise": rf.draws(rf.likelihood.noise_names),
                            "likelihood": rf.likelihood.name}
    return bt


def score(res: dict[str, Any], disc: Discrepancy | Callable[..., np.ndarray], *, seed: int = 0,
          draws: int = 4000) -> pd.DataFrame:
    """Per held-out point: PIT of y under the stacked predictive, lpd, and the median, for one discrepancy.

    ``disc`` may also be a function ``tau(h, sd_param, sd_noise, rho)`` giving the discrepancy's sd of log y
    per point from the law's own parts (the tried forms of ``benchmarks/discrepancy_variants.py``)."""
    rng = np.random.default_rng(seed)
    y, x = np.asarray(res["y_test"], float), np.asarray(res["x_test"], float)
    h = np.clip(np.log10(x / res["x_fit_max"]), 0, None)
    laws = {k: v for k, v in res["laws"].items() if v["weight"] > 0}
    wsum = sum(v["weight"] for v in laws.values())
    ynew, lp, med_draws = [], [], []
    for name, v in laws.items():
        w = v["weight"] / wsum
        lik = get_likelihood(v["likelihood"])
        mu = np.asarray(v["mu"], float)
        noise = {k: np.asarray(a, float) for k, a in v["noise"].items()}
        with np.errstate(all="ignore"):  # the forecast's own sd of log y, as bayescale.inference.forecast
            sd_param, sd_noise = np.std(np.log(mu), axis=0), float(np.median(noise["sigma"]))
        rho = v.get("rho", 0.0)
        tau = disc(h, sd_param, sd_noise, rho) if callable(disc) else \
            disc.for_fit(rho).sd(h, np.sqrt(sd_param ** 2 + sd_noise ** 2))
        half = rng.standard_normal(((mu.shape[0] + 1) // 2, mu.shape[1]))  # antithetic, as the forecasts
        exp_ = mu * np.exp(tau[None, :] * np.concatenate([half, -half])[: mu.shape[0]])
        sims = lik.draw(exp_, noise, rng)
        take = rng.choice(sims.shape[0], size=max(1, int(round(w * draws))), replace=True)
        ynew.append(sims[take])
        med_draws.append(exp_[take])
        ll = lik.logpdf(y[None, :], exp_, {k: a[:, None] for k, a in noise.items()})
        lp.append(np.log(w) + logsumexp(ll, axis=0) - np.log(ll.shape[0]))
    ynew_all = np.concatenate(ynew)
    pit = np.mean(ynew_all <= y[None, :], axis=0) + 0.5 * np.mean(ynew_all == y[None, :], axis=0)
    lpd = logsumexp(np.stack(lp), axis=0)
    median = np.median(np.concatenate(med_draws), axis=0)
    scale = np.log(res["y_fit_max"]) if res["domain"] in SCALED else 0.0
    return pd.DataFrame({"curve": res["curve"], "domain": res["domain"], "group": GROUP[res["domain"]],
                         "dataset": DATASET[res["domain"]], "x": x, "y": y, "horizon": h, "pit": pit,
                         "lpd": lpd, "lpd_nslpfn": lpd + scale, "log_err": np.log(median) - np.log(y)})


def predictive_summary(res: dict[str, Any], *, seed: int = 0, draws: int = 4000) -> pd.DataFrame:
    """Per held-out point: mean and sd of log y under the stacked predictive without a discrepancy."""
    rng = np.random.default_rng(seed)
    y, x = np.asarray(res["y_test"], float), np.asarray(res["x_test"], float)
    laws = {k: v for k, v in res["laws"].items() if v["weight"] > 0}
    wsum = sum(v["weight"] for v in laws.values())
    sims = []
    for v in laws.values():
        lik = get_likelihood(v["likelihood"])
        noise = {k: np.asarray(a, float) for k, a in v["noise"].items()}
        d = lik.draw(np.asarray(v["mu"], float), noise, rng)
        sims.append(d[rng.choice(d.shape[0], size=max(1, int(round(v["weight"] / wsum * draws))), replace=True)])
    with np.errstate(all="ignore"):
        ly = np.log(np.concatenate(sims))
    ly = np.where(np.isfinite(ly), ly, np.nan)
    return pd.DataFrame({"curve": res["curve"], "dataset": DATASET[res["domain"]], "group": GROUP[res["domain"]],
                         "x": x, "horizon": np.clip(np.log10(x / res["x_fit_max"]), 0, None),
                         "err": np.log(y) - np.nanmean(ly, axis=0), "sd": np.nanstd(ly, axis=0)})


def learn_from_backtests(summ: pd.DataFrame, form: str = "absolute",
                         lam: dict[str, float] | None = None) -> tuple[float, float]:
    """``(s0, kappa)`` maximising the Gaussian held-out likelihood of the stacked forecasts' log errors,
    ``err ~ N(0, sd^2 + tau^2)`` with ``tau = lambda_c b (s0 + kappa h)`` (``b = sd`` in the relative form,
    else 1; ``lambda_c`` the curve's own scale from ``lam``, else 1), each curve weighted equally."""
    d = summ[np.isfinite(summ["err"]) & np.isfinite(summ["sd"])]
    w = 1.0 / d.groupby("curve")["err"].transform("size").to_numpy()
    mult = 1.0 if lam is None else d["curve"].map(lam).fillna(1.0).to_numpy()
    return fit_discrepancy(d["err"].to_numpy(), d["horizon"].to_numpy(), d["sd"].to_numpy(), w, form, mult)


def backtest_lodo(summ: pd.DataFrame, form: str = "absolute",
                  lam: dict[str, float] | None = None) -> dict[str, Discrepancy]:
    """For each data set, the discrepancy learned from the other data sets' backtests."""
    out = {}
    for ds in sorted(summ["dataset"].unique()):
        train = summ[~summ["dataset"].isin(excluded_for(ds))]
        out[ds] = Discrepancy(f"backtest-lodo:{ds}", *learn_from_backtests(train, form, lam),
                              "backtests without this dataset", form)
    return out


def backtest_scale(bt: pd.DataFrame, disc: Discrepancy, *, prior_sd: float = LAMBDA_SD,
                   stat: str = "geometric") -> float:
    """The curve's own multiplier ``lambda`` of the discrepancy, from its self-backtest.

    ``bt``: the backtest's log errors ``err``, predictive sds ``sd`` and ``horizon`` (decades beyond the
    backtest's training points).  Model: ``err ~ N(0, sd^2 + lambda^2 tau^2)`` with ``tau = disc.sd(h, sd)``,
    prior ``log lambda ~ N(0, prior_sd^2)`` (lambda = 1 is the corpus's average curve); the points count
    together as one observation per distinct held-back scale, since their errors move together.  Returns
    ``exp(E[log lambda])`` (``stat="geometric"``: 1 with no backtest, the corpus's own calibration) or
    ``sqrt(E[lambda^2])`` (``"rms"``), on a grid (no library does a 1-D posterior of this form in one call)."""
    d = bt[np.isfinite(bt["err"]) & np.isfinite(bt["sd"]) & (bt["sd"] > 0)]
    if d.empty:
        return 1.0
    grid = np.linspace(-5.0, 3.0, 801)
    lam = np.exp(grid)[:, None]
    e, sd = d["err"].to_numpy()[None, :], d["sd"].to_numpy()[None, :]
    tau = disc.sd(np.maximum(d["horizon"].to_numpy(), 1e-9), d["sd"].to_numpy())[None, :]
    var = sd ** 2 + lam ** 2 * tau ** 2
    wfac = d["x"].nunique() / len(d)
    logp = wfac * np.sum(-0.5 * np.log(var) - 0.5 * e ** 2 / var, axis=1) - 0.5 * (grid / prior_sd) ** 2
    post = np.exp(logp - logp.max())
    post /= post.sum()
    if stat == "rms":
        return float(np.sqrt(np.sum(post * lam[:, 0] ** 2)))
    return float(np.exp(np.sum(post * grid)))


def distance_bin(horizon: pd.Series) -> pd.Series:
    """Each point's bin of decades beyond the data (:data:`BINS`), labelled ``[lo, hi)``."""
    return pd.cut(horizon, BINS, right=False, labels=[f"[{lo:g}, {hi:g})" for lo, hi in zip(BINS[:-1], BINS[1:])])


def coverage(pit: np.ndarray, level: float) -> float:
    lo, hi = (1 - level) / 2, 1 - (1 - level) / 2
    return float(np.mean((pit >= lo) & (pit <= hi)))


def summary(points: pd.DataFrame, by: str) -> pd.DataFrame:
    rows = []
    for key, d in points.groupby(by, sort=False, observed=True):
        cov = {lv: coverage(d["pit"].to_numpy(), lv) for lv in LEVELS}
        curves = d.groupby("curve")
        rows.append({by: key, "curves": curves.ngroups, "points": len(d),
                     **{f"cov{int(round(lv * 100))}": cov[lv] for lv in SHOW},
                     "msce": float(np.mean([(cov[lv] - lv) ** 2 for lv in LEVELS])),
                     # each curve's coverage, then averaged (the pooled figures weight curves by their length)
                     **{f"cov{int(round(lv * 100))}_curves": float(curves["pit"].apply(
                         lambda p, lv=lv: coverage(p.to_numpy(), lv)).mean()) for lv in (0.5, 0.9)},
                     # per curve first, then averaged (as the extrapolation benchmark does)
                     "lpd": float(curves["lpd"].mean().mean()),
                     "lpd_nslpfn": float(curves["lpd_nslpfn"].mean().mean()),
                     "rmsle": float(curves["log_err"].apply(lambda e: np.sqrt(np.mean(e ** 2))).mean())})
    return pd.DataFrame(rows)


def markdown(before: pd.DataFrame, after: pd.DataFrame, by: str) -> str:
    cols = ["cov50", "cov80", "cov90", "cov95", "msce", "lpd", "lpd_nslpfn", "rmsle"]
    head = f"| {by} | curves | points | " + " | ".join(f"{c} before / after" for c in cols) + " |"
    lines = [head, "|" + "---|" * (3 + len(cols))]
    b = before.set_index(by)
    for _, r in after.iterrows():
        k = r[by]
        cells = [f"{b.loc[k, c]:.3f} / {r[c]:.3f}" if c != "msce" else f"{b.loc[k, c]:.4f} / {r[c]:.4f}" for c in cols]
        lines.append(f"| {k} | {int(r['curves'])} | {int(r['points'])} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def plot(points: dict[str, pd.DataFrame], path: Path) -> Path:
    import matplotlib.pyplot as plt  # deferred: plotting only

    groups = [g for g in GROUPS if g in set(points["after"]["group"])]
    fig, axes = plt.subplots(1, len(groups), figsize=(3.4 * len(groups), 3.4), squeeze=False,
                             layout="constrained")
    for ax, g in zip(axes[0], groups):
        ax.plot([0.5, 1], [0.5, 1], color="0.6", lw=1, ls="--")
        for label, pts, color in (("before", points["before"], "tab:red"), ("after", points["after"], "tab:blue")):
            pit = pts.loc[pts["group"] == g, "pit"].to_numpy()
            ax.plot(LEVELS, [coverage(pit, lv) for lv in LEVELS], color=color, label=label)
        ax.set_title(g, fontsize=9)
        ax.set_xlabel("nominal coverage")
    axes[0][0].set_ylabel("observed coverage (new observation)")
    axes[0][0].legend(fontsize=8)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help=f"{len(QUICK)} curves, 2 chains x 300 draws, no Dask (CI)")
    p.add_argument("--every", type=int, default=1, help="every k-th curve per domain (default 1: all)")
    p.add_argument("--workers", type=int, default=2, help="Dask worker processes (default 2)")
    p.add_argument("--draws", type=int, default=None, help="draws per chain (default 500; 300 with --quick)")
    p.add_argument("--chains", type=int, default=None, help="chains (default 4; 2 with --quick)")
    p.add_argument("--seed", type=int, default=0, help="seed of the fits and of the scoring draws")
    p.add_argument("--reuse", action="store_true", help="reuse the fits cached in OUT/cache by an earlier run")
    p.add_argument("--write-table", action="store_true",
                   help="write bayescale/spec/discrepancy.csv from these backtests (all data sets)")
    p.add_argument("--form", choices=("absolute", "relative"), default="relative",
                   help="form of the discrepancy --write-table learns (default relative)")
    p.add_argument("--autocorrelation", action="store_true",
                   help="with --write-table: learn the rows on top of each fit's residual autocorrelation factor "
                        "(relative form) and mark them to use it")
    p.add_argument("--backtest", action="store_true",
                   help="also refit each law below the largest fitted scales (its own leave-future-out backtest) "
                        "and score a variant whose discrepancy is scaled per curve by that backtest")
    p.add_argument("--out", type=Path, default=HERE / "results" / "calibration", help="output folder")
    a = p.parse_args(argv)
    curves = load_curves()
    if a.quick:
        byname = {c.name: c for c in curves}
        curves = [byname[n] for n in QUICK]
    else:
        curves = select_curves(curves, every=a.every, every_other=a.every)
    (a.out / "cache").mkdir(parents=True, exist_ok=True)
    cfg = {"laws": LAWS, "draws": a.draws or (300 if a.quick else 500), "tune": 300 if a.quick else 1000,
           "chains": a.chains or (2 if a.quick else 4), "seed": a.seed, "cache": str(a.out / "cache"),
           "reuse": a.reuse, "backtest": a.backtest}
    lsq = {ds: Discrepancy(f"lsq-lodo:{ds}", *v, "least-squares corpus without this dataset")
           for ds, v in leave_one_out(forecast_errors(load_corpus())).items()}
    print(f"{len(curves)} curves; settings {cfg}", file=sys.stderr)
    jobs = [(c, cfg) for c in curves]
    t0 = time.perf_counter()
    results = (fit_curve(j) for j in jobs) if (a.quick or a.workers <= 1) else \
        dask_map(fit_curve, jobs, n_workers=a.workers)
    done = []
    with (a.out / "curves.jsonl").open("w") as fh:
        for i, res in enumerate(results, start=1):
            done.append(res)
            fh.write(json.dumps({"curve": res["curve"], "seconds": res["seconds"],
                                 "weights": {k: v["weight"] for k, v in res["laws"].items()},
                                 "ok": {k: v["ok"] for k, v in res["laws"].items()},
                                 "rho": {k: v["rho"] for k, v in res["laws"].items()}}) + "\n")
            print(f"[{i}/{len(jobs)} {time.perf_counter() - t0:.0f}s] {res['curve']} ({res['seconds']:.0f}s)",
                  file=sys.stderr, flush=True)
    # the discrepancy learned from the other data sets' backtests of this very forecast (leave-one-dataset-out)
    summ = pd.concat([predictive_summary(r, seed=a.seed) for r in done], ignore_index=True)
    summ.to_csv(a.out / "backtests.csv", index=False)
    bt = backtest_lodo(summ) if summ["dataset"].nunique() > 1 else {}
    rel = backtest_lodo(summ, "relative") if summ["dataset"].nunique() > 1 else {}
    variants = {"before": lambda r: OFF, "lsq": lambda r: lsq[DATASET[r["domain"]]]}
    if bt:
        variants["backtest"] = lambda r: bt[DATASET[r["domain"]]]
        variants["relative"] = lambda r: rel[DATASET[r["domain"]]]
    # the fit's own residual autocorrelation (nothing learned), and that with a relative table learned on top
    variants["autocorrelation"] = lambda r: AUTOCORRELATION
    # each curve's autocorrelation factor, from its laws' residual autocorrelations weighted as stacked
    k = {r["curve"]: autocorrelation_factor(sum(v["weight"] * v["rho"] for v in r["laws"].values())
                                            / max(sum(v["weight"] for v in r["laws"].values()), 1e-12))
         for r in done}
    if rel:
        rel_ar = {ds: dataclasses.replace(d, autocorrelation=True)
                  for ds, d in backtest_lodo(summ.assign(sd=summ["sd"] * summ["curve"].map(k)), "relative").items()}
        variants["autocorrelation+relative"] = lambda r: rel_ar[DATASET[r["domain"]]]
    if rel and a.backtest:
        # each curve's own backtest, summarised once; lambda under the leave-one-dataset-out table ``disc``
        own_bt = {r["curve"]: predictive_summary({**r["backtest"], "curve": r["curve"], "domain": r["domain"]},
                                                 seed=a.seed)
                  for r in done if (r.get("backtest") or {}).get("laws")}

        def scales(table, **kw):
            return {r["curve"]: backtest_scale(own_bt[r["curve"]], table[DATASET[r["domain"]]], **kw)
                    if r["curve"] in own_bt else 1.0 for r in done}

        def scaled(factor, table):
            return lambda r: (lambda d: Discrepancy("self", d.s0 * factor[r["curve"]], d.kappa * factor[r["curve"]],
                                                    "self-backtest", d.form))(table[DATASET[r["domain"]]])
        lam, lam_rms = scales(rel), scales(rel, stat="rms")
        variants["self-backtest"] = scaled(lam, rel)
        variants["self-backtest-rms"] = scaled(lam_rms, rel)
        # learned jointly: (s0, kappa) refitted, leave-one-dataset-out, with each training curve's own lambda,
        # and lambda recomputed under them (a few rounds of this fixed point)
        joint, lam_j = rel, dict(lam)
        for _ in range(3):
            joint = backtest_lodo(summ, "relative", lam_j)
            lam_j = scales(joint)
        pd.DataFrame({"lambda": lam, "lambda_rms": lam_rms, "lambda_joint": lam_j}).to_csv(a.out / "lambda.csv")
        variants["self-backtest-joint"] = scaled(lam_j, joint)
        text_joint = "; ".join(f"{k}: s0={v.s0:.3f} kappa={v.kappa:.3f}" for k, v in sorted(joint.items()))
        print(f"joint (leave-one-dataset-out) values: {text_joint}", file=sys.stderr)
    points = {k: pd.concat([score(r, f(r), seed=a.seed) for r in done], ignore_index=True) for k, f in variants.items()}
    for frame in points.values():
        frame["distance"] = distance_bin(frame["horizon"])
    after = "autocorrelation+relative" if rel else "lsq"  # the default since 2026-12-03
    points["before"].assign(**{f"pit_{k}": v["pit"] for k, v in points.items()}).to_csv(a.out / "points.csv",
                                                                                       index=False)
    text = ["discrepancy values used (leave-one-dataset-out): "
            + "; ".join(f"{ds}: lsq s0={lsq[ds].s0:.4f} kappa={lsq[ds].kappa:.4f}"
                        + (f", backtest s0={bt[ds].s0:.4f} kappa={bt[ds].kappa:.4f}" if ds in bt else "")
                        + (f", relative s0={rel[ds].s0:.3f} kappa={rel[ds].kappa:.3f}" if ds in rel else "")
                        + (f", autocorrelation+relative s0={rel_ar[ds].s0:.3f} kappa={rel_ar[ds].kappa:.3f}"
                           if ds in rel else "")
                        for ds in sorted(set(points["before"]["dataset"])))]
    for name in [k for k in points if k != "before"]:
        for by in ("group", "dataset", "distance"):
            text.append(f"### before / after ({name}-learned discrepancy), by {by}\n\n"
                        + markdown(summary(points["before"], by), summary(points[name], by), by))
    table = "\n\n".join(text)
    (a.out / "table.md").write_text(table + "\n")
    print(table)
    fig = plot({"before": points["before"], "after": points[after]}, a.out / "calibration.png")
    if a.write_table:
        form, ac = a.form, a.autocorrelation
        learn_on = summ.assign(sd=summ["sd"] * summ["curve"].map(k)) if ac else summ
        what = "backtests (sd times each fit's autocorrelation factor) of" if ac else "backtests of"
        rows = [("default", *learn_from_backtests(learn_on, form), f"{what} {summ['curve'].nunique()} curves", form,
                 int(ac))]
        for g, d in learn_on.groupby("group"):
            rows.append((g, *learn_from_backtests(d, form), f"{what} {d['curve'].nunique()} {g} curves", form, int(ac)))
        cols = ["name", "s0", "kappa", "source", "form", "autocorrelation"]
        print(f"wrote {write_table(pd.DataFrame(rows, columns=cols))}")
    print(f"\nfigure: {fig}; total {time.perf_counter() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
