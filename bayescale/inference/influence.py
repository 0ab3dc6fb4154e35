"""Which observations the answer hinges on: PSIS-LOO Pareto k of each observation.

A Pareto k above 0.7 means that leaving the observation out changes the posterior so much that
importance sampling cannot say by how much (Vehtari, Gelman and Gabry 2017): the fit's answer
hinges on that run.  Every output names such rows, with the advice to check them or to refit with
the robust ``studentt`` likelihood, whose heavy tails let a single run pull the fit less.
"""

from __future__ import annotations

import warnings
from typing import Any

import arviz_stats as az  # the statistics alone: the `arviz` package also imports its plots and matplotlib
import numpy as np

__all__ = ["K_INFLUENTIAL", "influential_rows"]

#: Pareto k above which an observation is reported as influential (ArviZ's threshold).
K_INFLUENTIAL = 0.7


def influential_rows(tree: Any, data: Any, *, k_max: float = K_INFLUENTIAL) -> list[dict[str, Any]]:
    """Observations with Pareto k above ``k_max``, worst first: ``obs``, ``row``, ``pareto_k``, inputs, ``y``."""
    if int(tree["posterior"].sizes["chain"]) * int(tree["posterior"].sizes["draw"]) < 20:
        return []  # too few draws for a Pareto fit
    with warnings.catch_warnings():
        # az.loo warns about exactly what is returned here; the caller reports it with the rows' names
        warnings.filterwarnings("ignore", message="Estimated shape parameter of Pareto", category=UserWarning)
        warnings.filterwarnings("ignore", category=RuntimeWarning)
        try:
            loo = az.loo(tree, pointwise=True, var_name="y")
        except ValueError:  # PSIS cannot fit a tail (e.g. a few identical draws): nothing can be said
            return []
    k = np.asarray(loo.pareto_k, dtype=float).ravel()
    out = []
    for i in np.argsort(-np.nan_to_num(k, nan=-np.inf)):
        if not k[i] > k_max:
            break
        rec = {"obs": int(i), "row": data.row_label(int(i)), "pareto_k": float(k[i])}
        rec.update({data.columns.get(n, n): float(v[i]) for n, v in data.inputs.items()})
        rec[data.columns.get("y", "y")] = float(data.y[i])
        out.append(rec)
    return out
