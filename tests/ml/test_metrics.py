"""Metrics agree with scikit-learn's definitions; undefined cases and bad names are handled."""

from __future__ import annotations

import math

import numpy as np
import pytest
from sklearn import metrics as skm

from lakeml.errors import ConfigError
from lakeml.ml.metrics import METRICS, compute_metrics, default_metric, get_metric


def test_binary_metrics_match_sklearn() -> None:
    rng = np.random.default_rng(0)
    y = rng.choice(["no", "yes"], 300)
    p1 = np.clip((y == "yes") * 0.4 + rng.random(300) * 0.6, 0, 1)
    proba = np.column_stack([1 - p1, p1])
    out = compute_metrics("classification", y, proba, ["no", "yes"])
    pred = np.where(p1 > 0.5, "yes", "no")
    assert out["auc"] == pytest.approx(skm.roc_auc_score(y == "yes", p1))
    assert out["log_loss"] == pytest.approx(skm.log_loss(y, proba, labels=["no", "yes"]))
    assert out["accuracy"] == pytest.approx(skm.accuracy_score(y, pred))
    assert out["f1"] == pytest.approx(skm.f1_score(y, pred, pos_label="yes"))
    assert out["precision"] == pytest.approx(skm.precision_score(y, pred, pos_label="yes"))
    assert out["recall"] == pytest.approx(skm.recall_score(y, pred, pos_label="yes"))
    assert out["balanced_accuracy"] == pytest.approx(skm.balanced_accuracy_score(y, pred))
    # The positive-class column alone gives the same numbers.
    assert compute_metrics("classification", y, p1, ["no", "yes"]) == pytest.approx(out)


def test_multiclass_metrics_use_macro_averages() -> None:
    rng = np.random.default_rng(1)
    y = rng.integers(0, 3, 400)
    raw = rng.random((400, 3)) + np.eye(3)[y] * 0.8
    proba = raw / raw.sum(axis=1, keepdims=True)
    out = compute_metrics("classification", y, proba, [0, 1, 2])
    pred = proba.argmax(axis=1)
    assert out["auc"] == pytest.approx(skm.roc_auc_score(y, proba, multi_class="ovr", average="macro"))
    assert out["f1"] == pytest.approx(skm.f1_score(y, pred, average="macro"))
    assert out["log_loss"] == pytest.approx(skm.log_loss(y, proba))


def test_auc_is_nan_when_only_one_class_is_present() -> None:
    out = compute_metrics("classification", np.array([1, 1, 1]), np.array([[0.2, 0.8]] * 3), [0, 1])
    assert math.isnan(out["auc"]) and out["accuracy"] == 1.0


def test_regression_metrics_and_mape_without_zero_targets() -> None:
    y = np.array([0.0, 2.0, 4.0, -8.0])
    p = np.array([1.0, 1.0, 5.0, -6.0])
    out = compute_metrics("regression", y, p)
    assert out["rmse"] == pytest.approx(math.sqrt((1 + 1 + 1 + 4) / 4))
    assert out["mae"] == pytest.approx(5 / 4)
    assert out["r2"] == pytest.approx(skm.r2_score(y, p))
    assert out["mape"] == pytest.approx((0.5 + 0.25 + 0.25) / 3)
    assert math.isnan(compute_metrics("regression", np.zeros(3), np.ones(3))["mape"])


def test_defaults_directions_and_losses() -> None:
    assert default_metric("classification", 2) == "auc"
    assert default_metric("classification", 5) == "log_loss"
    assert default_metric("regression") == "rmse"
    assert METRICS["auc"].loss(0.9) == -0.9 and METRICS["rmse"].loss(2.0) == 2.0
    assert METRICS["r2"].loss(float("nan")) == math.inf
    assert {m.name for m in METRICS.values() if "regression" in m.tasks} == {"rmse", "mae", "r2", "mape"}


def test_bad_metric_names_and_tasks() -> None:
    with pytest.raises(ConfigError, match="Did you mean 'log_loss'"):
        get_metric("logloss", "classification")
    with pytest.raises(ConfigError, match="does not apply to regression") as info:
        get_metric("auc", "regression")
    assert "rmse" in str(info.value)
    assert get_metric("AUC", "classification").name == "auc"
    with pytest.raises(ConfigError, match="need the class labels"):
        compute_metrics("classification", [0, 1], [[0.5, 0.5]] * 2)
    with pytest.raises(ConfigError, match="Unknown task"):
        compute_metrics("ranking", [0, 1], [0, 1])
