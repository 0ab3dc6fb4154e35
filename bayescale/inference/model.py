"""Building the PyMC model of a law (the "build" step; nothing samples here).

Model, for observations ``(x_j, y_j)``, ``j = 1..n``:

.. math::

    \\theta &\\sim p(\\theta) \\quad\\text{(the law's priors, sampled non-centred)}\\\\
    \\mu_j &= f(x_j; \\theta)\\\\
    \\text{lognormal:}\\quad \\log y_j &\\sim \\mathcal N(\\log \\mu_j, \\sigma)\\\\
    \\text{normal:}\\quad y_j &\\sim \\mathcal N(\\mu_j, \\sigma)\\\\
    \\text{studentt:}\\quad \\log y_j &\\sim t_\\nu(\\log \\mu_j, \\sigma)\\\\
    \\text{logitnormal:}\\quad \\operatorname{logit} y_j &\\sim \\mathcal N(\\operatorname{logit} \\mu_j, \\sigma)\\\\
    \\text{beta:}\\quad y_j &\\sim \\mathrm{Beta}(\\mu_j \\phi, (1 - \\mu_j) \\phi)\\\\
    \\text{binomial:}\\quad n_j y_j &\\sim \\mathrm{Binomial}(n_j, \\mu_j)

Every likelihood is written as a density of ``y`` itself (the log-normal and
log-Student-t include the Jacobian ``-log y``, the logit-normal ``-log y(1-y)``),
so log-likelihoods and LOO scores are on one scale and comparable across
likelihoods (the binomial's stored log-likelihood adds ``log n_j`` to the pmf
of the count; :mod:`bayescale.spec.likelihoods`).  A parameter with a
``Fixed(value=...)`` prior is a constant, stored with the draws.

Inputs, the metric, the binomial's trials and the data statistics used by the priors are
``pm.Data`` containers, so one compiled model can be refitted to new data.
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from ..errors import DataError
from ..spec.data import Dataset, data_stats
from ..spec.formula import pytensor_backend
from ..spec.laws import Law
from ..spec.likelihoods import Likelihood, get_likelihood
from ..spec.priors import Prior
from ..spec.resolve import resolve_priors

__all__ = ["build_model", "model_data", "check_identifiable"]


def build_model(
    law: Law,
    data: Dataset,
    *,
    priors: Mapping[str, str | Prior] | None = None,
    likelihood: str | Likelihood = "lognormal",
):
    """Build the PyMC model of ``law`` for ``data`` (no sampling).

    Parameters
    ----------
    law : Law
    data : Dataset
    priors : mapping of str to prior string, optional
        Overrides of default priors by parameter name.
    likelihood : str or Likelihood
        A name of :data:`~bayescale.spec.likelihoods.LIKELIHOODS`; the binomial needs ``data.trials``.

    Returns
    -------
    pymc.Model
        With deterministic nodes named after the law's parameters, noise
        parameters ``sigma`` (and ``nu``), observed variable ``y`` on dimension
        ``obs``, and data containers for the inputs, ``y_obs`` and every data
        statistic.
    """
    import pymc as pm  # deferred: importing PyMC costs about a second, and only fits need it
    import pytensor.tensor as pt

    lik = get_likelihood(likelihood)
    resolved = resolve_priors(law, likelihood, priors)
    be = pytensor_backend()
    stats = data_stats(data.inputs, data.y)
    # np.errstate: PyTensor tries each Python float as float32 first (autocast) and numpy warns "overflow
    # encountered in cast" for a constant beyond float32's range (a prior's 1e300), though the constant then
    # goes in as float64; the warning is PyTensor's probe, not a problem of the model.
    with np.errstate(over="ignore"), pm.Model(coords={"obs": np.arange(data.n)}) as model:
        env: dict[str, Any] = {k: pm.Data(k, np.float64(v)) for k, v in stats.items()}
        inputs = {k: pm.Data(k, np.asarray(v, dtype=float), dims="obs") for k, v in data.inputs.items()}
        y_obs = pm.Data("y_obs", np.asarray(data.y, dtype=float), dims="obs")
        params: dict[str, Any] = {}
        for name in [p.name for p in law.parameters]:
            if name in params:
                continue
            if name in law.ordered:
                # Break positions: log d_i = lo + (hi - lo) * cumsum(w)[i], w ~ Dirichlet(1, ..., 1):
                # the joint law of sorted LogUniform draws, and it samples better than an ordered transform.
                pr = resolved[name]
                lo = be["log"](pr.args["lower"](env | params, be))
                hi = be["log"](pr.args["upper"](env | params, be))
                k = len(law.ordered)
                w = pm.Dirichlet("breaks_raw", a=np.ones(k + 1))
                logd = lo + (hi - lo) * pt.cumsum(w)[:-1]
                for i, dn in enumerate(law.ordered):
                    params[dn] = pm.Deterministic(dn, pt.exp(logd[i]))
                continue
            value = resolved[name].build(name, env | params, be)
            params[name] = pm.Deterministic(name, value)
        noise = {n: resolved[n].build(n, env | params, be) for n in lik.noise_names}
        noise = {n: pm.Deterministic(n, v) for n, v in noise.items()}
        mu = law.evaluate(inputs, params, be)
        mu = pt.broadcast_to(mu, y_obs.shape)
        trials = None
        if lik.needs_trials:
            trials = pm.Data("trials", np.asarray(data.trials, dtype=float), dims="obs")
        lik.observe("y", mu, noise, y_obs, dims="obs", trials=trials)
    return model


def model_data(law: Law, data: Dataset) -> dict[str, np.ndarray]:
    """Values for every data container of :func:`build_model` (to swap data into a compiled model)."""
    out: dict[str, np.ndarray] = {k: np.float64(v) for k, v in data_stats(data.inputs, data.y).items()}
    out.update({k: np.asarray(v, dtype=float) for k, v in data.inputs.items()})
    out["y_obs"] = np.asarray(data.y, dtype=float)
    if data.trials is not None:
        out["trials"] = np.asarray(data.trials, dtype=float)
    return out


def check_identifiable(law: Law, data: Dataset) -> None:
    """Raise if there are fewer distinct scales than the law has parameters."""
    k = len(law.sampled)
    m = data.n_distinct_scales()
    if m < k:
        raise DataError(
            f"law {law.name!r} has {k} parameters but the data have only {m} distinct scale(s); "
            f"give at least {k} distinct scales or choose a law with fewer parameters"
        )
