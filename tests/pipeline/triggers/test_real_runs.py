"""Triggers running real pipelines (lake.pipelines): the window bounds reach the pipeline's expressions,
and the window-output pattern (Copy merging by window) replaces a rerun window's rows exactly once."""

from __future__ import annotations

from datetime import timedelta

import polars as pl

from lakeml.pipeline.triggers.clock import ManualClock
from lakeml.pipeline.triggers.invoke import lake_runner
from lakeml.pipeline.triggers.operations import rerun_window
from lakeml.pipeline.triggers.scheduler import Scheduler
from lakeml.pipeline.triggers.store import TriggerStore
from tests.pipeline.triggers.helpers import T0
from tests.pipeline.triggers.test_tumbling import START, run_all

COPY_WINDOW = {"name": "load_window", "properties": {
    "parameters": {"from": {"type": "string"}, "to": {"type": "string"}},
    "activities": [{"name": "copy", "type": "Copy", "typeProperties": {
        "source": {"sql": "SELECT '@{trigger().outputs.windowStartTime}' AS window_start, id, ts, amount "
                          "FROM events WHERE ts >= '@{pipeline().parameters.from}' "
                          "AND ts < '@{pipeline().parameters.to}'"},
        "sink": {"table": "window_totals", "mode": "merge", "keys": ["window_start", "id"]}}}]}}

TRIGGER = {"name": "hourly", "properties": {
    "type": "TumblingWindowTrigger",
    "pipeline": {"pipelineReference": {"referenceName": "load_window", "type": "PipelineReference"},
                 "parameters": {"from": "@trigger().outputs.windowStartTime",
                                "to": "@trigger().outputs.windowEndTime"}},
    "typeProperties": {"frequency": "Hour", "interval": 1, "startTime": "2026-03-02T07:00:00Z", "maxConcurrency": 3}}}


def events(hours: int, per_hour: int, amount: int) -> pl.DataFrame:
    rows = [(h * 100 + i, f"2026-03-02T{7 + h:02d}:{i * 10:02d}:00Z", amount) for h in range(hours)
            for i in range(per_hour)]
    return pl.DataFrame(rows, schema=["id", "ts", "amount"], orient="row")


def test_windows_run_real_pipelines_and_a_rerun_replaces_its_rows(lake):
    lake.write("events", events(5, 4, 1))
    lake.pipelines.create(COPY_WINDOW)
    trigger = TriggerStore(lake.storage).create(TRIGGER)
    clock = ManualClock(T0)
    run_all(Scheduler(lake.storage, [trigger], lake_runner(lake), clock=clock))
    per_window = lake.sql("SELECT window_start, COUNT(*) AS n FROM window_totals GROUP BY window_start "
                          "ORDER BY window_start").collect()
    assert per_window.rows() == [(f"2026-03-02T{h:02d}:00:00Z", 4) for h in range(7, 12)]
    runs = lake.sql("SELECT t.windowStart, p.status, p.invokedBy FROM trigger_runs t "
                    "JOIN pipeline_runs p ON t.runId = p.runId ORDER BY t.windowStart").collect()
    assert runs.height == 5 and set(runs["status"]) == {"Succeeded"} and set(runs["invokedBy"]) == {"hourly"}

    lake.write("events", events(5, 4, 7), mode="overwrite")  # the source of the 09:00 window was corrected
    fire = rerun_window(lake.storage, trigger, lake_runner(lake), window_start=START + timedelta(hours=2),
                        clock=clock)
    assert fire.status == "Succeeded" and fire.attempt == 2
    table = lake.table("window_totals").collect()
    assert table.height == 20
    totals = dict(table.group_by("window_start").agg(pl.col("amount").sum()).iter_rows())
    assert totals["2026-03-02T09:00:00Z"] == 28 and totals["2026-03-02T08:00:00Z"] == 4


WAIT_LONG = {"name": "slow", "properties": {"activities": [
    {"name": "hold", "type": "Wait", "typeProperties": {"waitTimeInSeconds": 3600}}]}}


def test_shutdown_cancels_a_real_run_and_records_both_cancelled(lake):
    lake.pipelines.create(WAIT_LONG)
    doc = {"name": "slowly", "properties": {
        "type": "TumblingWindowTrigger", "pipeline": {"pipelineReference": {"referenceName": "slow"}},
        "typeProperties": {"frequency": "Hour", "interval": 1, "startTime": "2026-03-02T11:00:00Z"}}}
    lake.triggers.create(doc)
    sched = lake.triggers.scheduler(clock=ManualClock(T0))
    assert sched.tick() == ["slowly/20260302T110000Z"]
    sched.shutdown(grace=0)  # the Wait ends at the cancel, not after an hour
    fire = lake.triggers.runs("slowly").row(0, named=True)
    assert fire["status"] == "Cancelled"
    run = lake.sql(f"SELECT status FROM pipeline_runs WHERE runId = '{fire['runId']}'").collect()
    assert run.item() == "Cancelled"


def test_backfill_and_rerun_on_the_command_line(lake, capsys):
    from lakeml.cli.main import main

    lake.write("events", events(5, 2, 1))
    lake.pipelines.create(COPY_WINDOW)
    lake.triggers.create(TRIGGER)

    def cli(*args: str) -> int:
        try:
            main(["--lake", lake.root, *args])
        except SystemExit as exit_:
            return int(exit_.code or 0)
        return 0

    code = cli("pipeline", "backfill", "load_window", "--trigger", "hourly", "--start", "2026-03-02T08:00:00Z",
               "--end", "2026-03-02T10:00:00Z")
    out = capsys.readouterr().out
    assert code == 0 and out.splitlines() == ["2026-03-02T08:00:00Z  Succeeded (attempt 1)",
                                              "2026-03-02T09:00:00Z  Succeeded (attempt 1)"]
    code = cli("pipeline", "trigger", "rerun", "hourly", "--window", "2026-03-02T09:00:00Z")
    out = capsys.readouterr().out
    assert code == 0 and out.startswith("window 2026-03-02T09:00:00Z: Succeeded (attempt 2, run ")
    assert lake.table("window_totals").collect().height == 4
    code = cli("pipeline", "backfill", "other", "--trigger", "hourly", "--start", "2026-03-02T08:00:00Z",
               "--end", "2026-03-02T10:00:00Z")
    assert code == 1 and "does not start pipeline 'other'" in capsys.readouterr().err


INGEST_FILE = {"name": "ingest_file", "properties": {"activities": [
    {"name": "load", "type": "Copy", "typeProperties": {
        "source": {"path": "@{triggerBody().folderPath}/@{triggerBody().fileName}", "format": "csv"},
        "sink": {"table": "arrivals", "mode": "append"}}},
    {"name": "note", "type": "Copy", "dependsOn": [{"activity": "load", "dependencyConditions": ["Succeeded"]}],
     "typeProperties": {
         "source": {"sql": "SELECT '@{pipeline().TriggerName}' AS trigger_name, '@{pipeline().TriggerType}' AS "
                           "trigger_type, '@{pipeline().TriggerTime}' AS trigger_time, "
                           "'@{triggerBody().fileName}' AS file_name"},
         "sink": {"table": "arrival_log", "mode": "append"}}}]}}


def test_a_new_file_runs_a_pipeline_that_reads_it(lake):
    from lakeml.pipeline.triggers.clock import ManualClock as Clock

    lake.pipelines.create(INGEST_FILE)
    lake.triggers.create({"name": "drop", "properties": {
        "type": "BlobEventsTrigger", "pipelines": [{"pipelineReference": {"referenceName": "ingest_file"}}],
        "typeProperties": {"blobPathBeginsWith": "/lake/blobs/landing/", "blobPathEndsWith": ".csv"}}})
    sched = lake.triggers.scheduler(clock=Clock(T0))
    run_all(sched)
    lake.storage.write_bytes("landing/2026/march.csv", b"id,amount\n1,10\n2,20\n")
    run_all(sched)
    run_all(sched)
    assert lake.table("arrivals").collect().height == 2
    log = lake.table("arrival_log").collect().row(0, named=True)
    assert log == {"trigger_name": "drop", "trigger_type": "BlobEventsTrigger",
                   "trigger_time": "2026-03-02T12:00:00Z", "file_name": "march.csv"}
