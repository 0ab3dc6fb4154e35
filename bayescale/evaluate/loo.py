r"""PSIS-LOO of a fit, with exact refits for the points of high Pareto k.

``az.loo`` gives the expected log pointwise predictive density
``elpd_loo = sum_j log p(y_j | y_{-j})`` on the y scale (every fit stores its
log-likelihood on the y scale), its standard error, the effective number of
parameters ``p_loo`` and the Pareto k of every point.

A point with ``k > min(0.7, 1 - 1/log10(S))`` (ArviZ's sample-size dependent
threshold, never above 0.7) makes the PSIS estimate of its term unreliable, so
the law is refitted without that point and the term is replaced by the exact
leave-one-out density

.. math:: \log p(y_j \mid y_{-j}) \approx \log \frac1S \sum_s p(y_j \mid \theta_s^{(-j)}).

At most ``max_refits`` (default 5) points per law are refitted, worst k first;
any left over are reported as unresolved and the law's LOO is flagged
``ok = False`` (as it is when an exact refit fails its own diagnostics).  The
result says which points were refitted (``refits``) and which were not
(``unresolved``); its ``pareto_k`` are PSIS's, before the refits, and
``pareto_k_max`` is the largest k *after* them (a refitted point's term is exact).

``p_loo`` above the law's number of parameters (law and noise) or above ``n/2``
is flagged in ``warnings``: following ArviZ's guidance, the model is then
misspecified or weakly identified (:func:`p_loo_warnings`).

The refits are run by ArviZ's ``reloo`` (:func:`arviz_stats.reloo`) through
:class:`RefitWrapper`, which refits with :func:`bayescale.inference.fit.refit`
(the fit's own frozen configuration) and keeps each refit's diagnostics.  The
corrected totals are ``reloo``'s: ``elpd`` the sum of the terms, ``se =
sqrt(n var(elpd_i, ddof=1))`` and ``p_loo = sum_j (lpd_j - elpd_j)``.
"""

from __future__ import annotations

import copy
import warnings
from typing import Any, Sequence

import arviz_stats as az  # the statistics alone: the `arviz` package also imports its plots and matplotlib
import numpy as np
import xarray as xr

from ..errors import FitError
from ..inference.fit import refit
from .progress import Progress, silent
from .results import LooResult
from .scoring import pointwise_log_lik, subset

__all__ = ["loo_with_refits", "psis_loo", "p_loo_warnings", "check_max_refits", "RefitWrapper", "K_MAX",
           "MAX_REFITS", "REFIT_SEED_OFFSET"]

#: Pareto k above which a point is refitted exactly (ArviZ's threshold is used when lower).
K_MAX = 0.7
#: Most exact refits per law.
MAX_REFITS = 5
#: The refit for the ``j``-th worst point (from 0) has the seed of the fit plus ``REFIT_SEED_OFFSET + j``.
REFIT_SEED_OFFSET = 1000


def psis_loo(fit) -> Any:
    """``az.loo`` of a fit (pointwise, on the stored y-scale log-likelihood), without the Pareto k warning.

    High Pareto k is handled by :func:`loo_with_refits` (exact refits) and reported in its result
    (``pareto_k``, ``unresolved``), so ArviZ's warning would only repeat it, once per law and without
    the remedy.  ``az.loo`` has no switch for it (arviz-stats 1.3: ``_warn_pareto_k(suppress=...)`` is
    not reachable from ``loo``), hence the filter, scoped to this one call and this one message
    (``catch_warnings`` swaps the process's filters for the call's duration).
    """
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Estimated shape parameter of Pareto", category=UserWarning)
        return az.loo(fit.tree, pointwise=True, var_name="y")


class RefitWrapper(az.SamplingWrapper):
    """The sampling wrapper ``az.reloo`` drives: refit the law without one point, score that point.

    Parameters
    ----------
    fit : Fit
        The fit whose exact leave-one-out terms are wanted.
    order : sequence of int
        The points to refit, worst Pareto k first; the ``j``-th gets seed offset
        ``REFIT_SEED_OFFSET + j`` whatever order ``reloo`` visits them in.
    progress : callable, optional
        Receives one line before each refit, e.g. ``"refit 1/3 of bnsl1 without point 14 (x=3.162e+04)"``.

    Attributes
    ----------
    diagnostics : dict of int to Diagnostics
        The diagnostics of each refit that judge its score, by the point left out
        (:meth:`~bayescale.inference.results.Fit.comparison_diagnostics`).
    """

    def __init__(self, fit, order: Sequence[int], progress: Progress = silent) -> None:
        super().__init__(model=fit.law, idata_orig=fit.tree)
        self.fit = fit
        self.seed_offsets = {int(i): REFIT_SEED_OFFSET + j for j, i in enumerate(order)}
        self.diagnostics: dict[int, Any] = {}
        self.progress = progress
        self._started = 0  # refits begun, for the progress line

    def sel_observations(self, idx):
        """``((i, the data without point i), i)`` for the positional index ``idx``."""
        i = int(idx)
        keep = np.ones(self.fit.data.n, dtype=bool)
        keep[i] = False
        return (i, subset(self.fit.data, keep)), i

    def sample(self, modified_observed_data):
        i, data = modified_observed_data
        at = ", ".join(f"{k}={float(v[i]):.4g}" for k, v in self.fit.data.inputs.items())
        self._started += 1
        self.progress(f"refit {self._started}/{len(self.seed_offsets)} of {self.fit.law.name} "
                      f"without point {i} ({at})")
        return refit(self.fit, data, seed_offset=self.seed_offsets[i])

    def get_inference_data(self, fitted_model):
        # The refit Fit itself: reloo only hands it on to log_likelihood__i, which needs its law and
        # likelihood as well as its posterior.
        return fitted_model

    def log_likelihood__i(self, excluded_obs, idata__i):
        """Draws of ``log p(y_i | theta_s^{(-i)})`` on the y scale, dims (chain, draw, obs) with one obs."""
        i = int(excluded_obs)
        data = self.fit.data
        ll = pointwise_log_lik(idata__i, {k: v[[i]] for k, v in data.inputs.items()}, data.y[[i]],
                               None if data.trials is None else data.trials[[i]])
        self.diagnostics[i] = idata__i.comparison_diagnostics(ll)  # what judges the score of point i
        post = idata__i.tree["posterior"]
        shape = (post.sizes["chain"], post.sizes["draw"], 1)  # Fit.draws flattens chain-major
        return xr.DataArray(ll.reshape(shape), dims=("chain", "draw", "obs"), coords={"obs": [i]})


def check_max_refits(max_refits: Any) -> int:
    """``max_refits`` as an int, or a :class:`FitError` naming the value and the fix."""
    if isinstance(max_refits, bool) or not isinstance(max_refits, (int, np.integer)) or max_refits < 0:
        raise FitError(f"max_refits={max_refits!r}: give the most exact LOO refits per law as an integer >= 0 "
                       f"(default {MAX_REFITS}; 0 runs none)")
    return int(max_refits)


def p_loo_warnings(p_loo: float, n_params: int, n_obs: int) -> tuple[str, ...]:
    """The warning for an effective number of parameters above the law's own, or above ``n/2``.

    ArviZ's guidance: ``p_loo`` should be below the number of parameters ``p`` of a well-specified
    model, and well below ``n``; ``p_loo > p`` means the model is badly misspecified, and a ``p_loo``
    that is large against ``n`` that it is too flexible (weakly identified) for the data.
    """
    over = []
    if np.isfinite(p_loo) and p_loo > n_params:
        over.append(f"number of parameters {n_params} (law and noise)")
    if np.isfinite(p_loo) and p_loo > n_obs / 2:
        over.append(f"n/2 = {n_obs / 2:g} ({n_obs} observations)")
    if not over:
        return ()
    return (f"p_loo {p_loo:.1f} > " + " and > ".join(over) + ": the model is misspecified or weakly identified; "
            "its LOO score is not to be trusted (check the priors and the fit, or compare a simpler law)",)


def loo_with_refits(fit, *, max_refits: int = MAX_REFITS, k_max: float = K_MAX,
                    progress: Progress = silent) -> LooResult:
    """PSIS-LOO of a fit, replacing the terms of points with high Pareto k by exact refits (see the module).

    ``progress`` receives one line before each exact refit (:mod:`bayescale.evaluate.progress`).
    """
    max_refits = check_max_refits(max_refits)
    loo = psis_loo(fit)
    k = np.asarray(loo.pareto_k.values, dtype=float).reshape(-1)
    thr = float(min(k_max, getattr(loo, "good_k", k_max) or k_max))
    bad = [int(i) for i in np.argsort(-k) if k[i] > thr]
    todo, left = bad[:max_refits], bad[max_refits:]
    elpd_data, diags = loo, {}
    if todo:
        chosen = loo.pareto_k.copy(data=np.isin(np.arange(k.size), todo).reshape(loo.pareto_k.shape))
        # az.reloo refits every point with k above k_threshold, however many; to keep our limit
        # (max_refits, worst k first) it gets a copy of the LOO whose k of the points left over is -inf
        limited = copy.copy(loo)
        limited.pareto_k = loo.pareto_k.where(chosen, -np.inf)
        wrapper = RefitWrapper(fit, todo, progress)
        elpd_data = az.reloo(wrapper, loo_orig=limited, var_name="y", k_threshold=thr, pointwise=True)
        # k as PSIS found it for the points left over; 0 where the term is now exact (reloo's convention)
        elpd_data.pareto_k = loo.pareto_k.where(~chosen, 0.0)
        elpd_data.warning = bool(np.any(elpd_data.pareto_k.values > elpd_data.good_k))
        diags = dict(wrapper.diagnostics)
    if not bad:
        method = "psis (all Pareto k below threshold)"
    else:
        method = f"psis with exact refits of {len(todo)} point(s) with k > {thr:.2f}"
        if left:
            method += (f"; {len(left)} more not refitted (at most {max_refits} refits per law): "
                       "elpd unreliable")
    n_params = len(fit.free_names)
    p_loo = float(elpd_data.p)
    return LooResult(law=fit.law.name, elpd=float(elpd_data.elpd), se=float(elpd_data.se), p_loo=p_loo,
                     pareto_k=tuple(float(v) for v in k), k_threshold=thr, refits=tuple(todo), unresolved=tuple(left),
                     refit_ok=all(d.ok for d in diags.values()), method=method, elpd_data=elpd_data,
                     refit_diagnostics=diags, n_params=n_params,
                     warnings=p_loo_warnings(p_loo, n_params, fit.data.n))
