"""Spark DataFrames over lake files: a table's committed file list, Delta's file list, files by URI.

The catalog decides which files make a table (lakeml's commit log, or the Delta log read through
``deltalake``); Spark reads exactly those files, so both engines see the same snapshot.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import polars as pl

from lakeml.errors import LakePathNotFoundError, SQLError, choices_hint
from lakeml.query.names import TABLES_DIR
from lakeml.query.parquet_table import DATA_DIR, TableVersion, current_schema, latest_version
from lakeml.storage.lakefs import LakeStorage
from lakeml.storage.uri import Location, parse_location, safe_uri

# Polars reader options (as lakeml's SQL layer and catalog spell them) -> Spark reader options.
_CSV_OPTIONS: dict[str, str] = {"has_header": "header", "separator": "sep", "quote_char": "quote",
                                "null_values": "nullValue", "encoding": "encoding", "comment_prefix": "comment",
                                "eol_char": "lineSep"}
_IGNORED = {"infer_schema_length", "infer_schema", "glob", "hive_partitioning", "try_parse_hive_dates"}
_EXTENSION = {"parquet": ".parquet", "csv": ".csv", "ndjson": ".json"}


class SparkFiles:
    """Turns lake locations into paths Hadoop opens (local paths as file:// URIs, Azure as abfss://)."""

    def __init__(self, storage: LakeStorage, to_hadoop: Callable[[Location], str]) -> None:
        self.storage = storage
        self.to_hadoop = to_hadoop

    def path(self, *parts: str) -> str:
        """The Hadoop path of a location under the lake root."""
        return self.to_hadoop(self.storage.location(*parts))


def version_frame(spark: Any, files: SparkFiles, folder: str, version: TableVersion) -> Any:
    """Exactly the files of one committed version of a lakeml Parquet table."""
    from lakeml.engines.spark.types import spark_schema

    schema = current_schema(version)
    struct = spark_schema(schema) if schema is not None else None
    if not version.files:
        return spark.createDataFrame([], struct)
    reader = spark.read
    if struct is not None:
        reader = reader.schema(struct)
    if not version.partition_by:
        return reader.parquet(*[files.path(folder, p) for p, _ in version.files])
    # Each write has its own data/<token>/ folder of hive partitions: read per token, then union.
    by_token: dict[str, list[str]] = {}
    for path, _ in version.files:
        by_token.setdefault(path.split("/")[1], []).append(path)
    frames = [reader.option("basePath", files.path(folder, DATA_DIR, token)).parquet(
        *[files.path(folder, p) for p in paths]) for token, paths in sorted(by_token.items())]
    frame = frames[0]
    for other in frames[1:]:
        frame = frame.unionByName(other)
    return frame


def table_frame(spark: Any, files: SparkFiles, lake: Any, name: str) -> Any:
    """A Spark DataFrame of catalog table ``name``."""
    info = lake.catalog.info(name)
    if info.managed and info.format == "parquet":
        folder = f"{TABLES_DIR}/{name}"
        version = latest_version(lake.storage, folder)
        if version is None:
            raise LakePathNotFoundError(f"Table {name!r} has no committed version.", hint="Write it first.")
        return version_frame(spark, files, folder, version)
    storage = lake.storage_for(info.location)
    location = parse_location(info.location)
    if info.format == "delta":
        return delta_frame(spark, files, location, storage.storage_options)
    is_dir = "*" not in location.path and not location.path.endswith(_EXTENSION.get(info.format, "."))
    return read_files(spark, files, [location], info.format, dict(info.options), is_dir=is_dir)


def delta_frame(spark: Any, files: SparkFiles, location: Location, storage_options: dict[str, str],
                version: int | None = None) -> Any:
    """The files of a Delta table's current (or given) version, as listed by ``deltalake``."""
    from deltalake import DeltaTable

    table = DeltaTable(location.uri, storage_options=storage_options or None, version=version)
    schema = pl.DataFrame(table.to_pyarrow_dataset().schema.empty_table()).schema
    from lakeml.engines.spark.types import spark_schema

    struct = spark_schema(schema)
    paths = table.file_uris()
    if not paths:
        return spark.createDataFrame([], struct)
    rel = [p[len(location.uri.rstrip("/")) + 1:] if p.startswith(location.uri) else p for p in paths]
    base = files.to_hadoop(location)
    reader = spark.read.schema(struct).option("basePath", base)
    frame = reader.parquet(*[files.to_hadoop(location.join(r)) for r in rel])
    return frame.select(*schema.names())


def read_files(spark: Any, files: SparkFiles, locations: Sequence[Location], fmt: str,
               options: dict[str, Any], *, is_dir: bool) -> Any:
    """Files (paths, globs or folders) in ``fmt``, with reader options spelled as for Polars."""
    if fmt == "delta":
        if len(locations) != 1:
            raise SQLError("A Delta table is read from one location.", hint="Give one table folder.")
        return delta_frame(spark, files, locations[0], {}, options.get("version"))
    paths = [files.to_hadoop(loc) for loc in locations]
    rename: Callable[[list[str]], list[str]] | None = options.pop("with_column_names", None)
    reader = spark.read
    if is_dir and fmt in _EXTENSION:
        reader = reader.option("recursiveFileLookup", "true").option("pathGlobFilter", f"*{_EXTENSION[fmt]}")
    if fmt == "csv":
        reader = reader.option("inferSchema", "true").option("header", "true")
        for key, value in options.items():
            if key in _IGNORED:
                continue
            spark_key = _CSV_OPTIONS.get(key)
            if spark_key is None:
                raise SQLError(f"The CSV option {key!r} is not available on the Spark backend.",
                               hint=choices_hint(key, _CSV_OPTIONS, kind="CSV option"))
            if isinstance(value, list):
                value = value[0] if len(value) == 1 else value
                if isinstance(value, list):
                    raise SQLError("The Spark backend reads one null marker per CSV source.",
                                   hint="Give a single null_values string.")
            reader = reader.option(spark_key, str(value).lower() if isinstance(value, bool) else str(value))
        frame = reader.csv(paths)
    elif fmt == "ndjson":
        frame = reader.json(paths)
    elif fmt == "parquet":
        unknown = set(options) - _IGNORED
        if unknown:
            raise SQLError(f"The Parquet option(s) {sorted(unknown)} are not available on the Spark backend.",
                           hint="Read the files without them, and filter or project in SQL.")
        frame = reader.parquet(*paths)
    else:
        raise SQLError(f"The Spark backend cannot read {fmt!r} files.", hint="Use parquet, csv, ndjson or delta.")
    if rename is not None:
        frame = frame.toDF(*rename(list(frame.columns)))
    return frame


def check_readable(frame: Any, what: Sequence[str]) -> Any:
    """Resolve ``frame``'s schema now, so a missing location fails at the call that named it."""
    try:
        frame.schema  # noqa: B018 - resolving the schema is the check
    except Exception as exc:
        text = str(exc).splitlines()[0][:300]
        raise LakePathNotFoundError(f"Cannot read {', '.join(map(safe_uri, what))}: {text}",
                                    hint="Check the location (a path relative to the lake root, or a URI).") from exc
    return frame
