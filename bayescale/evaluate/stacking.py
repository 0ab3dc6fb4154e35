r"""Forecasting from the stacked mixture of several laws, not one law.

To forecast, use :meth:`bayescale.evaluate.compare.Comparison.forecast`
(``bayescale compare --target``): the mixture of the laws' posterior predictive
distributions with the stacking weights of ``az.compare``.
``Comparison.recommended`` names the single law the recommendation rule prefers
(:mod:`bayescale.evaluate.lfo`), for when one law must be reported, but betting
on it forecasts worse: with one to three held-out scales, LFO ties are common
and go to the simplest law, which extrapolates worst when the curve bends
later.  On the 132 curves of ``benchmarks/extrapolation.py`` the mixture's
held-out RMSLE was equal or lower in three of four groups (language 0.0072
against 0.0164, nanoGPT width 0.0284 against 0.0667, image classification
0.0385 against 0.0386) and higher on double descent (0.0648 against 0.0606);
the numbers are in ``benchmarks/README.md``.

The mixture's draws are drawn by ArviZ's ``weight_predictions``
(:func:`arviz_stats.weight_predictions`): ``floor(w_k * S_min)`` draws of law
``k`` chosen at random without replacement, ``S_min`` the smallest draw count of
the laws.
"""

from __future__ import annotations

from typing import Any, Mapping

import arviz_stats as az  # the statistics alone: the `arviz` package also imports its plots and matplotlib
import numpy as np
import xarray as xr

from ..errors import FitError, LawError
from ..inference.results import Forecast
from ..predictive import check_prob

__all__ = ["mixture_weights", "stacked_forecast", "MIN_WEIGHT"]

#: Laws with a smaller (normalised) weight are left out of the mixture.
MIN_WEIGHT = 1e-3


def mixture_weights(weights: Mapping[str, float], laws: Mapping[str, Any]) -> dict[str, float]:
    """Weights of the laws in the mixture: negative ones as 0, those below :data:`MIN_WEIGHT` dropped, sum 1."""
    unknown = sorted(set(weights) - set(laws))
    if unknown:
        raise LawError(f"weights name laws that were not compared: {', '.join(unknown)} "
                       f"(compared: {', '.join(laws)})")
    tot = sum(max(float(v), 0.0) for v in weights.values())
    if not tot > 0:
        raise FitError("the stacking weights are all zero; give weights={law: weight, ...}")
    w = {k: max(float(v), 0.0) / tot for k, v in weights.items() if float(v) / tot >= MIN_WEIGHT}
    tot = sum(w.values())
    return {k: v / tot for k, v in w.items()}


def _draws_tree(fc: Forecast) -> xr.DataTree:
    """One law's forecast draws as the DataTree ``weight_predictions`` reads (one chain).

    ``expected`` and ``observed`` sit in one group, so each chosen draw keeps its own new observation.
    """
    dims = ("chain", "draw", "target")
    pred = xr.Dataset({"expected": (dims, fc.expected[None]), "observed": (dims, fc.observed[None])})
    # weight_predictions copies the first tree's observed_data into its result; a forecast has none
    return xr.DataTree.from_dict({"predictions": pred, "observed_data": xr.Dataset()})


def stacked_forecast(fits: Mapping[str, Any], weights: Mapping[str, float], *, x: Any, prob: float = 0.9,
                     seed: int | None = None) -> Forecast:
    r"""Forecast from the mixture :math:`\sum_k w_k\, p_k(\tilde y \mid x, y)` of the fitted laws.

    Parameters
    ----------
    fits : mapping of law name to Fit
    weights : mapping of law name to weight
        Normalised by :func:`mixture_weights`.
    x : float, sequence, or mapping of input name to values
        Target scale(s), as for :meth:`bayescale.Fit.forecast`.
    prob : float
        Probability of the equal-tailed intervals, in (0, 1).
    seed : int, optional
        Seed of the draw selection and of each law's noise draws (defaults to the first fit's seed).

    Returns
    -------
    Forecast
        ``reliable`` is False when any law with weight is flagged by its diagnostics.
    """
    check_prob(prob)
    w = mixture_weights(weights, fits)
    if seed is None:
        seed = next(iter(fits.values())).settings.get("seed")
    fcs = {k: fits[k].forecast(x=x, prob=prob, seed=seed) for k in w}
    first = next(iter(fcs.values()))
    reliable = all(f.reliable for f in fcs.values())
    if len(fcs) == 1:  # weight_predictions needs two laws; the mixture of one law is that law
        return Forecast(inputs=first.inputs, expected=first.expected, observed=first.observed, prob=prob,
                        reliable=reliable)
    mix = az.weight_predictions([_draws_tree(f) for f in fcs.values()], weights=[w[k] for k in fcs],
                                group="predictions", random_seed=np.random.default_rng(seed))["predictions"]
    return Forecast(inputs=first.inputs, expected=mix["expected"].transpose("sample", "target").values,
                    observed=mix["observed"].transpose("sample", "target").values, prob=prob, reliable=reliable)
