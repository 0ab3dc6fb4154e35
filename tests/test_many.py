"""Many curves at once on Dask: a real LocalCluster of 2 worker processes, and an existing scheduler
started as separate processes on localhost.  A deliberately bad group is reported; the others finish."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time

import numpy as np
import pandas as pd
import pytest

import bayescale as bs
from bayescale.cli import main

SAMPLING = dict(draws=60, tune=100, chains=2, seed=1)


def _table() -> pd.DataFrame:
    frames = []
    for g in range(3):
        df = bs.simulate(law="power_law_offset", x=np.logspace(2, 5, 9), seed=g)
        df["curve"] = f"c{g}"
        frames.append(df)
    bad = pd.DataFrame({"x": [10.0, 100.0, 1000.0, 10000.0], "y": [2.0, -1.0, 1.5, 1.4], "curve": "bad"})
    return pd.concat(frames + [bad], ignore_index=True)


@pytest.mark.slow
def test_fit_many_on_a_local_cluster_reports_a_bad_group_and_resumes(tmp_path):
    out = tmp_path / "out"
    res = bs.fit_many(_table(), group="curve", law="power_law_offset", x="x", y="y", targets=[1e6], out=out,
                      n_workers=2, **SAMPLING)
    t = res.table.set_index("group")
    assert set(t.index) == {"c0", "c1", "c2", "bad"}
    assert t.loc["bad", "status"] == "failed" and "non-positive value -1" in t.loc["bad", "reason"]
    for g in ("c0", "c1", "c2"):
        assert t.loc[g, "status"] in ("ok", "unreliable")
        assert 0 < t.loc[g, "E_median"] < 3 and t.loc[g, "forecast0_lower"] < t.loc[g, "forecast0_upper"]
        assert (out / "fits" / f"{g}.nc").is_file()
    lines = (out / "results.jsonl").read_text().splitlines()
    assert len(lines) == 4 and {json.loads(ln)["group"] for ln in lines} == set(t.index)
    # a saved group's fit reloads and forecasts like a single fit
    again = bs.load(out / "fits" / "c0.nc").forecast(x=[1e6], prob=0.9).table()
    assert again["median"].iloc[0] == pytest.approx(t.loc["c0", "forecast0_median"], rel=1e-9)
    # resume: nothing is fitted again (no cluster is even started), the table is the same
    res2 = bs.fit_many(_table(), group="curve", law="power_law_offset", x="x", y="y", targets=[1e6], out=out,
                       resume=True, scheduler="tcp://127.0.0.1:1", **SAMPLING)
    assert sorted(res2.table["group"]) == sorted(t.index)


@pytest.mark.slow
def test_fit_many_comparing_laws_saves_every_law_of_every_group(tmp_path):
    out = tmp_path / "out"
    laws = ["power_law", "power_law_offset"]
    res = bs.fit_many(_table()[lambda d: d["curve"] != "c2"], group="curve", laws=laws, x="x", y="y",
                      targets=[1e6], out=out, n_workers=1, **SAMPLING)
    t = res.table.set_index("group")
    assert t.loc["bad", "status"] == "failed"
    for g in ("c0", "c1"):
        rec = next(r for r in res.records if r["group"] == g)
        assert rec["status"] in ("ok", "unreliable") and rec["recommended"] in laws
        assert set(rec["saved"]) == set(laws) and t.loc[g, "forecast0_lower"] < t.loc[g, "forecast0_upper"]
        for nm in laws:
            again = bs.load(rec["saved"][nm])
            assert again.law.name == nm and (out / "fits" / g / f"{nm}.nc").is_file()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_cli_group_through_an_existing_scheduler(tmp_path, capsys):
    port = _free_port()
    addr = f"tcp://127.0.0.1:{port}"
    procs = [subprocess.Popen([sys.executable, "-m", "distributed.cli.dask_scheduler", "--host", "127.0.0.1",
                               "--port", str(port), "--no-dashboard"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)]
    try:
        time.sleep(3)
        procs.append(subprocess.Popen([sys.executable, "-m", "distributed.cli.dask_worker", addr, "--nworkers", "1",
                                       "--nthreads", "1", "--no-dashboard"],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        p = tmp_path / "curves.csv"
        _table().to_csv(p, index=False)
        rc = main(["fit", str(p), "--x", "x", "--y", "y", "--law", "power_law_offset", "--group", "curve",
                   "--scheduler", addr, "--json", "--draws", "60", "--tune", "100", "--chains", "2"])
        out = capsys.readouterr().out
        assert rc == 0
        recs = {r["group"]: r for r in map(json.loads, out.splitlines())}
        assert set(recs) == {"c0", "c1", "c2", "bad"}
        assert recs["bad"]["status"] == "failed" and recs["bad"]["reason"]
        assert all(recs[g]["law"] == "power_law_offset" and "E" in recs[g]["parameters"] for g in ("c0", "c1", "c2"))
    finally:
        for pr in reversed(procs):
            pr.terminate()
            pr.wait(timeout=30)


def test_fit_many_checks_before_starting_a_cluster(tmp_path):
    df = _table()
    with pytest.raises(bs.DataError, match="no group column 'nope'"):
        bs.fit_many(df, group="nope", law="power_law_offset", x="x", y="y")
    with pytest.raises(bs.BayescaleError, match="law= .* or laws="):
        bs.fit_many(df, group="curve", x="x", y="y")
    with pytest.raises(bs.BayescaleError, match="resume needs out="):
        bs.fit_many(df, group="curve", law="power_law_offset", resume=True)
    with pytest.raises(bs.LawError, match="unknown law"):
        bs.fit_many(df, group="curve", law="nolaw")
    with pytest.raises(bs.FitError, match="probability"):
        bs.fit_many(df, group="curve", law="power_law_offset", prob=2)
    rc = main(["fit", str(tmp_path / "x.csv"), "--x", "x", "--y", "y", "--law", "power_law", "--resume"])
    assert rc == 2


_WORKER_KEYS = ("distributed.worker.profile.enabled", "distributed.admin.tick.interval",
                "distributed.admin.system-monitor.interval", "distributed.worker.memory.monitor-interval")


def _worker_settings(_item):
    import os

    import dask

    return [dask.config.get(k) for k in _WORKER_KEYS] + [os.environ.get(k) for k in _WORKER_ENVIRON]


_WORKER_ENVIRON = ("MALLOC_TRIM_THRESHOLD_", "OMP_NUM_THREADS")


@pytest.mark.slow
def test_local_cluster_runs_without_the_profiler_with_slower_monitors_and_one_task_per_worker(monkeypatch):
    # the dashboard's stack sampler and the 20 ms / 100 ms / 500 ms monitors took CPU from the fits,
    # two tasks per one-thread worker left a worker idle at the end of a run, and Dask's malloc trim
    # setting made the fits' large arrays fault in page by page; the package's own LocalCluster changes
    # all of these, keeps one BLAS thread per worker, and leaves the client's configuration alone
    import dask

    from bayescale.evaluate.many import _client

    for name in _WORKER_ENVIRON:  # as in a fresh shell (the process's own setting would win)
        monkeypatch.delenv(name, raising=False)
    client, release = _client(None, 1)  # the cluster dask_map and fit_many start
    try:
        assert list(client.run(_worker_settings, 0).values()) == [[False, "1s", "10s", "2s", None, "1"]]
        assert client.cluster.scheduler.WORKER_SATURATION == 1.0
    finally:
        release()
    assert _worker_settings(0)[:5] == [True, "20ms", "500ms", "100ms", None]
    assert dask.config.get("distributed.scheduler.worker-saturation") == 1.1
    assert dask.config.get("distributed.nanny.pre-spawn-environ")["MALLOC_TRIM_THRESHOLD_"] == 65536


_SET_UP: dict[str, int] = {}


def _set_up(value: int) -> None:
    _SET_UP["value"] = value


def _seen_set_up(_item):
    return _SET_UP.get("value")


def test_dask_map_refuses_an_initializer_whose_state_would_not_persist():
    # functions of a script run as __main__ travel by value, each copy with fresh globals: the
    # benchmark's warm-up ran again for every curve that way. Refused before any cluster starts.
    from bayescale.evaluate.many import dask_map

    def init():
        pass

    init.__module__ = "__main__"
    with pytest.raises(bs.BayescaleError, match="__main__"):
        next(dask_map(_seen_set_up, [0], initializer=init))


@pytest.mark.slow
def test_dask_map_items_see_what_the_initializer_set_on_their_worker():
    from bayescale.evaluate.many import dask_map

    assert list(dask_map(_seen_set_up, [0, 1, 2], n_workers=1, initializer=_set_up, initargs=(7,))) == [7, 7, 7]
