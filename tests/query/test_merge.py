"""Lake.write(mode="merge", keys=...): upsert by keys as one commit, on Parquet and Delta, local and Azurite."""

from __future__ import annotations

import polars as pl
import pytest

from lakeml.errors import ConfigError, SchemaError
from lakeml.query.parquet_table import latest_version
from lakeml.session import Lake

FORMATS = ["parquet", "delta"]


def _rows(lake: Lake, table: str) -> list[dict[str, object]]:
    return lake.table(table).sort("id").collect().to_dicts()


@pytest.mark.parametrize("fmt", FORMATS)
def test_merge_updates_matching_keys_and_appends_the_rest(any_lake: Lake, fmt: str):
    any_lake.write("t", pl.DataFrame({"id": [1, 2, 3], "v": ["a", "b", "c"]}), format=fmt)
    before = any_lake.describe("t").version
    result = any_lake.write("t", pl.DataFrame({"id": [2, 4], "v": ["B", "d"]}), mode="merge", keys=["id"], format=fmt)
    assert (result.committed, result.rows_inserted, result.rows_updated, result.rows_affected) == (True, 1, 1, 2)
    assert result.version == before + 1 == any_lake.describe("t").version  # one commit
    assert _rows(any_lake, "t") == [{"id": 1, "v": "a"}, {"id": 2, "v": "B"}, {"id": 3, "v": "c"},
                                    {"id": 4, "v": "d"}]


@pytest.mark.parametrize("fmt", FORMATS)
def test_merge_into_a_missing_table_creates_it(lake: Lake, fmt: str):
    result = lake.write("t", pl.DataFrame({"id": [1], "v": ["a"]}), mode="merge", keys="id", format=fmt)
    assert (result.version, result.rows_inserted) == (0, 1)
    assert lake.describe("t").format == fmt and _rows(lake, "t") == [{"id": 1, "v": "a"}]


@pytest.mark.parametrize("fmt", FORMATS)
def test_merge_with_compound_keys(lake: Lake, fmt: str):
    lake.write("t", pl.DataFrame({"id": [1, 1, 2], "day": ["x", "y", "x"], "n": [1, 2, 3]}), format=fmt)
    lake.write("t", pl.DataFrame({"id": [1, 2], "day": ["y", "y"], "n": [20, 30]}), mode="merge",
               keys=["id", "day"], format=fmt)
    got = lake.table("t").sort("id", "day").collect().rows()
    assert got == [(1, "x", 1), (1, "y", 20), (2, "x", 3), (2, "y", 30)]


@pytest.mark.parametrize("fmt", FORMATS)
def test_duplicate_incoming_keys_are_an_error_and_change_nothing(lake: Lake, fmt: str):
    lake.write("t", pl.DataFrame({"id": [1], "v": ["a"]}), format=fmt)
    with pytest.raises(SchemaError, match=r"holds 1 key\(s\) more than once") as info:
        lake.write("t", pl.DataFrame({"id": [2, 2], "v": ["x", "y"]}), mode="merge", keys=["id"], format=fmt)
    assert "Deduplicate" in (info.value.hint or "")
    assert _rows(lake, "t") == [{"id": 1, "v": "a"}] and lake.describe("t").version == 0


@pytest.mark.parametrize("fmt", FORMATS)
def test_null_and_missing_keys_are_errors(lake: Lake, fmt: str):
    lake.write("t", pl.DataFrame({"id": [1], "v": ["a"]}), format=fmt)
    with pytest.raises(SchemaError, match="hold nulls"):
        lake.write("t", pl.DataFrame({"id": [None, 3], "v": ["x", "y"]}), mode="merge", keys="id", format=fmt)
    with pytest.raises(SchemaError, match="not in the data"):
        lake.write("t", pl.DataFrame({"v": ["x"]}), mode="merge", keys="id", format=fmt)
    with pytest.raises(ConfigError, match="needs the key column"):
        lake.write("t", pl.DataFrame({"id": [1], "v": ["x"]}), mode="merge", format=fmt)
    with pytest.raises(ConfigError, match="only applies to mode='merge'"):
        lake.write("t", pl.DataFrame({"id": [1], "v": ["x"]}), mode="append", keys="id", format=fmt)


@pytest.mark.parametrize("fmt", FORMATS)
def test_merge_widens_incoming_types_losslessly_and_refuses_narrowing(lake: Lake, fmt: str):
    lake.write("t", pl.DataFrame({"id": [1, 2], "x": [1.5, 2.5]}), format=fmt)
    narrow = pl.DataFrame({"id": [2, 3], "x": [7, 8]}, schema={"id": pl.Int32, "x": pl.Int16})
    lake.write("t", narrow, mode="merge", keys="id", format=fmt)
    assert lake.table("t").collect_schema() == pl.Schema({"id": pl.Int64, "x": pl.Float64})
    assert lake.table("t").sort("id").collect().rows() == [(1, 1.5), (2, 7.0), (3, 8.0)]
    with pytest.raises(SchemaError, match="column x is Float64 in the table but String"):
        lake.write("t", pl.DataFrame({"id": [1], "x": ["no"]}), mode="merge", keys="id", format=fmt)


@pytest.mark.parametrize("fmt", FORMATS)
def test_merging_no_rows_commits_nothing(lake: Lake, fmt: str):
    lake.write("t", pl.DataFrame({"id": [1], "v": ["a"]}), format=fmt)
    empty = pl.DataFrame(schema={"id": pl.Int64, "v": pl.String})
    result = lake.write("t", empty, mode="merge", keys="id", format=fmt)
    assert (result.committed, result.version, result.rows_affected) == (False, 0, 0)
    assert lake.describe("t").version == 0 and _rows(lake, "t") == [{"id": 1, "v": "a"}]


def test_parquet_merge_rewrites_only_the_files_holding_a_matched_key(any_lake: Lake):
    for chunk in range(3):
        any_lake.write("t", pl.DataFrame({"id": [chunk * 10 + i for i in range(3)]}).with_columns(v=pl.lit("old")),
                       mode="append" if chunk else "error")
    before = latest_version(any_lake.storage, "tables/t")
    assert before is not None
    any_lake.write("t", pl.DataFrame({"id": [11, 99], "v": ["new", "new"]}), mode="merge", keys="id")
    after = latest_version(any_lake.storage, "tables/t")
    assert after is not None and after.operation == "merge"
    assert before.files[0] in after.files and before.files[2] in after.files  # no id 11: kept as they were
    assert before.files[1] not in after.files  # the file holding id 11 was rewritten
    assert after.num_rows == 10
    got = any_lake.table("t").sort("id").collect()
    assert got.filter(pl.col("v") == "new")["id"].to_list() == [11, 99] and got.height == 10


def test_parquet_merge_keeps_the_partitioning(lake: Lake):
    data = pl.DataFrame({"id": [1, 2, 3, 4], "p": [0, 1, 0, 1], "v": ["a", "b", "c", "d"]})
    lake.write("t", data, partition_by="p")
    lake.write("t", pl.DataFrame({"id": [2, 5], "p": [1, 0], "v": ["B", "e"]}), mode="merge", keys="id")
    current = latest_version(lake.storage, "tables/t")
    assert current is not None and current.partition_by == ("p",)
    assert all("/p=" in path for path, _ in current.files)
    got = lake.table("t").sort("id").collect().select("id", "p", "v").rows()
    assert got == [(1, 0, "a"), (2, 1, "B"), (3, 0, "c"), (4, 1, "d"), (5, 0, "e")]
    assert lake.sql("SELECT COUNT(*) AS n FROM t WHERE p = 0").collect().item() == 3


@pytest.mark.parametrize("fmt", FORMATS)
def test_concurrent_merges_lose_no_update_and_duplicate_no_key(lake: Lake, fmt: str):
    from concurrent.futures import ThreadPoolExecutor
    from threading import Barrier

    lake.write("t", pl.DataFrame({"id": list(range(8)), "v": ["old"] * 8}), format=fmt)
    barrier = Barrier(4)

    def merge(n: int) -> None:  # each writer updates two existing keys and adds one new key
        barrier.wait()
        lake.write("t", pl.DataFrame({"id": [2 * n, 2 * n + 1, 100 + n], "v": [f"w{n}"] * 3}), mode="merge",
                   keys="id", format=fmt)

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(merge, range(4)))
    got = dict(lake.table("t").collect().iter_rows())
    assert got == {**{2 * n + i: f"w{n}" for n in range(4) for i in (0, 1)}, **{100 + n: f"w{n}" for n in range(4)}}
    assert lake.table("t").collect().height == 12
