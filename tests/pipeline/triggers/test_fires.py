"""Schedule triggers and storage event triggers under the scheduler, with a manual clock."""

from __future__ import annotations

from datetime import timedelta

from lakeml.pipeline.triggers.clock import ManualClock
from lakeml.pipeline.triggers.definition import parse_trigger
from lakeml.pipeline.triggers.scheduler import Scheduler
from tests.pipeline.triggers.helpers import T0, Recorder
from tests.pipeline.triggers.test_tumbling import run_all

SCHEDULE = parse_trigger({"name": "every15", "properties": {
    "type": "ScheduleTrigger",
    "pipelines": [{"pipelineReference": {"referenceName": "a"}}, {"pipelineReference": {"referenceName": "b"}}],
    "typeProperties": {"recurrence": {"frequency": "Minute", "interval": 15, "startTime": "2026-01-01T00:00:00Z"}}}})


def events(**props):
    return parse_trigger({"name": "arrivals", "properties": {
        "type": "BlobEventsTrigger", "pipelines": [{"pipelineReference": {"referenceName": "load"}}],
        "typeProperties": {"blobPathBeginsWith": "/lake/blobs/raw/in/", "blobPathEndsWith": ".csv", **props}}})


def test_schedule_fires_each_occurrence_once_from_the_next_one_on(lake):
    clock, runner = ManualClock(T0 + timedelta(minutes=5)), Recorder()
    sched = Scheduler(lake.storage, [SCHEDULE], runner, clock=clock)
    run_all(sched)
    assert runner.fires == []  # the start is in the past: no backfill
    assert sched.next_wake(clock.now(), 3600) == 600
    clock.advance(600)
    run_all(sched)
    run_all(sched)
    assert [(f.pipeline, f.scheduled_time) for f in runner.fires] == [("a", T0 + timedelta(minutes=15)),
                                                                     ("b", T0 + timedelta(minutes=15))]
    clock.advance(timedelta(hours=1))  # 12:15 → 13:15; the occurrences in between are skipped
    run_all(sched)
    assert [f.scheduled_time for f in runner.fires[2:]] == [T0 + timedelta(minutes=75)] * 2
    other = Recorder()  # a second process at the same moment does not fire the same occurrence again
    run_all(Scheduler(lake.storage, [SCHEDULE], other, clock=clock))
    assert other.fires == []
    rows = lake.sql("SELECT pipeline, status FROM trigger_runs ORDER BY scheduledTime, pipeline").collect()
    assert rows.rows() == [("a", "Succeeded"), ("b", "Succeeded")] * 2


def test_storage_event_fires_once_per_new_file(lake):
    lake.storage.write_bytes("raw/in/old.csv", b"a\n1\n")
    clock, runner = ManualClock(T0), Recorder()
    sched = Scheduler(lake.storage, [events()], runner, clock=clock)
    run_all(sched)
    assert runner.fires == []  # files present at the first poll are the baseline
    lake.storage.write_bytes("raw/in/2026/jan.csv", b"a\n1\n")
    lake.storage.write_bytes("raw/in/notes.txt", b"x")
    lake.storage.write_bytes("raw/in/empty.csv", b"")
    lake.storage.write_bytes("raw/other/feb.csv", b"a\n1\n")
    run_all(sched)
    assert [(f.folder_path, f.file_name) for f in runner.fires] == [("raw/in/2026", "jan.csv")]
    assert runner.fires[0].body() == {"fileName": "jan.csv", "folderPath": "raw/in/2026"}
    lake.storage.write_bytes("raw/in/empty.csv", b"a\n2\n")  # written after all: fires now
    run_all(sched)
    restarted = Recorder()
    run_all(Scheduler(lake.storage, [events()], restarted, clock=clock))
    assert [f.file_name for f in runner.fires] == ["jan.csv", "empty.csv"] and restarted.fires == []


def test_storage_event_can_fire_on_empty_files(lake):
    runner = Recorder()
    sched = Scheduler(lake.storage, [events(ignoreEmptyBlobs=False)], runner, clock=ManualClock(T0))
    run_all(sched)
    lake.storage.write_bytes("raw/in/empty.csv", b"")
    run_all(sched)
    assert [f.file_name for f in runner.fires] == ["empty.csv"]


def test_a_file_cancelled_at_shutdown_fires_again_and_a_dead_owners_file_is_failed(lake):
    import threading

    from lakeml.pipeline.triggers.state import LEASE, FireStore, file_key

    clock, gate = ManualClock(T0), threading.Event()
    held = Recorder(gate=gate)
    sched = Scheduler(lake.storage, [events()], held, clock=clock)
    run_all(sched)
    lake.storage.write_bytes("raw/in/a.csv", b"a\n1\n")
    sched.tick()
    held.wait_started(1)
    sched.shutdown(grace=0)  # the run notices the cancel and ends Cancelled
    assert FireStore(lake.storage, "arrivals").get(file_key("raw/in/a.csv")).status == "Cancelled"
    again = Recorder()
    run_all(Scheduler(lake.storage, [events()], again, clock=clock))
    assert [f.file_name for f in again.fires] == ["a.csv"] and again.fires[0].attempt == 2

    lake.storage.write_bytes("raw/in/b.csv", b"a\n1\n")
    crashed = Scheduler(lake.storage, [events()], Recorder(gate=threading.Event()), clock=clock)
    crashed.tick()  # never finishes: its process "died"
    clock.advance(LEASE * 2)
    run_all(Scheduler(lake.storage, [events()], Recorder(), clock=clock))
    fire = FireStore(lake.storage, "arrivals").get(file_key("raw/in/b.csv"))
    assert fire.status == "Failed" and "Interrupted" in fire.body["message"]
    crashed.cancel_running()
    crashed.join(30)


def test_a_broken_trigger_is_reported_and_the_others_still_run(lake):
    from lakeml.pipeline.triggers.events import baseline_path
    from tests.pipeline.triggers.helpers import tumbling

    lake.storage.write_bytes(baseline_path("arrivals"), b"not json")
    lines: list[str] = []
    runner = Recorder()
    sched = Scheduler(lake.storage, [events(), tumbling(start="2026-03-02T11:00:00Z")], runner,
                      clock=ManualClock(T0), log=lines.append)
    run_all(sched)
    assert len(runner.fires) == 1 and runner.fires[0].trigger == "hourly"
    assert sched.errors and "baseline" in sched.errors[0] and "Delete it" in sched.errors[0]
    assert any(line.startswith("error: trigger 'arrivals'") for line in lines)


def test_a_stopped_trigger_is_not_served(lake):
    from lakeml.pipeline.triggers.definition import parse_trigger
    from tests.pipeline.triggers.helpers import tumbling

    doc = dict(tumbling().document)
    doc["properties"] = {**doc["properties"], "runtimeState": "Stopped"}
    runner = Recorder()
    run_all(Scheduler(lake.storage, [parse_trigger(doc)], runner, clock=ManualClock(T0)))
    assert runner.fires == []
