"""The Spark engine: lakeml's engine Protocol (:mod:`lakeml.engines.base`) on a Spark session.

Reads exactly the files a scan request lists (a table's committed files, Delta's file list, files
by URI), runs SQL written in Spark's dialect over frames registered as temporary views, maps Arrow
batches with ``mapInArrow`` and writes Parquet under the staging folder the caller commits.
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from lakeml import errors
from lakeml.engines.base import BatchFunction, Capabilities, ScanRequest, WriteMode, unsupported
from lakeml.engines.spark.types import spark_table, to_arrow_schema, to_spark_schema
from lakeml.errors import (
    ColumnNotFoundError,
    ConfigError,
    EngineError,
    LakeMLError,
    LakePathNotFoundError,
    SQLError,
    TableNotFoundError,
    choices_hint,
)
from lakeml.storage.lakefs import LakeStorage
from lakeml.storage.uri import Location, parse_location, safe_uri

if TYPE_CHECKING:  # pyspark loads only when a Spark lake is used
    from pyspark.sql import SparkSession

_CSV_OPTIONS: dict[str, str] = {"has_header": "header", "separator": "sep", "quote_char": "quote",
                                "null_values": "nullValue", "encoding": "encoding", "comment_prefix": "comment",
                                "eol_char": "lineSep"}
_IGNORED_OPTIONS = {"infer_schema_length", "infer_schema", "glob", "hive_partitioning", "try_parse_hive_dates"}
_FOLDER_GLOB = re.compile(r"^(?P<folder>.*?)/\*\*/(?P<pattern>[^/]+)$")
_HIVE_PART = re.compile(r"^[^/=]+=[^/]*$")
_TIMESTAMPS = "spark.sql.parquet.outputTimestampType"
# A LakeMLError raised in a Python worker reaches the driver only as text inside Spark's exception.
_MARK = "__lakeml_error__"
_MARKED = re.compile(re.escape(_MARK) + r"(\{.*?\})" + re.escape(_MARK), re.DOTALL)


class SparkEngine:
    """Spark behind lakeml: the user's session, or a local one started on first use.

    Args:
        spark: an existing ``SparkSession`` (a notebook's, a cluster's); None starts a local one lazily.
        spark_conf: settings for the session lakeml starts (``spark.master`` picks the master,
            ``local[*]`` by default); with ``spark=`` they are set on that session at runtime.
    """

    name = "spark"
    sql_dialect = "spark"

    def __init__(self, spark: Any = None, spark_conf: Mapping[str, Any] | None = None) -> None:
        from lakeml.engines.spark.runtime import check_session, require_pyspark

        require_pyspark()
        self._spark = check_session(spark) if spark is not None else None
        self._conf = dict(spark_conf or {})
        self._accounts: set[str] = set()
        self._abfs: bool | None = None  # the session's JVM classpath never changes: asked once
        if self._spark is not None:
            for key, value in self._conf.items():
                self._spark.conf.set(key, str(value))

    def __repr__(self) -> str:
        return f"SparkEngine({'running' if self._spark is not None else 'not started'})"

    @property
    def spark(self) -> SparkSession:
        """The Spark session (started now if lakeml owns it and it is not running yet)."""
        if self._spark is None:
            from lakeml.engines.spark.runtime import start_session

            self._spark = start_session(spark_conf=self._conf)
        return self._spark

    @property
    def capabilities(self) -> Capabilities:
        """Spark's flags: distributed; Delta is written through the driver (no delta-spark offline);
        Azure only where the session has Hadoop's ABFS connector (never the pip package's)."""
        if self._spark is not None and self._abfs is None:
            from lakeml.engines.spark.abfs import has_abfs

            self._abfs = has_abfs(self._spark)  # a JVM round trip (a class lookup): not on every query
        azure = self._spark is not None and bool(self._abfs)
        return Capabilities(lazy=True, streaming_writes=True, delta_writes=True, map_batches=True,
                            sql_functions=True, azure=azure, merge_writes=False, sql_writes=False,
                            case_sensitive_columns=False, file_targets=False, batch_progress=False,
                            distributed=True, profile_durations=False)

    # ---- locations --------------------------------------------------------------------------------
    def hadoop_path(self, uri: str, storage: LakeStorage) -> str:
        """The path Hadoop opens for a lake URI; an Azure one first gives Spark the lake's credential."""
        location = parse_location(uri)
        if location.is_local:
            return "file://" + location.path  # raw: Hadoop does not percent-decode (hive folders hold '=')
        return self._azure_path(location, storage)

    def _azure_path(self, location: Location, storage: LakeStorage) -> str:
        from lakeml.engines.spark.abfs import configure, hadoop_uri

        creds = getattr(storage, "credentials", None)
        account = location.account or (creds.account_name if creds is not None else None)
        if account is None or creds is None:
            raise ConfigError(f"The location {safe_uri(location.uri)!r} has no Azure credential for Spark.",
                              hint="Open the lake with its storage_options, or use the Polars backend.")
        if account not in self._accounts:
            configure(self.spark, creds)
            self._accounts.add(account)
        return hadoop_uri(location, account)

    # ---- reading ----------------------------------------------------------------------------------
    def scan(self, request: ScanRequest) -> Any:
        """A Spark DataFrame over exactly the files of ``request``."""
        struct = to_spark_schema(request.schema) if request.schema is not None else None
        if request.format == "delta":
            return self._delta(request)
        if not request.sources:
            return self.spark.createDataFrame([], struct)
        try:
            frame = self._read(request)
            frame.schema  # noqa: B018 - resolve now, so a missing location fails at the call that named it
        except LakeMLError:
            raise
        except Exception as exc:
            where = ", ".join(safe_uri(s) for s in request.sources[:3])
            raise LakePathNotFoundError(f"Spark cannot read {where}: {first_line(exc, request.storage)}",
                                        hint="Check the location (a path relative to the lake root, or a URI).",
                                        ) from exc
        if request.partition_columns and request.schema is not None:
            from pyspark.sql import functions as F

            # hive folder values are text: type them as the table's schema says
            typed = to_spark_schema(request.schema)
            parts = set(request.partition_columns) & set(frame.columns)
            frame = frame.select([F.col(c).cast(typed[c].dataType).alias(c) if c in parts else F.col(c)
                                  for c in frame.columns])
        return frame

    def _read(self, request: ScanRequest) -> Any:
        reader = self.spark.read
        paths: list[str] = []
        folder = False
        for source in request.sources:
            found = _FOLDER_GLOB.match(source)
            if found:
                folder = True
                reader = reader.option("recursiveFileLookup", "true").option("pathGlobFilter", found["pattern"])
                source = found["folder"]
            paths.append(self.hadoop_path(source, request.storage))
        options = dict(request.options)
        rename = options.pop("with_column_names", None)
        if request.format == "parquet":
            unknown = set(options) - _IGNORED_OPTIONS
            if unknown:
                unsupported("spark", f"Parquet reader option(s) {sorted(unknown)}",
                            hint="Read the files without them, and filter or project in SQL.")
            if request.hive_partitioning and not folder:
                frame = self._hive_files(reader, paths)
            else:
                frame = reader.parquet(*paths)
        elif request.format == "csv":
            frame = _csv_reader(reader, options).csv(paths)
        elif request.format == "ndjson":
            frame = reader.json(paths)
        else:
            unsupported("spark", f"reading {request.format!r} files", hint="Use parquet, csv, ndjson or delta.")
        if callable(rename):
            frame = frame.toDF(*rename(list(frame.columns)))
        return frame

    def _hive_files(self, reader: Any, paths: list[str]) -> Any:
        # A committed file list spans one data/<token>/ folder per write, each with its own hive folders:
        # read each base folder on its own (Spark infers partitions per base), then union by name.
        by_base: dict[str, list[str]] = {}
        for path in paths:
            parts = path.split("/")
            cut = next((i for i, p in enumerate(parts) if _HIVE_PART.match(p)), len(parts) - 1)
            by_base.setdefault("/".join(parts[:cut]), []).append(path)
        frames = [reader.option("basePath", base).parquet(*files) for base, files in by_base.items()]
        frame = frames[0]
        for other in frames[1:]:
            frame = frame.unionByName(other, allowMissingColumns=True)
        return frame

    def _delta(self, request: ScanRequest) -> Any:
        from deltalake import DeltaTable

        uri = request.sources[0]
        version = request.options.get("version")
        options = request.storage.storage_options or None
        try:
            table = DeltaTable(uri, storage_options=options, version=int(str(version)) if version is not None else None)
        except Exception as exc:
            raise LakePathNotFoundError(f"No Delta table at {safe_uri(uri)}: {first_line(exc, request.storage)}",
                                        hint="Check the table folder.") from exc
        schema = pa.schema(table.schema().to_arrow())  # type: ignore[arg-type]
        struct = to_spark_schema(schema)
        files = table.file_uris()
        if not files:
            return self.spark.createDataFrame([], struct)
        base = self.hadoop_path(uri, request.storage)
        reader = self.spark.read.schema(struct).option("basePath", base)
        return reader.parquet(*[self.hadoop_path(f, request.storage) for f in files]).select(*schema.names)

    def from_arrow(self, table: pa.Table) -> Any:
        """A Spark DataFrame holding ``table``."""
        struct = to_spark_schema(table.schema)
        if table.num_rows == 0:
            return self.spark.createDataFrame([], struct)
        return self.spark.createDataFrame(spark_table(table, struct), struct)

    def from_data(self, data: object) -> Any:
        """A Spark DataFrame from Spark, Polars, pandas or Arrow data."""
        if self.is_frame(data):
            return data
        if isinstance(data, pa.Table):
            return self.from_arrow(data)
        if isinstance(data, pa.RecordBatch):
            return self.from_arrow(pa.Table.from_batches([data]))
        module = type(data).__module__.split(".")[0]
        if module == "polars":
            collected = data.collect() if hasattr(data, "collect") else data
            return self.from_arrow(collected.to_arrow())  # type: ignore[union-attr]
        if module == "pandas":
            return self.from_arrow(pa.Table.from_pandas(data, preserve_index=False))  # type: ignore[arg-type]
        raise ConfigError(f"The Spark backend cannot use {type(data).__name__} as table data.",
                          hint="Pass a Spark, Polars or pandas DataFrame or an Arrow table.")

    def is_frame(self, data: object) -> bool:
        """Whether ``data`` is a Spark DataFrame (classic or Spark Connect)."""
        return hasattr(data, "sparkSession") and hasattr(data, "mapInArrow")

    # ---- planning ---------------------------------------------------------------------------------
    def sql(self, query: str, *, frames: Mapping[str, Any]) -> Any:
        """Run Spark SQL over ``frames``, registered as temporary views for the analysis only.

        The caller names the frames uniquely (views are session-wide); the DataFrame returned keeps
        its analysed plan after the views are dropped.
        """
        spark = self.spark  # a session that cannot start is its own error, not a query error
        for name, frame in frames.items():
            frame.createOrReplaceTempView(name)
        try:
            return spark.sql(query)
        except LakeMLError:
            raise
        except Exception as exc:
            raise self.sql_error(exc, frames) from exc
        finally:
            for name in frames:
                spark.catalog.dropTempView(name)

    def sql_error(self, exc: Exception, frames: Mapping[str, Any]) -> LakeMLError:
        """A Spark analysis error as the lakeml error the Polars engine raises for the same mistake."""
        condition = ""
        getter = getattr(exc, "getCondition", None) or getattr(exc, "getErrorClass", None)
        if callable(getter):
            condition = str(getter() or "")
        text = first_line(exc)
        if condition.startswith("UNRESOLVED_COLUMN"):
            params: dict[str, Any] = getattr(exc, "getMessageParameters", dict)() or {}
            column = str(params.get("objectName", "")).split("`.`")[-1].strip("`")
            available = sorted({c for f in frames.values() for c in f.columns if not c.startswith("__")})
            return ColumnNotFoundError(f"No column named {column!r} in the query's tables.",
                                       hint=choices_hint(column, available, kind="column"))
        if condition.startswith("TABLE_OR_VIEW_NOT_FOUND"):
            return TableNotFoundError(f"Spark could not resolve a table: {text}", hint="Check the table name.")
        return SQLError(f"Spark could not run the query: {text}",
                        hint="Check the query against the tables' columns; some constructs have no Spark SQL form.")

    def schema(self, frame: Any) -> pa.Schema:
        """The Arrow schema of a Spark DataFrame (no rows read)."""
        return to_arrow_schema(frame.schema)

    def resolve(self, frame: Any) -> None:
        """Analyse the plan (``frame.schema``); Spark caches it on the DataFrame."""
        frame.schema  # noqa: B018 - the attribute access is the analysis

    def limit(self, frame: Any, n: int) -> Any:
        """The first ``n`` rows."""
        return frame.limit(int(n))

    def map_batches(self, frame: Any, function: BatchFunction, *, schema: pa.Schema) -> Any:
        """``function`` over the frame's Arrow batches in the Python workers (``mapInArrow``)."""
        struct = to_spark_schema(schema)
        return frame.mapInArrow(_BatchMapper(function, to_arrow_schema(struct)), struct)

    # ---- running ----------------------------------------------------------------------------------
    def collect(self, frame: Any) -> pa.Table:
        """Every row, as Arrow."""
        with self.worker_errors():
            return frame.toArrow()

    def iter_batches(self, frame: Any, *, batch_size: int) -> Iterator[pa.RecordBatch]:
        """The rows in Arrow batches (Spark collects them to the driver first)."""
        with self.worker_errors():
            table = frame.toArrow()
        yield from table.to_batches(max_chunksize=batch_size)

    def sample(self, frame: Any, *, n: int, seed: int) -> pa.Table:
        """At most ``n`` rows chosen by a seeded random order (same seed and data, same rows)."""
        from pyspark.sql import functions as F

        with self.worker_errors():
            return frame.orderBy(F.rand(seed)).limit(int(n)).toArrow()

    # ---- writing ----------------------------------------------------------------------------------
    def write_parquet(self, frame: Any, folder: str, *, storage: LakeStorage,
                      partition_by: Sequence[str] = ()) -> list[tuple[str, int]]:
        """Spark's executors write Parquet under ``folder`` of ``storage`` (hive folders when partitioned);
        returns each data file (relative to ``folder``) with its row count from the Parquet footer."""
        writer = frame.write.mode("error")
        if partition_by:
            writer = writer.partitionBy(*partition_by)
        with self.worker_errors(), self._portable_timestamps():
            writer.parquet(self.hadoop_path(storage.uri(folder), storage))
        written = []
        for path in sorted(storage.list_files(folder)):
            if not path.endswith(".parquet") or path.rsplit("/", 1)[-1].startswith((".", "_")):
                continue  # Spark's _SUCCESS marker and Hadoop's .crc checksum files
            written.append((path, _parquet_rows(storage, f"{folder}/{path}")))
        return written

    def write_delta(self, frame: Any, uri: str, *, storage: LakeStorage, mode: WriteMode,
                    partition_by: Sequence[str] = (), options: Mapping[str, object] | None = None,
                    snapshot: object | None = None) -> None:
        """Delta through ``deltalake`` from the driver (no jars can be downloaded, so no delta-spark);
        with ``snapshot`` (a ``DeltaTable``) the commit builds on that version."""
        from deltalake import DeltaTable, write_deltalake

        with self.worker_errors():
            table = frame.toArrow()
        extra: dict[str, Any] = dict(options or {})
        target: str | DeltaTable = snapshot if isinstance(snapshot, DeltaTable) else uri
        write_deltalake(target, table, mode=mode, partition_by=list(partition_by) or None,  # type: ignore[call-overload]
                        storage_options=storage.storage_options or None, **extra)

    @contextlib.contextmanager
    def _portable_timestamps(self) -> Iterator[None]:
        # Polars reads the files too: microsecond timestamps, not Spark's INT96 default.
        before = self.spark.conf.get(_TIMESTAMPS, None)
        self.spark.conf.set(_TIMESTAMPS, "TIMESTAMP_MICROS")
        try:
            yield
        finally:
            if before is not None and before != "TIMESTAMP_MICROS":
                self.spark.conf.set(_TIMESTAMPS, before)

    @contextlib.contextmanager
    def worker_errors(self) -> Iterator[None]:
        """Re-raise a LakeMLError a Python worker raised (e.g. a rule-10 null error) as itself."""
        try:
            yield
        except LakeMLError:
            raise
        except Exception as exc:
            found = worker_error(exc)
            if found is not None:
                raise found from None
            if type(exc).__module__.startswith(("pyspark", "py4j")):
                raise EngineError(f"Spark failed: {first_line(exc)}",
                                  hint="Rerun with --debug (or look at the exception's cause) for Spark's log.",
                                  ) from exc
            raise


class _BatchMapper:
    """What ``mapInArrow`` runs in a worker: the batch function, its output cast to Spark's exact types."""

    def __init__(self, function: BatchFunction, target: pa.Schema) -> None:
        self.function = function
        self.target = target

    def __call__(self, batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        try:
            for batch in batches:
                out = self.function(batch)
                yield from spark_table(pa.Table.from_batches([out]), None).cast(self.target).to_batches()
        except LakeMLError as exc:
            payload = json.dumps({"kind": type(exc).__name__, "message": exc.message_source,
                                  "hint": exc.hint_source or ""})
            raise RuntimeError(f"{_MARK}{payload}{_MARK}") from None


def worker_error(exc: BaseException) -> LakeMLError | None:
    """The LakeMLError a worker raised, rebuilt from the text of Spark's exception (None if there is none)."""
    found = _MARKED.search(str(exc))
    if found is None:
        return None
    data = json.loads(found.group(1))
    cls = getattr(errors, str(data.get("kind")), None)
    if not (isinstance(cls, type) and issubclass(cls, LakeMLError)):
        cls = EngineError
    return cls(str(data["message"]), hint=str(data.get("hint") or "") or None)


def _parquet_rows(storage: LakeStorage, relpath: str) -> int:
    """The row count in a Parquet file's footer."""
    import io

    import pyarrow.parquet as pq

    location = storage.location(relpath)
    if location.is_local:
        return int(pq.read_metadata(location.path).num_rows)
    return int(pq.read_metadata(io.BytesIO(storage.read_bytes(relpath))).num_rows)


def first_line(exc: BaseException, storage: LakeStorage | None = None) -> str:
    """The first line of an engine error (secrets redacted)."""
    text = str(exc).strip().splitlines()[0][:300] if str(exc).strip() else type(exc).__name__
    return storage.redact(text) if storage is not None else text


def _csv_reader(reader: Any, options: dict[str, Any]) -> Any:
    reader = reader.option("inferSchema", "true").option("header", "true")
    for key, value in options.items():
        if key in _IGNORED_OPTIONS:
            continue
        spark_key = _CSV_OPTIONS.get(key)
        if spark_key is None:
            unsupported("spark", f"the CSV reader option {key!r}",
                        hint=f"Options Spark reads: {', '.join(sorted(_CSV_OPTIONS))}.")
        if isinstance(value, list):
            if len(value) != 1:
                unsupported("spark", "several CSV null markers", hint="Give one null_values string.")
            value = value[0]
        reader = reader.option(spark_key, str(value).lower() if isinstance(value, bool) else str(value))
    return reader
