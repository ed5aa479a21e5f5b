"""MLlib families: trained on Spark, exported to ONNX, scored by SQL PREDICT on both engines."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest

import lakeml
from lakeml.errors import ConfigError, ModelError

N_ROWS = 10_050  # above the k-fold limit: one holdout, two Spark fits per family


def _data(n: int = N_ROWS, seed: int = 0) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    cat = rng.choice(["a", "b", "c"], size=n)
    score = x + np.where(cat == "a", 1.0, 0.0) + rng.normal(scale=0.5, size=n)
    frame = pl.DataFrame({"x": x, "k": rng.integers(0, 5, size=n), "cat": cat.tolist(),
                          "label": (score > 0.3).astype(np.int64), "amount": score * 10.0})
    row = pl.int_range(pl.len())
    return frame.with_columns(pl.when(row % 17 == 0).then(None).otherwise(pl.col("x")).alias("x"),
                              pl.when(row % 13 == 0).then(None).otherwise(pl.col("cat")).alias("cat"))


def test_mllib_family_on_the_polars_engine_says_how_to_switch(tmp_path: Path) -> None:
    lake = lakeml.connect(tmp_path / "lake")
    with pytest.raises(ConfigError) as err:
        lake.train(_data(50), target="label", model="mllib.logistic_regression")
    assert "Spark MLlib" in err.value.message
    assert 'backend="spark"' in (err.value.hint or "")


CASES = [("logistic_regression", "label", {}), ("linear_regression", "amount", {})]


@pytest.mark.parametrize("family", ["random_forest", "gbt"])
def test_mllib_tree_families_are_refused_until_their_export_has_parity(family: str, tmp_path: Path) -> None:
    lake = lakeml.connect(tmp_path / "lake")
    with pytest.raises(ModelError, match="does not reproduce Spark's predictions") as err:
        lake.train(_data(50), target="label", model=f"mllib.{family}")
    assert "mllib.logistic_regression" in (err.value.hint or "")


@pytest.mark.spark
@pytest.mark.parametrize(("family", "target", "params"), CASES, ids=[f"{f}-{t}" for f, t, _ in CASES])
def test_mllib_family_trains_exports_and_scores_on_both_engines(
        family: str, target: str, params: dict[str, object], tmp_path: Path, spark_session: object) -> None:
    root = tmp_path / "lake"
    spark_lake = lakeml.connect(root, backend="spark", spark=spark_session)
    train = _data().drop("amount" if target == "label" else "label")
    spark_lake.write("train", train)
    result = spark_lake.train("train", target=target, model=f"mllib.{family}", params=params)
    task = "classification" if target == "label" else "regression"
    assert result.task == task and result.family == f"mllib.{family}"
    assert result.parity.passed and result.parity.n_rows == 2010
    assert result.validation == f"holdout of 2010 of {N_ROWS} rows"
    if task == "classification":
        assert result.metrics["auc"] > 0.75
    else:
        assert result.metrics["r2"] > 0.5
    version = result.register("m")
    assert version.manifest.lineage["source"] == "table:train" and version.manifest.lineage["engine"] == "spark"

    # unseen and null categories, null numbers: scored as Spark's transform scores them
    fresh = pl.DataFrame({"x": [0.5, None, -1.0, 2.0], "k": [1, 2, 3, 4], "cat": ["a", None, "zzz", "c"]})
    spark_lake.write("fresh", fresh)
    native = result.predict_proba(fresh)[:, 1] if task == "classification" else result.predict(fresh)
    column = "probabilities" if task == "classification" else "variable"
    query = f"SELECT p.k, p.{column} FROM PREDICT(MODEL = 'm', DATA = fresh AS d) AS p ORDER BY p.k"
    polars_rows = lakeml.connect(root).sql(query).collect().get_column(column).to_list()
    spark_rows = pl.from_arrow(spark_lake.engine.collect(spark_lake.sql(query)))
    assert isinstance(spark_rows, pl.DataFrame)
    for rows in (polars_rows, spark_rows.get_column(column).to_list()):
        got = np.asarray([r[1] if task == "classification" else r for r in rows], dtype=np.float64).ravel()
        np.testing.assert_allclose(got, native, atol=1e-5, rtol=1e-5)


@pytest.mark.spark
def test_a_stage_without_converter_is_refused_naming_it(spark_session: object) -> None:
    from pyspark.ml import Pipeline
    from pyspark.ml.feature import SQLTransformer, VectorAssembler
    from pyspark.ml.regression import LinearRegression

    from lakeml.engines.spark.mllib import LABEL, MLlibSpec, to_onnx

    spark = spark_session
    frame = spark.createDataFrame([(float(i), float(2 * i)) for i in range(8)], ["x", LABEL])  # type: ignore[attr-defined]
    model = Pipeline(stages=[SQLTransformer(statement="SELECT *, x * 2 AS x2 FROM __THIS__"),
                             VectorAssembler(inputCols=["x2"], outputCol="__features"),
                             LinearRegression(featuresCol="__features", labelCol=LABEL)]).fit(frame)
    with pytest.raises(ModelError) as err:
        to_onnx(model, spark, MLlibSpec("linear_regression", "regression", ("x",), ()), {"x": "double"}, None)
    assert "SQLTransformer" in err.value.message
