"""ONNX export: typed per-column inputs, no ZipMap, converter fixes (HGB, LightGBM), errors."""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import onnx
import onnxruntime as ort
import pandas as pd
import polars as pl
import pytest
import skl2onnx
from lightgbm import LGBMClassifier, LGBMRegressor
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.pipeline import Pipeline

from lakeml.errors import ConfigError, ModelError
from lakeml.ml.featurize import build_featurizer, plan_features, to_pandas
from lakeml.ml.onnx_export import DATETIME_INPUTS_KEY, _coerce_bool_attrs, to_onnx
from lakeml.ml.parity import check_parity


def session(data: bytes) -> ort.InferenceSession:
    return ort.InferenceSession(data, providers=["CPUExecutionProvider"])


def typed_frame(n: int = 120) -> pl.DataFrame:
    rng = np.random.default_rng(1)
    return pl.DataFrame({
        "f64": rng.normal(size=n),
        "f32": pl.Series(rng.normal(size=n), dtype=pl.Float32),
        "i64": rng.integers(0, 50, n),
        "i32": pl.Series(rng.integers(0, 50, n), dtype=pl.Int32),
        "i16": pl.Series(rng.integers(0, 50, n), dtype=pl.Int16),
        "flag": rng.random(n) > 0.5,
        "text": rng.choice(["a", "b", "c"], n),
        "cat": pl.Series(rng.choice(["u", "v"], n)).cast(pl.Categorical),
        "ts": pl.Series(rng.integers(0, 10**15, n)).cast(pl.Datetime("ms")),
        "y": rng.choice(["no", "yes"], n),
    })


def fitted(frame: pl.DataFrame, estimator: object, target: str = "y",
           for_trees: bool = True) -> tuple[Pipeline, pd.DataFrame]:
    plan = plan_features(frame, target)
    X = to_pandas(frame, plan)
    pipe = Pipeline([("f", build_featurizer(plan, for_trees=for_trees)), ("m", estimator)])
    pipe.fit(X, frame[target].to_numpy())
    return pipe, X


def test_one_typed_input_per_source_column() -> None:
    frame = typed_frame()
    pipe, _ = fitted(frame, LogisticRegression(max_iter=300), for_trees=False)
    data = to_onnx(pipe, sample=frame.head(3))
    inputs = {i.name: (i.type, i.shape) for i in session(data).get_inputs()}
    assert inputs == {
        "f64": ("tensor(double)", [None, 1]), "f32": ("tensor(float)", [None, 1]),
        "i64": ("tensor(int64)", [None, 1]), "i32": ("tensor(int32)", [None, 1]),
        "i16": ("tensor(int64)", [None, 1]), "flag": ("tensor(bool)", [None, 1]),
        "text": ("tensor(string)", [None, 1]), "cat": ("tensor(string)", [None, 1]),
        "ts": ("tensor(int64)", [None, 1]),
    }
    meta = {p.key: p.value for p in onnx.load_from_string(data).metadata_props}
    assert json.loads(meta[DATETIME_INPUTS_KEY]) == {"ts": "ms"}


def test_dropped_columns_are_not_inputs() -> None:
    frame = typed_frame().with_columns(pl.int_range(pl.len()).alias("row_id"), pl.lit(1).alias("one"))
    pipe, _ = fitted(frame, LogisticRegression(max_iter=300), for_trees=False)
    names = [i.name for i in session(to_onnx(pipe, sample=frame.head(3))).get_inputs()]
    assert "row_id" not in names and "one" not in names and "y" not in names


def test_classifier_outputs_label_and_probabilities_without_zipmap() -> None:
    frame = typed_frame()
    for estimator in (LogisticRegression(max_iter=300), LGBMClassifier(n_estimators=5, verbose=-1)):
        pipe, X = fitted(frame, estimator)
        sess = session(to_onnx(pipe, sample=frame.head(3)))
        outputs = {o.name: o.type for o in sess.get_outputs()}
        assert outputs == {"label": "tensor(string)", "probabilities": "tensor(float)"}
        assert check_parity(pipe, to_onnx(pipe, sample=frame.head(3)), X, "classification").passed


def test_regressor_output_is_named_variable() -> None:
    frame = typed_frame().with_columns(pl.col("f64").alias("target")).drop("y")
    plan = plan_features(frame, "target", roles={"f64": "drop"})
    pipe = Pipeline([("f", build_featurizer(plan, for_trees=False)), ("m", Ridge())])
    pipe.fit(to_pandas(frame, plan), frame["target"].to_numpy())
    sess = session(to_onnx(pipe, sample=frame.head(2)))
    assert [o.name for o in sess.get_outputs()] == ["variable"]


def test_hgb_with_missing_values_exports_with_the_bool_attribute_fix() -> None:
    # Plain estimators (no featurizer) trained on NaNs: the missing-value routing is exactly the
    # attribute skl2onnx 1.20 passes as numpy bools; parity proves the coerced ints mean the same.
    rng = np.random.default_rng(0)
    X = rng.normal(size=(500, 3)).astype(np.float32)
    X[rng.random(X.shape) < 0.2] = np.nan
    y_cls = (np.nan_to_num(X[:, 0], nan=1.0) > 0).astype(int)
    y_reg = np.nan_to_num(X[:, 1], nan=3.0) * 2
    frame = pd.DataFrame(X, columns=["a", "b", "c"])
    clf = HistGradientBoostingClassifier(max_iter=20, random_state=0).fit(X, y_cls)
    reg = HistGradientBoostingRegressor(max_iter=20, random_state=0).fit(X, y_reg)
    for model, task in ((clf, "classification"), (reg, "regression")):
        data = to_onnx(model, n_features=3)
        report = check_parity(model, data, frame, task)
        assert report.passed and report.max_abs_diff < 1e-5, report


def _user_hgb_conversion() -> str:
    """What a user's own skl2onnx call makes of a HistGradientBoostingClassifier (bytes or the error)."""
    X = np.random.RandomState(0).randn(100, 2).astype(np.float32)
    m = HistGradientBoostingClassifier(max_iter=3, random_state=0).fit(X, (X[:, 0] > 0).astype(int))
    try:
        return skl2onnx.to_onnx(m, X[:1], options={"zipmap": False}).SerializeToString().hex()
    except Exception as exc:  # the outcome under test, whatever skl2onnx raises
        return f"FAILED {exc} {exc.__cause__}"


def test_upstream_hgb_converter_still_needs_the_fix() -> None:
    # Fails (not skips) once skl2onnx converts HistGradientBoosting itself: then drop scoped_converters().
    outcome = _user_hgb_conversion()
    assert outcome.startswith("FAILED"), "skl2onnx converts HistGradientBoosting again: remove lakeml's fix"
    assert "Expected an int, got a boolean" in outcome


def test_lakeml_export_does_not_change_a_users_own_hgb_conversion() -> None:
    before = _user_hgb_conversion()
    X = np.random.RandomState(1).randn(50, 2).astype(np.float32)
    to_onnx(HistGradientBoostingClassifier(max_iter=2).fit(X, (X[:, 1] > 0).astype(int)), n_features=2)
    assert _user_hgb_conversion() == before


def test_coerce_bool_attrs_turns_bool_lists_into_ints() -> None:
    fixed = _coerce_bool_attrs({"a": [np.True_, False, 1], "b": np.array([True, False]), "c": [0.5], "d": "x"})
    assert fixed == {"a": [1, 0, 1], "b": [1, 0], "c": [0.5], "d": "x"}
    assert all(type(v) is int for v in fixed["a"] + fixed["b"])


def test_plain_lightgbm_estimator_exports_with_a_single_input() -> None:
    rng = np.random.default_rng(2)
    X = rng.normal(size=(300, 4)).astype(np.float32)
    reg = LGBMRegressor(n_estimators=10, verbose=-1).fit(X, X[:, 0] * 3 + X[:, 1])
    sess = session(to_onnx(reg, n_features=4))
    assert [(i.name, i.type, i.shape) for i in sess.get_inputs()] == [("input", "tensor(float)", [None, 4])]
    (pred,) = sess.run(None, {"input": X})
    assert np.abs(pred.ravel() - reg.predict(X)).max() < 1e-4


def test_opset_above_lightgbm_limit_is_refused() -> None:
    rng = np.random.default_rng(2)
    X = rng.normal(size=(50, 2)).astype(np.float32)
    model = LogisticRegression().fit(X, (X[:, 0] > 0).astype(int))
    with pytest.raises(ConfigError, match="target_opset <= 15"):
        to_onnx(model, n_features=2, target_opset=17)
    assert to_onnx(model, n_features=2, target_opset=13)


def test_export_errors_are_explained() -> None:
    frame = typed_frame(60)
    pipe, _ = fitted(frame, LogisticRegression(max_iter=300), for_trees=False)
    with pytest.raises(ConfigError, match="needs a sample frame"):
        to_onnx(pipe)
    with pytest.raises(ConfigError, match=r"lacks columns the model uses: \['text'\]"):
        to_onnx(pipe, sample=frame.drop("text").head(2))

    class Odd(ClassifierMixin, BaseEstimator):
        def fit(self, X: np.ndarray, y: np.ndarray) -> Odd:
            self.classes_ = np.unique(y)
            self.n_features_in_ = X.shape[1]
            return self

    odd = Odd().fit(np.zeros((4, 2)), np.array([0, 1, 0, 1]))
    with pytest.raises(ModelError) as info:
        to_onnx(odd, n_features=2)
    assert "Could not export Odd" in str(info.value) and "FAMILIES" in str(info.value)


def test_width_is_required_for_plain_estimators_without_hints() -> None:
    class Bare(BaseEstimator):
        pass

    with pytest.raises(ConfigError, match="number of input features"):
        to_onnx(Bare())


def test_datetime_in_milliseconds_and_dates_score_in_onnx() -> None:
    frame = pl.DataFrame({
        "ts": [dt.datetime(2021, 5, d, h) for d in range(1, 29) for h in (3, 15)],
        "y": [h // 12 for _ in range(1, 29) for h in (3, 15)],
    }).with_columns(pl.col("ts").cast(pl.Datetime("ms")))
    pipe, X = fitted(frame, LGBMClassifier(n_estimators=5, min_child_samples=2, verbose=-1))
    report = check_parity(pipe, to_onnx(pipe, sample=frame.head(2)), X, "classification")
    assert report.passed and report.n_rows == frame.height
