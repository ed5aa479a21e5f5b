"""Lake.train end to end: task inference, target checks, validation choice, lineage, register, PREDICT."""

from __future__ import annotations

import dataclasses
import datetime as dt

import numpy as np
import polars as pl
import pytest

from lakeml.errors import ConfigError, ModelError, NullInputError, TrainingError
from lakeml.ml.rows import canonical_order
from lakeml.ml.tasks import check_target, infer_task, prepare_target
from lakeml.ml.train import data_fingerprint, train_frame
from lakeml.ml.validation import choose_validation, describe_validation
from lakeml.session import Lake

FAST = {"n_estimators": 15}


def customers(n: int = 300, seed: int = 0, minority: float = 0.5) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    tenure = rng.integers(1, 72, n)
    monthly = rng.normal(70, 20, n)
    plan = rng.choice(["basic", "plus", "pro"], n)
    score = -tenure / 24 + (plan == "basic") * 1.0 + monthly / 50 + rng.normal(size=n)
    churned = score > np.quantile(score, 1 - minority)
    signup = [dt.datetime(2020, 1, 1) + dt.timedelta(days=int(d)) for d in rng.integers(0, 900, n)]
    return pl.DataFrame({"customer_id": np.arange(n), "tenure": tenure, "monthly": monthly, "plan": plan,
                         "signup": signup, "churned": churned})


# -- task inference and target checks ------------------------------------------------------------

@pytest.mark.parametrize(("values", "task"), [
    (["a", "b", "a"], "classification"),
    ([True, False, True], "classification"),
    ([0, 1, 1, 0], "classification"),
    ([0.0, 1.0, 1.0, 0.0], "classification"),
    (list(range(10)) * 30, "classification"),       # 10 whole-number classes over 300 rows
    (list(range(60)), "regression"),                # many distinct integers: a quantity
    ([1.5, 2.25, 3.0, 0.1], "regression"),
    ([1, 2, 3, 4, 5, 6, 7, 8], "regression"),       # few rows: 8 distinct values is no class set
])
def test_infer_task(values: list[object], task: str) -> None:
    assert infer_task(pl.Series("y", values)) == task


@pytest.mark.parametrize(("frame", "task", "needle"), [
    (pl.DataFrame({"x": [1, 2]}), None, "Target column 'y' is not in the data"),
    (pl.DataFrame({"x": [], "y": []}, schema={"x": pl.Int64, "y": pl.Int64}), None, "has no rows"),
    (pl.DataFrame({"x": [1, 2, 3], "y": [None, None, None]}, schema={"x": pl.Int64, "y": pl.Float64}), None,
     "only null values"),
    (pl.DataFrame({"x": [1.0, 2.0, 3.0], "y": [4.2, 4.2, 4.2]}), "regression", "a constant target"),
    (pl.DataFrame({"x": [1, 2, 3], "y": ["yes", "yes", None]}), None, "a single class"),
    (pl.DataFrame({"x": [1, 2, 3], "y": ["a", "b", "c"]}), "regression", "Regression needs a numeric target"),
    (pl.DataFrame({"x": [1, 2, 3], "y": [0.5, 1.5, 2.25]}), "classification", "fractional numbers"),
])
def test_unusable_targets_are_training_errors(frame: pl.DataFrame, task: str | None, needle: str) -> None:
    with pytest.raises(TrainingError) as info:
        check_target(frame, "y", task)
    assert needle in str(info.value) and "Hint:" in str(info.value)


def test_missing_target_suggests_a_column_and_unknown_task_is_config_error() -> None:
    with pytest.raises(TrainingError, match="Did you mean 'churned'"):
        check_target(customers(20), "churn")
    with pytest.raises(ConfigError, match="Unknown task 'forecasting'"):
        check_target(customers(20), "churned", "forecasting")


def test_target_info_counts_classes_and_nulls() -> None:
    frame = pl.DataFrame({"y": ["a", "b", None, "a", "a"], "x": [1, 2, 3, 4, 5]})
    info = check_target(frame, "y")
    assert (info.task, info.n_rows, info.n_null_dropped) == ("classification", 4, 1)
    assert info.classes == ("a", "b") and info.class_counts == (3, 1) and info.minority_share == 0.25
    assert prepare_target(pl.Series([True, False]), "classification").dtype == np.int64
    assert prepare_target(pl.Series(["x", "y"]), "classification").dtype == object


# -- validation --------------------------------------------------------------------------------

def test_small_data_gets_stratified_five_fold_cross_validation() -> None:
    y = np.array([0] * 90 + [1] * 10)
    splits = choose_validation(100, "classification", y, seed=1)
    assert describe_validation(splits, 100) == "5-fold cross-validation"
    assert sorted(np.concatenate([v for _, v in splits]).tolist()) == list(range(100))
    assert all((y[v] == 1).sum() == 2 for _, v in splits)
    assert [v.tolist() for _, v in splits] == [v.tolist() for _, v in choose_validation(100, "classification", y, 1)]


def test_large_data_gets_one_holdout() -> None:
    y = np.random.default_rng(0).normal(size=12_000)
    splits = choose_validation(12_000, "regression", y, seed=0)
    assert len(splits) == 1 and len(splits[0][1]) == 2400 and len(splits[0][0]) == 9600
    assert not set(splits[0][0]) & set(splits[0][1])
    assert describe_validation(splits, 12_000) == "holdout of 2400 of 12000 rows"


def test_rare_classes_reduce_folds_and_tiny_data_is_refused() -> None:
    y = np.array(["a"] * 20 + ["b"] * 3)
    assert len(choose_validation(23, "classification", y, seed=0)) == 3
    with pytest.raises(TrainingError, match="Too few rows"):
        choose_validation(3, "regression", np.arange(3.0), seed=0)


# -- training through the lake -------------------------------------------------------------------

def test_train_on_a_table_records_lineage_and_drops_id_columns(lake: Lake) -> None:
    frame = customers()
    lake.write("customers", frame)
    result = lake.train("customers", target="churned", model="random_forest", params=FAST, n_jobs=1)
    assert result.task == "classification" and result.family == "random_forest"
    assert result.validation == "5-fold cross-validation"
    assert result.lineage["source"] == "table:customers" and result.lineage["rows"] == 300
    assert result.lineage["fingerprint"] == data_fingerprint(canonical_order(lake.table("customers").collect()))
    assert ("customer_id", "ID-like (unique per row)") in {(d.name, d.reason) for d in result.plan.dropped}
    assert result.parity.passed and result.metrics["auc"] > 0.7
    top = result.feature_importances.row(0, named=True)
    assert top["column"] in {"tenure", "monthly", "plan"}
    assert result.feature_importances["importance"].sum() == pytest.approx(1.0)
    assert set(result.feature_importances_detail["column"]) <= set(result.plan.inputs)


@pytest.mark.parametrize(("model", "target"), [("logistic", "churned"), ("lightgbm", "churned"), ("linear", "monthly")])
def test_same_metrics_on_every_engine_whatever_the_row_order(engine_lake: Lake, model: str, target: str) -> None:
    """Deterministic families give the same metrics (within 1e-6, docs/engines.md) on Polars and Spark: the rows
    are collected in one canonical order, so a table of several files read in another order splits the same."""
    frame = customers()
    engine_lake.write("customers", frame.slice(150))
    engine_lake.write("customers", frame.head(150), mode="append")  # two files: Spark may read them in either order
    result = engine_lake.train("customers", target=target, model=model, params=FAST if model == "lightgbm" else None,
                               n_jobs=1)
    reference = train_frame(canonical_order(frame), target=target, model=model,
                            params=FAST if model == "lightgbm" else None, n_jobs=1)
    assert result.validation == reference.validation and result.lineage["rows"] == 300
    assert result.metrics.keys() == reference.metrics.keys()
    for name, value in reference.metrics.items():
        assert result.metrics[name] == pytest.approx(value, abs=1e-6, nan_ok=True), name
    assert result.parity.passed


def test_canonical_order_ignores_the_order_rows_come_in() -> None:
    frame = pl.DataFrame({"a": [2, 1, None, 1], "b": ["x", "z", "y", "y"], "n": [[1], [2], [3], [4]]})
    ordered = canonical_order(frame)
    assert ordered["a"].to_list() == [1, 1, 2, None] and ordered["b"].to_list() == ["y", "z", "x", "y"]
    assert canonical_order(frame.reverse()).equals(ordered)


def test_train_on_a_query_and_on_pandas(lake: Lake) -> None:
    lake.write("customers", customers())
    result = lake.train("SELECT tenure, monthly, plan, churned FROM customers WHERE tenure > 5",
                        target="churned", model="logistic", n_jobs=1)
    assert result.lineage["source"].startswith("query:SELECT tenure")
    assert result.lineage["rows"] == lake.sql("SELECT count(*) AS n FROM customers WHERE tenure > 5").collect()["n"][0]
    assert result.plan.inputs == ["tenure", "monthly", "plan"]
    pdf = customers().to_pandas()
    from_pandas = lake.train(pdf, target="monthly", model="linear", n_jobs=1)
    assert from_pandas.task == "regression" and from_pandas.lineage["source"] == "frame:pandas.DataFrame"


def test_rows_with_null_target_are_dropped_and_counted() -> None:
    frame = customers().with_columns(
        pl.when(pl.int_range(pl.len()) % 10 == 0).then(None).otherwise(pl.col("churned")).alias("churned"))
    result = train_frame(frame, target="churned", model="lightgbm", params=FAST, n_jobs=1)
    assert result.lineage["rows"] == 270 and result.lineage["rows_in_source"] == 300
    assert result.summary()["training"]["rows_with_null_target_dropped"] == 30


def test_class_imbalance_is_handled_with_balanced_weights() -> None:
    imbalanced = customers(400, minority=0.06)
    result = train_frame(imbalanced, target="churned", model="lightgbm", params=FAST, n_jobs=1)
    assert result.params["class_weight"] == "balanced"
    assert result.metrics["recall"] > 0.3
    balanced = train_frame(customers(400), target="churned", model="lightgbm", params=FAST, n_jobs=1)
    assert "class_weight" not in balanced.params
    explicit = train_frame(imbalanced, target="churned", model="lightgbm", params={**FAST, "class_weight": None},
                           n_jobs=1)
    assert explicit.params["class_weight"] is None


def test_same_seed_same_model_bytes() -> None:
    frame = customers(200)
    first = train_frame(frame, target="churned", model="extra_trees", params=FAST, seed=11, n_jobs=1)
    again = train_frame(frame, target="churned", model="extra_trees", params=FAST, seed=11, n_jobs=1)
    other = train_frame(frame, target="churned", model="extra_trees", params=FAST, seed=12, n_jobs=1)
    assert first.onnx_bytes == again.onnx_bytes and first.metrics == again.metrics
    assert first.onnx_bytes != other.onnx_bytes


def test_fingerprint_tracks_content() -> None:
    frame = customers(50)
    assert data_fingerprint(frame) == data_fingerprint(frame.clone())
    assert data_fingerprint(frame) != data_fingerprint(frame.with_columns(pl.col("tenure") + 1))


def test_bad_inputs_through_lake_train(lake: Lake) -> None:
    lake.write("customers", customers(40))
    with pytest.raises(TrainingError, match="Did you mean 'churned'"):
        lake.train("customers", target="Churned_flag")
    with pytest.raises(TrainingError, match="has no rows"):
        lake.train("SELECT * FROM customers WHERE tenure > 1000", target="churned")
    with pytest.raises(ConfigError, match="Unknown model family 'xgb'"):
        lake.train("customers", target="churned", model="xgb")
    with pytest.raises(TrainingError, match="a single class"):
        lake.train("SELECT * FROM customers WHERE churned", target="churned")


def test_register_stores_metrics_lineage_featurization_and_scores_with_sql_predict(lake: Lake) -> None:
    frame = customers()
    lake.write("customers", frame)
    result = lake.train("customers", target="churned", model="lightgbm", params=FAST, roles={"signup": "drop"},
                        n_jobs=1)
    version = result.register("churn", description="first try")
    manifest = lake.models.get("churn").manifest
    assert version.ref == "churn:1"
    assert manifest.metrics["auc"] == pytest.approx(result.metrics["auc"])
    assert manifest.lineage["source"] == "table:customers"
    assert manifest.extra["parity"]["passed"] is True
    assert manifest.extra["featurization"]["target"] == "churned"
    assert manifest.extra["training"]["family"] == "lightgbm"
    scored = lake.sql(
        "SELECT d.customer_id, p.label, p.probabilities FROM PREDICT(MODEL = 'churn', DATA = customers AS d) "
        "WITH (label bigint, probabilities array(real, 2)) AS p ORDER BY d.customer_id").collect()
    assert scored.height == 300
    native = result.pipeline.predict_proba(
        frame.select(result.plan.inputs).to_pandas())[:, 1]
    onnx_p1 = np.array([p[1] for p in scored["probabilities"].to_list()])
    assert np.abs(onnx_p1 - native).max() < 1e-5


def _with_nulls(frame: pl.DataFrame, every: int) -> pl.DataFrame:
    """Nulls in the text, float and integer feature columns (row 0 included)."""
    row = pl.int_range(pl.len())
    return frame.with_columns(
        pl.when(row % every == 0).then(None).otherwise(pl.col(c)).alias(c) for c in ("plan", "monthly", "tenure"))


@pytest.mark.parametrize("model", ["lightgbm", "logistic"])
def test_rows_shaped_like_the_training_table_score_with_default_settings(lake: Lake, model: str) -> None:
    # docs/predict.md rule 10: nulls the model has a training rule for are fed as training fed them
    frame = _with_nulls(customers(), every=7).drop("signup")
    lake.write("customers", frame)
    result = lake.train("customers", target="churned", model=model, params=FAST if model == "lightgbm" else None,
                        n_jobs=1)
    result.register("churn")
    rules = lake.models.get("churn").manifest.extra["null_rules"]
    assert rules["plan"] == {"null": "category", "value": ""}
    assert rules["monthly"] == {"null": "impute"}
    # an int64 input cannot carry NaN: the imputer's (whole) fill value is recorded and fed instead
    assert rules["tenure"] == {"null": "impute", "value": int(frame["tenure"].median())}
    fresh = _with_nulls(customers(60, seed=5), every=3).drop("signup")
    out = lake.predict("churn", fresh, outputs="probabilities array(real, 2)")
    native = result.predict_proba(fresh)
    got = np.stack(out["probabilities"].to_numpy())
    assert np.abs(got - native).max() < 1e-5
    # the SQL form applies the same rules
    lake.write("fresh", fresh)
    sql = lake.sql("SELECT p.probabilities FROM PREDICT(MODEL = 'churn', DATA = fresh AS d) "
                   "WITH (probabilities array(real, 2)) AS p").collect()
    assert np.abs(np.stack(sql["probabilities"].to_numpy()) - native).max() < 1e-5


def test_inputs_without_a_feedable_training_rule_still_follow_on_null(lake: Lake) -> None:
    # a manifest written before rules had a value for date inputs: its nulls fall under on_null
    frame = customers()
    lake.write("customers", frame)
    result = lake.train("customers", target="churned", model="logistic", n_jobs=1)
    assert result.register("churn") is not None
    older = {**result.summary()["null_rules"], "signup": {"null": "impute"}}
    lake.models.register(result.onnx_bytes, name="older", extra={**result.summary(), "null_rules": older})
    fresh = customers(20, seed=3).with_columns(
        pl.when(pl.int_range(pl.len()) == 0).then(None).otherwise(pl.col("signup")).alias("signup"))
    with pytest.raises(NullInputError, match=r"Input column 'signup' has 1 null value\(s\) \(training filled them, "
                                             r"but model input 'signup' is tensor\(int64\)"):
        lake.predict("older", fresh)
    out = lake.predict("older", fresh, on_null="propagate", outputs="label bigint")
    assert out["label"].is_null().to_list() == [True] + [False] * 19
    # no rules at all (a model registered from outside): on_null as well
    lake.models.register(result.onnx_bytes, name="outside")
    with pytest.raises(NullInputError, match=r"Input column 'signup' has 1 null value\(s\); nothing was scored"):
        lake.predict("outside", fresh)
    # the current manifest's rule feeds the null as training did
    scored = lake.predict("churn", fresh, outputs="label bigint")
    assert scored["label"].to_list() == result.predict(fresh).astype(int).tolist()


def test_register_refuses_failed_parity_and_detached_results(lake: Lake) -> None:
    result = lake.train(customers(80), target="churned", model="logistic", n_jobs=1)
    broken = dataclasses.replace(result, parity=dataclasses.replace(result.parity, passed=False, label_flips=3))
    with pytest.raises(ModelError, match="disagrees with the native model"):
        broken.register("bad")
    assert "bad" not in [m for m in lake.models.names()]
    detached = train_frame(customers(80), target="churned", model="logistic", n_jobs=1)
    with pytest.raises(ModelError, match="not attached to a lake"):
        detached.register("x")


def test_text_target_multiclass_predicts_labels(lake: Lake) -> None:
    rng = np.random.default_rng(3)
    n = 240
    x = rng.normal(size=n)
    frame = pl.DataFrame({"x": x, "z": rng.normal(size=n),
                          "kind": np.where(x < -0.4, "small", np.where(x > 0.4, "large", "medium"))})
    lake.write("things", frame)
    result = lake.train("things", target="kind", model="random_forest", params=FAST, n_jobs=1)
    assert result.classes == ["large", "medium", "small"] and result.metrics["accuracy"] > 0.8
    result.register("sizes")
    labels = lake.predict("sizes", frame.drop("kind"), outputs={"label": "varchar"})
    assert labels["label"].to_list() == list(result.pipeline.predict(frame.drop("kind").to_pandas()))


def test_datetime_features_score_with_a_bigint_cast(lake: Lake) -> None:
    frame = customers().with_columns(pl.col("signup").cast(pl.Datetime("ms")))
    lake.write("customers", frame)
    result = lake.train("customers", target="churned", model="lightgbm", params=FAST, n_jobs=1)
    assert "signup" in result.plan.inputs
    result.register("churn")
    from lakeml.ml.featurize import to_pandas

    native = result.pipeline.predict_proba(to_pandas(frame, result.plan))[:, 1]
    auto = lake.predict("churn", lake.table("customers"), auto_cast=True)
    assert np.abs(np.array([p[1] for p in auto["probabilities"].to_list()]) - native).max() < 1e-5
    scored = lake.sql(
        "WITH d0 AS (SELECT tenure, monthly, plan, CAST(signup AS bigint) AS signup FROM customers) "
        "SELECT p.probabilities FROM PREDICT(MODEL = 'churn', DATA = d0 AS d) "
        "WITH (probabilities array(real, 2)) AS p").collect()
    assert np.abs(np.array([p[1] for p in scored["probabilities"].to_list()]) - native).max() < 1e-5


def test_data_without_usable_features_is_a_training_error() -> None:
    frame = pl.DataFrame({"empty": [None] * 12, "row": list(range(100, 112)), "y": [0, 1] * 6},
                         schema={"empty": pl.Float64, "row": pl.Int64, "y": pl.Int64})
    with pytest.raises(TrainingError, match="No usable feature columns") as info:
        train_frame(frame.drop("row"), target="y", n_jobs=1)
    assert "empty (all values are null)" in str(info.value)


def test_a_class_with_one_row_still_trains_and_keeps_every_class() -> None:
    rng = np.random.default_rng(0)
    y = ["a"] * 30 + ["b"] * 29 + ["c"]
    frame = pl.DataFrame({"x": rng.normal(size=60) + np.array([0.0 if v == "a" else 2.0 for v in y]), "y": y})
    result = train_frame(frame, target="y", model="logistic", n_jobs=1)
    assert result.classes == ["a", "b", "c"] and result.parity.passed
    assert np.isfinite(result.metrics["log_loss"])


def test_result_predicts_natively_like_its_onnx_export() -> None:
    frame = customers(150)
    result = train_frame(frame, target="churned", model="hist_gradient_boosting", params={"max_iter": 15}, n_jobs=1)
    proba = result.predict_proba(frame.drop("churned"))
    assert proba.shape == (150, 2) and np.allclose(proba.sum(axis=1), 1.0)
    assert result.predict(frame.to_pandas()).dtype == np.int64
    regressor = train_frame(frame, target="monthly", model="linear", n_jobs=1)
    with pytest.raises(ConfigError, match="needs a classification model"):
        regressor.predict_proba(frame)


def test_importances_for_ensembles_and_by_permutation() -> None:
    from sklearn.ensemble import RandomForestClassifier, VotingClassifier
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.pipeline import Pipeline

    from lakeml.ml.featurize import build_featurizer, plan_features, to_pandas
    from lakeml.ml.importance import feature_importances

    frame = customers(200).drop("signup", "customer_id")
    plan = plan_features(frame, "churned")
    X, y = to_pandas(frame, plan), frame["churned"].to_numpy()
    voting = Pipeline([("f", build_featurizer(plan, for_trees=True)), ("m", VotingClassifier(
        [("rf", RandomForestClassifier(n_estimators=10, random_state=0)),
         ("rf2", RandomForestClassifier(n_estimators=5, random_state=1))], voting="soft", weights=[2, 1]))]).fit(X, y)
    ens = feature_importances(voting)
    assert ens["importance"].sum() == pytest.approx(1.0) and set(ens["column"]) == {"tenure", "monthly", "plan"}
    knn = Pipeline([("f", build_featurizer(plan, for_trees=False)), ("m", KNeighborsClassifier())]).fit(X, y)
    assert feature_importances(knn).height == 0  # no native importances, no data to permute
    perm = feature_importances(knn, X, y, task="classification")
    assert perm["feature"].to_list() == ["tenure", "monthly", "plan"]
    assert perm["importance"].sum() == pytest.approx(1.0)
