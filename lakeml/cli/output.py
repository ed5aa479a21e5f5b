"""Rendering query results: a table on the terminal, or CSV / JSON / Parquet to stdout or a file."""

from __future__ import annotations

import io
import sys
from pathlib import Path
from typing import Literal

import click
import polars as pl

from lakeml.errors import ConfigError

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


def write_result(frame: pl.LazyFrame, *, fmt: OutputFormat, output: str | None) -> None:
    """Write a query result in ``fmt`` to ``output`` (a file) or stdout."""
    if fmt == "parquet":
        if not output:
            raise ConfigError("--format parquet needs --output PATH.", hint="Add --output result.parquet.")
        frame.sink_parquet(output)
        click.echo(f"wrote {output}", err=True)
        return
    if fmt == "table":
        df = frame.collect()
        if output:
            Path(output).write_text(str(df))
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
        Path(output).write_text(text)
        click.echo(f"wrote {df.height:,} rows to {output}", err=True)
    else:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
