"""Fitting a law by NUTS, and loading a saved fit.

Lifecycle (as in bambi): configure (law, priors, likelihood: a :class:`FitConfig`),
build (:func:`bayescale.inference.model.build_model`), fit (:func:`fit`), predict
(:meth:`Fit.forecast`).  Nothing samples until :func:`fit` is called.
"""

from __future__ import annotations

import importlib.util
import json
import os
import sys
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import pandas as pd
import xarray as xr

from .._version import __version__
from ..errors import DataError, FitError
from ..spec.data import Dataset, data_stats, load_data, read_grouped
from ..spec.laws import Law, get_law, law_from_json
from ..spec.discrepancy import get_discrepancy
from ..spec.likelihoods import LIKELIHOODS, get_likelihood
from ..spec.resolve import check_prior_domains, resolve_priors
from .config import INITS, SAMPLERS, SEED_MAX, FitConfig
from .model import build_model, check_identifiable
from .pooled import PooledFit, check_pooling, fit_pooled
from .results import ESS_PER_CHAIN_MIN, RHAT_MAX, Diagnostics, Fit, Forecast, n_divergences
from .sampling import COMPILE_CACHE, REMEDY_ADAPTATION, divergence_remedy, sample
from .starts import start_points

__all__ = ["Fit", "Forecast", "Diagnostics", "FitConfig", "PooledFit", "fit", "refit", "load", "SAMPLERS"]


def _default_sampler() -> str:
    return "nutpie" if importlib.util.find_spec("nutpie") else "pymc"


def fit(
    data: str | os.PathLike | pd.DataFrame | Dataset,
    *,
    law: str | Law,
    x: str | Sequence[str] | Mapping[str, str] | None = None,
    y: str = "y",
    priors: Mapping[str, str] | None = None,
    likelihood: str = "lognormal",
    draws: int = 1000,
    tune: int = 1000,
    chains: int = 4,
    cores: int | None = None,
    target_accept: float = 0.9,
    sampler: str | None = None,
    seed: int | None = 0,
    progressbar: bool | None = None,
    auto_remedy: bool = True,
    where: Mapping[str, str] | None = None,
    init: str = "optimize",
    discrepancy: str | Mapping[str, float] = "default",
    config: FitConfig | None = None,
    group: str | None = None,
    pool: Sequence[str] | None = None,
    trials: int | str | None = None,
    floor: float | None = None,
) -> Fit | PooledFit:
    """Fit a scaling law by NUTS.

    Parameters
    ----------
    data : CSV path, DataFrame or Dataset
    law : str or Law
        Catalogue name (see ``bayescale laws``), path to a law file, or a :class:`Law`.
    x : str, list of str or mapping, optional
        Scale column(s), one per law input in order; defaults to the input names.
    y : str
        Metric column.
    priors : mapping, optional
        Prior overrides by parameter name, e.g. ``{"alpha": "Normal(mu=0.3, sigma=0.1)"}``.
    likelihood : {"lognormal", "normal", "studentt", "logitnormal", "beta", "binomial"}
        Multiplicative noise (default), additive noise, robust Student-t on log y, or for metrics in
        [0, 1] (accuracy) normal noise on logit y, beta noise, or binomial counts of ``trials`` items
        (:mod:`bayescale.spec.likelihoods`).
    draws, tune, chains, cores, target_accept
        NUTS settings; ``cores`` defaults to ``min(chains, os.cpu_count())``.
    sampler : {"nutpie", "pymc", "numpyro"}, optional
        Defaults to nutpie where installed, else PyMC's own NUTS.
    seed : int or None
        Seed; the same seed reproduces the same draws.
    progressbar : bool, optional
        Defaults to showing progress when standard error is a terminal.
    auto_remedy : bool
        If sampling ends with divergences, refit with ``target_accept=0.99`` and nutpie's mass matrix
        adapted from the draws' variances (``adaptation="draw_diag"``), and once more at 0.999 if that
        refit still diverges (``REMEDY_TARGET_ACCEPTS``); then, if the only
        problems left are a bulk or tail ESS below the threshold (and R-hat at most 1.05), with at least
        ``ESS_REMEDY_MIN_DRAWS`` draws asked for, sample again with more draws (enough for the ESS,
        projected from the first run, at most ``ESS_REMEDY_MAX_FACTOR`` times as many, and as many tuning
        steps); if that longer run meets divergences the first did not, it gets the divergence remedy at its
        own length; if it still fails only so mildly and is shorter than the cap, it runs once more at the
        cap.  Each remedy is recorded in ``settings["remedy"]``; the result may still fail, and says so.
    where : mapping, optional
        Use only rows whose column equals the value, e.g. ``{"split": "fit"}`` (recorded).
    init : {"optimize", "prior"}
        Start chains at multi-start least-squares optima (:mod:`bayescale.inference.starts`; default),
        or at the sampler's default point near the prior's centre.
    discrepancy : str or mapping
        Extrapolation uncertainty added to forecasts beyond the fitted range
        (:mod:`bayescale.spec.discrepancy`): ``"default"`` (learned from real curves), a row of the
        table by name, ``{"s0": ..., "kappa": ...}``, or ``"off"``.
    config : FitConfig, optional
        Every setting above at once (e.g. ``other_fit.config``); when given, it replaces the
        keyword arguments ``priors`` to ``init``.
    group, pool : optional
        Partial pooling (:mod:`bayescale.inference.pooled`): fit every group of rows with equal
        ``group`` values at once, the parameters named in ``pool`` drawn around shared population
        values, the others per group; returns a :class:`PooledFit`.  To fit each group on its own,
        use :func:`bayescale.fit_many`.
    trials : int or str, optional
        For ``likelihood="binomial"``: the items per observation, one whole number or a column; ``y`` is
        the fraction right (successes / trials).  Saved with the fit (a column's values with the data).
    floor : float, optional
        A known chance level for laws with a ``floor`` parameter (``sigmoid_floor``, ``bnsl1_error``):
        fixes it, as the prior override ``{"floor": "Fixed(value=...)"}`` would; e.g. 0.25 for 4-way
        multiple choice.  Without it the law's prior infers it (or keeps its default).

    Returns
    -------
    Fit
    """
    if config is None:
        priors = _with_floor(priors, floor)
        if isinstance(trials, (float, np.floating, np.integer)) and float(trials) == int(trials):
            trials = int(trials)
        config = FitConfig(likelihood=likelihood, priors=(), draws=draws, tune=tune, chains=chains, cores=cores,
                           target_accept=target_accept, sampler=sampler, seed=seed, auto_remedy=auto_remedy,
                           init=init, discrepancy=discrepancy, trials=trials).replace(priors=priors or {})
    elif floor is not None or trials is not None:
        raise FitError("give floor and trials inside config (config.replace(...)), not beside it")
    if group is not None or pool:
        return _fit_groups(data, law=law, x=x, y=y, where=where, config=config, progressbar=progressbar,
                           group=group, pool=list(pool or []))
    return _fit(data, law=law, x=x, y=y, where=where, config=config, progressbar=progressbar)


def _fit_groups(data, *, law, x, y, where, config: FitConfig, progressbar, group, pool) -> PooledFit:
    sampler = _check_config(config)
    law = get_law(law)
    lik = get_likelihood(config.likelihood)
    if group is None or not pool:
        raise FitError("partial pooling needs both group='COL' and pool=[parameter, ...]; to fit each group "
                       "on its own use bayescale.fit_many")
    check_pooling(law, pool, lik, config.prior_overrides or None)
    frame = read_grouped(data, group=[group], where=where)
    ds = load_data(frame, x=list(law.inputs) if x is None else x, y=y, inputs=law.inputs, positive_y=lik.positive_y)
    cores = config.cores or max(1, min(config.chains, os.cpu_count() or 1))
    return fit_pooled(ds, frame[group].tolist(), law=law, pool=pool, config=config, sampler=sampler, cores=cores,
                      progressbar=sys.stderr.isatty() if progressbar is None else progressbar)


def _with_floor(priors: Mapping[str, str] | None, floor: float | None) -> dict[str, str]:
    """The prior overrides with a known chance level fixed (``floor=`` of :func:`fit`, ``--floor``)."""
    out = dict(priors or {})
    if floor is None:
        return out
    if isinstance(floor, bool) or not isinstance(floor, (int, float, np.integer, np.floating)) \
            or not 0 <= float(floor) < 1:
        raise FitError(f"floor (the chance level) must be a number from 0 up to 1 (exclusive), e.g. 0.25 for 4-way "
                       f"multiple choice; got {floor!r}")
    if "floor" in out:
        raise FitError("give the chance level once: floor= or a prior for 'floor', not both")
    out["floor"] = f"Fixed(value={float(floor)!r})"
    return out


def _check_config(cfg: FitConfig) -> str:
    """Reject bad settings before any work; return the sampler to run."""
    sampler = cfg.sampler or _default_sampler()
    if sampler not in SAMPLERS:
        raise FitError(f"unknown sampler {sampler!r}; choose one of {', '.join(SAMPLERS)}")
    if importlib.util.find_spec(sampler) is None:
        raise FitError(f"sampler {sampler!r} needs the package {sampler!r}: pip install {sampler}")
    for name, v, lo in (("draws", cfg.draws, 1), ("tune", cfg.tune, 1), ("chains", cfg.chains, 1)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < lo:
            raise FitError(f"{name} must be an integer >= {lo}, got {v!r}"
                           + ("; NUTS needs tuning steps to adapt its step size (default 1000)" if name == "tune" else ""))
    if cfg.cores is not None and (isinstance(cfg.cores, bool) or not isinstance(cfg.cores, (int, np.integer))
                                  or cfg.cores < 1):
        raise FitError(f"cores must be an integer >= 1 (or None for min(chains, CPUs)), got {cfg.cores!r}")
    if cfg.seed is not None and (isinstance(cfg.seed, bool) or not isinstance(cfg.seed, (int, np.integer))
                                 or not 0 <= cfg.seed <= SEED_MAX):
        raise FitError(f"seed must be an integer from 0 to {SEED_MAX} (or None), got {cfg.seed!r}")
    if isinstance(cfg.target_accept, bool) or not isinstance(cfg.target_accept, (int, float)) \
            or not 0 < cfg.target_accept < 1:
        raise FitError(f"target_accept must be a number in (0, 1), e.g. 0.9, got {cfg.target_accept!r}")
    if cfg.likelihood not in LIKELIHOODS:
        get_likelihood(cfg.likelihood)  # raises with the list of likelihoods
    if cfg.init not in INITS:
        raise FitError(f"init must be 'optimize' or 'prior', got {cfg.init!r}")
    get_discrepancy(cfg.discrepancy_spec)  # raises for an unknown name or bad values
    lik = get_likelihood(cfg.likelihood)
    if cfg.trials is not None and not lik.needs_trials:
        raise FitError(f"trials (items per observation) go with likelihood='binomial', not {cfg.likelihood!r}")
    if lik.needs_trials and cfg.trials is None:
        raise FitError("the binomial likelihood needs the number of items per observation: trials=N or a column "
                       "name (CLI: --trials N or --trials COL)")
    if cfg.trials is not None and not isinstance(cfg.trials, str) and (
            isinstance(cfg.trials, bool) or not isinstance(cfg.trials, (int, np.integer)) or cfg.trials < 1):
        raise FitError(f"trials must be a whole number of items >= 1 or a column name, got {cfg.trials!r}")
    return sampler


#: The ESS remedy: only for fits asked for at least this many draws per chain (smaller runs are quick looks
#: whose low ESS is expected), growing the draws at most this many times, to a projected ESS with this margin.
ESS_REMEDY_MIN_DRAWS, ESS_REMEDY_MAX_FACTOR, _ESS_MARGIN, _ESS_REMEDY_RHAT = 500, 4, 1.5, 1.05


def _more_draws(diag: Diagnostics, draws: int) -> int | None:
    """Draws per chain for a second run when only the ESS (and a mild R-hat) failed, else None.

    ESS grows about linearly with the draws of a well-mixed chain, so the need is projected from the
    first run: ``draws * target / ess`` with a margin, at least twice the draws (a first run that missed
    also mixed slowly while adapting), at most ``ESS_REMEDY_MAX_FACTOR`` times.  Hand-written because no library offers an
    ESS-targeted rerun for nutpie."""
    if diag.ok or diag.divergences or draws < ESS_REMEDY_MIN_DRAWS or not np.isfinite(diag.max_rhat):
        return None
    if diag.max_rhat > _ESS_REMEDY_RHAT:
        return None
    target = ESS_PER_CHAIN_MIN * diag.chains
    ess = min(diag.min_ess_bulk, diag.min_ess_tail)
    if not np.isfinite(ess) or ess <= 0:
        return None
    need = int(np.ceil(draws * _ESS_MARGIN * target / ess / 100.0) * 100)
    return int(min(max(need, 2 * draws), ESS_REMEDY_MAX_FACTOR * draws))


def _fit(data, *, law, x, y, where, config: FitConfig, progressbar: bool | None) -> Fit:
    sampler = _check_config(config)
    law = get_law(law)
    lik = get_likelihood(config.likelihood)
    overrides = config.prior_overrides or None
    resolved = resolve_priors(law, lik, overrides)
    if isinstance(data, Dataset):
        ds = _checked_dataset(data, lik, config)
    else:
        ds = load_data(data, x=list(law.inputs) if x is None else x, y=y, inputs=law.inputs,
                       positive_y=lik.positive_y, where=where, likelihood=lik,
                       trials=config.trials if lik.needs_trials else None)
    lik = lik.bind(ds.trials)
    check_identifiable(law, ds)
    check_prior_domains(resolved, data_stats(ds.inputs, ds.y))
    chains = int(config.chains)
    cores = config.cores or max(1, min(chains, os.cpu_count() or 1))
    if progressbar is None:
        progressbar = sys.stderr.isatty()

    model = build_model(law, ds, priors=overrides, likelihood=lik)
    starts = None
    if config.init == "optimize":
        starts = start_points(law, ds, likelihood=lik, priors=resolved, chains=chains, seed=config.seed)
    kw = dict(starts=starts, law=law, ds=ds, likelihood=lik, priors_key=tuple((k, v.text) for k, v in resolved.items()),
              sampler=sampler, draws=int(config.draws), tune=int(config.tune), chains=chains, cores=cores,
              seed=config.seed, progressbar=progressbar, cache=COMPILE_CACHE)
    target_accept = config.target_accept
    tree = sample(model, target_accept=target_accept, **kw)
    remedy = None
    first_div = n_divergences(tree)
    if config.auto_remedy:
        tree, target_accept, remedy = divergence_remedy(
            lambda ta: sample(model, target_accept=ta, **{**kw, "adaptation": REMEDY_ADAPTATION}), tree, target_accept)
        if remedy is not None:
            kw["adaptation"] = REMEDY_ADAPTATION  # kept by the ESS remedy's run below

    def result(tree, draws: int, tune: int, remedy: str | None) -> Fit:
        if ds.trials is not None:  # saved with the data, so a reloaded fit scores and forecasts alone
            cd = tree["constant_data"].to_dataset().assign(trials=(("obs",), np.asarray(ds.trials, dtype=float)))
            tree["constant_data"] = cd
        settings = {
            "law": law.name,
            "likelihood": lik.name,
            "priors": {k: v.text for k, v in resolved.items()},
            "draws": draws,
            "tune": tune,
            "chains": chains,
            "target_accept": target_accept,
            "sampler": sampler,
            "sampler_ran": str(tree["posterior"].attrs.get("inference_library", sampler)),
            "seed": config.seed,
            "remedy": remedy,
            "init": config.init if starts else "prior",
            "divergences_first_run": first_div,
            "data_source": ds.source,
            "bayescale_version": __version__,
        }
        return Fit(tree=tree, law=law, data=ds, settings=settings, config=config)

    draws, tune = int(config.draws), int(config.tune)
    out = result(tree, draws, tune, remedy)
    more = _more_draws(out.diagnostics(), draws) if config.auto_remedy else None
    notes = [remedy] if remedy is not None else []
    ran = draws
    while more is not None:
        last = out.diagnostics()  # its diagnostics, computed here, are kept with the fit returned
        run_tune = max(tune, more)
        notes.append(f"ESS {min(last.min_ess_bulk, last.min_ess_tail):.0f} (at least {ESS_PER_CHAIN_MIN * chains} "
                     f"needed) and R-hat {last.max_rhat:.3f} (at most {RHAT_MAX}) with {ran} draws; sampled again "
                     f"with {more} draws and {run_tune} tuning steps per chain")
        tree = sample(model, target_accept=target_accept, **{**kw, "draws": more, "tune": run_tune})
        # The longer run may meet divergences the first did not (4-digit addition's flagship fit does: 0, then
        # 1): the divergence remedy at the longer run's length, which passed 9 of 9 such fits against 5 of 9
        # (benchmarks/README.md, "The ESS remedy's longer run").
        tree, target_accept, more_note = divergence_remedy(
            lambda ta, n=more, t=run_tune: sample(model, target_accept=ta, **{**kw, "adaptation": REMEDY_ADAPTATION,
                                                                            "draws": n, "tune": t}),
            tree, target_accept, what="{div} divergences there, so refitted with {remedy}")
        if more_note is not None:
            notes.append(more_note)
            kw["adaptation"] = REMEDY_ADAPTATION  # kept, with its target_accept, by a second rung's run
        out, ran = result(tree, more, run_tune, "; ".join(notes)), more
        more = _at_cap(out.diagnostics(), draws, ran)
    return out


def _at_cap(diag: Diagnostics, draws: int, ran: int) -> int | None:
    """The ESS remedy's second rung: the capped length once more, for a longer run that still fails mildly.

    A longer run shorter than the cap (``ESS_REMEDY_MAX_FACTOR`` times the draws asked for) that still fails
    only its ESS or a mild R-hat (the same conditions as :func:`_more_draws`, no divergences) is sampled
    once more at the cap.  On bnsl3's SBC at the defaults, 9 of 21 failing fits ended the longer run with
    R-hat 1.010-1.021 and no divergence (chains that mix slowly, not stuck), five of them short of the cap;
    at the cap four of the five passed (benchmarks/README.md, "The ESS remedy's second rung").  Fits that
    pass, or fail otherwise, are left exactly as before."""
    cap = ESS_REMEDY_MAX_FACTOR * draws
    if ran >= cap or _more_draws(diag, draws) is None:
        return None
    return cap


def _checked_dataset(ds: Dataset, lik, config: FitConfig) -> Dataset:
    """A Dataset given directly: its metric checked against the likelihood, constant trials filled in."""
    if lik.needs_trials and ds.trials is None:
        if isinstance(config.trials, str):
            raise DataError(f"the data carry no trials column {config.trials!r}; pass the table (a CSV path or "
                            "DataFrame) or one number of trials")
        ds = Dataset(inputs=ds.inputs, y=ds.y, columns=ds.columns, source=ds.source, rows=ds.rows,
                     trials=np.full(ds.n, float(config.trials)))
    if ds.trials is not None and np.any(ds.y > 1):
        i = int(np.flatnonzero(ds.y > 1)[0])
        raise DataError(f"{ds.row_label(i)}: successes y * trials = {ds.y[i] * ds.trials[i]:g} exceed the "
                        f"{ds.trials[i]:g} trials; y is the fraction of items right, from 0 to 1")
    err = lik.support_error(ds.y)
    if err is not None:
        raise DataError(f"{ds.row_label(err[0])}: the metric {ds.y[err[0]]:g} is out of range; {err[1]}")
    return ds


def refit(fit: Fit, data: Dataset, *, seed_offset: int = 0, cores: int | None = 1) -> Fit:
    """Fit ``fit``'s law to other data with ``fit``'s configuration (LOO, leave-future-out, backtests).

    The seed is shifted by ``seed_offset`` so that refits do not share noise; ``cores`` defaults to 1
    because refits usually run side by side.  No progress bar.
    """
    cfg = fit.config
    seed = None if cfg.seed is None else int(cfg.seed) + seed_offset
    return _fit(data, law=fit.law, x=None, y="y", where=None, config=cfg.replace(seed=seed, cores=cores),
                progressbar=False)


def load(path: str | os.PathLike) -> Fit:
    """Load a fit written by :meth:`Fit.save`; it forecasts with no other input."""
    p = Path(path)
    if not p.is_file():
        raise FitError(f"fit file {str(p)!r} not found; check the path")
    try:
        tree = xr.open_datatree(p, engine="h5netcdf").load()
    except Exception as exc:  # any reader failure means "not a fit file"
        raise FitError(f"{str(p)!r} is not a readable netCDF fit file ({type(exc).__name__}); "
                       "give a file written by Fit.save or 'bayescale fit --out'") from None
    attrs = tree.attrs
    if "bayescale_law" not in attrs:
        raise FitError(f"{str(p)!r} is not a bayescale fit (no law stored); save fits with Fit.save")
    law = law_from_json(attrs["bayescale_law"])
    settings = json.loads(attrs["bayescale_settings"])
    config = FitConfig.from_json(attrs["bayescale_config"]) if "bayescale_config" in attrs else None
    columns = json.loads(attrs["bayescale_columns"])
    cd, od = tree["constant_data"], tree["observed_data"]
    ds = Dataset(
        inputs={k: np.asarray(cd[k].values, dtype=float) for k in law.inputs},
        y=np.asarray(od["y"].values, dtype=float),
        columns=columns,
        source=str(attrs.get("bayescale_source", "")),
        trials=np.asarray(cd["trials"].values, dtype=float) if "trials" in cd else None,
    )
    return Fit(tree=tree, law=law, data=ds, settings=settings, config=config)
