"""Evaluation metrics for classification and regression.

``METRICS`` describes each metric (direction, whether it needs probabilities, its tasks);
``compute_metrics`` computes every metric of a task at once; ``Metric.loss`` turns a value into
something to minimise (what a search optimises).

Example:
    >>> compute_metrics("classification", y, proba, classes=[0, 1])["auc"]
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn import metrics as skm

from lakeml.errors import ConfigError, choices_hint


@dataclass(frozen=True)
class Metric:
    """One evaluation metric.

    Attributes:
        name: the key in metric dicts (``auc``, ``log_loss``, ``rmse`` ...).
        greater_is_better: direction of improvement.
        needs_proba: computed from class probabilities rather than labels.
        tasks: the tasks it applies to.
    """

    name: str
    greater_is_better: bool
    needs_proba: bool
    tasks: tuple[str, ...]

    def loss(self, value: float) -> float:
        """The value as a loss (lower is better); NaN becomes +inf so it never wins."""
        if value is None or math.isnan(value):
            return math.inf
        return -value if self.greater_is_better else value


_C, _R = ("classification",), ("regression",)
METRICS: dict[str, Metric] = {m.name: m for m in (
    Metric("auc", True, True, _C),
    Metric("log_loss", False, True, _C),
    Metric("accuracy", True, False, _C),
    Metric("balanced_accuracy", True, False, _C),
    Metric("f1", True, False, _C),
    Metric("precision", True, False, _C),
    Metric("recall", True, False, _C),
    Metric("rmse", False, False, _R),
    Metric("mae", False, False, _R),
    Metric("r2", True, False, _R),
    Metric("mape", False, False, _R),
)}


def default_metric(task: str, n_classes: int | None = None) -> str:
    """The primary metric used when none is given: AUC (binary), log loss (multiclass), RMSE."""
    if task == "regression":
        return "rmse"
    return "auc" if (n_classes or 2) <= 2 else "log_loss"


def get_metric(name: str, task: str) -> Metric:
    """Look a metric up and check it fits the task.

    Raises:
        ConfigError: unknown metric, or a metric of the other task.
    """
    metric = METRICS.get(name.lower())
    if metric is None:
        raise ConfigError(f"Unknown metric '{name}'.", hint=choices_hint(name, METRICS, kind="metric"))
    if task not in metric.tasks:
        valid = [m.name for m in METRICS.values() if task in m.tasks]
        raise ConfigError(f"Metric '{name}' does not apply to {task}.",
                          hint=f"Metrics for {task}: {', '.join(valid)}.")
    return metric


def _binary_auc(positive: np.ndarray, score: np.ndarray) -> float:
    """ROC AUC as the Mann-Whitney statistic (ties count half): ``roc_auc_score``'s value, faster."""
    from scipy.stats import rankdata

    n_pos = int(positive.sum())
    n_neg = len(positive) - n_pos
    ranks = rankdata(score)
    return float((ranks[positive].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def _classification(y_true: np.ndarray, proba: np.ndarray, classes: Sequence[Any]) -> dict[str, float]:
    classes_arr = np.asarray(classes)
    proba = np.asarray(proba, dtype=np.float64)
    if proba.ndim == 1:
        proba = np.column_stack([1.0 - proba, proba])
    pred = classes_arr[np.argmax(proba, axis=1)]
    binary = len(classes_arr) == 2
    average = "binary" if binary else "macro"
    pos = {"pos_label": classes_arr[1]} if binary else {}
    out: dict[str, float] = {}
    present = np.unique(y_true)
    try:
        if len(present) < 2:
            out["auc"] = math.nan
        elif binary:
            out["auc"] = _binary_auc(y_true == classes_arr[1], proba[:, 1])
        else:
            keep = np.isin(classes_arr, present)
            sub = proba[:, keep] / np.clip(proba[:, keep].sum(axis=1, keepdims=True), 1e-15, None)
            out["auc"] = (float(skm.roc_auc_score(y_true, sub, multi_class="ovr", average="macro",
                                                  labels=classes_arr[keep]))
                          if keep.sum() > 2 else float(skm.roc_auc_score(y_true == classes_arr[keep][1],
                                                                         sub[:, 1])))
    except ValueError:
        out["auc"] = math.nan
    clipped = np.clip(proba, 1e-15, 1.0)
    clipped = clipped / clipped.sum(axis=1, keepdims=True)
    # The label metrics come from one confusion matrix (scikit-learn's functions each re-validate
    # and re-count, which dominated the time of a cheap AutoML trial); same definitions and results.
    k = len(classes_arr)
    order = np.argsort(classes_arr, kind="stable")
    true_idx = order[np.clip(np.searchsorted(classes_arr[order], y_true), 0, k - 1)]
    if not np.array_equal(classes_arr[true_idx], y_true):  # a label outside ``classes``: the reference path
        out["log_loss"] = float(skm.log_loss(y_true, clipped, labels=classes_arr))
        return _label_metrics_sklearn(out, y_true, pred, average, pos)
    pred_idx = np.argmax(proba, axis=1)
    out["log_loss"] = float(-np.mean(np.log(clipped[np.arange(len(true_idx)), true_idx])))
    cm = np.bincount(true_idx * k + pred_idx, minlength=k * k).reshape(k, k).astype(np.float64)
    diag, n_true, n_pred = np.diag(cm), cm.sum(axis=1), cm.sum(axis=0)
    out["accuracy"] = float(diag.sum() / max(cm.sum(), 1.0))
    has_true = n_true > 0
    out["balanced_accuracy"] = float(np.mean(diag[has_true] / n_true[has_true])) if has_true.any() else 0.0
    precision = np.divide(diag, n_pred, out=np.zeros(k), where=n_pred > 0)
    recall = np.divide(diag, n_true, out=np.zeros(k), where=n_true > 0)
    f1 = np.divide(2 * precision * recall, precision + recall, out=np.zeros(k), where=precision + recall > 0)
    if binary:
        out["f1"], out["precision"], out["recall"] = float(f1[1]), float(precision[1]), float(recall[1])
    else:
        present_labels = has_true | (n_pred > 0)  # scikit-learn's macro average is over labels seen
        out["f1"] = float(np.mean(f1[present_labels]))
        out["precision"] = float(np.mean(precision[present_labels]))
        out["recall"] = float(np.mean(recall[present_labels]))
    return out


def _label_metrics_sklearn(out: dict[str, float], y_true: np.ndarray, pred: np.ndarray, average: str,
                           pos: dict[str, Any]) -> dict[str, float]:
    out["accuracy"] = float(skm.accuracy_score(y_true, pred))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # undefined precision/recall on a fold count as 0
        out["balanced_accuracy"] = float(skm.balanced_accuracy_score(y_true, pred))
        out["f1"] = float(skm.f1_score(y_true, pred, average=average, zero_division=0, **pos))
        out["precision"] = float(skm.precision_score(y_true, pred, average=average, zero_division=0, **pos))
        out["recall"] = float(skm.recall_score(y_true, pred, average=average, zero_division=0, **pos))
    return out


def _regression(y_true: np.ndarray, pred: np.ndarray) -> dict[str, float]:
    y = np.asarray(y_true, dtype=np.float64)
    p = np.asarray(pred, dtype=np.float64).ravel()
    nonzero = y != 0
    return {
        "rmse": float(np.sqrt(np.mean((y - p) ** 2))),
        "mae": float(np.mean(np.abs(y - p))),
        "r2": float(skm.r2_score(y, p)) if len(y) > 1 else math.nan,
        # Rows with a zero target have no percentage error; MAPE is over the others.
        "mape": float(np.mean(np.abs((y[nonzero] - p[nonzero]) / y[nonzero]))) if nonzero.any() else math.nan,
    }


def compute_metrics(task: str, y_true: Any, proba_or_pred: Any,
                    classes: Sequence[Any] | None = None) -> dict[str, float]:
    """Compute every metric of a task.

    Args:
        task: ``classification`` or ``regression``.
        y_true: true labels/values.
        proba_or_pred: class probabilities, shape (n, n_classes) in ``classes`` order (or the
            positive-class column for binary), or predictions for regression.
        classes: the class labels in probability-column order (classification only).

    Returns:
        ``{metric name: value}``; a metric undefined on this data (AUC with one class present,
        R2 on one row) is NaN.

    Raises:
        ConfigError: unknown task or missing classes.
    """
    y = np.asarray(y_true)
    if task == "classification":
        if classes is None:
            raise ConfigError("Classification metrics need the class labels.",
                              hint="Pass classes=model.classes_.")
        return _classification(y, np.asarray(proba_or_pred), classes)
    if task == "regression":
        return _regression(y, np.asarray(proba_or_pred))
    raise ConfigError(f"Unknown task '{task}'.", hint="Use 'classification' or 'regression'.")
