"""Row-count progress for long operations: a live bar on a terminal, silent when piped."""

from __future__ import annotations

import sys
import time
from types import TracebackType
from typing import Any

import polars as pl


class RowProgress:
    """Counts rows passing through a stream and shows rows and rows/s on stderr when it is a terminal.

    Use as a context manager; :meth:`count` is a ``map_batches`` function that passes frames through.
    """

    def __init__(self, label: str, *, enabled: bool | None = None, total: int | None = None) -> None:
        self.label = label
        self.enabled = sys.stderr.isatty() if enabled is None else enabled
        self.total = total
        self.rows = 0
        self._progress: Any = None
        self._task: Any = None
        self._started = time.perf_counter()

    def __enter__(self) -> RowProgress:
        if self.enabled:
            from rich.console import Console
            from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

            self._progress = Progress(
                SpinnerColumn(), TextColumn("[bold]{task.description}"), BarColumn(),
                TextColumn("{task.completed:,.0f} rows"), TextColumn("{task.fields[rate]}"), TimeElapsedColumn(),
                console=Console(stderr=True), transient=False,
            )
            self._progress.start()
            self._task = self._progress.add_task(self.label, total=self.total, rate="")
        return self

    def count(self, frame: pl.DataFrame) -> pl.DataFrame:
        """Add a batch's rows to the count and pass the batch through unchanged."""
        self.advance(frame.height)
        return frame

    def advance(self, rows: int) -> None:
        """Add ``rows`` to the count."""
        self.rows += rows
        if self._progress is not None:
            elapsed = max(time.perf_counter() - self._started, 1e-9)
            self._progress.update(self._task, completed=self.rows, rate=f"{self.rows / elapsed:,.0f} rows/s")

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self._progress is not None:
            self._progress.stop()
