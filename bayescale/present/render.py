"""A report rendered as one self-contained HTML page, or as Markdown with the figures as PNG files.

Both renderers take a :class:`bayescale.present.document.Report` and only read its fields (title,
meta, warnings, sections of blocks).  In HTML every figure is a base64 PNG data URI and every
piece of text is escaped, so the page needs nothing but itself; in Markdown the characters that
Markdown interprets are escaped, so column names and paths print as written.
"""

from __future__ import annotations

import base64
import html
import re
from pathlib import Path
from typing import Any

import numpy as np

from .text import fmt_general as _g

__all__ = ["render_html", "render_markdown"]

_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;max-width:1100px;margin:24px auto;
padding:0 20px;color:#1d1d1f;line-height:1.45}
h1{font-size:1.6em;margin-bottom:.3em}h2{font-size:1.25em;border-bottom:1px solid #ddd;padding-bottom:.2em;
margin-top:1.8em}
.tw{overflow-x:auto;max-width:100%}
table{border-collapse:collapse;font-size:.85em;margin:.6em 0}
th,td{border:1px solid #d0d0d0;padding:3px 7px;text-align:right;vertical-align:top}
th{background:#f2f2f4}td.t{text-align:left}td.p{text-align:left;font-family:monospace;font-size:.9em;min-width:11em;max-width:17em;overflow-wrap:anywhere}
td.m{text-align:left;font-size:.9em;color:#444;min-width:12em;max-width:22em}
tr.bad td{background:#fdecea}
table.meta td,table.meta th{text-align:left;border:none;padding:1px 10px 1px 0}
table.meta th{background:none;color:#555;font-weight:600}
.warnings{border:2px solid #c62828;background:#fff4f4;padding:8px 16px;border-radius:6px;margin:1em 0}
.warnings h2{color:#c62828;border:none;margin-top:.3em}
.ok{border:1px solid #2e7d32;background:#f1f8f1;padding:6px 16px;border-radius:6px}
figure{margin:1em 0}figure img{max-width:100%;height:auto;border:1px solid #eee}
figcaption{font-size:.85em;color:#555}
pre{background:#f6f6f6;padding:8px;overflow-x:auto;white-space:pre-wrap;font-size:.85em}
nav a{margin-right:1em}
"""


def _fmt_cell(v: Any) -> str:
    """A table cell as text: yes/no, integers as such, other numbers to 4 significant digits."""
    if isinstance(v, (bool, np.bool_)):
        return "yes" if v else "no"
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    if isinstance(v, (float, np.floating)):
        return _g(v)
    return "" if v is None else str(v)


def _html_table(b) -> str:
    """A table block as HTML; rows in ``b.bad_rows`` get the class "bad"."""
    e = html.escape
    df = b.table
    head = "".join(f"<th>{e(str(c))}</th>" for c in df.columns)
    rows = []
    for i, (_, r) in enumerate(df.iterrows()):
        cells = []
        for c, v in r.items():
            cls = {"meaning": ' class="m"', "prior": ' class="p"'}.get(c, ' class="t"' if isinstance(v, str) else "")
            cells.append(f"<td{cls}>{e(_fmt_cell(v))}</td>")
        bad = bool(b.bad_rows[i]) if i < len(b.bad_rows) else False
        rows.append(f"<tr{' class=\"bad\"' if bad else ''}>{''.join(cells)}</tr>")
    return f'<div class="tw"><table><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table></div>'


def render_html(rep) -> str:
    """The report as one HTML page (a string)."""
    e = html.escape
    out = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
           '<meta name="viewport" content="width=device-width, initial-scale=1">',
           f"<title>{e(rep.title)}</title><style>{_CSS}</style></head><body>",
           f"<h1>{e(rep.title)}</h1>", '<table class="meta">']
    out += [f"<tr><th>{e(k)}</th><td>{e(v)}</td></tr>" for k, v in rep.meta]
    out.append("</table>")
    if rep.warnings:
        out.append('<section class="warnings" id="warnings"><h2>Warnings</h2>'
                   "<p>Do not rely on the numbers below until these are resolved:</p><ul>")
        out += [f"<li>{e(w)}</li>" for w in rep.warnings]
        out.append("</ul></section>")
    else:
        out.append('<p class="ok" id="warnings">All diagnostics passed (no divergences, R-hat &le; 1.01, '
                   "ESS &ge; 100 per chain" + ("" if not any(s.id == "compare" for s in rep.sections)
                                                   else ", Pareto k within bounds") + ").</p>")
    out.append("<nav>" + "".join(f'<a href="#{e(s.id)}">{e(s.title)}</a>' for s in rep.sections) + "</nav>")
    for s in rep.sections:
        out.append(f'<section id="{e(s.id)}"><h2>{e(s.title)}</h2>')
        for b in s.blocks:
            if b.kind == "p":
                out.append(f"<p>{e(b.text)}</p>")
            elif b.kind == "code":
                out.append(f"<pre>{e(b.text)}</pre>")
            elif b.kind == "list":
                out.append("<ul>" + "".join(f"<li>{e(i)}</li>" for i in b.items) + "</ul>")
            elif b.kind == "table":
                out.append(_html_table(b))
            elif b.kind == "figure":
                data = base64.b64encode(b.png).decode("ascii")
                out.append(f'<figure><img src="data:image/png;base64,{data}" alt="{e(b.name)}">'
                           f"<figcaption>{e(b.text)}</figcaption></figure>")
        out.append("</section>")
    out.append("</body></html>")
    return "\n".join(out)


def _md_escape(text: str) -> str:
    """Escape what Markdown renderers interpret, so column names and paths print as written."""
    return re.sub(r"([\\`*_{}\[\]<>|#])", r"\\\1", str(text))


def _md_table(b) -> str:
    """A table block as a Markdown table; with any bad row, a "flag" column marks them FAILED."""
    df = b.table
    cols = list(df.columns) + (["flag"] if any(b.bad_rows) else [])
    lines = ["| " + " | ".join(_md_escape(c) for c in cols) + " |", "|" + "---|" * len(cols)]
    for i, (_, r) in enumerate(df.iterrows()):
        cells = [_md_escape(_fmt_cell(v)) for v in r.to_numpy()]
        if any(b.bad_rows):
            cells.append("**FAILED**" if b.bad_rows[i] else "")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def render_markdown(rep, figdir: Path, prefix: str) -> str:
    """The report as Markdown; each figure is written to ``figdir`` and linked as ``prefix/<file>``."""
    out = [f"# {_md_escape(rep.title)}", ""]
    out += [f"- **{_md_escape(k)}**: {_md_escape(v)}" for k, v in rep.meta]
    out.append("")
    if rep.warnings:
        out += ["## Warnings", "", "Do not rely on the numbers below until these are resolved:", ""]
        out += [f"- **{_md_escape(w)}**" for w in rep.warnings]
        out.append("")
    else:
        out += ["All diagnostics passed.", ""]
    figdir.mkdir(parents=True, exist_ok=True)
    n = 0
    for s in rep.sections:
        out += [f"## {_md_escape(s.title)}", ""]
        for b in s.blocks:
            if b.kind == "p":
                out += [_md_escape(b.text), ""]
            elif b.kind == "code":
                out += ["```", b.text, "```", ""]
            elif b.kind == "list":
                out += [f"- {_md_escape(i)}" for i in b.items] + [""]
            elif b.kind == "table":
                out += [_md_table(b), ""]
            elif b.kind == "figure":
                n += 1
                fname = f"fig{n}-{b.name}.png"
                (figdir / fname).write_bytes(b.png)
                out += [f"![{_md_escape(b.name)}]({prefix}/{fname})", "", f"*{_md_escape(b.text)}*", ""]
    return "\n".join(out)
