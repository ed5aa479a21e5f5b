"""Tumbling windows driven by a manual clock: backfill order, maxConcurrency, self-dependency, retry,
reruns, restarts and two schedulers racing for the same windows."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest

from lakeml.errors import ConfigError
from lakeml.pipeline.triggers.clock import ManualClock
from lakeml.pipeline.triggers.operations import backfill, rerun_window
from lakeml.pipeline.triggers.scheduler import Scheduler
from lakeml.pipeline.triggers.state import LEASE, FireStore
from lakeml.pipeline.triggers.timefmt import stamp
from tests.pipeline.triggers.helpers import T0, Recorder, tumbling

H = timedelta(hours=1)
START = datetime(2026, 3, 2, 7, tzinfo=UTC)  # five hourly windows have ended by T0 (12:00)


def run_all(sched: Scheduler) -> None:
    """Tick and wait until nothing more starts."""
    while True:
        assert sched.join(60)
        if not sched.tick():
            assert sched.join(60)
            return


def statuses(lake, name="hourly"):
    return {key: fire.status for key, fire in FireStore(lake.storage, name).all().items()}


def test_backfill_runs_every_ended_window_oldest_first_and_passes_the_bounds(lake):
    clock, runner = ManualClock(T0), Recorder()
    sched = Scheduler(lake.storage, [tumbling()], runner, clock=clock)
    run_all(sched)
    assert runner.windows() == [START + i * H for i in range(5)]
    fire = runner.fires[0]
    assert fire.outputs() == {"windowStartTime": "2026-03-02T07:00:00Z", "windowEndTime": "2026-03-02T08:00:00Z"}
    assert fire.parameters == {"from": "@trigger().outputs.windowStartTime"} and fire.pipeline == "load"
    run_all(sched)
    assert len(runner.fires) == 5  # each window runs once
    clock.advance(H)
    run_all(sched)
    assert runner.windows()[-1] == START + 5 * H and len(runner.fires) == 6


def test_delay_and_end_time_bound_the_windows(lake):
    runner = Recorder()
    trigger = tumbling(delay="00:30:00", endTime="2026-03-02T10:00:00Z")
    sched = Scheduler(lake.storage, [trigger], runner, clock=ManualClock(T0 - timedelta(minutes=45)))
    run_all(sched)  # at 11:15 the 10:00-11:00 window waits for its delay, and it is past the end anyway
    assert runner.windows() == [START, START + H, START + 2 * H]


def test_max_concurrency_bounds_the_windows_in_progress(lake):
    gate = threading.Event()
    runner = Recorder(gate=gate)
    sched = Scheduler(lake.storage, [tumbling(maxConcurrency=2)], runner, clock=ManualClock(T0))
    assert len(sched.tick()) == 2
    runner.wait_started(2)
    assert sched.tick() == []  # two are running
    assert runner.windows() == [START, START + H]
    gate.set()
    run_all(sched)
    assert runner.peak == 2 and sorted(runner.windows()) == [START + i * H for i in range(5)]


def test_self_dependency_waits_for_the_previous_window_and_stops_on_its_failure(lake):
    dep = [{"type": "SelfDependencyTumblingWindowTriggerReference", "offset": "-01:00:00"}]
    runner = Recorder(outcome=lambda f: "Failed" if f.window_start == START + 2 * H else "Succeeded")
    sched = Scheduler(lake.storage, [tumbling(maxConcurrency=5, dependsOn=dep)], runner, clock=ManualClock(T0))
    assert len(sched.tick()) == 1  # only the first window has no unfinished dependency
    run_all(sched)
    assert runner.windows() == [START, START + H, START + 2 * H]  # the 09:00 window failed: later ones wait
    assert runner.peak == 1
    assert statuses(lake)[stamp(START + 2 * H)] == "Failed"


def test_failed_window_is_retried_after_the_interval_while_the_count_allows(lake):
    clock = ManualClock(T0)
    runner = Recorder(outcome=lambda f: "Failed")
    trigger = tumbling(start="2026-03-02T11:00:00Z", retryPolicy={"count": 2, "intervalInSeconds": 120})
    sched = Scheduler(lake.storage, [trigger], runner, clock=clock)
    run_all(sched)
    assert len(runner.fires) == 1
    clock.advance(60)
    run_all(sched)
    assert len(runner.fires) == 1  # not yet
    assert sched.next_wake(clock.now(), 600) == 60
    for expected in (2, 3, 3):
        clock.advance(120)
        run_all(sched)
        assert len(runner.fires) == expected
    fire = FireStore(lake.storage, "hourly").get(stamp(START + 4 * H))
    assert fire is not None and fire.status == "Failed" and fire.attempt == 3 and fire.retry_at is None
    assert [f.attempt for f in runner.fires] == [1, 2, 3]


def test_a_restart_resumes_missed_windows_and_runs_none_twice(lake):
    clock, first = ManualClock(T0), Recorder()
    sched = Scheduler(lake.storage, [tumbling()], first, clock=clock)
    run_all(sched)
    sched.shutdown(grace=10)
    clock.advance(3 * H)  # the process was down for three hours
    second = Recorder()
    run_all(Scheduler(lake.storage, [tumbling()], second, clock=clock))
    assert second.windows() == [START + 5 * H, START + 6 * H, START + 7 * H]
    assert set(statuses(lake).values()) == {"Succeeded"} and len(statuses(lake)) == 8


def test_a_window_left_running_by_a_dead_owner_is_recorded_failed_not_rerun(lake):
    clock, gate = ManualClock(T0), threading.Event()
    crashed = Scheduler(lake.storage, [tumbling(start="2026-03-02T11:00:00Z")], Recorder(gate=gate), clock=clock)
    crashed.tick()  # its run never ends: the process "hangs" and stops heart-beating
    later = Recorder()
    sched = Scheduler(lake.storage, [tumbling(start="2026-03-02T11:00:00Z")], later, clock=clock)
    run_all(sched)
    assert later.fires == [] and statuses(lake) == {stamp(START + 4 * H): "Running"}  # owner still alive
    clock.advance(LEASE + timedelta(seconds=1))
    run_all(sched)
    fire = FireStore(lake.storage, "hourly").get(stamp(START + 4 * H))
    assert fire is not None and fire.status == "Failed" and "Interrupted" in fire.body["message"]
    assert later.fires == []  # no retry policy: the window waits for a rerun
    gate.set()
    crashed.join(30)


def test_two_schedulers_never_run_one_window_twice(lake):
    gate = threading.Event()
    runners = [Recorder(gate=gate), Recorder(gate=gate)]
    clock = ManualClock(T0)
    scheds = [Scheduler(lake.storage, [tumbling(maxConcurrency=50)], r, clock=clock) for r in runners]
    threads = [threading.Thread(target=s.tick) for s in scheds]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    gate.set()
    for s in scheds:
        run_all(s)
    windows = runners[0].windows() + runners[1].windows()
    assert sorted(windows) == [START + i * H for i in range(5)]


def test_shutdown_cancels_runs_in_progress_and_the_next_serve_resumes_them(lake):
    clock, gate = ManualClock(T0), threading.Event()
    runner = Recorder(gate=gate)
    sched = Scheduler(lake.storage, [tumbling(start="2026-03-02T11:00:00Z")], runner, clock=clock)
    sched.tick()
    runner.wait_started(1)
    sched.shutdown(grace=0)
    assert statuses(lake) == {stamp(START + 4 * H): "Cancelled"}
    again = Recorder()
    run_all(Scheduler(lake.storage, [tumbling(start="2026-03-02T11:00:00Z")], again, clock=clock))
    assert again.windows() == [START + 4 * H] and statuses(lake) == {stamp(START + 4 * H): "Succeeded"}


def test_single_window_rerun_and_backfill(lake):
    clock = ManualClock(T0)
    runner = Recorder(outcome=lambda f: "Failed" if f.window_start == START + H and f.attempt == 1 else "Succeeded")
    trigger = tumbling()
    result = backfill(lake.storage, trigger, runner, start=START, end=START + 3 * H, clock=clock, pipeline="load")
    assert [w.start for w in result.windows] == [START, START + H, START + 2 * H]
    assert runner.windows() == [START, START + H, START + 2 * H] and not result.succeeded
    again = backfill(lake.storage, trigger, runner, start=START, end=START + 3 * H, clock=clock)
    assert runner.windows()[3:] == [START + H] and again.succeeded  # only the failed window ran
    fire = rerun_window(lake.storage, trigger, runner, window_start=START, clock=clock)
    assert fire.status == "Succeeded" and fire.attempt == 2 and runner.windows()[-1] == START
    forced = backfill(lake.storage, trigger, runner, start=START, end=START + 2 * H, clock=clock, force=True)
    assert forced.succeeded and runner.windows()[-2:] == [START, START + H]
    with pytest.raises(ConfigError, match="not the start of a window"):
        rerun_window(lake.storage, trigger, runner, window_start=START + timedelta(minutes=5), clock=clock)
    with pytest.raises(ConfigError, match="does not start pipeline"):
        backfill(lake.storage, trigger, runner, start=START, end=START + H, clock=clock, pipeline="other")


def test_trigger_runs_is_a_sql_table(lake):
    runner = Recorder(outcome=lambda f: "Failed" if f.window_start == START else "Succeeded")
    run_all(Scheduler(lake.storage, [tumbling()], runner, clock=ManualClock(T0)))
    rerun_window(lake.storage, tumbling(), Recorder(), window_start=START, clock=ManualClock(T0))
    rows = lake.sql("SELECT windowStart, attempt, status, runId, invokedBy FROM trigger_runs "
                    "WHERE trigger = 'hourly' ORDER BY windowStart, attempt").collect()
    assert rows.height == 6
    assert rows.row(0)[1:] == (1, "Failed", "run-1", "serve")
    assert rows.row(1)[1:3] == (2, "Succeeded") and rows.row(1)[4] == "rerun"
    assert rows["windowStart"][0] == START
    late = lake.sql("SELECT COUNT(*) AS n FROM trigger_runs WHERE windowStart >= '2026-03-02T10:00:00Z'").collect()
    assert late.item() == 2  # times are UTC timestamps, comparable with ISO text


def test_serve_loop_follows_the_clock_and_stops_on_request(lake):
    clock = ManualClock(T0)
    holder: dict[str, Scheduler] = {}

    def stop_after_three(fire):
        if len(runner.fires) >= 3:
            holder["sched"].request_stop()
        return "Succeeded"

    runner = Recorder(outcome=stop_after_three)
    sched = Scheduler(lake.storage, [tumbling(start="2026-03-02T12:00:00Z")], runner, clock=clock)
    holder["sched"] = sched
    sched.serve(poll=3600, grace=60)  # the manual clock jumps to each window's end instead of sleeping
    assert runner.windows() == [T0, T0 + H, T0 + 2 * H]
    assert clock.now() >= T0 + 3 * H
    assert not lake.storage.exists(sched.owner.path)  # the heartbeat is removed on a clean stop


def test_a_long_run_keeps_its_owner_alive(lake, monkeypatch):
    from lakeml.pipeline.triggers import scheduler as scheduler_module
    from lakeml.pipeline.triggers.state import owner_alive

    monkeypatch.setattr(scheduler_module, "HEARTBEAT_SECONDS", 0.01)
    clock, gate = ManualClock(T0), threading.Event()
    runner = Recorder(gate=gate)
    busy = Scheduler(lake.storage, [tumbling(start="2026-03-02T11:00:00Z")], runner, clock=clock)
    busy.tick()
    runner.wait_started(1)
    clock.advance(LEASE * 3)  # far past the lease: only the heartbeat thread can keep the owner alive
    beaten = threading.Event()
    for _ in range(1000):  # the heartbeat thread runs every 10 ms; wait for its next beat
        if owner_alive(lake.storage, busy.owner.token, clock.now()):
            beaten.set()
            break
        gate.wait(0.01)
    other = Recorder()
    run_all(Scheduler(lake.storage, [tumbling(start="2026-03-02T11:00:00Z")], other, clock=clock))
    assert beaten.is_set() and statuses(lake) == {stamp(START + 4 * H): "Running"}  # not taken for dead
    gate.set()
    busy.shutdown(grace=30)
    assert statuses(lake) == {stamp(START + 4 * H): "Succeeded"} and other.fires == []
