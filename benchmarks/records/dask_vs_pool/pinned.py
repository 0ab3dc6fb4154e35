"""Dask against the pool inside the curves, paired, with the two cores pinned and swapped.

``paired.py`` runs one Dask worker and one pool worker side by side, so both meet the same moment;
but each tends to stay on one core, and this machine's two cores ran up to 40% apart at the same
moment (2026-12-05), so a paired ratio also measures which core each side happened to get.  Here each
curve runs twice on both sides at once: once with the Dask worker's task pinned to core 0 and the pool
worker's to core 1, once the other way round (the order alternating from curve to curve).  A core's
speed that holds for the two runs of a curve cancels in the geometric mean of the two Dask / pool
ratios.  Pinning is of the calling thread (``os.sched_setaffinity(0, ...)``, Linux); the sampler's
threads, started by it, inherit it; the cluster's other threads and processes are not pinned.

Per run each side also reports the CPU time of its calling thread and of its process's other threads
that live across the run (on the Dask side: the worker's event loop and Dask's threads; the sampler's
threads come and go with each fit and are left out), read from ``/proc/self/task``.

Usage: ``python benchmarks/records/dask_vs_pool/pinned.py run --only Nano --out RECORD.jsonl`` (one JSON
line per run) and ``pinned.py summary RECORD.jsonl``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import threading
import time
from collections import defaultdict
from pathlib import Path

# this folder (abba.py, compare.py, paired.py; needed when imported by path, as the tests do) and
# benchmarks/ (extrapolation.py)
sys.path[:0] = [str(Path(__file__).resolve().parent), str(Path(__file__).resolve().parents[2])]

from abba import summary  # noqa: E402
from compare import largest_difference  # noqa: E402
from paired import SETTINGS, curves  # noqa: E402


def _thread_cpu() -> dict[str, tuple[str, float]]:
    """CPU seconds (user + system) of each live thread of this process, by thread id, with its name."""
    out = {}
    tick = os.sysconf("SC_CLK_TCK")
    for tid in os.listdir("/proc/self/task"):
        try:
            stat = Path(f"/proc/self/task/{tid}/stat").read_text()
        except OSError:  # the thread ended while listed
            continue
        fields = stat[stat.rindex(")") + 2:].split()  # after "pid (name) ": state is field 3 of stat(5)
        out[tid] = (stat[stat.index("(") + 1:stat.rindex(")")], (int(fields[11]) + int(fields[12])) / tick)
    return out


def timed_curve(curve, cfg: dict, core: int) -> dict:
    """``run_curve`` on one curve with this thread (and the threads it starts) pinned to ``core``."""
    import extrapolation as ex

    every = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {core})
    try:
        before, t0, c0 = _thread_cpu(), time.perf_counter(), time.thread_time()
        rows = ex.run_curve(curve, {**cfg, "plot_curve": None})
        wall, calling, after = time.perf_counter() - t0, time.thread_time() - c0, _thread_cpu()
    finally:
        os.sched_setaffinity(0, every)
    me = str(threading.get_native_id())
    others = sum(after[k][1] - before[k][1] for k in before if k in after and k != me)
    return {"wall_s": wall, "calling_cpu_s": calling, "other_threads_cpu_s": others, "core": core,
            "pid": os.getpid(), "rows": rows}


def pair_ratios(rows: list[dict]) -> dict[str, float]:
    """Per curve with both runs done, the geometric mean of its two Dask / pool wall-time ratios.

    The two runs swap the cores, so a factor that a core's speed puts on both sides' times cancels.
    """
    runs = defaultdict(list)
    for r in rows:
        runs[r["curve"]].append(r["dask"]["wall_s"] / r["pool"]["wall_s"])
    return {c: math.sqrt(v[0] * v[1]) for c, v in runs.items() if len(v) == 2}


def _max_difference(a: list[dict], b: list[dict]) -> float:
    """``compare.largest_difference`` of two runs' rows, or inf if any row or text differs."""
    worst, _, mismatches = largest_difference(a, b)
    return math.inf if mismatches else worst


def run(only: str, first: int | None, out: Path) -> None:
    from concurrent.futures import ProcessPoolExecutor
    from multiprocessing import get_context

    import extrapolation as ex
    from bayescale.evaluate.many import _add_paths, _client

    cfg = dict(SETTINGS)
    client, release = _client(None, 1)  # the package's own LocalCluster, as fit_many and dask_map start it
    try:
        with ProcessPoolExecutor(max_workers=1, mp_context=get_context("spawn"), initializer=ex.init_worker,
                                 initargs=(cfg,)) as pool, open(out, "a") as fh:
            client.run(_add_paths, list(sys.path))  # benchmarks/ and this folder, as dask_map does
            client.run(ex.init_worker, cfg)
            pool.submit(int).result()  # both warm (imports, each law compiled) before the first curve
            for i, curve in enumerate(curves((0, 1), only, first)):
                for dask_core in ((0, 1) if i % 2 == 0 else (1, 0)):
                    t = time.time()
                    p = pool.submit(timed_curve, curve, cfg, 1 - dask_core)
                    d = client.submit(timed_curve, curve, cfg, dask_core, pure=False).result()
                    q = p.result()
                    row = {"curve": curve.name, "t": t, "dask": d, "pool": q,
                           "max_difference": _max_difference(d.pop("rows"), q.pop("rows"))}
                    fh.write(json.dumps(row) + "\n")
                    fh.flush()
    finally:
        release()


def report(record: Path) -> None:
    rows = [json.loads(ln) for ln in open(record)]
    ratios = pair_ratios(rows)
    for c, r in ratios.items():
        print(f"{c}: Dask / pool {r:.3f}")
    s = summary(list(ratios.values()))
    tot = {w: {k: sum(r[w][k] for r in rows) for k in ("wall_s", "calling_cpu_s", "other_threads_cpu_s")}
           for w in ("dask", "pool")}
    print(f"{s['cycles']} curves, each run twice with the cores swapped: Dask / pool geometric mean {s['ratio']:.3f} "
          f"(90% interval {s['lo90']:.3f}-{s['hi90']:.3f}), Dask slower in {s['a_slower_in']}")
    print(f"{len(rows)} runs: wall {tot['dask']['wall_s']:.1f} s on Dask, {tot['pool']['wall_s']:.1f} s in the pool "
          f"(ratio {tot['dask']['wall_s'] / tot['pool']['wall_s']:.3f}); calling thread's CPU "
          f"{tot['dask']['calling_cpu_s']:.1f} / {tot['pool']['calling_cpu_s']:.1f} s; other threads' CPU "
          f"{tot['dask']['other_threads_cpu_s']:.2f} / {tot['pool']['other_threads_cpu_s']:.2f} s "
          f"({100 * tot['dask']['other_threads_cpu_s'] / tot['dask']['wall_s']:.2f}% of Dask's wall time)")
    print(f"largest difference between the two sides' numbers: {max(r['max_difference'] for r in rows):.3g}")


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run")
    r.add_argument("--only", default="", metavar="PREFIX", help="only curves whose name starts with PREFIX")
    r.add_argument("--first", type=int, default=None, help="only the first N of those, in submission order")
    r.add_argument("--out", type=Path, required=True, help="JSON lines, appended")
    s = sub.add_parser("summary")
    s.add_argument("record", type=Path)
    a = p.parse_args(argv)
    if a.cmd == "run":
        run(a.only, a.first, a.out)
    else:
        report(a.record)


if __name__ == "__main__":
    import pinned  # the workers import it by name, so its functions travel by reference

    pinned.main()
