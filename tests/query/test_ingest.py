"""Ingest (the copy activity): formats, schema, streaming, and clear errors on bad input."""

from __future__ import annotations

import gzip
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

from lakeml.errors import ConfigError, DataFormatError, LakePathNotFoundError
from lakeml.query.lake import Lake

REPO = Path(__file__).resolve().parents[2]


def test_ingest_csv_ndjson_parquet(any_lake: Lake, tmp_path):
    (tmp_path / "a.csv").write_text("id,name,when\n1,ann,2024-01-02\n2,bob,2024-02-03\n")
    (tmp_path / "b.ndjson").write_text('{"id": 3, "name": "cy"}\n{"id": 4, "name": null}\n')
    pl.DataFrame({"id": [5], "name": ["di"]}).write_parquet(tmp_path / "c.parquet")
    assert any_lake.ingest(tmp_path / "a.csv", "people") == 2
    assert any_lake.ingest(tmp_path / "b.ndjson", "more") == 2
    assert any_lake.ingest(tmp_path / "c.parquet", "pq") == 1
    assert any_lake.table("people").collect()["name"].to_list() == ["ann", "bob"]
    assert any_lake.table("more").collect()["name"].to_list() == ["cy", None]


def test_ingest_folder_glob_append_and_partition(any_lake: Lake, tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    for i in range(3):
        (folder / f"part{i}.csv").write_text(f"k,v\n{i},{i * 10}\n{i},{i * 10 + 1}\n")
    assert any_lake.ingest(folder, "t", partition_by="k") == 6
    assert any_lake.ingest(f"{folder}/part0.csv", "t") == 2  # append is the default
    assert any_lake.table("t").filter(pl.col("k") == 0).collect().height == 4
    assert any_lake.describe("t").partition_by == ("k",)


def test_ingest_from_the_lake_itself(azure_lake: Lake):
    azure_lake.write("src", pl.DataFrame({"a": [1, 2, 3]}))
    root = azure_lake.storage.root
    uri = f"az://{root.container}/{root.path}/tables/src/data/**/*.parquet"
    assert azure_lake.ingest(uri, "copy") == 3


def test_explicit_schema(lake: Lake, tmp_path):
    (tmp_path / "z.csv").write_text("zip,amount\n02134,1\n10001,2.5\n")
    lake.ingest(tmp_path / "z.csv", "z", schema={"zip": "str"})
    got = lake.table("z").collect()
    assert got["zip"].to_list() == ["02134", "10001"] and got.schema["amount"] == pl.Float64
    with pytest.raises(ConfigError, match="Unknown column type"):
        lake.ingest(tmp_path / "z.csv", "z2", schema={"zip": "strng"})


def test_malformed_csv_names_file_line_and_column(lake: Lake, tmp_path):
    rows = "".join(f"{i},{i * 2}\n" for i in range(30_000))
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b\n" + rows + "31,not-a-number\n")
    with pytest.raises(DataFormatError) as info:
        lake.ingest(bad, "t")
    msg = str(info.value)
    assert "bad.csv" in msg and "line 30002" in msg and "column 'b'" in msg and "not-a-number" in msg
    assert "t" not in lake.tables()  # nothing half-written


def test_ragged_csv_row(lake: Lake, tmp_path):
    bad = tmp_path / "ragged.csv"
    bad.write_text("a,b,c\n1,2,3\n4,5,6,7\n")
    with pytest.raises(DataFormatError, match=r"line 3.*expected 3 fields, found 4"):
        lake.ingest(bad, "t")


def test_failed_ingest_keeps_existing_table(lake: Lake, tmp_path):
    (tmp_path / "good.csv").write_text("a\n1\n2\n")
    lake.ingest(tmp_path / "good.csv", "t")
    (tmp_path / "bad.csv").write_text("a\n1\nx\n")
    with pytest.raises(DataFormatError):
        lake.ingest(tmp_path / "bad.csv", "t", mode="overwrite", schema={"a": "int64"})
    assert lake.table("t").collect()["a"].to_list() == [1, 2]


def test_missing_source_and_unknown_format(lake: Lake, tmp_path):
    with pytest.raises(LakePathNotFoundError, match="Nothing to ingest"):
        lake.ingest(tmp_path / "nope.csv", "t")
    (tmp_path / "x.dat").write_text("1")
    with pytest.raises(ConfigError, match="format"):
        lake.ingest(tmp_path / "x.dat", "t")


def test_gzipped_csv(lake: Lake, tmp_path):
    with gzip.open(tmp_path / "g.csv.gz", "wt") as handle:
        handle.write("a,b\n1,2\n")
    assert lake.ingest(tmp_path / "g.csv.gz", "g") == 1


_SAMPLER = """
import re, sys, threading, time
import lakeml
peak = [0]
def sample():
    while True:
        text = open("/proc/self/status").read()
        peak[0] = max(peak[0], int(re.search(r"RssAnon:\\s+(\\d+)", text).group(1)) * 1024)
        time.sleep(0.01)
threading.Thread(target=sample, daemon=True).start()
lake = lakeml.connect(sys.argv[1])
rows = lake.ingest(sys.argv[2], "big")
time.sleep(0.05)
print(rows, peak[0])
"""


@pytest.mark.slow
def test_csv_ingest_streams_with_bounded_memory(tmp_path):
    """Ingest streams: heap memory plateaus (~400 MB of engine buffers on 2 cores, whatever the file
    size) far below the size of a 1.2 GB CSV, so a CSV larger than memory ingests. File pages the
    reader maps are reclaimable page cache, so only anonymous memory is counted."""
    path = tmp_path / "big.csv"
    line = "12345678,some-text-value-padding-padding-padding,3.14159,2024-01-01\n"
    with open(path, "w") as handle:
        handle.write("id,text,x,d\n")
        chunk = line * 100_000
        for _ in range(180):  # ~1.2 GB
            handle.write(chunk)
    size = path.stat().st_size
    out = subprocess.run([sys.executable, "-c", _SAMPLER, str(tmp_path / "lake"), str(path)], cwd=REPO,
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr
    rows, peak_anon = (int(v) for v in out.stdout.split())
    assert rows == 18_000_000
    assert peak_anon < size * 0.5, (peak_anon, size)
