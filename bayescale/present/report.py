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
8. the LOO comparison (``az.compare``) when other fits are given;
9. how to reproduce the fit.

Every figure is a base64 PNG data URI and every piece of text is escaped, so
the HTML page needs nothing but itself.  This module also defines
``bayescale priors LAW``, which prints each parameter's default prior with its
meaning and the reason for it, and draws the prior predictive against data.
"""

from __future__ import annotations

import base64
import datetime as _dt
import html
import io
import json
import os
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

from ..errors import BayescaleError, FitError
from .text import fmt_general as _g

__all__ = ["write_report", "build_report", "Report", "register_cli", "PARETO_K_MAX"]

#: Pareto k above which a PSIS-LOO estimate is unreliable (ArviZ lowers it further for small samples).
PARETO_K_MAX = 0.7

#: Fraction of a break position's draws within the outer 5% (in log x) of the data range that is
#: reported as "the break is not located inside the data".
_EDGE_FRACTION = 0.25


# -- the report as data ------------------------------------------------------------------------------
@dataclass
class Block:
    """One piece of a section: ``kind`` is "p", "list", "table" or "figure"."""

    kind: str
    text: str = ""
    items: Sequence[str] = ()
    table: pd.DataFrame | None = None
    bad_rows: Sequence[bool] = ()
    png: bytes = b""
    name: str = ""


@dataclass
class Section:
    id: str
    title: str
    blocks: list[Block] = field(default_factory=list)


@dataclass
class Report:
    """A report before rendering: title, facts about the fit, warnings and sections."""

    title: str
    meta: list[tuple[str, str]]
    warnings: list[str]
    sections: list[Section]

    def to_html(self) -> str:
        return _render_html(self)

    def to_markdown(self, figure_dir: str | os.PathLike, *, link_prefix: str) -> str:
        return _render_markdown(self, Path(figure_dir), link_prefix)


# -- helpers ------------------------------------------------------------------------------------------
def _fig_png(fig, dpi: int = 110) -> bytes:
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    plt.close(fig)
    return buf.getvalue()


def _as_fit(obj: Any):
    from ..inference.fit import Fit, load

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


def _labels(fits: Sequence[Any], paths: Sequence[str | None]) -> list[str]:
    out: list[str] = []
    for f, p in zip(fits, paths):
        base = f.law.name
        lab = base
        if lab in out:
            lab = f"{base} ({Path(p).stem})" if p else f"{base} #{len(out) + 1}"
        k = 2
        while lab in out:
            lab = f"{base} #{k}"
            k += 1
        out.append(lab)
    return out


# -- building --------------------------------------------------------------------------------------------
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
    from . import plots
    from ..predictive import check_prob

    check_prob(prob)
    fit, p0 = _as_fit(fit)
    fit_path = fit_path or p0
    others = [_as_fit(c) for c in compare]
    _check_same_data(fit, others)
    law = fit.law
    one_d = len(law.inputs) == 1
    diag = fit.diagnostics()
    warnings: list[str] = [f"fit: {p}" for p in diag.problems]
    sections: list[Section] = []
    ycol = fit.data.columns.get("y", "y")
    xcols = [fit.data.columns.get(k, k) for k in law.inputs]

    # forecasts
    tg = _default_targets(fit) if targets is None else targets
    fc = fit.forecast(x=tg, prob=prob, seed=seed)
    tgt_list = [float(v) for v in fc.inputs[law.inputs[0]]] if one_d else None
    if not fc.reliable:
        warnings.append("forecasts: the fit's diagnostics failed, so the forecast intervals below are NOT reliable")

    # 1. the fit
    if one_d:
        fig, _ = plots.plot_fit(fit, targets=tgt_list, probs=(0.5, 0.9))
        sec = Section("fit", "Data and fitted law")
        sec.blocks.append(Block("figure", png=_fig_png(fig), name="fit",
                                text=f"{ycol} against {xcols[0]} (log-log) with the posterior median of the law and "
                                     "50% and 90% equal-tailed bands of its expected value; dotted lines: targets."))
        sections.append(sec)

    # 2. forecast table
    t = fc.table()
    ft = pd.DataFrame({c: t[k] for c, k in zip(xcols, law.inputs)})
    if one_d:
        ft["× largest x"] = t[law.inputs[0]] / float(np.max(fit.data.inputs[law.inputs[0]]))
    pct = f"{prob:.0%}"
    ft["expected: median"] = t["median"]
    ft[f"expected: {pct} lower"] = t["lower"]
    ft[f"expected: {pct} upper"] = t["upper"]
    ft["new obs: median"] = t["obs_median"]
    ft[f"new obs: {pct} lower"] = t["obs_lower"]
    ft[f"new obs: {pct} upper"] = t["obs_upper"]
    sec = Section("forecast", "Forecasts")
    sec.blocks.append(Block("p", text=(
        f"Posterior median and {pct} equal-tailed interval of the law's expected value and of a new "
        f"observation ({fit.settings['likelihood']} noise) at each target."
        + ("" if targets is not None else " Targets: 2x and 10x the largest observed scale (the default).")
        + ("" if fc.reliable else " NOT RELIABLE: the fit's diagnostics failed (see Warnings).")
    )))
    sec.blocks.append(Block("table", table=ft, bad_rows=[not fc.reliable] * len(ft)))
    sections.append(sec)

    # 3. parameters
    s = fit.summary(prob=prob)
    lo_c, hi_c = [c for c in s.columns if c.startswith(("eti", "hdi"))][:2]
    need = 100 * diag.chains
    priors = dict(fit.settings.get("priors") or {})
    desc = {p.name: p.description for p in law.parameters}

    desc.update({"sigma": "noise scale" + (" (sd of log y)" if fit.settings["likelihood"] != "normal" else ""),
                 "nu": "Student-t degrees of freedom"})
    pt = pd.DataFrame({
        "parameter": s.index,
        "prior": [priors.get(n, "") for n in s.index],
        "median": s["median"].to_numpy(),
        f"{pct} lower": s[lo_c].to_numpy(),
        f"{pct} upper": s[hi_c].to_numpy(),
        "mean": s["mean"].to_numpy(),
        "sd": s["sd"].to_numpy(),
        "r_hat": s["r_hat"].to_numpy(),
        "ess_bulk": s["ess_bulk"].to_numpy(),
        "ess_tail": s["ess_tail"].to_numpy(),
        "meaning": [desc.get(n, "") for n in s.index],
    })
    bad = [(diag.chains > 1 and not r <= 1.01) or not eb >= need or not et >= need
           for r, eb, et in zip(s["r_hat"], s["ess_bulk"], s["ess_tail"])]
    sec = Section("parameters", "Parameters")
    sec.blocks.append(Block("p", text=(
        f"Posterior median, {pct} equal-tailed interval, mean and sd, with R-hat (should be at most 1.01) and "
        f"bulk/tail effective sample size (should be at least {need}: 100 per chain). "
        f"Divergent transitions: {diag.divergences}. Rows that fail a threshold are marked."
    )))
    sec.blocks.append(Block("table", table=pt, bad_rows=bad))
    sections.append(sec)

    # 4. breaks
    bnames = plots.break_names(law)
    if bnames and one_d:
        fig, _ = plots.plot_breaks(fit, prob=prob)
        sec = Section("breaks", "Break positions")
        xd = fit.data.inputs[law.inputs[0]]
        lo, hi = np.log10(float(xd.min())), np.log10(float(xd.max()))
        d = fit.draws(bnames)
        items = []
        for n in bnames:
            q = np.quantile(d[n], [(1 - prob) / 2, 0.5, (1 + prob) / 2])
            items.append(f"{n}: median {_g(q[1])} {xcols[0]}, {pct} interval {_g(q[0])} to {_g(q[2])}")
            lv = np.log10(d[n])
            edge = float(np.mean((lv < lo + 0.05 * (hi - lo)) | (lv > hi - 0.05 * (hi - lo))))
            if hi > lo and edge > _EDGE_FRACTION:
                warnings.append(f"break {n}: {edge:.0%} of its posterior lies at the edge of the data range "
                                f"({_g(xd.min())} to {_g(xd.max())}); the data do not locate this break")
        sec.blocks.append(Block("figure", png=_fig_png(fig), name="breaks",
                                text="Top: data and fitted law. Bottom: posterior of each break position on "
                                     "log x over the data range (dotted: the flat default prior); dashed: medians."))
        sec.blocks.append(Block("list", items=items))
        sections.append(sec)

    # 5. prior vs posterior
    fig, _ = plots.plot_prior_posterior(fit, seed=0 if seed is None else seed)
    sec = Section("priors", "Prior and posterior")
    sec.blocks.append(Block("figure", png=_fig_png(fig), name="prior-posterior",
                            text="Each parameter's prior (outline; the fit's priors evaluated with its data "
                                 "statistics) and posterior (filled; red bar: its 90% interval and median). "
                                 "Parameters on a log scale, or whose posterior is far narrower than the prior, "
                                 "are shown as log10. "
                                 "A posterior that looks like its prior was not informed by the data."))
    sections.append(sec)

    # 6. comparison
    if others:
        sections.append(_comparison(fit, fit_path, others, warnings, refits=refits, lfo=lfo))

    # 7. reproduce
    import shlex

    st = fit.settings
    src = str(st.get("data_source") or fit.data.source or "")
    data_arg = src if src and Path(src).is_file() else "DATA.csv"
    cmd = (f"bayescale fit {shlex.quote(data_arg)} --x {' '.join(shlex.quote(c) for c in xcols)} "
           f"--y {shlex.quote(ycol)} --law {shlex.quote(law.name)} --likelihood {st['likelihood']} "
           f"--draws {st['draws']} --tune {st['tune']} --chains {st['chains']} "
           f"--target-accept {st['target_accept']} --sampler {st['sampler']} --seed {st['seed']}")
    default_priors = {p.name: p.prior.text for p in law.parameters}
    default_priors.update({k: v[0] for k, v in fit.likelihood.noise_priors.items()})
    for k, v in priors.items():
        if default_priors.get(k, "").replace(" ", "") != v.replace(" ", ""):
            cmd += " --prior " + shlex.quote(f"{k}={v}")
    sec = Section("reproduce", "Reproduce")
    sec.blocks.append(Block("p", text="The fit can be reproduced with (same seed, same settings):"
                            + ("" if data_arg != "DATA.csv" else
                               f" (the data came from {src or 'memory'}: save them as DATA.csv first)")))
    sec.blocks.append(Block("code", text=cmd))
    sections.append(sec)

    meta = [
        ("law", f"{law.name}: {law.display or law.formula.text}"),
        ("data", f"{fit.data.source or 'unknown'} ({fit.data.n} observations; "
                 f"x = {', '.join(xcols)}, y = {ycol})"),
        ("likelihood", st["likelihood"]),
        ("sampler", f"{st.get('sampler_ran', st.get('sampler'))} (NUTS), {st['chains']} chains x {st['draws']} draws "
                    f"after {st['tune']} tuning steps, target_accept {st['target_accept']}, seed {st['seed']}"),
    ]
    if st.get("remedy"):
        meta.append(("remedy", str(st["remedy"])))
    if fit_path:
        meta.append(("fit file", fit_path))
    meta.append(("diagnostics", "ok" if diag.ok else "FAILED (see Warnings)"))
    from .._version import __version__

    meta.append(("generated", f"{_dt.datetime.now(_dt.timezone.utc):%Y-%m-%d %H:%M} UTC by bayescale {__version__}"))
    title = f"bayescale report: {law.name} fit of {ycol}"
    return Report(title=title, meta=meta, warnings=warnings, sections=sections)


def _check_same_data(fit, others) -> None:
    y0 = np.asarray(fit.data.y)
    for f, p in others:
        if f.data.n != fit.data.n or not np.allclose(np.asarray(f.data.y), y0):
            raise FitError(f"compared fit {p or f.law.name!r} was fitted to different data ({f.data.n} observations, "
                           f"not the {fit.data.n} of the main fit): LOO compares fits of the same observations only")


def _comparison(fit, fit_path, others, warnings: list[str], *, refits: int = 0, lfo: bool = False) -> Section:
    """LOO comparison: :func:`bayescale.compare.compare` when the laws differ, else ArviZ directly."""
    fits = [fit] + [f for f, _ in others]
    labels = _labels(fits, [fit_path] + [p for _, p in others])
    if len({f.law.name for f in fits}) == len(fits):
        from ..evaluate import compare as mod

        return _comparison_bs(mod, fits, warnings, refits=refits, lfo=lfo)
    if refits or lfo:
        raise BayescaleError("exact LOO refits and leave-future-out need fits of different laws "
                             "(bayescale.compare keys them by law)")
    return _comparison_az(fits, labels, warnings)


def _comparison_bs(mod, fits, warnings: list[str], *, refits: int, lfo: bool) -> Section:
    import warnings as _w

    with _w.catch_warnings():
        _w.simplefilter("ignore")  # Pareto k problems are reported below, per fit
        c = mod.compare(fits=fits, lfo=lfo, max_refits=refits)
    by_name = {f.law.name: f for f in fits}
    for nm, f in by_name.items():
        if f is not fits[0] and not f.diagnostics().ok:
            warnings.extend(f"{nm}: {p}" for p in f.diagnostics().problems)
    rows = []
    for nm, r in c.table.iterrows():
        lo = c.loo[nm]
        k = np.asarray(lo.pareto_k, dtype=float)
        nbad = int(np.sum(k > lo.k_threshold))
        if lo.unresolved:
            warnings.append(f"LOO for {nm}: {len(lo.unresolved)} of {k.size} observations have Pareto k > "
                            f"{lo.k_threshold:.2g} (max {lo.pareto_k_max:.2f}) and were not refitted exactly; "
                            "its elpd estimate is unreliable")
        if not lo.refit_ok:
            warnings.append(f"LOO for {nm}: an exact leave-one-out refit failed its diagnostics")
        row = {"model": nm, "rank": int(r["rank"]), "elpd_loo": r["elpd"], "se": r["se"],
               "elpd_diff": r["elpd_diff"], "dse": r["dse"], "p_loo": r["p"], "weight": r["weight"],
               "Pareto k threshold": lo.k_threshold, "obs above it": nbad, "max Pareto k": lo.pareto_k_max,
               "refitted exactly": len(lo.refits), "diagnostics": "ok" if by_name[nm].diagnostics().ok else "FAILED"}
        if c.lfo:
            row["LFO mean lpd"] = c.lfo[nm].mean_lpd
            row["LFO RMSLE"] = c.lfo[nm].rmsle
        rows.append(row)
    table = pd.DataFrame(rows)
    sec = Section("compare", "Model comparison (PSIS-LOO)")
    sec.blocks.append(Block("p", text=(
        "Expected log predictive density of each fit by Pareto-smoothed importance-sampling leave-one-out "
        "(bayescale.compare on ArviZ az.loo / az.compare), on the scale of y, so fits with different likelihoods "
        "are comparable. elpd_diff is the difference to the best fit and dse its standard error: a difference "
        "within a few dse is not a clear preference, and a broken law cannot lose to the law it contains by much. "
        + ("Points with Pareto k above the threshold were refitted exactly (at most "
           f"{refits} per law). " if refits else
           "No exact refits were run for points with high Pareto k (bayescale report --refits N runs them). ")
        + f"Ranked first by LOO: {table.iloc[0]['model']}."
        + (f" Recommended for forecasting: {c.recommended} (by {c.recommended_by})." if c.recommended else "")
    )))
    sec.blocks.append(Block("table", table=table, bad_rows=[
        r["diagnostics"] != "ok" or len(c.loo[r["model"]].unresolved) > 0 for _, r in table.iterrows()]))
    v = c.verdict
    if v is not None:
        sec.blocks.append(Block("p", text=(
            f"Is the break real? {v.verdict.upper()} ({v.broken_law} against {v.baseline}: elpd difference "
            f"{_g(v.elpd_diff)}, dse {_g(v.dse)})." + ("" if v.reliable else " NOT RELIABLE: see the warnings."))))
        if v.reasons:
            sec.blocks.append(Block("list", items=list(v.reasons)))
        if not v.reliable:
            warnings.append(f"break verdict ({v.verdict}) is not reliable: " + "; ".join(v.warnings))
    return sec


def _comparison_az(fits, labels, warnings: list[str]) -> Section:
    """PSIS-LOO of every fit and az.compare, with Pareto k and diagnostics warnings."""
    import warnings as _w

    import arviz as az

    for f, lab in zip(fits[1:], labels[1:]):
        if not f.diagnostics().ok:
            warnings.extend(f"{lab}: {p}" for p in f.diagnostics().problems)
    with _w.catch_warnings():
        _w.simplefilter("ignore")  # Pareto k problems are reported below, per fit
        loos = {lab: az.loo(f.tree, pointwise=True) for lab, f in zip(labels, fits)}
        cmp = az.compare({lab: f.tree for lab, f in zip(labels, fits)}, round_to="none")
    rows = []
    for lab in cmp.index:
        lo = loos[lab]
        k = np.asarray(lo.pareto_k).reshape(-1)
        thr = min(PARETO_K_MAX, float(getattr(lo, "good_k", PARETO_K_MAX)))
        nbad = int(np.sum(k > thr))
        if nbad:
            warnings.append(f"LOO for {lab}: {nbad} of {k.size} observations have Pareto k > {thr:.2g} "
                            f"(max {np.max(k):.2f}); its elpd estimate is unreliable")
        r = cmp.loc[lab]
        ok = fits[labels.index(lab)].diagnostics().ok
        rows.append({"model": lab, "rank": int(r["rank"]), "elpd_loo": r["elpd"], "se": r["se"],
                     "elpd_diff": r["elpd_diff"], "dse": r["dse"], "p_loo": r["p"], "weight": r["weight"],
                     "Pareto k threshold": thr, "obs above it": nbad, "max Pareto k": float(np.max(k)),
                     "diagnostics": "ok" if ok else "FAILED"})
    table = pd.DataFrame(rows)
    best = table.iloc[0]["model"]
    sec = Section("compare", "Model comparison (PSIS-LOO)")
    sec.blocks.append(Block("p", text=(
        "Expected log predictive density of each fit by Pareto-smoothed importance-sampling leave-one-out "
        "(ArviZ az.loo / az.compare), on the scale of y, so fits with different likelihoods are comparable. "
        "elpd_diff is the difference to the best fit and dse its standard error: a difference within a few "
        "dse is not a clear preference, and a broken law cannot lose to the law it contains by much. "
        f"Ranked first: {best}. Rows whose fit failed its diagnostics or has Pareto k above the threshold "
        "are marked."
    )))
    sec.blocks.append(Block("table", table=table,
                            bad_rows=[r["diagnostics"] != "ok" or r["obs above it"] > 0 for _, r in table.iterrows()]))
    return sec


# -- rendering -------------------------------------------------------------------------------------------
_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;max-width:1100px;margin:24px auto;
padding:0 20px;color:#1d1d1f;line-height:1.45}
h1{font-size:1.6em;margin-bottom:.3em}h2{font-size:1.25em;border-bottom:1px solid #ddd;padding-bottom:.2em;
margin-top:1.8em}
.tw{overflow-x:auto;max-width:100%}
table{border-collapse:collapse;font-size:.85em;margin:.6em 0}
th,td{border:1px solid #d0d0d0;padding:3px 7px;text-align:right;vertical-align:top}
th{background:#f2f2f4}td.t{text-align:left}td.p{text-align:left;font-family:monospace;font-size:.9em;min-width:11em;max-width:17em;overflow-wrap:anywhere}
td.m{text-align:left;font-size:.9em;color:#444;min-width:12em;max-width:22em}
tr.bad td{background:#fdecea}
table.meta td,table.meta th{text-align:left;border:none;padding:1px 10px 1px 0}
table.meta th{background:none;color:#555;font-weight:600}
.warnings{border:2px solid #c62828;background:#fff4f4;padding:8px 16px;border-radius:6px;margin:1em 0}
.warnings h2{color:#c62828;border:none;margin-top:.3em}
.ok{border:1px solid #2e7d32;background:#f1f8f1;padding:6px 16px;border-radius:6px}
figure{margin:1em 0}figure img{max-width:100%;height:auto;border:1px solid #eee}
figcaption{font-size:.85em;color:#555}
pre{background:#f6f6f6;padding:8px;overflow-x:auto;white-space:pre-wrap;font-size:.85em}
nav a{margin-right:1em}
"""


def _fmt_cell(v: Any) -> str:
    if isinstance(v, (bool, np.bool_)):
        return "yes" if v else "no"
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    if isinstance(v, (float, np.floating)):
        return _g(v)
    return "" if v is None else str(v)


def _html_table(b: Block) -> str:
    e = html.escape
    df = b.table
    head = "".join(f"<th>{e(str(c))}</th>" for c in df.columns)
    rows = []
    for i, (_, r) in enumerate(df.iterrows()):
        cells = []
        for c, v in r.items():
            cls = {"meaning": ' class="m"', "prior": ' class="p"'}.get(c, ' class="t"' if isinstance(v, str) else "")
            cells.append(f"<td{cls}>{e(_fmt_cell(v))}</td>")
        bad = bool(b.bad_rows[i]) if i < len(b.bad_rows) else False
        rows.append(f"<tr{' class=\"bad\"' if bad else ''}>{''.join(cells)}</tr>")
    return f'<div class="tw"><table><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table></div>'


def _render_html(rep: Report) -> str:
    e = html.escape
    out = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
           '<meta name="viewport" content="width=device-width, initial-scale=1">',
           f"<title>{e(rep.title)}</title><style>{_CSS}</style></head><body>",
           f"<h1>{e(rep.title)}</h1>", '<table class="meta">']
    out += [f"<tr><th>{e(k)}</th><td>{e(v)}</td></tr>" for k, v in rep.meta]
    out.append("</table>")
    if rep.warnings:
        out.append('<section class="warnings" id="warnings"><h2>Warnings</h2>'
                   "<p>Do not rely on the numbers below until these are resolved:</p><ul>")
        out += [f"<li>{e(w)}</li>" for w in rep.warnings]
        out.append("</ul></section>")
    else:
        out.append('<p class="ok" id="warnings">All diagnostics passed (no divergences, R-hat &le; 1.01, '
                   "ESS &ge; 100 per chain" + ("" if not any(s.id == "compare" for s in rep.sections)
                                                   else ", Pareto k within bounds") + ").</p>")
    out.append("<nav>" + "".join(f'<a href="#{e(s.id)}">{e(s.title)}</a>' for s in rep.sections) + "</nav>")
    for s in rep.sections:
        out.append(f'<section id="{e(s.id)}"><h2>{e(s.title)}</h2>')
        for b in s.blocks:
            if b.kind == "p":
                out.append(f"<p>{e(b.text)}</p>")
            elif b.kind == "code":
                out.append(f"<pre>{e(b.text)}</pre>")
            elif b.kind == "list":
                out.append("<ul>" + "".join(f"<li>{e(i)}</li>" for i in b.items) + "</ul>")
            elif b.kind == "table":
                out.append(_html_table(b))
            elif b.kind == "figure":
                data = base64.b64encode(b.png).decode("ascii")
                out.append(f'<figure><img src="data:image/png;base64,{data}" alt="{e(b.name)}">'
                           f"<figcaption>{e(b.text)}</figcaption></figure>")
        out.append("</section>")
    out.append("</body></html>")
    return "\n".join(out)


def _md_escape(text: str) -> str:
    # Markdown renderers interpret these; escape them so that column names and paths print as written.
    return re.sub(r"([\\`*_{}\[\]<>|#])", r"\\\1", str(text))


def _md_table(b: Block) -> str:
    df = b.table
    cols = list(df.columns) + (["flag"] if any(b.bad_rows) else [])
    lines = ["| " + " | ".join(_md_escape(c) for c in cols) + " |", "|" + "---|" * len(cols)]
    for i, (_, r) in enumerate(df.iterrows()):
        cells = [_md_escape(_fmt_cell(v)) for v in r.to_numpy()]
        if any(b.bad_rows):
            cells.append("**FAILED**" if b.bad_rows[i] else "")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _render_markdown(rep: Report, figdir: Path, prefix: str) -> str:
    out = [f"# {_md_escape(rep.title)}", ""]
    out += [f"- **{_md_escape(k)}**: {_md_escape(v)}" for k, v in rep.meta]
    out.append("")
    if rep.warnings:
        out += ["## Warnings", "", "Do not rely on the numbers below until these are resolved:", ""]
        out += [f"- **{_md_escape(w)}**" for w in rep.warnings]
        out.append("")
    else:
        out += ["All diagnostics passed.", ""]
    figdir.mkdir(parents=True, exist_ok=True)
    n = 0
    for s in rep.sections:
        out += [f"## {_md_escape(s.title)}", ""]
        for b in s.blocks:
            if b.kind == "p":
                out += [_md_escape(b.text), ""]
            elif b.kind == "code":
                out += ["```", b.text, "```", ""]
            elif b.kind == "list":
                out += [f"- {_md_escape(i)}" for i in b.items] + [""]
            elif b.kind == "table":
                out += [_md_table(b), ""]
            elif b.kind == "figure":
                n += 1
                fname = f"fig{n}-{b.name}.png"
                (figdir / fname).write_bytes(b.png)
                out += [f"![{_md_escape(b.name)}]({prefix}/{fname})", "", f"*{_md_escape(b.text)}*", ""]
    return "\n".join(out)


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
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "html":
        p.write_text(rep.to_html(), encoding="utf-8")
    else:
        figdir = p.with_name(f"{p.stem}_files")
        p.write_text(rep.to_markdown(figdir, link_prefix=figdir.name), encoding="utf-8")
    return p
