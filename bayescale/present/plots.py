"""Plots: plain functions that return matplotlib objects.

Each function takes fitted objects and keyword options and returns the
``(fig, ax)`` it drew on (or draws on an ``ax`` you pass).  They use a
non-interactive backend when no display is available.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

__all__ = ["plot_fit"]


def _axes(ax=None, figsize=(6.4, 4.2)):
    import matplotlib

    if ax is not None:
        return ax.figure, ax
    if matplotlib.get_backend().lower() not in ("agg", "pdf", "svg", "png") and not _has_display():
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=figsize, layout="constrained")
    return fig, ax


def _has_display() -> bool:
    import os

    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def plot_fit(
    fit,
    *,
    targets: Sequence[float] | None = None,
    probs: Sequence[float] = (0.5, 0.9),
    n_grid: int = 200,
    ax=None,
    label: str | None = None,
    color: str | None = None,
    held_out: Any = None,
):
    """Data and the fitted law on log-log axes with credible bands of the expected value.

    Parameters
    ----------
    fit : Fit
        A fit of a one-input law.
    targets : sequence of float, optional
        Target scales: the curve extends to them and they are marked.
    probs : sequence of float
        Probabilities of the equal-tailed bands (widest drawn lightest).
    held_out : DataFrame or (x, y) pair, optional
        Points not used in the fit, drawn as open markers.
    """
    law = fit.law
    if len(law.inputs) != 1:
        raise ValueError(f"plot_fit draws one-input laws; {law.name!r} has inputs {', '.join(law.inputs)}")
    fig, ax = _axes(ax)
    xname = law.inputs[0]
    xd, yd = fit.data.inputs[xname], fit.data.y
    hi = max([float(xd.max())] + [float(t) for t in (targets or [])])
    if held_out is not None:
        hx = np.asarray(held_out[0] if isinstance(held_out, tuple) else held_out.iloc[:, 0], dtype=float)
        hi = max(hi, float(hx.max()))
    grid = np.geomspace(float(xd.min()), hi, n_grid)
    mu = fit.expected({xname: grid})
    line = ax.plot(grid, np.median(mu, axis=0), color=color, lw=1.8,
                   label=label or f"{law.name} (median)")[0]
    c = line.get_color()
    for p in sorted(probs, reverse=True):
        lo, up = np.quantile(mu, [(1 - p) / 2, (1 + p) / 2], axis=0)
        ax.fill_between(grid, lo, up, color=c, alpha=0.12 + 0.18 * (1 - p), lw=0,
                        label=f"{p:.0%} interval" if label is None else None)
    ax.scatter(xd, yd, s=16, color="k", zorder=3, label="data")
    if held_out is not None:
        if isinstance(held_out, tuple):
            hx, hy = (np.asarray(v, dtype=float) for v in held_out)
        else:
            hx, hy = (held_out.iloc[:, i].to_numpy(dtype=float) for i in (0, 1))
        ax.scatter(hx, hy, s=22, facecolors="none", edgecolors="crimson", zorder=3, label="held out")
    for t in targets or []:
        ax.axvline(float(t), color="0.5", ls=":", lw=1)
    ax.set_xscale("log")
    if np.all(yd > 0):
        ax.set_yscale("log")
    ax.set_xlabel(fit.data.columns.get(xname, xname))
    ax.set_ylabel(fit.data.columns.get("y", "y"))
    if not fit.diagnostics().ok:
        ax.set_title("WARNING: diagnostics failed", color="crimson", fontsize=9)
    ax.legend(fontsize=8)
    return fig, ax


# -- priors, breaks, prior predictive (issue 5: reports) ----------------------------------------------
# ArviZ's az.plot_prior_posterior works on a DataTree with a `prior` group, but it draws KDEs on
# linear axes: for scale parameters whose priors span decades (amplitudes, break positions and
# smoothness) the posterior is squashed into one pixel column.  These are drawn with matplotlib on
# log axes where the prior family lives on a log scale.

__all__ += ["plot_prior_posterior", "plot_breaks", "plot_prior_predictive", "break_names"]

_LOG_FAMILIES = ("LogNormal", "LogUniform")


def break_names(law) -> list[str]:
    """Break-position parameters of a broken law: ``d1, d2, ...`` (in the law's order)."""
    import re

    return [n for n in law.param_names if re.fullmatch(r"d\d+", n)]


def _use_log(prior, *samples: np.ndarray) -> bool:
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
    from ..spec.data import data_stats
    from ..spec.resolve import resolve_priors
    from ..prior_predictive import prior_draws

    likelihood = fit.settings["likelihood"]
    overrides = dict(fit.settings.get("priors") or {})
    names = list(fit.param_names if names is None else names)
    resolved = resolve_priors(fit.law, likelihood, overrides)
    prior = prior_draws(fit.law, stats=data_stats(fit.data.inputs, fit.data.y), likelihood=likelihood,
                        priors=overrides, draws=draws, seed=seed)
    post = fit.draws(names)
    if axes is None:
        nrows = -(-len(names) // ncols)
        fig, axes = _axes(figsize=(3.2 * ncols, 2.4 * nrows))[0], None
        fig.clf()
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


def plot_breaks(fit, *, bins: int = 50, prob: float = 0.9, axes=None):
    """Posterior of each break position ``d_i`` of a broken law, drawn over the data range.

    Top panel: the data and the fitted law (:func:`plot_fit`).  Bottom panel: a histogram of each
    break position's posterior on the log10 scale, over the observed range of x (the support of the
    default LogUniform prior, whose density is the flat dotted line), with the data's x values as
    ticks along the bottom.

    Returns
    -------
    (fig, (ax_fit, ax_breaks))
    """
    names = break_names(fit.law)
    if not names or len(fit.law.inputs) != 1:
        raise ValueError(f"law {fit.law.name!r} has no break positions (d1, d2, ...) over one input")
    if axes is None:
        fig, _ = _axes(figsize=(6.4, 5.4))
        fig.clf()
        ax_fit, ax_b = fig.subplots(2, 1, sharex=True, height_ratios=(3, 2))
    else:
        ax_fit, ax_b = axes
        fig = ax_fit.figure
    plot_fit(fit, ax=ax_fit, probs=(prob,))
    ax_fit.set_xlabel("")
    xd = fit.data.inputs[fit.law.inputs[0]]
    lo, hi = np.log10(float(xd.min())), np.log10(float(xd.max()))
    d = fit.draws(names)
    allv = np.log10(np.concatenate([v[v > 0] for v in d.values()]))
    lo2, hi2 = min(lo, float(allv.min())), max(hi, float(allv.max()))
    for i, n in enumerate(names):
        v = np.log10(d[n][d[n] > 0])
        # bins over each posterior's own range: a well-identified break is far narrower than the data range
        edges = np.linspace(v.min(), v.max(), bins + 1) if v.max() > v.min() else np.linspace(lo2, hi2, bins + 1)
        dens, e = np.histogram(v, bins=edges, density=True)
        q = np.quantile(d[n], [(1 - prob) / 2, 0.5, (1 + prob) / 2])
        ax_b.stairs(dens, 10 ** e, fill=True, alpha=0.5, color=f"C{i + 1}",
                    label=f"{n}: median {q[1]:.4g} ({prob:.0%}: {q[0]:.4g} to {q[2]:.4g})")
        for a in (ax_fit, ax_b):
            a.axvline(q[1], color=f"C{i + 1}", lw=1, ls="--")
    if hi > lo:
        ax_b.hlines(1 / (hi - lo), 10 ** lo, 10 ** hi, colors="0.4", linestyles=":", label="default prior")
    ax_b.plot(xd, np.zeros_like(xd), "|", color="k", ms=8, clip_on=False)
    ax_b.set_xscale("log")
    ax_b.set_xlim(10 ** (lo2 - 0.02 * (hi2 - lo2)), 10 ** (hi2 + 0.02 * (hi2 - lo2)))
    ax_b.set_ylim(bottom=0)
    ax_b.set_ylabel("posterior density\n(per log10 x)", fontsize=8)
    ax_b.set_xlabel(fit.data.columns.get(fit.law.inputs[0], fit.law.inputs[0]))
    ax_b.legend(fontsize=7, loc="upper left")
    return fig, (ax_fit, ax_b)


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
    fig, ax = _axes(ax)
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


# -- compute-optimal frontier (bayescale.allocation) -----------------------------------------
__all__ += ["plot_frontier"]


def plot_frontier(
    fit,
    *,
    compute: Sequence[float] | None = None,
    prob: float = 0.9,
    inputs: Sequence[str] | None = None,
    flops_per_token_param: float = 6.0,
    show_tokens: bool = True,
    n_grid: int = 60,
    ax=None,
    color: str | None = None,
):
    """Compute-optimal frontier ``N*(C)`` (and ``D*(C)``) with credible bands, over the data.

    The data are drawn as ``C = k N D`` against ``N`` (filled, coloured by the metric)
    and, with ``show_tokens``, against ``D`` (open markers).  The bands are the
    equal-tailed ``prob`` intervals of :func:`bayescale.allocation.optimal_allocation`.

    Parameters
    ----------
    fit : Fit
        A fit of a law of model size and tokens.
    compute : sequence of float, optional
        Budgets to draw; default from the smallest data budget to 100 times the largest.
    prob : float
        Probability of the bands.
    inputs : (str, str), optional
        Which law inputs are ``(N, D)``.
    """
    import warnings

    from ..inference.allocation import optimal_allocation

    law = fit.law
    n_name, d_name = tuple(inputs) if inputs else (law.inputs[0], law.inputs[-1])
    fig, ax = _axes(ax)
    nd, dd = fit.data.inputs[n_name], fit.data.inputs[d_name]
    cd = flops_per_token_param * nd * dd
    if compute is None:
        compute = np.geomspace(float(cd.min()), 100 * float(cd.max()), n_grid)
    compute = np.asarray(compute, dtype=float)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        alloc = optimal_allocation(fit, compute=compute, prob=prob, inputs=inputs,
                                   flops_per_token_param=flops_per_token_param)
    t = alloc.table()
    c = color or "C0"
    ax.plot(t["compute"], t["N_opt_median"], color=c, lw=1.8, label=f"N* (params), median")
    ax.fill_between(t["compute"], t["N_opt_lower"], t["N_opt_upper"], color=c, alpha=0.25, lw=0,
                    label=f"N* {prob:.0%} interval")
    sc = ax.scatter(cd, nd, c=fit.data.y, s=10, cmap="viridis", zorder=3, label="runs: N")
    if show_tokens:
        ax.plot(t["compute"], t["D_opt_median"], color="C3", lw=1.8, ls="--", label="D* (tokens), median")
        ax.fill_between(t["compute"], t["D_opt_lower"], t["D_opt_upper"], color="C3", alpha=0.18, lw=0,
                        label=f"D* {prob:.0%} interval")
        ax.scatter(cd, dd, s=10, facecolors="none", edgecolors="0.45", lw=0.6, zorder=2, label="runs: D")
    fig.colorbar(sc, ax=ax, label=fit.data.columns.get("y", "y"), pad=0.01)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel(f"compute C = {flops_per_token_param:g} N D (FLOPs)")
    ax.set_ylabel("parameters N / tokens D")
    title = f"{law.name}: compute-optimal frontier"
    if np.any(alloc.edge_fraction > 0):
        title += f" (up to {alloc.edge_fraction.max():.0%} of draws at bracket edge)"
    if not alloc.reliable:
        ax.set_title("WARNING: diagnostics failed. " + title, color="crimson", fontsize=9)
    else:
        ax.set_title(title, fontsize=9)
    ax.legend(fontsize=7, loc="upper left")
    return fig, ax


# -- law comparison (issue 3: is the break real?) --------------------------------------------------

__all__ += ["plot_compare", "plot_laws"]


def plot_compare(comparison, *, ax=None):
    """ELPD (PSIS-LOO, with exact refits) of each law with +-1 se, and the difference to the best.

    Drawn with matplotlib error bars rather than ``az.plot_compare``, which in ArviZ 1.3 returns an
    arviz-plots PlotCollection instead of matplotlib axes that can be combined with other plots.

    Parameters
    ----------
    comparison : Comparison
        The result of :func:`bayescale.compare`.
    """
    fig, ax = _axes(ax, figsize=(6.4, 1.2 + 0.6 * len(comparison.table)))
    t = comparison.table.sort_values("elpd")
    pos = np.arange(len(t))
    ax.errorbar(t["elpd"], pos, xerr=t["se"], fmt="o", color="k", capsize=3, label="elpd_loo +- se")
    best = float(t["elpd"].max())
    others = t["elpd_diff"] != 0
    ax.errorbar(best - t["elpd_diff"][others], pos[others.to_numpy()] + 0.2, xerr=t["dse"][others], fmt="^",
                color="0.5", capsize=3, label="difference to best +- se")
    ax.axvline(best, color="0.6", ls="--", lw=1)
    labels = []
    for name in t.index:
        lo = comparison.loo[name]
        extra = f" ({len(lo.refits)} refit)" if lo.refits else ""
        extra += " k!" if lo.unresolved else ""
        labels.append(f"{name}{extra}\nweight {float(t.loc[name, 'weight']):.2f}")
    ax.set_yticks(pos, labels, fontsize=8)
    ax.set_xlabel("elpd (log score, y scale; higher is better)")
    v = comparison.verdict
    if v is not None:
        ax.set_title(f"break verdict: {v.verdict}" + ("" if v.reliable else " (NOT reliable)"), fontsize=9,
                     color="k" if v.reliable else "crimson")
    ax.legend(fontsize=7, loc="lower right")
    return fig, ax


def plot_laws(fits, *, targets: Sequence[float] | None = None, prob: float = 0.9, ax=None, held_out: Any = None):
    """Data with each law's posterior median and ``prob`` band on log-log axes.

    Parameters
    ----------
    fits : Comparison, mapping of name to Fit, or sequence of Fit
        Fits of one-input laws to the same data.
    """
    if hasattr(fits, "fits"):
        fits = fits.fits
    items = list(fits.items()) if hasattr(fits, "items") else [(f.law.name, f) for f in fits]
    fig, ax = _axes(ax)
    colors = ["C0", "C1", "C2", "C3", "C4", "C5"]
    for i, (name, f) in enumerate(items):
        plot_fit(f, targets=targets, probs=(prob,), ax=ax, label=name, color=colors[i % len(colors)],
                 held_out=held_out if i == 0 else None)
    # plot_fit draws the data once per law: keep one legend entry for it
    h, lab = ax.get_legend_handles_labels()
    seen: dict[str, Any] = {}
    for hh, ll in zip(h, lab):
        seen.setdefault(ll, hh)
    ax.legend(list(seen.values()), list(seen), fontsize=8)
    bad = [name for name, f in items if not f.diagnostics().ok]
    title = f"posterior median and {prob:.0%} band of each law"
    if bad:
        ax.set_title(f"WARNING: diagnostics failed for {', '.join(bad)}. " + title, color="crimson", fontsize=9)
    else:
        ax.set_title(title, fontsize=9)
    return fig, ax
