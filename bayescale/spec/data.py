"""Loading and validating scaling data.

Data come from a CSV path or a pandas DataFrame; the user names the scale
column(s) (one per law input) and the metric column.  Every row is kept:
repeated scales (several seeds of one size) stay separate observations, and
any row that cannot be used raises :class:`DataError` naming the column, the
row and the value, instead of being dropped.
"""

from __future__ import annotations

import difflib
import os
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

from ..errors import DataError

__all__ = ["Dataset", "load_data", "read_grouped", "data_dir", "data_stats", "stat_names"]

#: Statistics of the metric that priors may use (see :func:`data_stats`).
Y_STATS = ("y_min", "y_max", "y_ref", "y_sd", "y_start", "y_end")
#: Statistics of each input ``v`` that priors may use: ``v_min``, ``v_max``, ``v_ref``.
INPUT_STATS = ("min", "max", "ref")


def stat_names(inputs: Sequence[str]) -> frozenset[str]:
    """Data-statistic names a prior may use for a law with these inputs."""
    return frozenset({f"{v}_{s}" for v in inputs for s in INPUT_STATS} | set(Y_STATS))


@dataclass(frozen=True)
class Dataset:
    """Validated data for one fit.

    Attributes
    ----------
    inputs : dict of str to ndarray
        Scale values per law input (all positive and finite).
    y : ndarray
        Metric values (finite).
    columns : dict of str to str
        Law input (and ``"y"``) to the column name it came from.
    source : str
        Where the data came from (path or ``"DataFrame"``).
    rows : tuple of str
        Each observation's place in the source (``"line 7"`` of a CSV file, ``"index 3"`` of a
        DataFrame), for messages that name rows; empty when unknown.
    trials : ndarray or None
        Items per observation (whole numbers > 0) for the binomial likelihood, where ``y`` is the
        fraction of successes; None otherwise.
    """

    inputs: Mapping[str, np.ndarray] = field(hash=False)
    y: np.ndarray = field(hash=False)
    columns: Mapping[str, str] = field(hash=False)
    source: str = ""
    rows: tuple[str, ...] = field(default=(), hash=False)
    trials: np.ndarray | None = field(default=None, hash=False)

    def subset(self, keep: np.ndarray) -> "Dataset":
        """The observations selected by a boolean mask or indices (inputs, y, rows and trials alike)."""
        keep = np.asarray(keep)
        idx = np.flatnonzero(keep) if keep.dtype == bool else keep
        return Dataset(inputs={k: np.asarray(v)[idx] for k, v in self.inputs.items()}, y=np.asarray(self.y)[idx],
                       columns=self.columns, source=self.source,
                       rows=tuple(self.rows[i] for i in idx) if self.rows else (),
                       trials=None if self.trials is None else np.asarray(self.trials)[idx])

    def for_inputs(self, names: Sequence[str]) -> "Dataset":
        """The same observations with only the named inputs (a law of fewer inputs, compared on these data)."""
        missing = [k for k in names if k not in self.inputs]
        if missing:
            raise DataError(f"the data have no input {', '.join(missing)}; they have {', '.join(self.inputs)}")
        keep = {k: self.inputs[k] for k in names}
        return replace(self, inputs=keep,
                       columns={k: v for k, v in self.columns.items() if k in keep or k not in self.inputs})

    def row_label(self, i: int) -> str:
        """Where observation ``i`` came from (``"line 7"``), or ``"observation i"`` when unknown."""
        return self.rows[i] if i < len(self.rows) else f"observation {i}"

    @property
    def n(self) -> int:
        return int(self.y.shape[0])

    def n_distinct_scales(self) -> int:
        arr = np.column_stack([self.inputs[k] for k in self.inputs])
        return int(np.unique(arr, axis=0).shape[0])

    def to_frame(self) -> pd.DataFrame:
        """The data as a DataFrame with the original column names."""
        d = {self.columns[k]: v for k, v in self.inputs.items()}
        d[self.columns["y"]] = self.y
        return pd.DataFrame(d)


def data_dir() -> Path:
    """Folder of the shared real data: ``$BAYESCALE_DATA`` or ``../shared/data`` beside the project."""
    env = os.environ.get("BAYESCALE_DATA")
    if env:
        return Path(env)
    here = Path(__file__).resolve().parents[2]  # the project root (bayescale/spec/data.py)
    for base in (here, Path.cwd()):
        cand = base.parent / "shared" / "data"
        if cand.is_dir():
            return cand
    return here.parent / "shared" / "data"


def _row_label(frame: pd.DataFrame, pos: int, from_csv: bool) -> str:
    if from_csv:
        return f"line {int(frame.index[pos]) + 2}"  # header is line 1; index keeps file order
    return f"DataFrame index {_show(frame.index[pos])}"


def _show(v: Any) -> str:
    """A value for a one-line message: numpy scalars as plain Python values, text quoted."""
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, float):
        return f"{v:g}"
    text = repr(v) if isinstance(v, str) else str(v)
    return text if text.isprintable() else repr(text)


def _missing_column(src: str, col: str, columns: Sequence[Any]) -> DataError:
    names = [str(c) for c in columns]
    shown = ", ".join(n if n.isprintable() else repr(n) for n in names)
    hint = ""
    stripped = [n for n in names if n.strip() == str(col).strip()]
    if stripped:
        hint = f" (the header has {stripped[0]!r}, with spaces: remove them from the header or name it exactly)"
    else:
        close = difflib.get_close_matches(str(col), names, n=1, cutoff=0.6)
        if close:
            hint = f" (did you mean {close[0]!r}?)"
    if len(names) == 1 and any(d in names[0] for d in (";", "\t", "|")):
        sep = next(d for d in (";", "\t", "|") if d in names[0])
        hint += (f"; the file seems to be separated by {sep!r}, not commas: save it as comma-separated "
                 "values (CSV)")
    return DataError(f"{src}: no column {_show(col)}{hint}; the columns are {shown}")


def _numeric_column(frame: pd.DataFrame, col: str, from_csv: bool, where: str) -> np.ndarray:
    s = frame[col]
    if isinstance(s, pd.DataFrame):  # duplicated column name (or a MultiIndex level): ambiguous
        raise DataError(f"{where}: column name {col!r} is not unique ({s.shape[1]} columns match); "
                        "rename the columns so each name appears once")
    vals = pd.to_numeric(s, errors="coerce")
    if np.iscomplexobj(vals):  # numpy would silently drop the imaginary part
        raise DataError(f"{where}: column {col!r} has complex values; give real numbers")
    bad = vals.isna() & s.notna() & ~s.astype(str).str.strip().str.lower().isin(
        ["nan", "inf", "-inf", "+inf", "infinity", "-infinity"]
    )
    if bad.any():
        pos = int(np.flatnonzero(bad.to_numpy())[0])
        raise DataError(
            f"{where}: column {col!r} has non-numeric value {_show(s.iloc[pos])} at "
            f"{_row_label(frame, pos, from_csv)} ({int(bad.sum())} such row(s)); fix or remove those rows"
        )
    arr = np.asarray(vals, dtype=float)
    nonfinite = ~np.isfinite(arr)
    if nonfinite.any():
        pos = int(np.flatnonzero(nonfinite)[0])
        raise DataError(
            f"{where}: column {col!r} has a missing, NaN or infinite value ({_show(s.iloc[pos])}) at "
            f"{_row_label(frame, pos, from_csv)} ({int(nonfinite.sum())} such row(s)); "
            "fix or remove those rows (bayescale never drops rows silently)"
        )
    return arr


def _select_rows(frame: pd.DataFrame, where: Mapping[str, str] | None, src: str) -> tuple[pd.DataFrame, str | None]:
    """Rows whose columns equal the values of ``where`` (compared as stripped text), and a description
    of the selection for ``Dataset.source`` (None without ``where``)."""
    if not where:
        return frame, None
    total = frame.shape[0]
    keep = np.ones(total, dtype=bool)
    for col, val in where.items():
        if col not in frame.columns:
            raise _missing_column(src, col, frame.columns)
        keep &= frame[col].astype(str).str.strip().to_numpy() == str(val)
    if not keep.any():
        raise DataError(f"{src}: no row has " + " and ".join(f"{c}={v}" for c, v in where.items())
                        + "; check the column values")
    cond = " and ".join(f"{c}={v}" for c, v in where.items())
    return frame.loc[keep], f"{src} (rows where {cond}: {int(keep.sum())} of {total})"


def read_grouped(data: str | os.PathLike | pd.DataFrame, *, group: Sequence[str],
                 where: Mapping[str, str] | None = None) -> pd.DataFrame:
    """A table with group columns, for fits of many curves: read, checked for the group columns, rows
    selected by ``where`` as :func:`load_data` selects them; each group's rows go through
    :func:`load_data` afterwards."""
    if isinstance(data, pd.DataFrame):
        frame, src = data, "DataFrame"
    elif isinstance(data, (str, os.PathLike)):
        p = Path(data)
        if p.is_dir():
            raise DataError(f"data path {str(p)!r} is a directory, not a file; give the path of a CSV file")
        if not p.is_file():
            raise DataError(f"data file {str(p)!r} not found; check the path")
        frame, src = pd.read_csv(p), str(p)
    else:
        raise DataError(f"data must be a CSV path or a pandas DataFrame, got {type(data).__name__}; "
                        "for a dict of columns use pandas.DataFrame(data)")
    missing = [c for c in group if c not in frame.columns]
    if missing:
        raise DataError(f"no group column {', '.join(map(repr, missing))}; the columns are "
                        f"{', '.join(map(str, frame.columns))}")
    frame, _ = _select_rows(frame, where, src)
    return frame.reset_index(drop=True)


def load_data(
    data: str | os.PathLike | pd.DataFrame,
    *,
    x: str | Sequence[str] | Mapping[str, str],
    y: str,
    inputs: Sequence[str] = ("x",),
    positive_y: bool = True,
    where: Mapping[str, str] | None = None,
    trials: str | float | None = None,
    likelihood: Any = None,
) -> Dataset:
    """Read and validate data for a law.

    Parameters
    ----------
    data : path or DataFrame
        A CSV file (with a header row) or a DataFrame.
    x : str, sequence of str, or mapping
        The scale column(s): one per law input, in the law's input order, or a
        mapping from input name to column.
    y : str
        The metric column.
    inputs : sequence of str
        The law's input names.
    positive_y : bool
        Whether the likelihood needs ``y > 0`` (multiplicative noise).
    where : mapping of column to value, optional
        Keep only rows whose column equals the value (compared as text), e.g.
        ``{"split": "fit"}``.  The selection is recorded in ``Dataset.source``.
    trials : str or number, optional
        Items per observation for the binomial likelihood: a column name or one whole number; ``y``
        is then the fraction of successes (successes = ``round(y * trials)``).
    likelihood : Likelihood, optional
        When given, ``y`` is checked against its support (:meth:`Likelihood.support_error`: y > 0,
        0 < y < 1 or 0 <= y <= 1) instead of by ``positive_y``.

    Raises
    ------
    DataError
        For a missing file or column, a non-numeric, NaN or infinite value, a
        non-positive scale, or a non-positive metric when ``positive_y``.
    """
    if not isinstance(data, (pd.DataFrame, str, os.PathLike)):
        raise DataError(f"data must be a CSV path or a pandas DataFrame, got {type(data).__name__}; "
                        "for a dict of columns use pandas.DataFrame(data)")
    from_csv = not isinstance(data, pd.DataFrame)
    if from_csv:
        path = Path(data)
        src = str(path)
        if path.is_dir():
            raise DataError(f"data path {src!r} is a directory, not a file; give the path of a CSV file")
        if not path.is_file():
            raise DataError(f"data file {src!r} not found; check the path")
        try:
            frame = pd.read_csv(path, dtype=str, keep_default_na=False, skip_blank_lines=True)
        except UnicodeDecodeError as exc:
            raise DataError(f"{src}: not UTF-8 text (byte 0x{exc.object[exc.start]:02x} at position {exc.start}); "
                            "save the file as UTF-8, e.g. iconv -f latin1 -t utf-8 in.csv > out.csv") from None
        except pd.errors.ParserError as exc:
            m = re.search(r"Expected (\d+) fields in line (\d+), saw (\d+)", str(exc))
            if m:
                raise DataError(f"{src}: line {m.group(2)} has {m.group(3)} fields but the header has {m.group(1)}; "
                                "fix that row (a stray comma?) or the header") from None
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise DataError(f"{src}: not a readable CSV file ({first}); give a CSV with a header row") from None
        except pd.errors.EmptyDataError:
            raise DataError(f"{src}: the file is empty; give a CSV with a header row and data rows") from None
        frame = frame.replace({"": np.nan})
        if not isinstance(frame.index, pd.RangeIndex):
            # pandas turns the first field into an index when rows have one more field than the
            # header, which would silently shift every column by one
            raise DataError(f"{src}: the data rows have more fields than the header row "
                            f"({frame.shape[1]} names); fix the header or remove the extra field")
        # pandas renames a repeated name to "x.1", ...: remember repeats to refuse a guess below
        header = list(pd.read_csv(path, header=None, nrows=1, dtype=str, keep_default_na=False).iloc[0])
        repeated = {c for c in header if header.count(c) > 1}
    else:
        frame = data
        src = "DataFrame"
        repeated = set()
    if frame.shape[0] == 0:
        raise DataError(f"{src}: no data rows; give at least one row per scale")

    frame, where_txt = _select_rows(frame, where, src)
    inputs = tuple(inputs)
    if isinstance(x, Mapping):
        unknown = set(x) - set(inputs)
        if unknown:
            raise DataError(f"x names unknown law input(s) {', '.join(sorted(unknown))}; the law's inputs are {', '.join(inputs)}")
        xcols = [x.get(k) for k in inputs]
        if any(c is None for c in xcols):
            raise DataError(f"x must name a column for each law input {', '.join(inputs)}")
    else:
        xcols = [x] if isinstance(x, str) else list(x)
    if len(xcols) != len(inputs):
        raise DataError(
            f"the law takes {len(inputs)} input(s) ({', '.join(inputs)}) but {len(xcols)} x column(s) "
            f"were given ({', '.join(map(str, xcols))}); name one column per input, in that order"
        )
    tcol = trials if isinstance(trials, str) else None
    for c in [*xcols, y, *([tcol] if tcol else [])]:
        if c not in frame.columns:
            raise _missing_column(src, c, frame.columns)
        if c in repeated:
            raise DataError(f"{src}: the header has several columns named {c!r}; "
                            "rename them so each name appears once")
    if y in xcols:
        raise DataError(f"column {y!r} is given both as a scale and as the metric; name different columns")

    arrays = {}
    for name, col in zip(inputs, xcols):
        arr = _numeric_column(frame, col, from_csv, src)
        bad = arr <= 0
        if bad.any():
            pos = int(np.flatnonzero(bad)[0])
            raise DataError(
                f"{src}: scale column {col!r} has non-positive value {arr[pos]:g} at "
                f"{_row_label(frame, pos, from_csv)}; scales must be > 0 (fix or remove the row)"
            )
        arrays[name] = arr
    yarr = _numeric_column(frame, y, from_csv, src)
    tarr = _trials(frame, trials, from_csv, src)
    if tarr is not None:
        over = yarr > 1
        if over.any():
            pos = int(np.flatnonzero(over)[0])
            raise DataError(
                f"{src}: metric column {y!r} is {yarr[pos]:g} at {_row_label(frame, pos, from_csv)}: "
                f"successes y * trials = {yarr[pos] * tarr[pos]:g} exceed the {tarr[pos]:g} trials; y is the "
                "fraction of items right (successes / trials), from 0 to 1"
            )
    err = likelihood.support_error(yarr) if likelihood is not None else None
    if err is not None:
        pos, need = err
        what = "non-positive value" if likelihood.support == "positive" else "value"
        raise DataError(f"{src}: metric column {y!r} has {what} {yarr[pos]:g} at "
                        f"{_row_label(frame, pos, from_csv)}; {need}")
    if positive_y and likelihood is None:
        bad = yarr <= 0
        if bad.any():
            pos = int(np.flatnonzero(bad)[0])
            raise DataError(
                f"{src}: metric column {y!r} has non-positive value {yarr[pos]:g} at "
                f"{_row_label(frame, pos, from_csv)}; the default multiplicative (log-normal) noise "
                "needs y > 0: use likelihood='normal' (CLI: --likelihood normal) for metrics that can be zero or negative"
            )
    columns = dict(zip(inputs, xcols))
    columns["y"] = y
    rows = tuple(_row_label(frame, i, from_csv) for i in range(frame.shape[0]))
    return Dataset(inputs=arrays, y=yarr, columns=columns, source=where_txt or src, rows=rows, trials=tarr)


def _trials(frame: pd.DataFrame, trials: str | float | None, from_csv: bool, src: str) -> np.ndarray | None:
    """Items per row: a column or one number, each a whole number > 0; None when not given."""
    if trials is None:
        return None
    if isinstance(trials, str):
        arr, what = _numeric_column(frame, trials, from_csv, src), f"trials column {trials!r}"
    else:
        try:
            value = float(trials)
        except (TypeError, ValueError):
            raise DataError(f"trials must be a column name or a whole number of items > 0, got {trials!r}") from None
        arr, what = np.full(frame.shape[0], value), "trials"
    bad = ~np.isfinite(arr) | (arr < 1) | (arr != np.round(arr))
    if bad.any():
        pos = int(np.flatnonzero(bad)[0])
        at = f" at {_row_label(frame, pos, from_csv)}" if isinstance(trials, str) else ""
        raise DataError(f"{src}: {what} is {arr[pos]:g}{at}: the number of items must be a whole number >= 1 "
                        "(e.g. --trials 1319 for a benchmark of 1319 questions)")
    return arr


def data_stats(inputs: Mapping[str, np.ndarray], y: np.ndarray) -> dict[str, float]:
    """Data statistics that scale-aware priors may use (see :mod:`bayescale.priors`)."""
    out: dict[str, float] = {}
    for k, v in inputs.items():
        v = np.asarray(v, dtype=float)
        out[f"{k}_min"] = float(v.min())
        out[f"{k}_max"] = float(v.max())
        out[f"{k}_ref"] = float(np.exp(np.mean(np.log(v))))
    y = np.asarray(y, dtype=float)
    ay = np.abs(y)
    out["y_min"] = float(y.min())
    out["y_max"] = float(y.max())
    out["y_ref"] = float(np.exp(np.mean(np.log(ay)))) if np.all(ay > 0) else float(np.mean(ay)) or 1.0
    out["y_sd"] = float(np.std(y)) if y.size > 1 and np.std(y) > 0 else max(float(np.mean(ay)), 1.0) * 0.1
    first = np.asarray(next(iter(inputs.values())), dtype=float)
    out["y_start"] = float(np.mean(y[first == first.min()]))
    out["y_end"] = float(np.mean(y[first == first.max()]))
    return out
