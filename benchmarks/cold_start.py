"""Cold start: how long a new process takes to fit, with and without warm compile caches.

Every figure comes from fresh Python processes running the real command line
(``python -m bayescale.cli``), with the caches in temporary folders:

* **first-ever call**: empty bayescale compile cache (``BAYESCALE_CACHE_DIR``), empty PyTensor
  compile folder (``PYTENSOR_FLAGS=base_compiledir=...``) and empty numba cache (``NUMBA_CACHE_DIR``);
* **second call**: a new process with both caches warm (what a user sees from the second run on);
* **bayescale cache empty, PyTensor warm**: a new process that compiles with nutpie as before this
  cache existed (PyTensor's on-disk numba cache populated), then saves its entry;
* **in-process**: one process runs ``bayescale.cli.main`` repeatedly: its first call (new process,
  warm cache, import excluded) and the median of the later calls (the compiled model is reused);
* **import**: ``import bayescale``, ``import bayescale.cli`` and ``python -m bayescale.cli --help``
  (medians of 3 processes, less an empty interpreter's start), and the packages the import time
  goes to (``python -X importtime``, self time summed by top-level package).

Cases: ``bnsl1`` on the 14 fit points of 4-digit addition (``bnsl_4digit_addition``) and
``chinchilla`` on Epoch's 245 Chinchilla points (``epoch_chinchilla``), 4 chains x 1000 draws
(tune 1000), seed 0; and ``bayescale compare`` of power_law_offset,bnsl1 on all 17 4-digit points
(LOO with exact refits and leave-future-out), run twice: the second run has a warm cache.

Same seed, same draws: each fit's parameter summaries (mean, sd, median, interval, R-hat, ESS of
every parameter, printed by ``--json`` at full precision) are hashed; the hashes of the first-ever
call, the second call, the in-process calls and the call with an empty bayescale cache are compared
(column ``hash``; for ``compare`` it is the hash of the whole printed result).

Targets (issue 17): a new process with a warm cache within 2x the in-process warm fit; identical
draws fresh / warm / in-process; ``compare`` of two laws on 17 points under 15 s with a warm cache.

Usage::

    python benchmarks/cold_start.py            # everything (about 5 minutes on 2 cores)
    python benchmarks/cold_start.py --quick    # smoke test: bnsl1 only, 200 draws, no compare
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

CASES = {
    "bnsl1": ("bnsl_4digit_addition/four_digit_addition.csv",
              ["--x", "train_dataset_size", "--y", "test_cross_entropy", "--law", "bnsl1", "--where", "split=fit"]),
    "chinchilla": ("epoch_chinchilla/chinchilla_fig4_points.csv",
                   ["--x", "params", "tokens", "--y", "loss", "--law", "chinchilla"]),
}
COMPARE = ["--x", "train_dataset_size", "--y", "test_cross_entropy", "--laws", "power_law_offset,bnsl1"]

IN_PROCESS = r"""
import contextlib, io, json, sys, time
t0 = time.perf_counter()
from bayescale.cli import main
t_import = time.perf_counter() - t0
argv, n = json.loads(sys.argv[1]), int(sys.argv[2])
times, outs = [], []
for _ in range(n + 1):
    buf = io.StringIO()
    t = time.perf_counter()
    with contextlib.redirect_stdout(buf):
        rc = main(argv)
    times.append(time.perf_counter() - t)
    outs.append(buf.getvalue())
    if rc:
        sys.exit(rc)
print(json.dumps({"import": t_import, "times": times, "outs": outs}))
"""


def environment(cache: Path, compiledir: Path) -> dict[str, str]:
    """This process's environment with the three caches moved to the given folders."""
    env = dict(os.environ)
    flags = [kv for kv in env.get("PYTENSOR_FLAGS", "").split(",")
             if kv.strip() and not kv.split("=")[0].strip().endswith("compiledir")]
    env["PYTENSOR_FLAGS"] = ",".join([*flags, f"base_compiledir={compiledir}"])
    env["NUMBA_CACHE_DIR"] = str(compiledir / "numba_own")
    env["BAYESCALE_CACHE_DIR"] = str(cache)
    return env


def run(argv: list[str], env: dict[str, str], timeout: float = 900) -> tuple[float, str]:
    """Wall seconds of one new process running ``argv`` (after ``python``), and its standard output."""
    t0 = time.perf_counter()
    out = subprocess.run([sys.executable, *argv], env=env, cwd=ROOT, capture_output=True, text=True,
                         timeout=timeout)
    dt = time.perf_counter() - t0
    if out.returncode != 0:
        raise RuntimeError(f"{' '.join(argv[:4])} ... exit {out.returncode}:\n{out.stderr[-3000:]}")
    return dt, out.stdout


def fingerprint(stdout: str) -> str:
    """Hash of the parameter summaries printed by ``--json`` (full precision: they move with any draw)."""
    params = json.loads(stdout.strip().splitlines()[-1])["parameters"]
    return hashlib.sha256(json.dumps(params, sort_keys=True).encode()).hexdigest()[:12]


def n_entries(cache: Path) -> int:
    return len(list((cache / "nutpie").glob("*.nutpie")))


def fit_case(name: str, data: Path, sampling: list[str], repeats: int, tmp: Path) -> dict:
    file, args = CASES[name]
    cli = ["-m", "bayescale.cli", "fit", str(data / file), *args, *sampling, "--json"]
    cache, pt = tmp / f"{name}-cache", tmp / f"{name}-pytensor"
    env = environment(cache, pt)
    rows = {}
    dt, out = run(cli, env)
    rows["first-ever call (all caches empty)"] = dict(s=dt, fp=fingerprint(out), entries=n_entries(cache))
    dt, out = run(cli, env)
    rows["second call (new process, caches warm)"] = dict(s=dt, fp=fingerprint(out), entries=n_entries(cache))
    dt, out = run(["-c", IN_PROCESS, json.dumps(cli[2:]), str(repeats)], env)
    r = json.loads(out.strip().splitlines()[-1])
    fps = {fingerprint(o) for o in r["outs"]}
    rows["in-process: first call (import excluded)"] = dict(s=r["times"][0], fp=fingerprint(r["outs"][0]))
    rows[f"in-process: warm fit (median of {repeats})"] = dict(
        s=statistics.median(r["times"][1:]), fp=fps.pop() if len(fps) == 1 else "differ!",
        note="times " + ", ".join(f"{t:.2f}" for t in r["times"][1:]))
    empty = tmp / f"{name}-cache2"
    dt, out = run(cli, environment(empty, pt))
    rows["new process, bayescale cache empty, PyTensor warm"] = dict(s=dt, fp=fingerprint(out),
                                                                     entries=n_entries(empty))
    return rows


def compare_case(data: Path, sampling: list[str], tmp: Path) -> dict:
    file, _ = CASES["bnsl1"]
    cli = ["-m", "bayescale.cli", "compare", str(data / file), *COMPARE, *sampling, "--json"]
    cache, pt = tmp / "compare-cache", tmp / "compare-pytensor"
    env = environment(cache, pt)
    rows = {}
    for label in ("compare, first call (all caches empty)", "compare, second call (caches warm)"):
        dt, out = run(cli, env)
        rows[label] = dict(s=dt, entries=n_entries(cache),
                           fp=hashlib.sha256(out.encode()).hexdigest()[:12])
    return rows


def import_times(n: int = 3) -> dict:
    env = dict(os.environ)

    def med(argv):
        return statistics.median(run(argv, env)[0] for _ in range(n))

    base = med(["-c", "pass"])
    rows = {"python -c pass (interpreter start)": dict(s=base)}
    for label, argv in (("import bayescale", ["-c", "import bayescale"]),
                        ("import bayescale.cli", ["-c", "import bayescale.cli"]),
                        ("python -m bayescale.cli --help", ["-m", "bayescale.cli", "--help"])):
        rows[label] = dict(s=med(argv) - base, note=f"median of {n} processes, less the interpreter start")
    return rows


def import_breakdown(module: str = "bayescale.cli", top: int = 10) -> list[tuple[str, float]]:
    """Self import time summed by top-level package (``python -X importtime``), largest first."""
    out = subprocess.run([sys.executable, "-X", "importtime", "-c", f"import {module}"], cwd=ROOT,
                         capture_output=True, text=True, timeout=300)
    by_pkg: dict[str, float] = defaultdict(float)
    for line in out.stderr.splitlines():
        m = re.match(r"import time:\s+(\d+)\s+\|\s+(\d+)\s+\|\s*(\S+)", line)
        if m:
            by_pkg[m.group(3).split(".")[0]] += int(m.group(1)) / 1e6
    return sorted(by_pkg.items(), key=lambda kv: -kv[1])[:top]


def print_table(rows: dict[str, dict], warm_inprocess: dict[str, float]) -> None:
    print(f"| {'case':<11} | {'run':<50} | {'seconds':>7} | {'entries':>7} | {'hash':<12} | note")
    print(f"|{'-' * 13}|{'-' * 52}|{'-' * 9}|{'-' * 9}|{'-' * 14}|-----")
    for (case, label), r in rows.items():
        note = r.get("note", "")
        if label.startswith("second call") and case in warm_inprocess:
            note = f"{r['s'] / warm_inprocess[case]:.1f}x the in-process warm fit (target <= 2x)"
        print(f"| {case:<11} | {label:<50} | {r['s']:7.2f} | {str(r.get('entries', '')):>7} | "
              f"{r.get('fp', ''):<12} | {note}")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="smoke test: bnsl1 only, 200 draws and tune, no compare")
    ap.add_argument("--repeats", type=int, default=None, help="in-process warm fits (default 3, quick 1)")
    ap.add_argument("--keep", type=Path, default=None, help="keep the cache folders here (default: a temporary one)")
    ap.add_argument("--json", type=Path, default=None, help="also write the figures to this file")
    a = ap.parse_args(argv)

    import bayescale

    data = bayescale.data_dir()
    if not (data / CASES["bnsl1"][0]).is_file():
        print(f"data not found under {data} (set BAYESCALE_DATA)", file=sys.stderr)
        return 2
    cases = ["bnsl1"] if a.quick else list(CASES)
    sampling = ["--draws", "200", "--tune", "200", "--seed", "0"] if a.quick else ["--seed", "0"]
    repeats = a.repeats or (1 if a.quick else 3)
    tmp = a.keep or Path(tempfile.mkdtemp(prefix="bayescale-coldstart-"))
    tmp.mkdir(parents=True, exist_ok=True)
    rows: dict[tuple[str, str], dict] = {}
    hashes_ok = {}
    try:
        for name in cases:
            print(f"[{name}] ...", file=sys.stderr, flush=True)
            case = fit_case(name, data, sampling, repeats, tmp)
            rows.update({(name, k): v for k, v in case.items()})
            hashes_ok[name] = len({r["fp"] for r in case.values()}) == 1
        if not a.quick:
            print("[compare] ...", file=sys.stderr, flush=True)
            rows.update({("compare", k): v for k, v in compare_case(data, sampling, tmp).items()})
        print("[import] ...", file=sys.stderr, flush=True)
        rows.update({("import", k): v for k, v in import_times().items()})
        breakdown = import_breakdown()
    finally:
        if a.keep is None:
            shutil.rmtree(tmp, ignore_errors=True)

    warm = {c: r["s"] for (c, label), r in rows.items() if label.startswith("in-process: warm")}
    print(f"\nCold start, {'quick: ' if a.quick else ''}sampling {' '.join(sampling) or 'defaults'}"
          f" (4 chains; cores = min(chains, CPUs) = {min(4, os.cpu_count() or 1)})\n")
    print_table(rows, warm)
    print("\nSame seed, same draws (first-ever / second / in-process / bayescale cache empty):")
    for name, ok in hashes_ok.items():
        print(f"  {name}: {'identical' if ok else 'DIFFERENT'}")
    print("\nImport time of bayescale.cli by top-level package (self time, python -X importtime):")
    for pkg, s in breakdown:
        print(f"  {pkg:<24} {s:6.2f} s")
    if a.json:
        a.json.write_text(json.dumps({"rows": [dict(case=c, run=k, **v) for (c, k), v in rows.items()],
                                      "same_draws": hashes_ok, "import_breakdown": breakdown}, indent=1))
    return 0 if all(hashes_ok.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
