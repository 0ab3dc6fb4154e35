"""Likelihoods: how observations scatter around the law's expected value.

One small object per likelihood holds everything a fit, a forecast, a score or a
starting point needs to know about it, so no other module switches on its name:

============ =============================================================== ==========
name         density of an observation ``y`` given the law's value ``mu``      noise
============ =============================================================== ==========
lognormal    :math:`\\log y \\sim \\mathcal N(\\log\\mu, \\sigma)`                        sigma
normal       :math:`y \\sim \\mathcal N(\\mu, \\sigma)`                                   sigma
studentt     :math:`\\log y \\sim t_\\nu(\\log\\mu, \\sigma)`                             sigma, nu
logitnormal  :math:`\\operatorname{logit} y \\sim \\mathcal N(\\operatorname{logit}\\mu, \\sigma)`  sigma
beta         :math:`y \\sim \\mathrm{Beta}(\\mu\\phi, (1-\\mu)\\phi)` (mean ``mu``)           phi
binomial     :math:`k = n y \\sim \\mathrm{Binomial}(n, \\mu)`, ``n`` the trials          (none)
============ =============================================================== ==========

Every density is written for ``y`` itself: where the noise is on ``log y`` the Jacobian
``-log y`` is included, on ``logit y`` the Jacobian ``-log y - log(1 - y)``, so log-likelihoods
and LOO scores are on one scale and comparable across likelihoods.  The binomial is a pmf of the
count ``k = n y``; its "density of y" is ``log P(k) + log n``, the probability of the observed
count spread over its bin of width ``1/n`` on the y scale, which a continuous density of ``y``
approximates (``p(y) / n ~ P(k)``), so its LOO is on the same scale as the beta's and the
logit-normal's.  ``y`` of the binomial is the fraction of successes, ``k / n``.

The bounded likelihoods (``logitnormal``, ``beta``, ``binomial``) are for metrics in [0, 1]
(accuracy, error rate, pass@1); the law's value must lie in [0, 1] and is clipped to
``[1e-9, 1 - 1e-9]`` where it reaches the bounds.  ``logitnormal``'s law is the median of
``y``, ``beta``'s and ``binomial``'s the mean.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, ClassVar, Mapping

import numpy as np
from scipy import special, stats

from ..errors import FitError

__all__ = ["Likelihood", "LIKELIHOODS", "get_likelihood", "SCALES"]

#: The scales a likelihood's noise (and a forecast's parts of uncertainty) act on.
SCALES = ("log", "identity", "logit")
_EPS = 1e-9


@dataclass(frozen=True)
class Likelihood:
    """An observation model (the base class: multiplicative noise, normal on log y).

    Attributes
    ----------
    name : str
    noise_priors : mapping of str to (prior text, reason)
        Default priors of the noise parameters, in sampling order.
    description : str
    scale : {"log", "identity", "logit"}
        (class attribute) the scale the noise acts on; forecasts report the parts of an interval, and
        apply the extrapolation discrepancy, on it (identity: no discrepancy).
    support : {"positive", "real", "open_unit", "unit"}
        (class attribute) where ``y`` must lie: > 0, anywhere, in (0, 1), in [0, 1].
    """

    name: str
    noise_priors: Mapping[str, tuple[str, str]] = field(hash=False)
    description: str = ""

    scale: ClassVar[str] = "log"
    support: ClassVar[str] = "positive"
    needs_trials: ClassVar[bool] = False

    @property
    def noise_names(self) -> tuple[str, ...]:
        return tuple(self.noise_priors)

    @property
    def log_scale(self) -> bool:
        """True when the noise acts on ``log y`` (multiplicative noise); then ``y`` must be positive."""
        return self.scale == "log"

    @property
    def positive_y(self) -> bool:
        """Whether the metric must be positive (bounded metrics are checked by :meth:`support_error`)."""
        return self.support in ("positive", "open_unit")

    @property
    def bounded(self) -> bool:
        """True for metrics in [0, 1]."""
        return self.support in ("open_unit", "unit")

    # -- scales ------------------------------------------------------------------
    def link(self, v):
        """The noise scale of values ``v`` (numpy): log, identity or logit."""
        v = np.asarray(v, dtype=float)
        with np.errstate(all="ignore"):
            if self.scale == "log":
                return np.log(np.abs(v))
            if self.scale == "logit":
                return special.logit(np.clip(v, _EPS, 1 - _EPS))
        return v

    def shift(self, mu: np.ndarray, delta: np.ndarray) -> np.ndarray:
        """``mu`` moved by ``delta`` on the noise scale (the extrapolation discrepancy)."""
        if self.scale == "log":
            return mu * np.exp(delta)
        if self.scale == "logit":
            return special.expit(self.link(mu) + delta)
        return mu + delta

    def clip_mean(self, mu: np.ndarray) -> np.ndarray:
        """The law's values where the likelihood can use them (bounded metrics: clipped to [0, 1])."""
        return np.clip(mu, 0.0, 1.0) if self.bounded else mu

    def bind(self, trials: Any = None) -> "Likelihood":
        """This likelihood for data with ``trials`` items per observation (used by the binomial only)."""
        return self

    def support_error(self, y: np.ndarray) -> tuple[int, str] | None:
        """``(index of the first bad value, what is needed)`` when some ``y`` is outside the support."""
        y = np.asarray(y, dtype=float)
        bad = {"positive": y <= 0, "real": np.zeros(y.shape, bool), "open_unit": (y <= 0) | (y >= 1),
               "unit": (y < 0) | (y > 1)}[self.support]
        if not bad.any():
            return None
        need = {"positive": "the default multiplicative (log-normal) noise needs y > 0: use likelihood='normal' "
                            "(CLI: --likelihood normal) for metrics that can be zero or negative",
                "open_unit": f"the {self.name} likelihood needs 0 < y < 1 (a fraction such as accuracy); for "
                             "accuracies of exactly 0 or 1 give the number of items and use the binomial "
                             "(CLI: --likelihood binomial --trials N)",
                "unit": f"the {self.name} likelihood needs a fraction of successes 0 <= y <= 1 (successes = "
                        "y * trials); give accuracies, not counts"}[self.support]
        return int(np.flatnonzero(bad)[0]), need

    # -- PyMC --------------------------------------------------------------------
    def observe(self, name: str, mu, noise: Mapping[str, Any], observed, dims: str, trials=None):
        """Add the observed variable to the current PyMC model."""
        import pymc as pm  # deferred: PyMC is needed only where a model is built
        import pytensor.tensor as pt

        return pm.LogNormal(name, mu=pt.log(mu), sigma=noise["sigma"], observed=observed, dims=dims)

    # -- numpy -------------------------------------------------------------------
    def logpdf(self, y, mu, noise: Mapping[str, Any]) -> np.ndarray:
        """Log density of ``y`` given ``mu`` on the y scale; arguments broadcast."""
        y, mu = np.asarray(y, dtype=float), np.asarray(mu, dtype=float)
        with np.errstate(divide="ignore", invalid="ignore"):
            return stats.norm.logpdf(np.log(y), np.log(mu), _arr(noise, "sigma")) - np.log(y)

    def draw(self, mu: np.ndarray, noise: Mapping[str, Any], rng: np.random.Generator) -> np.ndarray:
        """Draw observations around ``mu`` (shape (draws, ...)); noise arrays have shape (draws,)."""
        mu = np.asarray(mu, dtype=float)
        sigma = _per_draw(noise, "sigma", mu)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.exp(np.log(mu) + sigma * rng.standard_normal(mu.shape))

    def residual(self, y: np.ndarray, mu: np.ndarray) -> np.ndarray:
        """Scaled residuals for least-squares starting points: on the noise scale (log or logit), or
        ``(mu - y) / sd(y)`` for additive noise."""
        y, mu = np.asarray(y, dtype=float), np.asarray(mu, dtype=float)
        with np.errstate(all="ignore"):
            if self.scale == "identity":
                return (mu - y) / (np.std(y) + 1e-12)
            if self.scale == "logit":
                y = np.clip(y, 1e-3, 1 - 1e-3)  # the binomial's 0 and 1
            return self.link(mu) - self.link(y)

    def noise_start(self, residuals: np.ndarray, y: np.ndarray) -> dict[str, float]:
        """Noise values that match the residuals of a least-squares optimum (chain starts)."""
        scale = float(np.sqrt(np.mean(np.asarray(residuals) ** 2)))
        if self.scale == "identity":
            scale *= float(np.std(y) + 1e-12)
        return {"sigma": max(scale, 1e-4)}

    def noise_sd(self, mu: np.ndarray, noise: Mapping[str, Any]) -> np.ndarray:
        """sd on the noise scale of one observation around ``mu`` (draws, m), per target (m,)."""
        return np.full(np.shape(mu)[-1], float(np.median(np.asarray(noise["sigma"], dtype=float))))


def _arr(noise: Mapping[str, Any], key: str) -> np.ndarray:
    if noise.get(key) is None:
        raise FitError(f"this likelihood needs draws of {key}")
    return np.asarray(noise[key], dtype=float)


def _per_draw(noise: Mapping[str, Any], key: str, mu: np.ndarray) -> np.ndarray:
    return _arr(noise, key).reshape(-1, *([1] * (mu.ndim - 1)))


@dataclass(frozen=True)
class Normal(Likelihood):
    """Additive noise: ``y ~ Normal(mu, sigma)``."""

    scale: ClassVar[str] = "identity"
    support: ClassVar[str] = "real"

    def observe(self, name, mu, noise, observed, dims, trials=None):
        import pymc as pm

        return pm.Normal(name, mu=mu, sigma=noise["sigma"], observed=observed, dims=dims)

    def logpdf(self, y, mu, noise):
        return stats.norm.logpdf(np.asarray(y, float), np.asarray(mu, float), _arr(noise, "sigma"))

    def draw(self, mu, noise, rng):
        mu = np.asarray(mu, dtype=float)
        return mu + _per_draw(noise, "sigma", mu) * rng.standard_normal(mu.shape)


@dataclass(frozen=True)
class StudentT(Likelihood):
    """Robust Student-t on ``log y`` (density of ``y``, Jacobian ``-log y``)."""

    def observe(self, name, mu, noise, observed, dims, trials=None):
        import pymc as pm
        import pytensor.tensor as pt

        def _log_t(nu, loc, scale, size):
            return pt.exp(pm.StudentT.dist(nu=nu, mu=loc, sigma=scale, size=size))

        return pm.CustomDist(name, noise["nu"], pt.log(mu), noise["sigma"], dist=_log_t, observed=observed,
                             dims=dims)

    def logpdf(self, y, mu, noise):
        y, mu = np.asarray(y, dtype=float), np.asarray(mu, dtype=float)
        if noise.get("nu") is None:
            raise FitError("the studentt likelihood needs draws of nu")
        with np.errstate(divide="ignore", invalid="ignore"):
            return stats.t.logpdf(np.log(y), _arr(noise, "nu"), np.log(mu), _arr(noise, "sigma")) - np.log(y)

    def draw(self, mu, noise, rng):
        mu = np.asarray(mu, dtype=float)
        sigma = _per_draw(noise, "sigma", mu)
        nu = _per_draw(noise, "nu", mu)
        # over: with a small nu a draw of the tail can pass the float range; it is then +inf, which the
        # intervals (quantiles) take as what it is, a draw beyond every finite value
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            return np.exp(np.log(mu) + sigma * rng.standard_t(np.broadcast_to(nu, mu.shape)))

    def noise_start(self, residuals, y):
        return {**super().noise_start(residuals, y), "nu": 10.0}


def _pt_unit(mu):
    import pytensor.tensor as pt

    return pt.clip(mu, _EPS, 1 - _EPS)


@dataclass(frozen=True)
class LogitNormal(Likelihood):
    """Normal noise on ``logit y`` (density of ``y``, Jacobian ``-log y - log(1 - y)``)."""

    scale: ClassVar[str] = "logit"
    support: ClassVar[str] = "open_unit"

    def observe(self, name, mu, noise, observed, dims, trials=None):
        import pymc as pm
        import pytensor.tensor as pt

        m = _pt_unit(mu)
        return pm.LogitNormal(name, mu=pt.log(m) - pt.log1p(-m), sigma=noise["sigma"], observed=observed, dims=dims)

    def logpdf(self, y, mu, noise):
        y = np.asarray(y, dtype=float)
        with np.errstate(divide="ignore", invalid="ignore"):
            return (stats.norm.logpdf(special.logit(y), self.link(mu), _arr(noise, "sigma"))
                    - np.log(y) - np.log1p(-y))

    def draw(self, mu, noise, rng):
        mu = np.asarray(mu, dtype=float)
        return special.expit(self.link(mu) + _per_draw(noise, "sigma", mu) * rng.standard_normal(mu.shape))


@dataclass(frozen=True)
class Beta(Likelihood):
    """``y ~ Beta(mu phi, (1 - mu) phi)``: mean ``mu``, variance ``mu (1 - mu) / (1 + phi)``."""

    scale: ClassVar[str] = "logit"
    support: ClassVar[str] = "open_unit"

    def observe(self, name, mu, noise, observed, dims, trials=None):
        import pymc as pm

        m = _pt_unit(mu)
        return pm.Beta(name, alpha=m * noise["phi"], beta=(1 - m) * noise["phi"], observed=observed, dims=dims)

    def logpdf(self, y, mu, noise):
        m = np.clip(np.asarray(mu, dtype=float), _EPS, 1 - _EPS)
        phi = _arr(noise, "phi")
        with np.errstate(divide="ignore", invalid="ignore"):
            return stats.beta.logpdf(np.asarray(y, dtype=float), m * phi, (1 - m) * phi)

    def draw(self, mu, noise, rng):
        m = np.clip(np.asarray(mu, dtype=float), _EPS, 1 - _EPS)
        phi = _per_draw(noise, "phi", m)
        return rng.beta(m * phi, (1 - m) * phi)

    def noise_start(self, residuals, y):
        # var(logit y) = trigamma(mu phi) + trigamma((1 - mu) phi) ~ 1 / (phi mu (1 - mu))
        ms = float(np.mean(np.asarray(residuals) ** 2)) + 1e-12
        q = float(np.mean(np.clip(y, 1e-3, 1 - 1e-3) * (1 - np.clip(y, 1e-3, 1 - 1e-3))))
        return {"phi": float(np.clip(1.0 / (ms * q), 2.0, 1e6))}

    def noise_sd(self, mu, noise):
        m = np.clip(np.asarray(mu, dtype=float), _EPS, 1 - _EPS)
        phi = _per_draw(noise, "phi", m)
        with np.errstate(all="ignore"):
            return np.sqrt(np.median(special.polygamma(1, m * phi) + special.polygamma(1, (1 - m) * phi), axis=0))


@dataclass(frozen=True)
class Binomial(Likelihood):
    """``n y ~ Binomial(n, mu)`` for ``n`` items per observation (``trials``); no noise parameter."""

    trials: Any = field(default=None, hash=False, compare=False)

    scale: ClassVar[str] = "logit"
    support: ClassVar[str] = "unit"
    needs_trials: ClassVar[bool] = True

    def bind(self, trials: Any = None) -> "Binomial":
        return self if trials is None else dataclasses.replace(self, trials=np.asarray(trials, dtype=float))

    def _n(self) -> np.ndarray:
        if self.trials is None:
            raise FitError("the binomial likelihood needs the number of items per observation: "
                           "trials=N or a column (CLI: --trials N or --trials COL)")
        return np.asarray(self.trials, dtype=float)

    def observe(self, name, mu, noise, observed, dims, trials=None):
        import pymc as pm
        import pytensor.tensor as pt

        if trials is None:
            raise FitError("the binomial likelihood needs trials in the model")
        return pm.Binomial(name, n=trials, p=_pt_unit(mu), observed=pt.round(observed * trials), dims=dims)

    def logpdf(self, y, mu, noise):
        n = self._n()
        m = np.clip(np.asarray(mu, dtype=float), _EPS, 1 - _EPS)
        k = np.round(np.asarray(y, dtype=float) * n)
        return stats.binom.logpmf(k, n, m) + np.log(n)

    def draw(self, mu, noise, rng):
        n = self._n()
        m = np.clip(np.asarray(mu, dtype=float), 0.0, 1.0)
        n_b = np.broadcast_to(n, m.shape)
        return rng.binomial(n_b.astype(np.int64), np.nan_to_num(m)) / n_b

    def noise_start(self, residuals, y):
        return {}

    def noise_sd(self, mu, noise):
        # delta method: sd of logit(k / n) ~ 1 / sqrt(n mu (1 - mu))
        m = np.clip(np.median(np.asarray(mu, dtype=float), axis=0), 1e-6, 1 - 1e-6)
        return 1.0 / np.sqrt(np.median(self._n()) * m * (1 - m))


_LOG_SIGMA = (
    "HalfNormal(sigma=0.2)",
    "sd of log y around the law: scale-free; 0.2 (about 20% noise) is generous for averaged losses "
    "and still lets very clean curves reach sigma near 0.001.",
)

#: The likelihoods, by name.
LIKELIHOODS: dict[str, Likelihood] = {
    "lognormal": Likelihood(
        name="lognormal", noise_priors={"sigma": _LOG_SIGMA},
        description="multiplicative noise: normal on log y (the default)",
    ),
    "normal": Normal(
        name="normal",
        noise_priors={"sigma": (
            "HalfNormal(sigma=y_sd)",
            "additive noise in the metric's own units: no larger than the spread of the data itself.",
        )},
        description="additive noise, for metrics that can be zero or negative (reward, Elo)",
    ),
    "studentt": StudentT(
        name="studentt",
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
    "logitnormal": LogitNormal(
        name="logitnormal",
        noise_priors={"sigma": (
            "HalfNormal(sigma=0.5)",
            "sd of logit y around the law: accuracy noise of 0.02 is 0.08 on the logit scale at 50% and 0.22 at "
            "90%; 0.5 is generous and still lets clean curves reach small values.",
        )},
        description="for metrics in (0, 1): normal noise on logit y (the law is the median of y)",
    ),
    "beta": Beta(
        name="beta",
        noise_priors={"phi": (
            "LogNormal(mu=log(200), sigma=2)",
            "precision: var y = mu (1 - mu) / (1 + phi), so phi acts as an effective number of items; "
            "benchmarks have from about 100 to 15000 items, and the 95% range 4 to 10000 also admits "
            "run-to-run scatter well above binomial noise.",
        )},
        description="for metrics in (0, 1): beta noise with mean mu and precision phi",
    ),
    "binomial": Binomial(
        name="binomial", noise_priors={},
        description="for the fraction of n items right (needs trials): binomial count noise, nothing else",
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
