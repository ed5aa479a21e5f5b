"""Writing frames into lake tables: lakeml Parquet tables and Delta tables, always atomically."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import polars as pl

from lakeml.engines.base import Engine, unsupported
from lakeml.errors import ConfigError, SchemaError
from lakeml.query.delta_write import delta_last_transaction, merge_delta, write_delta
from lakeml.query.formats import committed_table_format
from lakeml.query.merge import check_keys, merge_parquet_table
from lakeml.query.names import table_label
from lakeml.query.parquet_table import WriteMode, latest_version, table_log, write_parquet_table
from lakeml.storage.lakefs import LakeStorage
from lakeml.storage.transactions import Transaction, WriteResult, check_transaction

MODES: tuple[str, ...] = ("error", "append", "overwrite", "merge")
WriteFormat = Literal["parquet", "delta"]


def check_mode(mode: str) -> WriteMode | Literal["merge"]:
    """Validate a write mode."""
    if mode not in MODES:
        raise ConfigError(f"Unknown write mode {mode!r}.", hint=f"Use one of: {', '.join(MODES)}.")
    return mode  # type: ignore[return-value]


def write_table(engine: Engine[pl.LazyFrame], storage: LakeStorage, relpath: str, frame: pl.LazyFrame, *,
                mode: str, format: str, partition_by: str | list[str] | tuple[str, ...] | None, retries: int,
                existing_format: str | None = None, extra: dict[str, Any] | None = None,
                keys: Sequence[str] | str | None = None, transaction: Transaction | None = None) -> WriteResult:
    """Write ``frame`` to the table folder ``relpath`` as one commit; see :class:`WriteResult`."""
    checked = check_mode(mode)
    transaction = check_transaction(transaction)
    parts = (partition_by,) if isinstance(partition_by, str) else tuple(partition_by or ())
    if format not in ("parquet", "delta"):
        raise ConfigError(f"lakeml writes tables as 'parquet' or 'delta', not {format!r}.",
                          hint="Use [[format='parquet']] (the default) or [[format='delta']].")
    if checked == "merge":
        key_names = check_keys(keys)
        if not engine.capabilities.merge_writes:
            unsupported(engine.name, "mode='merge'",
                        hint="Merge on the Polars engine, which reads and writes the same lake: "
                             "[[lakeml.connect(root).write(table, data, mode='merge', keys=...)|"
                             "lakeml --backend polars ...]].")
    elif keys is not None:
        raise ConfigError(f"keys= only applies to mode='merge', not mode={mode!r}.",
                          hint="Pass [[mode='merge'|--mode merge]] to upsert by keys, or leave keys out.")
    if existing_format and existing_format != format and checked in ("append", "merge"):
        raise SchemaError(f"Table {table_label(relpath)!r} is a {existing_format} table; cannot {checked} as {format}.",
                          hint=f"Pass [[format='{existing_format}']], or write with [[mode='overwrite']].")
    storage.ensure_root()
    if format == "parquet":
        if existing_format == "delta" and checked == "overwrite":
            raise SchemaError(f"Table {table_label(relpath)!r} is a Delta table.",
                              hint="Overwrite it with [[format='delta']], or drop it first "
                                   "([[lake.drop(table)|lakeml drop TABLE]]).")
        if checked == "merge":
            return merge_parquet_table(engine, storage, relpath, frame, keys=key_names, partition_by=parts,
                                       retries=retries, transaction=transaction)
        return write_parquet_table(engine, storage, relpath, frame, mode=checked, partition_by=parts, retries=retries,
                                   extra=extra, transaction=transaction)
    if existing_format == "parquet":
        raise SchemaError(f"Table {table_label(relpath)!r} is a Parquet table, not Delta.",
                          hint="Write with [[format='parquet']], or use another table name.")
    if checked == "merge":
        return merge_delta(engine, storage, relpath, frame, keys=key_names, partition_by=parts, transaction=transaction,
                           exists=existing_format == "delta", retries=retries)
    return write_delta(engine, storage, relpath, frame, mode=checked, partition_by=parts, transaction=transaction)


def last_transaction(storage: LakeStorage, relpath: str, app_id: str) -> Transaction | None:
    """The newest committed marker of ``app_id`` on the table folder ``relpath`` (None: no table or no marker)."""
    fmt = committed_table_format(storage, relpath)
    if fmt == "parquet":
        log = table_log(storage, relpath)
        current = latest_version(storage, relpath)
        return None if current is None else current.transaction(app_id, log)
    if fmt == "delta":
        return delta_last_transaction(storage.uri(relpath), storage.storage_options or None, app_id)
    return None
