"""Lake SQL on an engine object (Spark today): parsed once as LakeSQL, written in the engine's dialect.

The front end is the Polars path's own (parameters, TOP, OPENROWSET and table functions, catalog
tables, built-in views, both PREDICT forms); the sources are engine frames, registered under
names unique to the query (an engine's views may be session-wide), and the tree is written in
``engine.sql_dialect`` and run with ``engine.sql``.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Mapping
from typing import Any

import polars as pl
import sqlglot
from sqlglot import exp

from lakeml.sql.dialect import LakeSQL
from lakeml.sql.engine import _check_limits, _register_tables
from lakeml.sql.nodes import PredictCall, PredictTable
from lakeml.sql.params import bind_params
from lakeml.sql.parse import parse_query
from lakeml.sql.sources import rewrite_sources

__all__ = ["execute", "run", "run_text"]

_names = itertools.count(1)


@functools.lru_cache(maxsize=256)
def _parsed(query: str) -> exp.Query:
    return parse_query(query)


def execute(lake: Any, query: str, params: Mapping[str, Any] | None = None) -> Any:
    """Run a lake SQL query on ``lake.engine``; returns the engine's frame (bad names fail here)."""
    engine = lake.engine
    tree: exp.Expr = _parsed(query).copy()
    tree = bind_params(tree, params)
    _check_limits(tree)
    frames: dict[str, Any] = {}
    rewrite_sources(tree, lake, frames)
    _register_tables(tree, lake, frames)
    for name, frame in list(frames.items()):
        frames[name] = engine.from_data(frame)  # built-in views are Polars frames
    if tree.find(PredictTable, PredictCall) is not None:
        from lakeml.sql.predict_engine import rewrite

        tree = rewrite(tree, lake, frames)
    return run(engine, tree, frames)


def run(engine: Any, tree: exp.Expr, frames: Mapping[str, Any]) -> Any:
    """Run ``tree`` over ``frames`` on the engine, each frame under a name unique to this run."""
    ctes = {cte.alias_or_name for cte in tree.find_all(exp.CTE)}
    unique = {name: f"__lakeml_q{next(_names)}_{_safe(name)}" for name in frames}
    for table in tree.find_all(exp.Table):
        if isinstance(table.this, exp.Identifier) and table.name in unique and table.name not in ctes:
            if not table.args.get("alias"):
                table.set("alias", exp.TableAlias(this=exp.to_identifier(table.name)))
            table.set("this", exp.to_identifier(unique[table.name]))
    for node in list(tree.find_all(exp.DataType)):
        if node.is_type(exp.DType.BIT):  # lakeml's (T-SQL's) name for bool
            node.replace(exp.DataType.build("BOOLEAN"))
    text = tree.sql(dialect=engine.sql_dialect)
    return engine.sql(text, frames={unique[name]: frame for name, frame in frames.items()})


def run_text(lake: Any, sql: str, frames: Mapping[str, Any]) -> Any:
    """Run LakeSQL text whose tables are all in ``frames`` (a CTE or DATA subquery of PREDICT)."""
    return run(lake.engine, sqlglot.parse_one(sql, dialect=LakeSQL), frames)


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c == "_" else "_" for c in name)[:40]


def polars_schema(lake: Any, frame: Any) -> pl.Schema:
    """An engine frame's columns as a Polars schema (what PREDICT binding reads)."""
    from lakeml.scoring.on_engine import arrow_to_polars_schema

    return arrow_to_polars_schema(lake.engine.schema(frame))
