"""The lake dialect: round trips of the lake's own forms, node contents, and Polars compatibility."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest
import sqlglot
from polars.testing import assert_frame_equal
from sqlglot import exp
from sqlglot.errors import ParseError

from lakeml.sql.dialect import LakeSQL
from lakeml.sql.nodes import OpenRowset, OpenRowsetColumn, PredictCall, PredictTable


def parse(sql: str) -> exp.Expr:
    return sqlglot.parse_one(sql, dialect=LakeSQL)


def roundtrip(sql: str) -> str:
    return parse(sql).sql(dialect=LakeSQL)


def squash(sql: str) -> str:
    return " ".join(sql.split())


ROUND_TRIPS = [
    # PREDICT, table form (the examples of docs/predict.md)
    "SELECT d.*, p.label, p.probabilities FROM PREDICT(MODEL = 'churn:3', DATA = customers AS d, "
    "RUNTIME = ONNX) WITH (label BIGINT, probabilities ARRAY(REAL, 2)) AS p WHERE p.label = 1",
    "SELECT * FROM PREDICT(MODEL = (SELECT model FROM models WHERE name = 'churn' AND version = 3), "
    "DATA = customers AS d) WITH (label BIGINT NOT NULL, score FLOAT, name VARCHAR, ok BIT, n INT) AS p",
    "SELECT * FROM PREDICT(MODEL = @model, DATA = dbo.customers AS d, RUNTIME = ONNX) AS p",
    "SELECT * FROM PREDICT(MODEL = :model, DATA = c) WITH (x REAL) AS p JOIN u ON p.id = u.id",
    "WITH c AS (SELECT * FROM t WHERE a > 1) SELECT * FROM PREDICT(MODEL = 'm@champion', DATA = c AS d, "
    "RUNTIME = ONNX) WITH (y FLOAT) AS p",
    # PREDICT, bound-model scalar form
    "SELECT id, PREDICT('churn', tenure, monthly, plan) AS score FROM customers",
    "SELECT PREDICT('churn', *) AS score FROM features",
    "SELECT id FROM t WHERE PREDICT('m', a + 1, CAST(b AS REAL)) > 0.5",
    # OPENROWSET
    "SELECT * FROM OPENROWSET(BULK 'abfss://c@acct.dfs.core.windows.net/p/*.parquet', FORMAT = 'PARQUET') AS r",
    "SELECT * FROM OPENROWSET(BULK 'x.csv', FORMAT = 'CSV', HEADER_ROW = TRUE, FIELDTERMINATOR = ';', "
    "PARSER_VERSION = '2.0') AS r WHERE r.a > 1",
    "SELECT * FROM OPENROWSET(BULK ('a.csv', 'b.csv'), FORMAT = 'CSV') WITH (a INT 1, b VARCHAR(10) 2) AS r",
    "SELECT * FROM (SELECT * FROM OPENROWSET(BULK 'tables/x', FORMAT = 'DELTA') AS r) AS s",
    # ordinary SQL that must pass through untouched
    'SELECT "Odd Name", a FROM t WHERE b ILIKE \'%x%\' ORDER BY a DESC NULLS LAST LIMIT 5 OFFSET 2',
    "SELECT a, ROW_NUMBER() OVER (PARTITION BY b ORDER BY c) AS rn FROM t QUALIFY rn = 1",
    "WITH x AS (SELECT 1 AS a) SELECT * FROM x",
    "SELECT * FROM t WHERE a = @a AND b = :b",
    "SELECT TRY_CAST(a AS INT), MEDIAN(b), CAST(c AS TINYINT) FROM t",
]


@pytest.mark.parametrize("sql", ROUND_TRIPS)
def test_lake_forms_round_trip_exactly(sql: str) -> None:
    assert squash(roundtrip(sql)) == squash(sql)


def test_round_trip_ignores_whitespace_and_keyword_case() -> None:
    text = """select * from predict(model = 'm',
                   data = t as d, runtime = onnx)
              with (label bigint not null, probs array(real, 3)) as p"""
    assert roundtrip(text) == (
        "SELECT * FROM PREDICT(MODEL = 'm', DATA = t AS d, RUNTIME = ONNX) "
        "WITH (label BIGINT NOT NULL, probs ARRAY(REAL, 3)) AS p"
    )


def test_type_synonyms_are_written_canonically() -> None:
    # 64-bit float is FLOAT (as in T-SQL and Polars), 32-bit is REAL
    assert roundtrip("SELECT CAST(a AS DOUBLE PRECISION), CAST(b AS DOUBLE), CAST(c AS FLOAT4)") == (
        "SELECT CAST(a AS FLOAT), CAST(b AS FLOAT), CAST(c AS REAL)")


def test_top_becomes_limit() -> None:
    assert roundtrip("SELECT TOP 10 * FROM t") == "SELECT * FROM t LIMIT 10"
    assert roundtrip("SELECT TOP (5) a FROM t ORDER BY a") == "SELECT a FROM t ORDER BY a LIMIT 5"
    assert roundtrip("SELECT TOP 3 DISTINCT a FROM t") == "SELECT DISTINCT a FROM t LIMIT 3"


def test_predict_table_node_args() -> None:
    tree = parse("SELECT * FROM PREDICT(MODEL = 'churn:3', DATA = customers AS d, RUNTIME = ONNX) "
                 "WITH (label BIGINT NOT NULL, probabilities ARRAY(REAL, 2)) AS p")
    node = tree.find(PredictTable)
    assert node is not None
    assert node.args["model"] == exp.Literal.string("churn:3")
    assert node.args["data"].name == "customers"
    assert node.args["data_alias"].name == "d"
    assert node.args["runtime"].name == "ONNX"
    label, probs = node.args["columns"]
    assert isinstance(label, exp.ColumnDef) and label.name == "label"
    assert label.args["kind"].is_type(exp.DType.BIGINT)
    assert label.find(exp.NotNullColumnConstraint) is not None
    kind = probs.args["kind"]
    assert kind.is_type(exp.DType.ARRAY)
    assert kind.expressions[0].is_type(exp.DType.FLOAT)  # REAL: 32-bit
    assert kind.args["values"][0].to_py() == 2
    assert probs.find(exp.NotNullColumnConstraint) is None
    # the trailing alias belongs to the table node around PREDICT, as for any table function
    assert node.parent is not None and node.parent.alias == "p"


def test_predict_model_as_subquery_and_param() -> None:
    sub = parse("SELECT * FROM PREDICT(MODEL = (SELECT model FROM models WHERE name = 'm'), DATA = t) AS p")
    assert isinstance(sub.find(PredictTable).args["model"], exp.Subquery)  # type: ignore[union-attr]
    param = parse("SELECT * FROM PREDICT(MODEL = @m, DATA = t) AS p")
    assert isinstance(param.find(PredictTable).args["model"], exp.Parameter)  # type: ignore[union-attr]


def test_predict_call_node_args() -> None:
    call = parse("SELECT PREDICT('churn', tenure, monthly) AS s FROM t").find(PredictCall)
    assert call is not None
    assert call.alias_name == "churn"
    assert [e.name for e in call.expressions] == ["tenure", "monthly"]
    star = parse("SELECT PREDICT('churn', *) AS s FROM t").find(PredictCall)
    assert star is not None and isinstance(star.expressions[0], exp.Star)


def test_openrowset_node_args() -> None:
    node = parse("SELECT * FROM OPENROWSET(BULK ('a.csv', 'b.csv'), FORMAT = 'CSV', header_row = TRUE) "
                 "WITH (a INT 1, b VARCHAR) AS r").find(OpenRowset)
    assert node is not None
    assert node.locations == ["a.csv", "b.csv"]
    assert node.option("format") == exp.Literal.string("CSV")
    assert node.option("HEADER_ROW") == exp.Boolean(this=True)  # option names are upper-cased
    assert node.option("FIRSTROW") is None
    first, second = node.args["columns"]
    assert isinstance(first, OpenRowsetColumn) and first.args["source"].to_py() == 1
    assert second.args.get("source") is None


@pytest.mark.parametrize(("sql", "message"), [
    ("SELECT * FROM OPENROWSET('x.parquet', FORMAT = 'PARQUET') AS r", "Expected BULK"),
    ("SELECT * FROM OPENROWSET(BULK 'x' FORMAT = 'CSV') AS r", "Expected ')' to close OPENROWSET"),
    ("SELECT * FROM OPENROWSET(BULK x, FORMAT = 'CSV') AS r", "string location"),
    ("SELECT * FROM OPENROWSET(BULK 'x', FORMAT) AS r", "Expected '=' after OPENROWSET option FORMAT"),
    ("SELECT * FROM PREDICT(MODEL = 'm', DATA = t AS d, FOO = 1) AS p", "Expected MODEL, DATA or RUNTIME"),
    ("SELECT * FROM PREDICT(MODEL = 'm') AS p", "PREDICT needs DATA"),
    ("SELECT * FROM PREDICT(MODEL = 'm', MODEL = 'n', DATA = t) AS p", "MODEL given twice"),
    ("SELECT * FROM PREDICT(MODEL = 'm', DATA = t) WITH (a ARRAY(REAL)) AS p", "array(<element type>, <size>)"),
    ("SELECT * FROM PREDICT(MODEL = 'm', DATA = t) WITH (a) AS p", "Expected a type in PREDICT WITH"),
    ("SELECT PREDICT(a, b) FROM t", "bound model alias string"),
])
def test_malformed_lake_forms_are_syntax_errors(sql: str, message: str) -> None:
    with pytest.raises(ParseError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse(sql)


def _people() -> pl.DataFrame:
    return pl.DataFrame({
        "id": [1, 2, 3, 4], "name": ["Ann", "bob", "Cy", None], "amount": [1.5, 2.0, 3.25, None],
        "cat": ["x", "y", "x", "y"], "d": [dt.date(2024, 1, 5), dt.date(2024, 2, 6), dt.date(2023, 3, 7), None],
    })


POLARS_QUERIES = [
    "SELECT id::int AS i, name ILIKE 'a%' AS l FROM t",
    "SELECT EXTRACT(year FROM d) AS y, date_part('month', d) AS m, DATE_TRUNC('month', d) AS dm FROM t",
    "SELECT SUBSTR(name, 2) AS s, LOG10(amount) AS l, IFNULL(name, 'z') AS n, IF(id > 2, 'a', 'b') AS c FROM t",
    "SELECT TRY_CAST(name AS INT) AS n FROM t",
    "SELECT cat, MEDIAN(amount) AS med, COUNT(*) FILTER (WHERE amount > 2) AS n FROM t GROUP BY cat ORDER BY cat",
    "SELECT id, ROW_NUMBER() OVER (PARTITION BY cat ORDER BY id) AS rn FROM t QUALIFY rn = 1 ORDER BY id",
    "SELECT * FROM t WHERE name ~ '^[A-Z]' AND regexp_like(name, 'n')",
    "SELECT t.id FROM t SEMI JOIN u ON t.id = u.id WHERE t.cat = 'x' ORDER BY t.id",
    "SELECT CAST(id AS DOUBLE) AS f, CAST(id AS FLOAT) AS g, CAST(id AS REAL) AS r, CAST(id AS TINYINT) AS ti FROM t",
    "SELECT d + INTERVAL '1 day' AS nd, DATE '2024-01-01' AS c FROM t",
    "SELECT * EXCLUDE (d) FROM t ORDER BY amount DESC NULLS LAST LIMIT 2",
]


@pytest.mark.parametrize("sql", POLARS_QUERIES)
def test_dialect_output_means_the_same_to_polars(sql: str) -> None:
    frame = _people().lazy()
    context = pl.SQLContext(frames={"t": frame, "u": frame})
    expected = context.execute(sql, eager=True)
    actual = context.execute(roundtrip(sql), eager=True)
    assert_frame_equal(actual, expected)


def test_common_tsql_functions_run_on_polars() -> None:
    frame = pl.LazyFrame({"a": [1, None], "d": [dt.date(2024, 1, 31), dt.date(2024, 2, 10)]})
    context = pl.SQLContext(frames={"t": frame})
    out = context.execute(roundtrip(
        "SELECT ISNULL(a, 0) AS i, CONVERT(VARCHAR, a) AS c, N'x' AS n, DATEADD(day, 1, d) AS nd, "
        "DATEADD(month, 1, d) AS nm, EOMONTH(d) AS e, SQUARE(a) AS sq FROM t"), eager=True)
    assert out.to_dict(as_series=False) == {
        "i": [1, 0], "c": ["1", None], "n": ["x", "x"],
        "nd": [dt.date(2024, 2, 1), dt.date(2024, 2, 11)], "nm": [dt.date(2024, 2, 29), dt.date(2024, 3, 10)],
        "e": [dt.date(2024, 1, 31), dt.date(2024, 2, 29)], "sq": [1, None],
    }
    counted = context.execute(roundtrip("SELECT COUNT_BIG(*) AS n, GETDATE() IS NOT NULL AS now FROM t"), eager=True)
    assert counted.to_dict(as_series=False) == {"n": [2], "now": [True]}


def test_convert_with_style_is_refused() -> None:
    with pytest.raises(ParseError, match="CONVERT styles are not supported"):
        parse("SELECT CONVERT(DATE, ts, 23) FROM t")
