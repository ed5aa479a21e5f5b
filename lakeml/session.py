"""The :class:`Lake` session: the user-facing entry point of lakeml, above every layer it drives.

The session wires the layers together (catalog, engine, registry, scoring, SQL, training,
explore); the layers below take the typed contexts of :mod:`lakeml.context`, never the ``Lake``.
Imports of the upper layers stay inside the methods so that ``import lakeml`` is cheap.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl

from lakeml.boundary import boundary, delegated_method, public_api
from lakeml.config import (
    DEFAULT_MEMORY_BUDGET,
    LakeConfig,
    default_backend,
    default_lake_uri,
)
from lakeml.engines import load_engine
from lakeml.engines.base import Engine
from lakeml.errors import ConfigError, TableNotFoundError, choices_hint
from lakeml.query.access import check_access
from lakeml.query.catalog import TABLES_DIR, Catalog, TableInfo
from lakeml.query.formats import committed_table_format
from lakeml.query.names import validate_name
from lakeml.query.parquet_table import drop_table_folder, latest_version, scan_parquet_table
from lakeml.query.vacuum import DEFAULT_RETENTION_HOURS, VacuumReport, vacuum
from lakeml.query.writer import last_transaction, write_table
from lakeml.storage.lakefs import LakeStorage, clean_relpath, new_token, open_storage
from lakeml.storage.transactions import Transaction, WriteResult
from lakeml.storage.uri import parse_location

if TYPE_CHECKING:  # annotations only: `import lakeml` stays light
    from lakeml.explore.api import ChartKind
    from lakeml.explore.chart import Chart
    from lakeml.explore.profile import Profile
    from lakeml.ml.api import train as _train
    from lakeml.ml.automl.api import automl as _automl
    from lakeml.pipeline.api import Pipelines
    from lakeml.pipeline.triggers.api import Triggers
    from lakeml.registry.registry import ModelRegistry, ModelVersion
    from lakeml.scoring.api import ScoreResult
    from lakeml.scoring.bound import BoundModel

_SQL_START = re.compile(r"^\s*(select|with|from|values|\()", re.IGNORECASE)


@dataclass(frozen=True)
class TableDescription:
    """What ``Lake.describe`` reports about a table (``schema``: Polars type names; ``dtypes``: the types)."""

    name: str
    format: str
    location: str
    managed: bool
    schema: dict[str, str]
    num_rows: int | None
    partition_by: tuple[str, ...] = ()
    version: int | None = None
    dtypes: dict[str, pl.DataType] = field(default_factory=dict, repr=False, compare=False)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {"name": self.name, "format": self.format, "location": self.location, "managed": self.managed,
                "schema": self.schema, "num_rows": self.num_rows, "partition_by": list(self.partition_by),
                "version": self.version}


@public_api
class Lake:
    """A lake: tables, SQL, models and scoring over one storage root.

    Build one with :func:`connect`. Everything lakeml writes lives under the root:
    ``tables/<name>/`` for table data and ``_lakeml/`` for the catalog, models and runs.
    """

    def __init__(self, storage: LakeStorage, *, config: LakeConfig | None = None,
                 storage_options: Mapping[str, Any] | None = None,
                 engine: Engine[pl.LazyFrame] | None = None) -> None:
        self.storage = storage
        self.config = config or LakeConfig()
        #: The engine every scan, query and write of this lake runs on.
        self.engine: Engine[pl.LazyFrame] = engine if engine is not None else load_engine("polars")
        self.catalog = Catalog(storage, dict(storage_options) if storage_options else None, engine=self.engine,
                               commit_retries=self.config.commit_retries)
        self._storage_options = dict(storage_options) if storage_options else None
        self._models: ModelRegistry | None = None
        self._pipelines: Pipelines | None = None
        self._triggers: Triggers | None = None
        #: Models bound with ``lake.models.bind``, by lower-cased alias; they live as long as the lake.
        self.bound_models: dict[str, BoundModel] = {}

    def __repr__(self) -> str:
        return f"Lake({self.storage.describe()!r})"

    @property
    def root(self) -> str:
        """The lake root URI (or local path)."""
        return self.storage.root.uri

    def storage_for(self, uri: str) -> LakeStorage:
        """Storage for any location: the lake's own credentials for URIs in the lake's Azure account,
        the lake's ``storage_options`` / the environment for other accounts, the local disk for paths."""
        return self.catalog.storage_for(uri)

    # -- tables ------------------------------------------------------------------------------------
    def tables(self) -> list[str]:
        """Names of every table in the catalog, sorted."""
        return self.catalog.names()

    def table(self, name: str) -> pl.LazyFrame:
        """A lazy scan of a catalog table.

        Raises:
            TableNotFoundError: no such table (the hint suggests the closest name).
        """
        return self.catalog.scan(name)

    def register_table(self, name: str, uri: str, *, format: str | None = None,
                       options: dict[str, Any] | None = None, replace: bool = False) -> TableInfo:
        """Register files at an external location (a file, glob or folder) as a named table.

        Raises:
            ExternalAccessError: the lake's ``external_access`` is off and ``uri`` is outside the root.

        Example:
            >>> lake.register_table("trips", "abfss://raw@acct.dfs.core.windows.net/trips/*.parquet")  # doctest: +SKIP
        """
        validate_name(name)
        check_access(self, parse_location(uri), what="register_table")
        return self.catalog.register(name, uri, format=format, options=options, replace=replace)

    def unregister_table(self, name: str) -> None:
        """Remove a registered external table from the catalog (its files are untouched)."""
        self.catalog.unregister(name)

    def describe(self, name: str) -> TableDescription:
        """Schema, format, location and (when cheap) row count of a table."""
        info = self.catalog.info(name)
        frame = self.table(name)
        if isinstance(frame, pl.LazyFrame):
            dtypes = dict(frame.collect_schema())
        else:  # another engine's frame: its Arrow schema, shown in Polars type names
            dtypes = dict(pl.DataFrame(self.engine.schema(frame).empty_table()).schema)
        schema = {k: str(v) for k, v in dtypes.items()}
        rows: int | None = None
        parts: tuple[str, ...] = ()
        version: int | None = None
        if info.managed and info.format == "parquet":
            current = latest_version(self.storage, f"{TABLES_DIR}/{name}")
            if current is not None:
                rows, parts, version = current.num_rows, current.partition_by, current.version
        elif info.format == "delta":
            rows, parts, version = _delta_stats(info.location, self.storage_for(info.location).storage_options)
        elif info.format == "parquet":
            if isinstance(frame, pl.LazyFrame):
                rows = int(frame.select(pl.len()).collect().item())  # footers only: cheap for Parquet
            else:
                view = f"__lakeml_count_{new_token()}"
                counted = self.engine.sql(f"SELECT COUNT(*) AS n FROM {view}", frames={view: frame})
                rows = int(self.engine.collect(counted).column(0)[0].as_py())
        return TableDescription(name, info.format, info.location, info.managed, schema, rows, parts, version,
                                dtypes)

    def write(self, table: str, data: Any, *, mode: str = "error", format: str = "parquet",
              partition_by: str | list[str] | None = None, keys: Sequence[str] | str | None = None,
              transaction: Transaction | None = None) -> WriteResult:
        """Write data to a managed table as one atomic commit.

        Args:
            table: table name (created under ``<root>/tables/``).
            data: a Polars LazyFrame/DataFrame, pandas DataFrame or pyarrow Table. LazyFrames stream.
            mode: ``"error"`` (refuse if it exists), ``"append"``, ``"overwrite"``, or ``"merge"``:
                upsert by ``keys`` (table rows whose keys match an incoming row are replaced by it, the
                other incoming rows are appended; a missing table is created). Incoming keys must be
                unique and not null.
            format: ``"parquet"`` or ``"delta"``.
            partition_by: column(s) for hive-style partition folders.
            keys: the key column(s) of ``mode="merge"``.
            transaction: a :class:`~lakeml.storage.transactions.Transaction` committed in the same
                commit as the rows (Delta: an app transaction ``txn`` plus the metadata in the
                commit info). If its ``app_id`` already committed this version or a higher one,
                nothing is written and the result has ``committed=False``.

        Returns:
            A frozen :class:`~lakeml.storage.transactions.WriteResult`: ``version`` (the committed
            table version, or the current one for a no-op), ``committed``, ``rows_inserted``,
            ``rows_updated``, ``rows_affected`` and ``transaction``.

        Raises:
            TableExistsError, SchemaError (also for duplicate or null merge keys), ConfigError, StorageError.

        Example:
            >>> lake.write("flights", new_rows, mode="merge", keys=["flight_id"],
            ...            transaction=Transaction("copy_flights", 7, {"watermark": "2024-03-01"}))  # doctest: +SKIP
        """
        validate_name(table)
        registered = self.catalog.registered()
        if table in registered:
            raise ConfigError(f"{table!r} is a registered external table; lakeml only writes managed tables.",
                              hint="Write to a new table name, or unregister the external table first.")
        folder = f"{TABLES_DIR}/{table}"
        existing = committed_table_format(self.storage, folder)
        return write_table(self.engine, self.storage, folder, self.engine.from_data(data), mode=mode, format=format,
                           partition_by=partition_by, retries=self.config.commit_retries, existing_format=existing,
                           keys=keys, transaction=transaction)

    def last_transaction(self, table: str, app_id: str) -> Transaction | None:
        """The newest committed transaction marker of ``app_id`` on a managed table, with its metadata.

        Returns None when the table does not exist or ``app_id`` never committed to it.

        Example:
            >>> lake.last_transaction("flights", "copy_flights").metadata["watermark"]  # doctest: +SKIP
        """
        validate_name(table)
        return last_transaction(self.storage, f"{TABLES_DIR}/{table}", app_id)

    def drop(self, table: str) -> None:
        """Delete a managed table and its files.

        Also removes a table folder that holds only the files of a first write that never committed
        (which is not a table, so it is not listed). The log goes first, oldest entry first: a drop
        that is interrupted leaves either the newest version whole or no table at all, and running
        it again finishes the job.

        Raises:
            TableNotFoundError: no such table or folder.
            ConfigError: ``table`` is a registered external table.
        """
        validate_name(table)
        folder = f"{TABLES_DIR}/{table}"
        if table in self.catalog.registered():
            raise ConfigError(f"{table!r} is an external table; lakeml does not delete files it does not own.",
                              hint="[[Use lake.unregister_table(name) to forget it.|Its files stay where they are; "
                                   "re-point the name with lakeml register NAME URI --replace.]]")
        if not self.storage.list(folder):
            self.catalog.info(table)  # raises TableNotFoundError with a did-you-mean
        drop_table_folder(self.storage, folder)

    def vacuum(self, *, retention_hours: float = DEFAULT_RETENTION_HOURS, dry_run: bool = False) -> VacuumReport:
        """Remove files that no committed version references and that are older than the retention.

        Removes the data of killed or superseded writes, table folders whose first write never
        committed, unfinished model registrations and temporary files. The retention period keeps
        the files of writers that are still running safe; use ``retention_hours=0`` only when no
        writer is running.

        Args:
            retention_hours: only files older than this are removed (default one week, like Delta).
            dry_run: list what would be removed without deleting anything.

        Returns:
            A :class:`~lakeml.query.vacuum.VacuumReport` listing the removed paths.

        Example:
            >>> lake.vacuum(dry_run=True).removed  # doctest: +SKIP
        """
        from lakeml.ml.runs import RUNS_ROOT
        from lakeml.registry.registry import ROOT as MODELS_ROOT

        return vacuum(self.storage, models_dir=MODELS_ROOT, runs_dir=RUNS_ROOT, retention_hours=retention_hours,
                      dry_run=dry_run)

    @property
    def _local_engine(self) -> Engine[pl.LazyFrame]:
        """The Polars engine, for lakeml's own small tables (AutoML run tables) on any lake: a Spark
        job per few-row table would cost seconds of an AutoML budget, and the readers of these
        tables (``lake.runs``, registration) work on Polars frames."""
        if self.engine.name == "polars":
            return self.engine
        if self._polars_engine is None:
            self._polars_engine = load_engine("polars")
        return self._polars_engine

    _polars_engine: Engine[pl.LazyFrame] | None = None

    def write_path(self, relpath: str, data: Any, *, mode: str = "overwrite") -> int:
        """Write a lakeml Parquet table at any path under the root (e.g. ``_lakeml/runs/<id>/trials``).

        These tables are lakeml's own small ones: they are written with Polars on every engine.
        """
        path = clean_relpath(relpath)
        engine = self._local_engine
        return write_table(engine, self.storage, path, engine.from_data(data), mode=mode, format="parquet",
                           partition_by=None, retries=self.config.commit_retries).version

    def read_path(self, relpath: str) -> pl.LazyFrame:
        """Read a table written with :meth:`write_path` (a Polars LazyFrame on every engine)."""
        path = clean_relpath(relpath)
        try:
            return scan_parquet_table(self._local_engine, self.storage, path)
        except FileNotFoundError:
            raise TableNotFoundError(f"No lakeml table at {relpath!r}.", hint="Check the path.") from None

    def frame(self, data: Any) -> pl.LazyFrame:
        """Resolve data given as a table name, a SQL query or a frame into a LazyFrame."""
        if isinstance(data, str):
            if _SQL_START.match(data) or any(ch.isspace() for ch in data.strip()):
                from lakeml.sql.dml import refuse_writes

                refuse_writes(data)
                return self.sql(data)
            return self.table(data)
        return self.engine.from_data(data)

    # -- SQL -------------------------------------------------------------------------------------
    def sql(self, query: str, *, params: Mapping[str, Any] | None = None) -> pl.LazyFrame:
        """Run a SQL query over the lake's tables and files; returns a LazyFrame.

        Catalog tables are in scope by name; ``read_parquet('uri')`` style table functions and
        T-SQL ``OPENROWSET(BULK 'uri', FORMAT = 'PARQUET')`` read lake files; ``TOP n`` works;
        ``@name`` parameters bind from ``params``.

        Statements that write run at once, each as one table commit: ``CREATE [OR REPLACE] TABLE t
        [IF NOT EXISTS] AS SELECT ...``, ``CREATE TABLE t (col type, ...)``, ``SELECT ... INTO t``,
        ``INSERT INTO t [(cols)] SELECT ... | VALUES ...``, ``DROP TABLE [IF EXISTS] t`` and the upsert
        ``MERGE INTO t USING s ON t.k = s.k WHEN MATCHED THEN UPDATE SET * WHEN NOT MATCHED THEN
        INSERT *``. They return a one-row frame with the Int64 column ``rows_affected`` (docs/lake.md).
        """
        if self.engine.name != "polars":  # frames live in another engine: query-unique views, PREDICT on it
            from lakeml.sql.on_engine import execute as execute_on_engine

            return execute_on_engine(self, query, dict(params) if params else None)
        from lakeml.sql.fastpath import execute

        return execute(self, query, params=dict(params) if params else None)

    def builtin_views(self) -> dict[str, Callable[[], pl.LazyFrame]]:
        """The built-in views (model and run listings) by name, each built on demand."""
        from lakeml.ml import runs
        from lakeml.pipeline import records as pipeline_records
        from lakeml.pipeline.triggers import runs as trigger_runs
        from lakeml.registry import views as registry_views

        return {**registry_views.views(self), **runs.views(self), **pipeline_records.views(self.storage),
                **trigger_runs.views(self.storage)}

    # -- ingest ------------------------------------------------------------------------------------
    def ingest(self, source: str | Path, table: str, *, format: str | None = None, mode: str = "error",
               partition_by: str | list[str] | None = None, schema: Mapping[str, Any] | None = None,
               null_values: Sequence[str] | None = None, options: Mapping[str, Any] | None = None,
               progress: bool | None = None) -> int:
        """Copy a local or lake file/folder (CSV, NDJSON, Parquet) into a lake table, streaming.

        Args:
            source: a file, folder or glob; a local path or a lake URI.
            table: the managed table to write.
            format: ``"csv"``, ``"ndjson"`` or ``"parquet"`` (default: guessed from the file names).
            mode: ``"error"`` (the default) refuses an existing table; ``"append"`` adds the rows;
                ``"overwrite"`` replaces them.
            partition_by: column(s) for hive-style partition folders.
            schema: explicit column types, e.g. ``{"arr_delay": "float64"}``.
            null_values: extra CSV cells to read as missing in every column (``NA``, ``NaN``,
                ``NULL`` and empty cells always are, in numeric columns).
            options: further reader options for the source format.
            progress: show a progress bar (default: only on a terminal).

        Returns:
            The number of rows ingested. See :func:`lakeml.query.ingest.ingest`.
        """
        from lakeml.query.ingest import ingest

        if self.engine.name != "polars":
            # ingest's CSV typing, NA cells and diagnostics are Polars' readers: it streams the files on
            # Polars and commits to the same table log, whichever engine then reads the table
            polars_lake = Lake(self.storage, config=self.config, storage_options=self._storage_options)
            return polars_lake.ingest(source, table, format=format, mode=mode, partition_by=partition_by,
                                      schema=schema, null_values=null_values, options=options, progress=progress)
        return ingest(self, source, table, format=format, mode=mode, partition_by=partition_by, schema=schema,
                      null_values=null_values, options=options, progress=progress)

    # -- models and scoring (delegations) --------------------------------------------------------------
    @property
    def pipelines(self) -> Pipelines:
        """The pipelines of this lake: create, run, runs, show, rerun, cancel (see docs/pipelines.md)."""
        if self._pipelines is None:
            from lakeml.pipeline.api import Pipelines

            self._pipelines = Pipelines(self)
        return self._pipelines

    @property
    def triggers(self) -> Triggers:
        """The triggers of this lake: create, list, runs, backfill, rerun, serve (see docs/triggers.md)."""
        if self._triggers is None:
            from lakeml.pipeline.triggers.api import Triggers

            self._triggers = Triggers(self)
        return self._triggers

    @property
    def models(self) -> ModelRegistry:
        """The model registry of this lake."""
        if self._models is None:
            from lakeml.registry.registry import ModelRegistry

            self._models = ModelRegistry(self, runtime=_ModelRuntime(self))
        return self._models

    def predict(self, model: str | ModelVersion, data: Any, *,
                outputs: str | dict[str, Any] | None = None, on_null: str = "error", auto_cast: bool = False,
                batch_size: int | None = None) -> pl.DataFrame:
        """Score ``data`` with ``model``; returns DATA's columns followed by the output columns.

        Args:
            model: ``name``, ``name:3``, ``name@alias`` or a :class:`~lakeml.registry.registry.ModelVersion`.
            data: a table name, SQL text, or a Polars/pandas/Arrow frame.
            outputs: what a SQL WITH clause says (``"label bigint, probabilities array(real, 2)"``) or a
                dict of output name to SQL type / Polars dtype; None returns every output.
            on_null: nulls in inputs the model has no training rule for: ``"error"``, ``"propagate"``
                (null outputs) or ``"nan"`` (NaN into float inputs); models lakeml trained feed nulls
                as training did (docs/predict.md rule 10).
            auto_cast: cast inputs to the model's types where no value changes.
            batch_size: rows per ONNX Runtime call (results do not depend on it).

        Raises:
            PredictError: binding, type, null or output errors (before any row is scored).
            ModelNotFoundError: unknown model reference.

        Example:
            >>> lake.predict("churn@champion", "customers", outputs="label bigint")  # doctest: +SKIP
        """
        if self.engine.name != "polars":  # mapInArrow on Spark; a lazy frame of the engine comes back
            from lakeml.scoring.on_engine import predict as predict_on_engine

            # the engine's lazy frame, not a collected Polars DataFrame (docs/engines.md)
            return predict_on_engine(self, model, data, outputs=outputs, on_null=on_null,  # type: ignore[return-value]
                                     auto_cast=auto_cast, batch_size=batch_size)
        from lakeml.scoring.api import predict

        return predict(self, model, data, outputs=outputs, on_null=on_null, auto_cast=auto_cast,
                       batch_size=batch_size)

    def score(self, model: str | ModelVersion, source: Any, target: str, *,
              outputs: str | dict[str, Any] | None = None, on_null: str = "error", auto_cast: bool = False,
              batch_size: int | None = None, mode: str = "error", format: str = "parquet",
              progress: Callable[[int], None] | None = None) -> ScoreResult:
        """Stream a table or query through a model into a lake table or file, in one atomic pass.

        Args:
            model: ``name``, ``name:3``, ``name@alias`` or a :class:`~lakeml.registry.registry.ModelVersion`.
            source: a table name, SQL text, or a Polars/pandas/Arrow frame.
            target: a lake table name, or an absolute ``.parquet`` path or URI (relative paths are refused).
            outputs: outputs to compute and their types, as in :meth:`predict`.
            on_null: ``"error"``, ``"propagate"`` or ``"nan"``, as in :meth:`predict`.
            auto_cast: cast inputs to the model's types where no value changes.
            batch_size: rows per ONNX Runtime call; memory is bounded by it, not by the table size.
            mode: for a table target: ``"error"`` (refuse if it exists), ``"append"`` or ``"overwrite"``.
            format: for a table target: ``"parquet"`` or ``"delta"``.
            progress: called with the number of rows scored after each batch.

        Returns:
            A :class:`~lakeml.scoring.api.ScoreResult` (rows, seconds, target, model).

        Example:
            >>> lake.score("churn@champion", "customers", "churn_scores")  # doctest: +SKIP
        """
        if self.engine.name != "polars":
            from lakeml.scoring.on_engine import score as score_on_engine

            return score_on_engine(self, model, source, target, outputs=outputs,
                                   on_null=on_null, auto_cast=auto_cast, batch_size=batch_size, mode=mode,
                                   format=format, progress=progress)
        from lakeml.scoring.api import score

        return score(self, model, source, target, outputs=outputs, on_null=on_null, auto_cast=auto_cast,
                     batch_size=batch_size, mode=mode, format=format, progress=progress)

    # One source of truth: these methods are the functions of the ML layer (signature, defaults, docs).
    if TYPE_CHECKING:
        train = _train
        automl = _automl
    else:
        train = delegated_method("lakeml.ml.api", "train")
        automl = delegated_method("lakeml.ml.automl.api", "automl")

    def profile(self, data: Any, *, target: str | None = None, sample: int | float | None = None,
                bins: int = 20, top_k: int = 10, progress: Callable[[str], None] | None = None,
                memory_budget: int = DEFAULT_MEMORY_BUDGET) -> Profile:
        """Profile a table, SQL query or frame (streaming, two passes).

        Args:
            data: table name, SQL query text, Polars/pandas frame or Arrow table.
            target: optional learning target; adds its distribution and each feature's association.
            sample: profile a deterministic random sample: a row count (int) or a fraction (float).
            bins: histogram bins per numeric/temporal column.
            top_k: most frequent values kept per column.
            progress: optional callback receiving a message per pass.
            memory_budget: bytes of working memory profiling may use (default 1 GiB), whatever the
                table's width; at least 64 MiB.

        Returns:
            A :class:`~lakeml.explore.profile.Profile`: frames, ``to_html(path)``, ``to_json()``.

        Example:
            >>> lake.profile("flights", target="arr_delay").to_html("flights.html")  # doctest: +SKIP
        """
        from lakeml.explore.api import profile

        return profile(self, data, target=target, sample=sample, bins=bins, top_k=top_k, progress=progress,
                       memory_budget=memory_budget)

    def chart(self, query: Any, *, kind: ChartKind, x: str | None = None, y: str | Sequence[str] | None = None,
              output: str | Path | None = None, title: str | None = None, bins: int = 30,
              max_points: int = 50_000, max_bars: int = 50) -> Chart:
        """Chart a query result as ``bar``, ``line``, ``scatter`` or ``hist``; optionally save PNG/SVG.

        Args:
            query: SQL text, a table name, or a frame.
            kind: ``"bar"``, ``"line"``, ``"scatter"`` or ``"hist"``.
            x: the x column (``hist``: the column to bin). Without an ORDER BY, x values are sorted.
            y: one or more numeric y columns.
            output: local ``.png`` or ``.svg`` path to write.
            title: chart title (default: derived from the columns).
            bins: histogram bins.
            max_points: scatter and line charts draw at most this many points.
            max_bars: bar charts draw at most this many bars.

        Returns:
            A :class:`~lakeml.explore.chart.Chart` (``save(path)``, shows in Jupyter).

        Example:
            >>> lake.chart("SELECT month, AVG(dep_delay) AS d FROM flights GROUP BY 1",
            ...            kind="bar", x="month", y="d", output="delays.png")  # doctest: +SKIP
        """
        from lakeml.explore.api import chart

        return chart(self, query, kind=kind, x=x, y=y, output=output, title=title, bins=bins,
                     max_points=max_points, max_bars=max_bars)


class _ModelRuntime:
    """What the registry needs from the layers above it, wired here (the registry imports neither).

    Implements :class:`lakeml.registry.registry.ModelRuntime` for one lake.
    """

    def __init__(self, lake: Lake) -> None:
        self._lake = lake

    def check_loadable(self, onnx: bytes) -> None:
        from lakeml.scoring.session import new_session

        new_session(onnx, threads=1)

    def to_onnx(self, model: object, *, sample: pl.DataFrame | None, n_features: int | None) -> bytes:
        from lakeml.ml import onnx_export

        return onnx_export.to_onnx(model, sample=sample, n_features=n_features)

    def bind(self, mv: ModelVersion, *, alias: str, return_type: str | None, output: str | None) -> BoundModel:
        from lakeml.scoring.bound import bind_model

        return bind_model(self._lake, mv, alias=alias, return_type=return_type, output=output)


def _delta_stats(uri: str, storage_options: dict[str, str]) -> tuple[int | None, tuple[str, ...], int | None]:
    from deltalake import DeltaTable

    table = DeltaTable(uri, storage_options=storage_options or None)
    actions = pl.DataFrame(table.get_add_actions(flatten=True))
    rows = int(actions["num_records"].sum()) if "num_records" in actions.columns else None
    return rows, tuple(table.metadata().partition_columns), int(table.version())


@boundary
def connect(root: str | Path | None = None, *, storage_options: Mapping[str, Any] | None = None,
            config: LakeConfig | Mapping[str, Any] | None = None, backend: str | None = None,
            spark: Any = None, spark_conf: Mapping[str, Any] | None = None) -> Lake:
    """Open a lake.

    Args:
        root: a local folder (default ``$LAKEML_LAKE`` or ``./lake``), ``file://``, ``az://``,
            ``abfs://`` or ``abfss://container@account.dfs.core.windows.net/path``.
        storage_options: Azure settings: ``account_name``, ``account_key``, ``sas_token``,
            ``connection_string``, ``endpoint``, ``allow_http``, or ``auth="entra"`` for Microsoft
            Entra ID. Without them the ``AZURE_STORAGE_*`` variables are used; an Azure lake with no
            credential source is refused.
        config: engine settings (:class:`lakeml.config.LakeConfig` or a dict of its fields).
        backend: the execution engine: ``"polars"`` (this machine) or ``"spark"``; default
            ``$LAKEML_BACKEND``, else ``"polars"``. Tables, models and queries are the same on both.
        spark: with ``backend="spark"``, an existing ``SparkSession`` (a notebook's or a cluster's);
            without it lakeml starts a local session (``local[*]``) on first use.
        spark_conf: Spark settings for the session lakeml starts (``{"spark.master": "local[4]"}``).

    Example:
        >>> import lakeml
        >>> lake = lakeml.connect("./lake")  # doctest: +SKIP
    """
    name = str(backend if backend is not None else default_backend()).strip().lower()
    if name != "spark" and (spark is not None or spark_conf):
        raise ConfigError("spark= and spark_conf= only apply to backend='spark'.",
                          hint="Pass backend='spark', or drop the Spark arguments.")
    options = {"spark": spark, "spark_conf": spark_conf} if name == "spark" else None
    engine = load_engine(name, options=options)  # the Spark engine (lakeml.engines.spark) loads lazily, here only
    settings = config if isinstance(config, LakeConfig) else LakeConfig.from_dict(dict(config or {}))
    storage = open_storage(root if root is not None else default_lake_uri(), storage_options)
    if storage.root.is_local and Path(storage.root.path).exists() and not Path(storage.root.path).is_dir():
        raise ConfigError(f"The lake root {storage.root.uri!r} is a file, not a folder.",
                          hint="Point [[connect(root=...)|--lake]] at a folder (it is created on the first "
                               "write), or an abfss:// URI.")
    return Lake(storage, config=settings, storage_options=storage_options, engine=engine)


__all__ = ["Lake", "TableDescription", "choices_hint", "connect"]
