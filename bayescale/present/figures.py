"""Where the plots get their figures, and how a report turns one into PNG bytes.

Figures come from ``matplotlib.pyplot`` so that they show in notebooks and with ``plt.show()``;
nothing here chooses a backend: with no display, matplotlib falls back to its non-interactive
``agg`` backend by itself (set ``MPLBACKEND`` to choose another).
"""

from __future__ import annotations

import io

__all__ = ["new_axes", "new_figure", "figure_png"]


def new_figure(figsize: tuple[float, float]):
    """An empty figure with the constrained layout every plot uses."""
    import matplotlib.pyplot as plt  # deferred: importing pyplot costs ~0.5 s and only plotting needs it

    return plt.figure(figsize=figsize, layout="constrained")


def new_axes(ax=None, figsize: tuple[float, float] = (6.4, 4.2)):
    """``(fig, ax)``: the figure of the ``ax`` given, or a new figure with one Axes."""
    if ax is not None:
        return ax.figure, ax
    fig = new_figure(figsize)
    return fig, fig.subplots()


def figure_png(fig, dpi: int = 110) -> bytes:
    """The figure as PNG bytes; the figure is closed (released by pyplot) afterwards."""
    import matplotlib.pyplot as plt  # deferred: importing pyplot costs ~0.5 s and only plotting needs it

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    plt.close(fig)
    return buf.getvalue()
