"""Partial pooling across curves: one NUTS run over every group, with shared population parameters.

For groups ``g = 1..G`` (curves: one per task, data mix, seed...), each parameter of the law is either

* **per group** (unpooled): its own prior in each group, with that group's data statistics; or
* **pooled**: drawn around a population value on an unconstrained scale ``T``,

.. math::

    T(\\theta_g) = T(\\theta_{pop}) + \\tau\\, z_g, \\qquad \\theta_{pop} \\sim p(\\theta), \\quad
    \\tau \\sim \\text{HalfNormal}(0.5), \\quad z_g \\sim \\mathcal N(0, 1)

(non-centred), where ``T`` is the identity for a prior on the real line, ``log`` for a positive one
and the logit of the position within the bounds for a (log-)uniform one, and ``p(theta)`` is the
parameter's own prior.  ``tau`` is how much the groups differ (about ``tau`` on the log scale: 0.5 lets
exponents differ by tens of percent between curves).  The noise ``sigma`` is per group.

Pooling helps when curves are short and share exponents that one curve alone cannot pin down; it
hurts when the curves truly differ and ``tau`` cannot say so from few groups (then the groups are
shrunk towards each other).  A pooled parameter's prior must not depend on the data statistics or
on other parameters, since it must be one prior for every group.

Chains start at the model's initial point with jitter (least-squares starts are per curve).  When
every curve pins a pooled parameter well on its own, the non-centred form can leave divergences
(measured: 3 in 4 x 500 draws on four 5-point curves with 2% noise); the diagnostics report them.
Laws whose break positions are sampled jointly (bnsl2, bnsl3) cannot be fitted with groups yet.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd
import xarray as xr

from ..errors import DataError, FitError
from ..predictive import check_prob, expected_draws, target_inputs
from ..spec.data import Dataset, data_stats
from ..spec.discrepancy import get_discrepancy
from ..spec.formula import pytensor_backend
from ..spec.laws import Law
from ..spec.likelihoods import Likelihood, get_likelihood
from ..spec.resolve import resolve_priors
from .config import FitConfig
from .forecast import Forecast, fit_autocorrelation, forecast_draws
from .results import Diagnostics, diagnose, n_divergences
from .sampling import REMEDY_ADAPTATION, compile_model, divergence_remedy, nutpie_sample

__all__ = ["PooledFit", "build_pooled_model", "TAU_PRIOR_SD"]

#: sd of the HalfNormal prior of each pooled parameter's between-group scale (unconstrained units).
TAU_PRIOR_SD = 0.5
_POSITIVE = {"LogNormal", "HalfNormal", "Exponential", "Gamma"}


def _to_u(dist: str, v, a, be):
    if dist == "Normal":
        return v
    if dist in _POSITIVE:
        return be["log"](v)
    if dist == "Uniform":
        return be["log"](v - a["lower"]) - be["log"](a["upper"] - v)
    lo, hi = be["log"](a["lower"]), be["log"](a["upper"])  # LogUniform
    return be["log"](be["log"](v) - lo) - be["log"](hi - be["log"](v))


def _from_u(dist: str, u, a, be):
    if dist == "Normal":
        return u
    if dist in _POSITIVE:
        return be["exp"](u)
    s = be["sigmoid"](u)
    if dist == "Uniform":
        return a["lower"] + (a["upper"] - a["lower"]) * s
    lo, hi = be["log"](a["lower"]), be["log"](a["upper"])
    return be["exp"](lo + (hi - lo) * s)


def build_pooled_model(law: Law, ds: Dataset, group_index: np.ndarray, n_groups: int, *, pool: Sequence[str],
                       likelihood: Likelihood, priors: Mapping[str, Any] | None = None):
    """The PyMC model of a partially pooled fit (see the module docstring)."""
    import pymc as pm  # deferred: importing PyMC costs about a second, and only fits need it

    resolved = resolve_priors(law, likelihood, priors)
    be = pytensor_backend()
    stats = [data_stats({k: v[group_index == g] for k, v in ds.inputs.items()}, ds.y[group_index == g])
             for g in range(n_groups)]
    # np.errstate: PyTensor's float32 probe of each constant (see build_model)
    with np.errstate(over="ignore"), pm.Model(coords={"obs": np.arange(ds.n), "group": np.arange(n_groups)}) as model:
        env: dict[str, Any] = {k: pm.Data(k, np.array([s[k] for s in stats]), dims="group") for k in stats[0]}
        gi = pm.Data("group_index", group_index.astype("int64"), dims="obs")
        inputs = {k: pm.Data(k, np.asarray(v, dtype=float), dims="obs") for k, v in ds.inputs.items()}
        y_obs = pm.Data("y_obs", np.asarray(ds.y, dtype=float), dims="obs")
        params: dict[str, Any] = {}
        for p in law.parameters:
            pr = resolved[p.name]
            if p.name in pool:
                a = pr.arg_values({}, be)
                pop = pm.Deterministic(f"{p.name}_pop", pr.build(f"{p.name}_pop", {}, be))
                tau = pm.HalfNormal(f"{p.name}_tau", TAU_PRIOR_SD)
                z = pm.Normal(f"{p.name}_z", 0.0, 1.0, dims="group")
                value = _from_u(pr.dist, _to_u(pr.dist, pop, a, be) + tau * z, a, be)
            elif p.derived:  # computed from the group's parameters, as in a single fit
                value = pr.build(p.name, env | params, be)
            else:
                a = pr.arg_values(env | params, be)
                raw = {"Normal": lambda: pm.Normal(f"{p.name}_raw", 0.0, 1.0, dims="group"),
                       "HalfNormal": lambda: pm.HalfNormal(f"{p.name}_raw", 1.0, dims="group"),
                       "Uniform": lambda: pm.Uniform(f"{p.name}_raw", 0.0, 1.0, dims="group"),
                       "Exponential": lambda: pm.Exponential(f"{p.name}_raw", 1.0, dims="group"),
                       "Gamma": lambda: pm.Gamma(f"{p.name}_raw", a["alpha"], 1.0, dims="group")}[pr.family.raw]()
                value = pr.from_raw(raw, a, be)
            params[p.name] = pm.Deterministic(p.name, value * np.ones(n_groups), dims="group")
        noise = {}
        for n in likelihood.noise_names:
            pr = resolved[n]
            a = pr.arg_values(env | params, be)
            raw = pm.HalfNormal(f"{n}_raw", 1.0, dims="group") if pr.family.raw == "HalfNormal" else \
                pm.Gamma(f"{n}_raw", a["alpha"], 1.0, dims="group")
            noise[n] = pm.Deterministic(n, pr.from_raw(raw, a, be) * np.ones(n_groups), dims="group")
        mu = law.evaluate(inputs, {k: v[gi] for k, v in params.items()}, be)
        likelihood.observe("y", mu, {k: v[gi] for k, v in noise.items()}, y_obs, dims="obs")
    return model


def check_pooling(law: Law, pool: Sequence[str], likelihood: Likelihood, priors: Mapping[str, Any] | None) -> None:
    """Raise before any work if the law or the pooled parameters cannot be pooled."""
    if law.ordered:
        raise FitError(f"law {law.name!r} samples its breaks {', '.join(law.ordered)} jointly; grouped (pooled) "
                       "fits support laws with at most one break (e.g. bnsl1): fit the groups separately with "
                       "fit_many")
    unknown = [p for p in pool if p not in law.param_names]
    if unknown:
        raise FitError(f"pool names {', '.join(map(repr, unknown))}, not parameters of {law.name!r} "
                       f"({', '.join(law.param_names)})")
    derived = [p for p in pool if p in law.derived]
    if derived:
        raise FitError(f"cannot pool {derived[0]!r}: it is computed from other parameters of {law.name!r}, not "
                       f"sampled; pool one of {', '.join(law.computed_from(derived[0]))}")
    if likelihood.bounded:
        raise FitError(f"grouped (pooled) fits support unbounded metrics only, not the {likelihood.name} "
                       "likelihood: fit bounded metrics one curve at a time (fit_many)")
    resolved = resolve_priors(law, likelihood, priors)
    fixed = [n for n, pr in resolved.items() if pr.fixed and n not in law.derived]
    if fixed:
        raise FitError(f"grouped (pooled) fits do not support fixed values ({', '.join(fixed)}); give "
                       "a narrow prior instead, or fit the groups separately with fit_many")
    for p in pool:
        if resolved[p].names:
            raise FitError(f"cannot pool {p!r}: its prior {resolved[p].text} uses {', '.join(sorted(resolved[p].names))}, "
                           "which differ between groups; give it a prior of numbers, e.g. "
                           f"priors={{{p!r}: 'HalfNormal(sigma=1)'}}")


@dataclass(frozen=True)
class PooledFit:
    """A partially pooled fit of one law to several groups (curves).

    Attributes
    ----------
    tree : xarray.DataTree
        Posterior with dimension ``group`` for every law parameter, ``<name>_pop`` and ``<name>_tau``
        for the pooled ones.
    law : Law
    data : Dataset
        All rows; ``group_index`` maps each to its group.
    groups : tuple
        Group labels, in the order of the ``group`` dimension.
    pool : tuple of str
    settings : dict
    config : FitConfig
    """

    tree: Any = field(repr=False)
    law: Law
    data: Dataset = field(repr=False)
    group_index: np.ndarray = field(repr=False, hash=False)
    groups: tuple
    pool: tuple[str, ...]
    settings: Mapping[str, Any] = field(hash=False)
    config: FitConfig = field(hash=False)

    @property
    def likelihood(self) -> Likelihood:
        return get_likelihood(self.settings["likelihood"])

    def _draws(self, names: Sequence[str], g: int) -> dict[str, np.ndarray]:
        post = self.tree["posterior"]
        return {n: np.asarray(post[n].isel(group=g).values, dtype=float).reshape(-1) for n in names}

    def diagnostics(self) -> Diagnostics:
        return self._diagnostics

    @cached_property
    def _diagnostics(self) -> Diagnostics:
        names = list(self.law.sampled) + list(self.likelihood.noise_names) + [f"{p}_tau" for p in self.pool]
        return diagnose(self.tree, names)

    def summary(self, *, prob: float = 0.9) -> pd.DataFrame:
        """One row per (group, parameter), plus the population values and between-group scales."""
        check_prob(prob)
        lo, hi = (1 - prob) / 2, 1 - (1 - prob) / 2
        rows = []
        for g, label in enumerate(self.groups):
            for n, v in self._draws(list(self.law.param_names) + list(self.likelihood.noise_names), g).items():
                rows.append({"group": label, "parameter": n, "median": np.median(v), "lower": np.quantile(v, lo),
                             "upper": np.quantile(v, hi)})
        post = self.tree["posterior"]
        for p in self.pool:
            for n in (f"{p}_pop", f"{p}_tau"):
                v = np.asarray(post[n].values, dtype=float).ravel()
                rows.append({"group": "(population)", "parameter": n, "median": np.median(v),
                             "lower": np.quantile(v, lo), "upper": np.quantile(v, hi)})
        out = pd.DataFrame(rows)
        out.attrs.update(prob=prob, diagnostics=self.diagnostics(), ok=self.diagnostics().ok)
        return out

    def _rho(self, g: int) -> float:
        """Group ``g``'s residual autocorrelation (:func:`bayescale.spec.discrepancy.residual_autocorrelation`)."""
        rows = self.group_index == g
        fitted = {k: v[rows] for k, v in self.data.inputs.items()}
        mu = expected_draws(self.law, self._draws(self.law.param_names, g), fitted)
        return fit_autocorrelation(self.likelihood, mu, np.asarray(self.data.y, float)[rows], fitted)

    def forecast(self, *, x: Any, group: Any = None, prob: float = 0.9, seed: int | None = None,
                 discrepancy: Any = None) -> Forecast:
        """Forecast for one group, or (``group=None``) for a new group of the population.

        A new group draws each pooled parameter from the population (``z ~ N(0, 1)``); it needs every
        law parameter pooled, since an unpooled one says nothing about a group not seen.
        """
        check_prob(prob)
        seed = self.settings.get("seed") if seed is None else seed
        inputs = target_inputs(self.law, x)
        lik = self.likelihood
        if group is None:
            missing = [p for p in self.law.param_names if p not in self.pool]
            if missing:
                raise FitError(f"a forecast for a new group needs every parameter pooled; {', '.join(missing)} "
                               "are per group: name a group, or pool them too")
            post, rng = self.tree["posterior"], np.random.default_rng(None if seed is None else [int(seed), 0xC0])
            params = {}
            for p in self.law.param_names:
                pop = np.asarray(post[f"{p}_pop"].values, float).ravel()
                tau = np.asarray(post[f"{p}_tau"].values, float).ravel()
                pr = resolve_priors(self.law, lik, self.config.prior_overrides or None)[p]
                a = {k: float(v) for k, v in pr.arg_values({}).items()}
                np_be = {"exp": np.exp, "log": np.log, "sigmoid": lambda t: 1 / (1 + np.exp(-t))}
                with np.errstate(all="ignore"):
                    params[p] = _from_u(pr.dist, _to_u(pr.dist, pop, a, np_be) + tau * rng.standard_normal(pop.size),
                                        a, np_be)
            noise_g = rng.integers(len(self.groups), size=params[self.law.param_names[0]].size)
            sig = np.asarray(self.tree["posterior"]["sigma"].values, float).reshape(-1, len(self.groups))
            noise = {"sigma": sig[np.arange(sig.shape[0]), noise_g]}
            if "nu" in lik.noise_names:
                nu = np.asarray(self.tree["posterior"]["nu"].values, float).reshape(-1, len(self.groups))
                noise["nu"] = nu[np.arange(nu.shape[0]), noise_g]
            fitted = self.data.inputs
        else:
            if group not in self.groups:
                raise DataError(f"no group {group!r}; the groups are {', '.join(map(str, self.groups))}")
            g = self.groups.index(group)
            params = self._draws(self.law.param_names, g)
            noise = self._draws(lik.noise_names, g)
            fitted = {k: v[self.group_index == g] for k, v in self.data.inputs.items()}
        disc = get_discrepancy(self.config.discrepancy_spec if discrepancy is None else discrepancy)
        if disc.autocorrelation:  # the group's own residuals; a new group: the median group's
            disc = disc.for_fit(self._rho(self.groups.index(group)) if group is not None else
                                float(np.median([self._rho(g) for g in range(len(self.groups))])))
        return forecast_draws(expected_draws(self.law, params, inputs), likelihood=lik, noise=noise, inputs=inputs,
                              fitted=fitted, discrepancy=disc, seed=seed, prob=prob, reliable=self.diagnostics().ok,
                              distances=self.law.distances)



def fit_pooled(ds: Dataset, labels: Sequence[Any], *, law: Law, pool: Sequence[str], config: FitConfig,
               sampler: str, cores: int, progressbar: bool) -> PooledFit:
    """Fit ``law`` to every group at once with the ``pool`` parameters shared (see the module docstring).

    ``labels`` gives each row's group.  Sampled with nutpie; the model is compiled for each call
    (its data containers hold per-group statistics, so it is not shared through the compile cache).
    """
    if sampler != "nutpie":
        raise FitError("grouped (pooled) fits run on nutpie; install it or drop sampler=")
    lik = get_likelihood(config.likelihood)
    check_pooling(law, pool, lik, config.prior_overrides or None)
    groups = tuple(pd.unique(pd.Series(list(labels))).tolist())
    groups = tuple(sorted(groups, key=str))
    index = np.array([groups.index(v) for v in labels], dtype=int)
    small = [str(g) for i, g in enumerate(groups) if len(np.unique(ds.inputs[law.inputs[0]][index == i])) < 2]
    if small:
        raise DataError(f"group(s) {', '.join(small[:5])} have fewer than 2 distinct scales; a curve needs at least 2")
    model = build_pooled_model(law, ds, index, len(groups), pool=pool, likelihood=lik,
                               priors=config.prior_overrides or None)
    compiled = compile_model(model, cached=False)
    target_accept, remedy = config.target_accept, None

    def run(ta, adaptation="diag"):
        return nutpie_sample(compiled, draws=config.draws, tune=config.tune, chains=config.chains, cores=cores,
                             seed=config.seed, target_accept=ta, progress_bar=progressbar, save_warmup=False,
                             adaptation=adaptation)

    tree = run(target_accept)
    div = n_divergences(tree)
    if config.auto_remedy:
        tree, target_accept, remedy = divergence_remedy(lambda ta: run(ta, REMEDY_ADAPTATION), tree, target_accept)
    keep = {k: tree[k].to_dataset() for k in ("posterior", "sample_stats")}
    keep["posterior"] = keep["posterior"].assign_coords(group=list(map(str, groups)))
    out = xr.DataTree.from_dict(keep)
    settings = {"law": law.name, "likelihood": lik.name, "pool": list(pool), "groups": [str(g) for g in groups],
                "priors": {k: v.text for k, v in resolve_priors(law, lik, config.prior_overrides or None).items()},
                "draws": config.draws, "tune": config.tune, "chains": config.chains, "target_accept": target_accept,
                "sampler": "nutpie", "sampler_ran": "nutpie", "seed": config.seed, "remedy": remedy,
                "divergences_first_run": div, "init": "prior", "data_source": ds.source}
    return PooledFit(tree=out, law=law, data=ds, group_index=index, groups=groups, pool=tuple(pool),
                     settings=settings, config=config)

