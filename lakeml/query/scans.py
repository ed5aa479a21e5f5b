"""Every scan lakeml makes is built here: catalog tables, registered files, SQL file functions, ingest.

One place decides how a folder is globbed per format, when hive partitions are read and which
reader defaults apply, so a folder reads the same rows whichever way it is named (before this
module, SQL globbed NDJSON folders for ``*.json`` and the catalog for ``*.ndjson``). The scan
itself runs on the lake's engine.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING

from lakeml.engines.base import Engine, FrameT, ScanFormat, ScanRequest

if TYPE_CHECKING:
    import pyarrow as pa

    from lakeml.storage.lakefs import LakeStorage

__all__ = ["CSV_INFER_ROWS", "FOLDER_GLOBS", "file_request", "folder_glob", "scan_committed", "scan_files"]

#: The file names read from a folder, per format, at any depth. NDJSON files go by several
#: extensions (``.ndjson``, ``.jsonl``, ``.json``, gzipped or not); Polars globs have no ``{a,b}``.
FOLDER_GLOBS: dict[str, str] = {"parquet": "*.parquet", "csv": "*.csv", "ndjson": "*.*json*"}
#: CSV rows the reader infers column types from.
CSV_INFER_ROWS = 10_000


def folder_glob(uri: str, fmt: ScanFormat) -> str:
    """The glob reading every ``fmt`` file below the folder ``uri``."""
    return f"{uri.rstrip('/')}/**/{FOLDER_GLOBS[fmt]}"


def file_request(storage: LakeStorage, sources: Sequence[str], fmt: ScanFormat, *,
                 options: Mapping[str, object] | None = None,
                 folders: bool | Sequence[bool] = False) -> ScanRequest:
    """The scan of files, globs or folders (``folders``: one flag for all, or one per source).

    Parquet reads hive ``key=value`` folders as columns when a source is a folder or a ``**``
    glob (unless ``hive_partitioning`` is given); CSV infers types from :data:`CSV_INFER_ROWS` rows.
    A Delta source is the table folder itself.
    """
    opts = dict(options or {})
    if fmt == "delta":
        return ScanRequest(tuple(sources), fmt, storage, opts)
    flags = [folders] * len(sources) if isinstance(folders, bool) else list(folders)
    targets = tuple(folder_glob(s, fmt) if flag else s for s, flag in zip(sources, flags, strict=True))
    hive: bool | None = None
    if fmt == "parquet":
        default = True if any(flags) or any("**" in s for s in sources) else None
        given = opts.pop("hive_partitioning", default)
        hive = None if given is None else bool(given)
    if fmt == "csv":
        opts.setdefault("infer_schema_length", CSV_INFER_ROWS)
    return ScanRequest(targets, fmt, storage, opts, hive_partitioning=hive)


def scan_files(engine: Engine[FrameT], storage: LakeStorage, sources: Sequence[str], fmt: ScanFormat, *,
               options: Mapping[str, object] | None = None, folders: bool | Sequence[bool] = False) -> FrameT:
    """A lazy scan of files, globs or folders on ``engine`` (see :func:`file_request`)."""
    return engine.scan(file_request(storage, sources, fmt, options=options, folders=folders))


def scan_committed(engine: Engine[FrameT], storage: LakeStorage, files: Sequence[str], *,
                   partition_by: Sequence[str], schema: Callable[[], pa.Schema | None],
                   options: Mapping[str, object] | None = None) -> FrameT:
    """A lazy scan of exactly a table version's committed files (URIs), typed by the table's schema
    (``schema`` returns it, when the engine asks).

    ``options`` are reader options (a merge asks for ``include_file_paths``: each row's file).
    """
    request = ScanRequest(tuple(files), "parquet", storage, dict(options or {}), hive_partitioning=bool(partition_by),
                          partition_columns=tuple(partition_by), schema_of=schema)
    return engine.scan(request)
