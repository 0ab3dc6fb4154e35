"""Tried forms of the extrapolation uncertainty, scored on the calibration benchmark's cached fits.

The default (:mod:`bayescale.spec.discrepancy`) widens a forecast beyond the data to a total sd of log y of
``b k sqrt(1 + g^2)``, ``g = s0 + kappa h``: ``b`` the forecast's own sd from parameters and noise, ``k`` the
fit's residual-autocorrelation factor, ``h`` decades beyond the fitted range.  Two questions, each a family of
alternatives, every one learned and scored exactly as ``calibration.py`` learns and scores the default
(Gaussian likelihood of the stacked forecasts' log errors, each curve weighted equally, leave-one-dataset-out):

* **how it grows with the distance**: ``g = s0 + kappa sqrt(h)`` (``sqrt``: a random walk's drift, which grows
  more slowly far out) or ``s0 + kappa log(1 + h / 0.1)`` (``log``), against ``linear`` (the default's);
* **what it scales**: the parameter part only (``parameters``: total variance ``n^2 + p^2 k^2 (1 + g^2)``, ``p``
  and ``n`` the parameter and noise sds), or the factor ``k`` on both and ``g`` on the parameter part
  (``parameters+k``: ``b^2 k^2 + k^2 p^2 g^2``; also with ``sqrt`` growth), the idea being that a noisy curve's
  noise does not grow beyond the data while its law's error does;
* **what it grows with**: the forecast's own predicted change beyond the data instead of the distance
  (``change``: total variance ``b^2 k^2 (1 + s0^2) + (kappa c)^2``, ``c`` the stacked forecast's median
  change in log y from the largest fitted input to the target), the idea being that a law's error beyond
  the data is a share of how far it says the curve still moves there, small on a flat curve.

Rule, stated before any variant was scored: one replaces the default only if, on the 132 curves,
leave-one-dataset-out, (1) every group inside both bands (90% coverage in [0.80, 0.97], 50% in [0.40, 0.65])
stays inside, (2) no group's mean lpd falls by more than 0.05, and (3) the mean MSCE over the four groups
falls or another group enters both bands.  ``--nd`` then scores the N-D splits of ``nd_calibration.py``
(values learned on all 132 curves; out of sample), which are reported and do not decide; there the default's
form is also scored with its horizon measured along compute ``N D`` as well (a run beyond the largest fitted
``N D`` is outside the fitted region even with ``N`` and ``D`` each inside their ranges); ``change`` is not
scored there (the N-D cache keeps no forecast at the fitted region's edge).  Results:
benchmarks/README.md ("Forecast calibration", tried and not adopted).

Usage: ``python benchmarks/calibration.py`` first (its fits are cached in ``OUT/cache``), then
``python benchmarks/discrepancy_variants.py --cache OUT/cache [--nd]``.
"""

from __future__ import annotations

import argparse
import pickle
import sys
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import pandas as pd
from scipy.special import logsumexp

import bayescale as bs
from bayescale.spec.discrepancy import antithetic_normal, autocorrelation_factor
from bayescale.spec.likelihoods import get_likelihood

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from calibration import DATASET, distance_bin, score, summary  # noqa: E402
from extrapolation import load_curves  # noqa: E402
from learn_discrepancy import excluded_for, fit_discrepancy, fit_power_law_offset  # noqa: E402
from nd_calibration import markdown, splits, summarise  # noqa: E402

GROWTH: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "linear": lambda h: h, "sqrt": np.sqrt, "log": lambda h: np.log1p(h / 0.1)}


def _total(p, n, k, g):  # the default's form: b^2 k^2 (1 + g^2)
    return (p ** 2 + n ** 2) * k ** 2 * (1 + g ** 2)


def _parameters(p, n, k, g):
    return n ** 2 + p ** 2 * k ** 2 * (1 + g ** 2)


def _parameters_k(p, n, k, g):
    return (p ** 2 + n ** 2) * k ** 2 + k ** 2 * p ** 2 * g ** 2


def _grown(growth: str, total: Callable) -> Callable[..., np.ndarray]:
    """A variant whose ``g = s0 + kappa growth(h)`` enters ``total(p, n, k, g)``."""
    return lambda s0, kappa, h, p, n, k, c: total(p, n, k, s0 + kappa * GROWTH[growth](np.asarray(h, float)))


def _change(s0, kappa, h, p, n, k, c):  # b^2 k^2 (1 + s0^2) + (kappa c)^2: grows with the predicted change c
    return (p ** 2 + n ** 2) * k ** 2 * (1 + s0 ** 2) + (kappa * np.asarray(c, float)) ** 2


#: name -> the forecast's total variance of log y beyond the data from (s0, kappa, h, p, n, k, c)
VARIANTS = {"linear (default)": _grown("linear", _total), "sqrt": _grown("sqrt", _total),
            "log": _grown("log", _total), "parameters": _grown("linear", _parameters),
            "parameters+k": _grown("linear", _parameters_k), "parameters+k, sqrt": _grown("sqrt", _parameters_k),
            "change": _change}
#: variants that need the law at the edge of the fitted range (``c``), which the N-D cache does not keep
NEEDS_CHANGE = ("change",)


def tau2(variant: str, s0: float, kappa: float, h, p, n, k, c=0.0) -> np.ndarray:
    """The discrepancy's variance of log y: the variant's total beyond the data less the law's own ``p^2 + n^2``
    (0 inside the fitted range, as the default); ``c`` the predicted change in log y beyond the data."""
    total = VARIANTS[variant](s0, kappa, h, p, n, k, c)
    return np.where(np.asarray(h) > 0, np.maximum(total - p ** 2 - n ** 2, 0.0), 0.0)


def _stacked(res: dict) -> tuple[list[dict], np.ndarray, list[np.ndarray]]:
    """A cached curve's laws with stacking weight, their weights (summing to 1) and their draws of log mu."""
    laws = [v for v in res["laws"].values() if v["weight"] > 0]
    w = np.array([v["weight"] for v in laws]) / sum(v["weight"] for v in laws)
    with np.errstate(all="ignore"):
        logmu = [np.log(np.asarray(v["mu"], float)) for v in laws]
    return laws, w, logmu


def predicted_change(res: dict, x_fit: np.ndarray, y_fit: np.ndarray) -> np.ndarray:
    """``c = |log mu(x) - log mu(x_max)|`` per held-out point of a cached curve: the stacked forecast's median
    change in log y from the largest fitted input ``x_max`` to the point.  The cached fits keep draws at the
    held-out points only, so the level at ``x_max`` is a least-squares power law with offset through the fit
    points (:func:`learn_discrepancy.fit_power_law_offset`; it passes through the data there as the fits do)."""
    _, w, logmu = _stacked(res)
    med = sum(wi * np.median(lm, axis=0) for wi, lm in zip(w, logmu))
    x_fit, y_fit = np.asarray(x_fit, float), np.asarray(y_fit, float)
    try:
        _, f = fit_power_law_offset(x_fit, y_fit)
        level = float(np.log(f(np.array([res["x_fit_max"]]))[0]))
    except RuntimeError:  # no least-squares fit: the data's own level there
        level = float(np.log(np.median(y_fit[x_fit == x_fit.max()])))
    return np.abs(med - level)


def backtest_parts(res: dict, change: np.ndarray | float = 0.0) -> pd.DataFrame:
    """Per held-out point of one cached curve: the stacked forecast's log error and its parts ``p``, ``n``, ``k``
    (the laws' weighted averages; ``p`` includes the spread between the laws' means).  Computed from the draws'
    moments rather than by ``calibration.predictive_summary``, whose one sd of simulated log y mixes the parts
    that the parameter-only variants take apart."""
    laws, w, logmu = _stacked(res)
    means = [lm.mean(axis=0) for lm in logmu]
    m = sum(wi * mi for wi, mi in zip(w, means))
    p2 = sum(wi * (lm.var(axis=0) + (mi - m) ** 2) for wi, lm, mi in zip(w, logmu, means))
    n2 = sum(wi * float(np.median(v["noise"]["sigma"])) ** 2 for wi, v in zip(w, laws))
    k = sum(wi * autocorrelation_factor(v.get("rho", 0.0)) for wi, v in zip(w, laws))
    x = np.asarray(res["x_test"], float)
    return pd.DataFrame({"curve": res["curve"], "dataset": DATASET[res["domain"]], "err": np.log(res["y_test"]) - m,
                         "p": np.sqrt(p2), "n": np.sqrt(n2), "k": k, "c": change,
                         "h": np.clip(np.log10(x / res["x_fit_max"]), 0, None)})


def learn(parts: pd.DataFrame, variant: str) -> tuple[float, float]:
    """Maximum-likelihood ``(s0, kappa)`` of the variant from backtest errors, each curve weighted equally."""
    d = parts[np.isfinite(parts["err"]) & np.isfinite(parts["p"])]
    e, h, p, n, k, c = (d[col].to_numpy() for col in ("err", "h", "p", "n", "k", "c"))
    w = 1.0 / d.groupby("curve")["err"].transform("size").to_numpy()
    return fit_discrepancy(e, h, np.sqrt(p ** 2 + n ** 2), w,
                           total_var=lambda s0, kappa: p ** 2 + n ** 2 + tau2(variant, s0, kappa, h, p, n, k, c))


def tau_fn(variant: str, s0: float, kappa: float, c: np.ndarray | float = 0.0) -> Callable[..., np.ndarray]:
    """``tau(h, sd_param, sd_noise, rho)`` for :func:`calibration.score` (``c``: the curve's predicted change)."""
    return lambda h, p, n, rho: np.sqrt(tau2(variant, s0, kappa, h, p, n, autocorrelation_factor(rho), c))


def one_d(done: list[dict], seed: int) -> tuple[pd.DataFrame, dict[str, tuple[float, float]]]:
    """Coverage, MSCE and lpd by group and by distance for every variant, learned leave-one-dataset-out; and
    each variant's values learned on all the curves."""
    curves = {c.name: c for c in load_curves()}
    change = {r["curve"]: predicted_change(r, curves[r["curve"]].x_fit, curves[r["curve"]].y_fit) for r in done}
    parts = pd.concat([backtest_parts(r, change[r["curve"]]) for r in done], ignore_index=True)
    rows, everything = [], {}
    for v in VARIANTS:
        lodo = {ds: learn(parts[~parts["dataset"].isin(excluded_for(ds))], v) for ds in parts["dataset"].unique()}
        everything[v] = learn(parts, v)
        pts = pd.concat([score(r, tau_fn(v, *lodo[DATASET[r["domain"]]], change[r["curve"]]), seed=seed)
                         for r in done], ignore_index=True)
        pts["distance"] = distance_bin(pts["horizon"])
        for by in ("group", "distance"):
            s = summary(pts, by).rename(columns={by: "part"})
            rows.append(s.assign(variant=v, by=by))
    return pd.concat(rows, ignore_index=True), everything


def n_d(values: dict[str, tuple[float, float]], cache: Path, seed: int) -> pd.DataFrame:
    """The variants on nd_calibration's splits, each fitted once at the package defaults (cached in ``cache``).

    Scored from the forecast without a discrepancy, to which each variant's draw is added here as
    ``forecast_draws`` adds the default's (the package's ``Discrepancy`` has only the default's form)."""
    cache.mkdir(parents=True, exist_ok=True)
    rows = []
    for ds, curve, law, train, test in splits(["epoch", "gadre", "porian", "muennighoff"], False):
        path = cache / (f"{ds}|{curve}".replace("/", "_").replace("|", "_").replace(" ", "_") + ".pkl")
        if path.is_file():
            d = pickle.loads(path.read_bytes())
        else:
            inputs = list(bs.get_law(law).inputs)
            fit = bs.fit(train[[*inputs, "y"]], law=law, x=inputs, y="y", seed=seed, progressbar=False)
            fc = fit.forecast(x={k: test[k].to_numpy(float) for k in inputs}, discrepancy="off", seed=seed)
            d = {"expected": fc.expected, "p": fc.parts["parameters"], "n": fc.parts["noise"], "h": fc.horizon,
                 "noise": fit.draws(fit.likelihood.noise_names), "likelihood": fit.likelihood.name,
                 "k": autocorrelation_factor(fit.residual_autocorrelation), "y": test["y"].to_numpy(float),
                 "ok": fit.diagnostics().ok}
            path.write_bytes(pickle.dumps(d))
            print(f"fitted {ds} {curve} ({len(train)} runs; diagnostics {'ok' if d['ok'] else 'FAILED'})",
                  file=sys.stderr, flush=True)
        lik, y, mu = get_likelihood(d["likelihood"]), d["y"], d["expected"]
        noise = {k: np.asarray(a, float) for k, a in d["noise"].items()}
        # the horizon also along compute N D (beyond the largest fitted N D, with N and D each inside their
        # ranges): the fitted region's frontier, tried with the default's form and values
        along_compute = np.maximum(d["h"], np.clip(np.log10(test["N"].to_numpy(float) * test["D"].to_numpy(float)
                                                            / float((train["N"] * train["D"]).max())), 0, None))
        for v, (s0, kappa), h in [("off", (0.0, 0.0), d["h"]),
                                  *((v, sk, d["h"]) for v, sk in values.items() if v not in NEEDS_CHANGE),
                                  ("linear (default), along compute", values["linear (default)"], along_compute)]:
            form = v.removesuffix(", along compute")  # the variant whose values and form it uses
            tau = np.sqrt(tau2(form, s0, kappa, h, d["p"], d["n"], d["k"])) if v != "off" else np.zeros_like(h)
            exp_ = lik.shift(mu, tau[None, :] * antithetic_normal(seed, mu.shape)) if np.any(tau > 0) else mu
            obs = lik.draw(exp_, noise, np.random.default_rng(seed))
            ll = lik.logpdf(y[None, :], exp_, {k: a[:, None] for k, a in noise.items()})
            rows.append(pd.DataFrame({"dataset": ds, "curve": curve, "when": v, "ok": d["ok"],
                                      "pit": np.mean(obs <= y[None, :], 0),
                                      "lpd": logsumexp(ll, axis=0) - np.log(ll.shape[0]),
                                      "log_err": np.log(np.median(exp_, axis=0)) - np.log(y)}))
    table = summarise(pd.concat(rows, ignore_index=True)).rename(columns={"when": "variant"})
    return table[["dataset", "variant", "cov50", "cov90", "msce", "lpd"]]


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--cache", type=Path, default=HERE / "results" / "calibration" / "cache",
                   help="the fits calibration.py cached (default: its default output folder)")
    p.add_argument("--nd", action="store_true", help="also score the N-D splits (about 2 minutes of fitting)")
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args(argv)
    done = [pickle.loads(f.read_bytes()) for f in sorted(a.cache.glob("*.pkl"))]
    if len({DATASET[r["domain"]] for r in done}) < 2:
        p.error(f"{a.cache} holds fits of fewer than two data sets: run benchmarks/calibration.py first")
    table, values = one_d(done, a.seed)
    cols = ["variant", "part", "curves", "points", "cov50", "cov90", "msce", "lpd"]
    for by in ("group", "distance"):
        print(f"### {len(done)} curves, leave-one-dataset-out, by {by}\n")
        print(markdown(table.loc[table["by"] == by, cols]) + "\n")
    print("values learned on all curves: " + "; ".join(f"{v}: s0={s0:.3f} kappa={k:.3f}"
                                                      for v, (s0, k) in values.items()))
    if a.nd:
        print("\n### N-D splits (out of sample)\n")
        print(markdown(n_d(values, a.cache.parent / "nd_variants", a.seed)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
