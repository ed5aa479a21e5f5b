"""Model manifests: frozen dataclasses that round-trip JSON, and reading them off ONNX bytes."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from typing import Any

from lakeml.errors import ModelError

MANIFEST_FORMAT = 1
# manifest ``extra`` key: input name -> how training fed a null there (lakeml.ml.featurize.null_rules)
NULL_RULES_KEY = "null_rules"

# ONNX tensor element type -> (short name, the SQL type a WITH clause / CAST should use; names from
# lakeml.query.dtypes.SQL_TYPES, and CAST to it gives a column the input accepts)
_ELEM: dict[int, tuple[str, str | None]] = {
    1: ("float", "real"),
    2: ("uint8", "utinyint"),
    3: ("int8", "tinyint"),
    5: ("int16", "smallint"),
    6: ("int32", "int"),
    7: ("int64", "bigint"),
    8: ("string", "varchar"),
    9: ("bool", "bit"),
    10: ("float16", "real"),
    11: ("double", "float"),
    12: ("uint32", "bigint"),
    13: ("uint64", "bigint"),
}


@dataclass(frozen=True)
class TensorSpec:
    """One graph input or output as the registry records it.

    Attributes:
        name: the ONNX name.
        onnx_type: e.g. ``tensor(float)`` or ``seq(map(int64,tensor(float)))`` (a ZipMap output).
        elem_type: element type of a tensor (``float``, ``int64``, ``string``...), None otherwise.
        shape: dimensions; ``None`` for an unknown/symbolic dimension (the batch axis).
        sql_type: the SQL type to write in WITH / CAST for one row's value, None when unsupported.
    """

    name: str
    onnx_type: str
    elem_type: str | None
    shape: tuple[int | None, ...] | None
    sql_type: str | None

    @property
    def is_tensor(self) -> bool:
        """True for a plain tensor (not a sequence/map such as a ZipMap output)."""
        return self.onnx_type.startswith("tensor(")

    @property
    def width(self) -> int | None:
        """Values per row: 1 for ``[N]``/``[N,1]``, K for ``[N,K]``, None if unknown or not 1-2 D."""
        if self.shape is None:
            return None
        if len(self.shape) == 1:
            return 1
        if len(self.shape) == 2:
            return self.shape[1]
        return None

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        data = asdict(self)
        data["shape"] = list(self.shape) if self.shape is not None else None
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TensorSpec:
        """Inverse of :meth:`to_json`."""
        shape = data.get("shape")
        return cls(name=data["name"], onnx_type=data["onnx_type"], elem_type=data.get("elem_type"),
                   shape=tuple(shape) if shape is not None else None, sql_type=data.get("sql_type"))


@dataclass(frozen=True)
class Manifest:
    """Everything the registry knows about one immutable model version (``manifest.json``)."""

    name: str
    version: int
    sha256: str
    created: str
    inputs: tuple[TensorSpec, ...]
    outputs: tuple[TensorSpec, ...]
    features: tuple[str, ...] | None = None
    description: str | None = None
    metrics: dict[str, Any] = field(default_factory=dict)
    tags: dict[str, Any] = field(default_factory=dict)
    lineage: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)
    opset: int | None = None
    producer: str | None = None
    size_bytes: int = 0
    format: int = MANIFEST_FORMAT

    def null_rule(self, input_name: str) -> dict[str, Any] | None:
        """How training fed a null in this input (e.g. ``{"null": "category", "value": ""}`` or
        ``{"null": "impute"}``; ``value`` is what scoring feeds for a null, see
        :func:`lakeml.ml.featurize.null_rules`), or None for a model without such a record
        (registered from outside)."""
        rules = self.extra.get(NULL_RULES_KEY) or {}
        rule = rules.get(input_name)
        return dict(rule) if isinstance(rule, dict) else None

    def to_json(self) -> str:
        """Serialise to JSON text (stable key order)."""
        data = asdict(self)
        data["inputs"] = [t.to_json() for t in self.inputs]
        data["outputs"] = [t.to_json() for t in self.outputs]
        data["features"] = list(self.features) if self.features is not None else None
        return json.dumps(data, indent=2, sort_keys=True, default=str)

    @classmethod
    def from_json(cls, text: str | bytes) -> Manifest:
        """Parse ``manifest.json`` text."""
        try:
            data = json.loads(text)
            feats = data.get("features")
            return cls(
                name=data["name"], version=int(data["version"]), sha256=data["sha256"],
                created=data["created"],
                inputs=tuple(TensorSpec.from_json(t) for t in data["inputs"]),
                outputs=tuple(TensorSpec.from_json(t) for t in data["outputs"]),
                features=tuple(feats) if feats is not None else None,
                description=data.get("description"), metrics=data.get("metrics") or {},
                tags=data.get("tags") or {}, lineage=data.get("lineage") or {},
                extra=data.get("extra") or {}, opset=data.get("opset"), producer=data.get("producer"),
                size_bytes=int(data.get("size_bytes", 0)), format=int(data.get("format", MANIFEST_FORMAT)),
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise ModelError("A model manifest in the registry is corrupt.",
                             hint="Re-register the model; the manifest could not be parsed.") from exc


def sha256_hex(data: bytes) -> str:
    """Hex sha256 of ``data`` (the content key of a model)."""
    return hashlib.sha256(data).hexdigest()


def _type_text(tp: Any) -> tuple[str, str | None, tuple[int | None, ...] | None]:
    kind = tp.WhichOneof("value")
    if kind == "tensor_type":
        elem, _sql = _ELEM.get(tp.tensor_type.elem_type, (f"onnx_elem_{tp.tensor_type.elem_type}", None))
        shape: tuple[int | None, ...] | None = None
        if tp.tensor_type.HasField("shape"):
            shape = tuple(d.dim_value if d.HasField("dim_value") else None for d in tp.tensor_type.shape.dim)
        return f"tensor({elem})", elem, shape
    if kind == "sequence_type":
        inner, _, _ = _type_text(tp.sequence_type.elem_type)
        return f"seq({inner})", None, None
    if kind == "map_type":
        key, _ = _ELEM.get(tp.map_type.key_type, ("?", None))
        inner, _, _ = _type_text(tp.map_type.value_type)
        return f"map({key},{inner})", None, None
    return str(kind), None, None


def scalar_sql_type(elem: str) -> str | None:
    """The SQL type of one value of ONNX element type ``elem`` (``float`` -> ``real``), or None."""
    return next((sql for e, sql in _ELEM.values() if e == elem), None)


def sql_type_for(elem: str | None, shape: tuple[int | None, ...] | None, onnx_type: str) -> str | None:
    """The SQL type one row of this tensor maps to (``real``, ``array(real, 2)``...)."""
    if not onnx_type.startswith("tensor(") or elem is None:
        return None
    scalar = scalar_sql_type(elem)
    if scalar is None:
        return None
    if shape is None or len(shape) == 1 or (len(shape) == 2 and shape[1] == 1):
        return scalar
    if len(shape) == 2:
        return f"array({scalar}, {shape[1]})" if shape[1] else f"array({scalar})"
    return None


def inspect_onnx(data: bytes) -> tuple[tuple[TensorSpec, ...], tuple[TensorSpec, ...], int | None, str | None]:
    """Read inputs, outputs, default-domain opset and producer from ONNX bytes.

    Raises:
        ModelError: the bytes are not a valid ONNX model.
    """
    import onnx

    try:
        model = onnx.load_model_from_string(data)
    except Exception as exc:
        raise ModelError(
            f"The bytes given ({len(data)} bytes) are not a valid ONNX model: {str(exc).splitlines()[0][:200]}",
            hint="Export the model with skl2onnx/onnxmltools (or pass a fitted estimator) and register again.",
        ) from exc
    refuse_external_data(model)
    try:
        onnx.checker.check_model(model)
    except Exception as exc:
        raise ModelError(
            f"The bytes given ({len(data)} bytes) are not a valid ONNX model: {str(exc).splitlines()[0][:200]}",
            hint="Export the model with skl2onnx/onnxmltools (or pass a fitted estimator) and register again.",
        ) from exc
    init = {i.name for i in model.graph.initializer}

    def spec(vi: Any) -> TensorSpec:
        text, elem, shape = _type_text(vi.type)
        return TensorSpec(vi.name, text, elem, shape, sql_type_for(elem, shape, text))

    inputs = tuple(spec(vi) for vi in model.graph.input if vi.name not in init)
    outputs = tuple(spec(vi) for vi in model.graph.output)
    opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), None)
    producer = f"{model.producer_name} {model.producer_version}".strip() or None
    return inputs, outputs, opset, producer


def external_data_tensors(model: Any) -> list[tuple[str, str]]:
    """(tensor name, location) of every tensor of an ``onnx.ModelProto`` stored as external data.

    Looks everywhere a tensor can hide: initializers, sparse initializers, node attributes
    (``Constant`` values), subgraphs of control-flow nodes and model-local functions.
    """
    from onnx import TensorProto

    found: list[tuple[str, str]] = []

    def tensor(t: Any) -> None:
        if t.data_location == TensorProto.EXTERNAL or len(t.external_data):
            where = next((e.value for e in t.external_data if e.key == "location"), "?")
            found.append((t.name or "(unnamed)", where))

    def sparse(s: Any) -> None:
        tensor(s.values)
        tensor(s.indices)

    def node(n: Any) -> None:
        for attr in n.attribute:
            if attr.HasField("t"):
                tensor(attr.t)
            if attr.HasField("sparse_tensor"):
                sparse(attr.sparse_tensor)
            if attr.HasField("g"):
                graph(attr.g)
            for t in attr.tensors:
                tensor(t)
            for s in attr.sparse_tensors:
                sparse(s)
            for g in attr.graphs:
                graph(g)

    def graph(g: Any) -> None:
        for t in g.initializer:
            tensor(t)
        for s in g.sparse_initializer:
            sparse(s)
        for n in g.node:
            node(n)

    graph(model.graph)
    for function in model.functions:
        for n in function.node:
            node(n)
    return found


def refuse_external_data(model: Any) -> None:
    """Raise :class:`ModelError` if the model keeps any tensor in an external file.

    ONNX Runtime would read such a file relative to the scoring process (its working directory
    when loading from bytes): a model could read any file there and return its bytes as scores.
    Registered models are self-contained ONNX bytes.
    """
    found = external_data_tensors(model)
    if found:
        shown = ", ".join(f"{name!r} (in {where!r})" for name, where in found[:5])
        more = f" and {len(found) - 5} more" if len(found) > 5 else ""
        raise ModelError(
            f"The model keeps tensors as ONNX external data, in files outside the model: {shown}{more}. "
            "lakeml refuses external data: a model must never read files next to the process scoring it.",
            hint="Load the model with its data (onnx.load(path)) and save it as one file "
                 "(onnx.save_model(model, path, save_as_external_data=False)), then register that file.",
        )


def check_self_contained(data: bytes) -> None:
    """Refuse ONNX bytes whose tensors live in external files (see :func:`refuse_external_data`).

    Raises:
        ModelError: the bytes are not ONNX, or they reference external data.
    """
    import onnx

    try:
        model = onnx.load_model_from_string(data)
    except Exception as exc:
        raise ModelError(f"The model bytes ({len(data)} bytes) are not a valid ONNX model.",
                         hint="Register the model again from its .onnx file.") from exc
    refuse_external_data(model)
