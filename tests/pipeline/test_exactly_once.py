"""Exactly-once incremental Copy: a run killed with -9 at any point, then rerun, neither loses nor
duplicates a row.

Each trial adds a new month of rows to the source folder, runs the pipeline (incremental Copy with
a watermark into table ``t``, then a Script) in a child process and kills it: at a chosen call
(data files written but not committed; just before and just after the commit's create-only link)
or at a random moment. Afterwards the table holds either the rows before or all of them, never a
part or a duplicate; the killed run is found and marked Failed; ``rerun --from-failure`` (or a new
run when the kill came before the run was recorded) then leaves exactly all rows.

The default is a short seeded subset; ``FAULT_TRIALS=N`` adds N random kill trials.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import time
from pathlib import Path

import polars as pl
import pytest

import lakeml
from lakeml.pipeline import records

REPO = Path(__file__).resolve().parents[2]
EXTRA_TRIALS = int(os.environ.get("FAULT_TRIALS", "0"))
SEED = int(os.environ.get("FAULT_SEED", "20261203"))
ROWS = 20_000
PIPELINE = {"name": "load_months", "properties": {"activities": [
    {"name": "copy", "type": "Copy", "policy": {"retry": 1, "retryIntervalInSeconds": 0},
     "typeProperties": {"source": {"path": "raw/*.parquet", "format": "parquet"},
                        "sink": {"table": "t", "mode": "append"}, "watermark": {"column": "id"}}},
    {"name": "summary", "type": "Script", "dependsOn": [{"activity": "copy", "dependencyConditions": ["Succeeded"]}],
     "typeProperties": {"sql": "CREATE OR REPLACE TABLE t_summary AS SELECT COUNT(*) AS n FROM t"}}]}}
POINTS = [
    {"call": "sink", "n": 1, "when": "after"},    # the Copy's data files written, nothing committed
    {"call": "link", "n": 1, "when": "before"},   # about to create the commit entry (rows + watermark)
    {"call": "link", "n": 1, "when": "after"},    # just committed, the run not yet recorded as done
]


class World:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.lake = lakeml.connect(root)
        self.month = 0
        self.duration: float | None = None

    def add_month(self) -> int:
        """Write the next month's source file; returns the number of rows the table should then hold."""
        self.month += 1
        start = self.month * ROWS
        folder = self.root / "raw"
        folder.mkdir(parents=True, exist_ok=True)
        pl.DataFrame({"id": pl.int_range(start, start + ROWS, eager=True)}).with_columns(
            v=pl.col("id") * 2).write_parquet(folder / f"m{self.month:04d}.parquet")
        return self.month * ROWS

    def rows(self) -> tuple[int, int]:
        if "t" not in self.lake.tables():
            return (0, 0)
        return self.lake.table("t").select(pl.len(), pl.col("id").n_unique()).collect().row(0)


def _child(world: World, point: dict | None, kill_after: float | None) -> int:
    spec = json.dumps({"root": str(world.root), "pipeline": PIPELINE, "point": point})
    path = os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])
    proc = subprocess.Popen([sys.executable, "-m", "tests.pipeline.copy_child", spec], cwd=REPO,
                            env={**os.environ, "PYTHONPATH": path}, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "ready", proc.communicate(timeout=60)
    if kill_after is not None:
        try:
            proc.wait(timeout=kill_after)
        except subprocess.TimeoutExpired:
            proc.kill()
    out, err = proc.communicate(timeout=300)
    assert proc.returncode in (0, -9), f"the run failed on its own (exit {proc.returncode}):\n{err[-3000:]}"
    if proc.returncode == 0:
        assert "done Succeeded" in out, out + err[-2000:]
    return proc.returncode


def _trial(world: World, *, point: dict | None = None, kill_after: float | None = None) -> str:
    before, _ = world.rows()
    expected = world.add_month()
    known = set(records.run_ids(world.lake.storage))
    code = _child(world, point, kill_after)
    count, unique = world.rows()
    assert count == unique, f"duplicated rows after the kill ({count} rows, {unique} ids)"
    assert count in (before, expected), f"a partial copy: {count} rows, expected {before} or {expected}"
    new_runs = sorted(set(records.run_ids(world.lake.storage)) - known)
    pipelines = lakeml.connect(world.root).pipelines  # a fresh session: the next start
    if code == -9 and new_runs:
        killed = pipelines.get(new_runs[-1])["run"]
        if killed["status"] != "Succeeded":
            assert killed["status"] == "Failed" and "killed" in killed["message"], killed
            again = pipelines.rerun(new_runs[-1], from_failure=True)
        else:  # killed after the run was recorded Succeeded: a new run must copy nothing twice
            again = pipelines.run(PIPELINE)
    else:
        again = pipelines.run(PIPELINE)
    assert again.status == "Succeeded", again.message
    count, unique = world.rows()
    assert (count, unique) == (expected, expected), f"after the rerun: {count} rows, {unique} ids, want {expected}"
    assert world.lake.table("t_summary").collect().item() == expected
    return "killed" if code == -9 else "finished"


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    made = World(tmp_path_factory.mktemp("exactly-once") / "lake")
    start = time.perf_counter()
    assert _trial(made) == "finished"
    made.duration = time.perf_counter() - start
    return made


@pytest.mark.parametrize("point", POINTS, ids=[f"{p['call']}-{p['when']}" for p in POINTS])
def test_kill_at_chosen_points(world: World, point: dict):
    assert _trial(world, point=point) == "killed"


def test_kill_at_random_moments(world: World):
    rng = random.Random(SEED)
    for _ in range(3 + EXTRA_TRIALS):
        _trial(world, kill_after=rng.uniform(0, 1.3 * (world.duration or 2.0)))
