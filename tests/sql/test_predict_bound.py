"""SQL PREDICT, bound-model form (rules 11-13), and the Polars expression for the same binding."""

from __future__ import annotations

import polars as pl
import pytest

from lakeml.errors import PredictError, SQLError
from lakeml.session import Lake
from tests.scoring.models import column_pipeline, packed_logreg, training_frame


@pytest.fixture
def bound_lake(lake: Lake) -> Lake:
    lake.models.register(packed_logreg()[0], name="churn", features=["a", "b"])
    lake.models.register(column_pipeline()[0], name="pipe")
    lake.write("cust", training_frame().with_row_index("id"))
    lake.write("feats", training_frame().select("a", "b"))
    return lake


def test_rule_11_positional_binding_and_arity(bound_lake: Lake) -> None:
    bound_lake.models.bind("churn:1", alias="churn", return_type="double", output="probabilities[1]")
    got = bound_lake.sql("SELECT id, PREDICT('churn', a, b) AS score FROM cust").collect()
    ref = bound_lake.predict("churn:1", "cust", outputs="probabilities array(double, 2)")
    assert got["score"].to_list() == [p[1] for p in ref["probabilities"].to_list()]
    # position, not name: swapping the arguments changes the result
    swapped = bound_lake.sql("SELECT PREDICT('churn', b, a) AS score FROM cust").collect()
    assert swapped["score"].to_list() != got["score"].to_list()
    with pytest.raises(PredictError, match=r"got 1 argument\(s\) but model churn:1 takes 2: \['a', 'b'\]"):
        bound_lake.sql("SELECT PREDICT('churn', a) AS s FROM cust")


def test_rule_11_star_binds_all_columns_in_order(bound_lake: Lake) -> None:
    bound_lake.models.bind("churn:1", alias="churn", return_type="double", output="probabilities[1]")
    got = bound_lake.sql("SELECT PREDICT('churn', *) AS score FROM feats").collect()
    ref = bound_lake.sql("SELECT PREDICT('churn', a, b) AS score FROM cust").collect()
    assert got.columns == ["score"] and got["score"].to_list() == ref["score"].to_list()
    with pytest.raises(PredictError, match=r"got 6 argument\(s\)"):
        bound_lake.sql("SELECT PREDICT('churn', *) AS score FROM cust")


def test_rule_12_output_and_return_type_chosen_at_bind(bound_lake: Lake) -> None:
    label = bound_lake.models.bind("pipe", alias="pl_label")
    assert label.dtype == pl.Int64 and label.output == "label"  # default: first output, own type
    got = bound_lake.sql("SELECT PREDICT('pl_label', a, visits, plan) AS y FROM cust").collect()
    assert got["y"].dtype == pl.Int64
    bound_lake.models.bind("pipe", alias="p_int", return_type="int", output="label")
    assert bound_lake.sql("SELECT PREDICT('p_int', a, visits, plan) AS y FROM cust").collect()["y"].dtype == pl.Int32
    with pytest.raises(PredictError, match="pick one element"):
        bound_lake.models.bind("pipe", alias="bad", output="probabilities")
    with pytest.raises(PredictError, match=r"\[5\] does not exist"):
        bound_lake.models.bind("pipe", alias="bad", output="probabilities[5]")
    with pytest.raises(PredictError, match="has no output 'score'"):
        bound_lake.models.bind("pipe", alias="bad", output="score")


def test_rule_13_scalar_function_anywhere(bound_lake: Lake) -> None:
    bound_lake.models.bind("churn:1", alias="churn", return_type="double", output="probabilities[1]")
    q = "SELECT id FROM cust WHERE PREDICT('churn', a, b) > 0.5 ORDER BY id"
    got = bound_lake.sql(q).collect()
    ref = bound_lake.predict("churn:1", "cust", outputs="label bigint")
    assert got["id"].to_list() == ref.filter(pl.col("label") == 1)["id"].to_list()
    rows = bound_lake.sql("SELECT id, PREDICT('churn', a, b) AS s FROM cust").collect()
    assert rows.height == 300 and rows["id"].to_list() == list(range(300))


def test_bound_expr_polars_form(bound_lake: Lake) -> None:
    m = bound_lake.models.bind("pipe", alias="pipe_p", return_type="float", output="probabilities[1]")
    df = training_frame()
    got = df.lazy().with_columns(m.expr("a", "visits", "plan").alias("score")).collect()
    ref = bound_lake.predict("pipe", df, outputs="probabilities array(float, 2)")
    assert got["score"].to_list() == [p[1] for p in ref["probabilities"].to_list()]
    with pytest.raises(PredictError, match="takes 3"):
        m.expr("a")


def test_unbound_alias_and_unsupported_shapes(bound_lake: Lake) -> None:
    with pytest.raises(PredictError, match="No model is bound to alias 'nope'"):
        bound_lake.sql("SELECT PREDICT('nope', a, b) FROM cust")
    bound_lake.models.bind("churn", alias="churn")
    with pytest.raises(SQLError, match="not a column"):
        bound_lake.sql("SELECT PREDICT('churn', a + 1, b) FROM cust")
    with pytest.raises(SQLError, match="single table"):
        bound_lake.sql("SELECT PREDICT('churn', c.a, c.b) FROM cust c JOIN feats f ON c.a = f.a")


def test_bound_models_live_and_die_with_their_lake(tmp_path) -> None:
    import gc
    import weakref

    import lakeml

    lake = lakeml.connect(tmp_path / "lake")
    lake.models.register(packed_logreg()[0], name="churn", features=["a", "b"])
    lake.write("feats", training_frame().select("a", "b"))
    lake.models.bind("churn:1", alias="churn", return_type="double", output="probabilities[1]")
    assert lake.sql("SELECT PREDICT('churn', a, b) AS s FROM feats").collect().height > 0
    other = lakeml.connect(tmp_path / "lake")
    with pytest.raises(PredictError, match="No model is bound to alias 'churn'"):
        other.sql("SELECT PREDICT('churn', a, b) AS s FROM feats")
    ref = weakref.ref(lake)
    del lake
    gc.collect()
    assert ref() is None  # no module-level cache keeps a lake (and its bound models) alive
