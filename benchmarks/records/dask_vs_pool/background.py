"""What a Dask worker spends besides the fits: the same warm fit loop in a plain process and in a worker.

One process at a time, on an otherwise idle machine, so that the background threads (Dask's event loops,
monitors) run on the other core and their cost shows as CPU time beyond the wall time instead of as a
slower fit.  Per mode: the loop's wall time, the worker process's CPU time over the loop (all threads),
``background`` = CPU minus wall (the loop itself is one busy thread), and the client process's CPU time
while it waits (with a LocalCluster of processes, the scheduler's event loop runs there).

Modes: ``plain`` (no Dask), ``dask`` (Dask's defaults with the stack profiler off: the package's
LocalCluster before commit 23b216f), ``bayescale`` (the package's settings,
``bayescale.evaluate.many._LOCAL_CLUSTER_CONFIG``).

Usage: ``python benchmarks/records/dask_vs_pool/background.py MODE N`` (N warm fits after one that
compiles); prints one JSON line.
"""

from __future__ import annotations

import json
import logging
import resource
import sys
import time


def loop(n: int) -> dict:
    """``n`` warm ``bnsl1`` fits (4 chains of 500 + 500) of one simulated curve; times and CPU."""
    import numpy as np

    import bayescale as bs

    df = bs.simulate(law="bnsl1", x=np.logspace(1, 5, 30), seed=3)
    kw = dict(law="bnsl1", x="x", y="y", draws=500, tune=500, chains=4, cores=1, progressbar=False)
    bs.fit(df, seed=0, **kw)  # compiles
    w0, r0 = time.perf_counter(), resource.getrusage(resource.RUSAGE_SELF)
    for i in range(n):
        bs.fit(df, seed=i + 1, **kw)
    wall, r1 = time.perf_counter() - w0, resource.getrusage(resource.RUSAGE_SELF)
    cpu = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
    return {"wall_s": wall, "cpu_s": cpu, "background_s": cpu - wall,
            "voluntary_switches": r1.ru_nvcsw - r0.ru_nvcsw}


def main(mode: str, n: int) -> dict:
    if mode == "plain":
        return {"mode": mode, "n": n, **loop(n)}
    import dask
    from distributed import Client, LocalCluster

    from bayescale.evaluate.many import _LOCAL_CLUSTER_CONFIG

    cfg = {"dask": {"distributed.worker.profile.enabled": False}, "bayescale": _LOCAL_CLUSTER_CONFIG}[mode]
    with dask.config.set(cfg):
        cluster = LocalCluster(n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None,
                               silence_logs=logging.ERROR)
    client = Client(cluster, set_as_default=False)
    try:
        c0 = time.process_time()
        out = client.submit(loop, n, pure=False).result()
        client_cpu = time.process_time() - c0
    finally:
        client.close()
        cluster.close()
    return {"mode": mode, "n": n, **out, "client_cpu_s": client_cpu}


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1], int(sys.argv[2]))), flush=True)
