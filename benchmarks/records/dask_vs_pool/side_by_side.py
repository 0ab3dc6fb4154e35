"""A Dask worker and a pool worker running the same warm fit loop at the same time, round after round.

The paired form of ``malloc_trim.py``'s warm loop: one worker of the package's LocalCluster
(``_LOCAL_CLUSTER_CONFIG``, one worker process) and one spawned ``ProcessPoolExecutor`` worker (the
benchmark's former path), each on one of the two cores, each running ``N`` warm bnsl1 fits in every
round.  Both meet the same machine at the same moment, so the ratio of their times is free of the drift
that sequential rounds suffer (10-20% within minutes on the shared machine).  What this cannot
measure is the cluster's other threads (scheduler, nanny), which run on whichever core is free and so
slow both sides alike; ``background.py`` measures those.  Each side's figures are of its whole process
(``RUSAGE_SELF``), so a Dask worker's own event loop is counted on the Dask side.

Usage: ``python benchmarks/records/dask_vs_pool/side_by_side.py N ROUNDS``; one JSON line per round.
"""

from __future__ import annotations

import json
import sys
import time


def main(n: int, rounds: int) -> None:
    from concurrent.futures import ProcessPoolExecutor
    from multiprocessing import get_context

    from bayescale.evaluate.many import _client
    from malloc_trim import loop  # beside this file: the script's folder is first on sys.path (and the workers')

    client, release = _client(None, 1)  # the package's own LocalCluster, as fit_many and dask_map start it
    try:
        with ProcessPoolExecutor(max_workers=1, mp_context=get_context("spawn")) as ex:
            # warm both (imports, compile) one at a time, so that the rounds start warm on both sides
            ex.submit(loop, 0).result()
            client.submit(loop, 0, pure=False).result()
            for r in range(1, rounds + 1):
                t = time.time()
                pool = ex.submit(loop, n)
                dk = client.submit(loop, n, pure=False)
                row = {"round": r, "t": t, "n": n, "dask": dk.result(), "pool": pool.result()}
                row["wall_ratio"] = row["dask"]["wall_s"] / row["pool"]["wall_s"]
                row["user_ratio"] = row["dask"]["user_s"] / row["pool"]["user_s"]
                print(json.dumps(row), flush=True)
    finally:
        release()


if __name__ == "__main__":
    main(int(sys.argv[1]), int(sys.argv[2]))
