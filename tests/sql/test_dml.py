"""SQL that writes: CREATE TABLE [AS], SELECT INTO, INSERT, DROP TABLE and MERGE, on Parquet and Delta."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

from lakeml.errors import (
    ColumnNotFoundError,
    SchemaError,
    SQLError,
    SQLSyntaxError,
    TableExistsError,
    TableNotFoundError,
)
from lakeml.query.parquet_table import latest_version
from lakeml.session import Lake

FORMATS = ["parquet", "delta"]


def run(lake: Lake, statement: str, **params: object) -> int:
    """Run a statement; returns its rows_affected (and checks the frame's shape)."""
    frame = lake.sql(statement, params=params or None).collect()
    assert frame.columns == ["rows_affected"] and frame.dtypes == [pl.Int64] and frame.height == 1
    return int(frame.item())


def rows(lake: Lake, table: str) -> list[tuple[object, ...]]:
    return lake.table(table).sort(pl.all()).collect().rows()


@pytest.fixture
def src(any_lake: Lake) -> Lake:
    any_lake.write("src", pl.DataFrame({"id": [1, 2, 3], "name": ["a", "b", "c"], "x": [0.5, 1.5, 2.5]}))
    return any_lake


@pytest.mark.parametrize("fmt", FORMATS)
def test_create_table_as_select_and_its_variants(src: Lake, fmt: str):
    using = " USING DELTA" if fmt == "delta" else ""
    assert run(src, f"CREATE TABLE t{using} AS SELECT id, name FROM src WHERE id < 3") == 2
    assert src.describe("t").format == fmt and rows(src, "t") == [(1, "a"), (2, "b")]
    with pytest.raises(TableExistsError, match="already exists") as info:
        src.sql("CREATE TABLE t AS SELECT 1 AS id")
    assert "CREATE OR REPLACE TABLE t" in (info.value.hint or "")
    assert run(src, "CREATE TABLE IF NOT EXISTS t AS SELECT 9 AS id, 'z' AS name") == 0
    assert rows(src, "t") == [(1, "a"), (2, "b")]
    version = src.describe("t").version
    assert run(src, "CREATE OR REPLACE TABLE dbo.t AS SELECT id, name FROM src WHERE id = 3") == 1
    assert rows(src, "t") == [(3, "c")] and src.describe("t").format == fmt  # a replace keeps the format
    assert src.describe("t").version == (version or 0) + 1  # one commit


def test_create_or_replace_reads_the_table_it_replaces(lake: Lake):
    lake.write("t", pl.DataFrame({"id": [1, 2, 3]}))
    assert run(lake, "CREATE OR REPLACE TABLE t AS SELECT id * 10 AS id FROM t WHERE id > 1") == 2
    assert rows(lake, "t") == [(20,), (30,)]


def test_create_table_with_columns_then_insert_values(lake: Lake):
    assert run(lake, "CREATE TABLE e (id int, name varchar(20), day date, at timestamp, small smallint)") == 0
    assert lake.table("e").collect_schema() == pl.Schema(
        {"id": pl.Int32, "name": pl.String, "day": pl.Date, "at": pl.Datetime("us"), "small": pl.Int16})
    assert run(lake, "INSERT INTO e VALUES (1, 'a', '2024-01-02', '2024-01-02 03:04:05', 7), "
                     "(2, NULL, NULL, NULL, NULL)") == 2
    assert run(lake, "INSERT INTO e (small, id) VALUES (3, 3)") == 1
    assert rows(lake, "e") == [(1, "a", dt.date(2024, 1, 2), dt.datetime(2024, 1, 2, 3, 4, 5), 7),
                               (2, None, None, None, None), (3, None, None, None, 3)]


@pytest.mark.parametrize(("value", "column"), [("70000", "small"), ("1.5", "id"), ("'2024-13-01'", "day"),
                                                ("'abc'", "id")])
def test_insert_values_that_do_not_convert_exactly_are_refused(lake: Lake, value: str, column: str):
    run(lake, "CREATE TABLE e (id int, day date, small smallint)")
    values = {"id": "1", "day": "NULL", "small": "1", column: value}
    with pytest.raises(SchemaError, match=f"does not convert to column {column}'s type"):
        lake.sql(f"INSERT INTO e VALUES ({values['id']}, {values['day']}, {values['small']})")
    assert lake.table("e").collect().height == 0


def test_select_into_is_the_tsql_create_table_as(src: Lake):
    assert run(src, "SELECT TOP 2 id, name INTO copy FROM src ORDER BY id DESC") == 2
    assert rows(src, "copy") == [(2, "b"), (3, "c")]
    with pytest.raises(TableExistsError, match=r"SELECT \.\.\. INTO copy") as info:
        src.sql("SELECT id INTO copy FROM src")
    assert "INSERT INTO copy" in (info.value.hint or "")


@pytest.mark.parametrize("fmt", FORMATS)
def test_insert_select_values_columns_and_ctes(src: Lake, fmt: str):
    src.write("t", pl.DataFrame({"id": [1], "name": ["a"]}), format=fmt)
    assert src.sql("SELECT COUNT(*) AS n FROM t").collect().item() == 1
    assert run(src, "INSERT INTO t SELECT id, name FROM src WHERE id > @lo", lo=1) == 2
    assert src.sql("SELECT COUNT(*) AS n FROM t").collect().item() == 3
    assert run(src, "INSERT INTO t VALUES (10, 'j'), (11, NULL)") == 2
    assert run(src, "INSERT INTO t (name, id) SELECT 'k', 12") == 1  # named columns, any order
    assert run(src, "INSERT t (id) VALUES (13)") == 1  # T-SQL: INTO is optional; name defaults to null
    assert run(src, "WITH c AS (SELECT 14 AS id, 'n' AS name) INSERT INTO t SELECT * FROM c") == 1
    assert rows(src, "t") == [(1, "a"), (2, "b"), (3, "c"), (10, "j"), (11, None), (12, "k"), (13, None),
                              (14, "n")]
    assert src.sql("SELECT COUNT(*) AS n FROM t").collect().item() == 8  # queries see each commit
    assert run(src, "INSERT OVERWRITE TABLE t SELECT id, name FROM src WHERE id = 2") == 1
    assert src.sql("SELECT COUNT(*) AS n FROM t").collect().item() == 1
    assert rows(src, "t") == [(2, "b")] and src.describe("t").format == fmt


@pytest.mark.parametrize("fmt", FORMATS)
def test_insert_widens_losslessly_and_refuses_narrowing(lake: Lake, fmt: str):
    lake.write("t", pl.DataFrame({"id": [1], "x": [0.5]}), format=fmt)
    assert run(lake, "INSERT INTO t SELECT CAST(2 AS smallint), CAST(1.5 AS real)") == 1
    assert run(lake, "INSERT INTO t SELECT 3, 2.25") == 1  # a decimal literal into a float column
    assert lake.table("t").collect_schema() == pl.Schema({"id": pl.Int64, "x": pl.Float64})
    with pytest.raises(SchemaError, match="column id is Int64 in the table but the source gives Float64") as info:
        lake.sql("INSERT INTO t SELECT CAST(4.5 AS double), 1.0")
    assert "CAST(expr AS bigint) AS id" in (info.value.hint or "")
    assert lake.table("t").collect().height == 3


def test_insert_errors_name_the_problem(src: Lake):
    src.write("t", pl.DataFrame({"id": [1], "name": ["a"]}))
    with pytest.raises(TableNotFoundError, match="INSERT INTO tt: no table named 'tt'") as info:
        src.sql("INSERT INTO tt SELECT 1, 'a'")
    assert "Did you mean 't'" in (info.value.hint or "") and "CREATE TABLE tt AS SELECT" in (info.value.hint or "")
    with pytest.raises(SchemaError, match="the source has 1 column"):
        src.sql("INSERT INTO t SELECT 1")
    with pytest.raises(ColumnNotFoundError, match="no column 'nme'") as col:
        src.sql("INSERT INTO t (id, nme) VALUES (1, 'a')")
    assert "name" in (col.value.hint or "")
    with pytest.raises(SQLError, match="names a column twice"):
        src.sql("INSERT INTO t (id, id) VALUES (1, 2)")
    assert rows(src, "t") == [(1, "a")]


def test_insert_into_an_external_table_is_refused(lake: Lake, tmp_path):
    path = tmp_path / "ext.parquet"
    pl.DataFrame({"id": [1]}).write_parquet(path)
    lake.register_table("ext", str(path))
    with pytest.raises(SQLError, match="registered external table"):
        lake.sql("INSERT INTO ext VALUES (2)")


@pytest.mark.parametrize("fmt", FORMATS)
def test_drop_table(src: Lake, fmt: str):
    src.write("t", pl.DataFrame({"id": [1]}), format=fmt)
    assert run(src, "DROP TABLE t") == 0
    assert "t" not in src.tables()
    with pytest.raises(TableNotFoundError, match="DROP TABLE t: no table") as info:
        src.sql("DROP TABLE t")
    assert "DROP TABLE IF EXISTS t" in (info.value.hint or "")
    assert run(src, "DROP TABLE IF EXISTS t") == 0
    with pytest.raises(SQLError, match="one table per statement"):
        src.sql("DROP TABLE src, src2")


@pytest.mark.parametrize("fmt", FORMATS)
def test_merge_into_upserts_by_the_on_keys(src: Lake, fmt: str):
    src.write("t", pl.DataFrame({"id": [1, 2], "name": ["a", "b"], "x": [0.0, 0.0]}), format=fmt)
    before = src.describe("t").version
    affected = run(src, "MERGE INTO t USING src AS s ON t.id = s.id "
                        "WHEN MATCHED THEN UPDATE SET * WHEN NOT MATCHED THEN INSERT *")
    assert affected == 3 and src.describe("t").version == (before or 0) + 1
    assert rows(src, "t") == [(1, "a", 0.5), (2, "b", 1.5), (3, "c", 2.5)]
    tsql = ("MERGE INTO dbo.t AS tgt USING (SELECT 3 AS id, 'C' AS name, 9.5 AS x UNION ALL "
            "SELECT 4, 'd', 1.0) AS s ON tgt.id = s.id "
            "WHEN MATCHED THEN UPDATE SET tgt.name = s.name, x = s.x "
            "WHEN NOT MATCHED BY TARGET THEN INSERT (id, name, x) VALUES (s.id, s.name, s.x)")
    assert run(src, tsql) == 2
    assert rows(src, "t")[2:] == [(3, "C", 9.5), (4, "d", 1.0)]


@pytest.mark.parametrize(("statement", "message"), [
    ("MERGE INTO t USING src AS s ON t.id = s.id WHEN MATCHED THEN UPDATE SET * ", "exactly one WHEN MATCHED"),
    ("MERGE INTO t USING src AS s ON t.id > s.id WHEN MATCHED THEN UPDATE SET * WHEN NOT MATCHED THEN INSERT *",
     "equal key columns only"),
    ("MERGE INTO t USING src AS s ON t.id = s.x WHEN MATCHED THEN UPDATE SET * WHEN NOT MATCHED THEN INSERT *",
     "same name"),
    ("MERGE INTO t USING src AS s ON t.id = s.id WHEN MATCHED AND s.x > 1 THEN UPDATE SET * "
     "WHEN NOT MATCHED THEN INSERT *", "is not supported"),
    ("MERGE INTO t USING src AS s ON t.id = s.id WHEN MATCHED THEN DELETE WHEN NOT MATCHED THEN INSERT *",
     "is not supported"),
    ("MERGE INTO t USING src AS s ON t.id = s.id WHEN MATCHED THEN UPDATE SET name = s.name "
     "WHEN NOT MATCHED THEN INSERT *", "leaves column"),
    ("MERGE INTO t USING src AS s ON t.id = s.id WHEN MATCHED THEN UPDATE SET name = 'z', x = s.x "
     "WHEN NOT MATCHED THEN INSERT *", "same name"),
    ("MERGE INTO t USING src AS s ON t.id = s.id WHEN MATCHED THEN UPDATE SET * "
     "WHEN NOT MATCHED THEN INSERT (id) VALUES (s.id)", "inserts every column"),
    ("MERGE INTO nope USING src AS s ON nope.id = s.id WHEN MATCHED THEN UPDATE SET * "
     "WHEN NOT MATCHED THEN INSERT *", "no table named 'nope'"),
])
def test_merge_forms_that_are_not_an_upsert_are_refused(lake: Lake, statement: str, message: str):
    lake.write("src", pl.DataFrame({"id": [1], "name": ["a"], "x": [0.5]}))
    lake.write("t", pl.DataFrame({"id": [1], "name": ["z"], "x": [0.0]}))
    with pytest.raises((SQLError, TableNotFoundError), match=message) as info:
        lake.sql(statement)
    assert info.value.hint
    assert rows(lake, "t") == [(1, "z", 0.0)]


def test_merge_with_duplicate_source_keys_is_an_error(lake: Lake):
    lake.write("t", pl.DataFrame({"id": [1], "name": ["a"]}))
    with pytest.raises(SchemaError, match="more than once"):
        lake.sql("MERGE INTO t USING (SELECT 2 AS id, 'x' AS name UNION ALL SELECT 2, 'y') AS s ON t.id = s.id "
                 "WHEN MATCHED THEN UPDATE SET * WHEN NOT MATCHED THEN INSERT *")
    assert rows(lake, "t") == [(1, "a")]


@pytest.mark.parametrize(("statement", "error", "message"), [
    ("CREATE TABLE t AS SELECT 1; DROP TABLE src", SQLError, "one SQL statement"),
    ("CREATE VIEW v AS SELECT 1", SQLError, "CREATE VIEW is not supported"),
    ("CREATE TABLE t (a notatype)", SQLError, "Unknown column type"),
    ("CREATE TABLE t USING CSV AS SELECT 1 AS a", SQLError, "parquet or delta"),
    ("CREATE TABLE t AS SELECT * FROM nope", TableNotFoundError, "nope"),
    ("CREATE TABLE other.t AS SELECT 1 AS a", SQLError, "has a schema"),
    ("CREATE TABLE t AS", SQLError, "needs a query"),
    ("CREATE TABLE t AS SELEC 1", SQLSyntaxError, "syntax error"),
    ("UPDATE src SET id = 0", SQLError, "UPDATE statements are not supported"),
    ("INSERT INTO src SELECT @missing, 'a', 1.0", SQLError, "no value was given"),
])
def test_statement_errors_are_clear_and_change_nothing(lake: Lake, statement: str, error: type[Exception],
                                                       message: str):
    lake.write("src", pl.DataFrame({"id": [1], "name": ["a"], "x": [0.5]}))
    with pytest.raises(error, match=message) as info:
        lake.sql(statement)
    assert getattr(info.value, "hint", None)
    assert lake.tables() == ["src"] and lake.table("src").collect().height == 1


def test_a_non_query_after_as_is_refused(lake: Lake):
    with pytest.raises((SQLError, SQLSyntaxError)):
        lake.sql("CREATE TABLE t AS DROP TABLE src")
    assert lake.tables() == []


def test_partitioned_create(lake: Lake):
    lake.write("src", pl.DataFrame({"id": [1, 2, 3], "p": [0, 1, 0]}))
    assert run(lake, "CREATE TABLE t PARTITIONED BY (p) AS SELECT * FROM src") == 3
    current = latest_version(lake.storage, "tables/t")
    assert current is not None and current.partition_by == ("p",)


def test_queries_that_mention_write_words_still_run_as_queries(lake: Lake):
    lake.write("src", pl.DataFrame({"last_update": [1], "note": ["insert into x"]}))
    got = lake.sql("SELECT last_update, note AS \"into\" FROM src WHERE note = 'insert into x'").collect()
    assert got.rows() == [(1, "insert into x")]


def test_the_cli_runs_statements_and_prints_rows_affected(tmp_path: Path):
    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AZURE_", "LAKEML_"))}
        return subprocess.run([sys.executable, "-m", "lakeml.cli.main", "--lake", str(tmp_path / "lake"), "sql", *args],
                              capture_output=True, text=True, timeout=180, env=env)

    created = cli("CREATE TABLE t AS SELECT 1 AS id UNION ALL SELECT 2")
    assert created.returncode == 0, created.stderr
    assert "rows_affected" in created.stdout and "2" in created.stdout
    inserted = cli("INSERT INTO t VALUES (@v)", "--param", "v=3", "--format", "json")
    assert inserted.returncode == 0 and inserted.stdout.strip() == '[{"rows_affected":1}]'
    bad = cli("INSERT INTO nope VALUES (1)")
    assert bad.returncode == 1 and "no table named 'nope'" in bad.stderr and "Traceback" not in bad.stderr


def test_data_arguments_never_run_a_writing_statement(lake: Lake):
    lake.write("src", pl.DataFrame({"id": [1, 2], "y": [0.5, 1.5]}))
    with pytest.raises(SQLError, match="not a statement that writes"):
        lake.profile("DROP TABLE src")
    with pytest.raises(SQLError, match="not a statement that writes"):
        lake.frame("SELECT id INTO copy FROM src")
    assert lake.tables() == ["src"]
    assert lake.frame("SELECT id AS \"update\" FROM src").collect().height == 2
