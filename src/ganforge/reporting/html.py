"""HTML building blocks of the run report: the page, sections, tables, figures and number formatting.

Everything is inline (CSS in a <style> element, images as data URIs), so the page works offline, from
an e-mail attachment or a CI artifact, with no JavaScript and nothing fetched.
"""

from __future__ import annotations

import html
import math
from collections.abc import Iterable, Mapping
from typing import Any

CSS = """
:root { --fg: #1d2430; --muted: #5c6675; --line: #d9dee6; --bg: #f6f7f9; --accent: #2f6fdf; }
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.5 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--fg);
       background: var(--bg); }
header { padding: 1.2rem 2rem; background: #fff; border-bottom: 1px solid var(--line); }
header h1 { margin: 0; font-size: 1.4rem; }
header p { margin: .2rem 0 0; color: var(--muted); }
nav { padding: .5rem 2rem; background: #fff; border-bottom: 1px solid var(--line); position: sticky; top: 0; }
nav a { margin-right: 1rem; color: var(--accent); text-decoration: none; }
main { max-width: 1200px; margin: 0 auto; padding: 1rem 2rem 3rem; }
section { background: #fff; border: 1px solid var(--line); border-radius: 6px; padding: .8rem 1.2rem;
          margin: 1rem 0; }
h2 { margin: .2rem 0 .6rem; font-size: 1.15rem; }
h3 { margin: .8rem 0 .3rem; font-size: 1rem; color: var(--muted); }
table { border-collapse: collapse; margin: .3rem 0 .8rem; font-size: .9rem; }
th, td { border-bottom: 1px solid var(--line); padding: .25rem .7rem; text-align: left; vertical-align: top; }
th { background: var(--bg); }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.note { color: var(--muted); font-style: italic; }
.figures { display: grid; grid-template-columns: repeat(auto-fill, minmax(260px, 1fr)); gap: .8rem; }
figure { margin: 0; }
figure img { max-width: 100%; height: auto; border: 1px solid var(--line); }
figure img.pixels { image-rendering: pixelated; width: 100%; }
figcaption { font-size: .85rem; color: var(--muted); }
.bar { display: inline-block; height: .6rem; background: var(--accent); vertical-align: middle; }
code { background: var(--bg); padding: 0 .25rem; border-radius: 3px; }
"""


def esc(value: Any) -> str:
    """Text safe to place in HTML."""
    return html.escape(str(value), quote=True)


def fmt(value: Any) -> str:
    """A value as a short, readable string: 4 significant digits, thousands separators, '—' for None."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if not math.isfinite(value):
            return "n/a"
        if value == 0 or 1e-3 <= abs(value) < 1e4:
            return f"{value:.4g}"
        return f"{value:,.1f}" if abs(value) >= 1e4 else f"{value:.3e}"
    if isinstance(value, (list, tuple)) and any(isinstance(v, Mapping) for v in value):
        return f"{len(value)} entries"
    if isinstance(value, (list, tuple)):
        shown = ", ".join(fmt(v) for v in value[:12])
        return shown + (f", … ({len(value)} in all)" if len(value) > 12 else "")
    return str(value)


def cell(value: Any) -> str:
    """One <td>, right-aligned when it holds a number."""
    numeric = isinstance(value, (int, float)) and not isinstance(value, bool)
    return f'<td class="num">{esc(fmt(value))}</td>' if numeric else f"<td>{esc(fmt(value))}</td>"


def table(header: Iterable[str], rows: Iterable[Iterable[Any]], raw: bool = False) -> str:
    """An HTML table; with ``raw`` the cells are trusted HTML (already escaped by the caller)."""
    head = "".join(f"<th>{esc(h)}</th>" for h in header)
    body = "".join(
        "<tr>" + "".join(f"<td>{v}</td>" if raw else cell(v) for v in row) + "</tr>" for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def flatten(data: Mapping[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    """Nested dicts as (``outer / inner``, leaf) pairs, in insertion order."""
    rows: list[tuple[str, Any]] = []
    for key, value in data.items():
        name = f"{prefix} / {key}" if prefix else str(key)
        if isinstance(value, Mapping):
            rows += flatten(value, name)
        else:
            rows.append((name, value))
    return rows


def kv_table(data: Mapping[str, Any]) -> str:
    """A two-column table of a (possibly nested) mapping."""
    return table(("", "value"), flatten(data))


def note(text: str) -> str:
    """A muted one-line remark (e.g. why a part is missing)."""
    return f'<p class="note">{esc(text)}</p>'


def not_computed(what: str, command: str) -> str:
    """The line shown where evaluation figures are absent, with the command that computes them."""
    return f'<p class="note">{esc(what)} not computed yet: run <code>{esc(command)}</code></p>'


def figure(uri: str, caption: str, alt: str = "", pixels: bool = False) -> str:
    """An embedded image with a caption; ``pixels`` keeps small images sharp when scaled up."""
    klass = ' class="pixels"' if pixels else ""
    return (
        f'<figure><img src="{uri}" alt="{esc(alt or caption)}"{klass}>'
        f"<figcaption>{esc(caption)}</figcaption></figure>"
    )


def figures(items: list[str]) -> str:
    """Figures laid out in a responsive grid."""
    return '<div class="figures">' + "".join(items) + "</div>"


def section(section_id: str, title: str, body: str) -> str:
    """A report section with a stable id (the nav links and tests rely on it)."""
    return f'<section id="{esc(section_id)}"><h2>{esc(title)}</h2>{body}</section>'


def page(title: str, subtitle: str, sections: list[tuple[str, str, str]]) -> str:
    """The whole document: (id, title, body) sections behind a header and a navigation bar."""
    nav = "".join(f'<a href="#{esc(sid)}">{esc(t)}</a>' for sid, t, _ in sections)
    body = "".join(section(sid, t, b) for sid, t, b in sections)
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<link rel="icon" href="data:,"><title>{esc(title)}</title><style>{CSS}</style></head>'
        f"<body><header><h1>{esc(title)}</h1><p>{esc(subtitle)}</p></header><nav>{nav}</nav>"
        f"<main>{body}</main></body></html>\n"
    )
