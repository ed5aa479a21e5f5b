"""Fire claims and storage events on a local lake and on a real Azurite lake (create-only blob writes)."""

from __future__ import annotations

import threading

from lakeml.pipeline.triggers.clock import ManualClock
from lakeml.pipeline.triggers.scheduler import Scheduler
from lakeml.pipeline.triggers.state import FireStore
from tests.pipeline.triggers.helpers import T0, Recorder, tumbling
from tests.pipeline.triggers.test_fires import events
from tests.pipeline.triggers.test_tumbling import run_all


def test_racing_schedulers_claim_each_window_once(any_lake):
    gate = threading.Event()
    runners = [Recorder(gate=gate) for _ in range(3)]
    scheds = [Scheduler(any_lake.storage, [tumbling(maxConcurrency=50)], r, clock=ManualClock(T0)) for r in runners]
    threads = [threading.Thread(target=s.tick) for s in scheds]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    gate.set()
    for s in scheds:
        run_all(s)
    windows = [w for r in runners for w in r.windows()]
    assert len(windows) == 5 and len(set(windows)) == 5
    assert {f.status for f in FireStore(any_lake.storage, "hourly").all().values()} == {"Succeeded"}


def test_storage_events_poll_the_lake(any_lake):
    any_lake.storage.write_bytes("raw/in/old.csv", b"a\n1\n")
    runner = Recorder()
    sched = Scheduler(any_lake.storage, [events()], runner, clock=ManualClock(T0))
    run_all(sched)
    any_lake.storage.write_bytes("raw/in/new.csv", b"a\n1\n")
    any_lake.storage.write_bytes("raw/in/empty.csv", b"")
    run_all(sched)
    run_all(Scheduler(any_lake.storage, [events()], runner, clock=ManualClock(T0)))
    assert [(f.folder_path, f.file_name) for f in runner.fires] == [("raw/in", "new.csv")]
