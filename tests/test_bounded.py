"""Bounded metrics (issue 19, part 1): the logit-normal, beta and binomial likelihoods, the sigmoid_floor and
bnsl1_error laws, a given or inferred chance level, and every bad input before any sampling."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy import special, stats

import bayescale as bs
from bayescale.cli import main
from bayescale.errors import DataError, FitError, PriorError
from bayescale.inference import fit as fit_module
from bayescale.inference.model import build_model
from bayescale.spec.data import load_data
from bayescale.spec.likelihoods import get_likelihood
from bayescale.spec.priors import parse_prior
from bayescale.simulate import TRUE_PARAMS

Y = np.array([0.03, 0.2, 0.5, 0.77, 0.98])
MU = np.array([[0.05, 0.3, 0.45, 0.7, 0.95], [0.1, 0.1, 0.6, 0.9, 0.99]])


# -- layer 1: densities against scipy -------------------------------------------------------------
def test_logitnormal_logpdf_is_normal_on_logit_with_jacobian():
    lik = get_likelihood("logitnormal")
    sigma = np.array([[0.3], [0.7]])
    got = lik.logpdf(Y[None, :], MU, {"sigma": sigma})
    ref = stats.norm.logpdf(special.logit(Y), special.logit(MU), sigma) - np.log(Y) - np.log(1 - Y)
    np.testing.assert_allclose(got, ref, rtol=1e-12)
    # a density of y: it integrates to 1 over (0, 1)
    grid = np.linspace(1e-6, 1 - 1e-6, 200001)
    dens = np.exp(lik.logpdf(grid, 0.3, {"sigma": 0.5}))
    assert np.trapezoid(dens, grid) == pytest.approx(1.0, abs=1e-4)


def test_beta_logpdf_matches_scipy_with_mean_and_precision():
    lik = get_likelihood("beta")
    phi = np.array([[20.0], [300.0]])
    got = lik.logpdf(Y[None, :], MU, {"phi": phi})
    np.testing.assert_allclose(got, stats.beta.logpdf(Y, MU * phi, (1 - MU) * phi), rtol=1e-12)


def test_binomial_is_the_pmf_of_the_count_on_the_y_scale():
    trials = np.array([10, 20, 40, 100, 50])
    lik = get_likelihood("binomial").bind(trials)
    y = np.array([0, 3, 20, 77, 50]) / trials  # 0 and 1 are allowed
    got = lik.logpdf(y[None, :], MU, {})
    ref = stats.binom.logpmf(np.array([0, 3, 20, 77, 50]), trials, MU) + np.log(trials)
    np.testing.assert_allclose(got, ref, rtol=1e-12)
    with pytest.raises(FitError, match="trials"):
        get_likelihood("binomial").logpdf(y, MU, {})


@pytest.mark.parametrize("name, noise", [("logitnormal", {"sigma": np.array([2.0, 2.0])}),
                                         ("beta", {"phi": np.array([3.0, 3.0])}),
                                         ("binomial", {})])
def test_draws_stay_in_the_unit_interval_around_the_law(name, noise):
    lik = get_likelihood(name).bind(30)
    mu = np.full((2, 4000), 0.7)
    d = lik.draw(mu, noise, np.random.default_rng(0))
    assert d.min() >= 0 and d.max() <= 1
    center = np.median(d) if name == "logitnormal" else d.mean()  # logit-normal: the law is the median
    assert center == pytest.approx(0.7, abs=0.03)


# -- layer 2: the PyMC model's log-density at fixed parameters ------------------------------------
@pytest.mark.parametrize("name", ["logitnormal", "beta", "binomial"])
def test_model_log_likelihood_matches_numpy(name):
    trials = 200 if name == "binomial" else None
    df = bs.simulate(law="sigmoid_floor", likelihood=name, noise=0.2 if name == "logitnormal" else 150,
                     trials=trials, seed=4)
    lik = get_likelihood(name)
    ds = load_data(df, x="x", y="y", likelihood=lik, trials=trials)
    m = build_model(bs.get_law("sigmoid_floor"), ds, likelihood=lik.bind(ds.trials))
    pt = {k: np.asarray(v) + 0.2 for k, v in m.initial_point().items()}
    names = ["floor", "ceiling", "slope", "x50", *lik.noise_names]
    outs = m.replace_rvs_by_values([m[n] for n in names])
    vals = dict(zip(names, m.compile_fn(outs, inputs=m.value_vars, on_unused_input="ignore")(pt)))
    got = m.compile_logp(vars=[m["y"]], jacobian=False)(pt)
    mu = bs.get_law("sigmoid_floor")(x=ds.inputs["x"], **{k: vals[k] for k in ("floor", "ceiling", "slope", "x50")})
    ref = lik.bind(ds.trials).logpdf(ds.y, mu, {k: vals[k] for k in lik.noise_names})
    if name == "binomial":  # the model's pmf of the count; the stored density of y adds log n
        ref = ref - np.log(ds.trials)
    assert got == pytest.approx(ref.sum(), rel=1e-9)


def test_fixed_prior_is_a_constant_not_a_sampled_variable():
    assert parse_prior("0.25", param="floor").fixed and parse_prior("Fixed(value=0.25)").fixed
    df = bs.simulate(law="sigmoid_floor", likelihood="logitnormal", noise=0.1, seed=1)
    ds = load_data(df, x="x", y="y", likelihood=get_likelihood("logitnormal"))
    m = build_model(bs.get_law("sigmoid_floor"), ds, priors={"floor": "0.25"}, likelihood="logitnormal")
    assert "floor_raw" not in {v.name for v in m.free_RVs}
    assert float(m.compile_fn(m["floor"], inputs=m.value_vars, on_unused_input="ignore")(m.initial_point())) == 0.25
    with pytest.raises(PriorError, match="no parameter 'floor' in law 'bnsl1'"):
        bs.fit(df, law="bnsl1", floor=0.25)
    with pytest.raises(PriorError, match="did you mean 'floor'"):
        bs.fit(df, law="sigmoid_floor", likelihood="logitnormal", priors={"flor": "0.2"})


def test_laws_stay_between_floor_and_one():
    x = np.logspace(2, 8, 50)
    s = bs.get_law("sigmoid_floor")(x=x, floor=0.25, ceiling=0.9, slope=-3.0, x50=1e4)  # negative: loss-like x
    assert np.all((s >= 0.25) & (s <= 0.9)) and s[0] > s[-1]
    p = TRUE_PARAMS["bnsl1_error"]
    acc = bs.get_law("bnsl1_error")(x=x, **{**p, "floor": 0.25})
    assert np.all((acc >= 0.25) & (acc <= 1)) and np.all(np.diff(acc) >= 0)


# -- layer 3: real NUTS, forecasts, save and load --------------------------------------------------
@pytest.fixture(scope="module")
def binomial_fit():
    df = bs.simulate(law="sigmoid_floor", likelihood="binomial", trials=400, seed=1)
    return bs.fit(df, law="sigmoid_floor", likelihood="binomial", trials=400, floor=0.25, draws=300, tune=300,
                  chains=2, cores=1, seed=0, progressbar=False)


def test_nuts_recovers_the_sigmoid(binomial_fit):
    s = binomial_fit.summary(prob=0.95)
    truth = TRUE_PARAMS["sigmoid_floor"]
    lo, hi = [c for c in s.columns if c.startswith("eti")][:2]
    for name in ("ceiling", "slope", "x50"):
        assert s.loc[name, lo] <= truth[name] <= s.loc[name, hi], (name, s.loc[name])
    assert "floor" not in s.index and binomial_fit.fixed == {"floor": 0.25}
    assert binomial_fit.diagnostics().divergences == 0


def test_forecast_stays_in_unit_interval_and_reloads(binomial_fit, tmp_path):
    fc = binomial_fit.forecast(x=[1e3, 1e7, 1e10], prob=0.9)
    assert fc.expected.min() >= 0 and fc.expected.max() <= 1
    assert fc.observed.min() >= 0 and fc.observed.max() <= 1
    t = fc.table()
    assert t["sd_extrapolation"].iloc[0] == 0 and t["sd_extrapolation"].iloc[-1] > 0  # on logit y beyond the data
    assert fc.to_records()[0]["sd_scale"] == "logit"
    # new observations are fractions of the 400 items
    assert np.allclose(fc.observed * 400, np.round(fc.observed * 400))
    again = bs.load(binomial_fit.save(tmp_path / "acc.nc"))
    assert again.config.trials == 400 and dict(again.config.priors) == {"floor": "Fixed(value=0.25)"}
    pd_equal = again.forecast(x=[1e3, 1e7, 1e10], prob=0.9).table().equals(t)
    assert pd_equal and again.fixed == {"floor": 0.25}
    np.testing.assert_allclose(again.tree["log_likelihood"]["y"].values, binomial_fit.tree["log_likelihood"]["y"].values)


def test_reach_of_an_accuracy_agrees_with_the_forward_forecast(binomial_fit):
    """An inverse forecast of a bounded metric rises to the target and carries the logit-scale discrepancy."""
    fit = binomial_fit
    xmax = float(np.max(fit.data.inputs["x"]))
    t = float(np.median(fit.forecast(x=[10 * xmax], discrepancy="off").expected))
    xs = xmax * np.array([0.5, 3.0, 10.0, 30.0])
    on, off = fit.reach(target=t, by=xs), fit.reach(target=t, by=xs, discrepancy="off")
    assert on.increasing and on.discrepancy.name == "default" and off.discrepancy.off
    assert on.by_prob[0] == off.by_prob[0]  # inside the data nothing changes
    n = on.draws.size
    forward = [(fit.forecast(x=[x]).expected[:, 0] >= t).mean() for x in xs]
    np.testing.assert_allclose(on.by_prob, forward, atol=4 * 0.5 / np.sqrt(n))


def test_design_for_an_accuracy_gains_most_towards_the_target(binomial_fit):
    xmax = float(np.max(binomial_fit.data.inputs["x"]))
    d = binomial_fit.design(target=30 * xmax, candidates=[xmax / 3, 10 * xmax], seed=0, outcomes=16)
    t = d.table().set_index("x")
    assert 0 < d.width < 1 and np.isfinite(t["reduction"]).all()
    inside, towards = t.loc[xmax / 3], t.loc[10 * xmax]
    assert inside["reduction"] < 0.1 * d.width < towards["reduction"]  # a run inside the data gains little


# -- CLI and bad inputs ---------------------------------------------------------------------------
def _csv(tmp_path, rows, name="acc.csv", header="x,acc,n"):
    p = tmp_path / name
    p.write_text(header + "\n" + "\n".join(",".join(map(str, r)) for r in rows) + "\n")
    return p


@pytest.fixture
def acc_rows():
    df = bs.simulate(law="sigmoid_floor", likelihood="binomial", trials=200, seed=7)
    return [(f"{x:g}", f"{y:.4f}", 200) for x, y in zip(df["x"], df["y"])]


def test_cli_trials_column_and_floor_json(tmp_path, capsys, acc_rows):
    p = _csv(tmp_path, acc_rows)
    rc = main(["fit", str(p), "--x", "x", "--y", "acc", "--law", "sigmoid_floor", "--likelihood", "binomial",
               "--trials", "n", "--floor", "0.25", "--target", "1e7", "--draws", "100", "--tune", "100",
               "--chains", "2", "--cores", "1", "--json", "--out", str(tmp_path / "f.nc")])
    out = json.loads(capsys.readouterr().out)
    assert rc == 0
    assert out["likelihood"] == "binomial" and out["fixed"] == {"floor": 0.25} and out["trials"] == "n"
    assert "floor" not in out["parameters"] and set(out["parameters"]) == {"ceiling", "slope", "x50"}
    f = out["forecasts"][0]
    assert 0 <= f["lower"] <= f["upper"] <= 1 and 0 <= f["observation"]["lower"] <= f["observation"]["upper"] <= 1
    rc = main(["forecast", str(tmp_path / "f.nc"), "--at", "1e7", "--json"])
    again = json.loads(capsys.readouterr().out)
    assert rc == 0 and again["forecasts"][0]["median"] == pytest.approx(f["median"])


@pytest.fixture
def no_sampling(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("sampling started before the bad input was rejected")

    monkeypatch.setattr(fit_module, "sample", refuse)


@pytest.mark.parametrize("rows_fix, extra, fragment", [
    (lambda r: r[:3] + [(r[3][0], "1.0", 200)] + r[4:], ["--likelihood", "beta"], "needs 0 < y < 1"),
    (lambda r: r[:2] + [(r[2][0], "0", 200)] + r[3:], ["--likelihood", "logitnormal"], "value 0 at line 4"),
    (lambda r: r[:2] + [(r[2][0], "57", 100)] + r[3:], ["--likelihood", "binomial", "--trials", "n"],
     "exceed the 100 trials"),
    (lambda r: r[:2] + [(r[2][0], "0.5", 10.5)] + r[3:], ["--likelihood", "binomial", "--trials", "n"],
     "trials column 'n' is 10.5 at line 4"),
    (lambda r: r, ["--likelihood", "binomial", "--trials", "12.5"], "whole number"),
    (lambda r: r, ["--likelihood", "binomial", "--trials", "0"], "whole number"),
    (lambda r: r, ["--likelihood", "binomial"], "needs the number of items"),
    (lambda r: r, ["--likelihood", "beta", "--trials", "100"], "go with likelihood='binomial'"),
    (lambda r: r, ["--likelihood", "binomial", "--trials", "items"], "no column 'items'"),
    (lambda r: r, ["--likelihood", "beta", "--floor", "1.5"], "--floor"),
    (lambda r: r, ["--likelihood", "beta", "--prior", "flor=0.2"], "did you mean 'floor'"),
])
def test_bad_bounded_input_one_line_exit_2(tmp_path, capsys, acc_rows, no_sampling, rows_fix, extra, fragment):
    p = _csv(tmp_path, rows_fix(acc_rows))
    rc = main(["fit", str(p), "--x", "x", "--y", "acc", "--law", "sigmoid_floor", *extra])
    err = capsys.readouterr().err.strip()
    lines = [ln for ln in err.splitlines() if not ln.startswith("usage:")]
    assert rc == 2 and len(lines) == 1 and "Traceback" not in err, err
    assert fragment in lines[0], lines[0]


def test_python_bounded_checks_before_work(no_sampling):
    df = bs.simulate(law="sigmoid_floor", likelihood="logitnormal", noise=0.1, seed=2)
    with pytest.raises(FitError, match="floor"):
        bs.fit(df, law="sigmoid_floor", likelihood="logitnormal", floor=1.0)
    with pytest.raises(FitError, match="trials must be a whole number"):
        bs.fit(df, law="sigmoid_floor", likelihood="binomial", trials=0)
    with pytest.raises(DataError, match="needs 0 < y < 1"):
        bs.fit(df.assign(y=df["y"] * 2), law="sigmoid_floor", likelihood="beta")
    with pytest.raises(FitError, match="give the chance level once"):
        bs.fit(df, law="sigmoid_floor", likelihood="beta", floor=0.25, priors={"floor": "0.2"})
