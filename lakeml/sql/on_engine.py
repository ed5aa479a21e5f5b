"""Lake SQL on an engine object (Spark today): parsed once as LakeSQL, written in the engine's dialect.

The front end is the Polars path's own (parameters, TOP, OPENROWSET and table functions, catalog
tables, built-in views, both PREDICT forms); the sources are engine frames, registered under
names unique to the query (an engine's views may be session-wide), and the tree is written in
``engine.sql_dialect`` and run with ``engine.sql``.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import polars as pl
from sqlglot import exp

from lakeml.engines.base import unsupported
from lakeml.sql.dml import is_write
from lakeml.sql.engine import _check_limits, _register_tables
from lakeml.sql.engine_run import run
from lakeml.sql.nodes import PredictCall, PredictTable
from lakeml.sql.params import bind_params
from lakeml.sql.parse import parse_query
from lakeml.sql.sources import rewrite_sources

if TYPE_CHECKING:
    from lakeml.scoring.bound import ScoringContext

__all__ = ["execute"]



@functools.lru_cache(maxsize=256)
def _parsed(query: str) -> exp.Query:
    return parse_query(query)


def execute(lake: ScoringContext, query: str, params: Mapping[str, Any] | None = None) -> pl.LazyFrame:
    """Run a lake SQL query on ``lake.engine``; returns the engine's frame (bad names fail here).

    Typed as the session is (``Lake.engine`` is an ``Engine[pl.LazyFrame]``): the front end it shares
    with the Polars path (sources, catalog tables) is; PREDICT and the run itself are generic in the
    engine's frame type (:mod:`lakeml.sql.predict_engine`, :mod:`lakeml.sql.engine_run`).
    """
    engine = lake.engine
    if not engine.capabilities.sql_writes and is_write(query):
        unsupported(engine.name, "SQL that writes (CREATE TABLE AS, INSERT, DROP TABLE, MERGE)",
                    hint="Run the statement on the Polars engine, which shares the lake: "
                         "[[lakeml.connect(root).sql(statement)|lakeml --backend polars sql STATEMENT]]"
                         "[[; or write a query's result with lake.write(table, lake.sql('SELECT ...'))|]].")
    tree: exp.Expr = _parsed(query).copy()
    tree = bind_params(tree, params)
    _check_limits(tree)
    frames: dict[str, pl.LazyFrame] = {}
    rewrite_sources(tree, lake, frames)
    _register_tables(tree, lake, frames)
    for name, frame in list(frames.items()):
        frames[name] = engine.from_data(frame)  # built-in views are Polars frames
    if tree.find(PredictTable, PredictCall) is not None:
        from lakeml.sql.predict_engine import rewrite

        tree = rewrite(tree, lake, frames)
    return run(engine, tree, frames)
