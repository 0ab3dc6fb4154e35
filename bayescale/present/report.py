"""Reports a user can put in front of others: one self-contained HTML page (or Markdown + PNGs).

``bayescale report FIT.nc [--compare FIT2.nc ...] [--target X ...] -o report.html`` or
:func:`write_report`.  The page holds, in order:

1. a title with the law, the data source and the sampler, and the fit's settings;
2. **warnings**, at the top whenever any diagnostic failed: the fit's own
   (divergences, R-hat, ESS), forecasts that are therefore unreliable, break
   positions piled against the edge of the data, and Pareto k above the
   threshold in the LOO comparison;
3. the data and the fitted law on log-log axes with 50% and 90% bands of the
   expected value and the target scales marked (one-input laws);
4. a forecast table: median and equal-tailed ``prob`` interval of the expected
   value :math:`\\mu = f(x; \\theta)` and of a new observation
   :math:`y_{new} \\sim p(y \\mid \\mu, \\sigma)` at each target (default: 2x and
   10x the largest observed scale);
5. a parameter table (prior, median, mean, sd, interval, R-hat, ESS);
6. for broken laws, the posterior of each break position over the data range;
7. prior against posterior for every parameter;
8. the LOO comparison when other fits are given;
9. how to reproduce the fit.

Every table header that shows an interval states its probability.  This module builds and
writes the report; the document model is :mod:`.document`, the sections :mod:`.sections` and
:mod:`.loo_tables`, the HTML and Markdown :mod:`.render`.
"""

from __future__ import annotations

import datetime as _dt
import os
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from .._version import __version__
from ..errors import BayescaleError, FitError
from ..inference.fit import load
from ..inference.results import Fit
from ..predictive import check_prob
from .document import Block, Report, Section
from .loo_tables import PARETO_K_MAX, comparison_section
from .sections import (breaks_section, fit_section, forecast_section, meta_rows, parameters_section,
                       priors_section, reproduce_section)

__all__ = ["write_report", "build_report", "write_file", "Report", "Section", "Block", "PARETO_K_MAX"]


def _as_fit(obj: Any) -> tuple[Fit, str | None]:
    """The fit and the path it was loaded from (None for a Fit given directly)."""
    if isinstance(obj, Fit):
        return obj, None
    if isinstance(obj, (str, os.PathLike)):
        return load(obj), str(obj)
    raise FitError(f"expected a Fit or the path of a saved fit, got {type(obj).__name__}")


def _default_targets(fit) -> Any:
    """2x and 10x the largest observed scale (of every input, for laws of several inputs)."""
    law = fit.law
    if len(law.inputs) == 1:
        xmax = float(np.max(fit.data.inputs[law.inputs[0]]))
        return [2 * xmax, 10 * xmax]
    return {k: [2 * float(np.max(fit.data.inputs[k])), 10 * float(np.max(fit.data.inputs[k]))] for k in law.inputs}


def _check_same_data(fit, others) -> None:
    y0 = np.asarray(fit.data.y)
    for f, p in others:
        if f.data.n != fit.data.n or not np.allclose(np.asarray(f.data.y), y0):
            raise FitError(f"compared fit {p or f.law.name!r} was fitted to different data ({f.data.n} observations, "
                           f"not the {fit.data.n} of the main fit): LOO compares fits of the same observations only")


def build_report(
    fit: Any,
    *,
    compare: Sequence[Any] = (),
    targets: Any = None,
    prob: float = 0.9,
    seed: int | None = None,
    fit_path: str | None = None,
    refits: int = 0,
    lfo: bool = False,
) -> Report:
    """Compute everything a report shows (see the module docstring); render with :meth:`Report.to_html`.

    Parameters
    ----------
    fit : Fit or path
    compare : sequence of Fit or path
        Other fits of the same data to compare with ``fit`` by PSIS-LOO.
    targets : sequence of float or mapping of input to values, optional
        Forecast scales; default 2x and 10x the largest observed scale.
    prob : float
        Probability of the forecast and parameter intervals.
    seed : int, optional
        Seed of the new-observation draws and of the prior draws; defaults to the fit's own seed,
        so the report's forecasts equal those of ``bayescale forecast``.
    refits : int
        With ``compare``: exact leave-one-out refits per law for points of high Pareto k (each one samples).
    lfo : bool
        With ``compare``: also score each law by leave-future-out (one refit per law) and recommend one.
    """
    check_prob(prob)
    fit, p0 = _as_fit(fit)
    fit_path = fit_path or p0
    others = [_as_fit(c) for c in compare]
    _check_same_data(fit, others)
    law = fit.law
    one_d = len(law.inputs) == 1
    warnings: list[str] = [f"fit: {p}" for p in fit.diagnostics().problems]
    sections: list[Section] = []

    fc = fit.forecast(x=_default_targets(fit) if targets is None else targets, prob=prob, seed=seed)
    if not fc.reliable:
        warnings.append("forecasts: the fit's diagnostics failed, so the forecast intervals below are NOT reliable")
    if one_d:
        sections.append(fit_section(fit, [float(v) for v in fc.inputs[law.inputs[0]]]))
    sections.append(forecast_section(fit, fc, default_targets=targets is None))
    sections.append(parameters_section(fit, prob))
    if law.is_broken and one_d:
        sections.append(breaks_section(fit, prob, warnings))
    sections.append(priors_section(fit, seed=0 if seed is None else seed))
    if others:
        sections.append(comparison_section(fit, fit_path, others, warnings, refits=refits, lfo=lfo))
    sections.append(reproduce_section(fit))

    meta = meta_rows(fit, fit_path)
    meta.append(("generated", f"{_dt.datetime.now(_dt.timezone.utc):%Y-%m-%d %H:%M} UTC by bayescale {__version__}"))
    title = f"bayescale report: {law.name} fit of {fit.data.columns.get('y', 'y')}"
    return Report(title=title, meta=meta, warnings=warnings, sections=sections)


def write_report(
    fit: Any,
    *,
    path: str | os.PathLike,
    compare: Sequence[Any] = (),
    targets: Any = None,
    fmt: str = "html",
    prob: float = 0.9,
    seed: int | None = None,
    refits: int = 0,
    lfo: bool = False,
) -> Path:
    """Write a report of a fit (see the module docstring) and return its path.

    Parameters
    ----------
    fit : Fit or path of a saved fit
    path : path
        The HTML or Markdown file to write.  With ``fmt="md"`` the figures go to the folder
        ``<stem>_files`` beside it.
    compare : sequence of Fit or path
        Other fits of the same data, compared by PSIS-LOO.
    targets : sequence of float, or mapping of input name to values for laws of several inputs
        Forecast scales (default: 2x and 10x the largest observed scale).
    fmt : {"html", "md"}
    prob : float
        Interval probability of the forecast and parameter tables.
    seed : int, optional
    refits, lfo
        See :func:`build_report`.
    """
    if fmt not in ("html", "md"):
        raise BayescaleError(f"unknown report format {fmt!r}; choose 'html' or 'md'")
    rep = build_report(fit, compare=compare, targets=targets, prob=prob, seed=seed, refits=refits, lfo=lfo)
    return write_file(rep, path, fmt)


def write_file(rep: Report, path: str | os.PathLike, fmt: str) -> Path:
    """Write a built report as ``fmt`` ("html", or "md" with its figures in ``<stem>_files/``)."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "html":
        p.write_text(rep.to_html(), encoding="utf-8")
    else:
        figdir = p.with_name(f"{p.stem}_files")
        p.write_text(rep.to_markdown(figdir, link_prefix=figdir.name), encoding="utf-8")
    return p
