"""Spark MLlib pipelines for lakeml's ``mllib.*`` families: fit, predict and export to ONNX.

The only module that imports ``pyspark.ml``; the ML layer (:mod:`lakeml.ml.mllib`) reaches it
through the Spark engine and hands it plain column lists, so it knows nothing of feature plans.

The pipeline is ``Imputer`` (numeric columns, cast to float32 first so Spark and ONNX Runtime see
the same values) -> ``StringIndexer(handleInvalid="keep")`` -> ``OneHotEncoder(handleInvalid="keep",
dropLast=True)`` -> ``VectorAssembler`` -> the estimator. Its ONNX export (onnxmltools'
``convert_sparkml``) is post-processed here:

- onnxmltools' StringIndexer becomes a ``LabelEncoder`` whose unseen value is -1, while Spark's
  ``keep`` sends unseen and null categories to index ``len(labels)``; the default is set to that.
- each numeric input takes the column's own type (double, int64 ...) and is cast to float inside.
- outputs follow lakeml's convention: ``label`` (the class value) and ``probabilities`` for a
  classifier, ``variable`` for a regressor.
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from lakeml.errors import ConfigError, ModelError, TrainingError

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

LABEL = "__lakeml_label"
ROW = "__lakeml_row"
# What scoring feeds a text input for a null: no training label is this, so it is "unseen".
NULL_CATEGORY = "\x00lakeml-null"
ONNX_OPSET = 15

#: family -> (module, classifier class or None, regressor class or None)
ESTIMATORS: dict[str, tuple[str | None, str | None]] = {
    "logistic_regression": ("pyspark.ml.classification.LogisticRegression", None),
    "linear_regression": (None, "pyspark.ml.regression.LinearRegression"),
    "random_forest": ("pyspark.ml.classification.RandomForestClassifier",
                      "pyspark.ml.regression.RandomForestRegressor"),
    "gbt": ("pyspark.ml.classification.GBTClassifier", "pyspark.ml.regression.GBTRegressor"),
}
_SEEDED = ("random_forest", "gbt")


@dataclass(frozen=True)
class MLlibSpec:
    """What to build: the columns by role, the task and the estimator with its parameters."""

    family: str
    task: str
    numeric: tuple[str, ...]
    categorical: tuple[str, ...]
    params: Mapping[str, Any] = field(default_factory=dict)
    seed: int = 0


def _estimator(spec: MLlibSpec) -> Any:
    import importlib

    classifier, regressor = ESTIMATORS[spec.family]
    path = classifier if spec.task == "classification" else regressor
    if path is None:
        raise ConfigError(f"Model family 'mllib.{spec.family}' does not support {spec.task}.",
                          hint="Pick an mllib family for this task (mllib.logistic_regression for "
                               "classification, mllib.linear_regression for regression).")
    module, name = path.rsplit(".", 1)
    cls = getattr(importlib.import_module(module), name)
    params = dict(spec.params)
    if spec.family in _SEEDED:
        params.setdefault("seed", spec.seed)
    known = {p.name for p in cls().params}
    unknown = sorted(k for k in params if k not in known)
    if unknown:
        raise ConfigError(f"Unknown parameters for 'mllib.{spec.family}': {unknown}.",
                          hint=f"{name} takes: {', '.join(sorted(known - {'featuresCol', 'labelCol'}))}.")
    return cls(featuresCol="__features", labelCol=LABEL, **params)


def prepare(frame: Any, spec: MLlibSpec) -> Any:
    """The columns as the pipeline takes them: numbers as float32-valued doubles, text as text."""
    from pyspark.sql import functions as F

    cols = [F.col(c).cast("float").cast("double").alias(c) for c in spec.numeric]
    cols += [F.col(c).cast("string").alias(c) for c in spec.categorical]
    extra = [c for c in (LABEL, ROW) if c in frame.columns]
    return frame.select(*cols, *extra)


def build_pipeline(spec: MLlibSpec) -> Any:
    """An unfitted ``pyspark.ml.Pipeline`` for ``spec``."""
    from pyspark.ml import Pipeline
    from pyspark.ml.feature import Imputer, OneHotEncoder, StringIndexer, VectorAssembler

    stages: list[Any] = []
    assembled: list[str] = []
    if spec.numeric:
        imputed = [f"{c}__imputed" for c in spec.numeric]
        stages.append(Imputer(inputCols=list(spec.numeric), outputCols=imputed, strategy="mean"))
        assembled += imputed
    if spec.categorical:
        indexed = [f"{c}__index" for c in spec.categorical]
        encoded = [f"{c}__onehot" for c in spec.categorical]
        stages.append(StringIndexer(inputCols=list(spec.categorical), outputCols=indexed, handleInvalid="keep",
                                    stringOrderType="alphabetAsc"))
        stages.append(OneHotEncoder(inputCols=indexed, outputCols=encoded, handleInvalid="keep", dropLast=True))
        assembled += encoded
    stages.append(VectorAssembler(inputCols=assembled, outputCol="__features", handleInvalid="keep"))
    stages.append(_estimator(spec))
    return Pipeline(stages=stages)


def fit(frame: Any, spec: MLlibSpec) -> Any:
    """Fit the pipeline on ``frame`` (feature columns plus ``__lakeml_label``).

    Raises:
        ConfigError: invalid parameter values. TrainingError: Spark failed to fit.
    """
    pipeline = build_pipeline(spec)
    try:
        return pipeline.fit(prepare(frame, spec))
    except Exception as exc:
        text = str(exc).strip().splitlines()[0][:300] if str(exc).strip() else type(exc).__name__
        if "IllegalArgumentException" in type(exc).__name__ or "parameter" in text.lower():
            raise ConfigError(f"Invalid parameters for 'mllib.{spec.family}': {text}",
                              hint="Check params= against the pyspark.ml estimator's parameters.") from exc
        raise TrainingError(f"Spark could not fit 'mllib.{spec.family}': {text}",
                            hint="Check the data (types, values) or try another model family.") from exc


def predict(model: Any, frame: Any, spec: MLlibSpec) -> np.ndarray:
    """Spark's own predictions for ``frame`` (rows in ``__lakeml_row`` order).

    Returns:
        Class probabilities ``(n, n_classes)`` in label-index order, or predictions ``(n,)``.
    """
    from pyspark.ml.functions import vector_to_array

    out = model.transform(prepare(frame, spec))
    column = vector_to_array(out["probability"]) if spec.task == "classification" else out["prediction"]
    rows = out.select(out[ROW], column.alias("__out")).orderBy(ROW).toArrow()
    values = rows.column("__out").to_pylist()
    return np.asarray(values, dtype=np.float64)


def to_onnx(model: Any, spark: SparkSession, spec: MLlibSpec, input_types: Mapping[str, str],
            classes: Sequence[Any] | None) -> bytes:
    """Export a fitted pipeline to ONNX with one named ``[N, 1]`` input per source column.

    Args:
        input_types: column -> ONNX element type the graph input takes (``double``, ``float``,
            ``int64``, ``int32``, ``bool``; text columns ``string``).
        classes: class values in label-index order (classification), for the ``label`` output.

    Raises:
        ModelError: a stage has no converter (the message names it) or the conversion failed.
    """
    from onnxmltools import convert_sparkml
    from onnxmltools.convert.common.data_types import FloatTensorType, StringTensorType

    initial = [(c, FloatTensorType([None, 1])) for c in spec.numeric]
    initial += [(c, StringTensorType([None, 1])) for c in spec.categorical]
    try:
        with contextlib.redirect_stdout(io.StringIO()):  # its linear converters pprint their attributes
            onx = convert_sparkml(model, "lakeml", initial, spark_session=spark, target_opset=ONNX_OPSET)
    except Exception as exc:
        stage = _failing_stage(model, exc)
        raise ModelError(f"Could not export the Spark pipeline to ONNX: stage {stage} has no working "
                         f"converter ({str(exc).strip()[:200]}).",
                         hint="Use one of the mllib families with their default stages; "
                              "onnxmltools has no converter for this stage.") from exc
    _split_as_input(onx)
    _keep_unseen(onx, model)
    _typed_inputs(onx, spec, input_types)
    _lakeml_outputs(onx, spec, classes)
    _default_opset(onx)
    onx.graph.name = "lakeml"
    import onnx

    onnx.checker.check_model(onx)
    return bytes(onx.SerializeToString())


def _failing_stage(model: Any, exc: Exception) -> str:
    from onnxmltools.convert.sparkml.ops_names import sparkml_operator_name_map

    for stage in model.stages:
        if type(stage) not in sparkml_operator_name_map:
            return type(stage).__name__
    return type(model.stages[-1]).__name__ if "Imputer" not in str(exc) else "ImputerModel"


def _default_opset(onx: Any) -> None:
    """One default-domain opset of version 15: onnxmltools imports the highest version a node used
    and some nodes name the domain ``ai.onnx``; Split's input form needs 13+."""
    for node in onx.graph.node:
        if node.domain == "ai.onnx":
            node.domain = ""
    kept = [e for e in onx.opset_import if e.domain not in ("", "ai.onnx")]
    del onx.opset_import[:]
    onx.opset_import.extend(kept)
    entry = onx.opset_import.add()
    entry.domain, entry.version = "", ONNX_OPSET


def _split_as_input(onx: Any) -> None:
    """onnxmltools' Imputer writes ``Split`` with a ``split`` attribute, which opset 13 moved to an input."""
    from onnx import numpy_helper

    for node in onx.graph.node:
        if node.op_type != "Split":
            continue
        attr = next((a for a in node.attribute if a.name == "split"), None)
        if attr is None:
            continue
        name = f"{node.name or node.output[0]}__split"
        onx.graph.initializer.append(numpy_helper.from_array(np.asarray(list(attr.ints), dtype=np.int64), name))
        node.attribute.remove(attr)
        node.input.append(name)


def _keep_unseen(onx: Any, model: Any) -> None:
    """Spark's ``handleInvalid="keep"``: an unseen or null category is index ``len(labels)``."""
    from onnx import helper

    for node in onx.graph.node:
        if node.op_type != "LabelEncoder":
            continue
        keys = next(a for a in node.attribute if a.name == "keys_strings")
        for attr in list(node.attribute):
            if attr.name == "default_int64":
                node.attribute.remove(attr)
        node.attribute.append(helper.make_attribute("default_int64", len(keys.strings)))


_ELEM = {"double": 11, "float": 1, "int64": 7, "int32": 6, "bool": 9}


def _typed_inputs(onx: Any, spec: MLlibSpec, input_types: Mapping[str, str]) -> None:
    from onnx import TensorProto, helper

    graph = onx.graph
    casts = []
    for inp in graph.input:
        if inp.name not in spec.numeric:
            continue
        elem = _ELEM.get(input_types.get(inp.name, "float"), TensorProto.FLOAT)
        if elem == TensorProto.FLOAT:
            continue
        inner = f"{inp.name}__float"
        for node in graph.node:
            for i, name in enumerate(node.input):
                if name == inp.name:
                    node.input[i] = inner
        inp.type.tensor_type.elem_type = elem
        casts.append(helper.make_node("Cast", [inp.name], [inner], to=TensorProto.FLOAT,
                                      name=f"cast_{inp.name}"))
    for node in reversed(casts):
        graph.node.insert(0, node)


def _lakeml_outputs(onx: Any, spec: MLlibSpec, classes: Sequence[Any] | None) -> None:
    from onnx import TensorProto, helper, numpy_helper

    graph = onx.graph
    names = [o.name for o in graph.output]
    if spec.task == "regression":
        floats = [o.name for o in graph.output if o.type.tensor_type.elem_type == TensorProto.FLOAT]
        source = "prediction" if "prediction" in floats else (floats or names)[0]
        graph.node.append(helper.make_node("Cast", [source], ["__prediction_float"], to=TensorProto.FLOAT,
                                           name="prediction_float"))
        graph.node.append(helper.make_node("Reshape", ["__prediction_float", "__shape_n1"], ["variable"],
                                           name="variable"))
        graph.initializer.append(numpy_helper.from_array(np.array([-1, 1], dtype=np.int64), "__shape_n1"))
        del graph.output[:]
        graph.output.append(helper.make_tensor_value_info("variable", TensorProto.FLOAT, [None, 1]))
        return
    if "probability" not in names or classes is None:
        raise ModelError(f"The Spark classifier's ONNX export has outputs {names}, no 'probability'.",
                         hint="This estimator cannot be exported with class probabilities.")
    values = np.asarray(list(classes))
    if values.dtype.kind in "iub":
        table, elem = values.astype(np.int64), TensorProto.INT64
    else:
        table, elem = np.asarray([str(v) for v in values], dtype=object), TensorProto.STRING
    graph.initializer.append(numpy_helper.from_array(table, "__classes"))
    graph.node.append(helper.make_node("Identity", ["probability"], ["probabilities"], name="probabilities"))
    graph.node.append(helper.make_node("ArgMax", ["probability"], ["__argmax"], axis=1, keepdims=0, name="argmax"))
    graph.node.append(helper.make_node("Gather", ["__classes", "__argmax"], ["label"], axis=0, name="label"))
    del graph.output[:]
    graph.output.append(helper.make_tensor_value_info("label", elem, [None]))
    graph.output.append(helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, [None, len(values)]))


__all__ = ["ESTIMATORS", "LABEL", "NULL_CATEGORY", "ROW", "MLlibSpec", "build_pipeline", "fit", "predict",
           "prepare", "to_onnx"]
