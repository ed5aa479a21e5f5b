"""``lake.triggers``: store, inspect, backfill, rerun and serve a lake's triggers from Python.

>>> lake.triggers.create("hourly.json")                                              # doctest: +SKIP
>>> lake.triggers.backfill("hourly", start="2026-01-01T00:00:00Z", end="2026-01-02T00:00:00Z")  # doctest: +SKIP
>>> lake.sql("SELECT windowStart, status, runId FROM trigger_runs").collect()         # doctest: +SKIP
"""

from __future__ import annotations

import builtins
import threading
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl

from lakeml.errors import ConfigError
from lakeml.pipeline.triggers import runs as trigger_runs
from lakeml.pipeline.triggers.clock import Clock
from lakeml.pipeline.triggers.definition import Trigger
from lakeml.pipeline.triggers.fire import RunPipeline
from lakeml.pipeline.triggers.invoke import lake_runner
from lakeml.pipeline.triggers.operations import BackfillResult, backfill, rerun_window
from lakeml.pipeline.triggers.scheduler import Scheduler
from lakeml.pipeline.triggers.state import Fire
from lakeml.pipeline.triggers.store import TriggerStore
from lakeml.pipeline.triggers.timefmt import parse_instant

if TYPE_CHECKING:
    from lakeml.pipeline.context import PipelinesContext


def _instant(value: str | datetime, name: str) -> datetime:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    try:
        return parse_instant(value)
    except ValueError as exc:
        raise ConfigError(f"{name}={value!r}: {exc}.", hint=f"Pass [[{name}='2026-01-01T00:00:00Z'|--{name} "
                                                            "2026-01-01T00:00:00Z]] or a datetime.") from None


class Triggers:
    """The triggers of one lake (``lake.triggers``).

    Args:
        lake: the lake (the session's ``Lake``; its ``pipelines`` run the fires unless ``run`` is given).
        run: how a fire runs its pipeline (default: ``lake.pipelines.run``; tests pass their own).
    """

    def __init__(self, lake: PipelinesContext, *, run: RunPipeline | None = None) -> None:
        self.lake = lake
        self.store = TriggerStore(lake.storage)
        self._run = run

    @property
    def runner(self) -> RunPipeline:
        """The callable that runs one pipeline for one fire."""
        return self._run or lake_runner(self.lake)

    def create(self, source: str | Path | Mapping[str, Any], *, replace: bool = False) -> Trigger:
        """Validate a trigger definition (dict, or JSON/YAML file or text) and store it in the lake.

        Raises:
            TriggerValidationError: every problem, each with its JSON path.
            ConfigError: a trigger of that name exists (without ``replace``), or a pipeline is not stored.
        """
        return self.store.create(source, replace=replace)

    def list(self) -> builtins.list[str]:
        """Names of the stored triggers."""
        return self.store.names()

    def get(self, name: str) -> Trigger:
        """A stored trigger (TriggerNotFoundError with the closest names if missing)."""
        return self.store.get(name)

    def delete(self, name: str) -> None:
        """Delete a trigger and its window state."""
        self.store.delete(name)

    def runs(self, name: str | None = None) -> pl.DataFrame:
        """The ``trigger_runs`` table (of trigger ``name``): one row per attempt and pipeline run."""
        return trigger_runs.frame(self.lake.storage, name)

    def backfill(self, name: str, *, start: str | datetime, end: str | datetime, pipeline: str | None = None,
                 force: bool = False, clock: Clock | None = None) -> BackfillResult:
        """Run the windows of tumbling window trigger ``name`` that start in ``[start, end)``, oldest first;
        succeeded windows are skipped unless ``force``. See :func:`~.operations.backfill`."""
        return backfill(self.lake.storage, self.get(name), self.runner, start=_instant(start, "start"),
                        end=_instant(end, "end"), pipeline=pipeline, force=force, clock=clock)

    def rerun(self, name: str, window_start: str | datetime, *, clock: Clock | None = None) -> Fire:
        """Run one window of tumbling window trigger ``name`` again; returns its record."""
        return rerun_window(self.lake.storage, self.get(name), self.runner,
                            window_start=_instant(window_start, "window_start"), clock=clock)

    def scheduler(self, *, names: builtins.list[str] | None = None, clock: Clock | None = None,
                  log: Callable[[str], None] | None = None) -> Scheduler:
        """A scheduler over the stored triggers (re-read on every tick), or only ``names``."""
        wanted = set(names or [])
        for name in wanted:
            self.get(name)  # unknown names fail now, with the available ones
        return Scheduler(self.lake.storage, lambda: [t for t in self.store.all() if not wanted or t.name in wanted],
                         self.runner, clock=clock, log=log, commit_retries=self.lake.config.commit_retries)

    def serve(self, *, poll: float = 10.0, grace: float = 30.0, names: builtins.list[str] | None = None,
              stop: threading.Event | None = None, clock: Clock | None = None) -> None:
        """Run the triggers in this thread until ``stop`` is set (``lakeml pipeline serve`` adds signals)."""
        self.scheduler(names=names, clock=clock).serve(poll=poll, grace=grace, stop=stop)
