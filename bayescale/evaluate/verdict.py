r"""The break verdict: is the break real?  A pure rule on comparison numbers and posterior draws.

On data from a single power law, LOO cannot prefer the unbroken law: the
broken law contains it (``c_i -> 0``), so their elpd ties.  The verdict is
therefore asymmetric: a break must earn its place.  Let ``B`` be the broken
law (``bnsl1``, ``bnsl2``, ...: any law that declares break positions and
slope changes, :attr:`bayescale.spec.laws.Law.is_broken`) with the highest
elpd, ``U`` the unbroken baseline (``power_law_offset`` by default),
``Delta = elpd_B - elpd_U`` and ``dse`` its standard error from
``az.compare``.  Leave-future-out (LFO: both laws refitted below the largest
``k`` scales and scored on them) gives ``Delta_f``, the summed difference of
the held-out points' lpd, and ``se_f = sqrt(k) sd(pointwise difference)``.
With 90% equal-tailed posterior intervals:

* LOO **shows** a break when ``Delta >= 4`` and ``Delta >= 2 dse``; LFO
  shows one when ``k >= 2``, both LFO fits passed their diagnostics,
  ``Delta_f >= 4`` and ``Delta_f >= 2 se_f``; LFO shows *no* break by the same
  margins the other way.
* LOO **decides** only when it is clear: ``|Delta| >= 2 dse``.  When it is
  not (typically on a sharp break, where leaving out a point next to the
  drop moves the break and one point's lpd swamps the sum, so that ``dse``
  runs to tens of nats), LFO carries the decision.
* LOO shows the laws **tie** when the baseline is ahead by ``2 dse`` or more,
  or when it could have seen a break: ``dse < 4`` and either ``Delta <= 0`` or
  ``Delta <= dse`` and ``Delta < 4``.  A small difference with a huge standard
  error is not evidence either way.

**break supported** when all of:

* LOO shows a break, or LFO shows one and LOO does not decide against it;
* for some break ``i``: the 90% interval of the slope change ``c_i``
  excludes 0, **and** the 90% interval of its position ``d_i`` lies inside
  ``[x_(2), x_(m-1)]``, the second-smallest to second-largest distinct scale
  (a break needs data on both sides; one whose posterior reaches the edge or
  beyond of the observed range is never "supported");
* neither fit has divergences (left after the automatic remedy) or points
  with Pareto k left unresolved: these bias the numbers above.

**no break supported** when the baseline's fit has no such problem, LFO does
not show a break, and either LOO shows a tie, or LOO does not decide and LFO
shows no break, or every slope change is concentrated near zero
(``P(|c_i| < 0.1) >= 0.9`` for every ``i``), or every break is **not
identified** (its position and sharpness as uncertain as their priors,
:mod:`bayescale.inference.identify`) and LOO does not show a break either: a
break that the data cannot place is not a break they support, and a small
elpd gain of the broken law then comes from its extra flexibility (on
single-power-law data it ties within about 2 se).

**inconclusive** otherwise.

Any other diagnostic failure (R-hat above 1.01, ESS below 100 per chain, an
exact refit that failed its own diagnostics) leaves the verdict as it is but
marks it ``reliable = False`` with the problems listed: rerun with more draws
before relying on it.  A broken law whose break is not identified (its position
and sharpness at their priors: the law reduces to the unbroken one) is judged,
in its full fit, its exact LOO refits and its leave-future-out refit, by the
convergence of the log-likelihood draws of the points each score averages (its
observations; the left-out point; the held-out future points), instead of by
its break parameters, which drift along a flat direction
(:meth:`bayescale.inference.results.Fit.comparison_diagnostics`); its
parameters' diagnostics count again for a "break supported".  The numbers behind the verdict are returned (``Verdict.to_dict``) and printed
by ``bayescale compare``.  The thresholds are module constants; their false
break and detection rates, measured by simulation, are in
``benchmarks/README.md`` (``benchmarks/break_verdict.py``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import numpy as np

__all__ = ["Verdict", "break_verdict", "x_inner", "VERDICTS", "BASELINE", "BREAK_ELPD_MIN", "BREAK_DSE_MIN",
           "NO_BREAK_DSE", "TIE_DSE_MAX", "LFO_MIN_POINTS", "VERDICT_PROB", "C_NEAR_ZERO", "C_NEAR_ZERO_PROB"]

#: The unbroken law the broken ones are compared against.
BASELINE = "power_law_offset"
#: Verdict thresholds (see the module docstring).
BREAK_ELPD_MIN = 4.0
BREAK_DSE_MIN = 2.0
NO_BREAK_DSE = 1.0
#: LOO shows a tie only when its se is below this (a break worth BREAK_ELPD_MIN nats would have shown).
TIE_DSE_MAX = 4.0
#: Leave-future-out counts only with at least this many held-out points (one has no standard error).
LFO_MIN_POINTS = 2
VERDICT_PROB = 0.9
C_NEAR_ZERO = 0.1
C_NEAR_ZERO_PROB = 0.9

VERDICTS = ("break supported", "no break supported", "inconclusive")


@dataclass(frozen=True)
class Verdict:
    """Is the break real?  One of :data:`VERDICTS` with the numbers behind it.

    ``decided_by`` names the evidence that gave a definite verdict: ``"LOO"``, ``"leave-future-out"``
    (LOO did not decide), ``"slope changes"`` (all concentrated near zero) or ``"break not identified"``
    (no break's position and sharpness moved from their priors); empty when inconclusive.
    """

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
    lfo_diff: float = float("nan")
    lfo_se: float = float("nan")
    lfo_points: int = 0
    decided_by: str = ""

    @property
    def reliable(self) -> bool:
        """False when a diagnostic (R-hat, ESS, a refit) failed: rerun with more draws before relying on it."""
        return not self.warnings

    def to_dict(self) -> dict[str, Any]:
        return {
            "verdict": self.verdict, "broken_law": self.broken_law, "baseline": self.baseline,
            "elpd_diff": self.elpd_diff, "dse": self.dse, "prob": self.prob,
            "lfo_diff": self.lfo_diff, "lfo_se": self.lfo_se, "lfo_points": self.lfo_points,
            "decided_by": self.decided_by,
            "breaks": [dict(b) for b in self.breaks], "x_inner_range": list(self.x_range),
            "reasons": list(self.reasons), "reliable": self.reliable, "warnings": list(self.warnings),
            "rule": {"elpd_diff_min": BREAK_ELPD_MIN, "dse_min": BREAK_DSE_MIN,
                     "no_break_within_dse": NO_BREAK_DSE, "tie_dse_max": TIE_DSE_MAX,
                     "lfo_min_points": LFO_MIN_POINTS, "c_near_zero": C_NEAR_ZERO,
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
    lfo_pointwise: Sequence[float] | None = None,
    broken_blockers: Sequence[str] = (),
    baseline_blockers: Sequence[str] = (),
    warnings: Sequence[str] = (),
    broken_law: str | None = None,
    baseline: str | None = BASELINE,
    prob: float = VERDICT_PROB,
    unidentified: Sequence[int] = (),
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
    lfo_pointwise : sequence of float, optional
        Leave-future-out lpd of each held-out point, broken law minus baseline, when both LFO fits
        passed their diagnostics (``None`` when LFO was not run or failed).
    broken_blockers, baseline_blockers : sequences of str
        Problems that bias the numbers of each law (divergences left after the remedy, Pareto k
        left unresolved): any of them rules out "break supported"; the baseline's rule out
        "no break supported".
    warnings : sequence of str
        Other diagnostic failures (R-hat, ESS, a refit's diagnostics): the verdict stands but is
        marked not reliable (``Verdict.reliable``).
    unidentified : sequence of int
        The breaks (1-based) whose position and sharpness are at their priors
        (:func:`bayescale.inference.identify.unidentified_breaks`).
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
    loo_shows = elpd_diff >= BREAK_ELPD_MIN and elpd_diff >= BREAK_DSE_MIN * dse
    loo_decides = abs(elpd_diff) >= BREAK_DSE_MIN * dse
    # "within 1 se" is a tie only when the se is small enough that a real break would have shown;
    # a baseline ahead by 2 se or more wins whatever the se
    loo_tie = (loo_decides and elpd_diff < 0) or (
        dse < TIE_DSE_MAX and (elpd_diff <= 0 or (elpd_diff <= NO_BREAK_DSE * dse and elpd_diff < BREAK_ELPD_MIN)))
    pw = np.asarray([] if lfo_pointwise is None else lfo_pointwise, dtype=float)
    lfo_n = int(pw.size) if pw.size >= LFO_MIN_POINTS and np.all(np.isfinite(pw)) else 0
    f_diff = float(pw.sum()) if lfo_n else float("nan")
    f_se = float(np.sqrt(lfo_n) * np.std(pw, ddof=1)) if lfo_n else float("nan")
    lfo_shows = bool(lfo_n) and f_diff >= BREAK_ELPD_MIN and f_diff >= BREAK_DSE_MIN * f_se
    lfo_against = bool(lfo_n) and f_diff <= -BREAK_ELPD_MIN and -f_diff >= BREAK_DSE_MIN * f_se
    reasons = [f"LOO elpd difference {elpd_diff:.2f} (se {dse:.2f}) "
               + ("meets" if loo_shows else "does not meet")
               + f" >= {BREAK_ELPD_MIN:g} and >= {BREAK_DSE_MIN:g} se"
               + ("" if loo_decides else " and is within 2 se either way, so LOO does not decide")]
    if lfo_n:
        reasons.append(f"leave-future-out lpd difference {f_diff:.2f} over {lfo_n} held-out points (se {f_se:.2f}): "
                       + ("shows a break" if lfo_shows else "shows no break" if lfo_against else "undecided")
                       + (" and carries the decision" if not loo_decides and (lfo_shows or lfo_against) else ""))
    if breaks:
        reasons.append("a break has a slope change whose interval excludes 0 and a position inside the data"
                       if any_real else
                       "no break has both a slope change excluding 0 and a position inside the data")
    reasons += [f"{broken_law or 'broken law'}: {b}" for b in broken_blockers]
    reasons += [f"{baseline or 'baseline'}: {b}" for b in baseline_blockers]
    shown = loo_shows or (lfo_shows and not (loo_decides and elpd_diff < 0))
    tie = loo_tie or (not loo_decides and lfo_against)
    unplaced = bool(breaks) and set(range(1, len(breaks) + 1)) <= {int(i) for i in unidentified} and not loo_shows
    by = ""
    if shown and any_real and not broken_blockers and not baseline_blockers:
        v, by = "break supported", "LOO" if loo_shows else "leave-future-out"
    elif not baseline_blockers and not lfo_shows and (tie or (breaks and all_near_zero) or unplaced):
        v = "no break supported"
        by = ("LOO" if loo_tie else "leave-future-out" if tie else "slope changes" if breaks and all_near_zero
              else "break not identified")
        if loo_tie:
            reasons.append(f"the baseline is ahead, or behind by less than {NO_BREAK_DSE:g} se and "
                           f"less than {BREAK_ELPD_MIN:g}, with se below {TIE_DSE_MAX:g}")
        if breaks and all_near_zero:
            reasons.append(f"every slope change has P(|c| < {C_NEAR_ZERO:g}) >= {C_NEAR_ZERO_PROB:g}")
        if unplaced and by == "break not identified":
            reasons.append("no break is identified (position and sharpness at their priors) and neither LOO nor "
                           "leave-future-out shows a break: the data cannot place one")
    else:
        v = "inconclusive"
    return Verdict(verdict=v, broken_law=broken_law, baseline=baseline, elpd_diff=float(elpd_diff),
                   dse=float(dse), breaks=tuple(breaks), x_range=(lo_x, hi_x), reasons=tuple(reasons),
                   prob=prob, warnings=tuple(warnings), lfo_diff=f_diff, lfo_se=f_se, lfo_points=lfo_n,
                   decided_by=by)


def x_inner(ds) -> tuple[float, float]:
    """Second-smallest and second-largest distinct scale of the data: where a break is identifiable.

    With fewer than three distinct scales the interval is empty (``lo > hi``): no break can be inside.
    """
    x = np.unique(next(iter(ds.inputs.values())))
    if x.size < 3:
        return float(x.max()), float(x.min())
    return float(x[1]), float(x[-2])
