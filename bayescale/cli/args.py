"""Argument types and shared options of the command line (argparse lives here and in the commands)."""

from __future__ import annotations

import argparse
import math
import sys
from typing import Any, Sequence

from ..errors import BayescaleError

__all__ = ["EXIT_BAD_INPUT", "Parser", "positive_number", "prior_pair", "targets", "parse_input_targets",
           "parse_where", "add_sampling_args"]

EXIT_BAD_INPUT = 2


class Parser(argparse.ArgumentParser):
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


def prior_pair(text: str) -> tuple[str, str]:
    name, sep, prior = text.partition("=")
    if not sep or not name.strip() or not prior.strip():
        raise argparse.ArgumentTypeError(f"{text!r} is not NAME=PRIOR, e.g. alpha='Normal(mu=0.3, sigma=0.1)'")
    return name.strip(), prior.strip()


def targets(law, values: Sequence[float] | None) -> Any:
    """Targets from --at/--target: plain numbers for a one-input law, NAME=VALUE,... for several."""
    if not values:
        return None
    if len(law.inputs) == 1:
        return [float(v) for v in values]
    raise BayescaleError(
        f"law {law.name!r} has inputs {', '.join(law.inputs)}: give targets as --at-input "
        + " ".join(f"{k}=VALUE" for k in law.inputs)
    )


def parse_input_targets(law, items: Sequence[str]) -> dict[str, list[float]]:
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


def parse_where(items: Sequence[str]) -> dict[str, str]:
    """``--where COL=VALUE ...`` as a mapping of column to value."""
    where = {}
    for w in items:
        col, sep, val = w.partition("=")
        if not sep or not col:
            raise BayescaleError(f"--where {w!r} is not COL=VALUE, e.g. --where split=fit")
        where[col] = val
    return where


def add_sampling_args(p: argparse.ArgumentParser) -> None:
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
    p.add_argument("--prior", action="append", type=prior_pair, default=[], metavar="NAME=PRIOR",
                   help="override a default prior, e.g. --prior 'alpha=Normal(mu=0.3, sigma=0.1)'")
