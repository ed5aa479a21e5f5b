"""The window-output pattern end to end: each window merges its rows keyed by the window start, so
windows running at once never lose each other's rows and a rerun replaces its window's rows exactly once."""

from __future__ import annotations

from datetime import timedelta

import polars as pl

from lakeml.pipeline.triggers.clock import ManualClock
from lakeml.pipeline.triggers.fire import RunOutcome, TriggerFire
from lakeml.pipeline.triggers.invoke import resolve_parameters
from lakeml.pipeline.triggers.operations import rerun_window
from lakeml.pipeline.triggers.scheduler import Scheduler
from tests.pipeline.triggers.helpers import T0, tumbling
from tests.pipeline.triggers.test_tumbling import START, run_all

SIZE = {"rows": 3}


def window_loader(lake):
    """A pipeline that loads its window: SIZE['rows'] rows stamped with the window start, merged by (window, id)."""

    def run(fire: TriggerFire) -> RunOutcome:
        params = resolve_parameters(fire)
        start = params["from"]
        rows = pl.DataFrame({"window_start": [start] * SIZE["rows"], "id": list(range(SIZE["rows"])),
                             "value": [f"{start}#{fire.attempt}"] * SIZE["rows"]})
        lake.write("hourly_counts", rows, mode="merge", keys=["window_start", "id"])
        return RunOutcome(f"{fire.trigger}-{start}-{fire.attempt}", "Succeeded")

    return run


def test_concurrent_windows_and_a_rerun_leave_each_window_once(lake):
    trigger = tumbling(maxConcurrency=3)
    clock = ManualClock(T0)
    run_all(Scheduler(lake.storage, [trigger], window_loader(lake), clock=clock))
    counts = lake.sql("SELECT window_start, COUNT(*) AS n FROM hourly_counts GROUP BY window_start "
                      "ORDER BY window_start").collect()
    assert counts["n"].to_list() == [3] * 5
    assert counts["window_start"][0] == "2026-03-02T07:00:00Z"
    rerun_window(lake.storage, trigger, window_loader(lake), window_start=START + timedelta(hours=2), clock=clock)
    table = lake.table("hourly_counts").collect()
    assert table.height == 15
    rerun_rows = table.filter(pl.col("window_start") == "2026-03-02T09:00:00Z")
    assert rerun_rows["value"].to_list() == ["2026-03-02T09:00:00Z#2"] * 3  # replaced, not added
    others = table.filter(pl.col("window_start") != "2026-03-02T09:00:00Z")
    assert set(others["value"].str.slice(-2).to_list()) == {"#1"}


def test_trigger_parameters_are_evaluated_in_the_trigger_context():
    when = START + timedelta(hours=1)
    window = TriggerFire("hourly", "TumblingWindowTrigger", "load",
                         {"from": "@trigger().outputs.windowStartTime", "to": "@trigger().outputs.windowEndTime",
                          "label": "run of @{pipeline().TriggerName} at @{pipeline().TriggerTime}", "n": 3},
                         scheduled_time=when, trigger_time=when, window_start=START, window_end=when)
    assert resolve_parameters(window) == {"from": "2026-03-02T07:00:00Z", "to": "2026-03-02T08:00:00Z",
                                          "label": "run of hourly at 2026-03-02T08:00:00Z", "n": 3}
    event = TriggerFire("arrivals", "BlobEventsTrigger", "load",
                        {"file": "@triggerBody().fileName", "dir": "@trigger().outputs.body.folderPath"},
                        scheduled_time=when, trigger_time=when, file_name="jan.csv", folder_path="raw/in")
    assert resolve_parameters(event) == {"file": "jan.csv", "dir": "raw/in"}
