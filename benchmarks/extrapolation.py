r"""Extrapolation benchmark: bayescale against the least-squares reference methods, side by side.

Curves and splits (each as its SOURCE.md describes):

* ``revisiting_nsl`` (Alabdulmohsin et al. 2022): 92 learning curves, domains IC (image
  classification), NMT, LM, BB (BIG-bench); fit the ``split == "fit"`` points, predict the
  ``extrapolate`` points (the benchmark's own split).
* ``double_descent`` (NSL-PFN's "DD" set, 16 curves): fit the ``split_nslpfn == "fit"`` points (the
  first half), predict the rest.
* ``nanogpt_embd`` (NSL-PFN's "Nano" set, 2 files x 12 configurations = 24 curves): fit the first 6
  widths, predict n_embd = 384.

Every metric in the benchmark is positive (checked when loading), so every bayescale fit uses the
default log-normal likelihood; a curve with a zero or negative value would be fitted with
``likelihood="normal"`` instead (and flagged in the output).

For each curve bayescale fits each law family on its own -- ``power_law_offset``, ``bnsl1`` and, where
the fit points have at least 9 distinct scales, ``bnsl2`` -- through :func:`bayescale.evaluate.compare.compare`
(nutpie; each worker process compiles each law once and swaps the data in).  Two bayescale forecasts
are scored: **stacked** (below; the forecast bayescale recommends) and the **chosen law**, the single
law that ``compare`` recommends (``Comparison.recommended``), picked by leave-future-out on the fit
points (best LFO mean lpd of the largest ``min(3, max(1, round(0.2 m)))`` fit scales, ties within one
se to the simplest law); when LFO cannot score every law (a short curve has too few training scales
for the richer laws), ``compare`` recommends by PSIS-LOO over all the laws instead, and the row
records which rule chose.  Exact LOO
refits are switched off (``max_refits=0``).  **Stacked** is :meth:`bayescale.evaluate.compare.Comparison.forecast`:
the mixture of the laws' posterior predictive distributions with ``az.compare``'s stacking weights (from
PSIS-LOO on the fit points), so no single law is bet on; its held-out lpd is the mixture's,
``log sum_k w_k exp(lpd_k)``.

Metrics on the held-out points, per curve, then averaged per domain:

* ``rmsle``: ``sqrt(mean((log yhat - log y)^2))`` with ``yhat`` the posterior median of the law's
  expected value (the metric of Alabdulmohsin et al. 2022, BNSL and NSL-PFN);
* ``lpd``: mean over held-out points of ``log (1/S) sum_s p(y_j | theta_s)``, the log predictive
  density of ``y`` on its original scale (log-normal density ``scipy.stats.lognorm(s=sigma,
  scale=mu)``), as NSL-PFN reports its log-likelihood;
* coverage of the 50% and 90% equal-tailed intervals for a new observation (``obs_lower/obs_upper``)
  and for the expected value (``lower/upper``);
* wall time: each worker first fits each law twice to a simulated 30-point curve; the first fit
  includes compiling, so ``compile = t_first - t_second``; per-curve times are then warm (sampling,
  LFO refits and LOO; plus the baselines' time separately).

Baselines (``benchmarks/baselines.py``): BNSL grid + Levenberg-Marquardt on ``log(y+1)``, M4, and a
least-squares power law with offset on ``log y``; they give point predictions only (lpd and
coverage "–").

Usage::

    python benchmarks/extrapolation.py --quick                 # CI: 4 curves, 2 laws, small draws
    python benchmarks/extrapolation.py                          # all 132 curves, 2 worker processes
    python benchmarks/extrapolation.py --every 3                # every 3rd revisiting_nsl curve per domain
    python benchmarks/extrapolation.py --aggregate-only         # rebuild table/figure from rows.jsonl

Outputs in ``--out`` (default ``benchmarks/results/extrapolation/``): ``rows.jsonl`` (one record per
curve and method, written as curves finish), ``timings.jsonl`` (one record per curve, written as
curves finish: wall time and the worker's compile measurements), ``table.md``, ``per_curve.csv`` and
``extrapolation.png``. Both ``.jsonl`` files survive an interrupted run; ``--append`` finishes it.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from bayescale.evaluate.many import dask_map

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

#: Domain -> group used for the published comparison.
GROUP = {"IC": "image classification", "NMT": "language", "LM": "language", "BB": "language",
         "DD": "double descent", "Nano": "nanoGPT width", "ColPreT": "colpret"}  # colpret: learn_discrepancy.py
GROUPS = ("image classification", "language", "double descent", "nanoGPT width")
#: Published figures to compare with: (method, group) -> (RMSLE, mean held-out log-likelihood or None).
PUBLISHED = {
    ("BNSL (published)", "image classification"): (0.0406, None),
    ("M4 (published)", "image classification"): (0.0415, None),
    ("NSL-PFN (published)", "image classification"): (0.0280, 3.33),
    ("BNSL (published)", "language"): (0.0223, None),
    ("NSL-PFN (published)", "language"): (0.0194, 2.77),
    ("BNSL (published)", "double descent"): (0.0468, None),
    ("NSL-PFN (published)", "double descent"): (0.0335, 2.57),
}
FULL_LAWS = ("power_law_offset", "bnsl1", "bnsl2")
QUICK_LAWS = ("power_law_offset", "bnsl1")
QUICK_CURVES = ("IC|cal_5|BiT/50/1", "LM|val_loss|1.68e+07", "DD|df4k", "Nano|final_val_loss|0")
# bayescale's forecast: the stacked mixture of the compared laws (Comparison.forecast), and the single law
# that compare's rule chooses (Comparison.recommended: LFO, else PSIS-LOO), scored side by side
STACKED = "bayescale (stacked)"
CHOSEN = "bayescale (chosen law)"
LEGACY_METHODS = {"bayescale (recommended)": CHOSEN}  # rows.jsonl written before the rename
METHOD_ORDER = (STACKED, CHOSEN, "bayescale power_law_offset", "bayescale bnsl1",
                "bayescale bnsl2", "BNSL LSQ (grid+LM)", "M4", "power law LSQ")
BASELINE_LABEL = {"bnsl_lsq": "BNSL LSQ (grid+LM)", "m4": "M4", "power_law_lsq": "power law LSQ"}


# ----------------------------------------------------------------------------- data
@dataclass(frozen=True)
class Curve:
    """One learning curve with its fit / held-out split."""

    name: str
    domain: str
    x_fit: np.ndarray = field(repr=False)
    y_fit: np.ndarray = field(repr=False)
    x_test: np.ndarray = field(repr=False)
    y_test: np.ndarray = field(repr=False)

    @property
    def group(self) -> str:
        return GROUP[self.domain]


def _curve(name, domain, d, xcol, ycol, splitcol, fit_value="fit") -> Curve:
    d = d.sort_values(xcol)
    f = d[splitcol] == fit_value
    return Curve(name=name, domain=domain, x_fit=d.loc[f, xcol].to_numpy(float), y_fit=d.loc[f, ycol].to_numpy(float),
                 x_test=d.loc[~f, xcol].to_numpy(float), y_test=d.loc[~f, ycol].to_numpy(float))


def load_curves(data_dir: Path | None = None) -> list[Curve]:
    """All benchmark curves (revisiting_nsl, double_descent, nanogpt_embd) with their splits."""
    import pandas as pd

    if data_dir is None:
        from bayescale import data_dir as _dd

        data_dir = _dd()
    data_dir = Path(data_dir)
    out: list[Curve] = []
    r = pd.read_csv(data_dir / "revisiting_nsl" / "revisiting_nsl_benchmark.csv")
    for cid, d in r.groupby("curve_id", sort=True):
        out.append(_curve(cid, d["domain"].iloc[0], d, "seen_examples", "value", "split"))
    dd = pd.read_csv(data_dir / "double_descent" / "double_descent_curves.csv")
    for name, d in dd.groupby("curve", sort=True):
        out.append(_curve(f"DD|{name}", "DD", d, "x", "y", "split_nslpfn"))
    nano = pd.read_csv(data_dir / "nanogpt_embd" / "nanogpt_val_loss_vs_n_embd.csv")
    for (src, i), d in nano.groupby(["source_file", "config_index"], sort=True):
        out.append(_curve(f"Nano|{src}|{i}", "Nano", d, "n_embd", "val_loss", "split_nslpfn"))
    for c in out:
        if not (c.x_fit.size and c.x_test.size) or c.x_fit.max() >= c.x_test.min():
            raise ValueError(f"curve {c.name}: the held-out points must lie beyond the fit points")
    return out


def select_curves(curves: Sequence[Curve], *, quick: bool = False, every: int = 1, offset: int = 0,
                  others: bool = True, every_other: int = 1, every_ic: int | None = None,
                  every_nano: int | None = None, part: tuple[int, int] | None = None) -> list[Curve]:
    """The quick set, or the revisiting_nsl curves with index ``k % every == offset`` within their domain
    (sorted by curve id; ``every_ic`` overrides ``every`` for IC), plus (when ``others``) the DD and Nano
    curves with ``k % every_other == 0`` (``every_nano`` overrides it for Nano); with ``part = (i, n)``,
    every ``n``-th of those from the ``i``-th."""
    if quick:
        byname = {c.name: c for c in curves}
        return [byname[n] for n in QUICK_CURVES]
    out, seen = [], {}
    for c in curves:
        if c.domain in ("IC", "NMT", "LM", "BB"):
            k = seen.get(c.domain, 0)
            seen[c.domain] = k + 1
            kk = every_ic if (c.domain == "IC" and every_ic) else every
            if k % kk != offset % kk:
                continue
        elif not others:
            continue
        else:
            k = seen.get(c.domain, 0)
            seen[c.domain] = k + 1
            if k % (every_nano if (c.domain == "Nano" and every_nano) else every_other):
                continue
        out.append(c)
    return out[part[0]::part[1]] if part else out


# ----------------------------------------------------------------------------- metrics
def rmsle(pred: np.ndarray, y: np.ndarray) -> float:
    r"""Root mean squared log error ``sqrt(mean((log pred - log y)^2))`` (inf if a prediction is <= 0)."""
    pred = np.asarray(pred, dtype=float)
    y = np.asarray(y, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        e = np.log(pred) - np.log(y)
    e = np.where(np.isnan(e), np.inf, e)
    return float(np.sqrt(np.mean(e ** 2)))


def heldout_lpd(*, mu: np.ndarray, y: np.ndarray, sigma: np.ndarray, likelihood: str = "lognormal",
                nu: np.ndarray | None = None) -> np.ndarray:
    r"""Log predictive density of each held-out point on the y scale, shape (m,).

    ``lpd_j = log (1/S) sum_s p(y_j | mu_sj, sigma_s)`` with the fit's likelihood density of ``y``
    (log-normal: ``scipy.stats.lognorm(s=sigma, scale=mu)``); ``mu`` has shape (S, m), ``sigma`` (S,).
    """
    from scipy.special import logsumexp

    from bayescale.evaluate.scoring import log_density

    ll = log_density(y, mu, likelihood=likelihood, sigma=sigma, nu=nu)
    return logsumexp(ll, axis=0) - np.log(ll.shape[0])


def inside(lower: np.ndarray, upper: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Whether each ``y`` lies inside its ``[lower, upper]``."""
    y = np.asarray(y, dtype=float)
    return (np.asarray(lower, dtype=float) <= y) & (y <= np.asarray(upper, dtype=float))


def coverage(lower: np.ndarray, upper: np.ndarray, y: np.ndarray) -> float:
    """Share of ``y`` inside ``[lower, upper]``."""
    return float(np.mean(inside(lower, upper, y)))


def forecast_coverage(forecast, y_test: np.ndarray) -> dict[str, Any]:
    """Coverage of the 50% and 90% intervals, of a new observation and of the expected value;
    ``forecast(prob)`` returns a :class:`bayescale.Forecast` at the held-out scales.

    Also, per held-out point, whether it lies inside the new-observation intervals (``in50_obs_points``,
    ``in90_obs_points``: lists of 0/1), for coverage by extrapolation distance (:func:`horizon_table`).
    """
    out: dict[str, Any] = {}
    for p in (0.5, 0.9):
        t = forecast(p).table()
        obs = inside(t["obs_lower"], t["obs_upper"], y_test)
        out[f"cov{int(p * 100)}_obs"] = float(np.mean(obs))
        out[f"cov{int(p * 100)}_mu"] = coverage(t["lower"], t["upper"], y_test)
        out[f"in{int(p * 100)}_obs_points"] = obs.astype(int).tolist()
    return out


def horizon(x_fit: np.ndarray, x_test: np.ndarray) -> list[float]:
    """Extrapolation distance of each held-out point in decades beyond the largest fit scale,
    ``log10(x / max x_fit)``."""
    return np.log10(np.asarray(x_test, dtype=float) / np.max(x_fit)).tolist()


def stacked_metrics(comp, per_law: Mapping[str, Mapping[str, Any]], x_test: np.ndarray,
                    y_test: np.ndarray) -> dict[str, Any]:
    """Metrics of ``comp.forecast`` (the stacked mixture of the laws).

    The held-out lpd is the mixture's exactly, ``log sum_k w_k exp(lpd_kj)`` from each law's pointwise
    lpd; RMSLE and coverage come from the mixture's draws.
    """
    from scipy.special import logsumexp

    w = comp.weights
    lpd = logsumexp(np.array([per_law[k]["lpd_points"] for k in w]), axis=0,
                    b=np.array([w[k] for k in w])[:, None])
    fc = comp.forecast(x=x_test, prob=0.9)
    out: dict[str, Any] = {"rmsle": rmsle(np.median(fc.expected, axis=0), y_test), "lpd": float(np.mean(lpd)),
                           "lpd_points": lpd.tolist(), "weights": w}
    out.update(forecast_coverage(lambda p: comp.forecast(x=x_test, prob=p), y_test))
    out["diag_ok"] = bool(fc.reliable)
    return out


def bayes_metrics(fit, x_test: np.ndarray, y_test: np.ndarray) -> dict[str, Any]:
    """RMSLE, held-out lpd and interval coverage of a bayescale fit on held-out points."""
    inputs = {fit.law.inputs[0]: np.asarray(x_test, float)}
    mu = fit.expected(inputs)
    lik = fit.settings["likelihood"]
    nz = fit.draws(fit.likelihood.noise_names)
    lpd = heldout_lpd(mu=mu, y=y_test, sigma=nz["sigma"], likelihood=lik, nu=nz.get("nu"))
    out: dict[str, Any] = {"rmsle": rmsle(np.median(mu, axis=0), y_test), "lpd": float(np.mean(lpd)),
                           "lpd_points": lpd.tolist()}
    out.update(forecast_coverage(lambda p: fit.forecast(x=x_test, prob=p), y_test))
    d = fit.diagnostics()
    out.update(diag_ok=bool(d.ok), divergences=int(d.divergences), max_rhat=float(d.max_rhat),
               remedy=fit.settings.get("remedy"))
    return out


# ----------------------------------------------------------------------------- worker
_WORKER: dict[str, Any] = {}


def _quiet() -> None:
    import logging

    warnings.filterwarnings("ignore")
    for name in ("pymc", "pytensor", "arviz", "nutpie"):
        logging.getLogger(name).setLevel(logging.ERROR)


def init_worker(cfg: dict[str, Any]) -> None:
    """Compile each law once in this process and time compile vs a warm fit (simulated 30-point curve)."""
    _quiet()
    import bayescale as bs
    from bayescale.spec.data import Dataset

    times = {}
    x = np.logspace(2, 5, 30)
    for law in cfg["laws"]:
        df = bs.simulate(law=law, x=x, noise=0.02, seed=1)
        ds = Dataset(inputs={"x": df["x"].to_numpy(float)}, y=df["y"].to_numpy(float), columns={"x": "x", "y": "y"},
                     source="simulated")
        kw = dict(priors=None, likelihood=cfg.get("likelihood", "lognormal"), draws=cfg["draws"], tune=cfg["tune"], chains=cfg["chains"],
                  target_accept=0.9, seed=0)
        t0 = time.perf_counter()
        bs.fit(ds, law=law, sampler="nutpie", cores=1, progressbar=False, **kw)
        t1 = time.perf_counter()
        bs.fit(ds, law=law, sampler="nutpie", cores=1, progressbar=False, **kw)
        t2 = time.perf_counter()
        times[law] = {"first_fit_s": t1 - t0, "warm_fit_s": t2 - t1, "compile_s": (t1 - t0) - (t2 - t1)}
    _WORKER["warmup"] = times
    _WORKER["pid"] = os.getpid()


def _laws_for(curve: Curve, laws: Sequence[str]) -> list[str]:
    import bayescale as bs

    m = np.unique(curve.x_fit).size
    return [nm for nm in laws if len(bs.get_law(nm).sampled) <= m]


def run_curve(curve: Curve, cfg: dict[str, Any]) -> list[dict[str, Any]]:
    """Fit one curve with bayescale (each law, the chosen law, the stacked mixture) and the baselines; one record per method."""
    from baselines import BASELINES

    from bayescale.evaluate.compare import compare
    from bayescale.inference.sampling import COMPILE_CACHE
    from bayescale.spec.data import Dataset

    if "pid" not in _WORKER:
        init_worker(cfg)
    base = {"curve": curve.name, "domain": curve.domain, "group": curve.group, "n_fit": int(curve.x_fit.size),
            "n_test": int(curve.x_test.size), "worker": _WORKER["pid"]}
    # decades beyond the largest fit scale, per held-out point (bayescale rows; for horizon_table)
    hz = {"horizon": horizon(curve.x_fit, curve.x_test)}
    rows: list[dict[str, Any]] = []
    positive = np.all(curve.y_fit > 0) and np.all(curve.y_test > 0)
    lik = cfg.get("likelihood", "lognormal") if positive else "normal"
    ds = Dataset(inputs={"x": curve.x_fit}, y=curve.y_fit, columns={"x": "x", "y": "y"}, source=curve.name)
    laws = _laws_for(curve, cfg["laws"])
    n_compiled = COMPILE_CACHE.compiles
    t0 = time.perf_counter()
    comp = compare(ds, laws=laws, lfo=True, max_refits=0, likelihood=lik, draws=cfg["draws"],
                   tune=cfg["tune"], chains=cfg["chains"], seed=cfg["seed"], sampler="nutpie")
    t_bayes = time.perf_counter() - t0
    compiled_here = COMPILE_CACHE.compiles - n_compiled
    rec = comp.recommended or "power_law_offset"
    plot = None
    per_law = {}
    for nm, f in comp.fits.items():
        m = per_law[nm] = bayes_metrics(f, curve.x_test, curve.y_test)
        lfo = comp.lfo.get(nm)
        rows.append({**base, **hz, "method": f"bayescale {nm}", "law": nm, "likelihood": lik, **m,
                     "lfo_mean_lpd": None if lfo is None else lfo.mean_lpd, "loo_elpd": comp.loo[nm].elpd,
                     "weight": comp.weights[nm], "time_s": None})
        if nm == rec:
            rows.append({**rows[-1], "method": CHOSEN, "time_s": t_bayes,
                         "recommended_by": comp.recommended_by.split(" ")[0], "laws_compared": laws,
                         "compiled_during_curve": compiled_here,
                         "verdict": comp.verdict.verdict if comp.verdict else None})
    if cfg.get("plot_curve") == curve.name:  # the example curve of its group: the stacked forecast
        grid = np.geomspace(min(curve.x_fit.min(), curve.x_test.min()), curve.x_test.max(), 80)
        fc = comp.forecast(x=grid, prob=0.9).table()
        fc50 = comp.forecast(x=grid, prob=0.5).table()
        top = max(comp.weights, key=comp.weights.get)
        plot = {"grid": grid.tolist(), "median": fc["median"].tolist(), "lo90": fc["obs_lower"].tolist(),
                "hi90": fc["obs_upper"].tolist(), "lo50": fc50["obs_lower"].tolist(),
                "hi50": fc50["obs_upper"].tolist(), "law": f"stacked ({top} {comp.weights[top]:.2f})",
                "x_fit": curve.x_fit.tolist(), "y_fit": curve.y_fit.tolist(),
                "x_test": curve.x_test.tolist(), "y_test": curve.y_test.tolist()}
    rows.append({**base, **hz, "method": STACKED, "law": "stacked", "likelihood": lik,
                 **stacked_metrics(comp, per_law, curve.x_test, curve.y_test), "time_s": None})
    for key, fitter in BASELINES.items():
        t0 = time.perf_counter()
        try:
            b = fitter(x=curve.x_fit, y=curve.y_fit)
            pred = b.predict(curve.x_test)
            r, note = rmsle(pred, curve.y_test), b.note
        except Exception as exc:  # a baseline failing on one curve is a result, not a crash
            b, r, note = None, float("nan"), f"{type(exc).__name__}: {exc}"
        rows.append({**base, "method": BASELINE_LABEL[key], "law": key, "rmsle": r, "lpd": None,
                     "time_s": time.perf_counter() - t0, "note": note})
        if plot is not None and b is not None:
            plot[key] = b.predict(np.asarray(plot["grid"])).tolist()
    if plot is not None:
        rows[0]["plot"] = plot
    return rows


def run_baselines(curve: Curve) -> list[dict[str, Any]]:
    """The baselines alone on one curve (no sampling): one record per baseline."""
    from baselines import BASELINES

    rows = []
    for key, fitter in BASELINES.items():
        t0 = time.perf_counter()
        try:
            r, note = rmsle(fitter(x=curve.x_fit, y=curve.y_fit).predict(curve.x_test), curve.y_test), ""
        except Exception as exc:  # reported, not raised
            r, note = float("nan"), f"{type(exc).__name__}: {exc}"
        rows.append({"curve": curve.name, "domain": curve.domain, "group": curve.group, "method": BASELINE_LABEL[key],
                     "law": key, "rmsle": r, "lpd": None, "time_s": time.perf_counter() - t0, "note": note})
    return rows


def _run_one(args):
    curve, cfg = args
    t0 = time.perf_counter()
    rows = run_curve(curve, cfg)
    return rows, {"pid": _WORKER["pid"], "warmup": _WORKER["warmup"], "curve_s": time.perf_counter() - t0}


# ----------------------------------------------------------------------------- aggregate
def _fmt(v, nd=4):
    if v is None or (isinstance(v, float) and not np.isfinite(v)):
        return "–"
    return f"{v:.{nd}f}"


def aggregate(rows: list[dict[str, Any]], *, by: str = "group") -> "pd.DataFrame":
    """Per-``by`` means of the per-curve metrics, one row per (``by``, method)."""
    import pandas as pd

    df = pd.DataFrame([{k: v for k, v in r.items() if k != "plot"} for r in rows])
    cols = ["rmsle", "lpd", "cov50_obs", "cov90_obs", "cov50_mu", "cov90_mu", "time_s"]
    for c in cols:
        if c not in df:
            df[c] = np.nan
        df[c] = pd.to_numeric(df[c], errors="coerce")
    df["rmsle_finite"] = df["rmsle"].where(np.isfinite(df["rmsle"]))
    g = df.groupby([by, "method"])
    out = g[cols].mean()
    # a prediction <= 0 (possible for the unbounded LSQ fits) has an infinite log error: the mean is
    # reported over the other curves, with the number of such curves alongside
    out["rmsle"] = g["rmsle_finite"].mean()
    out["n_inf"] = g["rmsle"].apply(lambda v: int(np.sum(~np.isfinite(v))))
    out["rmsle_median"] = g["rmsle"].median()
    out["n"] = g.size()
    return out.reset_index()


def markdown_table(rows: list[dict[str, Any]], *, by: str = "group", order: Sequence[str] = GROUPS,
                   published: bool = True) -> str:
    agg = aggregate(rows, by=by)
    lines = [f"| {by} | method | curves | RMSLE mean | RMSLE median | lpd (y scale) | cov50 obs | cov90 obs | "
             "cov50 mean | cov90 mean | s/curve |", "|---|---|---|---|---|---|---|---|---|---|---|"]
    keys = [k for k in order if k in set(agg[by])] + sorted(set(agg[by]) - set(order))
    for key in keys:
        sub = agg[agg[by] == key].set_index("method")
        for m in METHOD_ORDER:
            if m not in sub.index:
                continue
            r = sub.loc[m]
            inf = f" ({int(r['n_inf'])} inf)" if r["n_inf"] else ""
            lines.append(f"| {key} | {m} | {int(r['n'])} | {_fmt(r['rmsle'])}{inf} | {_fmt(r['rmsle_median'])} | "
                         f"{_fmt(r['lpd'], 2)} | {_fmt(r['cov50_obs'], 2)} | {_fmt(r['cov90_obs'], 2)} | "
                         f"{_fmt(r['cov50_mu'], 2)} | {_fmt(r['cov90_mu'], 2)} | {_fmt(r['time_s'], 1)} |")
        if published:
            for (m, grp), (rm, ll) in PUBLISHED.items():
                if grp == key:
                    lines.append(f"| {key} | {m} | – | {rm:.4f} | – | {_fmt(ll, 2)} | – | – | – | – | – |")
    return "\n".join(lines)


def law_choice_table(rows: list[dict[str, Any]]) -> str:
    import pandas as pd

    df = pd.DataFrame([r for r in rows if r["method"] == CHOSEN])
    if df.empty:
        return ""
    by = df["recommended_by"].fillna("leave-future-out") if "recommended_by" in df else "leave-future-out"
    t = pd.crosstab(df["group"], df["law"] + " (" + by.map(lambda b: "LOO" if b == "PSIS-LOO" else "LFO") + ")")
    lines = ["| group | " + " | ".join(t.columns) + " |", "|---|" + "---|" * len(t.columns)]
    for g, r in t.iterrows():
        lines.append(f"| {g} | " + " | ".join(str(int(v)) for v in r) + " |")
    return "\n".join(lines)


def gap_table(rows: list[dict[str, Any]]) -> str:
    """Where bayescale's gap comes from, per group, from paired per-curve RMSLEs.

    * law choice: the chosen law (``Comparison.recommended``) against the best bayescale law *chosen after seeing the held-out
      points* (an oracle no forecaster has; the difference is what the choice on the fit points costs);
    * prior and posterior median against least squares, with the *same* law: bayescale
      ``power_law_offset`` against the power law LSQ, bayescale ``bnsl1`` against the BNSL grid + LM;
    * the law with the best PSIS-LOO elpd on the fit points (no tie rule), evaluated post hoc from the
      same fits, against the chosen law (the LFO rule);
    * "wins": share of curves where the first method has the lower RMSLE (ties count half); for the
      oracle, the share of curves where the chosen law was the best one.
    """
    import pandas as pd

    df = pd.DataFrame([{k: r.get(k) for k in ("curve", "group", "method", "rmsle", "loo_elpd")} for r in rows])
    w = df.pivot_table(index=["group", "curve"], columns="method", values="rmsle", aggfunc="first")
    single = [c for c in w.columns if c.startswith("bayescale ") and "(" not in c]
    w["oracle"] = w[single].min(axis=1)
    # the law with the best PSIS-LOO elpd on the fit points (no tie rule): a selection rule evaluated post hoc
    loo = df[df["method"].isin(single)].dropna(subset=["loo_elpd"])
    if not loo.empty:
        best = loo.loc[loo.groupby("curve")["loo_elpd"].idxmax()].set_index("curve")["rmsle"]
        w["LOO-best law"] = [best.get(c, np.nan) for c in w.index.get_level_values(1)]

    def pair(a: str, b: str, sub) -> str:
        if a not in sub or b not in sub:
            return "–"
        ok = sub[[a, b]].dropna()
        ok = ok[np.isfinite(ok).all(axis=1)]
        if ok.empty:
            return "–"
        if b == "oracle":  # the oracle is never worse: say how often the choice found it
            return (f"{ok[a].mean():.4f} vs {ok[b].mean():.4f} (best law chosen on {np.mean(ok[a] == ok[b]):.0%}, "
                    f"n={len(ok)})")
        wins = float(np.mean((ok[a] < ok[b]) + 0.5 * (ok[a] == ok[b])))
        return f"{ok[a].mean():.4f} vs {ok[b].mean():.4f} ({wins:.0%} wins, n={len(ok)})"

    lines = ["| group | chosen law vs oracle law (law choice) | stacked vs chosen law | LOO-best law vs chosen law | "
             "stacked vs BNSL LSQ | chosen law vs BNSL LSQ | power_law_offset: bayescale vs LSQ | "
             "bnsl1: bayescale vs BNSL LSQ |", "|---|---|---|---|---|---|---|---|"]
    for g in [g for g in GROUPS if g in set(w.index.get_level_values(0))]:
        sub = w.loc[g]
        lines.append(f"| {g} | {pair(CHOSEN, 'oracle', sub)} | {pair(STACKED, CHOSEN, sub)} | "
                     f"{pair('LOO-best law', CHOSEN, sub)} | {pair(STACKED, 'BNSL LSQ (grid+LM)', sub)} | "
                     f"{pair(CHOSEN, 'BNSL LSQ (grid+LM)', sub)} | "
                     f"{pair('bayescale power_law_offset', 'power law LSQ', sub)} | "
                     f"{pair('bayescale bnsl1', 'BNSL LSQ (grid+LM)', sub)} |")
    return "\n".join(lines)


#: Bins of extrapolation distance, in decades beyond the largest fit scale (every held-out point of the
#: benchmark lies within 0.63 decades; IC, language and nanoGPT within 0.34).
HORIZON_BINS = (0.0, 0.1, 0.2, 0.3, 0.7)


def horizon_table(rows: list[dict[str, Any]], *, methods: Sequence[str] = (STACKED, CHOSEN)) -> str:
    """Coverage and lpd of held-out points by extrapolation distance, per group, pooled over points.

    For each group, method and bin of ``log10(x / max x_fit)`` (:data:`HORIZON_BINS`): the number of
    held-out points and of curves they come from, the share inside the 50% and 90% new-observation
    intervals, and the mean held-out lpd.  Pooled over points, so curves with many held-out points
    (IC holds out up to 710) weigh more than in the per-curve means of :func:`markdown_table`.
    """
    import pandas as pd

    recs = []
    for r in rows:
        if r["method"] not in methods or "horizon" not in r or "in90_obs_points" not in r:
            continue
        for j, h in enumerate(r["horizon"]):
            recs.append({"group": r["group"], "method": r["method"], "curve": r["curve"], "h": h,
                         "in50": r["in50_obs_points"][j], "in90": r["in90_obs_points"][j],
                         "lpd": r["lpd_points"][j] if r.get("lpd_points") else np.nan})
    if not recs:
        return ""
    df = pd.DataFrame(recs)
    edges = list(HORIZON_BINS)
    labels = [f"{a:.1f}-{b:.1f}" for a, b in zip(edges[:-1], edges[1:])]
    df["bin"] = pd.cut(df["h"], edges, labels=labels, include_lowest=True, right=False)
    lines = ["| group | method | decades beyond fit | points | curves | cov50 obs | cov90 obs | lpd (y scale) |",
             "|---|---|---|---|---|---|---|---|"]
    for g in [g for g in GROUPS if g in set(df["group"])]:
        for m in methods:
            d = df[(df["group"] == g) & (df["method"] == m)]
            for b, e in d.groupby("bin", observed=True):
                lines.append(f"| {g} | {m} | {b} | {len(e)} | {e['curve'].nunique()} | {e['in50'].mean():.2f} | "
                             f"{e['in90'].mean():.2f} | {_fmt(float(e['lpd'].mean()), 2)} |")
    return "\n".join(lines)


def scatter(log_y: np.ndarray) -> float:
    r"""Robust point-to-point noise sd of a densely sampled curve, from its second differences.

    For ``log y_i = g(x_i) + e_i`` with iid noise of sd ``s`` and a trend ``g`` that is nearly
    linear over three neighbouring points, ``Delta^2 log y_i = e_{i+2} - 2 e_{i+1} + e_i`` has sd
    ``sqrt(6) s``, so ``s ~ median|Delta^2 log y| / (0.6745 sqrt 6)`` (0.6745: the normal's median
    absolute value).  Curvature of the trend only adds to it, so it is an upper bound on curves
    with few, widely spaced points.  NaN for fewer than 5 points.  (Written here because it is three
    lines; no library estimator of this kind fits a curve's own order of points.)
    """
    d2 = np.diff(np.asarray(log_y, dtype=float), 2)
    return float(np.median(np.abs(d2)) / (0.6745 * np.sqrt(6))) if d2.size >= 3 else float("nan")


def noise_table(curves: Sequence[Curve]) -> str:
    """Is the noise of the held-out points the noise of the fit points?  Per domain, medians over curves.

    ``scatter`` (:func:`scatter`) of ``log y`` on the fit points, on the held-out points, and on the
    held-out points averaged in consecutive blocks of ``k`` points, ``k`` the largest fit spacing in
    units of the held-out spacing (what the held-out scatter would be if they were binned as densely
    as the fit points).  Curves with fewer than 20 held-out points are left out.
    """
    by: dict[str, list[tuple[float, float, float, int]]] = {}
    for c in curves:
        if c.x_test.size < 20:
            continue
        ly = np.log(c.y_test)
        k = max(1, int(round(np.diff(c.x_fit)[-1] / np.median(np.diff(c.x_test)))))
        nb = ly.size // k
        blocked = ly[: nb * k].reshape(nb, k).mean(axis=1)
        by.setdefault(c.domain, []).append((scatter(np.log(c.y_fit)), scatter(ly), scatter(blocked), k))
    lines = ["| domain | curves | fit points | held-out points | held-out, averaged in blocks of k | k (median) |",
             "|---|---|---|---|---|---|"]
    for d, v in by.items():
        a = np.array(v, dtype=float)
        med = np.nanmedian(a, axis=0)
        lines.append(f"| {d} | {len(v)} | {med[0]:.4f} | {med[1]:.4f} | {med[2]:.4f} | {med[3]:.0f} |")
    return "\n".join(lines)


def versus_table(rows: list[dict[str, Any]], other: list[dict[str, Any]], *, names: tuple[str, str]) -> str:
    """Paired comparison of two runs (e.g. two likelihoods) on the curves both scored, per group.

    For the stacked forecast and the chosen law: mean RMSLE, mean held-out lpd and 90% coverage of a
    new observation, this run against the other, and the share of curves where this run's lpd is higher.
    """
    import pandas as pd

    keep = ("curve", "group", "method", "rmsle", "lpd", "cov90_obs")
    a = pd.DataFrame([{k: r.get(k) for k in keep} for r in rows if r["method"] in (STACKED, CHOSEN)])
    b = pd.DataFrame([{k: r.get(k) for k in keep} for r in other if r["method"] in (STACKED, CHOSEN)])
    m = a.merge(b, on=["curve", "group", "method"], suffixes=("_a", "_b"))
    lines = [f"Paired: A = {names[0]}, B = {names[1]} ({m['curve'].nunique()} curves scored by both)", "",
             "| group | method | curves | RMSLE A vs B | lpd A vs B (A higher on) | cov90 obs A vs B |",
             "|---|---|---|---|---|---|"]
    for (g, meth), d in m.groupby(["group", "method"]):
        lines.append(f"| {g} | {meth} | {len(d)} | {d['rmsle_a'].mean():.4f} vs {d['rmsle_b'].mean():.4f} | "
                     f"{d['lpd_a'].mean():.2f} vs {d['lpd_b'].mean():.2f} ({np.mean(d['lpd_a'] > d['lpd_b']):.0%}) | "
                     f"{d['cov90_obs_a'].mean():.2f} vs {d['cov90_obs_b'].mean():.2f} |")
    return "\n".join(lines)


def plot_results(rows: list[dict[str, Any]], path: Path) -> Path:
    """Per-group RMSLE bars (with published figures as markers) and one example curve per group."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    agg = aggregate(rows)
    groups = [g for g in GROUPS if g in set(agg["group"])]
    methods = [m for m in METHOD_ORDER if m in set(agg["method"])]
    plots = [r["plot"] for r in rows if r.get("plot")]
    fig, axes = plt.subplots(1, 1 + len(plots), figsize=(5.5 + 4 * len(plots), 4.2), squeeze=False)
    ax = axes[0, 0]
    w = 0.8 / max(1, len(methods))
    for i, m in enumerate(methods):
        vals = [agg[(agg.group == g) & (agg.method == m)]["rmsle"].mean() for g in groups]
        ax.bar(np.arange(len(groups)) + i * w, vals, w, label=m)
    for (m, grp), (rm, _) in PUBLISHED.items():
        if grp in groups:
            j = groups.index(grp)
            mk = {"BNSL (published)": "v", "M4 (published)": "s", "NSL-PFN (published)": "*"}[m]
            ax.plot(j + 0.4 - w / 2, rm, mk, color="k", ms=8, label=m if j == 0 or m.startswith("BNSL") else None)
    ax.set_xticks(np.arange(len(groups)) + 0.4 - w / 2, [g.replace(" ", "\n") for g in groups], fontsize=8)
    ax.set_yscale("log")
    ax.set_ylabel("held-out RMSLE (mean over curves)")
    h, lab = ax.get_legend_handles_labels()
    uniq = dict(zip(lab, h))
    ax.legend(uniq.values(), uniq.keys(), fontsize=6, loc="upper left")
    for k, p in enumerate(plots, start=1):
        a = axes[0, k]
        r = next(rr for rr in rows if rr.get("plot") is p)
        a.fill_between(p["grid"], p["lo90"], p["hi90"], alpha=0.2, color="C0", label="90% new obs.")
        a.fill_between(p["grid"], p["lo50"], p["hi50"], alpha=0.35, color="C0", label="50% new obs.")
        a.plot(p["grid"], p["median"], color="C0", label=f"bayescale {p['law']} (median)")
        for key, c in (("bnsl_lsq", "C1"), ("m4", "C2"), ("power_law_lsq", "C3")):
            if key in p:
                a.plot(p["grid"], p[key], "--", color=c, lw=1, label=BASELINE_LABEL[key])
        a.plot(p["x_fit"], p["y_fit"], "k.", ms=4, label="fit points")
        a.plot(p["x_test"], p["y_test"], "rx", ms=4, label="held out")
        a.set_xscale("log")
        a.set_yscale("log")
        a.set_title(r["curve"], fontsize=8)
        if k == 1:
            a.legend(fontsize=6)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def read_rows(path: Path) -> list[dict[str, Any]]:
    """Records of ``rows.jsonl``, with method labels of older runs renamed (``LEGACY_METHODS``)."""
    rows = [json.loads(x) for x in path.read_text().splitlines() if x.strip()]
    for r in rows:
        r["method"] = LEGACY_METHODS.get(r["method"], r["method"])
    return rows


def read_timings(out: Path) -> list[dict[str, Any]]:
    """Per-curve timing records of a run in ``out`` (``timings.jsonl``; ``timings.json`` of older runs)."""
    if (out / "timings.jsonl").exists():
        return [json.loads(x) for x in (out / "timings.jsonl").read_text().splitlines() if x.strip()]
    if (out / "timings.json").exists():
        return json.loads((out / "timings.json").read_text())
    return []


def write_outputs(rows, timings, out: Path, cfg) -> str:
    import pandas as pd

    out.mkdir(parents=True, exist_ok=True)
    pd.DataFrame([{k: v for k, v in r.items() if k != "plot"} for r in rows]).to_csv(out / "per_curve.csv",
                                                                                       index=False)
    curves = sorted({r["curve"] for r in rows})
    text = [f"Extrapolation benchmark ({len(curves)} curves; draws={cfg['draws']}, tune={cfg['tune']}, "
            f"chains={cfg['chains']}, laws={','.join(cfg['laws'])}, likelihood={cfg.get('likelihood', 'lognormal')}; "
            f"selection: {cfg['selection']})", "",
            "Per group (language = NMT + LM + BB):", "", markdown_table(rows), "",
            "Per domain:", "", markdown_table(rows, by="domain", order=("IC", "NMT", "LM", "BB", "DD", "Nano"),
                                               published=False), "",
            "Law chosen on the fit points, and by which rule (LFO: leave-future-out; LOO: PSIS-LOO when LFO "
            "could not score every law), curves per group:", "", law_choice_table(rows), "",
            "Where the gap comes from (mean RMSLE over the curves both methods scored, paired):", "",
            gap_table(rows), ""]
    text += ["Point-to-point noise sd of log y (median over curves with >= 20 held-out points; `scatter`):", "",
             noise_table([c for c in load_curves() if c.name in set(curves)]), ""]
    hz = horizon_table(rows)
    if hz:
        text += ["Held-out points by extrapolation distance (decades beyond the largest fit scale; pooled over "
                 "points):", "", hz, ""]
    if timings:
        ws = {t["pid"]: t["warmup"] for t in timings if t.get("warmup")}
        text += ["Compile (first fit minus warm fit on a simulated 30-point curve), per worker:", ""]
        for pid, w in ws.items():
            text.append(f"- worker {pid}: " + "; ".join(
                f"{law} compile {v['compile_s']:.1f} s, warm fit {v['warm_fit_s']:.2f} s" for law, v in w.items()))
        cs = np.array([t["curve_s"] for t in timings])
        text += ["", f"Per-curve wall time after compile (bayescale fits + LFO refits + LOO + baselines): "
                     f"median {np.median(cs):.1f} s, max {cs.max():.1f} s, total {cs.sum():.0f} s over "
                     f"{cs.size} curves"]
    md = "\n".join(text)
    (out / "table.md").write_text(md + "\n")
    plot_results(rows, out / "extrapolation.png")
    return md


def part_arg(text: str) -> tuple[int, int]:
    """``"I/N"`` -> ``(I, N)`` with ``0 <= I < N``."""
    try:
        i, n = (int(v) for v in text.split("/"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected I/N such as 0/5, got {text!r}") from None
    if not 0 <= i < n:
        raise argparse.ArgumentTypeError(f"part I/N needs 0 <= I < N, got {text!r}")
    return i, n


def submission_order(curves: Sequence[Curve]) -> list[Curve]:
    """The order in which :func:`main` hands the curves out: domains interleaved (so a run stopped early
    still covers every domain), long curves first within each."""
    bydom: dict[str, list[Curve]] = {}
    for c in sorted(curves, key=lambda c: -(c.x_fit.size + 0.01 * c.x_test.size)):
        bydom.setdefault(c.domain, []).append(c)
    return [c for rnd in range(max(map(len, bydom.values()), default=0)) for lst in bydom.values()
            if rnd < len(lst) for c in [lst[rnd]]]


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true", help="4 curves, 2 laws, 300 draws x 2 chains, 1 worker")
    p.add_argument("--every", type=int, default=1, help="every k-th revisiting_nsl curve per domain")
    p.add_argument("--offset", type=int, default=0, help="with --every k: take indices k*i + offset")
    p.add_argument("--every-ic", type=int, default=None, help="every k-th IC curve (overrides --every for IC)")
    p.add_argument("--every-nano", type=int, default=None, help="every k-th Nano curve (overrides --every-other)")
    p.add_argument("--every-other", type=int, default=1, help="every k-th DD and Nano curve")
    p.add_argument("--no-others", action="store_true", help="revisiting_nsl curves only (no DD, Nano)")
    p.add_argument("--part", type=part_arg, default=None, metavar="I/N",
                   help="only the I-th of N interleaved parts of the selected curves (I = 0..N-1), to share "
                        "a run too long for one sitting (each part in its own --out; their rows.jsonl and "
                        "timings.jsonl concatenated into one folder, with one part's config.json, make the "
                        "whole for --aggregate-only)")
    p.add_argument("--workers", type=int, default=None, help="worker processes (default 2; 1 with --quick)")
    p.add_argument("--draws", type=int, default=None)
    p.add_argument("--tune", type=int, default=None)
    p.add_argument("--chains", type=int, default=None)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--likelihood", default="lognormal", choices=("lognormal", "studentt"),
                   help="likelihood of every bayescale fit (curves with y <= 0 use normal)")
    p.add_argument("--versus", type=Path, default=None, metavar="DIR",
                   help="with --aggregate-only: paired comparison with the run in DIR on the curves both scored")
    p.add_argument("--out", type=Path, default=HERE / "results" / "extrapolation")
    p.add_argument("--baselines-only", action="store_true",
                   help="only the least-squares baselines on the selected curves (writes baselines.md)")
    p.add_argument("--baselines-from", type=Path, default=None,
                   help="with --aggregate-only: take baseline records from this baselines_rows.jsonl")
    p.add_argument("--append", action="store_true", help="keep rows.jsonl of an earlier run and add curves")
    p.add_argument("--aggregate-only", action="store_true", help="rebuild table and figure from rows.jsonl")
    a = p.parse_args(argv)
    q = a.quick
    cfg = {"draws": a.draws or (300 if q else 1000), "tune": a.tune or (300 if q else 1000),
           "chains": a.chains or (2 if q else 4), "seed": a.seed, "laws": list(QUICK_LAWS if q else FULL_LAWS),
           "likelihood": a.likelihood,
           "selection": "quick: " + ", ".join(QUICK_CURVES) if q else
           ("all curves" if a.every == 1 and not a.no_others and not a.every_ic and not a.every_nano
            and a.every_other == 1 else
            f"revisiting_nsl curves with index % k == {a.offset} % k within each domain (sorted by curve_id), "
            f"k = {a.every_ic or a.every} for IC, {a.every} for NMT/LM/BB"
            + ("" if a.no_others else f" + DD curves with index % {a.every_other} == 0 and Nano curves with "
               f"index % {a.every_nano or a.every_other} == 0 (sorted by name)"))
           + (f"; part {a.part[0]} of {a.part[1]} (every {a.part[1]}th from the {a.part[0]}th)" if a.part else "")}
    a.out.mkdir(parents=True, exist_ok=True)
    rows_path = a.out / "rows.jsonl"
    if a.aggregate_only:
        rows = read_rows(rows_path)
        if a.baselines_from:  # baseline records from a (newer) --baselines-only run, for the same curves
            new = [json.loads(x) for x in a.baselines_from.read_text().splitlines() if x.strip()]
            done = {r["curve"] for r in rows}
            rows = [r for r in rows if r["lpd"] is not None or "plot" in r] + [
                r for r in new if r["curve"] in done]
        timings = read_timings(a.out)
        if a.versus:
            print(versus_table(rows, read_rows(a.versus / "rows.jsonl"), names=(str(a.out), str(a.versus))))
            return 0
        print(write_outputs(rows, timings, a.out, json.loads((a.out / "config.json").read_text())))
        return 0
    curves = select_curves(load_curves(), quick=q, every=a.every, offset=a.offset, others=not a.no_others,
                           every_other=a.every_other, every_ic=a.every_ic, every_nano=a.every_nano, part=a.part)
    if a.baselines_only:
        rows = [r for c in curves for r in run_baselines(c)]
        md = (f"Least-squares baselines alone on {len(curves)} curves ({cfg['selection']})\n\n"
              + markdown_table(rows) + "\n\nPer domain:\n\n"
              + markdown_table(rows, by="domain", order=("IC", "NMT", "LM", "BB", "DD", "Nano"), published=False))
        (a.out / "baselines.md").write_text(md + "\n")
        (a.out / "baselines_rows.jsonl").write_text("".join(json.dumps(r, default=float) + "\n" for r in rows))
        print(md)
        return 0
    first = {}
    for c in curves:
        first.setdefault(c.group, c.name)
    workers = a.workers or (1 if q else 2)
    if a.append and rows_path.exists():  # add curves to an earlier run with the same settings
        rows = read_rows(rows_path)
        timings = read_timings(a.out)
        done = {r["curve"] for r in rows}
        curves = [c for c in curves if c.name not in done]
        cfg["selection"] += " (appended to an earlier run)"
    else:
        rows, timings = [], []
        rows_path.write_text("")
        (a.out / "timings.jsonl").write_text("")
    (a.out / "config.json").write_text(json.dumps(cfg))
    t0 = time.perf_counter()
    todo = submission_order(curves)
    jobs = [(c, {**cfg, "plot_curve": first[c.group] if first[c.group] == c.name else None}) for c in todo]
    print(f"{len(curves)} curves, {workers} worker(s), settings {cfg}", flush=True)
    if workers == 1:
        results = (_run_one(j) for j in jobs)
    else:  # the package's Dask path (a LocalCluster of `workers` processes), as bayescale.fit_many uses
        results = dask_map(_run_one, jobs, n_workers=workers, initializer=init_worker, initargs=(cfg,))
    for i, (rr, tm) in enumerate(results, start=1):
        rows += rr
        timings.append({**tm, "curve": rr[0]["curve"]})
        with rows_path.open("a") as fh:
            for r in rr:
                fh.write(json.dumps(r, default=float) + "\n")
        with (a.out / "timings.jsonl").open("a") as fh:
            fh.write(json.dumps(timings[-1], default=float) + "\n")
        rec = next(r for r in rr if r["method"] == CHOSEN)
        st = next(r for r in rr if r["method"] == STACKED)
        bl = {r["law"]: r["rmsle"] for r in rr if r["lpd"] is None}
        print(f"[{i}/{len(jobs)} {time.perf_counter() - t0:.0f}s] {rec['curve']}: stacked rmsle {st['rmsle']:.4f} "
              f"lpd {st['lpd']:.2f} cov90 {st['cov90_obs']:.2f}; chosen {rec['law']} rmsle "
              f"{rec['rmsle']:.4f} lpd {rec['lpd']:.2f} cov90 {rec['cov90_obs']:.2f} | bnsl_lsq "
              f"{bl.get('bnsl_lsq', np.nan):.4f} m4 {bl.get('m4', np.nan):.4f} pl {bl.get('power_law_lsq', np.nan):.4f}"
              f" ({tm['curve_s']:.1f}s)", flush=True)
    print(write_outputs(rows, timings, a.out, cfg))
    print(f"total {time.perf_counter() - t0:.0f} s; outputs in {a.out}")
    return 0


if __name__ == "__main__":
    # through the module's own name, so the workers import it (not copies of __main__'s functions,
    # each with fresh globals, which would lose the worker's warm-up state: see dask_map)
    import extrapolation

    raise SystemExit(extrapolation.main())
