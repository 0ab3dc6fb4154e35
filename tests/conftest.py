"""Shared fixtures.

Fits are expensive (PyTensor compiles each model), so fitted objects are
session-scoped and reused by every test that only reads them.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import bayescale as bs

@pytest.fixture(scope="session", autouse=True)
def isolated_compile_cache(tmp_path_factory):
    """Compiled models go to a folder of this test session, not the user's ~/.cache/bayescale."""
    if "BAYESCALE_CACHE_DIR" not in os.environ:
        os.environ["BAYESCALE_CACHE_DIR"] = str(tmp_path_factory.mktemp("bayescale-cache"))
    yield


#: Tiny sampling settings for tests of the plumbing (not of the posterior).
TINY = dict(draws=60, tune=60, chains=2, cores=1, sampler="pymc", progressbar=False)


def shared_data() -> Path:
    return bs.data_dir()


@pytest.fixture(scope="session")
def data_dir() -> Path:
    d = shared_data()
    if not d.is_dir():
        pytest.skip(f"real data folder {d} not present (set BAYESCALE_DATA)")
    return d


@pytest.fixture(scope="session")
def pl_offset_df():
    return bs.simulate(law="power_law_offset", seed=3, noise=0.02)


@pytest.fixture(scope="session")
def tiny_fit(pl_offset_df):
    """A power_law_offset fit with tiny draws: for the fit/forecast/save/CLI plumbing."""
    return bs.fit(pl_offset_df, law="power_law_offset", x="x", y="y", seed=11, **TINY)


@pytest.fixture(scope="session")
def tiny_fit_path(tiny_fit, tmp_path_factory) -> Path:
    p = tmp_path_factory.mktemp("fits") / "tiny.nc"
    tiny_fit.save(p)
    return p
