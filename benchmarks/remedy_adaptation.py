"""Which mass-matrix adaptation should the divergence remedy use?  bnsl1 on three kinds of data.

``bayescale.fit`` refits once at ``target_accept=0.99`` when the first run ends with divergences.
This script fits ``bnsl1`` at the package's defaults to

* the first 14 points of 4-digit addition (``../shared/data/bnsl_4digit_addition``, seeds 0 and 1),
* ``--n`` clean one-break simulations (``break_verdict.py``'s scenario c1 = 0.5, f1 = 0.3),
* ``--n`` single-power-law simulations (``break_verdict.py``'s null scenario),

with nutpie's adaptation chosen per run: ``--first`` for the first run (default ``diag``, nutpie's
gradient-based estimate) and ``--remedy`` for the remedy's refit (default: the package's,
``draw_diag``, from the draws' variances alone).  Per case it prints the fits that passed their
diagnostics, the fits with divergences in the first run, the divergences left after the remedy,
the largest R-hat and the median seconds per fit.

``--ess-rerun`` chooses how the ESS remedy's longer run (more draws than asked, after a first run whose
only problem was ESS) is done: ``package`` as the package does it (nutpie's default adaptation at the
first run's target_accept, then the divergence remedy at the same length if that run diverges),
``plain`` without that follow-up (the package before it), ``draw_diag`` with draw-based adaptation
(then the package's follow-up), ``high`` straight at target_accept 0.99 with draw-based adaptation.
``--scenarios`` picks ``break_verdict.py``'s break scenarios, ``--n-null`` the number of null
simulations and ``--digit-seeds`` the number of 4-digit fits.

Usage: ``python benchmarks/remedy_adaptation.py [--n 20] [--start 0] [--first diag] [--remedy diag]
[--ess-rerun plain] [--scenarios 1 2 3 4 5 6] [--n-null 20] [--digit-seeds 4]``;
results in benchmarks/README.md ("Broken-law geometry").
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import pandas as pd

import bayescale as bs
import bayescale.inference.fit as fitmod
from bayescale.inference.config import FitConfig
from bayescale.inference.sampling import REMEDY_ADAPTATION, REMEDY_TARGET_ACCEPT

sys.path.insert(0, str(Path(__file__).resolve().parent))
from break_verdict import simulate_case  # noqa: E402

ADAPTATIONS = ("diag", "draw_diag")
ESS_RERUNS = ("package", "plain", "draw_diag", "high")


def use_adaptation(first: str, remedy: str) -> None:
    """Make every fit in this process run its first run with ``first`` and the remedy's refit with ``remedy``."""
    real = fitmod.sample

    def sample(model, **kw):
        kw["adaptation"] = remedy if kw["target_accept"] >= REMEDY_TARGET_ACCEPT else first
        return real(model, **kw)

    fitmod.sample = sample


def use_ess_rerun(mode: str) -> None:
    """Make the ESS remedy's longer run of every fit in this process follow ``mode`` (see the module docstring).

    Call before :func:`use_adaptation`, which then chooses the adaptation of the runs this leaves alone.
    """
    if mode == "package":
        return
    real, asked, held = fitmod.sample, FitConfig().draws, {}

    def sample(model, **kw):
        longer = kw["draws"] > asked  # only the ESS remedy samples more draws than asked
        if longer and kw["target_accept"] >= REMEDY_TARGET_ACCEPT and "longer" in held:
            # the package's follow-up to a diverging longer run: undone (plain), or the same run again (high)
            return held.pop("longer")
        held.clear()
        if longer and kw["target_accept"] < REMEDY_TARGET_ACCEPT:
            if mode == "high":
                kw = {**kw, "target_accept": REMEDY_TARGET_ACCEPT, "adaptation": REMEDY_ADAPTATION}
            elif mode == "draw_diag":
                kw = {**kw, "adaptation": "draw_diag"}
            tree = real(model, **kw)
            if mode in ("plain", "high"):
                held["longer"] = tree
            return tree
        return real(model, **kw)

    fitmod.sample = sample


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=20, help="simulations per kind (default 20)")
    p.add_argument("--start", type=int, default=0, help="first simulation's replicate number (default 0)")
    p.add_argument("--first", choices=ADAPTATIONS, default="diag", help="adaptation of the first run")
    p.add_argument("--remedy", choices=ADAPTATIONS, default=fitmod.REMEDY_ADAPTATION,
                   help="adaptation of the remedy's refit (default: the package's)")
    p.add_argument("--ess-rerun", choices=ESS_RERUNS, default="package",
                   help="how the ESS remedy's longer run is done (default: as the package does it)")
    p.add_argument("--scenarios", type=int, nargs="+", default=[4],
                   help="break_verdict.py's break scenarios, 1-6 (default 4: c1 = 0.5, f1 = 0.3)")
    p.add_argument("--n-null", type=int, default=None, help="single-power-law simulations (default --n)")
    p.add_argument("--digit-seeds", type=int, default=2, help="4-digit fits, seeds 0.. (default 2)")
    a = p.parse_args(argv)
    use_ess_rerun(a.ess_rerun)
    use_adaptation(a.first, a.remedy)
    rows = []

    def run(case, df, seed, **kw):
        t = time.perf_counter()
        f = bs.fit(df, law="bnsl1", seed=seed, progressbar=False, **kw)
        d = f.diagnostics()
        rows.append(dict(case=case, seed=seed, div_first=f.settings["divergences_first_run"], div_left=d.divergences,
                         rhat=d.max_rhat, ok=d.ok, seconds=time.perf_counter() - t,
                         ess_rerun="ESS" in (f.settings["remedy"] or "")))
        print(f"{case:<9} {seed:>3}: first-run divergences {rows[-1]['div_first']:>4}, left {d.divergences:>3}, "
              f"R-hat {d.max_rhat:.3f}, {'ok' if d.ok else 'NOT OK'} ({rows[-1]['seconds']:.1f} s)",
              file=sys.stderr, flush=True)

    digits = pd.read_csv(Path(bs.data_dir()) / "bnsl_4digit_addition" / "four_digit_addition.csv")
    for seed in range(a.digit_seeds):
        run("4-digit", digits[digits["split"] == "fit"], seed, x="train_dataset_size", y="test_cross_entropy")
    for sc in a.scenarios:
        for rep in range(a.start, a.start + a.n):
            run("break" if a.scenarios == [4] else f"break {sc}", simulate_case(sc, rep)[0], rep, x="x", y="y")
    n_null = a.n if a.n_null is None else a.n_null
    for rep in range(a.start, a.start + n_null):
        run("null", simulate_case(0, rep)[0], rep, x="x", y="y")
    r = pd.DataFrame(rows)
    table = r.groupby("case", sort=False).agg(
        fits=("ok", "size"), ok=("ok", "sum"), fits_diverging_first=("div_first", lambda v: int((v > 0).sum())),
        divergences_first=("div_first", "sum"), divergences_left=("div_left", "sum"),
        fits_with_divergences_left=("div_left", lambda v: int((v > 0).sum())), max_rhat=("rhat", "max"),
        median_s=("seconds", "median"))
    print(f"first run: {a.first}; remedy: {a.remedy}; ESS rerun: {a.ess_rerun}; replicates "
          f"{a.start}..{a.start + a.n - 1} (null {a.start}..{a.start + n_null - 1})")
    print(table.round(3).to_string())
    # the fits whose ESS rerun ran without a divergence remedy before it: the only ones --ess-rerun changes
    e = r[r["ess_rerun"] & (r["div_first"] == 0)]
    print(f"ESS reruns after a first run without divergences: {len(e)}; ok {int(e['ok'].sum())}; with divergences "
          f"left {int((e['div_left'] > 0).sum())} ({int(e['div_left'].sum())}); median s {e['seconds'].median():.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
