"""Table scans for SQL, reused from one query to the next while the files on disk say nothing changed.

Looking a table up costs a catalog read, a table-log read and a Parquet footer read: about half a
millisecond per table, so more than the whole planning of a plain query. On a local lake the same
facts can be checked with a few ``stat`` calls: the catalog log folder (a commit adds a file, which
changes the folder's modification time), the managed table's folder and log folder, or the
registered external file itself. A scan built earlier is reused only while every one of these is
exactly as it was before that scan was built; anything else (object stores, globs, folders, Delta
or CSV tables) is looked up afresh every time, as before. The cache hangs off the lake's catalog
object weakly, so it never keeps a lake alive.
"""

from __future__ import annotations

import os
import stat
import threading
import weakref
from typing import TYPE_CHECKING, Any

import polars as pl

if TYPE_CHECKING:
    from lakeml.context import LakeContext
    from lakeml.query.catalog import Catalog

__all__ = ["table_frame"]

_TABLES_DIR = "tables"  # lakeml.query.names.TABLES_DIR
_TABLE_LOG = "_lakeml_log"  # lakeml.query.parquet_table.LOG_DIR
_CATALOG = ("_lakeml/catalog", "_lakeml/catalog.json")  # lakeml.query.catalog: CATALOG_LOG, LEGACY_CATALOG_FILE

Token = tuple[tuple[int, int, int] | None, ...]

_CACHE: weakref.WeakKeyDictionary[Any, dict[str, tuple[tuple[str, ...], Token, pl.LazyFrame]]] = (
    weakref.WeakKeyDictionary())
_LOCK = threading.Lock()


def table_frame(lake: LakeContext[pl.LazyFrame], name: str) -> pl.LazyFrame:
    """``lake.table(name)``, reusing the scan of an earlier call while the table's files are unchanged."""
    catalog = getattr(lake, "catalog", None)
    root = _local_root(lake)
    if catalog is None or root is None:
        return lake.table(name)
    with _LOCK:
        cached = _CACHE.get(catalog, {}).get(name)
    if cached is not None:
        paths, token, frame = cached
        if _token(paths) == token:
            return frame
    # Every stat is taken before the lookup it vouches for: a change made meanwhile shows next time.
    catalog_paths = tuple(os.path.join(root, path) for path in _CATALOG)
    catalog_token = _token(catalog_paths)
    try:
        table_paths = _watched(catalog, root, name)
    except Exception:  # lake.table below raises the lake's own error for it
        table_paths = None
    table_token = _token(table_paths) if table_paths is not None else None
    frame = lake.table(name)
    if table_paths is not None and table_token is not None and None not in table_token:
        with _LOCK:
            _CACHE.setdefault(catalog, {})[name] = (catalog_paths + table_paths, catalog_token + table_token, frame)
    return frame


def _local_root(lake: LakeContext[pl.LazyFrame]) -> str | None:
    storage = getattr(lake, "storage", None)
    root = getattr(storage, "root", None)
    if root is None or not getattr(root, "is_local", False):
        return None
    return str(root.path)


def _watched(catalog: Catalog, root: str, name: str) -> tuple[str, ...] | None:
    """The paths (besides the catalog's) whose ``stat`` tells whether table ``name`` changed; None: do not cache."""
    from lakeml.storage.uri import parse_location

    info = catalog.info(name)
    if info.managed:
        if info.format != "parquet":
            return None
        folder = os.path.join(root, _TABLES_DIR, name)
        return (folder, os.path.join(folder, _TABLE_LOG))
    location = parse_location(info.location)
    if not location.is_local or any(c in location.path for c in "*?["):
        return None
    try:
        if not stat.S_ISREG(os.stat(location.path).st_mode):
            return None  # a folder: files may come and go without a trace on the folder's own times
    except OSError:
        return None
    return (location.path,)


def _token(paths: tuple[str, ...]) -> Token:
    return tuple(_stat(path) for path in paths)


def _stat(path: str) -> tuple[int, int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_ino, st.st_mtime_ns, st.st_size)
