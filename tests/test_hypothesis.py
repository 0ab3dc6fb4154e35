"""Property-based hardening of the loader and the CLI, and bit-identical round trips of saved fits.

Contract checked on generated input: loading malformed CSV files or DataFrames either gives a
:class:`bayescale.spec.data.Dataset` with exactly as many rows as the input had data rows (never a
silently dropped row, never a shifted column) or raises :class:`bayescale.errors.BayescaleError`;
the CLI either reaches the sampler (valid data) or exits 2 with one ``error:`` line and no
traceback.
"""

from __future__ import annotations

import contextlib
import csv
import importlib
import io
import tempfile
from pathlib import Path
from unittest import mock

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st

import bayescale as bs
from bayescale.cli import main
from bayescale.spec.data import Dataset, load_data
from bayescale.errors import BayescaleError

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# -- strategies ---------------------------------------------------------------------------------
_unicode = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=6)
_good_number = st.floats(min_value=1e-6, max_value=1e9, allow_nan=False, allow_infinity=False)
CELLS = st.one_of(
    _good_number.map(repr),                                              # valid positive numbers
    _good_number.map(lambda v: f"  {v:g} "),                             # whitespace padding
    st.sampled_from(["nan", "NaN", "inf", "-inf", "Infinity", "", " ", "0", "-1", "-0.0", "1e400",
                     "abc", "1,5", "1.2.3", "0x10", "None", "NA", "#", '"', "\t", "1e-400", "１２"]),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),            # any float, incl. <= 0
    _unicode,                                                            # random text
)
HEADER_NAMES = st.one_of(st.sampled_from(["x", "y", "x", "y", "z", " x", "y ", "", "x.1", "X"]), _unicode)


@st.composite
def csv_tables(draw):
    """(header, rows) with ragged rows, duplicated/missing names and garbage cells, biased to x, y."""
    header = draw(st.lists(HEADER_NAMES, min_size=0, max_size=4))
    if draw(st.booleans()):
        header = ["x", "y"] + [h for h in header[:2] if h not in ("x", "y")]
        header = draw(st.permutations(header))
    n_rows = draw(st.integers(0, 6))
    # "near-valid" tables: valid x and y everywhere (other columns garbage), then at most one
    # poisoned cell or ragged row; otherwise anything goes
    near_valid = "x" in header and "y" in header and draw(st.booleans())
    rows = []
    for _ in range(n_rows):
        width = len(header) + (0 if near_valid else draw(st.sampled_from([0, 0, 0, 0, -1, 1])))
        cells = draw(st.lists(CELLS, min_size=max(width, 0), max_size=max(width, 0)))
        if near_valid:
            cells[header.index("x")] = draw(st.one_of(_good_number.map(repr), _good_number.map(lambda v: f" {v:g}")))
            cells[header.index("y")] = repr(draw(_good_number))
        rows.append(cells)
    if near_valid and rows and draw(st.booleans()):
        i = draw(st.integers(0, len(rows) - 1))
        kind = draw(st.sampled_from(["x", "y", "short", "long"]))
        if kind in ("x", "y"):
            rows[i][header.index(kind)] = draw(CELLS)
        elif kind == "short":
            rows[i] = rows[i][:-1]
        else:
            rows[i] = rows[i] + [draw(CELLS)]
    return list(header), rows


def _line(cells) -> str:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerow(cells)
    return buf.getvalue()


def _write(folder: Path, header, rows) -> tuple[Path, list[list[str]]]:
    text = _line(header) if header else ""
    data_rows = []
    for r in rows:
        line = _line(r)
        text += line
        if line.strip():  # a blank or whitespace-only line is not a data row (pandas skips it)
            data_rows.append(r)
    p = Path(tempfile.mkstemp(suffix=".csv", dir=folder)[1])
    p.write_text(text, encoding="utf-8")
    return p, data_rows


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("hyp")


def _check_dataset(d: Dataset, n_rows: int) -> None:
    assert isinstance(d, Dataset)
    assert d.n == n_rows, f"{n_rows} data rows in, {d.n} rows out"
    for v in [*d.inputs.values(), d.y]:
        assert v.shape == (n_rows,)
        assert np.all(np.isfinite(v))
    assert np.all(d.inputs["x"] > 0)


def _float_or_none(text: str):
    try:
        v = float(text)
    except ValueError:
        return None
    return v


# -- loader: CSV files -----------------------------------------------------------------------------
VALID_TABLE = (["x", "y"], [["10", "2.0"], ["100", " 1.5"], ["1000", "1.2"], ["1000", "1.25"]])


@SETTINGS
@example(table=VALID_TABLE, positive_y=True)
@given(table=csv_tables(), positive_y=st.booleans())
def test_loader_csv_all_rows_or_bayescale_error(folder, table, positive_y):
    header, rows = table
    path, data_rows = _write(folder, header, rows)
    try:
        d = load_data(path, x="x", y="y", inputs=("x",), positive_y=positive_y)
    except BayescaleError as exc:
        assert "\n" not in str(exc).strip()
        event("BayescaleError")
        return
    event("Dataset")
    _check_dataset(d, len(data_rows))
    if positive_y:
        assert np.all(d.y > 0)
    # the values are the ones written in the x and y columns, in file order (no shifted column)
    ix, iy = header.index("x"), header.index("y")
    for got_x, got_y, r in zip(d.inputs["x"], d.y, data_rows):
        for got, cell in ((got_x, r[ix]), (got_y, r[iy])):
            want = _float_or_none(cell.strip())
            if want is not None:
                assert got == pytest.approx(want, rel=1e-12)


@SETTINGS
@given(blob=st.binary(max_size=200))
def test_loader_random_bytes(folder, blob):
    p = Path(tempfile.mkstemp(suffix=".csv", dir=folder)[1])
    p.write_bytes(blob)
    try:
        d = load_data(p, x="x", y="y", inputs=("x",))
    except BayescaleError:
        return
    assert d.n >= 1 and np.all(np.isfinite(d.y))


@SETTINGS
@given(text=st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=200))
def test_loader_random_unicode_text(folder, text):
    p = Path(tempfile.mkstemp(suffix=".csv", dir=folder)[1])
    p.write_text("x,y\n" + text, encoding="utf-8")
    try:
        d = load_data(p, x="x", y="y", inputs=("x",))
    except BayescaleError:
        return
    assert d.n >= 1 and np.all(np.isfinite(d.y)) and np.all(d.inputs["x"] > 0)


# -- loader: DataFrames -------------------------------------------------------------------------------
OBJECTS = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(min_value=-10**20, max_value=10**20),
    _good_number,
    CELLS,
    st.none(),
    st.just(pd.NA),
    st.lists(st.integers(), max_size=2),
)


@st.composite
def frames(draw):
    names = draw(st.lists(st.sampled_from(["x", "y", "z", "x", "y", " x", "w"]), min_size=0, max_size=4))
    if draw(st.booleans()):
        names = ["x", "y"] + names[:2]
    n = draw(st.integers(0, 6))
    numeric = draw(st.booleans())
    near_valid = draw(st.booleans())  # good x and y, then at most one poisoned cell
    cols = []
    for name in names:
        if near_valid and name in ("x", "y"):
            col = draw(st.lists(_good_number, min_size=n, max_size=n))
            if n and draw(st.booleans()):
                col = list(col)
                col[draw(st.integers(0, n - 1))] = draw(OBJECTS)
            cols.append(col)
        elif numeric:  # float columns, as from a real pipeline
            cols.append(draw(st.lists(st.floats(allow_nan=True, allow_infinity=True), min_size=n, max_size=n)))
        else:
            cols.append(draw(st.lists(OBJECTS, min_size=n, max_size=n)))
    frame = pd.DataFrame(dict(enumerate(cols)), index=range(n)) if names else pd.DataFrame(index=range(n))
    frame.columns = names
    return frame


@SETTINGS
@given(frame=frames())
def test_loader_dataframe_all_rows_or_bayescale_error(frame):
    try:
        d = load_data(frame, x="x", y="y", inputs=("x",))
    except BayescaleError:
        event("BayescaleError")
        return
    event("Dataset")
    _check_dataset(d, len(frame))
    assert np.array_equal(d.inputs["x"], frame["x"].to_numpy(dtype=float))


# -- CLI ---------------------------------------------------------------------------------------------
class ReachedSampler(Exception):
    """Raised by the stub sampler: the input passed every check."""


def _stub_sample(*args, **kwargs):
    raise ReachedSampler


@SETTINGS
@example(table=VALID_TABLE, law="power_law_offset")
@example(table=(["x", "y"], [["10", "2.0"], ["10", "1.9"]]), law="power_law")  # one distinct scale
@given(table=csv_tables(), law=st.sampled_from(["power_law", "power_law_offset"]))
def test_cli_reaches_sampler_or_exits_2_with_one_line(folder, table, law):
    header, rows = table
    path, data_rows = _write(folder, header, rows)
    fit_mod = importlib.import_module("bayescale.inference.fit")
    args = ["fit", str(path), "--x", "x", "--y", "y", "--law", law,
            "--draws", "5", "--tune", "5", "--chains", "1", "--sampler", "pymc"]
    try:
        ds = load_data(path, x="x", y="y", inputs=("x",))
        fit_mod.check_identifiable(bs.get_law(law), ds)
        valid = True
    except BayescaleError:
        valid = False
    event(f"valid={valid}")
    err = io.StringIO()
    with mock.patch.object(fit_mod, "sample", _stub_sample), contextlib.redirect_stderr(err), \
            contextlib.redirect_stdout(io.StringIO()):
        if valid:
            with pytest.raises(ReachedSampler):
                main(args)
            return
        rc = main(args)
    text = err.getvalue()
    assert rc == 2
    assert "Traceback" not in text
    lines = text.strip().split("\n")
    assert len(lines) == 1 and lines[0].startswith("error: ")
    assert lines[0].isprintable(), lines[0]  # no raw control characters from the file in the message


# -- regressions found by the properties above -----------------------------------------------------------
def test_regression_extra_field_does_not_shift_columns(tmp_path):
    """pandas reads rows with one field more than the header as an index: columns shifted by one."""
    p = tmp_path / "d.csv"
    p.write_text("x,y\n1,2,3\n4,5,6\n")
    with pytest.raises(BayescaleError, match="more fields than the header"):
        load_data(p, x="x", y="y", inputs=("x",))
    p.write_text("x,y\na,2,oops\nb,5,6\n")  # used to crash with ValueError from the row label
    with pytest.raises(BayescaleError, match="more fields than the header"):
        load_data(p, x="x", y="y", inputs=("x",))


def test_regression_repeated_column_names(tmp_path):
    p = tmp_path / "d.csv"
    p.write_text("x,x,y\n1,2,3\n4,5,6\n")
    with pytest.raises(BayescaleError, match="several columns named 'x'"):
        load_data(p, x="x", y="y", inputs=("x",))
    p.write_text("x,y,z,z\n1,2,3,4\n4,5,6,7\n")  # a repeated name that is not used is harmless
    assert load_data(p, x="x", y="y", inputs=("x",)).n == 2
    with pytest.raises(BayescaleError, match="not unique"):  # used to raise TypeError
        load_data(pd.DataFrame([[1.0, 2.0, 3.0]], columns=["x", "x", "y"]), x="x", y="y", inputs=("x",))
    multi = pd.DataFrame([[1.0, 2.0]], columns=pd.MultiIndex.from_tuples([("x", "a"), ("y", "b")]))
    with pytest.raises(BayescaleError):
        load_data(multi, x="x", y="y", inputs=("x",))


def test_regression_error_message_stays_one_printable_line(tmp_path):
    p = tmp_path / "d.csv"
    p.write_text('"a\nb",\x1ey\n1,2\n')
    with pytest.raises(BayescaleError) as info:
        load_data(p, x="x", y="y", inputs=("x",))
    assert str(info.value).isprintable()


def test_regression_complex_values_rejected():
    with pytest.raises(BayescaleError, match="complex"):
        load_data(pd.DataFrame({"x": [1 + 1j, 2.0], "y": [1.0, 2.0]}), x="x", y="y", inputs=("x",))


# -- saved fits round-trip bit-identically ------------------------------------------------------------------
def _assert_trees_identical(a, b, *, skip_root_attrs=()):
    paths_a = sorted(n.path for n in a.subtree)
    paths_b = sorted(n.path for n in b.subtree)
    assert paths_a == paths_b
    for path in paths_a:
        na, nb = a[path], b[path]
        ra = {k: v for k, v in na.attrs.items() if not (path == "/" and k in skip_root_attrs)}
        rb = {k: v for k, v in nb.attrs.items() if not (path == "/" and k in skip_root_attrs)}
        assert ra.keys() == rb.keys(), path
        for k in ra:
            assert np.array_equal(np.asarray(ra[k]), np.asarray(rb[k])), (path, k)
        da, db = na.to_dataset(inherit=False), nb.to_dataset(inherit=False)
        assert sorted(da.variables) == sorted(db.variables), path
        for v in da.variables:
            xa, xb = da[v], db[v]
            assert xa.dims == xb.dims, (path, v)
            assert xa.dtype == xb.dtype, (path, v, xa.dtype, xb.dtype)
            assert np.array_equal(xa.values, xb.values, equal_nan=xa.dtype.kind == "f"), (path, v)
            assert xa.attrs.keys() == xb.attrs.keys(), (path, v)


def test_saved_fit_round_trips_bit_identically(tiny_fit, tmp_path):
    p1 = tiny_fit.save(tmp_path / "a.nc")
    f1 = bs.load(p1)
    p2 = f1.save(tmp_path / "b.nc")
    f2 = bs.load(p2)
    # the saved file holds exactly the original tree (plus the bayescale_* attributes at the root)
    added = ("bayescale_version", "bayescale_law", "bayescale_settings", "bayescale_columns", "bayescale_source",
             "bayescale_config")
    _assert_trees_identical(tiny_fit.tree, f1.tree, skip_root_attrs=added)
    # and saving a loaded fit again changes nothing at all
    _assert_trees_identical(f1.tree, f2.tree)
    assert f1.settings == f2.settings == tiny_fit.settings
    assert f1.law.to_json() == f2.law.to_json() == tiny_fit.law.to_json()
    assert dict(f2.data.columns) == dict(tiny_fit.data.columns)
    assert np.array_equal(f2.data.y, tiny_fit.data.y)
    for k in tiny_fit.law.inputs:
        assert np.array_equal(f2.data.inputs[k], tiny_fit.data.inputs[k])
    x = [1e5, 1e6, 1e7]
    for a, b in ((tiny_fit, f1), (f1, f2)):
        fa, fb = a.forecast(x=x, prob=0.8, seed=5), b.forecast(x=x, prob=0.8, seed=5)
        assert np.array_equal(fa.expected, fb.expected)
        assert np.array_equal(fa.observed, fb.observed)
        assert fa.table().equals(fb.table())
