"""Plots across fits or laws: the compute-optimal frontier, a LOO comparison, several laws over one dataset."""

from __future__ import annotations

import warnings
from typing import Any, Sequence

import numpy as np

from ..inference.allocation import optimal_allocation
from .figures import new_axes
from .plots_fit import plot_fit

__all__ = ["plot_frontier", "plot_compare", "plot_laws"]


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
    equal-tailed ``prob`` intervals of :func:`bayescale.inference.allocation.optimal_allocation`.

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
    law = fit.law
    n_name, d_name = tuple(inputs) if inputs else (law.inputs[0], law.inputs[-1])
    fig, ax = new_axes(ax)
    nd, dd = fit.data.inputs[n_name], fit.data.inputs[d_name]
    cd = flops_per_token_param * nd * dd
    if compute is None:
        compute = np.geomspace(float(cd.min()), 100 * float(cd.max()), n_grid)
    compute = np.asarray(compute, dtype=float)
    with warnings.catch_warnings():
        # optimal_allocation warns when draws have no interior optimum; the title below reports that
        # fraction, and the warning would repeat it once per plot
        warnings.filterwarnings("ignore", message=r"law .* of draws have no interior optimum",
                                category=UserWarning)
        alloc = optimal_allocation(fit, compute=compute, prob=prob, inputs=inputs,
                                   flops_per_token_param=flops_per_token_param)
    t = alloc.table()
    c = color or "C0"
    ax.plot(t["compute"], t["N_opt_median"], color=c, lw=1.8, label="N* (params), median")
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


def plot_compare(comparison, *, ax=None):
    """ELPD (PSIS-LOO, with exact refits) of each law with +-1 se, and the difference to the best.

    Drawn with matplotlib error bars rather than ``az.plot_compare``, which in ArviZ 1.3 returns an
    arviz-plots PlotCollection instead of matplotlib axes that can be combined with other plots.

    Parameters
    ----------
    comparison : Comparison
        The result of :func:`bayescale.compare`.
    """
    fig, ax = new_axes(ax, figsize=(6.4, 1.2 + 0.6 * len(comparison.table)))
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
    fig, ax = new_axes(ax)
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
