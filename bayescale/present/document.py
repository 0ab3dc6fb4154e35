"""A report as data: a title, facts about the fit, warnings, and sections of blocks.

:func:`bayescale.present.report.build_report` fills one; :mod:`bayescale.present.render` turns it into
HTML or Markdown.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import pandas as pd

from .render import render_html, render_markdown

__all__ = ["Block", "Section", "Report"]


@dataclass
class Block:
    """One piece of a section: ``kind`` is "p", "code", "list", "table" or "figure".

    Attributes
    ----------
    text : str
        The paragraph or code ("p", "code"), or the caption of a figure.
    items : sequence of str
        The items of a list.
    table : DataFrame, optional
        The table; ``bad_rows`` marks its rows that failed a check.
    png : bytes
        The figure as PNG; ``name`` names it (alt text, file name in Markdown).
    """

    kind: str
    text: str = ""
    items: Sequence[str] = ()
    table: pd.DataFrame | None = None
    bad_rows: Sequence[bool] = ()
    png: bytes = b""
    name: str = ""


@dataclass
class Section:
    """A titled part of the report; ``id`` is its HTML anchor."""

    id: str
    title: str
    blocks: list[Block] = field(default_factory=list)


@dataclass
class Report:
    """A report before rendering: title, facts about the fit, warnings and sections."""

    title: str
    meta: list[tuple[str, str]]
    warnings: list[str]
    sections: list[Section]

    def to_html(self) -> str:
        """One self-contained HTML page."""
        return render_html(self)

    def to_markdown(self, figure_dir: str | os.PathLike, *, link_prefix: str) -> str:
        """Markdown text; the figures are written as PNG files to ``figure_dir`` and linked as
        ``link_prefix/<file>``."""
        return render_markdown(self, Path(figure_dir), link_prefix)
