"""Compute-optimal allocation with credible intervals, and IsoFLOP data.

For a fitted law ``L(N, D)`` of model size ``N`` and training tokens ``D``,
training costs about ``C = k N D`` FLOPs (``k = 6``: forward plus backward
pass, Kaplan et al. 2020).  The compute-optimal allocation of a budget ``C`` is

.. math::

    N^*(C) = \\arg\\min_N L(N, C / (k N)),\\qquad D^*(C) = C / (k N^*),

and :func:`optimal_allocation` computes it for *every posterior draw*, so the
optimum inherits the posterior's uncertainty: medians and equal-tailed
intervals of ``N*``, ``D*``, the ratio ``D*/N*`` (tokens per parameter) and
the loss at the optimum ``L* = L(N*, D*)``.

Chinchilla closed form
----------------------
For ``L = E + A N^{-alpha} + B D^{-beta}`` (Hoffmann et al. 2022, eq. 4),

.. math::

    G = \\left(\\frac{\\alpha A}{\\beta B}\\right)^{1/(\\alpha+\\beta)},\\quad
    a = \\frac{\\beta}{\\alpha+\\beta},\\quad b = \\frac{\\alpha}{\\alpha+\\beta},\\quad
    N^* = G (C/k)^a,\\quad D^* = G^{-1} (C/k)^b.

Other laws: numerical optimum
-----------------------------
Each draw's objective ``u -> L(e^u, C/(k e^u))`` (``u = log N``) is evaluated
on a grid over a wide bracket (by default from one parameter to one token:
``1 <= N <= C/k``), vectorised over draws and budgets.  A draw whose grid
minimum lies on the bracket's edge has no interior optimum there (the law
prefers an ever smaller or larger model): it is flagged in ``at_edge`` and its
``N*``, ``D*`` are not reported as numbers (see :meth:`Allocation.table`).
Interior minima are refined by SciPy's vectorised bracketing minimiser
(``scipy.optimize.elementwise.find_minimum``; a ``minimize_scalar`` loop on
older SciPy).  The objective is assumed unimodal within the grid cell.

IsoFLOP data
------------
IsoFLOP studies record the budget ``C`` and model size ``N`` (or ``D``) of each
run; :func:`isoflop_data` derives the missing count from ``C = k N D`` and
says so.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

from ..errors import DataError, FitError
from ..predictive import check_prob
from ..spec.isoflop import check_k as _check_k
from ..spec.isoflop import isoflop_data

__all__ = ["Allocation", "optimal_allocation", "allocate_draws", "chinchilla_closed_form", "isoflop_data"]

_CHINCHILLA_PARAMS = frozenset({"E", "A", "B", "alpha", "beta"})
_QUANTITIES = ("N_opt", "D_opt", "tokens_per_param", "loss_opt")


# -- results ---------------------------------------------------------------------
@dataclass(frozen=True)
class Allocation:
    """Posterior of the compute-optimal allocation at each budget.

    Attributes
    ----------
    compute : ndarray, shape (m,)
        Budgets C in FLOPs.
    N_opt, D_opt, loss_opt : ndarray, shape (draws, m)
        Per-draw optimum; NaN where the draw has no interior optimum (``at_edge != 0``).
    at_edge : ndarray of int8, shape (draws, m)
        0 for an interior optimum, -1 where the minimum sits at the smallest ``N``
        of the bracket (the law wants a smaller model), +1 at the largest ``N``.
    prob : float
        Probability of the equal-tailed intervals in :meth:`table`.
    reliable : bool
        The fit's diagnostics verdict (``Fit.diagnostics().ok``).
    method : {"closed_form", "numeric"}
    law : str
    inputs : tuple of str
        The law's names of model size and token count.
    flops_per_token_param : float
        ``k`` in ``C = k N D``.
    """

    compute: np.ndarray = field(hash=False)
    N_opt: np.ndarray = field(hash=False)
    D_opt: np.ndarray = field(hash=False)
    loss_opt: np.ndarray = field(hash=False)
    at_edge: np.ndarray = field(hash=False)
    prob: float = 0.9
    reliable: bool = True
    method: str = "closed_form"
    law: str = ""
    inputs: tuple[str, str] = ("N", "D")
    flops_per_token_param: float = 6.0

    @property
    def tokens_per_param(self) -> np.ndarray:
        """Per-draw ``D*/N*``, shape (draws, m)."""
        return self.D_opt / self.N_opt

    @property
    def edge_fraction(self) -> np.ndarray:
        """Fraction of draws without an interior optimum, per budget."""
        return np.mean(self.at_edge != 0, axis=0)

    def _quantiles(self, name: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Median, lower, upper per budget.

        Draws without an interior optimum count as ``N* -> 0`` (edge -1) or
        ``N* -> inf`` (edge +1) (and the reverse for ``D*``, ratio): a quantile
        that falls among them is reported as 0 or inf, never as a bracket value.
        The loss at such draws is unknown (it keeps falling past the bracket),
        so a loss quantile is NaN whenever any draw is at an edge.
        """
        lo_p, hi_p = (1 - self.prob) / 2, (1 + self.prob) / 2
        vals = getattr(self, name)
        edge = self.at_edge
        if not np.any(edge):
            q = np.quantile(vals, [0.5, lo_p, hi_p], axis=0)
            return q[0], q[1], q[2]
        if name == "loss_opt":
            ok = ~np.any(edge, axis=0)
            q = np.full((3, vals.shape[1]), np.nan)
            if ok.any():
                q[:, ok] = np.quantile(vals[:, ok], [0.5, lo_p, hi_p], axis=0)
            return q[0], q[1], q[2]
        sign = 1.0 if name == "N_opt" else -1.0  # D* and D*/N* move opposite to N*
        filled = np.where(edge == 0, vals, np.where(sign * edge > 0, np.inf, 0.0))
        # No interpolation: a quantile between a finite value and inf would be inf or NaN.
        q = np.quantile(filled, [0.5, lo_p, hi_p], axis=0, method="inverted_cdf")
        return q[0], q[1], q[2]

    def table(self) -> pd.DataFrame:
        """One row per budget: ``compute``, then ``<q>_median``, ``<q>_lower``, ``<q>_upper`` for
        ``q`` in N_opt, D_opt, tokens_per_param, loss_opt; ``edge_fraction`` and ``prob``.

        ``attrs`` holds ``reliable``, ``method``, ``law`` and ``prob``.
        """
        d: dict[str, Any] = {"compute": self.compute}
        for name in _QUANTITIES:
            med, lo, hi = self._quantiles(name)
            d[f"{name}_median"], d[f"{name}_lower"], d[f"{name}_upper"] = med, lo, hi
        d["edge_fraction"] = self.edge_fraction
        df = pd.DataFrame(d)
        df["prob"] = self.prob
        df.attrs.update(reliable=self.reliable, method=self.method, law=self.law, prob=self.prob)
        return df

    def to_records(self) -> list[dict[str, Any]]:
        """JSON-ready records: ``compute``, and ``N_opt``, ``D_opt``, ``tokens_per_param``,
        ``loss_opt`` each as ``{median, lower, upper}``; ``prob``, ``edge_fraction``, ``reliable``.

        Infinite or undefined bounds (draws at the bracket edge) are ``null``.
        """
        out = []
        for _, r in self.table().iterrows():
            rec: dict[str, Any] = {"compute": float(r["compute"])}
            for name in _QUANTITIES:
                rec[name] = {k: _json_num(r[f"{name}_{k}"]) for k in ("median", "lower", "upper")}
            rec.update(prob=self.prob, edge_fraction=float(r["edge_fraction"]), reliable=self.reliable)
            out.append(rec)
        return out


def _json_num(v: float) -> float | None:
    v = float(v)
    return v if np.isfinite(v) else None


# -- validation ------------------------------------------------------------------
def _check_compute(compute: Any) -> np.ndarray:
    try:
        c = np.atleast_1d(np.asarray(compute, dtype=float))
    except (TypeError, ValueError):
        raise DataError(f"compute {compute!r} is not a number; give budgets in FLOPs, e.g. compute=[1e21, 1e23]") from None
    if c.ndim != 1 or c.size == 0:
        raise DataError("compute must be a number or a non-empty list of numbers (FLOPs)")
    bad = ~np.isfinite(c) | (c <= 0)
    if bad.any():
        raise DataError(f"compute budget {c[bad][0]!r} is not a positive finite number of FLOPs")
    return c


def _resolve_inputs(law, inputs: Sequence[str] | None) -> tuple[str, str]:
    if len(law.inputs) != 2:
        raise FitError(
            f"compute-optimal allocation needs a law of two inputs (model size N and tokens D); "
            f"law {law.name!r} has input(s) {', '.join(law.inputs)}: fit a law such as 'chinchilla'"
        )
    if inputs is None:
        return law.inputs[0], law.inputs[1]
    inputs = tuple(inputs)
    if len(inputs) != 2 or set(inputs) != set(law.inputs):
        raise FitError(
            f"inputs={inputs!r} must name the law's two inputs ({', '.join(law.inputs)}) as (N, D), "
            f"e.g. inputs=({law.inputs[0]!r}, {law.inputs[1]!r})"
        )
    return inputs[0], inputs[1]


# -- the optimum per draw ----------------------------------------------------------
def chinchilla_closed_form(
    params: Mapping[str, np.ndarray], compute: np.ndarray, *, flops_per_token_param: float = 6.0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Hoffmann et al. (2022) eq. 4 per draw: ``(N*, D*, L*)``, each shape (draws, m).

    ``G = (alpha A / (beta B))^(1/(alpha+beta))``, ``N* = G (C/k)^(beta/(alpha+beta))``,
    ``D* = (C/k)^(alpha/(alpha+beta)) / G``, ``L* = E + A N*^-alpha + B D*^-beta``.
    Computed in logs to avoid overflow of ``A`` and ``B`` for large exponents.
    """
    p = {k: np.asarray(params[k], dtype=float).reshape(-1, 1) for k in ("E", "A", "B", "alpha", "beta")}
    E, A, B, al, be = p["E"], p["A"], p["B"], p["alpha"], p["beta"]
    logc = np.log(np.asarray(compute, dtype=float) / flops_per_token_param)[None, :]
    s = al + be
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        log_g = (np.log(al) + np.log(A) - np.log(be) - np.log(B)) / s
        log_n = log_g + (be / s) * logc
        log_d = -log_g + (al / s) * logc
        n, d = np.exp(log_n), np.exp(log_d)
        loss = E + np.exp(np.log(A) - al * log_n) + np.exp(np.log(B) - be * log_d)
    return n, d, loss


def allocate_draws(
    law,
    params: Mapping[str, np.ndarray],
    compute: Any,
    *,
    inputs: Sequence[str] | None = None,
    flops_per_token_param: float = 6.0,
    method: str = "auto",
    bracket: tuple[float, float] | None = None,
    grid: int = 256,
) -> dict[str, Any]:
    """Compute-optimal ``N*, D*, L*`` for every draw of ``params`` (the pure computation).

    Parameters
    ----------
    law : Law
        A two-input law.
    params : mapping of str to 1-D array
        Posterior draws of every law parameter (same length).
    compute : float or sequence of float
        Budgets C in FLOPs.
    inputs : (str, str), optional
        Which law inputs are model size and tokens, as ``(N, D)``; default the law's order.
    flops_per_token_param : float
        ``k`` in ``C = k N D`` (default 6).
    method : {"auto", "closed_form", "numeric"}
        ``auto`` uses the closed form for the chinchilla law, the numeric optimum otherwise.
    bracket : (float, float), optional
        Range of ``N`` searched numerically; default ``(1, C/k)`` (at least one parameter and one token).
    grid : int
        Grid points over ``log N`` used to locate the basin before refining.

    Returns
    -------
    dict with ``compute``, ``N_opt``, ``D_opt``, ``loss_opt``, ``at_edge`` (arrays of shape (draws, m)),
    ``method`` and ``inputs``.
    """
    c = _check_compute(compute)
    k = _check_k(flops_per_token_param)
    n_name, d_name = _resolve_inputs(law, inputs)
    missing = [p for p in law.param_names if p not in params]
    if missing:
        raise FitError(f"draws are missing parameter(s) {', '.join(missing)} of law {law.name!r}")
    pdraws = {p: np.asarray(params[p], dtype=float).reshape(-1) for p in law.param_names}
    # the law declares the closed form (role closed_form); the names must still be Hoffmann et al.'s
    is_chin = (law.closed_form == "chinchilla" and set(law.param_names) == _CHINCHILLA_PARAMS
               and (n_name, d_name) == ("N", "D"))
    if method not in ("auto", "closed_form", "numeric"):
        raise FitError(f"unknown method {method!r}; choose 'auto', 'closed_form' or 'numeric'")
    if method == "closed_form" and not is_chin:
        raise FitError(f"the closed form holds for the chinchilla law with inputs (N, D) only, "
                       f"not {law.name!r}; use method='numeric'")
    use_closed = method == "closed_form" or (method == "auto" and is_chin)
    if use_closed:
        n, d, loss = chinchilla_closed_form(pdraws, c, flops_per_token_param=k)
        edge = np.zeros(n.shape, dtype=np.int8)
        how = "closed_form"
    else:
        n, d, loss, edge = _numeric_optimum(law, pdraws, c, n_name=n_name, d_name=d_name, k=k,
                                            bracket=bracket, grid=grid)
        how = "numeric"
    return dict(compute=c, N_opt=n, D_opt=d, loss_opt=loss, at_edge=edge, method=how,
                inputs=(n_name, d_name))


def _numeric_optimum(law, params, c, *, n_name, d_name, k, bracket, grid):
    names = list(law.param_names)
    S, m = len(next(iter(params.values()))), c.size
    if bracket is None:
        lo = np.zeros(m)                      # N >= 1 parameter
        hi = np.log(c / k)                    # D >= 1 token
    else:
        b = np.asarray(bracket, dtype=float)
        if b.shape != (2,) or not np.all(np.isfinite(b)) or b[0] <= 0 or b[1] <= b[0]:
            raise DataError(f"bracket {bracket!r} must be (N_min, N_max) with 0 < N_min < N_max")
        lo, hi = np.full(m, np.log(b[0])), np.full(m, np.log(b[1]))
    logk = np.log(k)
    logc = np.log(c)

    def objective(u, lc, *pv):
        # L(N = e^u, D = C / (k e^u)); non-finite values (overflow) never win a minimum.
        with np.errstate(all="ignore"):
            val = law.evaluate({n_name: np.exp(u), d_name: np.exp(lc - logk - u)}, dict(zip(names, pv)))
            val = np.asarray(val, dtype=float)
        return np.where(np.isfinite(val), val, np.inf)

    # 1) grid over log N for all draws and budgets at once: shape (S, m, G)
    t = np.linspace(0.0, 1.0, grid)
    u = lo[None, :, None] + (hi - lo)[None, :, None] * t[None, None, :]
    pv = [params[p][:, None, None] for p in names]
    f = np.broadcast_to(objective(u, logc[None, :, None], *pv), (S, m, grid))
    j = np.argmin(f, axis=2)                             # (S, m)
    edge = np.where(j == 0, -1, np.where(j == grid - 1, 1, 0)).astype(np.int8)
    allinf = ~np.isfinite(np.min(f, axis=2))
    if allinf.any():
        raise FitError(f"the law {law.name!r} is not finite anywhere on the bracket for "
                       f"{int(allinf.sum())} draw-budget pair(s); check the law or give bracket=")
    # 2) refine interior minima inside their grid cell [j-1, j+1]
    uo = np.take_along_axis(np.broadcast_to(u, f.shape), j[..., None], axis=2)[..., 0].copy()
    inner = edge == 0
    if inner.any():
        si, mi = np.nonzero(inner)
        step = ((hi - lo) / (grid - 1))[mi]
        x2 = uo[si, mi]
        args = (logc[mi],) + tuple(params[p][si] for p in names)
        uo[si, mi] = _refine(objective, x2 - step, x2, x2 + step, args)
    with np.errstate(all="ignore"):
        n = np.exp(uo)
        d = np.exp(logc[None, :] - logk - uo)
        loss = objective(uo, logc[None, :], *[params[p][:, None] for p in names])
    n = np.where(edge == 0, n, np.nan)
    d = np.where(edge == 0, d, np.nan)
    loss = np.where(edge == 0, loss, np.nan)
    return n, d, loss, edge


def _refine(objective, x1, x2, x3, args):
    """Minimise ``objective`` in each bracket ``x1 < x2 < x3`` (vectorised over brackets)."""
    try:
        from scipy.optimize.elementwise import find_minimum
    except ImportError:  # SciPy < 1.15: one bounded Brent search per bracket
        from scipy.optimize import minimize_scalar

        out = np.empty_like(x2)
        for i in range(x2.size):
            a = tuple(np.asarray(v)[i] for v in args)
            r = minimize_scalar(lambda z: float(objective(np.asarray(z), *a)), bounds=(x1[i], x3[i]),
                                method="bounded", options={"xatol": 1e-9})
            out[i] = r.x
        return out
    res = find_minimum(objective, (x1, x2, x3), args=args, tolerances=dict(xatol=1e-10, xrtol=1e-12),
                       maxiter=200)
    x = np.asarray(res.x, dtype=float)
    # A failed refinement keeps the grid point (still inside the cell) rather than a wrong value.
    return np.where(np.isfinite(x), x, x2)


def optimal_allocation(
    fit,
    *,
    compute: Any,
    prob: float = 0.9,
    flops_per_token_param: float = 6.0,
    inputs: Sequence[str] | None = None,
    method: str = "auto",
    bracket: tuple[float, float] | None = None,
) -> Allocation:
    """Compute-optimal model size and tokens at each budget, with credible intervals.

    Parameters
    ----------
    fit : Fit
        A fit of a law with two inputs, model size ``N`` and tokens ``D``.
    compute : float or sequence of float
        Budgets C in FLOPs.
    prob : float
        Probability of the equal-tailed intervals, in (0, 1).
    flops_per_token_param : float
        ``k`` in ``C = k N D`` (default 6).
    inputs : (str, str), optional
        Which of the law's inputs are ``(N, D)``; default the law's input order.
    method : {"auto", "closed_form", "numeric"}
        ``auto``: Hoffmann et al.'s closed form for ``chinchilla``, a numerical optimum otherwise.
    bracket : (float, float), optional
        ``N`` range of the numerical search; default ``(1, C/k)``.

    Returns
    -------
    Allocation
        Per-draw ``N*``, ``D*``, ``L*`` and ``table()`` / ``to_records()`` summaries;
        ``reliable`` is the fit's diagnostics verdict.

    Raises
    ------
    DataError
        For a non-positive, infinite or NaN budget.
    FitError
        For a law without exactly two inputs, or a bad ``prob``.

    Warns
    -----
    UserWarning
        When some draws have no interior optimum in the bracket.
    """
    check_prob(prob)
    law = fit.law
    _resolve_inputs(law, inputs)  # a one-input law fails before anything else
    r = allocate_draws(law, fit.draws(law.param_names), compute, inputs=inputs,
                       flops_per_token_param=flops_per_token_param, method=method, bracket=bracket)
    alloc = Allocation(compute=r["compute"], N_opt=r["N_opt"], D_opt=r["D_opt"], loss_opt=r["loss_opt"],
                       at_edge=r["at_edge"], prob=float(prob), reliable=fit.diagnostics().ok,
                       method=r["method"], law=law.name, inputs=r["inputs"],
                       flops_per_token_param=_check_k(flops_per_token_param))
    frac = alloc.edge_fraction
    if np.any(frac > 0):
        worst = int(np.argmax(frac))
        warnings.warn(
            f"law {law.name!r}: {frac[worst]:.1%} of draws have no interior optimum at C={alloc.compute[worst]:.3g} "
            f"(the loss keeps falling towards the edge of the N bracket); their N*/D* count as 0 or inf "
            f"in the intervals and the loss at the optimum is not reported",
            UserWarning, stacklevel=2)
    return alloc
