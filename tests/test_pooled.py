"""Partial pooling: checks before any work, and one real pooled NUTS fit of simulated curves that
share their exponent (the population exponent covers the truth; per-group and new-group forecasts)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import bayescale as bs


def _curves(n_groups: int = 4, alpha: float = 0.35) -> pd.DataFrame:
    frames = []
    for g in range(n_groups):
        df = bs.simulate(law="power_law", x=np.logspace(2, 4, 5), params={"A": 5.0 + g, "alpha": alpha}, seed=g,
                         noise=0.02)
        df["curve"] = f"c{g}"
        frames.append(df)
    return pd.concat(frames, ignore_index=True)


def test_pooling_is_checked_before_any_work():
    df = _curves()
    with pytest.raises(bs.FitError, match="jointly"):
        bs.fit(df, law="bnsl2", group="curve", pool=["c0"])
    with pytest.raises(bs.FitError, match="not parameters of 'power_law'"):
        bs.fit(df, law="power_law", group="curve", pool=["beta"])
    with pytest.raises(bs.FitError, match="cannot pool 'A'"):
        bs.fit(df, law="power_law", group="curve", pool=["A"])
    with pytest.raises(bs.FitError, match="cannot pool 'c1': it is computed .* pool one of d1, f1, e1"):
        bs.fit(df, law="bnsl1", group="curve", pool=["c1"])
    with pytest.raises(bs.FitError, match="both group="):
        bs.fit(df, law="power_law", group="curve", pool=[])
    with pytest.raises(bs.DataError, match="no group column 'nope'"):
        bs.fit(df, law="power_law", group="nope", pool=["alpha"])


@pytest.mark.slow
def test_pooled_fit_recovers_the_shared_exponent_and_forecasts():
    df = _curves()
    f = bs.fit(df, law="power_law", x="x", y="y", group="curve", pool=["alpha"], draws=500, tune=500, seed=1,
               progressbar=False)
    assert isinstance(f, bs.PooledFit) and f.groups == ("c0", "c1", "c2", "c3")
    s = f.summary(prob=0.94).set_index(["group", "parameter"])
    lo, hi = s.loc[("(population)", "alpha_pop"), ["lower", "upper"]]
    assert lo < 0.35 < hi
    # each 5-point curve pins its own exponent well, where the non-centred form can leave a few
    # divergences; they must be reported, and the chains must still agree roughly
    d = f.diagnostics()
    assert d.max_rhat < 1.1 and (d.ok or d.problems)
    t = f.forecast(x=[1e5], group="c2", prob=0.9).table()
    truth = (5.0 + 2) * 1e5 ** -0.35
    assert t["obs_lower"].iloc[0] < truth < t["obs_upper"].iloc[0]
    with pytest.raises(bs.FitError, match="every parameter pooled"):
        f.forecast(x=[1e5])  # A is per group: a new group's A is unknown
    with pytest.raises(bs.DataError, match="no group 'c9'"):
        f.forecast(x=[1e5], group="c9")
