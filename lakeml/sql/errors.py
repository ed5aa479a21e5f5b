"""Turning Polars errors raised while planning a SQL query into lakeml errors (once, at the boundary)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING

import polars as pl

from lakeml.boundary import first_line
from lakeml.errors import (
    ColumnNotFoundError,
    CredentialError,
    LakeMLError,
    LakePathNotFoundError,
    SQLError,
    StorageError,
    TableNotFoundError,
    choices_hint,
)

if TYPE_CHECKING:
    from lakeml.context import StorageContext

__all__ = ["wrap_polars_error"]


def wrap_polars_error(exc: BaseException, *, lake: StorageContext | None, what: str = "running the query",
                      frames: Mapping[str, pl.LazyFrame] | None = None,
                      aliases: Mapping[str, str] | None = None) -> LakeMLError:
    """The lakeml error for a Polars (or I/O) error raised while ``what``.

    Column errors get a did-you-mean over the columns Polars reports (or those of ``frames``);
    ``aliases`` maps table aliases in the query to registered frame names.
    """
    if isinstance(exc, LakeMLError):
        return exc
    text = _redact(lake, str(exc))
    first = first_line(text)
    if isinstance(exc, pl.exceptions.ColumnNotFoundError):
        name = _quoted_after(first, "column ") or first
        candidates = _valid_columns(text) or _all_columns(frames)
        return ColumnNotFoundError(f"Unknown column {name!r} in the query.",
                                   hint=choices_hint(name, candidates, kind="column"))
    if isinstance(exc, pl.exceptions.SQLInterfaceError):
        return _interface_error(first, frames or {}, aliases or {})
    if "expanded paths were empty" in first:
        return LakePathNotFoundError(f"No files match the location while {what}.",
                                     hint="Check the path or glob (relative paths start at the lake root).")
    if isinstance(exc, FileNotFoundError) or "no such file" in first.lower() or "not found" in first.lower():
        return LakePathNotFoundError(f"No data found while {what}: {first}",
                                     hint="Check the path or glob (relative paths start at the lake root).")
    if isinstance(exc, pl.exceptions.SQLSyntaxError):
        return SQLError(f"Polars SQL cannot run this query: {first}",
                        hint="Rewrite that part with functions Polars SQL supports.")
    if isinstance(exc, pl.exceptions.InvalidOperationError | pl.exceptions.SchemaError):
        return SQLError(f"The query is invalid: {first}",
                        hint="Check the column types; add a CAST(col AS type) where types differ.")
    if isinstance(exc, PermissionError):
        return CredentialError(f"The storage service refused access while {what}.",
                               hint="Check the account key / SAS token (and that it allows read and list).")
    if isinstance(exc, OSError) and not isinstance(exc, pl.exceptions.PolarsError):
        return StorageError(f"Storage failed while {what}: {first}",
                            hint="Check the location, the network and the lake credentials.")
    return SQLError(f"The query failed while {what}: {first}",
                    hint="Check the query[[; run lake.sql(...).explain() to see the plan|]].")


def _interface_error(first: str, frames: Mapping[str, pl.LazyFrame], aliases: Mapping[str, str]) -> LakeMLError:
    lowered = first.lower()
    if lowered.startswith("no column named"):
        name = _quoted_after(first, "named ") or first
        table = _quoted_after(first, "table ")
        frame_name = aliases.get(table or "", table or "")
        frame = frames.get(frame_name)
        candidates = frame.collect_schema().names() if frame is not None else _all_columns(frames)
        where = f" in table {table!r}" if table else ""
        return ColumnNotFoundError(f"Unknown column {name!r}{where}.",
                                   hint=choices_hint(name, candidates, kind="column"))
    if lowered.startswith("relation") and "not found" in lowered:
        name = _quoted_after(first, "relation ") or first
        return TableNotFoundError(f"No table named {name!r}.",
                                  hint=choices_hint(name, [n for n in frames if not n.startswith("__")],
                                                    kind="table"))
    if lowered.startswith("unsupported function"):
        return SQLError(f"Polars SQL does not support this function: {first.split(' ', 2)[-1]}.",
                        hint="See the Polars SQL function list, or compute it with the Python API.")
    return SQLError(f"Polars SQL cannot run this query: {first}",
                    hint="Rewrite that part with SQL Polars supports; see the Polars SQL reference.")


def _quoted_after(text: str, marker: str) -> str | None:
    """The quoted name right after ``marker`` in ``text`` (single or double quotes)."""
    start = text.find(marker)
    if start < 0:
        return None
    rest = text[start + len(marker):].lstrip()
    if not rest or rest[0] not in "'\"":
        return None
    end = rest.find(rest[0], 1)
    return rest[1:end] if end > 0 else None


def _valid_columns(text: str) -> list[str]:
    marker = "valid columns: "
    start = text.find(marker)
    if start < 0:
        return []
    end = text.find("]", start)
    try:
        names = json.loads(text[start + len(marker):end + 1])
    except ValueError:
        return []
    return [str(n) for n in names] if isinstance(names, list) else []


def _all_columns(frames: Mapping[str, pl.LazyFrame] | None) -> list[str]:
    names: set[str] = set()
    for frame in (frames or {}).values():
        try:
            names.update(frame.collect_schema().names())
        except pl.exceptions.PolarsError:
            continue
    return sorted(names)


def _redact(lake: StorageContext | None, text: str) -> str:
    storage = getattr(lake, "storage", None)
    redact = getattr(storage, "redact", None)
    return str(redact(text)) if callable(redact) else text
