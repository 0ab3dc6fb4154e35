"""Dask's worker environment under full load: the same warm fit loop on two workers at once, three ways.

``background.py`` measures the CPU Dask's threads spend besides the fits, one process at a time.  This
measures what it cannot: a difference in the fits' own cost.  Dask's nanny starts every worker with
``MALLOC_TRIM_THRESHOLD_=65536`` (``distributed.nanny.pre-spawn-environ``; glibc then gives freed memory
back to the system early, and fixing that threshold also stops glibc from raising its mmap threshold, so
large arrays are mapped and unmapped each time), which costs page faults and system time; the process pool
the benchmark used before ran its workers without it.

Modes, each a pair of worker processes running ``N`` warm ``bnsl1`` fits at the same time on the two
cores, as the 132-curve benchmark does:

* ``pool``: a ``ProcessPoolExecutor`` of spawned processes (the former path);
* ``bayescale``: the package's LocalCluster (``_LOCAL_CLUSTER_CONFIG``), which kept Dask's environment
  up to commit 919f776 (the record ``malloc_trim.jsonl`` ran in that commit's clone);
* ``notrim``: the same with ``MALLOC_TRIM_THRESHOLD_`` left out of the worker environment (one BLAS
  thread kept).  From commit 8b3399a the package's LocalCluster does this itself, so there the two
  modes are the same cluster.

``pair``: two plain processes side by side, one with Dask's ``MALLOC_TRIM_THRESHOLD_`` and one without
(see ``pair``).

Usage: ``python benchmarks/records/dask_vs_pool/malloc_trim.py MODE N``; prints one JSON line per worker.
"""

from __future__ import annotations

import json
import logging
import os
import resource
import sys
import time


def loop(n: int) -> dict:
    """``n`` warm ``bnsl1`` fits (4 chains of 500 + 500) of one simulated curve: wall, CPU, page faults."""
    import numpy as np

    import bayescale as bs

    df = bs.simulate(law="bnsl1", x=np.logspace(1, 5, 30), seed=3)
    kw = dict(law="bnsl1", x="x", y="y", draws=500, tune=500, chains=4, cores=1, progressbar=False)
    bs.fit(df, seed=0, **kw)  # compiles
    w0, r0 = time.perf_counter(), resource.getrusage(resource.RUSAGE_SELF)
    for i in range(n):
        bs.fit(df, seed=i + 1, **kw)
    wall, r1 = time.perf_counter() - w0, resource.getrusage(resource.RUSAGE_SELF)
    return {"pid": os.getpid(), "wall_s": wall, "user_s": r1.ru_utime - r0.ru_utime,
            "system_s": r1.ru_stime - r0.ru_stime, "minor_faults": r1.ru_minflt - r0.ru_minflt,
            "trim": os.environ.get("MALLOC_TRIM_THRESHOLD_"), "omp": os.environ.get("OMP_NUM_THREADS")}


def main(mode: str, n: int) -> list[dict]:
    if mode == "pool":
        from concurrent.futures import ProcessPoolExecutor
        from multiprocessing import get_context

        with ProcessPoolExecutor(max_workers=2, mp_context=get_context("spawn")) as ex:
            ex.submit(int).result()  # both started before the loops: one loop per process
            outs = [f.result() for f in [ex.submit(loop, n) for _ in range(2)]]
    else:
        import dask
        from distributed import Client, LocalCluster

        from bayescale.evaluate.many import _LOCAL_CLUSTER_CONFIG

        cfg = dict(_LOCAL_CLUSTER_CONFIG)
        if mode == "notrim":
            env = dict(dask.config.get("distributed.nanny.pre-spawn-environ"))
            env.pop("MALLOC_TRIM_THRESHOLD_")
            cfg["distributed.nanny.pre-spawn-environ"] = env
        with dask.config.set(cfg):
            cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                                   silence_logs=logging.ERROR)
        client = Client(cluster, set_as_default=False)
        try:
            workers = list(client.scheduler_info()["workers"])
            outs = client.gather([client.submit(loop, n, pure=False, workers=[w]) for w in workers])
        finally:
            client.close()
            cluster.close()
    return [{"mode": mode, "n": n, **o} for o in outs]


def pair(n: int) -> list[dict]:
    """Two plain processes at once, one with Dask's ``MALLOC_TRIM_THRESHOLD_`` and one without.

    On a shared machine the speed of a core drifts by 10-20% within minutes, more than the effect
    sought; two loops that run side by side see the same drift, so their ratio is a paired measurement.
    """
    import subprocess

    env = {k: v for k, v in os.environ.items() if k != "MALLOC_TRIM_THRESHOLD_"}
    procs = [subprocess.Popen([sys.executable, __file__, "child", str(n)], stdout=subprocess.PIPE, text=True,
                              env={**env, **extra}) for extra in ({}, {"MALLOC_TRIM_THRESHOLD_": "65536"})]
    return [{"mode": "pair", "n": n, **json.loads(p.communicate()[0])} for p in procs]


if __name__ == "__main__":
    if sys.argv[1] == "child":
        print(json.dumps(loop(int(sys.argv[2]))), flush=True)
    else:
        for row in (pair if sys.argv[1] == "pair" else lambda n: main(sys.argv[1], n))(int(sys.argv[2])):
            print(json.dumps(row), flush=True)
