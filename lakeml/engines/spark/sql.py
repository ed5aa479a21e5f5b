"""Lake SQL on Spark: parsed once with sqlglot (the lake dialect), written out as Spark SQL.

The same front end as on Polars (parameters, TOP, OPENROWSET and table functions, catalog tables,
built-in views, both PREDICT forms); what differs is where the sources come from (Spark
DataFrames registered as temporary views under fresh names) and the dialect the tree is written in.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Mapping
from typing import Any

import polars as pl
from sqlglot import exp

from lakeml.errors import ColumnNotFoundError, LakeMLError, SQLError, TableNotFoundError, choices_hint
from lakeml.sql.engine import _check_limits, _register_tables
from lakeml.sql.nodes import PredictCall, PredictTable
from lakeml.sql.params import bind_params
from lakeml.sql.parse import parse_query
from lakeml.sql.sources import rewrite_sources

_views = itertools.count(1)


@functools.lru_cache(maxsize=256)
def _parsed(query: str) -> exp.Query:
    return parse_query(query)


def execute(engine: Any, lake: Any, query: str, params: Mapping[str, Any] | None = None) -> Any:
    """Run a lake SQL query on Spark; returns a Spark DataFrame (analysed, so bad names fail here)."""
    tree: exp.Expr = _parsed(query).copy()
    tree = bind_params(tree, params)
    _check_limits(tree)
    frames: dict[str, Any] = {}
    rewrite_sources(tree, lake, frames)
    _register_tables(tree, lake, frames)
    for name, frame in list(frames.items()):
        frames[name] = engine.to_spark(frame)
    if tree.find(PredictTable, PredictCall) is not None:
        from lakeml.engines.spark.predict_sql import rewrite

        tree = rewrite(tree, engine, lake, frames)
    return run(engine.spark, tree, frames)


def run(spark: Any, tree: exp.Expr, frames: dict[str, Any]) -> Any:
    """Register ``frames`` as fresh temporary views, run ``tree`` as Spark SQL, drop the views."""
    ctes = {cte.alias_or_name for cte in tree.find_all(exp.CTE)}
    views = {name: f"__lakeml_v{next(_views)}_{_safe(name)}" for name in frames}
    for table in tree.find_all(exp.Table):
        if isinstance(table.this, exp.Identifier) and table.name in views and table.name not in ctes:
            alias = table.alias or table.name
            table.set("this", exp.to_identifier(views[table.name]))
            if not table.args.get("alias"):
                table.set("alias", exp.TableAlias(this=exp.to_identifier(alias)))
    for node in tree.find_all(exp.DataType):
        if node.is_type(exp.DType.BIT):  # lakeml's (T-SQL's) name for bool
            node.replace(exp.DataType.build("BOOLEAN"))
    text = tree.sql(dialect="spark")
    for name, view in views.items():
        frames[name].createOrReplaceTempView(view)
    try:
        return spark.sql(text)
    except Exception as exc:
        raise translate(exc, views, frames) from exc
    finally:
        for view in views.values():
            spark.catalog.dropTempView(view)


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c == "_" else "_" for c in name)[:40]


def translate(exc: Exception, views: Mapping[str, str], frames: Mapping[str, Any]) -> LakeMLError:
    """A Spark analysis error as the lakeml error the Polars engine raises for the same mistake."""
    condition = ""
    getter = getattr(exc, "getCondition", None) or getattr(exc, "getErrorClass", None)
    if callable(getter):
        condition = str(getter() or "")
    text = str(exc).splitlines()[0][:400] if str(exc) else type(exc).__name__
    for name, view in views.items():
        text = text.replace(f"`{view}`", f"`{name}`").replace(view, name)
    if condition.startswith("UNRESOLVED_COLUMN"):
        params: dict[str, Any] = getattr(exc, "getMessageParameters", dict)() or {}
        column = str(params.get("objectName", "")).strip("`").split("`.`")[-1]
        available = sorted({c for f in frames.values() for c in f.columns})
        return ColumnNotFoundError(f"No column named {column!r} in the query's tables.",
                                   hint=choices_hint(column, available, kind="column"))
    if condition.startswith("TABLE_OR_VIEW_NOT_FOUND"):
        return TableNotFoundError(f"Spark could not resolve a table: {text}", hint="Check the table name.")
    if "PARSE_SYNTAX_ERROR" in condition:
        return SQLError(f"Spark SQL cannot run this query as written for it: {text}",
                        hint="This construct may have no Spark SQL equivalent; rewrite it in standard SQL.")
    return SQLError(f"Spark could not run the query: {text}", hint="Check the query against the tables' columns.")


def frame_from_polars(spark: Any, frame: pl.LazyFrame | pl.DataFrame) -> Any:
    """A (small) Polars frame, such as a built-in registry view, as a Spark DataFrame."""
    from lakeml.engines.spark.types import spark_schema

    df = frame.collect() if isinstance(frame, pl.LazyFrame) else frame
    struct = spark_schema(df.schema)
    if df.height == 0:
        return spark.createDataFrame([], struct)
    from lakeml.engines.spark.types import arrow_schema

    return spark.createDataFrame(df.to_arrow().cast(arrow_schema(struct)), struct)


def no_such_table(name: str, lake: Any) -> TableNotFoundError:
    """The did-you-mean error for an unknown table."""
    return TableNotFoundError(f"No table named {name!r} in the lake.",
                              hint=choices_hint(name, lake.tables(), kind="table"))


__all__ = ["execute", "frame_from_polars", "run", "translate"]
