"""Next-run design (bayescale.inference.design): the PSIS-reweighted preposterior analysis against the closed
form of a log-linear law, the ranking on a simulated case whose answer is known, reproducibility from the
seed, the cost, the refit fallback, and the command line (JSON shape, bad input exits 2 before any work)."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

import bayescale as bs
from bayescale.cli.main import main
from bayescale.errors import DataError, FitError, LawError
from bayescale.inference import design as design_module
from bayescale.inference.design import K_MAX, cost_of, design
from bayescale.spec.laws import get_law

from .conftest import TINY

XT = 1e8  # the target: two decades beyond the simulated runs (1e2 .. 1e6)
CANDS = [1e2, 1e4, 1e6, 1e7, 1e8]


@pytest.fixture(scope="module")
def pl():
    """A log-linear law (log y = log A - alpha log x + noise), 15 runs over 1e2..1e6, no extrapolation part:
    the posterior is close to a Gaussian linear regression, whose preposterior variance has a closed form."""
    df = bs.simulate(law="power_law", seed=3, noise=0.02)
    f = bs.fit(df, law="power_law", x="x", y="y", seed=11, draws=2000, tune=300, chains=2, cores=1, sampler="pymc",
               progressbar=False, discrepancy="off")
    return df, f


def _closed_form_shrinkage(df, sigma: float, xt: float, xc: float) -> float:
    """1 - sd after / sd before of the prediction of log y at xt when one run at xc is added (flat priors,
    known noise; Sherman-Morrison): it does not depend on the run's result."""
    X = np.column_stack([np.ones(len(df)), np.log(df["x"])])
    M = np.linalg.inv(X.T @ X)
    t, c = np.array([1.0, np.log(xt)]), np.array([1.0, np.log(xc)])
    before = t @ M @ t
    after = before - (t @ M @ c) ** 2 / (1 + c @ M @ c)
    return float(1 - np.sqrt(after / before))


def test_reweighting_matches_the_closed_form_of_a_linear_law(pl):
    df, f = pl
    d = f.design(target=XT, candidates=CANDS, cost="1", seed=0)
    sigma = float(np.median(f.draws(["sigma"])["sigma"]))
    got = {r["candidate"]["x"]: r["relative"] for r in d.rows}
    want = {x: _closed_form_shrinkage(df, sigma, XT, x) for x in CANDS}
    for x in CANDS:  # the Bayesian posterior (priors, unknown noise) widens the closed form a little
        assert got[x] == pytest.approx(want[x], abs=0.04), (x, got[x], want[x])
    # ranked by reduction (unit cost): the run at the target first, the run in the middle of the data last
    assert [r["candidate"]["x"] for r in d.rows] == [1e8, 1e7, 1e6, 1e2, 1e4]
    assert d.best["relative"] > 0.2 and got[1e4] < 0.03
    assert all(r["from_horizon"] == 0 for r in d.rows)  # no extrapolation part: the horizon does not matter
    assert all(r["k_max"] < K_MAX and r["high_k"] == 0 for r in d.rows)


def test_known_ranking_with_the_extrapolation_part(pl):
    """Inside the region the data pin down a run gains almost nothing; near the target it gains most, mostly
    because the target is then much less far beyond the data."""
    _, f = pl
    f = dataclasses.replace(f, config=f.config.replace(discrepancy="default"))
    d = f.design(target=XT, candidates=[1e3, 1e4, 3e7], cost="1", seed=0)
    r = {row["candidate"]["x"]: row for row in d.rows}
    assert d.best["candidate"] == {"x": 3e7} and d.horizon == pytest.approx(2.0)
    assert r[3e7]["relative"] > 0.5 and r[3e7]["horizon"] == pytest.approx(np.log10(XT / 3e7))
    assert r[3e7]["from_horizon"] > 0.5 * r[3e7]["reduction"]
    for x in (1e3, 1e4):
        assert r[x]["relative"] < 0.03 and r[x]["from_horizon"] == 0 and r[x]["horizon"] == pytest.approx(2.0)
    # the width now is the forecast's own interval (the same draws; Hazen's quantile rule against numpy's)
    t = f.forecast(x=[XT], seed=0).table().iloc[0]
    assert d.width == pytest.approx(t["upper"] - t["lower"], rel=0.02)
    assert d.width_observation == pytest.approx(t["obs_upper"] - t["obs_lower"], rel=0.02)
    # the default cost is the scale: ranked by reduction per unit x, cheap runs inside the data move up
    dc = f.design(target=XT, candidates=[1e3, 1e4, 3e7], seed=0)
    assert dc.cost == "x" and [row["cost"] for row in dc.rows] == [row["candidate"]["x"] for row in dc.rows]
    per = [row["per_cost"] for row in dc.rows]
    assert per == sorted(per, reverse=True)
    for row in dc.rows:
        assert row["per_cost"] == pytest.approx(r[row["candidate"]["x"]]["reduction"] / row["cost"])


def test_reproducible_from_the_seed_and_independent_of_the_other_candidates(pl):
    _, f = pl
    a = design(f, target=XT, candidates=[1e6, 1e7], seed=5, outcomes=16)
    b = design(f, target=XT, candidates=[1e6, 1e7], seed=5, outcomes=16)
    assert a.to_dict() == b.to_dict()
    alone = design(f, target=XT, candidates=[1e7], seed=5, outcomes=16)
    assert alone.rows[0] == {**[r for r in a.rows if r["candidate"] == {"x": 1e7}][0], "rank": 1}
    other = design(f, target=XT, candidates=[1e6, 1e7], seed=6, outcomes=16)
    assert other.rows[0]["reduction"] != a.rows[0]["reduction"]
    assert f.design(target=XT, candidates=[1e7], outcomes=16).seed == f.settings["seed"]  # the fit's seed by default


def test_cost_default_formula_columns_and_numbers():
    chin = get_law("chinchilla")
    c = {"N": np.array([1e9, 4e9]), "D": np.array([2e10, 8e10])}
    v, text = cost_of(chin, c)
    assert text == "6*N*D" and np.allclose(v, 6 * c["N"] * c["D"])
    v, _ = cost_of(chin, c, "params * tokens^0.5", columns={"N": "params", "D": "tokens", "y": "loss"})
    assert np.allclose(v, c["N"] * np.sqrt(c["D"]))
    v, text = cost_of(chin, c, [3.0, 1.0])
    assert text == "given" and v.tolist() == [3.0, 1.0]
    with pytest.raises(DataError, match="uses loss"):
        cost_of(chin, c, "loss * N", columns={"N": "params", "D": "tokens", "y": "loss"})
    with pytest.raises(DataError, match="positive"):
        cost_of(chin, c, "N - 2e9")
    with pytest.raises(DataError, match="one per candidate"):
        cost_of(chin, c, [1.0])
    with pytest.raises(LawError, match="not allowed"):
        cost_of(chin, c, "__import__('os')")
    with pytest.raises(DataError, match="formula"):
        cost_of(get_law("chinchilla").__class__(**{**vars(chin), "inputs": ("N", "D", "E2")}),
                {**c, "E2": np.ones(2)})


def test_high_pareto_k_is_flagged_or_refitted(pl):
    """A run far beyond the data whose simulated result falls in the posterior's tail makes the weights
    heavy-tailed (k > 0.7): flagged, or refitted by the function given, with the simulated run added."""
    _, f = pl
    calls = []

    def fake_refit(fit, data, seed_offset=0):
        calls.append((data, seed_offset))
        return fit

    flagged = f.design(target=1e20, candidates=[1e30], cost="1", seed=0, outcomes=24)
    row = flagged.rows[0]
    assert row["high_k"] > 0 and row["refits"] == 0 and row["k_max"] > K_MAX and 0 < row["ess_min"] < 4000
    done = f.design(target=1e20, candidates=[1e30], cost="1", seed=0, outcomes=24, refit=fake_refit, max_refits=1)
    assert done.rows[0]["refits"] == len(calls) == 1 and done.refit and done.rows[0]["high_k"] == row["high_k"]
    n = f.data.n
    for data, offset in calls:
        assert data.n == n + 1 and data.inputs["x"][-1] == 1e30 and data.y[-1] > 0 and offset >= 1
        np.testing.assert_array_equal(data.y[:n], f.data.y)
    with pytest.raises(FitError, match="refit must be a function"):
        f.design(target=1e9, candidates=[1e9], refit="yes")
    with pytest.raises(FitError, match="max_refits"):
        f.design(target=1e9, candidates=[1e9], refit=fake_refit, max_refits=-1)
    assert not calls[1:]  # nothing was refitted by the rejected calls


def test_python_api_rejects_bad_input(tiny_fit):
    with pytest.raises(DataError, match="one target"):
        design(tiny_fit, target=[1e8, 1e9], candidates=[1e6])
    for bad in ([0.0], [-1e6], [float("nan")], "abc"):
        with pytest.raises(DataError):
            design(tiny_fit, target=1e8, candidates=bad)
    with pytest.raises(DataError, match="give each input"):
        design(tiny_fit, target=1e8, candidates={"N": [1e6]})
    with pytest.raises(FitError, match="outcomes"):
        design(tiny_fit, target=1e8, candidates=[1e6], outcomes=1)
    with pytest.raises(FitError, match="between 0 and 1"):
        design(tiny_fit, target=1e8, candidates=[1e6], prob=1.0)


# -- the command line ---------------------------------------------------------------------------------------
def test_cli_json_and_table(tiny_fit_path, capsys):
    assert main(["design", str(tiny_fit_path), "--target", "1e8", "--candidates", "1e3", "1e6", "3e7",
                 "--outcomes", "8", "--seed", "2", "--prob", "0.8", "--json"]) == 0
    rep = json.loads(capsys.readouterr().out)
    assert {"law", "target", "prob", "width", "width_observation", "horizon", "outcomes", "seed", "cost", "k_threshold",
            "refit", "reliable", "discrepancy", "candidates", "diagnostics"} <= set(rep)
    assert rep["target"] == {"x": 1e8} and rep["prob"] == 0.8 and rep["outcomes"] == 8 and rep["seed"] == 2
    assert rep["cost"] == "x" and isinstance(rep["diagnostics"]["ok"], bool)
    c = rep["candidates"]
    assert [r["rank"] for r in c] == [1, 2, 3] and sorted(r["candidate"]["x"] for r in c) == [1e3, 1e6, 3e7]
    assert all({"cost", "horizon", "width", "reduction", "reduction_se", "reduction_sd", "relative", "from_horizon",
                "per_cost", "per_cost_se", "obs_width", "obs_reduction", "obs_reduction_se", "k_max", "k_median",
                "high_k", "ess_min", "refits"} <= set(r) for r in c)
    assert [r["per_cost"] for r in c] == sorted((r["per_cost"] for r in c), reverse=True)
    assert main(["design", str(tiny_fit_path), "--target", "1e8", "--candidates", "1e3", "3e7", "--outcomes", "8",
                 "--cost", "1"]) == 0
    out = capsys.readouterr().out
    assert "interval width now" in out and "per cost" in out and "cost = 1" in out


@pytest.fixture(scope="module")
def chin_path(tmp_path_factory):
    df = bs.simulate(law="chinchilla", seed=2, noise=0.02)
    p = tmp_path_factory.mktemp("design") / "chin.nc"
    bs.fit(df, law="chinchilla", x=["N", "D"], y="y", seed=5, **TINY).save(p)
    return p


def test_cli_two_inputs(chin_path, capsys):
    assert main(["design", str(chin_path), "--target", "N=7e10,D=1.4e12", "--candidates", "N=1e9,D=2e10",
                 "N=4e9,D=8e10", "--outcomes", "8", "--json"]) == 0
    rep = json.loads(capsys.readouterr().out)
    assert rep["cost"] == "6*N*D" and rep["target"] == {"N": 7e10, "D": 1.4e12}
    for r in rep["candidates"]:
        assert r["cost"] == pytest.approx(6 * r["candidate"]["N"] * r["candidate"]["D"])


@pytest.fixture
def no_work(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("the design started before the bad input was rejected")

    monkeypatch.setattr(design_module, "_Posterior", refuse)


@pytest.mark.parametrize("args, msg", [
    (["--target", "1e8", "--candidates", "0"], "must be a positive number"),
    (["--target", "1e8", "--candidates", "1e6", "-1e3"], "must be a positive number"),
    (["--target", "abc", "--candidates", "1e6"], "is not a number"),
    (["--target", "1e8", "--candidates", "N=1e6,D=1e9"], "unknown: D, N"),
    (["--target", "1e8", "--candidates", "1e6", "--cost", "y*2"], "uses y"),
    (["--target", "1e8", "--candidates", "1e6", "--cost", "__import__('os')"], "not allowed"),
    (["--target", "1e8", "--candidates", "1e6", "--cost", "x - 1e9"], "positive"),
    (["--target", "1e8", "--candidates", "1e6", "--prob", "1.5"], "between 0 and 1"),
    (["--target", "1e8", "--candidates", "1e6", "--outcomes", "1"], "--outcomes '1'"),
    (["--target", "1e8", "--candidates", "1e6", "--max-refits", "2"], "goes with --refit"),
    (["--target", "1e8"], "--candidates"),
])
def test_cli_bad_input_exits_2_before_work(tiny_fit_path, no_work, capsys, args, msg):
    assert main(["design", str(tiny_fit_path), *args]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and msg in err and len(err.strip().splitlines()) == 1, err


def test_cli_missing_fit_and_two_input_forms(tmp_path, chin_path, no_work, capsys):
    assert main(["design", str(tmp_path / "none.nc"), "--target", "1e8", "--candidates", "1e6"]) == 2
    assert "not found" in capsys.readouterr().err
    assert main(["design", str(chin_path), "--target", "N=7e10,D=1.4e12", "--candidates", "N=1e9"]) == 2
    assert "N=VALUE,D=VALUE" in capsys.readouterr().err
    assert main(["design", str(chin_path), "--target", "7e10", "--candidates", "N=1e9,D=2e10"]) == 2
    assert "give each target as N=VALUE,D=VALUE" in capsys.readouterr().err
