"""Writing frames into lake tables: lakeml Parquet tables and Delta tables, always atomically."""

from __future__ import annotations

from typing import Any, Literal

import polars as pl

from lakeml.engines.base import Engine
from lakeml.errors import ConfigError, LakeMLError, SchemaError, StorageError, TableExistsError
from lakeml.query.names import table_label
from lakeml.query.parquet_table import WriteMode, write_parquet_table
from lakeml.storage.lakefs import LakeStorage, new_token

MODES: tuple[str, ...] = ("error", "append", "overwrite")
WriteFormat = Literal["parquet", "delta"]


def check_mode(mode: str) -> WriteMode:
    """Validate a write mode."""
    if mode not in MODES:
        raise ConfigError(f"Unknown write mode {mode!r}.", hint=f"Use one of: {', '.join(MODES)}.")
    return mode  # type: ignore[return-value]


def write_table(engine: Engine[pl.LazyFrame], storage: LakeStorage, relpath: str, frame: pl.LazyFrame, *,
                mode: str, format: str, partition_by: str | list[str] | tuple[str, ...] | None, retries: int,
                existing_format: str | None = None, extra: dict[str, Any] | None = None) -> int:
    """Write ``frame`` to the table folder ``relpath``; returns the committed version number."""
    checked = check_mode(mode)
    parts = (partition_by,) if isinstance(partition_by, str) else tuple(partition_by or ())
    if format not in ("parquet", "delta"):
        raise ConfigError(f"lakeml writes tables as 'parquet' or 'delta', not {format!r}.",
                          hint="Use [[format='parquet']] (the default) or [[format='delta']].")
    if existing_format and existing_format != format and checked == "append":
        raise SchemaError(f"Table {table_label(relpath)!r} is a {existing_format} table; cannot append as {format}.",
                          hint=f"Pass [[format='{existing_format}']], or write with [[mode='overwrite']].")
    storage.ensure_root()
    if format == "parquet":
        if existing_format == "delta" and checked == "overwrite":
            raise SchemaError(f"Table {table_label(relpath)!r} is a Delta table.",
                              hint="Overwrite it with [[format='delta']], or drop it first "
                                   "([[lake.drop(table)|lakeml drop TABLE]]).")
        return write_parquet_table(engine, storage, relpath, frame, mode=checked, partition_by=parts, retries=retries,
                                   extra=extra).version
    return _write_delta(engine, storage, relpath, frame, mode=checked, partition_by=parts,
                        existing_format=existing_format)


def _write_delta(engine: Engine[pl.LazyFrame], storage: LakeStorage, relpath: str, frame: pl.LazyFrame, *,
                 mode: WriteMode, partition_by: tuple[str, ...], existing_format: str | None) -> int:
    from deltalake import CommitProperties, DeltaTable, Transaction

    uri = storage.uri(relpath)
    if existing_format == "parquet":
        raise SchemaError(f"Table {table_label(relpath)!r} is a Parquet table, not Delta.",
                          hint="Write with [[format='parquet']], or use another table name.")
    # The commit carries a transaction id of its own (Delta's app transaction), so a commit whose
    # response was lost, and that deltalake then reports as a conflict with itself, is recognised.
    app_id = f"lakeml-write-{new_token()}"
    write_options: dict[str, Any] = {"commit_properties": CommitProperties(app_transactions=[Transaction(app_id, 1)])}
    options = storage.storage_options or None
    try:
        engine.write_delta(frame, uri, storage=storage, mode=mode, partition_by=partition_by, options=write_options)
    except LakeMLError:
        raise
    except Exception as exc:
        if _delta_committed(uri, options, app_id):
            return int(DeltaTable(uri, storage_options=options).version())
        text = storage.redact(str(exc))
        if "already exists" in text.lower() and mode == "error":
            raise TableExistsError(f"Delta table {table_label(relpath)!r} already exists.",
                                   hint="Add rows with [[mode='append']], or replace the table with "
                                        "[[mode='overwrite']].") from None
        if "schema" in text.lower():
            raise SchemaError(f"Delta rejected the write to {table_label(relpath)!r}: {text.splitlines()[0][:300]}",
                              hint="Match the table's columns and types, or overwrite it.") from None
        raise StorageError(f"Writing the Delta table {table_label(relpath)!r} failed: {text.splitlines()[0][:300]}",
                           hint="Check the lake location and credentials.") from None
    return int(DeltaTable(uri, storage_options=options).version())


def _delta_committed(uri: str, options: dict[str, str] | None, app_id: str) -> bool:
    """Whether the Delta table at ``uri`` holds the commit of transaction ``app_id``."""
    from deltalake import DeltaTable
    from deltalake.exceptions import DeltaError

    try:
        return DeltaTable(uri, storage_options=options).transaction_version(app_id) == 1
    except (DeltaError, OSError):  # no table, or unreadable: the write is not known to have committed
        return False
