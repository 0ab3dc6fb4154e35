r"""Scores of a fit on given points, on the y scale.

* :func:`log_density`: ``log p(y_j | theta_s)`` of observations under posterior draws;
* :func:`predictive_lpd`: the log predictive density of each point,
  ``log (1/S) sum_s p(y_j | theta_s)`` (the held-out score of leave-future-out and of an
  exact leave-one-out refit);
* :func:`rmsle`: the root mean squared log error of the posterior median of the law's
  expected value.

Every density comes from the fit's :class:`~bayescale.spec.likelihoods.Likelihood`
(``fit.likelihood.logpdf``), so scores are comparable across likelihoods.
"""

from __future__ import annotations

from typing import Mapping

import numpy as np
from scipy.special import logsumexp

from ..spec.data import Dataset
from ..spec.likelihoods import Likelihood, get_likelihood

__all__ = ["log_density", "lpd_from_draws", "pointwise_log_lik", "predictive_lpd", "rmsle", "subset"]


def _finite(logp: np.ndarray) -> np.ndarray:
    """Log densities with NaN (from a draw where the law is undefined) counted as -inf."""
    return np.where(np.isfinite(logp), logp, -np.inf)


def log_density(
    y: np.ndarray, mu: np.ndarray, *, likelihood: str | Likelihood, sigma: np.ndarray, nu: np.ndarray | None = None
) -> np.ndarray:
    r"""Log density of observations ``y`` (shape (m,)) under draws ``mu`` (shape (S, m)), on the y scale.

    lognormal: ``log LogNormal(y; log mu, sigma)``; normal: ``log N(y; mu, sigma)``;
    studentt: ``log t_nu(log y; log mu, sigma) - log y`` (the Jacobian of ``log y``).
    ``sigma`` and ``nu`` are per-draw, shape (S,).
    """
    noise = {"sigma": np.asarray(sigma, dtype=float).reshape(-1, 1),
             "nu": None if nu is None else np.asarray(nu, dtype=float).reshape(-1, 1)}
    return _finite(get_likelihood(likelihood).logpdf(np.asarray(y, dtype=float)[None, :], mu, noise))


def pointwise_log_lik(fit, inputs: Mapping[str, np.ndarray], y: np.ndarray, trials=None) -> np.ndarray:
    """Draws of ``log p(y_j | theta_s)`` on the y scale, shape (S, m); ``trials`` (binomial) are the points'
    items, by default the fit's forecast trials."""
    mu = fit.expected({k: np.asarray(v, dtype=float) for k, v in inputs.items()})
    lik = fit.likelihood.bind(trials)
    noise = {k: v[:, None] for k, v in fit.draws(lik.noise_names).items()}
    return _finite(lik.logpdf(np.asarray(y, dtype=float)[None, :], mu, noise))


def predictive_lpd(fit, inputs: Mapping[str, np.ndarray], y: np.ndarray, trials=None) -> np.ndarray:
    r"""Log predictive density of each point, ``log (1/S) sum_s p(y_j | theta_s)``, shape (m,)."""
    return lpd_from_draws(pointwise_log_lik(fit, inputs, y, trials))


def lpd_from_draws(ll: np.ndarray) -> np.ndarray:
    r"""``log (1/S) sum_s exp(ll[s, j])`` for each point ``j`` of log-likelihood draws of shape (S, m)."""
    return logsumexp(ll, axis=0) - np.log(ll.shape[0])


def rmsle(fit, inputs: Mapping[str, np.ndarray], y: np.ndarray) -> float:
    """Root mean squared log error of the posterior median of the law's expected value."""
    mu = fit.expected({k: np.asarray(v, dtype=float) for k, v in inputs.items()})
    with np.errstate(divide="ignore", invalid="ignore"):
        err = np.log(np.median(mu, axis=0)) - np.log(np.asarray(y, dtype=float))
    return float(np.sqrt(np.mean(err ** 2)))


def subset(ds: Dataset, keep: np.ndarray) -> Dataset:
    """The points of ``ds`` where the boolean mask ``keep`` is true (same columns and source; trials kept)."""
    return ds.subset(keep)
