"""Plots: plain functions that take fitted objects and return the matplotlib ``(fig, ax)`` they drew on.

Each draws on an ``ax`` (or ``axes``) you pass, or on a new figure.  They choose no backend: with
no display, matplotlib uses its non-interactive ``agg`` backend by itself.

- :func:`plot_fit`: data and the fitted law with bands of its expected value;
- :func:`plot_breaks`: the posterior of each break position over the data range;
- :func:`plot_prior_posterior`: each parameter's prior against its posterior;
- :func:`plot_prior_predictive`: prior predictive draws of a law against data;
- :func:`plot_frontier`: the compute-optimal frontier ``N*(C)``, ``D*(C)`` with bands;
- :func:`plot_compare`: the PSIS-LOO elpd of compared laws;
- :func:`plot_laws`: several laws' fits over the same data.

The functions live in :mod:`.plots_fit`, :mod:`.plots_prior` and :mod:`.plots_compare`; this
module gathers them so that ``from bayescale.present.plots import plot_fit`` finds every one.
"""

from __future__ import annotations

from .plots_compare import plot_compare, plot_frontier, plot_laws
from .plots_fit import break_names, plot_breaks, plot_fit
from .plots_prior import plot_prior_posterior, plot_prior_predictive

__all__ = ["plot_fit", "plot_prior_posterior", "plot_breaks", "plot_prior_predictive", "break_names",
           "plot_frontier", "plot_compare", "plot_laws"]
