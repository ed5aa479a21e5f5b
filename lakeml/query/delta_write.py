"""Writing Delta tables: appends, overwrites and merges, each one Delta commit, with transaction markers.

Every commit lakeml makes carries two Delta app transactions (``txn`` actions): one with a random
id of its own, so a commit whose response was lost (which deltalake then reports as a conflict with
itself) is recognised as committed, and, when the caller passes a :class:`Transaction`, the caller's
``app_id``/``version``. The caller's metadata goes into the commit's ``commitInfo`` (deltalake's
``CommitProperties.custom_metadata``), so the marker, its metadata and the rows are one atomic commit.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import polars as pl

from lakeml.engines.base import Engine
from lakeml.errors import LakeMLError, SchemaError, StorageError, TableExistsError
from lakeml.query.merge import incoming_keys, require_key_columns
from lakeml.query.names import table_label
from lakeml.query.parquet_table import WriteMode
from lakeml.query.scans import scan_files
from lakeml.query.schema_match import conform, fit_append
from lakeml.storage.commitlog import back_off
from lakeml.storage.lakefs import LakeStorage, new_token
from lakeml.storage.transactions import DELTA_METADATA_KEY, Transaction, WriteResult, already_committed

if TYPE_CHECKING:
    from deltalake import CommitProperties, DeltaTable

WRITER_KEY = "lakeml.writer"  # commitInfo field: the random id of the write that made the commit
_HISTORY_PAGE = 50


def write_delta(engine: Engine[pl.LazyFrame], storage: LakeStorage, relpath: str, frame: pl.LazyFrame, *,
                mode: WriteMode, partition_by: tuple[str, ...], transaction: Transaction | None = None) -> WriteResult:
    """Write ``frame`` to the Delta table at ``relpath`` in one commit (creating it when needed).

    With a transaction, the marker is checked on a snapshot of the table and the commit is based on
    that same snapshot, so Delta's conflict check refuses it if any commit came in between (one of
    them may be another run of the same transaction); a refused run then finds the marker.
    """
    uri, options = storage.uri(relpath), storage.storage_options or None
    snapshot = _snapshot(uri, options) if transaction is not None else None
    done = _covered_in(snapshot, transaction)
    if done is not None:
        return done
    token = f"lakeml-write-{new_token()}"
    write_options: dict[str, Any] = {"commit_properties": _commit_properties(token, transaction)}
    try:
        engine.write_delta(frame, uri, storage=storage, mode=mode, partition_by=partition_by, options=write_options,
                           snapshot=snapshot)
    except LakeMLError:
        raise
    except Exception as exc:
        if _committed(uri, options, token):
            return _result(uri, options, token, transaction)
        done = _covered(uri, options, transaction)  # a concurrent run of the same unit won (Delta refuses ours)
        if done is not None:
            return done
        text = storage.redact(str(exc))
        if "already exists" in text.lower() and mode == "error":
            raise TableExistsError(f"Delta table {table_label(relpath)!r} already exists.",
                                   hint="Add rows with [[mode='append']], or replace the table with "
                                        "[[mode='overwrite']].") from None
        raise _delta_error(relpath, text) from None
    return _result(uri, options, token, transaction)


def merge_delta(engine: Engine[pl.LazyFrame], storage: LakeStorage, relpath: str, frame: pl.LazyFrame, *,
                keys: list[str], partition_by: tuple[str, ...], transaction: Transaction | None, exists: bool,
                retries: int = 20) -> WriteResult:
    """Upsert ``frame`` into the Delta table at ``relpath`` by ``keys`` with Delta's MERGE (one commit).

    A table that does not exist is created with the rows. When another writer commits first (Delta
    refuses a merge whose files changed meanwhile), the merge runs again on the newer version, up
    to ``retries`` times.
    """
    require_key_columns(frame, keys, relpath)
    if not exists:
        incoming_keys(frame, keys, relpath)
        try:
            return write_delta(engine, storage, relpath, frame, mode="error", partition_by=partition_by,
                               transaction=transaction)
        except TableExistsError:
            pass  # created by another writer meanwhile: merge into it
    from deltalake import DeltaTable
    from deltalake.exceptions import CommitFailedError

    uri, options = storage.uri(relpath), storage.storage_options or None
    done = _covered(uri, options, transaction)
    if done is not None:
        return done
    table_schema = scan_files(engine, storage, [uri], "delta").collect_schema()
    fit = fit_append(table_schema, frame.collect_schema())
    if not fit.ok:
        raise SchemaError(f"Cannot merge into {table_label(relpath)!r}: {fit.describe()}.",
                          hint="Select and cast the columns to match the table.")
    frame = conform(frame, table_schema, fit)
    new_keys = incoming_keys(frame, keys, relpath)
    if new_keys.height == 0:
        if transaction is None:
            return WriteResult(int(DeltaTable(uri, storage_options=options).version()), committed=False,
                               rows_inserted=0)
        # deltalake makes no commit for a merge of no rows; an empty append carries the marker
        return write_delta(engine, storage, relpath, frame, mode="append", partition_by=(), transaction=transaction)
    source = engine.collect(frame)
    predicate = " AND ".join(f"t.{_quote(k)} = s.{_quote(k)}" for k in keys)
    for attempt in range(max(1, retries)):
        token = f"lakeml-write-{new_token()}"
        snapshot = DeltaTable(uri, storage_options=options)
        done = _covered_in(snapshot, transaction)  # checked on the snapshot the merge commits against
        if done is not None:
            return done
        try:
            metrics = (snapshot
                       .merge(source, predicate, source_alias="s", target_alias="t",
                              commit_properties=_commit_properties(token, transaction))
                       .when_matched_update_all().when_not_matched_insert_all().execute())
            break
        except Exception as exc:
            if _committed(uri, options, token):
                return _result(uri, options, token, transaction)
            done = _covered(uri, options, transaction)  # a concurrent run of the same unit won (Delta refuses ours)
            if done is not None:
                return done
            if isinstance(exc, CommitFailedError) and attempt + 1 < retries:
                back_off(attempt + 1)  # another writer committed first: merge again into the newer version
                continue
            raise _delta_error(relpath, storage.redact(str(exc))) from None
    version = _version_of(uri, options, token)
    if version is None:  # deltalake skips the commit of a merge that changes nothing
        return WriteResult(int(DeltaTable(uri, storage_options=options).version()), committed=False, rows_inserted=0)
    return WriteResult(version, rows_inserted=int(metrics.get("num_target_rows_inserted", 0)),
                       rows_updated=int(metrics.get("num_target_rows_updated", 0)), transaction=transaction)


def delta_last_transaction(uri: str, options: dict[str, str] | None, app_id: str) -> Transaction | None:
    """The committed marker of ``app_id`` in the Delta table at ``uri``, with its metadata, or None.

    The version is Delta's own ``txn`` state; the metadata is read from the newest commit that
    carries this app's marker (a commit removed by Delta's log clean-up leaves the metadata empty).
    """
    from deltalake import DeltaTable

    return _marker(DeltaTable(uri, storage_options=options), app_id)


def _marker(table: DeltaTable, app_id: str) -> Transaction | None:
    """The committed marker of ``app_id`` in the snapshot ``table``, with its metadata, or None."""
    version = table.transaction_version(app_id)
    if version is None:
        return None
    for commit in _history(table):
        raw = commit.get(DELTA_METADATA_KEY)
        if not isinstance(raw, str):
            continue
        try:
            stored = json.loads(raw)
        except json.JSONDecodeError:
            continue
        if isinstance(stored, dict) and stored.get("appId") == app_id and stored.get("version") == version:
            where = f"the Delta commit {commit.get('version')} at {table.table_uri!r}"
            return Transaction.from_json(app_id, stored, where=where)
    return Transaction(app_id, int(version))


def _snapshot(uri: str, options: dict[str, str] | None) -> DeltaTable | None:
    """The newest snapshot of the Delta table at ``uri``, or None when there is no table yet."""
    from deltalake import DeltaTable
    from deltalake.exceptions import TableNotFoundError

    try:
        return DeltaTable(uri, storage_options=options)
    except TableNotFoundError:
        return None


def _covered_in(snapshot: DeltaTable | None, transaction: Transaction | None) -> WriteResult | None:
    """The no-op result when ``snapshot`` already holds ``transaction`` (or a later version of its app)."""
    if snapshot is None or transaction is None:
        return None
    marker = _marker(snapshot, transaction.app_id)
    if already_committed(marker, transaction):
        return WriteResult(int(snapshot.version()), committed=False, rows_inserted=0, transaction=marker)
    return None


def _covered(uri: str, options: dict[str, str] | None, transaction: Transaction | None) -> WriteResult | None:
    """:func:`_covered_in` on the newest snapshot (after a failed commit: did another run commit it?)."""
    return None if transaction is None else _covered_in(_snapshot(uri, options), transaction)


def _commit_properties(token: str, transaction: Transaction | None) -> CommitProperties:
    from deltalake import CommitProperties
    from deltalake import Transaction as DeltaTransaction

    apps = [DeltaTransaction(token, 1)]
    custom = {WRITER_KEY: token}
    if transaction is not None:
        apps.append(DeltaTransaction(transaction.app_id, transaction.version))
        custom[DELTA_METADATA_KEY] = transaction.delta_metadata()
    return CommitProperties(custom_metadata=custom, app_transactions=apps)


def _history(table: DeltaTable) -> list[dict[str, Any]]:
    """Commit infos, newest first: a recent page first, the whole history only when needed."""
    page = table.history(_HISTORY_PAGE)
    return page if len(page) < _HISTORY_PAGE else table.history()


def _version_of(uri: str, options: dict[str, str] | None, token: str) -> int | None:
    """The version of the commit made by the write holding ``token``, or None if there is none."""
    from deltalake import DeltaTable
    from deltalake.exceptions import DeltaError

    try:
        table = DeltaTable(uri, storage_options=options)
        if table.transaction_version(token) != 1:
            return None
        return next((int(c["version"]) for c in _history(table) if c.get(WRITER_KEY) == token), None)
    except (DeltaError, OSError):  # no table, or unreadable: the write is not known to have committed
        return None


def _committed(uri: str, options: dict[str, str] | None, token: str) -> bool:
    return _version_of(uri, options, token) is not None


def _result(uri: str, options: dict[str, str] | None, token: str, transaction: Transaction | None) -> WriteResult:
    """The result of the committed write holding ``token``: its version and the rows it added."""
    from deltalake import DeltaTable

    table = DeltaTable(uri, storage_options=options)
    for commit in _history(table):
        if commit.get(WRITER_KEY) == token:
            metrics = commit.get("operationMetrics") or {}
            rows = metrics.get("num_added_rows")
            return WriteResult(int(commit["version"]), rows_inserted=None if rows is None else int(rows),
                               transaction=transaction)
    return WriteResult(int(table.version()), transaction=transaction)


def _quote(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def _delta_error(relpath: str, text: str) -> LakeMLError:
    first = text.splitlines()[0][:300] if text else "unknown error"
    if "schema" in text.lower():
        return SchemaError(f"Delta rejected the write to {table_label(relpath)!r}: {first}",
                           hint="Match the table's columns and types, or overwrite it.")
    return StorageError(f"Writing the Delta table {table_label(relpath)!r} failed: {first}",
                        hint="Check the lake location and credentials.")
