"""When would each run have ended under the two ways of handing out tasks?  (issue 18)

Replays a part's recorded per-curve times, in the order the benchmark submits the curves, on 2
workers: ``first idle`` hands the next curve to the first worker that falls idle (a process pool);
``two per worker`` keeps up to two curves on each worker, the next one sent to a worker when one of
its own finishes (Dask's default worker saturation of 1.1 on one-thread workers: ceil(1.1) = 2).
Prints both beside the observed busy time of each worker (the sum of its curves' times).  Written by
hand: this is a replay of recorded durations, which no scheduling library offers.

Usage: ``BAYESCALE_DATA=... python benchmarks/records/dask_vs_pool/replay.py RUN [RUN ...]`` (RUN: a
``partI/dask`` or ``partI/pool`` folder; the part is read from the folder name).
"""

from __future__ import annotations

import heapq
import json
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # benchmarks/
sys.path.insert(0, str(Path(__file__).resolve().parent))

import extrapolation as ex  # noqa: E402
from compare import _jsonl  # noqa: E402


def names_in_submission_order(part: int, n_parts: int = 5) -> list[str]:
    """The curves of ``--part part/n_parts`` in the order ``extrapolation.main`` submits them."""
    return [c.name for c in ex.submission_order(ex.select_curves(ex.load_curves(), part=(part, n_parts)))]


def first_idle(durations: list[float], workers: int = 2) -> float:
    """End of the run when each task goes to the first worker that falls idle."""
    ends = [0.0] * workers
    for d in durations:
        i = ends.index(min(ends))
        ends[i] += d
    return max(ends)


def two_per_worker(durations: list[float], workers: int = 2) -> float:
    """End of the run when each worker holds up to two tasks and gets the next when one of its own ends."""
    # ends[w]: when worker w's last queued task ends; done: (time a task ends, its worker)
    ends, done = [0.0] * workers, []
    for k, d in enumerate(durations):
        # the first tasks go round robin, two per worker; then a slot that frees on worker w (the
        # earliest end still pending) takes the next task, which queues behind w's other task
        w = k % workers if k < 2 * workers else heapq.heappop(done)[1]
        ends[w] += d
        heapq.heappush(done, (ends[w], w))
    return max(ends)


def main(runs: list[Path]) -> int:
    print("| run | busy per worker (s) | first idle (s) | two per worker (s) |")
    print("|---|---|---|---|")
    for run in runs:
        part = int(re.search(r"part(\d+)", str(run)).group(1))
        rows = _jsonl(run / "timings.jsonl")
        took = {r["curve"]: r["curve_s"] for r in rows}
        busy: dict[int, float] = {}
        for r in rows:
            busy[r["pid"]] = busy.get(r["pid"], 0.0) + r["curve_s"]
        d = [took[name] for name in names_in_submission_order(part)]
        print(f"| {run} | {' / '.join(f'{b:.0f}' for b in sorted(busy.values()))} | {first_idle(d):.0f} | "
              f"{two_per_worker(d):.0f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main([Path(a) for a in sys.argv[1:]]))
