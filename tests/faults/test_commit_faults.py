"""Faults around the commit itself: SIGINT after the commit, failed tidying, killed first writes,
concurrent metadata writers, damaged metadata files (see docs/lake.md)."""

from __future__ import annotations

import io
import json
import logging
import os
import signal
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

from lakeml.errors import CorruptMetadataError, TableNotFoundError
from lakeml.session import Lake
from lakeml.storage.lakefs import LakeStorage
from tests.scoring.models import regressor

REPO = Path(__file__).resolve().parents[2]


def _options(lake: Lake) -> str:
    creds = getattr(lake.storage, "credentials", None)
    return json.dumps(creds.object_store_options() if creds is not None else {})


@pytest.mark.parametrize("mode", ["create", "append", "overwrite", "partitioned"])
def test_sigint_right_after_the_commit_keeps_the_new_version(lake: Lake, monkeypatch: pytest.MonkeyPatch,
                                                             mode: str):
    old = pl.DataFrame({"i": [0, 1], "p": [0, 1]})
    new = pl.DataFrame({"i": [10, 11, 12], "p": [0, 1, 1]})
    if mode in ("append", "overwrite"):
        lake.write("t", old)
        lake.write("t", old, mode="overwrite")  # so an overwrite has older data to tidy afterwards
    real_unlink = os.unlink

    def unlink_then_interrupt(path: str | os.PathLike[str], *args: object, **kwargs: object) -> None:
        real_unlink(path, *args, **kwargs)  # type: ignore[arg-type]
        if "_lakeml_log" in str(path):  # the temp file of the log entry, removed after the commit's link
            monkeypatch.setattr(os, "unlink", real_unlink)
            signal.raise_signal(signal.SIGINT)

    monkeypatch.setattr(os, "unlink", unlink_then_interrupt)
    with pytest.raises(KeyboardInterrupt):
        lake.write("t", new, mode="error" if mode in ("create", "partitioned") else mode,
                   partition_by="p" if mode == "partitioned" else None)
    got = sorted(lake.table("t").collect()["i"].to_list())
    assert got == {"append": [0, 1, 10, 11, 12]}.get(mode, [10, 11, 12])
    lake.write("t", pl.DataFrame({"i": [99], "p": [0]}), mode="append")  # and the table stays writable
    assert 99 in lake.table("t").collect()["i"].to_list()


def test_failed_tidying_after_an_overwrite_is_logged_not_raised(lake: Lake, monkeypatch: pytest.MonkeyPatch,
                                                                caplog: pytest.LogCaptureFixture):
    for k in range(2):
        lake.write("t", pl.DataFrame({"i": [k]}), mode="overwrite" if k else "error")

    def refuse(self: LakeStorage, relpath: str, *, recursive: bool = False) -> None:
        raise PermissionError(f"cannot delete {relpath}")

    monkeypatch.setattr(type(lake.storage), "delete", refuse)
    with caplog.at_level(logging.WARNING, logger="lakeml"):
        version = lake.write("t", pl.DataFrame({"i": [2]}), mode="overwrite")
    assert version.version == 2 and lake.table("t").collect()["i"].to_list() == [2]
    assert "Version 2" in caplog.text and "lakeml vacuum" in caplog.text
    monkeypatch.undo()
    assert lake.vacuum(retention_hours=0).removed  # the old data is left for vacuum, which removes it
    assert lake.table("t").collect()["i"].to_list() == [2]


@pytest.mark.parametrize("fmt", ["parquet", "delta"])
def test_a_first_write_that_never_committed_is_no_table(any_lake: Lake, fmt: str):
    # What a killed first write leaves: data files and no committed log entry.
    stray = pl.DataFrame({"i": [1, 2, 3]})
    folder = "tables/t/data/0123abcd" if fmt == "parquet" else "tables/t"
    any_lake.storage.ensure_root()
    buffer = io.BytesIO()
    stray.write_parquet(buffer)
    any_lake.storage.write_bytes(f"{folder}/part-00000.parquet", buffer.getvalue())
    if fmt == "delta":
        any_lake.storage.write_bytes("tables/t/_delta_log/_commit_0123.json.tmp", b"{}")
    assert any_lake.tables() == []
    with pytest.raises(TableNotFoundError):
        any_lake.table("t")
    any_lake.write("t", pl.DataFrame({"i": [7]}), format=fmt)  # the write can be run again
    assert any_lake.table("t").collect()["i"].to_list() == [7]
    assert any_lake.describe("t").format == fmt


def test_drop_removes_a_folder_left_by_an_uncommitted_first_write(lake: Lake):
    lake.storage.write_bytes("tables/t/data/0123abcd/part-00000.parquet", b"PAR1")
    lake.drop("t")
    assert not lake.storage.exists("tables/t")
    with pytest.raises(TableNotFoundError):
        lake.drop("t")


@pytest.mark.parametrize("kind", ["alias", "catalog", "register"])
def test_concurrent_metadata_writers_lose_nothing(any_lake: Lake, kind: str, tmp_path: Path):
    model = tmp_path / "m.onnx"
    model.write_bytes(regressor()[0])
    any_lake.models.register(str(model), name="m", features=["a", "b"])
    any_lake.write("src", pl.DataFrame({"x": [1]}))
    writers, each = 4, (25 if any_lake.storage.root.is_local and kind != "register" else 6)
    procs = [subprocess.Popen([sys.executable, "-m", "tests.faults.metadata_writer", any_lake.root,
                               _options(any_lake), kind, str(w * each), str(each)], cwd=REPO,
                              env={**os.environ, "LAKEML_TEST_MODEL": str(model)},
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for w in range(writers)]
    for proc in procs:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
    for proc in procs:
        assert proc.stdin is not None
        proc.stdin.write("go\n")
        proc.stdin.flush()
    for proc in procs:
        _, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err[-2000:]
    if kind == "register":
        listing = any_lake.models.list()
        assert listing["version"].to_list() == list(range(1, writers * each + 2))  # no gaps, none lost
        return
    expected = {f"{'a' if kind == 'alias' else 'e'}{n}" for n in range(writers * each)}
    got = set(any_lake.models.get("m:1").aliases) if kind == "alias" else set(any_lake.catalog.registered())
    assert got == expected


def test_damaged_table_log_entry_is_a_clear_error(lake: Lake):
    lake.write("t", pl.DataFrame({"i": [1]}))
    lake.write("t", pl.DataFrame({"i": [2]}), mode="append")
    lake.storage.write_bytes("tables/t/_lakeml_log/00000000000000000001.json", b'{"files": [oops')
    with pytest.raises(CorruptMetadataError, match=r"00000000000000000001\.json.*not valid JSON") as info:
        lake.table("t")
    assert "fall back to version 0" in str(info.value)
    lake.storage.write_bytes("tables/t/_lakeml_log/00000000000000000001.json", b'{"operation": "append"}')
    with pytest.raises(CorruptMetadataError, match="lacks a valid field"):
        lake.table("t")
    lake.storage.delete("tables/t/_lakeml_log/00000000000000000001.json")
    assert lake.table("t").collect()["i"].to_list() == [1]


@pytest.mark.parametrize("body", [b"not json", b"[1, 2]", b'{"aliases": {"champion": "three"}}',
                                  b'{"aliases": {"champion": true}}'])
def test_damaged_aliases_are_a_clear_error(lake: Lake, body: bytes):
    lake.models.register(regressor()[0], name="m", features=["a", "b"])
    lake.models.set_alias("m", 1, "champion")
    lake.storage.write_bytes("_lakeml/models/m/_aliases/00000000000000000000.json", body)
    with pytest.raises(CorruptMetadataError, match="aliases") as info:
        lake.models.get("m@champion")
    assert "Hint:" in str(info.value)


@pytest.mark.parametrize("body", [b"{{", b'{"tables": [1]}', b'{"tables": {"e": {"format": "csv"}}}'])
def test_damaged_catalog_is_a_clear_error(lake: Lake, body: bytes):
    lake.write("src", pl.DataFrame({"x": [1]}))
    lake.register_table("e", lake.catalog.info("src").location + "/data/*/*.parquet", format="parquet")
    lake.storage.write_bytes("_lakeml/catalog/00000000000000000000.json", body)
    with pytest.raises(CorruptMetadataError, match="catalog"):
        lake.tables()


def test_lakes_written_before_the_commit_logs_still_read(lake: Lake):
    lake.models.register(regressor()[0], name="m", features=["a", "b"])
    lake.write("src", pl.DataFrame({"x": [1]}))
    uri = lake.catalog.info("src").location + "/data/*/*.parquet"
    lake.storage.write_bytes("_lakeml/models/m/aliases.json", b'{"champion": 1}')
    lake.storage.write_bytes("_lakeml/catalog.json", json.dumps(
        {"version": 1, "tables": {"old": {"uri": uri, "format": "parquet", "options": {}}}}).encode())
    assert lake.models.get("m@champion").version == 1
    assert "old" in lake.tables()
    lake.models.set_alias("m", 1, "prod")  # the first update carries the old state over
    lake.register_table("new", uri, format="parquet")
    assert set(lake.models.get("m:1").aliases) == {"champion", "prod"}
    assert {"old", "new"} <= set(lake.tables())
