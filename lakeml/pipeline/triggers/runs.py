"""The ``trigger_runs`` lake table: one row per pipeline run a trigger started (or tried to).

Built when queried from the fire logs (:mod:`.state`), the one record of what each trigger did, so it
can never disagree with them::

    lake.sql("SELECT trigger, windowStart, status, runId FROM trigger_runs ORDER BY windowStart")
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import polars as pl

from lakeml.pipeline.triggers.state import STATE_ROOT, FireStore
from lakeml.pipeline.triggers.timefmt import parse_instant
from lakeml.storage.lakefs import LakeStorage

VIEW_NAME = "trigger_runs"
_TIME = pl.Datetime("us", "UTC")
SCHEMA: dict[str, pl.DataType] = {
    "trigger": pl.String(), "triggerType": pl.String(), "pipeline": pl.String(), "runId": pl.String(),
    "status": pl.String(), "attempt": pl.Int64(), "windowStart": _TIME, "windowEnd": _TIME,
    "scheduledTime": _TIME, "fileName": pl.String(), "folderPath": pl.String(), "invokedBy": pl.String(),
    "start": _TIME, "end": _TIME, "durationInMs": pl.Int64(), "message": pl.String(), "fireKey": pl.String(),
}


def _time(value: Any) -> datetime | None:
    return parse_instant(value) if isinstance(value, str) and value else None


def trigger_names(storage: LakeStorage) -> list[str]:
    """Triggers with fire state in the lake."""
    return sorted(n for n in storage.list(STATE_ROOT) if not n.startswith("_"))


def rows(storage: LakeStorage, trigger: str | None = None) -> list[dict[str, Any]]:
    """One dict per attempt and pipeline of every fire (of ``trigger``, or of all triggers)."""
    out: list[dict[str, Any]] = []
    for name in [trigger] if trigger else trigger_names(storage):
        for key, fire in FireStore(storage, name).all().items():
            for attempt in fire.attempts():
                start, end = _time(attempt.get("start")), _time(attempt.get("end"))
                base = {
                    "trigger": name, "triggerType": attempt.get("triggerType"), "status": attempt.get("status"),
                    "attempt": attempt.get("attempt"), "windowStart": _time(attempt.get("windowStart")),
                    "windowEnd": _time(attempt.get("windowEnd")),
                    "scheduledTime": _time(attempt.get("scheduledTime")), "fileName": attempt.get("fileName"),
                    "folderPath": attempt.get("folderPath"), "invokedBy": attempt.get("invokedBy"),
                    "start": start, "end": end,
                    "durationInMs": int((end - start).total_seconds() * 1000) if start and end else None,
                    "message": attempt.get("message") or None, "fireKey": key, "pipeline": None, "runId": None,
                }
                runs = attempt.get("runs") or [{}]
                for run in runs:
                    row = dict(base)
                    row["pipeline"] = run.get("pipeline")
                    row["runId"] = run.get("runId") or None
                    out.append(row)
    return out


def frame(storage: LakeStorage, trigger: str | None = None) -> pl.DataFrame:
    """``trigger_runs`` as a DataFrame, ordered by trigger, fire and attempt."""
    data = rows(storage, trigger)
    table = pl.DataFrame(data, schema=SCHEMA) if data else pl.DataFrame(schema=SCHEMA)
    return table.sort("trigger", "fireKey", "attempt")


def views(storage: LakeStorage) -> dict[str, Callable[[], pl.LazyFrame]]:
    """The ``trigger_runs`` SQL view, read when a query runs."""
    return {VIEW_NAME: lambda: frame(storage).lazy()}
