"""The :class:`Lake` session: the user-facing entry point of lakeml."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl

from lakeml.boundary import boundary, public_api
from lakeml.config import LakeConfig, default_lake_uri
from lakeml.errors import ConfigError, TableNotFoundError, choices_hint
from lakeml.query.access import check_access
from lakeml.query.catalog import TABLES_DIR, Catalog, TableInfo
from lakeml.query.formats import committed_table_format
from lakeml.query.frames import to_lazy
from lakeml.query.names import validate_name
from lakeml.query.parquet_table import drop_table_folder, latest_version, scan_parquet_table
from lakeml.query.vacuum import DEFAULT_RETENTION_HOURS, VacuumReport, vacuum
from lakeml.query.writer import write_table
from lakeml.storage.lakefs import LakeStorage, clean_relpath, open_storage
from lakeml.storage.uri import parse_location

if TYPE_CHECKING:
    from lakeml.registry.registry import ModelRegistry

_SQL_START = re.compile(r"^\s*(select|with|from|values|\()", re.IGNORECASE)


@dataclass(frozen=True)
class TableDescription:
    """What ``Lake.describe`` reports about a table."""

    name: str
    format: str
    location: str
    managed: bool
    schema: dict[str, str]
    num_rows: int | None
    partition_by: tuple[str, ...] = ()
    version: int | None = None

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
                 storage_options: Mapping[str, Any] | None = None) -> None:
        self.storage = storage
        self.config = config or LakeConfig()
        self.catalog = Catalog(storage, dict(storage_options) if storage_options else None,
                               commit_retries=self.config.commit_retries)
        self._models: ModelRegistry | None = None

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
        schema = {k: str(v) for k, v in frame.collect_schema().items()}
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
            rows = int(frame.select(pl.len()).collect().item())  # footers only: cheap for Parquet
        return TableDescription(name, info.format, info.location, info.managed, schema, rows, parts, version)

    def write(self, table: str, data: Any, *, mode: str = "error", format: str = "parquet",
              partition_by: str | list[str] | None = None) -> int:
        """Write data to a managed table, atomically; returns the committed version.

        Args:
            table: table name (created under ``<root>/tables/``).
            data: a Polars LazyFrame/DataFrame, pandas DataFrame or pyarrow Table. LazyFrames stream.
            mode: ``"error"`` (refuse if it exists), ``"append"`` or ``"overwrite"``.
            format: ``"parquet"`` or ``"delta"``.
            partition_by: column(s) for hive-style partition folders.

        Raises:
            TableExistsError, SchemaError, ConfigError, StorageError.
        """
        validate_name(table)
        registered = self.catalog.registered()
        if table in registered:
            raise ConfigError(f"{table!r} is a registered external table; lakeml only writes managed tables.",
                              hint="Write to a new table name, or unregister the external table first.")
        folder = f"{TABLES_DIR}/{table}"
        existing = committed_table_format(self.storage, folder)
        return write_table(self.storage, folder, to_lazy(data), mode=mode, format=format, partition_by=partition_by,
                           retries=self.config.commit_retries, existing_format=existing)

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

    def write_path(self, relpath: str, data: Any, *, mode: str = "overwrite") -> int:
        """Write a lakeml Parquet table at any path under the root (e.g. ``_lakeml/runs/<id>/trials``)."""
        path = clean_relpath(relpath)
        return write_table(self.storage, path, to_lazy(data), mode=mode, format="parquet", partition_by=None,
                           retries=self.config.commit_retries)

    def read_path(self, relpath: str) -> pl.LazyFrame:
        """Read a table written with :meth:`write_path`."""
        path = clean_relpath(relpath)
        try:
            return scan_parquet_table(self.storage, path)
        except FileNotFoundError:
            raise TableNotFoundError(f"No lakeml table at {relpath!r}.", hint="Check the path.") from None

    def frame(self, data: Any) -> pl.LazyFrame:
        """Resolve data given as a table name, a SQL query or a frame into a LazyFrame."""
        if isinstance(data, str):
            if _SQL_START.match(data) or any(ch.isspace() for ch in data.strip()):
                return self.sql(data)
            return self.table(data)
        return to_lazy(data)

    # -- SQL -------------------------------------------------------------------------------------
    def sql(self, query: str, *, params: Mapping[str, Any] | None = None) -> pl.LazyFrame:
        """Run a SQL query over the lake's tables and files; returns a LazyFrame.

        Catalog tables are in scope by name; ``read_parquet('uri')`` style table functions and
        T-SQL ``OPENROWSET(BULK 'uri', FORMAT = 'PARQUET')`` read lake files; ``TOP n`` works;
        ``@name`` parameters bind from ``params``.
        """
        from lakeml.sql.engine import execute

        return execute(self, query, params=dict(params) if params else None)

    def _builtin_views(self) -> dict[str, Callable[[], pl.LazyFrame]]:
        # imported here, not at module level: the query layer sits below the registry and ml layers
        from lakeml.ml import runs
        from lakeml.registry import views as registry_views

        return {**registry_views.views(self), **runs.views(self)}

    # -- ingest ------------------------------------------------------------------------------------
    def ingest(self, source: str | Path, table: str, *, format: str | None = None, mode: str = "append",
               partition_by: str | list[str] | None = None, schema: Mapping[str, Any] | None = None,
               options: Mapping[str, Any] | None = None, progress: bool | None = None) -> int:
        """Copy a local or lake file/folder (CSV, NDJSON, Parquet) into a lake table, streaming.

        Returns the number of rows ingested. See :func:`lakeml.query.ingest.ingest`.
        """
        from lakeml.query.ingest import ingest

        return ingest(self, source, table, format=format, mode=mode, partition_by=partition_by, schema=schema,
                      options=options, progress=progress)

    # -- models and scoring (delegations) --------------------------------------------------------------
    @property
    def models(self) -> ModelRegistry:
        """The model registry of this lake."""
        if self._models is None:
            from lakeml.registry.registry import ModelRegistry

            self._models = ModelRegistry(self)
        return self._models

    def predict(self, model: Any, data: Any, **kwargs: Any) -> pl.DataFrame:
        """Score data with a registered model; see :func:`lakeml.scoring.api.predict`."""
        from lakeml.scoring.api import predict

        return predict(self, model, data, **kwargs)

    def score(self, model: Any, source: Any, target: str, **kwargs: Any) -> Any:
        """Stream a table or query through a model into a lake table; see :func:`lakeml.scoring.api.score`."""
        from lakeml.scoring.api import score

        return score(self, model, source, target, **kwargs)

    def train(self, data: Any, **kwargs: Any) -> Any:
        """Train one model family on a table, query or frame; see :func:`lakeml.ml.api.train`."""
        from lakeml.ml.api import train

        return train(self, data, **kwargs)

    def automl(self, data: Any, **kwargs: Any) -> Any:
        """Search model families and hyperparameters under a time budget; see :func:`lakeml.ml.automl.automl`."""
        from lakeml.ml.automl import automl

        return automl(self, data, **kwargs)

    def profile(self, data: Any, **kwargs: Any) -> Any:
        """Profile a table, query or frame; see :func:`lakeml.explore.api.profile`."""
        from lakeml.explore.api import profile

        return profile(self, data, **kwargs)

    def chart(self, query: Any, **kwargs: Any) -> Any:
        """Chart a query result; see :func:`lakeml.explore.api.chart`."""
        from lakeml.explore.api import chart

        return chart(self, query, **kwargs)


def _delta_stats(uri: str, storage_options: dict[str, str]) -> tuple[int | None, tuple[str, ...], int | None]:
    from deltalake import DeltaTable

    table = DeltaTable(uri, storage_options=storage_options or None)
    actions = pl.DataFrame(table.get_add_actions(flatten=True))
    rows = int(actions["num_records"].sum()) if "num_records" in actions.columns else None
    return rows, tuple(table.metadata().partition_columns), int(table.version())


@boundary
def connect(root: str | Path | None = None, *, storage_options: Mapping[str, Any] | None = None,
            config: LakeConfig | Mapping[str, Any] | None = None, backend: str = "polars") -> Lake:
    """Open a lake.

    Args:
        root: a local folder (default ``$LAKEML_LAKE`` or ``./lake``), ``file://``, ``az://``,
            ``abfs://`` or ``abfss://container@account.dfs.core.windows.net/path``.
        storage_options: Azure settings: ``account_name``, ``account_key``, ``sas_token``,
            ``connection_string``, ``endpoint``, ``allow_http``, or ``auth="entra"`` for Microsoft
            Entra ID. Without them the ``AZURE_STORAGE_*`` variables are used; an Azure lake with no
            credential source is refused.
        config: engine settings (:class:`lakeml.config.LakeConfig` or a dict of its fields).
        backend: the execution engine; ``"polars"`` is the single-machine engine.

    Example:
        >>> import lakeml
        >>> lake = lakeml.connect("./lake")  # doctest: +SKIP
    """
    if backend != "polars":
        from lakeml.errors import UnsupportedOperationError

        raise UnsupportedOperationError(f"The {backend!r} backend is not available in this version of lakeml.",
                                        hint="Use backend='polars' (the default single-machine engine).")
    settings = config if isinstance(config, LakeConfig) else LakeConfig.from_dict(dict(config or {}))
    storage = open_storage(root if root is not None else default_lake_uri(), storage_options)
    return Lake(storage, config=settings, storage_options=storage_options)


__all__ = ["Lake", "TableDescription", "choices_hint", "connect"]
