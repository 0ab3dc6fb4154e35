"""Command-line interface: ``bayescale fit | forecast | laws | demo | compare | report | priors | allocate
| isoflop | design``.

Every bad input ends in a one-line ``error: ...`` on standard error and exit
status 2, never a traceback; arguments are checked before any sampling.
``--json`` prints one JSON object on standard output with the keys ``law``,
``parameters``, ``diagnostics`` (with a boolean ``ok``) and ``forecasts``.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Sequence

from .._version import __version__
from ..errors import BayescaleError
from ..evaluate.many import fit_many
from ..inference.fit import fit, load
from ..present.text import fit_report, print_fit, print_groups, print_reach
from ..simulate import simulate
from ..spec.laws import get_law, list_laws
from . import allocate_cmd, chain_cmd, compare_cmd, design_cmd, report_cmd
from .args import (DEFAULT_PROB, EXIT_BAD_INPUT, Parser, _positive_float, add_prob_arg, add_sampling_args,
                   integer, parse_input_targets, parse_where, positive_number, seed, targets_of, trials_arg,
                   chance_level)
from .args import targets as parse_targets

__all__ = ["main", "build_parser"]

_FIT_EXAMPLES = """examples:
  bayescale fit runs.csv --x train_dataset_size --y test_cross_entropy --law bnsl1 --where split=fit \\
      --target 800 864 928 --out bnsl.nc
  bayescale fit chinchilla.csv --x params tokens --y loss --law chinchilla --target-input N=7e10,D=1.4e12
  bayescale fit mmlu.csv --x compute --y accuracy --law sigmoid_floor --likelihood binomial --trials 14042 \
      --floor 0.25 --target 1e25
"""
_FORECAST_EXAMPLES = """examples:
  bayescale forecast bnsl.nc --at 1000 2000 --json
  bayescale forecast chin.nc --at-input N=7e10,D=1.4e12 --prob 0.5
  bayescale forecast bnsl.nc --reach 2.1 --by 1e4 1e5 --json     # scale at which the law reaches 2.1
  bayescale forecast chin.nc --reach 2.0 --tokens-per-param 20     # compute C = 6ND to reach loss 2.0
  bayescale forecast loss.nc --then acc.nc --at 1e23 1e24 --json  # accuracy through the forecast loss
"""


def build_parser() -> argparse.ArgumentParser:
    p = Parser(prog="bayescale", description="Bayesian neural scaling laws: fit, forecast, compare.",
               epilog="run 'bayescale COMMAND --help' for a command's options and examples")
    p.add_argument("--version", action="version", version=f"bayescale {__version__}")
    sub = p.add_subparsers(dest="cmd", metavar="COMMAND", parser_class=Parser)

    f = sub.add_parser("fit", help="fit a law to a CSV file", epilog=_FIT_EXAMPLES,
                       description="Fit a scaling law by NUTS; print parameters, diagnostics and forecasts.")
    f.add_argument("data", help="CSV file with a header row")
    f.add_argument("--x", nargs="+", required=True, metavar="COL",
                   help="scale column(s), one per law input in order (e.g. --x params tokens)")
    f.add_argument("--y", required=True, metavar="COL", help="metric column")
    f.add_argument("--law", required=True, help="law name (see 'bayescale laws') or a .toml law file")
    f.add_argument("--target", nargs="+", action="extend", type=_positive_float, default=[], metavar="X",
                   help="forecast at these scales (one-input laws)")
    f.add_argument("--target-input", nargs="+", action="extend", default=[], metavar="N=..,D=..",
                   help="forecast targets for laws of several inputs, e.g. N=1e10,D=2e11")
    add_prob_arg(f, "parameter and forecast intervals")
    f.add_argument("--where", nargs="+", action="extend", default=[], metavar="COL=VALUE",
                   help="use only rows whose column equals the value (e.g. --where split=fit); reported")
    f.add_argument("--out", help="save the fit to this netCDF file (with --group: a folder for every group's "
                                 "fit and results.jsonl)")
    f.add_argument("--json", action="store_true", help="print one JSON object (with --group: one per group)")
    g = f.add_argument_group("many curves (one fit per group, on Dask)")
    g.add_argument("--group", nargs="+", metavar="COL", help="fit the law to each group of rows with equal values "
                                                             "in these columns; prints one row per group")
    g.add_argument("--resume", action="store_true", help="with --group and --out: skip groups already in OUT")
    g.add_argument("--scheduler", metavar="ADDRESS",
                   help="an existing Dask scheduler, e.g. tcp://127.0.0.1:8786 (default: a local cluster)")
    g.add_argument("--workers", type=integer("--workers", 1), default=None,
                   help="worker processes of the local cluster (default min(4, CPUs))")
    add_sampling_args(f)
    b = f.add_argument_group("bounded metrics (accuracy in [0, 1])")
    b.add_argument("--trials", type=trials_arg, default=None, metavar="N|COL",
                   help="items per observation for --likelihood binomial: a whole number or a column; the metric is "
                        "the fraction right")
    b.add_argument("--floor", type=chance_level, default=None, metavar="P",
                   help="known chance level of laws with a floor (sigmoid_floor, bnsl1_error), e.g. 0.25 for 4-way "
                        "multiple choice; fixes it (as --prior floor=P); without it the law's prior applies")
    f.set_defaults(handler=_cmd_fit)

    fc = sub.add_parser("forecast", help="forecast from a saved fit", epilog=_FORECAST_EXAMPLES,
                        description="Forecast the expected value and a new observation from a saved fit.")
    fc.add_argument("fit", help="netCDF file written by 'bayescale fit --out'")
    fc.add_argument("--at", nargs="+", action="extend", type=_positive_float, default=[], metavar="X",
                    help="target scales (one-input laws)")
    fc.add_argument("--at-input", nargs="+", action="extend", default=[], metavar="N=..,D=..",
                    help="targets for laws of several inputs, e.g. N=1e10,D=2e11")
    add_prob_arg(fc, "parameter and forecast intervals")
    fc.add_argument("--seed", type=seed, default=None, help="seed of new-observation draws (default: the fit's seed)")
    fc.add_argument("--json", action="store_true", help="print one JSON object")
    fc.add_argument("--then", metavar="SECOND.nc", default=None,
                    help="chain: a saved fit of loss -> downstream metric (one input, this fit's metric); "
                         "forecast that metric at the targets through this fit's forecast loss")
    r = fc.add_argument_group("inverse forecast (instead of --at / --at-input)")
    r.add_argument("--reach", type=positive_number("--reach target"), default=None, metavar="TARGET",
                   help="the scale at which the law's expected value reaches TARGET (e.g. a loss), per draw; "
                        "for laws of N and D the compute C = 6ND")
    r.add_argument("--by", nargs="+", action="extend", type=positive_number("--by scale"), default=[], metavar="X",
                   help="with --reach: the probability that scale X (compute C for N-D laws) has reached it")
    way = r.add_mutually_exclusive_group()
    way.add_argument("--along", choices=["frontier"], default=None,
                     help="N-D laws: along the compute-optimal frontier (the default)")
    way.add_argument("--tokens-per-param", type=positive_number("--tokens-per-param"), default=None, metavar="R",
                     help="N-D laws: at a fixed ratio D = R N instead of the frontier")
    r.add_argument("--direction", choices=["down", "up"], default=None,
                   help="reach the target by falling (loss) or rising (accuracy); default: detected")
    fc.set_defaults(handler=_cmd_forecast)

    sub.add_parser("laws", help="list the law catalogue",
                   description="List every law in the catalogue with its formula, inputs and parameters.",
                   epilog="example:\n  bayescale laws\n  bayescale priors bnsl1     # one law's priors and why"
                   ).set_defaults(handler=_cmd_laws)

    d = sub.add_parser("demo", help="simulate a dataset, fit it, forecast and print the result",
                       epilog="example:\n  bayescale demo --seed 3 --json")
    d.add_argument("--seed", type=seed, default=0, help="seed of the simulation and the fit (default 0)")
    d.add_argument("--json", action="store_true", help="print one JSON object")
    d.set_defaults(handler=_cmd_demo)

    for m in (compare_cmd, allocate_cmd, report_cmd, design_cmd):  # each adds its parsers and sets `handler`
        m.register(sub)
    return p


def _cmd_fit(a) -> int:
    law = get_law(a.law)
    where = parse_where(a.where)
    targets = targets_of(law, a.target, a.target_input)
    if a.group:
        if a.trials is not None or a.floor is not None:
            raise BayescaleError("--trials and --floor apply to single fits; for grouped fits give the chance level "
                                 "as --prior floor=P")
        return _fit_groups(a, law, where, targets)
    if a.resume or a.scheduler or a.workers:
        raise BayescaleError("--resume, --scheduler and --workers apply to grouped fits: add --group COL")
    f = fit(a.data, law=law, x=a.x, y=a.y, priors=dict(a.prior), likelihood=a.likelihood, where=where or None,
            draws=a.draws, tune=a.tune, chains=a.chains, cores=a.cores,
            target_accept=a.target_accept, sampler=a.sampler, seed=a.seed, trials=a.trials, floor=a.floor,
            progressbar=None if not a.json else sys.stderr.isatty())
    fc = f.forecast(x=targets, prob=a.prob) if targets is not None else None
    if a.out:
        f.save(a.out)
    if a.json:
        rep = fit_report(f, fc, prob=a.prob)
        if a.out:
            rep["saved"] = a.out
        print(json.dumps(rep))
    else:
        print_fit(f, fc, prob=a.prob)
        if a.out:
            print(f"\nsaved: {a.out}")
    return 0


def _fit_groups(a, law, where, targets) -> int:
    if a.resume and not a.out:
        raise BayescaleError("--resume needs --out DIR, the folder of the earlier run")
    res = fit_many(a.data, group=a.group if len(a.group) > 1 else a.group[0], law=a.law, x=a.x if len(a.x) > 1
                   else a.x[0], y=a.y, where=where or None, targets=targets, prob=a.prob, out=a.out, resume=a.resume,
                   scheduler=a.scheduler, n_workers=a.workers, priors=dict(a.prior), likelihood=a.likelihood,
                   draws=a.draws, tune=a.tune, chains=a.chains, cores=a.cores or 1, target_accept=a.target_accept,
                   sampler=a.sampler, seed=a.seed)
    if a.json:
        for rec in res.records:
            print(json.dumps(rec, default=float))
    else:
        print_groups(res.table, prob=a.prob)
        if a.out:
            print(f"\nsaved: {a.out} (results.jsonl and fits/)")
    return 0


def _cmd_forecast(a) -> int:
    if a.then is not None:
        return chain_cmd.run(a)
    if a.reach is None and (a.by or a.along or a.tokens_per_param is not None or a.direction):
        raise BayescaleError("--by, --along, --tokens-per-param and --direction go with --reach TARGET")
    if a.reach is not None and (a.at or a.at_input):
        raise BayescaleError("give --reach TARGET or target scales (--at, --at-input), not both")
    f = load(a.fit)
    if a.reach is not None:
        return _forecast_reach(f, a)
    if a.at and a.at_input:
        raise BayescaleError("give targets with --at or --at-input, not both")
    if a.at:
        targets = parse_targets(f.law, a.at, flag="--at-input")
    elif a.at_input:
        targets = parse_input_targets(f.law, a.at_input)
    else:
        raise BayescaleError("give target scales with --at X ... (or --at-input N=..,D=.. for two-input laws), "
                             "or --reach TARGET")
    fc = f.forecast(x=targets, prob=a.prob, seed=a.seed)
    if a.json:
        print(json.dumps(fit_report(f, fc, prob=a.prob)))
    else:
        print_fit(f, fc, prob=a.prob)
    return 0


def _forecast_reach(f, a) -> int:
    """``bayescale forecast FIT --reach TARGET``: options checked against the law before any work."""
    if len(f.law.inputs) == 1 and (a.along or a.tokens_per_param is not None):
        raise BayescaleError(f"--along and --tokens-per-param apply to laws of two inputs (N, D); law "
                             f"{f.law.name!r} has one input, {f.law.inputs[0]}: give --reach and --by only")
    if len(f.law.inputs) > 2:
        raise BayescaleError(f"--reach needs a law of one input or of two (N, D); law {f.law.name!r} has "
                             f"{', '.join(f.law.inputs)}")
    r = f.reach(target=a.reach, prob=a.prob, by=a.by or None, tokens_per_param=a.tokens_per_param,
                increasing=None if a.direction is None else a.direction == "up")
    if a.json:
        rep = fit_report(f, None, prob=a.prob)
        rep["reach"] = r.to_dict()
        print(json.dumps(rep))
    else:
        print_fit(f, None, prob=a.prob)
        print_reach(r)
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
    fc = f.forecast(x=[10 * xmax, 100 * xmax], prob=DEFAULT_PROB, seed=a.seed)
    if a.json:
        rep = fit_report(f, fc, prob=DEFAULT_PROB)
        rep["truth"] = truth
        print(json.dumps(rep))
    else:
        print_fit(f, fc, prob=DEFAULT_PROB)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``bayescale`` command."""
    parser = build_parser()
    try:
        args, extra = parser.parse_known_args(argv)
        if args.cmd is None:
            parser.print_usage(sys.stderr)
            print("error: give a command, e.g. 'bayescale fit DATA.csv --x COL --y COL --law LAW' "
                  "(see 'bayescale --help')", file=sys.stderr)
            return EXIT_BAD_INPUT
        if extra:  # report it against the sub-command, whose help lists its options
            sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
            sub.choices[args.cmd].error(f"unrecognized arguments: {' '.join(extra)}")
    except SystemExit as exc:  # argparse: --help/--version (0) or a usage error (2, already printed)
        return int(exc.code or 0)
    try:
        return args.handler(args)
    except BayescaleError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
