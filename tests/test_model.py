"""Layer 2: the PyMC model's log-density at fixed parameters, and its priors."""

import numpy as np
import pytest
from scipy import special, stats

import bayescale as bs
from bayescale.spec.data import data_stats, load_data
from bayescale.inference.model import build_model
from bayescale.spec.resolve import resolve_priors
from bayescale.errors import PriorError


@pytest.fixture(scope="module")
def ds():
    df = bs.simulate(law="power_law_offset", seed=5, noise=0.05)
    return load_data(df, x="x", y="y", inputs=("x",))


def _values(model, names, pt):
    """Deterministic parameters at a point of the value (unconstrained) variables."""
    outs = model.replace_rvs_by_values([model[n] for n in names])
    return model.compile_fn(outs, inputs=model.value_vars, on_unused_input="ignore")(pt)


def _point(model, shift=0.3):
    pt = model.initial_point()
    return {k: np.asarray(v) + shift for k, v in pt.items()}


@pytest.mark.parametrize("likelihood", ["lognormal", "normal", "studentt"])
def test_log_likelihood_at_fixed_parameters(ds, likelihood):
    law = bs.get_law("power_law_offset")
    m = build_model(law, ds, likelihood=likelihood)
    pt = _point(m)
    names = ["E", "alpha", "A", "sigma"] + (["nu"] if likelihood == "studentt" else [])
    vals = dict(zip(names, _values(m, names, pt)))
    got = m.compile_logp(vars=[m["y"]], jacobian=False)(pt)
    mu = vals["E"] + vals["A"] * ds.inputs["x"] ** (-vals["alpha"])
    y = ds.y
    if likelihood == "lognormal":
        ref = stats.lognorm.logpdf(y, s=vals["sigma"], scale=mu).sum()
    elif likelihood == "normal":
        ref = stats.norm.logpdf(y, mu, vals["sigma"]).sum()
    else:  # Student-t on log y, density of y (Jacobian -log y)
        ref = (stats.t.logpdf(np.log(y), vals["nu"], np.log(mu), vals["sigma"]) - np.log(y)).sum()
    assert got == pytest.approx(ref, rel=1e-9)


def test_parameters_follow_their_non_centred_priors(ds):
    law = bs.get_law("power_law_offset")
    m = build_model(law, ds)
    pt = _point(m, 0.7)
    st = data_stats(ds.inputs, ds.y)
    E, alpha, A = _values(m, ["E", "alpha", "A"], pt)
    u = special.expit(pt["E_raw_interval__"])
    assert E == pytest.approx(st["y_min"] * u)
    assert alpha == pytest.approx(np.exp(pt["alpha_raw_log__"]))
    z = pt["A_raw"]
    assert A == pytest.approx(np.exp(np.log(st["y_ref"] - E) + alpha * np.log(st["x_ref"]) + 2 * z))


def test_total_log_density_is_prior_plus_likelihood(ds):
    law = bs.get_law("power_law")
    m = build_model(law, ds)
    pt = _point(m, -0.2)
    total = m.compile_logp(jacobian=True)(pt)
    like = m.compile_logp(vars=[m["y"]], jacobian=False)(pt)
    # raw priors: alpha_raw ~ HalfNormal(1) (log transform), A_raw ~ N(0, 1), sigma_raw ~ HalfNormal(1)
    la, ls = pt["alpha_raw_log__"], pt["sigma_raw_log__"]
    prior = (stats.halfnorm.logpdf(np.exp(la)) + la + stats.norm.logpdf(pt["A_raw"])
             + stats.halfnorm.logpdf(np.exp(ls)) + ls)
    assert total == pytest.approx(like + prior, rel=1e-9)


def test_pymc_prior_matches_numpy_prior_draws(ds):
    """The conditional, non-centred prior of A is the same in PyMC and in Prior.draw."""
    import pymc as pm

    law = bs.get_law("power_law_offset")
    m = build_model(law, ds)
    prior = pm.sample_prior_predictive(draws=2000, model=m, random_seed=1, var_names=["E", "alpha", "A"])
    a_pymc = np.log(prior["prior"]["A"].values.ravel())
    rng = np.random.default_rng(2)
    env = dict(data_stats(ds.inputs, ds.y))
    for p in law.parameters:
        env[p.name] = p.prior.draw(env, rng, 2000)
    assert stats.ks_2samp(a_pymc, np.log(env["A"])).pvalue > 0.001


def test_ordered_breaks_are_increasing():
    import pymc as pm

    df = bs.simulate(law="bnsl3", seed=1)
    ds3 = load_data(df, x="x", y="y")
    m = build_model(bs.get_law("bnsl3"), ds3)
    prior = pm.sample_prior_predictive(draws=300, model=m, random_seed=1, var_names=["d1", "d2", "d3"])["prior"]
    d1, d2, d3 = (prior[k].values.ravel() for k in ("d1", "d2", "d3"))
    assert np.all(d1 < d2) and np.all(d2 < d3)
    assert d1.min() >= ds3.inputs["x"].min() and d3.max() <= ds3.inputs["x"].max()


def test_prior_override_and_misspelt_name():
    law = bs.get_law("power_law_offset")
    pr = resolve_priors(law, "lognormal", {"alpha": "Normal(mu=0.3, sigma=0.1)"})
    assert pr["alpha"].dist == "Normal" and pr["A"].dist == "LogNormal"
    with pytest.raises(PriorError, match="did you mean 'alpha'"):
        resolve_priors(law, "lognormal", {"alpah": "Normal(mu=0.3, sigma=0.1)"})
    with pytest.raises(PriorError, match="declared before"):
        resolve_priors(law, "lognormal", {"E": "Normal(mu=A, sigma=1)"})
    with pytest.raises(PriorError, match="jointly"):
        resolve_priors(bs.get_law("bnsl2"), "lognormal", {"d1": "LogUniform(lower=1, upper=10)"})


@pytest.mark.parametrize("likelihood", ["lognormal", "normal", "studentt"])
def test_numpy_log_likelihood_matches_pymc(ds, likelihood):
    """fit() stores log-likelihoods computed with scipy; they equal PyMC's own at any point."""
    from bayescale.predictive import pointwise_log_likelihood

    law = bs.get_law("power_law_offset")
    m = build_model(law, ds, likelihood=likelihood)
    pt = _point(m, -0.4)
    names = list(law.param_names) + ["sigma"] + (["nu"] if likelihood == "studentt" else [])
    vals = dict(zip(names, _values(m, names, pt)))
    outs = m.replace_rvs_by_values([m.logp(vars=[m["y"]], jacobian=False, sum=False)[0]])
    pymc_ll = m.compile_fn(outs, inputs=m.value_vars, on_unused_input="ignore")(pt)[0]
    ours = pointwise_log_likelihood(law, likelihood, {k: np.asarray(v) for k, v in vals.items()}, ds.inputs, ds.y)
    np.testing.assert_allclose(ours, pymc_ll, rtol=1e-9)


def _softplus(z):
    return np.logaddexp(0.0, z)


def test_bnsl1_samples_the_break_effect_and_derives_the_slope_change():
    """bnsl1's model: e1 ~ Normal(0, 3) non-centred, c1 = e1 / (f1 [softplus(log(x_max/d1)/f1) -
    softplus(log(x_min/d1)/f1)]) computed, not sampled; log density = likelihood + raw priors."""
    law = bs.get_law("bnsl1")
    assert law.derived == ("c1",) and "c1" not in law.sampled and "e1" in law.sampled
    ds1 = load_data(bs.simulate(law="bnsl1", seed=3, noise=0.03), x="x", y="y")
    m = build_model(law, ds1)
    assert "c1_raw" not in {v.name for v in m.free_RVs} and "e1_raw" in {v.name for v in m.free_RVs}
    pt = _point(m, 0.4)
    names = ["a", "c0", "d1", "f1", "e1", "c1", "b", "sigma"]
    v = dict(zip(names, _values(m, names, pt)))
    x, st = ds1.inputs["x"], data_stats(ds1.inputs, ds1.y)
    reach = v["f1"] * (_softplus(np.log(st["x_max"] / v["d1"]) / v["f1"])
                       - _softplus(np.log(st["x_min"] / v["d1"]) / v["f1"]))
    assert v["e1"] == pytest.approx(3 * pt["e1_raw"])
    assert v["c1"] == pytest.approx(v["e1"] / reach, rel=1e-10)
    # e1 is the break factor's drop in log between x_min and x_max (the product form of the paper)
    factor = lambda z: (1 + (z / v["d1"]) ** (1 / v["f1"])) ** (-v["c1"] * v["f1"])  # noqa: E731
    assert np.log(factor(st["x_min"])) - np.log(factor(st["x_max"])) == pytest.approx(v["e1"], rel=1e-8)
    mu = v["a"] + v["b"] * x ** (-v["c0"]) * factor(x)
    like = m.compile_logp(vars=[m["y"]], jacobian=False)(pt)
    assert like == pytest.approx(stats.lognorm.logpdf(ds1.y, s=v["sigma"], scale=mu).sum(), rel=1e-9)
    # raw priors: Uniform(0, 1) on an interval transform, HalfNormal(1) on a log transform, N(0, 1)
    unit = lambda z: np.log(special.expit(z)) + np.log1p(-special.expit(z))  # noqa: E731
    half = lambda z: stats.halfnorm.logpdf(np.exp(z)) + z  # noqa: E731
    prior = (unit(pt["a_raw_interval__"]) + half(pt["c0_raw_log__"]) + unit(pt["d1_raw_interval__"])
             + stats.norm.logpdf(pt["f1_raw"]) + stats.norm.logpdf(pt["e1_raw"]) + stats.norm.logpdf(pt["b_raw"])
             + half(pt["sigma_raw_log__"]))
    assert m.compile_logp(jacobian=True)(pt) == pytest.approx(like + prior, rel=1e-9)


def test_studentt_draws_of_a_heavy_tail_pass_the_float_range_without_warnings():
    """With nu near 0.5 a draw can exceed the float range: it is +inf, quietly; the median stays the law's."""
    import warnings

    from bayescale.spec.likelihoods import get_likelihood

    mu = np.full((400, 50), 2.0)
    noise = {"sigma": np.full(400, 3.0), "nu": np.full(400, 0.5)}
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        d = get_likelihood("studentt").draw(mu, noise, np.random.default_rng(0))
    assert np.isposinf(d).any() and not np.isnan(d).any()
    assert np.median(d) == pytest.approx(2.0, rel=0.1)
