"""The configuration of a fit: a typed, frozen object saved verbatim with the fit.

Every refit (exact LOO, leave-future-out, a comparison's fits) reuses the
configuration of the fit it starts from, so settings such as ``init`` and
``auto_remedy`` cannot be lost on the way.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from typing import Any, Mapping

__all__ = ["FitConfig", "SAMPLERS", "INITS", "SEED_MAX"]

#: Samplers a fit can request (each where installed).
SAMPLERS = ("nutpie", "pymc", "numpyro")
#: Ways to start the chains.
INITS = ("optimize", "prior")
#: Largest seed accepted (seeds are 32-bit unsigned integers, as numpy's legacy seeding).
SEED_MAX = 2**32 - 1


@dataclass(frozen=True)
class FitConfig:
    """How a law is fitted (everything but the law and the data).

    Attributes
    ----------
    likelihood : str
        ``"lognormal"``, ``"normal"``, ``"studentt"``, ``"logitnormal"``, ``"beta"`` or ``"binomial"``
        (:mod:`bayescale.spec.likelihoods`).
    priors : tuple of (name, prior text)
        The user's prior overrides, in the order given.
    draws, tune, chains : int
        NUTS draws per chain, tuning steps, chains.
    cores : int or None
        Cores for the chains; ``None`` means ``min(chains, cpu count)``.
    target_accept : float
        NUTS target acceptance rate of the first run.
    sampler : str or None
        ``"nutpie"``, ``"pymc"`` or ``"numpyro"``; ``None``: nutpie where installed.
    seed : int or None
    auto_remedy : bool
        Refit at ``target_accept=0.99``, with nutpie's mass matrix adapted from the draws' variances,
        when sampling ends with divergences, and at 0.999 if that refit still diverges; then more draws
        when only the ESS falls short (:func:`bayescale.fit`).
    init : str
        ``"optimize"`` (least-squares starting points) or ``"prior"``.
    discrepancy : str or tuple of (key, value)
        Extrapolation uncertainty of forecasts beyond the fitted range: a row of the learned table
        (``"default"``), ``"off"``, or values ``(("kappa", k), ("s0", s))``
        (:mod:`bayescale.spec.discrepancy`).
    trials : int, str or None
        Items per observation for the binomial likelihood: one whole number, or the name of the data's
        column of them (then saved with the data); ``None`` for the other likelihoods.  A known chance
        level is a prior override, ``("floor", "Fixed(value=0.25)")``, kept in ``priors``.
    """

    likelihood: str = "lognormal"
    priors: tuple[tuple[str, str], ...] = field(default=())
    draws: int = 1000
    tune: int = 1000
    chains: int = 4
    cores: int | None = None
    target_accept: float = 0.9
    sampler: str | None = None
    seed: int | None = 0
    auto_remedy: bool = True
    init: str = "optimize"
    discrepancy: Any = "default"
    trials: int | str | None = None

    def __post_init__(self) -> None:
        if isinstance(self.discrepancy, Mapping):  # kept hashable and JSON-able
            object.__setattr__(self, "discrepancy", tuple(sorted(self.discrepancy.items())))

    @property
    def discrepancy_spec(self) -> str | dict[str, Any]:
        """The discrepancy as :func:`bayescale.spec.discrepancy.get_discrepancy` takes it."""
        return dict(self.discrepancy) if isinstance(self.discrepancy, tuple) else self.discrepancy

    @property
    def prior_overrides(self) -> dict[str, str]:
        """The prior overrides as a dict (``{}`` when none)."""
        return dict(self.priors)

    def replace(self, **changes: Any) -> "FitConfig":
        """A copy with some fields changed (``priors`` may be given as a mapping)."""
        if "priors" in changes:
            changes["priors"] = _prior_tuple(changes["priors"])
        return dataclasses.replace(self, **changes)

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self))

    @classmethod
    def from_json(cls, text: str) -> "FitConfig":
        d = json.loads(text)
        known = {f.name for f in dataclasses.fields(cls)}
        out = {k: (_prior_tuple(v) if k == "priors" else v) for k, v in d.items() if k in known}
        if isinstance(out.get("discrepancy"), list):
            out["discrepancy"] = tuple(tuple(kv) for kv in out["discrepancy"])
        return cls(**out)

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any]) -> "FitConfig":
        """The configuration of a fit saved before configurations were stored (bayescale 0.1.0).

        Those fits stored the resolved priors, not the overrides; passing every resolved prior as an
        override gives the same model.
        """
        return cls(
            likelihood=settings.get("likelihood", "lognormal"),
            priors=_prior_tuple(settings.get("priors") or {}),
            draws=int(settings.get("draws", 1000)),
            tune=int(settings.get("tune", 1000)),
            chains=int(settings.get("chains", 4)),
            target_accept=float(settings.get("target_accept", 0.9)),
            sampler=settings.get("sampler"),
            seed=settings.get("seed"),
            init=settings.get("init", "optimize"),
        )


def _prior_tuple(priors: Any) -> tuple[tuple[str, str], ...]:
    if isinstance(priors, Mapping):
        items = priors.items()
    else:
        items = priors or ()
    return tuple((str(k), v if isinstance(v, str) else getattr(v, "text", str(v))) for k, v in items)
