"""Summarise alternating warm-loop rounds of two paths, run in A B B A cycles.

On the shared 2-core machine the speed drifts by 10-20% within minutes, more than the difference
sought, and two paths run one after the other meet different machines.  Rounds in A B B A order
cancel a drift that is linear over a cycle; many cycles average out the rest.  Each round is one
``malloc_trim.py MODE N`` run (two workers, ``N`` warm bnsl1 fits each, both cores busy), one JSON line
per worker with ``round`` added.  Per cycle, the ratio of the two A rounds' wall time (mean per
worker) to the two B rounds'; over cycles, the geometric mean of those ratios with a t interval.
A record of ``side_by_side.py`` (rows with ``wall_ratio``: the two paths at the same time) is
summarised the same way, one ratio per round.

Usage: ``python benchmarks/records/dask_vs_pool/abba.py RECORD.jsonl [--a bayescale --b pool]``.
"""

from __future__ import annotations

import argparse
import json
import math
from collections import defaultdict
from statistics import mean, stdev


def cycle_ratios(rows: list[dict], a: str, b: str, field: str = "wall_s") -> list[float]:
    """Per A B B A cycle (rounds 4c+1..4c+4), A's summed per-worker mean ``field`` over B's."""
    per_round: dict[int, list[dict]] = defaultdict(list)
    for r in rows:
        per_round[int(r["round"])].append(r)
    out = []
    for start in range(1, max(per_round, default=0) + 1, 4):
        rounds = [per_round.get(start + i, []) for i in range(4)]
        if not all(rounds):
            break  # a cycle still running
        modes = [rs[0]["mode"] for rs in rounds]
        if modes != [a, b, b, a]:
            raise ValueError(f"rounds {start}-{start + 3} ran {modes}, not {[a, b, b, a]}")
        t = [mean(r[field] for r in rs) for rs in rounds]
        out.append((t[0] + t[3]) / (t[1] + t[2]))
    return out


def summary(ratios: list[float]) -> dict:
    """Geometric mean of the cycle ratios and its 90% t interval (on log ratios)."""
    from scipy import stats

    logs = [math.log(r) for r in ratios]
    m = mean(logs)
    half = stats.t.ppf(0.95, len(logs) - 1) * stdev(logs) / math.sqrt(len(logs)) if len(logs) > 1 else math.inf
    return {"cycles": len(logs), "ratio": math.exp(m), "lo90": math.exp(m - half), "hi90": math.exp(m + half),
            "a_slower_in": sum(r > 1 for r in ratios)}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("record")
    p.add_argument("--a", default="bayescale")
    p.add_argument("--b", default="pool")
    args = p.parse_args()
    rows = [json.loads(ln) for ln in open(args.record) if ln.startswith("{")]
    side = bool(rows) and "wall_ratio" in rows[0]
    for field in ("wall_s", "user_s"):
        rat = ([r[field.replace("_s", "_ratio")] for r in rows] if side
               else cycle_ratios(rows, args.a, args.b, field))
        s = summary(rat)
        print(f"{field}: {args.a} / {args.b} per {'round' if side else 'cycle'} " + " ".join(f"{r:.3f}" for r in rat))
        print(f"{field}: geometric mean {s['ratio']:.3f} (90% interval {s['lo90']:.3f}-{s['hi90']:.3f}), "
              f"{args.a} slower in {s['a_slower_in']} of {s['cycles']} {'rounds' if side else 'cycles'}")


if __name__ == "__main__":
    main()
