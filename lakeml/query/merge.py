"""Merge (upsert by keys) into lakeml Parquet tables, as one commit.

Rows of the table whose keys match an incoming row are replaced by it; incoming rows with new keys
are appended. Like Delta's merge, only the files holding a matched key are rewritten (copy on
write): their unmatched rows and the incoming rows go into the files of one new write, and the
commit swaps the rewritten files for the new ones. The commit is based on the version the merge
read; if another writer committed meanwhile, the merge's files are discarded and it runs again on
the newer version, so a concurrent write is never lost and a key never ends up twice.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import polars as pl

from lakeml.engines.base import Engine
from lakeml.errors import CommitConflictError, ConfigError, SchemaError, TableExistsError
from lakeml.query.names import table_label
from lakeml.query.parquet_table import (
    DATA_DIR,
    AlreadyCommitted,
    TableVersion,
    _tidy_after_overwrite,
    check_covered,
    covered_by,
    current_schema,
    discard_write,
    latest_version,
    scan_parquet_table,
    sink_files,
    table_log,
    with_marker,
    write_parquet_table,
)
from lakeml.query.schema_match import conform, fit_append
from lakeml.storage.commitlog import Entry, back_off
from lakeml.storage.lakefs import LakeStorage, new_token
from lakeml.storage.transactions import Transaction, WriteResult

_FILE = "__lakeml_merge_file__"


class _Stale(Exception):
    """Another writer committed after the merge read the table."""


def check_keys(keys: Sequence[str] | str | None) -> list[str]:
    """Validate ``keys=`` of a merge."""
    names = [keys] if isinstance(keys, str) else list(keys or ())
    if not names:
        raise ConfigError("mode='merge' needs the key column(s) that identify a row.",
                          hint="Pass [[keys=['id']|--keys id]]: rows whose keys match are replaced, others appended.")
    if len(set(names)) != len(names) or not all(isinstance(k, str) and k for k in names):
        raise ConfigError(f"Merge keys must be distinct column names, not {names!r}.", hint="Name each key once.")
    return names


def incoming_keys(frame: pl.LazyFrame, keys: list[str], table: str) -> pl.DataFrame:
    """The key columns of the incoming rows; duplicate or null keys are an error (the merge is undefined)."""
    require_key_columns(frame, keys, table)
    found = frame.select(keys).collect()
    nulls = [k for k in keys if found[k].null_count()]
    if nulls:
        raise SchemaError(f"Merge key column(s) {nulls} hold nulls in the data for {table_label(table)!r}; "
                          "a null key matches no row.",
                          hint="Filter out or fill the rows with null keys before merging.")
    dupes = found.group_by(keys).len().filter(pl.col("len") > 1)
    if dupes.height:
        sample = dupes.head(3).drop("len").to_dicts()
        raise SchemaError(f"The data for {table_label(table)!r} holds {dupes.height} key(s) more than once "
                          f"(e.g. {sample}); a merge needs one incoming row per key.",
                          hint="Deduplicate the data first (e.g. keep the newest row per key).")
    return found


def require_key_columns(frame: pl.LazyFrame, keys: list[str], table: str) -> None:
    """Raise a SchemaError when the incoming data lacks a key column."""
    schema = frame.collect_schema()
    missing = [k for k in keys if k not in schema]
    if missing:
        raise SchemaError(f"Merge key column(s) {missing} are not in the data for {table_label(table)!r}.",
                          hint=f"The data has columns: {list(schema)}.")


def merge_parquet_table(engine: Engine[pl.LazyFrame], storage: LakeStorage, table: str, frame: pl.LazyFrame, *,
                        keys: list[str],
                        partition_by: tuple[str, ...] = (), retries: int = 20,
                        transaction: Transaction | None = None) -> WriteResult:
    """Upsert ``frame`` into the Parquet table ``table`` by ``keys``, as one commit (see the module doc).

    A table that does not exist is created with the rows. Incoming columns must match the table's
    (lossless widening applies); the table's partitioning is kept.

    Raises:
        SchemaError: duplicate or null incoming keys, missing key columns, columns that do not fit.
        CommitConflictError: other writers kept committing first for ``retries`` attempts.
    """
    require_key_columns(frame, keys, table)
    log = table_log(storage, table)
    for attempt in range(max(1, retries)):
        if attempt:
            back_off(attempt)  # merges that keep colliding spread out
        current = latest_version(storage, table)
        done = covered_by(current, transaction, log)
        if done is not None:
            return done
        if current is None:
            incoming_keys(frame, keys, table)
            try:
                return write_parquet_table(engine, storage, table, frame, mode="error", partition_by=partition_by,
                                           retries=retries, transaction=transaction)
            except TableExistsError:
                continue  # created by another writer meanwhile: merge into it
        try:
            return _merge_once(engine, storage, table, frame, current, keys=keys, partition_by=partition_by,
                               retries=retries, transaction=transaction)
        except _Stale:
            continue
    raise CommitConflictError(f"Could not merge into {table_label(table)!r}: other writers committed first "
                              f"{retries} times in a row.",
                              hint="Retry the merge; raise commit_retries in the lake settings for busy tables.")


def _merge_once(engine: Engine[pl.LazyFrame], storage: LakeStorage, table: str, frame: pl.LazyFrame,
                current: TableVersion, *, keys: list[str], partition_by: tuple[str, ...], retries: int,
                transaction: Transaction | None) -> WriteResult:
    existing = current_schema(current)
    if partition_by and partition_by != current.partition_by:
        raise SchemaError(f"Table {table_label(table)!r} is partitioned by {list(current.partition_by)}, "
                          f"not {list(partition_by)}.", hint="Merge with the same partition_by (or none).")
    if existing is not None:
        fit = fit_append(existing, frame.collect_schema())
        if not fit.ok:
            raise SchemaError(f"Cannot merge into {table_label(table)!r}: {fit.describe()}.",
                              hint="Select and cast the columns to match the table.")
        frame = conform(frame, existing, fit)
    new_keys = incoming_keys(frame, keys, table)
    if new_keys.height == 0 and transaction is None:
        return WriteResult(current.version, committed=False, rows_inserted=0)
    affected, updated = _matches(engine, storage, table, current, new_keys, keys)
    files: list[tuple[str, int]] = []
    data_dir = f"{DATA_DIR}/{new_token()}"
    if new_keys.height:
        columns = list(existing) if existing is not None else list(frame.collect_schema())
        kept = (scan_parquet_table(engine, storage, table, current, include_file_paths=_FILE)
                .filter(pl.col(_FILE).is_in(sorted(affected)))
                .join(new_keys.lazy(), on=keys, how="anti").select(columns)) if affected else None
        rows = frame if kept is None else pl.concat([kept, frame.select(columns)], how="vertical")
        files = sink_files(engine, storage, table, rows, data_dir, current.partition_by)
    log = table_log(storage, table)

    def build(head: Entry | None) -> dict[str, Any]:
        now = None if head is None else TableVersion.from_entry(head, log)
        check_covered(now, transaction, log)
        if now is None or now.version != current.version:
            raise _Stale
        keep = tuple(f for f in now.files if storage.uri(table, f[0]) not in affected)
        return TableVersion(
            version=-1, operation="merge", timestamp=datetime.now(UTC).isoformat(timespec="milliseconds"),
            files=keep + tuple(files), partition_by=now.partition_by, schema_ipc=now.schema_ipc, extra=now.extra,
            transactions=with_marker(now, transaction),
        ).to_body()

    try:
        entry = log.commit(build, retries=1)
    except AlreadyCommitted as covered:
        discard_write(storage, table, data_dir)
        return covered.result
    except (_Stale, CommitConflictError):
        discard_write(storage, table, data_dir)  # certain: no entry of ours exists
        raise _Stale from None
    committed = TableVersion.from_entry(entry, log)
    if affected:
        _tidy_after_overwrite(storage, table, committed, current)
    return WriteResult(committed.version, rows_inserted=new_keys.height - updated, rows_updated=updated,
                       transaction=transaction)


def _matches(engine: Engine[pl.LazyFrame], storage: LakeStorage, table: str, current: TableVersion,
             new_keys: pl.DataFrame, keys: list[str]) -> tuple[set[str], int]:
    """The URIs of the table files holding an incoming key, and how many incoming keys matched."""
    if not current.files or new_keys.height == 0:
        return set(), 0
    hits = (scan_parquet_table(engine, storage, table, current, include_file_paths=_FILE).select([*keys, _FILE])
            .join(new_keys.lazy(), on=keys, how="inner").collect())
    return set(hits[_FILE].unique().to_list()), hits.select(keys).unique().height
