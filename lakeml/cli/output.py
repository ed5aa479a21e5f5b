"""Rendering query results: a table on the terminal, or CSV / JSON / Parquet to stdout or a file."""

from __future__ import annotations

import io
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import click
import polars as pl

from lakeml.errors import ConfigError
from lakeml.storage.uri import parse_location, safe_uri

if TYPE_CHECKING:
    from lakeml.query.lake import Lake

OutputFormat = Literal["table", "csv", "json", "parquet"]


def render_table(frame: pl.DataFrame, *, title: str | None = None, max_rows: int = 50) -> None:
    """Print a frame as a rich table (first ``max_rows`` rows)."""
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title, show_lines=False, header_style="bold")
    for name, dtype in frame.schema.items():
        table.add_column(f"{name}\n[dim]{dtype}[/dim]", overflow="fold")
    for row in frame.head(max_rows).iter_rows():
        table.add_row(*("∅" if v is None else _fmt(v) for v in row))
    out = Console(soft_wrap=False)
    out.print(table)
    if frame.height > max_rows:
        out.print(f"[dim]… {frame.height - max_rows:,} more rows ({frame.height:,} in all)[/dim]")
    else:
        out.print(f"[dim]{frame.height:,} row{'s' if frame.height != 1 else ''}[/dim]")


def _fmt(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def write_result(frame: pl.LazyFrame, *, fmt: OutputFormat, output: str | None, lake: Lake) -> None:
    """Write a query result in ``fmt`` to ``output`` (a local file or a lake URI) or stdout.

    A URI output goes through the lake's storage layer (its credential rules: an Azure URI with no
    credential source is refused before any request).
    """
    if fmt == "parquet":
        if not output:
            raise ConfigError("--format parquet needs --output PATH.", hint="Add --output result.parquet.")
        if _is_uri(output):
            location = parse_location(output)
            options = lake.storage_for(location.uri).polars_options() if not location.is_local else {}
            frame.sink_parquet(location.uri, **options)
        else:
            frame.sink_parquet(output)
        click.echo(f"wrote {safe_uri(output)}", err=True)
        return
    if fmt == "table":
        df = frame.collect()
        if output:
            _write_text(lake, output, str(df))
        else:
            render_table(df)
        return
    df = frame.collect()
    buffer = io.StringIO()
    if fmt == "csv":
        df.write_csv(buffer)
    else:
        df.write_json(buffer)
    text = buffer.getvalue()
    if output:
        _write_text(lake, output, text)
        click.echo(f"wrote {df.height:,} rows to {safe_uri(output)}", err=True)
    else:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")


def _is_uri(output: str) -> bool:
    return "://" in output


def _write_text(lake: Lake, output: str, text: str) -> None:
    if not _is_uri(output):
        Path(output).write_text(text)
        return
    location = parse_location(output)
    if location.is_local:
        Path(location.path).write_text(text)
        return
    lake.storage_for(location.uri).write_bytes("", text.encode())
