"""Running a LakeSQL tree on an engine object: each frame under a name unique to the run, in the engine's dialect.

Shared by :mod:`lakeml.sql.on_engine` (whole queries) and :mod:`lakeml.sql.predict_engine` (the
CTEs and DATA subqueries PREDICT reads).
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping

import polars as pl
import sqlglot
from sqlglot import exp

from lakeml.context import FrameT, LakeContext
from lakeml.engines.base import Engine
from lakeml.sql.dialect import LakeSQL

__all__ = ["polars_schema", "run", "run_text"]

_names = itertools.count(1)


def run(engine: Engine[FrameT], tree: exp.Expr, frames: Mapping[str, FrameT]) -> FrameT:
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


def run_text(lake: LakeContext[FrameT], sql: str, frames: Mapping[str, FrameT]) -> FrameT:
    """Run LakeSQL text whose tables are all in ``frames`` (a CTE or DATA subquery of PREDICT)."""
    return run(lake.engine, sqlglot.parse_one(sql, dialect=LakeSQL), frames)


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c == "_" else "_" for c in name)[:40]


def polars_schema(lake: LakeContext[FrameT], frame: FrameT) -> pl.Schema:
    """An engine frame's columns as a Polars schema (what PREDICT binding reads)."""
    from lakeml.scoring.on_engine import arrow_to_polars_schema

    return arrow_to_polars_schema(lake.engine.schema(frame))
