"""Seeded simulators: data from any law with known parameters.

Used by the unit tests, parameter-recovery tests, the demo and the
benchmarks, so that every test dataset is reproducible from a seed.
"""

from __future__ import annotations

from typing import Any, Callable, Mapping

import numpy as np
import pandas as pd

from .errors import FitError
from .predictive import observation_draws
from .spec.laws import Law, get_law
from .spec.likelihoods import get_likelihood

__all__ = ["simulate", "TRUE_PARAMS", "default_design"]

#: Parameter values used by default for each catalogue law (realistic magnitudes).
TRUE_PARAMS: dict[str, dict[str, float]] = {
    "power_law": {"alpha": 0.3, "A": 20.0},
    "power_law_offset": {"E": 1.7, "alpha": 0.35, "A": 30.0},
    "bnsl1": {"a": 0.5, "c0": 0.2, "c1": 0.8, "d1": 1e4, "f1": 0.3, "b": 10.0},
    "bnsl2": {"a": 0.3, "c0": 0.1, "c1": 0.9, "c2": -0.6, "d1": 1e3, "d2": 1e5, "f1": 0.2, "f2": 0.2,
              "b": 8.0},
    # every break changes the reducible part while it still dominates the floor a, so all are identifiable
    "bnsl3": {"a": 0.05, "c0": 0.1, "c1": 0.6, "c2": -0.5, "c3": 0.6, "d1": 1e3, "d2": 10**4.5,
              "d3": 1e6, "f1": 0.2, "f2": 0.2, "f3": 0.2, "b": 5.0},
    # Epoch AI's replication estimates (Besiroglu et al. 2024)
    "chinchilla": {"E": 1.82, "alpha": 0.348, "beta": 0.366, "A": 482.0, "B": 2085.0},
    # Kaplan et al. 2020, eq. 1.5
    "kaplan": {"alpha_N": 0.076, "alpha_D": 0.103, "N_c": 6.4e13, "D_c": 1.8e13},
    # Muennighoff et al. 2023's fit on C4 (its data term; R is their R_D*)
    "data_constrained": {"E": 1.87, "alpha": 0.353, "beta": 0.353, "A": 521.0, "B": 1488.0, "R": 15.4},
    # bounded metrics: 4-way multiple choice rising to 85% around x = 1e4; an arithmetic-like jump
    "sigmoid_floor": {"floor": 0.25, "ceiling": 0.85, "slope": 1.2, "x50": 1e4},
    "bnsl1_error": {"floor": 0.0, "a": 0.05, "c0": 0.05, "c1": 3.0, "d1": 1e4, "f1": 0.2, "b": 1.13},
}


def _repeated_data_design() -> dict[str, np.ndarray]:
    """N x unique tokens U x epochs 1..64 (D = U x epochs): the runs a data-constrained law needs."""
    n, u, ep = np.meshgrid(np.logspace(7.5, 9.5, 4), np.logspace(9, 10.5, 3), 2.0 ** np.arange(7), indexing="ij")
    return {"N": n.ravel(), "D": (u * ep).ravel(), "U": u.ravel()}


#: Designs of catalogue laws whose inputs are not free scales (unique tokens U bound D from below).
DESIGNS: dict[str, Callable[[], dict[str, np.ndarray]]] = {"data_constrained": _repeated_data_design}


def default_design(law: Law, n: int | None = None) -> dict[str, np.ndarray]:
    """A realistic design: log-spaced scales for one input, a grid of N and D for two, :data:`DESIGNS`'s
    own for the catalogue laws listed there."""
    if law.name in DESIGNS and n is None:
        return DESIGNS[law.name]()
    if len(law.inputs) == 1:
        k = len(law.sampled)
        n = n or max(15, 4 * k)
        decades = 4 if k <= 6 else 5
        return {law.inputs[0]: np.logspace(2, 2 + decades, n)}
    side = int(np.ceil(np.sqrt(n or 36)))
    g1, g2 = np.meshgrid(np.logspace(7.5, 9.5, side), np.logspace(9, 11, side), indexing="ij")
    out = {law.inputs[0]: g1.ravel(), law.inputs[1]: g2.ravel()}
    for v in law.inputs[2:]:
        out[v] = np.logspace(1, 3, g1.size)
    return out


def simulate(
    *,
    law: str | Law,
    x: Mapping[str, Any] | Any = None,
    params: Mapping[str, float] | None = None,
    noise: float = 0.02,
    likelihood: str = "lognormal",
    repeats: int = 1,
    seed: int = 0,
    trials: int | None = None,
) -> pd.DataFrame:
    """Simulate data from a law.

    Parameters
    ----------
    law : str or Law
    x : array or mapping, optional
        Scales (a mapping of input name to values for several inputs);
        :func:`default_design` by default.
    params : mapping, optional
        True values of the parameters the formula uses (:attr:`~bayescale.spec.laws.Law.formula_params`);
        :data:`TRUE_PARAMS` for catalogue laws.
    noise : float
        The likelihood's noise parameter: ``sigma`` (sd of log y for lognormal, of logit y for
        logitnormal), or the precision ``phi`` for beta; unused by the binomial.
    likelihood : str
        A name of :data:`~bayescale.spec.likelihoods.LIKELIHOODS`; Student-t uses 4 degrees of freedom.
    trials : int, optional
        Items per observation for the binomial (``y`` is then the fraction right; a column
        ``trials`` is added).
    repeats : int
        Observations per scale (seeds of one model size).
    seed : int

    Returns
    -------
    DataFrame
        One column per law input and ``y``; ``attrs["params"]`` holds the truth.
    """
    law = get_law(law)
    if params is None:
        if law.name not in TRUE_PARAMS:
            raise FitError(f"law {law.name!r} has no default parameters: pass params={{...}}")
        params = TRUE_PARAMS[law.name]
    missing = set(law.formula_params) - set(params)  # a derived slope change, not the effect it comes from
    if missing:
        raise FitError(f"simulate needs values for {', '.join(sorted(missing))}")
    if x is None:
        xin = default_design(law)
    elif isinstance(x, Mapping):
        xin = {k: np.asarray(v, dtype=float) for k, v in x.items()}
    else:
        xin = {law.inputs[0]: np.asarray(x, dtype=float)}
    xin = {k: np.repeat(v, repeats) for k, v in xin.items()}
    mu = np.asarray(law.evaluate(xin, {k: float(params[k]) for k in law.formula_params}), dtype=float)
    rng = np.random.default_rng(seed)
    lik = get_likelihood(likelihood).bind(trials)
    mu = lik.clip_mean(mu)
    noise_values = {"sigma": np.array([noise]), "nu": np.array([4.0]), "phi": np.array([noise])}
    y = observation_draws(mu[None, :], lik, noise_values, rng)[0]
    df = pd.DataFrame({**xin, "y": y})
    if trials is not None:
        df["trials"] = int(trials)
    df.attrs["params"] = dict(params)
    df.attrs["noise"] = noise
    return df
