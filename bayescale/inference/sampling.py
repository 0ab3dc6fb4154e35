"""Running NUTS: the compile cache, per-chain starting points and the sampler call.

Compiling a model with nutpie costs seconds; sampling a small one costs about as
much.  One :class:`CompileCache` object owns the compiled models of this process,
keyed by (law, likelihood, priors): repeated fits of one law swap new data into
the compiled graph through its data containers instead of compiling again.  The
cache is bounded (least recently used entries go first) and thread-safe.
"""

from __future__ import annotations

import dataclasses
import threading
from collections import OrderedDict
from typing import Any, Callable, Mapping, Sequence

import numpy as np
import xarray as xr

from ..errors import FitError
from ..predictive import pointwise_log_likelihood
from ..spec.data import Dataset
from ..spec.laws import Law
from ..spec.likelihoods import Likelihood
from . import chainseeds, diskcache
from .model import model_data
from .results import n_divergences
from .starts import constrained

__all__ = ["CompileCache", "COMPILE_CACHE", "sample", "REMEDY_TARGET_ACCEPT", "REMEDY_TARGET_ACCEPTS",
           "REMEDY_ADAPTATION", "REMEDY_TEXT", "remedy_text", "divergence_remedy", "nutpie_sample", "NO_START",
           "compile_model"]


class CompileCache:
    """Compiled nutpie models and learned chain seeds of this process, bounded and thread-safe.

    Parameters
    ----------
    max_models : int
        Compiled models kept; the least recently used is dropped beyond that.
    """

    def __init__(self, max_models: int = 32) -> None:
        self.max_models = int(max_models)
        self._models: OrderedDict[tuple, Any] = OrderedDict()
        self._seeds: dict[tuple[int, int], tuple[int, ...]] = {}
        self._lock = threading.RLock()
        self.compiles = 0  # how many models this cache compiled (benchmarks report it)

    def __len__(self) -> int:
        return len(self._models)

    def clear(self) -> None:
        with self._lock:
            self._models.clear()
            self._seeds.clear()

    def compiled(self, model, key: tuple, values: Mapping[str, np.ndarray], compile_fn: Callable[[Any], Any]):
        """The compiled model for ``key`` with ``values`` swapped into its data containers."""
        with self._lock:
            hit = self._models.get(key)
            if hit is not None:
                self._models.move_to_end(key)
        if hit is None:
            hit = compile_fn(model)
            with self._lock:
                self._models[key] = hit
                self.compiles += 1
                while len(self._models) > self.max_models:
                    self._models.popitem(last=False)
            return hit
        known = {v.name for v in hit.shared_var_keys}
        return hit.with_data(**{k: v for k, v in values.items() if k in known})

    def chain_seeds(self, compiled, *, seed: int | None, chains: int, point: np.ndarray) -> tuple[int, ...]:
        """The seeds nutpie gives its chains for ``seed`` (empty for ``seed=None``), found once per process.

        nutpie derives each chain's seed from the sampling seed and the chain alone (checked: the same
        set for any draws, tune and cores), but does not expose them; a one-draw run that records them
        is the only way to learn them.  It costs 0.1-0.5 s, once per (seed, chains) and nutpie version:
        the answer is kept on disk (:mod:`~bayescale.inference.chainseeds`) for later processes.
        """
        if seed is None:
            return ()
        key = (int(seed), int(chains))
        with self._lock:
            known = self._seeds.get(key)
        if known is None:
            known = chainseeds.load(seed, chains)  # learned by an earlier process
        if known is not None:
            with self._lock:
                self._seeds[key] = known
            return known
        seen: list[int] = []
        lock = threading.Lock()

        def record(s=None):
            with lock:
                seen.append(int(s))
            return point.copy()

        # as many draws as chains: with fewer, ArviZ warns that the chain dimension looks like the draws
        probe = dataclasses.replace(compiled, initial_point_func=record)
        nutpie_sample(probe, draws=max(1, chains), tune=1, chains=chains, cores=1, seed=seed, progress_bar=False,
                      save_warmup=False)  # a model no chain can start fails here first, with NO_START
        out = tuple(seen[:chains])
        with self._lock:
            self._seeds[key] = out
        chainseeds.save(seed, chains, out)
        return out


#: The compile cache of this process.
COMPILE_CACHE = CompileCache()


def nutpie_starts(model, starts: Sequence[Mapping[str, np.ndarray]], chain_seeds: Sequence[int] = ()):
    """An ``initial_point_func`` for nutpie that hands each chain its own start (flat, in nutpie's order).

    nutpie calls the function once per chain, with that chain's seed, from the chains' threads, so the
    order of the calls depends on thread scheduling.  The start is therefore chosen by the rank of the
    chain's seed among ``chain_seeds`` (:meth:`CompileCache.chain_seeds`), which makes the pairing of
    chain and start, and so the draws, reproducible from the fit's seed.  A seed not among them (a
    retried initialisation, or no seed) takes the next start in call order.
    """
    names = [model.rvs_to_values[rv].name for rv in model.free_RVs]
    flats = [np.concatenate([np.atleast_1d(np.asarray(s[n], dtype=float)).ravel() for n in names]) for s in starts]
    rank = {int(s): i for i, s in enumerate(sorted(int(s) for s in chain_seeds))}
    lock, count = threading.Lock(), [0]

    def initial_point(seed=None):
        i = rank.get(None if seed is None else int(seed))
        if i is None:
            with lock:
                i = count[0]
                count[0] += 1
        return flats[i % len(flats)].copy()

    return initial_point


#: Why a fit stops when no chain can start (nutpie: "All initialization points failed"; PyMC: SamplingError).
NO_START = ("the sampler could not start: the log density is not finite at any chain's starting point; "
            "usually a prior that puts its mass far from the data (check the prior overrides, e.g. a location "
            "of 1e300 or a scale of 1e-300)")


def nutpie_sample(compiled, **kwargs):
    """``nutpie.sample``, with its failure to start any chain raised as a :class:`FitError` that says why."""
    import nutpie  # deferred: the sampler is loaded only when a fit runs

    try:
        return nutpie.sample(compiled, **kwargs)
    except RuntimeError as exc:
        if "initialization points failed" not in str(exc):
            raise
        raise FitError(NO_START) from None


def compile_model(model, *, cached: bool = True):
    """``nutpie.compile_pymc_model(model)``, reused across processes through the on-disk cache if ``cached``.

    np.errstate: PyTensor folds constants while compiling, and a prior's extreme constant (a scale of
    1e-300) overflows there with a numpy warning per fold; such a model cannot start, and says so in one
    line (NO_START), so the warnings would only repeat it as noise."""
    with np.errstate(over="ignore"):
        if cached:
            return diskcache.compile_cached(model)
        import nutpie  # deferred: the sampler is loaded only when a fit runs

        return nutpie.compile_pymc_model(model)


#: The divergence remedy: refits at these target acceptances in turn, each only while divergences are left,
#: with nutpie's mass matrix adapted from the draws' variances alone (``adaptation="draw_diag"``).  On bnsl1
#: (20 single-power-law and 20 one-break simulations, 4-digit addition; benchmarks/README.md, "Broken-law
#: geometry") the first rung left fewer divergences with ``draw_diag`` than with nutpie's gradient-based
#: adaptation; the second rung, 0.999, is for the few fits the first leaves with divergences (the funnel of a
#: break the data barely see; benchmarks/README.md, "The divergence remedy's second rung").
REMEDY_TARGET_ACCEPTS, REMEDY_ADAPTATION = (0.99, 0.999), "draw_diag"
REMEDY_TARGET_ACCEPT = REMEDY_TARGET_ACCEPTS[0]


def remedy_text(target_accept: float) -> str:
    """A remedy's settings in words, for every message that reports it ("... refitted with " + this)."""
    return f"target_accept={target_accept:g} and the mass matrix adapted from the draws' variances"


REMEDY_TEXT = remedy_text(REMEDY_TARGET_ACCEPT)


def divergence_remedy(run: Callable[[float], Any], tree, target_accept: float,
                      what: str = "{div} divergences at target_accept={ta:g}; refitted with {remedy}"):
    """Climb the remedy's ladder while a run leaves divergences.

    Parameters
    ----------
    run : callable
        ``run(target_accept)`` samples again (with :data:`REMEDY_ADAPTATION`) and returns the new tree.
    tree : DataTree
        The run so far.
    target_accept : float
        Its target acceptance; rungs at or below it are skipped.
    what : str
        The note of each refit, formatted with ``div``, ``ta`` (the run's target) and ``remedy``.

    Returns
    -------
    tree, target_accept, note
        The last run, its target acceptance, and the notes of the refits joined by "; " (None if none ran).
    """
    notes = []
    for rung in REMEDY_TARGET_ACCEPTS:
        div = n_divergences(tree)
        if not div:
            break
        if target_accept >= rung:
            continue
        notes.append(what.format(div=div, ta=target_accept, remedy=remedy_text(rung)))
        tree, target_accept = run(rung), rung
    return tree, target_accept, "; ".join(notes) or None


def sample(model, *, law: Law, ds: Dataset, likelihood: Likelihood, priors_key: tuple, sampler: str, draws: int,
           tune: int, chains: int, cores: int, target_accept: float, seed: int | None, progressbar: bool,
           starts=None, cache: CompileCache = COMPILE_CACHE, adaptation: str = "diag"):
    """Run NUTS and return a DataTree with posterior, sample_stats, log_likelihood and the data.

    ``adaptation`` is nutpie's mass-matrix adaptation: ``"diag"`` (its default, from draws and gradients)
    or ``"draw_diag"`` (from the draws' variances alone, as Stan adapts; the divergence remedy's choice).
    PyMC's own NUTS and numpyro adapt from the draws already and ignore it."""
    if sampler == "nutpie":
        compiled = cache.compiled(model, (law.to_json(), likelihood.name, priors_key), model_data(law, ds),
                                  compile_model)
        if starts:
            first = nutpie_starts(model, starts)()
            seeds = cache.chain_seeds(compiled, seed=seed, chains=chains, point=first)
            compiled = dataclasses.replace(compiled, initial_point_func=nutpie_starts(model, starts, seeds))
        tree = nutpie_sample(compiled, draws=draws, tune=tune, chains=chains, cores=cores, seed=seed,
                             target_accept=target_accept, progress_bar=progressbar, save_warmup=False,
                             adaptation=adaptation)
    else:
        import pymc as pm  # deferred: only the non-default samplers go through pm.sample

        with model:
            try:
                tree = pm.sample(draws=draws, tune=tune, chains=chains, cores=cores, target_accept=target_accept,
                                 random_seed=seed, nuts_sampler=sampler, progressbar=progressbar,
                                 compute_convergence_checks=False,
                                 initvals=[constrained(s) for s in starts] if starts else None)
            except pm.exceptions.SamplingError:
                raise FitError(NO_START) from None
    post = tree["posterior"]
    names = list(law.param_names) + list(likelihood.noise_names)
    params = {n: np.asarray(post[n].values, dtype=float) for n in names}
    ll = pointwise_log_likelihood(law, likelihood, params, ds.inputs, ds.y)
    obs = np.arange(ds.n)
    keep = {k: tree[k].to_dataset() for k in ("posterior", "sample_stats")}
    keep["log_likelihood"] = xr.Dataset({"y": (("chain", "draw", "obs"), ll)},
                                        coords={"chain": post["chain"].values, "draw": post["draw"].values,
                                                "obs": obs})
    keep["observed_data"] = xr.Dataset({"y": (("obs",), np.asarray(ds.y, dtype=float))}, coords={"obs": obs})
    keep["constant_data"] = xr.Dataset({k: (("obs",), np.asarray(v, dtype=float)) for k, v in ds.inputs.items()},
                                       coords={"obs": obs})
    out = xr.DataTree.from_dict(keep)
    out["posterior"].attrs.update(post.attrs)
    return out
