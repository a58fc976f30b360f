"""A self-contained HTML report: sections of text, tables and figures (PNG files beside the report)."""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from handseg.utils.io import atomic_write_text

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 1200px; color: #222; padding: 0 1rem; }
h1 { margin-bottom: 0.2rem; } .meta { color: #666; font-size: 0.9rem; }
section { margin-top: 2rem; border-top: 1px solid #ddd; padding-top: 0.5rem; }
table { border-collapse: collapse; margin: 0.8rem 0; font-size: 0.92rem; }
th, td { border: 1px solid #ccc; padding: 0.25rem 0.6rem; text-align: right; }
th:first-child, td:first-child { text-align: left; } th { background: #f3f3f3; }
caption { caption-side: top; text-align: left; font-weight: 600; padding-bottom: 0.3rem; }
figure { display: inline-block; margin: 0.5rem 1rem 0.5rem 0; vertical-align: top; }
figure img { max-width: 100%; border: 1px solid #ddd; } figcaption { font-size: 0.85rem; color: #555; }

.wide { display: block; } .wide img { max-width: 100%; height: auto; }
.note { background: #fff8e1; padding: 0.5rem 0.8rem; border-left: 3px solid #f0b400; }
"""


@dataclass
class Table:
    """A table: column names and rows of cells (floats shown with `digits` decimals)."""

    columns: list[str]
    rows: list[list[Any]]
    caption: str = ""
    digits: int = 3


@dataclass
class Figure:
    """A picture file (path relative to the report) with a caption."""

    path: str
    caption: str = ""
    wide: bool = False


@dataclass
class Section:
    """A titled part of the report."""

    title: str
    paragraphs: list[str] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    figures: list[Figure] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _cell(value: Any, digits: int) -> str:
    if isinstance(value, float):
        return "–" if value != value else f"{value:.{digits}f}"
    return html.escape("" if value is None else str(value))


def render_table(table: Table) -> str:
    """HTML of one table."""
    head = "".join(f"<th>{html.escape(c)}</th>" for c in table.columns)
    body = "".join("<tr>" + "".join(f"<td>{_cell(v, table.digits)}</td>" for v in row) + "</tr>" for row in table.rows)
    caption = f"<caption>{html.escape(table.caption)}</caption>" if table.caption else ""
    return f"<table>{caption}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def render_html(title: str, sections: list[Section], meta: str = "") -> str:
    """The whole report page as a string."""
    parts = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head><body>",
        f"<h1>{html.escape(title)}</h1><p class='meta'>{html.escape(meta)}</p>",
    ]
    for section in sections:
        parts.append(f"<section><h2>{html.escape(section.title)}</h2>")
        parts += [f"<p>{html.escape(p)}</p>" for p in section.paragraphs]
        parts += [f"<p class='note'>{html.escape(n)}</p>" for n in section.notes]
        parts += [render_table(t) for t in section.tables]
        for fig in section.figures:
            cls = " class='wide'" if fig.wide else ""
            src = html.escape(fig.path, quote=True)
            parts.append(
                f"<figure{cls}><img src='{src}' alt='{html.escape(fig.caption, quote=True)}'>"
                f"<figcaption>{html.escape(fig.caption)}</figcaption></figure>"
            )
        parts.append("</section>")
    parts.append("</body></html>\n")
    return "\n".join(parts)


def write_report(path: str | Path, title: str, sections: list[Section], meta: str = "") -> Path:
    """Write the report atomically; every figure path must exist relative to the report's folder."""
    path = Path(path)
    missing = [f.path for s in sections for f in s.figures if not (path.parent / f.path).is_file()]
    if missing:
        raise FileNotFoundError(f"report figures missing: {missing}")
    atomic_write_text(path, render_html(title, sections, meta))
    return path
