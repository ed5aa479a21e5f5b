"""Reading table data by format: lakeml Parquet tables, Delta tables, and plain Parquet/CSV/NDJSON files."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Literal

import polars as pl

from lakeml.engines.base import Engine, FrameT
from lakeml.errors import ConfigError, CredentialError, DataFormatError, LakeMLError, LakePathNotFoundError
from lakeml.query.parquet_table import LOG_DIR, is_parquet_table
from lakeml.query.scans import scan_files
from lakeml.storage.lakefs import LakeStorage
from lakeml.storage.uri import safe_uri

Format = Literal["parquet", "delta", "csv", "ndjson"]
FORMATS: tuple[str, ...] = ("parquet", "delta", "csv", "ndjson")
_EXTENSIONS = {".parquet": "parquet", ".pq": "parquet", ".csv": "csv", ".tsv": "csv", ".ndjson": "ndjson",
               ".jsonl": "ndjson", ".json": "ndjson"}


def check_format(fmt: str) -> Format:
    """Validate a format name."""
    lowered = fmt.lower()
    if lowered == "jsonl" or lowered == "json":
        lowered = "ndjson"
    if lowered not in FORMATS:
        raise ConfigError(f"Unknown table format {fmt!r}.", hint=f"Use one of: {', '.join(FORMATS)}.")
    return lowered  # type: ignore[return-value]


def guess_format(path: str) -> Format | None:
    """The format implied by a file name or glob, or None."""
    lowered = path.lower().rstrip("/")
    for ext, fmt in _EXTENSIONS.items():
        if lowered.endswith(ext) or lowered.endswith(ext + ".gz"):
            return fmt  # type: ignore[return-value]
    return None


def scan_uri(engine: Engine[FrameT], storage: LakeStorage, uri: str, fmt: Format, *,
             options: Mapping[str, object] | None = None, is_dir: bool = False) -> FrameT:
    """A lazy scan of files at ``uri`` (a file, a glob, or a folder) in the given format, read with
    ``storage``'s credentials (see :mod:`lakeml.query.scans` for folders and hive partitions).
    """
    try:
        return scan_files(engine, storage, [uri], fmt, options=options, folders=is_dir and fmt != "delta")
    except (pl.exceptions.ComputeError, OSError) as exc:
        raise read_error(exc, uri, fmt) from exc


def read_error(exc: BaseException, uri: str, fmt: str) -> LakeMLError:
    """The lakeml error for a failure to read ``fmt`` data at ``uri`` (planning or reading).

    Missing files become :class:`LakePathNotFoundError`, refused access :class:`CredentialError`,
    the rest :class:`DataFormatError`; the location is shown without secrets.
    """
    if isinstance(exc, LakeMLError):
        return exc
    first = next((line.strip() for line in str(exc).splitlines() if line.strip()), type(exc).__name__)
    lowered = first.lower()
    where = safe_uri(uri)
    if isinstance(exc, FileNotFoundError) or any(s in lowered for s in (
            "not found", "no such file", "expanded paths were empty", "does not exist")):
        return LakePathNotFoundError(f"No {fmt} data at {where}: the file or folder does not exist.",
                                     hint="Check the path or glob.")
    if isinstance(exc, PermissionError) or any(s in lowered for s in (
            "403", "lacked the necessary privileges", "authenticationfailed", "authorizationfailure")):
        return CredentialError(f"Access to {fmt} data at {where} was refused by the storage service.",
                               hint="Check the account key / SAS token (and that it allows read and list).")
    return DataFormatError(f"Cannot read {fmt} data at {where}: {first[:300]}",
                           hint="Check the format and the files.")


_DELTA_COMMIT = re.compile(r"^\d{20}\.(json|checkpoint\.parquet)$|^\d{20}\.checkpoint\.\d+\.\d+\.parquet$")


def committed_table_format(storage: LakeStorage, relpath: str) -> Format | None:
    """The format of a lake table folder, judged only by a committed log; None if it has none.

    A folder is a table only through a committed log: a lakeml ``_lakeml_log`` with an entry, or a
    Delta ``_delta_log`` with a commit or checkpoint. Data files alone (a first write that was
    killed before its commit, of either format) make no table.
    """
    names = storage.list(relpath)
    if "_delta_log" in names and any(_DELTA_COMMIT.match(n) for n in storage.list(f"{relpath}/_delta_log")):
        return "delta"
    if LOG_DIR in names and is_parquet_table(storage, relpath):
        return "parquet"
    return None


def detect_folder_format(storage: LakeStorage, relpath: str) -> Format | None:
    """Guess the format of an external folder from its contents: a table log, else file names."""
    committed = committed_table_format(storage, relpath)
    if committed is not None:
        return committed
    for name in storage.list_files(relpath)[:50]:
        fmt = guess_format(name)
        if fmt:
            return fmt
    return None
