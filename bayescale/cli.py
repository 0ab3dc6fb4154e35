"""Command-line interface: ``bayescale fit | forecast | laws | demo``.

Every bad input ends in a one-line ``error: ...`` on standard error and exit
status 2, never a traceback.  ``--json`` prints one JSON object on standard
output with the keys ``law``, ``parameters``, ``diagnostics`` (with a boolean
``ok``) and ``forecasts``.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from typing import Any, Sequence

from .errors import BayescaleError

EXIT_BAD_INPUT = 2

#: Modules that add sub-commands (``register_cli``); see :func:`build_parser`.
COMMAND_MODULES = ("bayescale.compare", "bayescale.allocation", "bayescale.report")


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line, exit 2, like every other bad input
        print(f"error: {message} (see '{self.prog} --help')", file=sys.stderr)
        raise SystemExit(EXIT_BAD_INPUT)


def positive_number(what: str):
    """An argparse ``type`` accepting one finite number > 0; errors name ``what``."""

    def parse(text: str) -> float:
        try:
            v = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
        if not math.isfinite(v) or v <= 0:
            raise argparse.ArgumentTypeError(f"{what} {text!r} must be a positive number")
        return v

    return parse


_positive_float = positive_number("target scale")


def _prior_pair(text: str) -> tuple[str, str]:
    name, sep, prior = text.partition("=")
    if not sep or not name.strip() or not prior.strip():
        raise argparse.ArgumentTypeError(f"{text!r} is not NAME=PRIOR, e.g. alpha='Normal(mu=0.3, sigma=0.1)'")
    return name.strip(), prior.strip()


def _fmt(v: float) -> str:
    return f"{v:.4g}"


def _targets(law, values: Sequence[float] | None) -> Any:
    """Targets from --at/--target: plain numbers for a one-input law, NAME=VALUE,... for several."""
    if not values:
        return None
    if len(law.inputs) == 1:
        return [float(v) for v in values]
    raise BayescaleError(
        f"law {law.name!r} has inputs {', '.join(law.inputs)}: give targets as --at-input "
        + " ".join(f"{k}=VALUE" for k in law.inputs)
    )


def _parse_input_targets(law, items: Sequence[str]) -> dict[str, list[float]]:
    out: dict[str, list[float]] = {k: [] for k in law.inputs}
    for it in items:
        parts = dict(p.split("=", 1) for p in it.split(",") if "=" in p)
        if set(parts) != set(law.inputs):
            raise BayescaleError(
                f"target {it!r} must give every input of law {law.name!r} as "
                + ",".join(f"{k}=VALUE" for k in law.inputs)
            )
        for k in law.inputs:
            try:
                out[k].append(_positive_float(parts[k]))
            except argparse.ArgumentTypeError as exc:
                raise BayescaleError(f"{k}: {exc}") from None
    return out


def fit_report(fit, forecast=None) -> dict[str, Any]:
    """The JSON object of ``bayescale fit --json``."""
    s = fit.summary(prob=0.94)
    diag = s.attrs["diagnostics"]
    params = {}
    for name, row in s.iterrows():
        params[name] = {
            "mean": float(row["mean"]),
            "median": float(row["median"]),
            "sd": float(row["sd"]),
            "lower": float(row[_ci_cols(s)[0]]),
            "upper": float(row[_ci_cols(s)[1]]),
            "prob": 0.94,
            "r_hat": float(row["r_hat"]),
            "ess_bulk": float(row["ess_bulk"]),
            "ess_tail": float(row["ess_tail"]),
        }
    return {
        "law": fit.law.name,
        "likelihood": fit.settings["likelihood"],
        "sampler": fit.settings["sampler_ran"],
        "n_obs": fit.data.n,
        "data": fit.data.source,
        "remedy": fit.settings.get("remedy"),
        "parameters": params,
        "diagnostics": diag.to_dict(),
        "forecasts": forecast.to_records() if forecast is not None else [],
    }


def _ci_cols(s) -> tuple[str, str]:
    cols = [c for c in s.columns if c.startswith(("eti", "hdi"))]
    return cols[0], cols[1]


def _print_fit(fit, forecast=None) -> None:
    s = fit.summary(prob=0.94)
    diag = s.attrs["diagnostics"]
    lo, hi = _ci_cols(s)
    print(f"law: {fit.law.name}    likelihood: {fit.settings['likelihood']}    "
          f"sampler: {fit.settings['sampler_ran']}    observations: {fit.data.n}")
    print(f"data: {fit.data.source}")
    if fit.settings.get("remedy"):
        print(f"remedy applied: {fit.settings['remedy']}")
    print(f"\n{'parameter':<10} {'median':>11} {'94% lower':>11} {'94% upper':>11} {'r_hat':>7} {'ess_bulk':>9}")
    for name, r in s.iterrows():
        print(f"{name:<10} {_fmt(r['median']):>11} {_fmt(r[lo]):>11} {_fmt(r[hi]):>11} "
              f"{r['r_hat']:>7.3f} {r['ess_bulk']:>9.0f}")
    print(f"\ndivergences: {diag.divergences}    max r_hat: {diag.max_rhat:.3f}    "
          f"min ess bulk/tail: {diag.min_ess_bulk:.0f}/{diag.min_ess_tail:.0f}")
    print_diagnostics(diag)
    if forecast is not None:
        _print_forecast(forecast)


def print_diagnostics(diag, lead: str = "") -> None:
    """Print the verdict of :class:`bayescale.fit.Diagnostics` and each failed check."""
    if diag.ok:
        print(f"{lead}diagnostics: ok")
    else:
        print(f"{lead}diagnostics: NOT OK - do not rely on these numbers:")
        for p in diag.problems:
            print(f"  - {p}")


def _print_forecast(fc) -> None:
    t = fc.table()
    pct = f"{fc.prob * 100:g}%"
    names = list(fc.inputs)
    print(f"\nforecast ({pct} intervals; 'law' = expected value, 'new obs' = a new observation)")
    head = " ".join(f"{n:>11}" for n in names)
    print(f"{head} {'law median':>11} {'law lower':>11} {'law upper':>11} {'obs lower':>11} {'obs upper':>11}")
    for _, r in t.iterrows():
        xs = " ".join(f"{_fmt(r[n]):>11}" for n in names)
        print(f"{xs} {_fmt(r['median']):>11} {_fmt(r['lower']):>11} {_fmt(r['upper']):>11} "
              f"{_fmt(r['obs_lower']):>11} {_fmt(r['obs_upper']):>11}")
    if not fc.reliable:
        print("WARNING: the fit's diagnostics failed; these intervals are not reliable.")


def _add_sampling_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--draws", type=int, default=1000, help="posterior draws per chain (default 1000)")
    p.add_argument("--tune", type=int, default=1000, help="tuning steps per chain (default 1000)")
    p.add_argument("--chains", type=int, default=4, help="chains (default 4)")
    p.add_argument("--cores", type=int, default=None, help="parallel chains (default: min(chains, CPUs))")
    p.add_argument("--target-accept", type=float, default=0.9)
    p.add_argument("--sampler", choices=["nutpie", "pymc", "numpyro"], default=None,
                   help="NUTS implementation (default: nutpie if installed)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0): the same seed gives the same result")
    p.add_argument("--likelihood", choices=["lognormal", "normal", "studentt"], default="lognormal",
                   help="noise model: multiplicative (default), additive, or robust Student-t on log y")
    p.add_argument("--prior", action="append", type=_prior_pair, default=[], metavar="NAME=PRIOR",
                   help="override a default prior, e.g. --prior 'alpha=Normal(mu=0.3, sigma=0.1)'")


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="bayescale", description="Bayesian neural scaling laws: fit, forecast, compare.")
    sub = p.add_subparsers(dest="cmd", required=True, parser_class=_Parser)

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
    _add_sampling_args(f)
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

    # Commands defined beside their features: each module has register_cli(sub, add_sampling_args),
    # which adds its parser and sets `handler`.
    import importlib

    for mod in COMMAND_MODULES:
        try:
            m = importlib.import_module(mod)
        except ModuleNotFoundError as exc:
            if exc.name == mod:
                continue
            raise
        m.register_cli(sub, _add_sampling_args)
    return p


def _parse_where(items: Sequence[str]) -> dict[str, str]:
    """``--where COL=VALUE ...`` as a mapping of column to value."""
    where = {}
    for w in items:
        col, sep, val = w.partition("=")
        if not sep or not col:
            raise BayescaleError(f"--where {w!r} is not COL=VALUE, e.g. --where split=fit")
        where[col] = val
    return where


def _cmd_fit(a) -> int:
    from .fit import fit
    from .laws import get_law

    law = get_law(a.law)
    where = _parse_where(a.where)
    f = fit(a.data, law=law, x=a.x, y=a.y, priors=dict(a.prior), likelihood=a.likelihood, where=where or None,
            draws=a.draws, tune=a.tune, chains=a.chains, cores=a.cores,
            target_accept=a.target_accept, sampler=a.sampler, seed=a.seed,
            progressbar=None if not a.json else sys.stderr.isatty())
    targets = _targets(law, a.target) if a.target else (
        _parse_input_targets(law, a.target_input) if a.target_input else None)
    fc = f.forecast(x=targets, prob=a.prob) if targets is not None else None
    if a.out:
        f.save(a.out)
    if a.json:
        rep = fit_report(f, fc)
        if a.out:
            rep["saved"] = a.out
        print(json.dumps(rep))
    else:
        _print_fit(f, fc)
        if a.out:
            print(f"\nsaved: {a.out}")
    return 0


def _cmd_forecast(a) -> int:
    from .fit import load

    f = load(a.fit)
    if a.at:
        targets = _targets(f.law, a.at)
    elif a.at_input:
        targets = _parse_input_targets(f.law, a.at_input)
    else:
        raise BayescaleError("give target scales with --at X ... (or --at-input N=..,D=.. for two-input laws)")
    fc = f.forecast(x=targets, prob=a.prob, seed=a.seed)
    if a.json:
        print(json.dumps(fit_report(f, fc)))
    else:
        _print_fit(f, fc)
    return 0


def _cmd_laws(a) -> int:
    from .laws import list_laws

    for law in list_laws():
        print(f"{law.name:<18} {law.display or law.formula.text}")
        print(f"{'':<18} inputs: {', '.join(law.inputs)}; parameters: {', '.join(law.param_names)}")
    return 0


def _cmd_demo(a) -> int:
    from .fit import fit
    from .simulate import simulate

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
        _print_fit(f, fc)
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


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
