"""Building the PyMC model of a law (the "build" step; nothing samples here).

Model, for observations ``(x_j, y_j)``, ``j = 1..n``:

.. math::

    \\theta &\\sim p(\\theta) \\quad\\text{(the law's priors, sampled non-centred)}\\\\
    \\mu_j &= f(x_j; \\theta)\\\\
    \\text{lognormal:}\\quad \\log y_j &\\sim \\mathcal N(\\log \\mu_j, \\sigma)\\\\
    \\text{normal:}\\quad y_j &\\sim \\mathcal N(\\mu_j, \\sigma)\\\\
    \\text{studentt:}\\quad \\log y_j &\\sim t_\\nu(\\log \\mu_j, \\sigma)

Every likelihood is written as a density of ``y`` itself (the log-normal and
log-Student-t include the Jacobian ``-log y``), so log-likelihoods and LOO
scores are on one scale and comparable across likelihoods.

Inputs, the metric and the data statistics used by the priors are
``pm.Data`` containers, so one compiled model can be refitted to new data.
"""

from __future__ import annotations

import difflib
from typing import Any, Mapping

import numpy as np

from .data import Dataset, data_stats
from .errors import FitError, PriorError
from .laws import Law, stat_names
from .priors import Prior, parse_prior

__all__ = ["LIKELIHOODS", "NOISE_PRIORS", "resolve_priors", "build_model"]

#: Supported likelihoods.
LIKELIHOODS = ("lognormal", "normal", "studentt")

#: Default noise priors per likelihood, with the reason for each.
NOISE_PRIORS: dict[str, dict[str, tuple[str, str]]] = {
    "lognormal": {
        "sigma": (
            "HalfNormal(sigma=0.2)",
            "sd of log y around the law: scale-free; 0.2 (about 20% noise) is generous for averaged losses "
            "and still lets very clean curves reach sigma near 0.001.",
        )
    },
    "normal": {
        "sigma": (
            "HalfNormal(sigma=y_sd)",
            "additive noise in the metric's own units: no larger than the spread of the data itself.",
        )
    },
    "studentt": {
        "sigma": ("HalfNormal(sigma=0.2)", "scale of log y around the law, as for lognormal."),
        "nu": (
            "Gamma(alpha=2, beta=0.1)",
            "degrees of freedom: Juárez and Steel's (2010) weak default, mean 20; small values give heavy tails for outlying runs.",
        ),
    },
}


def _check_likelihood(likelihood: str) -> None:
    if likelihood not in LIKELIHOODS:
        raise FitError(f"unknown likelihood {likelihood!r}; choose one of {', '.join(LIKELIHOODS)}")


def resolve_priors(
    law: Law, likelihood: str = "lognormal", priors: Mapping[str, str | Prior] | None = None
) -> dict[str, Prior]:
    """The priors a fit uses: the law's defaults and noise priors, with user overrides by name.

    Raises
    ------
    PriorError
        For a name that is not a parameter (with the closest match), a malformed prior, or a
        prior that uses a name not available to it.
    """
    _check_likelihood(likelihood)
    out: dict[str, Prior] = {p.name: p.prior for p in law.parameters}
    for name, (text, _) in NOISE_PRIORS[likelihood].items():
        out[name] = parse_prior(text, param=name)
    priors = dict(priors or {})
    for name in priors:
        if name not in out:
            close = difflib.get_close_matches(name, list(out), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise PriorError(
                f"no parameter {name!r} in law {law.name!r} with {likelihood} noise{hint}; "
                f"the parameters are {', '.join(out)}"
            )
    stats = stat_names(law.inputs)
    seen: set[str] = set()
    for name in list(out):
        if name in priors:
            out[name] = parse_prior(priors[name], param=name)
            bad = out[name].names - stats - seen
            if bad:
                raise PriorError(
                    f"prior for {name!r} uses {', '.join(sorted(bad))}: only numbers, data statistics "
                    f"({', '.join(sorted(stats))}) and parameters declared before it are allowed"
                )
        seen.add(name)
    if law.ordered and any(n in priors for n in law.ordered):
        texts = {out[n].text.replace(" ", "") for n in law.ordered}
        if len(texts) != 1 or out[law.ordered[0]].dist != "LogUniform":
            raise PriorError(
                f"break positions {', '.join(law.ordered)} are sampled jointly in increasing order: "
                "override all of them with one and the same LogUniform(lower=..., upper=...) prior"
            )
    return out


def build_model(
    law: Law,
    data: Dataset,
    *,
    priors: Mapping[str, str | Prior] | None = None,
    likelihood: str = "lognormal",
):
    """Build the PyMC model of ``law`` for ``data`` (no sampling).

    Parameters
    ----------
    law : Law
    data : Dataset
    priors : mapping of str to prior string, optional
        Overrides of default priors by parameter name.
    likelihood : {"lognormal", "normal", "studentt"}

    Returns
    -------
    pymc.Model
        With deterministic nodes named after the law's parameters, noise
        parameters ``sigma`` (and ``nu``), observed variable ``y`` on dimension
        ``obs``, and data containers for the inputs, ``y_obs`` and every data
        statistic.
    """
    import pymc as pm
    import pytensor.tensor as pt

    from .formula import pytensor_backend

    resolved = resolve_priors(law, likelihood, priors)
    be = pytensor_backend()
    stats = data_stats(data.inputs, data.y)
    with pm.Model(coords={"obs": np.arange(data.n)}) as model:
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
        noise = {n: resolved[n].build(n, env | params, be) for n in NOISE_PRIORS[likelihood]}
        noise = {n: pm.Deterministic(n, v) for n, v in noise.items()}
        mu = law.evaluate(inputs, params, be)
        mu = pt.broadcast_to(mu, y_obs.shape)
        if likelihood == "lognormal":
            pm.LogNormal("y", mu=pt.log(mu), sigma=noise["sigma"], observed=y_obs, dims="obs")
        elif likelihood == "normal":
            pm.Normal("y", mu=mu, sigma=noise["sigma"], observed=y_obs, dims="obs")
        else:

            def _log_t(nu, loc, scale, size):
                return pt.exp(pm.StudentT.dist(nu=nu, mu=loc, sigma=scale, size=size))

            pm.CustomDist(
                "y", noise["nu"], pt.log(mu), noise["sigma"], dist=_log_t, observed=y_obs, dims="obs"
            )
    return model


def model_data(law: Law, data: Dataset) -> dict[str, np.ndarray]:
    """Values for every data container of :func:`build_model` (to swap data into a compiled model)."""
    out: dict[str, np.ndarray] = {k: np.float64(v) for k, v in data_stats(data.inputs, data.y).items()}
    out.update({k: np.asarray(v, dtype=float) for k, v in data.inputs.items()})
    out["y_obs"] = np.asarray(data.y, dtype=float)
    return out


def check_identifiable(law: Law, data: Dataset) -> None:
    """Raise if there are fewer distinct scales than the law has parameters."""
    k = len(law.parameters)
    m = data.n_distinct_scales()
    if m < k:
        from .errors import DataError

        raise DataError(
            f"law {law.name!r} has {k} parameters but the data have only {m} distinct scale(s); "
            f"give at least {k} distinct scales or choose a law with fewer parameters"
        )
