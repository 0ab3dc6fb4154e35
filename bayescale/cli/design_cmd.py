"""``bayescale design``: which run to do next to shrink the forecast's interval at a target, per unit cost."""

from __future__ import annotations

import json

from ..errors import BayescaleError
from ..inference.design import OUTCOMES
from ..inference.fit import load, refit
from ..present.design_text import print_design
from .args import add_prob_arg, integer, parse_input_targets, seed

__all__ = ["register"]

_EXAMPLES = """examples:
  bayescale design bnsl.nc --target 1e6 --candidates 2e4 5e4 1e5 3e5
  bayescale design chin.nc --target N=7e10,D=1.4e12 --candidates N=1e9,D=2e10 N=4e9,D=8e10 --json
  bayescale design bnsl.nc --target 1e6 --candidates 2e4 1e5 --cost 'x^1.1' --outcomes 128

For each candidate run, results are simulated from the posterior predictive (--outcomes of them,
seeded), the posterior draws are reweighted by each simulated result's likelihood (Pareto-smoothed
importance sampling; Pareto k > 0.7 is flagged, or refitted exactly with --refit), and the width of the
--prob interval of the law's expected value at the target is measured, with the extrapolation
uncertainty recomputed for the fitted range that includes the candidate.  Candidates are ranked by the
expected reduction of that width per unit cost.  The default cost is the candidate's scale (compute
6*N*D for laws of N and D); --cost takes a formula in the law's inputs (or their column names).
"""


def _points(law, items, what: str) -> dict[str, list[float]]:
    """Scales from the command line: numbers for a one-input law, NAME=VALUE,... for any law."""
    names = list(law.inputs)
    bare = [it for it in items if "=" not in it]
    if bare and len(names) != 1:
        raise BayescaleError(f"law {law.name!r} has inputs {', '.join(names)}: give each {what} as "
                             + ",".join(f"{k}=VALUE" for k in names) + f", not {bare[0]!r}")
    return parse_input_targets(law, [it if "=" in it else f"{names[0]}={it}" for it in items], what=what)


def _cmd_design(a) -> int:
    f = load(a.fit)
    target = _points(f.law, [a.target], "target")
    cands = _points(f.law, a.candidates, "candidate")
    if a.max_refits is not None and not a.refit:
        raise BayescaleError("--max-refits goes with --refit")
    # design() checks the target, the candidates and the cost before simulating or refitting anything
    d = f.design(target=target, candidates=cands, cost=a.cost, prob=a.prob, seed=a.seed, outcomes=a.outcomes,
                 refit=refit if a.refit else None, max_refits=a.max_refits)
    if a.json:
        rep = d.to_dict()
        rep["diagnostics"] = f.diagnostics().to_dict()
        print(json.dumps(rep))
    else:
        print_design(f, d)
    return 0


def register(sub) -> None:
    """Add ``bayescale design``."""
    p = sub.add_parser("design", help="rank candidate runs by how much they would shrink a forecast's interval",
                       epilog=_EXAMPLES,
                       description="Which run next: the expected reduction of the target forecast's interval "
                                   "width for each candidate run, per unit cost, ranked (from a saved fit).")
    p.add_argument("fit", help="netCDF file written by 'bayescale fit --out'")
    p.add_argument("--target", required=True, metavar="X",
                   help="the forecast target: a scale, or N=..,D=.. for laws of several inputs")
    p.add_argument("--candidates", nargs="+", action="extend", required=True, metavar="X",
                   help="candidate runs: scales, or N=..,D=.. each for laws of several inputs")
    p.add_argument("--cost", default=None, metavar="FORMULA",
                   help="cost of a run as a formula in the law's inputs or their columns, e.g. 'N*D' or 'x^1.2' "
                        "(default: the scale x, or 6*N*D for laws of N and D)")
    add_prob_arg(p, "target intervals whose width is reduced")
    p.add_argument("--seed", type=seed, default=None,
                   help="seed of the simulated outcomes (default: the fit's seed); the same seed, the same ranking")
    p.add_argument("--outcomes", type=integer("--outcomes", 2), default=OUTCOMES,
                   help=f"simulated results per candidate (default {OUTCOMES})")
    p.add_argument("--refit", action="store_true",
                   help="refit exactly (NUTS, the fit's settings) each simulated outcome whose Pareto k > 0.7 "
                        "instead of flagging it (slow)")
    p.add_argument("--max-refits", type=integer("--max-refits", 0), default=None,
                   help="with --refit: at most this many refits per candidate (default: every flagged outcome)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(handler=_cmd_design)
