"""Export fitted scikit-learn / LightGBM models (and lakeml featurizers) to ONNX bytes.

A featurizer pipeline exports with one named ``[N, 1]`` graph input per source column, typed
from the sample frame's schema (Float64 -> double, Float32 -> float, Int32 -> int32, other
integers and Date/Datetime -> int64, Boolean -> bool, text -> string), so SQL PREDICT binds by
column name without casts. Classifiers export without ZipMap: outputs ``label`` and
``probabilities``; regressors output ``variable``.

Converters (each has a test in ``tests/ml/test_export*.py``):
- HistGradientBoosting: skl2onnx 1.20 passes numpy bools in ``nodes_missing_value_tracks_true``
  and onnx 1.23 rejects them; lakeml's ``to_onnx`` wraps skl2onnx's converter to coerce the values
  to ints, for its own call only (``custom_conversion_functions``): a user's own skl2onnx call is
  left as skl2onnx makes it.
- LightGBM inside a scikit-learn pipeline: onnxmltools' converter registered with skl2onnx,
  exported at opset <= 15 (onnxmltools refuses newer).
- lakeml's own transformers (:class:`~lakeml.ml.featurize.ToFloat32`, ``ToText``, ``DatetimeParts``).
  ``ToText`` and ``DatetimeParts`` with a ``null_code`` map that reserved input value to the
  category ``""`` / NaN parts (``Equal`` + ``Where``), as their scikit-learn ``transform`` does.
The last two are registered with skl2onnx's public ``update_registered_converter`` for types
skl2onnx has no converter of, so registering them changes no other conversion.

Example:
    >>> onnx_bytes = to_onnx(pipeline, sample=train_frame.head(5))
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from typing import Any

import numpy as np
import polars as pl
from onnx import TensorProto
from sklearn.base import is_classifier
from sklearn.compose import ColumnTransformer
from sklearn.pipeline import Pipeline

from lakeml.errors import ConfigError, ModelError
from lakeml.ml.featurize import (
    MISSING_CATEGORY,
    UNIT_TO_MICROS,
    DatetimeParts,
    ToFloat32,
    ToText,
    datetime_unit,
    onnx_kind,
)
from lakeml.scoring.plan import DATETIME_INPUTS_KEY  # the key scoring reads

DEFAULT_OPSET = 15
ML_OPSET = 3
_lock = threading.Lock()
_registered = False


def _coerce_bool_attrs(attrs: dict[str, Any]) -> dict[str, Any]:
    fixed: dict[str, Any] = {}
    for key, value in attrs.items():
        if isinstance(value, np.ndarray) and value.dtype == np.bool_:
            value = value.astype(np.int64).tolist()
        elif isinstance(value, (list, tuple)) and any(isinstance(v, (bool, np.bool_)) for v in value):
            value = [int(v) for v in value]
        fixed[key] = value
    return fixed


def with_int_attributes(converter: Callable[..., Any]) -> Callable[..., Any]:
    """Wrap a skl2onnx converter so boolean list attributes reach ``make_node`` as ints."""

    def fixed(scope: Any, operator: Any, container: Any) -> Any:
        original = container.add_node

        def add_node(op_type: str, inputs: Any, outputs: Any, op_domain: str = "",
                     op_version: int | None = None, name: str | None = None, **attrs: Any) -> Any:
            return original(op_type, inputs, outputs, op_domain=op_domain, op_version=op_version,
                            name=name, **_coerce_bool_attrs(attrs))

        container.add_node = add_node
        try:
            return converter(scope, operator, container)
        finally:
            del container.add_node

    return fixed


def _cast_shape(elem: Any) -> Callable[[Any], None]:
    def shape(operator: Any) -> None:
        n = operator.inputs[0].type.shape[0]
        width = sum(int(v.type.shape[1]) if v.type.shape[1] is not None else 0 for v in operator.inputs)
        operator.outputs[0].type = elem([n, width or None])
    return shape


def _typed_parser(alias: str, elem: Any) -> Callable[..., list[Any]]:
    """A parser declaring the output with its real element type (the default copies the input's)."""

    def parse(scope: Any, model: Any, inputs: list[Any], custom_parsers: Any = None) -> list[Any]:
        operator = scope.declare_local_operator(alias, model)
        operator.inputs = inputs
        operator.outputs.append(scope.declare_local_variable(alias.lower(), elem()))
        return list(operator.outputs)

    return parse


def _cast_converter(to: int) -> Callable[[Any, Any, Any], None]:
    def convert(scope: Any, operator: Any, container: Any) -> None:
        container.add_node("Cast", [operator.inputs[0].full_name], [operator.outputs[0].full_name],
                           name=scope.get_unique_operator_name("Cast"), to=to)
    return convert


def _datetime_shape(operator: Any) -> None:
    from skl2onnx.common.data_types import FloatTensorType

    operator.outputs[0].type = FloatTensorType([operator.inputs[0].type.shape[0],
                                                len(operator.raw_operator.parts)])


class _Ops:
    """Tiny helper emitting int64 arithmetic nodes into a skl2onnx container."""

    def __init__(self, scope: Any, container: Any) -> None:
        self.scope, self.container = scope, container

    def const(self, value: Any, elem: int = TensorProto.INT64) -> str:
        name = self.scope.get_unique_variable_name("c")
        self.container.add_initializer(name, elem, [], [value])
        return name

    def op(self, op_type: str, *inputs: str, **attrs: Any) -> str:
        out = self.scope.get_unique_variable_name(op_type.lower())
        self.container.add_node(op_type, list(inputs), [out],
                                name=self.scope.get_unique_operator_name(op_type), **attrs)
        return out

    def div(self, a: str, b: int) -> str:  # floor division by a positive constant
        c = self.const(b)
        rem = self.op("Mod", a, c, fmod=0)
        return self.op("Div", self.op("Sub", a, rem), c)

    def mul(self, a: str, b: int) -> str:
        return self.op("Mul", a, self.const(b))

    def add(self, a: str, b: int) -> str:
        return self.op("Add", a, self.const(b))


def _convert_to_text(scope: Any, operator: Any, container: Any) -> None:
    """``Cast`` to string; with a ``null_code``, that input value becomes the null category ``""``."""
    code = operator.raw_operator.null_code
    source, target = operator.inputs[0].full_name, operator.outputs[0].full_name
    if code is None:
        _cast_converter(TensorProto.STRING)(scope, operator, container)
        return
    from skl2onnx.common.data_types import Int32TensorType

    o = _Ops(scope, container)
    elem = TensorProto.INT32 if isinstance(operator.inputs[0].type, Int32TensorType) else TensorProto.INT64
    is_null = o.op("Equal", source, o.const(code, elem))
    text = o.op("Cast", source, to=TensorProto.STRING)
    container.add_node("Where", [is_null, o.const(MISSING_CATEGORY, TensorProto.STRING), text], [target],
                       name=scope.get_unique_operator_name("Where"))


def _convert_datetime(scope: Any, operator: Any, container: Any) -> None:
    """ONNX version of :func:`lakeml.ml.featurize.civil_parts` (same integer arithmetic).

    With a ``null_code``, rows holding it get NaN parts (the arithmetic runs on 0 there).
    """
    o = _Ops(scope, container)
    ticks = o.op("Cast", operator.inputs[0].full_name, to=TensorProto.INT64)
    code = operator.raw_operator.null_code
    is_null = o.op("Equal", ticks, o.const(code)) if code is not None else None
    if is_null is not None:
        ticks = o.op("Where", is_null, o.const(0), ticks)
    mul, div = UNIT_TO_MICROS[operator.raw_operator.unit]
    us = o.mul(ticks, mul) if mul != 1 else ticks
    us = o.div(us, div) if div != 1 else us
    days = o.div(us, 86_400_000_000)
    of_day = o.op("Sub", us, o.mul(days, 86_400_000_000))
    z = o.add(days, 719_468)
    era = o.div(z, 146_097)
    doe = o.op("Sub", z, o.mul(era, 146_097))
    yoe = o.div(o.op("Sub", o.op("Add", o.op("Sub", doe, o.div(doe, 1460)), o.div(doe, 36_524)),
                     o.div(doe, 146_096)), 365)
    doy = o.op("Sub", doe, o.op("Sub", o.op("Add", o.mul(yoe, 365), o.div(yoe, 4)), o.div(yoe, 100)))
    mp = o.div(o.add(o.mul(doy, 5), 2), 153)
    ge10 = o.op("Cast", o.op("GreaterOrEqual", mp, o.const(10)), to=TensorProto.INT64)
    month = o.op("Sub", o.add(mp, 3), o.mul(ge10, 12))
    le2 = o.op("Cast", o.op("LessOrEqual", month, o.const(2)), to=TensorProto.INT64)
    values = {
        "year": o.op("Add", o.op("Add", yoe, o.mul(era, 400)), le2),
        "month": month,
        "day": o.add(o.op("Sub", doy, o.div(o.add(o.mul(mp, 153), 2), 5)), 1),
        "weekday": o.add(o.op("Mod", o.add(days, 3), o.const(7), fmod=0), 1),
        "hour": o.div(of_day, 3_600_000_000),
        "minute": o.op("Mod", o.div(of_day, 60_000_000), o.const(60), fmod=0),
    }
    floats = [o.op("Cast", values[p], to=TensorProto.FLOAT) for p in operator.raw_operator.parts]
    if is_null is None:
        container.add_node("Concat", floats, [operator.outputs[0].full_name],
                           name=scope.get_unique_operator_name("Concat"), axis=1)
        return
    parts = o.op("Concat", *floats, axis=1)
    container.add_node("Where", [is_null, o.const(float("nan"), TensorProto.FLOAT), parts],
                       [operator.outputs[0].full_name], name=scope.get_unique_operator_name("Where"))


def register_converters() -> None:
    """Register lakeml's converters and converter fixes with skl2onnx (idempotent)."""
    global _registered
    with _lock:
        if _registered:
            return
        from lightgbm import LGBMClassifier, LGBMRegressor
        from onnxmltools.convert.lightgbm.operator_converters.LightGbm import convert_lightgbm
        from skl2onnx import update_registered_converter
        from skl2onnx.common.data_types import FloatTensorType, StringTensorType
        from skl2onnx.common.shape_calculator import (
            calculate_linear_classifier_output_shapes,
            calculate_linear_regressor_output_shapes,
        )

        update_registered_converter(ToFloat32, "LakemlToFloat32", _cast_shape(FloatTensorType),
                                    _cast_converter(TensorProto.FLOAT),
                                    parser=_typed_parser("LakemlToFloat32", FloatTensorType))
        update_registered_converter(ToText, "LakemlToText", _cast_shape(StringTensorType), _convert_to_text,
                                    parser=_typed_parser("LakemlToText", StringTensorType))
        update_registered_converter(DatetimeParts, "LakemlDatetimeParts", _datetime_shape, _convert_datetime,
                                    parser=_typed_parser("LakemlDatetimeParts", FloatTensorType))
        update_registered_converter(LGBMClassifier, "LightGbmLGBMClassifier",
                                    calculate_linear_classifier_output_shapes, convert_lightgbm,
                                    options={"nocl": [True, False], "zipmap": [True, False, "columns"]})
        update_registered_converter(LGBMRegressor, "LightGbmLGBMRegressor",
                                    calculate_linear_regressor_output_shapes, convert_lightgbm,
                                    options={"split": None})
        _registered = True


def scoped_converters() -> dict[type, Callable[..., Any]]:
    """Converter fixes for lakeml's own ``convert_sklearn`` call only (not registered process-wide)."""
    from skl2onnx.operator_converters.random_forest import (
        convert_sklearn_random_forest_classifier,
        convert_sklearn_random_forest_regressor_converter,
    )
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

    return {HistGradientBoostingClassifier: with_int_attributes(convert_sklearn_random_forest_classifier),
            HistGradientBoostingRegressor: with_int_attributes(convert_sklearn_random_forest_regressor_converter)}


def _column_transformer(model: Any) -> ColumnTransformer | None:
    if isinstance(model, ColumnTransformer):
        return model
    if isinstance(model, Pipeline) and isinstance(model.steps[0][1], ColumnTransformer):
        return model.steps[0][1]
    return None


def _final_estimator(model: Any) -> Any:
    return model.steps[-1][1] if isinstance(model, Pipeline) else model


def input_types(model: Any, *, sample: pl.DataFrame | None = None,
                n_features: int | None = None) -> list[tuple[str, Any]]:
    """The ``initial_types`` lakeml declares for ``model`` (see the module docstring)."""
    from skl2onnx.common.data_types import (
        BooleanTensorType,
        DoubleTensorType,
        FloatTensorType,
        Int32TensorType,
        Int64TensorType,
        StringTensorType,
    )

    kinds = {"double": DoubleTensorType, "float": FloatTensorType, "int32": Int32TensorType,
             "int64": Int64TensorType, "bool": BooleanTensorType, "string": StringTensorType}
    ct = _column_transformer(model)
    if ct is not None:
        if sample is None:
            raise ConfigError("Exporting a pipeline with per-column inputs needs a sample frame.",
                              hint="Pass sample=<a few rows of the training data> to to_onnx().")
        used = {c for _, _, cols in ct.transformers_ if not isinstance(cols, slice)
                for c in ([cols] if isinstance(cols, str) else cols)}
        missing = sorted(str(c) for c in used if c not in sample.columns)
        if missing:
            raise ConfigError(f"The sample frame lacks columns the model uses: {missing}.",
                              hint="Pass a sample with the training columns.")
        return [(name, kinds[onnx_kind(str(dtype))]([None, 1]))
                for name, dtype in sample.schema.items() if name in used]
    width = n_features or (sample.width if sample is not None else None)
    width = width or getattr(model, "n_features_in_", None)
    if not width:
        raise ConfigError("Cannot tell the model's number of input features.",
                          hint="Pass n_features= or sample= to to_onnx().")
    return [("input", FloatTensorType([None, int(width)]))]


def _restore_input_names(onx: Any, wanted: list[str]) -> None:
    """Give graph inputs back their exact column names.

    skl2onnx turns characters such as spaces and dashes into ``_`` (``mean radius`` becomes
    ``mean_radius``); PREDICT binds inputs to columns by name, so the graph must keep the real names.
    """
    graph = onx.graph
    if len(graph.input) != len(wanted):
        return
    used = {n for node in graph.node for n in (*node.input, *node.output)} | {i.name for i in graph.initializer}
    for graph_input, name in zip(graph.input, wanted, strict=True):
        old = graph_input.name
        if old == name or name in used:
            continue
        graph_input.name = name
        for node in graph.node:
            for k, value in enumerate(node.input):
                if value == old:
                    node.input[k] = name


def to_onnx(model: Any, *, sample: pl.DataFrame | None = None, n_features: int | None = None,
            target_opset: int | None = None) -> bytes:
    """Convert a fitted estimator or pipeline to ONNX bytes.

    Args:
        model: a fitted scikit-learn estimator or Pipeline (LightGBM and lakeml featurizers
            included). A pipeline starting with a ColumnTransformer gets one ``[N, 1]`` input per
            source column it uses, typed from ``sample``; anything else one float ``[N, F]``
            input named ``input``.
        sample: a frame with the source columns (a few rows suffice; only the schema is used).
        n_features: F for a plain estimator when there is no ``sample``.
        target_opset: main-domain opset, at most 15 (the LightGBM converter's limit); default 15.

    Returns:
        The serialized ONNX model. Date/Datetime columns become int64 inputs taking the column's
        ``CAST(col AS bigint)`` value (days for Date; ticks of the column's time unit since the
        epoch, UTC, for Datetime); the metadata entry ``lakeml.datetime_inputs`` maps each such
        input to its unit (``date``, ``ms``, ``us``, ``ns``).

    Raises:
        ConfigError: missing sample/width, or an opset above 15.
        ModelError: the converter failed (the hint names the estimator).
    """
    from skl2onnx import convert_sklearn

    opset = target_opset or DEFAULT_OPSET
    if opset > DEFAULT_OPSET:
        raise ConfigError(f"target_opset={opset} is not supported.",
                          hint=f"Use target_opset <= {DEFAULT_OPSET} (LightGBM's converter limit).")
    register_converters()
    initial = input_types(model, sample=sample, n_features=n_features)
    final = _final_estimator(model)
    options = {id(final): {"zipmap": False}} if is_classifier(final) else None
    try:
        onx = convert_sklearn(model, initial_types=initial, options=options,
                              target_opset={"": opset, "ai.onnx.ml": ML_OPSET},
                              custom_conversion_functions=scoped_converters())
    except Exception as exc:
        raise ModelError(f"Could not export {type(final).__name__} to ONNX: {str(exc)[:300]}",
                         hint="Use a model family from lakeml.ml.families.FAMILIES; they all export.",
                         ) from exc
    # skl2onnx names the graph with a random UUID; a fixed name keeps exports byte-identical.
    onx.graph.name = "lakeml"
    _restore_input_names(onx, [name for name, _ in initial])
    if sample is not None:
        dt = {n: datetime_unit(str(dtype)) for n, dtype in sample.schema.items()
              if (isinstance(dtype, pl.Datetime) or dtype == pl.Date) and n in {i[0] for i in initial}}
        if dt:
            entry = onx.metadata_props.add()
            entry.key, entry.value = DATETIME_INPUTS_KEY, json.dumps(dt)
    return bytes(onx.SerializeToString())
