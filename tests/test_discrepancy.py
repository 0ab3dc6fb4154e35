"""Extrapolation uncertainty: zero inside the fitted range, growing with the distance beyond it, off
reproduces the forecasts of before, and the learned table loads and is overridable."""

from __future__ import annotations

import numpy as np
import pytest

import bayescale as bs
from bayescale.spec.discrepancy import OFF, discrepancy_table, get_discrepancy, horizon


def test_horizon_is_decades_beyond_the_largest_fitted_value_of_any_input():
    fitted = {"N": np.array([1e6, 1e8]), "D": np.array([1e9, 1e10])}
    h = horizon(fitted, {"N": np.array([1e7, 1e9, 1e8]), "D": np.array([1e12, 1e10, 1e9])})
    np.testing.assert_allclose(h, [2.0, 1.0, 0.0])


def test_the_learned_table_loads_and_names_resolve():
    table = discrepancy_table()
    assert "default" in table and table["default"].kappa > 0
    assert get_discrepancy(None) == table["default"] == get_discrepancy("default")
    assert get_discrepancy("off") is OFF
    np.testing.assert_allclose(get_discrepancy({"s0": 0.01, "kappa": 0.1}).sd(np.array([0.0, 1.0, 2.0])), [0, 0.11, 0.21])
    with pytest.raises(bs.FitError, match="unknown discrepancy 'nope'"):
        get_discrepancy("nope")
    with pytest.raises(bs.FitError, match="s0 and kappa"):
        get_discrepancy({"kappa": 0.1})
    with pytest.raises(bs.FitError, match=">= 0"):
        get_discrepancy({"s0": -1, "kappa": 0.1})


def test_extrapolation_part_is_zero_inside_and_grows_with_distance(tiny_fit):
    xmax = float(tiny_fit.data.inputs["x"].max())
    xs = [xmax / 10, xmax, 10 * xmax, 100 * xmax, 1000 * xmax]
    fc = tiny_fit.forecast(x=xs, prob=0.9)
    t = fc.table()
    np.testing.assert_allclose(t["horizon"], [0, 0, 1, 2, 3], atol=1e-12)
    ext = t["sd_extrapolation"].to_numpy()
    assert ext[0] == ext[1] == 0 and np.all(np.diff(ext[1:]) > 0)
    off = tiny_fit.forecast(x=xs, prob=0.9, discrepancy="off").table()
    # inside the range nothing changes; beyond it the expected-value interval widens more with distance
    np.testing.assert_allclose(t[["lower", "upper"]].to_numpy()[:2], off[["lower", "upper"]].to_numpy()[:2])
    width = np.log(t["upper"] / t["lower"]).to_numpy()
    width_off = np.log(off["upper"] / off["lower"]).to_numpy()
    assert np.all(width[2:] > width_off[2:]) and np.all(np.diff(width[2:] - width_off[2:]) > 0)
    rec = fc.to_records()[3]
    assert rec["horizon"] == pytest.approx(2.0) and set(rec["sd_log"]) == {"parameters", "noise", "extrapolation"}


def test_off_reproduces_the_forecasts_without_a_discrepancy(tiny_fit):
    """The noise draws use the same stream as before the discrepancy existed."""
    x = [1e6, 1e7]
    fc = tiny_fit.forecast(x=x, prob=0.9, discrepancy="off")
    mu = tiny_fit.expected({"x": np.array(x)})
    obs = tiny_fit.likelihood.draw(mu, tiny_fit.draws(["sigma"]), np.random.default_rng(tiny_fit.settings["seed"]))
    np.testing.assert_array_equal(fc.expected, mu)
    np.testing.assert_array_equal(fc.observed, obs)


def test_discrepancy_is_part_of_the_saved_configuration(tiny_fit, tmp_path):
    p = tmp_path / "f.nc"
    cfg = tiny_fit.config.replace(discrepancy={"s0": 0.0, "kappa": 0.5})
    f = bs.Fit(tree=tiny_fit.tree, law=tiny_fit.law, data=tiny_fit.data, settings=tiny_fit.settings, config=cfg)
    f.save(p)
    again = bs.load(p)
    assert again.config == cfg
    a = again.forecast(x=[1e7], prob=0.9).table()
    b = f.forecast(x=[1e7], prob=0.9).table()
    assert a["upper"].iloc[0] == b["upper"].iloc[0]
