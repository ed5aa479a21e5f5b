"""Lake.sql end to end on a real local lake: tables, TOP, CTEs, joins, params, pushdown, errors.

Tests taking ``sales_engine_lake`` run on every engine (Polars and Spark)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from lakeml.errors import (
    ColumnNotFoundError,
    ConfigError,
    LakeMLError,
    SQLError,
    SQLSyntaxError,
    TableNotFoundError,
)
from lakeml.session import Lake
from tests.conformance import collect

SALES = pl.DataFrame({
    "id": [1, 2, 3, 4, 5],
    "name": ["ann", "o'brien", "cy", "dee", None],
    "amount": [10.0, 20.0, 30.0, 40.0, 50.0],
    "region": ["n", "s", "n", "s", "n"],
    "day": [dt.date(2024, 1, d) for d in range(1, 6)],
})
REGIONS = pl.DataFrame({"region": ["n", "s"], "label": ["North", "South"]})


@pytest.fixture
def sales_lake(lake: Lake) -> Lake:
    lake.write("sales", SALES)
    lake.write("regions", REGIONS)
    return lake


@pytest.fixture
def sales_engine_lake(engine_lake: Lake) -> Lake:
    """The same tables on the engine under test (Polars and Spark)."""
    engine_lake.write("sales", SALES)
    engine_lake.write("regions", REGIONS)
    return engine_lake


def test_sql_returns_a_lazy_frame(sales_lake: Lake) -> None:
    frame = sales_lake.sql("SELECT id FROM sales")
    assert isinstance(frame, pl.LazyFrame)
    assert frame.collect()["id"].to_list() == [1, 2, 3, 4, 5]


def test_top_limits_rows(sales_engine_lake: Lake) -> None:
    out = collect(sales_engine_lake.sql("SELECT TOP 2 id FROM sales ORDER BY amount DESC"))
    assert out["id"].to_list() == [5, 4]
    out = collect(sales_engine_lake.sql("SELECT TOP (3) id FROM sales ORDER BY id"))
    assert out["id"].to_list() == [1, 2, 3]


def test_polars_sql_features_pass_through(sales_lake: Lake) -> None:
    out = sales_lake.sql(
        'SELECT id, name ILIKE \'D%\' AS d, amount::int AS a, "region" FROM sales '
        "QUALIFY ROW_NUMBER() OVER (PARTITION BY region ORDER BY amount DESC) = 1 ORDER BY id"
    ).collect()
    assert out.to_dict(as_series=False) == {"id": [4, 5], "d": [True, None], "a": [40, 50], "region": ["s", "n"]}


def test_cte_and_join_across_catalog_tables(sales_engine_lake: Lake) -> None:
    out = collect(sales_engine_lake.sql("""
        WITH big AS (SELECT * FROM sales WHERE amount >= 20)
        SELECT r.label, COUNT(*) AS n, SUM(b.amount) AS total
        FROM big AS b JOIN regions AS r ON b.region = r.region
        GROUP BY r.label ORDER BY r.label
    """))
    expected = pl.DataFrame({"label": ["North", "South"], "n": [2, 2], "total": [80.0, 60.0]})
    assert_frame_equal(out, expected, check_dtypes=False)


def test_cte_name_shadows_nothing_in_the_catalog(sales_engine_lake: Lake) -> None:
    # `recent` is not a table: the CTE alone defines it, so no catalog lookup fails
    out = collect(sales_engine_lake.sql("WITH recent AS (SELECT id FROM sales WHERE id > 3) SELECT * FROM recent"))
    assert out["id"].to_list() == [4, 5]


def test_dbo_schema_is_accepted(sales_engine_lake: Lake) -> None:
    assert collect(sales_engine_lake.sql("SELECT COUNT(*) AS n FROM dbo.sales"))["n"][0] == 5


def test_other_schemas_are_refused(sales_lake: Lake) -> None:
    with pytest.raises(SQLError, match="one-part names") as info:
        sales_lake.sql("SELECT * FROM sales_db.sales")
    assert "FROM sales" in str(info.value.hint)


# --- pushdown -----------------------------------------------------------------------------------
def test_projection_and_predicate_reach_the_parquet_scan(lake: Lake) -> None:
    lake.write("wide", pl.DataFrame({c: list(range(100)) for c in "abcde"}))
    plan = lake.sql("SELECT a, SUM(b) AS s FROM wide WHERE c > 50 GROUP BY a").explain()
    scan = plan[plan.index("Parquet SCAN"):]
    assert "PROJECT 3/5 COLUMNS" in scan
    assert 'SELECTION: col("c") > 50' in scan.replace("[", "").replace("]", "")


def test_pushdown_through_a_join_and_a_cte(sales_lake: Lake) -> None:
    plan = sales_lake.sql("""
        WITH s AS (SELECT id, region, amount FROM sales)
        SELECT r.label, s.amount FROM s JOIN regions AS r ON s.region = r.region WHERE s.amount > 15
    """).explain()
    sales_scan = next(part for part in plan.split("Parquet SCAN")[1:] if "amount" in part or "5 COLUMNS" in part)
    assert "PROJECT 2/5 COLUMNS" in sales_scan
    assert "SELECTION" in sales_scan


# --- parameters -----------------------------------------------------------------------------------
def test_int_and_string_params(sales_engine_lake: Lake) -> None:
    out = collect(sales_engine_lake.sql("SELECT id FROM sales WHERE amount > @min AND region = @region ORDER BY id",
                         params={"min": 15, "region": "n"}))
    assert out["id"].to_list() == [3, 5]


def test_string_param_with_quotes_is_a_value_not_sql(sales_engine_lake: Lake) -> None:
    out = collect(sales_engine_lake.sql("SELECT id FROM sales WHERE name = @name", params={"name": "o'brien"}))
    assert out["id"].to_list() == [2]
    injected = collect(sales_engine_lake.sql("SELECT id FROM sales WHERE name = @name",
                              params={"name": "x' OR '1'='1"}))
    assert injected.height == 0


def test_null_float_bool_date_decimal_params(sales_lake: Lake) -> None:
    out = sales_lake.sql(
        "SELECT id, @flag AS flag, @f AS f, @dec AS dec FROM sales "
        "WHERE (name IS NOT DISTINCT FROM @missing) OR (day = @day) ORDER BY id",
        params={"flag": True, "f": -1.5, "dec": Decimal("2.25"), "missing": None, "day": dt.date(2024, 1, 3)},
    ).collect()
    assert out["id"].to_list() == [3, 5]
    assert out["flag"].to_list() == [True, True]
    assert out["f"].to_list() == [-1.5, -1.5]
    assert out["dec"].cast(pl.Float64).to_list() == [2.25, 2.25]


def test_list_param_expands_in_in(sales_engine_lake: Lake) -> None:
    out = collect(sales_engine_lake.sql("SELECT id FROM sales WHERE id IN (@ids) ORDER BY id", params={"ids": [2, 4]}))
    assert out["id"].to_list() == [2, 4]
    none = collect(sales_engine_lake.sql("SELECT id FROM sales WHERE id IN (@ids)", params={"ids": []}))
    assert none.height == 0


def test_colon_params_and_case_insensitive_names(sales_engine_lake: Lake) -> None:
    out = collect(sales_engine_lake.sql("SELECT id FROM sales WHERE id = :id OR id = @Other ORDER BY id",
                         params={"id": 1, "other": 2}))
    assert out["id"].to_list() == [1, 2]


def test_param_in_top(sales_engine_lake: Lake) -> None:
    out = collect(sales_engine_lake.sql("SELECT TOP (@n) id FROM sales ORDER BY id", params={"n": 2}))
    assert out["id"].to_list() == [1, 2]


def test_missing_param_is_named(sales_lake: Lake) -> None:
    with pytest.raises(SQLError, match="@region") as info:
        sales_lake.sql("SELECT * FROM sales WHERE region = @region", params={"regoin": "n"})
    assert "Did you mean 'regoin'" in str(info.value)
    with pytest.raises(SQLError, match="@region") as info:
        sales_lake.sql("SELECT * FROM sales WHERE region = @region")
    assert "params={'region': ...}" in str(info.value)


def test_positional_and_bad_params_are_refused(sales_lake: Lake) -> None:
    with pytest.raises(SQLError, match="Positional"):
        sales_lake.sql("SELECT * FROM sales WHERE id = ?", params={"id": 1})
    with pytest.raises(ConfigError, match="unsupported type"):
        sales_lake.sql("SELECT * FROM sales WHERE id = @id", params={"id": object()})
    with pytest.raises(ConfigError, match="lists only work in IN"):
        sales_lake.sql("SELECT * FROM sales WHERE id = @id", params={"id": [1, 2]})


# --- errors -----------------------------------------------------------------------------------------
def test_unknown_table_suggests_the_closest(sales_engine_lake: Lake) -> None:
    with pytest.raises(TableNotFoundError, match="'sale'") as info:
        sales_engine_lake.sql("SELECT * FROM sale")
    assert "Did you mean 'sales'?" in str(info.value)
    assert isinstance(info.value, LakeMLError) and isinstance(info.value, KeyError)


def test_unknown_table_in_a_join_lists_tables(sales_lake: Lake) -> None:
    with pytest.raises(TableNotFoundError, match="'zzz'") as info:
        sales_lake.sql("SELECT * FROM sales JOIN zzz ON sales.id = zzz.id")
    assert "regions" in str(info.value) and "sales" in str(info.value)


def test_unknown_column_fails_at_sql_time_with_did_you_mean(sales_engine_lake: Lake) -> None:
    with pytest.raises(ColumnNotFoundError, match="'amont'") as info:
        sales_engine_lake.sql("SELECT amont FROM sales")
    assert "Did you mean 'amount'?" in str(info.value)
    with pytest.raises(ColumnNotFoundError, match="'regon'") as info:
        sales_engine_lake.sql("SELECT id FROM sales WHERE regon = 'n'")
    assert "Did you mean 'region'?" in str(info.value)


def test_unknown_qualified_column_names_the_table(sales_lake: Lake) -> None:
    with pytest.raises(ColumnNotFoundError, match=r"'lable'.*'r'") as info:
        sales_lake.sql("SELECT r.lable FROM sales AS s JOIN regions AS r ON s.region = r.region")
    assert "Did you mean 'label'?" in str(info.value)


def test_syntax_error_has_line_column_and_fragment(sales_lake: Lake) -> None:
    with pytest.raises(SQLSyntaxError) as info:
        sales_lake.sql("SELECT id,\n  amount\nFROM sales WHERE (id > 1")
    err = info.value
    assert err.line == 3
    assert err.column is not None and err.column > 1
    assert "line 3" in str(err) and "column" in str(err)
    assert "^" in str(err)  # the caret under the offending position
    with pytest.raises(SQLSyntaxError, match="line 1, column 32 near '='") as info:
        sales_lake.sql("SELECT * FROM sales WHERE id = = 1")
    assert (info.value.line, info.value.column) == (1, 32)
    with pytest.raises(SQLSyntaxError, match="unterminated string") as info:
        sales_lake.sql("SELECT 'abc FROM sales")
    assert (info.value.line, info.value.column) == (1, 8)


def test_several_statements_are_refused(sales_lake: Lake) -> None:
    with pytest.raises(SQLError, match="one SQL statement"):
        sales_lake.sql("SELECT 1; SELECT 2")
    assert sales_lake.sql("SELECT 1 AS one;").collect()["one"][0] == 1


@pytest.mark.parametrize(("query", "kind"), [
    ("UPDATE sales SET amount = 0", "UPDATE"), ("DELETE FROM sales", "DELETE"),
    ("TRUNCATE TABLE sales", "TRUNCATE"), ("ALTER TABLE sales ADD COLUMN z INT", "ALTER"),
])
def test_writes_other_than_the_dml_statements_are_refused(sales_lake: Lake, query: str, kind: str) -> None:
    # CREATE TABLE, INSERT, DROP TABLE and MERGE run (tests/sql/test_dml.py); these do not.
    with pytest.raises(SQLError, match=f"{kind} statements are not supported") as info:
        sales_lake.sql(query)
    assert "MERGE" in str(info.value.hint)
    assert sales_lake.table("sales").collect().height == 5


def test_empty_query_and_non_string(sales_lake: Lake) -> None:
    with pytest.raises(SQLError, match="empty"):
        sales_lake.sql("  ")
    with pytest.raises(SQLError, match="must be a string"):
        sales_lake.sql(42)  # type: ignore[arg-type]


def test_unsupported_top_forms(sales_lake: Lake) -> None:
    with pytest.raises(SQLError, match="PERCENT"):
        sales_lake.sql("SELECT TOP 10 PERCENT * FROM sales")
    with pytest.raises(SQLError, match="WITH TIES"):
        sales_lake.sql("SELECT TOP 1 WITH TIES * FROM sales ORDER BY region")


def test_polars_errors_are_wrapped(sales_lake: Lake) -> None:
    with pytest.raises(SQLError, match="does not support this function") as info:
        sales_lake.sql("SELECT no_such_fn(id) FROM sales")
    assert isinstance(info.value.__cause__, pl.exceptions.PolarsError)
    with pytest.raises(SQLError, match="CAST"):
        sales_lake.sql("SELECT id + name FROM sales")


def test_builtin_views_are_in_scope(lake: Lake) -> None:
    views = lake.builtin_views()
    assert {"models", "automl_runs", "automl_trials", "automl_leaderboard"} <= set(views)
    for name in ("models", "automl_runs"):
        expected = views[name]().collect_schema().names()
        assert lake.sql(f"SELECT * FROM {name}").collect_schema().names() == expected


def test_same_text_with_new_params_binds_afresh(sales_engine_lake: Lake) -> None:
    # parsed queries are cached by text: binding must never leak into the next call
    query = "SELECT id FROM sales WHERE id = @id"
    assert collect(sales_engine_lake.sql(query, params={"id": 1}))["id"].to_list() == [1]
    assert collect(sales_engine_lake.sql(query, params={"id": 2}))["id"].to_list() == [2]
    with pytest.raises(SQLError, match="@id"):
        sales_engine_lake.sql(query)
