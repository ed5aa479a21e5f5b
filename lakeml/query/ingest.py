"""The copy activity: stream files (CSV, NDJSON, Parquet) from local disk or the lake into a lake table."""

from __future__ import annotations

import glob as globlib
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl

from lakeml.errors import ConfigError, DataFormatError, LakeMLError, LakePathNotFoundError
from lakeml.query.csv_diagnose import diagnose_csv
from lakeml.query.dtypes import parse_dtype
from lakeml.query.formats import Format, check_format, guess_format, read_error, scan_uri
from lakeml.query.progress import RowProgress
from lakeml.storage.uri import parse_location, safe_uri

if TYPE_CHECKING:
    from lakeml.query.lake import Lake


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
                          hint="Pass [[format='csv']] (or ndjson, parquet).")
    raise ConfigError(f"{safe_uri(source)!r} mixes formats {sorted(f for f in found if f)}.",
                      hint="Ingest one format at a time (use a glob such as 'folder/*.csv').")


def scan_source(lake: Lake, source: str | Path, *, format: str | None = None,
                schema: Mapping[str, Any] | None = None, options: Mapping[str, Any] | None = None,
                ) -> tuple[pl.LazyFrame, Format, list[str]]:
    """A lazy scan of an ingest source, with its format and (for local sources) its files."""
    text = str(source)
    opts: dict[str, Any] = dict(options or {})
    overrides = {name: parse_dtype(dtype) for name, dtype in (schema or {}).items()}
    if "://" in text and not text.startswith("file://"):
        storage = lake.storage_for(text)
        location = parse_location(text)
        fmt = check_format(format) if format else guess_format(location.path)
        if fmt is None:
            raise ConfigError(f"Cannot tell the format of {safe_uri(text)!r}.",
                              hint="Pass [[format='csv']] (or ndjson, parquet).")
        is_dir = "*" not in location.path and guess_format(location.path) is None
        files: list[str] = []
        polars_options = storage.polars_options()
        uri = location.uri
    else:
        path = Path(text.removeprefix("file://")).expanduser()
        files = _local_files(path, text.removeprefix("file://"))
        if not files:
            raise LakePathNotFoundError(f"Nothing to ingest at {safe_uri(text)!r}: no such file or folder.",
                                        hint="Check the path (globs like 'data/*.csv' are allowed).")
        fmt = _resolve_format(files, format, text)
        files = [f for f in files if format or guess_format(f) == fmt]
        is_dir, polars_options, uri = False, {}, ""
    if fmt == "delta":
        raise ConfigError("Ingest copies CSV, NDJSON or Parquet files.",
                          hint="Register a Delta table with Lake.register_table(name, uri, format='delta').")
    if overrides:
        key = "schema_overrides" if fmt in ("csv", "ndjson") else None
        if key is None:
            raise ConfigError("An explicit schema applies to CSV and NDJSON sources; Parquet carries its own.",
                              hint="Cast columns after ingest with Lake.sql, or drop the schema argument.")
        opts[key] = overrides
    if files:
        frame = _scan_files(files, fmt, opts)
    else:
        frame = scan_uri(uri, fmt, polars_options=polars_options, options=opts, is_dir=is_dir)
    return frame, fmt, files


def _scan_files(files: list[str], fmt: Format, opts: dict[str, Any]) -> pl.LazyFrame:
    if fmt == "parquet":
        return pl.scan_parquet(files, **opts)
    if fmt == "csv":
        opts.setdefault("infer_schema_length", 10_000)
        return pl.scan_csv(files, **opts)
    return pl.scan_ndjson(files, **opts)


def ingest(lake: Lake, source: str | Path, table: str, *, format: str | None = None, mode: str = "append",
           partition_by: str | list[str] | None = None, schema: Mapping[str, Any] | None = None,
           options: Mapping[str, Any] | None = None, progress: bool | None = None) -> int:
    """Copy a file, folder or glob into a lake table, streaming (bounded memory).

    Args:
        lake: the target lake.
        source: a local path, folder or glob, or a lake URI (``abfss://...``).
        table: the target table name.
        format: ``csv``, ``ndjson`` or ``parquet``; guessed from file names when None.
        mode: ``append`` (default), ``overwrite`` or ``error``.
        partition_by: column(s) to partition the table by.
        schema: explicit column types for CSV/NDJSON, e.g. ``{"zip": "str", "amount": "float64"}``;
            columns not named are inferred.
        options: extra reader options (e.g. ``{"separator": ";"}`` for CSV).
        progress: show a progress bar (default: only when stderr is a terminal).

    Returns:
        The number of rows ingested.

    Raises:
        LakePathNotFoundError: the source does not exist.
        DataFormatError: malformed input, naming the file, line and column.

    CSV files whose lines end in a carriage return alone (classic Mac OS) are read as such.
    """
    frame, fmt, files = scan_source(lake, source, format=format, schema=schema, options=options)
    try:
        found = frame.collect_schema()
        if fmt == "csv" and _cr_only_lines(found, options):
            cr_options = {**(options or {}), "eol_char": "\r"}
            frame, fmt, files = scan_source(lake, source, format=format, schema=schema, options=cr_options)
            found = frame.collect_schema()
    except (pl.exceptions.PolarsError, OSError) as exc:
        raise read_error(exc, str(source), fmt) from exc
    with RowProgress(f"ingest → {table}", enabled=progress) as bar:
        counted = frame.map_batches(bar.count, streamable=True, schema=found)
        try:
            lake.write(table, counted, mode=mode, partition_by=partition_by)
        except LakeMLError:
            raise
        except (pl.exceptions.PolarsError, OSError) as exc:
            raise _explain_failure(exc, fmt, files, found, source) from exc
    return bar.rows


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
                     source: str | Path) -> LakeMLError:
    first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    if fmt == "csv" and files:
        problem = diagnose_csv(files, schema)
        if problem is not None:
            return DataFormatError(
                f"Malformed CSV in {problem.file}, line {problem.line}, column {problem.column!r}: {problem.reason}.",
                hint=f"Fix that row, or read the column as text with [[schema={{'{problem.column}': 'str'}}|--schema "
                     f"{problem.column}=str]].",
            )
    if isinstance(exc, OSError) and not isinstance(exc, pl.exceptions.PolarsError):
        return read_error(exc, str(source), fmt)
    return DataFormatError(f"Could not ingest {safe_uri(source)}: {first}",
                           hint="Check the input; pass an explicit schema for ambiguous columns.")
