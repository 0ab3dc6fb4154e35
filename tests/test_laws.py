"""Layer 1: every catalogue law against an independent numpy reference."""

import numpy as np
import pytest

import bayescale as bs
from bayescale.spec.laws import law_from_json
from bayescale.errors import LawError, PriorError
from bayescale.simulate import TRUE_PARAMS

X = np.logspace(1, 7, 25)
N = np.logspace(7, 10, 7)[:, None] * np.ones((1, 5))
D = np.ones((7, 1)) * np.logspace(9, 12, 5)[None, :]
U = D / np.array([1.0, 3.0, 30.0, 300.0, 3000.0])[None, :]  # unique tokens, repeated 1 to 3000 times


def _data_constrained_ref(p):
    # Muennighoff et al. (2023), eq. 5's data term: D' = U_D + U_D R_D* (1 - exp(-R_D / R_D*)), R_D = D/U_D - 1
    r_d = D / U - 1
    d_eff = U + U * p["R"] * (1 - np.exp(-r_d / p["R"]))
    return p["E"] + p["A"] / N ** p["alpha"] + p["B"] / d_eff ** p["beta"]


def _bnsl_ref(x, a, b, c0, cs, ds, fs):
    # the product form of Caballero et al. (2022), eq. 1
    y = b * x ** (-c0)
    for c, d, f in zip(cs, ds, fs):
        y = y * (1 + (x / d) ** (1 / f)) ** (-c * f)
    return a + y


REFERENCES = {
    "power_law": lambda p: p["A"] * X ** (-p["alpha"]),
    "power_law_offset": lambda p: p["E"] + p["A"] * X ** (-p["alpha"]),
    "bnsl1": lambda p: _bnsl_ref(X, p["a"], p["b"], p["c0"], [p["c1"]], [p["d1"]], [p["f1"]]),
    "bnsl2": lambda p: _bnsl_ref(X, p["a"], p["b"], p["c0"], [p["c1"], p["c2"]], [p["d1"], p["d2"]],
                                 [p["f1"], p["f2"]]),
    "bnsl3": lambda p: _bnsl_ref(X, p["a"], p["b"], p["c0"], [p["c1"], p["c2"], p["c3"]],
                                 [p["d1"], p["d2"], p["d3"]], [p["f1"], p["f2"], p["f3"]]),
    "chinchilla": lambda p: p["E"] + p["A"] / N ** p["alpha"] + p["B"] / D ** p["beta"],
    "kaplan": lambda p: ((p["N_c"] / N) ** (p["alpha_N"] / p["alpha_D"]) + p["D_c"] / D) ** p["alpha_D"],
    "data_constrained": _data_constrained_ref,
}


def test_catalogue_has_every_family():
    assert {law.name for law in bs.list_laws()} >= set(REFERENCES)


@pytest.mark.parametrize("name", sorted(REFERENCES))
def test_law_matches_numpy_reference(name):
    law = bs.get_law(name)
    p = TRUE_PARAMS[name]
    inputs = {k: {"x": X, "N": N, "D": D, "U": U}[k] for k in law.inputs}
    np.testing.assert_allclose(law(**inputs, **p), REFERENCES[name](p), rtol=1e-10)


def test_bnsl_is_non_monotone_with_negative_c():
    law = bs.get_law("bnsl1")
    y = law(x=X, a=0.1, b=5.0, c0=0.5, c1=-1.0, d1=1e4, f1=0.1)
    assert np.any(np.diff(y) > 0) and np.any(np.diff(y) < 0)


def test_sharp_break_does_not_overflow():
    law = bs.get_law("bnsl1")
    y = law(x=np.array([1e2, 1e9]), a=0.4, b=2.3, c0=0.05, c1=5.7, d1=612.0, f1=0.005)
    assert np.all(np.isfinite(y))


@pytest.mark.parametrize("law", bs.list_laws(), ids=lambda law: law.name)
def test_every_parameter_is_documented(law):
    assert law.references and law.description
    for p in law.parameters:
        assert p.description and len(p.reason) > 20, p.name


def test_spec_round_trips_through_json():
    for law in bs.list_laws():
        again = law_from_json(law.to_json())
        assert again.to_dict() == law.to_dict()


def test_user_law_file(tmp_path):
    f = tmp_path / "sat.toml"
    f.write_text(
        'name = "saturating"\nformula = "E + A / (1 + x/k)"\ninputs = ["x"]\n'
        '[[parameters]]\nname = "E"\nprior = "Uniform(lower=0, upper=y_min)"\n'
        '[[parameters]]\nname = "A"\nprior = "LogNormal(mu=log(y_ref), sigma=2)"\n'
        '[[parameters]]\nname = "k"\nprior = "LogUniform(lower=x_min, upper=x_max)"\n'
    )
    law = bs.get_law(str(f))
    assert law.name == "saturating"
    assert law(x=np.array([1.0]), E=1.0, A=2.0, k=1.0) == pytest.approx(2.0)


def test_make_law_in_python():
    law = bs.make_law(name="lin", formula="a * x", inputs=["x"],
                      parameters=[{"name": "a", "prior": "HalfNormal(sigma=1)"}])
    assert law(x=2.0, a=3.0) == pytest.approx(6.0)


@pytest.mark.parametrize(
    "body, match",
    [
        ('name = "bad"\nformula = "a * x"\n', "missing key"),
        ('name = "bad"\nformula = "a * x"\ninputs = ["x"]\nparameters = []\n', "at least one parameter"),
        ('name = "bad"\nformula = "a * x + q"\ninputs = ["x"]\n[[parameters]]\nname = "a"\nprior = "HalfNormal(sigma=1)"\n',
         "neither an input"),
        ('name = "bad"\nformula = "__import__(1)"\ninputs = ["x"]\n[[parameters]]\nname = "a"\nprior = "HalfNormal(sigma=1)"\n',
         "not allowed"),
        ('name = "bad"\nformula = "a * x"\ninputs = ["x"]\n[[parameters]]\nname = "a"\nprior = "Cauchy(alpha=0)"\n',
         "unknown family"),
        ('name = "bad"\nformula = "a * x"\ninputs = ["x"]\n[[parameters]]\nname = "a"\nprior = "HalfNormal(scale=1)"\n',
         "takes arguments"),
        ('name = "bad"\nformula = "a * x"\ninputs = ["x"]\n[[parameters]]\nname = "a"\nprior = "Normal(mu=b, sigma=1)"\n',
         "declared before"),
        ("this is [not toml", "not valid TOML"),
        ('name = "bad"\nformula = "a * x"\ninputs = ["x"]\ncolour = 1\n[[parameters]]\nname = "a"\nprior = "HalfNormal(sigma=1)"\n',
         "unknown key"),
    ],
)
def test_malformed_law_files(tmp_path, body, match):
    f = tmp_path / "bad.toml"
    f.write_text(body)
    with pytest.raises((LawError, PriorError), match=match):
        bs.load_law(f)


def test_unknown_law_lists_catalogue():
    with pytest.raises(LawError, match="choose one of .*power_law"):
        bs.get_law("powr_law")


def test_derived_parameter_is_computed_not_sampled():
    from bayescale.spec.resolve import resolve_priors

    law = bs.make_law(name="halves", formula="A * x^(-alpha)", inputs=["x"], parameters=[
        {"name": "twice", "prior": "HalfNormal(sigma=1)"},
        {"name": "alpha", "derived": "twice / 2"},
        {"name": "A", "prior": "LogNormal(mu=log(y_ref) + alpha*log(x_ref), sigma=1)"}])
    assert law.derived == ("alpha",) and law.sampled == ("twice", "A") and law.formula_params == ("alpha", "A")
    assert law_from_json(law.to_json()).to_dict() == law.to_dict()
    assert law.to_dict()["parameters"][1]["derived"] == "twice / 2"
    assert resolve_priors(law)["alpha"].fixed
    # a saved fit names the derived prior as the law computes it; anything else is refused
    assert resolve_priors(law, priors={"alpha": "Fixed(value=twice / 2)"})["alpha"].fixed
    with pytest.raises(PriorError, match="'alpha' is not sampled.*put priors on twice"):
        resolve_priors(law, priors={"alpha": "HalfNormal(sigma=1)"})
    # through a chain of derived parameters, down to the sampled ones
    chain = bs.make_law(name="quarters", formula="A * x^(-alpha)", inputs=["x"], parameters=[
        {"name": "A", "prior": "LogNormal(mu=log(y_ref), sigma=1)"},
        {"name": "four", "prior": "HalfNormal(sigma=1)"},
        {"name": "twice", "derived": "four / 2"},
        {"name": "alpha", "derived": "twice / 2"}])
    assert chain.computed_from("alpha") == ("four",) and chain.computed_from("A") == ()
    with pytest.raises(PriorError, match="put priors on four instead"):
        resolve_priors(chain, priors={"alpha": "HalfNormal(sigma=1)"})
    # the catalogue's broken laws sample each break's effect and derive its slope change
    for name, k in (("bnsl1", 1), ("bnsl2", 2), ("bnsl3", 3)):
        got = bs.get_law(name)
        assert got.derived == tuple(f"c{i}" for i in range(1, k + 1)) == got.slope_changes
        assert {f"e{i}" for i in range(1, k + 1)} <= set(got.sampled)


@pytest.mark.parametrize("spec, match", [
    ({"name": "alpha", "derived": "twice / 2", "prior": "HalfNormal(sigma=1)"}, "either a 'prior' or"),
    ({"name": "alpha", "derived": "x_ref / 2"}, "uses no parameter"),
    ({"name": "alpha", "derived": "later / 2"}, "declared before it"),
    ({"name": "alpha", "derived": "  "}, "must be an expression"),
])
def test_malformed_derived_parameters(spec, match):
    with pytest.raises((LawError, PriorError), match=match):
        bs.make_law(name="bad", formula="A * x^(-alpha)", inputs=["x"], parameters=[
            {"name": "twice", "prior": "HalfNormal(sigma=1)"}, spec, {"name": "A", "prior": "HalfNormal(sigma=1)"}])


def test_data_constrained_counts_repeats_as_less_data():
    """One epoch is Chinchilla's law; repeats help less and less; the effective data saturate at U (1 + R)."""
    dc, ch = bs.get_law("data_constrained"), bs.get_law("chinchilla")
    p = TRUE_PARAMS["data_constrained"]
    pc = {k: p[k] for k in ch.param_names}
    n, u = np.full(4, 1e9), np.full(4, 1e10)
    d = u * np.array([1.0, 4.0, 40.0, 1e6])
    y = dc(N=n, D=d, U=u, **p)
    np.testing.assert_allclose(y[0], ch(N=n[:1], D=d[:1], **pc)[0], rtol=1e-12)
    assert np.all(y[1:] > ch(N=n[1:], D=d[1:], **pc)) and np.all(np.diff(y) < 0)
    floor = p["E"] + p["A"] / 1e9 ** p["alpha"] + p["B"] / (1e10 * (1 + p["R"])) ** p["beta"]
    np.testing.assert_allclose(y[-1], floor, rtol=1e-6)


def test_distances_role_measures_epochs():
    from bayescale.spec.roles import with_distances

    law = bs.get_law("data_constrained")
    assert set(law.distances) == {"epochs"}
    out = with_distances({"N": [1e8, 1e9], "D": [4e9, 4e11], "U": [1e9, 1e9]}, law.distances)
    np.testing.assert_allclose(out["epochs"], [4.0, 400.0])
    assert law_from_json(law.to_json()).distances.keys() == {"epochs"}  # saved with a fit's law


@pytest.mark.parametrize("spec, match", [
    ({"epochs": "D / V"}, "expression in the inputs"),
    ({"epochs": "D / E"}, "expression in the inputs"),  # a parameter, not an input
    ({"epochs": "2"}, "expression in the inputs"),
    ({"D": "D / U"}, "neither an input nor a parameter"),
    ("D / U", "table of name"),
])
def test_distances_role_is_checked(spec, match):
    with pytest.raises(LawError, match=match):
        bs.make_law(name="dc", formula="E + B * (D / U)^(-beta) + 0 * N", inputs=["N", "D", "U"],
                    parameters=[{"name": "E", "prior": "HalfNormal(sigma=1)"},
                                {"name": "B", "prior": "HalfNormal(sigma=1)"},
                                {"name": "beta", "prior": "HalfNormal(sigma=1)"}],
                    roles={"distances": spec})
