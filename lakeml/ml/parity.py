"""Proof that an exported ONNX model predicts what the native model predicts.

``check_parity`` runs both on validation data and applies lakeml's parity rule: the absolute
difference of probabilities (classification) or of predictions relative to ``max(1, |y|)``
(regression) is at most 1e-5 on at least 99.999% of rows, and no label differs except where the
native probability is within 1e-6 of the decision boundary.

``align_thresholds`` removes the usual cause of tree disagreements: ONNX Runtime keeps float32
split thresholds (rounded to nearest), while scikit-learn and LightGBM compare against float64
ones. lakeml feeds trees float32 values, and for a float32 ``x`` and float64 ``t``,
``x <= t`` exactly when ``x <= t32`` with ``t32`` the largest float32 not above ``t``. Rounding
the native thresholds down to float32 therefore changes no native prediction on float32 input
and makes the ONNX comparison exact.

Example:
    >>> align_thresholds(pipeline)
    >>> report = check_parity(pipeline, to_onnx(pipeline, sample=df), X_valid, "classification")
    >>> report.passed
    True
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd

from lakeml.errors import ModelError
from lakeml.scoring.session import new_session

TOLERANCE = 1e-5
MIN_SHARE_WITHIN = 0.99999
BOUNDARY = 1e-6
RULE = ("|onnx - native| <= 1e-5 (regression: relative to max(1, |native|)) on >= 99.999% of rows; "
        "no label flips except within 1e-6 of the decision boundary")


@dataclass(frozen=True)
class ParityReport:
    """Result of a parity check (stored in the model manifest).

    Attributes:
        max_abs_diff: largest absolute difference over rows and outputs.
        share_over_1e_5: share of rows whose difference exceeds the tolerance.
        label_flips: rows whose ONNX label differs from the native one, not at a boundary.
        boundary_flips: label differences where the probability is within 1e-6 of the boundary.
        n_rows: rows compared; ``n_skipped``: rows with nulls in non-float inputs (ONNX has no null).
        passed: the rule holds. ``rule``: the rule's text.
    """

    max_abs_diff: float
    share_over_1e_5: float
    label_flips: int
    boundary_flips: int
    n_rows: int
    n_skipped: int
    passed: bool
    rule: str = RULE

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serializable dict."""
        return asdict(self)


_NUMPY = {"tensor(double)": np.float64, "tensor(float)": np.float32, "tensor(int64)": np.int64,
          "tensor(int32)": np.int32, "tensor(bool)": np.bool_}


def onnx_feeds(session: Any, X: pd.DataFrame) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Build ONNX Runtime feeds from a featurizer-style pandas frame.

    Returns the feeds and a boolean mask of the rows kept: rows with a missing value in an
    integer, boolean or datetime input are left out, because ONNX tensors cannot hold nulls.
    """
    inputs = session.get_inputs()
    keep = np.ones(len(X), dtype=bool)
    columns: dict[str, np.ndarray] = {}
    if len(inputs) == 1 and inputs[0].name not in X.columns:
        dtype = _NUMPY.get(inputs[0].type, np.float32)
        return {inputs[0].name: X.to_numpy(dtype=np.float64).astype(dtype)}, keep
    for inp in inputs:
        if inp.name not in X.columns:
            raise ModelError(f"The ONNX model's input '{inp.name}' is not a column of the data.",
                             hint=f"Columns: {', '.join(map(str, X.columns))}.")
        col = X[inp.name]
        if inp.type == "tensor(string)":
            columns[inp.name] = col.astype(str).to_numpy(dtype=object)
            continue
        numbers = pd.to_numeric(col, errors="coerce")
        if inp.type in ("tensor(double)", "tensor(float)"):
            columns[inp.name] = numbers.to_numpy(dtype=np.float64, na_value=np.nan)
            continue
        keep &= ~numbers.isna().to_numpy()
        # Integers go through int64 directly: float64 would round large values (e.g. ns timestamps).
        as_int = numbers.astype("Int64") if numbers.dtype.kind != "f" else numbers.fillna(0).round().astype("Int64")
        columns[inp.name] = as_int.to_numpy(dtype=np.int64, na_value=0)
    feeds = {}
    for inp in inputs:
        values = columns[inp.name][keep]
        if inp.type not in ("tensor(string)", "tensor(int64)"):
            values = values.astype(_NUMPY.get(inp.type, np.float32))
        feeds[inp.name] = values.reshape(-1, 1)
    return feeds, keep


def check_parity(pipeline: Any, onnx_bytes: bytes, X_valid: pd.DataFrame, task: str) -> ParityReport:
    """Compare ONNX Runtime's predictions with the native pipeline's on ``X_valid``.

    Args:
        pipeline: the fitted native model (what was exported).
        onnx_bytes: the export, from :func:`lakeml.ml.onnx_export.to_onnx`.
        X_valid: validation rows as the pipeline takes them (pandas, source columns).
        task: ``classification`` or ``regression``.

    Returns:
        A :class:`ParityReport`.

    Raises:
        ModelError: the ONNX model cannot be loaded or run on the data.
    """
    try:
        session = new_session(onnx_bytes, threads=1)
        feeds, keep = onnx_feeds(session, X_valid)
        names = [o.name for o in session.get_outputs()]
        outputs = dict(zip(names, session.run(None, feeds), strict=True)) if keep.any() else {}
    except ModelError:
        raise
    except Exception as exc:
        raise ModelError(f"ONNX Runtime could not run the exported model: {str(exc)[:300]}",
                         hint="Export with lakeml.ml.onnx_export.to_onnx using the training sample.") from exc
    n, skipped = int(keep.sum()), int((~keep).sum())
    if n == 0:
        return ParityReport(0.0, 0.0, 0, 0, 0, skipped, False)
    if task == "classification" and not {"label", "probabilities"} <= set(outputs):
        raise ModelError(f"The ONNX model has outputs {sorted(outputs)}, not 'label' and 'probabilities'.",
                         hint="Export classifiers with lakeml.ml.onnx_export.to_onnx (ZipMap disabled).")
    X: Any = X_valid[keep]
    if len(feeds) == 1 and next(iter(feeds)) not in X_valid.columns:
        X = next(iter(feeds.values()))  # a plain [N, F] model: native gets the same matrix ONNX gets
    if task == "classification":
        native = np.asarray(pipeline.predict_proba(X), dtype=np.float64)
        onnx_p = np.asarray(outputs["probabilities"], dtype=np.float64).reshape(native.shape)
        diff = np.abs(onnx_p - native).max(axis=1)
        flips = np.asarray(outputs["label"]).ravel().astype(str) != np.asarray(pipeline.predict(X)).astype(str)
        top2 = np.sort(native, axis=1)[:, -2:]
        at_boundary = (top2[:, 1] - top2[:, 0]) <= 2 * BOUNDARY
        hard, soft = int((flips & ~at_boundary).sum()), int((flips & at_boundary).sum())
        over = diff > TOLERANCE
    else:
        native = np.asarray(pipeline.predict(X), dtype=np.float64).ravel()
        onnx_y = np.asarray(outputs[names[0]], dtype=np.float64).ravel()
        diff = np.abs(onnx_y - native)
        over = diff > TOLERANCE * np.maximum(1.0, np.abs(native))
        hard = soft = 0
    share = float(over.mean())
    passed = share <= 1.0 - MIN_SHARE_WITHIN + 1e-12 and hard == 0
    return ParityReport(float(diff.max()), share, hard, soft, n, skipped, passed)


def _floor32(values: np.ndarray) -> np.ndarray:
    t = np.asarray(values, dtype=np.float64)
    t32 = t.astype(np.float32)
    above = t32.astype(np.float64) > t
    t32[above] = np.nextafter(t32[above], np.float32(-np.inf))
    return t32.astype(np.float64)


def _align_lightgbm(model: Any) -> int:
    import lightgbm as lgb

    text = model.booster_.model_to_string()
    changed = 0
    lines = text.split("\n")
    threshold_at: int | None = None
    for i, line in enumerate(lines):
        if line.startswith("Tree="):
            threshold_at = None
        elif line.startswith("threshold="):
            threshold_at = i
        elif line.startswith("decision_type=") and threshold_at is not None:
            kinds = [int(v) for v in line.split("=", 1)[1].split()]
            old = [float(v) for v in lines[threshold_at].split("=", 1)[1].split()]
            # bit 0 of decision_type marks a categorical split, whose "threshold" is an index
            new = [v if kind & 1 else float(_floor32(np.array([v]))[0])
                   for v, kind in zip(old, kinds, strict=True)]
            changed += sum(a != b for a, b in zip(old, new, strict=True))
            lines[threshold_at] = "threshold=" + " ".join(repr(v) for v in new)
    if changed:
        # tree_sizes holds byte offsets of the tree blocks, stale after the edit; without it
        # LightGBM parses the trees sequentially.
        lines = [line for line in lines if not line.startswith("tree_sizes=")]
        model._Booster = lgb.Booster(model_str="\n".join(lines))
    return changed


def align_thresholds(model: Any) -> int:
    """Round split thresholds of tree models down to float32, in place (see the module doc).

    Walks pipelines, voting/stacking ensembles, forests, single trees, HistGradientBoosting and
    LightGBM models; other estimators are left alone.

    Returns:
        The number of thresholds changed.
    """
    changed = 0
    if hasattr(model, "steps"):
        return sum(align_thresholds(step) for _, step in model.steps)
    if hasattr(model, "estimators_") and isinstance(model.estimators_, (list, np.ndarray)):
        return sum(align_thresholds(e) for e in np.ravel(np.asarray(model.estimators_, dtype=object)))
    if hasattr(model, "tree_"):
        tree = model.tree_
        leaves = tree.children_left == -1
        new = np.where(leaves, tree.threshold, _floor32(tree.threshold))
        changed = int((new != tree.threshold).sum())
        tree.threshold[:] = new
        return changed
    if hasattr(model, "_predictors"):
        for per_iter in model._predictors:
            for predictor in per_iter:
                nodes = predictor.nodes
                numeric = (nodes["is_leaf"] == 0) & (nodes["is_categorical"] == 0)
                new = _floor32(nodes["num_threshold"])
                changed += int((new[numeric] != nodes["num_threshold"][numeric]).sum())
                nodes["num_threshold"][numeric] = new[numeric]
        return changed
    if re.match(r"LGBM", type(model).__name__) and hasattr(model, "booster_"):
        return _align_lightgbm(model)
    return 0
