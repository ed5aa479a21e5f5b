"""Ingest (the copy activity): formats, schema, streaming, and clear errors on bad input."""

from __future__ import annotations

import gzip
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

from lakeml.errors import ConfigError, DataFormatError, LakePathNotFoundError, SchemaError, TableExistsError
from lakeml.query.ingest import TextColumnWarning
from lakeml.session import Lake
from tests.conformance import collect

REPO = Path(__file__).resolve().parents[2]


def test_ingest_csv_ndjson_parquet(any_engine_lake: Lake, tmp_path):
    any_lake = any_engine_lake
    (tmp_path / "a.csv").write_text("id,name,when\n1,ann,2024-01-02\n2,bob,2024-02-03\n")
    (tmp_path / "b.ndjson").write_text('{"id": 3, "name": "cy"}\n{"id": 4, "name": null}\n')
    pl.DataFrame({"id": [5], "name": ["di"]}).write_parquet(tmp_path / "c.parquet")
    assert any_lake.ingest(tmp_path / "a.csv", "people") == 2
    assert any_lake.ingest(tmp_path / "b.ndjson", "more") == 2
    assert any_lake.ingest(tmp_path / "c.parquet", "pq") == 1
    assert collect(any_lake.sql("SELECT name FROM people ORDER BY id"))["name"].to_list() == ["ann", "bob"]
    assert collect(any_lake.sql("SELECT name FROM more ORDER BY id"))["name"].to_list() == ["cy", None]


def test_ingest_folder_glob_append_and_partition(any_engine_lake: Lake, tmp_path):
    any_lake = any_engine_lake
    folder = tmp_path / "in"
    folder.mkdir()
    for i in range(3):
        (folder / f"part{i}.csv").write_text(f"k,v\n{i},{i * 10}\n{i},{i * 10 + 1}\n")
    assert any_lake.ingest(folder, "t", partition_by="k") == 6
    assert any_lake.ingest(f"{folder}/part0.csv", "t", mode="append") == 2
    assert collect(any_lake.sql("SELECT * FROM t WHERE k = 0")).height == 4
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
    with pytest.raises(DataFormatError, match=r"(?s)value 'x'.*Hint: Fix that row, pass null_values=\['x'\]"):
        lake.ingest(tmp_path / "bad.csv", "t", mode="overwrite", schema={"a": "int64"})
    assert lake.table("t").collect()["a"].to_list() == [1, 2]


def test_ingest_into_an_existing_table_needs_a_mode(lake: Lake, tmp_path):
    (tmp_path / "a.csv").write_text("a\n1\n2\n")
    lake.ingest(tmp_path / "a.csv", "t")
    with pytest.raises(TableExistsError, match=r"(?s)'t' already exists.*mode='append'.*mode='overwrite'"):
        lake.ingest(tmp_path / "a.csv", "t")
    assert lake.table("t").collect().height == 2  # ingesting the same file twice does not double it
    assert lake.ingest(tmp_path / "a.csv", "t", mode="append") == 2
    assert lake.table("t").collect().height == 4
    assert lake.ingest(tmp_path / "a.csv", "t", mode="overwrite") == 2
    assert lake.table("t").collect().height == 2


def test_na_cells_give_numeric_columns(lake: Lake, tmp_path):
    """R/pandas missing-value tokens in numeric-looking columns are null; text columns keep them."""
    rows = "".join(f"{i},{i * 1.5},{i},US\n" for i in range(50))
    (tmp_path / "f.csv").write_text("n,x,dep,country\n" + rows + "NA,NaN,,NA\n7,N/A,NULL,NA\n")
    assert lake.ingest(tmp_path / "f.csv", "f") == 52
    got = lake.table("f").collect()
    assert dict(got.schema) == {"n": pl.Int64, "x": pl.Float64, "dep": pl.Int64, "country": pl.String}
    assert got["n"].null_count() == 1 and got["x"].null_count() == 2 and got["dep"].null_count() == 2
    assert got["country"].to_list()[-2:] == ["NA", "NA"]  # a text column keeps "NA" (it may be Namibia)


def test_declared_numeric_type_reads_na_as_null(lake: Lake, tmp_path):
    (tmp_path / "f.csv").write_text("d\n1\nNA\n2\n")
    lake.ingest(tmp_path / "f.csv", "f", schema={"d": "float64"})
    assert lake.table("f").collect()["d"].to_list() == [1.0, None, 2.0]


def test_null_values_keyword(lake: Lake, tmp_path):
    (tmp_path / "f.csv").write_text("d,s\n1,a\n-,-\n2,b\n")
    lake.ingest(tmp_path / "f.csv", "f", null_values=["-"])
    got = lake.table("f").collect()
    assert got["d"].to_list() == [1, None, 2] and got["s"].to_list() == ["a", None, "b"]
    lake.ingest(tmp_path / "f.csv", "f2", options={"null_values": "-"})  # the Polars reader option, as a string
    assert lake.table("f2").collect()["d"].to_list() == [1, None, 2]
    (tmp_path / "f.ndjson").write_text('{"d": 1}\n')
    with pytest.raises(ConfigError, match="CSV"):
        lake.ingest(tmp_path / "f.ndjson", "g", null_values=["-"])


def test_mostly_numeric_text_column_warns_naming_column_and_token(lake: Lake, tmp_path):
    rows = "".join(f"{i}\n" for i in range(40))
    (tmp_path / "f.csv").write_text("d\n" + rows + "n.a.\n")
    with pytest.warns(TextColumnWarning, match=r"(?s)Column 'd' is read as text.*'n\.a\.'.*null_values=\['n\.a\.'\]"):
        lake.ingest(tmp_path / "f.csv", "f")
    assert lake.table("f").collect_schema()["d"] == pl.String


def test_na_after_the_inferred_rows_names_the_schema_fix(lake: Lake, tmp_path):
    rows = "".join(f"{i}\n" for i in range(10_050))
    (tmp_path / "f.csv").write_text("d\n" + rows + "NA\n")
    with pytest.raises(DataFormatError, match=r"(?s)line 10052, column 'd'.*Hint: Declare.*schema=\{'d': 'bigint'\}"):
        lake.ingest(tmp_path / "f.csv", "f")
    lake.ingest(tmp_path / "f.csv", "f", schema={"d": "bigint"})
    assert lake.table("f").collect()["d"].null_count() == 1


def test_append_widens_losslessly_and_names_only_differing_columns(lake: Lake, tmp_path):
    (tmp_path / "a.csv").write_text("k,x,y,z\n1,1.5,a,2\n")
    (tmp_path / "b.csv").write_text("k,x,y,z\n2,3,b,4\n")  # x reads as Int64: widened to the table's Float64
    lake.ingest(tmp_path / "a.csv", "t")
    lake.ingest(tmp_path / "b.csv", "t", mode="append")
    got = lake.table("t").collect()
    assert got.schema["x"] == pl.Float64 and got["x"].to_list() == [1.5, 3.0]
    (tmp_path / "c.csv").write_text("k,x,y,z\n3,1.0,c,4.5\n")  # z: Float64 into an Int64 column narrows
    with pytest.raises(SchemaError) as info:
        lake.ingest(tmp_path / "c.csv", "t", mode="append")
    message = str(info.value)
    assert "column z is Int64 in the table but Float64 in the new data" in message
    assert "y" not in message.split("Hint:")[0].replace("'t'", "") and "mode='overwrite'" in message
    (tmp_path / "d.csv").write_text("k,x,w\n3,1.0,c\n")
    with pytest.raises(SchemaError, match=r"lacks column\(s\) y, z; the table has no column\(s\) w"):
        lake.ingest(tmp_path / "d.csv", "t", mode="append")


def test_write_append_widens_int32_to_int64(lake: Lake):
    lake.write("t", pl.DataFrame({"a": [1]}, schema={"a": pl.Int64}))
    lake.write("t", pl.DataFrame({"a": [2]}, schema={"a": pl.Int32}), mode="append")
    got = lake.table("t").collect()
    assert got.schema["a"] == pl.Int64 and got["a"].to_list() == [1, 2]
    with pytest.raises(SchemaError, match="column a is Int64 in the table but Float32"):
        lake.write("t", pl.DataFrame({"a": [2.5]}, schema={"a": pl.Float32}), mode="append")


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
