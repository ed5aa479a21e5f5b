"""One test (or more) per rule of docs/predict.md, named after the rule, via ``lake.predict``.

Tests taking ``engine_lake`` / ``engine_scoring_lake`` run on every engine (tests/conftest.py) and
check each engine's result against the same expected values; ``collect`` turns either engine's
result into a Polars DataFrame, ``dtype``/``portable`` compare types through the one type mapping.
"""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from onnx import TensorProto

from lakeml.errors import ModelError, PredictError
from lakeml.scoring import session as session_mod
from lakeml.session import Lake
from tests.conformance import collect, dtype, portable, same
from tests.scoring.models import add_model, column_pipeline, packed_forest, packed_logreg, regressor, training_frame


def _native_proba(clf, df: pl.DataFrame) -> np.ndarray:
    return clf.predict_proba(df.select("a", "b").to_numpy())


def test_rule_01_binding_by_name_exact_then_case_insensitive(engine_lake: Lake) -> None:
    lake = engine_lake
    lake.models.register(add_model(), name="add")
    df = pl.DataFrame({"X": [1.0, 2.0], "y": [10.0, 20.0]}, schema={"X": pl.Float32, "y": pl.Float32})
    out = collect(lake.predict("add", df, outputs="sum real"))
    assert out["sum"].to_list() == [11.0, 22.0]


@pytest.mark.engine_gap("spark", "case_sensitive_columns", reason="Spark resolves column names ignoring case, so "
                                                                  "columns 'X' and 'x' of one frame are ambiguous")
def test_rule_01_an_exact_match_wins_over_a_case_insensitive_one(engine_lake: Lake) -> None:
    engine_lake.models.register(add_model(), name="add")
    df = pl.DataFrame({"X": [1.0, 2.0], "y": [10.0, 20.0], "x": [100.0, 100.0]}).cast(pl.Float32)
    assert collect(engine_lake.predict("add", df, outputs="sum real"))["sum"].to_list() == [110.0, 120.0]


def test_rule_01_two_case_insensitive_candidates_error(engine_lake: Lake) -> None:
    engine_lake.models.register(add_model(names=("val", "y")), name="add")
    df = pl.DataFrame({"VAL": [1.0], "Val": [2.0], "y": [0.0]}).cast(pl.Float32)
    with pytest.raises(PredictError, match=r"'val' matches several columns ignoring case: \['VAL', 'Val'\]"):
        engine_lake.predict("add", df)


def test_rule_02_missing_input_lists_missing_and_available(engine_scoring_lake: Lake) -> None:
    df = training_frame().drop("visits", "plan")
    with pytest.raises(PredictError) as err:
        engine_scoring_lake.predict("pipe", df)
    msg = str(err.value)
    assert "['visits', 'plan']" in msg and "Available columns: ['a', 'b', 'y']" in msg
    assert "lake.models.describe('pipe:1')" in msg  # the caller's language: Python here, the CLI's below
    assert "lakeml models show pipe:1" in err.value.one_line("cli")


def test_rule_03_extra_columns_pass_through_and_order_does_not_matter(engine_scoring_lake: Lake) -> None:
    lake = engine_scoring_lake
    df = training_frame().with_columns(pl.lit("keep").alias("note"))
    a = collect(lake.predict("pipe", df, outputs="probabilities array(real, 2)"))
    shuffled = df.select(["note", "plan", "y", "visits", "b", "a"])
    b = collect(lake.predict("pipe", shuffled, outputs="probabilities array(real, 2)"))
    assert a["probabilities"].to_list() == b["probabilities"].to_list()
    assert b.columns == ["note", "plan", "y", "visits", "b", "a", "probabilities"]
    assert same(b.select(shuffled.columns), shuffled)


def test_rule_04_packed_features_match_native(engine_lake: Lake) -> None:
    data, clf = packed_logreg()
    engine_lake.models.register(data, name="lr", features=["a", "b"])
    df = training_frame()
    out = collect(engine_lake.predict("lr", df.select("b", "a"), outputs="probabilities array(real, 2)"))
    got = np.stack(out["probabilities"].to_numpy())
    assert np.abs(got - _native_proba(clf, df)).max() < 1e-5


def test_rule_04_packed_model_without_feature_list_errors(engine_lake: Lake) -> None:
    engine_lake.models.register(packed_logreg()[0], name="lr")
    with pytest.raises(PredictError, match=r"input 'input' has shape .*\[None, 2\].*no feature list") as err:
        engine_lake.predict("lr", training_frame())
    assert "features=" in str(err.value)


def test_rule_04_feature_list_must_fit_the_input(lake: Lake) -> None:
    with pytest.raises(ModelError, match="takes 2 features but 3 were listed"):
        lake.models.register(packed_logreg()[0], name="lr", features=["a", "b", "c"])
    with pytest.raises(ModelError, match="only for a model with one"):
        lake.models.register(column_pipeline()[0], name="p", features=["a", "visits", "plan"])


def test_rule_05_strict_types(engine_scoring_lake: Lake) -> None:
    scoring_lake = engine_scoring_lake
    df = training_frame().with_columns(pl.col("a").cast(pl.Float64))
    with pytest.raises(PredictError) as err:
        scoring_lake.predict("pipe", df)
    msg = str(err.value)
    assert "Column 'a' has type Float64 (float)" in msg and "tensor(float) (real)" in msg
    assert "CAST(a AS real)" in msg and "auto_cast=True" in msg
    df = training_frame().with_columns(pl.col("visits").cast(pl.Int32))
    with pytest.raises(PredictError, match=r"CAST\(visits AS bigint\)"):
        scoring_lake.predict("pipe", df)
    df = training_frame().with_columns(pl.col("plan").cast(pl.Categorical))  # string-like is fine
    assert collect(scoring_lake.predict("pipe", df)).height == df.height


def test_rule_05_auto_cast_when_no_value_changes(engine_scoring_lake: Lake) -> None:
    scoring_lake = engine_scoring_lake
    base = collect(scoring_lake.predict("pipe", training_frame(), outputs="probabilities array(real, 2)"))
    df = training_frame().with_columns(pl.col("visits").cast(pl.Int32), pl.col("a").cast(pl.Float64))
    with pytest.warns(UserWarning, match="auto-casting float64 column 'a' to float32"):
        out = collect(scoring_lake.predict("pipe", df, auto_cast=True, outputs="probabilities array(real, 2)"))
    assert out["probabilities"].to_list() == base["probabilities"].to_list()
    # a float column with a fraction cannot feed an int64 input
    bad = training_frame().with_columns(pl.col("visits").cast(pl.Float64) + 0.5)
    # the error names the first value of the batch that failed: on Spark, whichever partition's task did first
    with pytest.raises(PredictError, match=r"auto_cast of column 'visits'.*would change values \(first: \d+\.5"):
        collect(scoring_lake.predict("pipe", bad, auto_cast=True))
    # a string never auto-casts to a number
    txt = training_frame().with_columns(pl.col("visits").cast(pl.String))
    with pytest.raises(PredictError, match="cannot cast String to Int64"):
        collect(scoring_lake.predict("pipe", txt, auto_cast=True))


def test_rule_05_auto_cast_range_checked(engine_lake: Lake) -> None:
    lake = engine_lake
    lake.models.register(add_model(TensorProto.INT32), name="add32")
    df = pl.DataFrame({"x": [1, 2**40], "y": [1, 1]})
    with pytest.raises(PredictError, match="out of range for Int32"):
        collect(lake.predict("add32", df, auto_cast=True))
    ok = collect(lake.predict("add32", pl.DataFrame({"x": [1, 2], "y": [3, 4]}), auto_cast=True))
    assert ok["sum"].to_list() == [4, 6] and ok["sum"].dtype == pl.Int32


def test_rule_06_outputs_selected_by_name(engine_scoring_lake: Lake) -> None:
    scoring_lake = engine_scoring_lake
    out = collect(scoring_lake.predict("pipe", training_frame(), outputs="LABEL bigint"))
    assert out.columns[-1] == "LABEL" and "probabilities" not in out.columns
    every = collect(scoring_lake.predict("pipe", training_frame()))
    assert every.columns[-2:] == ["label", "probabilities"]
    with pytest.raises(PredictError) as err:
        scoring_lake.predict("pipe", training_frame(), outputs="score real")
    assert "label (bigint), probabilities (array(real, 2))" in str(err.value)


def test_rule_06_unnamed_outputs_not_computed(lake: Lake) -> None:
    lake.models.register(add_model(), name="add")
    plan_out = lake.predict("add", pl.DataFrame({"x": [1.0], "y": [2.0]}).cast(pl.Float32), outputs="twice real")
    assert plan_out.columns == ["x", "y", "twice"]
    from lakeml.scoring.api import build_plan

    plan = build_plan(lake, lake.models.get("add"), pl.Schema({"x": pl.Float32, "y": pl.Float32}), "twice real")
    assert [o.output for o in plan.outputs] == ["twice"]


def test_rule_07_array_output_needs_array_type(engine_scoring_lake: Lake) -> None:
    scoring_lake = engine_scoring_lake
    with pytest.raises(PredictError, match=r"(?s)has 2 values per row.*Hint: Declare it as array\(real, 2\)"):
        collect(scoring_lake.predict("pipe", training_frame(), outputs="probabilities real"))
    with pytest.raises(PredictError, match="array size 3"):
        collect(scoring_lake.predict("pipe", training_frame(), outputs="probabilities array(real, 3)"))
    out = collect(scoring_lake.predict("pipe", training_frame(), outputs={"probabilities": "array(float, 2)"}))
    assert dtype(out, "probabilities") == portable(pl.Array(pl.Float64, 2))


def test_rule_07_zipmap_output_is_an_error(engine_lake: Lake) -> None:
    lake = engine_lake
    lake.models.register(packed_logreg(zipmap=True)[0], name="zm", features=["a", "b"])
    with pytest.raises(PredictError, match="ZipMap") as err:
        lake.predict("zm", training_frame())
    assert "zipmap disabled" in str(err.value)
    out = collect(lake.predict("zm", training_frame(), outputs="output_label bigint"))
    assert out["output_label"].dtype == pl.Int64
    assert "ZipMap output: not scorable" in lake.models.describe("zm")


def test_rule_08_outputs_cast_to_declared_type(engine_scoring_lake: Lake) -> None:
    scoring_lake = engine_scoring_lake
    out = collect(scoring_lake.predict("pipe", training_frame(),
                                       outputs="label int, probabilities array(float, 2)"))
    assert out["label"].dtype == pl.Int32
    assert dtype(out, "probabilities") == portable(pl.Array(pl.Float64, 2))
    with pytest.raises(PredictError, match=r"output 'probabilities'.*would change values"):
        collect(scoring_lake.predict("pipe", training_frame(), outputs="probabilities array(int, 2)"))
    with pytest.raises(PredictError, match="Unknown SQL type 'money'"):
        scoring_lake.predict("pipe", training_frame(), outputs="label money")


def test_rule_08_not_null_errors_on_null(engine_scoring_lake: Lake) -> None:
    scoring_lake = engine_scoring_lake
    df = training_frame().with_columns(pl.when(pl.col("a") > 1).then(None).otherwise(pl.col("a")).alias("a"))
    ok = collect(scoring_lake.predict("pipe", df, on_null="propagate", outputs="label bigint"))
    assert ok["label"].null_count() > 0
    with pytest.raises(PredictError, match="WITH column label is NOT NULL but"):
        collect(scoring_lake.predict("pipe", df, on_null="propagate", outputs="label bigint NOT NULL"))


def test_rule_09_one_row_per_data_row_in_order(engine_scoring_lake: Lake) -> None:
    df = training_frame().with_row_index("id").reverse()
    out = collect(engine_scoring_lake.predict("pipe", df, outputs="label bigint, probabilities array(real, 2)",
                                              batch_size=7))
    assert out.height == df.height and out["id"].to_list() == df["id"].to_list()
    assert out.columns == [*df.columns, "label", "probabilities"]


def test_rule_09_zero_rows_keep_schema(engine_scoring_lake: Lake) -> None:
    scoring_lake = engine_scoring_lake
    empty = training_frame().head(0)
    out = collect(scoring_lake.predict("pipe", empty, outputs="label bigint, probabilities array(real, 2)"))
    assert out.height == 0
    assert out.schema["label"] == pl.Int64 and dtype(out, "probabilities") == portable(pl.Array(pl.Float32, 2))
    every = collect(scoring_lake.predict("pipe", empty))
    assert every.columns[-2:] == ["label", "probabilities"]


def test_rule_09_output_colliding_with_data_column_errors(engine_scoring_lake: Lake) -> None:
    df = training_frame().rename({"y": "label"})
    with pytest.raises(PredictError, match=r"\['label'\] would collide"):
        engine_scoring_lake.predict("pipe", df)


def _with_nulls() -> pl.DataFrame:
    df = training_frame().head(10)
    return df.with_columns(
        pl.when(pl.int_range(pl.len()).is_in([2, 5])).then(None).otherwise(pl.col("a")).alias("a"))


def test_rule_10_on_null_error_names_column_and_count(engine_scoring_lake: Lake) -> None:
    with pytest.raises(PredictError, match=r"Input column 'a' has 2 null value\(s\); nothing was scored") as err:
        collect(engine_scoring_lake.predict("pipe", _with_nulls()))
    assert "on_null='propagate'" in str(err.value)


def test_rule_10_on_null_propagate_keeps_order(engine_scoring_lake: Lake) -> None:
    scoring_lake = engine_scoring_lake
    df = _with_nulls()
    out = collect(scoring_lake.predict("pipe", df, on_null="propagate",
                                       outputs="label bigint, probabilities array(real, 2)", batch_size=3))
    assert out["label"].is_null().to_list() == [i in (2, 5) for i in range(10)]
    full = collect(scoring_lake.predict("pipe", df.drop_nulls(), outputs="label bigint, probabilities array(real, 2)"))
    assert out.drop_nulls()["probabilities"].to_list() == full["probabilities"].to_list()


def test_rule_10_on_null_nan(engine_lake: Lake) -> None:
    lake = engine_lake
    lake.models.register(add_model(), name="add")
    df = pl.DataFrame({"x": [1.0, None], "y": [1.0, 2.0]}, schema={"x": pl.Float32, "y": pl.Float32})
    out = collect(lake.predict("add", df, on_null="nan"))
    assert out["sum"].to_list() == [2.0, None]  # NaN outputs become nulls
    lake.models.register(add_model(TensorProto.INT64), name="addi")
    dfi = pl.DataFrame({"x": [1, None], "y": [1, 2]})
    with pytest.raises(PredictError, match=r"'x' has 1 null value\(s\) \(on_null='nan' only fills float inputs\)"):
        lake.predict("addi", dfi, on_null="nan")
    with pytest.raises(PredictError, match="on_null='zero' is not a null policy"):
        lake.predict("addi", dfi, on_null="zero")


def test_rule_14_one_cached_session_per_model_bytes_with_the_configured_threads(tmp_path) -> None:
    import lakeml
    from lakeml.config import LakeConfig

    lake = lakeml.connect(tmp_path / "lake", config=LakeConfig(ort_threads=1))
    lake.models.register(column_pipeline()[0], name="pipe")
    key = (lake.models.get("pipe").sha256, 1)
    lake.predict("pipe", training_frame())
    first = session_mod._cache[key]  # built with the configured thread count, cached by content hash
    assert first.session.get_session_options().intra_op_num_threads == 1
    lake.predict("pipe", training_frame().head(5))
    assert session_mod._cache[key] is first


def test_rule_15_batch_size_does_not_change_results(scoring_lake: Lake) -> None:
    df = training_frame(n=257)
    ref = scoring_lake.predict("pipe", df, batch_size=100_000)
    for bs in (1, 2, 16, 256, 257):
        assert scoring_lake.predict("pipe", df, batch_size=bs).equals(ref)


def test_rule_15_batch_size_does_not_change_results_with_nulls_anywhere(engine_scoring_lake: Lake) -> None:
    scoring_lake = engine_scoring_lake
    # nulls in the first row of a batch, the last row, two rows in a row, and a batch of nulls only
    nulls = [0, 1, 2, 15, 16, 100, 255, 256]
    df = training_frame(n=257).with_columns(
        pl.when(pl.int_range(pl.len()).is_in(nulls)).then(None).otherwise(pl.col("a")).alias("a"))
    ref = collect(scoring_lake.predict("pipe", df, on_null="propagate", batch_size=100_000))
    assert ref["label"].is_null().arg_true().to_list() == nulls
    for bs in (1, 2, 3, 16, 256, 257):
        assert same(scoring_lake.predict("pipe", df, on_null="propagate", batch_size=bs), ref)


def test_rule_16_float64_autocast_warns_once_and_trees_match_native(engine_lake: Lake) -> None:
    lake = engine_lake
    data, clf = packed_forest()
    lake.models.register(data, name="rf", features=["a", "b"])
    df = training_frame().with_columns(pl.col("a", "b").cast(pl.Float64))
    with pytest.warns(UserWarning) as record:
        out = collect(lake.predict("rf", df, auto_cast=True, outputs="probabilities array(real, 2)", batch_size=50))
    assert len([w for w in record if "auto-casting float64" in str(w.message)]) == 1
    got = np.stack(out["probabilities"].to_numpy())
    assert np.abs(got - _native_proba(clf, training_frame())).max() < 1e-5


def test_regressor_output_n_by_1_is_a_scalar_column(lake: Lake) -> None:
    data, reg = regressor()
    lake.models.register(data, name="reg", features=["a", "b"])
    out = lake.predict("reg", training_frame(), outputs="variable float")
    expected = reg.predict(training_frame().select("a", "b").to_numpy())
    assert np.abs(out["variable"].to_numpy() - expected).max() < 1e-3
    assert out["variable"].dtype == pl.Float64
