"""The priors of a law against its posterior, and its prior predictive against data.

ArviZ's ``az.plot_prior_posterior`` works on a DataTree with a ``prior`` group, but it draws KDEs on
linear axes: for scale parameters whose priors span decades (amplitudes, break positions and
smoothness) the posterior is squashed into one pixel column.  These are drawn with matplotlib on
log axes where the prior family lives on a log scale.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from ..prior_predictive import prior_draws
from ..spec.data import data_stats
from ..spec.resolve import resolve_priors
from .figures import new_axes, new_figure

__all__ = ["plot_prior_posterior", "plot_prior_predictive"]

#: Prior families that live on a log scale: their panels have a log10 axis.
_LOG_FAMILIES = ("LogNormal", "LogUniform")


def _use_log(prior, *samples: np.ndarray) -> bool:
    """Whether to draw a parameter on a log10 axis: positive draws, and a log-scale prior family,
    a span of more than two decades, or a posterior far narrower than its prior."""
    vals = np.concatenate([np.asarray(s, dtype=float)[np.isfinite(s)] for s in samples])
    if vals.size == 0 or np.any(vals <= 0):
        return False
    if prior is not None and prior.dist in _LOG_FAMILIES:
        return True
    lo, hi = np.quantile(vals, [0.01, 0.99])
    if hi / lo > 100:
        return True
    # a positive posterior far narrower than its prior is a sliver on a linear axis
    pr, po = (np.asarray(v, dtype=float) for v in samples[:2]) if len(samples) > 1 else (vals, vals)
    return bool(np.ptp(po) < 0.03 * np.ptp(np.quantile(pr, [0.005, 0.995])))


def plot_prior_posterior(
    fit,
    *,
    names: Sequence[str] | None = None,
    draws: int = 4000,
    seed: int = 0,
    bins: int = 40,
    ncols: int = 3,
    axes=None,
):
    """Prior against posterior density of each parameter, one panel per parameter.

    The prior is the fit's own (defaults and overrides, evaluated with the fit's data statistics),
    drawn with :func:`bayescale.prior_predictive.prior_draws`.  Parameters whose prior lives on a log
    scale (LogNormal, LogUniform) or whose draws span more than two decades are drawn on a log axis,
    with densities per unit of log10 of the parameter.  Each panel spans the central 99% of the prior
    and all of the posterior.

    Returns
    -------
    (fig, axes) : axes is a flat array with one Axes per parameter.
    """
    likelihood = fit.likelihood
    overrides = dict(fit.settings.get("priors") or {})
    names = list(fit.param_names if names is None else names)
    resolved = resolve_priors(fit.law, likelihood, overrides)
    prior = prior_draws(fit.law, stats=data_stats(fit.data.inputs, fit.data.y), likelihood=likelihood,
                        priors=overrides, draws=draws, seed=seed)
    post = fit.draws(names)
    if axes is None:
        nrows = -(-len(names) // ncols)
        fig = new_figure((3.2 * ncols, 2.4 * nrows))
        axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
        for ax in axes[len(names):]:
            ax.set_visible(False)
    else:
        axes = np.atleast_1d(axes).ravel()
        fig = axes[0].figure
    for ax, n in zip(axes, names):
        pr, po = prior[n][np.isfinite(prior[n])], post[n][np.isfinite(post[n])]
        log = _use_log(resolved.get(n), pr, po)
        t = np.log10 if log else (lambda v: v)
        tp, tq = t(pr), t(po)
        lo = min(np.quantile(tp, 0.005), tq.min())
        hi = max(np.quantile(tp, 0.995), tq.max())
        if not hi > lo:
            lo, hi = lo - 0.5, hi + 0.5
        edges = np.linspace(lo, hi, bins + 1)
        # the posterior is usually much narrower than the prior: give it finer bins over its own range
        pe = np.linspace(tq.min(), tq.max(), bins + 1) if tq.max() > tq.min() else edges
        ax.hist(tp, bins=edges, density=True, histtype="step", color="0.45", lw=1.2, label="prior")
        ax.hist(tq, bins=pe, density=True, color="C0", alpha=0.55, label="posterior")
        ax.set_xlim(lo, hi)
        ax.set_title(n, fontsize=10)
        ax.set_yticks([])
        if log:
            ax.set_xlabel(f"log10 {n}", fontsize=8)
        ax.tick_params(labelsize=8)
        ax.set_yscale("log")
        ax.set_ylim(bottom=max(ax.get_ylim()[0], 1e-3 * ax.get_ylim()[1]))
        # the posterior's 90% interval and median as a bar along the bottom: visible however narrow it is
        q5, q50, q95 = np.quantile(tq, [0.05, 0.5, 0.95])
        ax.plot([q5, q95], [0.02, 0.02], transform=ax.get_xaxis_transform(), color="C3", lw=3,
                solid_capstyle="butt", label="posterior 90%")
        ax.plot([q50], [0.02], "o", transform=ax.get_xaxis_transform(), color="C3", ms=4)
    for ax in axes[::ncols]:
        ax.set_ylabel("density (log scale)", fontsize=8)
    axes[0].legend(fontsize=7, loc="best")
    return fig, axes


def plot_prior_predictive(
    pp,
    *,
    data: Any = None,
    probs: Sequence[float] = (0.5, 0.9),
    n_lines: int = 40,
    xlabel: str | None = None,
    ylabel: str | None = None,
    ax=None,
):
    """Prior predictive draws of a law (from :func:`bayescale.prior_predictive`), with the data.

    For a one-input law: ``n_lines`` prior draws of the expected value as thin curves, equal-tailed
    bands of a new observation for each probability in ``probs``, and the data, on log-log axes (the
    y range is clipped to the bands and the data, since far-tail prior draws can be absurd; that is
    what the plot is for).  For laws of several inputs the x axis is the observed value at each data
    point and the bars the prior predictive intervals there (``pp`` must be evaluated at the data).

    Parameters
    ----------
    data : Dataset or (x, y) pair, optional
        Observations to overlay.
    xlabel, ylabel : str, optional
        Axis labels (default: the law's input name and ``y``).
    """
    fig, ax = new_axes(ax)
    law = pp.law
    if data is not None and hasattr(data, "inputs"):
        dx = np.asarray(data.inputs[law.inputs[0]], dtype=float) if len(law.inputs) == 1 else None
        dy = np.asarray(data.y, dtype=float)
    elif data is not None:
        dx, dy = (np.asarray(v, dtype=float) for v in data)
    else:
        dx = dy = None
    obs = np.where(np.isfinite(pp.observed), pp.observed, np.nan)
    mu = np.where(np.isfinite(pp.expected), pp.expected, np.nan)
    if len(law.inputs) == 1:
        x = np.asarray(pp.inputs[law.inputs[0]], dtype=float)
        order = np.argsort(x)
        x, obs, mu = x[order], obs[:, order], mu[:, order]
        for p in sorted(probs, reverse=True):
            lo, up = np.nanquantile(obs, [(1 - p) / 2, (1 + p) / 2], axis=0)
            ax.fill_between(x, lo, up, color="C0", alpha=0.12 + 0.18 * (1 - p), lw=0,
                            label=f"{p:.0%} prior predictive (new observation)")
        k = min(n_lines, mu.shape[0])
        ax.plot(x, mu[:k].T, color="0.35", lw=0.6, alpha=0.5)
        ax.plot([], [], color="0.35", lw=0.6, label=f"{k} prior draws of the law")
        if dx is not None:
            ax.scatter(dx, dy, s=16, color="k", zorder=3, label="data")
        ax.set_xscale("log")
        ax.set_xlabel(xlabel or law.inputs[0])
        lo_all, hi_all = np.nanquantile(obs, [(1 - max(probs)) / 2, (1 + max(probs)) / 2], axis=0)
        ylo, yhi = float(np.nanmin(lo_all)), float(np.nanmax(hi_all))
        if dy is not None:
            ylo, yhi = min(ylo, float(dy.min())), max(yhi, float(dy.max()))
        if ylo > 0 and np.all(np.nan_to_num(obs, nan=1.0) > 0):
            ax.set_yscale("log")
            ax.set_ylim(ylo / 1.5, yhi * 1.5)
        else:
            pad = 0.1 * (yhi - ylo or 1.0)
            ax.set_ylim(ylo - pad, yhi + pad)
    else:
        if dy is None or len(dy) != obs.shape[1]:
            raise ValueError("for laws of several inputs, evaluate the prior predictive at the data "
                             "(x=None with data=) and pass the same data here")
        p = max(probs)
        lo, med, up = np.nanquantile(obs, [(1 - p) / 2, 0.5, (1 + p) / 2], axis=0)
        ax.errorbar(dy, med, yerr=[med - lo, up - med], fmt="o", ms=3, color="C0", lw=0.8,
                    label=f"{p:.0%} prior predictive interval")
        ax.axline((float(dy.min()), float(dy.min())), slope=1, color="k", lw=0.8, ls=":", label="y = observed")
        if np.all(lo > 0) and np.all(dy > 0):
            ax.set_xscale("log")
            ax.set_yscale("log")
        ax.set_xlabel(f"observed {ylabel or 'y'}")
    ax.set_ylabel(ylabel or "y")
    ax.set_title(f"prior predictive: {law.name} ({pp.likelihood} noise, {pp.draws} draws)", fontsize=9)
    ax.legend(fontsize=7, framealpha=0.85)
    return fig, ax
