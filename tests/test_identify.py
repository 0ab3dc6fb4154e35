"""The 'break not identified' message, on made-up posteriors: a posterior that is the prior is
flagged; one concentrated on a break is not; laws without breaks are never flagged."""

from __future__ import annotations

import io
from contextlib import redirect_stdout
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
import xarray as xr

import bayescale as bs
from bayescale.present.text import print_breaks_not_identified
from tests.test_report import fake_fit


def _df():
    x = np.logspace(2, 5, 16)
    return pd.DataFrame({"x": x, "y": 2 + 30 * x ** -0.3})


def _with_posterior(fit, **draws):
    post = fit.tree["posterior"].to_dataset().copy()
    for k, v in draws.items():
        post[k] = (("chain", "draw"), np.asarray(v, float).reshape(post.sizes["chain"], post.sizes["draw"]))
    tree = fit.tree.copy()
    tree["posterior"] = xr.DataTree(post)
    return bs.Fit(tree=tree, law=fit.law, data=fit.data, settings=fit.settings)


def test_prior_like_break_is_flagged_and_named():
    fit = fake_fit("bnsl1", _df(), draws=400)  # its 'posterior' is the prior
    got = fit.unidentified_breaks
    assert [b["position"] for b in got] == ["d1"] and got[0]["sharpness"] == "f1"
    assert got[0]["position_sd_ratio"] > 0.5 and got[0]["sharpness_sd_ratio"] > 0.7
    out = io.StringIO()
    with redirect_stdout(out):
        print_breaks_not_identified(fit)
    assert "break 1 is not identified" in out.getvalue() and "reduces to the unbroken law" in out.getvalue()
    assert fit.to_dict()["breaks_not_identified"] == got


def test_concentrated_break_is_not_flagged():
    fit = fake_fit("bnsl1", _df(), draws=400)
    rng = np.random.default_rng(1)
    n = 2 * 400
    sharp = _with_posterior(fit, d1=np.exp(rng.normal(np.log(3e3), 0.05, n)), f1=np.exp(rng.normal(np.log(0.2), 0.1, n)))
    assert sharp.unidentified_breaks == []
    # a known position but an unknown sharpness is still a break the data locate: not flagged
    half = _with_posterior(fit, d1=np.exp(rng.normal(np.log(3e3), 0.05, n)))
    assert half.unidentified_breaks == []


def test_laws_without_breaks_are_never_flagged(tiny_fit):
    assert tiny_fit.unidentified_breaks == []
    assert bs.get_law("bnsl2").break_sharpness == ("f1", "f2")


def _chains_apart(n_chains: int, draws: int, rng, loc: float, scale: float, shift: float) -> np.ndarray:
    """Draws whose chains sit ``shift`` apart: R-hat far above 1.01."""
    return (rng.normal(loc, scale, (n_chains, draws)) + shift * np.arange(n_chains)[:, None]).ravel()


def test_unidentified_break_is_judged_by_its_pointwise_log_likelihood():
    fit = fake_fit("bnsl1", _df(), chains=4, draws=1000)
    rng = np.random.default_rng(2)
    # the slope change's chains disagree; the log-likelihood (computed from the prior draws) mixes well
    drift = _with_posterior(fit, e1=_chains_apart(4, 1000, rng, 0.0, 0.05, 0.5))
    assert drift.unidentified_breaks and not drift.diagnostics().ok
    assert any("(e1)" in p for p in drift.diagnostics().problems)
    got = drift.comparison_diagnostics()
    assert got.ok and got.problems == () and got.max_rhat < 1.01

    # an identified break keeps its parameters' diagnostics
    sharp = _with_posterior(fit, e1=_chains_apart(4, 1000, rng, 0.0, 0.05, 0.5),
                            d1=np.exp(rng.normal(np.log(3e3), 0.05, 4000)), f1=np.exp(rng.normal(np.log(0.2), 0.1, 4000)))
    assert not sharp.unidentified_breaks
    assert sharp.comparison_diagnostics() == sharp.diagnostics() and not sharp.comparison_diagnostics().ok

    # when the log-likelihood itself disagrees between chains, that fails, and is named
    ll = drift.tree["log_likelihood"].to_dataset().copy()
    n_obs = ll.sizes["obs"]
    apart = (np.random.default_rng(4).normal(-2.0, 0.1, (4, 1000, n_obs))
             + np.array([0.0, 0.5, 0.0, 0.5])[:, None, None])
    ll["y"] = (("chain", "draw", "obs"), apart)
    tree = drift.tree.copy()
    tree["log_likelihood"] = xr.DataTree(ll)
    bad = bs.Fit(tree=tree, law=drift.law, data=drift.data, settings=drift.settings)
    d = bad.comparison_diagnostics()
    assert not d.ok and any("R-hat" in p and "(log-likelihood of each point scored)" in p for p in d.problems)

    # a refit is judged by the draws of the points it scores (a left-out or future point), when given
    assert not drift.comparison_diagnostics(apart[..., :2].reshape(4000, 2)).ok
    assert drift.comparison_diagnostics(np.random.default_rng(5).normal(-2.0, 0.1, (4000, 2))).ok
    assert not sharp.comparison_diagnostics(np.random.default_rng(5).normal(-2.0, 0.1, (4000, 2))).ok


def test_laws_without_breaks_keep_their_diagnostics_for_comparisons(tiny_fit):
    assert tiny_fit.comparison_diagnostics() == tiny_fit.diagnostics()


def _pl_fit():
    return fake_fit("power_law_offset", _df(), chains=4, draws=1000)


# stacking weights of made-up (prior-draw) posteriors overflow inside az.compare; the verdict does not use them
@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_verdict_of_an_unidentified_break_says_how_it_was_judged(monkeypatch):
    from bayescale.evaluate import compare as cmp
    from bayescale.evaluate.loo import loo_with_refits

    fit = fake_fit("bnsl1", _df(), chains=4, draws=1000)
    drift = _with_posterior(fit, e1=_chains_apart(4, 1000, np.random.default_rng(3), 0.0, 0.05, 0.5))
    fits = {"bnsl1": drift, "power_law_offset": _pl_fit()}
    loos = {k: loo_with_refits(f, max_refits=0) for k, f in fits.items()}
    v = cmp.verdict_from(fits, loos)
    assert not any("(e1)" in w for w in v.warnings)  # the drifting break effect is not held against it
    assert any("no break is identified" in r and "log-likelihood" in r for r in v.reasons)

    # a "break supported" rests on the break parameters' intervals: their own failures count again
    real = cmp.break_verdict

    def supported(**kw):
        return replace(real(**kw), verdict="break supported")

    monkeypatch.setattr(cmp, "break_verdict", supported)
    v2 = cmp.verdict_from(fits, loos)
    assert v2.verdict == "break supported" and not v2.reliable
    assert any(w.startswith("bnsl1: R-hat") and "(e1)" in w for w in v2.warnings)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_verdict_names_the_failed_refit_and_its_problems():
    from bayescale.evaluate import compare as cmp
    from bayescale.evaluate.loo import loo_with_refits
    from bayescale.inference.results import Diagnostics

    fits = {"bnsl1": fake_fit("bnsl1", _df(), chains=4, draws=1000), "power_law_offset": _pl_fit()}
    loos = {k: loo_with_refits(f, max_refits=0) for k, f in fits.items()}
    ok = cmp.verdict_from(fits, loos)
    bad = Diagnostics(divergences=0, max_rhat=1.03, min_ess_bulk=900.0, min_ess_tail=900.0, chains=4, draws=1000,
                      ok=False, problems=("R-hat up to 1.030 (log-likelihood of each point scored) > 1.01",))
    loos["bnsl1"] = replace(loos["bnsl1"], refits=(7,), refit_ok=False, refit_diagnostics={7: bad})
    v = cmp.verdict_from(fits, loos)
    new = [w for w in v.warnings if w not in ok.warnings]
    assert new == ["bnsl1: the exact LOO refit without point 7 failed its diagnostics "
                   "(R-hat up to 1.030 (log-likelihood of each point scored) > 1.01)"]
    loos["bnsl1"] = replace(loos["bnsl1"], refit_diagnostics={})  # no record of which: still said
    assert "bnsl1: an exact LOO refit failed its diagnostics" in cmp.verdict_from(fits, loos).warnings


def test_a_multi_break_law_reduces_to_fewer_breaks_not_to_the_unbroken_law():
    """bnsl3 with one break at its prior and two located is a 2-break law: the message says so and names bnsl2."""
    fit = fake_fit("bnsl3", _df(), draws=400)
    rng = np.random.default_rng(2)
    n = 2 * 400
    located = _with_posterior(fit, d2=np.exp(rng.normal(np.log(3e4), 0.05, n)), f2=np.exp(rng.normal(np.log(0.2), 0.1, n)),
                              d3=np.exp(rng.normal(np.log(8e4), 0.05, n)), f3=np.exp(rng.normal(np.log(0.2), 0.1, n)),
                              d1=np.exp(rng.uniform(np.log(100), np.log(3e4), n)))
    assert [b["break"] for b in located.unidentified_breaks] == [1]
    out = io.StringIO()
    with redirect_stdout(out):
        print_breaks_not_identified(located)
    text = out.getvalue()
    assert "reduces to a law with 2 breaks" in text and "--laws bnsl2,bnsl3" in text and "unbroken" not in text
