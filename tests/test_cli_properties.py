"""Property-based hardening of CLI arguments and prior strings.

Generated seeds, probabilities, draw counts, tuning steps, chains, cores and prior strings (any
family, any argument values, including out of domain): ``bayescale fit`` either reaches the sampler
(every value valid) or exits 2 with one printable ``error:`` line naming the value, without a
traceback and without sampling first.
"""

from __future__ import annotations

import contextlib
import io
import math
from unittest import mock

import pytest
import pymc  # noqa: F401  (imported first: it raises the recursion limit, which Hypothesis would warn about)
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st

import bayescale as bs
from bayescale.cli import main
from bayescale.errors import BayescaleError
from bayescale.inference import fit as fit_module
from bayescale.spec.priors import FAMILIES, parse_prior

SETTINGS = settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                           HealthCheck.function_scoped_fixture])
GOOD = "x,y\n" + "\n".join(f"{10 ** (1 + i / 4):g},{2 + 5 * (10 ** (1 + i / 4)) ** -0.3:.5f}" for i in range(12)) + "\n"


class ReachedSampler(Exception):
    """The stub sampler: every input passed the checks."""


def _stub(*args, **kwargs):
    raise ReachedSampler


def _number_text():
    return st.one_of(
        st.integers(-10, 10**25).map(str),
        st.floats(allow_nan=True, allow_infinity=True).map(repr),
        st.sampled_from(["", "abc", "1e400", "-0", "0.0", "1.5", "nan", "inf", "0x10", "1_000", " 3 "]),
    )


def _int_ok(text: str, lo: int, hi: int | None = None) -> bool:
    try:
        v = int(text)
    except ValueError:
        return False
    return v >= lo and (hi is None or v <= hi)


def _prob_ok(text: str) -> bool:
    try:
        v = float(text)
    except ValueError:
        return False
    return 0 < v < 1


def _run(path, extra):
    err = io.StringIO()
    with mock.patch.object(fit_module, "sample", _stub), contextlib.redirect_stderr(err), \
            contextlib.redirect_stdout(io.StringIO()):
        try:
            rc = main(["fit", str(path), "--x", "x", "--y", "y", "--law", "power_law_offset", *extra])
        except ReachedSampler:
            return None, ""
    return rc, err.getvalue()


def _assert_one_line(rc, text):
    assert rc == 2, text
    assert "Traceback" not in text
    lines = [ln for ln in text.strip().split("\n") if not ln.startswith("usage:")]
    assert len(lines) == 1 and lines[0].startswith("error: ") and lines[0].isprintable(), text


@pytest.fixture(scope="module")
def good_csv(tmp_path_factory):
    p = tmp_path_factory.mktemp("cli") / "good.csv"
    p.write_text(GOOD)
    return p


@SETTINGS
@given(seed=_number_text(), prob=_number_text(), draws=_number_text(), tune=_number_text(),
       chains=_number_text(), cores=_number_text())
def test_sampling_arguments_reach_the_sampler_only_when_valid(good_csv, seed, prob, draws, tune, chains, cores):
    extra = ["--seed", seed, "--prob", prob, "--draws", draws, "--tune", tune, "--chains", chains,
             "--cores", cores]
    valid = (_int_ok(seed, 0, 2**32 - 1) and _prob_ok(prob) and _int_ok(draws, 1) and _int_ok(tune, 1)
             and _int_ok(chains, 1) and _int_ok(cores, 1))
    event(f"valid={valid}")
    rc, text = _run(good_csv, [a if not a.startswith("-") or a.startswith("--") else a for a in extra])
    if valid:
        assert rc is None, text
    else:
        _assert_one_line(rc, text)


_VALUE = st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.integers(-5, 5),
                   st.sampled_from(["x_min", "y_min", "y_sd", "-y_sd", "log(0)", "alpha"]))


@st.composite
def prior_strings(draw):
    fam = draw(st.sampled_from(sorted(FAMILIES) + ["Cauchy"]))
    args = FAMILIES[fam].args if fam in FAMILIES else ("mu", "sigma")
    if draw(st.integers(0, 5)) == 0:  # a missing or extra argument now and then
        args = draw(st.permutations(list(args) + ["bogus"]))[: len(args)]
    vals = {a: draw(_VALUE) for a in args}
    return f"{fam}(" + ", ".join(f"{a}={v!r}" if isinstance(v, float) else f"{a}={v}" for a, v in vals.items()) + ")"


@SETTINGS
@given(prior=prior_strings(), name=st.sampled_from(["alpha", "E", "A", "sigma"]))
# found by CI: an interval whose ends are one expression, and a LogUniform with upper <= 0
@example(prior="Uniform(lower=alpha, upper=alpha)", name="sigma")
@example(prior="LogUniform(lower=alpha, upper=alpha)", name="sigma")
@example(prior="LogUniform(lower=alpha, upper=0.0)", name="sigma")
@example(prior="LogUniform(lower=alpha, upper=0.0)", name="A")
def test_prior_strings_are_checked_before_sampling(good_csv, prior, name):
    rc, text = _run(good_csv, ["--prior", f"{name}={prior}", "--draws", "5", "--tune", "5"])
    event("reached sampler" if rc is None else "rejected")
    if rc is not None:
        _assert_one_line(rc, text)
        return
    # reached the sampler: the prior parsed, and every numeric argument is inside its family's domain
    p = parse_prior(prior, param=name)
    for k, f in p.args.items():
        if not f.names:
            assert math.isfinite(float(f({}))), (prior, k)


@SETTINGS
@given(prior=prior_strings())
def test_make_law_and_parse_prior_share_one_check(prior):
    """A prior string that parse_prior rejects is rejected by make_law with the same message."""
    try:
        parse_prior(prior, param="A")
        ok = True
    except BayescaleError as exc:
        ok, msg = False, str(exc)
    law_msg = ""
    try:
        bs.make_law(name="t", formula="A * x^(-alpha)", inputs=["x"],
                    parameters=[{"name": "alpha", "prior": "HalfNormal(sigma=1)"}, {"name": "A", "prior": prior}])
        made = True
    except BayescaleError as exc:
        made, law_msg = False, str(exc)
    if ok:
        # then only the names the prior uses can stop make_law (alpha was declared before A)
        event("parsed")
        assert made or "uses" in law_msg, law_msg
    else:
        assert not made and msg.split(": ", 1)[-1] in law_msg, (msg, law_msg)


@pytest.mark.parametrize("prior, why", [
    ("Uniform(lower=alpha, upper=0.1)", "lower=0.29"),
    ("HalfNormal(sigma=alpha-5)", "sigma=-4.7"),
])
def test_noise_prior_arguments_that_use_parameters_are_checked_at_the_start(good_csv, prior, why):
    """Arguments that use a law parameter are checked at the starting point, before any sampling."""
    rc, text = _run(good_csv, ["--prior", f"sigma={prior}"])
    _assert_one_line(rc, text)
    assert "starting point (alpha=" in text and why in text, text
