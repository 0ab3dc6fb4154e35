"""One core of predictive draws: the law's expected value and a new observation.

Forecasts (from posterior draws), the prior predictive (from prior draws) and the
simulator (from true values) all go through these functions:

.. math::

    \\mu^{(s)}_j = f(x_j; \\theta^{(s)}), \\qquad
    y^{(s)}_j \\sim p(y \\mid \\mu^{(s)}_j, \\text{noise}^{(s)})

for each draw ``s`` of the parameters and each target ``x_j``; and the pointwise
log density :math:`\\log p(y_j \\mid \\theta^{(s)})` on the y scale that LOO,
leave-future-out and held-out scores use.
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np
import pandas as pd

from .errors import DataError, FitError
from .spec.laws import Law
from .spec.likelihoods import Likelihood, get_likelihood

__all__ = ["check_prob", "target_inputs", "expected_draws", "observation_draws", "pointwise_log_likelihood"]


def check_prob(prob: Any) -> None:
    """Raise unless ``prob`` is a number in (0, 1): an interval's probability."""
    if isinstance(prob, bool) or not isinstance(prob, (int, float, np.integer, np.floating)) \
            or not 0 < float(prob) < 1:
        raise FitError(f"interval probability must be between 0 and 1 (exclusive), got {prob!r}")


def target_inputs(law: Law, x: Any) -> dict[str, np.ndarray]:
    """Validated target scales: one 1-D array of positive numbers per law input."""
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
        try:
            vals = {k: np.atleast_1d(np.asarray(x[k], dtype=float)) for k in law.inputs}
        except (TypeError, ValueError):
            raise DataError(f"target scales {x!r} are not numbers; give positive numbers") from None
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
            raise DataError(f"target scale {k}={float(v[bad][0]):g} is not a positive finite number; "
                            "targets must be > 0")
    return vals


def expected_draws(law: Law, params: Mapping[str, np.ndarray], inputs: Mapping[str, np.ndarray]) -> np.ndarray:
    """Draws of the law's expected value, shape (draws, m), from parameter draws of shape (draws,)."""
    env = {k: np.asarray(params[k], dtype=float)[:, None] for k in law.param_names}
    xin = {k: np.asarray(v, dtype=float)[None, :] for k, v in inputs.items()}
    with np.errstate(all="ignore"):
        out = np.asarray(law.evaluate(xin, env), dtype=float)
    n = len(np.asarray(next(iter(env.values()))))
    m = len(next(iter(inputs.values())))
    return np.broadcast_to(out, (n, m)).copy()


def observation_draws(mu: np.ndarray, likelihood: str | Likelihood, noise: Mapping[str, np.ndarray],
                      rng: np.random.Generator) -> np.ndarray:
    """Draws of a new observation around ``mu`` (shape (draws, m)) under the likelihood."""
    return get_likelihood(likelihood).draw(mu, noise, rng)


def pointwise_log_likelihood(
    law: Law, likelihood: str | Likelihood, params: Mapping[str, np.ndarray],
    inputs: Mapping[str, np.ndarray], y: np.ndarray,
) -> np.ndarray:
    """Log density of each observation under each draw, on the y scale.

    ``params`` arrays have shape (...,); the result has shape (..., n).  Computed with
    scipy (:meth:`Likelihood.logpdf`), which avoids compiling a second PyTensor function
    per fit; the model's own log-density is checked against it in the tests.
    """
    lik = get_likelihood(likelihood)
    shape = np.shape(next(iter(params.values())))
    env = {k: np.asarray(params[k], dtype=float)[..., None] for k in law.param_names}
    with np.errstate(all="ignore"):
        mu = np.asarray(law.evaluate({k: np.asarray(v, dtype=float) for k, v in inputs.items()}, env), dtype=float)
    mu = np.broadcast_to(mu, (*shape, len(y)))
    noise = {n: np.asarray(params[n], dtype=float)[..., None] for n in lik.noise_names}
    return lik.logpdf(y, mu, noise)
