"""nutpie's chain seeds, remembered on disk so that a new process does not probe for them again.

nutpie derives each chain's seed from the sampling seed and the chain index alone (the same set for
any model, draws, tune and cores), but does not expose them; :class:`~bayescale.inference.sampling.
CompileCache` learns them with a one-draw run (0.3-0.5 s in a new process).  Why by hand: no
library keeps such a table.  The table is one small JSON file, ``chain_seeds.json`` in the compile
cache's folder (:func:`~bayescale.inference.diskcache.cache_dir`; none when the cache is off),
keyed by nutpie's version, the seed and the number of chains, so a new nutpie probes again.  A file
that cannot be read or parsed, or an entry of the wrong length or type, is ignored (the probe runs
and its answer replaces the file); writes are atomic (temporary file, then rename), and a write that
fails is not an error: the seeds are only a shortcut, never a different answer.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from importlib.metadata import version
from pathlib import Path

from . import diskcache

__all__ = ["FILENAME", "load", "save"]

FILENAME = "chain_seeds.json"
_MAX_KEYS = 1000  # a table that grew past this (a loop over many seeds) starts again


def _key(seed: int, chains: int) -> str:
    return f"nutpie-{version('nutpie')}:{int(seed)}:{int(chains)}"


def _path(directory: Path | str | None) -> Path | None:
    d = Path(directory) if directory is not None else diskcache.cache_dir()
    return None if d is None else d / FILENAME


def _table(path: Path) -> dict:
    try:
        table = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return table if isinstance(table, dict) else {}


def load(seed: int, chains: int, *, directory: Path | str | None = None) -> tuple[int, ...] | None:
    """The remembered seeds of ``chains`` chains under ``seed``, or ``None`` if not known (or unreadable)."""
    path = _path(directory)
    if path is None:
        return None
    got = _table(path).get(_key(seed, chains))
    if (isinstance(got, list) and len(got) == int(chains)
            and all(isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in got)):
        return tuple(got)
    return None


def save(seed: int, chains: int, seeds: tuple[int, ...], *, directory: Path | str | None = None) -> None:
    """Remember ``seeds``; any failure to write is ignored (the next process probes again)."""
    path = _path(directory)
    if path is None or len(seeds) != int(chains):
        return
    with contextlib.suppress(OSError):
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        table = _table(path)
        if len(table) >= _MAX_KEYS:
            table = {}
        table[_key(seed, chains)] = [int(s) for s in seeds]
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix="chain_seeds.", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump(table, f)
            os.replace(tmp, path)  # atomic: a concurrent reader sees the old table or the new one
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
