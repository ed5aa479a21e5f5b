"""kill -9 of a Spark writer mid-write leaves the previous version intact (docs/engines.md, writes)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import polars as pl
import pytest

import lakeml

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.spark
def test_kill_during_a_spark_write_keeps_the_previous_version(tmp_path: Path) -> None:
    root = tmp_path / "lake"
    lake = lakeml.connect(root)
    before = pl.DataFrame({"id": [1, 2, 3], "part": [0, 1, 2]})
    lake.write("t", before)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    child = subprocess.Popen([sys.executable, "-m", "tests.faults.spark_writer", str(root)], cwd=REPO, env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, start_new_session=True)
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == "writing"
        data = root / "tables" / "t" / "data"
        deadline = time.monotonic() + 600
        # wait until Spark has written part of the new version's files (its staging folder holds parquet files)
        while not any(p.suffix == ".parquet" for d in data.iterdir() for p in d.rglob("*") if "_temporary" in str(p)):
            assert child.poll() is None, "the writer finished before it could be killed"
            assert time.monotonic() < deadline
            time.sleep(0.2)
    finally:
        os.killpg(child.pid, signal.SIGKILL)  # the writer and the JVM it started
        child.wait()
    after = lakeml.connect(root)
    assert after.table("t").collect().sort("id").equals(before)
    assert len(list(data.iterdir())) == 2  # the killed write left only its own uncommitted folder
