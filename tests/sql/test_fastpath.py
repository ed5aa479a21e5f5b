"""The SQL fast path: which texts skip sqlglot, and that they give the full path's results and errors."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from lakeml.errors import ColumnNotFoundError, LakeMLError, SQLError, TableNotFoundError
from lakeml.session import Lake
from lakeml.sql import engine, fastpath, tables
from lakeml.sql._keywords import DIALECT_KEYWORDS
from lakeml.sql.dialect import LakeSQL

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
from tpch import QUERIES, TABLES, generate

ROOT = Path(__file__).resolve().parents[2]


def test_the_keyword_snapshot_matches_the_installed_sqlglot() -> None:
    live = {k for k in LakeSQL.Tokenizer.KEYWORDS if re.fullmatch(r"[A-Z_][A-Z0-9_]*", k)}
    assert set(DIALECT_KEYWORDS) == live


@pytest.mark.parametrize(("query", "tables"), [
    ("SELECT a, SUM(b) AS s FROM t JOIN u ON t.k = u.k GROUP BY a", {"t", "u"}),
    ("SELECT * FROM t AS x, u y WHERE x.a = y.a", {"t", "u"}),
    ('SELECT * FROM "My Table"', {"My Table"}),
    ("WITH c AS (SELECT a FROM t) SELECT * FROM c JOIN u ON c.a = u.a", {"t", "u"}),
    ("SELECT EXTRACT(YEAR FROM d) AS y FROM t", {"t"}),
    ("SELECT a FROM t WHERE a IN (SELECT b FROM u) AND d >= DATE '1994-01-01' + INTERVAL '3' MONTH", {"t", "u"}),
    ("SELECT a FROM (SELECT a FROM t) AS s, u", {"t", "u"}),
])
def test_plain_sql_names_its_tables(query: str, tables: set[str]) -> None:
    assert fastpath.plain_tables(query) == tables


@pytest.mark.parametrize("query", [
    "SELECT TOP 5 a FROM t",
    "SELECT a FROM t WHERE b = @b",
    "SELECT a FROM t WHERE b = :b",
    "SELECT a FROM t WHERE b = ?",
    "SELECT PREDICT('m', a) AS p FROM t",
    "SELECT * FROM OPENROWSET(BULK 'x.parquet', FORMAT = 'PARQUET') AS r",
    "SELECT * FROM read_parquet('x.parquet')",
    "SELECT * FROM dbo.t",
    "SELECT * FROM s.t",
    "SELECT * FROM c.s.t",
    "SELECT a FROM t -- a comment",
    "SELECT a /* a comment */ FROM t",
    "SELECT a::int FROM t",
    "SELECT CAST(a AS FLOAT) FROM t",
    "SELECT N'text' FROM t",
    "SELECT a FROM t QUALIFY a > 1",
    "SELECT ROW_NUMBER() OVER (ORDER BY a) FROM t",
    "SELECT LOG10(a) FROM t",
    "SELECT ISNULL(a, 0) FROM t",
    "SELECT a // 2 FROM t",
    "SELECT 0x1F FROM t",
    "SELECT a FROM t; SELECT b FROM u",
    "SELECT (a FROM t",
    "INSERT INTO t VALUES (1)",
    "SELECT a FROM t WHERE b = 'unterminated",
])
def test_lake_forms_and_anything_unsure_take_the_full_path(query: str) -> None:
    assert fastpath.plain_tables(query) is None


@pytest.fixture(scope="module")
def tpch_lake(tmp_path_factory: pytest.TempPathFactory) -> Lake:
    import lakeml

    base = tmp_path_factory.mktemp("tpch")
    files = generate(base / "data", scale=0.001)
    lake = lakeml.connect(base / "lake")
    for name in TABLES:
        lake.register_table(name, str(files[name]), format="parquet")
    return lake


def _close(left: pl.DataFrame, right: pl.DataFrame) -> None:
    # Float sums may differ in the last bits: Polars adds in parallel, in any order.
    assert_frame_equal(left, right, check_exact=False, rel_tol=1e-9, abs_tol=1e-9)


@pytest.mark.parametrize("name", sorted(QUERIES))
def test_tpch_queries_take_the_fast_path_with_the_full_paths_results(tpch_lake: Lake, name: str) -> None:
    query = QUERIES[name]
    fast = fastpath.run_plain(tpch_lake, query)
    assert fast is not None
    _close(fast.collect(), engine.execute(tpch_lake, query).collect())
    _close(tpch_lake.sql(query).collect(), engine.execute(tpch_lake, query).collect())


def test_plain_sql_fails_with_the_lake_errors(tpch_lake: Lake) -> None:
    with pytest.raises(TableNotFoundError, match="nation") as table_error:
        tpch_lake.sql("SELECT * FROM natoin")
    assert "nation" in (table_error.value.hint or "")
    with pytest.raises(ColumnNotFoundError, match="n_nmae"):
        tpch_lake.sql("SELECT n_nmae FROM nation")
    with pytest.raises(SQLError, match="schema"):
        tpch_lake.sql("SELECT * FROM sales.nation")


def test_a_cte_named_like_a_table_hides_it(tpch_lake: Lake) -> None:
    query = "WITH nation AS (SELECT r_name AS n_name FROM region) SELECT n_name FROM nation ORDER BY n_name"
    assert fastpath.run_plain(tpch_lake, query) is not None
    assert tpch_lake.sql(query).collect()["n_name"].to_list() == sorted(
        tpch_lake.table("region").collect()["r_name"].to_list())


def test_builtin_views_still_answer(tpch_lake: Lake) -> None:
    assert fastpath.run_plain(tpch_lake, "SELECT COUNT(*) AS n FROM models") is None
    assert tpch_lake.sql("SELECT COUNT(*) AS n FROM models").collect()["n"].to_list() == [0]


def test_a_plain_first_query_does_not_import_sqlglot(tpch_lake: Lake) -> None:
    script = ("import sys, lakeml; lake = lakeml.connect(sys.argv[1]); "
              "lake.sql('SELECT COUNT(*) AS n FROM nation').collect(); print('sqlglot' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", script, tpch_lake.root], capture_output=True, text=True,
                         check=True, cwd=ROOT)
    assert out.stdout.strip() == "False"


# --- table scans reused between queries (lakeml/sql/tables.py) ----------------------------------------
def _ids(lake: Lake, table: str) -> list[int]:
    return sorted(lake.sql(f"SELECT id FROM {table}").collect()["id"].to_list())


def test_a_managed_table_is_read_anew_after_each_commit(lake: Lake) -> None:
    lake.write("t", pl.DataFrame({"id": [1, 2]}))
    assert _ids(lake, "t") == [1, 2]
    assert tables.table_frame(lake, "t") is tables.table_frame(lake, "t")  # unchanged: the scan is reused
    lake.write("t", pl.DataFrame({"id": [3]}), mode="append")
    assert _ids(lake, "t") == [1, 2, 3]
    lake.write("t", pl.DataFrame({"id": [9]}), mode="overwrite")
    assert _ids(lake, "t") == [9]
    lake.drop("t")
    with pytest.raises(TableNotFoundError):
        lake.sql("SELECT id FROM t")
    lake.write("t", pl.DataFrame({"id": [5]}))  # a new table under the old name, its log starting over
    assert _ids(lake, "t") == [5]


def test_an_external_file_is_read_anew_when_it_changes_or_is_re_pointed(lake: Lake, tmp_path: Path) -> None:
    first, second = tmp_path / "a.parquet", tmp_path / "b.parquet"
    pl.DataFrame({"id": [1]}).write_parquet(first)
    pl.DataFrame({"id": [7, 8]}).write_parquet(second)
    lake.register_table("ext", str(first), format="parquet")
    assert _ids(lake, "ext") == [1]
    pl.DataFrame({"id": [1, 2, 3]}).write_parquet(first)
    assert _ids(lake, "ext") == [1, 2, 3]
    lake.register_table("ext", str(second), format="parquet", replace=True)
    assert _ids(lake, "ext") == [7, 8]
    first.unlink()
    lake.register_table("gone", str(second), format="parquet")
    second.unlink()
    with pytest.raises(LakeMLError, match="gone"):
        lake.sql("SELECT id FROM gone")


def test_a_folder_table_sees_new_files(lake: Lake, tmp_path: Path) -> None:
    folder = tmp_path / "parts"
    folder.mkdir()
    pl.DataFrame({"id": [1]}).write_parquet(folder / "p1.parquet")
    lake.register_table("dir", str(folder), format="parquet")
    assert _ids(lake, "dir") == [1]
    pl.DataFrame({"id": [2]}).write_parquet(folder / "p2.parquet")
    assert _ids(lake, "dir") == [1, 2]


def test_a_glob_table_is_reused_until_a_file_comes_goes_or_changes(lake: Lake, tmp_path: Path) -> None:
    folder = tmp_path / "glob"
    folder.mkdir()
    pl.DataFrame({"id": [1]}).write_parquet(folder / "p1.parquet")
    lake.register_table("g", str(folder / "*.parquet"), format="parquet")
    assert _ids(lake, "g") == [1]
    assert tables.table_frame(lake, "g") is tables.table_frame(lake, "g")  # unchanged: the scan is reused
    pl.DataFrame({"id": [2]}).write_parquet(folder / "p2.parquet")
    assert _ids(lake, "g") == [1, 2]
    pl.DataFrame({"id": [3, 4]}).write_parquet(folder / "p1.parquet")  # rewritten in place
    assert _ids(lake, "g") == [2, 3, 4]
    (folder / "p2.parquet").unlink()
    assert _ids(lake, "g") == [3, 4]


def test_a_folder_with_subfolders_is_read_anew_every_time(lake: Lake, tmp_path: Path) -> None:
    folder = tmp_path / "hive"
    (folder / "k=1").mkdir(parents=True)
    pl.DataFrame({"id": [1]}).write_parquet(folder / "k=1" / "p.parquet")
    lake.register_table("h", str(folder), format="parquet")
    assert _ids(lake, "h") == [1]
    assert tables.table_frame(lake, "h") is not tables.table_frame(lake, "h")
    pl.DataFrame({"id": [2]}).write_parquet(folder / "k=1" / "q.parquet")  # the top folder's times stay
    assert _ids(lake, "h") == [1, 2]


def test_the_scan_cache_does_not_keep_a_lake_alive(tmp_path: Path) -> None:
    import gc
    import weakref

    import lakeml

    lake = lakeml.connect(tmp_path / "lake")
    lake.write("t", pl.DataFrame({"id": [1]}))
    assert _ids(lake, "t") == [1]
    ref = weakref.ref(lake)
    del lake
    gc.collect()
    assert ref() is None


@pytest.mark.parametrize("query", [
    "SELECT a / b AS q, a % b AS m, -a AS n, s || 'x' AS c, a <> b AS ne, a != b AS ne2 FROM t",
    "SELECT a FROM t WHERE a NOT IN (1, 2) AND b NOT BETWEEN 10 AND 11 AND s NOT LIKE 'x%' ORDER BY a",
    "SELECT d + INTERVAL '2' DAY AS d2, d - INTERVAL '1' MONTH AS d3, d + INTERVAL '3 days' AS d4 FROM t ORDER BY a",
    "SELECT SUBSTRING(s, 2) AS s1, SUBSTRING(s, 1, 2) AS s2, EXTRACT(MONTH FROM d) AS m FROM t ORDER BY a",
    "SELECT 1e5 AS a, 1. AS b, .5 AS c, 1.50 AS d, 2E-3 AS e, 9223372036854775807 AS big FROM t LIMIT 1",
    "SELECT ROUND(b / 3.0, 2) AS r, ROUND(b / 3.0) AS r0, ABS(-a) AS ab, COALESCE(NULL, a) AS co, UPPER(s) AS u,"
    " LOWER(s) AS lo FROM t ORDER BY a",
    "SELECT DISTINCT a FROM t UNION SELECT a + 10 FROM t UNION ALL SELECT a FROM t ORDER BY 1 DESC LIMIT 5 OFFSET 1",
    "SELECT CASE a WHEN 1 THEN 'one' ELSE 'many' END AS w, CASE WHEN b > 10 THEN b END AS v FROM t AS x ORDER BY a",
    "SELECT a, COUNT(*) AS n, COUNT(DISTINCT b) AS nb FROM t GROUP BY a HAVING COUNT(*) >= 1 ORDER BY a",
    "SELECT x.a FROM t AS x FULL OUTER JOIN t y ON x.a = y.b CROSS JOIN t z ORDER BY 1",
    "SELECT 'it''s' AS q, 'a\\b' AS r, \"a\" AS \"Odd \"\"name\"\"\" FROM t ORDER BY a",
])
def test_plain_sql_means_the_same_on_both_paths(lake: Lake, query: str) -> None:
    import datetime as dt

    lake.write("t", pl.DataFrame({"a": [1, 2, 3], "b": [10, 11, 12], "s": ["xa", "yb", "zc"],
                                  "d": [dt.date(2024, 1, 31), dt.date(2024, 2, 29), dt.date(2024, 3, 1)]}))
    fast = fastpath.run_plain(lake, query)
    assert fast is not None
    assert_frame_equal(fast.collect(), engine.execute(lake, query).collect())
