"""``lakeml pipeline serve`` as a real process: SIGTERM stops it cleanly with every run finished; after a
kill -9 a restart records the interrupted windows, runs the missed ones, and no window runs twice."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest

import lakeml
from lakeml.pipeline.triggers.runs import frame
from lakeml.pipeline.triggers.state import FireStore
from lakeml.pipeline.triggers.timefmt import iso

REPO = Path(__file__).resolve().parents[3]
WINDOWS = 8


def pipeline_doc() -> dict:
    return {"name": "load_window", "properties": {
        "parameters": {"from": {"type": "string"}, "to": {"type": "string"}},
        "activities": [
            {"name": "copy", "type": "Copy", "typeProperties": {
                "source": {"sql": "SELECT '@{pipeline().parameters.from}' AS window_start, id, ts FROM events "
                                  "WHERE ts >= '@{pipeline().parameters.from}' AND ts < '@{pipeline().parameters.to}'"},
                "sink": {"table": "window_rows", "mode": "merge", "keys": ["window_start", "id"]}}},
            {"name": "settle", "type": "Wait", "typeProperties": {"waitTimeInSeconds": 1},
             "dependsOn": [{"activity": "copy", "dependencyConditions": ["Succeeded"]}]}]}}


def trigger_doc(start: datetime, end: datetime) -> dict:
    return {"name": "tick", "properties": {
        "type": "TumblingWindowTrigger",
        "pipeline": {"pipelineReference": {"referenceName": "load_window", "type": "PipelineReference"},
                     "parameters": {"from": "@trigger().outputs.windowStartTime",
                                    "to": "@trigger().outputs.windowEndTime"}},
        "typeProperties": {"frequency": "Minute", "interval": 1, "startTime": iso(start), "endTime": iso(end),
                           "maxConcurrency": 2}}}


def serve(root: Path) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AZURE_", "LAKEML_"))}
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    return subprocess.Popen([sys.executable, "-m", "lakeml.cli.main", "--lake", str(root), "pipeline", "serve",
                             "--poll", "0.2", "--grace", "120"], cwd=REPO, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def read_until(proc: subprocess.Popen[str], done) -> list[str]:
    """Read the serve log line by line (blocking, no sleeps) until ``done(line)``."""
    assert proc.stderr is not None
    seen = []
    for line in proc.stderr:
        seen.append(line)
        if done(line):
            return seen
    raise AssertionError("serve ended early:\n" + "".join(seen))


def fires(lake):
    return FireStore(lake.storage, "tick").all()


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_serve_stops_cleanly_and_never_runs_a_window_twice(tmp_path):
    root = tmp_path / "lake"
    lake = lakeml.connect(root)
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    start = now - timedelta(minutes=WINDOWS)
    lake.write("events", pl.DataFrame({"id": list(range(WINDOWS * 3)),
                                       "ts": [iso(start + timedelta(seconds=20 * i)) for i in range(WINDOWS * 3)]}))
    lake.pipelines.create(pipeline_doc())
    (tmp_path / "tick.json").write_text(json.dumps(trigger_doc(start, now)))
    created = subprocess.run([sys.executable, "-m", "lakeml.cli.main", "--lake", str(root), "pipeline", "trigger",
                              "create", str(tmp_path / "tick.json")], cwd=REPO, capture_output=True, text=True,
                             env={**os.environ, "PYTHONPATH": str(REPO)})
    assert created.returncode == 0, created.stderr

    # 1. SIGTERM while windows run: runs in progress finish, the process exits 0
    proc = serve(root)
    read_until(proc, lambda line: " started " in line)
    proc.send_signal(signal.SIGTERM)
    _, rest = proc.communicate(timeout=300)
    assert proc.returncode == 0, rest
    assert "SIGTERM: stopping" in rest and rest.rstrip().endswith("stopped")
    first = fires(lake)
    assert first and {f.status for f in first.values()} == {"Succeeded"}
    assert all(f.attempt == 1 for f in first.values())

    # 2. kill -9 while windows run
    proc = serve(root)
    read_until(proc, lambda line: " started " in line)
    proc.kill()
    proc.communicate(timeout=60)
    assert len(fires(lake)) < WINDOWS

    # 3. a restart finishes the rest; the windows the killed process was running stay Failed (no retry policy)
    proc = serve(root)
    read_until(proc, lambda line: ("Succeeded" in line or "Failed" in line)
               and sum(f.status in ("Succeeded", "Failed") for f in fires(lake).values()) == WINDOWS)
    proc.send_signal(signal.SIGTERM)
    _, rest = proc.communicate(timeout=300)
    assert proc.returncode == 0, rest

    final = fires(lake)
    assert len(final) == WINDOWS and all(f.attempt == 1 for f in final.values())  # no window ran twice
    interrupted = [f for f in final.values() if f.status == "Failed"]
    assert all("Interrupted" in f.body["message"] for f in interrupted) and len(interrupted) <= 2
    runs = lake.sql("SELECT parameters, status FROM pipeline_runs WHERE invokedBy = 'tick'").collect()
    started = [json.loads(p)["from"] for p in runs["parameters"]]
    assert len(started) == len(set(started))  # at most one pipeline run per window, over three processes
    succeeded = {f.body["windowStart"] for f in final.values() if f.status == "Succeeded"}
    assert succeeded <= set(started) and len(succeeded) >= WINDOWS - 2
    assert "InProgress" not in set(runs["status"]) and "Queued" not in set(runs["status"])  # the killed run is marked
    rows = lake.table("window_rows").collect()
    assert rows.height == rows.select("window_start", "id").unique().height  # no row twice
    assert set(rows["window_start"]) >= succeeded
    table = frame(lake.storage, "tick")
    assert table.height == WINDOWS and set(table["invokedBy"]) == {"serve"}
