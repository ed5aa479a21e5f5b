"""OPENROWSET(BULK ...) and read_* table functions over lake files, local and on Azurite."""

from __future__ import annotations

import io

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from lakeml.errors import ColumnNotFoundError, CredentialError, LakePathNotFoundError, SQLError
from lakeml.session import Lake

PARTS = [
    pl.DataFrame({"id": [1, 2], "kind": ["a", "b"], "value": [1.5, 2.5]}),
    pl.DataFrame({"id": [3], "kind": ["a"], "value": [3.5]}),
]


def put_parquet(lake: Lake, relpath: str, frame: pl.DataFrame) -> None:
    buffer = io.BytesIO()
    frame.write_parquet(buffer)
    lake.storage.write_bytes(relpath, buffer.getvalue())


def put_text(lake: Lake, relpath: str, text: str) -> None:
    lake.storage.write_bytes(relpath, text.encode())


@pytest.fixture
def files_lake(lake: Lake) -> Lake:
    for i, part in enumerate(PARTS):
        put_parquet(lake, f"files/p/part-{i}.parquet", part)
    put_text(lake, "files/h.csv", "id;name\n1;ann\n2;bob\n3;cy\n")
    put_text(lake, "files/n.csv", "1,ann,1.5\n2,bob,2.5\n")
    return lake


# --- both a local lake and an Azurite lake --------------------------------------------------------
def test_openrowset_parquet_relative_and_absolute(any_lake: Lake) -> None:
    for i, part in enumerate(PARTS):
        put_parquet(any_lake, f"files/p/part-{i}.parquet", part)
    relative = any_lake.sql("SELECT TOP 10 * FROM OPENROWSET(BULK 'files/p/*.parquet', FORMAT = 'PARQUET') AS r "
                            "ORDER BY r.id").collect()
    assert relative["id"].to_list() == [1, 2, 3]
    uri = any_lake.storage.uri("files", "p", "*.parquet")
    absolute = any_lake.sql(f"SELECT SUM(value) AS s FROM OPENROWSET(BULK '{uri}', FORMAT = 'PARQUET') AS r "
                            "WHERE kind = 'a'").collect()
    assert absolute["s"].to_list() == [5.0]
    folder = any_lake.sql("SELECT COUNT(*) AS n FROM read_parquet('files/p/')").collect()
    assert folder["n"].to_list() == [3]


def test_openrowset_csv_with_header_row(any_lake: Lake) -> None:
    put_text(any_lake, "files/h.csv", "id;name\n1;ann\n2;bob\n3;cy\n")
    out = any_lake.sql("SELECT r.name FROM OPENROWSET(BULK 'files/h.csv', FORMAT = 'CSV', HEADER_ROW = TRUE, "
                       "FIELDTERMINATOR = ';', PARSER_VERSION = '2.0') AS r WHERE r.id >= 2 ORDER BY r.id").collect()
    assert out["name"].to_list() == ["bob", "cy"]


def test_openrowset_delta(any_lake: Lake) -> None:
    any_lake.write("events", pl.DataFrame({"k": [1, 2]}), format="delta")
    any_lake.write("events", pl.DataFrame({"k": [3]}), format="delta", mode="append")
    out = any_lake.sql("SELECT SUM(k) AS s FROM OPENROWSET(BULK 'tables/events', FORMAT = 'DELTA') AS r").collect()
    assert out["s"].to_list() == [6]
    old = any_lake.sql("SELECT COUNT(*) AS n FROM read_delta('tables/events', version => 0)").collect()
    assert old["n"].to_list() == [2]


# --- local lake --------------------------------------------------------------------------------------
def test_openrowset_csv_without_header_names_columns_c1_c2(files_lake: Lake) -> None:
    out = files_lake.sql("SELECT * FROM OPENROWSET(BULK 'files/n.csv', FORMAT = 'CSV') AS r").collect()
    assert out.columns == ["C1", "C2", "C3"]
    assert out["C2"].to_list() == ["ann", "bob"]


def test_openrowset_with_schema_by_position_ordinal_and_name(files_lake: Lake) -> None:
    positional = files_lake.sql(
        "SELECT * FROM OPENROWSET(BULK 'files/n.csv', FORMAT = 'CSV') WITH (num INT, who VARCHAR) AS r "
        "WHERE r.num > 1").collect()
    assert positional.to_dict(as_series=False) == {"num": [2], "who": ["bob"]}
    assert positional.schema["num"] == pl.Int32
    ordinal = files_lake.sql(
        "SELECT score FROM OPENROWSET(BULK 'files/n.csv', FORMAT = 'CSV') WITH (score REAL 3) AS r").collect()
    assert ordinal.schema["score"] == pl.Float32 and ordinal["score"].to_list() == [1.5, 2.5]
    by_name = files_lake.sql(
        "SELECT * FROM OPENROWSET(BULK 'files/p/*.parquet', FORMAT = 'PARQUET') WITH (value FLOAT, id BIGINT) "
        "AS r ORDER BY id").collect()
    assert by_name.columns == ["value", "id"] and by_name["id"].to_list() == [1, 2, 3]


def test_openrowset_firstrow_and_tab_terminator(lake: Lake) -> None:
    put_text(lake, "t.tsv", "junk line\na\tb\n1\tx\n")
    out = lake.sql("SELECT * FROM OPENROWSET(BULK 't.tsv', FORMAT = 'CSV', FIRSTROW = 2, HEADER_ROW = TRUE, "
                   "FIELDTERMINATOR = '\\t') AS r").collect()
    assert out.to_dict(as_series=False) == {"a": [1], "b": ["x"]}


def test_hive_partitioned_folder_is_pruned(lake: Lake) -> None:
    for year in (2023, 2024):
        put_parquet(lake, f"files/sales/year={year}/part.parquet", pl.DataFrame({"amount": [year * 1.0]}))
    frame = lake.sql("SELECT amount, year FROM OPENROWSET(BULK 'files/sales/', FORMAT = 'PARQUET') AS r "
                     "WHERE year = 2024")
    assert frame.collect().to_dict(as_series=False) == {"amount": [2024.0], "year": [2024]}
    plan = frame.explain()
    assert "year" in plan and "Parquet SCAN" in plan


def test_pushdown_into_an_openrowset_scan(files_lake: Lake) -> None:
    plan = files_lake.sql("SELECT id FROM OPENROWSET(BULK 'files/p/*.parquet', FORMAT = 'PARQUET') AS r "
                          "WHERE value > 2").explain()
    scan = plan[plan.index("Parquet SCAN"):]
    assert "PROJECT 2/3 COLUMNS" in scan
    assert "SELECTION" in scan


def test_read_functions(files_lake: Lake, tmp_path) -> None:
    both = files_lake.sql("SELECT COUNT(*) AS n FROM read_parquet(['files/p/part-0.parquet', "
                          "'files/p/part-1.parquet'])").collect()
    assert both["n"].to_list() == [3]
    csv = files_lake.sql("SELECT name FROM read_csv('files/h.csv', delim => ';', header => TRUE) "
                         "WHERE id = 2").collect()
    assert csv["name"].to_list() == ["bob"]
    put_text(files_lake, "files/e.ndjson", '{"a": 1}\n{"a": 2}\n')
    js = files_lake.sql("SELECT SUM(a) AS s FROM read_ndjson('files/e.ndjson')").collect()
    assert js["s"].to_list() == [3]
    outside = tmp_path / "outside.parquet"
    PARTS[0].write_parquet(outside)
    local = files_lake.sql(f"SELECT * FROM read_parquet('{outside}')").collect()
    assert_frame_equal(local, PARTS[0])


def test_file_sources_join_catalog_tables(files_lake: Lake) -> None:
    files_lake.write("kinds", pl.DataFrame({"kind": ["a", "b"], "label": ["Alpha", "Beta"]}))
    out = files_lake.sql("SELECT k.label, SUM(r.value) AS total FROM OPENROWSET(BULK 'files/p/*.parquet', "
                         "FORMAT = 'PARQUET') AS r JOIN kinds AS k ON r.kind = k.kind GROUP BY k.label "
                         "ORDER BY k.label").collect()
    assert out.to_dict(as_series=False) == {"label": ["Alpha", "Beta"], "total": [5.0, 2.5]}


def test_location_as_a_param(files_lake: Lake) -> None:
    out = files_lake.sql("SELECT COUNT(*) AS n FROM read_parquet(@path)", params={"path": "files/p/*.parquet"})
    assert out.collect()["n"].to_list() == [3]


@pytest.mark.parametrize(("query", "error", "message"), [
    ("SELECT * FROM OPENROWSET(BULK 'files/h.csv') AS r", SQLError, "needs FORMAT"),
    ("SELECT * FROM OPENROWSET(BULK 'files/h.csv', FORMAT = 'ORC') AS r", SQLError, "FORMAT 'ORC'"),
    ("SELECT * FROM OPENROWSET(BULK 'h.csv', DATA_SOURCE = 'src', FORMAT = 'CSV') AS r", SQLError, "DATA_SOURCE"),
    ("SELECT * FROM OPENROWSET(BULK 'files/h.csv', FORMAT = 'CSV', MAXERRORS = 3) AS r", SQLError,
     "MAXERRORS is not supported"),
    ("SELECT * FROM OPENROWSET(BULK 'files/p/*.parquet', FORMAT = 'PARQUET', HEADER_ROW = TRUE) AS r", SQLError,
     "only applies to FORMAT = 'CSV'"),
    ("SELECT * FROM OPENROWSET(BULK 'files/h.csv', FORMAT = 'CSV', FIELDTERMINATOR = '||') AS r", SQLError,
     "single one-byte character"),
    ("SELECT * FROM OPENROWSET(BULK 'files/h.csv', FORMAT = 'CSV', FIRSTROW = 0) AS r", SQLError, "FIRSTROW"),
    ("SELECT * FROM OPENROWSET(BULK 'files/h.csv', FORMAT = 'CSV', HEADER_ROW = 'maybe') AS r", SQLError,
     "TRUE or FALSE"),
    ("SELECT * FROM OPENROWSET(BULK 'files/h.csv', FORMAT = 'CSV', ENCODING = 'LATIN1') AS r", SQLError, "UTF-8"),
    ("SELECT * FROM OPENROWSET(BULK 'files/n.csv', FORMAT = 'CSV') WITH (a INT '$.a') AS r", SQLError,
     "JSON paths"),
    ("SELECT * FROM OPENROWSET(BULK 'files/n.csv', FORMAT = 'CSV') WITH (a INT 7) AS r", ColumnNotFoundError,
     "refers to column 7"),
    ("SELECT * FROM OPENROWSET(BULK 'files/nothing/*.parquet', FORMAT = 'PARQUET') AS r", LakePathNotFoundError,
     "No files match"),
    ("SELECT * FROM read_parquet('files/missing.parquet')", LakePathNotFoundError, "No data found"),
    ("SELECT * FROM read_parquet('files/p/*.parquet', colour => 'red')", SQLError, "no option 'colour'"),
    ("SELECT * FROM read_csv('files/h.csv', dlim => ';')", SQLError, "Did you mean 'delim'|Available"),
    ("SELECT * FROM read_parquet('a.parquet', 'b.parquet')", SQLError, "takes one location"),
    ("SELECT * FROM read_parquet(42)", SQLError, "string location"),
    ("SELECT * FROM read_csv('files/h.csv', separator => upper(';'))", SQLError, "must be a literal"),
    ("SELECT * FROM read_parquet('https://example.com/x.parquet')", SQLError, "only Azure storage URLs"),
    ("SELECT * FROM read_parquet('s3://bucket/x.parquet')", SQLError, "Unsupported lake location scheme"),
    ("SELECT * FROM OPENROWSET(BULK 'files/h.csv', FORMAT = 'CSV', HEADER_ROW = TRUE, FIELDTERMINATOR = ';') "
     "AS r WHERE r.nmae = 'x'", ColumnNotFoundError, "Did you mean 'name'"),
])
def test_source_errors(files_lake: Lake, query: str, error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message):
        files_lake.sql(query)


# --- Azurite only ---------------------------------------------------------------------------------
def test_https_dfs_url_reads_with_the_lake_credentials(azure_lake: Lake) -> None:
    put_parquet(azure_lake, "files/x.parquet", PARTS[0])
    root = azure_lake.storage.root
    url = f"https://devstoreaccount1.dfs.core.windows.net/{root.container}/{root.path}/files/x.parquet"
    out = azure_lake.sql(f"SELECT * FROM OPENROWSET(BULK '{url}', FORMAT = 'PARQUET') AS r ORDER BY id").collect()
    assert_frame_equal(out, PARTS[0])
    abfss = f"abfss://{root.container}@devstoreaccount1.dfs.core.windows.net/{root.path}/files/x.parquet"
    assert azure_lake.sql(f"SELECT COUNT(*) AS n FROM read_parquet('{abfss}')").collect()["n"][0] == 2


def test_azure_location_without_credentials_is_refused_offline(lake: Lake) -> None:
    # A local lake has no Azure settings: lakeml refuses rather than letting a credential chain run.
    with pytest.raises(CredentialError, match="No credential is configured"):
        lake.sql("SELECT * FROM read_parquet('abfss://c@someacct.dfs.core.windows.net/x.parquet')")


def test_lakeml_table_folder_reads_only_committed_files(lake: Lake) -> None:
    lake.write("sales", pl.DataFrame({"a": [1, 2]}))
    lake.write("sales", pl.DataFrame({"a": [3]}), mode="overwrite")  # the old files may stay on disk
    out = lake.sql("SELECT a FROM OPENROWSET(BULK 'tables/sales', FORMAT = 'PARQUET') AS r").collect()
    assert out["a"].to_list() == [3]
    lake.write_path("_lakeml/runs/r1/trials", pl.DataFrame({"trial": [0, 1]}))
    trials = lake.sql("SELECT COUNT(*) AS n FROM read_parquet('_lakeml/runs/r1/trials')").collect()
    assert trials["n"].to_list() == [2]
