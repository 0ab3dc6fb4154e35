"""``bayescale report`` and ``bayescale priors``."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import pandas as pd

from ..errors import BayescaleError
from ..inference.fit import load
from ..present.plots import plot_prior_predictive
from ..present.report import build_report, write_file
from ..present.text import fmt_general as _g
from ..prior_predictive import prior_predictive
from ..spec.data import load_data
from ..spec.laws import get_law
from ..spec.likelihoods import LIKELIHOODS, Likelihood, get_likelihood
from ..spec.resolve import resolve_priors
from .args import _positive_float, add_prob_arg, integer, parse_input_targets, prior_pair, seed

__all__ = ["register"]


_REPORT_EXAMPLES = """examples:
  bayescale report bnsl.nc -o report.html
  bayescale report bnsl.nc --compare plo.nc --refits 5 --lfo -o report.md
  bayescale report chin.nc --target-input N=7e10,D=1.4e12 --prob 0.5 -o chin.html
"""
_PRIORS_EXAMPLES = """examples:
  bayescale priors bnsl1
  bayescale priors power_law_offset --data runs.csv --x n --y loss --plot prior.png
  bayescale priors chinchilla --prior 'alpha=Normal(mu=0.34, sigma=0.05)' --likelihood studentt --json
"""
#: Report file suffixes and the format each one means.
_SUFFIXES = {".html": "html", ".htm": "html", ".md": "md", ".markdown": "md"}


def register(sub) -> None:
    """Add ``bayescale report`` and ``bayescale priors``."""
    r = sub.add_parser("report", help="write an HTML (or Markdown) report of a saved fit", epilog=_REPORT_EXAMPLES,
                       description="Write one report of a saved fit: data and fit, forecasts, parameters, "
                                   "breaks, priors, and (with --compare) the LOO comparison with other fits.")
    r.add_argument("fit", help="netCDF file written by 'bayescale fit --out'")
    r.add_argument("--compare", nargs="+", action="extend", default=[], metavar="FIT",
                   help="other saved fits of the same data to compare by PSIS-LOO")
    r.add_argument("--target", nargs="+", action="extend", type=_positive_float, default=[], metavar="X",
                   help="forecast scales (one-input laws; default 2x and 10x the largest observed)")
    r.add_argument("--target-input", nargs="+", action="extend", default=[], metavar="N=..,D=..",
                   help="forecast targets for laws of several inputs, e.g. N=1e10,D=2e11")
    r.add_argument("-o", "--out", required=True, metavar="FILE",
                   help="report file to write: .html or .htm (HTML), .md or .markdown (Markdown); any other "
                        "name needs --format")
    r.add_argument("--format", choices=["html", "md"], default=None,
                   help="html (one self-contained page) or md (Markdown, figures in <stem>_files/); "
                        "default from the suffix of --out")
    add_prob_arg(r, "parameter and forecast intervals")
    r.add_argument("--seed", type=seed, default=None, help="seed of new-observation draws (default: the fit's seed)")
    r.add_argument("--refits", type=integer("--refits", 0), default=0, metavar="N",
                   help="with --compare: exact LOO refits per law for points of high Pareto k (>= 0; default 0; "
                        "each samples)")
    r.add_argument("--lfo", action="store_true",
                   help="with --compare: also score leave-future-out (one refit per law) and recommend a law")
    r.set_defaults(handler=_cmd_report)

    p = sub.add_parser("priors", help="show a law's default priors and why; draw the prior predictive",
                       epilog=_PRIORS_EXAMPLES,
                       description="Print each parameter's prior with its meaning and the reason for it; with "
                                   "--data, draw the prior predictive against the data.")
    p.add_argument("law", help="law name (see 'bayescale laws') or a .toml law file")
    p.add_argument("--likelihood", choices=list(LIKELIHOODS), default="lognormal",
                   help="noise model whose noise priors to show: multiplicative (default), additive, or robust "
                        "Student-t on log y")
    p.add_argument("--prior", action="append", type=prior_pair, default=[], metavar="NAME=PRIOR",
                   help="override a default prior, as for 'bayescale fit'")
    p.add_argument("--data", help="CSV file: draw the prior predictive against these data")
    p.add_argument("--x", nargs="+", metavar="COL", help="scale column(s) of --data, one per law input")
    p.add_argument("--y", metavar="COL", help="metric column of --data")
    p.add_argument("--plot", metavar="PNG", help="save a plot of the prior predictive and the data")
    p.add_argument("--draws", type=integer("--draws", 1), default=500, help="prior draws (>= 1; default 500)")
    add_prob_arg(p, "prior predictive intervals")
    p.add_argument("--seed", type=seed, default=0,
                   help="seed of the prior draws (default 0): the same seed gives the same draws")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(handler=_cmd_priors)


def _report_format(out: str, fmt: str | None) -> str:
    """The report's format: ``--format``, else from the suffix of ``out`` (refusing any other suffix)."""
    if fmt:
        return fmt
    path = Path(out)
    suffix = path.suffix.lower()
    if suffix in _SUFFIXES:
        return _SUFFIXES[suffix]
    raise BayescaleError(
        f"report file {out!r}: a report is HTML or Markdown, "
        + (f"not {path.suffix!r}" if suffix else "and the name has no suffix")
        + f"; write it to {path.with_suffix('.html')} or {path.with_suffix('.md')}, or give --format html "
        "(or md) to keep the name")


def _cmd_report(a) -> int:
    fmt = _report_format(a.out, a.format)
    if a.target and a.target_input:
        raise BayescaleError("give targets with --target or --target-input, not both")
    if (a.refits or a.lfo) and not a.compare:
        raise BayescaleError("--refits and --lfo apply to a comparison: give --compare FIT ...")
    f = load(a.fit)
    targets = None
    if a.target:
        if len(f.law.inputs) != 1:
            raise BayescaleError(f"law {f.law.name!r} has inputs {', '.join(f.law.inputs)}: give targets as "
                                 "--target-input " + ",".join(f"{k}=VALUE" for k in f.law.inputs))
        targets = list(a.target)
    elif a.target_input:
        targets = parse_input_targets(f.law, a.target_input)
    compare = [load(c) for c in a.compare]
    rep = build_report(f, compare=compare, targets=targets, prob=a.prob, seed=a.seed, fit_path=a.fit,
                       refits=a.refits, lfo=a.lfo)
    out = write_file(rep, a.out, fmt)
    print(f"wrote {out}" + (f" (figures in {out.with_name(out.stem + '_files')})" if fmt == "md" else ""))
    if rep.warnings:
        print(f"{len(rep.warnings)} warning(s):")
        for w in rep.warnings:
            print(f"  - {w}")
    return 0


def _cmd_priors(a) -> int:
    law = get_law(a.law)
    lik = get_likelihood(a.likelihood)
    overrides = dict(a.prior)
    rows = _prior_rows(law, lik, overrides)
    if (a.x or a.y or a.plot) and not a.data:
        raise BayescaleError("--x, --y and --plot need --data CSV (the priors use the data's statistics)")
    pp = None
    if a.data:
        if not a.x or not a.y:
            raise BayescaleError("with --data give the columns: --x COL (one per law input) --y COL")
        if len(a.x) != len(law.inputs):
            raise BayescaleError(f"law {law.name!r} has {len(law.inputs)} input(s) ({', '.join(law.inputs)}); "
                                 f"give one --x column per input, got {len(a.x)}")
        cols = dict(zip(law.inputs, a.x))
        cols["y"] = a.y
        pp = prior_predictive(law, data=a.data, columns=cols, likelihood=a.likelihood, priors=overrides,
                              draws=a.draws, seed=a.seed)
    if a.json:
        rep: dict[str, Any] = {"law": law.name, "likelihood": a.likelihood, "parameters": rows}
        if pp is not None:
            rep["stats"] = pp.stats
            rep["prior_predictive"] = json.loads(_pp_table(pp, a.prob).to_json(orient="records"))
        print(json.dumps(rep))
    else:
        print(f"law: {law.name}    {law.display or law.formula.text}")
        print(f"likelihood: {a.likelihood}\n")
        w = max(len(r["name"]) for r in rows) + 2
        for r in rows:
            print(f"{r['name']:<{w}}{r['prior']}")
            for label, key in (("meaning", "description"), ("why", "reason")):
                if r[key]:
                    print(textwrap.fill(r[key], width=100, initial_indent=" " * w + f"{label}: ",
                                        subsequent_indent=" " * (w + len(label) + 2)))
        if pp is not None:
            print("\ndata statistics the priors use: "
                  + ", ".join(f"{k}={_g(v)}" for k, v in pp.stats.items()))
            t = _pp_table(pp, a.prob)
            pct = f"{a.prob:.0%}"
            print(f"\nprior predictive ({pp.draws} draws; {pct} intervals) at scales of the data:")
            with pd.option_context("display.width", 160, "display.max_columns", 20):
                print(t.to_string(index=False, float_format=_g))
            y = np.asarray(pp.stats.get("y_min")), np.asarray(pp.stats.get("y_max"))
            mu = pp.expected
            with np.errstate(invalid="ignore"):
                inside = np.all((mu >= y[0] / 10) & (mu <= y[1] * 10), axis=1).mean()
            print(f"\n{inside:.0%} of prior draws of the law stay within a factor 10 of the observed range "
                  f"[{_g(y[0])}, {_g(y[1])}] at every scale shown.")
    if a.plot:
        ds = load_data(a.data, x=a.x, y=a.y, inputs=law.inputs, positive_y=lik.positive_y)
        fig, _ = plot_prior_predictive(pp, data=ds, xlabel=a.x[0] if len(a.x) == 1 else None, ylabel=a.y)
        Path(a.plot).parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(a.plot, dpi=110)
        if not a.json:
            print(f"saved plot: {a.plot}")
    return 0


def _prior_rows(law, lik: Likelihood, overrides: Mapping[str, str]) -> list[dict[str, str]]:
    """One row per parameter, law's then the likelihood's noise: name, prior, meaning and reason."""
    resolved = resolve_priors(law, lik, overrides)
    rows = []
    for p in law.parameters:
        prior = f"derived: {p.name} = {p.expression}" if p.derived else resolved[p.name].text
        rows.append({"name": p.name, "prior": prior, "description": p.description,
                     "reason": "given with --prior" if p.name in overrides else p.reason, "kind": "law"})
    for n, (_, reason) in lik.noise_priors.items():
        rows.append({"name": n, "prior": resolved[n].text,
                     "description": f"noise of the {lik.name} likelihood",
                     "reason": "given with --prior" if n in overrides else reason, "kind": "noise"})
    return rows


def _pp_table(pp, prob: float) -> pd.DataFrame:
    """The prior predictive table at up to 6 scales spread over the evaluated ones."""
    t = pp.table(prob=prob)
    idx = np.unique(np.linspace(0, len(t) - 1, min(6, len(t))).round().astype(int))
    return t.iloc[idx].drop(columns=["prob"]).reset_index(drop=True)
