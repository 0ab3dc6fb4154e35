r"""The break verdict: is the break real?  A pure rule on comparison numbers and posterior draws.

On data from a single power law, LOO cannot prefer the unbroken law: the
broken law contains it (``c_i -> 0``), so their elpd ties.  The verdict is
therefore asymmetric: a break must earn its place.  Let ``B`` be the broken
law (``bnsl1``, ``bnsl2``, ...: any law that declares break positions and
slope changes, :attr:`bayescale.spec.laws.Law.is_broken`) with the highest
elpd, ``U`` the unbroken baseline (``power_law_offset`` by default),
``Delta = elpd_B - elpd_U`` and ``dse`` its standard error from
``az.compare``.  With 90% equal-tailed posterior intervals,

**break supported** when all of:

* ``Delta >= 4`` and ``Delta >= 2 dse`` (the broken law wins clearly);
* for some break ``i``: the 90% interval of the slope change ``c_i``
  excludes 0, **and** the 90% interval of its position ``d_i`` lies inside
  ``[x_(2), x_(m-1)]``, the second-smallest to second-largest distinct scale
  (a break needs data on both sides; one whose posterior reaches the edge or
  beyond of the observed range is never "supported");
* neither fit has divergences (left after the automatic remedy) or points
  with Pareto k left unresolved: these bias the numbers above.

**no break supported** when the baseline's fit has no such problem and
either the baseline is ahead (``Delta <= 0``) or close behind
(``Delta <= dse`` and ``Delta < 4``: a large difference with a huge standard
error is not evidence against a break), or every slope change is concentrated near zero
(``P(|c_i| < 0.1) >= 0.9`` for every ``i``).

**inconclusive** otherwise.

Any other diagnostic failure (R-hat above 1.01, ESS below 100 per chain, an
exact refit that failed its own diagnostics) leaves the verdict as it is but
marks it ``reliable = False`` with the problems listed: rerun with more draws
before relying on it.  The numbers behind the verdict are returned (``Verdict.to_dict``) and printed
by ``bayescale compare``.  The thresholds are module constants; their false
break and detection rates, measured by simulation, are in
``benchmarks/README.md`` (``benchmarks/break_verdict.py``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import numpy as np

__all__ = ["Verdict", "break_verdict", "x_inner", "VERDICTS", "BASELINE", "BREAK_ELPD_MIN", "BREAK_DSE_MIN",
           "NO_BREAK_DSE", "VERDICT_PROB", "C_NEAR_ZERO", "C_NEAR_ZERO_PROB"]

#: The unbroken law the broken ones are compared against.
BASELINE = "power_law_offset"
#: Verdict thresholds (see the module docstring).
BREAK_ELPD_MIN = 4.0
BREAK_DSE_MIN = 2.0
NO_BREAK_DSE = 1.0
VERDICT_PROB = 0.9
C_NEAR_ZERO = 0.1
C_NEAR_ZERO_PROB = 0.9

VERDICTS = ("break supported", "no break supported", "inconclusive")


@dataclass(frozen=True)
class Verdict:
    """Is the break real?  One of :data:`VERDICTS` with the numbers behind it."""

    verdict: str
    broken_law: str | None
    baseline: str | None
    elpd_diff: float
    dse: float
    breaks: tuple[Mapping[str, Any], ...] = ()
    x_range: tuple[float, float] = (float("nan"), float("nan"))
    reasons: tuple[str, ...] = ()
    prob: float = VERDICT_PROB
    warnings: tuple[str, ...] = ()

    @property
    def reliable(self) -> bool:
        """False when a diagnostic (R-hat, ESS, a refit) failed: rerun with more draws before relying on it."""
        return not self.warnings

    def to_dict(self) -> dict[str, Any]:
        return {
            "verdict": self.verdict, "broken_law": self.broken_law, "baseline": self.baseline,
            "elpd_diff": self.elpd_diff, "dse": self.dse, "prob": self.prob,
            "breaks": [dict(b) for b in self.breaks], "x_inner_range": list(self.x_range),
            "reasons": list(self.reasons), "reliable": self.reliable, "warnings": list(self.warnings),
            "rule": {"elpd_diff_min": BREAK_ELPD_MIN, "dse_min": BREAK_DSE_MIN,
                     "no_break_within_dse": NO_BREAK_DSE, "c_near_zero": C_NEAR_ZERO,
                     "c_near_zero_prob": C_NEAR_ZERO_PROB},
        }


def _eti(d: np.ndarray, prob: float) -> tuple[float, float]:
    lo, hi = np.quantile(d, [(1 - prob) / 2, (1 + prob) / 2])
    return float(lo), float(hi)


def break_verdict(
    *,
    elpd_diff: float,
    dse: float,
    c_draws: Sequence[np.ndarray],
    d_draws: Sequence[np.ndarray],
    x_inner: tuple[float, float],
    broken_blockers: Sequence[str] = (),
    baseline_blockers: Sequence[str] = (),
    warnings: Sequence[str] = (),
    broken_law: str | None = None,
    baseline: str | None = BASELINE,
    prob: float = VERDICT_PROB,
) -> Verdict:
    """Apply the break rule of the module docstring to comparison numbers and posterior draws.

    Parameters
    ----------
    elpd_diff, dse : float
        ``elpd(broken) - elpd(baseline)`` and its standard error.
    c_draws, d_draws : sequences of 1-D arrays
        Posterior draws of each slope change ``c_i`` and break position ``d_i`` of the broken law.
    x_inner : (float, float)
        Second-smallest and second-largest distinct scale: where a break is identifiable.
    broken_blockers, baseline_blockers : sequences of str
        Problems that bias the numbers of each law (divergences left after the remedy, Pareto k
        left unresolved): any of them rules out "break supported"; the baseline's rule out
        "no break supported".
    warnings : sequence of str
        Other diagnostic failures (R-hat, ESS, a refit's diagnostics): the verdict stands but is
        marked not reliable (``Verdict.reliable``).
    """
    lo_x, hi_x = float(x_inner[0]), float(x_inner[1])
    breaks = []
    any_real = False
    all_near_zero = True
    for i, (c, d) in enumerate(zip(c_draws, d_draws), start=1):
        c, d = np.asarray(c, dtype=float), np.asarray(d, dtype=float)
        c_lo, c_hi = _eti(c, prob)
        d_lo, d_hi = _eti(d, prob)
        excludes0 = c_lo > 0 or c_hi < 0
        inside = lo_x <= d_lo and d_hi <= hi_x
        p_near0 = float(np.mean(np.abs(c) < C_NEAR_ZERO))
        all_near_zero &= p_near0 >= C_NEAR_ZERO_PROB
        any_real |= excludes0 and inside
        breaks.append({"index": i, "c_median": float(np.median(c)), "c_lower": c_lo, "c_upper": c_hi,
                       "c_excludes_0": bool(excludes0), "p_abs_c_below": p_near0,
                       "d_median": float(np.median(d)), "d_lower": d_lo, "d_upper": d_hi,
                       "d_inside": bool(inside)})
    wins = elpd_diff >= BREAK_ELPD_MIN and elpd_diff >= BREAK_DSE_MIN * dse
    # "within 1 se" only counts for small differences: a large difference with a huge se is inconclusive
    close = elpd_diff <= 0 or (elpd_diff <= NO_BREAK_DSE * dse and elpd_diff < BREAK_ELPD_MIN)
    reasons = [f"elpd difference {elpd_diff:.2f} (se {dse:.2f}) "
               + ("meets" if wins else "does not meet")
               + f" >= {BREAK_ELPD_MIN:g} and >= {BREAK_DSE_MIN:g} se"]
    if breaks:
        reasons.append("a break has a slope change whose interval excludes 0 and a position inside the data"
                       if any_real else
                       "no break has both a slope change excluding 0 and a position inside the data")
    reasons += [f"{broken_law or 'broken law'}: {b}" for b in broken_blockers]
    reasons += [f"{baseline or 'baseline'}: {b}" for b in baseline_blockers]
    if wins and any_real and not broken_blockers and not baseline_blockers:
        v = "break supported"
    elif not baseline_blockers and (close or (breaks and all_near_zero)):
        v = "no break supported"
        if close:
            reasons.append(f"the baseline is ahead, or behind by less than {NO_BREAK_DSE:g} se and "
                           f"less than {BREAK_ELPD_MIN:g}")
        if breaks and all_near_zero:
            reasons.append(f"every slope change has P(|c| < {C_NEAR_ZERO:g}) >= {C_NEAR_ZERO_PROB:g}")
    else:
        v = "inconclusive"
    return Verdict(verdict=v, broken_law=broken_law, baseline=baseline, elpd_diff=float(elpd_diff),
                   dse=float(dse), breaks=tuple(breaks), x_range=(lo_x, hi_x), reasons=tuple(reasons),
                   prob=prob, warnings=tuple(warnings))


def x_inner(ds) -> tuple[float, float]:
    """Second-smallest and second-largest distinct scale of the data: where a break is identifiable.

    With fewer than three distinct scales the interval is empty (``lo > hi``): no break can be inside.
    """
    x = np.unique(next(iter(ds.inputs.values())))
    if x.size < 3:
        return float(x.max()), float(x.min())
    return float(x[1]), float(x[-2])
