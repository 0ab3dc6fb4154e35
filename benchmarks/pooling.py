"""Partial pooling against separate fits, on real curves that share exponents.

* ``nanogpt_embd``: 24 curves of validation loss against embedding width (12 settings x 2 loss
  files); fit the 6 smallest widths (NSL-PFN's split), forecast n_embd = 384.  ``power_law_offset``
  with ``alpha`` pooled, against one fit per curve.
* ``gadre_overtraining``: the three training corpora (C4, RedPajama, RefinedWeb), loss on each
  corpus's own Paloma validation set (C4, RedPajama, Falcon-RefinedWeb); fit the runs with N <= 411M, forecast the 1.4B and 6.9B runs.
  ``chinchilla`` with ``alpha`` and ``beta`` pooled across corpora, against one fit per corpus.

Printed per data set and method: RMSLE of the median, coverage of the 90% intervals of a new
observation (with the default extrapolation uncertainty, and without it), and the time.

Usage: ``python benchmarks/pooling.py`` (``--draws`` to change the draws per chain).
"""

from __future__ import annotations

import argparse
import time
import warnings
from typing import Any, Sequence

import numpy as np
import pandas as pd

import bayescale as bs

VAL = {"c4_original": "paloma_c4_en", "rpj": "paloma_redpajama", "rw_original": "paloma_falcon-refinedweb"}


def nanogpt() -> tuple[pd.DataFrame, pd.DataFrame, dict[str, Any]]:
    d = pd.read_csv(bs.data_dir() / "nanogpt_embd" / "nanogpt_val_loss_vs_n_embd.csv")
    d["curve"] = d["source_file"] + "|" + d["config_index"].astype(str)
    fit, held = d[d["split_nslpfn"] == "fit"], d[d["split_nslpfn"] != "fit"]
    return (fit[["curve", "n_embd", "val_loss"]], held[["curve", "n_embd", "val_loss"]],
            dict(law="power_law_offset", x="n_embd", y="val_loss", pool=["alpha"], inputs=["n_embd"]))


def gadre() -> tuple[pd.DataFrame, pd.DataFrame, dict[str, Any]]:
    d = pd.read_csv(bs.data_dir() / "gadre_overtraining" / "losses.csv")
    d = d[d["eval_set"] == d["train_dataset"].map(VAL)].rename(columns={"train_dataset": "curve"})
    d = d[["curve", "params", "tokens", "loss"]]
    fit, held = d[d["params"] <= 4.2e8], d[d["params"] > 4.2e8]
    return fit, held, dict(law="chinchilla", x=["params", "tokens"], y="loss", pool=["alpha", "beta"],
                           inputs=["params", "tokens"])


def _score(fc_on, fc_off, y: np.ndarray) -> dict[str, float]:
    t, t0 = fc_on.table(), fc_off.table()
    return {"rmsle": float(np.sqrt(np.mean((np.log(t["median"]) - np.log(y)) ** 2))),
            "cov90": float(np.mean((y >= t["obs_lower"]) & (y <= t["obs_upper"]))),
            "cov90_off": float(np.mean((y >= t0["obs_lower"]) & (y <= t0["obs_upper"])))}


def _targets(law, held: pd.DataFrame, cols: Sequence[str]):
    return {k: held[c].to_numpy(float) for k, c in zip(law.inputs, cols)}


def run(name: str, fit_df: pd.DataFrame, held: pd.DataFrame, spec: dict[str, Any], kw: dict[str, Any]) -> list[dict]:
    law = bs.get_law(spec["law"])
    cols = spec["inputs"]
    rows = []
    t0 = time.perf_counter()
    pooled = bs.fit(fit_df, law=spec["law"], x=spec["x"], y=spec["y"], group="curve", pool=spec["pool"],
                    progressbar=False, **kw)
    t_pool = time.perf_counter() - t0
    per_curve = {}
    t0 = time.perf_counter()
    for g, part in fit_df.groupby("curve", sort=True):
        per_curve[g] = bs.fit(part.drop(columns="curve"), law=spec["law"], x=spec["x"], y=spec["y"],
                              progressbar=False, **kw)
    t_sep = time.perf_counter() - t0
    scores: dict[str, list] = {"pooled": [], "separate": []}
    for g, h in held.groupby("curve", sort=True):
        y = h[spec["y"]].to_numpy(float)
        x = _targets(law, h, cols)
        scores["pooled"].append(_score(pooled.forecast(x=x, group=str(g)),
                                       pooled.forecast(x=x, group=str(g), discrepancy="off"), y) | {"n": len(y)})
        f = per_curve[g]
        scores["separate"].append(_score(f.forecast(x=x), f.forecast(x=x, discrepancy="off"), y) | {"n": len(y)})
    for method, sc in scores.items():
        d = pd.DataFrame(sc)
        w = d["n"] / d["n"].sum()
        ok = pooled.diagnostics().ok if method == "pooled" else all(f.diagnostics().ok for f in per_curve.values())
        rows.append({"data": name, "method": method + (f" ({', '.join(spec['pool'])})" if method == "pooled" else ""),
                     "curves": len(d), "points": int(d["n"].sum()), "rmsle": float(d["rmsle"].mean()),
                     "cov90": float((d["cov90"] * w).sum()), "cov90_no_extrapolation": float((d["cov90_off"] * w).sum()),
                     "diagnostics_ok": ok, "seconds": t_pool if method == "pooled" else t_sep})
    return rows


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--draws", type=int, default=1000, help="draws per chain (default 1000)")
    p.add_argument("--data", nargs="+", default=["nanogpt_embd", "gadre_overtraining"], help="data sets to run")
    a = p.parse_args(argv)
    warnings.simplefilter("ignore")
    kw = dict(draws=a.draws, tune=1000, chains=4, seed=0)
    rows = []
    for name, loader in (("nanogpt_embd", nanogpt), ("gadre_overtraining", gadre)):
        if name in a.data:
            rows += run(name, *loader(), kw)
    t = pd.DataFrame(rows)
    print(t.to_string(index=False, float_format=lambda v: f"{v:.4f}"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
