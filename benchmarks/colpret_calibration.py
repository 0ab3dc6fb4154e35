"""The default forecast intervals scored on curves nothing was learned from: colpret_curves.

``calibration.py`` learns the extrapolation part's values from the 132 curves of the extrapolation
benchmark and scores them leave-one-dataset-out.  This script asks the plainer question a new user's
data asks: how do the package's *stored* values (``bayescale/spec/discrepancy.csv``, learned on those
132 curves only) do on real curves of another kind?  ``../shared/data/colpret_curves`` holds 192 loss
curves of published LM training runs (tokens seen against loss: GPT-3, datablations, Gadre et al.'s
over-training suite, Pythia, OPT, OLMo, DoReMi-style mixtures, Pile-T5, ...), split as NSL-PFN does
(the first half of each curve fitted, the rest held out).  The five ``lambda-*`` curves are left out:
they are copies of revisiting_nsl's LM curves, which the stored values were learned on.

Each curve is fitted exactly as ``calibration.py`` fits (``compare(power_law_offset, bnsl1)``, 4 chains
x 500 draws, 1000 tune, seed 0; ``calibration.fit_curve``, so the cache and the scoring are the same
code) and each held-out point scored under the stacked forecast with the discrepancy ``off`` (bayescale
0.1), the ``default`` row and the ``language`` row (the factor alone: what ``discrepancy="language"``
gives).  Printed: coverage of the 50/80/90/95% intervals of a new observation, MSCE, lpd, RMSLE of the
median, over all curves, by whether the fit passed its diagnostics (the forecast's ``reliable`` flag), by
source family and by extrapolation distance; coverage pooled over points (long curves weigh more: 11 to
905 points) and, as ``cov50_curves`` and ``cov90_curves``, per curve then averaged.

Usage: ``python benchmarks/colpret_calibration.py`` (2 Dask workers); ``--every K`` for every K-th curve;
``--reuse`` rescores the cached fits; ``--quick`` (two short curves, small draws, CI).  Results:
benchmarks/README.md ("Forecast calibration").
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from pathlib import Path
from typing import Sequence

import pandas as pd

from bayescale.evaluate.many import dask_map
from bayescale.spec.discrepancy import OFF, get_discrepancy

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from calibration import LAWS, distance_bin, fit_curve, score, summary  # noqa: E402
from learn_discrepancy import load_corpus  # noqa: E402
from nd_calibration import markdown  # noqa: E402

#: source family of a colpret curve, by the start of its name (SOURCE.md's mapping, inferred from names)
FAMILIES = (("GPT-3 ", "GPT-3"), ("GPT2-", "datablations"), ("c4_original-", "gadre"), ("rpj-", "gadre"),
            ("rw_original-", "gadre"), ("pythia-", "pythia"), ("Pile", "mixtures"), ("SlimPajama", "mixtures"),
            ("pile-t5-", "pile-t5"), ("OPT-", "OPT"), ("OLMo-", "OLMo"))
#: revisiting_nsl's LM curves, copied into colpret: the stored values were learned on them
COPIES = "lambda-"
ROWS = ("off", "default", "language")
#: --quick (CI): two short curves
QUICK = ("ColPreT|OPT-1.30B", "ColPreT|pythia-1b-deduped")


def family(curve: str) -> str:
    name = curve.removeprefix("ColPreT|")
    return next((f for start, f in FAMILIES if name.startswith(start)), "other")


def reliable(res: dict) -> bool:
    """The stacked forecast's own flag (``Forecast.reliable``): every law with weight passed its diagnostics."""
    return all(v["ok"] for v in res["laws"].values() if v["weight"] > 0)


def passing_only(res: dict) -> dict | None:
    """The curve's result with the stacking weights moved onto the laws that passed their diagnostics (equal
    weights), when a law with weight failed and another passed; else None.  A tried alternative to stacking
    every law (not adopted: benchmarks/README.md)."""
    laws = res["laws"]
    good = [k for k, v in laws.items() if v["ok"]]
    if not good or reliable(res):
        return None
    return {**res, "laws": {k: {**v, "weight": 1.0 / len(good) if k in good else 0.0} for k, v in laws.items()}}


def curves(every: int = 1):
    """colpret's curves with NSL-PFN's split, without revisiting_nsl's copies; every ``every``-th by name."""
    out = [c for c in load_corpus() if c.domain == "ColPreT" and not c.name.startswith(f"ColPreT|{COPIES}")]
    return sorted(out, key=lambda c: c.name)[::every]


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help=f"{len(QUICK)} curves, 2 chains x 200 draws, no Dask (CI)")
    p.add_argument("--every", type=int, default=1, help="every k-th curve by name (default 1: all 187)")
    p.add_argument("--workers", type=int, default=2, help="Dask worker processes (default 2)")
    p.add_argument("--draws", type=int, default=500, help="draws per chain (default 500)")
    p.add_argument("--tune", type=int, default=1000, help="tuning steps (default 1000)")
    p.add_argument("--chains", type=int, default=4, help="chains (default 4)")
    p.add_argument("--seed", type=int, default=0, help="seed of the fits and of the scoring draws")
    p.add_argument("--reuse", action="store_true", help="reuse the fits cached in OUT/cache by an earlier run")
    p.add_argument("--out", type=Path, default=HERE / "results" / "colpret_calibration", help="output folder")
    a = p.parse_args(argv)
    jobs_curves = [c for c in curves() if c.name in QUICK] if a.quick else curves(a.every)
    if a.quick:
        a.draws, a.tune, a.chains, a.workers = 200, 300, 2, 1
    (a.out / "cache").mkdir(parents=True, exist_ok=True)
    cfg = {"laws": LAWS, "draws": a.draws, "tune": a.tune, "chains": a.chains, "seed": a.seed,
           "cache": str(a.out / "cache"), "reuse": a.reuse, "backtest": False}
    print(f"{len(jobs_curves)} colpret curves; settings {cfg}", file=sys.stderr)
    t0 = time.perf_counter()
    jobs = [(c, cfg) for c in jobs_curves]
    results = (fit_curve(j) for j in jobs) if a.workers <= 1 else dask_map(fit_curve, jobs, n_workers=a.workers)
    done = []
    for i, res in enumerate(results, start=1):
        done.append(res)
        print(f"[{i}/{len(jobs)} {time.perf_counter() - t0:.0f}s] {res['curve']} ({res['seconds']:.0f}s, "
              f"{len(res['y_test'])} held out)", file=sys.stderr, flush=True)
    passed = {r["curve"]: reliable(r) for r in done}
    pts = []
    for row in ROWS:
        disc = OFF if row == "off" else get_discrepancy(row)
        frame = pd.concat([score(r, disc, seed=a.seed) for r in done], ignore_index=True)
        pts.append(frame.assign(discrepancy=row, family=frame["curve"].map(family), all="all curves",
                                distance=distance_bin(frame["horizon"]),
                                diagnostics=frame["curve"].map(passed).map({True: "passed", False: "failed"})))
    points = pd.concat(pts, ignore_index=True)
    points.to_csv(a.out / "points.csv", index=False)
    cols = ["discrepancy", "part", "curves", "points", "cov50", "cov80", "cov90", "cov95", "msce", "cov50_curves",
            "cov90_curves", "lpd", "rmsle"]
    text = []
    for by in ("all", "diagnostics", "family", "distance"):
        t = pd.concat([summary(d, by).rename(columns={by: "part"}).assign(discrepancy=row)
                       for row, d in points.groupby("discrepancy", sort=False)], ignore_index=True)
        t["discrepancy"] = pd.Categorical(t["discrepancy"], ROWS)
        text.append(f"### {len(done)} colpret curves, {'over all' if by == 'all' else 'by ' + by}\n\n"
                    + markdown(t.sort_values(["part", "discrepancy"], kind="stable")[cols]))
    # tried: where a stacked law failed its diagnostics and another passed, the passing laws alone
    moved = [(r, m) for r in done if (m := passing_only(r)) is not None]
    if moved:
        default = get_discrepancy("default")
        t = pd.concat([summary(pd.concat([score(x, default, seed=a.seed) for x in xs]).assign(part=f"{len(xs)} curves"),
                               "part").assign(discrepancy=label)
                       for label, xs in (("default, stacked as now", [r for r, _ in moved]),
                                         ("default, the passing laws only", [m for _, m in moved]))])
        text.append("### where a stacked law failed its diagnostics and another passed (tried)\n\n"
                    + markdown(t[cols]))
    text.append(f"fits passing their diagnostics (every stacked law): {sum(passed.values())} of {len(done)}; "
                f"total {time.perf_counter() - t0:.0f} s")
    (a.out / "table.md").write_text("\n\n".join(text) + "\n")
    print("\n\n".join(text))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
