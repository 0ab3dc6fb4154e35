"""Learn the extrapolation-uncertainty prior (bayescale/spec/discrepancy.csv) from real curves.

For every single-input curve of the corpus in ``../shared/data`` with a fit / held-out split
(revisiting_nsl's four task families, double_descent, nanogpt_embd, colpret_curves), a
power law with offset ``y = E + A x^-alpha`` is fitted by least squares on log y to the fit
points, and each held-out point gives a log error ``e = log y - log yhat`` at its horizon
``h`` (decades beyond the largest fit x).  The discrepancy of :mod:`bayescale.spec.discrepancy`
is then fitted by maximum likelihood,

    e ~ N(0, sigma_c^2 + (s0 + kappa h)^2),

with ``sigma_c`` the curve's own residual scatter on its fit points, each curve weighted
equally (a curve's points share a weight of 1).  Least squares stands in for the posterior
median here because it is fast and its forecasts are as accurate (see benchmarks/README.md);
parameter uncertainty is left out, so the learned values are if anything conservative.

Rows written: ``default`` (every dataset) and one per group (image classification, language,
double descent, nanoGPT width, colpret).  For scoring, :func:`leave_one_out` learns the values
for a dataset without that dataset (for a revisiting_nsl family: without all of revisiting_nsl
and without colpret's copies of its LM curves), so nothing scored was learned on.

Usage: ``python benchmarks/learn_discrepancy.py`` (prints the values and the leave-one-dataset-out
values; ``--write`` writes them as the package table).  The package's table is the one
``python benchmarks/calibration.py --write-table`` learns from backtests of the stacked Bayesian
forecast (relative form), which calibrated better, leave-one-dataset-out, than this least-squares
one (benchmarks/README.md).
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Sequence

import numpy as np
import pandas as pd
from scipy import optimize

import bayescale as bs
from bayescale.spec.discrepancy import Discrepancy

HERE = Path(__file__).resolve().parent
TABLE = HERE.parent / "bayescale" / "spec" / "discrepancy.csv"
sys.path.insert(0, str(HERE))

from extrapolation import GROUP  # noqa: E402  (the group each domain is reported in)


@dataclass(frozen=True)
class Curve:
    name: str
    dataset: str  # the unit left out: revisiting_nsl:IC, ..., double_descent, nanogpt_embd, colpret_curves
    domain: str
    x_fit: np.ndarray = field(repr=False)
    y_fit: np.ndarray = field(repr=False)
    x_test: np.ndarray = field(repr=False)
    y_test: np.ndarray = field(repr=False)

    @property
    def group(self) -> str:
        return GROUP[self.domain]


def _split(name, dataset, domain, d, xcol, ycol, splitcol) -> Curve | None:
    d = d.sort_values(xcol)
    f = (d[splitcol] == "fit").to_numpy()
    x, y = d[xcol].to_numpy(float), d[ycol].to_numpy(float)
    if f.sum() < 3 or (~f).sum() < 1 or np.any(y <= 0) or np.any(x <= 0) or x[f].max() >= x[~f].min():
        return None
    return Curve(name, dataset, domain, x[f], y[f], x[~f], y[~f])


def load_corpus(data_dir: Path | None = None) -> list[Curve]:
    """Every usable single-input curve with a fit / held-out split."""
    root = Path(data_dir or bs.data_dir())
    out: list[Curve | None] = []
    r = pd.read_csv(root / "revisiting_nsl" / "revisiting_nsl_benchmark.csv")
    for cid, d in r.groupby("curve_id", sort=True):
        dom = d["domain"].iloc[0]
        out.append(_split(cid, f"revisiting_nsl:{dom}", dom, d, "seen_examples", "value", "split"))
    dd = pd.read_csv(root / "double_descent" / "double_descent_curves.csv")
    for name, d in dd.groupby("curve", sort=True):
        out.append(_split(f"DD|{name}", "double_descent", "DD", d, "x", "y", "split_nslpfn"))
    nano = pd.read_csv(root / "nanogpt_embd" / "nanogpt_val_loss_vs_n_embd.csv")
    for (src, i), d in nano.groupby(["source_file", "config_index"], sort=True):
        out.append(_split(f"Nano|{src}|{i}", "nanogpt_embd", "Nano", d, "n_embd", "val_loss", "split_nslpfn"))
    col = pd.read_csv(root / "colpret_curves" / "colpret_loss_vs_tokens.csv")
    col = col.groupby(["curve", "tokens_seen"], as_index=False, sort=False).agg(
        y=("y", "mean"), split_nslpfn=("split_nslpfn", "first"))  # a few digitised curves repeat x
    for name, d in col.groupby("curve", sort=True):
        out.append(_split(f"ColPreT|{name}", "colpret_curves", "ColPreT", d, "tokens_seen", "y", "split_nslpfn"))
    return [c for c in out if c is not None]


def fit_power_law_offset(x: np.ndarray, y: np.ndarray, *, starts: int = 6) -> np.ndarray:
    """Least-squares ``y = E + A x^-alpha`` on log y (multi-start), as a prediction function's parameters."""
    lx, ly = np.log(x), np.log(y)
    ymin = float(y.min())

    def pred(p, lxx):
        e = ymin * (1 / (1 + np.exp(-p[0])))  # E in (0, y_min)
        return np.logaddexp(np.log(e + 1e-300), p[1] - np.exp(p[2]) * lxx)

    best, rng = None, np.random.default_rng(0)
    for i in range(starts):
        p0 = np.array([rng.normal(-1, 2), ly.max() + rng.normal(0, 1), np.log(rng.uniform(0.05, 1.0))])
        try:
            with np.errstate(all="ignore"):
                res = optimize.least_squares(lambda p: pred(p, lx) - ly, p0, method="lm", max_nfev=2000)
        except (ValueError, FloatingPointError):
            continue
        if np.isfinite(res.cost) and (best is None or res.cost < best.cost):
            best = res
    if best is None:
        raise RuntimeError("no least-squares fit")
    return best.x, (lambda xx: np.exp(pred(best.x, np.log(xx))))


@dataclass(frozen=True)
class Errors:
    """Held-out log errors of one curve's least-squares forecast."""

    curve: Curve
    e: np.ndarray
    h: np.ndarray
    sigma: float


def forecast_errors(curves: Iterable[Curve]) -> list[Errors]:
    out = []
    for c in curves:
        try:
            _, f = fit_power_law_offset(c.x_fit, c.y_fit)
        except RuntimeError:
            continue
        with np.errstate(all="ignore"):
            r = np.log(c.y_fit) - np.log(f(c.x_fit))
            e = np.log(c.y_test) - np.log(f(c.x_test))
        if not (np.all(np.isfinite(r)) and np.all(np.isfinite(e))):
            continue
        dof = max(len(r) - 3, 1)
        sigma = max(float(np.sqrt(np.sum(r ** 2) / dof)), 1e-4)
        h = np.log10(c.x_test / c.x_fit.max())
        out.append(Errors(c, e, h, sigma))
    return out


def fit_discrepancy(e: np.ndarray, h: np.ndarray, sd: np.ndarray, w: np.ndarray,
                    form: str = "absolute", mult: np.ndarray | float = 1.0, *,
                    total_var: Callable[[float, float], np.ndarray] | None = None) -> tuple[float, float]:
    """Maximum-likelihood ``(s0, kappa)`` of ``e ~ N(0, sd^2 + tau(h)^2)``, each point weighted by ``w``.

    ``tau`` is :meth:`bayescale.spec.discrepancy.Discrepancy.sd` of the given form, with base ``sd`` (the
    point's own predictive sd of log y), so the fitted formula is the one forecasts use, times ``mult``
    (a per-point multiplier, such as a curve's own scale from its self-backtest; 1 by default).
    ``total_var(s0, kappa)``, if given, is the errors' whole variance instead (a tried form of ``tau``:
    ``benchmarks/discrepancy_variants.py``).
    """
    def var_of(s0, kappa):
        tau = mult * Discrepancy("fit", s0, kappa, form=form).sd(h, base=sd)
        return sd ** 2 + tau ** 2

    def nll(q):
        s0, kappa = np.exp(q)
        var = (total_var or var_of)(float(s0), float(kappa))
        return float(np.sum(w * (0.5 * np.log(2 * np.pi * var) + 0.5 * e ** 2 / var)))

    best = min((optimize.minimize(nll, q0, method="Nelder-Mead", options={"xatol": 1e-6, "fatol": 1e-9,
                                                                           "maxiter": 4000})
                for q0 in ([-5.0, -4.0], [-3.0, -3.0], [-6.0, -2.0])), key=lambda r: r.fun)
    s0, kappa = np.exp(best.x)
    return float(s0), float(kappa)


def learn(errors: Sequence[Errors]) -> tuple[float, float]:
    """Maximum-likelihood ``(s0, kappa)`` (absolute form) with every curve weighted equally."""
    return fit_discrepancy(np.concatenate([r.e for r in errors]), np.concatenate([r.h for r in errors]),
                           np.concatenate([np.full(r.e.size, r.sigma) for r in errors]),
                           np.concatenate([np.full(r.e.size, 1.0 / r.e.size) for r in errors]))


def excluded_for(dataset: str) -> set[str]:
    """Datasets left out when learning the values used to score ``dataset``."""
    if dataset.startswith("revisiting_nsl"):
        return {d for d in ("revisiting_nsl:IC", "revisiting_nsl:NMT", "revisiting_nsl:LM", "revisiting_nsl:BB")}
    return {dataset}


def _training(errors: Sequence[Errors], dataset: str) -> list[Errors]:
    drop = excluded_for(dataset)
    keep = [r for r in errors if r.curve.dataset not in drop]
    if dataset.startswith("revisiting_nsl"):  # colpret holds copies of revisiting_nsl's LM curves ("lambda-...")
        keep = [r for r in keep if not r.curve.name.startswith("ColPreT|lambda")]
    return keep


def leave_one_out(errors: Sequence[Errors]) -> dict[str, tuple[float, float]]:
    """For each dataset, ``(s0, kappa)`` learned without it (see :func:`excluded_for`)."""
    return {ds: learn(_training(errors, ds)) for ds in sorted({r.curve.dataset for r in errors})}


def table(errors: Sequence[Errors]) -> pd.DataFrame:
    rows = [("default", *learn(errors), "all datasets")]
    for g in sorted({r.curve.group for r in errors}):
        sub = [r for r in errors if r.curve.group == g]
        rows.append((g, *learn(sub), f"{g} ({len(sub)} curves)"))
    return pd.DataFrame(rows, columns=["name", "s0", "kappa", "source"])


def write_table(df: pd.DataFrame, path: Path = TABLE) -> Path:
    head = ("# Extrapolation uncertainty (bayescale.spec.discrepancy): sd of log y = b * (s0 + kappa * decades beyond\n"
            "# the fitted range), b = 1 (form absolute) or the forecast's own sd of log y (form relative); with\n"
            "# autocorrelation = 1 the forecast's total sd beyond the data is b * k * sqrt(1 + (s0 + kappa h)^2), k the\n"
            "# fit's own factor sqrt((1 + rho) / (1 - rho)) from its residual autocorrelation rho. Rebuilt by\n"
            "# python benchmarks/calibration.py --write-table (backtests of the stacked forecast on real curves in\n"
            "# ../shared/data) or python benchmarks/learn_discrepancy.py (least-squares forecasts, absolute form)\n")
    if "form" not in df:
        df = df.assign(form="absolute")
    if "autocorrelation" not in df:
        df = df.assign(autocorrelation=0)
    body = df.assign(s0=df["s0"].map(lambda v: f"{v:.5f}"), kappa=df["kappa"].map(lambda v: f"{v:.5f}"))
    path.write_text(head + body.to_csv(index=False), encoding="utf-8")
    return path


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, default=TABLE, help=f"table to write (default {TABLE})")
    p.add_argument("--write", action="store_true",
                   help="write the table (the package's table comes from benchmarks/calibration.py --write-table, "
                        "which learns from the Bayesian forecasts themselves; this writes the least-squares one)")
    a = p.parse_args(argv)
    errors = forecast_errors(load_corpus())
    print(f"{len(errors)} curves, {sum(r.e.size for r in errors)} held-out points", file=sys.stderr)
    df = table(errors)
    print(df.to_string(index=False))
    print("\nleave-one-dataset-out values (used to score each dataset):")
    for ds, (s0, kappa) in leave_one_out(errors).items():
        print(f"  {ds:<24} s0 {s0:.5f}  kappa {kappa:.5f}")
    if a.write:
        print(f"wrote {write_table(df, a.out)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
