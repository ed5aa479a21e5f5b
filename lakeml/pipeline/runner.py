"""The DAG executor: runs a pipeline's activities in dependency order, in parallel where it can.

Each activity list (the pipeline's, a ForEach iteration's, an IfCondition branch's) is a
:class:`Scope`. An activity starts when all its dependencies have ended; it runs when every
dependency ended in one of its conditions (AND across dependencies, OR within one), else it is
Skipped, and skipping spreads down the chain. A scope's status follows the leaf rule
(:func:`scope_status`). Execution activities run on a helper thread so their policy timeout holds,
and at most ``max_parallel`` of them run at once in a run.
"""

from __future__ import annotations

import queue
import random
import threading
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from lakeml.errors import ActivityError, ActivityTimeoutError, LakeMLError
from lakeml.pipeline.clock import Clock
from lakeml.pipeline.definition import Activity, Pipeline
from lakeml.pipeline.expressions.datetimes import format_timestamp
from lakeml.pipeline.expressions.template import Template, render
from lakeml.pipeline.policy import is_retryable, retry_delay
from lakeml.pipeline.records import ActivityRun, PipelineRun, RunRecorder
from lakeml.pipeline.types import ACTIVITY_TYPES

if TYPE_CHECKING:
    from lakeml.pipeline.context import PipelineContext

DEFAULT_MAX_PARALLEL = 16
_NO_ITEM = object()
_POLL_S = 0.25
Handler = Callable[["ActivityContext", dict[str, Any]], Any]
Launcher = Callable[[str, dict[str, Any], bool, str], dict[str, Any]]


@dataclass
class RunState:
    """Everything one pipeline run shares across its activities and threads."""

    lake: PipelineContext
    pipeline: Pipeline
    run: PipelineRun
    parameters: dict[str, Any]
    recorder: RunRecorder
    clock: Clock
    handlers: Mapping[str, Handler]
    max_parallel: int = DEFAULT_MAX_PARALLEL
    variables: dict[str, Any] = field(default_factory=dict)
    trigger: dict[str, Any] = field(default_factory=dict)
    trigger_body: dict[str, Any] = field(default_factory=dict)
    launcher: Launcher | None = None
    reuse: dict[str, ActivityRun] = field(default_factory=dict)
    cancel: threading.Event = field(default_factory=threading.Event)
    cancel_check: Callable[[], bool] | None = None
    rng: random.Random = field(default_factory=random.Random)
    var_lock: threading.Lock = field(default_factory=threading.Lock)
    slots: threading.BoundedSemaphore = field(init=False)

    def __post_init__(self) -> None:
        self.slots = threading.BoundedSemaphore(max(1, self.max_parallel))

    def now_text(self) -> str:
        """The clock's time in the records' format."""
        return format_timestamp(self.clock.now())

    def cancelled(self) -> bool:
        """Whether the run was asked to stop (in this process or through the lake)."""
        if not self.cancel.is_set() and self.cancel_check is not None and self.cancel_check():
            self.cancel.set()
        return self.cancel.is_set()


@dataclass
class Scope:
    """One activity list being run: its results so far and where it sits in the run."""

    run: RunState
    parent: Scope | None = None
    prefix: str = ""
    parent_id: str | None = None
    item: Any = _NO_ITEM
    results: dict[str, ActivityRun] = field(default_factory=dict)

    def find(self, name: str) -> ActivityRun | None:
        """The record of activity ``name`` here or in an enclosing scope."""
        scope: Scope | None = self
        while scope is not None:
            if name in scope.results:
                return scope.results[name]
            scope = scope.parent
        return None


class Evaluator:
    """Answers expression references from a scope (implements ``EvalContext``)."""

    def __init__(self, scope: Scope) -> None:
        self.scope = scope

    def pipeline(self) -> dict[str, Any]:
        run = self.scope.run
        return {"parameters": run.parameters, "RunId": run.run.runId, "Pipeline": run.pipeline.name,
                "TriggerTime": run.trigger.get("startTime", run.run.runStart),
                "TriggerType": run.trigger.get("type", run.run.invokedBy),
                "TriggerName": run.trigger.get("name", run.run.invokedBy), "GroupId": run.run.runId}

    def activity(self, name: str) -> dict[str, Any]:
        record = self.scope.find(name)
        if record is None or record.status in ("Queued", "InProgress"):
            raise KeyError(f"activity {name!r} has not run yet (make this activity depend on it)")
        return {"output": record.output if record.output is not None else {}, "status": record.status,
                "error": record.error or {}}

    def item(self) -> Any:
        scope: Scope | None = self.scope
        while scope is not None:
            if scope.item is not _NO_ITEM:
                return scope.item
            scope = scope.parent
        raise LookupError("item() is only available inside a ForEach")

    def variable(self, name: str) -> Any:
        run = self.scope.run
        with run.var_lock:
            if name not in run.variables:
                raise KeyError(f"no variable {name!r} is declared")
            return run.variables[name]

    def trigger(self) -> dict[str, Any]:
        return self.scope.run.trigger

    def trigger_body(self) -> dict[str, Any]:
        return self.scope.run.trigger_body

    def now(self) -> datetime:
        return self.scope.run.clock.now()


@dataclass
class ActivityContext:
    """What an activity handler gets: the run, its scope, its record and a stop signal."""

    run: RunState
    scope: Scope
    activity: Activity
    record: ActivityRun
    stop: threading.Event

    @property
    def lake(self) -> PipelineContext:
        """The open lake."""
        return self.run.lake

    def evaluate(self, value: Any) -> Any:
        """Evaluate a compiled value (a lazy property) in this activity's scope."""
        return render(value, Evaluator(self.scope))

    def stopped(self) -> bool:
        """Whether the activity should stop (timeout or run cancelled)."""
        return self.stop.is_set() or self.run.cancelled()

    def run_children(self, key: str, *, index: int | None = None, item: Any = _NO_ITEM) -> str:
        """Run a nested activity list; returns its status (Succeeded, Failed or Cancelled)."""
        activities = self.activity.children.get(key, ())
        tag = f"[{index}]" if index is not None else (f"/{key}" if key != "activities" else "")
        scope = Scope(self.run, parent=self.scope, prefix=f"{self.record.id}{tag}/", parent_id=self.record.id,
                      item=item)
        return run_scope(scope, activities)


def run_scope(scope: Scope, activities: tuple[Activity, ...]) -> str:
    """Run one activity list to the end; returns Succeeded, Failed or Cancelled (the leaf rule)."""
    run = scope.run
    by_name = {a.name: a for a in activities}
    dependents: dict[str, list[str]] = {a.name: [] for a in activities}
    waiting = {a.name: len(a.depends_on) for a in activities}
    for a in activities:
        for dep in a.depends_on:
            dependents[dep.activity].append(a.name)
    status: dict[str, str] = {}
    ready = deque(a.name for a in activities if not a.depends_on)
    done: queue.Queue[tuple[str, str]] = queue.Queue()
    running = 0
    limit = max(1, run.max_parallel)

    def finish(name: str, final: str) -> None:
        status[name] = final
        for child in dependents[name]:
            waiting[child] -= 1
            if waiting[child] == 0:
                ready.append(child)

    while ready or running:
        while ready and running < limit:
            name = ready.popleft()
            activity = by_name[name]
            verdict = _verdict(activity, status)
            if verdict != "run" or run.cancelled():
                final = "Cancelled" if run.cancelled() else "Skipped"
                _mark(scope, activity, final)
                finish(name, final)
                continue
            reused = run.reuse.get(name) if scope.parent is None else None
            if reused is not None:
                _reuse(scope, activity, reused)
                finish(name, "Succeeded")
                continue
            running += 1
            threading.Thread(target=_worker, args=(scope, activity, done), daemon=True,
                             name=f"lakeml-activity-{name}").start()
        if running:
            try:
                name, final = done.get(timeout=_POLL_S)
            except queue.Empty:
                run.cancelled()  # polls the lake's cancel marker
                run.recorder.flush()
                continue
            running -= 1
            finish(name, final)
    for activity in activities:  # never reached (only possible with a cycle, which validation refuses)
        if activity.name not in status:
            _mark(scope, activity, "Cancelled")
            status[activity.name] = "Cancelled"
    return scope_status(activities, status, cancelled=run.cancelled())


def _worker(scope: Scope, activity: Activity, done: queue.Queue[tuple[str, str]]) -> None:
    try:
        final = execute(scope, activity)
    except BaseException:  # a bug in the runner itself must not hang the scope
        final = "Failed"
    done.put((activity.name, final))


def _verdict(activity: Activity, status: Mapping[str, str]) -> str:
    """``run`` when every dependency ended in one of its conditions, else ``skip``."""
    for dep in activity.depends_on:
        ended = status.get(dep.activity)
        allowed = set(dep.conditions)
        if "Completed" in allowed:
            allowed |= {"Succeeded", "Failed"}
        if ended not in allowed:
            return "skip"
    return "run"


def scope_status(activities: tuple[Activity, ...], status: Mapping[str, str], *, cancelled: bool = False) -> str:
    """The status of an activity list by the leaf rule.

    Look at the leaves (activities nothing depends on); for a Skipped leaf look at its parents
    instead (recursively). Succeeded when everything looked at succeeded, else Failed; Cancelled
    when the run was cancelled and something did not succeed.
    """
    by_name = {a.name: a for a in activities}
    has_dependents = {d.activity for a in activities for d in a.depends_on}

    def good(name: str, seen: frozenset[str]) -> bool:
        state = status.get(name)
        if state == "Skipped":
            parents = [d.activity for d in by_name[name].depends_on if d.activity not in seen]
            return all(good(p, seen | {name}) for p in parents)
        return state == "Succeeded"

    ok = all(good(a.name, frozenset()) for a in activities if a.name not in has_dependents)
    if ok:
        return "Succeeded"
    if cancelled or any(s == "Cancelled" for s in status.values()):
        return "Cancelled"
    return "Failed"


def _record(scope: Scope, activity: Activity, status: str) -> ActivityRun:
    return ActivityRun(id=f"{scope.prefix}{activity.name}", activityName=activity.name,
                       activityType=activity.type, parent=scope.parent_id, status=status)


def _mark(scope: Scope, activity: Activity, status: str) -> None:
    record = _record(scope, activity, status)
    scope.results[activity.name] = record
    scope.run.recorder.update(record)


def _reuse(scope: Scope, activity: Activity, earlier: ActivityRun) -> None:
    record = _record(scope, activity, "Succeeded")
    record.output, record.input, record.attempt = earlier.output, earlier.input, earlier.attempt
    record.start, record.end, record.durationInMs = earlier.start, earlier.end, earlier.durationInMs
    record.reusedFrom = earlier.reusedFrom or scope.run.run.rerunOf
    scope.results[activity.name] = record
    scope.run.recorder.update(record)


def error_record(exc: BaseException) -> dict[str, Any]:
    """How an error is recorded: message, code and type (lakeml errors keep their hint)."""
    if isinstance(exc, LakeMLError):
        return {"message": exc.message, "hint": exc.hint, "code": getattr(exc, "code", type(exc).__name__),
                "type": type(exc).__name__}
    return {"message": f"{type(exc).__name__}: {exc}", "code": type(exc).__name__, "type": type(exc).__name__}


def jsonable(value: Any) -> Any:
    """A value as JSON can hold it (lazy properties as their expression text, others as text)."""
    if isinstance(value, Template):
        return value.source
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if value is None or isinstance(value, str | int | float | bool):
        return value
    if isinstance(value, datetime):
        return format_timestamp(value)
    return str(value)


def execute(scope: Scope, activity: Activity) -> str:
    """Run one activity with its policy (retries, timeout); record it; return its final status."""
    run = scope.run
    record = _record(scope, activity, "InProgress")
    record.start = run.now_text()
    scope.results[activity.name] = record
    run.recorder.update(record)
    started = run.clock.monotonic()
    kind = ACTIVITY_TYPES[activity.type]
    handler = run.handlers[activity.type]
    try:
        props = render(dict(activity.properties), Evaluator(scope), skip=lambda key: key in kind.lazy)
        record.input = jsonable(props)
    except LakeMLError as exc:
        record.status, record.error = "Failed", error_record(exc)
        return _close(run, record, started)
    while True:
        record.attempt += 1
        if run.cancelled():
            record.status = "Cancelled"
            break
        stop = threading.Event()
        ctx = ActivityContext(run, scope, activity, record, stop)
        try:
            output = handler(ctx, props) if kind.control else _with_timeout(ctx, handler, props)
        except BaseException as exc:
            record.error = error_record(exc)
            if run.cancelled():
                record.status = "Cancelled"
                break
            if is_retryable(exc) and record.attempt <= activity.policy.retry:
                run.recorder.update(record)
                if run.clock.sleep(retry_delay(activity.policy, record.attempt, run.rng), run.cancel):
                    record.status = "Cancelled"
                    break
                continue
            record.status = "Failed"
            break
        record.output, record.error, record.status = jsonable(output), None, "Succeeded"
        break
    return _close(run, record, started)


def _close(run: RunState, record: ActivityRun, started: float) -> str:
    record.end = run.now_text()
    record.durationInMs = round((run.clock.monotonic() - started) * 1000)
    run.recorder.update(record)
    return record.status


def _with_timeout(ctx: ActivityContext, handler: Handler, props: dict[str, Any]) -> Any:
    run, timeout = ctx.run, ctx.activity.policy.timeout_s
    box: dict[str, Any] = {}
    done = threading.Event()

    def target() -> None:
        try:
            box["out"] = handler(ctx, props)
        except BaseException as exc:
            box["err"] = exc
        finally:
            done.set()

    with run.slots:
        start = run.clock.monotonic()
        threading.Thread(target=target, daemon=True, name=f"lakeml-attempt-{ctx.activity.name}").start()
        while True:
            left = timeout - (run.clock.monotonic() - start)
            if run.clock.wait(done, max(0.0, min(_POLL_S, left))) or left <= 0 or run.cancelled():
                break
    elapsed = run.clock.monotonic() - start
    if not done.is_set() or elapsed > timeout:
        ctx.stop.set()  # the attempt's thread is abandoned; handlers that wait watch this event
        if run.cancelled() and not elapsed > timeout:
            raise ActivityError(f"Activity {ctx.activity.name!r} was cancelled.", code="Cancelled")
        raise ActivityTimeoutError(f"Activity {ctx.activity.name!r} timed out after {timeout:g} s "
                                   f"(policy.timeout).", hint="Raise policy.timeout ('d.hh:mm:ss') or make the "
                                                              "activity faster.")
    if "err" in box:
        raise box["err"]
    return box.get("out")
