"""Chained forecasts (bayescale.inference.chain): scale -> loss -> downstream metric, on tiny real fits of
simulated stages."""

from __future__ import annotations

import json

import numpy as np
import pytest

import bayescale as bs
from bayescale.cli.main import main
from bayescale.errors import FitError
from bayescale.inference.chain import Chained, _pairing, chain, check_chain, loss_horizon

from .conftest import TINY

#: The second stage's true law: a metric that rises as the loss falls (y = E + A L^-alpha).
STAGE2 = {"E": 0.05, "A": 1.5, "alpha": 2.0}


@pytest.fixture(scope="module")
def stages():
    d1 = bs.simulate(law="power_law_offset", seed=1, noise=0.003)
    loss = np.geomspace(float(d1["y"].min()), float(d1["y"].max()), 15)
    d2 = bs.simulate(law="power_law_offset", x=loss, params=STAGE2, noise=0.003, seed=2)
    f1 = bs.fit(d1, law="power_law_offset", x="x", y="y", seed=1, **TINY)
    f2 = bs.fit(d2, law="power_law_offset", x="x", y="y", seed=2, **TINY)
    return f1, f2, float(d1["x"].max())


class _Pinned:
    """A fit whose posterior draws all equal their medians: a stage without parameter uncertainty."""

    def __init__(self, fit):
        self._fit = fit

    def __getattr__(self, name):
        return getattr(self._fit, name)

    def draws(self, names=None):
        return {k: np.full_like(v, np.median(v)) for k, v in self._fit.draws(names).items()}


def test_loss_horizon_counts_both_sides():
    h = loss_horizon(np.array([0.2, 1.0, 2.0, 5.0, 40.0]), 1.0, 4.0)
    np.testing.assert_allclose(h, [np.log10(5), 0, 0, np.log10(5 / 4), 1.0])


def test_pairing_is_a_seeded_permutation():
    p = _pairing(200, 200, 7)
    assert sorted(p) == list(range(200)) and not np.array_equal(p, np.arange(200))
    np.testing.assert_array_equal(p, _pairing(200, 200, 7))
    more = _pairing(450, 200, 7)  # repeated: every second-stage draw used 2 or 3 times
    assert set(np.bincount(more, minlength=200)) <= {2, 3}
    assert len(set(_pairing(50, 200, 7))) == 50


def test_median_is_stage2_law_at_stage1_median(stages):
    f1, f2, xmax = stages
    x = [10 * xmax, 100 * xmax]
    # stage 2 without parameter uncertainty: a monotone map of the loss draws, so medians commute (exactly,
    # with an odd number of draws and no interpolation)
    pinned = _Pinned(f2)
    c = chain(f1, pinned, x=x, discrepancy="off", seed=3)
    assert isinstance(c, Chained)
    L = c.loss.expected
    theta = {k: v[:1] for k, v in pinned.draws(f2.law.param_names).items()}
    for j in range(2):
        lmed = np.quantile(L[:-1, j], 0.5, method="inverted_cdf")
        want = f2.law.evaluate({"x": np.array([lmed])}, theta)[0]
        assert np.quantile(c.expected[:-1, j], 0.5, method="inverted_cdf") == pytest.approx(want, rel=1e-12)
    assert np.all(c.forecast.parts["stage2_parameters"] < 1e-12)
    # the real (well pinned) stage 2: the chained median is stage 2's law at stage 1's median loss
    c = chain(f1, f2, x=x, seed=3)
    at = f2.expected({"x": np.median(c.loss.expected, axis=0)})
    np.testing.assert_allclose(np.median(c.expected, axis=0), np.median(at, axis=0), rtol=0.01)
    t = c.table()
    assert np.all(t["horizon_loss"] > 0) and np.all(t["below_loss_range"] > 0.5)  # below the fitted losses
    assert np.all(t["sd_stage2_extrapolation"] > 0) and np.all(t["sd_stage1"] > 0)


def test_chained_interval_is_wider_than_stage2_alone(stages):
    f1, f2, xmax = stages
    c = chain(f1, f2, x=[10 * xmax], seed=0)
    lmed = float(np.median(c.loss.expected))
    alone = f2.forecast(x=[lmed], seed=0)  # stage 2 at a fixed loss: its parameters and noise only
    t, a = c.table().iloc[0], alone.table().iloc[0]
    assert t["upper"] - t["lower"] > 1.5 * (a["upper"] - a["lower"])
    # a new observation adds stage 2's noise (sd 0.003 here, small beside the propagated loss): with 120
    # draws the two 90% widths are equal up to Monte Carlo error, which decided their order in either
    # direction under different library versions; so only "not narrower beyond that error" is checked
    assert t["obs_upper"] - t["obs_lower"] > 0.9 * (t["upper"] - t["lower"]) > 0 and t["sd_noise"] > 0
    assert t["obs_upper"] - t["obs_lower"] > a["obs_upper"] - a["obs_lower"]
    # the propagated loss uncertainty is the largest part here; stage 1's own interval is carried through
    assert t["sd_stage1"] > t["sd_stage2_parameters"]
    assert c.reliable == (f1.diagnostics().ok and f2.diagnostics().ok)


def test_reproducible_from_the_seed(stages):
    f1, f2, xmax = stages
    a, b = chain(f1, f2, x=[5 * xmax], seed=9), chain(f1, f2, x=[5 * xmax], seed=9)
    np.testing.assert_array_equal(a.expected, b.expected)
    np.testing.assert_array_equal(a.observed, b.observed)
    other = chain(f1, f2, x=[5 * xmax], seed=10)
    assert not np.array_equal(a.observed, other.observed)
    default = chain(f1, f2, x=[5 * xmax])  # the first fit's seed
    np.testing.assert_array_equal(default.expected, chain(f1, f2, x=[5 * xmax], seed=1).expected)


def test_second_fit_of_several_inputs_is_refused(stages):
    f1, f2, _ = stages

    class _TwoInputs(_Pinned):
        law = bs.get_law("chinchilla")

    with pytest.raises(FitError, match="one input"):
        check_chain(f1, _TwoInputs(f2))
    with pytest.raises(FitError, match="one input"):
        chain(f1, _TwoInputs(f2), x=[1e7])


@pytest.fixture(scope="module")
def saved(stages, tmp_path_factory):
    f1, f2, xmax = stages
    d = tmp_path_factory.mktemp("chain")
    return f1.save(d / "loss.nc"), f2.save(d / "acc.nc"), xmax


def test_cli_json_shape(saved, capsys):
    p1, p2, xmax = saved
    assert main(["forecast", str(p1), "--then", str(p2), "--at", str(10 * xmax), str(100 * xmax), "--json",
                 "--seed", "4"]) == 0
    rep = json.loads(capsys.readouterr().out)
    assert set(rep) == {"first", "second", "chain", "ok", "forecasts"}
    assert rep["first"]["law"] == rep["second"]["law"] == "power_law_offset"
    assert "ok" in rep["first"]["diagnostics"] and isinstance(rep["ok"], bool)
    assert rep["chain"]["seed"] == 4 and "permutation" in rep["chain"]["pairing"]
    assert rep["chain"]["columns_match"] is False  # both fits name their columns x and y
    assert len(rep["forecasts"]) == 2
    for r in rep["forecasts"]:
        assert r["lower"] <= r["median"] <= r["upper"] and r["prob"] == 0.9
        assert r["observation"]["lower"] <= r["observation"]["upper"]
        assert r["loss"]["lower"] <= r["loss"]["median"] <= r["loss"]["upper"]
        assert set(r["sd_log"]) == {"stage1", "stage2_parameters", "stage2_extrapolation", "noise"}
        assert r["horizon"] > 0 and r["horizon_loss"] >= 0
    # the same numbers as the Python API with that seed
    c = chain(bs.load(p1), bs.load(p2), x=[10 * xmax, 100 * xmax], seed=4)
    assert rep["forecasts"][0]["median"] == pytest.approx(float(np.median(c.expected[:, 0])))
    assert main(["forecast", str(p1), "--then", str(p2), "--at", str(10 * xmax)]) == 0
    out = capsys.readouterr().out
    assert "chained forecast" in out and "sd stage1" in out and "note: stage 1 forecasts 'y'" in out


@pytest.mark.parametrize("extra, msg", [
    (["--reach", "2.0"], "--then chains forward forecasts"),
    ([], "give the first fit's target scales"),
    (["--at", "1e7", "--at-input", "x=1e7"], "not both"),
])
def test_cli_bad_input_exits_2(saved, capsys, extra, msg):
    p1, p2, _ = saved
    assert main(["forecast", str(p1), "--then", str(p2), *extra]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and msg in err and len(err.strip().splitlines()) == 1


def test_cli_missing_second_fit_exits_2(saved, tmp_path, capsys):
    p1, _, _ = saved
    assert main(["forecast", str(p1), "--then", str(tmp_path / "nope.nc"), "--at", "1e7"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and "nope.nc" in err


def test_bounded_second_stage_stays_in_the_unit_interval(stages):
    f1, _, xmax = stages
    loss = np.geomspace(float(f1.data.y.min()), float(f1.data.y.max()), 15)
    d2 = bs.simulate(law="power_law_offset", x=loss, params=STAGE2, noise=0.02, seed=5)
    f2 = bs.fit(d2, law="power_law_offset", x="x", y="y", likelihood="logitnormal", seed=5, **TINY)
    c = chain(f1, f2, x=[10 * xmax, 1000 * xmax], seed=0)
    assert c.forecast.scale == "logit"
    for arr in (c.expected, c.observed):
        assert np.all((arr >= 0) & (arr <= 1))
    assert np.all(c.forecast.parts["stage2_extrapolation"] > 0)  # shifted on the logit scale, as forecast_draws
    rec = c.to_records()[0]
    assert rec["sd_scale"] == "logit" and rec["horizon_loss"] > 0


def test_cli_second_fit_of_two_inputs_exits_2(saved, tmp_path, capsys):
    p1, _, _ = saved
    two = bs.fit(bs.simulate(law="chinchilla", seed=0), law="chinchilla", x=["N", "D"], y="y", seed=0, **TINY)
    p2 = two.save(tmp_path / "chin.nc")
    assert main(["forecast", str(p1), "--then", str(p2), "--at", "1e7", "--json"]) == 2
    cap = capsys.readouterr()
    assert cap.out == "" and cap.err.startswith("error:") and "one input" in cap.err
    assert len(cap.err.strip().splitlines()) == 1
