"""Tables on an engine object (Spark today): scans of committed file lists, writes committed by lakeml's log.

The catalog resolves a table to the files of its current version (lakeml's commit log, or the
Delta log through ``deltalake``) and hands the engine a :class:`~lakeml.engines.base.ScanRequest`
of exactly those files, so every engine reads the same snapshot. A write lets the engine put its
files under a fresh staging token; lakeml's commit log then publishes them, so a writer killed
before the commit leaves the previous version whole.
"""

from __future__ import annotations

import posixpath
from collections.abc import Sequence
from typing import Any

import polars as pl
import pyarrow as pa

from lakeml.engines.base import ScanRequest
from lakeml.errors import ConfigError, LakeMLError, SchemaError, StorageError, TableExistsError
from lakeml.query.formats import guess_format
from lakeml.query.names import TABLES_DIR, table_label
from lakeml.query.parquet_table import TableVersion, current_schema, latest_version, write_parquet_table
from lakeml.query.schema_match import conform, fit_append
from lakeml.query.writer import check_mode
from lakeml.storage.lakefs import LakeStorage
from lakeml.storage.uri import Location, parse_location

_EXTENSION = {"parquet": ".parquet", "csv": ".csv", "ndjson": ".json"}


def version_request(storage: LakeStorage, folder: str, version: TableVersion) -> ScanRequest:
    """The scan of exactly the files of one committed version of a lakeml Parquet table."""
    schema = version.arrow_schema()
    hive = {c: schema.field(c).type for c in version.partition_by if schema is not None and c in schema.names}
    return ScanRequest(sources=tuple(storage.uri(folder, path) for path, _ in version.files), format="parquet",
                       storage=storage, hive_partitioning=bool(version.partition_by), hive_schema=hive or None,
                       schema=schema)


def table_request(lake: Any, name: str) -> ScanRequest:
    """The scan of catalog table ``name``: its committed files, a Delta table, or an external location."""
    info = lake.catalog.info(name)
    if info.managed and info.format == "parquet":
        folder = f"{TABLES_DIR}/{name}"
        version = latest_version(lake.storage, folder)
        if version is None:
            raise StorageError(f"Table {name!r} has no committed version.", hint="Write it first.")
        return version_request(lake.storage, folder, version)
    storage = lake.storage_for(info.location)
    location = parse_location(info.location)
    if info.format == "delta":
        return ScanRequest(sources=(location.uri,), format="delta", storage=storage)
    is_dir = "*" not in location.path and guess_format(location.path) is None
    return files_request(storage, [location], info.format, dict(info.options), folders=[is_dir])


def files_request(storage: LakeStorage, locations: Sequence[Location], fmt: str, options: dict[str, Any],
                  *, folders: Sequence[bool]) -> ScanRequest:
    """The scan of files by location; a folder reads every ``*.<format>`` file below it."""
    sources = []
    for location, is_dir in zip(locations, folders, strict=True):
        uri = location.uri
        if fmt != "delta" and is_dir:
            uri = f"{uri.rstrip('/')}/**/*{_EXTENSION[fmt]}"
        sources.append(uri)
    hive = options.pop("hive_partitioning", None) if fmt == "parquet" else None
    return ScanRequest(sources=tuple(sources), format=fmt, storage=storage, options=options,  # type: ignore[arg-type]
                       hive_partitioning=hive if hive is not None else (fmt == "parquet" and any(folders)))


def lake_table_folder(lake: Any, location: Location) -> tuple[str, TableVersion] | None:
    """``(folder, version)`` when ``location`` is a folder of the lake holding a lakeml Parquet table."""
    root = lake.storage.root
    if not root.contains(location):
        return None
    rel = posixpath.normpath(location.path[len(root.path):].strip("/")) if location.path != root.path else ""
    if not rel or rel == ".":
        return None
    try:
        version = latest_version(lake.storage, rel)
    except LakeMLError:
        return None
    return None if version is None else (rel, version)


def arrow_to_polars_schema(schema: pa.Schema) -> pl.Schema:
    """A Polars schema of the same columns (what scoring binds against and what the log records)."""
    return pl.DataFrame(schema.empty_table()).schema


def write_frame(lake: Any, relpath: str, data: Any, *, mode: str, format: str,
                partition_by: str | list[str] | tuple[str, ...] | None, existing_format: str | None) -> TableVersion:
    """Write ``data`` with the lake's engine; lakeml's commit log (or Delta's) publishes it."""
    engine = lake.engine
    checked = check_mode(mode)
    parts = (partition_by,) if isinstance(partition_by, str) else tuple(partition_by or ())
    storage: LakeStorage = lake.storage
    frame = engine.from_data(data)
    if format not in ("parquet", "delta"):
        raise ConfigError(f"lakeml writes tables as 'parquet' or 'delta', not {format!r}.",
                          hint="Use [[format='parquet']] (the default) or [[format='delta']].")
    if existing_format and existing_format != format:
        raise SchemaError(f"Table {table_label(relpath)!r} is a {existing_format} table, not {format}.",
                          hint=f"Write with [[format='{existing_format}']], or drop the table first.")
    storage.ensure_root()
    if format == "delta":
        return _write_delta(lake, relpath, frame, checked, parts, existing_format)
    schema = arrow_to_polars_schema(engine.schema(frame))
    current = latest_version(storage, relpath)
    if checked == "append" and current is not None:
        frame, schema = _conform(engine, relpath, frame, schema, current)

    def sink(data_dir: str, partitions: tuple[str, ...]) -> None:
        engine.write_parquet(frame, storage.uri(relpath, data_dir), storage=storage, partition_by=partitions)

    return write_parquet_table(storage, relpath, None, mode=checked, partition_by=parts,
                               retries=lake.config.commit_retries, sink=sink, schema=schema)


def _conform(engine: Any, relpath: str, frame: Any, schema: pl.Schema, current: TableVersion) -> tuple[Any, pl.Schema]:
    """Appended data in the table's column order and types (lossless widening only), as on Polars."""
    existing = current_schema(current)
    if existing is None or list(existing.items()) == list(schema.items()):
        return frame, schema
    fit = fit_append(existing, schema)
    if not fit.ok:
        raise SchemaError(f"Cannot append to {table_label(relpath)!r}: {fit.describe()}.",
                          hint="Select and cast the columns to match, or write with mode='overwrite'.")
    target = pl.DataFrame(schema=existing).to_arrow().schema
    return engine.map_batches(frame, _Conform(existing, fit), schema=target), existing


class _Conform:
    """One batch widened into the table's types and column order (runs where the engine runs batches)."""

    def __init__(self, existing: pl.Schema, fit: Any) -> None:
        self.existing, self.fit = existing, fit

    def __call__(self, batch: pa.RecordBatch) -> pa.RecordBatch:
        frame = pl.from_arrow(batch)
        assert isinstance(frame, pl.DataFrame)
        return one_batch(conform(frame.lazy(), self.existing, self.fit).collect().to_arrow())


def one_batch(table: pa.Table) -> pa.RecordBatch:
    """A table as a single record batch (what a batch function returns)."""
    batches = table.combine_chunks().to_batches()
    return batches[0] if batches else pa.RecordBatch.from_pylist([], schema=table.schema)


def _write_delta(lake: Any, relpath: str, frame: Any, mode: str, parts: tuple[str, ...],
                 existing_format: str | None) -> TableVersion:
    from deltalake import DeltaTable

    storage: LakeStorage = lake.storage
    uri = storage.uri(relpath)
    if mode == "error" and existing_format is not None:
        raise TableExistsError(f"Delta table {table_label(relpath)!r} already exists.",
                               hint="Add rows with [[mode='append']], or replace the table with [[mode='overwrite']].")
    lake.engine.write_delta(frame, uri, storage=storage, mode=mode, partition_by=parts)
    table = DeltaTable(uri, storage_options=storage.storage_options or None)
    rows = sum(int(n) for n in pa.table(table.get_add_actions(flatten=True)).column("num_records").to_pylist())
    return TableVersion(int(table.version()), mode, "", (("", rows),))
