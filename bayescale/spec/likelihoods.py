"""Likelihoods: how observations scatter around the law's expected value.

One small object per likelihood holds everything a fit, a forecast, a score or a
starting point needs to know about it, so no other module switches on its name:

========== =========================================== ==================
name       density of an observation ``y`` given ``mu``  noise parameters
========== =========================================== ==================
lognormal  :math:`\\log y \\sim \\mathcal N(\\log\\mu, \\sigma)`     sigma
normal     :math:`y \\sim \\mathcal N(\\mu, \\sigma)`                sigma
studentt   :math:`\\log y \\sim t_\\nu(\\log\\mu, \\sigma)`          sigma, nu
========== =========================================== ==================

Every density is written for ``y`` itself: where the noise is on ``log y`` the
Jacobian ``-log y`` is included, so log-likelihoods and LOO scores are on one
scale and comparable across likelihoods.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

import numpy as np
from scipy import stats

from ..errors import FitError

__all__ = ["Likelihood", "LIKELIHOODS", "get_likelihood"]


@dataclass(frozen=True)
class Likelihood:
    """An observation model.

    Attributes
    ----------
    name : str
    log_scale : bool
        True when the noise acts on ``log y`` (multiplicative noise); then ``y`` must be positive.
    noise_priors : mapping of str to (prior text, reason)
        Default priors of the noise parameters, in sampling order.
    description : str
    """

    name: str
    log_scale: bool
    noise_priors: Mapping[str, tuple[str, str]] = field(hash=False)
    description: str = ""

    @property
    def noise_names(self) -> tuple[str, ...]:
        return tuple(self.noise_priors)

    @property
    def positive_y(self) -> bool:
        """Whether the metric must be positive."""
        return self.log_scale

    # -- PyMC --------------------------------------------------------------------
    def observe(self, name: str, mu, noise: Mapping[str, Any], observed, dims: str):
        """Add the observed variable to the current PyMC model."""
        import pymc as pm  # deferred: PyMC is needed only where a model is built
        import pytensor.tensor as pt

        if self.name == "normal":
            return pm.Normal(name, mu=mu, sigma=noise["sigma"], observed=observed, dims=dims)
        if self.name == "lognormal":
            return pm.LogNormal(name, mu=pt.log(mu), sigma=noise["sigma"], observed=observed, dims=dims)

        def _log_t(nu, loc, scale, size):
            return pt.exp(pm.StudentT.dist(nu=nu, mu=loc, sigma=scale, size=size))

        return pm.CustomDist(name, noise["nu"], pt.log(mu), noise["sigma"], dist=_log_t, observed=observed,
                             dims=dims)

    # -- numpy -------------------------------------------------------------------
    def logpdf(self, y, mu, noise: Mapping[str, Any]) -> np.ndarray:
        """Log density of ``y`` given ``mu`` on the y scale; arguments broadcast."""
        y, mu = np.asarray(y, dtype=float), np.asarray(mu, dtype=float)
        sigma = np.asarray(noise["sigma"], dtype=float)
        with np.errstate(divide="ignore", invalid="ignore"):
            if self.name == "normal":
                return stats.norm.logpdf(y, mu, sigma)
            if self.name == "lognormal":
                return stats.norm.logpdf(np.log(y), np.log(mu), sigma) - np.log(y)
            if noise.get("nu") is None:
                raise FitError("the studentt likelihood needs draws of nu")
            nu = np.asarray(noise["nu"], dtype=float)
            return stats.t.logpdf(np.log(y), nu, np.log(mu), sigma) - np.log(y)

    def draw(self, mu: np.ndarray, noise: Mapping[str, Any], rng: np.random.Generator) -> np.ndarray:
        """Draw observations around ``mu`` (shape (draws, ...)); noise arrays have shape (draws,)."""
        mu = np.asarray(mu, dtype=float)
        sigma = np.asarray(noise["sigma"], dtype=float).reshape(-1, *([1] * (mu.ndim - 1)))
        if self.name == "normal":
            return mu + sigma * rng.standard_normal(mu.shape)
        with np.errstate(divide="ignore", invalid="ignore"):
            if self.name == "lognormal":
                return np.exp(np.log(mu) + sigma * rng.standard_normal(mu.shape))
            nu = np.asarray(noise["nu"], dtype=float).reshape(sigma.shape)
            return np.exp(np.log(mu) + sigma * rng.standard_t(np.broadcast_to(nu, mu.shape)))

    def residual(self, y: np.ndarray, mu: np.ndarray) -> np.ndarray:
        """Scaled residuals for least-squares starting points (log y - log mu, or (mu - y)/sd(y))."""
        y, mu = np.asarray(y, dtype=float), np.asarray(mu, dtype=float)
        with np.errstate(all="ignore"):
            if self.log_scale:
                return np.log(mu) - np.log(y)
            return (mu - y) / (np.std(y) + 1e-12)

    def noise_start(self, residuals: np.ndarray, y: np.ndarray) -> dict[str, float]:
        """Noise values that match the residuals of a least-squares optimum (chain starts)."""
        scale = float(np.sqrt(np.mean(np.asarray(residuals) ** 2)))
        if not self.log_scale:
            scale *= float(np.std(y) + 1e-12)
        out = {"sigma": max(scale, 1e-4)}
        if "nu" in self.noise_priors:
            out["nu"] = 10.0
        return out


_LOG_SIGMA = (
    "HalfNormal(sigma=0.2)",
    "sd of log y around the law: scale-free; 0.2 (about 20% noise) is generous for averaged losses "
    "and still lets very clean curves reach sigma near 0.001.",
)

#: The likelihoods, by name.
LIKELIHOODS: dict[str, Likelihood] = {
    "lognormal": Likelihood(
        name="lognormal", log_scale=True, noise_priors={"sigma": _LOG_SIGMA},
        description="multiplicative noise: normal on log y (the default)",
    ),
    "normal": Likelihood(
        name="normal", log_scale=False,
        noise_priors={"sigma": (
            "HalfNormal(sigma=y_sd)",
            "additive noise in the metric's own units: no larger than the spread of the data itself.",
        )},
        description="additive noise, for metrics that can be zero or negative (reward, Elo)",
    ),
    "studentt": Likelihood(
        name="studentt", log_scale=True,
        noise_priors={
            "sigma": ("HalfNormal(sigma=0.2)", "scale of log y around the law, as for lognormal."),
            "nu": (
                "Gamma(alpha=2, beta=0.1)",
                "degrees of freedom: Juárez and Steel's (2010) weak default, mean 20; small values give heavy "
                "tails for outlying runs.",
            ),
        },
        description="robust Student-t on log y: outlying runs pull the fit less",
    ),
}


def get_likelihood(likelihood: str | Likelihood) -> Likelihood:
    """The likelihood object for a name (or the object itself)."""
    if isinstance(likelihood, Likelihood):
        return likelihood
    try:
        return LIKELIHOODS[likelihood]
    except (KeyError, TypeError):
        raise FitError(f"unknown likelihood {likelihood!r}; choose one of {', '.join(LIKELIHOODS)}") from None
