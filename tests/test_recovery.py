"""Layer 4: real NUTS parameter recovery for every law family on simulated data.

Each test simulates from known parameters (``bayescale.simulate.TRUE_PARAMS``)
with a fixed seed, fits with default priors, and checks that every true value
lies inside its 94% equal-tailed posterior interval and that the fit has no
divergences left.

With k parameters, "all inside 94%" fails by chance with probability about
1 - 0.94^k even for a perfectly calibrated model (SBC in ``benchmarks/sbc.py``
is the calibration test).  The seed is fixed at 0; an earlier seed (42) missed
kaplan's alpha_N by 0.0001, and seeds 0-5 all recovered kaplan, so that miss
was chance.  bnsl3 failed at every seed (R-hat up to 2.9) until chains were
started at multi-start least-squares optima (``bayescale.init``).
"""

import numpy as np
import pytest

import bayescale as bs
from bayescale.simulate import TRUE_PARAMS

CASES = {
    # law: (design, noise)
    "power_law": (np.logspace(2, 6, 15), 0.02),
    "power_law_offset": (np.logspace(2, 6, 15), 0.02),
    "bnsl1": (np.logspace(2, 6, 24), 0.02),
    "bnsl2": (np.logspace(2, 6, 36), 0.01),
    "bnsl3": (np.logspace(2, 7, 48), 0.01),
    "chinchilla": (None, 0.01),
    "kaplan": (None, 0.01),
}


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(CASES))
def test_parameter_recovery(name):
    design, noise = CASES[name]
    df = bs.simulate(law=name, x=design, noise=noise, seed=0)
    law = bs.get_law(name)
    f = bs.fit(df, law=name, x=list(law.inputs), y="y", draws=500, tune=700, chains=4, seed=1,
               progressbar=False)
    s = f.summary(prob=0.94)
    lo, hi = [c for c in s.columns if c.startswith("eti")][:2]
    truth = {**TRUE_PARAMS[name], "sigma": noise}
    outside = {k: (v, s.loc[k, lo], s.loc[k, hi]) for k, v in truth.items()
               if not s.loc[k, lo] <= v <= s.loc[k, hi]}
    assert not outside, f"true values outside the 94% interval: {outside}"
    assert f.diagnostics().divergences == 0, f.diagnostics()
