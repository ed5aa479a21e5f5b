"""``lakeml pipeline trigger ...``: create (every problem listed), list, show, runs, delete."""

from __future__ import annotations

import json

import pytest

from lakeml.cli.main import main
from lakeml.pipeline.triggers.clock import ManualClock
from lakeml.pipeline.triggers.scheduler import Scheduler
from lakeml.pipeline.triggers.store import TriggerStore
from tests.pipeline.triggers.helpers import T0, Recorder, tumbling

TRIGGER = {"name": "hourly", "properties": {
    "type": "TumblingWindowTrigger",
    "pipeline": {"pipelineReference": {"referenceName": "load", "type": "PipelineReference"}},
    "typeProperties": {"frequency": "Hour", "interval": 1, "startTime": "2026-03-02T07:00:00Z", "maxConcurrency": 2}}}


def lakeml(root, *args, capsys):
    try:
        main(["--lake", str(root), *args])
        code = 0
    except SystemExit as exit_:
        code = int(exit_.code or 0)
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.fixture
def root(lake):
    lake.storage.write_bytes("_lakeml/pipelines/load.json", b"{}")
    return lake.root


def test_create_list_show_delete(root, tmp_path, capsys):
    file = tmp_path / "hourly.json"
    file.write_text(json.dumps(TRIGGER))
    code, out, _ = lakeml(root, "pipeline", "trigger", "create", str(file), capsys=capsys)
    assert code == 0 and "stored trigger hourly (TumblingWindowTrigger: 1 hour windows" in out
    code, out, _ = lakeml(root, "pipeline", "trigger", "list", "--json", capsys=capsys)
    assert json.loads(out) == {"name": "hourly", "type": "TumblingWindowTrigger", "state": "Started",
                               "pipelines": "load",
                               "schedule": "1 hour windows from 2026-03-02T07:00:00Z, maxConcurrency 2"}
    code, out, _ = lakeml(root, "pipeline", "trigger", "show", "hourly", capsys=capsys)
    assert json.loads(out) == TRIGGER
    code, _, err = lakeml(root, "pipeline", "trigger", "create", str(file), capsys=capsys)
    assert code == 1 and "already exists" in err and "--replace" in err
    code, out, _ = lakeml(root, "pipeline", "trigger", "delete", "hourly", capsys=capsys)
    assert code == 0
    code, _, err = lakeml(root, "pipeline", "trigger", "show", "hourly", capsys=capsys)
    assert code == 1 and err.startswith("error: No trigger named 'hourly'")


def test_create_lists_every_problem(root, tmp_path, capsys):
    bad = json.loads(json.dumps(TRIGGER))
    bad["properties"]["typeProperties"].update(frequency="Year", maxConcurrency=0)
    file = tmp_path / "bad.json"
    file.write_text(json.dumps(bad))
    code, _, err = lakeml(root, "pipeline", "trigger", "create", str(file), capsys=capsys)
    assert code == 1
    assert "  $.properties.typeProperties.frequency: 'Year' must be one of Minute, Hour, Day" in err
    assert "  $.properties.typeProperties.maxConcurrency: 0 must be 1-50" in err


def test_runs_prints_the_trigger_runs(root, lake, capsys):
    TriggerStore(lake.storage).create(TRIGGER)
    sched = Scheduler(lake.storage, [tumbling()], Recorder(), clock=ManualClock(T0))
    sched.tick()
    sched.join(60)
    code, out, _ = lakeml(root, "pipeline", "trigger", "runs", "hourly", "--json", capsys=capsys)
    rows = [json.loads(line) for line in out.splitlines()]
    assert code == 0 and [r["status"] for r in rows] == ["Succeeded"]
    assert rows[0]["windowStart"].startswith("2026-03-02 07:00:00")
