"""Confining a lake: names starting with '_' are refused, and with ``external_access=False`` SQL
(table functions, OPENROWSET) and register_table only read locations under the lake root."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

import lakeml
from lakeml.config import LakeConfig
from lakeml.errors import ExternalAccessError, InvalidNameError
from lakeml.session import Lake
from tests.azurite import ACCOUNT, Azurite


@pytest.mark.parametrize("name", ["_lakeml", "_hidden", "__x"])
def test_names_starting_with_underscore_are_refused(lake: Lake, name: str) -> None:
    with pytest.raises(InvalidNameError, match="'_'"):
        lake.write(name, pl.DataFrame({"a": [1]}))
    with pytest.raises(InvalidNameError):
        lake.register_table(name, str(lake.storage.uri("x.parquet")))
    with pytest.raises(InvalidNameError):
        lake.models.register(b"", name=name)
    assert not lake.storage.exists(f"tables/{name}")


def test_internal_tables_still_write_through_write_path(lake: Lake) -> None:
    lake.write_path("_lakeml/runs/r1/trials", pl.DataFrame({"a": [1]}))
    assert lake.read_path("_lakeml/runs/r1/trials").collect()["a"].to_list() == [1]


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    path = tmp_path / "outside" / "secret.csv"
    path.parent.mkdir()
    path.write_text("user,uid\nroot,0\n")
    return path


def _confined(root: Path) -> Lake:
    return lakeml.connect(root, config={"external_access": False})


def test_external_access_is_on_by_default(lake: Lake, outside: Path) -> None:
    assert LakeConfig().external_access is True
    assert lake.sql(f"SELECT * FROM read_csv('{outside}')").collect().height == 1
    lake.register_table("ext", str(outside))
    assert lake.table("ext").collect().height == 1


@pytest.mark.parametrize("query", [
    "SELECT * FROM read_csv('{p}')",
    "SELECT * FROM read_csv(['{inside}', '{p}'])",
    "SELECT * FROM read_parquet('{p}')",
    "SELECT * FROM read_ndjson('{uri}')",
    "SELECT * FROM OPENROWSET(BULK '{p}', FORMAT = 'CSV', HEADER_ROW = TRUE) AS r",
    "SELECT * FROM read_csv('/etc/passwd')",
    "SELECT * FROM read_parquet('abfss://c@elsewhere.dfs.core.windows.net/x.parquet')",
    "SELECT * FROM read_parquet('https://elsewhere.blob.core.windows.net/c/x.parquet')",
])
def test_confined_sql_reads_only_under_the_root(tmp_path: Path, outside: Path, query: str) -> None:
    lake = _confined(tmp_path / "lake")
    (tmp_path / "lake").mkdir()
    inside = tmp_path / "lake" / "files.csv"
    inside.write_text("user,uid\nann,1\n")
    with pytest.raises(ExternalAccessError, match="outside the lake") as info:
        lake.sql(query.format(p=outside, uri=outside.as_uri(), inside=inside)).collect()
    assert "external_access" in (info.value.hint or "")


def test_confined_sql_reads_inside_the_root(tmp_path: Path) -> None:
    lake = _confined(tmp_path / "lake")
    lake.write("t", pl.DataFrame({"a": [1, 2]}))
    (tmp_path / "lake" / "drop").mkdir()
    (tmp_path / "lake" / "drop" / "x.csv").write_text("a\n5\n")
    assert lake.sql("SELECT * FROM read_csv('drop/x.csv')").collect()["a"].to_list() == [5]
    assert lake.sql(f"SELECT * FROM read_csv('{tmp_path / 'lake' / 'drop' / 'x.csv'}')").collect().height == 1
    assert lake.sql("SELECT COUNT(*) AS n FROM read_parquet('tables/t')").collect().item() == 2
    lake.register_table("x", str(tmp_path / "lake" / "drop" / "x.csv"))
    assert lake.table("x").collect().height == 1


def test_confined_lake_refuses_symlink_escapes_and_registering_outside(tmp_path: Path, outside: Path) -> None:
    lake = _confined(tmp_path / "lake")
    (tmp_path / "lake").mkdir()
    os.symlink(outside.parent, tmp_path / "lake" / "link")
    with pytest.raises(ExternalAccessError):
        lake.sql("SELECT * FROM read_csv('link/secret.csv')").collect()
    with pytest.raises(ExternalAccessError):
        lake.sql(f"SELECT * FROM read_csv('{tmp_path / 'lake' / 'link' / 'secret.csv'}')").collect()
    with pytest.raises(ExternalAccessError):
        lake.register_table("ext", str(outside))
    with pytest.raises(ExternalAccessError):
        lake.register_table("ext", f"{tmp_path / 'lake'}/../outside/secret.csv")
    assert lake.tables() == []


def test_confined_azure_lake(azurite: Azurite) -> None:
    container = azurite.new_container()
    lake = lakeml.connect(f"abfss://{container}@{ACCOUNT}.dfs.core.windows.net/lake",
                          storage_options=azurite.storage_options(), config={"external_access": False})
    lake.write("t", pl.DataFrame({"a": [1, 2]}))
    inside = f"abfss://{container}@{ACCOUNT}.dfs.core.windows.net/lake/tables/t"
    assert lake.sql(f"SELECT COUNT(*) AS n FROM read_parquet('{inside}')").collect().item() == 2
    assert lake.sql(f"SELECT COUNT(*) AS n FROM read_parquet('az://{container}/lake/tables/t')").collect().item() == 2
    for uri in (f"abfss://{container}@{ACCOUNT}.dfs.core.windows.net/other/x.parquet",
                f"az://{container}/lake/../other/x.parquet",
                f"az://{container}/lakehouse/x.parquet",
                f"abfss://other@{ACCOUNT}.dfs.core.windows.net/lake/x.parquet"):
        with pytest.raises(ExternalAccessError):
            lake.sql(f"SELECT * FROM read_parquet('{uri}')").collect()


def test_env_var_turns_external_access_off(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, outside: Path) -> None:
    monkeypatch.setenv("LAKEML_EXTERNAL_ACCESS", "0")
    assert LakeConfig().external_access is False
    monkeypatch.setenv("LAKEML_EXTERNAL_ACCESS", "1")
    assert LakeConfig().external_access is True
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AZURE_", "LAKEML_"))}
    env["LAKEML_EXTERNAL_ACCESS"] = "0"
    out = subprocess.run([sys.executable, "-m", "lakeml.cli.main", "--lake", str(tmp_path / "lake"), "sql",
                          f"SELECT * FROM read_csv('{outside}')"], capture_output=True, text=True, timeout=120,
                         env=env, cwd=tmp_path)
    assert out.returncode == 1 and out.stderr.startswith("error: ") and "outside the lake" in out.stderr
    assert "root,0" not in out.stdout
    monkeypatch.setenv("LAKEML_EXTERNAL_ACCESS", "maybe")
    with pytest.raises(lakeml.LakeMLError, match="LAKEML_EXTERNAL_ACCESS"):
        LakeConfig()
