"""File sources in SQL: ``OPENROWSET(BULK ...)`` and ``read_parquet/read_csv/read_ndjson/read_delta(...)``.

Each such table function in ``FROM`` becomes a Polars scan registered under a fresh name, read
with the lake's credentials (never the user's environment); the syntax node is replaced by a
reference to that name, so projection and predicate pushdown reach the scan as for any table.
Relative locations resolve against the lake root.
"""

from __future__ import annotations

import itertools
import posixpath
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import polars as pl
from sqlglot import exp

from lakeml.context import LakeContext
from lakeml.engines.base import ScanFormat
from lakeml.errors import ColumnNotFoundError, ConfigError, LakeMLError, SQLError, choices_hint
from lakeml.query.access import check_access
from lakeml.query.scans import scan_files
from lakeml.sql.nodes import OpenRowset, OpenRowsetColumn
from lakeml.storage.lakefs import LakeStorage
from lakeml.storage.uri import Location, parse_location, safe_uri

__all__ = ["TABLE_FUNCTIONS", "rewrite_sources"]

# Reader options users may pass from SQL (`name => value`), per format; values are plain literals.
_READER_OPTIONS: dict[str, set[str]] = {
    "parquet": {"n_rows", "hive_partitioning", "glob", "try_parse_hive_dates", "include_file_paths",
                "row_index_name", "row_index_offset", "use_statistics", "missing_columns", "extra_columns"},
    "csv": {"has_header", "separator", "comment_prefix", "quote_char", "skip_rows", "skip_lines",
            "null_values", "ignore_errors", "infer_schema", "infer_schema_length", "n_rows", "encoding",
            "skip_rows_after_header", "try_parse_dates", "eol_char", "truncate_ragged_lines",
            "decimal_comma", "glob", "include_file_paths", "row_index_name", "row_index_offset",
            "missing_columns", "extra_columns"},
    "ndjson": {"infer_schema_length", "n_rows", "ignore_errors", "include_file_paths", "row_index_name",
               "row_index_offset"},
    "delta": {"version"},
}
_ALIASES = {"header": "has_header", "delim": "separator", "delimiter": "separator", "sep": "separator",
            "quote": "quote_char", "nullstr": "null_values", "comment": "comment_prefix"}

#: SQL table-function name -> file format.
TABLE_FUNCTIONS: dict[str, str] = {
    "read_parquet": "parquet", "parquet_scan": "parquet", "read_csv": "csv", "read_csv_auto": "csv",
    "read_ndjson": "ndjson", "read_json": "ndjson", "read_ndjson_auto": "ndjson", "read_delta": "delta",
    "delta_scan": "delta",
}
_EXTENSION = {"parquet": ".parquet", "csv": ".csv", "ndjson": ".ndjson"}  # for the example in a hint
_OPENROWSET_FORMATS = {"PARQUET": "parquet", "CSV": "csv", "DELTA": "delta"}
_OPENROWSET_CSV_ONLY = {"HEADER_ROW", "FIELDTERMINATOR", "ROWTERMINATOR", "FIELDQUOTE", "FIRSTROW",
                        "ENCODING", "CODEPAGE", "PARSER_VERSION"}
_UTF8 = {"UTF8", "UTF-8", "65001"}


def rewrite_sources(tree: exp.Expr, lake: LakeContext[pl.LazyFrame], frames: dict[str, pl.LazyFrame]) -> None:
    """Replace every file table function in ``tree`` by a fresh frame name registered in ``frames``."""
    counter = itertools.count(1)
    for table in list(tree.find_all(exp.Table)):
        func = table.this
        if isinstance(func, OpenRowset):
            frame, columns, fmt, has_header = _openrowset(func, lake)
        elif isinstance(func, exp.Func) and _func_name(func) in TABLE_FUNCTIONS:
            frame, columns, fmt, has_header = _table_function(func, lake), None, "", True
        else:
            continue
        name = _fresh_name(frames, counter)
        frames[name] = frame
        if columns:
            table.replace(_with_schema(name, frame, columns, positional=fmt == "csv" and not has_header,
                                       alias=table.args.get("alias")))
        else:
            table.set("this", exp.to_identifier(name))


def _fresh_name(frames: dict[str, pl.LazyFrame], counter: itertools.count) -> str:
    while True:
        name = f"__lakeml_src_{next(counter)}"
        if name not in frames:
            return name


def _func_name(func: exp.Func) -> str:
    return (func.name if isinstance(func, exp.Anonymous) else func.sql_name()).lower()


# --- table functions ---------------------------------------------------------------------------
def _table_function(func: exp.Func, lake: LakeContext[pl.LazyFrame]) -> pl.LazyFrame:
    name = _func_name(func)
    fmt = TABLE_FUNCTIONS[name]
    args = [a for a in [func.this, *func.expressions] if isinstance(a, exp.Expr)] if not isinstance(
        func, exp.Anonymous) else list(func.expressions)
    positional = [a for a in args if not isinstance(a, exp.Kwarg | exp.PropertyEQ | exp.EQ)]
    if len(positional) != 1:
        raise SQLError(f"{name}() takes one location (a string or a list of strings); got {len(positional)}.",
                       hint=f"Write {name}('data/*.{_EXTENSION.get(fmt, 'parquet').lstrip('.')}').")
    locations = _strings(positional[0], name)
    options: dict[str, Any] = {}
    for arg in args:
        if any(arg is p for p in positional):
            continue
        key = _ALIASES.get(arg.this.name.lower(), arg.this.name.lower())
        allowed = _READER_OPTIONS[fmt]
        if key not in allowed:
            raise SQLError(f"{name}() has no option {arg.this.name!r}.",
                           hint=choices_hint(key, allowed, kind=f"{name} option"))
        options[key] = _python_value(arg.expression, f"{name}() option {key}")
    return scan(lake, locations, fmt, options)


def _strings(node: exp.Expr, what: str) -> list[str]:
    items = node.expressions if isinstance(node, exp.Array | exp.Tuple) else [node]
    if not items or not all(isinstance(i, exp.Literal) and i.is_string for i in items):
        raise SQLError(f"{what} needs a string location, e.g. 'data/*.parquet'; got {node.sql()}.",
                       hint="Quote the location with single quotes; bind it with @param if it varies.")
    return [i.name for i in items]


def _python_value(node: exp.Expr, what: str) -> Any:
    if isinstance(node, exp.Boolean):
        return bool(node.this)
    if isinstance(node, exp.Null):
        return None
    if isinstance(node, exp.Literal):
        if node.is_string:
            return node.name
        text = node.name
        return float(text) if any(c in text for c in ".eE") else int(text)
    if isinstance(node, exp.Neg) and isinstance(node.this, exp.Literal):
        return -_python_value(node.this, what)
    if isinstance(node, exp.Array | exp.Tuple):
        return [_python_value(i, what) for i in node.expressions]
    raise SQLError(f"The value of {what} must be a literal, not {node.sql()}.",
                   hint="Write a constant such as TRUE, 10 or ';'.")


# --- OPENROWSET --------------------------------------------------------------------------------
def _openrowset(node: OpenRowset, lake: LakeContext[pl.LazyFrame]
                ) -> tuple[pl.LazyFrame, list[OpenRowsetColumn] | None, str, bool]:
    opts = {item.this.name.upper(): item.expression for item in node.args.get("options") or []}
    fmt_node = opts.pop("FORMAT", None)
    if fmt_node is None:
        raise SQLError("OPENROWSET needs FORMAT = 'PARQUET', 'CSV' or 'DELTA'.",
                       hint="Write OPENROWSET(BULK '...', FORMAT = 'PARQUET') AS r.")
    fmt_text = str(_python_value(fmt_node, "OPENROWSET FORMAT")).upper()
    fmt = _OPENROWSET_FORMATS.get(fmt_text)
    if fmt is None:
        raise SQLError(f"OPENROWSET FORMAT {fmt_text!r} is not supported.",
                       hint="Use FORMAT = 'PARQUET', 'CSV' or 'DELTA'.")
    if "DATA_SOURCE" in opts:
        raise SQLError("OPENROWSET DATA_SOURCE is not supported: the lake has no external data sources.",
                       hint="Put the full URI (abfss://...) or a path relative to the lake root in BULK.")
    options: dict[str, Any] = {}
    has_header = False
    for key, value_node in opts.items():
        value = _python_value(value_node, f"OPENROWSET {key}")
        if key in _OPENROWSET_CSV_ONLY and fmt != "csv":
            raise SQLError(f"OPENROWSET option {key} only applies to FORMAT = 'CSV'.",
                           hint=f"Remove {key}, or read the files as CSV.")
        if key == "HEADER_ROW":
            has_header = _truthy(value, key)
        elif key == "FIELDTERMINATOR":
            options["separator"] = _single_char(value, key)
        elif key == "FIELDQUOTE":
            options["quote_char"] = _single_char(value, key)
        elif key == "FIRSTROW":
            if not isinstance(value, int) or value < 1:
                raise SQLError(f"OPENROWSET FIRSTROW must be a whole number >= 1, not {value!r}.",
                               hint="FIRSTROW = 2 skips the first line.")
            options["skip_rows"] = value - 1
        elif key == "ROWTERMINATOR":
            terminator = _unescape(str(value))
            if terminator not in ("\n", "\r\n"):
                options["eol_char"] = _single_char(terminator, key)
        elif key in ("ENCODING", "CODEPAGE"):
            if str(value).upper() not in _UTF8:
                raise SQLError(f"OPENROWSET {key} = {value!r} is not supported; files must be UTF-8.",
                               hint="Convert the files to UTF-8, or omit the option.")
        elif key != "PARSER_VERSION":
            supported = ["FORMAT", "HEADER_ROW", "FIELDTERMINATOR", "FIELDQUOTE", "FIRSTROW",
                         "ROWTERMINATOR", "ENCODING", "PARSER_VERSION"]
            raise SQLError(f"OPENROWSET option {key} is not supported.",
                           hint=f"Supported options: {', '.join(supported)}.")
    if fmt == "csv":
        options["has_header"] = has_header
        if not has_header:
            # Serverless SQL names header-less CSV columns C1, C2, ...
            options["with_column_names"] = _c_names
    frame = scan(lake, node.locations, fmt, options)
    return frame, node.args.get("columns"), fmt, has_header


def _c_names(columns: list[str]) -> list[str]:
    return [f"C{i}" for i in range(1, len(columns) + 1)]


def _truthy(value: Any, key: str) -> bool:
    if isinstance(value, bool):
        return value
    if str(value).upper() in ("TRUE", "1"):
        return True
    if str(value).upper() in ("FALSE", "0"):
        return False
    raise SQLError(f"OPENROWSET {key} must be TRUE or FALSE, not {value!r}.", hint=f"Write {key} = TRUE.")


def _unescape(text: str) -> str:
    if text.lower().startswith("0x"):
        try:
            return bytes.fromhex(text[2:]).decode()
        except ValueError:
            return text
    return text.replace("\\t", "\t").replace("\\n", "\n").replace("\\r", "\r")


def _single_char(value: Any, key: str) -> str:
    text = _unescape(str(value))
    if len(text.encode()) != 1:
        raise SQLError(f"OPENROWSET {key} must be a single one-byte character, not {value!r}.",
                       hint=f"Write e.g. {key} = ';' or '\\t' or '0x09'.")
    return text


def _with_schema(name: str, frame: pl.LazyFrame, columns: list[OpenRowsetColumn], *, positional: bool,
                 alias: exp.Expr | None) -> exp.Expr:
    """``(SELECT CAST(src AS type) AS col, ... FROM name) AS alias`` for an OPENROWSET WITH schema."""
    available: list[str] | None = None
    selects = []
    for index, column in enumerate(columns, start=1):
        source = column.args.get("source")
        target = column.this.name
        if source is not None and source.is_string:
            raise SQLError(f"OPENROWSET WITH column {target!r}: JSON paths are not supported.",
                           hint="Give an ordinal (a number) or match the column by name.")
        if source is not None or positional:
            available = available if available is not None else frame.collect_schema().names()
            ordinal = int(source.name) if source is not None else index
            if not 1 <= ordinal <= len(available):
                raise ColumnNotFoundError(
                    f"OPENROWSET WITH column {target!r} refers to column {ordinal}, but the files have "
                    f"{len(available)} columns.", hint=f"Columns: {', '.join(available)}.")
            src = available[ordinal - 1]
        else:
            src = target
        selects.append(exp.Cast(this=exp.column(src, quoted=True), to=column.args["kind"]).as_(
            exp.to_identifier(target, quoted=True)))
    query = exp.select(*selects).from_(exp.to_identifier(name))
    return query.subquery(alias=alias.this if isinstance(alias, exp.TableAlias) else alias)


# --- scanning ----------------------------------------------------------------------------------
def scan(lake: LakeContext[pl.LazyFrame], locations: list[str], fmt: str, options: dict[str, Any]) -> pl.LazyFrame:
    """A lazy Polars scan of ``locations`` (files, globs or folders) in ``fmt``, with lake credentials.

    A folder of the lake holding a lakeml Parquet table (one written by ``Lake.write`` or
    ``Lake.write_path``) reads exactly its committed files, never stale or uncommitted ones.
    """
    for text in locations:
        check_access(lake, _location(lake, text), what="SQL")
    table = _lakeml_table(lake, locations, fmt)
    if table is not None:
        return table
    resolved = [_resolve(lake, loc, fmt) for loc in locations]
    storage = resolved[-1][1]  # the credentials of the locations' account
    try:
        if fmt == "delta" and len(resolved) != 1:
            raise SQLError("A Delta table is read from one location.", hint="Give one table folder.")
        return scan_files(lake.engine, storage, [uri for uri, _, _ in resolved], _format(fmt), options=options,
                          folders=[folder for _, _, folder in resolved])
    except (FileNotFoundError, OSError, pl.exceptions.PolarsError) as exc:
        from lakeml.sql.errors import wrap_polars_error

        raise wrap_polars_error(exc, lake=lake, what=f"reading {', '.join(map(safe_uri, locations))}") from exc


def _lakeml_table(lake: LakeContext[pl.LazyFrame], locations: list[str], fmt: str) -> pl.LazyFrame | None:
    if fmt != "parquet" or len(locations) != 1:
        return None
    text = locations[0].strip().removesuffix("/**").rstrip("/")
    if not text or "://" in text or Path(text).is_absolute() or any(c in text for c in "*?["):
        return None
    from lakeml.query.parquet_table import is_parquet_table, scan_parquet_table

    try:
        return scan_parquet_table(lake.engine, lake.storage, text) if is_parquet_table(lake.storage, text) else None
    except LakeMLError:
        return None  # not a readable lakeml table (e.g. a path outside the lake): read it as files


def _format(fmt: str) -> ScanFormat:
    if fmt not in ("parquet", "csv", "ndjson", "delta"):
        raise SQLError(f"Unknown file format {fmt!r}.", hint="Read parquet, csv, ndjson or delta files.")
    return fmt  # type: ignore[return-value]


def _resolve(lake: LakeContext[pl.LazyFrame], text: str, fmt: str) -> tuple[str, LakeStorage, bool]:
    """(uri, the storage whose credentials read it, is_folder) for a location written in SQL."""
    text = _https_to_abfss(text.strip())
    folder_hint = text.endswith("/") or text.endswith("/**")
    location = _location(lake, text)
    path = location.path
    storage = _storage(lake, location)
    has_glob = any(c in path for c in "*?[")
    if fmt == "delta":
        return location.uri, storage, False
    is_folder = folder_hint or (
        not has_glob and (Path(path).is_dir() if location.is_local else posixpath.splitext(path)[1] == ""))
    return location.uri, storage, is_folder


def _location(lake: LakeContext[pl.LazyFrame], text: str) -> Location:
    """The location a SQL string names: a URI, an absolute path, or a path relative to the lake root."""
    text = _https_to_abfss(text.strip())
    if not text:
        raise SQLError("An empty file location was given.", hint="Write e.g. 'data/*.parquet'.")
    if "://" in text:
        try:
            return parse_location(text.removesuffix("/**").rstrip("/") or text)
        except ConfigError as exc:
            raise SQLError(f"Cannot read the location {safe_uri(text)!r}: {exc.message_source}",
                           hint=exc.hint_source or "") from exc
    if Path(text).is_absolute():
        return parse_location(text.removesuffix("/**").rstrip("/") or "/")
    return parse_location(lake.storage.uri(text.removesuffix("/**").rstrip("/")))


def _https_to_abfss(text: str) -> str:
    """``https://acct.dfs.core.windows.net/container/path`` (as serverless SQL writes it) -> abfss://."""
    if not text.lower().startswith("https://"):
        return text
    parsed = urlparse(text)
    host = parsed.netloc.lower()
    if not (host.endswith(".dfs.core.windows.net") or host.endswith(".blob.core.windows.net")):
        raise SQLError(f"Cannot read {safe_uri(text)!r}: only Azure storage URLs are supported.",
                       hint="Use an abfss://, az:// or https://<account>.dfs.core.windows.net/... location.")
    container, _, path = parsed.path.lstrip("/").partition("/")
    account = host.split(".")[0]
    query = f"?{parsed.query}" if parsed.query else ""
    return f"abfss://{container}@{account}.dfs.core.windows.net/{path}{query}"


def _storage(lake: LakeContext[pl.LazyFrame], location: Location) -> LakeStorage:
    """The storage whose credentials read ``location``: the lake's own, or built from the lake settings."""
    if location.is_local:
        return lake.storage_for(location.uri)  # local files: no credentials
    storage = lake.storage
    creds = getattr(storage, "credentials", None)
    if creds is not None and location.account in (None, creds.account_name):
        return storage
    # Another account: the catalog resolves credentials for external locations from the lake settings.
    return lake.storage_for(location.uri if location.account is None else _abfss(location))


def _abfss(location: Location) -> str:
    return f"abfss://{location.container}@{location.account}.dfs.core.windows.net/{location.path}"
