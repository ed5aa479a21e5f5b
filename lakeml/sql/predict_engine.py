"""Both SQL PREDICT forms on an engine object (Spark today): the Polars path's rewrite over engine frames.

The tree surgery (which columns ``d.*``, ``p.label`` or ``*`` become) is :mod:`lakeml.sql.predict`'s
own; the scored frames come from the engine's ``map_batches`` with the scoring layer's batch function.
"""

from __future__ import annotations

import itertools

import polars as pl
from sqlglot import exp

from lakeml.context import FrameT, LakeContext
from lakeml.errors import SQLError
from lakeml.registry.context import EngineModelsContext
from lakeml.registry.manifest import Manifest
from lakeml.scoring.bound import EngineScoringContext
from lakeml.scoring.on_engine import RESULT, BatchScorer, arrow_schema, arrow_to_polars_schema, bind, result_schema
from lakeml.scoring.types import OutputDecl
from lakeml.sql.dialect import LakeSQL
from lakeml.sql.nodes import PredictCall, PredictTable
from lakeml.sql.predict import (
    _cte_sql,
    _decls,
    _fix_columns,
    _inline_manifest,
    _replace_star,
    call_columns,
    named_model,
)

_counter = itertools.count(1)


def rewrite(tree: exp.Expr, lake: EngineScoringContext[FrameT], frames: dict[str, FrameT]) -> exp.Expr:
    """Replace every PREDICT in ``tree`` by a scored engine frame registered in ``frames``."""
    for node in reversed(list(tree.find_all(PredictTable))):
        _rewrite_table(node, tree, lake, frames)
    for select in reversed(list(tree.find_all(exp.Select))):
        calls = [c for c in select.find_all(PredictCall) if c.find_ancestor(exp.Select) is select]
        if calls:
            _rewrite_calls(select, calls, tree, lake, frames)
    if tree.find(PredictTable, PredictCall) is not None:
        raise SQLError("A PREDICT in this query could not be run (it is in a place PREDICT is not supported).",
                       hint="Use PREDICT in the FROM clause, or as a column expression.")
    return tree


def _run(lake: LakeContext[FrameT], sql: str, frames: dict[str, FrameT]) -> FrameT:
    from lakeml.sql.engine_run import run_text

    return run_text(lake, sql, dict(frames))


def _source(name: str, tree: exp.Expr, lake: LakeContext[FrameT], frames: dict[str, FrameT]) -> FrameT:
    cte = _cte_sql(tree, name)
    if cte is not None:
        return _run(lake, cte, frames)
    if name in frames:
        return frames[name]
    views = lake.builtin_views()
    if name in views:
        return lake.engine.from_data(views[name]())
    return lake.table(name)


def _schema(lake: LakeContext[FrameT], frame: FrameT) -> pl.Schema:
    from lakeml.sql.engine_run import polars_schema

    return polars_schema(lake, frame)


def _subquery_source(node: exp.Subquery, tree: exp.Expr, lake: LakeContext[FrameT],
                     frames: dict[str, FrameT]) -> FrameT:
    with_ = tree.args.get("with_") or tree.args.get("with")
    ctes: list[exp.Expr] = []
    if with_:
        for cte in with_.expressions:
            if node.find_ancestor(exp.CTE) is cte:
                break
            ctes.append(cte)
    head = ("WITH " + ", ".join(c.sql(dialect=LakeSQL) for c in ctes) + " ") if ctes else ""
    return _run(lake, head + node.this.sql(dialect=LakeSQL), frames)


def _model(node: exp.Expr, lake: EngineModelsContext[FrameT], frames: dict[str, FrameT]) -> tuple[Manifest, bytes]:
    if isinstance(node, exp.Subquery):
        frame = _run(lake, node.this.sql(dialect=LakeSQL), frames)
        value = lake.engine.collect(lake.engine.limit(frame, 2))
        if value.num_rows != 1 or value.num_columns != 1:
            raise SQLError(f"The PREDICT MODEL subquery returned {value.num_rows} row(s) and {value.num_columns} "
                           "column(s); it must return exactly one value.",
                           hint="Select one column (model) and filter to one row (name and version).")
        item = value.column(0)[0].as_py()
        if isinstance(item, bytes | bytearray):
            return _inline_manifest(bytes(item), lake), bytes(item)
        if not isinstance(item, str):
            dtype = next(iter(arrow_to_polars_schema(value.schema).values()))
            raise SQLError(f"The PREDICT MODEL subquery returned a {dtype} value.",
                           hint="Return the ONNX bytes (the 'model' column of the models view) or a reference "
                                "string.")
        node = exp.Literal.string(item)
    return named_model(node, lake)  # a reference string, or the errors for anything else


def _rewrite_table(node: PredictTable, tree: exp.Expr, lake: EngineModelsContext[FrameT],
                   frames: dict[str, FrameT]) -> None:
    from lakeml.scoring.api import batch_size_for

    runtime = node.args.get("runtime")
    if runtime is not None and runtime.name.upper() != "ONNX":
        raise SQLError(f"PREDICT RUNTIME = {runtime.name} is not supported.",
                       hint="lakeml scores ONNX models: write RUNTIME = ONNX or leave it out.")
    table = node.parent
    if not isinstance(table, exp.Table):
        raise SQLError("PREDICT(MODEL = ..., DATA = ...) can only be used in FROM or JOIN.",
                       hint="Write SELECT ... FROM PREDICT(...) WITH (...) AS p.")
    k = next(_counter)
    data_node = node.args["data"]
    data_name = data_node.name if isinstance(data_node, exp.Table) else f"__lakeml_data_{k}"
    data_alias = node.args["data_alias"].name if node.args.get("data_alias") else data_name
    fresh = f"__lakeml_predict_{k}"
    p_alias = table.alias or fresh
    manifest, data = _model(node.args["model"], lake, frames)
    if isinstance(data_node, exp.Subquery):
        source = _subquery_source(data_node, tree, lake, frames)
    else:
        source = _source(data_name, tree, lake, frames)
    schema = _schema(lake, source)
    decls = _decls(node)
    outputs = {d.name: f"__p{k}_{d.name}" for d in decls} if decls is not None else {
        o.name: f"__p{k}_{o.name}" for o in manifest.outputs}
    spec, plan = bind(manifest, data, schema, decls, on_null="error", auto_cast=False,
                      batch_size=batch_size_for(lake, None), rename=outputs)
    out = arrow_schema(result_schema(lake, plan, source, schema))
    frames[fresh] = lake.engine.map_batches(source, BatchScorer(spec), schema=out)
    select = table.find_ancestor(exp.Select)
    table.replace(exp.Table(this=exp.to_identifier(fresh), alias=exp.TableAlias(this=exp.to_identifier(p_alias))))
    if select is not None:
        _fix_columns(select, data_alias, p_alias, list(schema.names()), outputs)


def _rewrite_calls(select: exp.Select, calls: list[PredictCall], tree: exp.Expr, lake: EngineScoringContext[FrameT],
                   frames: dict[str, FrameT]) -> None:
    from lakeml.scoring.api import batch_size_for

    from_ = select.args.get("from_") or select.args.get("from")
    table = from_.this if from_ is not None else None
    if not isinstance(table, exp.Table) or select.args.get("joins") or not table.name:
        raise SQLError("PREDICT('alias', ...) needs a single table, view or CTE in FROM.",
                       hint="Join or filter in a CTE first, then SELECT PREDICT('alias', ...) FROM that CTE.")
    source = _source(table.name, tree, lake, frames)
    schema = _schema(lake, source)
    names = list(schema.names())
    lower = {n.lower(): n for n in names}
    k = next(_counter)
    qual = table.alias or table.name
    frame = source
    current = dict(schema)
    for i, call in enumerate(calls):
        bound, cols = call_columns(lake, call, names, lower)
        bound.check_arity(len(cols))
        feed = tuple(zip(bound.inputs, cols, strict=True))
        inputs = pl.Schema({inp: schema[c] for inp, c in feed})
        spec, _plan = bind(bound.model.manifest, bound.model.onnx_bytes(), inputs, [OutputDecl(bound.output, None)],
                           on_null=bound.on_null, auto_cast=bound.auto_cast, batch_size=batch_size_for(lake, None),
                           rename={bound.output: RESULT}, element=bound.index)
        internal = f"__b{k}_{i}"
        current[internal] = bound.dtype
        frame = lake.engine.map_batches(frame, BatchScorer(spec, feed, internal, bound.dtype, bound.alias),
                                        schema=arrow_schema(pl.Schema(current)))
        new: exp.Expr = exp.column(internal, table=qual)
        if isinstance(call.parent, exp.Select):
            new = exp.alias_(new, "predict")
        call.replace(new)
    fresh = f"__lakeml_bound_{k}"
    frames[fresh] = frame
    table.replace(exp.Table(this=exp.to_identifier(fresh), alias=exp.TableAlias(this=exp.to_identifier(qual))))
    for star in [s for s in select.expressions if isinstance(s, exp.Star)]:
        _replace_star(star, [exp.column(n, table=qual) for n in names])
