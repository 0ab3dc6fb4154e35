"""Smoke tests: each case study's ``--quick`` mode runs end to end (tiny draws, temp output)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import bayescale as bs

ROOT = Path(__file__).resolve().parents[1]
STUDIES = {
    "chinchilla": ("epoch_chinchilla", ["frontier.png", "results.md", "results.json"]),
    "porian_isoflops": ("porian_isoflops", ["isoflops.png", "results.md", "results.json"]),
    "intervals": ("revisiting_nsl", ["interval_parts.png", "results.md", "results.json"]),
    "downstream": ("pythia_evals", ["downstream.png", "results.md", "results.json"]),
    "repeated_data": ("muennighoff_data_constrained", ["repeated.png", "results.md", "results.json"]),
}


@pytest.mark.slow
@pytest.mark.parametrize("study", sorted(STUDIES))
def test_case_study_quick(study, tmp_path):
    data, files = STUDIES[study]
    if not (bs.data_dir() / data).is_dir():
        pytest.skip(f"shared data folder {bs.data_dir() / data} not present (set BAYESCALE_DATA)")
    r = subprocess.run([sys.executable, str(ROOT / "case_studies" / study / "run.py"), "--quick", "--out",
                        str(tmp_path)], capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    for f in files:
        assert (tmp_path / f).stat().st_size > 0, f
    res = json.loads((tmp_path / "results.json").read_text())
    if study == "chinchilla":
        assert "excluded the 5 highest-loss runs" in r.stdout
        assert len(res["excluded_rows"]) == 5 and min(x["loss"] for x in res["excluded_rows"]) > 3.4
        assert {p["parameter"] for p in res["parameters"]} == {"E", "A", "B", "alpha", "beta"}
        assert {m["model"] for m in res["loo"]["compare"]} == {"chinchilla", "chinchilla_studentt", "kaplan"}
        a = res["allocation"][1]
        assert a["compute"] == 5.76e23
        assert a["tokens_per_param"]["lower"] <= a["tokens_per_param"]["median"] <= a["tokens_per_param"]["upper"]
    elif study == "intervals":
        parts = res["targets"]
        assert parts[0]["sd_log"]["extrapolation"] == 0  # the largest fitted scale: inside the range
        assert parts[2]["sd_log"]["extrapolation"] > parts[1]["sd_log"]["extrapolation"] > 0
        assert set(res["held_out_inside_90"]) >= {"parameters only", "all three (new run, default)"}
    elif study == "repeated_data":
        assert set(res["compare"]) == {"chinchilla", "data_constrained"}
        for law, r in res["forecast"].items():
            assert 0 <= r["coverage90_new_obs"] <= 1 and r["rmsle_median"] > 0
            assert sum(b["runs"] for b in r["by_epochs"]) == 199  # every run of more than 4 epochs
        out_dc = [b["decades_out"] for b in res["forecast"]["data_constrained"]["by_epochs"]]
        assert out_dc == sorted(out_dc) and out_dc[-1] > 2  # counted in epochs beyond the fitted 4
    elif study == "downstream":
        assert set(res["tasks"]) == {"arc_easy", "lambada_openai"} and res["targets"] == [6.9e9, 12e9]
        for t in res["tasks"].values():
            assert t["n_stage2"] > 50  # every checkpoint from step 1000 on of the fitted sizes
            for f in t["forecasts"]:
                for way in ("direct", "chained"):
                    r = f[way]
                    assert r["lower"] <= r["median"] <= r["upper"] and r["obs_lower"] <= r["median"] <= r["obs_upper"]
                assert set(f["chained"]["parts"]) == {"stage1", "stage2_parameters", "stage2_extrapolation", "noise"}
        assert res["direct"]["points"] == res["chained"]["points"] == 4
        assert 0 <= res["chained"]["coverage90_new_obs"] <= 1
    else:
        for cfg in res["configs"].values():
            assert 0 <= cfg["coverage_new_observation"] <= 1 and cfg["rmsle_median"] > 0
            assert cfg["tokens_derived_max_rel_diff"] < 1e-9
            assert cfg["n_fit"] > 0 and cfg["n_held_out"] > 0
