"""Spark MLlib families (``model="mllib.<family>"``): trained on the Spark engine, exported to ONNX.

The featurization plan, target checks, validation splits, metrics and the parity rule are the
ones every other family uses; only fitting and Spark's own predictions run in
:mod:`lakeml.engines.spark.mllib`. The data is collected once on the driver for the target
checks, the splits and the lineage fingerprint (as for the other families); every fit and every
native prediction runs on Spark.

Example:
    >>> lake = lakeml.connect(root, backend="spark")  # doctest: +SKIP
    >>> lake.train("flights", target="delayed", model="mllib.gbt").register("delays")  # doctest: +SKIP
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa

from lakeml.context import FrameT, LakeContext
from lakeml.errors import ConfigError, ModelError, choices_hint
from lakeml.ml.featurize import FeaturePlan, onnx_kind
from lakeml.ml.metrics import compute_metrics
from lakeml.ml.parity import check_parity
from lakeml.ml.train import MAX_PARITY_ROWS, TrainResult, _jsonable, data_fingerprint, prepare_training
from lakeml.ml.validation import describe_validation
from lakeml.registry.context import ModelsContext
from lakeml.registry.manifest import NULL_RULES_KEY

PREFIX = "mllib."
#: family -> tasks (the estimators are in lakeml.engines.spark.mllib.ESTIMATORS)
MLLIB_FAMILIES: dict[str, tuple[str, ...]] = {
    "logistic_regression": ("classification",),
    "linear_regression": ("regression",),
}
#: MLlib estimators lakeml can train but not yet export faithfully: onnxmltools' Spark tree-ensemble
#: converters miss parity with Spark's own transform (measured: forest AUC-side diffs of 0.22 with
#: label flips, GBT regression off by up to 28), so every model would be refused at registration.
UNEXPORTABLE: dict[str, str] = {
    "random_forest": "RandomForestClassifier/RandomForestRegressor",
    "gbt": "GBTClassifier/GBTRegressor",
}
FOLD = "__lakeml_fold"


def is_mllib(model: str) -> bool:
    """Whether ``model`` names an MLlib family."""
    return model.startswith(PREFIX)


def _family(model: str) -> str:
    name = model[len(PREFIX):]
    if name in UNEXPORTABLE:
        raise ModelError(f"Model family '{model}' is not available: the ONNX export of Spark's "
                         f"{UNEXPORTABLE[name]} does not reproduce Spark's predictions, so the model could "
                         "not pass lakeml's parity check or be registered.",
                         hint="Use 'mllib.logistic_regression' or 'mllib.linear_regression' on Spark, or the "
                              "'random_forest' / 'lightgbm' families, which export with parity on either engine.")
    if name not in MLLIB_FAMILIES:
        raise ConfigError(f"Unknown model family '{model}'.",
                          hint=choices_hint(model, [PREFIX + f for f in MLLIB_FAMILIES], kind="model family"))
    return name


def check_engine(lake: LakeContext[FrameT], model: str) -> None:
    """MLlib families need the Spark engine.

    Raises:
        ConfigError: the lake runs on another engine (the hint says how to switch).
    """
    if lake.engine.name != "spark":
        raise ConfigError(f"Model family '{model}' trains with Spark MLlib, but this lake runs on the "
                          f"{lake.engine.name} engine.",
                          hint="Open the lake on Spark: lakeml.connect(root, backend=\"spark\") (or "
                               "LAKEML_BACKEND=spark), or pick a non-mllib family such as 'lightgbm'.")


def _columns(plan: FeaturePlan) -> tuple[tuple[str, ...], tuple[str, ...]]:
    numeric: list[str] = []
    categorical: list[str] = []
    for c in plan.columns:
        if c.role in ("numeric", "boolean"):
            numeric.append(c.name)
        elif c.role == "categorical" and onnx_kind(c.dtype) == "string":
            categorical.append(c.name)
        elif c.role == "categorical":
            raise ConfigError(f"Column '{c.name}' ({c.dtype}) is a numeric code used as a category; MLlib "
                              "families one-hot encode text columns only.",
                              hint=f"Use roles={{'{c.name}': 'numeric'}}, or CAST({c.name} AS varchar) in a query.")
        else:
            raise ConfigError(f"Column '{c.name}' ({c.dtype}) is a {c.role} column; MLlib families take "
                              "numeric, boolean and text columns.",
                              hint=f"Use roles={{'{c.name}': 'drop'}}, or derive numbers from it in a query.")
    return tuple(numeric), tuple(categorical)


class SparkNative:
    """Spark's own predictions for the parity rows, shaped like a scikit-learn model for check_parity."""

    def __init__(self, rows: np.ndarray, values: np.ndarray, classes: np.ndarray | None) -> None:
        self._rows, self._values, self._classes = rows, values, classes

    def _take(self, X: pd.DataFrame) -> np.ndarray:
        return self._values[np.searchsorted(self._rows, np.asarray(X.index))]

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        """Class probabilities of the rows of ``X`` (by index)."""
        return self._take(X)

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        """Labels (class values) or predicted values of the rows of ``X``."""
        values = self._take(X)
        if self._classes is None:
            return values
        return self._classes[np.argmax(values, axis=1)]


@dataclass(repr=False)  # TrainResult's short repr, not the generated one
class MLlibTrainResult(TrainResult):
    """A :class:`~lakeml.ml.train.TrainResult` whose ``pipeline`` is a fitted ``pyspark.ml.PipelineModel``."""

    null_rules: dict[str, dict[str, Any]] | None = None

    def summary(self) -> dict[str, Any]:
        """The training record stored in the model manifest's ``extra``."""
        return {
            "training": {"family": self.family, "engine": "spark", "params": _jsonable(self.params),
                         "task": self.task, "target": self.plan.target,
                         "classes": [_jsonable(c) for c in self.classes], "validation": self.validation,
                         "seed": self.seed, "timings_s": self.timings,
                         "rows_with_null_target_dropped": self.target_info.n_null_dropped},
            "featurization": self.plan.summary(),
            NULL_RULES_KEY: self.null_rules or {},
            "parity": self.parity.to_dict(),
            "feature_importances": self.feature_importances.to_dicts(),
        }

    def predict(self, data: pl.DataFrame | pd.DataFrame) -> np.ndarray:
        """Spark's predictions (labels or values) for rows with the training columns."""
        values = self._spark_predict(data)
        if self.task == "classification":
            return np.asarray(self.classes, dtype=object if isinstance(self.classes[0], str) else None)[
                np.argmax(values, axis=1)]
        return values

    def predict_proba(self, data: pl.DataFrame | pd.DataFrame) -> np.ndarray:
        """Spark's class probabilities, columns in ``classes`` order (classification only)."""
        if self.task != "classification":
            raise ConfigError("predict_proba needs a classification model.", hint="Use predict() for regression.")
        return self._spark_predict(data)

    def _spark_predict(self, data: pl.DataFrame | pd.DataFrame) -> np.ndarray:
        from lakeml.engines.spark import mllib as spark_mllib

        assert self._lake is not None
        frame = data if isinstance(data, pl.DataFrame) else pl.from_pandas(data)
        table = frame.select(self.plan.inputs).with_row_index(spark_mllib.ROW).to_arrow()
        sdf = self._lake.engine.from_arrow(table)
        return spark_mllib.predict(self.pipeline, sdf, self._spec)

    _spec: Any = None


def train_mllib(lake: ModelsContext, data: object, *, target: str, model: str, params: dict[str, Any] | None = None,
                task: str | None = None, roles: dict[str, str] | None = None, seed: int = 0,
                source: str = "frame") -> MLlibTrainResult:
    """Train an MLlib family on the lake's Spark engine (see :func:`lakeml.ml.api.train`).

    Raises:
        ConfigError: not a Spark lake, unknown family or parameter, a column MLlib cannot take.
        TrainingError: unusable data, or Spark failed to fit.
        ModelError: a pipeline stage has no ONNX converter.
    """
    family = _family(model)
    check_engine(lake, model)
    from lakeml.engines.spark import mllib as spark_mllib
    from lakeml.engines.spark.engine import SparkEngine

    t0 = time.perf_counter()
    engine = lake.engine
    assert isinstance(engine, SparkEngine)  # check_engine: a Spark lake (whose frames are Spark's, not Polars')
    frame = pl.from_arrow(engine.collect(lake.frame(data)))
    assert isinstance(frame, pl.DataFrame)
    prepared = prepare_training(
        frame, target=target, task=task, roles=roles, seed=seed, model=model, tasks=MLLIB_FAMILIES[family],
        alternatives=lambda task: f"one of {[PREFIX + f for f, t in MLLIB_FAMILIES.items() if task in t]}")
    info, rows, plan, y, classes, splits = (prepared.info, prepared.rows, prepared.plan, prepared.y,
                                            prepared.classes, prepared.splits)
    numeric, categorical = _columns(plan)
    label = (y if classes is None else np.searchsorted(classes, y)).astype(np.float64)
    spec = spark_mllib.MLlibSpec(family, info.task, numeric, categorical, dict(params or {}), seed)
    fold = np.full(len(y), -1, dtype=np.int64)
    for k, (_, valid_idx) in enumerate(splits):
        fold[valid_idx] = k
    table = rows.select(plan.inputs).to_arrow().append_column(spark_mllib.LABEL, pa.array(label)) \
        .append_column(spark_mllib.ROW, pa.array(np.arange(len(y), dtype=np.int64))) \
        .append_column(FOLD, pa.array(fold))
    sdf = engine.from_arrow(table).cache()
    try:
        t1 = time.perf_counter()
        per_split: list[dict[str, float]] = []
        for k, (_, valid_idx) in enumerate(splits):
            fitted = spark_mllib.fit(sdf.filter(sdf[FOLD] != k), spec)
            out = spark_mllib.predict(fitted, sdf.filter(sdf[FOLD] == k), spec)
            if classes is not None:
                per_split.append(compute_metrics(info.task, y[valid_idx], out, list(classes)))
            else:
                per_split.append(compute_metrics(info.task, y[valid_idx], out))
        metrics = {k: float(np.nanmean([m[k] for m in per_split]))
                   if not all(np.isnan(m[k]) for m in per_split) else float("nan") for k in per_split[0]}
        t2 = time.perf_counter()
        pipeline = spark_mllib.fit(sdf, spec)
        t3 = time.perf_counter()
        input_types = {c.name: onnx_kind(c.dtype) for c in plan.columns}
        onnx_bytes = spark_mllib.to_onnx(pipeline, engine.spark, spec, input_types,
                                         list(classes) if classes is not None else None)
        parity_idx = np.sort(np.concatenate([v for _, v in splits]))[:MAX_PARITY_ROWS]
        parity_rows = sdf.filter(sdf[FOLD] >= 0).filter(sdf[spark_mllib.ROW] <= int(parity_idx[-1]))
        native = SparkNative(parity_idx, spark_mllib.predict(pipeline, parity_rows, spec), classes)
        X_valid = _parity_frame(rows, plan, categorical, parity_idx)
        parity = check_parity(native, onnx_bytes, X_valid, info.task)
        t4 = time.perf_counter()
    finally:
        sdf.unpersist()
    rules: dict[str, dict[str, Any]] = {c: {"null": "impute"} for c in numeric}
    rules.update({c: {"null": "category", "value": spark_mllib.NULL_CATEGORY} for c in categorical})
    lineage = {"source": source, "target": target, "rows": rows.height, "rows_in_source": frame.height,
               "fingerprint": data_fingerprint(frame), "engine": "spark"}
    empty = pl.DataFrame(schema={"column": pl.String, "importance": pl.Float64})
    result = MLlibTrainResult(
        pipeline=pipeline, metrics=metrics, feature_importances=empty,
        feature_importances_detail=pl.DataFrame(schema={"feature": pl.String, "column": pl.String,
                                                        "importance": pl.Float64}),
        plan=plan, parity=parity, onnx_bytes=onnx_bytes, task=info.task, family=model, params=dict(params or {}),
        classes=[_jsonable(c) for c in (classes if classes is not None else [])],
        validation=describe_validation(splits, len(y)), lineage=lineage,
        timings={"prepare": t1 - t0, "validate": t2 - t1, "refit": t3 - t2, "export": t4 - t3,
                 "total": time.perf_counter() - t0},
        target_info=info, seed=seed, null_rules=rules)
    result._spec = spec
    result._lake = lake
    return result


def _parity_frame(rows: pl.DataFrame, plan: FeaturePlan, categorical: tuple[str, ...],
                  index: np.ndarray) -> pd.DataFrame:
    """The parity rows as ONNX Runtime is fed them: source columns, a null category as scoring feeds it."""
    from lakeml.engines.spark.mllib import NULL_CATEGORY

    picked = rows.select(plan.inputs)[index.tolist()]
    picked = picked.with_columns(pl.col(c).cast(pl.String).fill_null(NULL_CATEGORY) for c in categorical)
    out = picked.to_pandas()
    for c in categorical:
        out[c] = out[c].astype(object)
    out.index = pd.Index(index)
    return out
