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

    from .allocation import optimal_allocation

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
