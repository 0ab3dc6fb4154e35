"""``bayescale compare``: fit several laws, score them, and answer "is the break real?"."""

from __future__ import annotations

import json

from ..evaluate.compare import compare
from ..evaluate.loo import MAX_REFITS
from ..evaluate.verdict import BASELINE
from ..present.text import print_comparison, print_forecast
from ..spec.laws import get_law
from .args import add_sampling_args, parse_where, positive_number
from .args import targets as parse_targets

__all__ = ["register"]


def _cmd_compare(a) -> int:
    laws = [s.strip() for s in a.laws.split(",") if s.strip()]
    for nm in laws:
        get_law(nm)
    c = compare(a.data, laws=laws, x=a.x, y=a.y, where=parse_where(a.where) or None, priors=dict(a.prior) or None, likelihood=a.likelihood,
                draws=a.draws, tune=a.tune, chains=a.chains, cores=a.cores, target_accept=a.target_accept,
                sampler=a.sampler, seed=a.seed, lfo=not a.no_lfo, lfo_k=a.lfo_k, max_refits=a.max_refits,
                baseline=a.baseline)
    out = c.to_dict()
    fcs = {}
    if a.target:
        x = parse_targets(next(iter(c.fits.values())).law, a.target)
        fcs = {"stacked": c.forecast(x=x, prob=a.prob)}
        if c.recommended:
            fcs[f"recommended ({c.recommended})"] = c.fits[c.recommended].forecast(x=x, prob=a.prob)
        out["weights"] = c.weights
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
    p = sub.add_parser("compare", help="compare laws by LOO and leave-future-out; is the break real?")
    p.add_argument("data", help="CSV file with a header row")
    p.add_argument("--x", required=True, metavar="COL", help="scale column")
    p.add_argument("--y", required=True, metavar="COL", help="metric column")
    p.add_argument("--where", nargs="+", default=[], metavar="COL=VALUE",
                   help="use only rows whose column equals the value (e.g. --where split=fit); reported")
    p.add_argument("--laws", default="power_law_offset,bnsl1",
                   help="comma-separated law names (default power_law_offset,bnsl1)")
    p.add_argument("--baseline", default=BASELINE, help=f"unbroken law for the verdict (default {BASELINE})")
    p.add_argument("--lfo-k", type=int, default=None, help="largest distinct scales held out by LFO")
    p.add_argument("--no-lfo", action="store_true", help="skip leave-future-out")
    p.add_argument("--max-refits", type=int, default=MAX_REFITS,
                   help=f"exact LOO refits per law for high Pareto k (default {MAX_REFITS})")
    p.add_argument("--target", nargs="+", type=positive_number("target scale"), default=[], metavar="X",
                   help="forecast at these scales from the stacked mixture of the laws (recommended) and from the "
                        "recommended single law")
    p.add_argument("--prob", type=float, default=0.9, help="forecast interval probability (default 0.9)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    add_sampling_args(p)
    p.set_defaults(handler=_cmd_compare)
