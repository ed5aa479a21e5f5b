"""Both SQL PREDICT forms on Spark: the same rewrite as on Polars, over ``mapInArrow``-scored frames.

The tree surgery (which columns ``d.*``, ``p.label`` or ``*`` become) is the Polars engine's own
(:mod:`lakeml.sql.predict`); only the scored frames are Spark DataFrames here.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any

import polars as pl
import sqlglot
from sqlglot import exp

from lakeml.errors import LakeMLError, PredictError, SQLError
from lakeml.registry.manifest import Manifest
from lakeml.scoring.types import safe_cast
from lakeml.sql.dialect import LakeSQL
from lakeml.sql.nodes import PredictCall, PredictTable
from lakeml.sql.predict import _cte_sql, _decls, _fix_columns, _inline_manifest, _replace_star

_counter = itertools.count(1)
_RESULT = "__lakeml_predict"


def rewrite(tree: exp.Expr, engine: Any, lake: Any, frames: dict[str, Any]) -> exp.Expr:
    """Replace every PREDICT in ``tree`` by a scored Spark frame registered in ``frames``."""
    for node in reversed(list(tree.find_all(PredictTable))):
        _rewrite_table(node, tree, engine, lake, frames)
    for select in reversed(list(tree.find_all(exp.Select))):
        calls = [c for c in select.find_all(PredictCall) if c.find_ancestor(exp.Select) is select]
        if calls:
            _rewrite_calls(select, calls, tree, engine, lake, frames)
    if tree.find(PredictTable, PredictCall) is not None:
        raise SQLError("A PREDICT in this query could not be run (it is in a place PREDICT is not supported).",
                       hint="Use PREDICT in the FROM clause, or as a column expression.")
    return tree


def _run(engine: Any, sql: str, frames: dict[str, Any]) -> Any:
    from lakeml.engines.spark.sql import run

    return run(engine.spark, sqlglot.parse_one(sql, dialect=LakeSQL), dict(frames))


def _source(name: str, tree: exp.Expr, engine: Any, lake: Any, frames: dict[str, Any]) -> Any:
    cte = _cte_sql(tree, name)
    if cte is not None:
        return _run(engine, cte, frames)
    if name in frames:
        return frames[name]
    views = lake._builtin_views()
    if name in views:
        return engine.to_spark(views[name]())
    return lake.table(name)


def _subquery_source(node: exp.Subquery, tree: exp.Expr, engine: Any, frames: dict[str, Any]) -> Any:
    with_ = tree.args.get("with_") or tree.args.get("with")
    ctes: list[exp.Expr] = []
    if with_:
        for cte in with_.expressions:
            if node.find_ancestor(exp.CTE) is cte:
                break
            ctes.append(cte)
    head = ("WITH " + ", ".join(c.sql(dialect=LakeSQL) for c in ctes) + " ") if ctes else ""
    return _run(engine, head + node.this.sql(dialect=LakeSQL), frames)


def _model(node: exp.Expr, engine: Any, lake: Any, frames: dict[str, Any]) -> tuple[Manifest, bytes]:
    if isinstance(node, exp.Subquery):
        rows = _run(engine, node.this.sql(dialect=LakeSQL), frames).limit(2).collect()
        if len(rows) != 1 or len(rows[0]) != 1:
            width = len(rows[0]) if rows else 0
            raise SQLError(f"The PREDICT MODEL subquery returned {len(rows)} row(s) and {width} column(s); it must "
                           "return exactly one value.",
                           hint="Select one column (model) and filter to one row (name and version).")
        item = rows[0][0]
        if isinstance(item, bytes | bytearray):
            return _inline_manifest(bytes(item), lake), bytes(item)
        if isinstance(item, str):
            node = exp.Literal.string(item)
    from lakeml.sql.predict import _model as polars_model

    return polars_model(node, lake)  # a reference string, or the errors for anything else


def _rewrite_table(node: PredictTable, tree: exp.Expr, engine: Any, lake: Any, frames: dict[str, Any]) -> None:
    from lakeml.engines.spark.scoring import bind, map_scored, result_schema
    from lakeml.engines.spark.types import polars_schema

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
    manifest, data = _model(node.args["model"], engine, lake, frames)
    if isinstance(data_node, exp.Subquery):
        source = _subquery_source(data_node, tree, engine, frames)
    else:
        source = _source(data_name, tree, engine, lake, frames)
    schema = polars_schema(source.schema)
    decls = _decls(node)
    outputs = {d.name: f"__p{k}_{d.name}" for d in decls} if decls is not None else {
        o.name: f"__p{k}_{o.name}" for o in manifest.outputs}
    spec, plan = bind(manifest, data, schema, decls, on_null="error", auto_cast=False,
                      batch_size=engine.batch_size(lake), rename=outputs)
    frames[fresh] = map_scored(source, spec, result_schema(plan, source, schema))
    select = table.find_ancestor(exp.Select)
    table.replace(exp.Table(this=exp.to_identifier(fresh), alias=exp.TableAlias(this=exp.to_identifier(p_alias))))
    if select is not None:
        _fix_columns(select, data_alias, p_alias, list(schema.names()), outputs)


class BoundScorer:
    """``mapInArrow`` function of one bound call: the batch plus one scored column, by argument position."""

    def __init__(self, spec: Any, feed: tuple[tuple[str, str], ...], column: str, dtype: pl.DataType,
                 alias: str, target: Any) -> None:
        self.spec, self.feed, self.column, self.dtype = spec, feed, column, dtype
        self.alias, self.target = alias, target

    def __call__(self, batches: Iterator[Any]) -> Iterator[Any]:
        from lakeml.engines.spark.scoring import marked

        try:
            plan = self.spec.plan()
            for batch in batches:
                frame = pl.from_arrow(batch)
                assert isinstance(frame, pl.DataFrame)
                inputs = frame.select([pl.col(c).alias(i) for i, c in self.feed])
                out = plan.score_frame(inputs).get_column(_RESULT)
                if out.dtype != self.dtype:
                    out = safe_cast(out, self.dtype, what=f"PREDICT('{self.alias}') result")
                yield from frame.with_columns(out.alias(self.column)).to_arrow().cast(self.target).to_batches()
        except LakeMLError as exc:
            raise marked(exc) from None


def _rewrite_calls(select: exp.Select, calls: list[PredictCall], tree: exp.Expr, engine: Any, lake: Any,
                   frames: dict[str, Any]) -> None:
    from lakeml.engines.spark.scoring import bind
    from lakeml.engines.spark.types import arrow_schema, polars_schema, spark_schema

    from_ = select.args.get("from_") or select.args.get("from")
    table = from_.this if from_ is not None else None
    if not isinstance(table, exp.Table) or select.args.get("joins") or not table.name:
        raise SQLError("PREDICT('alias', ...) needs a single table, view or CTE in FROM.",
                       hint="Join or filter in a CTE first, then SELECT PREDICT('alias', ...) FROM that CTE.")
    source = _source(table.name, tree, engine, lake, frames)
    schema = polars_schema(source.schema)
    names = list(schema.names())
    lower = {n.lower(): n for n in names}
    k = next(_counter)
    qual = table.alias or table.name
    frame = source
    current = dict(schema)
    for i, call in enumerate(calls):
        bound = engine.bound(lake, call.alias_name)
        args = list(call.expressions)
        if len(args) == 1 and isinstance(args[0], exp.Star):
            cols = names
        else:
            cols = []
            for a in args:
                if not isinstance(a, exp.Column) or isinstance(a.this, exp.Star):
                    raise SQLError(f"PREDICT('{bound.alias}') argument {a.sql(dialect=LakeSQL)} is not a column.",
                                   hint="Compute expressions in a CTE and pass their column names.")
                if a.name.lower() not in lower:
                    raise PredictError(f"PREDICT('{bound.alias}') argument column {a.name!r} does not exist. "
                                       f"Available columns: {names}.", hint="Check the column name.")
                cols.append(lower[a.name.lower()])
        bound.check_arity(len(cols))
        feed = tuple(zip(bound.inputs, cols, strict=True))
        inputs = pl.Schema({inp: schema[c] for inp, c in feed})
        from lakeml.scoring.types import OutputDecl

        spec, _plan = bind(bound.model.manifest, bound.model.onnx_bytes(), inputs, [OutputDecl(bound.output, None)],
                           on_null=bound.on_null, auto_cast=bound.auto_cast, batch_size=engine.batch_size(lake),
                           rename={bound.output: _RESULT}, element=bound.index)
        internal = f"__b{k}_{i}"
        current[internal] = bound.dtype
        struct = spark_schema(pl.Schema(current))
        frame = frame.mapInArrow(BoundScorer(spec, feed, internal, bound.dtype, bound.alias, arrow_schema(struct)),
                                 struct)
        new: exp.Expr = exp.column(internal, table=qual)
        if isinstance(call.parent, exp.Select):
            new = exp.alias_(new, "predict")
        call.replace(new)
    fresh = f"__lakeml_bound_{k}"
    frames[fresh] = frame
    table.replace(exp.Table(this=exp.to_identifier(fresh), alias=exp.TableAlias(this=exp.to_identifier(qual))))
    for star in [s for s in select.expressions if isinstance(s, exp.Star)]:
        _replace_star(star, [exp.column(n, table=qual) for n in names])
