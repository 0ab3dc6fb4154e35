"""Speed of bayescale fits: cold compile, warm fit of a 1-break BNSL, and per-curve times.

Prints

* the cold compile time of ``bnsl1`` (``nutpie.compile_pymc_model`` of the built model, timed
  directly, in a fresh process with an empty in-process cache; the on-disk Numba cache under
  ``~/.pytensor`` may still hold parts of it from earlier runs, which is what a user sees too);
* the warm fit time of ``bayescale.fit(law="bnsl1")`` on 30 simulated points with the default
  settings (draws = tune = 1000, 4 chains) and ``cores=2``: the median of 5 fits after a first one
  (the first compiles; later fits swap the data into the cached compiled model);
* per-curve times of the extrapolation benchmark (from its ``timings.jsonl`` when one exists, else
  from a short run over ``--curves`` benchmark curves with the benchmark's settings).

Targets: warm bnsl1 on 30 points <= 3 s on 2 cores; every benchmark curve < 10 min.

Usage::

    python benchmarks/speed.py                    # compile + warm fits + per-curve times of the last benchmark run
    python benchmarks/speed.py --curves 4         # also time 4 benchmark curves here
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from pathlib import Path
from typing import Sequence

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))


def cold_compile(law: str = "bnsl1") -> float:
    """Seconds to compile ``law``'s model with nutpie (30 simulated points), timed directly."""
    import nutpie

    import bayescale as bs
    from bayescale.spec.data import Dataset
    from bayescale.inference.model import build_model

    df = bs.simulate(law=law, x=np.logspace(2, 5, 30), noise=0.02, seed=1)
    ds = Dataset(inputs={"x": df["x"].to_numpy(float)}, y=df["y"].to_numpy(float), columns={"x": "x", "y": "y"})
    t0 = time.perf_counter()
    model = build_model(bs.get_law(law), ds)
    nutpie.compile_pymc_model(model)
    return time.perf_counter() - t0


def warm_fits(law: str = "bnsl1", *, n: int = 5, cores: int = 2, draws: int = 1000, tune: int = 1000,
              chains: int = 4) -> tuple[float, list[float], list[int]]:
    """First fit time, then ``n`` warm fit times (new data each time) and their divergence counts."""
    import bayescale as bs

    x = np.logspace(2, 5, 30)
    times, divs = [], []
    first = None
    for i in range(n + 1):
        df = bs.simulate(law=law, x=x, noise=0.02, seed=100 + i)
        t0 = time.perf_counter()
        f = bs.fit(df, law=law, draws=draws, tune=tune, chains=chains, cores=cores, seed=i, progressbar=False)
        dt = time.perf_counter() - t0
        if first is None:
            first = dt
        else:
            times.append(dt)
            divs.append(int(f.diagnostics().divergences))
    return float(first), times, divs


def _read_timings(out: Path) -> list[dict]:
    import extrapolation as ex

    return ex.read_timings(out)


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--n", type=int, default=5, help="warm fits to time (median reported)")
    p.add_argument("--cores", type=int, default=2)
    p.add_argument("--curves", type=int, default=0, help="benchmark curves to time here (0: read the last run's timings)")
    p.add_argument("--results", type=Path, default=HERE / "results" / "extrapolation",
                   help="output folder of the extrapolation run whose per-curve times to read")
    a = p.parse_args(argv)
    warnings.filterwarnings("ignore")

    t = cold_compile("bnsl1")
    print(f"cold compile of bnsl1 (nutpie.compile_pymc_model, this process): {t:.1f} s")
    first, times, divs = warm_fits("bnsl1", n=a.n, cores=a.cores)
    med = float(np.median(times))
    print(f"bayescale.fit bnsl1, 30 points, draws=tune=1000, chains=4, cores={a.cores}: first fit in this "
          f"process {first:.1f} s (includes building the cache entry); warm fits "
          + ", ".join(f"{v:.2f}" for v in times) + f" s; median {med:.2f} s "
          f"({'meets' if med <= 3 else 'MISSES'} the 3 s target); divergences {divs}")
    if a.curves:
        import extrapolation as ex

        curves = ex.select_curves(ex.load_curves(), every=max(1, 92 // a.curves))[: a.curves]
        cfg = {"draws": 1000, "tune": 1000, "chains": 4, "seed": 0, "laws": list(ex.FULL_LAWS)}
        t0 = time.perf_counter()
        ex.init_worker(cfg)
        print(f"benchmark worker warm-up (compile + warm fit per law): {time.perf_counter() - t0:.1f} s; "
              + "; ".join(f"{k} compile {v['compile_s']:.1f} s, warm {v['warm_fit_s']:.2f} s"
                          for k, v in ex._WORKER["warmup"].items()))
        for c in curves:
            t0 = time.perf_counter()
            ex.run_curve(c, cfg)
            print(f"  {c.name}: {time.perf_counter() - t0:.1f} s ({c.x_fit.size} fit / {c.x_test.size} held-out points)")
    elif tm := _read_timings(a.results):
        cs = np.array([r["curve_s"] for r in tm])
        print(f"per-curve times from {a.results} ({cs.size} curves, after compile): median {np.median(cs):.1f} s, "
              f"90th percentile {np.quantile(cs, 0.9):.1f} s, max {cs.max():.1f} s "
              f"({'all' if cs.max() < 600 else 'NOT all'} under 10 min)")
        slow = sorted(tm, key=lambda r: -r["curve_s"])[:5]
        for r in slow:
            print(f"  {r['curve']}: {r['curve_s']:.1f} s")
        ws = {r["pid"]: r["warmup"] for r in tm if r.get("warmup")}
        for pid, w in ws.items():
            print(f"  worker {pid} compile: " + "; ".join(f"{k} {v['compile_s']:.1f} s (warm fit {v['warm_fit_s']:.2f} s)"
                                                         for k, v in w.items()))
    else:
        print(f"no per-curve timings: run benchmarks/extrapolation.py first or pass --curves N")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
