"""Run records: one JSON document per pipeline run under ``_lakeml/pipeline_runs/``.

A document holds the run (``pipeline_runs`` row), its activity runs (``activity_runs`` rows) and
the final variable values. It is rewritten atomically as the run goes (at most every
``FLUSH_INTERVAL_S`` while activities finish, and at every change of the run's status), so a
killed run leaves its last state behind. :func:`views` exposes the documents to ``lake.sql`` as
the ``pipeline_runs`` and ``activity_runs`` views.
"""

from __future__ import annotations

import json
import os
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import polars as pl

from lakeml.errors import LakePathNotFoundError, PipelineNotFoundError
from lakeml.storage.lakefs import LakeStorage

RUNS_DIR = "_lakeml/pipeline_runs"
FLUSH_INTERVAL_S = 0.5
TERMINAL = ("Succeeded", "Failed", "Cancelled", "Skipped")
REDACTED = "***"


@dataclass
class ActivityRun:
    """One activity run (one row of ``activity_runs``); ``id`` is unique in the run
    (``loop[2]/load`` for an activity inside iteration 2 of ForEach ``loop``)."""

    id: str
    activityName: str
    activityType: str
    parent: str | None = None
    status: str = "Queued"
    attempt: int = 0
    start: str | None = None
    end: str | None = None
    durationInMs: int | None = None
    input: Any = None
    output: Any = None
    error: dict[str, Any] | None = None
    reusedFrom: str | None = None


@dataclass
class PipelineRun:
    """One pipeline run (one row of ``pipeline_runs``)."""

    runId: str
    pipelineName: str
    parameters: dict[str, Any] = field(default_factory=dict)
    invokedBy: str = "Manual"
    runStart: str | None = None
    runEnd: str | None = None
    durationInMs: int | None = None
    status: str = "Queued"
    message: str | None = None
    rerunOf: str | None = None
    host: str = field(default_factory=socket.gethostname)
    pid: int = field(default_factory=os.getpid)
    processStart: float | None = field(default_factory=lambda: process_start(os.getpid()))


def process_start(pid: int) -> float | None:
    """The start time of process ``pid`` in clock ticks since boot (Linux), to tell a reused pid apart."""
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return float(handle.read().rsplit(")", 1)[1].split()[19])
    except (OSError, IndexError, ValueError):
        return None


def process_alive(pid: int, started: float | None) -> bool:
    """Whether process ``pid`` (started at ``started``) still runs on this host."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return started is None or process_start(pid) in (None, started)


class Redactor:
    """Replaces secureString parameter values wherever they appear in a record."""

    def __init__(self, secrets: list[str]) -> None:
        self.secrets = sorted({s for s in secrets if s}, key=len, reverse=True)

    def __call__(self, value: Any) -> Any:
        if not self.secrets:
            return value
        if isinstance(value, str):
            for secret in self.secrets:
                value = value.replace(secret, REDACTED)
            return value
        if isinstance(value, dict):
            return {k: self(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self(v) for v in value]
        return value


class RunRecorder:
    """Keeps one run's records in memory and writes them to the lake (throttled)."""

    def __init__(self, storage: LakeStorage, run: PipelineRun, redactor: Redactor) -> None:
        self.storage = storage
        self.run = run
        self.redact = redactor
        self.activities: dict[str, ActivityRun] = {}
        self.variables: dict[str, Any] = {}
        self.extra: dict[str, Any] = {}  # the definition the run used, for reruns
        self._lock = threading.Lock()
        self._last_flush = 0.0
        self._dirty = False

    def update(self, record: ActivityRun, *, force: bool = False) -> None:
        """Store ``record`` (by id) and flush when due."""
        with self._lock:
            self.activities[record.id] = record
            self._dirty = True
        self.flush(force=force)

    def snapshot(self) -> list[ActivityRun]:
        """The activity records so far (a copy, safe while the run goes on)."""
        with self._lock:
            return list(self.activities.values())

    def flush(self, *, force: bool = False) -> None:
        """Write the run document if something changed and the interval has passed (or ``force``)."""
        now = time.monotonic()
        with self._lock:
            if not force and (not self._dirty or now - self._last_flush < FLUSH_INTERVAL_S):
                return
            document = {"run": self.redact(asdict(self.run)),
                        "activities": [self.redact(asdict(a)) for a in self.activities.values()],
                        "variables": self.redact(self.variables), **self.redact(self.extra)}
            self._last_flush = now
            self._dirty = False
            data = json.dumps(document, default=str).encode()
            self.storage.write_bytes(run_path(self.run.runId), data)


def run_path(run_id: str) -> str:
    """Where the document of run ``run_id`` lives."""
    return f"{RUNS_DIR}/{run_id}.json"


def cancel_path(run_id: str) -> str:
    """The marker file asking run ``run_id`` to stop."""
    return f"{RUNS_DIR}/{run_id}.cancel"


def run_ids(storage: LakeStorage) -> list[str]:
    """Ids of every recorded run, oldest first."""
    return sorted(n[:-5] for n in storage.list(RUNS_DIR) if n.endswith(".json"))


def read_run(storage: LakeStorage, run_id: str) -> dict[str, Any]:
    """The document of one run.

    Raises:
        PipelineNotFoundError: no such run.
    """
    try:
        return dict(json.loads(storage.read_bytes(run_path(run_id))))
    except LakePathNotFoundError:
        known = run_ids(storage)
        hint = (f"Recent runs: {', '.join(known[-5:])}." if known
                else "No pipeline has run in this lake yet.")
        raise PipelineNotFoundError(f"No pipeline run {run_id!r}.", hint=hint) from None


def write_run(storage: LakeStorage, document: dict[str, Any]) -> None:
    """Rewrite a run document (atomic)."""
    storage.write_bytes(run_path(document["run"]["runId"]), json.dumps(document, default=str).encode())


def recover_killed(storage: LakeStorage, *, host: str | None = None, only: list[str] | None = None) -> list[str]:
    """Mark runs whose process is gone (killed) as Failed; returns their ids.

    Only runs of this host are checked (another machine's process cannot be seen from here);
    ``only`` limits the check to those run ids.
    """
    here = host or socket.gethostname()
    found = []
    for run_id in only if only is not None else run_ids(storage):
        try:
            document = read_run(storage, run_id)
        except (PipelineNotFoundError, json.JSONDecodeError):
            continue
        run = document.get("run", {})
        if run.get("status") not in ("Queued", "InProgress") or run.get("host") != here:
            continue
        if process_alive(int(run.get("pid", 0)), run.get("processStart")):
            continue
        reason = (f"The process running this run (pid {run.get('pid')} on {here}) ended without finishing it "
                  "(killed or crashed).")
        run.update(status="Failed", message=reason)
        for activity in document.get("activities", []):
            if activity.get("status") in ("Queued", "InProgress"):
                activity["status"] = "Failed"
                activity["error"] = {"message": reason, "code": "RunKilled"}
        write_run(storage, document)
        found.append(run_id)
    return found


_RUN_SCHEMA: dict[str, pl.DataType] = {
    "runId": pl.String(), "pipelineName": pl.String(), "parameters": pl.String(), "invokedBy": pl.String(),
    "runStart": pl.String(), "runEnd": pl.String(), "durationInMs": pl.Int64(), "status": pl.String(),
    "message": pl.String(), "rerunOf": pl.String()}
_ACTIVITY_SCHEMA: dict[str, pl.DataType] = {
    "runId": pl.String(), "id": pl.String(), "activityName": pl.String(), "activityType": pl.String(),
    "parent": pl.String(), "attempt": pl.Int64(), "status": pl.String(), "start": pl.String(), "end": pl.String(),
    "durationInMs": pl.Int64(), "input": pl.String(), "output": pl.String(), "error": pl.String(),
    "reusedFrom": pl.String()}


def _documents(storage: LakeStorage) -> list[dict[str, Any]]:
    out = []
    for run_id in run_ids(storage):
        try:
            out.append(read_run(storage, run_id))
        except (PipelineNotFoundError, json.JSONDecodeError):
            continue
    return out


def _text(value: Any) -> str | None:
    return None if value is None else json.dumps(value, default=str)


def runs_frame(storage: LakeStorage) -> pl.DataFrame:
    """Every pipeline run, one row each (JSON columns as text)."""
    rows = []
    for doc in _documents(storage):
        run = doc.get("run", {})
        rows.append({k: (_text(run.get(k)) if k == "parameters" else run.get(k)) for k in _RUN_SCHEMA})
    return pl.DataFrame(rows, schema=_RUN_SCHEMA)


def activities_frame(storage: LakeStorage) -> pl.DataFrame:
    """Every activity run of every pipeline run (input, output, error as JSON text)."""
    rows = []
    for doc in _documents(storage):
        run_id = doc.get("run", {}).get("runId")
        for activity in doc.get("activities", []):
            row = {k: activity.get(k) for k in _ACTIVITY_SCHEMA}
            row["runId"] = run_id
            for key in ("input", "output", "error"):
                row[key] = _text(activity.get(key))
            rows.append(row)
    return pl.DataFrame(rows, schema=_ACTIVITY_SCHEMA)


def views(storage: LakeStorage) -> dict[str, Callable[[], pl.LazyFrame]]:
    """SQL built-in views: ``pipeline_runs`` and ``activity_runs`` (read when the query runs)."""
    return {"pipeline_runs": lambda: runs_frame(storage).lazy(),
            "activity_runs": lambda: activities_frame(storage).lazy()}
