"""SQL types of WITH clauses, ONNX element types, and value-preserving casts."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl

from lakeml.errors import PredictError
from lakeml.query.dtypes import SQL_TYPES, sql_type
from lakeml.query.dtypes import sql_name as scalar_name

# ONNX element type -> (numpy dtype, the Polars dtypes accepted without a cast); SQL names live in the registry
ONNX_ELEM: dict[str, tuple[Any, tuple[type[pl.DataType], ...]]] = {
    "float": (np.float32, (pl.Float32,)),
    "double": (np.float64, (pl.Float64,)),
    "int64": (np.int64, (pl.Int64,)),
    "int32": (np.int32, (pl.Int32,)),
    "int16": (np.int16, (pl.Int16,)),
    "int8": (np.int8, (pl.Int8,)),
    "uint8": (np.uint8, (pl.UInt8,)),
    "string": (np.object_, (pl.String, pl.Categorical, pl.Enum)),
    "bool": (np.bool_, (pl.Boolean,)),
}

_SIZED = re.compile(r"^(n?varchar|n?char|float)\s*\(\s*(\d+|max)\s*\)$")
_ARRAY = re.compile(r"^array\s*\(\s*(.+?)\s*(?:,\s*(\d+)\s*)?\)$")


@dataclass(frozen=True)
class OutputDecl:
    """One column of a WITH clause: output name, its Polars type (None = the model's own), NOT NULL."""

    name: str
    dtype: pl.DataType | None
    not_null: bool = False
    sql: str | None = None


def parse_sql_type(text: str) -> pl.DataType:
    """Map a SQL type (``real``, ``bigint``, ``varchar(20)``, ``array(real, 2)``) to a Polars dtype.

    Raises:
        PredictError: an unknown type.
    """
    t = " ".join(text.strip().lower().split())
    scalar = sql_type(t)
    if scalar is not None:
        return scalar
    sized = _SIZED.match(t)
    if sized:
        if sized.group(1) == "float":
            return pl.Float32() if sized.group(2) != "max" and int(sized.group(2)) <= 24 else pl.Float64()
        return pl.String()
    arr = _ARRAY.match(t)
    if arr:
        inner = parse_sql_type(arr.group(1))
        return pl.Array(inner, int(arr.group(2))) if arr.group(2) else pl.List(inner)
    raise PredictError(f"Unknown SQL type {text!r} in WITH.",
                       hint=f"Use one of {', '.join(SQL_TYPES)}, or array(real, K) for a K-wide output.")


def _split_top(text: str) -> list[str]:
    parts: list[str] = []
    cur: list[str] = []
    depth = 0
    for ch in text:
        depth += ch == "("
        depth -= ch == ")"
        if ch == "," and depth == 0:
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    parts.append("".join(cur))
    return [p.strip() for p in parts if p.strip()]


def parse_outputs(outputs: str | dict[str, Any] | list[OutputDecl] | None) -> list[OutputDecl] | None:
    """Normalise the ``outputs=`` argument (WITH text, dict name->type, or decls) to decls."""
    if outputs is None:
        return None
    if isinstance(outputs, list) and all(isinstance(o, OutputDecl) for o in outputs):
        return list(outputs)
    if isinstance(outputs, dict):
        decls = []
        for name, typ in outputs.items():
            if typ is None:
                decls.append(OutputDecl(str(name), None))
            elif isinstance(typ, str):
                decls.append(_decl_from_text(f"{name} {typ}"))
            else:
                decls.append(OutputDecl(str(name), typ if isinstance(typ, pl.DataType) else typ()))
        return decls
    if isinstance(outputs, str):
        text = outputs.strip()
        if text.lower().startswith("with"):
            text = text[4:].strip()
        if text.startswith("(") and text.endswith(")"):
            text = text[1:-1]
        return [_decl_from_text(p) for p in _split_top(text)]
    raise PredictError(f"outputs= must be WITH text or a dict, not {type(outputs).__name__}.",
                       hint='e.g. outputs="label bigint, probabilities array(real, 2)".')


def _decl_from_text(col: str) -> OutputDecl:
    m = re.match(r'^\s*("[^"]+"|\[[^\]]+\]|`[^`]+`|[^\s]+)\s*(.*?)\s*$', col, re.S)
    if not m or not m.group(2):
        raise PredictError(f"WITH column {col.strip()!r} has no type.",
                           hint="Write 'name type', e.g. 'label bigint'.")
    name = m.group(1).strip('"[]`')
    typ = m.group(2)
    not_null = False
    nn = re.search(r"\s+not\s+null\s*$", typ, re.I)
    if nn:
        not_null, typ = True, typ[: nn.start()]
    typ = re.sub(r"\s+null\s*$", "", typ, flags=re.I)
    return OutputDecl(name, parse_sql_type(typ), not_null, typ.strip())


def sql_name(dtype: pl.DataType) -> str:
    """The SQL spelling of a Polars dtype (for messages)."""
    name = scalar_name(dtype)
    if name is not None:
        return name
    if isinstance(dtype, pl.Array):
        inner = dtype.inner
        return f"array({sql_name(inner if isinstance(inner, pl.DataType) else inner())}, {dtype.size})"
    return str(dtype)


def safe_cast(s: pl.Series, target: pl.DataType, *, what: str, allow_narrow_float: bool = False) -> pl.Series:
    """Cast ``s`` to ``target`` only if no value changes (range- and integrality-checked).

    ``allow_narrow_float`` permits Float64 -> Float32 rounding (still range-checked).

    Raises:
        PredictError: a value would change, naming ``what`` and the first offending value.
    """
    if s.dtype == target:
        return s
    if target == pl.String and isinstance(s.dtype, pl.Categorical | pl.Enum):
        return s.cast(pl.String)
    src_str = s.dtype == pl.String or isinstance(s.dtype, pl.Categorical | pl.Enum)
    if src_str != (target == pl.String):
        raise PredictError(f"{what}: cannot cast {s.dtype} to {target} without changing values.",
                           hint="Convert it explicitly in SQL (CAST or CASE) before scoring.")
    try:
        out = s.cast(target, strict=True)
    except Exception as exc:
        raise PredictError(f"{what}: a value of type {s.dtype} is out of range for {target}.",
                           hint=f"Filter or CAST the values into the range of {sql_name(target)}.") from exc
    if allow_narrow_float and s.dtype == pl.Float64 and target == pl.Float32:
        bad = (s.is_finite() & out.is_infinite()).fill_null(False)
    else:
        back = out.cast(s.dtype, strict=False)
        same = back == s
        if s.dtype.is_float():
            same = same | (s.is_nan() & back.is_nan())
        bad = ~same.fill_null(True)
    if bad.any():
        first = s.filter(bad)[0]
        raise PredictError(f"{what}: casting {s.dtype} to {target} would change values "
                           f"(first: {first!r}, {int(bad.sum())} rows).",
                           hint=f"Declare a type that holds the values, or CAST explicitly to {sql_name(target)}.")
    return out
