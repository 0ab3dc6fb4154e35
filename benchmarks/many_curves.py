"""Cost and memory of many curves through bayescale.fit_many on a Dask LocalCluster.

Simulates ``--curves`` small curves (power_law_offset, 9 points each, seeded), fits them through
``bayescale.fit_many`` with ``--workers`` worker processes, results streamed to ``--out``, and
prints: wall time, time per curve, time per curve per worker, the peak resident memory of this
(client) process, and the count of groups ok / failed.  ``--draws`` etc. set the sampling (default
4 chains x 1000 draws as a real fit; ``--tiny`` 1 chain x 30 draws to measure the machinery alone).

Usage: ``python benchmarks/many_curves.py --curves 1000 --tiny`` (memory), ``--curves 40`` (cost).
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

import bayescale as bs


def table(n: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = np.logspace(2, 5, 9)
    frames = []
    for g in range(n):
        E, A, alpha = rng.uniform(1.5, 2.5), rng.uniform(5, 20), rng.uniform(0.2, 0.5)
        y = (E + A * x ** -alpha) * np.exp(rng.normal(0, 0.02, x.size))
        frames.append(pd.DataFrame({"curve": f"c{g:05d}", "x": x, "y": y}))
    return pd.concat(frames, ignore_index=True)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--curves", type=int, default=40, help="number of simulated curves (default 40)")
    p.add_argument("--workers", type=int, default=2, help="Dask worker processes (default 2)")
    p.add_argument("--tiny", action="store_true", help="1 chain x 30 draws, 30 tuning steps: the machinery alone")
    p.add_argument("--out", type=Path, default=None, help="results folder (default: a temporary one)")
    a = p.parse_args(argv)
    kw = dict(draws=30, tune=30, chains=1) if a.tiny else dict(draws=1000, tune=1000, chains=4)
    out = a.out or Path(tempfile.mkdtemp())
    frame = table(a.curves)
    t0 = time.perf_counter()
    res = bs.fit_many(frame, group="curve", law="power_law_offset", x="x", y="y", out=out, n_workers=a.workers,
                      progress=sys.stderr.isatty(), **kw)
    wall = time.perf_counter() - t0
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    st = res.table["status"].value_counts().to_dict()
    print(f"curves {a.curves}, workers {a.workers}, sampling {kw}")
    print(f"wall {wall:.1f} s; {wall / a.curves:.3f} s per curve; {wall * a.workers / a.curves:.3f} worker-s per curve")
    print(f"client peak resident memory {peak_mb:.0f} MB; statuses {st}; results in {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
