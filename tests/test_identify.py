"""The 'break not identified' message, on made-up posteriors: a posterior that is the prior is
flagged; one concentrated on a break is not; laws without breaks are never flagged."""

from __future__ import annotations

import io
from contextlib import redirect_stdout

import numpy as np
import pandas as pd
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
