"""The table catalog: managed tables under ``<root>/tables/`` plus registered external locations."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

import polars as pl

from lakeml.errors import (
    ConfigError,
    LakePathNotFoundError,
    TableExistsError,
    TableNotFoundError,
    choices_hint,
)
from lakeml.query.formats import Format, check_format, detect_folder_format, guess_format, scan_uri
from lakeml.query.names import validate_name
from lakeml.query.parquet_table import latest_version, scan_parquet_table
from lakeml.storage.lakefs import AzureStorage, LakeStorage, open_storage
from lakeml.storage.uri import parse_location, safe_uri

TABLES_DIR = "tables"
CATALOG_FILE = "_lakeml/catalog.json"


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

    def __init__(self, storage: LakeStorage, storage_options: dict[str, Any] | None = None) -> None:
        self.storage = storage
        self._storage_options = storage_options

    # -- registered external tables ---------------------------------------------------------------
    def _registered(self) -> dict[str, dict[str, Any]]:
        if not self.storage.exists(CATALOG_FILE):
            return {}
        return dict(json.loads(self.storage.read_bytes(CATALOG_FILE)).get("tables", {}))

    def _save(self, entries: dict[str, dict[str, Any]]) -> None:
        body = json.dumps({"version": 1, "tables": entries}, indent=1, sort_keys=True).encode()
        self.storage.write_bytes(CATALOG_FILE, body)

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
        if not replace and name in self.names():
            raise TableExistsError(f"A table named {name!r} already exists.",
                                   hint="Pick another name, or pass replace=True to re-point it.")
        entries = self._registered()
        entries[name] = {"uri": uri, "format": fmt, "options": options or {}}
        self._save(entries)
        return TableInfo(name, fmt, uri, False, options or {})

    def unregister(self, name: str) -> None:
        """Forget an external table (its files are untouched)."""
        entries = self._registered()
        if name not in entries:
            raise TableNotFoundError(f"No registered external table {name!r}.",
                                     hint=choices_hint(name, entries, kind="registered table"))
        del entries[name]
        self._save(entries)

    # -- lookup --------------------------------------------------------------------------------------
    def managed_names(self) -> list[str]:
        """Names of the table folders under ``<root>/tables/``."""
        names = [n for n in self.storage.list(TABLES_DIR) if not n.startswith((".", "_"))]
        return [n for n in names if detect_folder_format(self.storage, f"{TABLES_DIR}/{n}") is not None]

    def names(self) -> list[str]:
        """All table names, sorted."""
        return sorted(set(self.managed_names()) | set(self._registered()))

    def info(self, name: str) -> TableInfo:
        """Where table ``name`` lives. Raises TableNotFoundError with a did-you-mean."""
        validate_name(name)
        registered = self._registered()
        if name in registered:
            entry = registered[name]
            return TableInfo(name, entry["format"], entry["uri"], False, entry.get("options", {}))
        folder = f"{TABLES_DIR}/{name}"
        fmt = detect_folder_format(self.storage, folder) if self.storage.exists(folder) else None
        if fmt is None:
            raise TableNotFoundError(f"No table named {name!r} in the lake at {self.storage.root.uri}.",
                                     hint=choices_hint(name, self.names(), kind="table"))
        return TableInfo(name, fmt, self.storage.uri(folder), True)

    def scan(self, name: str) -> pl.LazyFrame:
        """A lazy scan of table ``name``."""
        info = self.info(name)
        if info.managed:
            folder = f"{TABLES_DIR}/{name}"
            if info.format == "parquet" and latest_version(self.storage, folder) is not None:
                return scan_parquet_table(self.storage, folder)
            return scan_uri(info.location, info.format, polars_options=self.storage.polars_options(), is_dir=True)
        storage = self.storage_for(info.location)
        location = parse_location(info.location)
        is_dir = "*" not in location.path and guess_format(location.path) is None
        frame = scan_uri(location.uri, info.format, polars_options=storage.polars_options(),
                         options=info.options, is_dir=is_dir)
        try:  # external files can vanish under the catalog: say so here, not at collect time
            frame.collect_schema()
        except (FileNotFoundError, pl.exceptions.ComputeError) as exc:
            raise LakePathNotFoundError(
                f"The files of external table {name!r} are missing or unreadable at {safe_uri(info.location)}.",
                hint="Check the location, or re-point it with register_table(name, uri, replace=True).",
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
