"""Writing a Spark DataFrame into a lake table: Spark writes the files, lakeml's log commits them.

Spark's executors write Parquet under the table's fresh ``data/<token>/`` folder; the commit is
lakeml's own (:func:`lakeml.query.parquet_table.write_parquet_table`), so a writer killed before
the commit leaves only unreferenced files and the previous version stays whole, exactly as on Polars.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from lakeml.errors import LakeMLError, SchemaError, StorageError
from lakeml.query.names import table_label
from lakeml.query.parquet_table import TableVersion, current_schema, latest_version, write_parquet_table
from lakeml.query.schema_match import fit_append
from lakeml.query.writer import check_mode, write_table

_TIMESTAMPS = "spark.sql.parquet.outputTimestampType"


@contextlib.contextmanager
def _portable_timestamps(spark: Any) -> Iterator[None]:
    """Microsecond timestamps (not Spark's INT96) for the duration of a write, on any session."""
    before = spark.conf.get(_TIMESTAMPS, None)
    spark.conf.set(_TIMESTAMPS, "TIMESTAMP_MICROS")
    try:
        yield
    finally:
        if before is not None and before != "TIMESTAMP_MICROS":
            spark.conf.set(_TIMESTAMPS, before)


def write_frame(engine: Any, lake: Any, relpath: str, frame: Any, *, mode: str, format: str,
                partition_by: str | list[str] | None, existing_format: str | None) -> TableVersion:
    """Write ``frame`` to the table folder ``relpath``; returns the committed version."""
    from lakeml.engines.spark.scoring import lakeml_error
    from lakeml.engines.spark.types import polars_schema, to_spark

    checked = check_mode(mode)
    parts = (partition_by,) if isinstance(partition_by, str) else tuple(partition_by or ())
    storage = lake.storage
    if format != "parquet" or existing_format not in (None, "parquet"):
        # No delta-spark offline: a Delta table (or a format change) goes through the driver as Arrow.
        import polars as pl

        data = pl.from_arrow(frame.toArrow())
        assert isinstance(data, pl.DataFrame)
        number = write_table(storage, relpath, data.lazy(), mode=mode, format=format, partition_by=parts,
                             retries=lake.config.commit_retries, existing_format=existing_format)
        if format == "parquet":
            version = latest_version(storage, relpath)
            if version is not None:
                return version
        return TableVersion(number, mode, "", (("", data.height),))
    schema = polars_schema(frame.schema)
    current = latest_version(storage, relpath)
    if checked == "append" and current is not None:
        existing = current_schema(current)
        if existing is not None and list(existing.items()) != list(schema.items()):
            fit = fit_append(existing, schema)
            if not fit.ok:
                raise SchemaError(f"Cannot append to {table_label(relpath)!r}: {fit.describe()}.",
                                  hint="Select and cast the columns to match, or write with mode='overwrite'.")
            from pyspark.sql import functions as F

            # lossless widening into the table's types, in the table's column order (as on Polars)
            frame = frame.select([F.col(c).cast(to_spark(t)).alias(c) if c in schema else
                                  F.lit(None).cast(to_spark(t)).alias(c) for c, t in existing.items()])
            schema = existing
    storage.ensure_root()
    spark = engine.spark

    def sink(data_dir: str, partitions: tuple[str, ...]) -> None:
        writer = frame.write.mode("error")
        if partitions:
            writer = writer.partitionBy(*partitions)
        with _portable_timestamps(spark):
            writer.parquet(engine.to_hadoop(storage.location(relpath, data_dir)))

    try:
        return write_parquet_table(storage, relpath, None, mode=checked, partition_by=parts,
                                   retries=lake.config.commit_retries, sink=sink, schema=schema)
    except LakeMLError:
        raise
    except Exception as exc:
        found = lakeml_error(exc)
        if found is not None:
            raise found from None
        text = storage.redact(str(exc).splitlines()[0][:300] if str(exc) else type(exc).__name__)
        raise StorageError(f"Spark failed writing {table_label(relpath)!r}: {text}",
                           hint="Check the data and the lake location; nothing was committed.") from exc
