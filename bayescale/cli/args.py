"""Argument types and shared options of the command line (argparse lives here and in the commands)."""

from __future__ import annotations

import argparse
import math
import re
import sys
from typing import Any, Sequence

from ..errors import BayescaleError
from ..inference.config import SAMPLERS, SEED_MAX
from ..spec.likelihoods import LIKELIHOODS

__all__ = ["EXIT_BAD_INPUT", "Parser", "positive_number", "probability", "integer", "seed", "prior_pair",
           "targets", "targets_of", "parse_input_targets", "parse_where", "add_sampling_args", "add_prob_arg", "DEFAULT_PROB",
           "trials_arg", "chance_level"]

EXIT_BAD_INPUT = 2
#: The one interval probability of every table the CLI prints (parameters, forecasts, reports).
DEFAULT_PROB = 0.9

# argparse reads "-1e21" as an option (its pattern for negative numbers has no exponent), which gives
# "expected one argument" instead of a message about the number; this pattern lets it be a value.
_NEGATIVE_NUMBER = re.compile(r"^-(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$|^-(inf|nan)$", re.IGNORECASE)


class Parser(argparse.ArgumentParser):
    """argparse with one-line errors (exit 2) that point to this command's own help."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", argparse.RawDescriptionHelpFormatter)
        super().__init__(*args, **kwargs)
        self._negative_number_matcher = _NEGATIVE_NUMBER

    def error(self, message: str):  # one line, exit 2, like every other bad input
        print(f"error: {message} (see '{self.prog} --help')", file=sys.stderr)
        raise SystemExit(EXIT_BAD_INPUT)


def probability(text: str) -> float:
    """An argparse ``type``: an interval probability strictly between 0 and 1."""
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number; give a probability such as 0.9") from None
    if not 0 < v < 1:
        raise argparse.ArgumentTypeError(f"probability {text!r} must be between 0 and 1 (exclusive), e.g. 0.9")
    return v


def integer(what: str, lo: int, hi: int | None = None):
    """An argparse ``type`` accepting an integer in ``[lo, hi]``; errors name ``what``."""

    def parse(text: str) -> int:
        try:
            v = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{what} {text!r} is not an integer") from None
        if v < lo or (hi is not None and v > hi):
            rng = f"from {lo} to {hi}" if hi is not None else f">= {lo}"
            raise argparse.ArgumentTypeError(f"{what} {text!r} must be an integer {rng}")
        return v

    return parse


#: An argparse ``type`` for seeds.
seed = integer("seed", 0, SEED_MAX)


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


def trials_arg(text: str) -> int | str:
    """An argparse ``type`` for ``--trials``: a whole number of items >= 1, or else a column name."""
    try:
        v = float(text)
    except ValueError:
        return text  # a column of the data, checked when the data are read
    if not math.isfinite(v) or v < 1 or v != int(v):
        raise argparse.ArgumentTypeError(f"--trials {text!r} must be a whole number of items >= 1 (or a column name)")
    return int(v)


def chance_level(text: str) -> float:
    """An argparse ``type`` for ``--floor``: a chance level from 0 up to 1 (exclusive)."""
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--floor {text!r} is not a number; give the chance level, e.g. 0.25") from None
    if not 0 <= v < 1:
        raise argparse.ArgumentTypeError(f"--floor {text!r} must be from 0 up to 1 (exclusive), e.g. 0.25 for 4-way "
                                         "multiple choice")
    return v


def prior_pair(text: str) -> tuple[str, str]:
    name, sep, prior = text.partition("=")
    if not sep or not name.strip() or not prior.strip():
        raise argparse.ArgumentTypeError(f"{text!r} is not NAME=PRIOR, e.g. alpha='Normal(mu=0.3, sigma=0.1)'")
    return name.strip(), prior.strip()


def targets(law, values: Sequence[float] | None, *, flag: str = "--target-input") -> Any:
    """Targets from --at/--target: plain numbers for a one-input law, NAME=VALUE,... for several."""
    if not values:
        return None
    if len(law.inputs) == 1:
        return [float(v) for v in values]
    raise BayescaleError(
        f"law {law.name!r} has inputs {', '.join(law.inputs)}: give targets as {flag} "
        + ",".join(f"{k}=VALUE" for k in law.inputs)
    )


def targets_of(law, target: Sequence[float], target_input: Sequence[str]) -> Any:
    """The targets of ``--target`` / ``--target-input``, checked against ``law`` before any fit."""
    if target and target_input:
        raise BayescaleError("give targets with --target or --target-input, not both")
    if target:
        return targets(law, target, flag="--target-input")
    if target_input:
        return parse_input_targets(law, target_input)
    return None


def parse_input_targets(law, items: Sequence[str], *, what: str = "target") -> dict[str, list[float]]:
    """Scales given as ``NAME=VALUE,...`` (every input of ``law``), e.g. ``--target-input N=7e10,D=1.4e12``;
    ``what`` names them in the errors (target, candidate)."""
    out: dict[str, list[float]] = {k: [] for k in law.inputs}
    parse = _positive_float if what == "target" else positive_number(f"{what} scale")
    for it in items:
        parts = dict(p.split("=", 1) for p in it.split(",") if "=" in p)
        if set(parts) != set(law.inputs):
            unknown = sorted(set(parts) - set(law.inputs))
            raise BayescaleError(
                f"{what} {it!r} must give every input of law {law.name!r} as "
                + ",".join(f"{k}=VALUE" for k in law.inputs)
                + (f" (unknown: {', '.join(unknown)})" if unknown else "")
            )
        for k in law.inputs:
            try:
                out[k].append(parse(parts[k].strip()))
            except argparse.ArgumentTypeError as exc:
                raise BayescaleError(f"{what} {k}: {exc}" if what != "target" else f"{k}: {exc}") from None
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


def add_prob_arg(p: argparse.ArgumentParser, what: str = "intervals") -> None:
    p.add_argument("--prob", type=probability, default=DEFAULT_PROB,
                   help=f"probability of the {what} (default {DEFAULT_PROB}; equal-tailed)")


def _target_accept(text: str) -> float:
    v = probability(text)
    return v


def add_sampling_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--draws", type=integer("--draws", 1), default=1000,
                   help="posterior draws per chain (default 1000)")
    p.add_argument("--tune", type=integer("--tune", 1), default=1000,
                   help="tuning steps per chain (default 1000; NUTS needs at least 1 to adapt)")
    p.add_argument("--chains", type=integer("--chains", 1), default=4, help="chains (default 4)")
    p.add_argument("--cores", type=integer("--cores", 1), default=None,
                   help="chains run in parallel (default: min(chains, CPUs))")
    p.add_argument("--target-accept", type=_target_accept, default=0.9,
                   help="NUTS target acceptance rate in (0, 1) (default 0.9; raised to 0.99, then 0.999, "
                        "automatically while a run has divergences)")
    p.add_argument("--sampler", choices=list(SAMPLERS), default=None,
                   help="NUTS implementation (default: nutpie if installed)")
    p.add_argument("--seed", type=seed, default=0,
                   help=f"random seed from 0 to {SEED_MAX} (default 0): the same seed gives the same result")
    p.add_argument("--likelihood", choices=list(LIKELIHOODS), default="lognormal",
                   help="noise model: multiplicative (default), additive, robust Student-t on log y; for metrics in "
                        "[0, 1]: logitnormal, beta, or binomial (with --trials)")
    p.add_argument("--prior", action="append", type=prior_pair, default=[], metavar="NAME=PRIOR",
                   help="override a default prior, e.g. --prior 'alpha=Normal(mu=0.3, sigma=0.1)'")
