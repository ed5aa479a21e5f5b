"""``describe``: the input/output mapping a user needs to write a PREDICT WITH clause."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from lakeml.registry.manifest import TensorSpec

if TYPE_CHECKING:
    from lakeml.registry.registry import ModelVersion

_ZIPMAP_NOTE = "ZipMap output: not scorable; re-export with zipmap disabled"


def _shape(spec: TensorSpec) -> str:
    if spec.shape is None:
        return "?"
    return "[" + ", ".join("N" if i == 0 and d is None else ("?" if d is None else str(d))
                           for i, d in enumerate(spec.shape)) + "]"


def _elem_sql(spec: TensorSpec) -> str | None:
    sql = spec.sql_type
    if sql and sql.startswith("array("):
        return sql[len("array("):].split(",")[0].rstrip(")").strip()
    return sql


def describe_dict(mv: ModelVersion) -> dict[str, Any]:
    """Structured description: model identity, inputs (or packed features), outputs, WITH text."""
    m = mv.manifest
    if m.features is not None and len(m.inputs) == 1:
        inp = m.inputs[0]
        inputs = [{"name": f, "onnx_type": inp.onnx_type, "shape": "[N]", "sql_type": _elem_sql(inp),
                   "packed_into": inp.name} for f in m.features]
    else:
        inputs = [{"name": i.name, "onnx_type": i.onnx_type, "shape": _shape(i), "sql_type": i.sql_type}
                  for i in m.inputs]
    outputs = [{"name": o.name, "onnx_type": o.onnx_type, "shape": _shape(o),
                "sql_type": o.sql_type, "note": None if o.is_tensor else _ZIPMAP_NOTE} for o in m.outputs]
    with_cols = [f"{o['name']} {o['sql_type']}" for o in outputs if o["sql_type"]]
    return {"name": m.name, "version": m.version, "ref": mv.ref, "aliases": list(mv.aliases),
            "sha256": m.sha256, "created": m.created, "description": m.description,
            "features": list(m.features) if m.features is not None else None,
            "inputs": inputs, "outputs": outputs, "metrics": m.metrics, "tags": m.tags,
            "with_clause": f"WITH ({', '.join(with_cols)})" if with_cols else None}


def _table(rows: list[dict[str, Any]], cols: list[str]) -> list[str]:
    cells = [[str(r.get(c) if r.get(c) is not None else "-") for c in cols] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) if cells else len(c) for i, c in enumerate(cols)]
    lines = ["  " + "  ".join(c.ljust(w) for c, w in zip(cols, widths, strict=True)).rstrip()]
    lines += ["  " + "  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip() for row in cells]
    return lines


def describe_text(mv: ModelVersion) -> str:
    """Plain-text description as ``lakeml models show`` prints it."""
    d = describe_dict(mv)
    head = f"Model {d['ref']}"
    if d["aliases"]:
        head += f"  (aliases: {', '.join(d['aliases'])})"
    lines = [head, f"  sha256 {d['sha256']}  created {d['created']}"]
    if d["description"]:
        lines.append(f"  {d['description']}")
    lines.append("Inputs (each binds the DATA column of the same name):")
    lines += _table(d["inputs"], ["name", "onnx_type", "shape", "sql_type"])
    if d["features"] is not None:
        lines.append(f"  (packed in this order into input '{d['inputs'][0]['packed_into']}')"
                     if d["inputs"] else "")
    lines.append("Outputs (name them in WITH):")
    lines += _table(d["outputs"], ["name", "onnx_type", "shape", "sql_type", "note"])
    if d["with_clause"]:
        lines.append(d["with_clause"])
    if d["metrics"]:
        lines.append("Metrics: " + ", ".join(f"{k}={v}" for k, v in d["metrics"].items()))
    return "\n".join(lines)
