"""Chained forecasts: scale -> loss -> downstream metric, with both stages' uncertainty in the draws.

The two-step approach of Llama 3's benchmark forecasts (Dubey et al. 2024, sec. 3.2.1): one law maps
the scale (compute, or N, or N and D) to a loss, a second maps the loss to the downstream metric
(accuracy, error rate).  ``chain(first, second, x=...)`` carries both stages' uncertainty through the
posterior draws.  For draw ``s`` and target ``x_j``:

.. math::

    L_{sj} = f_1(x_j; \\theta^{(1)}_s)\\, e^{\\delta^{(1)}_{sj}}, \\qquad
    g(\\mu_{sj}) = g\\big(f_2(L_{sj}; \\theta^{(2)}_{\\pi(s)})\\big) + \\tau_2(h_{sj}) z_{sj}, \\qquad
    y_{sj} \\sim p_2(y \\mid \\mu_{sj}, \\text{noise}^{(2)}_{\\pi(s)})

with ``g`` the second likelihood's noise scale (``log``; ``logit`` for the bounded likelihoods of metrics in
[0, 1], so every draw stays inside [0, 1]; the first stage's discrepancy ``delta^(1)`` acts on its own
scale likewise)

* ``L`` is the first fit's forward forecast of the expected value
  (``first.forecast(x, seed).expected``), so it includes the first stage's parameter uncertainty and
  its extrapolation discrepancy ``delta^(1)`` (:mod:`bayescale.spec.discrepancy`).
* ``pi`` pairs the draws of the two posteriors, which are independent (two fits to two data sets): a
  permutation of the second fit's draws seeded from ``seed``; when the first fit has more draws than
  the second, the permutation is repeated (each second-stage draw is used about equally often), when
  fewer, its first draws are used.
* ``tau_2(h)`` is the second stage's own extrapolation discrepancy, with its horizon counted on
  **both** sides of the fitted loss range, per draw:
  ``h_sj = max(0, log10(L_min / L_sj), log10(L_sj / L_max))`` decades.  The loss at a large target
  usually lies *below* every fitted loss, which a one-sided horizon (distance beyond the largest
  input) would count as inside.  Its relative form uses the second stage's own sd of the metric at
  the median loss (parameters and noise, as :func:`bayescale.inference.forecast.forecast_draws`).
  As there, it shifts the expected value on the likelihood's noise scale (``likelihood.shift``: log y, or
  logit y for bounded metrics) and is 0 for additive noise (identity scale).
* ``y`` adds the second stage's noise of a new observation (``second.likelihood.draw``).

The interval's parts are reported as sds on the second likelihood's noise scale (``log y``, ``logit y``
for bounded metrics, or ``y`` for additive noise; ``Forecast.scale``) at each target:

* ``stage1``: the loss uncertainty propagated, ``sd_s g(m(L_sj))`` with ``m(L)`` the second stage's
  median curve (the median over its draws of ``f_2(L; theta^(2))``, on a grid of losses);
* ``stage2_parameters``: ``sd_s g(f_2(L^*_j; theta^(2)_s))`` at the median loss ``L^*_j``;
* ``stage2_extrapolation``: ``tau_2`` at the median loss's horizon;
* ``noise``: the spread of a new observation around its expected value (``likelihood.noise_sd``).

``reliable`` is true only when both fits pass their diagnostics.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

import numpy as np
import pandas as pd

from ..errors import FitError
from ..predictive import check_prob
from ..spec.discrepancy import OFF, Discrepancy, antithetic_normal
from .forecast import Forecast, own_sd

__all__ = ["Chained", "chain", "loss_horizon", "PAIRING"]

#: How the draws of the two posteriors are paired (said in every output).
PAIRING = ("seeded permutation of the second fit's draws (repeated when the first fit has more draws, "
           "truncated when it has fewer)")


@dataclass(frozen=True)
class Chained:
    """A chained forecast: the downstream metric at target scales through a forecast loss.

    Attributes
    ----------
    forecast : Forecast
        Draws of the downstream metric's expected value and of a new observation at the first fit's
        target scales (``inputs``), with ``horizon`` the first stage's (decades beyond its data) and
        ``parts`` the sds of the module docstring (``stage1``, ``stage2_parameters``,
        ``stage2_extrapolation``, ``noise``).
    loss : Forecast
        The first stage's forecast at the same targets; ``loss.expected`` are the losses fed to stage 2.
    loss_name, metric_name : str
        The first fit's metric column and the second fit's metric column.
    second_input : str
        The second fit's input column (the loss it was fitted on).
    loss_range : tuple of float
        The smallest and largest loss the second fit saw.
    horizon_loss : ndarray, shape (m,)
        Decades of the median loss outside ``loss_range`` (either side; 0 inside).
    below_range : ndarray, shape (m,)
        Share of the draws whose loss lies below the smallest fitted loss.
    discrepancy : Discrepancy
        The second stage's extrapolation discrepancy.
    seed : int or None
    pairing : str
    """

    forecast: Forecast
    loss: Forecast
    loss_name: str
    metric_name: str
    second_input: str
    loss_range: tuple[float, float]
    horizon_loss: np.ndarray = field(hash=False)
    below_range: np.ndarray = field(hash=False)
    discrepancy: Discrepancy = OFF
    seed: int | None = None
    pairing: str = PAIRING

    # -- delegation ---------------------------------------------------------------
    @property
    def expected(self) -> np.ndarray:
        """Draws of the downstream metric's expected value, shape (draws, m)."""
        return self.forecast.expected

    @property
    def observed(self) -> np.ndarray:
        """Draws of a new observation of the downstream metric, shape (draws, m)."""
        return self.forecast.observed

    @property
    def prob(self) -> float:
        return self.forecast.prob

    @property
    def reliable(self) -> bool:
        return self.forecast.reliable

    def table(self) -> pd.DataFrame:
        """One row per target: the metric's median and intervals (expected value and a new observation),
        the first stage's horizon, the parts, and the loss's median and interval with its horizon."""
        t = self.forecast.table()
        lt = self.loss.table()
        t.insert(len(self.forecast.inputs), "loss_median", lt["median"].to_numpy())
        t.insert(len(self.forecast.inputs) + 1, "loss_lower", lt["lower"].to_numpy())
        t.insert(len(self.forecast.inputs) + 2, "loss_upper", lt["upper"].to_numpy())
        t["horizon_loss"] = self.horizon_loss
        t["below_loss_range"] = self.below_range
        return t

    def to_records(self) -> list[dict[str, Any]]:
        """JSON-ready records: the forecast's (``x``, ``median``, ``lower``, ``upper``, ``prob``,
        ``observation``, ``horizon``, ``sd_log``) plus ``loss`` (median and interval) and
        ``horizon_loss`` (decades outside the second fit's loss range)."""
        recs = self.forecast.to_records()
        lt = self.loss.table()
        for i, rec in enumerate(recs):
            rec["loss"] = {"median": float(lt["median"].iloc[i]), "lower": float(lt["lower"].iloc[i]),
                           "upper": float(lt["upper"].iloc[i])}
            rec["horizon_loss"] = float(self.horizon_loss[i])
            rec["below_loss_range"] = float(self.below_range[i])
        return recs

    def to_dict(self) -> dict[str, Any]:
        """The JSON object of ``bayescale forecast FIRST --then SECOND --json``'s ``chain`` key."""
        return {"loss": self.loss_name, "metric": self.metric_name, "second_input": self.second_input,
                "loss_range": list(self.loss_range), "prob": self.prob, "reliable": self.reliable,
                "pairing": self.pairing, "seed": self.seed, "discrepancy": self.discrepancy.to_dict(),
                "forecasts": self.to_records()}


def check_chain(first: Any, second: Any) -> None:
    """Raise :class:`FitError` unless ``second`` can take ``first``'s metric as its single input."""
    if len(second.law.inputs) != 1:
        raise FitError(f"the second fit's law {second.law.name!r} has inputs {', '.join(second.law.inputs)}; a "
                       "chained forecast needs a second fit of one input, the first fit's metric (loss)")
    if np.any(np.asarray(first.data.y) <= 0):
        raise FitError("the first fit's metric takes values <= 0; the second stage's input (a loss) must be "
                       "positive")


def loss_horizon(loss: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """Decades outside ``[lo, hi]`` on either side, elementwise: ``max(0, log10(lo/L), log10(L/hi))``."""
    with np.errstate(divide="ignore", invalid="ignore"):
        ll = np.log10(np.asarray(loss, dtype=float))
    return np.maximum(0.0, np.maximum(np.log10(lo) - ll, ll - np.log10(hi)))


def _pairing(n_first: int, n_second: int, seed: int | None) -> np.ndarray:
    """Indices into the second fit's draws, one per first-stage draw (see :data:`PAIRING`)."""
    rng = np.random.default_rng(None if seed is None else [int(seed), 0xC4A1])
    return np.resize(rng.permutation(n_second), n_first)


def _evaluate(law, params: Mapping[str, np.ndarray], loss: np.ndarray) -> np.ndarray:
    """``f_2(L_sj; theta_s)`` for per-draw losses (draws, m) and per-draw parameters (draws,)."""
    env = {k: np.asarray(params[k], dtype=float)[:, None] for k in law.param_names}
    with np.errstate(all="ignore"):
        out = np.asarray(law.evaluate({law.inputs[0]: loss}, env), dtype=float)
    return np.broadcast_to(out, loss.shape).copy()


def _median_curve(law, params: Mapping[str, np.ndarray], loss: np.ndarray, n_grid: int = 256) -> np.ndarray:
    """The second stage's median curve ``g(L)`` at the losses (interpolated in log L on a grid)."""
    ok = np.isfinite(loss) & (loss > 0)
    if not ok.any():
        return np.full(loss.shape, np.nan)
    lo, hi = float(loss[ok].min()), float(loss[ok].max())
    grid = np.geomspace(lo, hi * (1 + 1e-12) if hi > lo else lo * 1.001, n_grid)
    env = {k: np.asarray(params[k], dtype=float)[:, None] for k in law.param_names}
    with np.errstate(all="ignore"):
        curves = np.asarray(law.evaluate({law.inputs[0]: grid[None, :]}, env), dtype=float)
        g = np.nanmedian(np.broadcast_to(curves, (len(next(iter(env.values()))), n_grid)), axis=0)
    out = np.full(loss.shape, np.nan)
    out[ok] = np.interp(np.log(loss[ok]), np.log(grid), g)
    return out


def chain(first: Any, second: Any, *, x: Any, prob: float = 0.9, seed: int | None = None,
          discrepancy: Any = None) -> Chained:
    """Forecast a downstream metric at target scales through a forecast loss (see the module docstring).

    Parameters
    ----------
    first : Fit
        scale (compute, N, or N and D) -> loss.
    second : Fit
        loss -> downstream metric (accuracy, error rate); its law has one input, the loss.
    x : float, sequence or mapping
        Target scales of the first fit (as :meth:`Fit.forecast` takes them).
    prob : float
        Probability of the equal-tailed intervals.
    seed : int, optional
        Seed of the first stage's discrepancy, the pairing, the second stage's discrepancy and the noise
        draws; defaults to the first fit's seed, so saved and reloaded fits chain identically.
    discrepancy : optional
        ``"off"`` switches both stages' extrapolation discrepancy off; ``None`` uses each fit's own.

    Returns
    -------
    Chained
    """
    check_prob(prob)
    check_chain(first, second)
    if seed is None:
        seed = first.settings.get("seed")
    loss_fc = first.forecast(x=x, prob=prob, seed=seed, discrepancy=discrepancy)
    L = np.asarray(loss_fc.expected, dtype=float)
    bad = ~np.isfinite(L) | (L <= 0)
    if bad.any():
        raise FitError(f"{int(bad.sum())} of {L.size} draws of the first fit's expected value are not positive "
                       "finite numbers; they cannot be the second stage's input (a loss)")
    n1, m = L.shape
    lik = second.likelihood
    p2 = second.draws(list(second.law.param_names) + list(lik.noise_names))
    idx = _pairing(n1, len(next(iter(p2.values()))), seed)
    paired = {k: v[idx] for k, v in p2.items()}
    mu = lik.clip_mean(_evaluate(second.law, paired, L))

    # the second stage's own spread at the median loss: parameters and noise (the relative form's unit)
    Lmed = np.median(L, axis=0)
    at_med = lik.clip_mean(_evaluate(second.law, p2, np.broadcast_to(Lmed, (len(next(iter(p2.values()))), m))))
    noise2 = {k: p2[k] for k in lik.noise_names}
    sd_p2, sd_noise, base = own_sd(lik, at_med, noise2)
    sd_noise = np.asarray(sd_noise, dtype=float)

    xin = second.data.inputs[second.law.inputs[0]]
    lo, hi = float(np.min(xin)), float(np.max(xin))
    h_draws = loss_horizon(L, lo, hi)
    disc = second.discrepancy(discrepancy)  # none with additive noise, as forecast_draws
    tau = disc.sd(h_draws, base[None, :])
    expected = mu
    if np.any(tau > 0):
        z = antithetic_normal(seed, (n1, m), 2)
        expected = lik.shift(mu, tau * z)
    observed = lik.draw(expected, {k: paired[k] for k in lik.noise_names},
                        np.random.default_rng(None if seed is None else [int(seed), 2]))

    g = lik.clip_mean(_median_curve(second.law, p2, L))
    sd_stage1 = np.nanstd(lik.link(g), axis=0)
    h_med = loss_horizon(Lmed, lo, hi)
    parts = {"stage1": sd_stage1, "stage2_parameters": sd_p2,
             "stage2_extrapolation": np.asarray(disc.sd(h_med, base), dtype=float), "noise": sd_noise}
    reliable = bool(first.diagnostics().ok and second.diagnostics().ok)
    fc = Forecast(inputs=loss_fc.inputs, expected=expected, observed=observed, prob=prob, reliable=reliable,
                  horizon=loss_fc.horizon, parts=parts, discrepancy=disc, scale=lik.scale)
    return Chained(forecast=fc, loss=loss_fc, loss_name=str(first.data.columns.get("y", "y")),
                   metric_name=str(second.data.columns.get("y", "y")),
                   second_input=str(second.data.columns.get(second.law.inputs[0], second.law.inputs[0])),
                   loss_range=(lo, hi), horizon_loss=h_med, below_range=np.mean(L < lo, axis=0),
                   discrepancy=disc, seed=seed)
