"""Starting points for NUTS from a multi-start least-squares fit.

Broken laws are multi-modal in practice: started from the prior's centre
(every slope change 0, breaks evenly spaced), chains can settle in different
local optima that fit the data far worse than the best one (seen as R-hat
near 3 on a 3-break law).  Before sampling, :func:`start_points` therefore
minimises the data residuals (on log y for the multiplicative likelihoods, on
y for additive noise) from ``n_starts`` random starting points, in exactly
the unconstrained space PyMC samples (the value variables of the raw
non-centred variables, see :mod:`bayescale.priors`), so each optimum maps
one-to-one onto a chain's starting point.

Chain 1 starts at the best optimum; the other chains start at the next-best
*distinct* optima whose log-likelihood is within :data:`MODE_TOLERANCE` nats
of the best (so genuinely competing modes still show up as disagreeing chains
in R-hat), and otherwise at the best optimum with a tiny jitter (1e-3 in unconstrained units: posteriors of clean curves are that narrow).

Written by hand because the optimisation must run in PyMC's unconstrained
coordinates without compiling another PyTensor function per fit; scipy's
``least_squares`` does the optimisation.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np
from scipy import optimize, special

from ..spec.data import Dataset, data_stats
from ..spec.formula import NUMPY
from ..spec.laws import Law
from ..spec.likelihoods import Likelihood, get_likelihood
from ..spec.priors import Prior, check_domain

__all__ = ["start_points", "constrained", "MODE_TOLERANCE"]

#: Optima within this many nats of the best log-likelihood count as competing modes.
MODE_TOLERANCE = 3.0
#: Unconstrained value -> raw variable, per value-variable transform suffix.
_FROM_U = {"": lambda u: u, "_log__": np.exp, "_interval__": special.expit}
_TO_U = {"": lambda r: r, "_log__": np.log, "_interval__": special.logit}


@dataclass(frozen=True)
class _Block:
    names: tuple[str, ...]  # law parameters set by this block
    value_name: str  # PyMC value variable
    size: int
    suffix: str  # transform suffix ("" , "_log__", "_interval__", "_simplex__"), or "fixed" (no variable)


def _layout(law: Law, priors: Mapping[str, Prior]) -> list[_Block]:
    blocks: list[_Block] = []
    done: set[str] = set()
    for p in law.parameters:
        if p.name in done:
            continue
        if p.name in law.ordered:
            blocks.append(_Block(tuple(law.ordered), "breaks_raw_simplex__", len(law.ordered), "_simplex__"))
            done |= set(law.ordered)
            continue
        if priors[p.name].fixed:  # a point mass: no value variable, the value is set in _unpack
            blocks.append(_Block((p.name,), "", 0, "fixed"))
            done.add(p.name)
            continue
        suffix = priors[p.name].value_suffix
        blocks.append(_Block((p.name,), f"{p.name}_raw{suffix}", 1, suffix))
        done.add(p.name)
    return blocks


def _unpack(v: np.ndarray, law: Law, priors, blocks, stats) -> dict[str, float] | None:
    env: dict[str, Any] = dict(stats)
    i = 0
    with np.errstate(all="ignore"):
        for b in blocks:
            u = v[i:i + b.size]
            i += b.size
            if b.suffix == "_simplex__":
                # PyMC's simplex transform: w = softmax([u, -sum(u)]); log d = lo + (hi - lo) cumsum(w)
                full = np.concatenate([u, [-u.sum()]])
                w = special.softmax(full)
                pr = priors[b.names[0]]
                a = {k: f(env, NUMPY) for k, f in pr.args.items()}
                lo, hi = np.log(a["lower"]), np.log(a["upper"])
                logd = lo + (hi - lo) * np.cumsum(w)[:-1]
                for n, ld in zip(b.names, logd):
                    env[n] = float(np.exp(ld))
                continue
            pr = priors[b.names[0]]
            a = {k: f(env, NUMPY) for k, f in pr.args.items()}
            if b.suffix == "fixed":
                env[b.names[0]] = float(a["value"])
                continue
            env[b.names[0]] = float(pr.from_raw(_FROM_U[b.suffix](u[0]), a, NUMPY))
    vals = {n: env[n] for n in law.param_names}
    return vals if all(np.isfinite(list(vals.values()))) else None


def _residuals(law: Law, ds: Dataset, likelihood: Likelihood, vals: Mapping[str, float]) -> np.ndarray:
    with np.errstate(all="ignore"):
        mu = np.asarray(law.evaluate(ds.inputs, vals), dtype=float) * np.ones(ds.n)
        r = likelihood.residual(ds.y, mu)
    return np.where(np.isfinite(r), r, 1e3)


def start_points(
    law: Law,
    ds: Dataset,
    *,
    likelihood: str | Likelihood,
    priors: Mapping[str, Prior],
    chains: int,
    n_starts: int | None = None,
    seed: int | None = 0,
) -> list[dict[str, np.ndarray]] | None:
    """One dict of PyMC value variables (unconstrained) per chain, or None if no optimum was found.

    Parameters
    ----------
    law, ds, likelihood, priors
        As resolved by :func:`bayescale.fit.fit`.
    chains : int
    n_starts : int, optional
        Random starts; default ``max(8, 2 * number of parameters)``.
    seed : int, optional
    """
    likelihood = get_likelihood(likelihood)
    rng = np.random.default_rng(seed)
    stats = data_stats(ds.inputs, ds.y)
    blocks = _layout(law, priors)
    dim = sum(b.size for b in blocks)
    n_starts = n_starts or max(8, 2 * len(law.sampled))
    found: list[tuple[float, np.ndarray, dict[str, float]]] = []

    def fun(v):
        vals = _unpack(v, law, priors, blocks, stats)
        if vals is None:
            return np.full(ds.n + dim, 1e3)
        # a weak pull towards the prior's centre keeps flat directions (e.g. a break's
        # position when its slope change is ~0) from running off to infinity
        return np.concatenate([_residuals(law, ds, likelihood, vals), 0.01 * v])

    for _ in range(n_starts):
        v0 = np.concatenate([
            np.zeros(0) if b.suffix == "fixed" else rng.normal(0, 0.5, b.size) if b.suffix in ("", "_simplex__")
            else (np.log(np.abs(rng.normal(0, 1, 1)) + 1e-3) if b.suffix == "_log__" else rng.normal(0, 1.5, 1))
            for b in blocks
        ])
        try:
            res = optimize.least_squares(fun, v0, method="trf", max_nfev=100 * (dim + 1))
        except (ValueError, FloatingPointError):
            continue
        vals = _unpack(res.x, law, priors, blocks, stats)
        if vals is None:
            continue
        sse = float(np.sum(_residuals(law, ds, likelihood, vals) ** 2))
        if np.isfinite(sse):
            found.append((sse, res.x, vals))
    if not found:
        return None
    found.sort(key=lambda t: t[0])
    best_sse = max(found[0][0], 1e-300)
    chosen = [found[0]]
    for sse, v, vals in found[1:]:
        dll = 0.5 * ds.n * np.log(max(sse, 1e-300) / best_sse)
        if dll <= MODE_TOLERANCE and all(np.linalg.norm(v - c[1]) > 0.5 for c in chosen):
            chosen.append((sse, v, vals))
        if len(chosen) == chains:
            break
    starts = []
    for c in range(chains):
        sse, v, vals = chosen[c] if c < len(chosen) else (chosen[0][0], chosen[0][1] + rng.normal(0, 1e-3, dim),
                                                          None)
        vals = vals or _unpack(v, law, priors, blocks, stats) or chosen[0][2]
        point = _value_dict(v, blocks)
        point.update(_noise_point(priors, likelihood, stats, vals, law, ds, sse))
        starts.append(point)
    return starts


def _value_dict(v: np.ndarray, blocks: list[_Block]) -> dict[str, np.ndarray]:
    out, i = {}, 0
    for b in blocks:
        u = v[i:i + b.size]
        i += b.size
        if b.suffix == "fixed":
            continue
        out[b.value_name] = np.asarray(u if b.suffix == "_simplex__" else u[0], dtype=float)
    return out


def _noise_point(priors, likelihood, stats, vals, law, ds, sse) -> dict[str, np.ndarray]:
    env = {**stats, **vals}
    noise = likelihood.noise_start(_residuals(law, ds, likelihood, vals), ds.y)
    out = {}
    for name, value in noise.items():
        pr = priors[name]
        if pr.fixed:
            continue
        # arguments that use the law's parameters are checked here, at the start, before any sampling
        check_domain(pr, env, param=name, where="the starting point")
        a = {k: f(env, NUMPY) for k, f in pr.args.items()}
        suffix = pr.value_suffix
        raw = pr.to_raw(value, a)
        if suffix == "_interval__":
            raw = np.clip(raw, 1e-6, 1 - 1e-6)
        out[f"{name}_raw{suffix}"] = np.asarray(_TO_U[suffix](raw), dtype=float)
    return out


def constrained(point: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Map a point of PyMC value variables back to the raw variables' own (constrained) values."""
    out = {}
    for key, u in point.items():
        u = np.asarray(u, dtype=float)
        if key.endswith("_simplex__"):
            out[key[: -len("_simplex__")]] = special.softmax(np.concatenate([u, [-u.sum()]]))
            continue
        for suffix in ("_log__", "_interval__"):
            if key.endswith(suffix):
                out[key[: -len(suffix)]] = _FROM_U[suffix](u)
                break
        else:
            out[key] = u
    return out
