r"""Least-squares reference methods for the extrapolation benchmark (written from the papers' descriptions).

Three point-estimate fitters, each ``fit_*(x=, y=) -> BaselineFit`` with ``.predict(x)``:

* :func:`fit_bnsl_lsq` -- the BNSL paper's procedure (Caballero et al. 2022, arXiv:2210.14891, as
  described in ``shared/data/bnsl_4digit_addition/SOURCE.md``): 1-break BNSL

  .. math:: y = a + b x^{-c_0} (1 + (x/d_1)^{1/f_1})^{-c_1 f_1},

  exhaustive grid (what ``scipy.optimize.brute`` with no polishing returns; evaluated
  vectorised by :func:`grid_argmin`) minimising the mean squared error of
  ``log(y + 1)``, with ``b = 1.25^{\tilde b} - 1 + 10^{-8}`` and ``d_1 = 1.25^{\tilde d} - 1 + 10^{-8}``
  on the grid (a 0..1 step 0.1; b~ 0..40 step 2.5; c0, c1, f1 0..1 step 0.25; d~ 0..40 step 2.5;
  163,840 points), then Levenberg-Marquardt (``curve_fit(method="lm")``) of ``log(y + 1)`` from the
  grid optimum.  **Adaptation**: the grid's ``b`` and ``d_1`` ranges (up to 1.25^40 ~ 7,500) assume x
  of order 1..10^4 (dataset sizes in the BNSL scripts); the benchmark's x (seen examples, 10^6..10^11)
  are therefore divided by the smallest fit x first (BNSL is equivariant under rescaling x: ``d_1``
  scales with x and ``b`` by ``x_min^{c_0}``), and predictions are made on the same scale.
  ``maxfev`` is 20,000 instead of 10^8 (the LM step either converges in a few hundred evaluations or
  wanders off); if LM fails or gives a worse fit than the grid, the grid optimum is kept.
* :func:`fit_m4` -- estimator M4 of Alabdulmohsin, Neyshabur & Zhai (2022, arXiv:2209.06640):

  .. math:: \frac{\varepsilon_x - \varepsilon_\infty}{(\varepsilon_0 - \varepsilon_x)^\alpha} = \beta x^{c},

  a sigmoid in ``log x`` from the random-guess loss ``eps_0`` (small x) down to the irreducible loss
  ``eps_inf`` (``c < 0``); ``alpha`` sets its asymmetry.  For fixed ``(eps_inf, alpha)`` the relation is
  linear in ``log x``: ``log(eps_x - eps_inf) - alpha log(eps_0 - eps_x) = log beta + c log x``, so
  ``(log beta, c)`` come from ordinary least squares; ``(eps_inf, alpha)`` are chosen on a grid
  (eps_inf: 40 values in ``[0, 0.999 min y)``, alpha: 0..2 step 0.1) by the squared log error of the
  *predictions* on the fit points (the implicit equation is solved for ``eps_x`` by bisection: its
  left side increases monotonically in ``eps_x`` on ``(eps_inf, eps_0)``).  ``eps_0`` is the
  random-guess level: 1 when every fit value is below 1 (error rates and the benchmark's
  normalised losses), otherwise chosen from ``max(y) x {1.01, 1.1, 1.5, 2}`` on the same criterion.
  This is our reading of the paper's description, not its code.
* :func:`fit_power_law_lsq` -- ``y = E + A x^{-alpha}`` by ``curve_fit`` (trust-region, bounds
  ``0 <= E < min y``, ``A > 0``, ``0 <= alpha <= 5``) of ``log y``, best of 9 starting points.

None of them gives a predictive density: the benchmark reports "–" for their lpd and coverage.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Callable, Mapping

import numpy as np
from scipy import optimize

__all__ = ["BaselineFit", "bnsl1_curve", "fit_bnsl_lsq", "fit_m4", "m4_predict", "fit_power_law_lsq",
           "BASELINES"]


@dataclass(frozen=True)
class BaselineFit:
    """A point-estimate fit: name, parameters (in the original x units where stated) and a predictor."""

    name: str
    params: Mapping[str, float]
    predict_fn: Callable[[np.ndarray], np.ndarray] = field(repr=False, compare=False)
    ok: bool = True
    note: str = ""

    def predict(self, x: np.ndarray) -> np.ndarray:
        """Predicted y at scales ``x`` (1-D array)."""
        return np.asarray(self.predict_fn(np.asarray(x, dtype=float)), dtype=float)


def bnsl1_curve(x: np.ndarray, a: float, b: float, c0: float, c1: float, d1: float, f1: float) -> np.ndarray:
    r"""1-break BNSL, ``a + b x^{-c0} (1 + (x/d1)^{1/f1})^{-c1 f1}`` (numpy; inf/nan where undefined)."""
    x = np.asarray(x, dtype=float)
    f1 = np.asarray(f1, dtype=float)  # numpy division: f1 = 0 (a grid value) gives inf, not ZeroDivisionError
    with np.errstate(all="ignore"):
        return a + b * x ** (-c0) * (1.0 + (x / d1) ** (1.0 / f1)) ** (-c1 * f1)


# Grid of the BNSL reference script (start, stop exclusive, step), as in bnsl_4digit_addition/SOURCE.md.
BNSL_GRID = (slice(0, 1, 0.1), slice(0, 40, 2.5), slice(0, 1, 0.25), slice(0, 1, 0.25), slice(0, 40, 2.5),
             slice(0, 1, 0.25))


def _exp125(t):
    return 1.25 ** t - 1 + 1e-8


def grid_loss_batch(xs: np.ndarray, ly1: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
    """Grid objective of the BNSL search for many grid points at once: rows of ``P`` are
    ``(a, b~, c0, c1, d~, f1)``; returns the mean squared error of ``log(y + 1)`` (inf where undefined)."""

    def f(P: np.ndarray) -> np.ndarray:
        a, bt, c0, c1, dt, f1 = (P[:, i:i + 1] for i in range(6))
        pred = bnsl1_curve(xs[None, :], a, _exp125(bt), c0, c1, _exp125(dt), f1)
        with np.errstate(all="ignore"):
            r = np.mean((np.log(pred + 1) - ly1[None, :]) ** 2, axis=1)
        return np.where(np.isfinite(r), r, np.inf)

    return f


def grid_argmin(f_batch: Callable[[np.ndarray], np.ndarray], grid: tuple, chunk: int = 8192) -> np.ndarray:
    """The grid point minimising ``f_batch`` -- what ``scipy.optimize.brute(f, grid, finish=None)`` returns.

    Hand-written because ``brute`` calls the objective once per grid point in Python (about 10 s for
    the 163,840-point BNSL grid); this evaluates it in vectorised chunks over the same grid (built by
    ``np.mgrid`` in the same C order, first minimum kept as ``brute``'s ``argmin`` does).  Equality
    with ``brute`` is checked in ``tests/test_benchmarks.py``.
    """
    axes = [np.mgrid[s] for s in grid]
    mesh = np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1).reshape(-1, len(grid))
    best_val, best_i = np.inf, 0
    for start in range(0, mesh.shape[0], chunk):
        v = f_batch(mesh[start:start + chunk])
        i = int(np.argmin(v))
        if v[i] < best_val:
            best_val, best_i = float(v[i]), start + i
    return mesh[best_i]


def fit_bnsl_lsq(*, x: np.ndarray, y: np.ndarray, grid: tuple = BNSL_GRID, maxfev: int = 20_000) -> BaselineFit:
    """BNSL (1 break) by grid search then Levenberg-Marquardt on ``log(y + 1)`` (see module docstring)."""
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    x0 = float(x.min())
    xs = x / x0
    ly1 = np.log(y + 1)

    g = grid_argmin(grid_loss_batch(xs, ly1), grid)
    a, bt, c0, c1, dt, f1 = (float(v) for v in g)
    p_grid = np.array([a, _exp125(bt), c0, c1, _exp125(dt), f1])

    def loss(p):
        with np.errstate(all="ignore"):
            r = np.mean((np.log(bnsl1_curve(xs, *p) + 1) - ly1) ** 2)
        return r if np.isfinite(r) else np.inf

    def model(xx, *p):
        with np.errstate(all="ignore"):
            out = np.log(bnsl1_curve(xx, *p) + 1)
        return np.where(np.isfinite(out), out, 1e6)  # keeps LM away from undefined regions

    p, note = p_grid, "grid optimum (LM failed)"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            p_lm, _ = optimize.curve_fit(model, xs, ly1, p0=p_grid, method="lm", maxfev=maxfev)
        if loss(p_lm) <= loss(p_grid):
            p, note = p_lm, "grid + LM"
        else:
            note = "grid optimum (LM did not improve)"
    except (RuntimeError, ValueError, optimize.OptimizeWarning):
        pass
    p = tuple(float(v) for v in p)
    names = ("a", "b", "c0", "c1", "d1", "f1")
    params = dict(zip(names, p))
    params["d1"] *= x0  # back to the original x units
    params["b"] *= x0 ** params["c0"]
    return BaselineFit(name="bnsl_lsq", params=params, predict_fn=lambda xx: bnsl1_curve(xx / x0, *p),
                       ok=bool(np.isfinite(loss(np.array(p)))), note=note)


# ----------------------------------------------------------------------------- M4
def m4_predict(x: np.ndarray, *, eps0: float, eps_inf, alpha, beta, c, iters: int = 50) -> np.ndarray:
    r"""Solve ``(e - eps_inf) / (eps0 - e)^alpha = beta x^c`` for ``e`` in ``(eps_inf, eps0)`` by bisection.

    Hand-written (vectorised bisection) because the equation has no closed form for general alpha
    and is solved for many grid candidates at once; the left side increases in ``e``.
    """
    x = np.asarray(x, dtype=float)
    with np.errstate(all="ignore"):
        rhs = beta * x ** c
    lo = np.broadcast_to(eps_inf, rhs.shape).astype(float)
    hi = np.full(rhs.shape, float(eps0))
    for _ in range(iters):
        mid = 0.5 * (lo + hi)
        with np.errstate(all="ignore"):
            lhs = (mid - eps_inf) / (eps0 - mid) ** alpha
        up = lhs < rhs
        lo = np.where(up, mid, lo)
        hi = np.where(up, hi, mid)
    return 0.5 * (lo + hi)


def fit_m4(*, x: np.ndarray, y: np.ndarray, n_eps_inf: int = 40,
           alphas: np.ndarray = np.round(np.arange(0, 2.01, 0.1), 2)) -> BaselineFit:
    """Estimator M4 of Alabdulmohsin et al. (2022), as described in the module docstring."""
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    lx, ly = np.log(x), np.log(y)
    eps0s = [1.0] if y.max() < 1.0 else [float(y.max()) * f for f in (1.01, 1.1, 1.5, 2.0)]
    best = (np.inf, None)
    X = np.column_stack([np.ones_like(lx), lx])
    pinv = np.linalg.pinv(X)  # OLS of every candidate's transformed y on (1, log x) at once
    for eps0 in eps0s:
        ei, al = np.meshgrid(np.linspace(0.0, 0.999 * y.min(), n_eps_inf), np.asarray(alphas, float), indexing="ij")
        ei, al = ei.reshape(-1, 1), al.reshape(-1, 1)
        with np.errstate(all="ignore"):
            z = np.log(y[None, :] - ei) - al * np.log(eps0 - y[None, :])
        ok = np.all(np.isfinite(z), axis=1)
        if not ok.any():
            continue
        ei, al, z = ei[ok], al[ok], z[ok]
        coef = z @ pinv.T  # (K, 2): log beta, c
        beta, c = np.exp(coef[:, :1]), coef[:, 1:]
        pred = m4_predict(x[None, :], eps0=eps0, eps_inf=ei, alpha=al, beta=beta, c=c)
        with np.errstate(all="ignore"):
            sse = np.sum((np.log(pred) - ly[None, :]) ** 2, axis=1)
        sse = np.where(np.isfinite(sse), sse, np.inf)
        k = int(np.argmin(sse))
        if sse[k] < best[0]:
            best = (float(sse[k]), dict(eps0=float(eps0), eps_inf=float(ei[k, 0]), alpha=float(al[k, 0]),
                                        beta=float(beta[k, 0]), c=float(c[k, 0])))
    if best[1] is None:
        return BaselineFit(name="m4", params={}, predict_fn=lambda xx: np.full(np.shape(xx), np.nan), ok=False,
                           note="no finite grid point")
    pars = best[1]
    return BaselineFit(name="m4", params=pars, predict_fn=lambda xx: m4_predict(xx, **pars), note="grid + OLS")


# ----------------------------------------------------------------------------- power law with offset
def fit_power_law_lsq(*, x: np.ndarray, y: np.ndarray) -> BaselineFit:
    """``y = E + A x^-alpha`` by least squares on ``log y`` (trust-region with bounds, 9 starts)."""
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    x0 = float(x.min())
    xs = x / x0
    ly = np.log(y)
    ymin = float(y.min())

    def model(xx, E, logA, alpha):
        with np.errstate(all="ignore"):
            return np.log(E + np.exp(logA) * xx ** (-alpha))

    best = (np.inf, None)
    for fE in (0.0, 0.5, 0.9):
        for a0 in (0.1, 0.5, 1.0):
            E0 = fE * ymin
            p0 = (E0, np.log(max(y[np.argmin(xs)] - E0, 1e-6 * ymin)), a0)
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    p, _ = optimize.curve_fit(model, xs, ly, p0=p0, method="trf",
                                              bounds=([0.0, -50.0, 0.0], [ymin * (1 - 1e-9), 50.0, 5.0]),
                                              maxfev=20_000)
            except (RuntimeError, ValueError):
                continue
            sse = float(np.sum((model(xs, *p) - ly) ** 2))
            if np.isfinite(sse) and sse < best[0]:
                best = (sse, p)
    if best[1] is None:
        return BaselineFit(name="power_law_lsq", params={}, predict_fn=lambda xx: np.full(np.shape(xx), np.nan),
                           ok=False, note="no start converged")
    E, logA, alpha = (float(v) for v in best[1])
    A = float(np.exp(logA)) * x0 ** alpha  # amplitude in the original x units
    return BaselineFit(name="power_law_lsq", params={"E": E, "A": A, "alpha": alpha},
                       predict_fn=lambda xx: E + A * np.asarray(xx, dtype=float) ** (-alpha), note="trf, 9 starts")


#: name -> fitter, in the order the benchmark reports them.
BASELINES: dict[str, Callable[..., BaselineFit]] = {
    "bnsl_lsq": fit_bnsl_lsq,
    "m4": fit_m4,
    "power_law_lsq": fit_power_law_lsq,
}
