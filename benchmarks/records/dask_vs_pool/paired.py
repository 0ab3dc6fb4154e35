"""Dask against the pool inside the curves, paired: one Dask worker and one pool worker side by side.

The five-part benchmark runs the two paths one after the other, so a drift of the machine's speed
between them lands in the comparison; on a shared machine whose speed drifts by 10-20% within minutes
(2026-12-05) that swamps the 1% sought.  Here a one-worker run of each path works through the same
curves in the same order at the same time, one on each core, so curve ``k`` of both runs meets the same
machine and the per-curve ratio Dask / pool is a paired measurement of what each path costs inside a
curve (scheduling is not measured: with one worker each there is none to compare).

Usage (both at once, same arguments)::

    python benchmarks/records/dask_vs_pool/paired.py dask --part 3/5 --first 8 --out DIR &
    python benchmarks/records/dask_vs_pool/paired.py pool --part 3/5 --first 8 --out DIR

``--only Nano --part 0/1`` takes the 24 nanoGPT curves of all parts.  Each writes ``DIR/WAY.jsonl``: per
curve its time inside the worker (``curve_s``), the worker's pid and the curve's rows, for the same-numbers
check.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # benchmarks/, for `import extrapolation`

import extrapolation as ex  # noqa: E402

# the benchmark's settings in the issue-18 comparisons since stop 33, both paths alike
SETTINGS = {"draws": 500, "tune": 500, "chains": 4, "seed": 0, "laws": list(ex.FULL_LAWS), "likelihood": "lognormal"}


def curves(part: tuple[int, int], only: str = "", first: int | None = None) -> list:
    """The benchmark's curves of ``part`` in submission order, those named ``only...``, the first ``first``."""
    return [c for c in ex.submission_order(ex.select_curves(ex.load_curves(), part=part))
            if c.name.startswith(only)][:first]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("way", choices=("dask", "pool"))
    p.add_argument("--part", type=ex.part_arg, required=True, metavar="I/K",
                   help="every K-th curve from the I-th, as extrapolation.py")
    p.add_argument("--first", type=int, default=None, help="only the first N curves in submission order")
    p.add_argument("--only", default="", metavar="PREFIX", help="only curves whose name starts with PREFIX")
    p.add_argument("--out", type=Path, required=True)
    a = p.parse_args(argv)
    part = a.part
    cfg = {**SETTINGS, "selection": f"part {part[0]}/{part[1]}, first {a.first}"}
    todo = curves(part, a.only, a.first)
    jobs = [(c, {**cfg, "plot_curve": None}) for c in todo]
    if a.way == "dask":
        from bayescale.evaluate.many import dask_map

        results = dask_map(ex._run_one, jobs, n_workers=1, initializer=ex.init_worker, initargs=(cfg,))
    else:
        from concurrent.futures import ProcessPoolExecutor
        from multiprocessing import get_context

        pool = ProcessPoolExecutor(max_workers=1, mp_context=get_context("spawn"), initializer=ex.init_worker,
                                   initargs=(cfg,))
        results = (f.result() for f in [pool.submit(ex._run_one, j) for j in jobs])
    a.out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    with open(a.out / f"{a.way}.jsonl", "w") as fh:
        for rows, tm in results:
            fh.write(json.dumps({"way": a.way, "curve": rows[0]["curve"], "curve_s": tm["curve_s"],
                                 "pid": tm["pid"], "end_s": time.perf_counter() - t0, "rows": rows},
                                default=float) + "\n")
            fh.flush()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
