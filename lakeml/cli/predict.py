"""``lakeml predict``: score a table, file or query with a registered model."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import click

from lakeml.cli.context import get_lake, progress_enabled
from lakeml.cli.output import render_table
from lakeml.storage.uri import safe_uri

_FILE_READERS = {".parquet": "read_parquet", ".csv": "read_csv", ".json": "read_ndjson", ".ndjson": "read_ndjson"}


def data_source(text: str) -> str:
    """A table name or query as is; a file path/URI becomes ``SELECT * FROM read_<fmt>('...')``."""
    stripped = text.strip()
    if "://" in stripped or stripped.endswith(tuple(_FILE_READERS)) or (
            "/" in stripped and " " not in stripped):
        reader = next((r for ext, r in _FILE_READERS.items() if stripped.lower().rstrip("/*").endswith(ext)),
                      "read_parquet")
        return f"SELECT * FROM {reader}('{stripped.replace(chr(39), chr(39) * 2)}')"
    return stripped


@contextmanager
def _progress(enabled: bool) -> Iterator[Callable[[int], None] | None]:
    if not enabled:
        yield None
        return
    from rich.console import Console
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    start = time.perf_counter()
    with Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(),
                  console=Console(stderr=True), transient=False) as bar:
        task = bar.add_task("scoring", total=None)

        def update(rows: int) -> None:
            rate = rows / max(time.perf_counter() - start, 1e-9)
            bar.update(task, description=f"scored {rows:,} rows ({rate:,.0f} rows/s)")

        yield update


def register(cli: click.Group) -> None:
    """Add the ``predict`` command to the CLI."""

    @cli.command()
    @click.option("--model", "model", required=True, metavar="REF", help="name, name:3 or name@alias.")
    @click.option("--data", "data", required=True, metavar="TABLE|URI|QUERY",
                  help="A lake table, a Parquet/CSV file or URI, or a SELECT query.")
    @click.option("--output", "output", default=None, metavar="TABLE|URI",
                  help="Lake table, or an absolute .parquet path or URI, to write (relative paths are refused); "
                       "omitted: print the first rows.")
    @click.option("--with", "with_", default=None, metavar='"label bigint, ..."',
                  help="Outputs to compute and their SQL types, as in a PREDICT WITH clause.")
    @click.option("--on-null", type=click.Choice(["error", "propagate", "nan"]), default="error", show_default=True,
                  help="Nulls in inputs the model has no training rule for (models lakeml trained feed nulls "
                       "as training did): error (fail), propagate (null outputs), or nan (feed NaN to float "
                       "inputs).")
    @click.option("--auto-cast", is_flag=True, help="Cast inputs to the model's types where no value changes.")
    @click.option("--batch-size", type=int, default=None, help="Rows per ONNX Runtime call.")
    @click.option("--mode", type=click.Choice(["error", "append", "overwrite"]), default="error", show_default=True,
                  help="When --output is a table that exists: error (fail), append, or overwrite.")
    @click.option("--format", "fmt", type=click.Choice(["parquet", "delta"]), default="parquet", show_default=True,
                  help="Table format when --output creates a table: parquet or delta.")
    @click.pass_context
    def predict(ctx: click.Context, model: str, data: str, output: str | None, with_: str | None, on_null: str,
                auto_cast: bool, batch_size: int | None, mode: str, fmt: str) -> None:
        """Score DATA with MODEL in one streaming pass, writing OUTPUT atomically."""
        lake = get_lake(ctx)
        source: Any = data_source(data)
        if output is None:
            frame = lake.predict(model, source, outputs=with_, on_null=on_null, auto_cast=auto_cast,
                                 batch_size=batch_size)
            render_table(frame, title=f"PREDICT {model}")
            return
        with _progress(progress_enabled()) as progress:
            result = lake.score(model, source, output, outputs=with_, on_null=on_null, auto_cast=auto_cast,
                                batch_size=batch_size, mode=mode, format=fmt, progress=progress)
        rate = result.rows / max(result.seconds, 1e-9)
        click.echo(f"scored {result.rows:,} rows with {result.model} into {safe_uri(result.target)} "
                   f"in {result.seconds:.2f} s ({rate:,.0f} rows/s)")
