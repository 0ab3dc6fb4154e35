"""``bayescale compare``: fit several laws, score them, and answer "is the break real?"."""

from __future__ import annotations

import json
import sys

from ..evaluate.compare import compare
from ..evaluate.loo import MAX_REFITS
from ..evaluate.verdict import BASELINE, VERDICT_PROB
from ..present.text import print_comparison, print_forecast
from ..spec.laws import get_law
from .args import add_prob_arg, add_sampling_args, integer, parse_where, positive_number, targets_of

__all__ = ["register"]

_EXAMPLES = """examples:
  bayescale compare runs.csv --x n --y loss --laws power_law_offset,bnsl1,bnsl2 --target 1e6 2e6
  bayescale compare runs.csv --x n --y loss --where split=fit --max-refits 10 --json > comparison.json
  bayescale compare chin.csv --x params tokens --y loss --laws chinchilla,kaplan --target-input N=7e10,D=1.4e12

Progress (each law's fit, each exact LOO refit, each leave-future-out refit) goes to standard
error when it is a terminal.  The table's 'fit' column is the law's sampling diagnostics and 'loo'
the reliability of its LOO score (no high Pareto k left, every exact refit passed); the JSON has
the same checks as 'fit_ok' and 'loo_ok' in each 'ranking' row ('ok' when both are).
"""


def _cmd_compare(a) -> int:
    laws = [s.strip() for s in a.laws.split(",") if s.strip()]
    first = None
    for nm in laws:
        law = get_law(nm)
        first = first or law
    x = targets_of(first, a.target, a.target_input) if first is not None else None
    c = compare(a.data, laws=laws, x=a.x if len(a.x) > 1 else a.x[0], y=a.y, where=parse_where(a.where) or None,
                priors=dict(a.prior) or None, likelihood=a.likelihood, draws=a.draws, tune=a.tune, chains=a.chains,
                cores=a.cores, target_accept=a.target_accept, sampler=a.sampler, seed=a.seed, lfo=not a.no_lfo,
                lfo_k=a.lfo_k, max_refits=a.max_refits, baseline=a.baseline, progress=sys.stderr.isatty())
    out = c.to_dict()
    fcs = {}
    if x is not None:
        fcs = {"stacked": c.forecast(x=x, prob=a.prob)}
        if c.recommended:
            fcs[f"recommended ({c.recommended})"] = c.fits[c.recommended].forecast(x=x, prob=a.prob)
        out["weights"] = c.weights
        out["prob"] = a.prob
        out["forecast"] = {k: f.to_records() for k, f in fcs.items()}
    if a.json:
        print(json.dumps(out, default=float))
        return 0
    print_comparison(c)
    if fcs:
        w = ", ".join(f"{k} {v:.3f}" for k, v in c.weights.items())
        for name, fc in fcs.items():
            print(f"\n{name}" + (f" (the recommended forecast): mixture of the laws with stacking weights {w}"
                                 if name == "stacked" else ""))
            print_forecast(fc)
    return 0


def register(sub) -> None:
    """Add ``bayescale compare DATA --x COL --y COL --laws a,b[,c] [--json]``."""
    p = sub.add_parser("compare", help="compare laws by LOO and leave-future-out; is the break real?",
                       description="Fit several laws to one dataset, score them by PSIS-LOO (with exact refits "
                                   "for points of high Pareto k) and leave-future-out, recommend one, and say "
                                   "whether a break is supported.", epilog=_EXAMPLES)
    p.add_argument("data", help="CSV file with a header row")
    p.add_argument("--x", nargs="+", required=True, metavar="COL",
                   help="scale column(s), one per law input in order (e.g. --x params tokens); for laws of nested inputs, "
                        "those of the law with the most (--x params tokens unique_tokens for chinchilla and "
                        "data_constrained)")
    p.add_argument("--y", required=True, metavar="COL", help="metric column")
    p.add_argument("--where", nargs="+", action="extend", default=[], metavar="COL=VALUE",
                   help="use only rows whose column equals the value (e.g. --where split=fit); reported")
    p.add_argument("--laws", default="power_law_offset,bnsl1",
                   help="comma-separated law names whose inputs nest in one law's (default power_law_offset,bnsl1)")
    p.add_argument("--baseline", default=BASELINE, help=f"unbroken law for the verdict (default {BASELINE})")
    p.add_argument("--lfo-k", type=integer("--lfo-k", 1), default=None, metavar="K",
                   help="distinct scales held out by leave-future-out, the largest K (>= 1; default "
                        "min(3, max(1, round(0.2 m))) of m distinct scales)")
    p.add_argument("--no-lfo", action="store_true", help="skip leave-future-out")
    p.add_argument("--max-refits", type=integer("--max-refits", 0), default=MAX_REFITS, metavar="N",
                   help=f"most exact LOO refits per law, for points of high Pareto k (>= 0; default {MAX_REFITS})")
    p.add_argument("--target", nargs="+", action="extend", type=positive_number("target scale"), default=[], metavar="X",
                   help="forecast at these scales (one-input laws) from the stacked mixture of the laws "
                        "(recommended) and from the recommended single law")
    p.add_argument("--target-input", nargs="+", action="extend", default=[], metavar="N=..,D=..",
                   help="forecast targets for laws of several inputs, e.g. N=1e10,D=2e11")
    add_prob_arg(p, f"forecast intervals (the break verdict uses its rule's {VERDICT_PROB * 100:g}%%)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    add_sampling_args(p)
    p.set_defaults(handler=_cmd_compare)
