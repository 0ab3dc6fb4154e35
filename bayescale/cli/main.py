"""Command-line interface: ``bayescale fit | forecast | laws | demo | compare | report | priors | allocate
| isoflop``.

Every bad input ends in a one-line ``error: ...`` on standard error and exit
status 2, never a traceback.  ``--json`` prints one JSON object on standard
output with the keys ``law``, ``parameters``, ``diagnostics`` (with a boolean
``ok``) and ``forecasts``.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Sequence

from ..errors import BayescaleError
from ..inference.fit import fit, load
from ..present.text import fit_report, print_fit
from ..simulate import simulate
from ..spec.laws import get_law, list_laws
from . import allocate_cmd, compare_cmd, report_cmd
from .args import EXIT_BAD_INPUT, Parser, _positive_float, add_sampling_args, parse_input_targets, parse_where
from .args import targets as parse_targets

__all__ = ["main", "build_parser"]


def build_parser() -> argparse.ArgumentParser:
    p = Parser(prog="bayescale", description="Bayesian neural scaling laws: fit, forecast, compare.")
    sub = p.add_subparsers(dest="cmd", required=True, parser_class=Parser)

    f = sub.add_parser("fit", help="fit a law to a CSV file")
    f.add_argument("data", help="CSV file with a header row")
    f.add_argument("--x", nargs="+", required=True, metavar="COL",
                   help="scale column(s), one per law input in order (e.g. --x params tokens)")
    f.add_argument("--y", required=True, metavar="COL", help="metric column")
    f.add_argument("--law", required=True, help="law name (see 'bayescale laws') or a .toml law file")
    f.add_argument("--target", nargs="+", type=_positive_float, default=[], metavar="X",
                   help="forecast at these scales (one-input laws)")
    f.add_argument("--target-input", nargs="+", default=[], metavar="N=..,D=..",
                   help="forecast targets for laws of several inputs, e.g. N=1e10,D=2e11")
    f.add_argument("--prob", type=float, default=0.9, help="forecast interval probability (default 0.9)")
    f.add_argument("--where", nargs="+", default=[], metavar="COL=VALUE",
                   help="use only rows whose column equals the value (e.g. --where split=fit); reported")
    f.add_argument("--out", help="save the fit to this netCDF file")
    f.add_argument("--json", action="store_true", help="print one JSON object")
    add_sampling_args(f)
    f.set_defaults(handler=_cmd_fit)

    fc = sub.add_parser("forecast", help="forecast from a saved fit")
    fc.add_argument("fit", help="netCDF file written by 'bayescale fit --out'")
    fc.add_argument("--at", nargs="+", type=_positive_float, default=[], metavar="X",
                    help="target scales (one-input laws)")
    fc.add_argument("--at-input", nargs="+", default=[], metavar="N=..,D=..",
                    help="targets for laws of several inputs, e.g. N=1e10,D=2e11")
    fc.add_argument("--prob", type=float, default=0.9)
    fc.add_argument("--seed", type=int, default=None, help="seed of new-observation draws (default: the fit's seed)")
    fc.add_argument("--json", action="store_true")
    fc.set_defaults(handler=_cmd_forecast)

    sub.add_parser("laws", help="list the law catalogue").set_defaults(handler=_cmd_laws)

    d = sub.add_parser("demo", help="simulate a dataset, fit it, forecast and print the result")
    d.add_argument("--seed", type=int, default=0)
    d.add_argument("--json", action="store_true")
    d.set_defaults(handler=_cmd_demo)

    for m in (compare_cmd, allocate_cmd, report_cmd):  # each adds its parsers and sets `handler`
        m.register(sub)
    return p


def _cmd_fit(a) -> int:
    law = get_law(a.law)
    where = parse_where(a.where)
    f = fit(a.data, law=law, x=a.x, y=a.y, priors=dict(a.prior), likelihood=a.likelihood, where=where or None,
            draws=a.draws, tune=a.tune, chains=a.chains, cores=a.cores,
            target_accept=a.target_accept, sampler=a.sampler, seed=a.seed,
            progressbar=None if not a.json else sys.stderr.isatty())
    targets = parse_targets(law, a.target) if a.target else (
        parse_input_targets(law, a.target_input) if a.target_input else None)
    fc = f.forecast(x=targets, prob=a.prob) if targets is not None else None
    if a.out:
        f.save(a.out)
    if a.json:
        rep = fit_report(f, fc)
        if a.out:
            rep["saved"] = a.out
        print(json.dumps(rep))
    else:
        print_fit(f, fc)
        if a.out:
            print(f"\nsaved: {a.out}")
    return 0


def _cmd_forecast(a) -> int:
    f = load(a.fit)
    if a.at:
        targets = parse_targets(f.law, a.at)
    elif a.at_input:
        targets = parse_input_targets(f.law, a.at_input)
    else:
        raise BayescaleError("give target scales with --at X ... (or --at-input N=..,D=.. for two-input laws)")
    fc = f.forecast(x=targets, prob=a.prob, seed=a.seed)
    if a.json:
        print(json.dumps(fit_report(f, fc)))
    else:
        print_fit(f, fc)
    return 0


def _cmd_laws(a) -> int:
    for law in list_laws():
        print(f"{law.name:<18} {law.display or law.formula.text}")
        print(f"{'':<18} inputs: {', '.join(law.inputs)}; parameters: {', '.join(law.param_names)}")
    return 0


def _cmd_demo(a) -> int:
    law = "power_law_offset"
    df = simulate(law=law, seed=a.seed, noise=0.02)
    truth = df.attrs["params"]
    if not a.json:
        print(f"demo: {len(df)} simulated runs from {law} with E={truth['E']}, alpha={truth['alpha']}, "
              f"A={truth['A']} and 2% noise (seed {a.seed}); fitting by NUTS...")
    f = fit(df, law=law, x="x", y="y", seed=a.seed, progressbar=None if not a.json else False)
    xmax = float(df["x"].max())
    fc = f.forecast(x=[10 * xmax, 100 * xmax], prob=0.9, seed=a.seed)
    if a.json:
        rep = fit_report(f, fc)
        rep["truth"] = truth
        print(json.dumps(rep))
    else:
        print_fit(f, fc)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``bayescale`` command."""
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exc:  # argparse: --help (0) or a usage error (2, already printed)
        return int(exc.code or 0)
    try:
        return args.handler(args)
    except BayescaleError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


