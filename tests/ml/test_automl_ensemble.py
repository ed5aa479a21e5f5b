"""Voting ensembles: greedy selection on validation predictions, and ONNX export with parity."""

from __future__ import annotations

import numpy as np
import pytest

from lakeml.ml.automl.ensemble import make_voting, select
from lakeml.ml.featurize import plan_features, to_pandas
from lakeml.ml.metrics import compute_metrics
from lakeml.ml.onnx_export import to_onnx
from lakeml.ml.parity import align_thresholds, check_parity
from tests.ml.test_automl import dirty_frame


def _auc(y):
    return lambda p: compute_metrics("classification", y, p, [0, 1])["auc"]


def test_select_combines_complementary_models_and_reports_the_score() -> None:
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 2000)
    signal_a, signal_b = rng.normal(size=2000), rng.normal(size=2000)
    # two models that each see a different half of the signal: their average is better than either
    logit = lambda z: 1 / (1 + np.exp(-z))  # noqa: E731
    truth = y * 2 - 1
    pa = logit(truth * 0.8 + signal_a * 1.5)
    pb = logit(truth * 0.8 + signal_b * 1.5)
    weak = logit(rng.normal(size=2000))
    cands = [(1, np.column_stack([1 - pa, pa])), (2, np.column_stack([1 - pb, pb])),
             (3, np.column_stack([1 - weak, weak]))]
    plan = select(cands, _auc(y), greater_is_better=True)
    assert plan is not None and set(plan.trial_ids) == {1, 2}
    assert plan.score > max(_auc(y)(cands[0][1]), _auc(y)(cands[1][1]))


def test_select_returns_none_when_one_model_dominates() -> None:
    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, 500)
    perfect = np.column_stack([1 - y, y]).astype(float)
    noise = rng.random(500)
    assert select([(1, perfect), (2, np.column_stack([1 - noise, noise]))], _auc(y), greater_is_better=True) is None
    assert select([(1, perfect)], _auc(y), greater_is_better=True) is None


@pytest.mark.parametrize("members", [
    [("lightgbm", {"n_estimators": 20}), ("logistic", {"C": 1.0})],
    [("random_forest", {"n_estimators": 10}), ("hist_gradient_boosting", {"max_iter": 10}),
     ("extra_trees", {"n_estimators": 10})],
])
def test_voting_classifier_exports_with_parity(members) -> None:
    df = dirty_frame(300)
    plan = plan_features(df, "churned")
    X, y = to_pandas(df, plan), df["churned"].to_numpy()
    weights = [2.0] + [1.0] * (len(members) - 1)
    model = make_voting({"task": "classification", "seed": 0, "plan": plan}, members, weights)
    model.fit(X, y)
    align_thresholds(model)
    report = check_parity(model, to_onnx(model, sample=df.select(plan.inputs).head(5)), X, "classification")
    assert report.passed and report.n_rows == 300 and report.label_flips == 0


def test_voting_regressor_exports_with_parity() -> None:
    df = dirty_frame(300).drop("churned")
    plan = plan_features(df, "tenure")
    X, y = to_pandas(df, plan), df["tenure"].to_numpy()
    model = make_voting({"task": "regression", "seed": 0, "plan": plan},
                        [("lightgbm", {"n_estimators": 20}), ("linear", {"alpha": 1.0})], None)
    model.fit(X, y)
    align_thresholds(model)
    report = check_parity(model, to_onnx(model, sample=df.select(plan.inputs).head(5)), X, "regression")
    assert report.passed


def test_the_fast_selection_scorer_equals_the_full_metric() -> None:
    from types import SimpleNamespace

    from lakeml.ml.automl.finish import _fast_scorer
    from lakeml.ml.metrics import compute_metrics

    rng = np.random.default_rng(0)
    classes = ["a", "b", "c"]
    y = rng.choice(classes, 200)
    proba = rng.dirichlet([1, 1, 1], 200)
    proba[0] = [1.0, 0.0, 0.0]  # a zero probability: clipped alike
    fast = _fast_scorer("log_loss", SimpleNamespace(classes=classes), y)  # type: ignore[arg-type]
    assert fast is not None
    assert fast(proba) == pytest.approx(compute_metrics("classification", y, proba, classes)["log_loss"], rel=1e-12)
    yr, pred = rng.normal(size=100), rng.normal(size=100)
    rmse = _fast_scorer("rmse", SimpleNamespace(classes=None), yr)  # type: ignore[arg-type]
    assert rmse is not None
    assert rmse(pred) == pytest.approx(compute_metrics("regression", yr, pred)["rmse"], rel=1e-12)
    assert _fast_scorer("auc", SimpleNamespace(classes=classes), y) is None  # type: ignore[arg-type]
