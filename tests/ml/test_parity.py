"""The parity check and the float32 threshold alignment that makes tree exports exact."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import polars as pl
import pytest
from lightgbm import LGBMClassifier, LGBMRegressor
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor, RandomForestRegressor
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline

from lakeml.errors import ModelError
from lakeml.ml.featurize import build_featurizer, plan_features, to_pandas
from lakeml.ml.onnx_export import to_onnx
from lakeml.ml.parity import TOLERANCE, align_thresholds, check_parity


def straddling_data() -> tuple[np.ndarray, np.ndarray, pd.DataFrame]:
    """Two adjacent float32 values: the float64 split midpoint rounds (to nearest) onto the upper one."""
    a = np.nextafter(np.float32(1.0), np.float32(2.0))
    b = np.nextafter(a, np.float32(2.0))
    assert np.float32((np.float64(a) + np.float64(b)) / 2) == b
    X = np.array([[a]] * 20 + [[b]] * 20, dtype=np.float32)
    y = np.array([0] * 20 + [1] * 20)
    return X, y, pd.DataFrame(X, columns=["v"])


@pytest.mark.parametrize("make", [
    lambda: HistGradientBoostingRegressor(max_iter=3, min_samples_leaf=2),
    lambda: LGBMRegressor(n_estimators=3, min_child_samples=2, verbose=-1),
])
def test_threshold_on_a_float32_boundary_breaks_parity_until_aligned(make: object) -> None:
    X, y, frame = straddling_data()
    model = make().fit(X, y)  # type: ignore[operator]
    before_native = model.predict(X)
    broken = check_parity(model, to_onnx(model, n_features=1), frame, "regression")
    assert not broken.passed and broken.max_abs_diff > 0.1 and broken.share_over_1e_5 == 0.5
    assert align_thresholds(model) > 0
    assert np.array_equal(model.predict(X), before_native)  # native predictions do not move
    fixed = check_parity(model, to_onnx(model, n_features=1), frame, "regression")
    assert fixed.passed and fixed.max_abs_diff < 1e-6


@pytest.mark.parametrize("make", [
    lambda: HistGradientBoostingClassifier(max_iter=3, min_samples_leaf=2),
    lambda: LGBMClassifier(n_estimators=3, min_child_samples=2, verbose=-1),
])
def test_label_flips_are_reported_for_classifiers(make: object) -> None:
    X, y, frame = straddling_data()
    model = make().fit(X, y)  # type: ignore[operator]
    broken = check_parity(model, to_onnx(model, n_features=1), frame, "classification")
    assert not broken.passed and broken.label_flips == 20
    align_thresholds(model)
    assert check_parity(model, to_onnx(model, n_features=1), frame, "classification").label_flips == 0


def test_align_leaves_non_tree_models_and_leaves_alone() -> None:
    X, y, _ = straddling_data()
    assert align_thresholds(LogisticRegression().fit(X, y)) == 0
    forest = RandomForestRegressor(n_estimators=3, random_state=0).fit(np.random.default_rng(0).normal(size=(50, 2)),
                                                                        np.arange(50.0))
    leaves_before = [t.tree_.threshold[t.tree_.children_left == -1].copy() for t in forest.estimators_]
    align_thresholds(forest)
    for tree, before in zip(forest.estimators_, leaves_before, strict=True):
        assert np.array_equal(tree.tree_.threshold[tree.tree_.children_left == -1], before)
        inner = tree.tree_.threshold[tree.tree_.children_left != -1]
        assert np.array_equal(inner, inner.astype(np.float32).astype(np.float64))


def _pipeline(frame: pl.DataFrame, C: float) -> tuple[Pipeline, pd.DataFrame]:
    plan = plan_features(frame, "y")
    X = to_pandas(frame, plan)
    pipe = Pipeline([("f", build_featurizer(plan, for_trees=False)), ("m", LogisticRegression(C=C))])
    return pipe.fit(X, frame["y"].to_numpy()), X


def test_a_different_model_fails_parity() -> None:
    rng = np.random.default_rng(5)
    frame = pl.DataFrame({"a": rng.normal(size=200), "n": rng.integers(0, 9, 200)}).with_columns(
        ((pl.col("a") + rng.normal(size=200)) > 0).cast(pl.Int64).alias("y"))
    strong, X = _pipeline(frame, C=100.0)
    weak, _ = _pipeline(frame, C=0.001)
    report = check_parity(strong, to_onnx(weak, sample=frame.head(2)), X, "classification")
    assert not report.passed and report.max_abs_diff > 0.1 and report.share_over_1e_5 > 0.5
    same = check_parity(strong, to_onnx(strong, sample=frame.head(2)), X, "classification")
    assert same.passed and same.max_abs_diff < TOLERANCE
    assert json.loads(json.dumps(same.to_dict()))["passed"] is True


def test_rows_with_nulls_in_integer_inputs_are_skipped() -> None:
    rng = np.random.default_rng(6)
    frame = pl.DataFrame({"a": rng.normal(size=100), "n": [None if i % 10 == 0 else i % 7 for i in range(100)]})
    frame = frame.with_columns((pl.col("a") > 0).cast(pl.Int64).alias("y"))
    pipe, X = _pipeline(frame, C=1.0)
    report = check_parity(pipe, to_onnx(pipe, sample=frame.head(2)), X, "classification")
    assert report.passed and report.n_skipped == 10 and report.n_rows == 90


def test_unloadable_or_mismatched_onnx_is_a_model_error() -> None:
    rng = np.random.default_rng(7)
    frame = pl.DataFrame({"a": rng.normal(size=40), "b": rng.normal(size=40)}).with_columns(
        (pl.col("a") > 0).cast(pl.Int64).alias("y"))
    pipe, X = _pipeline(frame, C=1.0)
    with pytest.raises(ModelError, match="could not run the exported model"):
        check_parity(pipe, b"not an onnx model", X, "classification")
    with pytest.raises(ModelError, match="input 'b' is not a column"):
        check_parity(pipe, to_onnx(pipe, sample=frame.head(2)), X.drop(columns=["b"]), "classification")


def test_a_classifier_export_with_zipmap_is_refused() -> None:
    from skl2onnx import to_onnx as skl_to_onnx

    X, y, frame = straddling_data()
    model = LogisticRegression().fit(X.astype(np.float32) * 1000, y)
    zipmapped = skl_to_onnx(model, X[:1]).SerializeToString()  # default export: a ZipMap output
    with pytest.raises(ModelError, match="not 'label' and 'probabilities'"):
        check_parity(model, zipmapped, frame, "classification")
