"""Hardening, round two: each bad or unusual input ends in one line naming the value and the fix, exit 2,
no traceback, and nothing samples first (the sampler is replaced by one that fails the test)."""

from __future__ import annotations

import pytest

import bayescale as bs
from bayescale.cli import main
from bayescale.errors import DataError, PriorError
from bayescale.inference import fit as fit_module

GOOD = "x,y\n" + "\n".join(f"{10 ** (1 + i / 4):g},{2 + 5 * (10 ** (1 + i / 4)) ** -0.3:.5f}" for i in range(12)) + "\n"
ND = "N,D,loss\n" + "\n".join(f"{n:g},{d:g},{1.7 + 400 / n ** 0.34 + 400 / d ** 0.28:.4f}"
                              for n in (1e7, 3e7, 1e8, 3e8) for d in (1e9, 3e9, 1e10)) + "\n"


@pytest.fixture(autouse=True)
def no_sampling(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("sampling started before the bad input was rejected")

    monkeypatch.setattr(fit_module, "sample", refuse)


@pytest.fixture
def files(tmp_path):
    (tmp_path / "good.csv").write_text(GOOD)
    (tmp_path / "nd.csv").write_text(ND)
    (tmp_path / "latin1.csv").write_bytes("x,y,note\n1,2,caf\xe9\n2,3,b\n".encode("latin-1"))
    (tmp_path / "extra.csv").write_text("x,y\n1,2\n2,3,4\n3,4\n")
    (tmp_path / "semi.csv").write_text(GOOD.replace(",", ";"))
    (tmp_path / "tab.csv").write_text(GOOD.replace(",", "\t"))
    (tmp_path / "space.csv").write_text(GOOD.replace("x,y", "x ,y", 1))
    (tmp_path / "adir").mkdir()
    return tmp_path


FIT = ["fit", "{d}/good.csv", "--x", "x", "--y", "y", "--law", "power_law_offset"]
CHIN = ["fit", "{d}/nd.csv", "--x", "N", "D", "--y", "loss", "--law", "chinchilla"]

CASES = [
    # (argv, fragments that must all be in the one-line message)
    (FIT + ["--prior", "sigma=HalfNormal(sigma=0)"], ["HalfNormal(sigma=0)", "sigma=0 must be > 0"]),
    (FIT + ["--prior", "alpha=Normal(mu=0, sigma=-1)"], ["sigma=-1 must be > 0"]),
    (FIT + ["--prior", "A=LogNormal(mu=0, sigma=-2)"], ["sigma=-2 must be > 0"]),
    (FIT + ["--prior", "E=Uniform(lower=2, upper=1)"], ["lower=2 must be below upper=1"]),
    (FIT + ["--tune", "0"], ["--tune '0'", ">= 1"]),
    (FIT + ["--draws", "0"], ["--draws '0'", ">= 1"]),
    (FIT + ["--seed", "-1"], ["seed '-1'", "from 0 to 4294967295"]),
    (FIT + ["--seed", "1180591620717411303424"], ["seed '1180591620717411303424'", "from 0 to"]),
    (FIT + ["--cores", "0"], ["--cores '0'", ">= 1"]),
    (FIT + ["--prob", "1.5"], ["probability '1.5'", "between 0 and 1"]),
    (FIT + ["--target-accept", "1"], ["probability '1'", "between 0 and 1"]),
    (CHIN + ["--target-input", "N=1e10"], ["'N=1e10'", "N=VALUE,D=VALUE"]),
    (CHIN + ["--target-input", "N=abc,D=1e11"], ["N:", "'abc' is not a number"]),
    (CHIN + ["--target", "1e10"], ["chinchilla", "--target-input N=VALUE,D=VALUE"]),
    (["fit", "{d}/adir", "--x", "x", "--y", "y", "--law", "power_law"], ["is a directory", "CSV file"]),
    (["fit", "{d}/latin1.csv", "--x", "x", "--y", "y", "--law", "power_law"], ["not UTF-8", "iconv"]),
    (["fit", "{d}/extra.csv", "--x", "x", "--y", "y", "--law", "power_law"], ["line 3 has 3 fields", "header has 2"]),
    (["fit", "{d}/semi.csv", "--x", "x", "--y", "y", "--law", "power_law"], ["';'", "comma-separated"]),
    (["fit", "{d}/tab.csv", "--x", "x", "--y", "y", "--law", "power_law"], ["'\\t'", "comma-separated"]),
    (["fit", "{d}/space.csv", "--x", "x", "--y", "y", "--law", "power_law"], ["'x '", "spaces"]),
    (["fit", "{d}/good.csv", "--x", "xx", "--y", "y", "--law", "power_law"], ["no column 'xx'", "did you mean 'x'"]),
    (["allocate", "{d}/fit.nc", "--compute", "-1e21"], ["number of FLOPs '-1e21'", "positive number"]),
    ([], ["give a command", "bayescale --help"]),
    (FIT + ["--no-such-option"], ["--no-such-option", "bayescale fit --help"]),
    (["forecast", "{d}/fit.nc", "--seed", "-3"], ["seed '-3'"]),
    (["demo", "--seed", "x"], ["seed 'x' is not an integer"]),
]


@pytest.mark.parametrize("argv, fragments", CASES, ids=[" ".join(c[0][:1] + c[0][-2:]) for c in CASES])
def test_bad_cli_input_one_line_exit_2(files, capsys, argv, fragments):
    rc = main([a.format(d=files) for a in argv])
    err = capsys.readouterr().err.strip()
    lines = [ln for ln in err.splitlines() if not ln.startswith("usage:")]
    assert rc == 2, err
    assert len(lines) == 1, err
    assert "Traceback" not in err
    for frag in fragments:
        assert frag in lines[0], (frag, lines[0])


def test_version(capsys):
    with pytest.raises(SystemExit) as exc:
        bs.cli.build_parser().parse_args(["--version"])
    assert exc.value.code == 0 and capsys.readouterr().out.startswith(f"bayescale {bs.__version__}")


def test_every_option_has_help():
    import argparse

    parser = bs.cli.build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    missing = [f"{name} {a.option_strings or a.dest}" for name, p in sub.choices.items() for a in p._actions
               if not isinstance(a, argparse._HelpAction) and not a.help]
    assert not missing, missing


def test_python_api_checks_before_work():
    with pytest.raises(PriorError, match="sigma=0 must be > 0"):
        bs.make_law(name="bad", formula="A * x^(-alpha)", inputs=["x"],
                    parameters=[{"name": "A", "prior": "HalfNormal(sigma=0)"},
                                {"name": "alpha", "prior": "HalfNormal(sigma=1)"}])
    with pytest.raises(DataError, match="dict.*pandas.DataFrame"):
        bs.fit({"x": [1, 2, 3], "y": [3, 2, 1]}, law="power_law")
    with pytest.raises(bs.FitError, match="seed"):
        bs.fit(GOOD, law="power_law", seed=-1)


def test_prior_on_data_statistic_checked_against_the_data(tmp_path):
    """A prior that is fine as text but empty for these data (Uniform(0, y_min) with a negative metric)."""
    p = tmp_path / "neg.csv"
    p.write_text("x,y\n1,-1\n2,-2\n3,-2.5\n4,-2.7\n")
    with pytest.raises(PriorError, match=r"upper=y_min\) with y_min=-2.7: lower=0 must be below"):
        bs.fit(p, law="power_law_offset", x="x", y="y", likelihood="normal")


# -- compare, report, priors ------------------------------------------------------------------------------
CMP = ["compare", "{d}/good.csv", "--x", "x", "--y", "y"]
CMP_ND = ["compare", "{d}/nd.csv", "--x", "N", "D", "--y", "loss", "--laws", "chinchilla,kaplan"]

CASES_COMPARE_REPORT = [
    (CMP + ["--tune", "0"], ["--tune '0'", ">= 1"]),
    (CMP + ["--seed", "-1"], ["seed '-1'", "from 0 to 4294967295"]),
    (CMP + ["--seed", "1180591620717411303424"], ["seed '1180591620717411303424'", "from 0 to"]),
    (CMP + ["--max-refits", "-1"], ["--max-refits '-1'", "integer >= 0"]),
    (CMP + ["--lfo-k", "0"], ["--lfo-k '0'", "integer >= 1"]),
    (CMP + ["--lfo-k", "12"], ["lfo_k=12", "from 1 to 11", "--no-lfo"]),
    (CMP + ["--prob", "1.5"], ["probability '1.5'", "between 0 and 1"]),
    (CMP_ND + ["--target", "1e10"], ["chinchilla", "--target-input N=VALUE,D=VALUE"]),
    (CMP_ND + ["--target-input", "N=1e10"], ["'N=1e10'", "N=VALUE,D=VALUE"]),
    (CMP + ["--laws", "power_law_offset,nosuchlaw"], ["unknown law 'nosuchlaw'", "choose one of"]),
    (CMP + ["--laws", "bnsl1,chinchilla"], ["inputs include every other's", "bnsl1 has x", "chinchilla has N, D"]),
    (["report", "{d}/fit.nc", "-o", "{d}/r.pdf"], ["r.pdf", "not '.pdf'", "r.html", "--format html"]),
    (["report", "{d}/fit.nc", "-o", "{d}/r.html", "--refits", "-1"], ["--refits '-1'", "integer >= 0"]),
    (["report", "{d}/fit.nc", "-o", "{d}/r.html", "--prob", "0"], ["probability '0'", "between 0 and 1"]),
    (["report", "{d}/fit.nc", "-o", "{d}/r.html", "--seed", "-1"], ["seed '-1'"]),
    (["priors", "bnsl1", "--draws", "0"], ["--draws '0'", "integer >= 1"]),
    (["priors", "bnsl1", "--seed", "-1"], ["seed '-1'", "from 0 to 4294967295"]),
    (["priors", "bnsl1", "--prob", "1.5"], ["probability '1.5'"]),
]


@pytest.mark.parametrize("argv, fragments", CASES_COMPARE_REPORT,
                         ids=[" ".join(c[0][:1] + c[0][-2:]) for c in CASES_COMPARE_REPORT])
def test_bad_compare_report_priors_input_one_line_exit_2(files, capsys, argv, fragments):
    test_bad_cli_input_one_line_exit_2(files, capsys, argv, fragments)


def test_report_format_from_suffix_or_format(files, capsys):
    """.htm, .markdown and any name with --format are accepted (here the fit file is then missing)."""
    for out, fmt in (("r.htm", []), ("r.markdown", []), ("r.pdf", ["--format", "html"])):
        assert main(["report", str(files / "none.nc"), "-o", str(files / out), *fmt]) == 2
        assert "fit file" in capsys.readouterr().err


def test_compare_and_report_priors_have_examples():
    import argparse

    parser = bs.cli.build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    for name in ("compare", "report", "priors"):
        assert "example" in (sub.choices[name].epilog or ""), name


def test_python_compare_checks_before_fitting(files):
    data = files / "good.csv"
    with pytest.raises(bs.FitError, match=r"lfo_k=0: .*integer >= 1"):
        bs.compare(data, laws=["power_law", "power_law_offset"], x="x", lfo_k=0)
    with pytest.raises(DataError, match="lfo_k=12: .* from 1 to 11"):
        bs.compare(data, laws=["power_law", "power_law_offset"], x="x", lfo_k=12)
    with pytest.raises(bs.FitError, match=r"max_refits=-1: .*integer >= 0"):
        bs.compare(data, laws=["power_law", "power_law_offset"], x="x", max_refits=-1)
    with pytest.raises(bs.LawError, match="one law's inputs include every other's"):
        bs.compare(data, laws=["power_law", "chinchilla"], x="x")
    with pytest.raises(bs.LawError, match="chinchilla has N, D; kaplan has N, D; power_law has x"):
        bs.compare(data, laws=["chinchilla", "kaplan", "power_law"], x="x")


def test_every_command_shows_an_example():
    import argparse

    parser = bs.cli.build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    missing = [name for name, p in sub.choices.items() if not (p.epilog and "bayescale" in p.epilog)]
    assert not missing, missing


@pytest.mark.parametrize("cmd", ["fit", "compare", "report"])
def test_a_repeated_target_flag_adds_targets(cmd):
    """--target-input A --target-input B keeps both (argparse's plain nargs="+" kept only the last)."""
    parser = bs.cli.build_parser()
    head = {"fit": ["fit", "d.csv", "--x", "N", "D", "--y", "L", "--law", "chinchilla"],
            "compare": ["compare", "d.csv", "--x", "N", "D", "--y", "L", "--laws", "chinchilla,kaplan"],
            "report": ["report", "fit.nc", "-o", "r.html"]}[cmd]
    a = parser.parse_args([*head, "--target-input", "N=1,D=2", "--target-input", "N=3,D=4", "N=5,D=6"])
    assert a.target_input == ["N=1,D=2", "N=3,D=4", "N=5,D=6"]
    b = parser.parse_args([*head, "--target", "1", "--target", "2"])
    assert list(b.target) == [1.0, 2.0]
