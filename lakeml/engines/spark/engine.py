"""The Spark engine: what a lake opened with ``backend="spark"`` runs its tables, SQL, writes and scoring on."""

from __future__ import annotations

import os
import shutil
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from lakeml.config import DEFAULT_BATCH_SIZE
from lakeml.errors import ConfigError, LakeMLError, StorageError, UnsupportedOperationError
from lakeml.query.names import TABLES_DIR
from lakeml.storage.uri import Location, safe_uri


@dataclass(frozen=True)
class Capabilities:
    """What this engine can do; a conformance test that needs a missing one is marked with the reason."""

    lazy: bool = True
    distributed: bool = True
    delta_write_distributed: bool = False  # no delta-spark offline: Delta writes go through the driver
    csv_inference_like_polars: bool = False  # Spark infers int for small whole numbers, Polars i64
    reader_options: bool = False  # only the common CSV options map to Spark's reader
    abfs_without_connector: bool = False


class SparkEngine:
    """Spark behind lakeml: the user's session, or a local one started on first use.

    Args:
        spark: an existing ``SparkSession`` (a notebook's, a cluster's); None starts a local one lazily.
        spark_conf: settings for the session lakeml starts (``spark.master`` picks the master,
            ``local[*]`` by default); with ``spark=`` they are set on that session at runtime.
    """

    name = "spark"
    capabilities = Capabilities()

    def __init__(self, spark: Any = None, spark_conf: Mapping[str, Any] | None = None) -> None:
        from lakeml.engines.spark.runtime import check_session, require_pyspark

        require_pyspark()
        self._spark = check_session(spark) if spark is not None else None
        self._conf = dict(spark_conf or {})
        self._owned = spark is None
        self._storage: Any = None
        self._creds: Any = None
        if self._spark is not None:
            for key, value in self._conf.items():
                self._spark.conf.set(key, str(value))

    def __repr__(self) -> str:
        return f"SparkEngine({'started' if self._spark is not None else 'not started'})"

    def attach(self, storage: Any) -> None:
        """Remember the lake's storage (its Azure credential goes to Spark when the session starts)."""
        self._storage = storage
        self._creds = getattr(storage, "credentials", None)
        if self._spark is not None:
            self._configure(self._spark)

    @property
    def spark(self) -> Any:
        """The Spark session (started now if lakeml owns it and it is not running yet)."""
        if self._spark is None:
            from lakeml.engines.spark.runtime import start_session

            self._spark = start_session(spark_conf=self._conf)
            self._configure(self._spark)
        return self._spark

    def _configure(self, spark: Any) -> None:
        if self._creds is not None:
            from lakeml.engines.spark.abfs import configure

            configure(spark, self._creds)

    # ---- locations --------------------------------------------------------------------------------
    def to_hadoop(self, location: Location) -> str:
        """The path Hadoop opens for a lake location."""
        if location.is_local:
            # file:// plus the raw path: Hadoop does not percent-decode (hive folders hold '=')
            return "file://" + str(Path(location.path).resolve())
        from lakeml.engines.spark.abfs import hadoop_uri

        account = location.account or (self._creds.account_name if self._creds is not None else None)
        if account is None:
            raise ConfigError(f"The location {safe_uri(location.uri)!r} names no storage account.",
                              hint="Write abfss://<container>@<account>.dfs.core.windows.net/<path>.")
        if self._creds is None or account != self._creds.account_name:
            self._external_account(account)
        return hadoop_uri(location, account)

    def _external_account(self, account: str) -> None:
        from lakeml.engines.spark.abfs import has_abfs

        if not has_abfs(self.spark):
            raise ConfigError(f"This Spark cannot read Azure storage (account '{account}'): it has no Hadoop ABFS "
                              "connector (hadoop-azure).",
                              hint="Run on a cluster that ships hadoop-azure, or use the Polars backend.")

    def _files(self, lake: Any) -> Any:
        from lakeml.engines.spark.scan import SparkFiles

        return SparkFiles(lake.storage, self.to_hadoop)

    # ---- reading ----------------------------------------------------------------------------------
    def table(self, lake: Any, name: str) -> Any:
        """A Spark DataFrame of a catalog table (its committed files)."""
        from lakeml.engines.spark.scan import table_frame

        return table_frame(self.spark, self._files(lake), lake, name)

    def scan_files(self, lake: Any, locations: Sequence[Location], fmt: str, options: dict[str, Any], *,
                   folder: Sequence[bool]) -> Any:
        """Files named in SQL; a lake folder holding a lakeml table reads exactly its committed files."""
        from lakeml.engines.spark.scan import check_readable, read_files, version_frame
        from lakeml.query.parquet_table import latest_version

        root = lake.storage.root
        if fmt == "parquet" and len(locations) == 1 and root.contains(locations[0]) and folder[0]:
            rel = locations[0].path[len(root.path):].strip("/")
            if rel:
                version = latest_version(lake.storage, rel)
                if version is not None:
                    return version_frame(self.spark, self._files(lake), rel, version)
        frame = read_files(self.spark, self._files(lake), locations, fmt, options, is_dir=any(folder))
        return check_readable(frame, [loc.uri for loc in locations])

    def sql(self, lake: Any, query: str, params: Mapping[str, Any] | None = None) -> Any:
        """Run lake SQL; a Spark DataFrame."""
        from lakeml.engines.spark.sql import execute

        return execute(self, lake, query, params)

    def to_spark(self, data: Any) -> Any:
        """A Spark DataFrame of ``data`` (a Spark DataFrame, or a Polars, pandas or Arrow frame)."""
        if hasattr(data, "sparkSession") and hasattr(data, "mapInArrow"):
            return data
        from lakeml.engines.spark.sql import frame_from_polars
        from lakeml.query.frames import to_lazy

        return frame_from_polars(self.spark, to_lazy(data))

    def schema(self, frame: Any) -> pl.Schema:
        """A Spark DataFrame's schema in Polars types (the one mapping table)."""
        from lakeml.engines.spark.types import polars_schema

        return polars_schema(frame.schema)

    # ---- writing ----------------------------------------------------------------------------------
    def write(self, lake: Any, relpath: str, data: Any, *, mode: str, format: str,
              partition_by: str | list[str] | None, existing_format: str | None) -> int:
        """Spark writes the files under a fresh token; lakeml's commit log publishes them."""
        from lakeml.engines.spark.write import write_frame

        return write_frame(self, lake, relpath, self.to_spark(data), mode=mode, format=format,
                           partition_by=partition_by, existing_format=existing_format).version

    # ---- scoring ----------------------------------------------------------------------------------
    def batch_size(self, lake: Any, batch_size: int | None = None) -> int:
        """Rows per ONNX Runtime call."""
        if batch_size is not None:
            return int(batch_size)
        return int(getattr(getattr(lake, "config", None), "batch_size", None) or DEFAULT_BATCH_SIZE)

    def bound(self, lake: Any, alias: str) -> Any:
        """The model bound to ``alias`` on this lake."""
        from lakeml.scoring.bound import bound_model

        return bound_model(lake, alias)

    def _scored(self, lake: Any, model: Any, data: Any, *, outputs: Any, on_null: str, auto_cast: bool,
                batch_size: int | None) -> tuple[Any, Any]:
        from lakeml.engines.spark.scoring import bind, check_null_counts, map_scored, result_schema
        from lakeml.engines.spark.types import polars_schema
        from lakeml.scoring.api import resolve_model
        from lakeml.scoring.types import parse_outputs

        mv = resolve_model(lake, model)
        frame = lake.frame(data)
        schema = polars_schema(frame.schema)
        spec, plan = bind(mv.manifest, mv.onnx_bytes(), schema, parse_outputs(outputs), on_null=on_null,
                          auto_cast=auto_cast, batch_size=self.batch_size(lake, batch_size), check_collisions=True)
        check_null_counts(frame, plan)
        return map_scored(frame, spec, result_schema(plan, frame, schema)), mv

    def predict(self, lake: Any, model: Any, data: Any, *, outputs: Any = None, on_null: str = "error",
                auto_cast: bool = False, batch_size: int | None = None) -> Any:
        """DATA's columns then the outputs, as a (lazy) Spark DataFrame scored by ``mapInArrow``."""
        return self._scored(lake, model, data, outputs=outputs, on_null=on_null, auto_cast=auto_cast,
                            batch_size=batch_size)[0]

    def score(self, lake: Any, model: Any, source: Any, target: str, *, outputs: Any = None,
              on_null: str = "error", auto_cast: bool = False, batch_size: int | None = None, mode: str = "error",
              format: str = "parquet") -> Any:
        """Score ``source`` into a lake table (committed by lakeml's log) or a local Parquet file."""
        from lakeml.engines.spark.scoring import lakeml_error
        from lakeml.engines.spark.write import write_frame
        from lakeml.scoring.api import ScoreResult, score_target

        t0 = time.perf_counter()
        file_target = score_target(target)
        if file_target is not None and not file_target.is_local:
            raise UnsupportedOperationError(
                f"The Spark backend scores into lake tables or local files, not {safe_uri(target)!r}.",
                hint="Score into a table name, then read its files; or use the Polars backend for a single file.")
        scored, mv = self._scored(lake, model, source, outputs=outputs, on_null=on_null, auto_cast=auto_cast,
                                  batch_size=batch_size)
        try:
            if file_target is None:
                from lakeml.query.formats import committed_table_format

                before = _rows(lake, target)
                version = write_frame(self, lake, f"{TABLES_DIR}/{target}", scored, mode=mode, format=format,
                                      partition_by=None,
                                      existing_format=committed_table_format(lake.storage, f"{TABLES_DIR}/{target}"))
                rows = version.num_rows - (before if mode == "append" else 0)
            else:
                rows = _write_file(self, scored, file_target)
        except LakeMLError:
            raise
        except Exception as exc:
            found = lakeml_error(exc)
            if found is not None:
                raise found from None
            raise StorageError(f"Scoring into {safe_uri(target)!r} failed: {str(exc).splitlines()[0][:300]}",
                               hint="Check the target and retry; nothing was published.") from exc
        return ScoreResult(rows, time.perf_counter() - t0, target, f"{mv.name}:{mv.version}")


def _rows(lake: Any, table: str) -> int:
    from lakeml.query.parquet_table import latest_version

    version = latest_version(lake.storage, f"{TABLES_DIR}/{table}")
    return version.num_rows if version is not None else 0


def _write_file(engine: SparkEngine, frame: Any, target: Location) -> int:
    """One local Parquet file: Spark writes a one-file folder next to it, then the file is renamed in."""
    tmp = Path(f"{target.path}.{uuid.uuid4().hex[:8]}.tmp")
    os.makedirs(tmp.parent, exist_ok=True)
    try:
        frame.coalesce(1).write.parquet(tmp.as_uri())
        parts = sorted(tmp.glob("part-*.parquet"))
        if len(parts) != 1:
            raise StorageError(f"Spark wrote {len(parts)} files for one Parquet file.",
                               hint="Score into a lake table instead.")
        rows = int(pl.scan_parquet(parts[0]).select(pl.len()).collect().item())
        os.replace(parts[0], target.path)
        return rows
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
