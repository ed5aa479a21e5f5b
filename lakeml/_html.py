"""Small HTML cards for notebook display (``_repr_html_``) of lakeml's result objects.

A leaf module: every layer may use it. Every text is escaped; nothing is fetched from a network.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Sequence
from typing import Any

import polars as pl

_STYLE = ("font-family:system-ui,sans-serif;font-size:13px;border:1px solid #e2e8f0;border-radius:6px;"
          "padding:8px 12px;display:inline-block;max-width:100%;overflow-x:auto")
_CELL = "padding:2px 10px 2px 0;text-align:left;vertical-align:top"


def _text(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    return html.escape(str(value))


def frame_html(frame: pl.DataFrame, *, max_rows: int = 10) -> str:
    """A plain HTML table of the first ``max_rows`` rows of ``frame``."""
    head = "".join(f'<th style="{_CELL}">{html.escape(c)}</th>' for c in frame.columns)
    body = "".join("<tr>" + "".join(f'<td style="{_CELL}">{"∅" if v is None else _text(v)}</td>' for v in row)
                   + "</tr>" for row in frame.head(max_rows).iter_rows())
    more = (f'<div style="color:#64748b">… {frame.height - max_rows:,} more rows</div>'
            if frame.height > max_rows else "")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>{more}"


def card(title: str, fields: Iterable[tuple[str, Any]],
         tables: Sequence[tuple[str, pl.DataFrame]] = ()) -> str:
    """A titled card: ``name: value`` rows, then optional captioned tables."""
    rows = "".join(f'<tr><th style="{_CELL};color:#475569">{html.escape(k)}</th>'
                   f'<td style="{_CELL}">{_text(v)}</td></tr>' for k, v in fields)
    parts = [f'<div class="lakeml" style="{_STYLE}"><div style="font-weight:600;margin-bottom:4px">'
             f"{html.escape(title)}</div><table>{rows}</table>"]
    for caption, frame in tables:
        parts.append(f'<div style="font-weight:600;margin-top:8px">{html.escape(caption)}</div>{frame_html(frame)}')
    parts.append("</div>")
    return "".join(parts)
