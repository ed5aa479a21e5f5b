"""The trigger scheduler: decides which fires are due, claims them in the lake, runs them.

One :meth:`Scheduler.tick` looks at every trigger once, at the clock's current time:

* schedule: fires the current occurrence when it is due (missed ones are skipped, no backfill);
* tumbling window: claims the ready windows, oldest first, up to ``maxConcurrency`` running at
  once, each only after the windows it depends on succeeded; failed windows are retried after
  ``retryPolicy.intervalInSeconds`` while ``retryPolicy.count`` allows;
* storage event: lists the watched folder and fires once for every new matching file.

Each fire is claimed through its commit log before it runs (see :mod:`.state`), so a fire runs in
one process only, and a restarted scheduler continues where the last one stopped. Runs happen in
worker threads; :meth:`serve` loops ticks until stopped and then shuts down cleanly.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from lakeml.errors import LakeMLError, LakePathNotFoundError
from lakeml.pipeline.triggers.clock import Clock, SystemClock
from lakeml.pipeline.triggers.definition import Recurrence, StorageEvent, Trigger, TumblingWindow
from lakeml.pipeline.triggers.events import new_files
from lakeml.pipeline.triggers.fire import RunOutcome, RunPipeline, TriggerFire
from lakeml.pipeline.triggers.schedule import next_occurrence, occurrences
from lakeml.pipeline.triggers.state import (
    CANCELLED,
    FAILED,
    LEASE,
    RUNNING,
    SUCCEEDED,
    Fire,
    FireStore,
    Owner,
    claimable_fresh,
    file_key,
    owner_alive,
)
from lakeml.pipeline.triggers.timefmt import iso, parse_instant, stamp
from lakeml.pipeline.triggers.windows import Window, dependencies, next_ready_time, ready_windows
from lakeml.storage.lakefs import LakeStorage

#: How often a busy scheduler refreshes its heartbeat (well inside the lease).
HEARTBEAT_SECONDS = LEASE.total_seconds() / 4

#: How the scheduler may (re)claim a fire: "once" (never claimed, or a due retry / a resumed
#: cancellation), "unfinished" (also failed and cancelled ones: backfill), "any" (also succeeded: a rerun).
ClaimRule = str


@dataclass
class _Active:
    trigger: str
    key: str
    thread: threading.Thread
    cancel: threading.Event = field(default_factory=threading.Event)


def may_reclaim(fire: Fire | None, rule: ClaimRule, now: datetime) -> bool:
    """Whether a fire in this state may start a new attempt under ``rule``."""
    if fire is None:
        return True
    if fire.status == RUNNING:
        return False
    if rule == "any":
        return True
    if rule == "unfinished":
        return fire.status != SUCCEEDED
    if fire.status == FAILED:
        retry_at = fire.retry_at
        return retry_at is not None and retry_at <= now
    return fire.status == CANCELLED and bool(fire.body.get("resume"))


class Scheduler:
    """Runs the fires of a set of triggers.

    Args:
        storage: the lake's storage (fire state lives under ``_lakeml/trigger_state``).
        triggers: the triggers, or a callable returning them (re-read on every tick, so triggers
            created while serving are picked up).
        run: runs one pipeline for one fire (see :data:`~.fire.RunPipeline`).
        clock: the time source; tests pass a :class:`~.clock.ManualClock`.
        role: how this process is recorded as the owner of its fires (serve, backfill, rerun).
        max_workers: at most this many pipeline runs at once across all triggers.
        log: receives one line per fire started and ended (``lakeml pipeline serve`` prints them).
    """

    def __init__(self, storage: LakeStorage, triggers: Iterable[Trigger] | Callable[[], Iterable[Trigger]],
                 run: RunPipeline, *, clock: Clock | None = None, role: str = "serve", max_workers: int = 50,
                 commit_retries: int = 20, log: Callable[[str], None] | None = None) -> None:
        self.storage = storage
        self.log = log or (lambda line: None)
        self._triggers = triggers if callable(triggers) else (lambda fixed=list(triggers): fixed)
        self.run_pipeline = run
        self.clock: Clock = clock or SystemClock()
        self.owner = Owner(storage, role=role)
        self.commit_retries = commit_retries
        self._slots = threading.BoundedSemaphore(max_workers)
        self._active: dict[tuple[str, str], _Active] = {}
        self._lock = threading.Lock()
        self._next_due: dict[str, datetime | None] = {}
        self._settled: dict[str, set[str]] = {}  # fires that will not change without a rerun
        self._retry_due: dict[str, datetime] = {}  # the earliest pending window retry per trigger
        self._looked: set[str] = set()  # schedule and storage event triggers whose old fires were checked
        self._beat_stop = threading.Event()
        self._beat: threading.Thread | None = None
        self.wake = threading.Event()
        self.stopping = threading.Event()
        self.errors: list[str] = []

    # -- the loop -----------------------------------------------------------------------------------
    def triggers(self) -> list[Trigger]:
        """The triggers to run now (stopped ones are left out)."""
        return [t for t in self._triggers() if t.started]

    def store(self, trigger: str) -> FireStore:
        """The fire logs of ``trigger``."""
        return FireStore(self.storage, trigger, retries=self.commit_retries)

    def tick(self) -> list[str]:
        """Look at every trigger once and start what is due; returns the started fires as ``trigger/key``."""
        now = self.clock.now()
        try:
            self.owner.heartbeat(now)
        except LakeMLError as exc:  # a storage hiccup: the fires are claimed through the log anyway
            self._error(f"heartbeat: {exc.one_line()}")
        started: list[str] = []
        for trigger in self.triggers():
            if self.stopping.is_set():
                break
            try:
                if isinstance(trigger.settings, TumblingWindow):
                    started += self._tick_windows(trigger, trigger.settings, now)
                    continue
                if trigger.name not in self._looked:
                    started += self._first_look(trigger, now)
                if isinstance(trigger.settings, Recurrence):
                    started += self._tick_schedule(trigger, trigger.settings, now)
                else:
                    started += self._tick_events(trigger, trigger.settings, now)
            except LakeMLError as exc:  # one broken trigger must not stop the others
                self._error(f"trigger {trigger.name!r}: {exc.one_line()}")
        return started

    def next_wake(self, now: datetime, poll: float) -> float:
        """Seconds until the next time-based fire or retry is due (at most ``poll``)."""
        wait = poll
        for trigger in self.triggers():
            due: datetime | None = None
            if isinstance(trigger.settings, TumblingWindow):
                due = next_ready_time(trigger.settings, now)
                retry = self._retry_due.get(trigger.name)
                if retry is not None and (due is None or retry < due):
                    due = retry
            elif isinstance(trigger.settings, Recurrence):
                due = self._next_due.get(trigger.name)
            if due is not None:
                wait = min(wait, max(0.0, (due - now).total_seconds()))
        return wait

    def serve(self, *, poll: float = 10.0, grace: float = 30.0, stop: threading.Event | None = None) -> None:
        """Tick until ``stop`` is set or :meth:`request_stop` is called, then shut down (see :meth:`shutdown`).

        :meth:`request_stop` wakes the loop at once; a ``stop`` event is noticed within ``poll`` seconds.
        """
        stop_event = stop or self.stopping
        try:
            while not stop_event.is_set() and not self.stopping.is_set():
                self.wake.clear()  # before the tick: a run ending during it wakes the wait below
                self.tick()
                if stop_event.is_set() or self.stopping.is_set():
                    break
                self.clock.wait(self.next_wake(self.clock.now(), poll), self.wake)
        finally:
            self.shutdown(grace=grace)

    def _error(self, line: str) -> None:
        self.errors.append(line)
        self.log(f"error: {line}")

    def request_stop(self) -> None:
        """Stop claiming new fires and end :meth:`serve` (safe to call from a signal handler)."""
        self.stopping.set()
        self.wake.set()

    def cancel_running(self) -> None:
        """Ask every run in progress to stop."""
        with self._lock:
            for active in self._active.values():
                active.cancel.set()

    def busy(self) -> bool:
        """Whether any run is in progress in this process."""
        with self._lock:
            return bool(self._active)

    def join(self, timeout: float | None = None) -> bool:
        """Wait for every run in progress to end; True when none is left."""
        while True:
            with self._lock:
                threads = [a.thread for a in self._active.values()]
            if not threads:
                return True
            for thread in threads:
                thread.join(timeout)
                if thread.is_alive():
                    return False

    def shutdown(self, *, grace: float = 30.0, cancel_wait: float = 30.0) -> None:
        """Stop: let runs in progress finish for ``grace`` seconds, then cancel them and give them
        ``cancel_wait`` seconds to stop; runs that still do not end are recorded ``Cancelled``. The owner
        heartbeat is removed last."""
        self.stopping.set()
        if not self.join(grace):
            self.cancel_running()
            if not self.join(cancel_wait):
                self._mark_abandoned()
        self._beat_stop.set()
        self.owner.release()

    def _mark_abandoned(self) -> None:
        with self._lock:
            left = list(self._active.values())
        for active in left:
            fire = self.store(active.trigger).get(active.key)
            if fire is not None and fire.status == RUNNING and fire.body.get("owner") == self.owner.token:
                self.store(active.trigger).update(fire, status=CANCELLED, end=iso(self.clock.now()), resume=True,
                                                  message="The serve process stopped before the run ended.")

    # -- tumbling windows ---------------------------------------------------------------------------
    def _window_fires(self, trigger: Trigger) -> dict[str, Fire]:
        store = self.store(trigger.name)
        settled = self._settled.setdefault(trigger.name, set())
        fires: dict[str, Fire] = {}
        for key in store.fire_keys():
            if key in settled:
                fires[key] = _SETTLED
                continue
            with contextlib.suppress(LakePathNotFoundError):
                fire = store.get(key)
                if fire is None:
                    continue
                fires[key] = fire
                if fire.status == SUCCEEDED:
                    settled.add(key)  # not read again: only a rerun changes it, and a rerun runs in its own process
                # failed windows are read on every tick: a rerun elsewhere may unblock the windows that depend on them
        retries = [f.retry_at for f in fires.values() if f.status == FAILED and f.retry_at is not None]
        if retries:
            self._retry_due[trigger.name] = min(r for r in retries if r is not None)
        else:
            self._retry_due.pop(trigger.name, None)
        return fires

    def reap(self, trigger: Trigger, fires: dict[str, Fire], now: datetime) -> dict[str, Fire]:
        """Record as failed the Running fires whose owner is gone; returns the updated fires."""
        out = dict(fires)
        for key, fire in fires.items():
            if fire.status != RUNNING or (trigger.name, key) in self._active:
                continue
            owner = str(fire.body.get("owner", ""))
            if owner_alive(self.storage, owner, now, me=self.owner):
                continue
            changes: dict[str, Any] = {"status": FAILED, "end": iso(now),
                       "message": f"Interrupted: the {fire.body.get('invokedBy', 'lakeml')} process running it "
                                  "stopped before the run ended (killed?)."}
            if isinstance(trigger.settings, TumblingWindow):
                changes["retryAt"] = _retry_at(trigger.settings, fire, now)
            updated = self.store(trigger.name).update(fire, **changes)
            if updated is not None:
                out[key] = updated
        return out

    def _tick_windows(self, trigger: Trigger, tw: TumblingWindow, now: datetime) -> list[str]:
        ready = ready_windows(tw, now)
        return self.run_windows(trigger, tw, ready, now, rule="once")

    def run_windows(self, trigger: Trigger, tw: TumblingWindow, windows: list[Window], now: datetime, *,
                    rule: ClaimRule, invoked_by: str = "serve") -> list[str]:
        """Claim and start the windows of ``windows`` that ``rule`` allows, oldest first, within
        ``maxConcurrency`` and once their dependencies succeeded."""
        fires = self.reap(trigger, self._window_fires(trigger), now)
        running = sum(1 for f in fires.values() if f.status == RUNNING)
        started: list[str] = []
        for window in windows:
            if running >= tw.max_concurrency or self.stopping.is_set():
                break
            key = stamp(window.start)
            if not may_reclaim(fires.get(key), rule, now):
                continue
            if any(fires.get(stamp(dep.start), _MISSING).status != SUCCEEDED for dep in dependencies(tw, window)):
                continue
            previous = fires.get(key)
            retrying = previous is not None and rule == "once" and previous.status == FAILED
            record: dict[str, Any] = {
                "trigger": trigger.name, "triggerType": trigger.cloud_type, "invokedBy": invoked_by,
                "scheduledTime": iso(window.end), "windowStart": iso(window.start), "windowEnd": iso(window.end),
                # attempts in a row under the retry policy; a backfill or rerun starts a new series
                "autoAttempt": 1 + (int(previous.body.get("autoAttempt", 1)) if retrying and previous else 0)}
            fire = self.store(trigger.name).claim(key, record, owner=self.owner.token, now=now,
                                                  may_claim=lambda cur: may_reclaim(cur, rule, now))
            if fire is None:
                continue
            self._settled.get(trigger.name, set()).discard(key)
            fires[key] = fire
            running += 1
            self._start(trigger, fire, window=window, scheduled=window.end)
            started.append(f"{trigger.name}/{key}")
        return started

    def _first_look(self, trigger: Trigger, now: datetime) -> list[str]:
        """On the first look at a schedule or storage event trigger: record the fires a dead process left
        running as failed, and run again the ones a clean shutdown cancelled."""
        self._looked.add(trigger.name)
        store = self.store(trigger.name)
        fires = self.reap(trigger, store.all(), now)
        started = []
        for key, fire in fires.items():
            if fire.status != CANCELLED or not fire.body.get("resume") or self.stopping.is_set():
                continue
            fields = ("trigger", "triggerType", "invokedBy", "scheduledTime", "windowStart", "windowEnd", "fileName",
                      "folderPath")
            record: dict[str, Any] = {k: fire.body[k] for k in fields if k in fire.body}
            claimed = store.claim(key, record, owner=self.owner.token, now=now,
                                  may_claim=lambda cur: may_reclaim(cur, "once", now))
            if claimed is not None:
                scheduled = parse_instant(str(fire.body.get("scheduledTime") or iso(now)))
                self._start(trigger, claimed, scheduled=scheduled)
                started.append(f"{trigger.name}/{key}")
        return started

    # -- schedules ----------------------------------------------------------------------------------
    def _tick_schedule(self, trigger: Trigger, rec: Recurrence, now: datetime) -> list[str]:
        if trigger.name not in self._next_due:
            self._next_due[trigger.name] = next_occurrence(rec, now)
        due = self._next_due[trigger.name]
        if due is None or due > now:
            return []
        for moment in occurrences(rec, due):  # woken late (a suspended machine): only the latest one fires
            if moment > now:
                break
            due = moment
        self._next_due[trigger.name] = next_occurrence(rec, now, inclusive=False)
        key = stamp(due)
        record = {"trigger": trigger.name, "triggerType": trigger.cloud_type, "invokedBy": "serve",
                  "scheduledTime": iso(due), "windowStart": None, "windowEnd": None}
        fire = self.store(trigger.name).claim(key, record, owner=self.owner.token, now=now,
                                              may_claim=claimable_fresh)
        if fire is None:
            return []
        self._start(trigger, fire, scheduled=due)
        return [f"{trigger.name}/{key}"]

    # -- storage events -----------------------------------------------------------------------------
    def _tick_events(self, trigger: Trigger, event: StorageEvent, now: datetime) -> list[str]:
        store = self.store(trigger.name)
        settled = self._settled.setdefault(trigger.name, set())
        known = set(store.fire_keys()) | settled
        started = []
        for path in new_files(self.storage, trigger.name, event, skip=lambda p: file_key(p) in known):
            key = file_key(path)
            if self.stopping.is_set():
                break
            folder, _, name = path.rpartition("/")
            record = {"trigger": trigger.name, "triggerType": trigger.cloud_type, "invokedBy": "serve",
                      "scheduledTime": iso(now), "windowStart": None, "windowEnd": None,
                      "fileName": name, "folderPath": folder}
            fire = store.claim(key, record, owner=self.owner.token, now=now, may_claim=claimable_fresh)
            settled.add(key)
            if fire is None:
                continue
            self._start(trigger, fire, scheduled=now)
            started.append(f"{trigger.name}/{key}")
        return started

    # -- running one fire ---------------------------------------------------------------------------
    def _keep_alive(self) -> None:
        """Refresh the owner heartbeat from a thread while runs go on, so a long run (or a long wait
        between ticks) never looks abandoned to another process."""
        if self._beat is not None:
            return

        def beat() -> None:
            while not self._beat_stop.wait(HEARTBEAT_SECONDS):
                with contextlib.suppress(LakeMLError):
                    self.owner.heartbeat(self.clock.now())

        self._beat = threading.Thread(target=beat, name="lakeml-trigger-heartbeat", daemon=True)
        self._beat.start()

    def _start(self, trigger: Trigger, fire: Fire, *, scheduled: datetime, window: Window | None = None) -> None:
        self._keep_alive()
        active = _Active(trigger.name, fire.key, threading.Thread(target=lambda: None))
        thread = threading.Thread(target=self._run_fire, args=(trigger, fire, scheduled, window, active),
                                  name=f"lakeml-trigger-{trigger.name}-{fire.key}", daemon=True)
        active.thread = thread
        with self._lock:
            self._active[(trigger.name, fire.key)] = active
        self._slots.acquire()
        self.log(f"{trigger.name}: {_describe(fire)} started (attempt {fire.attempt})")
        thread.start()

    def run_inline(self, trigger: Trigger, fire: Fire, *, scheduled: datetime, window: Window | None = None) -> Fire:
        """Run a claimed fire in this thread (single-window reruns); returns its final record."""
        self._keep_alive()
        active = _Active(trigger.name, fire.key, threading.current_thread())
        with self._lock:
            self._active[(trigger.name, fire.key)] = active
        self._slots.acquire()
        self._run_fire(trigger, fire, scheduled, window, active)
        final = self.store(trigger.name).get(fire.key)
        return final if final is not None else fire

    def _run_fire(self, trigger: Trigger, fire: Fire, scheduled: datetime, window: Window | None,
                  active: _Active) -> None:
        try:
            runs: list[dict[str, Any]] = []
            body = fire.body
            for ref in trigger.pipelines:
                request = TriggerFire(
                    trigger=trigger.name, trigger_type=trigger.cloud_type, pipeline=ref.name,
                    parameters=dict(ref.parameters), scheduled_time=scheduled, trigger_time=self.clock.now(),
                    window_start=window.start if window else None, window_end=window.end if window else None,
                    file_name=body.get("fileName"), folder_path=body.get("folderPath"), attempt=fire.attempt,
                    cancel=active.cancel)
                outcome = self._call(request)
                runs.append({"pipeline": ref.name, "runId": outcome.run_id, "status": outcome.status,
                             "message": outcome.message})
                if active.cancel.is_set():
                    break
            self._finish(trigger, fire, runs, active)
        except LakeMLError as exc:  # the state could not be written: the next process records it interrupted
            self._error(f"trigger {trigger.name!r} fire {fire.key}: {exc.one_line()}")
        except Exception as exc:  # a lakeml bug must not leave the fire Running under a live owner unnoticed
            self._error(f"trigger {trigger.name!r} fire {fire.key}: unexpected {type(exc).__name__}: {exc}")
        finally:
            with self._lock:
                self._active.pop((trigger.name, fire.key), None)
            self._slots.release()
            self.wake.set()

    def _call(self, request: TriggerFire) -> RunOutcome:
        try:
            return self.run_pipeline(request)
        except LakeMLError as exc:
            return RunOutcome("", FAILED, exc.one_line())
        except Exception as exc:  # a runner bug must not kill the scheduler thread
            return RunOutcome("", FAILED, f"unexpected {type(exc).__name__}: {exc}")

    def _finish(self, trigger: Trigger, fire: Fire, runs: list[dict[str, Any]], active: _Active) -> None:
        now = self.clock.now()
        statuses = [r["status"] for r in runs]
        if runs and all(s == SUCCEEDED for s in statuses) and len(runs) == len(trigger.pipelines):
            status = SUCCEEDED
        elif FAILED in statuses:
            status = FAILED
        else:
            status = CANCELLED
        message = "; ".join(f"{r['pipeline']}: {r['message']}" for r in runs if r["status"] != SUCCEEDED
                            and r["message"])
        changes: dict[str, Any] = {"status": status, "end": iso(now), "runs": runs, "message": message}
        if status == CANCELLED and active.cancel.is_set():
            changes["resume"] = True  # the scheduler stopped it: the next serve runs it again
        if status == FAILED and isinstance(trigger.settings, TumblingWindow):
            changes["retryAt"] = _retry_at(trigger.settings, fire, now)
        self.store(trigger.name).update(fire, **changes)
        run_ids = ", ".join(r["runId"] for r in runs if r["runId"])
        self.log(f"{trigger.name}: {_describe(fire)} {status}" + (f" (run {run_ids})" if run_ids else "")
                 + (f": {message}" if message else "")
                 + (f"; retry at {changes['retryAt']}" if changes.get("retryAt") else ""))


def _describe(fire: Fire) -> str:
    """How a fire is named in log lines: its window, file or scheduled time."""
    body = fire.body
    if body.get("windowStart"):
        return f"window {body['windowStart']} - {body['windowEnd']}"
    if body.get("fileName"):
        return f"file {body.get('folderPath')}/{body['fileName']}"
    return f"occurrence {body.get('scheduledTime')}"


def _retry_at(tw: TumblingWindow, fire: Fire, now: datetime) -> str | None:
    """When a failed window is retried automatically (None once ``retryPolicy.count`` retries are used)."""
    if int(fire.body.get("autoAttempt", 1)) > tw.retry_count:
        return None
    return iso(now + tw.retry_interval)


class _Placeholder(Fire):
    pass


_SETTLED = _Placeholder("", 0, {"status": SUCCEEDED})
_MISSING = _Placeholder("", 0, {"status": ""})
