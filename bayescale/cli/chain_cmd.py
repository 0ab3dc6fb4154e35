"""``bayescale forecast FIRST.nc --then SECOND.nc --at X``: a downstream metric through a forecast loss."""

from __future__ import annotations

import json

from ..errors import BayescaleError
from ..inference.chain import chain, check_chain
from ..inference.fit import load
from ..present.chain_text import chain_report, print_chain
from .args import parse_input_targets
from .args import targets as parse_targets

__all__ = ["run"]


def run(a) -> int:
    """Checks (one line, exit 2, before any work), then the chained forecast as a table or JSON."""
    if a.reach is not None or a.by or a.along or a.tokens_per_param is not None or a.direction:
        raise BayescaleError("--then chains forward forecasts: give --at (or --at-input), not --reach/--by")
    if a.at and a.at_input:
        raise BayescaleError("give targets with --at or --at-input, not both")
    if not (a.at or a.at_input):
        raise BayescaleError("give the first fit's target scales with --at X ... (or --at-input N=..,D=..)")
    first, second = load(a.fit), load(a.then)
    check_chain(first, second)
    targets = (parse_targets(first.law, a.at, flag="--at-input") if a.at
               else parse_input_targets(first.law, a.at_input))
    c = chain(first, second, x=targets, prob=a.prob, seed=a.seed)
    if a.json:
        print(json.dumps(chain_report(first, second, c)))
    else:
        print_chain(first, second, c)
    return 0
