"""Table scans for SQL, reused from one query to the next while the files on disk say nothing changed.

Looking a table up costs a catalog read, a table-log read and a Parquet footer read: about half a
millisecond per table, so more than the whole planning of a plain query. On a local lake the same
facts can be checked with a few ``stat`` calls: the catalog log folder (a commit adds a file, which
changes the folder's modification time), the managed table's folder and log folder, or the
registered external file itself, or for a one-folder glob or a folder without subfolders, the
folder and each file in it. A scan built earlier is reused only while every one of these is
exactly as it was before that scan was built; anything else (object stores, ``**`` globs, folders
with subfolders, managed Delta or CSV tables) is looked up afresh every time. The SQL paths of
every engine use it (a Spark scan lists its files and infers their schema: far more than a stat).
The cache hangs off the lake's catalog object weakly, so it never keeps a lake alive.
"""

from __future__ import annotations

import os
import stat
import threading
import weakref
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import polars as pl

if TYPE_CHECKING:
    from lakeml.context import LakeContext
    from lakeml.query.catalog import Catalog

__all__ = ["table_frame", "table_frames"]

_TABLES_DIR = "tables"  # lakeml.query.names.TABLES_DIR
_TABLE_LOG = "_lakeml_log"  # lakeml.query.parquet_table.LOG_DIR
_CATALOG = ("_lakeml/catalog", "_lakeml/catalog.json")  # lakeml.query.catalog: CATALOG_LOG, LEGACY_CATALOG_FILE

Token = tuple[tuple[int, int, int] | None, ...]
# Per table: the catalog's token, the table's own watched paths and their token, and the scan.
_Entry = tuple[Token, tuple[str, ...], Token, pl.LazyFrame]

_CACHE: weakref.WeakKeyDictionary[Any, dict[str, _Entry]] = weakref.WeakKeyDictionary()
_LOCK = threading.Lock()


def table_frame(lake: LakeContext[pl.LazyFrame], name: str) -> pl.LazyFrame:
    """``lake.table(name)``, reusing the scan of an earlier call while the table's files are unchanged."""
    return table_frames(lake, (name,))[name]


def table_frames(lake: LakeContext[pl.LazyFrame], names: Iterable[str]) -> dict[str, pl.LazyFrame]:
    """``lake.table(name)`` for each of ``names`` (one query's tables); the catalog is checked once for all."""
    catalog = getattr(lake, "catalog", None)
    root = _local_root(lake)
    if catalog is None or root is None:
        return {name: lake.table(name) for name in names}
    # Every stat is taken before the lookup it vouches for: a change made meanwhile shows next time.
    catalog_token = _token(tuple(os.path.join(root, path) for path in _CATALOG))
    with _LOCK:
        known = dict(_CACHE.get(catalog, ()))
    frames: dict[str, pl.LazyFrame] = {}
    for name in names:
        cached = known.get(name)
        if cached is not None and cached[0] == catalog_token and _token(cached[1]) == cached[2]:
            frames[name] = cached[3]
            continue
        try:
            table_paths = _watched(catalog, root, name)
        except Exception:  # lake.table below raises the lake's own error for it
            table_paths = None
        table_token = _token(table_paths) if table_paths is not None else None
        frame = frames[name] = lake.table(name)
        if table_paths is not None and table_token is not None and None not in table_token:
            with _LOCK:
                _CACHE.setdefault(catalog, {})[name] = (catalog_token, table_paths, table_token, frame)
    return frames


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
    if not location.is_local:
        return None
    path = location.path
    if any(c in path for c in "*?["):
        folder = os.path.dirname(path)
        return None if any(c in folder for c in "*?[") else _flat_folder(folder)  # a ** or folder glob: no
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return None
    if stat.S_ISREG(mode):
        return (path,)
    return _flat_folder(path) if stat.S_ISDIR(mode) else None


def _flat_folder(folder: str) -> tuple[str, ...] | None:
    """A folder and every file in it; None when it has subfolders (their changes leave its times alone).

    Adding, removing or renaming a file changes the folder's own modification time; rewriting one
    changes the file's: the two together vouch for a glob's files (a superset of them).
    """
    try:
        with os.scandir(folder) as entries:
            files = []
            for entry in entries:
                if entry.is_dir():
                    return None
                files.append(entry.path)
    except OSError:
        return None
    return (folder, *sorted(files))


def _token(paths: tuple[str, ...]) -> Token:
    return tuple(_stat(path) for path in paths)


def _stat(path: str) -> tuple[int, int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_ino, st.st_mtime_ns, st.st_size)
