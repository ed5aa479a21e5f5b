"""SQL PREDICT, table form, through ``lake.sql`` (parse, rewrite, the engine's SQL), on every engine."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from lakeml.errors import LakeMLError, PredictError, SQLError
from lakeml.session import Lake
from tests.conformance import collect, same
from tests.scoring.models import column_pipeline, packed_logreg, training_frame

Q = """SELECT d.*, p.label, p.probabilities
FROM PREDICT(MODEL = 'churn:1', DATA = cust AS d, RUNTIME = ONNX)
WITH (label bigint, probabilities array(real, 2)) AS p"""


@pytest.fixture
def sql_lake(engine_lake: Lake) -> Lake:
    lake = engine_lake
    lake.models.register(packed_logreg()[0], name="churn", features=["a", "b"])
    lake.models.register(column_pipeline()[0], name="pipe")
    lake.write("cust", training_frame().with_row_index("id"))
    lake.write("regions", pl.DataFrame({"id": [0, 1, 2], "region": ["n", "s", "e"]}, schema={"id": pl.UInt32,
                                                                                              "region": pl.String}))
    return lake


def test_table_form_matches_python_predict(sql_lake: Lake) -> None:
    got = collect(sql_lake.sql(Q))
    expected = collect(sql_lake.predict("churn:1", "cust", outputs="label bigint, probabilities array(real, 2)"))
    assert same(got, expected)


def test_table_form_with_where_join_and_order(sql_lake: Lake) -> None:
    q = """SELECT d.id, r.region, p.label FROM PREDICT(MODEL = 'churn', DATA = cust AS d) WITH (label bigint) AS p
           JOIN regions r ON r.id = d.id WHERE p.label = 1 ORDER BY d.id"""
    got = collect(sql_lake.sql(q))
    full = collect(sql_lake.predict("churn", "cust", outputs="label bigint"))
    expected = full.filter(pl.col("label") == 1, pl.col("id") < 3)["id"].to_list()
    assert got["id"].to_list() == expected and got.columns == ["id", "region", "label"]


def test_table_form_with_cte_as_data_and_name_clash(sql_lake: Lake) -> None:
    q = """WITH c AS (SELECT id, a, b, y AS label FROM cust WHERE a > 0)
           SELECT d.id, d.label AS truth, p.label
           FROM PREDICT(MODEL = 'churn', DATA = c AS d) WITH (label bigint) AS p"""
    got = collect(sql_lake.sql(q))
    assert got.columns == ["id", "truth", "label"]
    assert got.height == int((training_frame()["a"] > 0).sum())
    assert got["id"].to_list() == sorted(got["id"].to_list())  # DATA order kept


def test_table_form_model_as_param_and_alias(sql_lake: Lake) -> None:
    sql_lake.models.set_alias("churn", 1, "champion")
    q = "SELECT p.label FROM PREDICT(MODEL = @m, DATA = cust AS d) WITH (label bigint) AS p"
    got = collect(sql_lake.sql(q, params={"m": "churn@champion"}))
    assert got.height == 300


def test_table_form_model_as_subquery_over_models_view(sql_lake: Lake) -> None:
    q = """SELECT d.id, p.probabilities FROM PREDICT(
             MODEL = (SELECT model FROM models WHERE name = 'churn' AND version = 1),
             DATA = cust AS d) WITH (probabilities array(real, 2)) AS p"""
    got = collect(sql_lake.sql(q))
    ref = collect(sql_lake.predict("churn:1", "cust", outputs="probabilities array(real, 2)"))
    assert got["probabilities"].to_list() == ref["probabilities"].to_list()
    bad = q.replace("AND version = 1", "")
    sql_lake.models.register(packed_logreg(seed=1)[0], name="churn", features=["a", "b"])
    with pytest.raises(SQLError, match="returned 2 row"):
        sql_lake.sql(bad)


def test_table_form_model_subquery_of_another_type_is_refused(sql_lake: Lake) -> None:
    q = """SELECT p.label FROM PREDICT(MODEL = (SELECT version FROM models WHERE name = 'churn' AND version = 1),
             DATA = cust AS d) WITH (label bigint) AS p"""
    with pytest.raises(SQLError, match=r"returned a Int(32|64) value"):
        sql_lake.sql(q)


def test_table_form_without_with_returns_all_outputs(sql_lake: Lake) -> None:
    got = collect(sql_lake.sql("SELECT * FROM PREDICT(MODEL = 'pipe', DATA = cust AS d) AS p"))
    assert got.columns[-2:] == ["label", "probabilities"] and got.height == 300


def test_table_form_errors(sql_lake: Lake) -> None:
    with pytest.raises(SQLError, match="RUNTIME = TORCH is not supported"):
        sql_lake.sql("SELECT * FROM PREDICT(MODEL = 'churn', DATA = cust AS d, RUNTIME = TORCH) "
                     "WITH (label bigint) AS p")
    with pytest.raises(PredictError, match="WITH names output 'score'"):
        sql_lake.sql("SELECT * FROM PREDICT(MODEL = 'churn', DATA = cust AS d) WITH (score real) AS p")
    with pytest.raises(LakeMLError, match="No model 'chrun'"):
        sql_lake.sql("SELECT * FROM PREDICT(MODEL = 'chrun', DATA = cust AS d) WITH (label bigint) AS p")
    with pytest.raises(PredictError, match=r"CAST\(a AS real\)"):
        sql_lake.sql("""WITH c AS (SELECT CAST(a AS DOUBLE) AS a, b FROM cust)
                        SELECT * FROM PREDICT(MODEL = 'churn', DATA = c AS d) WITH (label bigint) AS p""")


def test_table_form_cast_in_cte_fixes_types(sql_lake: Lake) -> None:
    q = """WITH c AS (SELECT CAST(CAST(a AS DOUBLE) AS REAL) AS a, b FROM cust)
           SELECT p.probabilities FROM PREDICT(MODEL = 'churn', DATA = c AS d)
           WITH (probabilities array(real, 2)) AS p"""
    got = collect(sql_lake.sql(q))
    ref = collect(sql_lake.predict("churn", "cust", outputs="probabilities array(real, 2)"))
    assert np.array_equal(np.stack(got["probabilities"].to_numpy()), np.stack(ref["probabilities"].to_numpy()))


def test_table_form_with_subquery_as_data_works_like_a_cte(sql_lake: Lake) -> None:
    as_cte = """WITH c AS (SELECT id, a, b FROM cust WHERE a > 0)
                SELECT d.id, p.label FROM PREDICT(MODEL = 'churn', DATA = c AS d) WITH (label bigint) AS p"""
    as_subquery = """SELECT d.id, p.label
                     FROM PREDICT(MODEL = 'churn', DATA = (SELECT id, a, b FROM cust WHERE a > 0) AS d)
                     WITH (label bigint) AS p"""
    expected = collect(sql_lake.sql(as_cte))
    got = collect(sql_lake.sql(as_subquery))
    assert got.columns == ["id", "label"] and got.height == int((training_frame()["a"] > 0).sum())
    assert same(got, expected)


def test_subquery_data_sees_the_query_ctes_and_nests_predict(sql_lake: Lake) -> None:
    q = """WITH c AS (SELECT id, a, b FROM cust)
           SELECT d.id, d.label AS first, p.label
           FROM PREDICT(MODEL = 'churn',
                        DATA = (SELECT s.id, s.a, s.b, q.label
                                FROM PREDICT(MODEL = 'churn', DATA = c AS s) WITH (label bigint) AS q
                                WHERE s.id < 50) AS d)
           WITH (label bigint) AS p ORDER BY d.id"""
    got = collect(sql_lake.sql(q))
    assert got.height == 50 and got["first"].to_list() == got["label"].to_list()


def test_subquery_data_round_trips_through_the_dialect() -> None:
    import sqlglot

    from lakeml.sql.dialect import LakeSQL

    q = ("SELECT * FROM PREDICT(MODEL = 'm', DATA = (SELECT a FROM t WHERE a > 1) AS d, RUNTIME = ONNX) "
         "WITH (y REAL) AS p")
    assert sqlglot.parse_one(q, dialect=LakeSQL).sql(dialect=LakeSQL) == q


def test_subquery_data_needs_an_alias_or_a_select(sql_lake: Lake) -> None:
    with pytest.raises(SQLError) as info:
        sql_lake.sql("SELECT * FROM PREDICT(MODEL = 'churn', DATA = (1 + 2) AS d) WITH (label bigint) AS p")
    assert "DATA" in str(info.value) and "Token" not in str(info.value)


def test_subquery_data_errors_name_the_column(sql_lake: Lake) -> None:
    from lakeml.errors import ColumnNotFoundError

    with pytest.raises(ColumnNotFoundError) as info:
        sql_lake.sql("SELECT * FROM PREDICT(MODEL = 'churn', DATA = (SELECT a, bb FROM cust) AS d) "
                     "WITH (label bigint) AS p")
    assert "bb" in str(info.value) and "b" in (info.value.hint or "")
