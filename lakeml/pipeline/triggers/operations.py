"""Backfills and single-window reruns of tumbling window triggers, run in the foreground.

Both claim windows through the same fire logs as ``serve`` (so a window is never run by two
processes at once) and record their attempts in ``trigger_runs`` with ``invokedBy`` ``backfill`` or
``rerun``. A rerun starts a new attempt of the window; the pipeline replaces that window's output.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from lakeml.errors import ConfigError
from lakeml.pipeline.triggers.clock import Clock, SystemClock
from lakeml.pipeline.triggers.definition import Trigger, TumblingWindow, require_pipeline_ref
from lakeml.pipeline.triggers.fire import RunPipeline
from lakeml.pipeline.triggers.scheduler import Scheduler, may_reclaim
from lakeml.pipeline.triggers.state import FAILED, RUNNING, Fire
from lakeml.pipeline.triggers.timefmt import iso, stamp
from lakeml.pipeline.triggers.windows import Window, dependencies, is_on_grid, windows_between
from lakeml.storage.lakefs import LakeStorage


@dataclass(frozen=True)
class BackfillResult:
    """What a backfill did: the final record of each window it covered (None: not run, see ``blocked``)."""

    windows: list[Window]
    fires: dict[str, Fire | None]
    blocked: dict[str, str]

    @property
    def succeeded(self) -> bool:
        """Whether every window of the range ended Succeeded."""
        return all(f is not None and f.status == "Succeeded" for f in self.fires.values())


def _window_settings(trigger: Trigger) -> TumblingWindow:
    if not isinstance(trigger.settings, TumblingWindow):
        raise ConfigError(f"Trigger {trigger.name!r} is a {trigger.cloud_type}; only tumbling window triggers have "
                          "windows to backfill or rerun.",
                          hint="Name a TumblingWindowTrigger, or run the pipeline directly.")
    return trigger.settings


def backfill(storage: LakeStorage, trigger: Trigger, run: RunPipeline, *, start: datetime, end: datetime,
             pipeline: str | None = None, clock: Clock | None = None, force: bool = False,
             poll: float = 5.0) -> BackfillResult:
    """Run the windows of ``trigger`` that start in ``[start, end)``, oldest first.

    Windows that already succeeded are skipped unless ``force``; failed, cancelled and never-run
    windows run, at most ``maxConcurrency`` at once, each after the windows it depends on, with the
    trigger's retry policy. Only windows that have ended (plus ``delay``) run.

    Raises:
        ConfigError: not a tumbling window trigger, the trigger does not start ``pipeline``, or no
            ended window starts in the range.
    """
    tw = _window_settings(trigger)
    if pipeline is not None:
        require_pipeline_ref(trigger, pipeline)
    sched = Scheduler(storage, [trigger], run, clock=clock or SystemClock(), role="backfill")
    now = sched.clock.now()
    windows = [w for w in windows_between(tw, start, end) if w.end + tw.delay <= now]
    if not windows:
        raise ConfigError(f"No ended window of trigger {trigger.name!r} starts between {iso(start)} and {iso(end)}.",
                          hint=f"Its windows are {tw.interval} {tw.frequency.lower()}(s) long from {iso(tw.start)}; "
                               "widen the range.")
    rule = "any" if force else "unfinished"
    attempted: set[str] = set()
    store = sched.store(trigger.name)
    try:
        while True:
            now = sched.clock.now()
            sched.owner.heartbeat(now)
            fresh = [w for w in windows if stamp(w.start) not in attempted]
            started = sched.run_windows(trigger, tw, fresh, now, rule=rule, invoked_by="backfill")
            retried = sched.run_windows(trigger, tw, [w for w in windows if stamp(w.start) in attempted], now,
                                        rule="once", invoked_by="backfill")
            attempted.update(s.split("/", 1)[1] for s in started)
            if not started and not retried and not sched.busy():
                due = [f.retry_at for k in attempted if (f := store.get(k)) is not None
                       and f.status == FAILED and f.retry_at is not None]
                if not due:
                    break
                sched.clock.wait(max(0.0, (min(d for d in due if d) - now).total_seconds()), sched.wake)
            else:
                sched.clock.wait(poll, sched.wake)
            sched.wake.clear()
    finally:
        sched.shutdown(grace=0 if sched.stopping.is_set() else 3600)
    fires = {stamp(w.start): store.get(stamp(w.start)) for w in windows}
    blocked: dict[str, str] = {}
    for window in windows:
        key = stamp(window.start)
        fire = fires[key]
        if fire is None or (key not in attempted and may_reclaim(fire, rule, now)):
            waiting = [iso(d.start) for d in dependencies(tw, window)
                       if (dep := store.get(stamp(d.start))) is None or dep.status != "Succeeded"]
            blocked[key] = (f"waits for window(s) {', '.join(waiting)} to succeed" if waiting
                            else "not run")
    return BackfillResult(windows, fires, blocked)


def rerun_window(storage: LakeStorage, trigger: Trigger, run: RunPipeline, *, window_start: datetime,
                 clock: Clock | None = None) -> Fire:
    """Run one window of ``trigger`` again, whatever its state (unless it is running now); returns its record.

    Raises:
        ConfigError: not a tumbling window trigger, ``window_start`` is not the start of one of its
            windows, the window has not ended yet, or it is running now.
    """
    tw = _window_settings(trigger)
    if not is_on_grid(tw, window_start):
        raise ConfigError(f"{iso(window_start)} is not the start of a window of trigger {trigger.name!r}.",
                          hint=f"Windows start every {tw.interval} {tw.frequency.lower()}(s) from {iso(tw.start)}.")
    window = Window(window_start, window_start + tw.size)
    sched = Scheduler(storage, [trigger], run, clock=clock or SystemClock(), role="rerun")
    now = sched.clock.now()
    if window.end + tw.delay > now:
        raise ConfigError(f"The window starting {iso(window_start)} has not ended yet (it ends {iso(window.end)}).",
                          hint="Rerun windows that have ended.")
    key = stamp(window_start)
    sched.owner.heartbeat(now)
    try:
        sched.reap(trigger, {key: f} if (f := sched.store(trigger.name).get(key)) else {}, now)
        record = {"trigger": trigger.name, "triggerType": trigger.cloud_type, "invokedBy": "rerun",
                  "scheduledTime": iso(window.end), "windowStart": iso(window.start), "windowEnd": iso(window.end),
                  "autoAttempt": 1}
        fire = sched.store(trigger.name).claim(key, record, owner=sched.owner.token, now=now,
                                               may_claim=lambda cur: may_reclaim(cur, "any", now))
        if fire is None:
            current = sched.store(trigger.name).get(key)
            owner = current.body.get("invokedBy", "another") if current and current.status == RUNNING else "another"
            raise ConfigError(f"The window starting {iso(window_start)} of trigger {trigger.name!r} is running now "
                              f"(started by a {owner} process).",
                              hint="Wait for it to end, then rerun it.")
        return sched.run_inline(trigger, fire, scheduled=window.end, window=window)
    finally:
        sched.shutdown(grace=0)
