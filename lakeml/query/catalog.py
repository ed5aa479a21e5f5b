"""The table catalog: managed tables under ``<root>/tables/`` plus registered external locations."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import polars as pl

from lakeml.engines.base import Engine
from lakeml.errors import (
    ConfigError,
    CorruptMetadataError,
    LakePathNotFoundError,
    TableExistsError,
    TableNotFoundError,
    choices_hint,
)
from lakeml.query.formats import (
    Format,
    check_format,
    committed_table_format,
    detect_folder_format,
    guess_format,
    scan_uri,
)
from lakeml.query.names import TABLES_DIR, validate_name
from lakeml.query.parquet_table import scan_parquet_table
from lakeml.storage.commitlog import CommitLog, Entry
from lakeml.storage.lakefs import AzureStorage, LakeStorage, open_storage
from lakeml.storage.uri import parse_location, safe_uri

CATALOG_LOG = "_lakeml/catalog"
LEGACY_CATALOG_FILE = "_lakeml/catalog.json"  # lakes written before the catalog had a commit log
Entries = dict[str, dict[str, Any]]


@dataclass(frozen=True)
class TableInfo:
    """Where a table lives and how to read it.

    Attributes:
        name: the catalog name.
        format: parquet, delta, csv or ndjson.
        location: the table's URI (or local path).
        managed: True for tables lakeml writes under ``<root>/tables/``.
        options: reader options of an external table (e.g. ``{"separator": ";"}``).
    """

    name: str
    format: Format
    location: str
    managed: bool
    options: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return asdict(self)


class Catalog:
    """Names to tables for one lake. Managed tables are discovered; external ones are registered."""

    def __init__(self, storage: LakeStorage, storage_options: dict[str, Any] | None = None,
                 *, engine: Engine[pl.LazyFrame], commit_retries: int = 20) -> None:
        self.storage = storage
        self.engine = engine
        self._storage_options = storage_options
        self._log = CommitLog(storage, CATALOG_LOG, what="the catalog")
        self._retries = commit_retries

    # -- registered external tables ---------------------------------------------------------------
    def registered(self) -> Entries:
        """Registered external tables: name -> {uri, format, options}."""
        return self._entries(self._log.latest())

    def _entries(self, head: Entry | None) -> Entries:
        """The registrations in log entry ``head``; with no entry yet, those of the legacy file."""
        if head is not None:
            tables, where = head.body.get("tables"), self._log.path(head.version)
        elif self.storage.exists(LEGACY_CATALOG_FILE):
            where = LEGACY_CATALOG_FILE
            try:
                tables = json.loads(self.storage.read_bytes(LEGACY_CATALOG_FILE)).get("tables")
            except (ValueError, AttributeError):
                tables = None
        else:
            return {}
        if not isinstance(tables, dict) or not all(isinstance(v, dict) and "uri" in v for v in tables.values()):
            raise CorruptMetadataError(
                f"The catalog file {where!r} is damaged (expected table names mapped to locations).",
                hint="Restore it from a backup, or move it out of the folder to fall back to the previous "
                     "catalog (managed tables are not affected).")
        return {str(k): dict(v) for k, v in tables.items()}

    def _update(self, change: Callable[[Entries], None]) -> None:
        """Apply ``change`` to the newest catalog and commit it as the next version."""
        def build(head: Entry | None) -> dict[str, Any]:
            entries = self._entries(head)
            change(entries)
            return {"tables": entries}

        self._log.commit(build, retries=self._retries)

    def register(self, name: str, uri: str, *, format: str | None = None, options: dict[str, Any] | None = None,
                 replace: bool = False) -> TableInfo:
        """Register an external location under ``name``."""
        validate_name(name)
        location = parse_location(uri)  # validates the scheme, refuses SAS tokens in URIs
        fmt = check_format(format) if format else guess_format(location.path)
        if fmt is None:
            fmt = detect_folder_format(self.storage_for(uri), "")
        if fmt is None:
            raise ConfigError(f"Cannot tell the format of {safe_uri(uri)!r}.",
                              hint="Pass format='parquet', 'csv', 'ndjson' or 'delta'.")
        if not replace and name in self.managed_names():
            raise _taken(name)

        def change(entries: Entries) -> None:
            if not replace and name in entries:
                raise _taken(name)
            entries[name] = {"uri": uri, "format": fmt, "options": options or {}}

        self._update(change)
        return TableInfo(name, fmt, uri, False, options or {})

    def unregister(self, name: str) -> None:
        """Forget an external table (its files are untouched)."""
        def change(entries: Entries) -> None:
            if name not in entries:
                raise TableNotFoundError(f"No registered external table {name!r}.",
                                         hint=choices_hint(name, entries, kind="registered table"))
            del entries[name]

        self._update(change)

    # -- lookup --------------------------------------------------------------------------------------
    def managed_names(self) -> list[str]:
        """Names of the table folders under ``<root>/tables/``."""
        names = [n for n in self.storage.list(TABLES_DIR) if not n.startswith((".", "_"))]
        return [n for n in names if committed_table_format(self.storage, f"{TABLES_DIR}/{n}") is not None]

    def names(self) -> list[str]:
        """All table names, sorted."""
        return sorted(set(self.managed_names()) | set(self.registered()))

    def info(self, name: str) -> TableInfo:
        """Where table ``name`` lives. Raises TableNotFoundError with a did-you-mean."""
        validate_name(name)
        registered = self.registered()
        if name in registered:
            entry = registered[name]
            return TableInfo(name, entry["format"], entry["uri"], False, entry.get("options", {}))
        folder = f"{TABLES_DIR}/{name}"
        fmt = committed_table_format(self.storage, folder)
        if fmt is None:
            raise TableNotFoundError(f"No table named {name!r} in the lake at {self.storage.root.uri}.",
                                     hint=choices_hint(name, self.names(), kind="table"))
        return TableInfo(name, fmt, self.storage.uri(folder), True)

    def scan(self, name: str) -> pl.LazyFrame:
        """A lazy scan of table ``name``."""
        info = self.info(name)
        if info.managed:
            folder = f"{TABLES_DIR}/{name}"
            if info.format == "parquet":
                return scan_parquet_table(self.engine, self.storage, folder)
            return scan_uri(self.engine, self.storage, info.location, info.format, is_dir=True)
        storage = self.storage_for(info.location)
        location = parse_location(info.location)
        is_dir = "*" not in location.path and guess_format(location.path) is None
        frame = scan_uri(self.engine, storage, location.uri, info.format, options=info.options, is_dir=is_dir)
        try:  # external files can vanish under the catalog: say so here, not at collect time
            self.engine.resolve(frame)  # any engine's frame (Spark's resolves and raises its own lakeml error)
        except (FileNotFoundError, pl.exceptions.ComputeError) as exc:
            raise LakePathNotFoundError(
                f"The files of external table {name!r} are missing or unreadable at {safe_uri(info.location)}.",
                hint="Check the location, or re-point it with [[lake.register_table(name, uri, replace=True)|"
                     "lakeml register NAME URI --replace]].",
            ) from exc
        return frame

    def storage_for(self, uri: str) -> LakeStorage:
        """Storage for an external URI: the lake's own credentials when it is in the same account."""
        location = parse_location(uri)
        if location.is_local:
            return open_storage(location)
        if isinstance(self.storage, AzureStorage) and location.account in (None, self.storage.credentials.account_name):
            return AzureStorage(location, self.storage.credentials)
        return open_storage(location, self._storage_options)


def _taken(name: str) -> TableExistsError:
    return TableExistsError(f"A table named {name!r} already exists.",
                            hint="Pick another name, or pass [[replace=True]] to re-point it.")
