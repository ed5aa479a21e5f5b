"""Rendering query results: a table on the terminal, or CSV / JSON / Parquet to stdout or a file."""

from __future__ import annotations

import io
import sys
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import click
import polars as pl
from polars.datatypes import DataTypeClass

from lakeml.errors import ConfigError
from lakeml.storage.uri import parse_location, safe_uri

if TYPE_CHECKING:
    from lakeml.session import Lake

OutputFormat = Literal["table", "csv", "json", "parquet"]


def render_table(frame: pl.DataFrame, *, title: str | None = None, max_rows: int = 50) -> None:
    """Print a frame on the terminal (first ``max_rows`` rows), never splitting a value across lines.

    A grid when every column fits the terminal (text with spaces wraps between words; numbers,
    dates and identifiers never wrap); otherwise one block per row with a ``column  value`` line
    per column (psql's expanded display).
    """
    from rich.console import Console

    out = Console(soft_wrap=False, highlight=False)
    shown = frame.head(max_rows)
    names = list(shown.columns)
    types = [type_name(dtype) for dtype in shown.dtypes]
    cells = [["∅" if v is None else _fmt(v) for v in row] for row in shown.iter_rows()]
    # Text with spaces may wrap between words; nothing else (numbers, dates, ids) ever wraps.
    prose = [dtype == pl.String and any(" " in r[i] for r in cells) for i, dtype in enumerate(shown.dtypes)]
    widths = [max([cell_width(n), cell_width(t), *(_min_width(r[i], prose[i]) for r in cells)])
              for i, (n, t) in enumerate(zip(names, types, strict=True))]
    if sum(widths) + 3 * len(widths) + 1 <= out.width:
        _print_grid(out, names, types, cells, shown.dtypes, prose, widths, title)
    else:
        _print_vertical(out, names, types, cells, title)
    if frame.height > max_rows:
        out.print(f"[dim]… {frame.height - max_rows:,} more rows ({frame.height:,} in all)[/dim]")
    else:
        out.print(f"[dim]{frame.height:,} row{'s' if frame.height != 1 else ''}[/dim]")


def cell_width(text: str) -> int:
    """Terminal cells ``text`` takes (wide characters count twice)."""
    from rich.cells import cell_len

    return cell_len(text)


def _min_width(cell: str, prose: bool) -> int:
    """The narrowest a cell can be without splitting a word (prose) or the value (anything else)."""
    return max((cell_width(word) for word in cell.split()), default=0) if prose else cell_width(cell)


def _print_grid(out: Any, names: list[str], types: list[str], cells: list[list[str]],
                dtypes: list[pl.DataType], prose: list[bool], widths: list[int], title: str | None) -> None:
    from rich.table import Table
    from rich.text import Text

    table = Table(title=title, show_lines=False, header_style="bold")
    for name, type_text, dtype, wraps, width in zip(names, types, dtypes, prose, widths, strict=True):
        header = Text(name, style="bold")
        header.append(f"\n{type_text}", style="dim")
        table.add_column(header, no_wrap=not wraps, min_width=width, overflow="fold",
                         justify="right" if dtype.is_numeric() else "left")
    for row in cells:
        table.add_row(*(Text(cell) for cell in row))
    out.print(table)


def _print_vertical(out: Any, names: list[str], types: list[str], cells: list[list[str]],
                    title: str | None) -> None:
    from rich.text import Text

    if title:
        out.print(Text(title, style="bold"))
    pad = max(cell_width(n) for n in names)
    for i, row in enumerate(cells):
        out.print(Text(f"-[ row {i + 1} ]" + "-" * max(0, min(out.width, 40) - 12 - len(str(i + 1))), style="dim"))
        for name, type_text, cell in zip(names, types, row, strict=True):
            line = Text(name + " " * (pad - cell_width(name)) + "  ", style="bold")
            line.append(cell)
            line.append(f"  {type_text}", style="dim")
            out.print(line, soft_wrap=True)


def type_name(dtype: pl.DataType | DataTypeClass) -> str:
    """A compact type name, as Polars prints column types: ``i64``, ``str``, ``datetime[us, UTC]``."""
    base = dtype.base_type()
    if isinstance(dtype, pl.Datetime):
        zone = f", {dtype.time_zone}" if dtype.time_zone else ""
        return f"datetime[{dtype.time_unit}{zone}]"
    if isinstance(dtype, pl.Duration):
        return f"duration[{dtype.time_unit}]"
    if isinstance(dtype, pl.Decimal):
        return f"decimal[{dtype.precision},{dtype.scale}]"
    if isinstance(dtype, pl.Array):
        return f"array[{type_name(dtype.inner)}, {', '.join(str(n) for n in dtype.shape)}]"
    if isinstance(dtype, pl.List):
        return f"list[{type_name(dtype.inner)}]"
    if isinstance(dtype, pl.Struct):
        return f"struct[{len(dtype.fields)}]"
    return _SHORT.get(base, base.__name__.lower())


_SHORT: dict[Any, str] = {
    pl.Int8: "i8", pl.Int16: "i16", pl.Int32: "i32", pl.Int64: "i64", pl.Int128: "i128",
    pl.UInt8: "u8", pl.UInt16: "u16", pl.UInt32: "u32", pl.UInt64: "u64",
    pl.Float32: "f32", pl.Float64: "f64", pl.String: "str", pl.Boolean: "bool", pl.Categorical: "cat",
}


def _fmt(value: object) -> str:
    if isinstance(value, float):  # every digit of a short number; long binary fractions rounded
        text = repr(value)
        return text if len(text) <= 12 else f"{value:.10g}"
    if isinstance(value, Decimal):  # the number, not the column's scale: 21.9, not 21.900000000
        text = format(value.normalize(), "f")
        return "0" if text in ("-0", "0") else text
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
        click.echo(f"wrote {safe_uri(output)}")
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
        click.echo(f"wrote {df.height:,} rows to {safe_uri(output)}")
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
