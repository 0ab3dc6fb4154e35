"""Prior predictive checks: what a law and its priors say before seeing the data.

For draws :math:`\\theta^{(s)} \\sim p(\\theta)` (the law's priors, with user
overrides) and scales :math:`x_1..x_m`,

.. math::

    \\mu^{(s)}_j = f(x_j; \\theta^{(s)}), \\qquad
    y^{(s)}_j \\sim p(y \\mid \\mu^{(s)}_j, \\text{noise}^{(s)}),

where the noise model is the fit's likelihood (log-normal: :math:`\\log y \\sim
\\mathcal N(\\log \\mu, \\sigma)`).  A sensible prior puts most of these curves
within an order of magnitude or so of the data and lets them bend in the ways
the data might.

The default priors are *scale-aware*: their arguments use data statistics
(``x_min``, ``x_max``, ``x_ref``, ``y_min``, ``y_ref``, ``y_start`` ...; see
:mod:`bayescale.priors`).  A prior predictive therefore needs either the data
(``data=``, from which :func:`bayescale.data.data_stats` computes them) or the
statistics themselves (``stats=``).  Draws are made with numpy (each prior's
:meth:`~bayescale.priors.Prior.draw`, parameters in declaration order so that
conditional priors see earlier parameters' draws), which gives the same joint
prior as the PyMC model of :func:`bayescale.model.build_model` without
compiling it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any, Mapping

import numpy as np
import pandas as pd

from .errors import BayescaleError, DataError, PriorError
from .predictive import expected_draws, observation_draws, target_inputs
from .spec.data import Dataset, data_stats, load_data, stat_names
from .spec.laws import Law, get_law
from .spec.likelihoods import get_likelihood
from .spec.resolve import check_prior_domains, resolve_priors

__all__ = ["PriorPredictive", "prior_predictive", "prior_draws", "stats_for"]


@dataclass(frozen=True)
class PriorPredictive:
    """Draws from the prior predictive distribution at scales ``inputs``.

    Attributes
    ----------
    law : Law
    likelihood : str
    inputs : dict of str to ndarray, shape (m,)
        The scales the law was evaluated at.
    params : dict of str to ndarray, shape (draws,)
        Prior draws of every law and noise parameter.
    expected : ndarray, shape (draws, m)
        The law's expected value :math:`\\mu` for each prior draw.
    observed : ndarray, shape (draws, m)
        A simulated observation around each expected value.
    stats : dict of str to float
        The data statistics the priors were evaluated with.
    """

    law: Law
    likelihood: str
    inputs: Mapping[str, np.ndarray] = field(hash=False)
    params: Mapping[str, np.ndarray] = field(hash=False)
    expected: np.ndarray = field(hash=False)
    observed: np.ndarray = field(hash=False)
    stats: Mapping[str, float] = field(hash=False)

    @property
    def draws(self) -> int:
        return int(self.expected.shape[0])

    def table(self, *, prob: float = 0.9) -> pd.DataFrame:
        """Median and equal-tailed ``prob`` interval of the expected value and of an observation at each scale.

        Draws whose expected value is not finite (overflow in the far tails of the prior) are left out
        of the quantiles; ``finite`` gives the fraction kept.
        """
        if not 0 < prob < 1:
            raise PriorError(f"interval probability must be between 0 and 1, got {prob!r}")
        q = [(1 - prob) / 2, 0.5, (1 + prob) / 2]

        def _q(a):
            with np.errstate(invalid="ignore"):
                a = np.where(np.isfinite(a), a, np.nan)
            return np.nanquantile(a, q, axis=0)

        e, o = _q(self.expected), _q(self.observed)
        d = {k: np.asarray(v) for k, v in self.inputs.items()}
        d.update(median=e[1], lower=e[0], upper=e[2], obs_median=o[1], obs_lower=o[0], obs_upper=o[2])
        df = pd.DataFrame(d)
        df["finite"] = np.isfinite(self.expected).mean(axis=0)
        df["prob"] = prob
        return df


def stats_for(law: Law, stats: Mapping[str, float], *, priors: Mapping[str, Any] | None = None,
              likelihood: str = "lognormal") -> dict[str, float]:
    """Check that ``stats`` has every data statistic the priors use and return them as floats.

    Raises
    ------
    PriorError
        Naming the statistics that are missing and the parameters that need them.
    """
    resolved = resolve_priors(law, likelihood, priors)
    allowed = stat_names(law.inputs)
    need: dict[str, list[str]] = {}
    for name, pr in resolved.items():
        for s in sorted(pr.names & allowed):
            need.setdefault(s, []).append(name)
    missing = [s for s in need if s not in stats]
    if missing:
        raise PriorError(
            "the priors use data statistics "
            + ", ".join(f"{s} (prior of {', '.join(need[s])})" for s in missing)
            + "; pass data= (a dataset) or stats= with these values"
        )
    return {k: float(v) for k, v in stats.items()}


def prior_draws(
    law: str | Law,
    *,
    stats: Mapping[str, float],
    likelihood: str = "lognormal",
    priors: Mapping[str, str] | None = None,
    draws: int = 500,
    seed: int | None = 0,
) -> dict[str, np.ndarray]:
    """Joint prior draws of every law parameter and the noise parameters.

    Parameters are drawn in declaration order, each given the data statistics and the draws of the
    parameters before it (conditional priors).  Break positions listed in ``law.ordered`` are drawn
    together and sorted, which is the joint law the model samples by Dirichlet spacing (sorted i.i.d.
    LogUniform draws).

    Returns
    -------
    dict of str to ndarray, shape (draws,)
    """
    law = get_law(law)
    if not isinstance(draws, (int, np.integer)) or draws < 1:
        raise PriorError(f"draws must be a positive integer, got {draws!r}")
    resolved = resolve_priors(law, likelihood, priors)
    env: dict[str, Any] = dict(stats_for(law, stats, priors=priors, likelihood=likelihood))
    check_prior_domains(resolved, env)
    rng = np.random.default_rng(seed)
    out: dict[str, np.ndarray] = {}
    with np.errstate(all="ignore"):
        for p in law.parameters:
            if p.name in out:
                continue
            if p.name in law.ordered:
                block = np.sort(np.stack([resolved[n].draw(env | out, rng, draws) for n in law.ordered]), axis=0)
                out.update({n: np.broadcast_to(block[i], (draws,)).astype(float) for i, n in enumerate(law.ordered)})
                continue
            out[p.name] = np.broadcast_to(np.asarray(resolved[p.name].draw(env | out, rng, draws), float),
                                          (draws,)).copy()
        for n in get_likelihood(likelihood).noise_names:
            out[n] = np.broadcast_to(np.asarray(resolved[n].draw(env | out, rng, draws), float), (draws,)).copy()
    return out


def _dataset(law: Law, data: Any, columns: Mapping[str, str] | None, likelihood: str) -> Dataset:
    if isinstance(data, Dataset):
        return data
    if not isinstance(data, (pd.DataFrame, str, os.PathLike)):
        raise DataError(f"data must be a Dataset, DataFrame or CSV path, got {type(data).__name__}")
    cols = dict(columns or {})
    unknown = set(cols) - set(law.inputs) - {"y"}
    if unknown:
        raise DataError(f"columns= names unknown key(s) {', '.join(sorted(unknown))}; "
                        f"use the law's inputs ({', '.join(law.inputs)}) and 'y'")
    x = {k: cols.get(k, k) for k in law.inputs}
    return load_data(data, x=x, y=cols.get("y", "y"), inputs=law.inputs, positive_y=get_likelihood(likelihood).positive_y)


def prior_predictive(
    law: str | Law,
    *,
    x: Any = None,
    data: Any = None,
    columns: Mapping[str, str] | None = None,
    stats: Mapping[str, float] | None = None,
    likelihood: str = "lognormal",
    priors: Mapping[str, str] | None = None,
    draws: int = 500,
    seed: int | None = 0,
) -> PriorPredictive:
    """Draw the law's expected value and new observations from the prior.

    Parameters
    ----------
    law : str or Law
    x : sequence of float or mapping of input name to values, optional
        Scales to evaluate at.  Defaults to 60 log-spaced points over the data range (one-input laws)
        or the data's own scales (laws of several inputs).
    data : Dataset, DataFrame or CSV path, optional
        Data whose statistics (``x_min``, ``y_ref``, ...) the scale-aware priors use.
    columns : mapping, optional
        With ``data`` as a DataFrame or CSV: law input (and ``"y"``) to column name, e.g.
        ``{"x": "train_dataset_size", "y": "test_cross_entropy"}``.  Defaults to the input names and ``"y"``.
    stats : mapping of str to float, optional
        The data statistics themselves, instead of ``data`` (or overriding some of them).  Only the
        statistics the priors use are needed; a missing one raises :class:`PriorError` naming it.
    likelihood : {"lognormal", "normal", "studentt"}
    priors : mapping, optional
        Prior overrides by parameter name, as for :func:`bayescale.fit`.
    draws : int
        Number of prior draws.
    seed : int or None

    Returns
    -------
    PriorPredictive
    """
    law = get_law(law)
    try:
        lik = get_likelihood(likelihood)
    except BayescaleError as exc:
        raise PriorError(str(exc)) from None
    ds = _dataset(law, data, columns, likelihood) if data is not None else None
    st: dict[str, float] = dict(data_stats(ds.inputs, ds.y)) if ds is not None else {}
    st.update({k: float(v) for k, v in (stats or {}).items()})
    if x is None:
        if ds is None:
            raise DataError("give the scales to evaluate at (x=...) or data= to use its range")
        if len(law.inputs) == 1:
            v = ds.inputs[law.inputs[0]]
            x = np.geomspace(float(v.min()), float(v.max()), 60)
        else:
            x = {k: ds.inputs[k] for k in law.inputs}
    inputs = target_inputs(law, x)
    params = prior_draws(law, stats=st, likelihood=likelihood, priors=priors, draws=draws, seed=seed)
    mu = expected_draws(law, params, inputs)
    noise = {n: params[n] for n in lik.noise_names}
    obs = observation_draws(mu, lik, noise, np.random.default_rng(None if seed is None else seed + 1))
    return PriorPredictive(law=law, likelihood=likelihood, inputs=inputs, params=params,
                           expected=mu, observed=obs, stats=st)
