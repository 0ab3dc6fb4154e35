"""Reports, prior/posterior and break plots, the prior predictive and ``bayescale priors``.

The report plumbing runs on the tiny session fit; broken and two-input laws use "fits" whose
posterior is a set of prior draws (no sampling), which exercises every section in well under a
second each.
"""

from __future__ import annotations

import base64
import dataclasses
import html
import io
import re

import numpy as np
import pandas as pd
import pytest
import xarray as xr

import bayescale as bs
from bayescale.present import plots
from bayescale.cli import main
from bayescale.spec.data import Dataset, data_stats
from bayescale.errors import PriorError
from bayescale.inference.results import Fit
from bayescale.prior_predictive import prior_draws, prior_predictive
from bayescale.present.report import build_report, write_report

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
DATA_URI = re.compile(r'<img src="data:image/png;base64,([A-Za-z0-9+/=]+)"')


def _png_size(raw: bytes) -> tuple[int, int]:
    from PIL import Image

    im = Image.open(io.BytesIO(raw))
    im.load()
    return im.size


def fake_fit(law: str, df: pd.DataFrame, *, chains: int = 2, draws: int = 100, seed: int = 0) -> Fit:
    """A Fit whose 'posterior' is prior draws: enough for the report and plot plumbing, no sampling."""
    law_ = bs.get_law(law)
    ds = Dataset(inputs={k: df[k].to_numpy(float) for k in law_.inputs}, y=df["y"].to_numpy(float),
                 columns={**{k: k for k in law_.inputs}, "y": "y"}, source="DataFrame")
    d = prior_draws(law_, stats=data_stats(ds.inputs, ds.y), draws=chains * draws, seed=seed)
    coords = {"chain": np.arange(chains), "draw": np.arange(draws)}
    post = xr.Dataset({k: (("chain", "draw"), v.reshape(chains, draws)) for k, v in d.items()}, coords=coords)
    stats = xr.Dataset({"diverging": (("chain", "draw"), np.zeros((chains, draws), bool))}, coords=coords)
    # log-normal log-likelihood of each observation on the y scale, as bayescale.fit stores it
    from scipy import stats as sps

    mu = law_.evaluate({k: v[None, :] for k, v in ds.inputs.items()}, {k: d[k][:, None] for k in law_.param_names})
    ll = sps.lognorm.logpdf(ds.y[None, :], s=d["sigma"][:, None], scale=np.broadcast_to(mu, (chains * draws, ds.n)))
    loglik = xr.Dataset({"y": (("chain", "draw", "obs"), ll.reshape(chains, draws, ds.n))}, coords=coords)
    tree = xr.DataTree.from_dict({"posterior": post, "sample_stats": stats, "log_likelihood": loglik,
                                  "observed_data": xr.Dataset({"y": ("obs", ds.y)}),
                                  "constant_data": xr.Dataset({k: ("obs", v) for k, v in ds.inputs.items()})})
    settings = {"law": law_.name, "likelihood": "lognormal",
                "priors": {p.name: p.prior.text for p in law_.parameters} | {"sigma": "HalfNormal(sigma=0.2)"},
                "draws": draws, "tune": 0, "chains": chains, "target_accept": 0.9, "sampler": "pymc",
                "sampler_ran": "prior draws", "seed": seed, "remedy": None}
    return Fit(tree=tree, law=law_, data=ds, settings=settings)


@pytest.fixture(scope="module")
def html_report(tiny_fit, tmp_path_factory):
    p = tmp_path_factory.mktemp("report") / "r.html"
    write_report(tiny_fit, path=p, targets=[1e7, 3e7])
    return p.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def bnsl_fake():
    df = bs.simulate(law="bnsl1", seed=2)
    return fake_fit("bnsl1", df)


# -- the HTML report -------------------------------------------------------------------------------------
def test_html_has_every_section_and_table(html_report, tiny_fit):
    for sid in ("warnings", "fit", "forecast", "parameters", "priors", "reproduce"):
        assert f'id="{sid}"' in html_report, sid
    assert "bayescale report: power_law_offset" in html_report
    assert html_report.count("<table>") == 2  # forecast and parameters (no comparison requested)
    for name in tiny_fit.param_names:
        assert f'<td class="t">{name}</td>' in html_report
    assert "1e+07" in html_report and "3e+07" in html_report  # the targets asked for
    assert tiny_fit.settings["sampler_ran"] in html_report


def test_html_figures_are_valid_png_data_uris_and_nothing_external(html_report):
    imgs = DATA_URI.findall(html_report)
    assert len(imgs) == html_report.count("<img") == 2  # fit and prior/posterior
    for b64 in imgs:
        raw = base64.b64decode(b64, validate=True)
        assert raw.startswith(PNG_MAGIC)
        w, h = _png_size(raw)
        assert w > 300 and h > 200
    assert not re.search(r'(src|href)="(https?:|//|file:)', html_report)
    assert "<script" not in html_report and "<link" not in html_report


def test_warnings_list_every_failed_diagnostic(html_report, tiny_fit):
    diag = tiny_fit.diagnostics()
    assert diag.problems, "the tiny fit was expected to fail ESS; the test needs a failing fit"
    top = html_report.index('id="warnings"')
    assert top < html_report.index('id="fit"'), "warnings must come first"
    assert 'class="warnings"' in html_report
    for p in diag.problems:
        assert html.escape(f"fit: {p}") in html_report
    assert "NOT reliable" in html_report
    assert html_report.count('<tr class="bad">') >= 2  # both forecast rows flagged


def test_report_escapes_text(tiny_fit, tmp_path):
    evil = "<script>alert('x')</script>&"
    data = dataclasses.replace(tiny_fit.data, columns={"x": "size <b>", "y": evil}, source='a"b<c>.csv')
    f = dataclasses.replace(tiny_fit, data=data)
    text = write_report(f, path=tmp_path / "e.html").read_text()
    assert "<script" not in text and "<b>" not in text
    assert html.escape(evil) in text and html.escape('a"b<c>.csv') in text


def test_bad_format_and_prob_raise(tiny_fit, tmp_path):
    with pytest.raises(bs.BayescaleError):
        write_report(tiny_fit, path=tmp_path / "x.pdf", fmt="pdf")
    with pytest.raises(bs.BayescaleError):
        write_report(tiny_fit, path=tmp_path / "x.html", prob=1.5)


def test_tables_state_their_interval_probability(tiny_fit):
    """Every column of an interval names its probability, as given (not rounded to a whole percent)."""
    rep = build_report(tiny_fit, targets=[1e7], prob=0.945)
    tables = {s.id: next(b.table for b in s.blocks if b.kind == "table") for s in rep.sections
              if any(b.kind == "table" for b in s.blocks)}
    assert {"expected: 94.5% lower", "new obs: 94.5% upper"} <= set(tables["forecast"].columns)
    assert {"94.5% lower", "94.5% upper"} <= set(tables["parameters"].columns)
    assert not any("lower" in c and "%" not in c for t in tables.values() for c in t.columns)


def test_comparison_section_and_pareto_k_warnings(tiny_fit):
    rep = build_report(tiny_fit, compare=[tiny_fit])
    sec = {s.id: s for s in rep.sections}["compare"]
    table = next(b.table for b in sec.blocks if b.kind == "table")
    assert list(table["model"]) == ["power_law_offset", "power_law_offset #2"] or \
        set(table["model"]) == {"power_law_offset", "power_law_offset #2"}
    assert np.allclose(table["elpd_loo"], table["elpd_loo"].iloc[0])  # the same fit twice
    import arviz as az
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        k = np.asarray(az.loo(tiny_fit.tree, pointwise=True).pareto_k)
    nbad = int(table["obs above it"].iloc[0])
    assert nbad == int(np.sum(k > table["Pareto k threshold"].iloc[0]))
    assert any(w.startswith("LOO for") for w in rep.warnings) == (nbad > 0)


def test_comparison_of_different_laws_uses_bayescale_compare(tiny_fit, pl_offset_df, tmp_path):
    other = fake_fit("power_law", pl_offset_df.rename(columns={}), seed=5)
    p = write_report(tiny_fit, path=tmp_path / "c.html", compare=[other])
    text = p.read_text()
    assert 'id="compare"' in text and "bayescale.compare" in text
    assert "<td class=\"t\">power_law</td>" in text and "Ranked first by LOO" in text


def test_comparison_refuses_other_data(tiny_fit, bnsl_fake):
    with pytest.raises(bs.FitError, match="different data"):
        build_report(tiny_fit, compare=[bnsl_fake])


def test_broken_law_report_has_break_section(bnsl_fake, tmp_path):
    rep = build_report(bnsl_fake, targets=[1e6])
    ids = [s.id for s in rep.sections]
    assert "breaks" in ids
    sec = {s.id: s for s in rep.sections}["breaks"]
    assert any(b.kind == "figure" for b in sec.blocks)
    assert any("d1: median" in i for b in sec.blocks for i in b.items)
    # prior draws of d1 are uniform in log x over the data: 10% in the outer 5% at each end, no warning
    assert not any(w.startswith("break d1") for w in rep.warnings)
    # a break posterior piled against the largest x is flagged
    post = bnsl_fake.tree["posterior"].copy()
    xmax = float(bnsl_fake.data.inputs["x"].max())
    post["d1"] = post["d1"] * 0 + xmax * 0.98
    tree = bnsl_fake.tree.copy()
    tree["posterior"] = post
    rep = build_report(dataclasses.replace(bnsl_fake, tree=tree), targets=[1e6])
    assert any(w.startswith("break d1") and "edge of the data" in w for w in rep.warnings)


def test_two_input_law_report(tmp_path):
    df = bs.simulate(law="chinchilla", seed=1)
    f = fake_fit("chinchilla", df)
    from bayescale.present.report import _default_targets

    assert _default_targets(f) == {k: [2 * df[k].max(), 10 * df[k].max()] for k in ("N", "D")}
    f.save(tmp_path / "c.nc")
    out = tmp_path / "c.html"
    assert main(["report", str(tmp_path / "c.nc"), "--target-input", "N=1e10,D=2e11", "-o", str(out)]) == 0
    text = out.read_text()
    assert 'id="fit"' not in text and 'id="forecast"' in text and 'id="parameters"' in text
    assert "<th>N</th><th>D</th>" in text and "1e+10" in text and "2e+11" in text
    assert main(["report", str(tmp_path / "c.nc"), "--target", "1e10", "-o", str(tmp_path / "d.html")]) == 2
    assert not (tmp_path / "d.html").exists()


# -- CLI -----------------------------------------------------------------------------------------------
def test_cli_report_html_and_md(tiny_fit_path, tmp_path, capsys):
    out = tmp_path / "cli.html"
    assert main(["report", str(tiny_fit_path), "--target", "2e7", "-o", str(out)]) == 0
    assert out.read_text().startswith("<!DOCTYPE html>") and "2e+07" in out.read_text()
    printed = capsys.readouterr().out
    assert "wrote" in printed and "warning(s)" in printed
    # Markdown: figures as PNG files in rep_files/ beside rep.md, linked relatively
    assert main(["report", str(tiny_fit_path), "-o", str(tmp_path / "rep.md")]) == 0
    text = (tmp_path / "rep.md").read_text()
    figs = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", text)
    assert len(figs) == 2 and all(f.startswith("rep_files/") for f in figs)
    for rel in figs:
        assert (tmp_path / rel).read_bytes().startswith(PNG_MAGIC)
    assert "## Warnings" in text and "## Forecasts" in text and "| parameter |" in text
    assert text.index("## Warnings") < text.index("## Forecasts")


def test_cli_report_missing_fit_exits_2(tmp_path, capsys):
    rc = main(["report", str(tmp_path / "nope.nc"), "-o", str(tmp_path / "x.html")])
    assert rc == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and "not found" in err
    assert not (tmp_path / "x.html").exists()


def test_cli_priors_lists_every_parameter_with_reason(capsys):
    assert main(["priors", "bnsl1"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    law = bs.get_law("bnsl1")
    assert law.derived == ("c1",)  # the slope change is computed from the break's effect e1
    for p in law.parameters:
        shown = f"derived: {p.name} = {p.prior.args['value'].text}" if p.derived else p.prior.text
        assert " ".join(f"{p.name} {shown}".split()) in out
        assert " ".join(p.reason.split()) in out
    from bayescale.spec.likelihoods import LIKELIHOODS

    assert " ".join(LIKELIHOODS["lognormal"].noise_priors["sigma"][1].split()) in out


def test_cli_priors_override_and_json(capsys):
    import json

    assert main(["priors", "power_law", "--prior", "alpha=Normal(mu=0.3, sigma=0.1)", "--json"]) == 0
    rep = json.loads(capsys.readouterr().out)
    rows = {r["name"]: r for r in rep["parameters"]}
    assert rows["alpha"]["prior"] == "Normal(mu=0.3, sigma=0.1)" and rows["alpha"]["reason"] == "given with --prior"
    assert main(["priors", "power_law", "--x", "a"]) == 2


def test_cli_priors_with_data_draws_prior_predictive(data_dir, tmp_path, capsys):
    csv = data_dir / "bnsl_4digit_addition" / "four_digit_addition.csv"
    png = tmp_path / "pp.png"
    assert main(["priors", "bnsl1", "--data", str(csv), "--x", "train_dataset_size", "--y",
                 "test_cross_entropy", "--draws", "200", "--plot", str(png)]) == 0
    out = capsys.readouterr().out
    assert "prior predictive" in out and "y_min=" in out
    assert png.read_bytes().startswith(PNG_MAGIC)


# -- prior predictive ------------------------------------------------------------------------------------
def test_prior_predictive_shapes_and_positive_draws(pl_offset_df):
    pp = prior_predictive("power_law_offset", data=pl_offset_df, draws=300, seed=1)
    assert pp.expected.shape == pp.observed.shape == (300, 60)
    assert np.all(pp.observed > 0) and np.all(pp.expected > 0)
    assert set(pp.params) == {"E", "alpha", "A", "sigma"}
    x = pp.inputs["x"]
    assert x.min() == pytest.approx(pl_offset_df["x"].min()) and x.max() == pytest.approx(pl_offset_df["x"].max())
    t = pp.table(prob=0.9)
    assert np.all(t["lower"] <= t["median"]) and np.all(t["median"] <= t["upper"])
    z = np.log(pp.observed / pp.expected) / pp.params["sigma"][:, None]  # log-normal noise: z ~ N(0, 1)
    assert abs(z.mean()) < 0.05 and abs(z.std() - 1) < 0.05


def test_prior_predictive_is_scale_aware():
    """Multiplying every y statistic by c multiplies each prior curve by c (same seed)."""
    st = {"x_min": 10.0, "x_max": 1e4, "x_ref": 316.0, "y_min": 2.0, "y_ref": 3.0, "y_max": 5.0}
    a = prior_predictive("power_law_offset", x=[10, 100, 1e3], stats=st, draws=200, seed=4)
    big = {k: (v * 1000 if k.startswith("y") else v) for k, v in st.items()}
    b = prior_predictive("power_law_offset", x=[10, 100, 1e3], stats=big, draws=200, seed=4)
    np.testing.assert_allclose(b.expected, 1000 * a.expected, rtol=1e-9)


def test_prior_predictive_conditional_and_ordered_priors():
    st = {"x_min": 1.0, "x_max": 1e3, "y_min": 0.5, "y_start": 2.0}
    d = prior_draws("bnsl2", stats=st, draws=2000, seed=0)
    assert np.all(d["d1"] <= d["d2"])
    assert np.all((d["d1"] >= 1) & (d["d2"] <= 1e3))
    assert np.all((d["a"] >= 0) & (d["a"] <= 0.5))
    # E ~ Uniform(0, y_min): the mean of many draws is near y_min / 2
    e = prior_draws("power_law_offset", stats={"y_min": 4.0, "y_ref": 5.0, "x_ref": 10.0}, draws=4000)["E"]
    assert abs(e.mean() - 2.0) < 0.1


def test_prior_predictive_errors():
    with pytest.raises(PriorError, match="x_ref"):
        prior_predictive("power_law_offset", x=[1, 2], stats={"y_min": 1.0, "y_ref": 2.0})
    with pytest.raises(bs.DataError):
        prior_predictive("power_law", stats={"x_ref": 1.0, "y_ref": 1.0})  # no x and no data


# -- plots ------------------------------------------------------------------------------------------------
def test_plot_prior_posterior_one_panel_per_parameter(tiny_fit):
    fig, axes = plots.plot_prior_posterior(tiny_fit, draws=500)
    visible = [ax for ax in axes if ax.get_visible()]
    assert [ax.get_title() for ax in visible] == tiny_fit.param_names
    assert all(ax.patches for ax in visible)


def test_plot_breaks(bnsl_fake, tiny_fit):
    fig, (ax_fit, ax_b) = plots.plot_breaks(bnsl_fake)
    assert ax_b.get_xscale() == "log" and "d1" in ax_b.get_legend().get_texts()[0].get_text()
    with pytest.raises(ValueError, match="no break"):
        plots.plot_breaks(tiny_fit)


def test_break_names_come_from_the_declared_roles():
    assert plots.break_names(bs.get_law("bnsl2")) == ["d1", "d2"]
    # a parameter called d1 is not a break unless the law declares it one
    law = bs.make_law(name="decay", formula="A * x^(-d1)", inputs=["x"],
                      parameters=[{"name": "A", "prior": "HalfNormal(sigma=1)"},
                                  {"name": "d1", "prior": "HalfNormal(sigma=1)"}])
    assert plots.break_names(law) == [] and not law.is_broken


def test_plots_work_headless_without_choosing_a_backend(tmp_path):
    """No display, no MPLBACKEND: matplotlib falls back to agg by itself and figures save."""
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "MPLBACKEND")}
    code = ("import matplotlib, bayescale.present.plots as p, bayescale.present.figures as f\n"
            "fig, ax = f.new_axes(); ax.plot([1, 2]); raw = f.figure_png(fig)\n"
            "assert raw.startswith(b'\\x89PNG'), raw[:8]\n"
            "print(matplotlib.get_backend())")
    r = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
    assert r.stdout.strip().lower() == "agg"


def test_plot_prior_predictive_two_input_needs_data():
    df = bs.simulate(law="chinchilla", seed=1)
    pp = prior_predictive("chinchilla", data=df, draws=100)
    fig, ax = plots.plot_prior_predictive(pp, data=(df["N"], df["y"]))
    assert ax.get_xlabel() == "observed y"
    with pytest.raises(ValueError):
        plots.plot_prior_predictive(pp)
