"""The package's layers: imports run one way, modules stay small, old saved fits still load."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import numpy as np
import pytest

import bayescale as bs

PKG = Path(bs.__file__).parent
DATA = Path(__file__).parent / "data"

#: Layers from the bottom; a module may import only from its own layer or below.
LAYERS = ["errors", "_version", "spec", "predictive", "simulate", "prior_predictive", "inference", "evaluate",
          "present", "cli"]
RANK = {"errors": 0, "_version": 0, "spec": 1, "predictive": 2, "simulate": 3, "prior_predictive": 3,
        "inference": 4, "evaluate": 5, "present": 6, "cli": 7, "__init__": 8}
MAX_LINES = 450


def _modules():
    for p in sorted(PKG.rglob("*.py")):
        rel = p.relative_to(PKG).with_suffix("")
        yield p, rel.parts


def _layer(parts: tuple[str, ...]) -> str:
    return parts[0] if parts[0] != "__init__" else "__init__"


def _imports(path: Path, parts: tuple[str, ...]):
    """(module imported inside the package as a tuple of parts, line, top-level?) for each import."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    pkg = list(parts[:-1]) if parts[-1] != "__init__" else list(parts[:-1])
    top = {id(n) for n in tree.body}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = pkg[: len(pkg) - (node.level - 1)] if node.level > 1 else pkg
                mod = [*base, *(node.module.split(".") if node.module else [])]
                if not node.module:  # from . import x
                    for a in node.names:
                        yield tuple([*base, a.name]), node.lineno, id(node) in top
                    continue
                yield tuple(mod), node.lineno, id(node) in top
            elif node.module and node.module.startswith("bayescale"):
                yield tuple(node.module.split(".")[1:]), node.lineno, id(node) in top
            elif node.module == "argparse":
                yield ("argparse",), node.lineno, id(node) in top
        elif isinstance(node, ast.Import):
            for a in node.names:
                if a.name.startswith("bayescale"):
                    yield tuple(a.name.split(".")[1:]), node.lineno, id(node) in top
                if a.name == "argparse":
                    yield ("argparse",), node.lineno, id(node) in top


def test_imports_run_one_way():
    bad = []
    for path, parts in _modules():
        me = RANK[_layer(parts)]
        for mod, line, _ in _imports(path, parts):
            if mod == ("argparse",):
                if _layer(parts) != "cli":
                    bad.append(f"{'/'.join(parts)}:{line} imports argparse below the CLI")
                continue
            if not mod:
                continue
            other = RANK.get(mod[0], RANK.get(_layer(mod), None))
            if other is None:
                continue
            if other > me:
                bad.append(f"{'/'.join(parts)}:{line} imports {'.'.join(mod)} from a higher layer")
    assert not bad, "\n".join(bad)


def _module_of(mod: tuple[str, ...]) -> str | None:
    """The package module file an import names (a module, or a package's __init__)."""
    for cand in (PKG.joinpath(*mod).with_suffix(".py"), PKG.joinpath(*mod, "__init__.py"),
                 PKG.joinpath(*mod[:-1]).with_suffix(".py") if len(mod) > 1 else None):
        if cand is not None and cand.is_file():
            return "/".join(cand.relative_to(PKG).with_suffix("").parts)
    return None


def test_no_import_cycles():
    graph: dict[str, set[str]] = {}
    for path, parts in _modules():
        me = "/".join(parts)
        graph[me] = set()
        for mod, _, _ in _imports(path, parts):
            if mod and mod != ("argparse",):
                target = _module_of(mod)
                if target and target != me:
                    graph[me].add(target)
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(n: str) -> None:
        state[n] = 1
        stack.append(n)
        for m in graph.get(n, ()):
            if state.get(m) == 1:
                raise AssertionError("import cycle: " + " -> ".join(stack[stack.index(m):] + [m]))
            if m not in state:
                visit(m)
        stack.pop()
        state[n] = 2

    for n in graph:
        if n not in state:
            visit(n)


def test_no_module_imports_bayescale_inside_functions_without_reason():
    """Package imports sit at the top of each module: its header shows what it depends on."""
    bad = []
    for path, parts in _modules():
        for mod, line, top in _imports(path, parts):
            if mod != ("argparse",) and mod and not top:
                bad.append(f"{'/'.join(parts)}:{line} imports {'.'.join(mod)} inside a function")
    assert not bad, "\n".join(bad)


def test_no_module_over_the_limit():
    long = {"/".join(parts): n for path, parts in _modules()
            if (n := len(path.read_text(encoding="utf-8").splitlines())) > MAX_LINES}
    assert not long, long


def test_no_process_wide_side_effects_on_import():
    src = "\n".join(p.read_text(encoding="utf-8") for p, _ in _modules())
    assert "matplotlib.use(" not in src


def test_fit_saved_by_version_0_1_loads_and_forecasts_as_then():
    """A fit saved before the redesign (tests/data, bayescale 0.1.0) reloads and forecasts identically."""
    f = bs.load(DATA / "fit_v0_1_power_law_offset.nc")
    want = json.loads((DATA / "fit_v0_1_forecast.json").read_text())
    assert f.law.name == "power_law_offset" and f.config.likelihood == "lognormal"
    assert f.config.seed == want["settings"]["seed"] and f.config.draws == want["settings"]["draws"]
    t = f.forecast(x=want["x"], prob=0.9, discrepancy="off").table()
    for col in ("median", "lower", "upper", "obs_median", "obs_lower", "obs_upper"):
        np.testing.assert_allclose(t[col].to_numpy(), want["table"][col], rtol=1e-12)


def test_fit_config_round_trips_and_is_saved(tmp_path):
    cfg = bs.FitConfig(likelihood="studentt", priors=(("alpha", "HalfNormal(sigma=1)"),), draws=7, init="prior",
                       auto_remedy=False)
    assert bs.FitConfig.from_json(cfg.to_json()) == cfg
    assert cfg.replace(priors={"E": "Uniform(lower=0, upper=1)"}).prior_overrides == {
        "E": "Uniform(lower=0, upper=1)"}
    with pytest.raises(AttributeError):
        cfg.draws = 3  # frozen
