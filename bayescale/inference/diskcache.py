"""A persistent on-disk cache of compiled nutpie models, so that a new process does not compile again.

Why by hand: ``nutpie.compile_pymc_model`` (numba backend) builds two C callbacks with ``numba.cfunc`` (log
density with gradient; "expand", which computes the traced variables) and nothing caches them: they close over a
record dtype with fresh ``uuid4`` field names and over per-call ``extract_*`` dispatchers, so every process
re-types and re-lowers the whole inlined PyTensor function.  Measured (2 cores; pymc 6.4.0, pytensor 3.3.8,
nutpie 0.16.11, numba 0.68.0; 1-break BNSL, 14 points): with PyTensor's numba cache warm a new process still
spent 5.5-6.3 s in ``compile_pymc_model``, 7.2 of 9.0 s under cProfile in the two ``numba.cfunc`` calls
(``compile_pymc_model(..., cache=True)``: 0 hits). A hit here takes 0.07-0.2 s, key included.

Same draws in every process: numba gives the inlined PyTensor kernels weak (linkonce_odr) linkage, and LLVM
binds a weak symbol to the first definition of its name in the process, so a process that compiled the kernels
itself (cold PyTensor cache) ran its standalone copies: other gradient bits, other draws than later processes.
An entry holds the wrapper's code re-emitted (codegen of the same IR, no optimisation) with all but the wrapper
internal, and the compiling process loads it too: all processes draw the same.

What it relies on (private APIs; their versions are in the key):

* ``nutpie.compile_pymc.CompiledPyMCModel``: sampling reads only ``compiled_*_func.address``, the record
  ``user_data`` (pointers to the shared values, fields named by the saved keys),
  ``shared_data``/``shared_var_keys`` (``with_data`` too), shapes and coords (``logp_func`` and ``expand_func``
  are ``None`` when loaded).  nutpie's ``make_user_data``, ``_prepare_dims_and_coords``,
  ``_rv_dict_to_flat_array_wrapper`` and ``_wrap_with_lock`` rebuild the live parts (current data, coords, the
  default initial-point function, built lazily).
* numba: ``CodeLibrary.serialize_using_object_code`` (for the final module's bitcode), its codegen's target
  machine, and ``codegen.unserialize_library`` (how numba loads its own cache).  Libraries with dynamic globals
  (process addresses) or that call Python (object mode: PyTensor calls ``scipy.special``'s digamma, in a
  Student-t's gradient, that way) are not saved: loaded by a new process, their log density raised at every
  start.  The symbols the code imports (NRT_*, numba_*, Py*, libm) must resolve before a load, else LLVM aborts
  the process: the NRT is initialised first, numba's full target refresh (0.3-0.7 s) only if still needed.
  Common symbols keep numba's names, whose uids PyTensor's numba linker makes random
  (``pytensor.link.numba.cache``); nothing is saved if it did not.

The key is a SHA-256 over :data:`SCHEMA`; the versions of Python, numpy, numba, llvmlite, pytensor, pymc, nutpie
and the platform; numba's CPU target (triple, CPU, features) and codegen options; the PyTensor options that
change rewriting or code (and ``PYTENSOR_FLAGS`` less its directories); ``check_bounds``; a structural hash of
the log-density and traced graphs (ops and properties, constants by value: law, priors, likelihood); the free
and traced variables; and the dtype and shape of each shared (``pm.Data``) value, integer scalars by value.  A
hit reads the current data.  A graph that cannot be hashed stably (an op printed with an address) is compiled as
usual, not cached.

An entry ``<dir>/nutpie/<key>.nutpie`` is a magic line, the payload's SHA-256 and the pickled payload (machine
code: the folder must be as trusted as the user's home; it is created 0700). Writes are atomic (temporary file,
then rename).  An entry whose header, checksum, key or layout does not match, or that fails to load, is never
used: the model is compiled and the entry replaced; any failure of the cache falls back to a plain compile.
Hits refresh an entry's mtime; after a save the least recently used entries beyond :data:`MAX_ENTRIES` or
``$BAYESCALE_CACHE_MAX_MB`` (default 200) MB are removed.  The folder is ``$BAYESCALE_CACHE_DIR``, else
``bayescale`` under ``$XDG_CACHE_HOME`` (default ``~/.cache``); ``BAYESCALE_CACHE_DIR=off`` (or ``0``,
``false``, ``no``, ``none``, ``disable``) turns the cache off (and with it this reproducibility).  :data:`stats`
counts what the cache did in this process.  Importing this module has no side effects.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import logging
import os
import pickle
import platform
import sys
import tempfile
import threading
import time
import types
from importlib.metadata import version
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["compile_cached", "cache_dir", "model_key", "entries", "stats", "SCHEMA", "Uncacheable"]

log = logging.getLogger(__name__)

SCHEMA = 4  #: bumped when what an entry holds changes, so older entries miss (4: none calls Python)
MAGIC = b"bayescale-nutpie-cache\n"
SUBDIR, SUFFIX = "nutpie", ".nutpie"
MAX_ENTRIES, DEFAULT_MAX_MB = 500, 200.0  # an entry of a small law is about 0.4 MB
OFF_VALUES = frozenset({"off", "0", "false", "no", "none", "disable", "disabled"})
#: Imports of code that calls Python (numba object mode), which fails when loaded by a new process
PYTHON_CALLS = frozenset({"PyImport_ImportModule", "PyObject_GetAttrString", "PyObject_CallFunctionObjArgs"})
_TMP_MAX_AGE_S = 3600.0  # older temporary files were left by a writer that crashed
# PyTensor and numba options that can change the rewritten graph or the generated code
_PYTENSOR_OPTIONS = ("floatX", "numba__fastmath", "optimizer", "optimizer_excluding", "optimizer_including",
                     "optimizer_requiring", "linker", "mode", "cast_policy", "check_input", "on_opt_error",
                     "tensor__cmp_sloppy")
_NUMBA_OPTIONS = ("OPT", "LOOP_VECTORIZE", "SLP_VECTORIZE", "ENABLE_AVX", "BOUNDSCHECK", "DEBUGINFO_DEFAULT",
                  "FASTMATH", "CPU_NAME", "CPU_FEATURES")

_lock, _versions_memo = threading.Lock(), []  # the versions in the key, found once per process
#: What the cache did in this process: counts per event, and the last event and entry.
stats: dict[str, Any] = {"hit": 0, "miss": 0, "rebuilt": 0, "uncacheable": 0, "off": 0, "save_error": 0,
                         "last": "", "last_path": ""}


class Uncacheable(Exception):
    """The model or its compiled form cannot be keyed or stored safely: it is compiled as usual."""


def _note(event: str, path: Path | None = None) -> None:
    with _lock:
        stats[event] += 1
        stats["last"], stats["last_path"] = event, str(path or "")


def cache_dir() -> Path | None:
    """The cache folder, or ``None`` when ``BAYESCALE_CACHE_DIR`` turns the cache off."""
    env = os.environ.get("BAYESCALE_CACHE_DIR", "").strip()
    if env.lower() in OFF_VALUES:
        return None
    if env:
        return Path(env).expanduser().resolve()
    base = os.environ.get("XDG_CACHE_HOME", "").strip()
    return (Path(base) if base and os.path.isabs(base) else Path.home() / ".cache") / "bayescale"


def entries(directory: Path | str | None = None) -> list[Path]:
    """The entries in ``directory`` (default :func:`cache_dir`), least recently used first."""
    d = Path(directory) if directory is not None else cache_dir()
    if d is None or not (d / SUBDIR).is_dir():
        return []
    found = []
    for p in (d / SUBDIR).glob("*" + SUFFIX):
        with contextlib.suppress(OSError):  # removed by another process meanwhile
            found.append((p.stat().st_mtime, p))
    return [p for _, p in sorted(found)]


def _prune(folder: Path, keep: Path) -> None:
    """Remove least recently used entries beyond the size and count limits, and stale temporary files."""
    try:
        limit = int(float(os.environ.get("BAYESCALE_CACHE_MAX_MB", DEFAULT_MAX_MB)) * 1024 * 1024)
    except ValueError:
        limit = int(DEFAULT_MAX_MB * 1024 * 1024)
    now, found = time.time(), []
    for p in folder.iterdir():
        try:
            st = p.stat()
        except OSError:
            continue
        if p.name.endswith(".tmp") and now - st.st_mtime > _TMP_MAX_AGE_S:
            p.unlink(missing_ok=True)
        elif p.suffix == SUFFIX:
            found.append((st.st_mtime, st.st_size, p))
    total, count = sum(s for _, s, _ in found), len(found)
    for _, size, p in sorted(found):  # least recently used first
        if total <= limit and count <= MAX_ENTRIES:
            break
        if p != keep:
            p.unlink(missing_ok=True)
            total, count = total - size, count - 1


def _environment() -> list[str]:
    """Library versions, CPU target and compiler options: what the code depends on outside the model."""
    import numba
    import pytensor
    from numba.core.registry import cpu_target

    if not _versions_memo:  # once per process; the metadata only for a module without __version__
        _versions_memo.extend((n, getattr(sys.modules.get(n), "__version__", None) or version(n))
                              for n in ("numpy", "numba", "llvmlite", "pytensor", "pymc", "nutpie"))
        _versions_memo.extend([("python", sys.version), ("platform", platform.platform())])
    flags = sorted(kv.strip() for kv in os.environ.get("PYTENSOR_FLAGS", "").split(",")
                   if kv.strip() and not kv.split("=")[0].strip().endswith("compiledir"))
    return [f"schema={SCHEMA}", repr(_versions_memo), repr(cpu_target.target_context.codegen().magic_tuple()),
            "pytensor=" + repr([(o, str(getattr(pytensor.config, o, None))) for o in _PYTENSOR_OPTIONS]),
            "numba=" + repr([(o, getattr(numba.config, o, None)) for o in _NUMBA_OPTIONS]),
            "flags=" + ",".join(flags)]


def _op_token(op) -> str:
    props = getattr(op, "__props__", None)
    if props:
        parts = [type(op).__module__ + "." + type(op).__qualname__]
        for p in props:
            v = getattr(op, p)
            if hasattr(v, "__props__") or type(v).__module__.startswith("pytensor"):
                parts.append(f"{p}=" + _op_token(v))
            elif isinstance(v, np.ndarray):
                parts.append(f"{p}=nd{v.dtype.str}{v.shape}{hashlib.sha256(v.tobytes()).hexdigest()}")
            else:
                parts.append(f"{p}={v!r}")
        s = "(" + ",".join(parts) + ")"
    else:
        s = type(op).__module__ + "." + type(op).__qualname__ + ":" + str(op)
    inner = getattr(op, "fgraph", None)  # OpFromGraph and the like: their inner graph too
    if inner is not None and hasattr(inner, "outputs"):
        s += "{inner:" + graph_hash(list(inner.outputs), list(inner.inputs)) + "}"
    return s


def graph_hash(outputs, inputs=None) -> str:
    """Structural hash of a PyTensor graph, stable across processes.

    Constants count by value, shared variables by name and type (their values are runtime data),
    other root inputs by name and type.  Raises :class:`Uncacheable` for an op whose description
    holds a memory address, or an unnamed shared variable.
    """
    from pytensor.compile.sharedvalue import SharedVariable
    from pytensor.graph.basic import Constant
    from pytensor.graph.traversal import graph_inputs, io_toposort

    ids: dict[Any, int] = {}
    h = hashlib.sha256()

    def vid(v) -> int:
        if v not in ids:
            ids[v] = len(ids)
            tok = None
            if isinstance(v, Constant):
                d = np.asarray(v.data)
                raw = pickle.dumps(v.data) if d.dtype == object else np.ascontiguousarray(d).tobytes()
                tok = f"C:{v.type}:{d.dtype.str}:{d.shape}:" + hashlib.sha256(raw).hexdigest()
            elif isinstance(v, SharedVariable):
                if v.name is None:
                    raise Uncacheable("unnamed shared variable")
                tok = f"S:{v.name}:{v.type}"
            elif v.owner is None:
                tok = f"I:{v.name}:{v.type}"
            if tok is not None:
                h.update(f"{ids[v]}={tok};".encode())
        return ids[v]

    ins = inputs if inputs is not None else list(graph_inputs(outputs))
    for v in ins:
        vid(v)
    for node in io_toposort(ins, outputs):
        tok = _op_token(node.op)
        if " at 0x" in tok:
            raise Uncacheable(f"op without a stable description: {tok[:200]}")
        ins_, outs = [vid(i) for i in node.inputs], [vid(o) for o in node.outputs]
        h.update(f"A:{tok}:{ins_}->{outs}:{[str(o.type) for o in node.outputs]};".encode())
    h.update(f"OUT:{[vid(o) for o in outputs]}".encode())
    return h.hexdigest()


def model_key(model) -> str:
    """The cache key of ``nutpie.compile_pymc_model(model)`` (default options) in this environment."""
    from pytensor.compile.sharedvalue import SharedVariable
    from pytensor.graph.traversal import graph_inputs

    outputs = [model.logp(), *model.unobserved_value_vars]
    parts = [*_environment(), f"check_bounds={model.check_bounds}",
             "free=" + repr([(model.rvs_to_values[v].name, str(model.rvs_to_values[v].type)) for v in model.free_RVs]),
             "value_vars=" + repr([v.name for v in model.unobserved_value_vars]),
             "graph=" + graph_hash(outputs)]
    # shared values are runtime data, but their shapes fix the traced shapes; integer scalars
    # (dimension lengths) count by value
    for v in graph_inputs(outputs):
        if isinstance(v, SharedVariable):
            val = np.asarray(v.get_value())
            parts.append(f"shared:{v.name}:{val.dtype}:{val.shape}")
            if val.ndim == 0 and val.dtype.kind in "iu":
                parts.append(f"={int(val)}")
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


def _dump_cfunc(cf, name: str) -> dict:
    """The wrapper's machine code, re-emitted with the wrapper renamed ``name`` and all else internal."""
    import llvmlite.binding as ll
    from numba.core.registry import cpu_target

    if cf._library.has_dynamic_globals:
        raise Uncacheable("compiled wrapper has dynamic globals")
    mod = ll.parse_bitcode(cf._library.serialize_using_object_code()[2][1])  # (name, "object", (code, bitcode))
    for f in mod.functions:
        if not f.is_declaration:
            f.name, f.linkage = (name, f.linkage) if f.name == cf._wrapper_name else (f.name, "internal")
    if mod.get_function(name).is_declaration:
        raise Uncacheable("wrapper not found in its library")
    needs = {f.name for f in mod.functions if f.is_declaration and not f.name.startswith("llvm.")}
    needs |= {g.name for g in mod.global_variables if g.is_declaration}
    if needs & PYTHON_CALLS:
        raise Uncacheable("compiled code calls Python (numba object mode)")
    code = cpu_target.target_context.codegen()._tm.emit_object(mod)  # no optimisation: codegen of the same IR
    return {"wrapper": name, "lib": (name, "object", (code, mod.as_bitcode())), "needs": sorted(needs)}


def _ensure_symbols(needs: list[str]) -> None:
    """Make every imported symbol resolvable before LLVM links the code (an unresolved one aborts the process)."""
    import llvmlite.binding as ll
    from numba.core.registry import cpu_target
    from numba.core.runtime import rtsys

    ctx = cpu_target.target_context
    for step in (lambda: None, lambda: rtsys.initialize(ctx), ctx.refresh):  # cheapest first
        step()
        missing = [n for n in needs if not ll.address_of_symbol(n)]
        if not missing:
            return
    raise ValueError(f"unresolved symbols {missing[:5]}")


def _load_cfunc(d: dict) -> types.SimpleNamespace:
    from numba.core.compiler_lock import global_compiler_lock
    from numba.core.registry import cpu_target

    with global_compiler_lock:
        _ensure_symbols(d["needs"])
        lib = cpu_target.target_context.codegen().unserialize_library(d["lib"])
        # nutpie reads only ``address``; the namespace keeps the code library alive
        return types.SimpleNamespace(address=lib.get_pointer_to_function(d["wrapper"]), _library=lib)


def _payload(cm, model, key: str) -> dict:
    from numba.core.bytecode import FunctionIdentity
    from pytensor.compile.sharedvalue import SharedVariable

    if isinstance(FunctionIdentity._unique_ids, itertools.count):
        raise Uncacheable("numba's function uids are sequential (PyTensor's random uids not installed)")
    named = {v.name: v for v in model.named_vars.values()}
    for var in cm.shared_var_keys:
        if not isinstance(var, SharedVariable) or var.name is None or named.get(var.name) is not var:
            raise Uncacheable(f"shared variable {var} is not a named model variable")
    return {"schema": SCHEMA, "key": key,
            "logp": _dump_cfunc(cm.compiled_logp_func, f"bayescale_logp_{key[:32]}"),
            "expand": _dump_cfunc(cm.compiled_expand_func, f"bayescale_expand_{key[:32]}"),
            "shared_by_key": [(var.name, k) for var, k in cm.shared_var_keys.items()],
            "record_descr": cm.user_data.dtype.descr, "n_dim": cm._n_dim, "n_expanded": cm.n_expanded,
            "shape_info": cm.shape_info, "shapes": cm._shapes, "reparameterized_names": cm.reparameterized_names}


def _write(path: Path, payload: dict) -> None:
    body = pickle.dumps(payload, protocol=pickle.HIGHEST_PROTOCOL)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.stem[:16] + ".", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(MAGIC + hashlib.sha256(body).digest() + body)
        os.replace(tmp, path)  # atomic: a concurrent reader sees the old entry or the new one, never a part
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _read(path: Path, key: str) -> dict:
    raw, n = path.read_bytes(), len(MAGIC)
    if raw[:n] != MAGIC or hashlib.sha256(raw[n + 32:]).digest() != raw[n:n + 32]:
        raise ValueError("bad header or checksum")
    p = pickle.loads(raw[n + 32:])  # only after the checksum matched; the folder is the user's own
    if not isinstance(p, dict) or p.get("schema") != SCHEMA or p.get("key") != key:
        raise ValueError("entry is for another key or schema")
    return p


def _lazy_initial_point(model, shape_info, n_free: int):
    """nutpie's default initial-point function, built on its first call (bayescale's fits replace it)."""
    from nutpie.compile_pymc import _rv_dict_to_flat_array_wrapper, _wrap_with_lock
    from pymc.initial_point import make_initial_point_fn

    lock, built = threading.Lock(), []

    def initial_point(seed=None):
        with lock:
            if not built:
                ipf = make_initial_point_fn(model=model, overrides=None, default_strategy="support_point",
                                            jitter_rvs=set(model.free_RVs), return_transformed=True)
                built.append(_rv_dict_to_flat_array_wrapper(_wrap_with_lock(ipf), names=shape_info[0][:n_free],
                                                            shapes=shape_info[2][:n_free]))
        return built[0](seed)
    return initial_point


def _load(model, p: dict):
    from nutpie.compile_pymc import CompiledPyMCModel, _prepare_dims_and_coords, make_user_data

    named = {v.name: v for v in model.named_vars.values()}
    shared_var_keys, shared_data = {}, {}
    for name, k in p["shared_by_key"]:
        shared_var_keys[named[name]] = k
        arr = np.array(named[name].get_value(), order="C", copy=True)
        arr.flags.writeable = False
        shared_data[k] = arr
    user_data = make_user_data(shared_var_keys, shared_data)
    if user_data.dtype.descr != p["record_descr"]:
        raise ValueError("record layout of the shared data differs")
    dims, coords = _prepare_dims_and_coords(model, p["shape_info"], p["reparameterized_names"])
    return CompiledPyMCModel(
        _n_dim=p["n_dim"], dims=dims, _coords=coords, _shapes=p["shapes"],
        compiled_logp_func=_load_cfunc(p["logp"]), compiled_expand_func=_load_cfunc(p["expand"]),
        initial_point_func=_lazy_initial_point(model, p["shape_info"], len(model.free_RVs)),
        shared_data=shared_data, shared_var_keys=shared_var_keys, user_data=user_data,
        n_expanded=p["n_expanded"], shape_info=p["shape_info"],
        logp_func=None, expand_func=None,  # PyTensor functions: nutpie.sample does not use them
        reparameterized_names=p["reparameterized_names"])


def compile_cached(model, *, directory: Path | str | None = None):
    """``nutpie.compile_pymc_model(model)``, loaded from the on-disk cache when an entry matches.

    On a miss the model is compiled and saved; an entry that is corrupt or fails to load is not used, and is
    compiled again and replaced.  A failure of the cache itself falls back to a plain compile.  ``directory``
    defaults to :func:`cache_dir` (``None`` there: no cache).  Returns a ``nutpie.compile_pymc.CompiledPyMCModel``.
    """
    import nutpie  # deferred: the sampler is loaded only when a fit runs

    d = Path(directory) if directory is not None else cache_dir()
    if d is None:
        _note("off")
        return nutpie.compile_pymc_model(model)
    try:
        key = model_key(model)
        folder = d / SUBDIR
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    except Uncacheable as e:
        log.debug("not cached: %s", e)
        _note("uncacheable")
        return nutpie.compile_pymc_model(model)
    except Exception as e:  # an unwritable folder, a graph the hash cannot walk: compile without the cache
        log.warning("bayescale compile cache not used (%s: %s)", type(e).__name__, e)
        _note("off")
        return nutpie.compile_pymc_model(model)

    path, event = folder / f"{key}{SUFFIX}", "miss"
    if path.exists():
        try:
            cm = _load(model, _read(path, key))
        except FileNotFoundError:  # pruned by another process meanwhile
            pass
        except Exception as e:  # corrupt, truncated or incompatible: never trusted, rebuilt below
            log.warning("bayescale compile cache: entry %s not used (%s: %s); compiling again",
                        path.name[:16], type(e).__name__, e)
            event = "rebuilt"
        else:
            with contextlib.suppress(OSError):
                os.utime(path)  # least recently used entries are pruned first
            _note("hit", path)
            return cm

    cm = nutpie.compile_pymc_model(model)
    try:
        payload = _payload(cm, model, key)
    except Uncacheable as e:
        log.debug("not saved: %s", e)
        _note("uncacheable")
        return cm
    try:
        _write(path, payload)
        _prune(folder, keep=path)
    except Exception as e:  # a full disk or a read-only folder must not fail the fit
        log.warning("bayescale compile cache: entry not saved (%s: %s)", type(e).__name__, e)
        event = "save_error"
    _note(event, path)
    try:
        return _load(model, payload)  # the saved code, so that this process draws as every later one
    except Exception as e:
        log.warning("bayescale compile cache: saved code not loadable (%s: %s)", type(e).__name__, e)
        return cm
