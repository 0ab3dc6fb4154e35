"""Tests of the extrapolation benchmark: its metrics and baseline fitters (no sampling), and a smoke run of
``--quick`` (real sampling with tiny draws, the same command CI runs)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import optimize, stats

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

import baselines as bl  # noqa: E402
import extrapolation as ex  # noqa: E402


def run_script(name: str, *args: str) -> subprocess.CompletedProcess:
    """Run ``python benchmarks/NAME ARGS`` as a user would; fail with its stderr's tail unless it exits 0."""
    r = subprocess.run([sys.executable, str(Path(ex.__file__).with_name(name)), *args], capture_output=True,
                       text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    return r


# ----------------------------------------------------------------------------- metrics
def test_rmsle_matches_definition_and_is_zero_for_exact_predictions():
    y = np.array([0.5, 0.4, 0.3])
    assert ex.rmsle(y, y) == 0.0
    pred = y * np.exp([0.1, -0.2, 0.3])
    assert ex.rmsle(pred, y) == pytest.approx(np.sqrt(np.mean(np.array([0.1, -0.2, 0.3]) ** 2)))
    assert ex.rmsle(np.array([0.5, -0.1, 0.3]), y) == np.inf  # a non-positive prediction is not a small error


def test_heldout_lpd_equals_direct_scipy_lognormal_mixture():
    rng = np.random.default_rng(0)
    S, m = 200, 4
    mu = rng.uniform(0.3, 0.6, size=(S, m))
    sigma = rng.uniform(0.01, 0.1, size=S)
    y = rng.uniform(0.3, 0.6, size=m)
    got = ex.heldout_lpd(mu=mu, y=y, sigma=sigma)
    direct = [np.log(np.mean([stats.lognorm(s=sigma[s], scale=mu[s, j]).pdf(y[j]) for s in range(S)]))
              for j in range(m)]
    np.testing.assert_allclose(got, direct, rtol=1e-10)
    # a point far outside the predictive distribution gets a much lower density
    far = ex.heldout_lpd(mu=mu, y=y * 3, sigma=sigma)
    assert np.all(far < got - 10)


def test_heldout_lpd_normal_likelihood():
    mu = np.array([[1.0, -0.5], [1.2, -0.4]])
    sigma = np.array([0.3, 0.2])
    y = np.array([1.1, -0.45])
    direct = np.log(np.mean(stats.norm.pdf(y[None, :], mu, sigma[:, None]), axis=0))
    np.testing.assert_allclose(ex.heldout_lpd(mu=mu, y=y, sigma=sigma, likelihood="normal"), direct, rtol=1e-12)


def test_coverage_counts_closed_intervals():
    y = np.array([1.0, 2.0, 3.0, 4.0])
    assert ex.coverage(np.array([0.5, 2.0, 3.5, 0.0]), np.array([1.5, 2.5, 4.0, 3.9]), y) == 0.5
    assert ex.coverage(y, y, y) == 1.0


# ----------------------------------------------------------------------------- baselines
def _pl_offset_curve(seed=0, noise=0.005):
    x = np.logspace(6, 9, 40)
    E, A, alpha = 0.2, 300.0, 0.35
    y = (E + A * x ** -alpha) * np.exp(np.random.default_rng(seed).normal(0, noise, x.size))
    return x, y, (E, A, alpha)


def test_power_law_lsq_recovers_known_parameters():
    x, y, (E, A, alpha) = _pl_offset_curve()
    f = bl.fit_power_law_lsq(x=x, y=y)
    assert f.params["E"] == pytest.approx(E, rel=0.05)
    assert f.params["alpha"] == pytest.approx(alpha, rel=0.05)
    assert f.params["A"] == pytest.approx(A, rel=0.3)
    xt = np.logspace(9.2, 10, 5)
    assert ex.rmsle(f.predict(xt), E + A * xt ** -alpha) < 0.01


def test_grid_argmin_equals_scipy_brute():
    rng = np.random.default_rng(1)
    xs = np.logspace(0, 2, 12)
    y = bl.bnsl1_curve(xs, 0.3, 2.0, 0.2, 0.5, 10.0, 0.3) * np.exp(rng.normal(0, 0.01, xs.size))
    ly1 = np.log(y + 1)
    batch = bl.grid_loss_batch(xs, ly1)
    grid = (slice(0, 1, 0.2), slice(0, 20, 5), slice(0, 1, 0.5), slice(0, 1, 0.5), slice(0, 20, 5), slice(0, 1, 0.5))
    got = bl.grid_argmin(batch, grid, chunk=37)
    ref = optimize.brute(lambda p: batch(np.asarray(p)[None, :])[0], grid, finish=None)
    np.testing.assert_array_equal(got, ref)


def test_bnsl_lsq_runs_and_predicts_finite_values():
    x = np.logspace(6, 9, 30)
    y = bl.bnsl1_curve(x / 1e6, 0.15, 0.6, 0.1, 0.6, 80.0, 0.2)
    y = y * np.exp(np.random.default_rng(2).normal(0, 0.005, x.size))
    f = bl.fit_bnsl_lsq(x=x, y=y)
    xt = np.logspace(9.1, 9.6, 6)
    pred = f.predict(xt)
    assert f.ok and np.all(np.isfinite(pred)) and np.all(pred > 0)
    assert ex.rmsle(f.predict(x), y) < 0.02  # it fits the curve it was given
    assert set(f.params) == {"a", "b", "c0", "c1", "d1", "f1"}


def test_m4_fits_a_saturating_curve_and_predict_inverts_the_law():
    x, y, (E, A, alpha) = _pl_offset_curve(noise=0.002)
    f = bl.fit_m4(x=x, y=y)
    assert f.ok and ex.rmsle(f.predict(x), y) < 0.02
    p = f.params
    e = f.predict(x)
    lhs = (e - p["eps_inf"]) / (p["eps0"] - e) ** p["alpha"]
    np.testing.assert_allclose(lhs, p["beta"] * x ** p["c"], rtol=1e-6)
    assert p["eps_inf"] < y.min() < y.max() < p["eps0"]


def test_select_curves_every_k_keeps_each_domain(data_dir):
    curves = ex.load_curves(data_dir)
    assert len(curves) == 132
    sub = ex.select_curves(curves, every=5)
    assert {c.domain for c in sub} == {"IC", "NMT", "LM", "BB", "DD", "Nano"}
    assert all(c.x_fit.max() < c.x_test.min() for c in sub)
    assert [c.name for c in ex.select_curves(curves, quick=True)] == list(ex.QUICK_CURVES)


def test_bnsl_curve_with_grid_value_f1_zero_is_the_unbroken_law():
    # f1 = 0 is on the reference grid; as Python floats it must not raise ZeroDivisionError
    x = np.array([1.0, 2.0, 4.0])
    np.testing.assert_allclose(bl.bnsl1_curve(x, 0.1, 1.0, 0.5, 0.7, 2.0, 0.0), 0.1 + x ** -0.5)


def test_rows_of_older_runs_are_read_with_current_labels(tmp_path):
    (tmp_path / "rows.jsonl").write_text(json.dumps({"curve": "c", "method": "bayescale (recommended)"}) + "\n"
                                         + json.dumps({"curve": "c", "method": "M4"}) + "\n")
    assert [r["method"] for r in ex.read_rows(tmp_path / "rows.jsonl")] == [ex.CHOSEN, "M4"]
    assert ex.read_timings(tmp_path) == []
    (tmp_path / "timings.json").write_text(json.dumps([{"curve": "c", "curve_s": 1.0}]))  # older runs
    assert ex.read_timings(tmp_path)[0]["curve_s"] == 1.0
    (tmp_path / "timings.jsonl").write_text(json.dumps({"curve": "c", "curve_s": 2.0}) + "\n")
    assert ex.read_timings(tmp_path)[0]["curve_s"] == 2.0


def test_versus_table_pairs_runs_on_shared_curves():
    def rec(curve, method, rmsle, lpd, cov):
        return {"curve": curve, "group": "language", "method": method, "rmsle": rmsle, "lpd": lpd, "cov90_obs": cov}

    a = [rec("c1", ex.STACKED, 0.01, 3.0, 0.9), rec("c2", ex.STACKED, 0.03, 1.0, 0.5), rec("c3", ex.STACKED, 9, 9, 1)]
    b = [rec("c1", ex.STACKED, 0.02, 2.0, 0.8), rec("c2", ex.STACKED, 0.02, 2.0, 0.7), rec("c1", "M4", 0.5, None, None)]
    t = ex.versus_table(a, b, names=("t", "lognormal"))
    assert "(2 curves scored by both)" in t  # c3 is only in A, M4 is not a bayescale forecast
    assert "| language | bayescale (stacked) | 2 | 0.0200 vs 0.0200 | 2.00 vs 2.00 (50%) | 0.70 vs 0.75 |" in t


def test_scatter_recovers_iid_noise_around_a_smooth_trend():
    rng = np.random.default_rng(3)
    x = np.linspace(1e9, 3e9, 4000)
    trend = np.log(0.2 + 300 * x ** -0.3)
    assert ex.scatter(trend + rng.normal(0, 0.01, x.size)) == pytest.approx(0.01, rel=0.05)
    assert ex.scatter(trend) < 1e-6  # a smooth curve has (almost) no scatter
    assert np.isnan(ex.scatter(np.array([0.1, 0.2, 0.3, 0.4])))


def test_noise_table_sees_binned_fit_points():
    # fit points: averages of 25 raw checkpoints each; held-out points: raw checkpoints (5 times the noise sd)
    rng = np.random.default_rng(4)
    g = lambda x: 0.3 + 50 * x ** -0.3  # noqa: E731
    raw_x = np.arange(1, 30001) * 1e5
    raw_y = g(raw_x) * np.exp(rng.normal(0, 0.01, raw_x.size))
    xf, yf = raw_x[:25000].reshape(-1, 25).mean(axis=1), np.exp(np.log(raw_y[:25000]).reshape(-1, 25).mean(axis=1))
    c = ex.Curve(name="sim", domain="IC", x_fit=xf, y_fit=yf, x_test=raw_x[25000:], y_test=raw_y[25000:])
    row = ex.noise_table([c]).splitlines()[-1]
    fit, held, blocked, k = (float(v) for v in row.strip("|").split("|")[2:])
    assert k == 25 and held == pytest.approx(0.01, rel=0.1)
    assert fit == pytest.approx(0.002, rel=0.2) and blocked == pytest.approx(0.002, rel=0.2)


def test_horizon_is_decades_beyond_the_largest_fit_scale():
    assert ex.horizon(np.array([1.0, 10.0, 100.0]), np.array([100.0, 1000.0, 316.2277660168379])) == \
        pytest.approx([0.0, 1.0, 0.5])


def test_horizon_table_pools_points_by_distance_bin():
    def rec(curve, method, h, in50, in90, lpd):
        return {"curve": curve, "group": "language", "method": method, "horizon": h, "in50_obs_points": in50,
                "in90_obs_points": in90, "lpd_points": lpd}

    rows = [rec("c1", ex.STACKED, [0.05, 0.15, 0.25], [1, 0, 0], [1, 1, 0], [3.0, 2.0, -1.0]),
            rec("c2", ex.STACKED, [0.05, 0.06], [0, 0], [1, 0], [1.0, 2.0]),
            rec("c1", "M4", [0.05], [1], [1], [0.0]),  # not a bayescale forecast: left out
            {"curve": "c3", "group": "language", "method": ex.STACKED, "rmsle": 0.1}]  # older row: no points
    t = ex.horizon_table(rows, methods=(ex.STACKED,))
    assert "| language | bayescale (stacked) | 0.0-0.1 | 3 | 2 | 0.33 | 0.67 | 2.00 |" in t
    assert "| language | bayescale (stacked) | 0.1-0.2 | 1 | 1 | 0.00 | 1.00 | 2.00 |" in t
    assert "| language | bayescale (stacked) | 0.2-0.3 | 1 | 1 | 0.00 | 0.00 | -1.00 |" in t
    assert "0.3-0.7" not in t  # empty bins are not printed
    assert ex.horizon_table(rows[3:]) == ""


# ----------------------------------------------------------------------------- smoke run
@pytest.mark.slow
def test_extrapolation_quick_runs_end_to_end(data_dir, tmp_path):
    """``python benchmarks/extrapolation.py --quick``: 4 curves (one per group), bayescale and the baselines."""
    r = run_script("extrapolation.py", "--quick", "--out", str(tmp_path))
    rows = [json.loads(line) for line in (tmp_path / "rows.jsonl").read_text().splitlines()]
    assert {row["curve"] for row in rows} == set(ex.QUICK_CURVES)
    for curve in ex.QUICK_CURVES:
        methods = {row["method"] for row in rows if row["curve"] == curve}
        assert {"bayescale (chosen law)", "bayescale (stacked)", "BNSL LSQ (grid+LM)", "M4",
                "power law LSQ"} <= methods
    for row in rows:
        if row["method"].startswith("bayescale"):
            assert 0 < row["rmsle"] < 1 and np.isfinite(row["lpd"])
            assert all(0 <= row[k] <= 1 for k in ("cov50_obs", "cov90_obs", "cov50_mu", "cov90_mu"))
            assert row["cov90_obs"] >= row["cov50_obs"]
            n = row["n_test"]
            assert len(row["horizon"]) == len(row["in90_obs_points"]) == len(row["lpd_points"]) == n
            assert all(h > 0 for h in row["horizon"])  # held-out points lie beyond the fit points
            assert np.mean(row["in90_obs_points"]) == pytest.approx(row["cov90_obs"])
        if row["method"] == "bayescale (stacked)":
            assert sum(row["weights"].values()) == pytest.approx(1.0)
        if row["method"] == "bayescale (chosen law)":
            assert row["law"] in ex.QUICK_LAWS and row["recommended_by"] in ("leave-future-out", "PSIS-LOO")
            assert row["time_s"] > 0
    timings = ex.read_timings(tmp_path)
    # one timing record per curve, written as the curve finished
    assert sorted(t["curve"] for t in timings) == sorted({r["curve"] for r in rows})
    assert all(w["warmup"][law]["compile_s"] > 0 for w in timings for law in w["warmup"])
    table = (tmp_path / "table.md").read_text()
    assert "bayescale (chosen law)" in table and "NSL-PFN (published)" in table
    assert "decades beyond fit" in table and "Point-to-point noise" in table
    assert "bayescale (chosen law)" in r.stdout
    assert (tmp_path / "extrapolation.png").stat().st_size > 10_000


@pytest.mark.slow
def test_calibration_quick_runs_end_to_end(data_dir, tmp_path):
    """``python benchmarks/calibration.py --quick``: 3 curves, coverage and MSCE before and after."""
    r = run_script("calibration.py", "--quick", "--out", str(tmp_path))
    table = (tmp_path / "table.md").read_text()
    assert "cov90 before / after" in table and "msce before / after" in table and "by distance" in table
    pts = pd.read_csv(tmp_path / "points.csv")
    assert set(pts["curve"]) == {"IC|cal_5|BiT/50/1", "DD|df4k", "Nano|final_val_loss|0"}
    assert pts["pit_before"].between(0, 1).all() and (pts["horizon"] > 0).all()
    assert (tmp_path / "calibration.png").stat().st_size > 5_000
    # leave-one-dataset-out: nothing learned on a scored data set (the values differ per data set)
    assert "backtest" in table and "relative" in table
    # the tried forms of the discrepancy, rescored from the same cached fits
    r = run_script("discrepancy_variants.py", "--cache", str(tmp_path / "cache"))
    import discrepancy_variants as dv
    for name in dv.VARIANTS:
        assert f"| {name} | image classification |" in r.stdout and f"| {name} | [0.1, 0.25) |" in r.stdout


def test_discrepancy_variants_default_form_is_the_packages():
    """discrepancy_variants' "linear (default)" is the package's default form (relative, autocorrelation factor):
    the same sd at every horizon, 0 inside the fitted range; its parameter-only form leaves the noise alone."""
    import discrepancy_variants as dv
    from bayescale.spec.discrepancy import Discrepancy, autocorrelation_factor

    h, p, n = np.array([0.0, 0.05, 0.3, 1.2]), np.array([0.01, 0.02, 0.03, 0.05]), np.full(4, 0.02)
    for rho in (0.0, 0.4, 0.9):
        disc = Discrepancy("d", 0.3, 4.0, form="relative", autocorrelation=True).for_fit(rho)
        mine = dv.tau2("linear (default)", 0.3, 4.0, h, p, n, autocorrelation_factor(rho))
        np.testing.assert_allclose(mine, disc.sd(h, np.sqrt(p ** 2 + n ** 2)) ** 2, rtol=1e-12)
        assert mine[0] == 0.0
    # with k = 1 the parameters-only form adds p^2 g^2: nothing when the parameters are pinned exactly
    assert dv.tau2("parameters", 0.3, 4.0, h, np.zeros(4), n, 1.0).max() == 0.0
    g = 0.3 + 4.0 * np.sqrt(h)
    np.testing.assert_allclose(dv.tau2("sqrt", 0.3, 4.0, h, p, n, 1.0)[1:], ((p ** 2 + n ** 2) * g ** 2)[1:])


def test_discrepancy_variants_change_grows_with_the_predicted_change():
    """The tried ``change`` variant: 0 inside the fitted range, beyond it the default's jump ``s0`` plus
    ``kappa`` times the forecast's predicted change in log y (nothing more on a flat curve); the predicted change
    is measured from the law's level at the largest fitted input."""
    import discrepancy_variants as dv

    h, p, n, k = np.array([0.0, 0.2, 0.2]), np.full(3, 0.02), np.full(3, 0.01), 1.5
    c = np.array([0.3, 0.0, 0.3])
    tau2 = dv.tau2("change", 0.5, 2.0, h, p, n, k, c)
    b2 = p ** 2 + n ** 2
    np.testing.assert_allclose(tau2, [0.0, b2[1] * (k ** 2 * 1.25 - 1), b2[2] * (k ** 2 * 1.25 - 1) + 0.36])
    x_fit = np.logspace(1, 3, 12)
    law = lambda x: 2.0 + 10.0 * x ** -0.5  # noqa: E731
    x_test = np.array([1e3, 1e4])
    mu = law(x_test)[None, :] * np.exp(0.01 * np.random.default_rng(0).standard_normal((400, 2)))
    res = {"x_fit_max": 1e3, "laws": {"a": {"weight": 1.0, "mu": mu}, "b": {"weight": 0.0, "mu": mu * 9}}}
    got = dv.predicted_change(res, x_fit, law(x_fit))
    np.testing.assert_allclose(got, np.abs(np.log(law(x_test)) - np.log(law(1e3))), atol=2e-3)
    assert got[0] < 2e-3 < got[1]


def test_self_backtest_scale_follows_the_curves_own_errors():
    """calibration.backtest_scale (the tried per-curve scale): 1 with no backtest, below 1 for errors
    inside the forecast's own sd, above 1 for errors several discrepancy sds out; one observation per
    held-back scale, so many points at one scale count as one."""
    import calibration as cal
    from bayescale.spec.discrepancy import Discrepancy

    disc = Discrepancy("t", 1.0, 5.0, form="relative")

    def bt(err, x):
        n = len(err)
        return pd.DataFrame({"err": err, "sd": np.full(n, 0.01), "horizon": np.full(n, 0.1), "x": x})

    assert cal.backtest_scale(bt([], []), disc) == 1.0
    small = cal.backtest_scale(bt([0.001, -0.001, 0.0005], [1, 2, 3]), disc)
    large = cal.backtest_scale(bt([0.1, -0.12, 0.09], [1, 2, 3]), disc)
    assert small < 1.0 < large
    one_scale = cal.backtest_scale(bt([0.1] * 30, [1] * 30), disc)
    assert 1.0 < one_scale < cal.backtest_scale(bt([0.1] * 3, [1, 2, 3]), disc)
    # the rms statistic is pulled up by the prior (E[lambda^2] = e^2 with no data): the reason it was not used
    assert cal.backtest_scale(bt([], []), disc, stat="rms") == 1.0
    assert cal.backtest_scale(bt([0.0], [1]), disc, stat="rms") > cal.backtest_scale(bt([0.0], [1]), disc)


def test_remedy_adaptation_chooses_the_adaptation_by_run(monkeypatch):
    """remedy_adaptation.use_adaptation: the first run gets --first, the refit at target_accept 0.99 --remedy."""
    import bayescale.inference.fit as fitmod
    import remedy_adaptation as ra

    seen = []
    monkeypatch.setattr(fitmod, "sample", lambda model, **kw: seen.append((kw["target_accept"], kw["adaptation"])))
    ra.use_adaptation("draw_diag", "diag")
    fitmod.sample(None, target_accept=0.9, adaptation="diag")
    fitmod.sample(None, target_accept=0.99, adaptation="draw_diag")
    assert seen == [(0.9, "draw_diag"), (0.99, "diag")]


def test_remedy_adaptation_ess_rerun_modes(monkeypatch):
    """remedy_adaptation.use_ess_rerun: only the longer run (more draws than asked) changes; ``plain`` undoes
    the package's follow-up to it and hands back the longer run's own draws (as does ``high``, whose
    follow-up would be the same run again)."""
    import bayescale.inference.fit as fitmod
    import remedy_adaptation as ra

    def calls(mode):
        seen = []
        monkeypatch.setattr(fitmod, "sample", lambda model, **kw: seen.append(
            (kw["target_accept"], kw.get("adaptation", "diag"), kw["draws"])) or len(seen))
        ra.use_ess_rerun(mode)
        got = [fitmod.sample(None, target_accept=0.9, draws=1000), fitmod.sample(None, target_accept=0.9, draws=2400),
               fitmod.sample(None, target_accept=0.99, adaptation="draw_diag", draws=2400)]
        return seen, got

    seen, got = calls("package")
    assert seen == [(0.9, "diag", 1000), (0.9, "diag", 2400), (0.99, "draw_diag", 2400)] and got == [1, 2, 3]
    seen, got = calls("plain")
    assert seen == [(0.9, "diag", 1000), (0.9, "diag", 2400)] and got == [1, 2, 2]
    seen, _ = calls("draw_diag")
    assert seen[1] == (0.9, "draw_diag", 2400) and len(seen) == 3
    seen, got = calls("high")
    assert seen[1:] == [(0.99, "draw_diag", 2400)] and got == [1, 2, 2]


@pytest.mark.slow
def test_nd_calibration_quick_runs_end_to_end(data_dir, tmp_path):
    """``python benchmarks/nd_calibration.py --quick``: two gadre curves scored before and after."""
    out = tmp_path / "points.csv"
    r = run_script("nd_calibration.py", "--quick", "--out", str(out))
    assert "| gadre_overtraining | before | 2 |" in r.stdout and "| gadre_overtraining | after | 2 |" in r.stdout
    pts = pd.read_csv(out)
    assert pts["pit"].between(0, 1).all() and (pts["horizon"] > 0).all()
    before, after = (pts[pts["when"] == w].reset_index(drop=True) for w in ("before", "after"))
    np.testing.assert_allclose(before["log_err"], after["log_err"], atol=0.05)  # one fit, scored twice
    # the extrapolation part only widens: each PIT moves towards the middle or stays
    assert ((after["pit"] - 0.5).abs() <= (before["pit"] - 0.5).abs() + 0.02).all()


# ----------------------------------------------------------------------------- next-run design backtest
def test_design_backtest_split_and_metrics():
    import design_backtest as db

    x = np.logspace(0, 4, 41)  # u = 0, 0.1, ..., 4
    fitted, target, cand = db.split(x, 0.45, 5)
    assert fitted.tolist() == list(range(19)) and target == 40  # u <= 1.8
    assert cand.tolist() == [20, 25, 29, 33, 38] and fitted[-1] < cand.min() and cand.max() < target
    rec = {"candidates": [1.0, 2.0, 4.0, 8.0], "settings": {"off": {
        "realised": [0.1, 0.2, 0.3, 0.5], "expected": [0.1, 0.25, 0.2, 0.6], "pick_unit": 3, "pick_per_cost": 0}}}
    m = db.metrics(rec, "off")
    assert m["unit cost"] == {"design": 0.5, "random": pytest.approx(0.275), "largest": 0.5, "oracle": 0.5}
    # per unit relative cost x / 8: 0.8, 0.8, 0.6, 0.5
    assert m["per cost"]["design"] == pytest.approx(0.8) and m["per cost"]["largest"] == pytest.approx(0.5)
    assert m["per cost"]["random"] == pytest.approx(np.mean([0.8, 0.8, 0.6, 0.5]))
    # budget: runs up to the middle candidate's cost (x <= 2); design takes the best expected among them
    assert m["budget"] == {"design": 0.2, "random": pytest.approx(0.15), "largest": 0.2, "oracle": 0.2}
    assert m["_rho"] == pytest.approx(0.8)


@pytest.mark.slow
def test_design_backtest_quick_runs_end_to_end(data_dir, tmp_path):
    """``python benchmarks/design_backtest.py --quick``: 2 curves, 3 candidates, real refits with tiny draws."""
    r = run_script("design_backtest.py", "--quick", "--out", str(tmp_path))
    rows = [json.loads(line) for line in (tmp_path / "rows.jsonl").read_text().splitlines()]
    assert len(rows) == 2
    for row in rows:
        assert len(row["candidates"]) == 3 and row["x_fit_max"] < min(row["candidates"]) < row["target"]
        for disc in ("default", "off"):
            s = row["settings"][disc]
            assert len(s["realised"]) == len(s["expected"]) == 3 and s["width_before"] > 0
            assert all(np.isfinite(s["realised"])) and 0 <= s["pick_unit"] < 3
    table = (tmp_path / "table.md").read_text()
    assert "| unit cost |" in table and "| per cost |" in table and "| budget |" in table
    assert "design >= random" in r.stdout


# ----------------------------------------------------------------------------- downstream (direct vs chained)
def test_downstream_sigmoid_lsq_and_scores():
    import downstream as dsb

    x = np.geomspace(1e8, 1e10, 8)
    y = dsb.sigmoid_curve(x, 0.25, 0.8, 1.2, np.log(1e9))
    pred = dsb.fit_sigmoid_lsq(x, y)
    np.testing.assert_allclose(pred(x), y, atol=1e-4)
    loss = np.geomspace(1.5, 6, 10)
    yd = dsb.sigmoid_curve(loss, 0.1, 0.9, 2.0, np.log(3.0), down=True)
    assert np.all(np.diff(yd) < 0)  # falls with the loss
    np.testing.assert_allclose(dsb.fit_sigmoid_lsq(loss, yd, down=True)(loss), yd, atol=1e-4)
    fixed = dsb.fit_sigmoid_lsq(loss, yd, down=True, floor=0.1)  # the floor given, as bayescale's floor=
    np.testing.assert_allclose(fixed(loss), yd, atol=1e-4)
    assert fixed(np.array([1e6]))[0] == pytest.approx(0.1, abs=1e-6)  # far out along the loss: the floor itself
    assert dsb.floor_for(0.25, [0.3, 0.4, 0.24]) is None and dsb.floor_for(0.25, [0.3] * 9 + [0.2]) == 0.25
    s = dsb.score(0.5, 0.45, 0.4, 0.55, 0.3, 0.49)
    assert s["abs_err"] == pytest.approx(0.05) and s["in90_law"] is True and s["in90_obs"] is False
    assert dsb.score(0.5, 0.45)["in90_obs"] is None  # a point forecast has no interval


@pytest.mark.slow
def test_downstream_quick_runs_end_to_end(data_dir, tmp_path):
    """``python benchmarks/downstream.py --quick``: one case per section, tiny draws."""
    r = run_script("downstream.py", "--quick", "--out", str(tmp_path))
    rows = [json.loads(line) for line in (tmp_path / "rows.jsonl").read_text().splitlines()]
    assert {r["section"] for r in rows} == {"obsscaling within family", "obsscaling paper split", "pythia", "gadre"}
    methods = {r["method"] for r in rows}
    assert {"bayescale direct", "bayescale chained", "LSQ sigmoid direct", "LSQ chained", "bayescale stage 1"} <= methods
    for row in rows:
        assert "failed" not in row, row
        assert 0 <= row["truth"] and np.isfinite(row["median"])
        if row["method"].startswith("bayescale"):
            assert row["obs_lower"] <= row["median"] <= row["obs_upper"] and isinstance(row["in90_obs"], bool)
        if row["method"] == "bayescale chained":
            assert set(row["parts"]) == {"stage1", "stage2_parameters", "stage2_extrapolation", "noise"}
    # the paper's split: fitted at FLOPs <= 84e21, forecast above it
    paper = [r for r in rows if r["section"] == "obsscaling paper split"]
    assert min(r["target"] for r in paper) > 84e21
    table = (tmp_path / "table.md").read_text()
    assert "### pythia" in table and "cov90 new obs" in table and "bayescale chained" in r.stdout


def test_break_verdict_cases_are_checked_before_any_sampling(capsys):
    """``--cases`` takes SCENARIO:REP pairs; a bad one stops with exit status 2 and says why."""
    import break_verdict as bv

    for bad in (["0-3"], ["9:0"], ["0:-1"]):
        with pytest.raises(SystemExit) as e:
            bv.main(["--cases", *bad])
        assert e.value.code == 2
    assert "SCENARIO:REP" in capsys.readouterr().err


def test_break_verdict_summary_counts_rates_and_lfo_decisions():
    """``benchmarks/break_verdict.py``'s table from made-up rows (no sampling)."""
    import break_verdict as bv

    def row(s, verdict, by="LOO"):
        return {"scenario": s, "rep": 0, "verdict": verdict, "reliable": True, "elpd_diff": 1.0, "dse": 0.5,
                "lfo_diff": 6.0, "lfo_se": 1.0, "lfo_points": 3, "decided_by": by, "refits": 1, "unresolved": 0}

    big = [i for i, sc in enumerate(bv.SCENARIOS) if sc[1] is not None and sc[1] >= 0.5][0]
    rows = ([row(0, "no break supported")] * 19 + [row(0, "break supported", "leave-future-out")]
            + [row(big, "break supported", "leave-future-out"), row(big, "inconclusive", "")]
            + [{"scenario": big, "rep": 1, "verdict": "error", "error": "FitError: x"}])
    text = bv.summarise(rows, 3, 60.0, 2)
    assert "1/20 = 5.0%" in text and "1/3 = 33.3%" in text and "Errors (1)" in text
    assert "Reliable verdicts** (no R-hat/ESS/refit warning): 22/22 = 100.0%" in text
    header = next(ln for ln in text.splitlines() if ln.startswith("| scenario |"))
    null_line = next(ln for ln in text.splitlines() if ln.startswith("| null |"))
    assert header.count("|") == null_line.count("|")
    # n, supported, no break, inconclusive, errors, not reliable, elpd, dse, LFO diff, LFO decided
    assert null_line.split(" | ")[1:11] == ["20", "1", "19", "0", "0", "0", "1.0", "0.5", "6.0", "1"]


def test_colpret_calibration_curves_leave_out_the_copies_and_name_families(data_dir):
    """colpret_calibration scores curves nothing was learned from: revisiting_nsl's copies are left out, every
    curve keeps NSL-PFN's split (fit points before held-out ones) and gets a source family."""
    import colpret_calibration as cc

    curves = cc.curves()
    names = [c.name for c in curves]
    assert len(names) == 187 and not any(n.startswith("ColPreT|lambda-") for n in names)
    assert all(c.x_fit.max() < c.x_test.min() for c in curves)
    assert cc.family("ColPreT|GPT2-2.80B-c4-1.0") == "datablations" and cc.family("ColPreT|rpj-d=96") == "gadre"
    assert cc.family("ColPreT|GPT-3 XL") == "GPT-3" and cc.family("ColPreT|Amber") == "other"
    assert [c.name for c in cc.curves(every=50)] == names[::50]


def test_colpret_passing_only_moves_the_weight_off_failed_laws():
    import colpret_calibration as cc

    law = lambda w, ok: {"weight": w, "ok": ok}  # noqa: E731
    res = {"curve": "c", "laws": {"power_law_offset": law(0.1, True), "bnsl1": law(0.9, False)}}
    moved = cc.passing_only(res)
    assert {k: v["weight"] for k, v in moved["laws"].items()} == {"power_law_offset": 1.0, "bnsl1": 0.0}
    assert res["laws"]["bnsl1"]["weight"] == 0.9  # the cached result is left as it was
    assert cc.passing_only({"laws": {"a": law(1.0, True), "b": law(0.0, False)}}) is None  # nothing failed with weight
    assert cc.passing_only({"laws": {"a": law(0.5, False), "b": law(0.5, False)}}) is None  # nothing passed


@pytest.mark.slow
def test_colpret_calibration_quick_runs_end_to_end(data_dir, tmp_path):
    """``python benchmarks/colpret_calibration.py --quick``: two curves scored off, default and language."""
    r = run_script("colpret_calibration.py", "--quick", "--out", str(tmp_path))
    table = (tmp_path / "table.md").read_text()
    for row in ("off", "default", "language"):
        assert f"| {row} | all curves | 2 |" in table
    assert "| default | OPT |" in table and "| default | pythia |" in table and "by distance" in table
    assert "by diagnostics" in table
    pts = pd.read_csv(tmp_path / "points.csv")
    assert pts["pit"].between(0, 1).all() and (pts["horizon"] > 0).all()
    # the stored default widens every held-out point's interval beyond the data: its PITs move towards 0.5
    off, default = (pts[pts["discrepancy"] == k].set_index(["curve", "x"])["pit"] for k in ("off", "default"))
    assert (abs(default - 0.5) <= abs(off - 0.5) + 0.05).mean() > 0.9


def test_part_takes_every_nth_selected_curve_and_checks_its_form(data_dir):
    import argparse

    assert ex.part_arg("2/5") == (2, 5)
    for bad in ("5/5", "-1/3", "2", "a/b"):
        with pytest.raises(argparse.ArgumentTypeError):
            ex.part_arg(bad)
    curves = ex.load_curves(data_dir)
    parts = [ex.select_curves(curves, every=2, part=(i, 5)) for i in range(5)]
    names = [c.name for p in parts for c in p]
    assert sorted(names) == sorted(c.name for c in ex.select_curves(curves, every=2))  # each curve in one part
    assert all(abs(len(p) - len(parts[0])) <= 1 for p in parts) and {c.domain for c in parts[4]} >= {"IC", "DD"}


def test_dask_vs_pool_record_compares_numbers_and_wall_times(tmp_path):
    """The issue-18 record's comparison: equal rows, a changed number, and parts not yet finished."""
    rec = Path(ex.__file__).parent / "records" / "dask_vs_pool" / "compare.py"
    row = {"curve": "c", "method": "stacked", "law": "stacked", "rmsle": 0.1, "in90_obs_points": [1, 0],
           "lpd": None, "worker": 1, "remedy": "none", "weights": {"a": 0.25, "b": 0.75}}
    for part, shift in (("part0", 0.0), ("part1", 2e-3)):
        for path, dx in (("dask", 0.0), ("pool", shift)):
            (tmp_path / part / path).mkdir(parents=True)
            rows = [{**row, "time_s": 5 + 10 * dx, "weights": {"b": 0.75, "a": 0.25 + dx / 2}},  # weights: keys in
                    {**row, "worker": 2, "method": "chosen", "rmsle": 0.2 + dx}]             # either order
            (tmp_path / part / path / "rows.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
            (tmp_path / part / path / "timings.jsonl").write_text('{"curve_s": 10.0}\n{"curve_s": 30.0}\n')
        (tmp_path / part / "stamps.txt").write_text(
            f"dask {part[-1]} start x\ndask part {part[-1]} end 2026Z rc 0 wall_s 40.5\n"
            f"pool part {part[-1]} end 2026Z rc 0 wall_s 50.5\n")
    (tmp_path / "part2" / "dask").mkdir(parents=True)  # a part still running: left out
    r = subprocess.run([sys.executable, str(rec), str(tmp_path)], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    lines = {ln.split(" | ")[0]: ln for ln in r.stdout.splitlines() if ln.startswith("| part")}
    assert "| 0.0e+00 | 0 |" in lines["| part0"] and "| 2.0e-03 | 0 |" in lines["| part1"]
    assert "| all | 4 | 81 | 101 |" in r.stdout and "Dask / pool wall time: 0.802" in r.stdout
    # a later commit's Dask run of part 0 alone: compared with the pool run of part 0 above, and marked so
    later = tmp_path / "later"
    (later / "part0" / "dask").mkdir(parents=True)
    for name in ("rows.jsonl", "timings.jsonl"):
        (later / "part0" / "dask" / name).write_text((tmp_path / "part0" / "dask" / name).read_text())
    (later / "part0" / "stamps.txt").write_text("dask part 0 end 2026Z rc 0 wall_s 30.0\n")
    r = subprocess.run([sys.executable, str(rec), str(later), "--pool-from", str(tmp_path)], capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert f"| 0.0e+00 | 0 | pool from {tmp_path.name} |" in r.stdout and "Dask / pool wall time: 0.594" in r.stdout


def _dask_vs_pool_script(name: str):
    """A record script of ``benchmarks/records/dask_vs_pool/`` (not a package), imported by path."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(name, Path(ex.__file__).parent / "records" / "dask_vs_pool"
                                                  / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_dask_vs_pool_replay_of_two_ways_to_hand_out_tasks():
    """Two tasks per worker can leave a long task queued behind a long one while the other worker idles."""
    replay = _dask_vs_pool_script("replay")
    assert replay.first_idle([10, 1, 10, 1, 1]) == 12  # w0: 10, 1, 1; w1: 1, 10
    assert replay.two_per_worker([10, 1, 10, 1, 1]) == 20  # w0: 10 then 10 (queued at once); w1: 1, 1, 1
    assert replay.first_idle([3.0]) == replay.two_per_worker([3.0]) == 3.0
    # the order replayed is the benchmark's: domains interleaved, the longest curves first in each
    import types

    cs = [types.SimpleNamespace(name=n, domain=d, x_fit=np.zeros(k), x_test=np.zeros(1))
          for n, d, k in (("a", "IC", 3), ("b", "IC", 9), ("c", "LM", 5))]
    assert [c.name for c in ex.submission_order(cs)] == ["b", "c", "a"]


def test_dask_vs_pool_pinned_pairs_cancel_a_core_speed():
    """Two runs a curve with the cores swapped: a core 30% slower cancels, a 4% cost of Dask stays."""
    pinned = _dask_vs_pool_script("pinned")
    speed = {0: 1.0, 1: 1.3}  # seconds a unit of work takes on each core
    rows = []
    for curve, work in (("a", 10.0), ("b", 40.0)):
        for dask_core in (0, 1):
            rows.append({"curve": curve, "dask": {"wall_s": 1.04 * work * speed[dask_core]},
                         "pool": {"wall_s": work * speed[1 - dask_core]}})
    rows.append({"curve": "c", "dask": {"wall_s": 1.0}, "pool": {"wall_s": 2.0}})  # its second run not done yet
    ratios = pinned.pair_ratios(rows)
    assert ratios.keys() == {"a", "b"} and all(abs(r - 1.04) < 1e-12 for r in ratios.values())
    row = {"curve": "a", "method": "bayes", "law": "a"}
    assert pinned._max_difference([{**row, "x": 1.0, "time_s": 3.0, "worker": 7}],
                                  [{**row, "x": 1.5, "time_s": 9.0, "worker": 8}]) == 0.5
    assert pinned._max_difference([row], [{**row, "law": "b"}]) == float("inf")


def test_dask_vs_pool_abba_cycles_cancel_a_linear_drift():
    """A B B A rounds: a steady drift cancels within a cycle; a wrong order is refused, not misread."""
    abba = _dask_vs_pool_script("abba")
    rows = []
    for r in range(1, 10):  # rounds 1-8: two cycles; round 9 a cycle still running (left out)
        mode = "a" if (r - 1) % 4 in (0, 3) else "b"
        drift = 1 + 0.05 * r  # the machine slows by 5% a round
        cost = 1.1 if mode == "a" else 1.0  # path a costs 10% more
        rows += [{"round": r, "mode": mode, "wall_s": 20 * drift * cost + dx} for dx in (-1.0, 1.0)]
    ratios = abba.cycle_ratios(rows, "a", "b")
    assert len(ratios) == 2 and all(abs(x - 1.1) < 1e-12 for x in ratios)
    s = abba.summary(ratios)
    assert abs(s["ratio"] - 1.1) < 1e-12 and s["a_slower_in"] == 2 and s["cycles"] == 2
    with pytest.raises(ValueError, match="not"):
        abba.cycle_ratios(rows, "b", "a")
