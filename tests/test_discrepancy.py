"""Extrapolation uncertainty: zero inside the fitted range, growing with the distance beyond it, off
reproduces the forecasts of before, and the learned table loads and is overridable."""

from __future__ import annotations

import numpy as np
import pytest

import bayescale as bs
from bayescale.spec.discrepancy import (OFF, RHO_MAX, Discrepancy, autocorrelation_factor, discrepancy_table,
                                        get_discrepancy, horizon, residual_autocorrelation)


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


def test_residual_autocorrelation_against_simulated_ar1_residuals():
    from scipy.signal import lfilter

    x = np.geomspace(1e3, 1e9, 400)
    sims = [lfilter([0.6], [1.0, -0.8], np.random.default_rng(s).standard_normal(400)) for s in range(20)]
    # the sample lag-1 autocorrelation of AR(1) series with rho = 0.8 (sd about 0.03 for 400 points)
    assert np.mean([residual_autocorrelation({"x": x}, a) for a in sims]) == pytest.approx(0.8, abs=0.03)
    ar = sims[0]
    c = ar - ar.mean()
    assert residual_autocorrelation({"x": x}, ar) == pytest.approx(np.sum(c[:-1] * c[1:]) / np.sum(c ** 2))
    rng = np.random.default_rng(1)
    e = rng.standard_normal(400)
    assert residual_autocorrelation({"x": x}, e) < 0.1
    # order is by the input, not by the rows; rows sharing a value are averaged first
    perm = rng.permutation(400)
    assert residual_autocorrelation({"x": x[perm]}, ar[perm]) == residual_autocorrelation({"x": x}, ar)
    twice = residual_autocorrelation({"x": np.repeat(x, 2)}, np.repeat(ar, 2))
    assert twice == pytest.approx(residual_autocorrelation({"x": x}, ar))
    # clipped to [0, RHO_MAX]; 0 with fewer than 4 distinct values; the largest over several inputs
    assert residual_autocorrelation({"x": x}, (-1.0) ** np.arange(400)) == 0.0
    assert residual_autocorrelation({"x": x}, np.linspace(-1, 1, 400)) == RHO_MAX
    assert residual_autocorrelation({"x": np.array([1.0, 2, 3, 1, 2, 3])}, np.arange(6.0)) == 0.0
    assert residual_autocorrelation({"N": x, "D": x[perm]}, ar) == residual_autocorrelation({"x": x}, ar)


def test_autocorrelation_widens_the_forecast_by_its_factor_beyond_the_data_only():
    d = Discrepancy("ar", 0.0, 0.0, form="relative", autocorrelation=True)
    assert not d.off and d.rho == 0.0
    h, b = np.array([0.0, 0.5, 1.0]), np.array([0.1, 0.2, 0.3])
    np.testing.assert_allclose(d.sd(h, b), 0.0)  # rho = 0: nothing to add
    d6 = d.for_fit(0.6)  # k = sqrt(1.6 / 0.4) = 2: total sd 2 b, so the discrepancy adds b sqrt(3)
    assert autocorrelation_factor(0.6) == pytest.approx(2.0)
    np.testing.assert_allclose(d6.sd(h, b), [0.0, 0.2 * np.sqrt(3), 0.3 * np.sqrt(3)])
    # with a distance term: total sd b k sqrt(1 + (s0 + kappa h)^2)
    dk = Discrepancy("ar", 0.5, 1.0, form="relative", autocorrelation=True).for_fit(0.6)
    total = np.sqrt(b ** 2 + dk.sd(h, b) ** 2)
    np.testing.assert_allclose(total[1:], (b * 2 * np.sqrt(1 + (0.5 + h) ** 2))[1:])
    assert d.for_fit(2.0).rho == RHO_MAX and OFF.for_fit(0.9) is OFF
    assert get_discrepancy({"s0": 0, "kappa": 0, "form": "relative", "autocorrelation": True}).autocorrelation
    with pytest.raises(bs.FitError, match="relative form"):
        Discrepancy("bad", 0.0, 0.0, form="absolute", autocorrelation=True)


def test_a_fit_applies_its_own_residual_autocorrelation(tiny_fit):
    spec = {"s0": 0.0, "kappa": 0.0, "form": "relative", "autocorrelation": True}
    disc = tiny_fit.discrepancy(spec)
    rho = tiny_fit.residual_autocorrelation
    assert 0.0 <= rho <= RHO_MAX and disc.rho == rho
    assert tiny_fit.discrepancy("off") is OFF and tiny_fit.discrepancy() == get_discrepancy("default").for_fit(rho)
    xmax = float(tiny_fit.data.inputs["x"].max())
    t = tiny_fit.forecast(x=[xmax, 10 * xmax], prob=0.9, discrepancy=spec).table()
    k = autocorrelation_factor(rho)
    base = np.hypot(t["sd_parameters"], t["sd_noise"]).to_numpy()
    assert t["sd_extrapolation"].iloc[0] == 0.0
    assert t["sd_extrapolation"].iloc[1] == pytest.approx(base[1] * np.sqrt(k ** 2 - 1))


def test_a_declared_distance_counts_towards_the_horizon():
    """Runs repeated more often than any fitted run extrapolate in epochs (data_constrained's role
    distances), though N, D and U each lie inside the fitted ranges."""
    from bayescale.inference.forecast import forecast_draws
    from bayescale.spec.likelihoods import get_likelihood

    law = bs.get_law("data_constrained")
    fitted = {"N": np.array([1e8, 1e9]), "D": np.array([1e9, 4e10]), "U": np.array([1e9, 1e10])}
    targets = {"N": np.array([1e9, 1e9]), "D": np.array([1e10, 4e10]), "U": np.array([1e10, 1e9])}  # 1 and 40 epochs
    rng = np.random.default_rng(0)
    mu = np.exp(rng.normal(1.0, 0.01, size=(400, 2)))
    kw = dict(likelihood=get_likelihood("lognormal"), noise={"sigma": np.full((400, 1), 0.01)}, inputs=targets,
              fitted=fitted, discrepancy=get_discrepancy("default"), seed=0, prob=0.9, reliable=True)
    plain = forecast_draws(mu, **kw)
    with_epochs = forecast_draws(mu, **kw, distances=law.distances)
    np.testing.assert_allclose(plain.horizon, [0.0, 0.0])
    assert plain.along == () and with_epochs.along == ("epochs = D / U",)  # the forecast table names it
    np.testing.assert_allclose(with_epochs.horizon, [0.0, 1.0])  # 40 epochs against at most 4 fitted
    assert with_epochs.parts["extrapolation"][0] == 0 < with_epochs.parts["extrapolation"][1]
    # each row also says how far along each input and distance (the "per input")
    t = with_epochs.table()
    np.testing.assert_allclose(t[["horizon_N", "horizon_D", "horizon_U", "horizon_epochs"]].to_numpy(),
                               [[0, 0, 0, 0], [0, 0, 0, 1]], atol=1e-12)
    assert with_epochs.to_records()[1]["horizon_by"] == pytest.approx({"N": 0, "D": 0, "U": 0, "epochs": 1})
    assert "horizon_N" in plain.table() and "horizon_epochs" not in plain.table()
