"""The on-disk cache of compiled nutpie models (bayescale.inference.diskcache), in a temporary cache folder.

Keys are checked without compiling; one compile plus one rebuild cover hits, corrupt entries and
reproducibility in this process, and one subprocess checks that a new process loads the entry.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import llvmlite.binding as ll
import numpy as np
import pytest

import bayescale as bs
from bayescale.inference import diskcache
from bayescale.inference.model import build_model
from bayescale.inference.sampling import COMPILE_CACHE
from bayescale.spec.data import Dataset

pytest.importorskip("nutpie")

#: Small nutpie fits: enough to compare draws, not to judge the posterior.
SMALL = dict(draws=50, tune=50, chains=2, cores=1, sampler="nutpie", seed=5, progressbar=False, auto_remedy=False)
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def cache(tmp_path, monkeypatch) -> Path:
    d = tmp_path / "cache"
    monkeypatch.setenv("BAYESCALE_CACHE_DIR", str(d))
    return d


@pytest.fixture(scope="module")
def df():
    return bs.simulate(law="power_law_offset", x=np.logspace(2, 5, 12), noise=0.02, seed=3)


def _ds(df, n=None) -> Dataset:
    df = df if n is None else df.iloc[:n]
    return Dataset(inputs={"x": df["x"].to_numpy(float)}, y=df["y"].to_numpy(float), columns={"x": "x", "y": "y"})


def _key(df, law="power_law_offset", n=None, y_scale=1.0, **kw) -> str:
    ds = _ds(df, n)
    ds = Dataset(inputs=ds.inputs, y=ds.y * y_scale, columns=ds.columns)
    return diskcache.model_key(build_model(bs.get_law(law), ds, **kw))


def test_key_covers_prior_law_likelihood_shape_and_environment(df, monkeypatch):
    base = _key(df)
    assert _key(df) == base, "a rebuilt model must hit"
    assert _key(df, y_scale=1.1) == base, "new data of the same length reuse the compiled model"
    changed = {
        "prior": _key(df, priors={"alpha": "HalfNormal(sigma=0.7)"}),
        "law": _key(df, law="bnsl1"),
        "likelihood studentt": _key(df, likelihood="studentt"),
        "likelihood normal": _key(df, likelihood="normal"),
        "length": _key(df, n=11),
    }
    monkeypatch.setattr(diskcache, "SCHEMA", diskcache.SCHEMA + 1)
    changed["schema"] = _key(df)
    monkeypatch.undo()
    monkeypatch.setattr(diskcache, "_versions_memo", [("pymc", "0.0-stale")])
    changed["library version"] = _key(df)
    monkeypatch.undo()
    monkeypatch.setenv("PYTENSOR_FLAGS", "optimizer=fast_compile")
    changed["pytensor flags"] = _key(df)
    assert all(k != base for k in changed.values()), [n for n, k in changed.items() if k == base]
    assert len(set(changed.values())) == len(changed)


def test_cache_dir_default_env_and_off(monkeypatch, tmp_path):
    monkeypatch.delenv("BAYESCALE_CACHE_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert diskcache.cache_dir() == tmp_path / "xdg" / "bayescale"
    monkeypatch.delenv("XDG_CACHE_HOME")
    d = diskcache.cache_dir()
    assert d == Path.home() / ".cache" / "bayescale"
    assert Path(bs.__file__).resolve().parent not in d.parents
    for off in ("off", "OFF", "0", "false", "none"):
        monkeypatch.setenv("BAYESCALE_CACHE_DIR", off)
        assert diskcache.cache_dir() is None
    monkeypatch.setenv("BAYESCALE_CACHE_DIR", str(tmp_path / "c"))
    assert diskcache.cache_dir() == tmp_path / "c"


def test_prune_keeps_the_most_recently_used(tmp_path, monkeypatch):
    folder = tmp_path / diskcache.SUBDIR
    folder.mkdir()
    for i in range(6):
        p = folder / f"{i}{diskcache.SUFFIX}"
        p.write_bytes(b"x" * 1000)
        os.utime(p, (1000 + i, 1000 + i))
    stale = folder / "old.tmp"
    stale.write_bytes(b"partial")
    os.utime(stale, (1, 1))
    monkeypatch.setattr(diskcache, "MAX_ENTRIES", 3)
    diskcache._prune(folder, keep=folder / f"0{diskcache.SUFFIX}")  # the entry just saved stays
    assert sorted(p.name for p in folder.iterdir()) == [f"{i}{diskcache.SUFFIX}" for i in (0, 4, 5)]
    monkeypatch.setenv("BAYESCALE_CACHE_MAX_MB", str(1500 / 1024 / 1024))
    diskcache._prune(folder, keep=folder / f"0{diskcache.SUFFIX}")
    assert sorted(p.name for p in folder.iterdir()) == [f"0{diskcache.SUFFIX}"]


def _fit(df, **kw):
    COMPILE_CACHE.clear()  # this process's cache would otherwise answer before the disk
    return bs.fit(df, law="power_law_offset", x="x", y="y", **SMALL, **kw)


def _digest(f) -> dict[str, list[float]]:
    return {k: v.tolist() for k, v in f.draws().items()}


def test_hit_corrupt_entry_and_new_process(df, cache, tmp_path):
    first = _fit(df)  # empty cache: compiles and saves
    assert diskcache.stats["last"] == "miss"
    (entry,) = diskcache.entries(cache)
    assert not list(entry.parent.glob("*.tmp")), "the write is atomic: no temporary file left"
    fresh = _digest(first)
    # only the renamed wrappers are visible: no weak kernel LLVM could bind to another process's copy
    payload = diskcache._read(entry, entry.stem)
    for role in ("logp", "expand"):
        mod = ll.parse_bitcode(payload[role]["lib"][2][1])
        visible = [f.name for f in mod.functions if not f.is_declaration and f.linkage != ll.Linkage.internal]
        assert visible == [payload[role]["wrapper"]], visible

    in_process = bs.fit(df, law="power_law_offset", x="x", y="y", **SMALL)  # this process's compile cache
    assert _digest(in_process) == fresh

    hit = _fit(df)  # loaded from disk
    assert diskcache.stats["last"] == "hit"
    assert _digest(hit) == fresh, "a loaded model must give the draws of a fresh compile"

    raw = bytearray(entry.read_bytes())
    raw[len(raw) // 2] ^= 0xFF  # one flipped byte in the machine code
    entry.write_bytes(bytes(raw))
    rebuilt = _fit(df)
    assert diskcache.stats["last"] == "rebuilt", "a corrupt entry must not be trusted"
    assert _digest(rebuilt) == fresh
    assert diskcache.entries(cache) == [entry]
    diskcache._read(entry, entry.stem)  # replaced by a valid entry

    # a second process finds the entry, loads it and draws the same numbers
    data = tmp_path / "data.csv"
    df.to_csv(data, index=False)
    code = textwrap.dedent(f"""
        import json, bayescale as bs
        from bayescale.inference import diskcache
        f = bs.fit({str(data)!r}, law="power_law_offset", x="x", y="y", **{SMALL!r})
        print(json.dumps({{"stats": diskcache.stats, "draws": {{k: v.tolist() for k, v in f.draws().items()}}}}))
    """)
    env = dict(os.environ, BAYESCALE_CACHE_DIR=str(cache))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=ROOT,
                         timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    child = json.loads(out.stdout.strip().splitlines()[-1])
    assert child["stats"]["last"] == "hit" and child["stats"]["hit"] == 1 and child["stats"]["miss"] == 0
    assert diskcache.entries(cache) == [entry], "no new entry"
    assert child["draws"] == fresh, "same seed, new process, warm cache: the same draws"


def test_chain_seeds_remembered_on_disk(cache):
    from bayescale.inference import chainseeds

    assert chainseeds.load(5, 2) is None  # nothing remembered yet
    chainseeds.save(5, 2, (11, 7))
    assert chainseeds.load(5, 2) == (11, 7)
    assert chainseeds.load(5, 4) is None and chainseeds.load(6, 2) is None, "keyed by seed and chains"
    path = cache / chainseeds.FILENAME
    table = json.loads(path.read_text())
    (key,) = table
    assert key.startswith("nutpie-"), "a new nutpie version probes again"
    for bad in ([1], [1, "2"], [1, -2], [True, 2], "12", None):  # the wrong length or type is ignored
        path.write_text(json.dumps({key: bad}))
        assert chainseeds.load(5, 2) is None, bad
    path.write_text("{not json")  # corrupt: ignored, then replaced by the next save
    assert chainseeds.load(5, 2) is None
    chainseeds.save(5, 2, (11, 7))
    assert chainseeds.load(5, 2) == (11, 7)


def test_chain_seeds_from_disk_give_the_probed_draws(df, cache, monkeypatch):
    import nutpie

    from bayescale.inference import chainseeds

    probed = _fit(df)  # learns the seeds with the probe and remembers them
    remembered = chainseeds.load(SMALL["seed"], SMALL["chains"])
    assert remembered is not None and len(set(remembered)) == SMALL["chains"]
    COMPILE_CACHE.clear()  # a new process: nothing in memory
    calls, real = [], nutpie.sample

    def counted(*a, **k):
        calls.append(k.get("draws"))
        return real(*a, **k)

    monkeypatch.setattr(nutpie, "sample", counted)
    again = bs.fit(df, law="power_law_offset", x="x", y="y", **SMALL)
    assert calls == [SMALL["draws"]], "one sampler run: the seeds came from disk, not from a probe"
    assert _digest(again) == _digest(probed)


def test_code_that_calls_python_is_not_saved(df, cache):
    """A Student-t's gradient calls scipy.special's digamma through Python (numba object mode).  Such code,
    saved and loaded by a new process, raised at every start ("the sampler could not start"), so it is not
    saved: every process compiles it, and fits."""
    f = _fit(df, likelihood="studentt")
    assert diskcache.stats["last"] == "uncacheable" and diskcache.entries(cache) == []
    assert np.isfinite(f.draws()["nu"]).all()
    _fit(df)  # the log-normal model calls no Python: saved as before
    assert diskcache.stats["last"] == "miss" and len(diskcache.entries(cache)) == 1
