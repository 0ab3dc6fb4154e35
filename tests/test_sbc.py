"""Simulation-based calibration benchmark: rank/uniformity functions and a smoke run of ``--quick``."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import bayescale as bs

SCRIPT = Path(__file__).resolve().parent.parent / "benchmarks" / "sbc.py"


def _sbc():
    spec = importlib.util.spec_from_file_location("sbc_bench", SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_rank_and_thinning():
    sbc = _sbc()
    d = np.arange(1000.0)
    t = sbc.thin_draws(d, 99)
    assert t.size == 99 and t[0] == 0 and t[-1] == 999
    assert sbc.sbc_rank(t, -1.0) == 0
    assert sbc.sbc_rank(t, 1e9) == 99
    assert sbc.sbc_rank(np.array([1.0, 2.0, 3.0]), 2.5) == 2
    with pytest.raises(ValueError):
        sbc.thin_draws(d[:10], 99)


def test_uniformity_separates_uniform_from_skewed_ranks():
    sbc = _sbc()
    rng = np.random.default_rng(0)
    uniform = rng.integers(0, 100, size=2000)
    # ranks from a posterior that is too narrow and biased: the truth usually sits at the edges
    skewed = np.clip((rng.beta(0.5, 2.0, size=2000) * 100).astype(int), 0, 99)
    u = sbc.rank_uniformity(uniform, n_ranks=100, bins=10)
    s = sbc.rank_uniformity(skewed, n_ranks=100, bins=10)
    assert u["p"] > 0.01
    assert s["p"] < 1e-6
    assert abs(u["mean"] - 0.5) < 0.03 and abs(u["sd"] - np.sqrt(1 / 12)) < 0.02
    assert s["mean"] < 0.35
    # exactly flat counts: chi-square 0, p 1
    flat = np.repeat(np.arange(100), 3)
    assert sbc.rank_uniformity(flat, n_ranks=100, bins=10)["p"] == pytest.approx(1.0)
    with pytest.raises(ValueError):
        sbc.rank_uniformity(np.array([100]), n_ranks=100, bins=10)
    with pytest.raises(ValueError):
        sbc.rank_uniformity(uniform, n_ranks=101, bins=10)


@pytest.mark.parametrize("law", [law.name for law in bs.list_laws()])
def test_fixed_priors_match_default_priors(law):
    """Substituting the reference statistics leaves every prior's density unchanged, and draws are valid."""
    from bayescale.spec.priors import parse_prior

    sbc = _sbc()
    lw = bs.get_law(law)
    x = sbc.design(lw)
    stats = sbc.reference_stats(lw, x)
    fixed = sbc.fixed_priors(lw, stats)
    rng = np.random.default_rng(1)
    theta, y, _ = sbc.simulate_one(lw, x, fixed, rng)
    assert set(theta) == set(lw.param_names) | {"sigma"}
    assert np.all(np.isfinite(y)) and np.all(y > 0)
    if lw.ordered:
        vals = [theta[n] for n in lw.ordered]
        assert vals == sorted(vals)
    for p in lw.parameters:
        fp = parse_prior(fixed[p.name], param=p.name)
        assert not (fp.names & set(stats)), fp.text
        env = {**stats, **theta}
        assert fp.logpdf(theta[p.name], theta) == pytest.approx(p.prior.logpdf(theta[p.name], env), rel=1e-9)


@pytest.mark.slow
def test_quick_run_writes_table_and_figures(tmp_path):
    out = tmp_path / "sbc"
    proc = subprocess.run([sys.executable, str(SCRIPT), "--quick", "--out", str(out)],
                          capture_output=True, text=True, timeout=400)
    assert proc.returncode == 0, proc.stderr[-2000:]
    table = (out / "sbc.md").read_text()
    assert "| power_law | alpha |" in table and "| power_law_offset | E |" in table
    res = json.loads((out / "sbc.json").read_text())
    for law in ("power_law", "power_law_offset"):
        assert (out / f"sbc_{law}.png").stat().st_size > 1000
        ranks = pd.read_csv(out / f"ranks_{law}.csv")
        assert len(ranks) == 8
        n_keep = res[law]["settings"]["n_rank_draws"]
        rank_cols = [c for c in ranks.columns if c.startswith("rank_")]
        assert {f"rank_{n}" for n in bs.get_law(law).param_names} | {"rank_sigma"} == set(rank_cols)
        fitted = ranks.dropna(subset=rank_cols)
        assert len(fitted) >= 6  # at most two failed fits tolerated in the smoke run
        vals = fitted[rank_cols].to_numpy()
        assert vals.min() >= 0 and vals.max() <= n_keep
        assert 0 <= res[law]["frac_divergent"] <= 1
        for v in res[law]["params"].values():
            assert 0 <= v["p"] <= 1


def test_resume_skips_the_simulations_already_saved_and_refuses_another_design(tmp_path):
    """``--resume`` continues a ranks file with the same seeds: a run of 2 then a resumed run of 3 holds
    simulations 0, 1, 2 once each, the first two as written the first time; other settings stop it."""
    sbc = _sbc()
    settings = {**sbc.QUICK, "resume": True}
    sbc.run_law(("power_law", 2, settings, str(tmp_path)))
    first = pd.read_csv(tmp_path / "ranks_power_law.csv")
    sbc.run_law(("power_law", 3, settings, str(tmp_path)))
    both = pd.read_csv(tmp_path / "ranks_power_law.csv")
    assert list(both["sim"]) == [0, 1, 2]
    cols = [c for c in first.columns if c.startswith(("rank_", "true_"))]
    pd.testing.assert_frame_equal(both.loc[:1, cols], first[cols])
    with pytest.raises(SystemExit, match="other settings"):
        sbc.run_law(("power_law", 4, {**settings, "draws": 61}, str(tmp_path)))


def test_a_second_process_takes_later_simulations_and_joins_them(tmp_path):
    """``--first 2`` in another --out runs simulation 2 with its own seed, and ``--join`` appends it: the joined
    file holds 0, 1, 2 once each, with the truths a single run draws."""
    sbc = _sbc()
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir(), b.mkdir()
    sbc.run_law(("power_law", 2, sbc.QUICK, str(a)))
    sbc.run_law(("power_law", 3, {**sbc.QUICK, "first": 2}, str(b)))
    assert list(pd.read_csv(b / "ranks_power_law.csv")["sim"]) == [2]
    assert sbc.join_ranks(a, b, "power_law") == 1 and sbc.join_ranks(a, b, "power_law") == 0
    joined = pd.read_csv(a / "ranks_power_law.csv")
    assert list(joined["sim"]) == [0, 1, 2]
    single = tmp_path / "single"
    single.mkdir()
    rng = np.random.default_rng([sbc.zlib.crc32(b"power_law"), 2])  # the seed of simulation 2 in any run
    law = bs.get_law("power_law")
    theta, _, _ = sbc.simulate_one(law, sbc.design(law), sbc.fixed_priors(law, sbc.reference_stats(law, sbc.design(law))), rng)
    assert joined.loc[2, "true_alpha"] == pytest.approx(theta["alpha"])
    empty = tmp_path / "empty"
    empty.mkdir()
    assert sbc.join_ranks(empty, b, "power_law") == 1  # into an empty folder: ranks and their design
    assert json.loads((empty / "meta_power_law.json").read_text())["design"] == \
        json.loads((b / "meta_power_law.json").read_text())["design"]
    with pytest.raises(SystemExit, match="other settings"):  # another experiment is not joined
        c = tmp_path / "c"
        c.mkdir()
        sbc.run_law(("power_law", 3, {**sbc.QUICK, "first": 2, "draws": 61}, str(c)))
        sbc.join_ranks(a, c, "power_law")


def test_redo_fits_the_named_simulations_again_in_place(tmp_path):
    """``--redo 1`` (with ``--resume``) replaces simulation 1's row by a new fit with the same seed and keeps
    the others: the file holds 0, 1, 2 once each, in order, and the refit reproduces the row (same code)."""
    sbc = _sbc()
    settings = {**sbc.QUICK, "resume": True}
    sbc.run_law(("power_law", 3, settings, str(tmp_path)))
    path = tmp_path / "ranks_power_law.csv"
    before = pd.read_csv(path)
    marked = before.copy()
    marked.loc[1, "rank_alpha"] = -1  # stands for a row an older fitting code wrote
    marked.to_csv(path, index=False)
    sbc.run_law(("power_law", 3, {**settings, "redo": [1]}, str(tmp_path)))
    after = pd.read_csv(path)
    assert list(after["sim"]) == [0, 1, 2]
    cols = [c for c in before.columns if c.startswith(("rank_", "true_"))]
    pd.testing.assert_frame_equal(after[cols], before[cols])
