"""The catalog: discovery, registration of external locations, name validation, did-you-mean."""

from __future__ import annotations

import polars as pl
import pytest

import lakeml
from lakeml.errors import ConfigError, InvalidNameError, TableExistsError, TableNotFoundError
from lakeml.session import Lake
from tests.conformance import collect


def test_managed_tables_are_discovered(any_engine_lake: Lake):
    lake = any_engine_lake
    lake.write("flights", pl.DataFrame({"a": [1]}))
    lake.write("weather", pl.DataFrame({"a": [1]}), format="delta")
    assert lake.tables() == ["flights", "weather"]
    # a second session on the same root sees them too (a Polars one, whichever engine wrote them)
    again = lakeml.connect(lake.root, storage_options=getattr(lake.storage, "credentials", None)
                           and lake.storage.credentials.object_store_options())
    assert again.tables() == ["flights", "weather"]


def test_register_external_files(any_engine_lake: Lake, tmp_path):
    any_lake = any_engine_lake
    src = tmp_path / "ext"
    src.mkdir()
    pl.DataFrame({"x": [1, 2]}).write_parquet(src / "a.parquet")
    pl.DataFrame({"x": [3]}).write_parquet(src / "b.parquet")
    (tmp_path / "c.csv").write_text("x,y\n1,a\n2,b\n")
    any_lake.register_table("ext", str(src))
    any_lake.register_table("glob", f"{src}/*.parquet")
    any_lake.register_table("csvt", str(tmp_path / "c.csv"))
    assert sorted(collect(any_lake.table("ext"))["x"].to_list()) == [1, 2, 3]
    assert collect(any_lake.table("glob")).height == 3
    assert collect(any_lake.table("csvt"))["y"].to_list() == ["a", "b"]
    desc = any_lake.describe("ext")
    assert not desc.managed and desc.num_rows == 3
    with pytest.raises(TableExistsError):
        any_lake.register_table("ext", str(src))
    any_lake.unregister_table("ext")
    assert "ext" not in any_lake.tables()


def test_register_external_on_azure_uses_lake_credentials(azure_lake: Lake):
    azure_lake.write("src", pl.DataFrame({"x": [1, 2, 3]}))
    root = azure_lake.storage.root
    uri = f"abfss://{root.container}@devstoreaccount1.dfs.core.windows.net/{root.path}/tables/src/data/**/*.parquet"
    azure_lake.register_table("copy", uri)
    assert azure_lake.table("copy").collect().height == 3


@pytest.mark.parametrize("bad", ["../x", "/abs", "a/b", "a\\b", "..", "", "x:y", ".hidden", "a b"])
def test_table_names_are_validated(lake: Lake, bad: str):
    with pytest.raises(InvalidNameError):
        lake.write(bad, pl.DataFrame({"a": [1]}))
    with pytest.raises(InvalidNameError):
        lake.table(bad)


def test_traversal_name_writes_nothing_outside(lake: Lake, tmp_path):
    with pytest.raises(InvalidNameError, match="looks like a path"):
        lake.write("../escape", pl.DataFrame({"a": [1]}))
    assert not (tmp_path / "escape").exists() and not (tmp_path / "lake" / "escape").exists()


def test_unknown_table_did_you_mean(lake: Lake):
    lake.write("flights", pl.DataFrame({"a": [1]}))
    with pytest.raises(TableNotFoundError) as info:
        lake.table("flight")
    assert "Did you mean 'flights'?" in str(info.value)
    with pytest.raises(KeyError):  # a builtin still catches it
        lake.table("zzz")


def test_register_unknown_format_and_writing_to_external(lake: Lake, tmp_path):
    (tmp_path / "data.bin").write_bytes(b"x")
    with pytest.raises(ConfigError, match="format"):
        lake.register_table("b", str(tmp_path / "data.bin"))
    (tmp_path / "c.csv").write_text("x\n1\n")
    lake.register_table("c", str(tmp_path / "c.csv"))
    with pytest.raises(ConfigError, match="external"):
        lake.write("c", pl.DataFrame({"x": [1]}), mode="append")


def test_frame_resolves_names_queries_and_frames(lake: Lake):
    lake.write("t", pl.DataFrame({"a": [1, 2]}))
    assert lake.frame("t").collect().height == 2
    assert lake.frame(pl.DataFrame({"a": [1]})).collect().height == 1
    assert lake.frame(pl.DataFrame({"a": [1]}).to_pandas()).collect().height == 1
    assert lake.frame(pl.DataFrame({"a": [1]}).to_arrow()).collect().height == 1
    with pytest.raises(ConfigError):
        lake.frame(42)


def test_external_table_whose_files_vanished(lake: Lake, tmp_path):
    from lakeml.errors import LakePathNotFoundError

    path = tmp_path / "gone.parquet"
    pl.DataFrame({"x": [1]}).write_parquet(path)
    lake.register_table("gone", str(path))
    path.unlink()
    with pytest.raises(LakePathNotFoundError, match="external table 'gone' are missing"):
        lake.table("gone")
    with pytest.raises(LakePathNotFoundError):
        lake.sql("SELECT * FROM gone")
