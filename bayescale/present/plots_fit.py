"""A fitted one-input law over its data, and the posterior of its break positions."""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from .figures import new_axes, new_figure

__all__ = ["plot_fit", "plot_breaks", "break_names"]


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
    fig, ax = new_axes(ax)
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


def break_names(law) -> list[str]:
    """The law's declared break-position parameters (``law.break_positions``: ``d1, d2, ...`` for BNSL)."""
    return list(law.break_positions)


def plot_breaks(fit, *, bins: int = 50, prob: float = 0.9, axes=None):
    """Posterior of each break position of a broken law (``law.break_positions``), over the data range.

    Top panel: the data and the fitted law (:func:`plot_fit`).  Bottom panel: a histogram of each
    break position's posterior on the log10 scale, over the observed range of x (the support of the
    default LogUniform prior, whose density is the flat dotted line), with the data's x values as
    ticks along the bottom.

    Returns
    -------
    (fig, (ax_fit, ax_breaks))
    """
    law = fit.law
    names = list(law.break_positions)
    if not law.is_broken or len(law.inputs) != 1:
        raise ValueError(f"law {law.name!r} has no break positions (d1, d2, ...) over one input")
    if axes is None:
        fig = new_figure((6.4, 5.4))
        ax_fit, ax_b = fig.subplots(2, 1, sharex=True, height_ratios=(3, 2))
    else:
        ax_fit, ax_b = axes
        fig = ax_fit.figure
    plot_fit(fit, ax=ax_fit, probs=(prob,))
    ax_fit.set_xlabel("")
    xd = fit.data.inputs[law.inputs[0]]
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
    ax_b.set_xlabel(fit.data.columns.get(law.inputs[0], law.inputs[0]))
    ax_b.legend(fontsize=7, loc="upper left")
    return fig, (ax_fit, ax_b)
