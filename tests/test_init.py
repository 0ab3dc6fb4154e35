"""Starting points from multi-start least squares (no sampling)."""

import numpy as np
import pytest

import bayescale as bs
from bayescale.spec.data import load_data
from bayescale.inference.starts import constrained, start_points
from bayescale.inference.model import build_model
from bayescale.spec.resolve import resolve_priors


@pytest.mark.parametrize("name, x", [("bnsl2", np.logspace(2, 6, 36)), ("chinchilla", None)])
def test_starts_are_value_points_far_better_than_the_default(name, x):
    law = bs.get_law(name)
    df = bs.simulate(law=name, x=x, noise=0.01, seed=3)
    ds = load_data(df, x=list(law.inputs), y="y", inputs=law.inputs)
    m = build_model(law, ds)
    starts = start_points(law, ds, likelihood="lognormal", priors=resolve_priors(law, "lognormal"), chains=3, seed=1)
    assert len(starts) == 3
    assert set(starts[0]) == {m.rvs_to_values[v].name for v in m.free_RVs}
    logp = m.compile_logp()
    assert min(logp(s) for s in starts) > logp(m.initial_point()) + 50


def test_constrained_inverts_pymc_transforms():
    import pymc as pm

    with pm.Model() as m:
        pm.HalfNormal("h", 1.0)
        pm.Uniform("u", 0.0, 1.0)
        pm.Dirichlet("w", a=np.ones(3))
        pm.Normal("z", 0.0, 1.0)
    pt = {k: np.asarray(v) + 0.3 for k, v in m.initial_point().items()}
    got = constrained(pt)
    for rv in m.free_RVs:
        tr = m.rvs_to_transforms.get(rv)
        u = pt[m.rvs_to_values[rv].name]
        ref = tr.backward(u, *rv.owner.inputs).eval() if tr is not None else u
        np.testing.assert_allclose(got[rv.name], ref, rtol=1e-12)


def test_fit_records_init(tiny_fit):
    assert tiny_fit.settings["init"] == "optimize"
