"""The extrapolation benchmark on Dask against the former process pool, part by part (issue 18).

Each ``partI/`` holds one part (``--part I/5``) run twice one after the other, ``dask/`` by
``benchmarks/extrapolation.py`` and ``pool/`` by the same script with ``pool.patch`` applied (the
executor is the only difference); ``stamps.txt`` has each run's start, end and wall time.  Prints, per
part and in all: curves, wall time of each path, the sum and median of the per-curve times, and the
largest difference between the two paths' numbers over every row (same curve, method and law).

The runs of one frozen commit are kept in a folder named after it (``00915e3/partI/...``).  A part
whose pool run is missing there is compared with the pool run of the same part in ``--pool-from DIR2``
(the pool path does not use the code that changed between the commits), marked as from another sitting.

Usage: ``python benchmarks/records/dask_vs_pool/compare.py [DIR] [--pool-from DIR2]`` (DIR: by default
each commit's folder here in turn).
"""

from __future__ import annotations

import argparse
import gzip
import json
import re
import sys
from pathlib import Path

import numpy as np


def _jsonl(path: Path) -> list[dict]:
    """The records of a ``.jsonl`` file, or of its gzipped copy ``.jsonl.gz`` (as kept here)."""
    gz = path.with_name(path.name + ".gz")
    text = path.read_text() if path.is_file() else gzip.decompress(gz.read_bytes()).decode()
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def _numbers(value) -> np.ndarray:
    """Every number in a row's field (lists flattened; None as NaN); empty for text."""
    if isinstance(value, bool):
        return np.array([float(value)])
    if isinstance(value, (int, float)) or value is None:
        return np.array([np.nan if value is None else float(value)])
    if isinstance(value, list) and all(isinstance(v, (int, float, bool)) or v is None for v in value):
        return np.array([np.nan if v is None else float(v) for v in value])
    return np.array([])


def largest_difference(a: list[dict], b: list[dict]) -> tuple[float, int, list[str]]:
    """Largest absolute difference of any numeric field between matching rows; rows matched; mismatches
    (rows in one run only, or text fields that differ)."""
    skip = {"worker", "time_s", "seconds", "plot"}  # the worker's pid and the times differ by design
    key = lambda r: (r["curve"], r["method"], r.get("law"))  # noqa: E731
    ra, rb = {key(r): r for r in a}, {key(r): r for r in b}
    issues = [f"only in one run: {k}" for k in sorted(set(ra) ^ set(rb), key=str)]
    worst = 0.0
    for k in set(ra) & set(rb):
        for f in set(ra[k]) | set(rb[k]):
            if f in skip:
                continue
            x, y = ra[k].get(f), rb[k].get(f)
            if isinstance(x, dict) and isinstance(y, dict) and set(x) == set(y):  # e.g. stacking weights by law
                x, y = [x[i] for i in sorted(x)], [y[i] for i in sorted(y)]
            nx, ny = _numbers(x), _numbers(y)
            if nx.size and nx.shape == ny.shape:
                both = np.isfinite(nx) & np.isfinite(ny)
                if np.any(np.isfinite(nx) != np.isfinite(ny)):
                    issues.append(f"{k} {f}: finite in one run only")
                if both.any():
                    worst = max(worst, float(np.max(np.abs(nx[both] - ny[both]))))
            elif x != y:
                issues.append(f"{k} {f}: {str(x)[:60]!r} vs {str(y)[:60]!r}")
    return worst, len(set(ra) & set(rb)), issues


def wall(stamps: Path) -> dict[str, float]:
    out = {}
    for line in stamps.read_text().splitlines():
        m = re.match(r"(\w+) part \d+ end \S+ rc (\d+) wall_s ([\d.]+)", line)
        if m and m.group(2) == "0":
            out[m.group(1)] = float(m.group(3))
    return out


def main(root: Path, pool_from: Path | None = None) -> int:
    rows, total = [], {"dask": [0.0, []], "pool": [0.0, []]}
    for part in sorted(root.glob("part*")):
        src = {"dask": part, "pool": part}
        if not (part / "pool" / "timings.jsonl").is_file() and pool_from is not None:
            src["pool"] = pool_from / part.name  # the same part's pool run, from another sitting
        if not all((src[p] / p / "timings.jsonl").is_file() for p in ("dask", "pool")):
            continue
        w = {p: wall(src[p] / "stamps.txt").get(p) for p in ("dask", "pool")}
        if None in w.values():
            continue
        t = {p: [r["curve_s"] for r in _jsonl(src[p] / p / "timings.jsonl")] for p in ("dask", "pool")}
        worst, n, issues = largest_difference(_jsonl(part / "dask" / "rows.jsonl"), _jsonl(src["pool"] / "pool" / "rows.jsonl"))
        for p in total:
            total[p][0] += w[p]
            total[p][1] += t[p]
        sitting = "same" if src["pool"] == part else f"pool from {pool_from.name}"
        rows.append(f"| {part.name} | {len(t['dask'])} | {w['dask']:.0f} | {w['pool']:.0f} | "
                    f"{sum(t['dask']):.0f} / {sum(t['pool']):.0f} | "
                    f"{np.median(t['dask']):.1f} / {np.median(t['pool']):.1f} | {n} | {worst:.1e} | {len(issues)} "
                    f"| {sitting} |")
        for i in issues[:10]:
            print(f"{part.name}: {i}")
    if not rows:
        print("no part has both runs finished")
        return 1
    d, p = total["dask"], total["pool"]
    print("| part | curves | wall Dask (s) | wall pool (s) | curve time Dask / pool (s) | per-curve median Dask / pool (s) "
          "| rows compared | largest difference | mismatches | sitting |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    print("\n".join(rows))
    print(f"| all | {len(d[1])} | {d[0]:.0f} | {p[0]:.0f} | {sum(d[1]):.0f} / {sum(p[1]):.0f} | "
          f"{np.median(d[1]):.1f} / {np.median(p[1]):.1f} | | | | |")
    print(f"\nDask / pool wall time: {d[0] / p[0]:.3f}")
    return 0


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("dir", nargs="?", type=Path, help="one commit's folder of parts (default: each folder here)")
    ap.add_argument("--pool-from", type=Path, help="where a part's missing pool run is taken from")
    a = ap.parse_args()
    here = Path(__file__).resolve().parent
    roots = [a.dir] if a.dir else sorted(d for d in here.iterdir() if d.is_dir() and any(d.glob("part*")))
    rc = 0
    for r in roots:
        if len(roots) > 1:
            print(f"\n## {r.name}\n")
        rc = max(rc, main(r, a.pool_from))
    raise SystemExit(rc)
