"""Ingest inputs that used to give a traceback or a wrong answer: a missing file on Azure, and CSV
files with classic Mac (carriage-return-only) line endings."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from lakeml.errors import LakePathNotFoundError
from lakeml.session import Lake
from tests.azurite import ACCOUNT

CR_ONLY = b'id,name,score\r1,ann,2.5\r2,"b\rob",3\r3,cy,4\r'
EXPECTED = pl.DataFrame({"id": [1, 2, 3], "name": ["ann", "b\rob", "cy"], "score": [2.5, 3.0, 4.0]})


def test_missing_file_on_azure_is_lake_path_not_found(azure_lake: Lake) -> None:
    root = azure_lake.storage.root
    for uri in (f"abfss://{root.container}@{ACCOUNT}.dfs.core.windows.net/{root.path}/drop/missing.csv",
                f"az://{root.container}/{root.path}/drop/missing.parquet"):
        with pytest.raises(LakePathNotFoundError) as info:
            azure_lake.ingest(uri, "t")
        assert uri.rsplit("/", 1)[-1] in str(info.value) and info.value.hint
    assert azure_lake.tables() == []


def test_cr_only_csv_is_read_correctly(lake: Lake, tmp_path: Path) -> None:
    (tmp_path / "mac.csv").write_bytes(CR_ONLY)
    assert lake.ingest(tmp_path / "mac.csv", "mac") == 3
    got = lake.table("mac").collect()
    assert got.equals(EXPECTED)


def test_crlf_and_explicit_eol_are_unchanged(lake: Lake, tmp_path: Path) -> None:
    (tmp_path / "win.csv").write_bytes(b"id,name\r\n1,a\r\n2,b\r\n")
    assert lake.ingest(tmp_path / "win.csv", "win") == 2
    assert lake.table("win").collect()["name"].to_list() == ["a", "b"]
    (tmp_path / "semi.csv").write_bytes(b"id;name|1;a|")
    assert lake.ingest(tmp_path / "semi.csv", "semi", options={"separator": ";", "eol_char": "|"}) == 1


def test_cr_only_csv_on_azure(azure_lake: Lake) -> None:
    azure_lake.storage.write_bytes("drop/mac.csv", CR_ONLY)
    root = azure_lake.storage.root
    assert azure_lake.ingest(f"az://{root.container}/{root.path}/drop/mac.csv", "mac") == 3
    assert azure_lake.table("mac").collect().equals(EXPECTED)
