"""Rewriting both SQL PREDICT forms into plain Polars SQL over pre-scored frames.

Table form: ``FROM PREDICT(MODEL = ..., DATA = t AS d) WITH (...) AS p`` becomes ``FROM <fresh> AS p``
where ``<fresh>`` is registered in ``frames`` as DATA (a table, view, CTE, or a ``(SELECT ...)``
read like a CTE) streamed through the model (DATA columns, then
the outputs under internal names); references to ``d.x`` / ``p.label`` / ``d.*`` / ``p.*`` / ``*`` in
the enclosing SELECT are rewritten to match. Bound form: ``PREDICT('alias', c1, c2)`` becomes a column
of a fresh frame that is the FROM source plus ``m.expr(c1, c2)``.
"""

from __future__ import annotations

import itertools
from typing import TYPE_CHECKING, Any

import polars as pl
from sqlglot import exp

from lakeml.errors import PredictError, SQLError
from lakeml.registry.manifest import Manifest, inspect_onnx, sha256_hex
from lakeml.scoring.api import batch_size_for
from lakeml.scoring.kernels import get_kernel
from lakeml.scoring.plan import ScoringPlan
from lakeml.scoring.session import default_threads
from lakeml.scoring.types import OutputDecl, parse_sql_type
from lakeml.sql.dialect import LakeSQL
from lakeml.sql.nodes import PredictCall, PredictTable

if TYPE_CHECKING:
    from lakeml.registry.context import RegistryContext
    from lakeml.scoring.bound import BoundModel, BoundModelsContext, ScoringContext

_counter = itertools.count(1)


def rewrite(tree: exp.Expr, lake: ScoringContext, frames: dict[str, pl.LazyFrame]) -> exp.Expr:
    """Replace every PREDICT in ``tree``; scored frames are added to ``frames`` under fresh names.

    Raises:
        PredictError: model binding, type or output errors (before any row is scored).
        SQLError: a PREDICT form lakeml cannot run (bad RUNTIME, unbound parameter, ...).
    """
    # Innermost first: a PREDICT inside a DATA subquery (or a CTE) is a plain frame by the time
    # the PREDICT around it reads that subquery.
    for node in reversed(list(tree.find_all(PredictTable))):
        _rewrite_table(node, tree, lake, frames)
    for select in reversed(list(tree.find_all(exp.Select))):
        calls = [c for c in select.find_all(PredictCall) if c.find_ancestor(exp.Select) is select]
        if calls:
            _rewrite_calls(select, calls, tree, lake, frames)
    return tree


# ---- resolving DATA and MODEL --------------------------------------------------------------------
def _cte_sql(tree: exp.Expr, name: str) -> str | None:
    """``WITH <ctes up to name> SELECT * FROM name`` when ``name`` is a CTE of ``tree``."""
    with_ = tree.args.get("with_") or tree.args.get("with")
    if not with_:
        return None
    ctes = []
    for cte in with_.expressions:
        ctes.append(cte)
        if cte.alias_or_name.lower() == name.lower():
            head = "WITH " + ", ".join(c.sql(dialect=LakeSQL) for c in ctes)
            return f"{head} SELECT * FROM {exp.to_identifier(cte.alias_or_name).sql(dialect=LakeSQL)}"
    return None


def _source(name: str, tree: exp.Expr, lake: ScoringContext, frames: dict[str, pl.LazyFrame]) -> pl.LazyFrame:
    cte = _cte_sql(tree, name)
    if cte is not None:
        return lake.sql(cte) if not _frames_only(frames, cte) else lake.engine.sql(cte, frames=frames)
    if name in frames:
        return frames[name]
    views = lake.builtin_views()
    if name in views:
        return views[name]()
    return lake.table(name)


def _subquery_source(node: exp.Subquery, tree: exp.Expr, lake: ScoringContext,
                     frames: dict[str, pl.LazyFrame]) -> pl.LazyFrame:
    """DATA = (SELECT ...): run like a CTE, with the query's CTEs (those before the one it is in) in scope."""
    from lakeml.sql.errors import wrap_polars_error

    with_ = tree.args.get("with_") or tree.args.get("with")
    ctes: list[exp.Expr] = []
    if with_:
        for cte in with_.expressions:
            if node.find_ancestor(exp.CTE) is cte:
                break
            ctes.append(cte)
    head = ("WITH " + ", ".join(c.sql(dialect=LakeSQL) for c in ctes) + " ") if ctes else ""
    sql = head + node.this.sql(dialect=LakeSQL)
    if not _frames_only(frames, sql):
        return lake.sql(sql)
    try:
        source = lake.engine.sql(sql, frames=frames)
    except Exception as exc:
        raise wrap_polars_error(exc, lake=lake, what="reading the PREDICT DATA query", frames=frames) from exc
    return source


def _frames_only(frames: dict[str, pl.LazyFrame], sql: str) -> bool:
    """True when every table the SQL reads is already a registered frame."""
    import sqlglot

    names = {t.name for t in sqlglot.parse_one(sql, dialect=LakeSQL).find_all(exp.Table)}
    ctes = {c.alias_or_name for c in sqlglot.parse_one(sql, dialect=LakeSQL).find_all(exp.CTE)}
    return all(n in frames or n in ctes for n in names)


def _model(node: exp.Expr, lake: ScoringContext) -> tuple[Manifest, bytes]:
    if isinstance(node, exp.Subquery):
        value = lake.sql(node.this.sql(dialect=LakeSQL)).collect()
        if value.shape != (1, 1):
            raise SQLError(f"The PREDICT MODEL subquery returned {value.height} row(s) and {value.width} "
                           "column(s); it must return exactly one value.",
                           hint="Select one column (model) and filter to one row (name and version).")
        item = value.item()
        if isinstance(item, str):
            mv = lake.models.get(item)
            return mv.manifest, mv.onnx_bytes()
        if isinstance(item, bytes | bytearray):
            return _inline_manifest(bytes(item), lake), bytes(item)
        raise SQLError(f"The PREDICT MODEL subquery returned a {value.dtypes[0]} value.",
                       hint="Return the ONNX bytes (the 'model' column of the models view) or a reference string.")
    return named_model(node, lake)


def named_model(node: exp.Expr, lake: RegistryContext) -> tuple[Manifest, bytes]:
    """The model a PREDICT MODEL reference string names (anything but a subquery; the errors for the rest)."""
    if isinstance(node, exp.Literal) and node.is_string:
        mv = lake.models.get(node.name)
        return mv.manifest, mv.onnx_bytes()
    if isinstance(node, exp.Parameter | exp.Placeholder):
        raise SQLError(f"PREDICT MODEL = {node.sql(dialect=LakeSQL)} is an unbound parameter.",
                       hint="Bind it, e.g. [[lake.sql(q, params={'m': 'churn@champion'})|--param m=churn@champion]].")
    raise SQLError(f"PREDICT MODEL = {node.sql(dialect=LakeSQL)} is not a model.",
                   hint="Use a reference string ('churn:3'), a parameter, or (SELECT model FROM models WHERE ...).")


def _inline_manifest(data: bytes, lake: RegistryContext) -> Manifest:
    """The registry manifest for these bytes, or an ad-hoc one for bytes kept in a user table."""
    digest = sha256_hex(data)
    reg = lake.models
    for row in reg.list().filter(pl.col("sha256") == digest).iter_rows(named=True):
        return reg.get(f"{row['name']}:{row['version']}").manifest
    inputs, outputs, opset, producer = inspect_onnx(data)
    return Manifest(name="inline", version=0, sha256=digest, created="", inputs=inputs, outputs=outputs,
                    opset=opset, producer=producer, size_bytes=len(data))


def _decls(node: PredictTable) -> list[OutputDecl] | None:
    cols = node.args.get("columns")
    if not cols:
        return None
    out = []
    for col in cols:
        text = col.args["kind"].sql(dialect=LakeSQL)
        not_null = any(isinstance(c.args.get("kind"), exp.NotNullColumnConstraint)
                       for c in col.args.get("constraints") or [])
        out.append(OutputDecl(col.name, parse_sql_type(text), not_null, text))
    return out


# ---- table form ------------------------------------------------------------------------------------
def _rewrite_table(node: PredictTable, tree: exp.Expr, lake: ScoringContext, frames: dict[str, pl.LazyFrame]) -> None:
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
    manifest, data = _model(node.args["model"], lake)
    if isinstance(data_node, exp.Subquery):
        source = _subquery_source(data_node, tree, lake, frames)
    else:
        source = _source(data_name, tree, lake, frames)
    schema = source.collect_schema()
    decls = _decls(node)
    session = get_kernel(data, threads=default_threads(getattr(lake, "config", None)), sha256=manifest.sha256)
    outputs = {d.name: f"__p{k}_{d.name}" for d in decls} if decls is not None else {
        o.name: f"__p{k}_{o.name}" for o in manifest.outputs}
    plan = ScoringPlan(manifest, session, schema, decls, batch_size=batch_size_for(lake, None),
                       rename=lambda n: outputs[n], check_collisions=False)
    out_schema: dict[str, Any] = dict(schema)
    static: dict[str, Any] = plan.output_schema()
    if any(v is None for v in static.values()):
        probe = plan.score_frame(source.head(64).collect())
        static = {c: probe.schema[c] for c in static}
    out_schema.update(static)

    def run(df: pl.DataFrame) -> pl.DataFrame:
        return plan.score_frame(df)

    frames[fresh] = source.map_batches(run, schema=pl.Schema(out_schema), streamable=True)
    select = table.find_ancestor(exp.Select)
    table.replace(exp.Table(this=exp.to_identifier(fresh), alias=exp.TableAlias(this=exp.to_identifier(p_alias))))
    if select is not None:
        _fix_columns(select, data_alias, p_alias, list(schema.names()), outputs)


def _aliased(col: exp.Expr, internal: str, shown: str, p_alias: str) -> exp.Expr:
    new = exp.column(internal, table=p_alias)
    return exp.alias_(new, shown) if isinstance(col.parent, exp.Select) and col.arg_key == "expressions" else new


def _fix_columns(select: exp.Select, d_alias: str, p_alias: str, data_cols: list[str],
                 outputs: dict[str, str]) -> None:
    lower_out = {k.lower(): (k, v) for k, v in outputs.items()}
    lower_data = {c.lower() for c in data_cols}
    others = [t for t in select.find_all(exp.Table) if t.find_ancestor(exp.Select) is select
              and t.alias_or_name != p_alias]
    for col in list(select.find_all(exp.Column)):
        if col.find_ancestor(exp.Select) is not select:
            continue
        qual = col.table
        if isinstance(col.this, exp.Star):
            if qual.lower() == d_alias.lower():
                _replace_star(col, [exp.column(c, table=p_alias) for c in data_cols])
            elif qual.lower() == p_alias.lower():
                _replace_star(col, [exp.alias_(exp.column(v, table=p_alias), k) for k, v in outputs.items()])
            continue
        name = col.name
        if qual and qual.lower() == d_alias.lower():
            col.set("table", exp.to_identifier(p_alias))
        elif (qual.lower() == p_alias.lower() or not qual) and name.lower() in lower_out and (
                qual or name.lower() not in lower_data):
            _shown, internal = lower_out[name.lower()]
            col.replace(_aliased(col, internal, name, p_alias))
    for star in [s for s in select.expressions if isinstance(s, exp.Star)]:
        items: list[exp.Expr] = [exp.column(c, table=p_alias) for c in data_cols]
        items += [exp.alias_(exp.column(v, table=p_alias), k) for k, v in outputs.items()]
        items += [exp.Column(this=exp.Star(), table=exp.to_identifier(t.alias_or_name)) for t in others]
        _replace_star(star, items)


def _replace_star(node: exp.Expr, items: list[exp.Expr]) -> None:
    select = node.parent
    if not isinstance(select, exp.Select):
        raise SQLError("A star over PREDICT output is only supported in the SELECT list.",
                       hint="List the columns you need.")
    exprs = list(select.expressions)
    i = next(i for i, e in enumerate(exprs) if e is node)
    select.set("expressions", [*exprs[:i], *items, *exprs[i + 1:]])


# ---- bound-model form -----------------------------------------------------------------------------
def _rewrite_calls(select: exp.Select, calls: list[PredictCall], tree: exp.Expr, lake: ScoringContext,
                   frames: dict[str, pl.LazyFrame]) -> None:

    from_ = select.args.get("from_") or select.args.get("from")
    table = from_.this if from_ is not None else None
    if not isinstance(table, exp.Table) or select.args.get("joins") or not table.name:
        raise SQLError("PREDICT('alias', ...) needs a single table, view or CTE in FROM.",
                       hint="Join or filter in a CTE first, then SELECT PREDICT('alias', ...) FROM that CTE.")
    source = _source(table.name, tree, lake, frames)
    schema = source.collect_schema()
    names = list(schema.names())
    lower = {n.lower(): n for n in names}
    exprs: list[pl.Expr] = []
    k = next(_counter)
    qual = table.alias or table.name
    for i, call in enumerate(calls):
        bound, cols = call_columns(lake, call, names, lower)
        bound.check_arity(len(cols))
        internal = f"__b{k}_{i}"
        exprs.append(bound.expr(*cols).alias(internal))
        new: exp.Expr = exp.column(internal, table=qual)
        if isinstance(call.parent, exp.Select):
            new = exp.alias_(new, "predict")
        call.replace(new)
    fresh = f"__lakeml_bound_{k}"
    frames[fresh] = source.with_columns(exprs)
    table.replace(exp.Table(this=exp.to_identifier(fresh), alias=exp.TableAlias(this=exp.to_identifier(qual))))
    stars = [s for s in select.expressions if isinstance(s, exp.Star)]
    for star in stars:
        _replace_star(star, [exp.column(n, table=qual) for n in names])


__all__ = ["rewrite"]


def call_columns(lake: BoundModelsContext, call: PredictCall, names: list[str],
                 lower: dict[str, str]) -> tuple[BoundModel, list[str]]:
    """The bound model of a PREDICT call and the input columns its arguments name (``*``: every column).

    Raises:
        SQLError: an argument is not a plain column.
        PredictError: an argument names a column the source does not have.
    """
    from lakeml.scoring.bound import bound_model

    bound = bound_model(lake, call.alias_name)
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
    return bound, cols
