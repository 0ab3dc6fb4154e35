"""Forecasts: draws of the expected value and of a new observation, with the three parts of an interval.

For each target, with posterior draws ``theta_s`` and noise draws:

.. math::

    \\mu_s = f(x; \\theta_s)\\,e^{\\delta_s}, \\quad \\delta_s \\sim \\mathcal N(0, \\tau(h)^2), \\qquad
    y_s \\sim p(y \\mid \\mu_s, \\text{noise}_s)

so an interval of a new observation holds three kinds of uncertainty, reported separately as
standard deviations of ``log y`` (of ``logit y`` for the bounded likelihoods, whose discrepancy
shifts ``logit mu`` instead, keeping every draw inside [0, 1]: see ``forecast_draws``):

* **parameters**: the spread of ``log f(x; theta_s)`` over the posterior (what more data in the
  fitted range would shrink);
* **noise**: run-to-run scatter of one observation around the law (the likelihood's sigma);
* **extrapolation**: ``tau(h)``, the law's possible departure from the truth at ``h`` decades
  beyond the fitted range (:mod:`bayescale.spec.discrepancy`; 0 inside the range).

No break beyond the observed range is modelled unless asked for: a law's break positions have
priors over the observed range.  To let a break fall beyond the data, widen the break prior, e.g.
``priors={"d1": "LogUniform(lower=x_min, upper=100*x_max)"}``, and compare by LOO.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

import numpy as np
import pandas as pd

from ..spec.discrepancy import (OFF, Discrepancy, antithetic_normal, horizons, largest_horizon,
                                residual_autocorrelation)
from ..spec.formula import Formula
from ..spec.likelihoods import Likelihood

__all__ = ["Forecast", "forecast_draws", "own_sd"]


@dataclass(frozen=True)
class Forecast:
    """Posterior forecasts at target scales.

    Attributes
    ----------
    inputs : dict of str to ndarray, shape (m,)
        Target scales.
    expected : ndarray, shape (draws, m)
        Draws of the expected value at each target (the law, times the extrapolation discrepancy).
    observed : ndarray, shape (draws, m)
        Draws of a new observation at each target (expected value plus noise).
    prob : float
        Probability of the equal-tailed intervals in :meth:`table`.
    reliable : bool
        False when the fit's diagnostics failed; every table says so.
    horizon : ndarray, shape (m,)
        Decades beyond the fitted range (0 inside it), the largest over the inputs and ``along``.
    parts : dict of str to ndarray, shape (m,)
        sd from ``parameters``, ``noise`` and ``extrapolation`` on the noise scale (see the module docstring).
    scale : {"log", "logit", "identity"}
        The scale of ``parts``: log y, logit y (metrics in [0, 1]) or y itself.
    discrepancy : Discrepancy
        The extrapolation uncertainty used.
    along : tuple of str
        The law's declared distance scales the horizon is also measured along, as ``"epochs = D / U"``.
    horizons : dict of str to ndarray, shape (m,), optional
        Decades beyond the fitted range along each input and declared distance separately (``horizon`` is
        their largest).
    """

    inputs: Mapping[str, np.ndarray] = field(hash=False)
    expected: np.ndarray = field(hash=False)
    observed: np.ndarray = field(hash=False)
    prob: float = 0.9
    reliable: bool = True
    horizon: np.ndarray | None = field(default=None, hash=False)
    parts: Mapping[str, np.ndarray] | None = field(default=None, hash=False)
    discrepancy: Discrepancy = OFF
    scale: str = "log"
    along: tuple[str, ...] = ()
    horizons: Mapping[str, np.ndarray] | None = field(default=None, hash=False)

    def _q(self, arr: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        lo, hi = (1 - self.prob) / 2, 1 - (1 - self.prob) / 2
        q = np.quantile(arr, [lo, 0.5, hi], axis=0)
        return q[1], q[0], q[2]

    def table(self) -> pd.DataFrame:
        """One row per target: median and interval of the expected value and of a new observation,
        the horizon in decades beyond the data, and the sd of log y from each source."""
        med, lo, hi = self._q(self.expected)
        omed, olo, ohi = self._q(self.observed)
        d = {k: v for k, v in self.inputs.items()}
        d.update(median=med, lower=lo, upper=hi, obs_median=omed, obs_lower=olo, obs_upper=ohi)
        df = pd.DataFrame(d)
        df["prob"] = self.prob
        if self.horizon is not None:
            df["horizon"] = self.horizon
        if self.horizons and len(self.horizons) > 1:  # one input: the horizon itself
            for k, v in self.horizons.items():
                df[f"horizon_{k}"] = v
        for k, v in (self.parts or {}).items():
            df[f"sd_{k}"] = v
        df.attrs["reliable"] = self.reliable
        df.attrs["discrepancy"] = self.discrepancy.to_dict()
        return df

    def to_records(self) -> list[dict[str, Any]]:
        """JSON-ready records: ``x`` (or one key per input), ``median``, ``lower``, ``upper``, ``prob``,
        ``observation`` with the interval of a new observation, ``horizon`` (decades beyond the data;
        ``horizon_by`` along each input and declared distance when there are several)
        and ``sd_log`` (the parts of the interval, on the scale named by ``sd_scale``: log, or logit for
        metrics in [0, 1])."""
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
            if "horizon" in r:
                rec["horizon"] = float(r["horizon"])
            if self.horizons and len(self.horizons) > 1:
                rec["horizon_by"] = {k: float(r[f"horizon_{k}"]) for k in self.horizons}
            if self.parts:
                rec["sd_log"] = {k: float(r[f"sd_{k}"]) for k in self.parts}
                rec["sd_scale"] = self.scale
            out.append(rec)
        return out


def own_sd(likelihood: Likelihood, mu: np.ndarray, noise: Mapping[str, np.ndarray]
           ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A forecast's own spread per target on the noise scale: ``(sd_param, sd_noise, base)``, the sd over
    draws of ``link(mu)`` (shape (draws, m)), one observation's noise sd, and ``sqrt(sd_param^2 +
    sd_noise^2)``, the relative discrepancy's unit."""
    sd_noise = likelihood.noise_sd(mu, noise)
    with np.errstate(all="ignore"):
        sd_param = np.std(likelihood.link(mu), axis=0)
    return sd_param, sd_noise, np.sqrt(sd_param ** 2 + sd_noise ** 2)


def fit_autocorrelation(likelihood: Likelihood, mu: np.ndarray, y: np.ndarray,
                        inputs: Mapping[str, np.ndarray]) -> float:
    """A fit's residual autocorrelation (:func:`bayescale.spec.discrepancy.residual_autocorrelation`) from its
    draws ``mu`` (draws, n) of the law at its own rows: residuals ``link(y) - E[link(mu)]``."""
    with np.errstate(all="ignore"):
        resid = likelihood.link(np.asarray(y, float)) - np.nanmean(likelihood.link(likelihood.clip_mean(mu)), axis=0)
    return residual_autocorrelation(inputs, resid)


def forecast_draws(mu: np.ndarray, *, likelihood: Likelihood, noise: Mapping[str, np.ndarray],
                   inputs: Mapping[str, np.ndarray], fitted: Mapping[str, np.ndarray], discrepancy: Discrepancy,
                   seed: int | None, prob: float, reliable: bool,
                   distances: Mapping[str, Formula] | None = None) -> Forecast:
    """Draws of the expected value and of a new observation at the targets (see the module docstring).

    The noise draws use ``default_rng(seed)`` exactly as before the discrepancy existed, and the
    discrepancy its own stream, so ``discrepancy="off"`` reproduces earlier forecasts draw for draw.
    The horizon is measured along every input and every scale in ``distances`` (a law's role, such as
    epochs = D / U: :mod:`bayescale.spec.roles`).
    Every sd is on the likelihood's noise scale (``likelihood.scale``): log y, or logit y for metrics in
    [0, 1], where the discrepancy shifts ``logit mu``, so both intervals stay inside [0, 1].  With additive
    noise (identity scale) there is no discrepancy.
    """
    dist = distances or {}
    per = horizons(fitted, inputs, dist)
    h = largest_horizon(per)
    mu = likelihood.clip_mean(mu)
    sd_param, sd_noise, base = own_sd(likelihood, mu, noise)
    shifts = likelihood.scale != "identity"
    tau = discrepancy.sd(h, base) if shifts else np.zeros_like(h)
    expected = mu
    if np.any(tau > 0):
        z = antithetic_normal(seed, mu.shape)
        expected = likelihood.shift(mu, tau[None, :] * z)
    observed = likelihood.draw(expected, noise, np.random.default_rng(seed))
    parts = {"parameters": sd_param, "noise": sd_noise, "extrapolation": tau}
    return Forecast(inputs=inputs, expected=expected, observed=observed, prob=prob, reliable=reliable, horizon=h,
                    parts=parts, discrepancy=discrepancy if shifts else OFF, scale=likelihood.scale,
                    along=tuple(f"{k} = {f.text}" for k, f in dist.items()), horizons=per)
