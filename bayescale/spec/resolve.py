"""The priors a fit uses: a law's defaults and its likelihood's noise priors, with overrides by name."""

from __future__ import annotations

import difflib
from typing import Mapping

from ..errors import PriorError
from .laws import Law, stat_names
from .likelihoods import Likelihood, get_likelihood
from .priors import Prior, check_domain, parse_prior

__all__ = ["resolve_priors", "check_prior_domains"]


def resolve_priors(
    law: Law, likelihood: str | Likelihood = "lognormal", priors: Mapping[str, str | Prior] | None = None
) -> dict[str, Prior]:
    """The priors a fit uses: the law's defaults and noise priors, with user overrides by name.

    Raises
    ------
    PriorError
        For a name that is not a parameter (with the closest match), a malformed prior, or a
        prior that uses a name not available to it.
    """
    lik = get_likelihood(likelihood)
    out: dict[str, Prior] = {p.name: p.prior for p in law.parameters}
    for name, (text, _) in lik.noise_priors.items():
        out[name] = parse_prior(text, param=name)
    priors = dict(priors or {})
    for name in priors:
        if name not in out:
            close = difflib.get_close_matches(name, list(out), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise PriorError(
                f"no parameter {name!r} in law {law.name!r} with {lik.name} noise{hint}; "
                f"the parameters are {', '.join(out)}"
            )
    # a saved fit's priors name the derived ones too, as their law computes them
    def _text(pr) -> str:
        return str(getattr(pr, "text", pr)).replace(" ", "")

    derived = [n for n in priors if n in law.derived and _text(priors[n]) != _text(law.parameter(n).prior)]
    if derived:
        n = derived[0]
        p = law.parameter(n)
        raise PriorError(
            f"{n!r} is not sampled in law {law.name!r}: it is computed as {n} = {p.expression}; "
            f"put priors on {', '.join(law.computed_from(n))} instead"
        )
    stats = stat_names(law.inputs)
    seen: set[str] = set()
    for name in list(out):
        if name in priors:
            out[name] = parse_prior(priors[name], param=name)
            bad = out[name].names - stats - seen
            if bad:
                raise PriorError(
                    f"prior for {name!r} uses {', '.join(sorted(bad))}: only numbers, data statistics "
                    f"({', '.join(sorted(stats))}) and parameters declared before it are allowed"
                )
        seen.add(name)
    if law.ordered and any(n in priors for n in law.ordered):
        texts = {out[n].text.replace(" ", "") for n in law.ordered}
        if len(texts) != 1 or out[law.ordered[0]].dist != "LogUniform":
            raise PriorError(
                f"break positions {', '.join(law.ordered)} are sampled jointly in increasing order: "
                "override all of them with one and the same LogUniform(lower=..., upper=...) prior"
            )
    return out


def check_prior_domains(priors: Mapping[str, Prior], stats: Mapping[str, float]) -> None:
    """Raise :class:`PriorError` for a prior whose arguments, given the data statistics, are out of domain.

    Run before any sampling, so that e.g. ``HalfNormal(sigma=y_sd)`` on a constant metric fails at once.
    """
    for name, prior in priors.items():
        check_domain(prior, stats, param=name)
