"""Every bad input named in the core issue: a one-line error naming the problem, exit 2 from the CLI."""

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

import bayescale as bs
from bayescale.cli import main
from bayescale.errors import BayescaleError, DataError, FitError, LawError, PriorError

GOOD = "x,y\n" + "\n".join(f"{10 ** (1 + i / 4):g},{2 + 5 * (10 ** (1 + i / 4)) ** -0.3:.5f}" for i in range(12)) + "\n"


def _csv(tmp_path, text, name="d.csv"):
    p = tmp_path / name
    p.write_text(text)
    return p


def _cli(args, capsys):
    rc = main(args)
    err = capsys.readouterr().err
    return rc, err


CASES = [
    # (csv text or None for missing file, extra CLI args, message fragment)
    (None, [], "not found"),
    (GOOD, ["--y", "loss"], "no column 'loss'"),
    (GOOD.replace("2.", "abc", 1).replace("abc", "2.", 0), ["--x", "size"], "no column 'size'"),
    (GOOD.replace(GOOD.splitlines()[3], "100,oops"), [], "non-numeric value 'oops' at line 4"),
    (GOOD.replace(GOOD.splitlines()[3], "100,nan"), [], "NaN or infinite value"),
    (GOOD.replace(GOOD.splitlines()[3], "100,"), [], "missing, NaN or infinite"),
    (GOOD.replace(GOOD.splitlines()[3], "inf,2.1"), [], "NaN or infinite"),
    (GOOD.replace(GOOD.splitlines()[3], "0,2.1"), [], "non-positive value 0 at line 4"),
    (GOOD.replace(GOOD.splitlines()[3], "-5,2.1"), [], "non-positive value -5"),
    (GOOD.replace(GOOD.splitlines()[3], "100,-0.5"), [], "likelihood normal"),
    ("x,y\n10,1\n10,1.1\n20,0.9\n", [], "at least 3 distinct scales"),
    (GOOD, ["--law", "powr_law"], "unknown law 'powr_law'"),
    (GOOD, ["--prior", "alpah=Normal(mu=0.3, sigma=0.1)"], "did you mean 'alpha'"),
    (GOOD, ["--prior", "alpha=Normal(mu=__import__('os'), sigma=1)"], "not allowed"),
    (GOOD, ["--target", "-10"], "must be a positive number"),
    (GOOD, ["--target", "0"], "must be a positive number"),
    ("", [], "the file is empty"),
]


@pytest.mark.parametrize("text, extra, fragment", CASES)
def test_cli_bad_input_exit_2_one_line(tmp_path, capsys, text, extra, fragment):
    path = tmp_path / "missing.csv" if text is None else _csv(tmp_path, text)
    args = ["fit", str(path), "--x", "x", "--y", "y", "--law", "power_law_offset", "--draws", "5", "--tune", "5"]
    # later options override earlier ones in argparse
    rc, err = _cli(args + extra, capsys)
    assert rc == 2
    assert fragment in err
    assert "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


def test_malformed_law_file_and_forbidden_formula(tmp_path, capsys):
    data = _csv(tmp_path, GOOD)
    bad = _csv(tmp_path, 'name = "evil"\nformula = "open(x)"\ninputs = ["x"]\n[[parameters]]\nname = "a"\n'
                         'prior = "HalfNormal(sigma=1)"\n', "evil.toml")
    rc, err = _cli(["fit", str(data), "--x", "x", "--y", "y", "--law", str(bad)], capsys)
    assert rc == 2 and "calling 'open'" in err and "not allowed" in err
    broken = _csv(tmp_path, "name = [", "broken.toml")
    rc, err = _cli(["fit", str(data), "--x", "x", "--y", "y", "--law", str(broken)], capsys)
    assert rc == 2 and "not valid TOML" in err


def test_forecast_cli_bad_input(tmp_path, capsys, tiny_fit_path):
    rc, err = _cli(["forecast", str(tmp_path / "nope.nc"), "--at", "10"], capsys)
    assert rc == 2 and "not found" in err
    notnc = _csv(tmp_path, GOOD)
    rc, err = _cli(["forecast", str(notnc), "--at", "10"], capsys)
    assert rc == 2 and "not a readable netCDF" in err
    rc, err = _cli(["forecast", str(tiny_fit_path), "--at", "nan"], capsys)
    assert rc == 2 and "positive number" in err
    rc, err = _cli(["forecast", str(tiny_fit_path)], capsys)
    assert rc == 2 and "--at" in err


def test_python_api_errors_are_typed():
    df = pd.DataFrame({"x": [1.0, 2.0, 3.0, 4.0], "y": [1.0, np.nan, 1.0, 1.0]})
    with pytest.raises(DataError, match="column 'y'.*DataFrame index 1"):
        bs.fit(df, law="power_law", draws=5, tune=5)
    with pytest.raises(FitError, match="likelihood"):
        bs.fit(df, law="power_law", likelihood="poisson")
    with pytest.raises(LawError):
        bs.fit(df, law="nope")
    with pytest.raises(PriorError):
        bs.fit(df.fillna(1.0), law="power_law", priors={"beta": "Normal(mu=0, sigma=1)"})
    assert issubclass(DataError, BayescaleError) and issubclass(BayescaleError, ValueError)


def test_forecast_target_errors(tiny_fit):
    for bad in (0, -1, [10, np.nan], [np.inf], "abc"):
        with pytest.raises(DataError):
            tiny_fit.forecast(x=bad)
    with pytest.raises(FitError, match="between 0 and 1"):
        tiny_fit.forecast(x=[10], prob=90)


def test_no_row_is_dropped(tmp_path):
    """Repeated scales stay separate observations; every row reaches the model."""
    text = "x,y\n" + "".join(f"{s},{v}\n" for s in (10, 20, 40, 80) for v in (1.0, 1.1))
    ds = bs.load_data(_csv(tmp_path, text), x="x", y="y")
    assert ds.n == 8 and ds.n_distinct_scales() == 4


def test_where_selection_is_reported(tmp_path):
    text = "x,y,split\n" + "".join(f"{s},{1 + 1 / s},{'fit' if s < 50 else 'test'}\n" for s in (10, 20, 40, 80))
    ds = bs.load_data(_csv(tmp_path, text), x="x", y="y", where={"split": "fit"})
    assert ds.n == 3 and "rows where split=fit: 3 of 4" in ds.source
    with pytest.raises(DataError, match="no row has split=train"):
        bs.load_data(_csv(tmp_path, text), x="x", y="y", where={"split": "train"})


def test_module_entry_point_no_traceback(tmp_path):
    r = subprocess.run([sys.executable, "-m", "bayescale.cli", "fit", str(tmp_path / "x.csv"), "--x", "x",
                        "--y", "y", "--law", "power_law"], capture_output=True, text=True)
    assert r.returncode == 2 and "Traceback" not in r.stderr and "not found" in r.stderr
