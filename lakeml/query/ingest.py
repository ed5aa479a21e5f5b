"""The copy activity: stream files (CSV, NDJSON, Parquet) from local disk or the lake into a lake table."""

from __future__ import annotations

import glob as globlib
import shlex
import warnings
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl

from lakeml.errors import (
    ConfigError,
    DataFormatError,
    LakeMLError,
    LakePathNotFoundError,
    SchemaError,
    TableExistsError,
    render_for,
)
from lakeml.query.csv_diagnose import diagnose_csv
from lakeml.query.csv_nulls import DEFAULT_NULL_VALUES, TextColumn, as_number, classify
from lakeml.query.dtypes import parse_dtype, sql_name
from lakeml.query.formats import Format, check_format, guess_format, read_error, scan_uri
from lakeml.query.progress import RowProgress
from lakeml.query.scans import CSV_INFER_ROWS, scan_files
from lakeml.query.schema_match import conform, fit_append
from lakeml.query.writer import check_mode
from lakeml.storage.uri import parse_location, safe_uri

if TYPE_CHECKING:
    from lakeml.context import LakeContext

INFER_ROWS = CSV_INFER_ROWS  # CSV rows the reader infers column types from, and lakeml samples for numeric-looking text


def _mode(mode: str) -> str:
    """``mode='append'`` in Python, ``--mode append`` on the CLI (a hint placeholder)."""
    return f"[[mode={mode!r}]]"


def _schema(column: str, type_name: str) -> str:
    """``schema={'col': 'str'}`` in Python, ``--schema col=str`` on the CLI."""
    return f"[[schema={{{column!r}: {type_name!r}}}|--schema {shlex.quote(f'{column}={type_name}')}]]"


def _null_values(tokens: Sequence[str]) -> str:
    """``null_values=['-']`` in Python, ``--null-value -`` on the CLI."""
    flags = " ".join(f"--null-value {shlex.quote(t)}" for t in tokens)
    return f"[[null_values={list(tokens)!r}|{flags}]]"


def _format(fmt: str = "csv") -> str:
    """``format='csv'`` in Python, ``--format csv`` on the CLI."""
    return f"[[format={fmt!r}]]"


class TextColumnWarning(UserWarning):
    """A CSV column read as text although most of its values are numbers.

    Its text may hold hint placeholders (:func:`lakeml.errors.render_for`): ``str()`` shows the
    Python spelling; the CLI renders ``args[0]`` for the command line.
    """

    def __str__(self) -> str:
        return render_for(str(self.args[0]) if self.args else "", "python")


def _local_files(path: Path, pattern: str) -> list[str]:
    if any(ch in pattern for ch in "*?["):
        return sorted(globlib.glob(pattern, recursive=True))
    if path.is_dir():
        return sorted(p.as_posix() for p in path.rglob("*") if p.is_file() and not p.name.startswith((".", "_")))
    return [path.as_posix()] if path.exists() else []


def _resolve_format(files: list[str], fmt: str | None, source: str) -> Format:
    if fmt:
        return check_format(fmt)
    found = {guess_format(f) for f in files} - {None}
    if len(found) == 1:
        return found.pop()  # type: ignore[return-value]
    if not found:
        raise ConfigError(f"Cannot tell the format of {safe_uri(source)!r} from its file names.",
                          hint=f"Pass {_format('csv')}, 'ndjson' or 'parquet'.")
    raise ConfigError(f"{safe_uri(source)!r} mixes formats {sorted(f for f in found if f)}.",
                      hint="Ingest one format at a time (use a glob such as 'folder/*.csv').")


def scan_source(lake: LakeContext[pl.LazyFrame], source: str | Path, *, format: str | None = None,
                schema: Mapping[str, Any] | None = None, options: Mapping[str, Any] | None = None,
                null_values: Sequence[str] = (),
                ) -> tuple[pl.LazyFrame, Format, list[str]]:
    """A lazy scan of an ingest source, with its format and (for local sources) its files.

    CSV columns given a numeric type in ``schema`` are scanned as text here: :func:`read_numbers`
    casts them, reading missing-value tokens as null.
    """
    text = str(source)
    opts: dict[str, Any] = dict(options or {})
    overrides = {name: parse_dtype(dtype) for name, dtype in (schema or {}).items()}
    if "://" in text and not text.startswith("file://"):
        storage = lake.storage_for(text)
        location = parse_location(text)
        fmt = check_format(format) if format else guess_format(location.path)
        if fmt is None:
            raise ConfigError(f"Cannot tell the format of {safe_uri(text)!r}.",
                              hint=f"Pass {_format('csv')}, 'ndjson' or 'parquet'.")
        is_dir = "*" not in location.path and guess_format(location.path) is None
        files: list[str] = []
        uri = location.uri
    else:
        path = Path(text.removeprefix("file://")).expanduser()
        files = _local_files(path, text.removeprefix("file://"))
        if not files:
            raise LakePathNotFoundError(f"Nothing to ingest at {safe_uri(text)!r}: no such file or folder.",
                                        hint="Check the path (globs like 'data/*.csv' are allowed).")
        fmt = _resolve_format(files, format, text)
        files = [f for f in files if format or guess_format(f) == fmt]
        storage = lake.storage_for(files[0])  # local files: no credentials
        is_dir, uri = False, ""
    if fmt == "delta":
        raise ConfigError("Ingest copies CSV, NDJSON or Parquet files.",
                          hint="Register a Delta table with Lake.register_table(name, uri, format='delta').")
    if null_values:
        if fmt != "csv":
            raise ConfigError(f"Null values apply to CSV sources; {safe_uri(text)!r} is {fmt}.",
                              hint=f"Drop {_null_values(list(null_values))}: {fmt} files carry "
                                   "their own nulls.")
        opts["null_values"] = list(null_values)
    if fmt == "csv":
        overrides = {name: pl.String() if _is_numeric(dtype) else dtype for name, dtype in overrides.items()}
    if overrides:
        key = "schema_overrides" if fmt in ("csv", "ndjson") else None
        if key is None:
            raise ConfigError("An explicit schema applies to CSV and NDJSON sources; Parquet carries its own.",
                              hint="Cast columns after ingest with Lake.sql, or drop the schema argument.")
        opts[key] = overrides
    if files:
        frame = scan_files(lake.engine, storage, files, fmt, options=opts)
    else:
        frame = scan_uri(lake.engine, storage, uri, fmt, options=opts, is_dir=is_dir)
    return frame, fmt, files


def _is_numeric(dtype: Any) -> bool:
    return bool(dtype.is_numeric())


def read_numbers(frame: pl.LazyFrame, schema: Mapping[str, Any] | None, null_values: Iterable[str],
                 *, infer_rows: int = INFER_ROWS) -> tuple[pl.LazyFrame, list[str], list[TextColumn]]:
    """Read a CSV scan's numeric columns as numbers, with missing-value tokens as null.

    Columns given a numeric type in ``schema`` (scanned as text) are cast to it. Columns inferred as
    text whose first ``infer_rows`` values are all numbers or tokens of :data:`DEFAULT_NULL_VALUES`
    (or ``null_values``) become Int64 or Float64. Returns the new scan, the columns cast, and the
    text columns that are nevertheless mostly numbers, for a warning.
    """
    tokens = (*DEFAULT_NULL_VALUES, *null_values)
    declared = {name: parse_dtype(dtype) for name, dtype in (schema or {}).items()}
    found = frame.collect_schema()
    numeric = {name: dtype for name, dtype in declared.items() if _is_numeric(dtype) and name in found}
    text = [name for name, dtype in found.items() if dtype == pl.String and name not in declared]
    mostly: list[TextColumn] = []
    if text:
        inferred, mostly = classify(frame.select(text).head(infer_rows).collect(), tokens)
        numeric.update(inferred)
    if not numeric:
        return frame, [], mostly
    return frame.with_columns(as_number(name, dtype, tokens) for name, dtype in numeric.items()), list(numeric), mostly


def _warn_text_columns(columns: list[TextColumn]) -> None:
    for c in columns:
        warnings.warn(
            f"Column {c.column!r} is read as text although {c.share:.0%} of its values are numbers: it also holds "
            f"{c.token!r} ({c.count:,} of the first {INFER_ROWS:,} rows). If {c.token!r} means missing, pass "
            f"{_null_values([c.token])}; to keep the column as text, pass {_schema(c.column, 'str')}.",
            TextColumnWarning, stacklevel=3)


def ingest(lake: LakeContext[pl.LazyFrame], source: str | Path, table: str, *, format: str | None = None,
           mode: str = "error", partition_by: str | list[str] | None = None, schema: Mapping[str, Any] | None = None,
           null_values: Sequence[str] | None = None, options: Mapping[str, Any] | None = None,
           progress: bool | None = None) -> int:
    """Copy a file, folder or glob into a lake table, streaming (bounded memory).

    Args:
        lake: the target lake.
        source: a local path, folder or glob, or a lake URI (``abfss://...``).
        table: the target table name.
        format: ``csv``, ``ndjson`` or ``parquet``; guessed from file names when None.
        mode: ``error`` (default: refuse an existing table, like Spark's ``errorifexists``),
            ``append`` or ``overwrite``.
        partition_by: column(s) to partition the table by.
        schema: explicit column types for CSV/NDJSON, e.g. ``{"zip": "str", "amount": "float64"}``;
            columns not named are inferred.
        null_values: CSV cells to read as missing in every column, e.g. ``["-", "n/a"]``. Whatever
            is passed, ``NA``, ``NaN``, ``NULL`` and empty cells are missing in numeric columns
            (:data:`lakeml.query.csv_nulls.DEFAULT_NULL_VALUES`).
        options: extra reader options (e.g. ``{"separator": ";"}`` for CSV).
        progress: show a progress bar (default: only when stderr is a terminal).

    Returns:
        The number of rows ingested.

    Raises:
        TableExistsError: the table exists and ``mode`` is ``error``.
        SchemaError: appending data whose columns differ from the table's (beyond lossless widening).
        LakePathNotFoundError: the source does not exist.
        DataFormatError: malformed input, naming the file, line and column.

    Warns:
        TextColumnWarning: a CSV column is read as text although most of its values are numbers.

    Appending casts the new data to the table's types where that loses nothing (Int32 to Int64,
    Int64 to Float64, ...). CSV files whose lines end in a carriage return alone (classic Mac OS)
    are read as such.
    """
    opts = dict(options or {})
    given = opts.get("null_values")
    if isinstance(given, str | list | tuple):  # Polars' own spelling of the option; a per-column dict stays there
        opts.pop("null_values")
    nulls = [*([given] if isinstance(given, str) else given if isinstance(given, list | tuple) else []),
             *(null_values or [])]
    existing = _existing_schema(lake, table, mode)
    cast: list[str] = []
    frame, fmt, files = scan_source(lake, source, format=format, schema=schema, options=opts, null_values=nulls)
    try:
        found = frame.collect_schema()
        if fmt == "csv" and _cr_only_lines(found, opts):
            opts = {**opts, "eol_char": "\r"}
            frame, fmt, files = scan_source(lake, source, format=format, schema=schema, options=opts,
                                            null_values=nulls)
        if fmt == "csv":
            frame, cast, mostly = read_numbers(frame, schema, nulls)
            _warn_text_columns(mostly)
        found = frame.collect_schema()
    except (pl.exceptions.PolarsError, OSError) as exc:
        raise read_error(exc, str(source), fmt) from exc
    if existing is not None and mode == "append":
        frame, found = _fit_table(frame, found, existing, table)
    with RowProgress(f"ingest → {table}", enabled=progress) as bar:
        counted = frame.map_batches(bar.count, streamable=True, schema=found)
        try:
            lake.write(table, counted, mode=mode, partition_by=partition_by)
        except TableExistsError as exc:  # created by another writer since the check above
            raise TableExistsError(f"Table {table!r} was created by another writer meanwhile.",
                                   hint=_exists_hint()) from exc
        except LakeMLError:
            raise
        except (pl.exceptions.PolarsError, OSError) as exc:
            missing = {c: (*DEFAULT_NULL_VALUES, *nulls) for c in cast}
            raise _explain_failure(exc, fmt, files, found, source, missing) from exc
    return bar.rows


def _exists_hint() -> str:
    return (f"Pass {_mode('append')} to add the rows, or {_mode('overwrite')} to replace "
            "the table.")


def _existing_schema(lake: LakeContext[pl.LazyFrame], table: str, mode: str) -> pl.Schema | None:
    """The schema of ``table`` if it exists; refuses an existing table when ``mode`` is ``error``."""
    check_mode(mode)
    if table not in lake.tables():
        return None
    if mode == "error":
        raise TableExistsError(f"Table {table!r} already exists.", hint=_exists_hint())
    return lake.table(table).collect_schema()


def _fit_table(frame: pl.LazyFrame, found: pl.Schema, existing: pl.Schema,
               table: str) -> tuple[pl.LazyFrame, pl.Schema]:
    """The data cast to the table's types where that is lossless; SchemaError naming what differs."""
    fit = fit_append(existing, found)
    if not fit.ok:
        hint = f"Pass {_mode('overwrite')} to replace the table, or ingest into a new table."
        if fit.narrowing and not (fit.missing or fit.extra):
            name, (wide, _) = next(iter(fit.narrowing.items()))
            type_name = sql_name(wide)
            if type_name is not None:
                hint = (f"Read the column as the table's type with {_schema(name, type_name)} if its "
                        f"values fit, or pass {_mode('overwrite')} to replace the table.")
        raise SchemaError(f"Cannot append to {table!r}: {fit.describe()}.", hint=hint)
    if list(existing.items()) == list(found.items()):
        return frame, found
    frame = conform(frame, existing, fit)
    return frame, frame.collect_schema()


def _cr_only_lines(schema: pl.Schema, options: Mapping[str, Any] | None) -> bool:
    """Whether a CSV's header came out with carriage returns inside column names.

    Polars ends lines at ``\n`` (``\r\n`` included). A file whose lines end in ``\r`` alone has no
    line end for it: the whole file becomes one header line, with names like ``'score\r1'``, and no
    rows. Such a file is read again with ``eol_char='\r'``.
    """
    opts = options or {}
    if "eol_char" in opts or opts.get("has_header") is False:
        return False
    return any("\r" in name for name in schema.names())


def _explain_failure(exc: Exception, fmt: Format, files: list[str], schema: pl.Schema,
                     source: str | Path, null_values: Mapping[str, Sequence[str]]) -> LakeMLError:
    first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    if fmt == "csv" and files:
        problem = diagnose_csv(files, schema, null_values=null_values)
        if problem is not None:
            message = (f"Malformed CSV in {problem.file}, line {problem.line}, column {problem.column!r}: "
                       f"{problem.reason}.")
            dtype = schema.get(problem.column)
            if problem.value is not None and problem.value.strip() in DEFAULT_NULL_VALUES and dtype is not None:
                # a missing-value token past the rows the type was inferred from: declare the type
                type_name = sql_name(dtype) or "float64"
                return DataFormatError(
                    message.removesuffix(".") + f" (the type was inferred from the first {INFER_ROWS:,} rows).",
                    hint=f"Declare the column's type with {_schema(problem.column, type_name)}: "
                         f"{problem.value!r} then reads as missing.")
            value_hint = (f"pass {_null_values([problem.value])} if {problem.value!r} means missing, "
                          if problem.value else "")
            text_hint = f"{_schema(problem.column, 'str')} to read the column as text"
            return DataFormatError(message, hint=f"Fix that row, {value_hint}or pass {text_hint}.")
    if isinstance(exc, OSError) and not isinstance(exc, pl.exceptions.PolarsError):
        return read_error(exc, str(source), fmt)
    return DataFormatError(f"Could not ingest {safe_uri(source)}: {first}",
                           hint="Check the input; declare ambiguous columns' types with "
                                f"{_schema('COL', 'TYPE')}.")
