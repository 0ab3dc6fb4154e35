"""Many curves at once: one fit (or one comparison) per group of a table, fanned out on Dask.

Execution goes through Dask distributed: by default a ``LocalCluster`` of worker
processes on this machine, or an existing scheduler (``scheduler="tcp://HOST:PORT"``
or a ``distributed.Client``).  Each worker process keeps its own compile cache, so
it compiles each law once and swaps the data of later groups into the compiled model.

Nothing is lost when a group fails: a group whose data are bad or whose fit raises is
reported with its reason while the others finish; results are appended to
``OUT/results.jsonl`` as groups finish (the client holds one summary row per group,
never the fits), each fit is saved as ``OUT/fits/<group>.nc`` (a comparison's fits as
``OUT/fits/<group>/<law>.nc``), and a rerun with
``resume=True`` skips the groups already recorded.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

from ..errors import BayescaleError
from ..inference.config import FitConfig
from ..inference.fit import fit as fit_law
from ..predictive import check_prob
from ..spec.data import load_data, read_grouped
from ..spec.laws import Law, get_law, law_from_json
from .compare import compare

__all__ = ["fit_many", "dask_map", "ManyResult", "RESULTS_FILE"]

#: File of one JSON object per finished group, in the order they finished.
RESULTS_FILE = "results.jsonl"


@dataclass(frozen=True)
class ManyResult:
    """The outcome of :func:`fit_many`.

    Attributes
    ----------
    table : DataFrame
        One row per group: ``group``, ``status`` (``ok``, ``unreliable`` when diagnostics failed,
        ``failed`` with ``reason``), diagnostics, and per parameter ``<name>_median``,
        ``<name>_lower``, ``<name>_upper``; with targets, ``forecast<i>_median`` etc.
    records : list of dict
        One JSON-ready object per group, in the shape of a single fit's ``--json`` plus ``group``,
        ``status`` and ``reason``.
    out : Path or None
        Folder holding ``results.jsonl`` and ``fits/``.
    """

    table: pd.DataFrame
    records: list[dict[str, Any]]
    out: Path | None = None

    @property
    def failed(self) -> pd.DataFrame:
        return self.table[self.table["status"] == "failed"]


def _safe_name(key: Any) -> str:
    text = "_".join(map(str, key)) if isinstance(key, tuple) else str(key)
    return re.sub(r"[^A-Za-z0-9._=-]+", "_", text).strip("._") or "group"


def _group_label(key: Any) -> Any:
    if isinstance(key, tuple):
        return key[0] if len(key) == 1 else "/".join(map(str, key))
    return key.item() if isinstance(key, np.generic) else key


def _fit_group(label: Any, frame: pd.DataFrame, *, law: str, laws: Sequence[str] | None, x: Any, y: str,
               config: FitConfig, targets: Any, prob: float, path: str | None) -> dict[str, Any]:
    """Fit (or compare) one group; runs on a worker. Never raises: a failure is returned as a record."""
    record: dict[str, Any] = {"group": label, "status": "failed", "reason": None}
    try:
        if laws:
            c = compare(frame, laws=list(laws), x=x, y=y, progress=False, progressbar=False, **_config_kwargs(config))
            record.update(c.to_dict())
            best = c.fits[c.recommended] if c.recommended else next(iter(c.fits.values()))
            fc = c.forecast(x=targets, prob=prob) if targets is not None else None
            record["forecasts"] = fc.to_records() if fc is not None else []
            ok = all(f.diagnostics().ok for f in c.fits.values())
            record["diagnostics"] = best.diagnostics().to_dict()
            if path:  # every compared law's fit, so the comparison's weights can be applied again later
                record["saved"] = {nm: str(f.save(Path(path) / f"{nm}.nc")) for nm, f in c.fits.items()}
        else:
            the_law = law_from_json(law) if law.startswith("{") else get_law(law)
            ds = load_data(frame, x=list(the_law.inputs) if x is None else x, y=y, inputs=the_law.inputs,
                           positive_y=config.likelihood != "normal")
            f = fit_law(ds, law=the_law, config=config, progressbar=False)
            fc = f.forecast(x=targets, prob=prob) if targets is not None else None
            record.update(f.to_dict(forecast=fc, prob=prob))
            ok = f.diagnostics().ok
            if path:
                f.save(path)
                record["saved"] = path
        record["status"] = "ok" if ok else "unreliable"
        if not ok:
            record["reason"] = "; ".join(record.get("diagnostics", {}).get("problems", [])) or "diagnostics failed"
    except BayescaleError as exc:
        record["reason"] = str(exc)
    except Exception as exc:  # one bad group must not stop the others; the reason is kept
        record["reason"] = f"{type(exc).__name__}: {exc}".splitlines()[0]
    return record


def _config_kwargs(cfg: FitConfig) -> dict[str, Any]:
    return {"likelihood": cfg.likelihood, "priors": cfg.prior_overrides or None, "draws": cfg.draws,
            "tune": cfg.tune, "chains": cfg.chains, "cores": cfg.cores, "target_accept": cfg.target_accept,
            "sampler": cfg.sampler, "seed": cfg.seed, "auto_remedy": cfg.auto_remedy, "init": cfg.init}


def _row(record: Mapping[str, Any]) -> dict[str, Any]:
    """A flat table row of a group's record."""
    row: dict[str, Any] = {"group": record["group"], "status": record["status"], "reason": record.get("reason")}
    if record.get("law"):
        row["law"] = record["law"]
    if record.get("recommended"):
        row["recommended"] = record["recommended"]
    verdict = record.get("verdict")
    if isinstance(verdict, Mapping):
        row["verdict"] = verdict.get("verdict")
    diag = record.get("diagnostics") or {}
    for k in ("ok", "divergences", "max_rhat", "min_ess_bulk", "min_ess_tail"):
        if k in diag:
            row[k] = diag[k]
    for name, p in (record.get("parameters") or {}).items():
        for k in ("median", "lower", "upper"):
            row[f"{name}_{k}"] = p[k]
    for i, fc in enumerate(record.get("forecasts") or []):
        row[f"forecast{i}_x"] = fc["x"] if not isinstance(fc["x"], Mapping) else json.dumps(fc["x"])
        for k in ("median", "lower", "upper"):
            row[f"forecast{i}_{k}"] = fc[k]
        row[f"forecast{i}_obs_lower"] = fc["observation"]["lower"]
        row[f"forecast{i}_obs_upper"] = fc["observation"]["upper"]
    return row


def _read_done(path: Path) -> list[dict[str, Any]]:
    if not path.is_file():
        return []
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError:
            continue  # a line cut short by an interrupted run: that group is fitted again
    return out


#: Dask settings for the package's own LocalCluster, which runs long tasks (fits) on workers of one
#: thread each and serves no dashboard.
#:
#: * Dask's periodic work in the workers and the scheduler competes with the fits for the cores.  Each
#:   worker's statistical profiler, which serves the dashboard, samples the running thread's stack every
#:   10 ms: on 24 bnsl1 fits on 2 workers and 2 cores it cost 8-15% of the wall time
#:   (benchmarks/README.md, "Many curves").  The event loops' health check every 20 ms, the system
#:   monitor every 500 ms and the memory monitor every 100 ms cost, measured on 6 warm bnsl1 fits in
#:   one worker (27 s), 0.40 s of the worker's CPU besides the fits and 0.8-1.0 s of the client
#:   process's (the scheduler's loop) with Dask's defaults, 0.07 s and 0.15 s with these; under full
#:   load that CPU is taken from the fits (benchmarks/records/dask_vs_pool/background.py; the record
#:   in benchmarks/records/README.md).  The checks still run: a blocked loop is still reported (after
#:   3 s), a worker over its memory limit is still paused or restarted, within 2 s instead of 0.1 s.
#: * With the default worker saturation of 1.1, a one-thread worker is sent ceil(1.1) = 2 tasks: the
#:   second waits behind the first even when the other worker falls idle, so a run of long fits can
#:   end with one worker busy for most of a fit while the other waits.  With 1.0 a worker is sent its
#:   next task when it finishes one, as a process pool hands it to the first idle worker.  Replaying
#:   the recorded per-curve times of the extrapolation benchmark's parts (records/dask_vs_pool/replay.py),
#:   the pool's three runs ended as first-idle-worker scheduling predicts, two of the three Dask runs as
#:   two-per-worker does (the third in an order neither replays), which ends 10-73 s (0.5-3.4%) later.
#:   The round trip before each task cost nothing measurable: 1,000 tiny fits took 181.1 and 181.3 s
#:   against 187.1 and 179.5 s (benchmarks/many_curves.py --curves 1000 --tiny, 2 workers).
#: * Dask's nanny starts each worker with ``MALLOC_TRIM_THRESHOLD_=65536``, so that glibc hands freed
#:   memory back to the system at once; fixing that threshold also stops glibc from raising its mmap
#:   threshold, so every large array is mapped, faulted in page by page and unmapped again.  Four warm
#:   bnsl1 fits took 2.4 times the page faults (60,600 against 25,400) and 0.05 s more system time
#:   (0.20 against 0.14 s) in a process with it than in one without (records/dask_vs_pool/malloc_trim.py),
#:   and a benchmark curve took 1% longer in a Dask worker with it than in one without, run side by side
#:   (median of 6; without it, the same as in a pool worker: records/dask_vs_pool/paired.py).
#:   It is left out here, as the former process pool's workers ran: a worker keeps freed memory for its
#:   next fit, as a plain process does.  Dask's one-BLAS-thread settings stay.
_LOCAL_CLUSTER_CONFIG = {"distributed.worker.profile.enabled": False,
                         "distributed.admin.tick.interval": "1s",
                         "distributed.admin.system-monitor.interval": "10s",
                         "distributed.worker.memory.monitor-interval": "2s",
                         "distributed.scheduler.worker-saturation": 1.0,
                         "distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None}


def _client(scheduler: Any, n_workers: int | None):
    """The Dask client to use, and a function that releases what was made here (client and cluster).

    Clients made here are not set as dask's default scheduler, so nothing else in the process (e.g.
    xarray) starts sending work to a cluster that is closed later.
    """
    # deferred: importing distributed costs about a second and only grouped fits need it
    import dask
    from distributed import Client, LocalCluster

    if scheduler is None:
        n = n_workers or max(1, min(4, os.cpu_count() or 1))
        # The workers read these settings when they start, inside this block; an existing cluster
        # (``scheduler=``) keeps its own configuration.  See _LOCAL_CLUSTER_CONFIG for why.
        with dask.config.set(_LOCAL_CLUSTER_CONFIG):
            cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=True, dashboard_address=None,
                                   silence_logs=logging.ERROR)
        client = Client(cluster, set_as_default=False)

        def release() -> None:
            client.close()
            cluster.close()

        return client, release
    if isinstance(scheduler, Client):
        return scheduler, lambda: None  # the caller's client: the caller closes it
    if isinstance(scheduler, str):
        client = Client(scheduler, timeout="20s", set_as_default=False)
        return client, client.close
    raise BayescaleError(f"scheduler must be None, an address such as 'tcp://127.0.0.1:8786' or a "
                         f"distributed.Client, got {type(scheduler).__name__}")


def _add_paths(paths: Sequence[str]) -> None:
    sys.path[:0] = [p for p in paths if p not in sys.path]


def dask_map(fn, items: Sequence[Any], *, scheduler: Any = None, n_workers: int | None = None,
             initializer=None, initargs: tuple = ()) -> Iterable[Any]:
    """Run ``fn(item)`` for each item on Dask and yield the results as they finish.

    The execution path of :func:`fit_many`, for scripts whose unit of work is not one fit (the
    benchmarks): a ``LocalCluster`` of ``n_workers`` processes by default, or ``scheduler``.
    ``initializer(*initargs)`` runs once on every worker first (e.g. to compile the laws there).
    What it leaves in its module's globals is seen by ``fn`` only when both are importable by
    name on the workers: functions of a script run as ``__main__`` travel by value, and each
    copy gets globals of its own (a worker would see an empty cache and redo the set-up for
    every item), so they are refused here with the remedy.
    """
    # deferred with _client: see there
    from distributed import as_completed

    if initializer is not None:
        where = [f.__qualname__ for f in (fn, initializer) if getattr(f, "__module__", None) == "__main__"]
        if where:
            raise BayescaleError(
                f"dask_map: {', '.join(where)} defined in __main__: its globals would not persist on the "
                "workers between the initializer and the items; run the script through its module "
                "(e.g. `if __name__ == '__main__': import myscript; myscript.main()`) so the workers "
                "import it by name")
    client, release = _client(scheduler, n_workers)
    try:
        # a script's own modules (e.g. benchmarks/ on sys.path) must import on the workers too, to
        # unpickle the items and results: give the workers the client's import path
        client.run(_add_paths, list(sys.path))
        if initializer is not None:
            client.run(initializer, *initargs)
        futures = [client.submit(fn, it, pure=False) for it in items]
        for fut in as_completed(futures, loop=client.loop):
            res = fut.result()
            fut.release()
            yield res
    finally:
        release()


def _groups(data: Any, group: str | Sequence[str], where: Mapping[str, str] | None) -> list[tuple[Any, pd.DataFrame]]:
    cols = [group] if isinstance(group, str) else list(group)
    frame = read_grouped(data, group=cols, where=where)
    return [(k, part.drop(columns=cols).reset_index(drop=True)) for k, part in frame.groupby(cols, sort=True)]


def fit_many(
    data: Any,
    *,
    group: str | Sequence[str],
    law: str | Law | None = None,
    laws: Sequence[str] | None = None,
    x: Any = None,
    y: str = "y",
    where: Mapping[str, str] | None = None,
    targets: Any = None,
    prob: float = 0.9,
    out: str | os.PathLike | None = None,
    resume: bool = False,
    scheduler: Any = None,
    n_workers: int | None = None,
    progress: bool | None = None,
    config: FitConfig | None = None,
    **fit_kwargs: Any,
) -> ManyResult:
    """Fit one law (or compare several) per group of a table, on Dask.

    Parameters
    ----------
    data : CSV path or DataFrame
    group : str or list of str
        Column(s) whose distinct values define the curves.
    law : str or Law
        The law fitted to every group; or ``laws``: several laws compared per group
        (:func:`bayescale.compare`; the row then holds the recommended law and the verdict).
    x, y, where
        As for :func:`bayescale.fit`; ``where`` selects rows before grouping.
    targets : optional
        Forecast targets (as ``x=`` of :meth:`Fit.forecast`), the same for every group.
    prob : float
        Interval probability of parameters and forecasts.
    out : folder, optional
        Where ``results.jsonl`` and ``fits/<group>.nc`` are written as groups finish (with ``laws``,
        ``fits/<group>/<law>.nc`` for each compared law; the record keeps their paths in ``saved``).
    resume : bool
        Skip the groups already recorded in ``out/results.jsonl``.
    scheduler : None, str or distributed.Client
        None: a ``LocalCluster`` of ``n_workers`` processes (default ``min(4, CPUs)``);
        an address such as ``"tcp://127.0.0.1:8786"``; or a client.
    progress : bool, optional
        A progress line on standard error; defaults to on when standard error is a terminal.
    config, **fit_kwargs
        Fit settings (:class:`FitConfig`, or keyword arguments of :func:`bayescale.fit`);
        ``cores`` defaults to 1 so that workers do not oversubscribe the machine.

    Returns
    -------
    ManyResult
    """
    check_prob(prob)
    if (law is None) == (not laws):
        raise BayescaleError("give law= (one law per group) or laws=[...] (a comparison per group), not both")
    if laws is not None and len(laws) < 2:
        raise BayescaleError("laws= compares several laws: name at least two, or use law=")
    if resume and out is None:
        raise BayescaleError("resume needs out= (the folder of an earlier run)")
    if laws:
        for nm in laws:
            get_law(nm)
        law_arg = ""
    else:
        the_law = get_law(law)
        law_arg = the_law.name if isinstance(law, str) and not str(law).endswith(".toml") else the_law.to_json()
    if config is None:
        fit_kwargs.setdefault("cores", 1)
        fit_kwargs.pop("progressbar", None)
        priors = fit_kwargs.pop("priors", None) or {}
        config = FitConfig(**fit_kwargs).replace(priors=priors)
    groups = _groups(data, group, where)
    out_dir = Path(out) if out is not None else None
    results_path = out_dir / RESULTS_FILE if out_dir else None
    done = _read_done(results_path) if (resume and results_path) else []
    done_labels = {json.dumps(r["group"], default=str) for r in done}
    if out_dir:
        (out_dir / "fits").mkdir(parents=True, exist_ok=True)
        if not resume and results_path.exists():
            results_path.unlink()
    todo = [(k, part) for k, part in groups if json.dumps(_group_label(k), default=str) not in done_labels]
    show = sys.stderr.isatty() if progress is None else progress
    records = list(done)
    if todo:
        client, release = _client(scheduler, n_workers)
        try:
            records += _run(client, todo, law=law_arg, laws=laws, x=x, y=y, config=config, targets=targets,
                            prob=prob, out_dir=out_dir, results_path=results_path, show=show, total=len(groups),
                            already=len(done))
        finally:
            release()
    table = pd.DataFrame([_row(r) for r in records])
    return ManyResult(table=table, records=records, out=out_dir)


def _run(client, todo, *, law, laws, x, y, config, targets, prob, out_dir, results_path, show, total, already):
    # deferred with _client: see there
    from distributed import as_completed

    futures = []
    for key, part in todo:
        label = _group_label(key)
        # one fit: fits/<group>.nc; a comparison: fits/<group>/<law>.nc for each law
        path = str(out_dir / "fits" / (_safe_name(key) + ("" if laws else ".nc"))) if out_dir else None
        futures.append(client.submit(_fit_group, label, part, law=law, laws=laws, x=x, y=y, config=config,
                                     targets=targets, prob=prob, path=path, pure=False))
    records, n_failed, start = [], 0, time.monotonic()
    for i, fut in enumerate(as_completed(futures, loop=client.loop), start=already + 1):
        rec = fut.result()
        fut.release()
        records.append(rec)
        n_failed += rec["status"] == "failed"
        if results_path is not None:
            with results_path.open("a", encoding="utf-8") as fh:
                fh.write(json.dumps(rec, default=float) + "\n")
        if show:
            print(f"\r[{i}/{total}] groups done, {n_failed} failed, {time.monotonic() - start:.0f} s",
                  end="", file=sys.stderr, flush=True)
    if show:
        print(file=sys.stderr)
    return records
