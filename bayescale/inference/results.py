"""Results of a fit: diagnostics, forecasts and the :class:`Fit` itself.

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

import json
import os
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, Mapping, Sequence

import arviz_stats as az  # the statistics alone: the `arviz` package also imports its plots and matplotlib
import numpy as np
import pandas as pd
import xarray as xr

from .._version import __version__
from ..predictive import check_prob, expected_draws, target_inputs
from ..spec.data import Dataset
from ..spec.laws import Law
from ..spec.discrepancy import OFF, Discrepancy, get_discrepancy
from ..spec.priors import Prior, parse_prior
from ..spec.likelihoods import Likelihood, get_likelihood
from .allocation import optimal_allocation
from .config import FitConfig
from .design import Design, design
from .forecast import Forecast, fit_autocorrelation, forecast_draws
from .identify import unidentified_breaks
from .influence import influential_rows
from .reach import Reach, reach

__all__ = ["Fit", "Forecast", "Diagnostics", "diagnose", "diagnose_pointwise", "n_divergences", "RHAT_MAX",
           "ESS_PER_CHAIN_MIN"]

#: Thresholds a fit must meet to be reported as reliable.
RHAT_MAX = 1.01
ESS_PER_CHAIN_MIN = 100


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
        What happened: likelihood, priors (as text), sampler requested and ``sampler_ran``,
        draws, tune, chains, target_accept, seed, remedies applied.
    config : FitConfig
        How the fit was asked for; every refit reuses it.
    """

    tree: Any = field(repr=False)
    law: Law
    data: Dataset = field(repr=False)
    settings: Mapping[str, Any] = field(hash=False)
    config: FitConfig | None = field(default=None, hash=False)

    def __post_init__(self) -> None:
        if self.config is None:  # a fit saved before configurations were stored
            object.__setattr__(self, "config", FitConfig.from_settings(self.settings))

    @property
    def likelihood(self) -> Likelihood:
        """The fit's observation model (:mod:`bayescale.spec.likelihoods`); a binomial's is bound to
        :attr:`trials`, the items of a new observation."""
        return get_likelihood(self.settings["likelihood"]).bind(self.trials)

    @property
    def trials(self) -> float | None:
        """Items of a new observation for the binomial (None otherwise): the fit's constant ``trials``, or
        with a column of them, the median over the fitted rows (the items of a new run are unknown)."""
        t = self.config.trials
        if t is None:
            return None
        if not isinstance(t, str):
            return float(t)
        return float(np.round(np.median(self.data.trials))) if self.data.trials is not None else None

    @property
    def fixed(self) -> dict[str, float]:
        """Parameters fixed by a ``Fixed(value=...)`` prior (e.g. a given chance level), with their values."""
        out = {}
        for name, pr in self.resolved_priors.items():
            if pr.fixed and name not in self.law.derived and name in self.tree["posterior"]:
                out[name] = float(np.asarray(self.tree["posterior"][name].values).ravel()[0])
        return out

    @property
    def free_names(self) -> list[str]:
        """:attr:`param_names` less the fixed and the derived ones: what the sampler drew and the diagnostics
        check.  A derived parameter (:attr:`bayescale.spec.laws.Law.derived`) is a function of these draws:
        it has a row in :meth:`summary` but does not decide the diagnostics (when a break is not identified,
        a slope change computed as effect / reach has wild tails although every sampled parameter mixed)."""
        fixed = self.fixed
        return [n for n in self.param_names if n not in fixed and n not in self.law.derived]

    # -- posterior access ----------------------------------------------------
    @property
    def param_names(self) -> list[str]:
        """Law parameters followed by noise parameters."""
        return list(self.law.param_names) + list(self.likelihood.noise_names)

    def draws(self, names: Sequence[str] | None = None) -> dict[str, np.ndarray]:
        """Flattened posterior draws (chain-major) of the named parameters."""
        post = self.tree["posterior"]
        names = self.param_names if names is None else list(names)
        return {n: np.asarray(post[n].values, dtype=float).reshape(-1) for n in names}

    # -- diagnostics -----------------------------------------------------------
    def diagnostics(self) -> Diagnostics:
        """Divergences, R-hat and ESS (ArviZ) against the thresholds of :class:`Diagnostics`."""
        return self._diagnostics

    @cached_property
    def _diagnostics(self) -> Diagnostics:
        return diagnose(self.tree, self.free_names)

    def comparison_diagnostics(self, log_lik: np.ndarray | None = None) -> Diagnostics:
        r"""The diagnostics that decide whether a score computed from this fit can be relied on.

        The same as :meth:`diagnostics`, except for a broken law whose breaks are not identified
        (:attr:`unidentified_breaks`).  Its slope changes, break positions and sharpness then drift
        along a flat direction of the posterior (the law is the unbroken one whatever their values, and
        the floor trades against a break beyond the data), so their R-hat and ESS fail without saying
        anything about the scores.  A score is an average over draws of the log-likelihood
        :math:`\log p(y_j \mid \theta_s)` of the points it scores: such a fit is judged by the R-hat
        and bulk/tail ESS of those draws (every point must pass), and by its divergences as always.

        Parameters
        ----------
        log_lik : array of shape (chains * draws, m), optional
            Draws (chain-major, as :meth:`draws`) of the log-likelihood of the points scored, when they
            are not the fit's own observations: a point left out of an exact LOO refit, or the points
            beyond a leave-future-out refit, where a break the data do not locate matters most.  By
            default the fit's own observations (its ``log_likelihood`` group), which PSIS-LOO averages.
        """
        if not self.unidentified_breaks:
            return self.diagnostics()
        if log_lik is None:
            if "log_likelihood" not in self.tree.children:
                return self.diagnostics()
            ll = self.tree["log_likelihood"].to_dataset()
            arr = np.asarray(ll[next(iter(ll.data_vars))].values, dtype=float)
        else:
            post = self.tree["posterior"]
            arr = np.asarray(log_lik, dtype=float).reshape(post.sizes["chain"], post.sizes["draw"], -1)
        return diagnose_pointwise(arr, self.tree["sample_stats"]["diverging"].values)

    @property
    def resolved_priors(self) -> dict[str, Prior]:
        """The priors the fit used, by parameter (from the saved prior texts)."""
        return {k: parse_prior(v, param=k) for k, v in (self.settings.get("priors") or {}).items()}

    @cached_property
    def unidentified_breaks(self) -> list[dict[str, Any]]:
        """Breaks whose position and sharpness are still at their priors: the data show no break there,
        and the law reduces to one with fewer breaks, the unbroken one when none is identified
        (:mod:`bayescale.inference.identify`)."""
        return unidentified_breaks(self)

    @cached_property
    def residual_autocorrelation(self) -> float:
        """Lag-1 autocorrelation of the residuals ``link(y) - E[link(mu)]`` along the inputs, in [0, 0.95]
        (:func:`bayescale.spec.discrepancy.residual_autocorrelation`; ``link`` is the likelihood's noise
        scale, log y by default)."""
        return fit_autocorrelation(self.likelihood, self.expected(self.data.inputs), self.data.y, self.data.inputs)

    def discrepancy(self, spec: Any = None) -> Discrepancy:
        """The extrapolation discrepancy this fit's forecasts use: ``spec`` (a name, values, ``"off"``) or the
        fit's own configuration, with the fit's :attr:`residual_autocorrelation` where it uses one."""
        disc = get_discrepancy(self.config.discrepancy_spec if spec is None else spec)
        if self.likelihood.scale == "identity":
            return OFF  # additive noise: no discrepancy
        return disc.for_fit(self.residual_autocorrelation) if disc.autocorrelation else disc

    @cached_property
    def influential(self) -> list[dict[str, Any]]:
        """Observations the answer hinges on (PSIS-LOO Pareto k > 0.7), worst first, with their rows
        (:mod:`bayescale.inference.influence`)."""
        return influential_rows(self.tree, self.data)

    def summary(self, *, prob: float = 0.9) -> pd.DataFrame:
        """Every parameter with posterior mean, sd, median, equal-tailed ``prob`` interval, R-hat and ESS.

        The frame's ``attrs["diagnostics"]`` holds :meth:`diagnostics`, and ``attrs["ok"]`` its verdict;
        fixed parameters (:attr:`fixed`) are not rows but ``attrs["fixed"]``; derived parameters are rows.
        """
        check_prob(prob)
        with np.errstate(invalid="ignore", divide="ignore"):  # as in diagnostics: NaN for a constant parameter
            fixed = self.fixed
            rows = [n for n in self.param_names if n not in fixed]  # derived ones too, in law order
            s = az.summary(self.tree, var_names=rows, ci_prob=prob, ci_kind="eti", round_to="none")
        d = self.draws()
        s.insert(2, "median", [float(np.median(d[n])) for n in s.index])
        diag = self.diagnostics()
        s.attrs["diagnostics"] = diag
        s.attrs["ok"] = diag.ok
        s.attrs["prob"] = prob
        s.attrs["fixed"] = self.fixed
        return s

    def to_dict(self, *, forecast: Forecast | None = None, prob: float = 0.9) -> dict[str, Any]:
        """A JSON-ready summary: law, parameters (median, ``prob`` interval, R-hat, ESS), diagnostics with a
        boolean ``ok``, and the forecast's records (the object ``bayescale fit --json`` prints)."""
        s = self.summary(prob=prob)
        lo, hi = [c for c in s.columns if c.startswith(("eti", "hdi"))][:2]
        params = {
            str(name): {"mean": float(r["mean"]), "median": float(r["median"]), "sd": float(r["sd"]),
                        "lower": float(r[lo]), "upper": float(r[hi]), "prob": prob, "r_hat": float(r["r_hat"]),
                        "ess_bulk": float(r["ess_bulk"]), "ess_tail": float(r["ess_tail"])}
            for name, r in s.iterrows()
        }
        return {
            "law": self.law.name,
            "likelihood": self.settings["likelihood"],
            "sampler": self.settings["sampler_ran"],
            "n_obs": self.data.n,
            "data": self.data.source,
            "remedy": self.settings.get("remedy"),
            "parameters": params,
            "fixed": s.attrs["fixed"],
            **({"trials": self.config.trials} if self.config.trials is not None else {}),
            "diagnostics": s.attrs["diagnostics"].to_dict(),
            "influential": self.influential,
            "breaks_not_identified": self.unidentified_breaks,
            "forecasts": forecast.to_records() if forecast is not None else [],
        }

    # -- prediction ------------------------------------------------------------
    def expected(self, inputs: Mapping[str, np.ndarray]) -> np.ndarray:
        """Draws of the law's expected value, shape (draws, m)."""
        return expected_draws(self.law, self.draws(self.law.param_names), inputs)

    def forecast(
        self,
        *,
        x: Any,
        prob: float = 0.9,
        seed: int | None = None,
        discrepancy: Any = None,
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
        discrepancy : str, mapping or Discrepancy, optional
            Extrapolation uncertainty beyond the fitted range (:mod:`bayescale.spec.discrepancy`);
            defaults to the fit's configuration (``"default"``, the learned prior); ``"off"`` gives
            parameter and noise uncertainty only, as bayescale 0.1 did.
        """
        check_prob(prob)
        if seed is None:
            seed = self.settings.get("seed")
        disc = self.discrepancy(discrepancy)
        inputs = target_inputs(self.law, x)
        return forecast_draws(self.expected(inputs), likelihood=self.likelihood,
                              noise=self.draws(self.likelihood.noise_names), inputs=inputs,
                              fitted=self.data.inputs, discrepancy=disc, seed=seed, prob=prob,
                              reliable=self.diagnostics().ok, distances=self.law.distances)

    def optimal_allocation(self, *, compute: Any, prob: float = 0.9, **kwargs):
        """Compute-optimal split of budgets C = 6ND for a two-input law (see :mod:`bayescale.inference.allocation`)."""
        return optimal_allocation(self, compute=compute, prob=prob, **kwargs)

    def reach(self, *, target: float, prob: float = 0.9, by: Any = None, along: str = "frontier",
              tokens_per_param: float | None = None, bracket: tuple[float, float] | None = None,
              **kwargs) -> Reach:
        """Posterior of the scale at which the law's expected value reaches ``target``, and with ``by`` the
        probability that each scale has reached it (see :mod:`bayescale.inference.reach`)."""
        return reach(self, target=target, prob=prob, by=by, along=along, tokens_per_param=tokens_per_param,
                     bracket=bracket, **kwargs)

    def design(self, *, target: Any, candidates: Any, cost: Any = None, prob: float = 0.9,
               seed: int | None = None, **kwargs) -> Design:
        """Rank candidate runs by the expected reduction of the ``prob`` interval's width at ``target`` per
        unit cost, by PSIS reweighting of the posterior (see :mod:`bayescale.inference.design`)."""
        return design(self, target=target, candidates=candidates, cost=cost, prob=prob, seed=seed, **kwargs)

    # -- persistence -------------------------------------------------------------
    def save(self, path: str | os.PathLike) -> Path:
        """Write the fit to netCDF: the DataTree with the law, settings and data stored inside."""
        p = Path(path)
        tree = self.tree.copy()
        tree.attrs["bayescale_version"] = __version__
        tree.attrs["bayescale_law"] = self.law.to_json()
        tree.attrs["bayescale_settings"] = json.dumps(dict(self.settings))
        tree.attrs["bayescale_config"] = self.config.to_json()
        tree.attrs["bayescale_columns"] = json.dumps(dict(self.data.columns))
        tree.attrs["bayescale_source"] = self.data.source
        p.parent.mkdir(parents=True, exist_ok=True)
        tree.to_netcdf(p, engine="h5netcdf")
        return p


#: Name under which :func:`diagnose_pointwise` reports the log-likelihood draws.
POINTWISE_NAME = "log-likelihood of each point scored"


def diagnose_pointwise(log_lik: np.ndarray, diverging: np.ndarray) -> Diagnostics:
    """Divergences, R-hat and bulk/tail ESS of log-likelihood draws of shape (chain, draw, points).

    What LOO and leave-future-out average over; see :meth:`Fit.comparison_diagnostics`.
    """
    dims = ("chain", "draw", "point")
    view = xr.DataTree.from_dict({"posterior": xr.Dataset({POINTWISE_NAME: (dims, np.asarray(log_lik, dtype=float))}),
                                  "sample_stats": xr.Dataset({"diverging": (dims[:2], np.asarray(diverging))})})
    return diagnose(view, [POINTWISE_NAME])


def _max(v: np.ndarray) -> float:
    """The largest finite value (NaN when there is none), without numpy's all-NaN warning."""
    f = v[np.isfinite(v)]
    return float(f.max()) if f.size else float("nan")


def _min(v: np.ndarray) -> float:
    f = v[np.isfinite(v)]
    return float(f.min()) if f.size else float("nan")


def n_divergences(tree: Any) -> int:
    """Divergent transitions after tuning, over all chains."""
    return int(np.asarray(tree["sample_stats"]["diverging"].values).sum())


def diagnose(tree: Any, names: Sequence[str]) -> Diagnostics:
    """Divergences, R-hat and bulk/tail ESS of the named variables (of any shape) against the thresholds.

    A variable with several elements (e.g. one per group) counts by its worst element.
    """
    post = tree["posterior"]
    chains, draws = int(post.sizes["chain"]), int(post.sizes["draw"])
    div = n_divergences(tree)
    names = list(names)
    # a parameter constant over the draws makes ArviZ divide by zero: its R-hat/ESS are NaN, reported as such
    with np.errstate(invalid="ignore", divide="ignore"):
        ess_b = az.ess(tree, var_names=names, method="bulk")
        ess_t = az.ess(tree, var_names=names, method="tail")
        # R-hat needs two chains; with one, ArviZ would divide by zero, so it is not computed
        rhat = az.rhat(tree, var_names=names) if chains > 1 else None

    def _worst(ds, pick) -> np.ndarray:
        out = []
        for n in names:
            v = np.asarray(ds[n].values, dtype=float).ravel()
            out.append(pick(v) if np.isfinite(v).any() else np.nan)
        return np.array(out)

    r = _worst(rhat, np.nanmax) if rhat is not None else np.full(len(names), np.nan)
    eb, et = _worst(ess_b, np.nanmin), _worst(ess_t, np.nanmin)
    problems = []
    if div:
        problems.append(f"{div} divergent transition(s): the posterior may be biased")
    need = ESS_PER_CHAIN_MIN * chains
    if chains > 1 and not np.all(r <= RHAT_MAX):
        worst = names[int(np.nanargmax(np.where(np.isfinite(r), r, np.inf)))]
        problems.append(f"R-hat up to {_max(r):.3f} ({worst}) > {RHAT_MAX}: chains disagree")
    if chains < 2:
        problems.append("only one chain: R-hat cannot check convergence")
    if not np.all(eb >= need):
        worst = names[int(np.argmin(np.where(np.isfinite(eb), eb, -np.inf)))]
        problems.append(f"bulk ESS down to {_min(eb):.0f} ({worst}) < {need}: draw more")
    if not np.all(et >= need):
        worst = names[int(np.argmin(np.where(np.isfinite(et), et, -np.inf)))]
        problems.append(f"tail ESS down to {_min(et):.0f} ({worst}) < {need}: intervals are noisy")
    return Diagnostics(divergences=div, max_rhat=_max(r), min_ess_bulk=_min(eb), min_ess_tail=_min(et),
                       chains=chains, draws=draws, ok=not problems, problems=tuple(problems))
