"""Inverse forecasts (bayescale.inference.reach): the scale at which the law's expected value reaches a
target, checked against the forward forecast on real (tiny) fits."""

from __future__ import annotations

import json

import numpy as np
import pytest

import bayescale as bs
from bayescale.cli.main import main
from bayescale.errors import DataError, FitError
from bayescale.inference.reach import Reach, reach

from .conftest import TINY


def _median_exact(v: np.ndarray) -> float:
    """The median as Reach computes it (no interpolation between draws)."""
    return float(np.quantile(v, 0.5, method="inverted_cdf"))


def _law_median(fit, x) -> np.ndarray:
    """Draws of the law's expected value at one target (the forward forecast, without the discrepancy)."""
    return fit.forecast(x=x, discrepancy="off").expected[:, 0]


# -- one input -------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def one(tiny_fit):
    xmax = float(np.max(tiny_fit.data.inputs["x"]))
    # a target the law reaches about a decade beyond the data: the forecast's own median there
    t = float(np.median(tiny_fit.forecast(x=[10 * xmax], discrepancy="off").expected))
    return tiny_fit, t, xmax


def test_one_input_inverse_against_forward(one):
    fit, t, xmax = one
    r = fit.reach(target=t, prob=0.9, discrepancy="off")
    assert isinstance(r, Reach) and r.along == "input" and r.scale == "x" and r.direction == "detected"
    assert r.increasing is False and r.target == t and r.reliable == fit.diagnostics().ok
    assert r.lower <= r.median <= r.upper
    assert r.bracket == (float(np.min(fit.data.inputs["x"])), xmax * 1e6)
    # each draw's root: the law of that draw equals the target there
    ok = np.isfinite(r.draws)
    p = fit.draws(fit.law.param_names)
    at_root = fit.law.evaluate({"x": r.draws[ok]}, {k: v[ok] for k, v in p.items()})
    np.testing.assert_allclose(at_root, t, rtol=1e-9)
    # the forward forecast of the expected value at the returned median gives the target
    e = _law_median(fit, [r.median])
    assert _median_exact(e) == pytest.approx(t, rel=1e-9)
    assert float(np.median(e)) == pytest.approx(t, rel=5e-3)
    assert 0.3 < np.log10(r.median / xmax) < 2  # about a decade beyond the data, where t was taken
    assert r.at_median == {"x": r.median} and r.horizon == pytest.approx(np.log10(r.median / xmax))


def test_by_probabilities_are_monotone_and_match_the_draws(one):
    fit, t, xmax = one
    xs = xmax * np.logspace(-1, 4, 12)
    r = reach(fit, target=t, by=xs, discrepancy="off")
    assert r.by_prob.shape == (12,) and np.all(np.diff(r.by_prob) >= 0)
    assert r.by_prob[0] == 0.0 and r.by_prob[-1] > 0.5
    # P(expected value at X has reached t) is the share of draws whose reach is at most X
    np.testing.assert_allclose(r.by_prob, [(r.draws <= x).mean() for x in xs], atol=1.5 / r.draws.size)
    assert [rec["scale"] for rec in r.to_records()] == list(xs)


def test_unreachable_target_is_counted_not_dropped(one):
    fit, _, _ = one
    e_min = float(np.min(fit.draws(["E"])["E"]))
    # below the irreducible loss of every draw: the law alone never gets there (with the discrepancy, whose
    # sd grows without bound beyond the data, some draws would)
    r = fit.reach(target=0.5 * e_min, by=[1e9], discrepancy="off")
    assert r.never_fraction == 1.0 and r.draws.size == len(fit.draws(["E"])["E"])
    assert np.isinf(r.median) and np.isinf(r.lower) and np.isinf(r.horizon)
    d = r.to_dict()
    assert d["median"] is None and d["lower"] is None and d["never_fraction"] == 1.0
    assert d["by"] == [{"scale": 1e9, "probability": 0.0}]
    json.dumps(d)  # no inf or NaN in the JSON
    # a bracket too short for some draws: they are counted as beyond it, and the interval says inf
    part = fit.reach(target=float(np.median(fit.forecast(x=[1e8], discrepancy="off").expected)),
                     bracket=(100.0, 1e8), discrepancy="off")
    assert 0.2 < part.never_fraction < 0.8 and np.isinf(part.upper) and np.isfinite(part.lower)


def test_reach_carries_the_forecasts_extrapolation_discrepancy(one):
    fit, t, xmax = one
    xs = xmax * np.array([0.5, 1.0, 3.0, 10.0, 30.0, 100.0])
    on, off = fit.reach(target=t, by=xs), fit.reach(target=t, by=xs, discrepancy="off")
    assert on.discrepancy.name == fit.config.discrepancy_spec == "default" and off.discrepancy.off
    assert on.to_dict()["discrepancy"]["name"] == "default" and on.table().attrs["discrepancy"] == "default"
    # inside the data nothing changes; beyond it the interval widens
    np.testing.assert_array_equal(on.by_prob[:2], off.by_prob[:2])
    assert on.lower < off.lower and on.never_fraction >= off.never_fraction
    # P(reached by X) is the forward forecast's P(expected value at X has reached t), discrepancy included
    n = on.draws.size
    forward = [(fit.forecast(x=[x]).expected[:, 0] <= t).mean() for x in xs]
    np.testing.assert_allclose(on.by_prob, forward, atol=4 * 0.5 / np.sqrt(n))
    e = fit.forecast(x=[on.median]).expected[:, 0]
    assert abs((e <= t).mean() - 0.5) < 4 * 0.5 / np.sqrt(n)
    # the discrepancy's draws come from the seed: the same seed, the same answer
    assert np.array_equal(fit.reach(target=t).draws, on.draws)
    assert not np.array_equal(fit.reach(target=t, seed=123).draws, on.draws)


def test_direction_detected_and_given(one):
    fit, t, _ = one
    r = fit.reach(target=t)
    g = fit.reach(target=t, increasing=False)
    assert g.direction == "given" and np.array_equal(g.draws, r.draws)
    up = fit.reach(target=t, increasing=True)  # a falling law is above t at the smallest run already
    assert up.increasing and up.at_start_fraction == 1.0 and up.median == up.bracket[0]
    # a target inside the data's range is crossed there, falling like the curve
    inside = float(np.median(fit.data.y))
    ri = fit.reach(target=inside)
    assert not ri.increasing and ri.horizon == 0.0 and ri.never_fraction == 0.0


def test_bad_arguments_raise_one_line_errors(one):
    fit, t, _ = one
    for bad in (-1.0, 0.0, float("nan"), float("inf"), [1.0, 2.0], "abc"):
        with pytest.raises(DataError):
            fit.reach(target=bad)
    with pytest.raises(FitError, match="between 0 and 1"):
        fit.reach(target=t, prob=1.5)
    for kw in (dict(by=[0.0]), dict(by=[-5]), dict(bracket=(5.0, 1.0)), dict(bracket=(1.0, 2.0, 3.0))):
        with pytest.raises(DataError):
            fit.reach(target=t, **kw)
    with pytest.raises(FitError, match="two inputs"):
        fit.reach(target=t, tokens_per_param=20)
    with pytest.raises(FitError, match="increasing"):
        fit.reach(target=t, increasing="yes")


# -- two inputs: the frontier and a fixed ratio -------------------------------------------------------------
@pytest.fixture(scope="module")
def chin(tmp_path_factory):
    df = bs.simulate(law="chinchilla", seed=2, noise=0.02)
    f = bs.fit(df, law="chinchilla", x=["N", "D"], y="y", seed=5, **TINY)
    p = tmp_path_factory.mktemp("reach") / "chin.nc"
    f.save(p)
    return f, p


def test_frontier_inverse_against_forward(chin):
    fit, _ = chin
    t = 2.1  # below every simulated run (2.27 at the largest): an extrapolation
    r = fit.reach(target=t, by=[1e20, 1e21, 1e22, 1e23, 1e24], discrepancy="off")
    assert r.along == "frontier" and r.scale == "C" and set(r.inputs) == {"N", "D"} and r.never_fraction == 0
    assert r.horizon > 0 and r.lower < r.median < r.upper
    # each draw's optimum loss at the median compute: half of them have reached t (interpolation in log C)
    a = fit.optimal_allocation(compute=r.median)
    assert _median_exact(a.loss_opt[:, 0]) == pytest.approx(t, rel=1e-4)
    # the forward forecast at the allocation of the median compute gives t (a point near each draw's optimum)
    m = r.at_median
    assert 6 * m["N"] * m["D"] == pytest.approx(r.median, rel=1e-9)
    e = _law_median(fit, {"N": [m["N"]], "D": [m["D"]]})
    assert float(np.median(e)) == pytest.approx(t, rel=5e-3)
    # 120 draws: whether the slowest one or two have reached t by 1e24 is Monte Carlo luck (it changed with
    # the package versions installed), so the top is checked as "nearly all"
    assert np.all(np.diff(r.by_prob) >= 0) and r.by_prob[0] == 0.0 and r.by_prob[-1] >= 0.95
    # N*, D* at each draw's reach multiply to its compute
    np.testing.assert_allclose(6 * r.inputs["N"] * r.inputs["D"], r.draws, rtol=1e-6)


def test_fixed_ratio_inverse_against_forward(chin):
    fit, _ = chin
    r = reach(fit, target=2.1, tokens_per_param=20, discrepancy="off")
    assert r.along == "tokens_per_param" and r.tokens_per_param == 20.0
    np.testing.assert_allclose(r.inputs["D"], 20 * r.inputs["N"], rtol=1e-12)
    np.testing.assert_allclose(6 * r.inputs["N"] * r.inputs["D"], r.draws, rtol=1e-9)
    m = r.at_median
    e = _law_median(fit, {"N": [m["N"]], "D": [m["D"]]})
    assert _median_exact(e) == pytest.approx(2.1, rel=1e-9)
    # at a fixed ratio the loss is above the optimum's, so more compute is needed than on the frontier
    assert r.median > reach(fit, target=2.1, discrepancy="off").median


def test_frontier_unreachable_below_the_irreducible_loss(chin):
    fit, _ = chin
    e_min = float(np.min(fit.draws(["E"])["E"]))
    r = fit.reach(target=0.9 * e_min, discrepancy="off")
    assert r.never_fraction == 1.0 and np.isinf(r.median)
    assert all(v is None for v in r.to_dict()["inputs"]["N"].values())
    with pytest.raises(FitError, match="along"):
        fit.reach(target=2.1, along="diagonal")
    with pytest.raises(FitError, match="tokens_per_param=R"):
        fit.reach(target=2.1, along="tokens_per_param")


# -- the command line ---------------------------------------------------------------------------------------
def test_cli_reach_json(tiny_fit_path, one, capsys):
    _, t, _ = one
    assert main(["forecast", str(tiny_fit_path), "--reach", repr(t), "--by", "1e5", "1e7", "1e9", "--prob", "0.8",
                 "--json"]) == 0
    rep = json.loads(capsys.readouterr().out)
    assert rep["law"] == "power_law_offset" and isinstance(rep["diagnostics"]["ok"], bool) and rep["forecasts"] == []
    r = rep["reach"]
    assert {"target", "increasing", "direction", "along", "scale", "median", "lower", "upper", "prob", "inputs",
            "at_median", "never_fraction", "at_start_fraction", "bracket", "horizon", "by", "reliable"} <= set(r)
    assert r["target"] == t and r["prob"] == 0.8 and r["along"] == "input" and r["scale"] == "x"
    assert [b["scale"] for b in r["by"]] == [1e5, 1e7, 1e9]
    probs = [b["probability"] for b in r["by"]]
    assert probs == sorted(probs) and 0 <= r["never_fraction"] <= 1
    assert main(["forecast", str(tiny_fit_path), "--reach", repr(t)]) == 0
    out = capsys.readouterr().out
    assert "reach: the law's expected value gets down to" in out and "never reach it" in out


def test_cli_reach_two_inputs(chin, capsys):
    _, path = chin
    assert main(["forecast", str(path), "--reach", "2.1", "--tokens-per-param", "20", "--json"]) == 0
    r = json.loads(capsys.readouterr().out)["reach"]
    assert r["along"] == "tokens_per_param" and r["tokens_per_param"] == 20 and r["scale"] == "C"
    assert set(r["inputs"]) == {"N", "D"} and r["flops_per_token_param"] == 6
    assert main(["forecast", str(path), "--reach", "2.1", "--along", "frontier", "--by", "1e22"]) == 0
    assert "compute-optimal frontier" in capsys.readouterr().out


@pytest.mark.parametrize("args, msg", [
    (["--reach", "0"], "must be a positive number"),
    (["--reach", "-2"], "must be a positive number"),
    (["--reach", "nan"], "must be a positive number"),
    (["--reach", "2", "--by", "0"], "must be a positive number"),
    (["--reach", "2", "--by", "x"], "is not a number"),
    (["--reach", "2", "--tokens-per-param", "20"], "two inputs"),
    (["--reach", "2", "--along", "frontier"], "two inputs"),
    (["--by", "1e6"], "go with --reach"),
    (["--reach", "2", "--at", "1e6"], "not both"),
    (["--reach", "2", "--direction", "sideways"], "invalid choice"),
])
def test_cli_reach_bad_input(tiny_fit_path, capsys, args, msg):
    assert main(["forecast", str(tiny_fit_path), *args]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and msg in err and len(err.strip().splitlines()) == 1
