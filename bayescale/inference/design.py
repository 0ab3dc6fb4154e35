"""Next-run design: which candidate run would shrink the forecast's interval at a target most, per unit cost.

Preposterior analysis, by importance reweighting of the fit's own posterior draws.  For each candidate
run ``x_c`` and each of ``J`` simulated outcomes (``outcomes``, a seeded RNG):

1. **Simulate the run's result** from the posterior predictive of the fitted model: pick a posterior draw
   ``theta_j`` and draw ``y_j ~ p(y | f(x_c; theta_j), noise_j)`` (the law plus run-to-run noise; the
   extrapolation discrepancy is not added here, because a refit with the new run would treat it as lying
   on the law too).
2. **Update the posterior** without refitting: weight every draw ``theta_s`` by the likelihood of the
   simulated result, ``w_s ∝ p(y_j | theta_s)``, Pareto-smoothed (PSIS, :func:`arviz_stats` ``psislw``,
   with the relative efficiency of the weights over the chains).  Its Pareto ``k`` says whether the
   reweighted draws can stand in for a refit: above 0.7 (``K_MAX``) they cannot (a surprising result in
   the posterior's tail).  A result much more precise than the posterior at the candidate gives bounded
   weights (low k) but few effective draws: ``ess_min`` reports the smallest ``1 / sum w^2``.  Such outcomes are
   counted and flagged; with ``refit=`` (e.g. :func:`bayescale.refit`) they are refitted exactly
   instead, the simulated run added to the data.
3. **Measure the interval at the target**: the equal-tailed ``prob`` interval of the law's expected value
   (weighted quantiles), including the extrapolation discrepancy exactly as :meth:`Fit.forecast` adds
   it (:mod:`bayescale.spec.discrepancy`), and the interval of a new observation there too.

The expected reduction is the mean over outcomes of (width now - width after); its Monte Carlo standard
error is the sd over outcomes / sqrt(J).  Every candidate uses the same outcome seeds and the same
discrepancy and noise draws (common random numbers), so candidates are compared on equal noise, and a
result depends on ``seed`` and the candidate alone, not on the other candidates listed.

**What the discrepancy does.**  It is ``b (s0 + kappa h)`` at ``h`` decades beyond the fitted range.
Reweighting shrinks ``b`` (the forecast's own sd from parameters and noise, in the relative form) but
not ``s0 + kappa h``.  A run beyond the fitted range moves the range itself: the target's horizon is
recomputed with the candidate included, ``h' = horizon(fitted + x_c, target)``, so a run near the target
removes most of the distance (a run at or beyond it, all of it).  This is what the package would do
after the run is added and the law refitted; it assumes that the law holds out to the candidate, which
no simulation from the model can check (``benchmarks/design_backtest.py`` measures how it works on real
curves).  ``from_horizon`` reports the part of the reduction due to the shorter horizon alone (the
posterior unchanged).

**Cost.**  By default the candidate's scale (one-input laws) or compute ``6 N D`` (laws of two inputs,
in the law's order).  ``cost`` may be a formula in the law's inputs (or the data's column names for
them), parsed by the package's safe formula parser (:mod:`bayescale.spec.formula`), e.g. ``"N*D"`` or
``"x^1.2"``, or one positive number per candidate.  Ranking is by expected reduction of the expected
value's width per unit cost.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence

import numpy as np
import pandas as pd
from arviz_stats.base import array_stats

from ..errors import DataError, FitError
from ..predictive import check_prob, expected_draws, target_inputs
from ..spec.data import Dataset
from ..spec.discrepancy import antithetic_normal, horizon
from ..spec.formula import parse

__all__ = ["Design", "design", "cost_of", "K_MAX", "OUTCOMES"]

#: Pareto k above which reweighted draws cannot stand in for a refit (Vehtari et al. 2024).
K_MAX = 0.7
#: Simulated outcomes per candidate by default.
OUTCOMES = 64


@dataclass(frozen=True)
class Design:
    """Candidate runs ranked by the expected reduction of the target interval's width per unit cost.

    ``rows`` holds one record per candidate, best first (see :meth:`table` for the columns);
    ``width`` and ``width_observation`` are the widths now (law's expected value, new observation),
    ``horizon`` the target's decades beyond the data now.
    """

    target: Mapping[str, float]
    rows: tuple[Mapping[str, Any], ...] = field(hash=False)
    width: float
    width_observation: float
    horizon: float
    prob: float
    outcomes: int
    seed: int | None
    cost: str
    law: str
    reliable: bool = True
    refit: bool = False
    discrepancy: Mapping[str, Any] = field(default_factory=dict, hash=False)

    @property
    def best(self) -> Mapping[str, Any]:
        """The top-ranked candidate's record."""
        return self.rows[0]

    def table(self) -> pd.DataFrame:
        """One row per candidate, ranked: its inputs, ``cost``, ``horizon`` after, ``width`` after, expected
        ``reduction`` with ``reduction_se`` (Monte Carlo) and ``reduction_sd`` (spread over outcomes),
        ``relative`` (reduction / width now), ``from_horizon``, ``per_cost`` (with ``per_cost_se``), the same
        for a new observation (``obs_*``), Pareto ``k_max``, ``k_median``, ``high_k`` (outcomes with
        k > 0.7), ``ess_min`` (the smallest effective sample size of the weights, ``1 / sum w^2``, over
        outcomes) and ``refits``."""
        recs = [{**{k: v for k, v in r["candidate"].items()}, **{k: v for k, v in r.items() if k != "candidate"}}
                for r in self.rows]
        df = pd.DataFrame(recs).set_index("rank")
        df.attrs.update(width=self.width, width_observation=self.width_observation, horizon=self.horizon,
                        prob=self.prob, cost=self.cost, reliable=self.reliable)
        return df

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: the target, widths now, settings, and ``candidates`` ranked (their records)."""
        return {"law": self.law, "target": {k: float(v) for k, v in self.target.items()}, "prob": self.prob,
                "width": self.width, "width_observation": self.width_observation, "horizon": self.horizon,
                "outcomes": self.outcomes, "seed": self.seed, "cost": self.cost, "k_threshold": K_MAX,
                "refit": self.refit, "reliable": self.reliable, "discrepancy": dict(self.discrepancy),
                "candidates": [_jsonable(r) for r in self.rows]}


def _jsonable(r: Mapping[str, Any]) -> dict[str, Any]:
    out = {}
    for k, v in r.items():
        if isinstance(v, Mapping):
            out[k] = {a: float(b) for a, b in v.items()}
        elif isinstance(v, (int, np.integer)) and not isinstance(v, bool):
            out[k] = int(v)
        else:
            out[k] = float(v) if np.isfinite(v) else None
    return out


def cost_of(law, candidates: Mapping[str, np.ndarray], cost: Any = None,
            columns: Mapping[str, str] | None = None) -> tuple[np.ndarray, str]:
    """Cost of each candidate and its description (module docstring): the default, a formula in the law's
    inputs (or their column names), or one positive number per candidate."""
    n = len(next(iter(candidates.values())))
    names = list(law.inputs)
    if cost is None:
        if len(names) == 1:
            text = names[0]
        elif len(names) == 2:
            text = f"6*{names[0]}*{names[1]}"
        else:
            raise DataError(f"law {law.name!r} has inputs {', '.join(names)}: give the cost as a formula in them")
        cost = text
    if isinstance(cost, str):
        formula = parse(cost)  # LawError for anything outside the allow-list
        alias = {c: k for k, c in (columns or {}).items() if k in names and c not in names}
        unknown = sorted(formula.names - set(names) - set(alias))
        if unknown:
            known = names + sorted(alias)
            raise DataError(f"cost formula {cost!r} uses {', '.join(unknown)}; it may use the law's inputs "
                            f"({', '.join(known)})")
        env = {**{k: np.asarray(v, dtype=float) for k, v in candidates.items()},
               **{c: np.asarray(candidates[k], dtype=float) for c, k in alias.items()}}
        values, text = np.broadcast_to(np.asarray(formula(env), dtype=float), (n,)).copy(), cost
    else:
        try:
            values = np.atleast_1d(np.asarray(cost, dtype=float))
        except (TypeError, ValueError):
            raise DataError(f"cost {cost!r} is neither a formula nor numbers") from None
        if values.shape != (n,):
            raise DataError(f"cost has {values.size} value(s) for {n} candidate(s); give one per candidate")
        text = "given"
    bad = ~np.isfinite(values) | (values <= 0)
    if bad.any():
        raise DataError(f"cost {text!r} is {values[bad][0]:g} for candidate {int(np.argmax(bad)) + 1}; costs must be "
                        "positive and finite")
    return values, text


# -- the widths of one weighted posterior -------------------------------------------------------------------
def _wquantile(values: np.ndarray, w: np.ndarray, qs: Sequence[float]) -> np.ndarray:
    """Weighted quantiles of each row (rows of ``values`` and normalised weights ``w``, shape (J, S)),
    interpolated at the weights' midpoints (Hazen's rule when the weights are equal)."""
    order = np.argsort(values, axis=1)
    v, ws = np.take_along_axis(values, order, 1), np.take_along_axis(w, order, 1)
    c = np.cumsum(ws, axis=1) - ws / 2
    return np.array([np.interp(qs, c[j], v[j]) for j in range(v.shape[0])])


def _wmedian(values: np.ndarray, w: np.ndarray) -> np.ndarray:
    return _wquantile(np.broadcast_to(values, w.shape), w, [0.5])[:, 0]


class _Posterior:
    """Arrays of one fit at the target that the widths need: law values, noise, and the fixed draws of the
    discrepancy (antithetic, as :func:`bayescale.inference.forecast.forecast_draws`) and of new-run noise."""

    def __init__(self, fit, target: Mapping[str, np.ndarray], seed: int | None, prob: float) -> None:
        self.fit, self.target, self.seed, self.prob = fit, target, seed, prob
        self.lik = fit.likelihood
        self.params = fit.draws(fit.law.param_names)
        self.noise = fit.draws(self.lik.noise_names)
        self.mu = expected_draws(fit.law, self.params, target)[:, 0]
        self.S = self.mu.size
        self.chains = int(fit.tree["posterior"].sizes["chain"])
        self.z = antithetic_normal(seed, (self.S,))  # the forecast's own draws at one target

    def widths(self, w: np.ndarray, h: float, disc) -> tuple[np.ndarray, np.ndarray]:
        """Widths of the ``prob`` intervals of the expected value and of a new observation at the target,
        under each row of normalised weights ``w`` (J, S), with the target ``h`` decades out."""
        lo, hi = (1 - self.prob) / 2, (1 + self.prob) / 2
        mu = np.broadcast_to(self.mu, w.shape)
        if self.lik.scale != "identity":  # the discrepancy shifts log y, or logit y for metrics in [0, 1]
            with np.errstate(all="ignore"):
                lm = self.lik.link(self.lik.clip_mean(self.mu))
            mean = (w * lm).sum(axis=1, keepdims=True)
            sd_param = np.sqrt(np.clip((w * (lm - mean) ** 2).sum(axis=1), 0, None))
            if "sigma" in self.noise:  # the noise's sd under the reweighted posterior
                sd_noise = _wmedian(self.noise["sigma"], w)
            else:  # beta, binomial: the noise sd depends on the mean; taken under the fit's own posterior
                sd_noise = np.full(w.shape[0], float(self.lik.noise_sd(self.mu[:, None], self.noise)[0]))
            tau = disc.sd(np.full(w.shape[0], h), np.sqrt(sd_param ** 2 + sd_noise ** 2))
            with np.errstate(all="ignore"):
                expected = self.lik.shift(self.lik.clip_mean(mu), tau[:, None] * self.z[None, :])
        else:
            expected = mu
        q = _wquantile(expected, w, [lo, hi])
        observed = np.stack([self.lik.draw(e[:, None], self.noise, np.random.default_rng(self.seed))[:, 0]
                             for e in expected])
        qo = _wquantile(observed, w, [lo, hi])
        return q[:, 1] - q[:, 0], qo[:, 1] - qo[:, 0]


def _psis(loglik: np.ndarray, chains: int) -> tuple[np.ndarray, np.ndarray]:
    """PSIS weights (normalised, shape (J, S)) and Pareto k (J,) for importance ratios ``exp(loglik)``."""
    J, S = loglik.shape
    w, k = np.empty_like(loglik), np.empty(J)
    for j in range(J):
        r = np.exp(loglik[j] - loglik[j].max())
        r_eff = 1.0
        if chains > 1 and S % chains == 0 and np.ptp(r) > 0:
            r_eff = float(np.clip(array_stats.ess(r.reshape(chains, -1), method="mean", relative=True), 0.01, 1.0))
        lw, k[j] = array_stats.psislw(-loglik[j], r_eff=r_eff)
        w[j] = np.exp(lw - lw.max())
        w[j] /= w[j].sum()
    return w, k


def _add_run(data: Dataset, point: Mapping[str, float], y: float) -> Dataset:
    return Dataset(inputs={k: np.append(np.asarray(v, dtype=float), point[k]) for k, v in data.inputs.items()},
                   y=np.append(data.y, y), columns=data.columns, source=f"{data.source} + one simulated run",
                   rows=(*data.rows, "simulated run") if data.rows else ())


def design(fit, *, target: Any, candidates: Any, cost: Any = None, prob: float = 0.9, seed: int | None = None,
           outcomes: int = OUTCOMES, refit: Callable | None = None, max_refits: int | None = None) -> Design:
    """Rank candidate runs by the expected reduction of the target interval's width per unit cost
    (module docstring).

    ``target``: one scale (or a mapping of the law's inputs to one value each); ``candidates``: scales
    (or a mapping of inputs to equal-length lists); ``cost``: None (default cost), a formula or numbers;
    ``prob``: the intervals' probability; ``seed``: of the simulated outcomes (default the fit's seed);
    ``outcomes``: simulated results per candidate; ``refit``: a function ``(fit, Dataset) -> Fit`` such as
    :func:`bayescale.refit`, used for outcomes whose Pareto k exceeds 0.7 (at most ``max_refits`` per
    candidate; all by default), which are otherwise flagged.
    """
    check_prob(prob)
    law = fit.law
    tgt = target_inputs(law, target)
    if len(next(iter(tgt.values()))) != 1:
        raise DataError(f"give one target, got {len(next(iter(tgt.values())))}; run design once per target")
    cands = target_inputs(law, candidates)
    costs, cost_text = cost_of(law, cands, cost, fit.data.columns)
    if isinstance(outcomes, bool) or not isinstance(outcomes, (int, np.integer)) or outcomes < 2:
        raise FitError(f"outcomes must be an integer >= 2 (simulated results per candidate), got {outcomes!r}")
    if refit is not None and not callable(refit):
        raise FitError(f"refit must be a function (fit, data) -> Fit such as bayescale.refit, or None; got {refit!r}")
    if max_refits is not None and (isinstance(max_refits, bool) or not isinstance(max_refits, (int, np.integer))
                                   or max_refits < 0):
        raise FitError(f"max_refits must be an integer >= 0 (refits per candidate) or None (all), got {max_refits!r}")
    if seed is None:
        seed = fit.settings.get("seed")
    disc = fit.discrepancy()
    post = _Posterior(fit, tgt, seed, float(prob))
    dist = law.distances
    h0 = float(horizon(fit.data.inputs, tgt, dist)[0])
    uniform = np.full((1, post.S), 1.0 / post.S)
    w0, wo0 = (float(v[0]) for v in post.widths(uniform, h0, disc))
    J = int(outcomes)
    mu_c = expected_draws(law, post.params, cands)  # (S, n candidates)
    rows = []
    for i in range(mu_c.shape[1]):
        point = {k: float(v[i]) for k, v in cands.items()}
        fitted = {k: np.append(fit.data.inputs[k], point[k]) for k in law.inputs}
        h1 = float(horizon(fitted, tgt, dist)[0])
        rng = np.random.default_rng(None if seed is None else [int(seed), 0xDE51])
        pick = rng.choice(post.S, J, replace=J > post.S)
        y = post.lik.draw(mu_c[pick, i][:, None], {k: v[pick] for k, v in post.noise.items()}, rng)[:, 0]
        noise_s = {k: v[None, :] for k, v in post.noise.items()}
        loglik = post.lik.logpdf(y[:, None], mu_c[None, :, i], noise_s)
        w, k = _psis(loglik, post.chains)
        width, width_obs = post.widths(w, h1, disc)
        high = np.nonzero(k > K_MAX)[0]
        done = 0
        if refit is not None:
            for j in high[: len(high) if max_refits is None else int(max_refits)]:
                new = refit(fit, _add_run(fit.data, point, float(y[j])), seed_offset=1 + done)
                again = _Posterior(new, tgt, seed, post.prob)
                hw, hwo = again.widths(np.full((1, again.S), 1.0 / again.S), h1, disc)
                width[j], width_obs[j], done = hw[0], hwo[0], done + 1
        from_h = float(w0 - post.widths(uniform, h1, disc)[0][0])
        red, red_o = w0 - width, wo0 - width_obs
        se = float(np.std(red, ddof=1) / np.sqrt(J))
        rows.append({
            "candidate": point, "cost": float(costs[i]), "horizon": h1, "width": float(np.mean(width)),
            "reduction": float(np.mean(red)), "reduction_se": se, "reduction_sd": float(np.std(red, ddof=1)),
            "relative": float(np.mean(red) / w0) if w0 > 0 else float("nan"), "from_horizon": from_h,
            "per_cost": float(np.mean(red) / costs[i]), "per_cost_se": se / float(costs[i]),
            "obs_width": float(np.mean(width_obs)), "obs_reduction": float(np.mean(red_o)),
            "obs_reduction_se": float(np.std(red_o, ddof=1) / np.sqrt(J)),
            "k_max": float(np.max(k)), "k_median": float(np.median(k)), "high_k": int(len(high)),
            "ess_min": float(np.min(1.0 / np.sum(w ** 2, axis=1))),
            "refits": int(done),
        })
    order = sorted(range(len(rows)), key=lambda r: -rows[r]["per_cost"])
    ranked = tuple({"rank": n + 1, **rows[r]} for n, r in enumerate(order))
    return Design(target={k: float(v[0]) for k, v in tgt.items()}, rows=ranked, width=w0, width_observation=wo0,
                  horizon=h0, prob=float(prob), outcomes=J, seed=seed, cost=cost_text, law=law.name,
                  reliable=fit.diagnostics().ok, refit=refit is not None, discrepancy=disc.to_dict())
