"""Compute-optimal allocation: closed form vs numeric optimum, bad input, the CLI."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

import bayescale as bs
from bayescale.cli import main
from bayescale.inference.allocation import Allocation, allocate_draws, chinchilla_closed_form, isoflop_data
from bayescale.errors import DataError, FitError

#: Tiny sampling settings: these tests check plumbing, not the posterior.
TINY = dict(draws=60, tune=60, chains=2, cores=1, sampler="pymc", progressbar=False)

BUDGETS = np.array([1e18, 5.76e23, 1e25])


def _chin_draws(seed=0, S=500):
    rng = np.random.default_rng(seed)
    return dict(E=rng.uniform(1.5, 2.0, S), A=np.exp(rng.normal(6.0, 0.5, S)),
                B=np.exp(rng.normal(7.5, 1.0, S)), alpha=rng.uniform(0.2, 0.5, S),
                beta=rng.uniform(0.2, 0.5, S))


def test_closed_form_matches_hoffmann_numbers():
    # Hoffmann et al.'s published fit at the Chinchilla budget, against a brute-force grid over N.
    p = {k: np.array([v]) for k, v in dict(E=1.69, A=406.4, B=410.7, alpha=0.34, beta=0.28).items()}
    n, d, loss = chinchilla_closed_form(p, np.array([5.76e23]))
    grid = np.geomspace(1e9, 1e12, 200001)
    lg = 1.69 + 406.4 * grid ** -0.34 + 410.7 * (5.76e23 / (6 * grid)) ** -0.28
    n_grid = grid[np.argmin(lg)]
    assert n[0, 0] == pytest.approx(n_grid, rel=1e-3)
    assert d[0, 0] / n[0, 0] == pytest.approx(5.76e23 / (6 * n_grid ** 2), rel=3e-3)
    assert loss[0, 0] == pytest.approx(lg.min(), rel=1e-9)


def test_numeric_matches_closed_form_per_draw():
    law = bs.get_law("chinchilla")
    p = _chin_draws()
    a = allocate_draws(law, p, BUDGETS, method="closed_form")
    b = allocate_draws(law, p, BUDGETS, method="numeric")
    assert a["method"] == "closed_form" and b["method"] == "numeric"
    assert not b["at_edge"].any()
    np.testing.assert_allclose(b["N_opt"], a["N_opt"], rtol=1e-5)
    np.testing.assert_allclose(b["D_opt"], a["D_opt"], rtol=1e-5)
    np.testing.assert_allclose(b["loss_opt"], a["loss_opt"], rtol=1e-10)
    # C = 6 N D holds exactly for both
    np.testing.assert_allclose(6 * a["N_opt"] * a["D_opt"], np.broadcast_to(BUDGETS, a["N_opt"].shape), rtol=1e-10)


def test_numeric_kaplan_matches_its_stationary_point():
    # Kaplan eq. 1.5 at D = C/(6N): (N_c/N)^k + 6 D_c N / C with k = alpha_N/alpha_D is minimised at
    # N^(k+1) = k N_c^k C / (6 D_c): an interior optimum the numeric path must find.
    law = bs.get_law("kaplan")
    rng = np.random.default_rng(1)
    S = 300
    p = dict(alpha_N=rng.uniform(0.05, 0.1, S), alpha_D=rng.uniform(0.08, 0.11, S),
             N_c=np.exp(rng.normal(np.log(8.8e13), 1, S)), D_c=np.exp(rng.normal(np.log(5.4e13), 1, S)))
    r = allocate_draws(law, p, BUDGETS)
    k = p["alpha_N"] / p["alpha_D"]
    logn = (np.log(k)[:, None] + (k * np.log(p["N_c"]))[:, None] + np.log(BUDGETS)[None, :]
            - np.log(6) - np.log(p["D_c"])[:, None]) / (k + 1)[:, None]
    assert r["method"] == "numeric" and not r["at_edge"].any()
    np.testing.assert_allclose(np.log(r["N_opt"]), logn, atol=1e-5)


def test_edge_optimum_is_flagged_not_reported():
    # L = A N^-alpha + B (decreasing in N, no D dependence): the optimum runs to the largest N.
    law = bs.make_law(name="n_only", formula="E + A * N^(-alpha) + 0 * D", inputs=["N", "D"],
                      parameters=[{"name": n, "prior": "HalfNormal(sigma=1)"} for n in ("E", "A", "alpha")])
    p = dict(E=np.array([1.0, 1.0]), A=np.array([1.0, 2.0]), alpha=np.array([0.3, 0.4]))
    r = allocate_draws(law, p, [1e20])
    assert (r["at_edge"] == 1).all()
    assert np.isnan(r["N_opt"]).all()
    alloc = Allocation(compute=r["compute"], N_opt=r["N_opt"], D_opt=r["D_opt"], loss_opt=r["loss_opt"],
                       at_edge=r["at_edge"], method="numeric", law="n_only")
    t = alloc.table()
    assert t["edge_fraction"].iloc[0] == 1.0
    assert np.isinf(t["N_opt_median"].iloc[0]) and t["D_opt_median"].iloc[0] == 0.0
    assert np.isnan(t["loss_opt_median"].iloc[0])
    rec = alloc.to_records()[0]
    assert rec["N_opt"]["median"] is None and rec["loss_opt"]["median"] is None
    json.dumps(rec)


def test_table_intervals_order_and_columns():
    law = bs.get_law("chinchilla")
    r = allocate_draws(law, _chin_draws(), BUDGETS)
    alloc = Allocation(compute=r["compute"], N_opt=r["N_opt"], D_opt=r["D_opt"], loss_opt=r["loss_opt"],
                       at_edge=r["at_edge"], prob=0.8)
    t = alloc.table()
    for q in ("N_opt", "D_opt", "tokens_per_param", "loss_opt"):
        assert (t[f"{q}_lower"] <= t[f"{q}_median"]).all() and (t[f"{q}_median"] <= t[f"{q}_upper"]).all()
    # the interval holds about prob of the draws
    inside = np.mean((r["N_opt"] >= t["N_opt_lower"].to_numpy()) & (r["N_opt"] <= t["N_opt_upper"].to_numpy()), axis=0)
    np.testing.assert_allclose(inside, 0.8, atol=0.01)
    assert list(t["compute"]) == list(BUDGETS)


def test_bad_input():
    law = bs.get_law("chinchilla")
    p = _chin_draws(S=5)
    for bad in (0, -1e20, np.nan, np.inf, [1e20, 0], "lots", []):
        with pytest.raises(DataError):
            allocate_draws(law, p, bad)
    with pytest.raises(FitError, match="two inputs"):
        allocate_draws(bs.get_law("power_law"), {"A": np.ones(3), "alpha": np.ones(3)}, 1e20)
    with pytest.raises(FitError, match="inputs="):
        allocate_draws(law, p, 1e20, inputs=("N", "T"))
    with pytest.raises(FitError):
        allocate_draws(bs.get_law("kaplan"), {"alpha_N": np.ones(2), "alpha_D": np.ones(2),
                                              "N_c": np.ones(2), "D_c": np.ones(2)}, 1e20, method="closed_form")


def test_swapped_inputs_use_numeric_path():
    law = bs.get_law("chinchilla")
    p = _chin_draws(S=50)
    a = allocate_draws(law, p, BUDGETS)
    # saying (D, N) makes the law's D the model size: the optimum is the mirror image
    b = allocate_draws(law, p, BUDGETS, inputs=("D", "N"))
    assert b["method"] == "numeric"
    np.testing.assert_allclose(b["N_opt"], a["D_opt"], rtol=1e-5)


def test_isoflop_data():
    df = pd.DataFrame({"flops": [6e18, 6e20], "params": [1e8, 1e9]})
    with pytest.warns(UserWarning, match="tokens_derived"):
        out = isoflop_data(df, compute="flops", params="params")
    np.testing.assert_allclose(out["tokens_derived"], [1e10, 1e11])
    assert out.attrs["derived"]["column"] == "tokens_derived"
    assert "tokens_derived" not in df.columns
    back = isoflop_data(out.drop(columns="params"), compute="flops", tokens="tokens_derived", warn=False)
    np.testing.assert_allclose(back["params_derived"], df["params"])
    with pytest.raises(DataError, match="'N'"):
        isoflop_data(df, compute="flops", params="N", warn=False)
    with pytest.raises(DataError, match="exactly one"):
        isoflop_data(df, compute="flops", warn=False)
    with pytest.raises(DataError, match="positive"):
        isoflop_data(pd.DataFrame({"flops": [1e18, -1.0], "params": [1, 2]}), compute="flops",
                     params="params", warn=False)


# -- with a real (tiny) chinchilla fit ----------------------------------------------------
@pytest.fixture(scope="module")
def chin_fit_path(tmp_path_factory):
    df = bs.simulate(law="chinchilla", seed=2, noise=0.02)
    f = bs.fit(df, law="chinchilla", x=["N", "D"], y="y", seed=5, **TINY)
    p = tmp_path_factory.mktemp("alloc") / "chin.nc"
    f.save(p)
    return f, p


@pytest.mark.slow
def test_fit_method_and_reliable_flag(chin_fit_path):
    f, _ = chin_fit_path
    a = f.optimal_allocation(compute=[1e21, 1e23], prob=0.9)
    assert isinstance(a, Allocation) and a.method == "closed_form"
    assert a.N_opt.shape == (f.diagnostics().chains * f.diagnostics().draws, 2)
    assert a.reliable == f.diagnostics().ok
    assert a.table().attrs["reliable"] == a.reliable
    assert bs.optimal_allocation(f, compute=1e21).N_opt.shape[1] == 1
    with pytest.raises(FitError):
        f.optimal_allocation(compute=1e21, prob=1.5)


@pytest.mark.slow
def test_one_input_fit_raises(tiny_fit):
    with pytest.raises(FitError, match="two inputs"):
        tiny_fit.optimal_allocation(compute=1e21)


@pytest.mark.slow
def test_cli_allocate_json(chin_fit_path, capsys):
    _, path = chin_fit_path
    assert main(["allocate", str(path), "--compute", "1e21", "1e23", "--prob", "0.8", "--json"]) == 0
    rep = json.loads(capsys.readouterr().out)
    assert rep["law"] == "chinchilla" and isinstance(rep["diagnostics"]["ok"], bool)
    assert [r["compute"] for r in rep["allocations"]] == [1e21, 1e23]
    r = rep["allocations"][1]
    assert r["prob"] == 0.8
    for q in ("N_opt", "D_opt", "tokens_per_param", "loss_opt"):
        assert r[q]["lower"] <= r[q]["median"] <= r[q]["upper"]
    assert r["N_opt"]["median"] > rep["allocations"][0]["N_opt"]["median"]
    assert main(["allocate", str(path), "--compute", "1e21"]) == 0
    text = capsys.readouterr().out
    assert "D*/N*" in text and "diagnostics" in text


@pytest.mark.slow
def test_cli_allocate_bad_input(chin_fit_path, tiny_fit_path, capsys):
    _, path = chin_fit_path
    try:  # usage errors: main returns 2, or argparse exits with 2
        rc = main(["allocate", str(path), "--compute", "-5"])
    except SystemExit as exc:
        rc = exc.code
    assert rc == 2 and "error:" in capsys.readouterr().err
    assert main(["allocate", str(tiny_fit_path), "--compute", "1e21"]) == 2
    assert "two inputs" in capsys.readouterr().err


def test_cli_isoflop(tmp_path, capsys):
    src = tmp_path / "iso.csv"
    pd.DataFrame({"flops": [6e18, 6e20], "params": [1e8, 1e9]}).to_csv(src, index=False)
    out = tmp_path / "out.csv"
    assert main(["isoflop", str(src), "--compute", "flops", "--params", "params", "--out", str(out)]) == 0
    assert "tokens_derived = flops / (6 * params)" in capsys.readouterr().err
    np.testing.assert_allclose(pd.read_csv(out)["tokens_derived"], [1e10, 1e11])
    assert main(["isoflop", str(src), "--compute", "C", "--params", "params", "--out", str(out)]) == 2
