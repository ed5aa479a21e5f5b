"""``lake.vacuum()``: remove files that no committed version needs any more.

What a vacuum removes, once it is older than the retention period (so that a writer that is still
running is never robbed of files it is about to commit):

- data folders of lakeml Parquet tables that neither the newest nor the previous version references
  (left by killed writers, or by overwrites whose tidying was interrupted);
- table folders with files but no committed log (a first write that never committed);
- files of Delta tables that no version within the retention period references (``deltalake``'s
  own vacuum, which also removes the files of Delta writes that never committed);
- model version folders whose manifest was never written (an interrupted registration);
- temporary files of interrupted local writes (``.<name>.<random>.tmp``).
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass

from lakeml.errors import ConfigError, LakeMLError, StorageError
from lakeml.query.catalog import TABLES_DIR
from lakeml.query.formats import committed_table_format
from lakeml.query.parquet_table import DATA_DIR, latest_version, read_version
from lakeml.storage.lakefs import LakeStorage

DEFAULT_RETENTION_HOURS = 168.0  # Delta's default: a week
_TEMP_FILE = re.compile(r"(^|/)\.[^/]+\.[^/]+\.tmp$")


@dataclass(frozen=True)
class VacuumReport:
    """What a vacuum removed (or, with ``dry_run``, would remove).

    Attributes:
        removed: paths relative to the lake root; a folder stands for everything below it.
        dry_run: True if nothing was deleted.
        retention_hours: the retention period that was applied.
    """

    removed: tuple[str, ...]
    dry_run: bool
    retention_hours: float

    def __len__(self) -> int:
        return len(self.removed)


def vacuum(storage: LakeStorage, *, models_dir: str, runs_dir: str, retention_hours: float = DEFAULT_RETENTION_HOURS,
           dry_run: bool = False, now: float | None = None) -> VacuumReport:
    """Remove files of the lake that no committed version references; see the module docstring.

    Args:
        storage: the lake's storage.
        models_dir: the model registry's folder (version folders below ``<model>/``).
        runs_dir: the folder of run tables (``<run>/<table>/``).
        retention_hours: only files older than this are removed.
        dry_run: report without deleting.
        now: the current time (seconds since the epoch); for tests.

    Raises:
        ConfigError: a negative ``retention_hours``.
    """
    if retention_hours < 0:
        raise ConfigError(f"retention_hours must be >= 0, got {retention_hours}.",
                          hint="Use the default (168 hours), or 0 only when no writer is running.")
    cutoff = (time.time() if now is None else now) - retention_hours * 3600
    sweep = _Sweep(storage, cutoff, dry_run)
    for name in storage.list(TABLES_DIR):
        sweep.table_folder(f"{TABLES_DIR}/{name}", retention_hours)
    for run in storage.list(runs_dir):
        for table in storage.list(f"{runs_dir}/{run}"):
            sweep.table_folder(f"{runs_dir}/{run}/{table}", retention_hours)
    for model in storage.list(models_dir):
        sweep.model_folder(f"{models_dir}/{model}")
    if storage.root.is_local:
        sweep.temp_files()
    return VacuumReport(tuple(sweep.removed), dry_run, retention_hours)


class _Sweep:
    def __init__(self, storage: LakeStorage, cutoff: float, dry_run: bool) -> None:
        self.storage = storage
        self.cutoff = cutoff
        self.dry_run = dry_run
        self.removed: list[str] = []

    def _old(self, relpath: str) -> bool:
        """Whether nothing below ``relpath`` changed since the cutoff."""
        times = self.storage.modified_times(relpath)
        return max(times.values(), default=0.0) < self.cutoff

    def _remove(self, relpath: str) -> None:
        self.removed.append(relpath)
        if not self.dry_run:
            self.storage.delete(relpath, recursive=True)

    def table_folder(self, folder: str, retention_hours: float) -> None:
        fmt = committed_table_format(self.storage, folder)
        if fmt == "parquet":
            self._parquet_table(folder)
        elif fmt == "delta":
            self._delta_table(folder, retention_hours)
        elif self.storage.list(folder) and self._old(folder):
            self._remove(folder)

    def _parquet_table(self, folder: str) -> None:
        current = latest_version(self.storage, folder)
        if current is None:
            return
        live = set(current.tokens)
        if current.version > 0:
            live |= read_version(self.storage, folder, current.version - 1).tokens
        for token in self.storage.list(f"{folder}/{DATA_DIR}"):
            path = f"{folder}/{DATA_DIR}/{token}"
            if token not in live and self._old(path):
                self._remove(path)

    def _delta_table(self, folder: str, retention_hours: float) -> None:
        from deltalake import DeltaTable

        try:
            table = DeltaTable(self.storage.uri(folder), storage_options=self.storage.storage_options or None)
            files = table.vacuum(retention_hours=int(retention_hours), dry_run=self.dry_run,
                                 enforce_retention_duration=False)
        except LakeMLError:
            raise
        except Exception as exc:
            raise StorageError(f"Vacuuming the Delta table at {folder!r} failed: "
                               f"{self.storage.redact(str(exc)).splitlines()[0][:300]}",
                               hint="Check that the table is readable "
                                    "([[lake.table(name)|lakeml describe TABLE]]).") from exc
        self.removed.extend(f"{folder}/{f}" for f in files)

    def model_folder(self, folder: str) -> None:
        for version in self.storage.list(folder):
            path = f"{folder}/{version}"
            if version.isdecimal() and not self.storage.exists(f"{path}/manifest.json") and self._old(path):
                self._remove(path)

    def temp_files(self) -> None:
        for relpath in self.storage.modified_times(""):
            if _TEMP_FILE.search(relpath) and self._old(relpath):
                self._remove(relpath)

