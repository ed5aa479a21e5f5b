"""lakeml's Parquet tables: plain Parquet files published by a small commit log.

Layout of a table folder::

    data/<write-token>/part-00000.parquet      files of one write (hive folders when partitioned)
    _lakeml_log/00000000000000000003.json      version 3: the complete list of live files

A write puts its files under a fresh token, then commits by creating the next log entry with a
create-only write (``O_EXCL``-style locally, a conditional put on Azure). Nothing depends on
renaming a directory, so the same protocol is atomic on object stores. A reader lists the log,
takes the newest entry and reads exactly its files, so it never sees a half-written table; a writer
killed midway leaves only unreferenced files. Concurrent appenders race for the next version; the
loser re-reads the log and retries, so no rows are lost.
"""

from __future__ import annotations

import base64
import contextlib
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal

import polars as pl

from lakeml.errors import CommitConflictError, SchemaError, TableExistsError
from lakeml.storage.lakefs import LakeStorage, new_token

if TYPE_CHECKING:
    import pyarrow as pa

LOG_DIR = "_lakeml_log"
WriteMode = Literal["error", "append", "overwrite"]


@dataclass(frozen=True)
class TableVersion:
    """One committed version of a Parquet table (a log entry)."""

    version: int
    operation: str
    timestamp: str
    files: tuple[tuple[str, int], ...]  # (path relative to the table folder, row count)
    partition_by: tuple[str, ...] = ()
    schema_ipc: str = ""  # base64 Arrow IPC schema: lets an empty table keep its columns
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def num_rows(self) -> int:
        """Total rows in this version."""
        return sum(rows for _, rows in self.files)

    def arrow_schema(self) -> pa.Schema | None:
        """The table schema recorded at commit time."""
        import pyarrow as pa  # lazily: importing pyarrow costs ~0.3 s of every `import lakeml`

        return pa.ipc.read_schema(pa.py_buffer(base64.b64decode(self.schema_ipc))) if self.schema_ipc else None

    def to_json(self) -> bytes:
        """The log entry as JSON bytes."""
        return json.dumps({
            "version": self.version, "operation": self.operation, "timestamp": self.timestamp,
            "files": [{"path": p, "rows": r} for p, r in self.files],
            "partition_by": list(self.partition_by), "schema_ipc": self.schema_ipc, "extra": self.extra,
        }, indent=1).encode()

    @classmethod
    def from_json(cls, raw: bytes) -> TableVersion:
        """Parse a log entry."""
        data = json.loads(raw)
        return cls(version=int(data["version"]), operation=data["operation"], timestamp=data["timestamp"],
                   files=tuple((f["path"], int(f["rows"])) for f in data["files"]),
                   partition_by=tuple(data.get("partition_by", ())), schema_ipc=data.get("schema_ipc", ""),
                   extra=data.get("extra", {}))


def _log_name(version: int) -> str:
    return f"{version:020d}.json"


def is_parquet_table(storage: LakeStorage, table: str) -> bool:
    """Whether a folder holds a lakeml Parquet table."""
    return bool(storage.list(f"{table}/{LOG_DIR}"))


def latest_version(storage: LakeStorage, table: str) -> TableVersion | None:
    """The newest committed version, or None for a table that was never written."""
    names = [n for n in storage.list(f"{table}/{LOG_DIR}") if n.endswith(".json") and n[:-5].isdigit()]
    if not names:
        return None
    newest = max(names, key=lambda n: int(n[:-5]))
    return TableVersion.from_json(storage.read_bytes(f"{table}/{LOG_DIR}/{newest}"))


def scan_parquet_table(storage: LakeStorage, table: str, version: TableVersion | None = None) -> pl.LazyFrame:
    """A lazy scan of exactly the files of the newest (or the given) version."""
    current = version or latest_version(storage, table)
    if current is None:
        raise FileNotFoundError(table)
    if not current.files:
        schema = current.arrow_schema()
        return pl.LazyFrame(schema=pl.DataFrame(schema.empty_table()).schema if schema else None)
    paths = [storage.uri(table, path) for path, _ in current.files]
    hive_schema = None
    arrow = current.arrow_schema()
    if current.partition_by and arrow is not None:
        full = pl.DataFrame(arrow.empty_table()).schema
        hive_schema = {c: full[c] for c in current.partition_by if c in full}
    return pl.scan_parquet(paths, hive_partitioning=bool(current.partition_by), hive_schema=hive_schema,
                           **storage.polars_options())


def _schema_ipc(schema: pl.Schema) -> str:
    arrow = pl.DataFrame(schema=schema).to_arrow().schema
    return base64.b64encode(arrow.serialize().to_pybytes()).decode()


def _sink(storage: LakeStorage, frame: pl.LazyFrame, data_uri: str, partition_by: tuple[str, ...]) -> None:
    opts = storage.polars_options()
    if partition_by:
        frame.sink_parquet(pl.PartitionBy(data_uri, key=list(partition_by)), mkdir=True, **opts)
    else:
        frame.sink_parquet(f"{data_uri}/part-00000.parquet", mkdir=True, **opts)


def _row_counts(storage: LakeStorage, table: str, files: list[str]) -> list[tuple[str, int]]:
    opts = storage.polars_options()
    out = []
    for path in files:
        rows = pl.scan_parquet(storage.uri(table, path), hive_partitioning=False, **opts).select(pl.len())
        out.append((path, int(rows.collect().item())))
    return out


def write_parquet_table(
    storage: LakeStorage,
    table: str,
    frame: pl.LazyFrame,
    *,
    mode: WriteMode,
    partition_by: tuple[str, ...] = (),
    retries: int = 20,
    extra: dict[str, Any] | None = None,
) -> TableVersion:
    """Stream ``frame`` into new files, then commit them as the next table version.

    Raises:
        TableExistsError: ``mode="error"`` and the table exists.
        SchemaError: appending columns that do not match the table, or a partition column change.
        CommitConflictError: other writers kept winning the race for ``retries`` attempts.
    """
    schema = frame.collect_schema()
    missing = [c for c in partition_by if c not in schema]
    if missing:
        raise SchemaError(f"Partition column(s) {missing} are not in the data.",
                          hint=f"Columns are: {list(schema)}.")
    current = latest_version(storage, table)
    if mode == "error" and current is not None:
        raise TableExistsError(f"Table {table!r} already exists.",
                               hint="Use mode='append' or mode='overwrite'.")
    if mode == "append" and current is not None:
        _check_append(table, current, schema, partition_by)
        partition_by = partition_by or current.partition_by
    token = new_token()
    data_dir = f"data/{token}"
    try:
        _sink(storage, frame, storage.uri(table, data_dir), partition_by)
        files = _row_counts(storage, table, [f"{data_dir}/{f}" for f in storage.list_files(f"{table}/{data_dir}")])
        return _commit(storage, table, files, mode=mode, partition_by=partition_by, schema=schema,
                       retries=retries, extra=extra or {})
    except BaseException:
        storage.delete(f"{table}/{data_dir}", recursive=True)
        if storage.root.is_local:  # object stores have no empty folders to tidy
            for folder in (f"{table}/data", table):
                with contextlib.suppress(OSError):
                    storage.delete(folder)
        raise


def _check_append(table: str, current: TableVersion, schema: pl.Schema, partition_by: tuple[str, ...]) -> None:
    arrow = current.arrow_schema()
    if arrow is not None:
        existing = pl.DataFrame(arrow.empty_table()).schema
        if dict(existing) != dict(schema):
            raise SchemaError(
                f"Cannot append to {table!r}: its columns are {_fmt(existing)}, the new data has {_fmt(schema)}.",
                hint="Select and cast the columns to match, or write with mode='overwrite'.",
            )
    if current.partition_by and tuple(partition_by) not in ((), current.partition_by):
        raise SchemaError(f"Table {table!r} is partitioned by {list(current.partition_by)}, "
                          f"not {list(partition_by)}.", hint="Append with the same partition_by (or none).")


def _fmt(schema: pl.Schema) -> str:
    return "{" + ", ".join(f"{k}: {v}" for k, v in schema.items()) + "}"


def _commit(storage: LakeStorage, table: str, files: list[tuple[str, int]], *, mode: WriteMode,
            partition_by: tuple[str, ...], schema: pl.Schema, retries: int, extra: dict[str, Any]) -> TableVersion:
    for _ in range(max(1, retries)):
        current = latest_version(storage, table)
        if mode == "error" and current is not None:
            raise TableExistsError(f"Table {table!r} was created by another writer meanwhile.",
                                   hint="Use mode='append' or mode='overwrite'.")
        keep = current.files if (mode == "append" and current is not None) else ()
        parts = tuple(partition_by) or (current.partition_by if current is not None and mode == "append" else ())
        entry = TableVersion(
            version=0 if current is None else current.version + 1,
            operation="create" if current is None else mode,
            timestamp=datetime.now(UTC).isoformat(timespec="milliseconds"),
            files=tuple(keep) + tuple(files), partition_by=parts, schema_ipc=_schema_ipc(schema), extra=extra,
        )
        if storage.write_bytes(f"{table}/{LOG_DIR}/{_log_name(entry.version)}", entry.to_json(), overwrite=False):
            if mode == "overwrite" and current is not None:
                _remove_unreferenced(storage, table, keep_versions=(entry, current))
            return entry
    raise CommitConflictError(f"Could not commit to table {table!r}: other writers won {retries} races in a row.",
                              hint="Retry the write; raise LakeConfig.commit_retries for very busy tables.")


def _remove_unreferenced(storage: LakeStorage, table: str, keep_versions: tuple[TableVersion, ...]) -> None:
    """After an overwrite, drop the data of the version before the previous one.

    Readers of the previous version keep working. Only folders a committed version referenced are
    removed, so files of a concurrent writer that has not committed yet are never touched.
    """
    older = keep_versions[-1].version - 1
    if older < 0:
        return
    try:
        stale = TableVersion.from_json(storage.read_bytes(f"{table}/{LOG_DIR}/{_log_name(older)}"))
    except FileNotFoundError:
        return
    live = {path.split("/")[1] for version in keep_versions for path, _ in version.files}
    for token in {path.split("/")[1] for path, _ in stale.files} - live:
        storage.delete(f"{table}/data/{token}", recursive=True)
