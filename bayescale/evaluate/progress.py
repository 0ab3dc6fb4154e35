"""Progress of the long work of a comparison (each law's fit, each exact LOO refit, each leave-future-out
refit), as one line per step on standard error.

The library math never prints: :func:`~bayescale.evaluate.compare.compare` turns its ``progress``
argument into a callable with :func:`reporter` and hands it down to the functions that refit.
"""

from __future__ import annotations

import sys
from typing import Callable, Union

__all__ = ["Progress", "reporter", "silent"]

#: One line of progress, e.g. ``"refit 1/3 of bnsl1 without point 14 (x=3.162e+04)"``.
Progress = Callable[[str], None]
ProgressArg = Union[bool, Progress, None]


def silent(message: str) -> None:
    """The progress callable that says nothing."""


def _to_stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def reporter(progress: ProgressArg) -> Progress:
    """The progress callable for ``progress``.

    ``None``: lines on standard error when it is a terminal, else nothing; ``True``: lines on standard
    error; ``False``: nothing; a callable: itself (it receives each line).
    """
    if callable(progress):
        return progress
    if progress is None:
        progress = sys.stderr.isatty()
    return _to_stderr if progress else silent
