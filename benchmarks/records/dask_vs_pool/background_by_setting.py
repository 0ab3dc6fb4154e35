"""Background CPU of a Dask worker: the same warm fit loop in a plain process and inside a Dask worker.

Measures per loop: wall, CPU of the running thread, CPU of the whole process; the difference between the
last two is what other threads (Dask's event loop, monitors) spent.

Kept as run (2026-12-04) for the record `background_by_setting.jsonl`: it ran in a clone of commit
00915e3, where ``_client`` turned off the profiler only, the mode's settings on top (``noenv``: no
Dask worker environment; ``tick``: loop check 1 s; ``sysmon``: system monitor 10 s; ``mem``: memory
monitor 2 s).  From commit 23b216f ``_client`` applies all of these itself, so rerunning it there
measures nothing; ``background.py`` is its replacement.  CPU beyond the fits = ``process - wall``."""
import json, os, sys, time, resource

def loop(n):
    import numpy as np
    import bayescale as bs
    df = bs.simulate(law="bnsl1", x=np.logspace(1, 5, 30), seed=3)
    bs.fit(df, law="bnsl1", x="x", y="y", draws=500, tune=500, chains=4, cores=1, seed=0, progressbar=False)
    w0, t0, p0 = time.perf_counter(), time.thread_time(), time.process_time(); r0 = resource.getrusage(resource.RUSAGE_SELF)
    for i in range(n):
        bs.fit(df, law="bnsl1", x="x", y="y", draws=500, tune=500, chains=4, cores=1, seed=i + 1, progressbar=False)
    r1 = resource.getrusage(resource.RUSAGE_SELF)
    return {"utime": r1.ru_utime - r0.ru_utime, "stime": r1.ru_stime - r0.ru_stime, "minflt": r1.ru_minflt - r0.ru_minflt, "nvcsw": r1.ru_nvcsw - r0.ru_nvcsw, "nivcsw": r1.ru_nivcsw - r0.ru_nivcsw, "wall": time.perf_counter() - w0, "thread": time.thread_time() - t0, "process": time.process_time() - p0,
            "threads": __import__("threading").active_count(), "trim": os.environ.get("MALLOC_TRIM_THRESHOLD_")}

if __name__ == "__main__":
    mode, n = sys.argv[1], int(sys.argv[2])
    if mode == "plain":
        r = loop(n)
    else:
        import dask
        cfg = {}
        if "noenv" in mode:
            cfg["distributed.nanny.pre-spawn-environ"] = {"MALLOC_TRIM_THRESHOLD_": None, "OMP_NUM_THREADS": None,
                                                          "MKL_NUM_THREADS": None, "OPENBLAS_NUM_THREADS": None}
        if "tick" in mode:
            cfg["distributed.admin.tick.interval"] = "1s"
        if "sysmon" in mode:
            cfg["distributed.admin.system-monitor.interval"] = "10s"
        if "mem" in mode:
            cfg["distributed.worker.memory.monitor-interval"] = "2s"
        with dask.config.set(cfg):
            from bayescale.evaluate.many import _client
            client, release = _client(None, 1)
            p0 = time.process_time()
            r = client.submit(loop, n, pure=False).result()
            r["main_cpu"] = time.process_time() - p0
            release()
    r["mode"] = mode
    print(json.dumps(r), flush=True)
