"""Inverse forecasts: the scale at which a law's expected value reaches a target, per posterior draw.

For each posterior draw ``theta_s`` the reach scale ``x_s`` is the first scale of a bracket
``[lo, hi]`` at which the law's expected value ``f(x; theta_s)`` gets to the target ``t``:
``f <= t`` for a decreasing metric (loss), ``f >= t`` for an increasing one (accuracy).  The value
that reaches it is the expected value as the forward forecast gives it: the law with the fit's
extrapolation discrepancy (:mod:`bayescale.spec.discrepancy`, the fit's own setting unless
``discrepancy=`` says otherwise) for log-scale likelihoods.  Each draw carries one standard normal
``z_s`` (antithetic pairs, seeded) and follows ``f(x; theta_s) exp(z_s tau(x))``, where ``tau(x)`` is
the discrepancy's sd at the horizon of ``x`` (0 inside the fitted range), with the relative form's
unit, the forecast's own sd of log y, taken over the draws at ``x``: at every scale the values are
distributed as the forward forecast's expected value there.  The noise of a single new run does not
enter (the target is the expected value).  ``discrepancy="off"`` gives the law alone, as
``fit.forecast(..., discrepancy="off")``.  Because ``tau`` jumps from 0 to ``b s0`` at the edge of the
data, a draw with ``z_s > 0`` can step away from the target there; such a draw reaches it later or
never, which is the honest reading of a prior that says forecasts beyond the data may be off.

It is located on a grid in ``log x`` (``grid`` points per decade), which checks that the draw's
curve crosses the target inside the bracket, then refined by bisection in ``log x`` (a curve that
crosses and comes back within one grid cell is not seen).  The default bracket runs from the
smallest fitted scale to 10^6 times the largest.  A draw that never reaches the target inside the
bracket is **counted, not dropped**: it is treated as reaching it beyond the bracket (``x_s = inf``),
so the median and the equal-tailed interval are honest over all draws and may be ``inf``
(``never_fraction`` says how many).  A draw already at the target at the bracket's lower end
reaches it there or before (``at_start_fraction``).  Since each draw's curve is monotone for the
usual laws, ``P(x_s <= X)`` is the probability that the expected value at ``X`` has reached the
target, so the median of ``f(x_med; theta)`` is the target: the forward forecast checks the inverse.

Direction: with ``increasing=None`` it is detected from the posterior medians ``v_lo``, ``v_hi`` of
the law at the smallest and largest fitted scale: a target between them is crossed inside the
data, in the direction of the curve there; otherwise the metric must move from ``v_hi`` towards
the target (a target below ``v_hi`` is reached by falling, like a loss).  ``increasing=True`` (or
``False``) overrides it, e.g. for accuracy-like metrics flat at chance over the data.  The direction is
detected on the law alone (inside the data the discrepancy is 0).

Laws of two inputs (N, D): the scale is compute ``C = k N D`` (``k = 6``), either along the
compute-optimal frontier (``along="frontier"``: each draw's loss at the optimum ``L*(C)`` from
:func:`~bayescale.inference.allocation.allocate_draws` on the log-C grid, interpolated linearly in
``log C``; ``N*``, ``D*`` at the reach are interpolated in logs the same way; a draw with no interior
optimum at a budget counts as not reaching there) or at a fixed ratio ``D = r N``
(``tokens_per_param=r``: ``N = sqrt(C / (k r))``).  The result states which.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Mapping

import numpy as np
import pandas as pd

from ..errors import DataError, FitError
from ..predictive import check_prob, expected_draws
from ..spec.discrepancy import OFF, Discrepancy, antithetic_normal, horizon
from .allocation import allocate_draws

__all__ = ["Reach", "reach"]

_DECADES_BEYOND, _BISECTIONS = 6.0, 48  # default bracket: up to 10^6 times the largest fitted scale


@dataclass(frozen=True)
class Reach:
    """Posterior of the scale at which the law's expected value reaches ``target``: ``draws`` holds each
    draw's scale (``inf``: not reached inside ``bracket``), ``inputs`` the law's inputs there for two-input
    laws (``N``, ``D`` per draw), ``by_prob`` the probability that the expected value at each scale of
    ``by`` has reached the target."""

    target: float
    increasing: bool
    direction: str            # "detected" or "given"
    along: str                # "input" (one-input law), "frontier" or "tokens_per_param"
    scale: str                # the scale's name: the law's input, or "C" (FLOPs)
    draws: np.ndarray = field(hash=False, repr=False)
    at_start: np.ndarray = field(hash=False, repr=False)
    inputs: Mapping[str, np.ndarray] = field(hash=False, repr=False)
    at_median: Mapping[str, float] = field(hash=False)
    bracket: tuple[float, float] = (0.0, 0.0)
    fitted_max: float = 0.0
    by: np.ndarray = field(default_factory=lambda: np.zeros(0), hash=False)
    by_prob: np.ndarray = field(default_factory=lambda: np.zeros(0), hash=False)
    prob: float = 0.9
    reliable: bool = True
    law: str = ""
    tokens_per_param: float | None = None
    flops_per_token_param: float | None = None
    discrepancy: Discrepancy = OFF

    never_fraction = property(lambda self: float(np.mean(~np.isfinite(self.draws))),
                              doc="Fraction of draws not reaching the target inside the bracket (counted beyond it).")
    at_start_fraction = property(lambda self: float(np.mean(self.at_start)),
                                 doc="Fraction of draws already at the target at the bracket's lower end.")

    def quantiles(self, values: np.ndarray | None = None) -> tuple[float, float, float]:
        """Median and equal-tailed ``prob`` interval over all draws (``inf`` where non-reaching draws fall)."""
        v = self.draws if values is None else values
        lo, hi = (1 - self.prob) / 2, (1 + self.prob) / 2
        # no interpolation: a quantile between a finite value and inf would be inf or NaN
        q = np.quantile(v, [0.5, lo, hi], method="inverted_cdf")
        return float(q[0]), float(q[1]), float(q[2])

    median = property(lambda self: self.quantiles()[0], doc="Median scale over all draws.")
    lower = property(lambda self: self.quantiles()[1], doc="Lower end of the equal-tailed ``prob`` interval.")
    upper = property(lambda self: self.quantiles()[2], doc="Upper end (``inf`` when non-reaching draws fall there).")

    @property
    def horizon(self) -> float:
        """Decades of the median scale beyond the largest fitted scale (0 inside the data, inf if never)."""
        return float(max(0.0, np.log10(self.median / self.fitted_max)))

    def table(self) -> pd.DataFrame:
        """One row per quantity (the scale, and N and D for two-input laws): median, lower, upper, prob.

        ``attrs`` holds target, direction, along, never_fraction, at_start_fraction, reliable and law.
        """
        rows = {self.scale: self.quantiles()}
        rows.update({k: self.quantiles(v) for k, v in self.inputs.items()})
        df = pd.DataFrame.from_dict(rows, orient="index", columns=["median", "lower", "upper"])
        df.index.name = "quantity"
        df["prob"] = self.prob
        df.attrs.update(target=self.target, increasing=self.increasing, along=self.along, law=self.law,
                        never_fraction=self.never_fraction, at_start_fraction=self.at_start_fraction,
                        reliable=self.reliable, discrepancy=self.discrepancy.name)
        return df

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: every quantile ``null`` where it is ``inf`` (the draws there never reach the target
        inside ``bracket``; ``never_fraction`` counts them)."""
        t = self.table()
        q = {k: {c: _num(r[c]) for c in ("median", "lower", "upper")} for k, r in t.iterrows()}
        return {
            "target": self.target, "increasing": self.increasing, "direction": self.direction,
            "along": self.along, "scale": self.scale, "tokens_per_param": self.tokens_per_param,
            "flops_per_token_param": self.flops_per_token_param, "prob": self.prob,
            "median": q[self.scale]["median"], "lower": q[self.scale]["lower"], "upper": q[self.scale]["upper"],
            "inputs": {k: q[k] for k in self.inputs}, "at_median": {k: _num(v) for k, v in self.at_median.items()},
            "never_fraction": self.never_fraction, "at_start_fraction": self.at_start_fraction,
            "bracket": [float(b) for b in self.bracket], "horizon": _num(self.horizon),
            "by": [{"scale": float(x), "probability": float(p)} for x, p in zip(self.by, self.by_prob)],
            "reliable": self.reliable, "law": self.law, "draws": int(self.draws.size),
            "discrepancy": self.discrepancy.to_dict(),
        }

    def to_records(self) -> list[dict[str, Any]]:
        """One record per ``by`` scale: ``scale`` and ``probability`` of having reached the target."""
        return self.to_dict()["by"]


def _num(v: float) -> float | None:
    return float(v) if np.isfinite(v) else None


def _fmedian(a: np.ndarray) -> float:
    a = a[np.isfinite(a)]
    return float(np.median(a)) if a.size else float("nan")


def _positive(v: Any, what: str) -> np.ndarray:
    try:
        a = np.atleast_1d(np.asarray(v, dtype=float))
    except (TypeError, ValueError):
        raise DataError(f"{what} {v!r} is not a number; give positive numbers") from None
    if a.ndim != 1 or a.size == 0 or not np.all(np.isfinite(a) & (a > 0)):
        raise DataError(f"{what} {v!r} must be one or more positive finite numbers")
    return a


class _Path:
    """The curve a reach follows: values of the law per draw at scales ``exp(u)``."""

    def __init__(self, fit, along: str, ratio: float | None, k: float) -> None:
        law, self.fit, self.k, self.ratio = fit.law, fit, k, ratio
        self.names = list(law.inputs)
        self.params = fit.draws(law.param_names)
        if len(self.names) == 1:
            if along != "frontier" or ratio is not None:
                raise FitError(f"along and tokens_per_param apply to laws of two inputs (N, D); law {law.name!r} "
                               f"has one input, {self.names[0]}")
            self.along, self.scale = "input", self.names[0]
            self.fitted = np.asarray(fit.data.inputs[self.scale], dtype=float)
        elif len(self.names) == 2:
            if along not in ("frontier", "tokens_per_param"):
                raise FitError(f"along={along!r}: choose 'frontier' or 'tokens_per_param' (with tokens_per_param=R)")
            if along == "tokens_per_param" and ratio is None:
                raise FitError("along='tokens_per_param' needs tokens_per_param=R, e.g. 20")
            self.along, self.scale = ("tokens_per_param" if ratio is not None else "frontier"), "C"
            n, d = (np.asarray(fit.data.inputs[x], dtype=float) for x in self.names)
            self.fitted = k * n * d
        else:
            raise FitError(f"reach needs a law of one input, or two (N, D); law {law.name!r} has "
                           f"{', '.join(self.names)}")

    def horizon(self, u: np.ndarray, logs: Mapping[str, np.ndarray]) -> np.ndarray:
        """Decades beyond the fitted range at scales ``exp(u)``: of the input itself, of N and D at the
        fixed ratio, or of the draws' median N* and D* on the frontier (``logs`` from :meth:`grid`)."""
        if self.along == "input":
            xin = {self.scale: np.exp(u)}
        elif self.along == "tokens_per_param":
            xin = self._ratio_inputs(u)
        else:
            with np.errstate(all="ignore"):
                xin = {k: np.exp(np.nanmedian(np.where(np.isfinite(v), v, np.nan), axis=0)) for k, v in logs.items()}
        # a scale without a value (no optimum in any draw) counts as inside the data, as it adds no distance
        xin = {k: np.where(np.isfinite(v), v, 0.0) for k, v in xin.items()}
        with np.errstate(divide="ignore"):
            return horizon(self.fit.data.inputs, xin, self.fit.law.distances)

    def _ratio_inputs(self, u: np.ndarray) -> dict[str, np.ndarray]:
        n = np.exp((u - np.log(self.k * self.ratio)) / 2)
        return {self.names[0]: n, self.names[1]: self.ratio * n}

    def grid(self, u: np.ndarray, chunk: int = 8) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """Values, shape (draws, len(u)), and the log inputs there ({} for one-input laws)."""
        law = self.fit.law
        if self.along == "input":
            return expected_draws(law, self.params, {self.scale: np.exp(u)}), {}
        if self.along == "tokens_per_param":
            xin = self._ratio_inputs(u)
            vals = expected_draws(law, self.params, xin)
            return vals, {k: np.broadcast_to(np.log(v), vals.shape) for k, v in xin.items()}
        parts = [allocate_draws(law, self.params, np.exp(u[i:i + chunk]), flops_per_token_param=self.k)
                 for i in range(0, u.size, chunk)]
        cat = {key: np.concatenate([p[key] for p in parts], axis=1) for key in ("N_opt", "D_opt", "loss_opt")}
        with np.errstate(all="ignore"):
            logs = {self.names[0]: np.log(cat["N_opt"]), self.names[1]: np.log(cat["D_opt"])}
        return cat["loss_opt"], logs

    def at(self, u: np.ndarray, idx: np.ndarray) -> np.ndarray:
        """Values of draws ``idx`` at their own scales ``exp(u)`` (one-input and fixed-ratio paths)."""
        law = self.fit.law
        xin = {self.scale: np.exp(u)} if self.along == "input" else self._ratio_inputs(u)
        with np.errstate(all="ignore"):
            v = law.evaluate(xin, {p: self.params[p][idx] for p in law.param_names})
        return np.broadcast_to(np.asarray(v, dtype=float), u.shape)


def reach(fit, *, target: float, prob: float = 0.9, by: Any = None, along: str = "frontier",
          tokens_per_param: float | None = None, bracket: tuple[float, float] | None = None,
          increasing: bool | None = None, flops_per_token_param: float = 6.0, grid: int = 16,
          discrepancy: Any = None, seed: int | None = None) -> Reach:
    """Posterior of the scale at which the law's expected value reaches ``target`` (module docstring).

    ``target`` (> 0) is the value to reach, e.g. a loss; ``prob`` the interval's probability; ``by`` one or
    more scales X (the law's input, or compute C for two-input laws) at which to give the probability that
    the expected value has reached the target.  Two-input laws go ``along="frontier"`` (compute-optimal,
    default) or at ``D = tokens_per_param * N`` (giving ``tokens_per_param`` selects it), with
    ``C = flops_per_token_param * N * D``.  ``bracket`` is the range of scales searched (default: smallest
    fitted scale to 10^6 times the largest); ``increasing`` says whether the metric reaches the target by
    rising (detected when None); ``grid`` is the number of grid points per decade.  ``discrepancy``
    (default: the fit's own) is the extrapolation uncertainty each draw carries, ``"off"`` for the law
    alone; ``seed`` (default: the fit's own) draws its ``z_s``.
    """
    check_prob(prob)
    if np.ndim(target) != 0:
        raise DataError(f"target {target!r} must be one positive number")
    t = float(_positive(target, "target")[0])
    k = float(_positive(flops_per_token_param, "flops_per_token_param")[0])
    ratio = None if tokens_per_param is None else float(_positive(tokens_per_param, "tokens_per_param")[0])
    if increasing not in (None, True, False) or not isinstance(grid, (int, np.integer)) or grid < 2:
        raise FitError(f"increasing must be True, False or None (got {increasing!r}) and grid an integer >= 2 "
                       f"(points per decade; got {grid!r})")
    disc = fit.discrepancy(discrepancy)  # as in the forward forecast (none with additive noise)
    path = _Path(fit, along, ratio, k)
    xs = None if by is None else _positive(by, "by")
    fmin, fmax = float(np.min(path.fitted)), float(np.max(path.fitted))
    br = (fmin, fmax * 10 ** _DECADES_BEYOND) if bracket is None else _positive(bracket, "bracket")
    if len(br) != 2 or not br[0] < br[1]:
        raise DataError(f"bracket {bracket!r} must be (lower, upper) with 0 < lower < upper")
    lo, hi = float(br[0]), float(br[1])

    if increasing is None:
        v0, v1 = (_fmedian(v) for v in path.grid(np.log([fmin, fmax]))[0].T)
        inside = min(v0, v1) <= t <= max(v0, v1) and v0 != v1
        up, how = (bool(v1 > v0) if inside else bool(t > v1)), "detected"
    else:
        up, how = bool(increasing), "given"
    sign = -1.0 if up else 1.0

    def reached(v: np.ndarray) -> np.ndarray:  # NaN / inf (overflow, no optimum) never counts as reached
        with np.errstate(invalid="ignore"):
            return np.isfinite(v) & (sign * (v - t) <= 0)

    n_grid = max(2, int(np.ceil(np.log10(hi / lo) * grid)) + 1)
    u = np.linspace(np.log(lo), np.log(hi), n_grid)
    vals, logs = path.grid(u)
    shift = _Shift(fit, disc, seed, vals.shape[0])
    vals = shift.apply(vals, u, logs, path)
    hit = reached(vals)
    any_hit, j = hit.any(axis=1), np.argmax(hit, axis=1)
    start = any_hit & (j == 0)
    out = np.where(start, lo, np.inf)
    ins = {name: np.full(out.size, np.inf) for name in logs}
    for name, lv in logs.items():
        ins[name][start] = np.exp(lv[start, 0])
    mid = np.nonzero(any_hit & (j > 0))[0]
    if mid.size:
        j1 = j[mid]
        a, b = u[j1 - 1], u[j1]
        if path.along == "frontier":  # linear in log C between the grid points (the optimum's loss is smooth)
            v0, v1 = vals[mid, j1 - 1], vals[mid, j1]
            with np.errstate(all="ignore"):
                w = np.clip(np.where(np.isfinite(v0), (t - v0) / (v1 - v0), 1.0), 0.0, 1.0)
            ub = a + w * (b - a)
            for name, lv in logs.items():
                l0, l1 = lv[mid, j1 - 1], lv[mid, j1]
                ins[name][mid] = np.exp(np.where(np.isfinite(l0), l0 + w * (l1 - l0), l1))
        else:  # bisection in log x: a not reached, b reached
            for _ in range(_BISECTIONS):
                c = (a + b) / 2
                ok = reached(shift.at(path.at(c, mid), c, mid, path))
                a, b = np.where(ok, a, c), np.where(ok, c, b)
            ub = b
            if path.along == "tokens_per_param":
                for name, v in path._ratio_inputs(ub).items():
                    ins[name][mid] = v
        out[mid] = np.exp(ub)

    res = Reach(target=t, increasing=up, direction=how, along=path.along, scale=path.scale, draws=out,
                at_start=start, inputs=ins, at_median={}, bracket=(float(lo), float(hi)), fitted_max=fmax,
                prob=float(prob), reliable=fit.diagnostics().ok, law=fit.law.name, tokens_per_param=ratio,
                flops_per_token_param=None if path.along == "input" else k, discrepancy=disc)
    med = res.median
    at_med = {path.scale: med}
    if path.along == "tokens_per_param" and np.isfinite(med):
        at_med.update({n: float(v[0]) for n, v in path._ratio_inputs(np.log([med])).items()})
    elif path.along == "frontier" and np.isfinite(med):
        nmed = _fmedian(np.exp(path.grid(np.log([med]))[1][path.names[0]][:, 0]))
        at_med.update({path.names[0]: nmed, path.names[1]: med / (k * nmed)})
    if xs is None:
        return replace(res, at_median=at_med)
    v_by, logs_by = path.grid(np.log(xs))
    v_by = shift.apply(v_by, np.log(xs), logs_by, path)
    return replace(res, at_median=at_med, by=xs, by_prob=reached(v_by).mean(axis=0))


class _Shift:
    """Each draw's extrapolation discrepancy: a shift by ``z_s tau(u)`` on the likelihood's noise scale (log y,
    or logit y for metrics in [0, 1], as :func:`~bayescale.inference.forecast.forecast_draws` shifts), with one
    antithetic ``z_s`` per draw."""

    def __init__(self, fit, disc: Discrepancy, seed: int | None, n: int) -> None:
        self.disc, self.lik, self.z = disc, fit.likelihood, np.zeros(n)
        self._u = self._base = np.zeros(1)
        if disc.off:
            return
        if seed is None:
            seed = fit.settings.get("seed")
        self.noise = fit.draws(self.lik.noise_names)
        self.z = antithetic_normal(seed, (n,), 0x2EAC)

    def apply(self, vals: np.ndarray, u: np.ndarray, logs: Mapping[str, np.ndarray], path: _Path) -> np.ndarray:
        """Values ``vals`` (draws, len(u)) shifted; the relative unit is the forecast's own sd there (of the
        draws on the noise scale, and of one observation's noise)."""
        if self.disc.off:
            return vals
        vals = self.lik.clip_mean(vals)
        with np.errstate(all="ignore"):
            lv = self.lik.link(vals)
            sd = np.nanstd(np.where(np.isfinite(lv), lv, np.nan), axis=0)
            noise = self.lik.noise_sd(np.where(np.isfinite(vals), vals, np.nan), self.noise)
        base = np.sqrt(np.nan_to_num(sd) ** 2 + np.nan_to_num(noise) ** 2)
        if np.size(u) > 1:
            self._u, self._base = np.asarray(u, dtype=float), base  # for :meth:`at`, between grid points
        tau = self.disc.sd(path.horizon(u, logs), base)
        with np.errstate(all="ignore"):
            return self.lik.shift(vals, self.z[:, None] * tau[None, :])

    def at(self, v: np.ndarray, u: np.ndarray, idx: np.ndarray, path: _Path) -> np.ndarray:
        """Values ``v`` of draws ``idx`` at their own scales ``exp(u)`` (one-input and fixed-ratio paths)."""
        if self.disc.off:
            return v
        tau = self.disc.sd(path.horizon(u, {}), np.interp(u, self._u, self._base))  # the unit is smooth in u
        with np.errstate(all="ignore"):
            return self.lik.shift(self.lik.clip_mean(v), self.z[idx] * tau)
