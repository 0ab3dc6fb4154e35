"""Simulation-based calibration (SBC) of every catalogue law, and held-out coverage on real data.

SBC (Talts, Betancourt, Simpson, Vehtari, Gelman 2018, arXiv:1804.06788)
--------------------------------------------------------------------------
For each law of :func:`bayescale.list_laws` with its default priors and the default log-normal
likelihood, and for ``s = 1..S``:

1. draw ``theta_s ~ p(theta)`` (law parameters in declaration order, then ``sigma``);
2. simulate ``y_s ~ p(y | theta_s)`` on a fixed design;
3. fit ``p(theta | y_s)`` with :func:`bayescale.fit` (nutpie) and thin the posterior to ``L``
   draws spaced evenly over the chains;
4. record the rank ``r = #{l : theta_l < theta_s}`` in ``0..L`` for every parameter.

If the sampler computes the posterior correctly, every rank is uniform on ``0..L``.  The ranks are
grouped into ``B`` equal bins (``L + 1`` is a multiple of ``B``) and tested with a chi-square test
of uniformity (:func:`rank_uniformity`).  The mean normalised rank ``r / L`` tells the direction of
a bias (above 0.5: the posterior sits below the truth) and its sd the width (above
``sqrt(1/12) = 0.289``, a U-shaped histogram: posteriors too narrow; below, a hump: too wide).

**Scale-aware priors and a fixed reference.**  The default priors use data statistics
(``y_min``, ``y_ref``, ``y_start``, ``x_ref``, ...) which depend on the simulated ``y`` itself, so
"the prior" is not one fixed distribution and a naive SBC (draw with one set of statistics, fit
with the statistics of the simulated data) tests a different joint model than it fits.  Here,
per law, the statistics are fixed once from a *pilot dataset* (the law's
:data:`bayescale.simulate.TRUE_PARAMS` on the design, 2% noise, seed 0); every statistic in every
prior formula is replaced by its numeric value (see :func:`fixed_priors`), and those *same* prior
strings are used to draw ``theta_s`` (through :meth:`bayescale.spec.priors.Prior.draw`) and passed
to ``bayescale.fit(priors=...)``.  The prior used for simulating is therefore exactly the prior
used for fitting; what SBC tests is the model code, the parameterisation and the sampler under
each law's default prior *shape* (at the scale of a realistic dataset).  The data statistics
computed from ``y_s`` still enter the model's data containers but no prior refers to them.

Break positions of multi-break laws (``ordered`` in the law file) are drawn as the sorted values
of iid draws from their common LogUniform prior, which is the joint law the model samples (a
Dirichlet spacing).  ``sigma`` is drawn from its prior ``HalfNormal(0.2)``.  Draws whose law
mean is not finite and positive at every design point, or whose simulated ``y`` is not finite
and positive, are redrawn; the number redrawn is reported (rejection truncates the prior the
data were simulated from, so a large count would itself bias SBC).

Designs: one-input laws 20 (power laws), 25 (bnsl1) or 30 (bnsl2, bnsl3) log-spaced scales over
3 to 4 decades; two-input laws a 5 x 5 grid of N (10^7.5..10^9.5) and D (10^9..10^11).

Sampling: nutpie, 2 chains x 500 draws after 500 tuning steps, ``target_accept`` 0.9 and
**no automatic remedy** (``auto_remedy=False``: a refit at 0.99 would make the algorithm under
test depend on the first run).  ``L = 99`` thinned draws (every ~10th), ``B = 10`` bins.
Fits with divergences or failed diagnostics (:meth:`bayescale.Fit.diagnostics`) are kept in
the ranks and counted per law; p-values restricted to fits without divergences are reported
beside them (at 2 x 500 draws nearly every break-law fit fails the ESS >= 100 per chain check, so
"passing every diagnostic" would leave no break-law fits).

Each worker process handles whole laws, so it compiles each law's model once and swaps the data
in for every simulation.  Ranks are appended to ``<out>/ranks_<law>.csv`` as they come, so an
interrupted run can be summarised with ``--summarize``.

Held-out coverage (``--coverage``)
----------------------------------
Fraction of held-out real points inside the 50% and 90% equal-tailed intervals, for the law's
expected value and for a new observation: ``bnsl_4digit_addition`` (bnsl1, fit the 14 ``fit``
points, hold out 3) and the 24 curves of ``nanogpt_embd`` (power_law_offset, fit the 6 smallest
widths, hold out ``n_embd = 384``).

Usage::

    python benchmarks/sbc.py --quick                       # CI: 8 sims of 2 laws, tiny draws
    python benchmarks/sbc.py --n 100                       # full run, all laws, 2 workers
    python benchmarks/sbc.py --summarize                   # table and figures from saved ranks
    python benchmarks/sbc.py --coverage                    # held-out coverage on real data
    python benchmarks/sbc.py --n 100 --readme benchmarks/README.md   # also write the README block
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
import warnings
import zlib
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from bayescale.evaluate.many import dask_map

HERE = Path(__file__).resolve().parent
DEFAULT_OUT = HERE / "results" / "sbc"
START, END = "<!-- sbc:start -->", "<!-- sbc:end -->"
COV_START, COV_END = "<!-- sbc_coverage:start -->", "<!-- sbc_coverage:end -->"
FULL = dict(draws=500, tune=500, chains=2, n_rank_draws=99, bins=10)
QUICK = dict(draws=60, tune=100, chains=1, n_rank_draws=19, bins=4)
#: --defaults: the package's own sampling defaults (4 x 1000 draws, target_accept 0.9) and its automatic
#: remedies (a rerun at 0.99 after divergences, more draws after a short ESS), as a user's fit runs
DEFAULTS = dict(draws=None, tune=None, chains=None, n_rank_draws=99, bins=10, defaults=True)
QUICK_LAWS = ("power_law", "power_law_offset")
MAX_REDRAWS = 1000


# ---------------------------------------------------------------------------------------------
# ranks and uniformity (pure functions, unit-tested)
# ---------------------------------------------------------------------------------------------
def thin_draws(draws: np.ndarray, n: int) -> np.ndarray:
    """``n`` draws evenly spaced through a flattened (chain-major) posterior sample.

    Talts et al. thin to roughly independent draws so that the rank histogram has no artefacts
    from autocorrelation; with 1000 draws and ``n = 99`` this keeps every ~10th draw.
    """
    draws = np.asarray(draws, dtype=float).reshape(-1)
    if draws.size < n:
        raise ValueError(f"need at least {n} draws to thin, got {draws.size}")
    idx = np.round(np.linspace(0, draws.size - 1, n)).astype(int)
    return draws[idx]


def sbc_rank(draws: np.ndarray, truth: float) -> int:
    """Rank of the true value among posterior draws: ``#{draws < truth}``, in ``0..len(draws)``."""
    return int(np.sum(np.asarray(draws, dtype=float) < float(truth)))


def rank_uniformity(ranks: np.ndarray, *, n_ranks: int, bins: int) -> dict[str, float]:
    """Chi-square test that ranks are uniform on ``0..n_ranks - 1``, in ``bins`` equal bins.

    Parameters
    ----------
    ranks : array of int
        SBC ranks, each in ``0..n_ranks - 1`` (``n_ranks = L + 1`` for ``L`` posterior draws).
    n_ranks : int
        Number of possible rank values; must be a multiple of ``bins`` so every bin holds the
        same number of rank values and has expected count ``len(ranks) / bins``.
    bins : int

    Returns
    -------
    dict
        ``p`` (chi-square p-value, ``bins - 1`` degrees of freedom), ``chi2``, ``mean`` and ``sd``
        of the normalised ranks ``r / (n_ranks - 1)`` (0.5 and 0.289 when uniform), ``n``.
    """
    from scipy import stats

    r = np.asarray(ranks, dtype=int)
    if n_ranks % bins:
        raise ValueError(f"n_ranks={n_ranks} must be a multiple of bins={bins}")
    if r.size == 0:
        return {"p": float("nan"), "chi2": float("nan"), "mean": float("nan"), "sd": float("nan"), "n": 0}
    if r.min() < 0 or r.max() >= n_ranks:
        raise ValueError(f"ranks must lie in 0..{n_ranks - 1}")
    counts = np.bincount(r * bins // n_ranks, minlength=bins)
    chi2, p = stats.chisquare(counts)
    u = r / (n_ranks - 1)
    return {"p": float(p), "chi2": float(chi2), "mean": float(u.mean()), "sd": float(u.std()), "n": int(r.size)}


# ---------------------------------------------------------------------------------------------
# designs, reference statistics and fixed priors
# ---------------------------------------------------------------------------------------------
def design(law) -> dict[str, np.ndarray]:
    """Fixed design per law (see the module docstring)."""
    from bayescale.simulate import DESIGNS

    if law.name in DESIGNS:  # inputs bound to each other (unique tokens U <= D): the package's own design
        return DESIGNS[law.name]()
    if len(law.inputs) == 2:
        g1, g2 = np.meshgrid(np.logspace(7.5, 9.5, 5), np.logspace(9, 11, 5), indexing="ij")
        return {law.inputs[0]: g1.ravel(), law.inputs[1]: g2.ravel()}
    n_par = len(law.sampled)
    if n_par <= 3:
        return {law.inputs[0]: np.logspace(2, 5, 20)}
    if n_par <= 6:
        return {law.inputs[0]: np.logspace(2, 6, 25)}
    return {law.inputs[0]: np.logspace(2, 6, 30)}


def reference_stats(law, x: Mapping[str, np.ndarray]) -> dict[str, float]:
    """Data statistics of the pilot dataset: TRUE_PARAMS on the design, 2% noise, seed 0."""
    import bayescale as bs
    from bayescale.spec.data import data_stats

    df = bs.simulate(law=law, x=x, noise=0.02, seed=0)
    return data_stats({k: df[k].to_numpy() for k in law.inputs}, df["y"].to_numpy())


def _num(v: float) -> str:
    return f"({float(v)!r})"


def fixed_priors(law, stats: Mapping[str, float], likelihood: str = "lognormal") -> dict[str, str]:
    """Every prior of the law (and the noise priors) with each data statistic replaced by its value.

    The substitution is on whole names (``x_min`` but not ``xx_min``) and writes each value in
    parentheses, so ``log(y_ref)`` becomes e.g. ``log((2.71))``; the result parses with the same
    formula grammar and no longer depends on the data.
    """
    from bayescale.spec.resolve import resolve_priors

    pat = re.compile(r"\b(" + "|".join(map(re.escape, sorted(stats, key=len, reverse=True))) + r")\b")
    out = {}
    for name, prior in resolve_priors(law, likelihood).items():
        args = ", ".join(f"{k}={pat.sub(lambda m: _num(stats[m.group(1)]), f.text)}" for k, f in prior.args.items())
        out[name] = f"{prior.dist}({args})"
    return out


def draw_prior(law, priors: Mapping[str, str], rng: np.random.Generator) -> dict[str, float]:
    """One draw of every parameter (law parameters in declaration order, then noise) from ``priors``.

    Ordered break positions are drawn jointly as the sorted values of iid draws from their
    common prior (the joint law the model samples).
    """
    from bayescale.spec.priors import parse_prior

    parsed = {k: parse_prior(v, param=k) for k, v in priors.items()}
    theta: dict[str, float] = {}
    for name in parsed:
        if name in theta:
            continue
        if name in law.ordered:
            vals = np.sort(parsed[name].draw(theta, rng, len(law.ordered)))
            theta.update({n: float(v) for n, v in zip(law.ordered, vals)})
            continue
        theta[name] = float(parsed[name].draw(theta, rng, 1)[0])
    return theta


def simulate_one(law, x, priors, rng) -> tuple[dict[str, float], np.ndarray, int]:
    """Draw ``theta`` and ``y``; redraw while the mean or ``y`` is not finite and positive."""
    for redraws in range(MAX_REDRAWS):
        theta = draw_prior(law, priors, rng)
        with np.errstate(all="ignore"):
            mu = np.asarray(law.evaluate(x, {k: theta[k] for k in law.param_names}), dtype=float)
            mu = np.broadcast_to(mu, next(iter(x.values())).shape)
            y = np.exp(np.log(mu) + theta["sigma"] * rng.standard_normal(mu.shape))
        if np.all(np.isfinite(mu)) and np.all(mu > 0) and np.all(np.isfinite(y)) and np.all(y > 0):
            return theta, y, redraws
    raise RuntimeError(f"{law.name}: no valid prior draw in {MAX_REDRAWS} tries")


# ---------------------------------------------------------------------------------------------
# running
# ---------------------------------------------------------------------------------------------
def _fieldnames(names):
    return ["sim", "redraws", "divergences", "ok", "min_ess_bulk", "max_rhat", "seconds", "error"] + \
        [f"rank_{n}" for n in names] + [f"true_{n}" for n in names]


def resumed_sims(path: Path, meta_path: Path, meta: Mapping[str, Any]) -> set[int]:
    """The simulations already in a ranks file that ``--resume`` continues (empty when there is none).

    A run is continued only under the same design, priors and sampling settings (its ``meta`` file says
    which); anything else would mix two experiments in one table, so it stops with the difference named.
    """
    import pandas as pd

    if not path.exists() or not meta_path.exists():
        return set()
    old = json.loads(meta_path.read_text())
    keys = ("design", "reference_stats", "priors", "params")
    same = {k: old.get(k) == json.loads(json.dumps(meta[k])) for k in keys}
    strip = lambda st: {k: v for k, v in (st or {}).items() if k not in ("resume", "first", "redo")}  # noqa: E731
    same["settings"] = strip(old.get("settings")) == strip(json.loads(json.dumps(meta["settings"])))
    if not all(same.values()):
        raise SystemExit(f"--resume: {path} was made with other {', '.join(k for k, v in same.items() if not v)}; "
                         "use another --out")
    return {int(s) for s in pd.read_csv(path)["sim"]}


def join_ranks(out: Path, other: Path, law: str) -> int:
    """Append to ``out``'s ranks file of ``law`` the simulations of ``other``'s that it lacks; the number added.

    Both runs must share design, priors and settings (:func:`resumed_sims` checks, as for ``--resume``), so
    the joined file is one experiment run by two processes (``--first``)."""
    import pandas as pd

    src, dst = Path(other) / f"ranks_{law}.csv", Path(out) / f"ranks_{law}.csv"
    if not src.exists():
        return 0
    meta = json.loads((Path(other) / f"meta_{law}.json").read_text())
    have = resumed_sims(dst, Path(out) / f"meta_{law}.json", meta)
    new = pd.read_csv(src)
    new = new[~new["sim"].isin(have)]
    if dst.exists():
        new = pd.concat([pd.read_csv(dst), new], ignore_index=True)
    new.sort_values("sim").to_csv(dst, index=False)
    dst_meta = Path(out) / f"meta_{law}.json"
    if not dst_meta.exists():  # joined into an empty folder: the experiment's design goes with its ranks
        dst_meta.write_text(json.dumps(meta, indent=1))
    return int(len(new) - len(have))


def run_law(task: tuple) -> dict[str, Any]:
    """Worker: all simulations of one law (its model compiles once in this process)."""
    law_name, n_sims, settings, out_dir = task
    warnings.simplefilter("ignore")
    import csv
    import logging

    import pandas as pd

    logging.getLogger("pymc").setLevel(logging.ERROR)
    import bayescale as bs
    from bayescale.spec.data import Dataset

    law = bs.get_law(law_name)
    x = design(law)
    stats = reference_stats(law, x)
    priors = fixed_priors(law, stats)
    # derived parameters (the BNSL slope changes) are computed by the model from the design's x_min and
    # x_max, which are the reference statistics here: drawn with the others, not given to the fit
    fit_priors = {k: v for k, v in priors.items() if k not in law.derived}
    names = list(law.param_names) + ["sigma"]
    n_keep = settings["n_rank_draws"]
    path = Path(out_dir) / f"ranks_{law_name}.csv"
    meta = {"law": law_name, "design": {k: [float(v.min()), float(v.max()), int(v.size)] for k, v in x.items()},
            "reference_stats": stats, "priors": priors, "settings": settings, "params": names}
    meta_path = Path(out_dir) / f"meta_{law_name}.json"
    done = resumed_sims(path, meta_path, meta) if settings.get("resume") else set()
    redo = done & {int(s) for s in settings.get("redo", ())}
    if redo:  # --redo: these simulations' rows go, and are fitted again below with the same seeds
        old = pd.read_csv(path)
        old[~old["sim"].isin(redo)].to_csv(path, index=False)
        done -= redo
    meta_path.write_text(json.dumps(meta, indent=1))
    t_law = time.time()
    with open(path, "a" if done else "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=_fieldnames(names))
        if not done:
            w.writeheader()
        for s in range(int(settings.get("first", 0)), n_sims):
            if s in done:
                continue
            rng = np.random.default_rng([zlib.crc32(law_name.encode()), s])
            theta, y, redraws = simulate_one(law, x, priors, rng)
            ds = Dataset(inputs={k: v.copy() for k, v in x.items()}, y=y,
                         columns={**{k: k for k in x}, "y": "y"}, source=f"sbc {law_name} {s}")
            row: dict[str, Any] = {"sim": s, "redraws": redraws, **{f"true_{n}": theta[n] for n in names}}
            t = time.time()
            try:
                if settings.get("defaults"):
                    f = bs.fit(ds, law=law, priors=fit_priors, cores=1, seed=s, progressbar=False)
                else:
                    f = bs.fit(ds, law=law, priors=fit_priors, draws=settings["draws"], tune=settings["tune"],
                               chains=settings["chains"], cores=1, sampler="nutpie", seed=s, progressbar=False,
                               auto_remedy=False)
                d = f.draws(names)
                for n in names:
                    row[f"rank_{n}"] = sbc_rank(thin_draws(d[n], n_keep), theta[n])
                diag = f.diagnostics()
                row.update(divergences=diag.divergences, ok=int(diag.ok), min_ess_bulk=round(diag.min_ess_bulk, 1),
                           max_rhat=round(diag.max_rhat, 4), error="")
            except Exception as exc:  # recorded, not hidden: a failed fit counts as failed
                row.update(error=f"{type(exc).__name__}: {str(exc)[:200]}".replace("\n", " "), ok=0)
            row["seconds"] = round(time.time() - t, 2)
            w.writerow(row)
            fh.flush()
            print(f"[sbc] {law_name} sim {s + 1}/{n_sims} {row['seconds']:.1f}s div={row.get('divergences')} "
                  f"ok={row.get('ok')}", file=sys.stderr, flush=True)
    if redo:
        pd.read_csv(path).sort_values("sim").to_csv(path, index=False)
    return {"law": law_name, "seconds": time.time() - t_law, "path": str(path)}


def summarize(out_dir: Path, laws: list[str] | None = None) -> dict[str, Any]:
    """Per-law and per-parameter results from the saved rank files; figures and ``sbc.md``."""
    import pandas as pd

    out_dir = Path(out_dir)
    laws = laws or sorted(p.stem[len("ranks_"):] for p in out_dir.glob("ranks_*.csv"))
    result: dict[str, Any] = {}
    for law in laws:
        meta = json.loads((out_dir / f"meta_{law}.json").read_text())
        st = meta["settings"]
        df = pd.read_csv(out_dir / f"ranks_{law}.csv", keep_default_na=False, na_values=[""])
        done = df[df["error"].isna() | (df["error"] == "")] if "error" in df else df
        done = done.dropna(subset=[f"rank_{meta['params'][0]}"])
        clean = done[done["divergences"] == 0]
        per = {}
        for n in meta["params"]:
            col = f"rank_{n}"
            a = rank_uniformity(done[col].to_numpy(int), n_ranks=st["n_rank_draws"] + 1, bins=st["bins"])
            c = rank_uniformity(clean[col].to_numpy(int), n_ranks=st["n_rank_draws"] + 1, bins=st["bins"])
            per[n] = {**a, "p_clean": c["p"], "n_clean": c["n"]}
        result[law] = {
            "sims": int(len(df)),
            "fitted": int(len(done)),
            "errors": int(len(df) - len(done)),
            "redrawn": int(df["redraws"].sum()),
            "frac_divergent": float((done["divergences"] > 0).mean()) if len(done) else float("nan"),
            "frac_failed_diag": float((done["ok"] == 0).mean()) if len(done) else float("nan"),
            "median_seconds": float(df["seconds"].median()),
            "median_min_ess_bulk": float(done["min_ess_bulk"].median()) if len(done) else float("nan"),
            "params": per,
            "settings": st,
        }
        _plot(out_dir / f"sbc_{law}.png", law, done, meta["params"], st)
    (out_dir / "sbc.json").write_text(json.dumps(result, indent=1))
    (out_dir / "sbc.md").write_text(markdown_table(result))
    return result


def _plot(path: Path, law: str, df, names, st) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from scipy import stats

    k = len(names)
    cols = min(4, k)
    rows = int(np.ceil(k / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 2.5 * rows), squeeze=False)
    n_ranks, bins, n = st["n_rank_draws"] + 1, st["bins"], len(df)
    lo, hi = stats.binom.ppf([0.005, 0.995], n, 1 / bins) if n else (0, 0)
    for ax, name in zip(axes.ravel(), names):
        r = df[f"rank_{name}"].to_numpy(int)
        counts = np.bincount(r * bins // n_ranks, minlength=bins) if n else np.zeros(bins)
        ax.axhspan(lo, hi, color="0.85", zorder=0, label="99% band if uniform")
        ax.bar(np.arange(bins), counts, width=0.9, color="C0", zorder=1)
        ax.axhline(n / bins, color="0.4", lw=0.8)
        ax.set_title(name, fontsize=9)
        ax.set_xticks([])
    for ax in axes.ravel()[k:]:
        ax.set_visible(False)
    fig.suptitle(f"SBC rank histograms: {law} ({n} fits, {bins} bins of {n_ranks // bins} ranks)", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def markdown_table(result: Mapping[str, Any]) -> str:
    """Two markdown tables: per law (fits, redraws, diagnostics) and per parameter (p-values)."""
    lines = ["| law | sims | fit errors | prior draws redrawn | fits with divergences | fits failing diagnostics | "
             "median min bulk ESS | median s/fit |",
             "|---|---|---|---|---|---|---|---|"]
    for law, r in result.items():
        lines.append(f"| {law} | {r['sims']} | {r['errors']} | {r['redrawn']} | {r['frac_divergent']:.0%} | "
                     f"{r['frac_failed_diag']:.0%} | {r['median_min_ess_bulk']:.0f} | {r['median_seconds']:.1f} |")
    lines += ["", "| law | parameter | p (all fits) | mean rank | sd rank | p (fits without divergences) | such fits |",
              "|---|---|---|---|---|---|---|"]
    for law, r in result.items():
        for n, v in r["params"].items():
            p = f"**{v['p']:.3f}**" if v["p"] < 0.01 else f"{v['p']:.3f}"
            lines.append(f"| {law} | {n} | {p} | {v['mean']:.3f} | "
                         f"{v['sd']:.3f} | {v['p_clean']:.3f} | {v['n_clean']} |")
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------------------------
# held-out coverage on real data
# ---------------------------------------------------------------------------------------------
def _cover(fc90, fc50, y: np.ndarray) -> dict[str, np.ndarray]:
    out = {}
    for tag, fc in (("90", fc90), ("50", fc50)):
        t = fc.table()
        out[f"exp{tag}"] = (y >= t["lower"].to_numpy()) & (y <= t["upper"].to_numpy())
        out[f"obs{tag}"] = (y >= t["obs_lower"].to_numpy()) & (y <= t["obs_upper"].to_numpy())
    return out


def coverage(*, draws: int = 1000, tune: int = 1000, chains: int = 2) -> dict[str, Any]:
    """Held-out coverage of 50% and 90% intervals on two real datasets (see the module docstring)."""
    warnings.simplefilter("ignore")
    import pandas as pd

    import bayescale as bs

    kw = dict(draws=draws, tune=tune, chains=chains, cores=1, sampler="nutpie", progressbar=False)
    res: dict[str, Any] = {}
    # BNSL 4-digit addition: fit 14, hold out 3
    df = pd.read_csv(bs.data_dir() / "bnsl_4digit_addition" / "four_digit_addition.csv")
    tr, te = df[df["split"] == "fit"], df[df["split"] == "extrapolate"]
    f = bs.fit(tr, law="bnsl1", x="train_dataset_size", y="test_cross_entropy", seed=1, **kw)
    xt, yt = te["train_dataset_size"].to_numpy(float), te["test_cross_entropy"].to_numpy(float)
    c = _cover(f.forecast(x=xt, prob=0.9), f.forecast(x=xt, prob=0.5), yt)
    diag = f.diagnostics()
    res["bnsl_4digit_addition"] = {
        "law": "bnsl1", "held_out": int(len(yt)), **{k: float(v.mean()) for k, v in c.items()},
        "fits": 1, "fits_ok": int(diag.ok), "remedy": f.settings["remedy"], "problems": list(diag.problems)}
    # nanogpt_embd: 24 curves, fit 6 widths, hold out 384
    df = pd.read_csv(bs.data_dir() / "nanogpt_embd" / "nanogpt_val_loss_vs_n_embd.csv")
    allc: dict[str, list] = {k: [] for k in ("exp90", "obs90", "exp50", "obs50")}
    ok = []
    per_curve = []
    for (src, cfg), g in df.groupby(["source_file", "config_index"], sort=True):
        g = g.sort_values("n_embd")
        tr, te = g[g["split_nslpfn"] == "fit"], g[g["split_nslpfn"] == "extrapolate"]
        f = bs.fit(tr, law="power_law_offset", x="n_embd", y="val_loss", seed=int(cfg), **kw)
        xt, yt = te["n_embd"].to_numpy(float), te["val_loss"].to_numpy(float)
        c = _cover(f.forecast(x=xt, prob=0.9), f.forecast(x=xt, prob=0.5), yt)
        for k in allc:
            allc[k].extend(c[k].tolist())
        d = f.diagnostics()
        ok.append(d.ok)
        t = f.forecast(x=xt, prob=0.9).table()
        per_curve.append({"curve": f"{src}/{cfg}", "y": float(yt[0]), "median": float(t["median"][0]),
                          "lower90": float(t["lower"][0]), "upper90": float(t["upper"][0]),
                          "obs_lower90": float(t["obs_lower"][0]), "obs_upper90": float(t["obs_upper"][0]),
                          "ok": bool(d.ok), "divergences": d.divergences})
    res["nanogpt_embd"] = {"law": "power_law_offset", "held_out": len(allc["exp90"]),
                           **{k: float(np.mean(v)) for k, v in allc.items()}, "fits": len(ok),
                           "fits_ok": int(np.sum(ok)), "per_curve": per_curve}
    # the same restricted to fits that pass diagnostics
    good = [i for i, o in enumerate(ok) if o]
    res["nanogpt_embd"]["ok_only"] = {k: float(np.mean([v[i] for i in good])) if good else float("nan")
                                      for k, v in allc.items()}
    return res


def coverage_table(res: Mapping[str, Any]) -> str:
    lines = ["| data (law) | held-out points | fits passing diagnostics | expected 50% | expected 90% | "
             "new obs. 50% | new obs. 90% |", "|---|---|---|---|---|---|---|"]
    for name, r in res.items():
        lines.append(f"| {name} ({r['law']}) | {r['held_out']} | {r['fits_ok']}/{r['fits']} | {r['exp50']:.0%} | "
                     f"{r['exp90']:.0%} | {r['obs50']:.0%} | {r['obs90']:.0%} |")
    return "\n".join(lines) + "\n"


def _write_block(readme: Path, start: str, end: str, body: str) -> None:
    text = readme.read_text()
    block = f"{start}\n{body}{end}"
    if start in text and end in text:
        text = text[: text.index(start)] + block + text[text.index(end) + len(end):]
    else:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    readme.write_text(text)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="CI mode: 8 simulations of 2 laws, tiny draws")
    ap.add_argument("--n", type=int, default=100, help="simulations per law (full mode)")
    ap.add_argument("--defaults", action="store_true",
                    help="fit with the package's sampling defaults and automatic remedies (4 x 1000 draws)")
    ap.add_argument("--laws", nargs="*", default=None, help="laws to run (default: every catalogue law)")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    ap.add_argument("--summarize", action="store_true", help="only summarise saved ranks in --out")
    ap.add_argument("--resume", action="store_true",
                    help="continue the ranks files in --out: skip the simulations they hold (same seeds), append the rest")
    ap.add_argument("--first", type=int, default=0,
                    help="start at this simulation: a second process takes the later simulations of a slow law "
                         "into another --out (same seeds), joined afterwards with --join")
    ap.add_argument("--redo", type=int, nargs="+", default=None, metavar="SIM",
                    help="with --resume: fit these simulations again (same seeds) and replace their rows, e.g. the "
                         "failing fits after a change to a remedy that acts only on failing fits")
    ap.add_argument("--join", type=Path, default=None, metavar="DIR",
                    help="append to the ranks files in --out the simulations of DIR's (same design, priors and "
                         "settings) that they lack, then summarise")
    ap.add_argument("--coverage", action="store_true", help="held-out coverage on real data")
    ap.add_argument("--readme", type=Path, default=None, help="write the results block into this file")
    a = ap.parse_args(argv)
    a.out.mkdir(parents=True, exist_ok=True)

    if a.coverage:
        t = time.time()
        res = coverage()
        (a.out / "coverage.json").write_text(json.dumps(res, indent=1))
        table = coverage_table(res)
        (a.out / "coverage.md").write_text(table)
        print(table)
        print(f"coverage: {time.time() - t:.0f} s", file=sys.stderr)
        if a.readme:
            _write_block(a.readme, COV_START, COV_END, table)
        return 0

    import bayescale as bs

    if a.quick:
        settings, laws, n = QUICK, list(a.laws or QUICK_LAWS), 8
    else:
        settings, laws, n = (DEFAULTS if a.defaults else FULL), list(a.laws or [law.name for law in bs.list_laws()]), a.n
    if a.resume:
        settings = {**settings, "resume": True}
    if a.first:
        settings = {**settings, "first": a.first}
    if a.redo:
        if not a.resume:
            raise SystemExit("--redo replaces rows of an existing run: give --resume and its --out")
        settings = {**settings, "redo": sorted(set(a.redo))}
    if a.join:
        for law in laws:
            join_ranks(a.out, a.join, law)
    elif not a.summarize:
        # costliest laws first so the pool stays busy to the end
        laws_run = sorted(laws, key=lambda l: -len(bs.get_law(l).sampled))
        t = time.time()
        tasks = [(law, n, settings, str(a.out)) for law in laws_run]
        if a.workers <= 1:
            done = [run_law(tk) for tk in tasks]
        else:
            done = list(dask_map(run_law, tasks, n_workers=a.workers))  # the package's Dask path
        for d in done:
            print(f"[sbc] {d['law']}: {d['seconds']:.0f} s", file=sys.stderr)
        print(f"[sbc] total {time.time() - t:.0f} s", file=sys.stderr)
    result = summarize(a.out, laws if (a.laws or not a.summarize) else None)
    table = markdown_table(result)
    print(table)
    if a.readme:
        _write_block(a.readme, START, END, table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
