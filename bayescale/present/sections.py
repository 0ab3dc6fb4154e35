"""The sections of a report on one fit: data and law, forecasts, parameters, breaks, priors, reproduce.

Each function returns a :class:`~bayescale.present.document.Section`; those that find a problem
(a break posterior piled against the edge of the data) append it to the ``warnings`` list given.
Every interval in a table is equal-tailed with the report's probability ``prob``, and each table
header states it.
"""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from .document import Block, Section
from .figures import figure_png
from .plots_fit import plot_breaks, plot_fit
from .plots_prior import plot_prior_posterior
from .text import fmt_general as _g

__all__ = ["pct", "fit_section", "forecast_section", "parameters_section", "breaks_section", "priors_section",
           "reproduce_section", "meta_rows", "EDGE_FRACTION"]

#: Fraction of a break position's draws within the outer 5% (in log x) of the data range that is
#: reported as "the break is not located inside the data".
EDGE_FRACTION = 0.25


def pct(prob: float) -> str:
    """An interval probability as a percentage for headers: 0.9 -> "90%", 0.945 -> "94.5%"."""
    return f"{100 * prob:.4g}%"


def _columns(fit) -> tuple[str, list[str]]:
    """The data's names of the metric and of each law input."""
    return fit.data.columns.get("y", "y"), [fit.data.columns.get(k, k) for k in fit.law.inputs]


def fit_section(fit, targets: Sequence[float]) -> Section:
    """Data and fitted law on log-log axes, with the targets marked (one-input laws)."""
    ycol, xcols = _columns(fit)
    fig, _ = plot_fit(fit, targets=list(targets), probs=(0.5, 0.9))
    sec = Section("fit", "Data and fitted law")
    sec.blocks.append(Block("figure", png=figure_png(fig), name="fit",
                            text=f"{ycol} against {xcols[0]} (log-log) with the posterior median of the law and "
                                 "50% and 90% equal-tailed bands of its expected value; dotted lines: targets."))
    return sec


def forecast_section(fit, fc, *, default_targets: bool) -> Section:
    """Median and ``fc.prob`` interval of the expected value and of a new observation at each target."""
    law = fit.law
    _, xcols = _columns(fit)
    t = fc.table()
    ft = pd.DataFrame({c: t[k] for c, k in zip(xcols, law.inputs)})
    if len(law.inputs) == 1:
        ft["× largest x"] = t[law.inputs[0]] / float(np.max(fit.data.inputs[law.inputs[0]]))
    p = pct(fc.prob)
    ft["expected: median"] = t["median"]
    ft[f"expected: {p} lower"] = t["lower"]
    ft[f"expected: {p} upper"] = t["upper"]
    ft["new obs: median"] = t["obs_median"]
    ft[f"new obs: {p} lower"] = t["obs_lower"]
    ft[f"new obs: {p} upper"] = t["obs_upper"]
    sec = Section("forecast", "Forecasts")
    sec.blocks.append(Block("p", text=(
        f"Posterior median and {p} equal-tailed interval of the law's expected value and of a new "
        f"observation ({fit.likelihood.name} noise) at each target."
        + (" Targets: 2x and 10x the largest observed scale (the default)." if default_targets else "")
        + ("" if fc.reliable else " NOT RELIABLE: the fit's diagnostics failed (see Warnings).")
    )))
    sec.blocks.append(Block("table", table=ft, bad_rows=[not fc.reliable] * len(ft)))
    return sec


def _meanings(fit) -> dict[str, str]:
    """What each parameter means: the law's descriptions, and the likelihood's noise parameters."""
    out = {p.name: p.description for p in fit.law.parameters}
    out.update({"sigma": "noise scale" + (" (sd of log y)" if fit.likelihood.log_scale else ""),
                "nu": "Student-t degrees of freedom"})
    return out


def parameters_section(fit, prob: float) -> Section:
    """Prior, posterior median, ``prob`` interval, mean, sd, R-hat and ESS of every parameter."""
    diag = fit.diagnostics()
    s = fit.summary(prob=prob)
    lo_c, hi_c = [c for c in s.columns if c.startswith(("eti", "hdi"))][:2]
    need = 100 * diag.chains
    priors = dict(fit.settings.get("priors") or {})
    desc = _meanings(fit)
    p = pct(prob)
    pt = pd.DataFrame({
        "parameter": s.index,
        "prior": [priors.get(n, "") for n in s.index],
        "median": s["median"].to_numpy(),
        f"{p} lower": s[lo_c].to_numpy(),
        f"{p} upper": s[hi_c].to_numpy(),
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
        f"Posterior median, {p} equal-tailed interval, mean and sd, with R-hat (should be at most 1.01) and "
        f"bulk/tail effective sample size (should be at least {need}: 100 per chain). "
        f"Divergent transitions: {diag.divergences}. Rows that fail a threshold are marked."
    )))
    sec.blocks.append(Block("table", table=pt, bad_rows=bad))
    return sec


def breaks_section(fit, prob: float, warnings: list[str]) -> Section:
    """Posterior of each declared break position (``law.break_positions``) over the data range.

    Appends a warning for each break with more than :data:`EDGE_FRACTION` of its draws in the outer
    5% (in log x) of the data range: the data do not locate that break.
    """
    law = fit.law
    _, xcols = _columns(fit)
    p = pct(prob)
    fig, _ = plot_breaks(fit, prob=prob)
    sec = Section("breaks", "Break positions")
    xd = fit.data.inputs[law.inputs[0]]
    lo, hi = np.log10(float(xd.min())), np.log10(float(xd.max()))
    d = fit.draws(law.break_positions)
    items = []
    for n in law.break_positions:
        q = np.quantile(d[n], [(1 - prob) / 2, 0.5, (1 + prob) / 2])
        items.append(f"{n}: median {_g(q[1])} {xcols[0]}, {p} interval {_g(q[0])} to {_g(q[2])}")
        lv = np.log10(d[n])
        edge = float(np.mean((lv < lo + 0.05 * (hi - lo)) | (lv > hi - 0.05 * (hi - lo))))
        if hi > lo and edge > EDGE_FRACTION:
            warnings.append(f"break {n}: {edge:.0%} of its posterior lies at the edge of the data range "
                            f"({_g(xd.min())} to {_g(xd.max())}); the data do not locate this break")
    sec.blocks.append(Block("figure", png=figure_png(fig), name="breaks",
                            text="Top: data and fitted law. Bottom: posterior of each break position on "
                                 "log x over the data range (dotted: the flat default prior); dashed: medians."))
    sec.blocks.append(Block("list", items=items))
    return sec


def priors_section(fit, seed: int) -> Section:
    """Each parameter's prior against its posterior."""
    fig, _ = plot_prior_posterior(fit, seed=seed)
    sec = Section("priors", "Prior and posterior")
    sec.blocks.append(Block("figure", png=figure_png(fig), name="prior-posterior",
                            text="Each parameter's prior (outline; the fit's priors evaluated with its data "
                                 "statistics) and posterior (filled; red bar: its 90% interval and median). "
                                 "Parameters on a log scale, or whose posterior is far narrower than the prior, "
                                 "are shown as log10. "
                                 "A posterior that looks like its prior was not informed by the data."))
    return sec


def reproduce_section(fit) -> Section:
    """The ``bayescale fit`` command that reproduces the fit (same data, settings, priors and seed)."""
    law, st = fit.law, fit.settings
    ycol, xcols = _columns(fit)
    src = str(st.get("data_source") or fit.data.source or "")
    data_arg = src if src and Path(src).is_file() else "DATA.csv"
    cmd = (f"bayescale fit {shlex.quote(data_arg)} --x {' '.join(shlex.quote(c) for c in xcols)} "
           f"--y {shlex.quote(ycol)} --law {shlex.quote(law.name)} --likelihood {fit.likelihood.name} "
           f"--draws {st['draws']} --tune {st['tune']} --chains {st['chains']} "
           f"--target-accept {st['target_accept']} --sampler {st['sampler']} --seed {st['seed']}")
    default_priors = {p.name: p.prior.text for p in law.parameters}
    default_priors.update({k: v[0] for k, v in fit.likelihood.noise_priors.items()})
    for k, v in dict(st.get("priors") or {}).items():
        if default_priors.get(k, "").replace(" ", "") != v.replace(" ", ""):
            cmd += " --prior " + shlex.quote(f"{k}={v}")
    sec = Section("reproduce", "Reproduce")
    sec.blocks.append(Block("p", text="The fit can be reproduced with (same seed, same settings):"
                            + ("" if data_arg != "DATA.csv" else
                               f" (the data came from {src or 'memory'}: save them as DATA.csv first)")))
    sec.blocks.append(Block("code", text=cmd))
    return sec


def meta_rows(fit, fit_path: str | None) -> list[tuple[str, str]]:
    """The facts under the title: law, data, likelihood, sampler, remedy, fit file, diagnostics."""
    law, st = fit.law, fit.settings
    ycol, xcols = _columns(fit)
    meta = [
        ("law", f"{law.name}: {law.display or law.formula.text}"),
        ("data", f"{fit.data.source or 'unknown'} ({fit.data.n} observations; "
                 f"x = {', '.join(xcols)}, y = {ycol})"),
        ("likelihood", fit.likelihood.name),
        ("sampler", f"{st.get('sampler_ran', st.get('sampler'))} (NUTS), {st['chains']} chains x {st['draws']} draws "
                    f"after {st['tune']} tuning steps, target_accept {st['target_accept']}, seed {st['seed']}"),
    ]
    if st.get("remedy"):
        meta.append(("remedy", str(st["remedy"])))
    if fit_path:
        meta.append(("fit file", fit_path))
    meta.append(("diagnostics", "ok" if fit.diagnostics().ok else "FAILED (see Warnings)"))
    return meta
