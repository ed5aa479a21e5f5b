"""lakeml's Parquet tables: plain Parquet files published by a small commit log.

Layout of a table folder::

    data/<write-token>/part-00000.parquet      files of one write (hive folders when partitioned)
    _lakeml_log/00000000000000000003.json      version 3: the complete list of live files

A write puts its files under a fresh token, then commits by creating the next log entry with a
create-only write (``O_EXCL``-style locally, a conditional put on Azure). Nothing depends on
renaming a directory, so the same protocol is atomic on object stores. A reader lists the log,
takes the newest entry and reads exactly its files, so it never sees a half-written table; a writer
killed midway leaves only unreferenced files. Concurrent appenders race for the next version; the
loser re-reads the log and retries, so no rows are lost. The log itself is
:class:`lakeml.storage.commitlog.CommitLog`, which also makes a commit idempotent under lost responses.

Once an entry is committed nothing deletes the files it references: a failure or an interrupt after
the commit leaves the new version whole, and cleanup that runs after it only logs its own failures.
"""

from __future__ import annotations

import base64
import contextlib
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal

import polars as pl

from lakeml.engines.base import Engine
from lakeml.errors import CommitConflictError, SchemaError, TableExistsError
from lakeml.query.names import table_label
from lakeml.query.scans import scan_committed
from lakeml.query.schema_match import AppendFit, conform, fit_append
from lakeml.storage.commitlog import CommitLog, Entry
from lakeml.storage.lakefs import LakeStorage, new_token
from lakeml.storage.transactions import TRANSACTIONS_KEY, Transaction, WriteResult, already_committed

if TYPE_CHECKING:
    import pyarrow as pa

LOG_DIR = "_lakeml_log"
DATA_DIR = "data"
WriteMode = Literal["error", "append", "overwrite"]
_log = logging.getLogger("lakeml")


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
    transactions: dict[str, Any] = field(default_factory=dict)  # app_id -> stored marker, carried forward

    @property
    def num_rows(self) -> int:
        """Total rows in this version."""
        return sum(rows for _, rows in self.files)

    @property
    def tokens(self) -> set[str]:
        """The write tokens (``data/<token>/`` folders) whose files this version references."""
        return {path.split("/")[1] for path, _ in self.files}

    def arrow_schema(self) -> pa.Schema | None:
        """The table schema recorded at commit time."""
        import pyarrow as pa  # lazily: importing pyarrow costs ~0.3 s of every `import lakeml`

        return pa.ipc.read_schema(pa.py_buffer(base64.b64decode(self.schema_ipc))) if self.schema_ipc else None

    def to_body(self) -> dict[str, Any]:
        """The log entry's JSON body (without its version number, which is the entry's name)."""
        return {"operation": self.operation, "timestamp": self.timestamp,
                "files": [{"path": p, "rows": r} for p, r in self.files],
                "partition_by": list(self.partition_by), "schema_ipc": self.schema_ipc, "extra": self.extra,
                TRANSACTIONS_KEY: self.transactions}

    def transaction(self, app_id: str, log: CommitLog) -> Transaction | None:
        """The newest committed marker of application ``app_id`` as of this version, or None."""
        stored = self.transactions.get(app_id)
        return None if stored is None else Transaction.from_json(app_id, stored, where=log.path(self.version))

    @classmethod
    def from_entry(cls, entry: Entry, log: CommitLog) -> TableVersion:
        """Parse a committed log entry; a malformed one is a CorruptMetadataError."""
        data = entry.body
        try:
            return cls(version=entry.version, operation=str(data["operation"]), timestamp=str(data["timestamp"]),
                       files=tuple((str(f["path"]), int(f["rows"])) for f in data["files"]),
                       partition_by=tuple(data.get("partition_by", ())), schema_ipc=str(data.get("schema_ipc", "")),
                       extra=dict(data.get("extra", {})), transactions=dict(data.get(TRANSACTIONS_KEY) or {}))
        except (KeyError, TypeError, ValueError) as exc:
            raise log.corrupt_error(entry.version, f"lacks a valid field ({type(exc).__name__}: {exc})") from None


def table_log(storage: LakeStorage, table: str) -> CommitLog:
    """The commit log of the Parquet table folder ``table``."""
    return CommitLog(storage, f"{table}/{LOG_DIR}", what=f"the table at {table!r}")


def is_parquet_table(storage: LakeStorage, table: str) -> bool:
    """Whether a folder holds a lakeml Parquet table (at least one committed log entry)."""
    return bool(table_log(storage, table).versions())


def latest_version(storage: LakeStorage, table: str) -> TableVersion | None:
    """The newest committed version, or None for a table that was never written."""
    log = table_log(storage, table)
    entry = log.latest()
    return None if entry is None else TableVersion.from_entry(entry, log)


def read_version(storage: LakeStorage, table: str, version: int) -> TableVersion:
    """Committed version ``version`` of a table (LakePathNotFoundError if there is none)."""
    log = table_log(storage, table)
    return TableVersion.from_entry(Entry(version, log.read(version)), log)


def scan_parquet_table(engine: Engine[pl.LazyFrame], storage: LakeStorage, table: str,
                       version: TableVersion | None = None, *, include_file_paths: str | None = None) -> pl.LazyFrame:
    """A lazy scan of exactly the files of the newest (or the given) version.

    ``include_file_paths`` names a column that holds each row's file URI (as ``storage.uri`` builds it).
    """
    current = version or latest_version(storage, table)
    if current is None:
        raise FileNotFoundError(table)
    paths = [storage.uri(table, path) for path, _ in current.files]
    options = {"include_file_paths": include_file_paths} if include_file_paths else None
    return scan_committed(engine, storage, paths, partition_by=current.partition_by, schema=current.arrow_schema,
                          options=options)


def _schema_ipc(schema: pl.Schema) -> str:
    arrow = pl.DataFrame(schema=schema).to_arrow().schema
    return base64.b64encode(arrow.serialize().to_pybytes()).decode()


def _frame_schema(engine: Engine[Any], frame: Any) -> pl.Schema:
    """The column types of a frame of any engine, as Polars types (what the log records)."""
    if isinstance(frame, pl.LazyFrame):
        return frame.collect_schema()
    return pl.DataFrame(engine.schema(frame).empty_table()).schema


def _conform(engine: Engine[Any], frame: Any, existing: pl.Schema, fit: AppendFit) -> Any:
    """Appended rows widened into the table's types and column order, on the frame's own engine."""
    if isinstance(frame, pl.LazyFrame):
        return conform(frame, existing, fit)
    return engine.map_batches(frame, _ConformBatch(existing, fit),
                              schema=pl.DataFrame(schema=existing).to_arrow().schema)


class _ConformBatch:
    """The batch function of :func:`_conform` (picklable: an engine may run it in worker processes)."""

    def __init__(self, existing: pl.Schema, fit: AppendFit) -> None:
        self.existing, self.fit = existing, fit

    def __call__(self, batch: pa.RecordBatch) -> pa.RecordBatch:
        import pyarrow as pa

        frame = pl.from_arrow(batch)
        assert isinstance(frame, pl.DataFrame)
        table = conform(frame.lazy(), self.existing, self.fit).collect().to_arrow().combine_chunks()
        batches = table.to_batches()
        return batches[0] if batches else pa.RecordBatch.from_pylist([], schema=table.schema)


def write_parquet_table(
    engine: Engine[pl.LazyFrame],
    storage: LakeStorage,
    table: str,
    frame: pl.LazyFrame,
    *,
    mode: WriteMode,
    partition_by: tuple[str, ...] = (),
    retries: int = 20,
    extra: dict[str, Any] | None = None,
    transaction: Transaction | None = None,
) -> WriteResult:
    """Stream ``frame`` into new files, then commit them as the next table version.

    A failure before the commit removes the new files; a failure or interrupt whose outcome is
    uncertain (the commit request was sent) leaves them for :func:`lakeml.query.vacuum.vacuum`;
    nothing after the commit deletes what the new version references. With ``transaction``, the
    marker is part of the same log entry; when its application already committed that version or a
    higher one, nothing is written and the result says ``committed=False``.

    Raises:
        TableExistsError: ``mode="error"`` and the table exists.
        SchemaError: appending columns that do not match the table, or a partition column change.
        CommitConflictError: other writers kept winning the race for ``retries`` attempts.
    """
    schema = _frame_schema(engine, frame)
    missing = [c for c in partition_by if c not in schema]
    if missing:
        raise SchemaError(f"Partition column(s) {missing} are not in the data.",
                          hint=f"Columns are: {list(schema)}.")
    log = table_log(storage, table)
    current = latest_version(storage, table)
    done = covered_by(current, transaction, log)
    if done is not None:
        return done
    if mode == "error" and current is not None:
        raise _exists(table)
    if mode == "append" and current is not None:
        fit, existing = _check_append(table, current, schema, partition_by), current_schema(current)
        if fit is not None and existing is not None and list(existing.items()) != list(schema.items()):
            frame = _conform(engine, frame, existing, fit)  # lossless widening, the table's column order
            schema = existing
        partition_by = partition_by or current.partition_by
    data_dir = f"{DATA_DIR}/{new_token()}"
    files = sink_files(engine, storage, table, frame, data_dir, partition_by)
    previous: list[TableVersion | None] = [None]

    def build(head: Entry | None) -> dict[str, Any]:
        now = None if head is None else TableVersion.from_entry(head, log)
        previous[0] = now
        check_covered(now, transaction, log)
        if mode == "error" and now is not None:
            raise _exists(table, meanwhile=True)
        if mode == "append" and now is not None:
            _check_append(table, now, schema, partition_by)
        keep = now.files if (mode == "append" and now is not None) else ()
        parts = tuple(partition_by) or (now.partition_by if now is not None and mode == "append" else ())
        return TableVersion(
            version=-1, operation="create" if now is None else mode,
            timestamp=datetime.now(UTC).isoformat(timespec="milliseconds"),
            files=tuple(keep) + tuple(files), partition_by=parts, schema_ipc=_schema_ipc(schema), extra=extra or {},
            transactions=with_marker(now, transaction),
        ).to_body()

    try:
        entry = log.commit(build, retries=retries)
    except AlreadyCommitted as covered:
        discard_write(storage, table, data_dir)  # certain: no entry of ours exists
        return covered.result
    except (CommitConflictError, TableExistsError, SchemaError):
        discard_write(storage, table, data_dir)  # certain: no entry of ours exists
        raise
    committed = TableVersion.from_entry(entry, log)
    if mode == "overwrite" and previous[0] is not None:
        _tidy_after_overwrite(storage, table, committed, previous[0])
    return WriteResult(committed.version, rows_inserted=sum(rows for _, rows in files), transaction=transaction)


def sink_files(engine: Engine[pl.LazyFrame], storage: LakeStorage, table: str, frame: pl.LazyFrame, data_dir: str,
               partition_by: tuple[str, ...]) -> list[tuple[str, int]]:
    """Write ``frame`` on ``engine`` as the files of one write under ``data_dir``, durably; returns
    (path relative to the table folder, rows) pairs. A failure removes what was written.
    """
    try:
        written = engine.write_parquet(frame, f"{table}/{data_dir}", storage=storage, partition_by=partition_by)
        files = [(f"{data_dir}/{path}", rows) for path, rows in written]
        storage.sync(f"{table}/{data_dir}")  # durable before the commit references them
    except BaseException:
        discard_write(storage, table, data_dir)
        raise
    return files


class AlreadyCommitted(Exception):
    """Raised inside a commit's build: the write's transaction is already committed (a no-op)."""

    def __init__(self, result: WriteResult) -> None:
        super().__init__(f"transaction already committed at version {result.version}")
        self.result = result


def covered_by(current: TableVersion | None, transaction: Transaction | None, log: CommitLog) -> WriteResult | None:
    """The no-op result when ``current`` already holds ``transaction`` (or a later version of its app)."""
    if current is None or transaction is None:
        return None
    marker = current.transaction(transaction.app_id, log)
    if already_committed(marker, transaction):
        return WriteResult(current.version, committed=False, rows_inserted=0, transaction=marker)
    return None


def check_covered(current: TableVersion | None, transaction: Transaction | None, log: CommitLog) -> None:
    """Inside a commit's build: abandon the commit (AlreadyCommitted) when the transaction is covered."""
    done = covered_by(current, transaction, log)
    if done is not None:
        raise AlreadyCommitted(done)


def with_marker(current: TableVersion | None, transaction: Transaction | None) -> dict[str, Any]:
    """The markers of the next version: every marker of ``current``, with ``transaction``'s set."""
    markers = dict(current.transactions) if current is not None else {}
    if transaction is not None:
        markers[transaction.app_id] = transaction.to_json()
    return markers


def _exists(table: str, *, meanwhile: bool = False) -> TableExistsError:
    when = " was created by another writer meanwhile" if meanwhile else " already exists"
    return TableExistsError(f"Table {table_label(table)!r}{when}.",
                            hint="Add rows with [[mode='append']], or replace the table with [[mode='overwrite']].")


def discard_write(storage: LakeStorage, table: str, data_dir: str) -> None:
    """Remove the files of a write that is known not to be committed."""
    storage.delete(f"{table}/{data_dir}", recursive=True)
    if storage.root.is_local:  # object stores have no empty folders to tidy
        for folder in (f"{table}/{DATA_DIR}", table):
            with contextlib.suppress(OSError):
                storage.delete(folder)


def current_schema(current: TableVersion) -> pl.Schema | None:
    """The column schema of a committed table version (None for versions that did not record one)."""
    arrow = current.arrow_schema()
    return None if arrow is None else pl.DataFrame(arrow.empty_table()).schema


def _check_append(table: str, current: TableVersion, schema: pl.Schema,
                  partition_by: tuple[str, ...]) -> AppendFit | None:
    """How appended data fits the table; raises SchemaError naming only the columns that differ."""
    existing = current_schema(current)
    fit = None
    if existing is not None:
        fit = fit_append(existing, schema)
        if not fit.ok:
            raise SchemaError(f"Cannot append to {table!r}: {fit.describe()}.",
                              hint="Select and cast the columns to match, or write with mode='overwrite'.")
    if current.partition_by and tuple(partition_by) not in ((), current.partition_by):
        raise SchemaError(f"Table {table!r} is partitioned by {list(current.partition_by)}, "
                          f"not {list(partition_by)}.", hint="Append with the same partition_by (or none).")
    return fit


def _tidy_after_overwrite(storage: LakeStorage, table: str, new: TableVersion, previous: TableVersion) -> None:
    """After an overwrite, drop the data of the version before the previous one.

    Readers of the previous version keep working. Only folders that a committed version referenced
    and neither of the two newest versions references are removed, so neither the new data nor the
    files of a concurrent writer that has not committed yet are touched. The write has already
    succeeded: a failure here is logged (``lakeml vacuum`` finishes the job), never raised.
    """
    if previous.version < 1:
        return
    try:
        stale = read_version(storage, table, previous.version - 1)
        for token in sorted(stale.tokens - new.tokens - previous.tokens):
            storage.delete(f"{table}/{DATA_DIR}/{token}", recursive=True)
    except Exception as exc:
        _log.warning("Version %d of %r is committed; removing old files failed (%s). "
                     "Run 'lakeml vacuum' to finish.", new.version, table, exc)


def drop_table_folder(storage: LakeStorage, folder: str) -> None:
    """Delete a table folder so that an interruption never leaves a broken table.

    The log entries go first, oldest first, so the newest committed version and its files stay whole
    until the log is gone; then the folder (data, a Delta log, leftovers) is removed.
    """
    log = table_log(storage, folder)
    for version in log.versions():
        storage.delete(log.path(version))
    storage.delete(folder, recursive=True)
