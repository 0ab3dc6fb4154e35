"""Fitting a law by NUTS, diagnostics, forecasts, saving and loading.

Lifecycle (as in bambi): configure (law, priors, likelihood), build
(:func:`bayescale.model.build_model`), fit (:func:`fit`), predict
(:meth:`Fit.forecast`).  Nothing samples until :func:`fit` is called.

Prediction contract
-------------------
:meth:`Fit.forecast` returns, for every target scale, posterior draws of

* the law's expected value ``mu = f(x; theta)`` (``Forecast.expected``), and
* a new observation ``y_new ~ p(y | mu, noise)`` (``Forecast.observed``),

with equal-tailed intervals of the requested probability for each.  It never
returns a point estimate alone.  Draws are computed with numpy from the
saved posterior, so a reloaded fit forecasts identically for the same seed.
"""

from __future__ import annotations

import importlib.util
import json
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

from . import __version__
from .data import Dataset, load_data
from .errors import DataError, FitError
from .laws import Law, get_law, law_from_json
from .model import LIKELIHOODS, NOISE_PRIORS, build_model, check_identifiable, resolve_priors

__all__ = ["Fit", "Forecast", "Diagnostics", "fit", "load", "SAMPLERS"]

#: Samplers a fit can request (each where installed).
SAMPLERS = ("nutpie", "pymc", "numpyro")

#: Thresholds a fit must meet to be reported as reliable.
RHAT_MAX = 1.01
ESS_PER_CHAIN_MIN = 100


def _default_sampler() -> str:
    return "nutpie" if importlib.util.find_spec("nutpie") else "pymc"


@dataclass(frozen=True)
class Diagnostics:
    """Convergence diagnostics of a fit.

    ``ok`` is true only when there are no divergences, every R-hat is at most
    1.01, and bulk and tail ESS are at least 100 per chain for every parameter.
    """

    divergences: int
    max_rhat: float
    min_ess_bulk: float
    min_ess_tail: float
    chains: int
    draws: int
    ok: bool
    problems: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "divergences": self.divergences,
            "max_rhat": self.max_rhat,
            "min_ess_bulk": self.min_ess_bulk,
            "min_ess_tail": self.min_ess_tail,
            "chains": self.chains,
            "draws": self.draws,
            "problems": list(self.problems),
        }


@dataclass(frozen=True)
class Forecast:
    """Posterior forecasts at target scales.

    Attributes
    ----------
    inputs : dict of str to ndarray, shape (m,)
        Target scales.
    expected : ndarray, shape (draws, m)
        Draws of the law's expected value at each target.
    observed : ndarray, shape (draws, m)
        Draws of a new observation at each target (expected value plus noise).
    prob : float
        Probability of the equal-tailed intervals in :meth:`table`.
    reliable : bool
        False when the fit's diagnostics failed; every table says so.
    """

    inputs: Mapping[str, np.ndarray] = field(hash=False)
    expected: np.ndarray = field(hash=False)
    observed: np.ndarray = field(hash=False)
    prob: float = 0.9
    reliable: bool = True

    def _q(self, arr: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        lo, hi = (1 - self.prob) / 2, 1 - (1 - self.prob) / 2
        q = np.quantile(arr, [lo, 0.5, hi], axis=0)
        return q[1], q[0], q[2]

    def table(self) -> pd.DataFrame:
        """One row per target: median and interval of the expected value and of a new observation."""
        med, lo, hi = self._q(self.expected)
        omed, olo, ohi = self._q(self.observed)
        d = {k: v for k, v in self.inputs.items()}
        d.update(median=med, lower=lo, upper=hi, obs_median=omed, obs_lower=olo, obs_upper=ohi)
        df = pd.DataFrame(d)
        df["prob"] = self.prob
        df.attrs["reliable"] = self.reliable
        return df

    def to_records(self) -> list[dict[str, Any]]:
        """JSON-ready records: ``x`` (or one key per input), ``median``, ``lower``, ``upper``, ``prob``,
        and ``observation`` with the interval of a new observation."""
        t = self.table()
        out = []
        for _, r in t.iterrows():
            rec: dict[str, Any] = {}
            if len(self.inputs) == 1:
                rec["x"] = float(r[next(iter(self.inputs))])
            else:
                rec["x"] = {k: float(r[k]) for k in self.inputs}
            rec.update(median=float(r["median"]), lower=float(r["lower"]), upper=float(r["upper"]),
                       prob=self.prob,
                       observation={"median": float(r["obs_median"]), "lower": float(r["obs_lower"]),
                                    "upper": float(r["obs_upper"])},
                       reliable=self.reliable)
            out.append(rec)
        return out


@dataclass(frozen=True)
class Fit:
    """A fitted law: the ArviZ DataTree plus the law, the data and the settings.

    Attributes
    ----------
    tree : xarray.DataTree
        Groups ``posterior``, ``sample_stats``, ``log_likelihood`` (on the y scale),
        ``observed_data`` and ``constant_data``.
    law : Law
    data : Dataset
    settings : dict
        Likelihood, priors (as text), sampler requested and ``sampler_ran``,
        draws, tune, chains, target_accept, seed, remedies applied.
    """

    tree: Any = field(repr=False)
    law: Law
    data: Dataset = field(repr=False)
    settings: Mapping[str, Any] = field(hash=False)

    # -- posterior access ----------------------------------------------------
    @property
    def param_names(self) -> list[str]:
        """Law parameters followed by noise parameters."""
        return list(self.law.param_names) + list(NOISE_PRIORS[self.settings["likelihood"]])

    def draws(self, names: Sequence[str] | None = None) -> dict[str, np.ndarray]:
        """Flattened posterior draws (chain-major) of the named parameters."""
        post = self.tree["posterior"]
        names = self.param_names if names is None else list(names)
        return {n: np.asarray(post[n].values, dtype=float).reshape(-1) for n in names}

    # -- diagnostics -----------------------------------------------------------
    def diagnostics(self) -> Diagnostics:
        """Divergences, R-hat and ESS (ArviZ) against the thresholds of :class:`Diagnostics`."""
        import arviz as az

        post = self.tree["posterior"]
        chains, draws = int(post.sizes["chain"]), int(post.sizes["draw"])
        div = int(np.asarray(self.tree["sample_stats"]["diverging"].values).sum())
        names = self.param_names
        rhat = az.rhat(self.tree, var_names=names)
        ess_b = az.ess(self.tree, var_names=names, method="bulk")
        ess_t = az.ess(self.tree, var_names=names, method="tail")

        def _vals(ds):
            return np.array([float(np.asarray(ds[n].values)) for n in names])

        r, eb, et = _vals(rhat), _vals(ess_b), _vals(ess_t)
        problems = []
        if div:
            problems.append(f"{div} divergent transition(s): the posterior may be biased")
        need = ESS_PER_CHAIN_MIN * chains
        if chains > 1 and not np.all(r <= RHAT_MAX):
            worst = names[int(np.nanargmax(r))]
            problems.append(f"R-hat up to {np.nanmax(r):.3f} ({worst}) > {RHAT_MAX}: chains disagree")
        if chains < 2:
            problems.append("only one chain: R-hat cannot check convergence")
        if not np.all(eb >= need):
            worst = names[int(np.nanargmin(eb))]
            problems.append(f"bulk ESS down to {np.nanmin(eb):.0f} ({worst}) < {need}: draw more")
        if not np.all(et >= need):
            worst = names[int(np.nanargmin(et))]
            problems.append(f"tail ESS down to {np.nanmin(et):.0f} ({worst}) < {need}: intervals are noisy")
        return Diagnostics(
            divergences=div,
            max_rhat=float(np.nanmax(r)),
            min_ess_bulk=float(np.nanmin(eb)),
            min_ess_tail=float(np.nanmin(et)),
            chains=chains,
            draws=draws,
            ok=not problems,
            problems=tuple(problems),
        )

    def summary(self, *, prob: float = 0.94) -> pd.DataFrame:
        """Every parameter with posterior mean, sd, median, equal-tailed ``prob`` interval, R-hat and ESS.

        The frame's ``attrs["diagnostics"]`` holds :meth:`diagnostics`, and ``attrs["ok"]`` its verdict.
        """
        import arviz as az

        _check_prob(prob)
        s = az.summary(self.tree, var_names=self.param_names, ci_prob=prob, ci_kind="eti", round_to="none")
        d = self.draws()
        s.insert(2, "median", [float(np.median(d[n])) for n in s.index])
        diag = self.diagnostics()
        s.attrs["diagnostics"] = diag
        s.attrs["ok"] = diag.ok
        s.attrs["prob"] = prob
        return s

    # -- prediction ------------------------------------------------------------
    def expected(self, inputs: Mapping[str, np.ndarray]) -> np.ndarray:
        """Draws of the law's expected value, shape (draws, m)."""
        d = self.draws(self.law.param_names)
        env = {k: v[:, None] for k, v in d.items()}
        xin = {k: np.asarray(v, dtype=float)[None, :] for k, v in inputs.items()}
        out = self.law.evaluate(xin, env)
        m = len(next(iter(inputs.values())))
        return np.broadcast_to(np.asarray(out, dtype=float), (len(next(iter(d.values()))), m)).copy()

    def forecast(
        self,
        *,
        x: Any,
        prob: float = 0.9,
        seed: int | None = None,
    ) -> Forecast:
        """Forecast at target scales (see the module's prediction contract).

        Parameters
        ----------
        x : float, sequence, or mapping of input name to values
            Target scale(s); a mapping (or DataFrame) for laws of several inputs.
        prob : float
            Probability of the equal-tailed intervals, in (0, 1).
        seed : int, optional
            Seed of the noise draws for new observations; defaults to the fit's own seed, so a
            saved and reloaded fit forecasts identically.
        """
        _check_prob(prob)
        if seed is None:
            seed = self.settings.get("seed")
        inputs = _target_inputs(self.law, x)
        mu = self.expected(inputs)
        rng = np.random.default_rng(seed)
        noise = self.draws(list(NOISE_PRIORS[self.settings["likelihood"]]))
        obs = simulate_noise(mu, self.settings["likelihood"], noise, rng)
        return Forecast(inputs=inputs, expected=mu, observed=obs, prob=prob, reliable=self.diagnostics().ok)

    def optimal_allocation(self, *, compute: Any, prob: float = 0.9, **kwargs):
        """Compute-optimal split of budgets C = 6ND for a two-input law (see :mod:`bayescale.allocation`)."""
        from .allocation import optimal_allocation

        return optimal_allocation(self, compute=compute, prob=prob, **kwargs)

    # -- persistence -------------------------------------------------------------
    def save(self, path: str | os.PathLike) -> Path:
        """Write the fit to netCDF: the DataTree with the law, settings and data stored inside."""
        p = Path(path)
        tree = self.tree.copy()
        tree.attrs["bayescale_version"] = __version__
        tree.attrs["bayescale_law"] = self.law.to_json()
        tree.attrs["bayescale_settings"] = json.dumps(self.settings)
        tree.attrs["bayescale_columns"] = json.dumps(dict(self.data.columns))
        tree.attrs["bayescale_source"] = self.data.source
        p.parent.mkdir(parents=True, exist_ok=True)
        tree.to_netcdf(p, engine="h5netcdf")
        return p


def simulate_noise(mu: np.ndarray, likelihood: str, noise: Mapping[str, np.ndarray], rng) -> np.ndarray:
    """Draw observations around expected values ``mu`` (shape (draws, m)) under a likelihood."""
    sigma = np.asarray(noise["sigma"], dtype=float).reshape(-1, *([1] * (mu.ndim - 1)))
    if likelihood == "lognormal":
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.exp(np.log(mu) + sigma * rng.standard_normal(mu.shape))
    if likelihood == "normal":
        return mu + sigma * rng.standard_normal(mu.shape)
    nu = np.asarray(noise["nu"], dtype=float).reshape(sigma.shape)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.exp(np.log(mu) + sigma * rng.standard_t(np.broadcast_to(nu, mu.shape)))


def _check_prob(prob: float) -> None:
    if not isinstance(prob, (int, float)) or not 0 < float(prob) < 1:
        raise FitError(f"interval probability must be between 0 and 1 (exclusive), got {prob!r}")


def _target_inputs(law: Law, x: Any) -> dict[str, np.ndarray]:
    if isinstance(x, pd.DataFrame):
        x = {k: x[k].to_numpy() for k in x.columns}
    if isinstance(x, Mapping):
        missing = [k for k in law.inputs if k not in x]
        extra = [k for k in x if k not in law.inputs]
        if missing or extra:
            raise DataError(
                f"targets must give each input of law {law.name!r} ({', '.join(law.inputs)}); "
                + (f"missing {', '.join(missing)}" if missing else f"unknown {', '.join(map(str, extra))}")
            )
        vals = {k: np.atleast_1d(np.asarray(x[k], dtype=float)) for k in law.inputs}
    else:
        if len(law.inputs) != 1:
            raise DataError(
                f"law {law.name!r} has inputs {', '.join(law.inputs)}: give targets as a mapping, "
                f"e.g. x={{{', '.join(repr(k) + ': [...]' for k in law.inputs)}}}"
            )
        try:
            vals = {law.inputs[0]: np.atleast_1d(np.asarray(x, dtype=float))}
        except (TypeError, ValueError):
            raise DataError(f"target scale {x!r} is not a number; give positive numbers") from None
    sizes = {v.size for v in vals.values()}
    if len(sizes) != 1:
        vals = dict(zip(vals, np.broadcast_arrays(*vals.values())))
    for k, v in vals.items():
        if v.ndim != 1 or v.size == 0:
            raise DataError(f"target {k!r} must be a non-empty list of numbers")
        bad = ~np.isfinite(v) | (v <= 0)
        if bad.any():
            raise DataError(f"target scale {k}={v[bad][0]:g} is not a positive finite number; targets must be > 0")
    return vals


#: Compiled nutpie models, keyed by (law, likelihood, priors): repeated fits of one law swap new
#: data into the compiled graph through its data containers instead of compiling again.
_COMPILED: dict[tuple, Any] = {}


def _compiled_nutpie(model, key: tuple, values: Mapping[str, np.ndarray]):
    import nutpie

    compiled = _COMPILED.get(key)
    if compiled is None:
        compiled = nutpie.compile_pymc_model(model)
        _COMPILED[key] = compiled
        return compiled
    known = {v.name for v in compiled.shared_var_keys}
    return compiled.with_data(**{k: v for k, v in values.items() if k in known})


def log_density(y, mu, *, likelihood: str, sigma, nu=None) -> np.ndarray:
    """Log density of ``y`` given expected values ``mu`` on the y scale; arguments broadcast.

    lognormal: ``log N(log y; log mu, sigma) - log y``; normal: ``log N(y; mu, sigma)``;
    studentt: ``log t_nu(log y; log mu, sigma) - log y`` (each with the Jacobian of ``log y``
    where the noise is on log y). The model's own log-density is checked against these in the tests.
    """
    from scipy import stats

    y, mu, sigma = (np.asarray(v, dtype=float) for v in (y, mu, sigma))
    with np.errstate(divide="ignore", invalid="ignore"):
        if likelihood == "lognormal":
            return stats.norm.logpdf(np.log(y), np.log(mu), sigma) - np.log(y)
        if likelihood == "normal":
            return stats.norm.logpdf(y, mu, sigma)
        if likelihood == "studentt":
            if nu is None:
                raise FitError("the studentt likelihood needs draws of nu")
            return stats.t.logpdf(np.log(y), np.asarray(nu, dtype=float), np.log(mu), sigma) - np.log(y)
    raise FitError(f"unknown likelihood {likelihood!r}; choose one of {', '.join(LIKELIHOODS)}")


def pointwise_log_likelihood(
    law: Law, likelihood: str, params: Mapping[str, np.ndarray], inputs: Mapping[str, np.ndarray], y: np.ndarray
) -> np.ndarray:
    """Log density of each observation under each draw, on the y scale.

    ``params`` arrays have shape (...,); the result has shape (..., n). Computed with
    scipy (:func:`log_density`), which avoids compiling a second PyTensor function per fit.
    """
    shape = np.shape(next(iter(params.values())))
    env = {k: np.asarray(params[k], dtype=float)[..., None] for k in law.param_names}
    mu = np.asarray(law.evaluate({k: np.asarray(v, dtype=float) for k, v in inputs.items()}, env), dtype=float)
    mu = np.broadcast_to(mu, (*shape, len(y)))
    nu = np.asarray(params["nu"], dtype=float)[..., None] if likelihood == "studentt" else None
    return log_density(y, mu, likelihood=likelihood, sigma=np.asarray(params["sigma"], dtype=float)[..., None],
                       nu=nu)


def _nutpie_starts(model, starts: Sequence[Mapping[str, np.ndarray]], chain_seeds: Sequence[int] = ()):
    """An ``initial_point_func`` for nutpie that hands each chain its own start (flat, in nutpie's order).

    nutpie calls the function once per chain, with that chain's seed, from the chains' threads, so the
    order of the calls depends on thread scheduling.  The start is therefore chosen by the rank of the
    chain's seed among ``chain_seeds`` (:func:`_chain_seeds`), which makes the pairing of chain and
    start, and so the draws, reproducible from the fit's seed.  A seed not among them (a retried
    initialisation, or no seed) takes the next start in call order.
    """
    import threading

    names = [model.rvs_to_values[rv].name for rv in model.free_RVs]
    flats = [np.concatenate([np.atleast_1d(np.asarray(s[n], dtype=float)).ravel() for n in names]) for s in starts]
    rank = {int(s): i for i, s in enumerate(sorted(int(s) for s in chain_seeds))}
    lock, count = threading.Lock(), [0]

    def initial_point(seed=None):
        i = rank.get(None if seed is None else int(seed))
        if i is None:
            with lock:
                i = count[0]
                count[0] += 1
        return flats[i % len(flats)].copy()

    return initial_point


#: (seed, chains) -> the per-chain seeds nutpie hands to ``initial_point_func``.
_CHAIN_SEEDS: dict[tuple[int, int], tuple[int, ...]] = {}


def _chain_seeds(compiled, *, seed: int | None, chains: int, point: np.ndarray) -> tuple[int, ...]:
    """The seeds nutpie gives its chains for ``seed`` (empty for ``seed=None``), found once per process.

    nutpie derives each chain's seed from the sampling seed and the chain alone (checked: the same set
    for any draws, tune and cores), but does not expose them; a one-draw run that records them is the
    only way to learn them.  It costs about 0.1 s, once per (seed, chains).
    """
    import dataclasses
    import threading

    import nutpie

    if seed is None:
        return ()
    key = (int(seed), int(chains))
    if key not in _CHAIN_SEEDS:
        seen: list[int] = []
        lock = threading.Lock()

        def record(s=None):
            with lock:
                seen.append(int(s))
            return point.copy()

        nutpie.sample(dataclasses.replace(compiled, initial_point_func=record), draws=1, tune=1, chains=chains,
                      cores=1, seed=seed, progress_bar=False)
        _CHAIN_SEEDS[key] = tuple(seen[:chains])
    return _CHAIN_SEEDS[key]


def _pymc_initvals(starts):
    """Per-chain initial values for ``pm.sample`` (constrained raw values, keyed by variable name)."""
    from .init import constrained

    return [constrained(s) for s in starts] if starts else None


def _sample(model, *, law, ds, likelihood, priors_key, sampler, draws, tune, chains, cores, target_accept,
            seed, progressbar, starts=None):
    """Run NUTS and return a DataTree with posterior, sample_stats, log_likelihood and the data."""
    import dataclasses

    import xarray as xr

    from .model import model_data

    if sampler == "nutpie":
        import nutpie

        compiled = _compiled_nutpie(model, (law.to_json(), likelihood, priors_key), model_data(law, ds))
        if starts:
            first = _nutpie_starts(model, starts)()
            seeds = _chain_seeds(compiled, seed=seed, chains=chains, point=first)
            compiled = dataclasses.replace(compiled, initial_point_func=_nutpie_starts(model, starts, seeds))
        tree = nutpie.sample(compiled, draws=draws, tune=tune, chains=chains, cores=cores, seed=seed,
                             target_accept=target_accept, progress_bar=progressbar, save_warmup=False)
    else:
        import pymc as pm

        with model:
            tree = pm.sample(draws=draws, tune=tune, chains=chains, cores=cores, target_accept=target_accept,
                             random_seed=seed, nuts_sampler=sampler, progressbar=progressbar,
                             compute_convergence_checks=False, initvals=_pymc_initvals(starts))
    post = tree["posterior"]
    names = list(law.param_names) + list(NOISE_PRIORS[likelihood])
    params = {n: np.asarray(post[n].values, dtype=float) for n in names}
    ll = pointwise_log_likelihood(law, likelihood, params, ds.inputs, ds.y)
    obs = np.arange(ds.n)
    keep = {k: tree[k].to_dataset() for k in ("posterior", "sample_stats")}
    keep["log_likelihood"] = xr.Dataset({"y": (("chain", "draw", "obs"), ll)},
                                        coords={"chain": post["chain"].values, "draw": post["draw"].values,
                                                "obs": obs})
    keep["observed_data"] = xr.Dataset({"y": (("obs",), np.asarray(ds.y, dtype=float))}, coords={"obs": obs})
    keep["constant_data"] = xr.Dataset({k: (("obs",), np.asarray(v, dtype=float)) for k, v in ds.inputs.items()},
                                       coords={"obs": obs})
    out = xr.DataTree.from_dict(keep)
    out["posterior"].attrs.update(post.attrs)
    return out


def fit(
    data: str | os.PathLike | pd.DataFrame | Dataset,
    *,
    law: str | Law,
    x: str | Sequence[str] | Mapping[str, str] | None = None,
    y: str = "y",
    priors: Mapping[str, str] | None = None,
    likelihood: str = "lognormal",
    draws: int = 1000,
    tune: int = 1000,
    chains: int = 4,
    cores: int | None = None,
    target_accept: float = 0.9,
    sampler: str | None = None,
    seed: int | None = 0,
    progressbar: bool | None = None,
    auto_remedy: bool = True,
    where: Mapping[str, str] | None = None,
    init: str = "optimize",
) -> Fit:
    """Fit a scaling law by NUTS.

    Parameters
    ----------
    data : CSV path, DataFrame or Dataset
    law : str or Law
        Catalogue name (see ``bayescale laws``), path to a law file, or a :class:`Law`.
    x : str, list of str or mapping, optional
        Scale column(s), one per law input in order; defaults to the input names.
    y : str
        Metric column.
    priors : mapping, optional
        Prior overrides by parameter name, e.g. ``{"alpha": "Normal(mu=0.3, sigma=0.1)"}``.
    likelihood : {"lognormal", "normal", "studentt"}
        Multiplicative noise (default), additive noise, or robust Student-t on log y.
    draws, tune, chains, cores, target_accept
        NUTS settings; ``cores`` defaults to ``min(chains, os.cpu_count())``.
    sampler : {"nutpie", "pymc", "numpyro"}, optional
        Defaults to nutpie where installed, else PyMC's own NUTS.
    seed : int or None
        Seed; the same seed reproduces the same draws.
    progressbar : bool, optional
        Defaults to showing progress when standard error is a terminal.
    auto_remedy : bool
        If sampling ends with divergences, refit once with ``target_accept=0.99``
        and record that in ``settings["remedy"]``.
    where : mapping, optional
        Use only rows whose column equals the value, e.g. ``{"split": "fit"}`` (recorded).
    init : {"optimize", "prior"}
        Start chains at multi-start least-squares optima (:mod:`bayescale.init`; default), or at the
        sampler's default point near the prior's centre.

    Returns
    -------
    Fit
    """
    law = get_law(law)
    resolved = resolve_priors(law, likelihood, priors)  # also rejects an unknown likelihood
    if isinstance(data, Dataset):
        ds = data
        if likelihood != "normal" and np.any(ds.y <= 0):
            raise DataError("the metric has non-positive values; use likelihood='normal'")
    else:
        ds = load_data(data, x=list(law.inputs) if x is None else x, y=y, inputs=law.inputs,
                       positive_y=likelihood != "normal", where=where)
    check_identifiable(law, ds)
    sampler = sampler or _default_sampler()
    if sampler not in SAMPLERS:
        raise FitError(f"unknown sampler {sampler!r}; choose one of {', '.join(SAMPLERS)}")
    need_pkg = {"nutpie": "nutpie", "numpyro": "numpyro", "pymc": "pymc"}[sampler]
    if importlib.util.find_spec(need_pkg) is None:
        raise FitError(f"sampler {sampler!r} needs the package {need_pkg!r}: pip install {need_pkg}")
    for name, v, lo in (("draws", draws, 1), ("tune", tune, 0), ("chains", chains, 1)):
        if not isinstance(v, (int, np.integer)) or v < lo:
            raise FitError(f"{name} must be an integer >= {lo}, got {v!r}")
    if not 0 < target_accept < 1:
        raise FitError(f"target_accept must be in (0, 1), got {target_accept!r}")
    cores = cores or max(1, min(chains, os.cpu_count() or 1))
    if progressbar is None:
        progressbar = sys.stderr.isatty()

    if init not in ("optimize", "prior"):
        raise FitError(f"init must be 'optimize' or 'prior', got {init!r}")
    model = build_model(law, ds, priors=priors, likelihood=likelihood)
    starts = None
    if init == "optimize":
        from .init import start_points

        starts = start_points(law, ds, likelihood=likelihood, priors=resolved, chains=chains, seed=seed)
    kw = dict(starts=starts, law=law, ds=ds, likelihood=likelihood, priors_key=tuple((k, v.text) for k, v in resolved.items()),
              sampler=sampler, draws=draws, tune=tune, chains=chains, cores=cores, seed=seed,
              progressbar=progressbar)
    tree = _sample(model, target_accept=target_accept, **kw)
    remedy = None
    first_div = div = int(np.asarray(tree["sample_stats"]["diverging"].values).sum())
    if div and auto_remedy and target_accept < 0.99:
        remedy = f"{div} divergences at target_accept={target_accept}; refitted with target_accept=0.99"
        tree = _sample(model, target_accept=0.99, **kw)
        target_accept = 0.99
    settings = {
        "law": law.name,
        "likelihood": likelihood,
        "priors": {k: v.text for k, v in resolved.items()},
        "draws": draws,
        "tune": tune,
        "chains": chains,
        "target_accept": target_accept,
        "sampler": sampler,
        "sampler_ran": str(tree["posterior"].attrs.get("inference_library", sampler)),
        "seed": seed,
        "remedy": remedy,
        "init": init if starts else "prior",
        "divergences_first_run": first_div,
        "data_source": ds.source,
        "bayescale_version": __version__,
    }
    return Fit(tree=tree, law=law, data=ds, settings=settings)


def load(path: str | os.PathLike) -> Fit:
    """Load a fit written by :meth:`Fit.save`; it forecasts with no other input."""
    import xarray as xr

    p = Path(path)
    if not p.is_file():
        raise FitError(f"fit file {str(p)!r} not found; check the path")
    try:
        tree = xr.open_datatree(p, engine="h5netcdf").load()
    except Exception as exc:  # any reader failure means "not a fit file"
        raise FitError(f"{str(p)!r} is not a readable netCDF fit file ({type(exc).__name__}); "
                       "give a file written by Fit.save or 'bayescale fit --out'") from None
    attrs = tree.attrs
    if "bayescale_law" not in attrs:
        raise FitError(f"{str(p)!r} is not a bayescale fit (no law stored); save fits with Fit.save")
    law = law_from_json(attrs["bayescale_law"])
    settings = json.loads(attrs["bayescale_settings"])
    columns = json.loads(attrs["bayescale_columns"])
    cd, od = tree["constant_data"], tree["observed_data"]
    ds = Dataset(
        inputs={k: np.asarray(cd[k].values, dtype=float) for k in law.inputs},
        y=np.asarray(od["y"].values, dtype=float),
        columns=columns,
        source=str(attrs.get("bayescale_source", "")),
    )
    return Fit(tree=tree, law=law, data=ds, settings=settings)
