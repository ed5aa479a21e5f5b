"""One scan builder: a folder reads the same files whether the catalog, SQL or ingest names it."""

from __future__ import annotations

from pathlib import Path

import polars as pl

import lakeml


def _ndjson_folder(root: Path) -> Path:
    folder = root / "events"
    (folder / "2024").mkdir(parents=True)
    (folder / "a.ndjson").write_text('{"id": 1}\n')
    (folder / "2024" / "b.jsonl").write_text('{"id": 2}\n')
    (folder / "c.json").write_text('{"id": 3}\n')
    return folder


def test_an_ndjson_folder_reads_the_same_rows_from_the_catalog_sql_and_ingest(tmp_path: Path) -> None:
    folder = _ndjson_folder(tmp_path)
    lake = lakeml.connect(tmp_path / "lake")
    lake.register_table("events", str(folder), format="ndjson")
    from_catalog = sorted(lake.table("events").collect()["id"].to_list())
    from_sql = sorted(lake.sql(f"SELECT id FROM read_ndjson('{folder}/')").collect()["id"].to_list())
    lake.ingest(folder, "copied")
    from_ingest = sorted(lake.table("copied").collect()["id"].to_list())
    assert from_catalog == from_sql == from_ingest == [1, 2, 3]


def test_a_parquet_folder_reads_hive_partitions_from_the_catalog_and_sql(tmp_path: Path) -> None:
    folder = tmp_path / "sales"
    for region, value in (("eu", 1), ("us", 2)):
        (folder / f"region={region}").mkdir(parents=True)
        pl.DataFrame({"v": [value]}).write_parquet(folder / f"region={region}" / "part.parquet")
    lake = lakeml.connect(tmp_path / "lake")
    lake.register_table("sales", str(folder), format="parquet")
    expected = [("eu", 1), ("us", 2)]
    got = lake.table("sales").select("region", "v").sort("region").collect().rows()
    assert got == expected
    assert lake.sql(f"SELECT region, v FROM read_parquet('{folder}/') ORDER BY region").collect().rows() == expected
