"""``bayescale allocate`` and ``bayescale isoflop``."""

from __future__ import annotations

import json
import sys
import warnings

import pandas as pd

from ..errors import DataError
from ..inference.allocation import optimal_allocation
from ..inference.fit import load
from ..present.text import print_allocation
from ..spec.isoflop import isoflop_data
from .args import add_prob_arg, positive_number

__all__ = ["register"]


def _cmd_allocate(a) -> int:
    f = load(a.fit)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        alloc = optimal_allocation(f, compute=a.compute, prob=a.prob,
                                   flops_per_token_param=a.flops_per_token_param,
                                   inputs=tuple(a.inputs) if a.inputs else None)
    if a.json:
        print(json.dumps({
            "law": f.law.name,
            "method": alloc.method,
            "flops_per_token_param": alloc.flops_per_token_param,
            "diagnostics": f.diagnostics().to_dict(),
            "allocations": alloc.to_records(),
            "warnings": [str(w.message) for w in caught],
        }))
    else:
        print_allocation(f, alloc)
        for w in caught:
            print(f"warning: {w.message}")
    return 0


def _cmd_isoflop(a) -> int:
    try:
        frame = pd.read_csv(a.data)
    except FileNotFoundError:
        raise DataError(f"data file {a.data!r} not found; check the path") from None
    out = isoflop_data(frame, compute=a.compute, params=a.params, tokens=a.tokens,
                       flops_per_token_param=a.flops_per_token_param, warn=False)  # said on the next line
    print(f"note: derived column {out.attrs['derived']['formula']}", file=sys.stderr)
    out.to_csv(a.out, index=False)
    print(f"saved: {a.out} ({len(out)} rows)", file=sys.stderr)
    return 0


def register(sub) -> None:
    """Add ``bayescale allocate`` and ``bayescale isoflop`` (neither samples, so no sampling options)."""
    p = sub.add_parser("allocate", help="compute-optimal N and D at given budgets from a saved two-input fit",
                       epilog="example:\n  bayescale fit chinchilla.csv --x params tokens --y loss --law chinchilla "
                              "--out chin.nc\n  bayescale allocate chin.nc --compute 1e21 1e23 5.76e23 --json")
    p.add_argument("fit", help="netCDF file written by 'bayescale fit --out' (a law of N and D)")
    _positive = positive_number("number of FLOPs")
    p.add_argument("--compute", nargs="+", action="extend", type=_positive, required=True, metavar="C",
                   help="budgets in FLOPs, e.g. --compute 1e21 1e23 1e25")
    add_prob_arg(p, "allocation intervals")
    p.add_argument("--flops-per-token-param", type=_positive, default=6.0,
                   help="k in C = k N D (default 6)")
    p.add_argument("--inputs", nargs=2, metavar=("N", "D"), default=None,
                   help="which law inputs are model size and tokens (default: the law's order)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(handler=_cmd_allocate)

    q = sub.add_parser("isoflop", help="derive tokens (or params) of IsoFLOP runs from C = 6 N D",
                       epilog="example:\n  bayescale isoflop runs.csv --compute flops --params params --out runs_nd.csv")
    q.add_argument("data", help="CSV file with a header row")
    q.add_argument("--compute", required=True, metavar="COL", help="column of budgets C (FLOPs)")
    g = q.add_mutually_exclusive_group(required=True)
    g.add_argument("--params", metavar="COL", help="column of model sizes N (derives tokens_derived)")
    g.add_argument("--tokens", metavar="COL", help="column of token counts D (derives params_derived)")
    q.add_argument("--flops-per-token-param", type=_positive, default=6.0, help="k in C = k N D (default 6)")
    q.add_argument("--out", required=True, help="CSV file to write")
    q.set_defaults(handler=_cmd_isoflop)
