"""``lake.pipelines``: store, run, inspect, rerun and cancel pipelines of one lake."""

from __future__ import annotations

import builtins
import contextlib
import json
import secrets
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, overload

import polars as pl

from lakeml.errors import ConfigError, PipelineNotFoundError
from lakeml.pipeline import records, store
from lakeml.pipeline.clock import Clock, SystemClock
from lakeml.pipeline.definition import Pipeline, convert
from lakeml.pipeline.expressions.datetimes import format_timestamp
from lakeml.pipeline.load import bind_parameters, load_pipeline
from lakeml.pipeline.records import ActivityRun, PipelineRun, Redactor, RunRecorder
from lakeml.pipeline.runner import DEFAULT_MAX_PARALLEL, RunState, Scope, run_scope
from lakeml.pipeline.show import format_tree

if TYPE_CHECKING:
    from lakeml.pipeline.context import PipelineContext
    from lakeml.storage.lakefs import LakeStorage

_CANCEL_POLL_S = 1.0
_RUN_SLOTS: dict[tuple[str, str], threading.Semaphore] = {}
_SLOTS_LOCK = threading.Lock()


def new_run_id(clock: Clock) -> str:
    """A run id that sorts by start time, e.g. ``20261203T153000Z-3f9a1c``."""
    return f"{clock.now().strftime('%Y%m%dT%H%M%SZ')}-{secrets.token_hex(3)}"


@dataclass
class RunResult:
    """A finished (or, with ``wait=False``, started) pipeline run."""

    run_id: str
    pipeline: str
    status: str
    message: str | None = None
    activities: list[dict[str, Any]] = field(default_factory=list)

    @property
    def succeeded(self) -> bool:
        """Whether the run ended Succeeded."""
        return self.status == "Succeeded"

    def output(self, activity: str) -> Any:
        """The output of a top-level activity (None when it has none or did not run)."""
        for record in self.activities:
            if record["activityName"] == activity and record.get("parent") is None:
                return record.get("output")
        return None

    def status_of(self, activity_id: str) -> str | None:
        """The status of an activity by id (``name``, or ``loop[2]/inner`` inside a ForEach)."""
        return next((a["status"] for a in self.activities if a["id"] == activity_id), None)


class RunHandle:
    """A run going on in a background thread: its live records, and a way to wait for it."""

    def __init__(self, recorder: RunRecorder, state: RunState) -> None:
        self.recorder = recorder
        self.state = state
        self.done = threading.Event()
        self.result: RunResult | None = None
        self.error: BaseException | None = None

    @property
    def run_id(self) -> str:
        """The run's id."""
        return self.recorder.run.runId

    def activities(self) -> list[ActivityRun]:
        """A snapshot of the activity records so far."""
        return self.recorder.snapshot()

    def wait(self, timeout: float | None = None) -> RunResult:
        """Wait for the run to end and return its result (re-raises a runner failure)."""
        self.done.wait(timeout)
        if self.error is not None:
            raise self.error
        assert self.result is not None
        return self.result

    def cancel(self) -> None:
        """Ask the run to stop: no new activity starts; waits end; running ones are marked Cancelled."""
        self.state.cancel.set()


class Pipelines:
    """The pipelines of one lake (``lake.pipelines``).

    Example:
        >>> lake.pipelines.create("examples/pipelines/flights.json")   # doctest: +SKIP
        >>> run = lake.pipelines.run("flights_daily", {"month": 3})    # doctest: +SKIP
        >>> print(lake.pipelines.show(run.run_id))                      # doctest: +SKIP
    """

    def __init__(self, lake: PipelineContext, *, clock: Clock | None = None) -> None:
        self.lake = lake
        self.clock: Clock = clock or SystemClock()
        self._active: dict[str, RunHandle] = {}
        self._recovered = False

    @property
    def storage(self) -> LakeStorage:
        """The lake's storage."""
        return self.lake.storage

    # -- definitions -------------------------------------------------------------------------------
    def load(self, source: str | Path | Mapping[str, Any] | Pipeline) -> Pipeline:
        """A pipeline from a stored name, a file path, a document or a Pipeline.

        Raises:
            PipelineNotFoundError: a name that is not stored (and not a file).
            PipelineValidationError: the definition has problems (all listed).
        """
        if isinstance(source, Pipeline):
            return source
        if isinstance(source, Mapping):
            return load_pipeline(source)
        text = str(source)
        if Path(text).expanduser().is_file():
            return load_pipeline(text)
        if text.lower().endswith((".json", ".yaml", ".yml")) and ("/" in text or "\\" in text):
            return load_pipeline(text)  # a missing file: say so
        document, base = store.load_document(self.storage, text)
        return load_pipeline(document, base_dir=base)

    def create(self, source: str | Path | Mapping[str, Any]) -> Pipeline:
        """Validate a definition and store it in the lake (replacing one of the same name)."""
        pipeline = load_pipeline(source) if isinstance(source, str | Path) else self.load(source)
        store.save(self.storage, pipeline)
        return pipeline

    def list(self) -> builtins.list[str]:
        """Names of the stored pipelines."""
        return store.names(self.storage)

    def delete(self, name: str) -> None:
        """Remove a stored pipeline (its run records stay)."""
        store.delete(self.storage, name)

    # -- runs --------------------------------------------------------------------------------------
    def recover(self) -> builtins.list[str]:
        """Mark runs of this host whose process died (kill -9) as Failed; returns their ids."""
        return records.recover_killed(self.storage)

    @overload
    def run(self, pipeline: str | Path | Mapping[str, Any] | Pipeline, parameters: Mapping[str, Any] | None = None,
            *, wait: Literal[True] = True, invoked_by: str = "Manual", trigger: Mapping[str, Any] | None = None,
            trigger_body: Mapping[str, Any] | None = None, max_parallel: int = DEFAULT_MAX_PARALLEL,
            clock: Clock | None = None, run_id: str | None = None) -> RunResult: ...

    @overload
    def run(self, pipeline: str | Path | Mapping[str, Any] | Pipeline, parameters: Mapping[str, Any] | None = None,
            *, wait: Literal[False], invoked_by: str = "Manual", trigger: Mapping[str, Any] | None = None,
            trigger_body: Mapping[str, Any] | None = None, max_parallel: int = DEFAULT_MAX_PARALLEL,
            clock: Clock | None = None, run_id: str | None = None) -> RunHandle: ...

    def run(self, pipeline: str | Path | Mapping[str, Any] | Pipeline, parameters: Mapping[str, Any] | None = None,
            *, wait: bool = True, invoked_by: str = "Manual", trigger: Mapping[str, Any] | None = None,
            trigger_body: Mapping[str, Any] | None = None, max_parallel: int = DEFAULT_MAX_PARALLEL,
            clock: Clock | None = None, run_id: str | None = None) -> RunResult | RunHandle:
        """Run a pipeline (a stored name, a file, a document) with parameters.

        Args:
            pipeline: a stored pipeline's name, a definition file, a document or a Pipeline.
            parameters: values by name, converted to the declared types.
            wait: wait for the end and return a :class:`RunResult`; False returns a :class:`RunHandle`.
            invoked_by: recorded as the run's ``invokedBy`` (Manual, a trigger's name, ...).
            trigger: what ``@trigger()`` returns (``{"name", "outputs": {"windowStartTime", ...}}``).
            trigger_body: what ``@triggerBody()`` returns (``fileName``, ``folderPath``).
            max_parallel: execution activities running at once.
            clock: the clock (tests pass a :class:`~lakeml.pipeline.clock.FakeClock`).
            run_id: the run's id (default: a new one).

        Raises:
            PipelineValidationError: a bad definition or bad parameter values (before anything runs).
        """
        loaded = self.load(pipeline)
        values = bind_parameters(loaded, parameters)
        handle = self._start(loaded, values, invoked_by=invoked_by, trigger=dict(trigger or {}),
                             trigger_body=dict(trigger_body or {}), max_parallel=max_parallel,
                             clock=clock or self.clock, run_id=run_id)
        return handle.wait() if wait else handle

    def _start(self, pipeline: Pipeline, values: dict[str, Any], *, invoked_by: str, trigger: dict[str, Any],
               trigger_body: dict[str, Any], max_parallel: int, clock: Clock, run_id: str | None,
               reuse: dict[str, ActivityRun] | None = None, rerun_of: str | None = None,
               variables: dict[str, Any] | None = None) -> RunHandle:
        if not self._recovered:
            self.recover()
            self._recovered = True
        secure = pipeline.secure_parameters()
        redactor = Redactor([str(values[n]) for n in secure if values.get(n) not in (None, "")])
        run = PipelineRun(runId=run_id or new_run_id(clock), pipelineName=pipeline.name,
                          parameters={k: (records.REDACTED if k in secure else v) for k, v in values.items()},
                          invokedBy=invoked_by, rerunOf=rerun_of)
        recorder = RunRecorder(self.storage, run, redactor)
        recorder.extra = {"definition": dict(pipeline.document), "baseDir": pipeline.base_dir}
        state = RunState(lake=self.lake, pipeline=pipeline, run=run, parameters=values, recorder=recorder,
                         clock=clock, handlers=_handlers(), max_parallel=max_parallel, trigger=trigger,
                         trigger_body=trigger_body, launcher=self._launcher(clock), reuse=reuse or {},
                         cancel_check=_cancel_probe(self.storage, run.runId))
        state.variables = {v.name: (convert(v.type, v.default) if v.default is not None
                                    else ([] if v.type == "array" else None)) for v in pipeline.variables}
        if variables:
            state.variables.update({k: v for k, v in variables.items() if k in state.variables})
        recorder.variables = dict(state.variables)
        recorder.flush(force=True)
        handle = RunHandle(recorder, state)
        self._active[run.runId] = handle
        thread = threading.Thread(target=self._execute, args=(handle, pipeline), daemon=True,
                                  name=f"lakeml-pipeline-{run.runId}")
        thread.start()
        return handle

    def _execute(self, handle: RunHandle, pipeline: Pipeline) -> None:
        state, run, recorder = handle.state, handle.recorder.run, handle.recorder
        slot = _slot(self.lake.root, pipeline) if pipeline.concurrency else None
        try:
            if slot is not None:
                while not slot.acquire(timeout=0.25):
                    if state.cancelled():
                        break
            run.status = "InProgress"
            run.runStart = format_timestamp(state.clock.now())
            started = state.clock.monotonic()
            recorder.flush(force=True)
            status = "Cancelled" if state.cancelled() else run_scope(Scope(state), pipeline.activities)
            run.status = status
            run.message = _summary(recorder, status)
            run.runEnd = format_timestamp(state.clock.now())
            run.durationInMs = round((state.clock.monotonic() - started) * 1000)
            recorder.variables = dict(state.variables)
            recorder.flush(force=True)
            self.storage.delete(records.cancel_path(run.runId))
            handle.result = RunResult(run.runId, run.pipelineName, status, run.message,
                                      [recorder.redact(_asdict(a)) for a in recorder.snapshot()])
        except BaseException as exc:
            handle.error = exc
            run.status, run.message = "Failed", f"The runner failed: {type(exc).__name__}: {exc}"
            with contextlib.suppress(BaseException):  # the original error matters more than a record write
                recorder.flush(force=True)
        finally:
            if slot is not None:
                slot.release()
            self._active.pop(run.runId, None)
            handle.done.set()

    def _launcher(self, clock: Clock) -> Callable[[str, dict[str, Any], bool, str], dict[str, Any]]:
        def launch(name: str, parameters: dict[str, Any], wait: bool, parent: str) -> dict[str, Any]:
            handle = self.run(name, parameters, wait=False, invoked_by=f"Pipeline run {parent}", clock=clock)
            if not wait:
                return {"pipelineRunId": handle.run_id, "status": "InProgress"}
            result = handle.wait()
            return {"pipelineRunId": result.run_id, "status": result.status, "message": result.message}
        return launch

    def runs(self, pipeline: str | None = None) -> pl.DataFrame:
        """Pipeline runs, newest first (optionally of one pipeline)."""
        self.recover()
        frame = records.runs_frame(self.storage)
        if pipeline is not None:
            frame = frame.filter(pl.col("pipelineName") == pipeline)
        return frame.sort("runId", descending=True)

    def get(self, run_id: str) -> dict[str, Any]:
        """The record of one run: ``run``, ``activities`` and ``variables``.

        Raises:
            PipelineNotFoundError: no such run.
        """
        document = records.read_run(self.storage, run_id)
        running = document.get("run", {}).get("status") in ("Queued", "InProgress")
        if running and run_id not in self._active and records.recover_killed(self.storage, only=[run_id]):
            document = records.read_run(self.storage, run_id)
        return document

    def show(self, run_id: str) -> str:
        """The activity tree of a run: status, attempt, duration and error of each activity."""
        return format_tree(self.get(run_id))

    @overload
    def rerun(self, run_id: str, *, from_failure: bool = False, parameters: Mapping[str, Any] | None = None,
              wait: Literal[True] = True, clock: Clock | None = None) -> RunResult: ...

    @overload
    def rerun(self, run_id: str, *, from_failure: bool = False, parameters: Mapping[str, Any] | None = None,
              wait: Literal[False], clock: Clock | None = None) -> RunHandle: ...

    def rerun(self, run_id: str, *, from_failure: bool = False, parameters: Mapping[str, Any] | None = None,
              wait: bool = True, clock: Clock | None = None) -> RunResult | RunHandle:
        """Run a recorded run's pipeline again with its parameters (secureString ones must be given again).

        With ``from_failure`` only the top-level activities that did not succeed run again; the
        ones that succeeded keep their outputs (and the run's variables carry over).
        """
        document = self.get(run_id)
        old_run = document["run"]
        if old_run.get("status") in ("Queued", "InProgress"):
            raise ConfigError(f"Run {run_id} is still {old_run.get('status')}.",
                              hint="Wait for it to end, or cancel it first.")
        definition = document.get("definition")
        if not definition:
            raise PipelineNotFoundError(f"Run {run_id} has no recorded definition.", hint="Run the pipeline anew.")
        pipeline = load_pipeline(definition, base_dir=document.get("baseDir"))
        given = {k: v for k, v in (old_run.get("parameters") or {}).items()
                 if k not in pipeline.secure_parameters()}
        values = bind_parameters(pipeline, {**given, **dict(parameters or {})})
        reuse: dict[str, ActivityRun] = {}
        if from_failure:
            for raw in document.get("activities", []):
                if raw.get("parent") is None and raw.get("status") == "Succeeded":
                    reuse[raw["activityName"]] = ActivityRun(**{k: raw.get(k) for k in _ACTIVITY_FIELDS})
                    if not reuse[raw["activityName"]].reusedFrom:
                        reuse[raw["activityName"]].reusedFrom = run_id
        handle = self._start(pipeline, values, invoked_by=f"Rerun of {run_id}", trigger={}, trigger_body={},
                             max_parallel=DEFAULT_MAX_PARALLEL, clock=clock or self.clock, run_id=None,
                             reuse=reuse, rerun_of=run_id,
                             variables=document.get("variables") if from_failure else None)
        return handle.wait() if wait else handle

    def cancel(self, run_id: str) -> None:
        """Ask a run to stop (in this process at once; in another through a marker it polls).

        Raises:
            PipelineNotFoundError: no such run.
            ConfigError: the run has already ended.
        """
        handle = self._active.get(run_id)
        if handle is not None:
            handle.cancel()
            return
        status = self.get(run_id)["run"].get("status")
        if status not in ("Queued", "InProgress"):
            raise ConfigError(f"Run {run_id} already ended ({status}).", hint="Only a queued or running run can "
                                                                               "be cancelled.")
        self.storage.write_bytes(records.cancel_path(run_id), b"cancel")


_ACTIVITY_FIELDS = tuple(ActivityRun.__dataclass_fields__)


def _asdict(record: ActivityRun) -> dict[str, Any]:
    from dataclasses import asdict

    return asdict(record)


def _summary(recorder: RunRecorder, status: str) -> str | None:
    if status == "Succeeded":
        return None
    failed = [a for a in recorder.snapshot() if a.status == "Failed" and a.error]
    if not failed:
        return f"The run ended {status}."
    first = failed[0]
    more = f" (and {len(failed) - 1} more)" if len(failed) > 1 else ""
    return recorder.redact(f"Activity {first.id!r} failed: {first.error.get('message') if first.error else ''}"
                           + more)


def _slot(root: str, pipeline: Pipeline) -> threading.Semaphore:
    with _SLOTS_LOCK:
        key = (root, pipeline.name)
        if key not in _RUN_SLOTS:
            _RUN_SLOTS[key] = threading.Semaphore(pipeline.concurrency or 1)
        return _RUN_SLOTS[key]


def _cancel_probe(storage: LakeStorage, run_id: str) -> Callable[[], bool]:
    last = {"at": 0.0, "value": False}
    lock = threading.Lock()

    def probe() -> bool:
        with lock:
            now = time.monotonic()
            if not last["value"] and now - float(last["at"]) >= _CANCEL_POLL_S:
                last["at"] = now
                last["value"] = bool(storage.exists(records.cancel_path(run_id)))
            return bool(last["value"])
    return probe


def _handlers() -> Any:
    from lakeml.pipeline.activities import HANDLERS

    return HANDLERS


def document_json(document: Mapping[str, Any]) -> str:
    """A run record as indented JSON."""
    return json.dumps(document, indent=2, default=str)
