"""IsoFLOP data: derive the missing count of each run from ``C = k N D``."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd

from ..errors import DataError

__all__ = ["isoflop_data", "check_k"]


def check_k(k: Any) -> float:
    try:
        k = float(k)
    except (TypeError, ValueError):
        raise DataError(f"flops_per_token_param {k!r} is not a number (usually 6)") from None
    if not np.isfinite(k) or k <= 0:
        raise DataError(f"flops_per_token_param must be a positive number (usually 6), got {k!r}")
    return k


def isoflop_data(
    frame: pd.DataFrame,
    *,
    compute: str,
    params: str | None = None,
    tokens: str | None = None,
    flops_per_token_param: float = 6.0,
    derived_name: str | None = None,
    warn: bool = True,
) -> pd.DataFrame:
    """Complete IsoFLOP data: derive tokens from budget and model size (or the reverse).

    With ``C = k N D``: given ``params``, adds ``D = C / (k N)`` as column
    ``tokens_derived``; given ``tokens``, adds ``N = C / (k D)`` as ``params_derived``.

    Parameters
    ----------
    frame : DataFrame
    compute : str
        Column of budgets C (FLOPs).
    params, tokens : str
        Exactly one: the column of model sizes N, or of token counts D.
    flops_per_token_param : float
        ``k`` (default 6).
    derived_name : str, optional
        Name of the added column (default ``tokens_derived`` / ``params_derived``).
    warn : bool
        Emit a ``UserWarning`` saying which column was derived and how.

    Returns
    -------
    DataFrame
        A copy with the derived column; ``attrs["derived"]`` holds
        ``{"column", "from", "formula", "flops_per_token_param"}``.

    Raises
    ------
    DataError
        Missing column, non-numeric or non-positive value, or not exactly one of params/tokens.
    """
    if not isinstance(frame, pd.DataFrame):
        raise DataError("isoflop_data needs a pandas DataFrame; read the CSV with pandas.read_csv first")
    if (params is None) == (tokens is None):
        raise DataError("give exactly one of params= (model-size column) or tokens= (token column) "
                        "besides compute=; the other is derived from C = 6 N D")
    k = check_k(flops_per_token_param)
    given = params if params is not None else tokens
    for col in (compute, given):
        if col not in frame.columns:
            raise DataError(f"column {col!r} not found; columns are: {', '.join(map(str, frame.columns))}")
    vals = {}
    for col in (compute, given):
        v = pd.to_numeric(frame[col], errors="coerce").to_numpy(dtype=float)
        bad = ~np.isfinite(v) | (v <= 0)
        if bad.any():
            i = int(np.argmax(bad))
            raise DataError(f"column {col!r} has a value that is not a positive finite number "
                            f"({frame[col].iloc[i]!r} at row {frame.index[i]}); IsoFLOP counts must be > 0")
        vals[col] = v
    if params is not None:
        name = derived_name or "tokens_derived"
        formula = f"{name} = {compute} / ({k:g} * {params})"
    else:
        name = derived_name or "params_derived"
        formula = f"{name} = {compute} / ({k:g} * {tokens})"
    if name in frame.columns:
        raise DataError(f"column {name!r} already exists; pass derived_name= to name the derived column")
    out = frame.copy()
    out[name] = vals[compute] / (k * vals[given])
    info = {"column": name, "from": [compute, given], "formula": formula, "flops_per_token_param": k}
    out.attrs["derived"] = info
    if warn:
        warnings.warn(f"derived column {formula} (C = {k:g} N D)", UserWarning, stacklevel=2)
    return out
