"""Layer 3: fit, summary, forecast, save/reload and the CLI, with tiny draws."""

import json

import numpy as np
import pytest

import bayescale as bs
from bayescale.cli import main

from .conftest import TINY


def test_fit_holds_tree_law_data_settings(tiny_fit, pl_offset_df):
    t = tiny_fit.tree
    for g in ("posterior", "sample_stats", "log_likelihood", "observed_data", "constant_data"):
        assert g in t.children, g
    assert t["log_likelihood"]["y"].shape[-1] == len(pl_offset_df)
    assert tiny_fit.law.name == "power_law_offset"
    assert tiny_fit.settings["sampler_ran"] == "pymc"
    assert tiny_fit.settings["likelihood"] == "lognormal"
    np.testing.assert_array_equal(tiny_fit.data.y, pl_offset_df["y"].to_numpy())


def test_log_likelihood_is_on_y_scale(tiny_fit):
    from scipy import stats

    d = tiny_fit.draws()
    x, y = tiny_fit.data.inputs["x"], tiny_fit.data.y
    mu = d["E"][0] + d["A"][0] * x ** (-d["alpha"][0])
    ref = stats.lognorm.logpdf(y, s=d["sigma"][0], scale=mu)
    got = tiny_fit.tree["log_likelihood"]["y"].values.reshape(-1, len(y))[0]
    np.testing.assert_allclose(got, ref, rtol=1e-8)


def test_summary_has_intervals_and_diagnostics(tiny_fit):
    s = tiny_fit.summary(prob=0.9)
    assert list(s.index) == ["E", "alpha", "A", "sigma"]
    for col in ("mean", "sd", "median", "r_hat", "ess_bulk", "ess_tail"):
        assert col in s.columns
    assert any(c.startswith("eti") for c in s.columns)
    diag = s.attrs["diagnostics"]
    # 2 chains x 60 draws cannot reach 100 ESS per chain: the fit must say it is not reliable
    assert diag.ok is False and any("ESS" in p for p in diag.problems)


def test_forecast_contract(tiny_fit):
    fc = tiny_fit.forecast(x=[1e6, 1e8], prob=0.8, seed=1)
    assert fc.expected.shape == fc.observed.shape == (120, 2)
    t = fc.table()
    assert np.all(t["lower"] <= t["median"]) and np.all(t["median"] <= t["upper"])
    # a new observation is more uncertain than the expected value
    assert np.all(t["obs_upper"] - t["obs_lower"] > t["upper"] - t["lower"])
    assert fc.reliable is False and t.attrs["reliable"] is False
    rec = fc.to_records()[0]
    assert set(rec) >= {"x", "median", "lower", "upper", "prob", "observation"}
    # the expected value at x is the law at each draw
    d = tiny_fit.draws()
    np.testing.assert_allclose(fc.expected[:, 0], d["E"] + d["A"] * 1e6 ** (-d["alpha"]))


def test_forecast_is_seeded(tiny_fit):
    a = tiny_fit.forecast(x=[1e7], seed=4).observed
    b = tiny_fit.forecast(x=[1e7], seed=4).observed
    np.testing.assert_array_equal(a, b)


def test_save_and_reload_forecast_identically(tiny_fit, tiny_fit_path):
    again = bs.load(tiny_fit_path)
    assert again.law.to_dict() == tiny_fit.law.to_dict()
    assert again.settings == json.loads(json.dumps(tiny_fit.settings))
    np.testing.assert_array_equal(again.data.inputs["x"], tiny_fit.data.inputs["x"])
    np.testing.assert_array_equal(again.data.y, tiny_fit.data.y)
    for n in tiny_fit.param_names:
        np.testing.assert_array_equal(again.draws()[n], tiny_fit.draws()[n])
    f1 = tiny_fit.forecast(x=[1e5, 1e9], seed=7)
    f2 = again.forecast(x=[1e5, 1e9], seed=7)
    np.testing.assert_array_equal(f1.expected, f2.expected)
    np.testing.assert_array_equal(f1.observed, f2.observed)


def test_same_seed_same_posterior(pl_offset_df, tiny_fit):
    again = bs.fit(pl_offset_df, law="power_law_offset", x="x", y="y", seed=11, **TINY)
    for n in tiny_fit.param_names:
        np.testing.assert_array_equal(again.draws()[n], tiny_fit.draws()[n])


def test_cli_fit_json_and_forecast(tmp_path, capsys, pl_offset_df):
    csv = tmp_path / "d.csv"
    pl_offset_df.to_csv(csv, index=False)
    out = tmp_path / "f.nc"
    rc = main(["fit", str(csv), "--x", "x", "--y", "y", "--law", "power_law_offset", "--target", "1e6", "1e7",
               "--out", str(out), "--json", "--draws", "60", "--tune", "60", "--chains", "2", "--cores", "1",
               "--sampler", "pymc", "--seed", "11"])
    assert rc == 0
    rep = json.loads(capsys.readouterr().out)
    assert set(rep) >= {"law", "parameters", "diagnostics", "forecasts"}
    assert rep["law"] == "power_law_offset" and isinstance(rep["diagnostics"]["ok"], bool)
    assert [f["x"] for f in rep["forecasts"]] == [1e6, 1e7]
    for f in rep["forecasts"]:
        assert set(f) >= {"x", "median", "lower", "upper", "prob"} and f["lower"] <= f["median"] <= f["upper"]
    assert out.is_file()
    rc = main(["forecast", str(out), "--at", "1e6", "1e7", "--json"])
    assert rc == 0
    rep2 = json.loads(capsys.readouterr().out)
    assert rep2["forecasts"] == rep["forecasts"]
    rc = main(["forecast", str(out), "--at", "1e6"])
    text = capsys.readouterr().out
    assert rc == 0 and "NOT OK" in text and "not reliable" in text


def test_cli_laws(capsys):
    assert main(["laws"]) == 0
    out = capsys.readouterr().out
    for name in ("power_law", "power_law_offset", "bnsl1", "bnsl2", "bnsl3", "chinchilla", "kaplan"):
        assert name in out


def test_two_input_forecast_and_cli_targets(tmp_path, capsys):
    df = bs.simulate(law="chinchilla", seed=2, noise=0.01)
    f = bs.fit(df, law="chinchilla", x=["N", "D"], y="y", **TINY)
    fc = f.forecast(x={"N": [1e10, 7e10], "D": [2e11, 1.4e12]})
    assert fc.table().shape[0] == 2
    with pytest.raises(bs.DataError, match="mapping"):
        f.forecast(x=[1e10])
    p = tmp_path / "c.nc"
    f.save(p)
    rc = main(["forecast", str(p), "--at-input", "N=1e10,D=2e11", "--json"])
    assert rc == 0
    rec = json.loads(capsys.readouterr().out)["forecasts"][0]
    assert rec["x"] == {"N": 1e10, "D": 2e11}
    for bad in ("N=-1,D=2e11", "N=abc,D=2e11", "N=1e10"):
        assert main(["forecast", str(p), "--at-input", bad]) == 2
        err = capsys.readouterr().err
        assert err.startswith("error:") and "Traceback" not in err


@pytest.mark.parametrize("likelihood", ["normal", "studentt"])
def test_other_likelihoods_fit_and_forecast(pl_offset_df, likelihood):
    f = bs.fit(pl_offset_df, law="power_law_offset", likelihood=likelihood, **TINY)
    assert "sigma" in f.param_names and (("nu" in f.param_names) == (likelihood == "studentt"))
    assert np.isfinite(f.forecast(x=[1e6]).observed).all()


def test_chain_starts_follow_the_chain_seed_not_the_call_order():
    """nutpie calls initial_point_func from the chains' threads in whatever order they start; the start a
    chain gets must depend on its seed alone, or the same fit seed gives different draws under load."""
    import pymc as pm

    from bayescale.inference.sampling import nutpie_starts as _nutpie_starts

    with pm.Model() as m:
        pm.Normal("a", 0, 1)
        pm.Normal("b", 0, 1, shape=2)
    starts = [{"a": np.array(float(i)), "b": np.array([i, -i], dtype=float)} for i in range(4)]
    seeds = [907, 13, 4410, 52]
    first = None
    for order in ([0, 1, 2, 3], [3, 1, 0, 2], [2, 3, 1, 0]):
        f = _nutpie_starts(m, starts, seeds)
        got = {seeds[k]: f(seeds[k])[0] for k in order}
        first = first or got
        assert got == first
    assert sorted(first.values()) == [0.0, 1.0, 2.0, 3.0]  # every chain its own start
    # without known seeds: call order (the fallback for seed=None)
    f = _nutpie_starts(m, starts)
    assert [f(s)[0] for s in (5, 6, 7, 8, 9)] == [0.0, 1.0, 2.0, 3.0, 0.0]


def test_chain_seeds_are_those_nutpie_hands_its_chains(pl_offset_df):
    import dataclasses
    import threading

    import nutpie

    from bayescale.inference.model import build_model
    from bayescale.inference.sampling import CompileCache
    from bayescale.spec.resolve import resolve_priors
    from bayescale.spec.data import load_data

    law = bs.get_law("power_law_offset")
    ds = load_data(pl_offset_df, x="x", y="y", inputs=law.inputs)
    compiled = nutpie.compile_pymc_model(build_model(law, ds, priors=resolve_priors(law, "lognormal")))
    point = np.full(compiled.n_dim, 0.1)
    cache = CompileCache()
    seeds = cache.chain_seeds(compiled, seed=11, chains=3, point=point)
    assert len(set(seeds)) == 3 and cache.chain_seeds(compiled, seed=None, chains=3, point=point) == ()
    seen, lock = [], threading.Lock()

    def record(s=None):
        with lock:
            seen.append(int(s))
        return point.copy()

    nutpie.sample(dataclasses.replace(compiled, initial_point_func=record), draws=20, tune=20, chains=3, cores=2,
                  seed=11, progress_bar=False)
    assert sorted(seen) == sorted(seeds)


def test_ess_remedy_projects_the_draws_and_only_for_ess_problems():
    from bayescale.inference.fit import ESS_REMEDY_MAX_FACTOR, _more_draws
    from bayescale.inference.results import Diagnostics

    def diag(ess, rhat=1.012, div=0, ok=False, chains=4):
        return Diagnostics(divergences=div, max_rhat=rhat, min_ess_bulk=ess, min_ess_tail=ess + 50, chains=chains,
                           draws=1000, ok=ok, problems=("x",))

    assert _more_draws(diag(250), 1000) == 2400  # 1000 * 1.5 * 400 / 250, to the next hundred
    assert _more_draws(diag(390), 1000) == 2000  # at least twice the draws
    assert _more_draws(diag(20), 1000) == ESS_REMEDY_MAX_FACTOR * 1000  # capped
    assert _more_draws(diag(250, ok=True), 1000) is None
    assert _more_draws(diag(250, div=3), 1000) is None, "divergences are not cured by more draws"
    assert _more_draws(diag(250, rhat=1.2), 1000) is None, "chains that disagree are not cured by more draws"
    assert _more_draws(diag(250), 300) is None, "a quick look (few draws asked for) is left as asked"
    assert _more_draws(diag(float("nan")), 1000) is None


def test_ess_remedy_samples_again_with_more_draws_and_says_so():
    x = np.logspace(7.8, 9.5, 6)
    df = bs.simulate(law="sigmoid_floor", likelihood="logitnormal", x=x, noise=0.05, seed=2,
                     params=dict(floor=0.25, ceiling=0.8, slope=0.7, x50=1e9))
    kw = dict(law="sigmoid_floor", x="x", y="y", likelihood="logitnormal", floor=0.25, draws=500, tune=500, chains=2,
              cores=1, seed=2, progressbar=False)
    f = bs.fit(df, **kw)
    assert "ESS" in f.settings["remedy"] and f.settings["draws"] > 500 and f.config.draws == 500
    assert f.tree["posterior"].sizes["draw"] == f.settings["draws"]
    plain = bs.fit(df, **kw, auto_remedy=False)
    assert plain.settings["remedy"] is None and plain.tree["posterior"].sizes["draw"] == 500
    assert f.diagnostics().min_ess_bulk > plain.diagnostics().min_ess_bulk


def test_ess_rerun_that_meets_divergences_gets_the_divergence_remedy(monkeypatch):
    """The ESS remedy's longer run, if it ends with divergences the first run did not have, is refitted at
    target_accept 0.99 with draw-based adaptation at the same length, and the remedy says so."""
    import bayescale.inference.fit as fitmod

    x = np.logspace(7.8, 9.5, 6)
    df = bs.simulate(law="sigmoid_floor", likelihood="logitnormal", x=x, noise=0.05, seed=2,
                     params=dict(floor=0.25, ceiling=0.8, slope=0.7, x50=1e9))
    calls, real = [], fitmod.sample

    def spy(model, **kw):
        tree = real(model, **kw)
        calls.append((kw["target_accept"], kw.get("adaptation", "diag"), kw["draws"]))
        st = tree["sample_stats"].to_dataset()
        div = np.zeros(st["diverging"].shape, dtype=bool)
        div[0, :2] = len(calls) == 2  # only the ESS remedy's longer run "diverges" (twice)
        tree["sample_stats"] = st.assign(diverging=(st["diverging"].dims, div))
        return tree

    monkeypatch.setattr(fitmod, "sample", spy)
    f = bs.fit(df, law="sigmoid_floor", x="x", y="y", likelihood="logitnormal", floor=0.25, draws=500, tune=500,
               chains=2, cores=1, seed=2, progressbar=False)
    more = calls[1][2]
    assert more > 500 and calls[:3] == [(0.9, "diag", 500), (0.9, "diag", more), (0.99, "draw_diag", more)]
    assert "ESS" in f.settings["remedy"] and "2 divergences there, so refitted with target_accept=0.99" in \
        f.settings["remedy"]
    # here the remedied longer run still falls short of the ESS: the second rung runs at the cap, keeping the
    # remedy's settings (how long the first rung is depends on the first run's ESS, which differs in the last
    # digits between machines: 1400 draws on some, 1100 on others)
    assert calls[3:] == [(0.99, "draw_diag", 2000)] and f"with {more} draws; sampled again with 2000" in \
        f.settings["remedy"]
    assert f.settings["target_accept"] == 0.99 and f.settings["draws"] == calls[-1][2]
    assert f.tree["posterior"].sizes["draw"] == calls[-1][2] and f.diagnostics().divergences == 0


def test_ess_remedy_second_rung_runs_once_at_the_cap_and_only_for_mild_failures():
    from bayescale.inference.fit import ESS_REMEDY_MAX_FACTOR, _at_cap
    from bayescale.inference.results import Diagnostics

    def diag(rhat=1.012, ess=500.0, div=0, ok=False):
        return Diagnostics(divergences=div, max_rhat=rhat, min_ess_bulk=ess, min_ess_tail=ess, chains=4,
                           draws=2000, ok=ok, problems=("x",))

    cap = ESS_REMEDY_MAX_FACTOR * 1000
    assert _at_cap(diag(), 1000, 2000) == cap, "a longer run short of the cap that still fails mildly"
    assert _at_cap(diag(ess=100.0), 1000, 2400) == cap
    assert _at_cap(diag(), 1000, cap) is None, "once at the cap, no more"
    assert _at_cap(diag(ok=True), 1000, 2000) is None
    assert _at_cap(diag(div=1), 1000, 2000) is None
    assert _at_cap(diag(rhat=1.2), 1000, 2000) is None, "chains that disagree are not cured by more draws"


def _diverging(real, calls: list, *, runs: int):
    """A stand-in for ``fit``'s ``sample``: runs it, records (target_accept, adaptation), and marks one
    divergence in each of the first ``runs`` runs."""

    def spy(model, **kw):
        tree = real(model, **kw)
        calls.append((kw["target_accept"], kw.get("adaptation", "diag")))
        if len(calls) <= runs:
            st = tree["sample_stats"].to_dataset()
            div = np.zeros(st["diverging"].shape, dtype=bool)
            div[0, 0] = True
            tree["sample_stats"] = st.assign(diverging=(st["diverging"].dims, div))
        return tree

    return spy


def test_divergence_remedy_refits_at_high_acceptance_with_draw_based_adaptation(monkeypatch, pl_offset_df):
    """A first run that ends with divergences is refitted once at target_accept 0.99 with nutpie's mass
    matrix adapted from the draws' variances (``draw_diag``), and the remedy says so; without divergences
    the first run stands with nutpie's default adaptation."""
    import bayescale.inference.fit as fitmod

    calls, real = [], fitmod.sample
    monkeypatch.setattr(fitmod, "sample", _diverging(real, calls, runs=1))  # the first run "diverged" once
    kw = dict(law="power_law_offset", x="x", y="y", draws=100, tune=100, chains=2, cores=1, seed=3,
              progressbar=False)
    f = bs.fit(pl_offset_df, **kw)
    assert calls == [(0.9, "diag"), (0.99, "draw_diag")]
    assert "target_accept=0.99 and the mass matrix adapted from the draws' variances" in f.settings["remedy"]
    assert f.settings["target_accept"] == 0.99 and f.settings["divergences_first_run"] == 1
    calls.clear()
    monkeypatch.setattr(fitmod, "sample",
                        lambda model, **kw: calls.append(kw.get("adaptation", "diag")) or real(model, **kw))
    g = bs.fit(pl_offset_df, **{**kw, "seed": 4})
    assert calls[0] == "diag", "the first run keeps nutpie's default adaptation"
    assert (g.settings["remedy"] is None) == (calls == ["diag"])


def _tree_with_divergences(n: int):
    import xarray as xr

    div = np.zeros((2, 5), dtype=bool)
    div.flat[:n] = True
    return xr.DataTree.from_dict({"sample_stats": xr.Dataset({"diverging": (("chain", "draw"), div)})})


@pytest.mark.parametrize("start, left, rungs", [(0.9, [0], []), (0.9, [3, 0], [0.99]), (0.9, [3, 2, 0], [0.99, 0.999]),
                                                 (0.9, [3, 2, 1], [0.99, 0.999]), (0.99, [3, 0], [0.999]),
                                                 (0.999, [3], [])])
def test_divergence_remedy_climbs_while_divergences_are_left(start, left, rungs):
    """The remedy's ladder: a refit at 0.99 after divergences, one more at 0.999 only if 0.99 still diverges,
    none beyond and none at or below the run's own target; each refit noted with the divergences that caused it."""
    from bayescale.inference.sampling import divergence_remedy

    trees, asked = iter([_tree_with_divergences(n) for n in left]), []

    def run(ta):
        asked.append(ta)
        return next(trees)

    tree, ta, note = divergence_remedy(run, next(trees), start)
    assert asked == rungs and ta == (rungs[-1] if rungs else start)
    assert int(tree["sample_stats"]["diverging"].values.sum()) == left[len(rungs)]
    if not rungs:
        assert note is None
        return
    assert note.count("refitted with target_accept=") == len(rungs)
    assert note.startswith(f"3 divergences at target_accept={start:g}; refitted with target_accept={rungs[0]:g} ")
    if len(rungs) == 2:
        assert "; 2 divergences at target_accept=0.99; refitted with target_accept=0.999" in note


def test_divergence_remedy_second_rung_in_a_fit(monkeypatch, pl_offset_df):
    """A fit whose refit at 0.99 still diverges is refitted at 0.999 with draw-based adaptation, and says so."""
    import bayescale.inference.fit as fitmod

    calls, real = [], fitmod.sample
    # the first run and the refit at 0.99 "diverge" once each
    monkeypatch.setattr(fitmod, "sample", _diverging(real, calls, runs=2))
    f = bs.fit(pl_offset_df, law="power_law_offset", x="x", y="y", draws=100, tune=100, chains=2, cores=1, seed=3,
               progressbar=False)
    assert calls == [(0.9, "diag"), (0.99, "draw_diag"), (0.999, "draw_diag")]
    assert f.settings["target_accept"] == 0.999 and f.settings["divergences_first_run"] == 1
    assert "1 divergences at target_accept=0.99; refitted with target_accept=0.999" in f.settings["remedy"]


def test_a_fit_whose_chains_cannot_start_says_so_in_one_line(tmp_path, capsys):
    """A prior far from the data (mu = 1e300) leaves no finite starting point: the sampler's failure becomes
    one error line naming the likely cause, with no traceback and no PyTensor overflow warning."""
    import warnings

    df = bs.simulate(law="power_law_offset", x=np.logspace(2, 5, 10), noise=0.02, seed=1)
    path = tmp_path / "d.csv"
    df.to_csv(path, index=False)
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        rc = main(["fit", str(path), "--x", "x", "--y", "y", "--law", "power_law_offset",
                   "--prior", "alpha=Normal(mu=1e300, sigma=1)", "--draws", "5", "--tune", "5"])
    err = capsys.readouterr().err
    assert rc == 2 and "Traceback" not in err
    assert err.strip().startswith("error: the sampler could not start") and "prior" in err
    assert not [w for w in seen if "overflow" in str(w.message)]
    with pytest.raises(bs.FitError, match="could not start"):
        bs.fit(df, law="power_law_offset", x="x", y="y", priors={"alpha": "Normal(mu=1e300, sigma=1)"},
               draws=5, tune=5, chains=2, cores=1, progressbar=False)
    # a scale of 1e-300 overflows in PyTensor's constant folding while compiling: the same one line, no warning
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        rc = main(["fit", str(path), "--x", "x", "--y", "y", "--law", "power_law_offset",
                   "--prior", "sigma=HalfNormal(sigma=1e-300)", "--draws", "5", "--tune", "5"])
    err = capsys.readouterr().err
    assert rc == 2 and err.strip().startswith("error: the sampler could not start") and "Traceback" not in err
    assert not [w for w in seen if "overflow" in str(w.message)]
