"""Transaction markers: committed with the rows, idempotent reruns, metadata read back (Parquet and Delta)."""

from __future__ import annotations

import json

import polars as pl
import pytest

from lakeml import Transaction, WriteResult
from lakeml.errors import ConfigError, CorruptMetadataError
from lakeml.session import Lake
from lakeml.storage.commitlog import entry_name

FORMATS = ["parquet", "delta"]


def _batch(start: int, n: int = 3) -> pl.DataFrame:
    return pl.DataFrame({"id": list(range(start, start + n)), "v": [f"r{i}" for i in range(start, start + n)]})


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("mode", ["append", "merge"])
def test_the_same_transaction_twice_writes_the_rows_once(any_lake: Lake, fmt: str, mode: str):
    keys = ["id"] if mode == "merge" else None
    any_lake.write("t", _batch(0), format=fmt)
    marker = Transaction("copy", 1, {"watermark": "2024-02-01", "rows": 3, "full": False, "note": None})
    first = any_lake.write("t", _batch(10), mode=mode, keys=keys, format=fmt, transaction=marker)
    again = any_lake.write("t", _batch(10), mode=mode, keys=keys, format=fmt, transaction=marker)
    assert first.committed and first.transaction == marker and first.rows_inserted == 3
    assert not again.committed and again.version == first.version and again.rows_affected == 0
    assert again.transaction == marker  # the marker that was already committed
    assert any_lake.table("t").collect().height == 6
    assert any_lake.last_transaction("t", "copy") == marker
    assert any_lake.describe("t").version == first.version


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_lower_version_is_ignored_and_a_higher_one_lands(lake: Lake, fmt: str):
    lake.write("t", _batch(0), format=fmt, transaction=Transaction("copy", 5, {"w": 5}))
    lower = lake.write("t", _batch(10), mode="append", format=fmt, transaction=Transaction("copy", 4, {"w": 4}))
    assert not lower.committed and lower.transaction == Transaction("copy", 5, {"w": 5})
    higher = lake.write("t", _batch(20), mode="append", format=fmt, transaction=Transaction("copy", 6, {"w": 6}))
    assert higher.committed
    assert sorted(lake.table("t").collect()["id"].to_list()) == [0, 1, 2, 20, 21, 22]
    assert lake.last_transaction("t", "copy") == Transaction("copy", 6, {"w": 6})


@pytest.mark.parametrize("fmt", FORMATS)
def test_markers_of_other_apps_survive_later_writes_and_overwrites(lake: Lake, fmt: str):
    lake.write("t", _batch(0), format=fmt, transaction=Transaction("a", 1, {"w": "a1"}))
    lake.write("t", _batch(10), mode="append", format=fmt, transaction=Transaction("b", 7))
    lake.write("t", _batch(20), mode="append", format=fmt)  # a write without a marker
    lake.write("t", _batch(30), mode="overwrite", format=fmt)
    assert lake.last_transaction("t", "a") == Transaction("a", 1, {"w": "a1"})
    assert lake.last_transaction("t", "b") == Transaction("b", 7)
    assert lake.last_transaction("t", "c") is None
    again = lake.write("t", _batch(10), mode="append", format=fmt, transaction=Transaction("b", 7))
    assert not again.committed and lake.table("t").collect().height == 3


def test_no_table_has_no_transaction(lake: Lake):
    assert lake.last_transaction("missing", "copy") is None


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_first_write_with_mode_error_is_a_no_op_on_rerun(any_lake: Lake, fmt: str):
    # A rerun of a load that created the table must not fail with "already exists".
    marker = Transaction("load", 0)
    assert any_lake.write("t", _batch(0), format=fmt, transaction=marker).committed
    rerun = any_lake.write("t", _batch(0), format=fmt, transaction=marker)
    assert not rerun.committed and any_lake.table("t").collect().height == 3
    merged = any_lake.write("m", _batch(0), mode="merge", keys="id", format=fmt, transaction=marker)
    assert merged.committed and any_lake.last_transaction("m", "load") == marker


def test_write_result_is_frozen_and_reports_rows(lake: Lake):
    result = lake.write("t", _batch(0))
    assert result == WriteResult(0, committed=True, rows_inserted=3, rows_updated=0, transaction=None)
    with pytest.raises(AttributeError):
        result.version = 3  # type: ignore[misc]


@pytest.mark.parametrize(("args", "message"), [
    (("", 1), "non-empty string"),
    (("a", -1), "integer >= 0"),
    (("a", True), "integer >= 0"),
    (("a", 1, {"w": [1]}), "only str, int, float, bool and None"),
    (("a", 1, {"w": float("nan")}), "JSON cannot hold"),
    (("a", 1, {3: "x"}), "keys must be strings"),
])
def test_bad_transactions_are_config_errors(args: tuple[object, ...], message: str):
    with pytest.raises(ConfigError, match=message) as info:
        Transaction(*args)  # type: ignore[arg-type]
    assert info.value.hint


def test_transaction_argument_must_be_a_transaction(lake: Lake):
    with pytest.raises(ConfigError, match="takes a lakeml Transaction"):
        lake.write("t", _batch(0), transaction=("copy", 1))  # type: ignore[arg-type]


def test_the_marker_is_in_the_same_log_entry_as_the_rows(lake: Lake):
    lake.write("t", _batch(0), transaction=Transaction("copy", 2, {"watermark": "x"}))
    entry = json.loads(lake.storage.read_bytes(f"tables/t/_lakeml_log/{entry_name(0)}"))
    assert entry["transactions"] == {"copy": {"version": 2, "metadata": {"watermark": "x"}}}
    assert [f["rows"] for f in entry["files"]] == [3]


def test_a_damaged_marker_is_reported_with_the_file(lake: Lake):
    lake.write("t", _batch(0), transaction=Transaction("copy", 2))
    path = f"tables/t/_lakeml_log/{entry_name(0)}"
    body = json.loads(lake.storage.read_bytes(path))
    body["transactions"]["copy"] = {"metadata": {}}
    lake.storage.write_bytes(path, json.dumps(body).encode(), overwrite=True)
    with pytest.raises(CorruptMetadataError, match=entry_name(0)):
        lake.last_transaction("t", "copy")


def test_delta_commit_carries_a_txn_action_and_the_metadata(lake: Lake):
    from deltalake import DeltaTable

    lake.write("t", _batch(0), format="delta", transaction=Transaction("copy", 3, {"watermark": "2024-03"}))
    table = DeltaTable(f"{lake.storage.root.path}/tables/t")
    assert table.transaction_version("copy") == 3
    info = table.history(1)[0]
    assert json.loads(info["lakeml.transaction"]) == {"appId": "copy", "version": 3,
                                                     "metadata": {"watermark": "2024-03"}}


@pytest.mark.parametrize("fmt", FORMATS)
def test_concurrent_runs_of_the_same_transaction_commit_it_once(lake: Lake, fmt: str):
    from concurrent.futures import ThreadPoolExecutor
    from threading import Barrier

    lake.write("t", _batch(0), format=fmt)
    barrier = Barrier(4)

    def run(_: int) -> WriteResult:
        barrier.wait()
        return lake.write("t", _batch(100, 50), mode="append", format=fmt, transaction=Transaction("copy", 1))

    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(run, range(4)))
    assert sum(r.committed for r in results) == 1
    assert lake.table("t").collect().height == 53
