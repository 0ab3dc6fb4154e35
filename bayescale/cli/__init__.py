"""The ``bayescale`` command (the top layer: nothing in the library imports it)."""

from .main import build_parser, main

__all__ = ["main", "build_parser"]
