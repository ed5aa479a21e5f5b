"""``lake.vacuum`` / ``lakeml vacuum``: what is removed, what is kept, retention and dry runs."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import polars as pl
import pytest

from lakeml.errors import ConfigError
from lakeml.session import Lake
from tests.scoring.models import regressor


def _age(lake: Lake, relpath: str, hours: float) -> None:
    """Make every file below ``relpath`` look ``hours`` old (local lakes)."""
    stamp = time.time() - hours * 3600
    for name in lake.storage.modified_times(relpath):
        path = lake.storage.uri(relpath, name) if name else lake.storage.uri(relpath)
        os.utime(path, (stamp, stamp))


def _litter(lake: Lake) -> dict[str, str]:
    """A lake with one of everything vacuum removes, all 200 hours old; returns their paths."""
    lake.write("t", pl.DataFrame({"i": [1]}))
    lake.models.register(regressor()[0], name="m", features=["a", "b"])
    paths = {
        "orphan data": "tables/t/data/deadbeef",
        "uncommitted table": "tables/half",
        "unfinished model": "_lakeml/models/m/2",
        "temp file": "tables/t/_lakeml_log/.00000000000000000001.json.x1y2.tmp",
    }
    lake.storage.write_bytes(f"{paths['orphan data']}/part-00000.parquet", b"PAR1")
    lake.storage.write_bytes(f"{paths['uncommitted table']}/data/cafe/part-00000.parquet", b"PAR1")
    lake.storage.write_bytes(f"{paths['unfinished model']}/model.onnx", b"onnx")
    lake.storage.write_bytes(paths["temp file"], b"{}")
    _age(lake, "", 200)
    return paths


def test_vacuum_removes_litter_and_keeps_committed_data(lake: Lake):
    paths = _litter(lake)
    report = lake.vacuum()
    assert set(report.removed) == set(paths.values()) and not report.dry_run
    assert not any(lake.storage.exists(p) for p in paths.values())
    assert lake.table("t").collect()["i"].to_list() == [1]
    assert lake.models.get("m").version == 1
    assert lake.vacuum().removed == ()


def test_dry_run_deletes_nothing(lake: Lake):
    paths = _litter(lake)
    assert set(lake.vacuum(dry_run=True).removed) == set(paths.values())
    assert all(lake.storage.exists(p) for p in paths.values())


def test_retention_protects_recent_files_of_running_writers(lake: Lake):
    paths = _litter(lake)
    _age(lake, paths["orphan data"], 1)  # a writer that has not committed yet
    removed = lake.vacuum(retention_hours=24).removed
    assert paths["orphan data"] not in removed and lake.storage.exists(paths["orphan data"])
    assert paths["orphan data"] in lake.vacuum(retention_hours=0).removed


def test_vacuum_keeps_the_previous_version_of_an_overwrite(lake: Lake):
    for k in range(3):
        lake.write("t", pl.DataFrame({"i": [k]}), mode="overwrite" if k else "error")
    _age(lake, "", 200)
    assert lake.vacuum().removed == ()  # versions 2 and 1 are live; version 0's data went at the overwrite
    assert lake.table("t").collect()["i"].to_list() == [2]


def test_vacuum_on_azurite_and_delta(azure_lake: Lake):
    azure_lake.write("d", pl.DataFrame({"i": [1]}), format="delta")
    azure_lake.write("d", pl.DataFrame({"i": [2]}), format="delta", mode="overwrite")
    azure_lake.write("t", pl.DataFrame({"i": [1]}))
    azure_lake.storage.write_bytes("tables/t/data/deadbeef/part-00000.parquet", b"PAR1")
    assert azure_lake.vacuum().removed == ()  # everything is younger than a week
    removed = azure_lake.vacuum(retention_hours=0).removed
    assert "tables/t/data/deadbeef" in removed
    assert any(p.startswith("tables/d/part-") for p in removed)  # the overwritten Delta file
    assert azure_lake.table("d").collect()["i"].to_list() == [2]
    assert azure_lake.table("t").collect()["i"].to_list() == [1]


def test_negative_retention_is_refused(lake: Lake):
    with pytest.raises(ConfigError, match="retention_hours"):
        lake.vacuum(retention_hours=-1)


def _cli(lake: Lake, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AZURE_", "LAKEML_"))}
    return subprocess.run([sys.executable, "-m", "lakeml.cli.main", "--lake", lake.root, *args],
                          capture_output=True, text=True, timeout=180, env=env)


def test_cli_vacuum_and_drop(lake: Lake):
    paths = _litter(lake)
    dry = _cli(lake, "vacuum", "--dry-run")
    assert dry.returncode == 0 and "would remove 4 path(s)" in dry.stdout
    assert paths["orphan data"] in dry.stdout and lake.storage.exists(paths["orphan data"])
    done = _cli(lake, "vacuum", "--retention-hours", "0")
    assert done.returncode == 0 and "removed 4 path(s)" in done.stdout
    bad = _cli(lake, "vacuum", "--retention-hours", "-3")
    assert bad.returncode == 2 and "--retention-hours" in bad.stderr
    dropped = _cli(lake, "drop", "t")
    assert dropped.returncode == 0 and "dropped t" in dropped.stdout and lake.tables() == []
    missing = _cli(lake, "drop", "t")
    assert missing.returncode == 1 and missing.stderr.startswith("error: No table named 't'")
