"""Lake SQL on an engine object (Spark today): parsed once as LakeSQL, written in the engine's dialect.

The front end is the Polars path's own (parameters, TOP, OPENROWSET and table functions, catalog
tables, built-in views, both PREDICT forms); the sources are engine frames, registered under
names unique to the query (an engine's views may be session-wide), and the tree is written in
``engine.sql_dialect`` and run with ``engine.sql``.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

from sqlglot import exp

from lakeml.sql.dml import execute_dml
from lakeml.sql.engine import _check_limits, _register_tables
from lakeml.sql.engine_run import run
from lakeml.sql.nodes import PredictCall, PredictTable
from lakeml.sql.params import bind_params
from lakeml.sql.parse import parse_query
from lakeml.sql.sources import rewrite_sources

__all__ = ["execute"]



@functools.lru_cache(maxsize=256)
def _parsed(query: str) -> exp.Query:
    return parse_query(query)


def execute(lake: Any, query: str, params: Mapping[str, Any] | None = None) -> Any:
    """Run a lake SQL query on ``lake.engine``; returns the engine's frame (bad names fail here).

    A statement that writes runs as on the Polars path (:mod:`lakeml.sql.dml`); its ``rows_affected``
    row comes back as an engine frame.
    """
    engine = lake.engine
    written = execute_dml(lake, query, params)
    if written is not None:
        return engine.from_data(written)
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
