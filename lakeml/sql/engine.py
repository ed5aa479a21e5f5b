"""Running lake SQL: parse with sqlglot, bind parameters, rewrite lake forms, plan with Polars SQL.

The result is a Polars ``LazyFrame`` whose plan already resolved (unknown tables and columns fail
here, not at ``collect()``); pushdown of projections and filters into the scans is Polars' own.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import polars as pl
from sqlglot import exp

from lakeml.errors import LakeMLError, SQLError, TableNotFoundError, choices_hint
from lakeml.sql.dialect import LakeSQL
from lakeml.sql.dml import execute_dml
from lakeml.sql.errors import wrap_polars_error
from lakeml.sql.nodes import PredictCall, PredictTable
from lakeml.sql.params import bind_params
from lakeml.sql.parse import parse_query
from lakeml.sql.sources import rewrite_sources
from lakeml.sql.tables import table_frame

if TYPE_CHECKING:
    from lakeml.context import LakeContext
    from lakeml.scoring.bound import ScoringContext

__all__ = ["execute", "prepare"]

_SCHEMAS = {"dbo"}  # T-SQL's default schema: `dbo.t` means lake table `t`


def execute(lake: ScoringContext, query: str, params: Mapping[str, Any] | None = None) -> pl.LazyFrame:
    """Run a lake SQL query lazily; this is what ``Lake.sql`` calls.

    Args:
        lake: the :class:`~lakeml.session.Lake` whose tables are in scope.
        query: one read-only query in the lake dialect (:mod:`lakeml.sql.dialect`).
        params: values for ``@name`` / ``:name`` parameters, bound as literals.

    Returns:
        A ``LazyFrame``; call ``.collect()`` (or ``.collect(engine="streaming")``) to run it.

    Raises:
        SQLSyntaxError: invalid SQL (with line and column).
        TableNotFoundError: an unknown table (with a did-you-mean).
        ColumnNotFoundError: an unknown column (with a did-you-mean).
        SQLError: anything else the query cannot do (several statements, missing params,
            unsupported writes).

    A writing statement (CREATE TABLE, SELECT ... INTO, INSERT, DROP TABLE, MERGE) runs now, as one
    table commit, and returns a one-row frame ``rows_affected`` (:mod:`lakeml.sql.dml`).

    >>> lake.sql("SELECT TOP 5 name, SUM(amount) AS total FROM sales WHERE year = @y GROUP BY name",
    ...          params={"y": 2024}).collect()   # doctest: +SKIP
    """
    written = execute_dml(lake, query, params)
    if written is not None:
        return written
    sql, frames, aliases = prepare(lake, query, params)
    try:
        frame = lake.engine.sql(sql, frames=frames)  # resolves now: unknown columns fail at lake.sql() time
    except Exception as exc:
        raise wrap_polars_error(exc, lake=lake, frames=frames, aliases=aliases) from exc
    return frame


def prepare(lake: ScoringContext, query: str, params: Mapping[str, Any] | None = None
            ) -> tuple[str, dict[str, pl.LazyFrame], dict[str, str]]:
    """The Polars SQL text, the frames it reads (by name) and the table aliases of ``query``."""
    parsed = _parsed(query) if isinstance(query, str) else parse_query(query)
    tree: exp.Expr = parsed.copy()  # the rewrites below change the tree in place
    tree = bind_params(tree, params)
    _check_limits(tree)
    frames: dict[str, pl.LazyFrame] = {}
    rewrite_sources(tree, lake, frames)
    _register_tables(tree, lake, frames)
    tree = _rewrite_predict(tree, lake, frames)
    aliases = {t.alias: t.name for t in tree.find_all(exp.Table) if t.alias and isinstance(t.this, exp.Identifier)}
    return tree.sql(dialect=LakeSQL, copy=False), frames, aliases


@functools.lru_cache(maxsize=256)
def _parsed(query: str) -> exp.Query:
    # Dashboards and pipelines send the same text again and again; parsing is most of our cost.
    return parse_query(query)


def _check_limits(tree: exp.Expr) -> None:
    for limit in tree.find_all(exp.Limit):
        options = limit.args.get("limit_options")
        if options is not None and options.args.get("percent"):
            raise SQLError("TOP ... PERCENT is not supported.",
                           hint="Use TOP n (a row count), or sample with a WHERE on a random value.")
        if options is not None and options.args.get("with_ties"):
            raise SQLError("TOP ... WITH TIES is not supported.",
                           hint="Use RANK() OVER (ORDER BY ...) <= n in a QUALIFY clause.")


def _register_tables(tree: exp.Expr, lake: LakeContext[pl.LazyFrame], frames: dict[str, pl.LazyFrame]) -> None:
    """Register each catalog table / built-in view the query names (CTE names excluded)."""
    ctes = {cte.alias_or_name for cte in tree.find_all(exp.CTE)}
    builtins: dict[str, Callable[[], pl.LazyFrame]] | None = None
    for table in tree.find_all(exp.Table):
        if not isinstance(table.this, exp.Identifier):
            continue
        _strip_schema(table)
        name = table.name
        if name in frames or name in ctes:
            continue
        try:
            frames[name] = table_frame(lake, name)
            continue
        except TableNotFoundError:
            if builtins is None:
                builtins = _builtin_views(lake)
            if name not in builtins:
                raise TableNotFoundError(
                    f"No table named {name!r} in the lake.",
                    hint=choices_hint(name, [*_table_names(lake), *builtins, *ctes], kind="table"),
                ) from None
        frames[name] = builtins[name]()


def _strip_schema(table: exp.Table) -> None:
    db, catalog = table.text("db"), table.text("catalog")
    if catalog or (db and db.lower() not in _SCHEMAS):
        qualified = ".".join(p for p in (catalog, db, table.name) if p)
        raise SQLError(f"The table name {qualified!r} has a schema; lake tables have one-part names.",
                       hint=f"Write FROM {table.name} (the schema 'dbo' is accepted and ignored).")
    if db:
        table.set("db", None)


def _builtin_views(lake: LakeContext[pl.LazyFrame]) -> dict[str, Callable[[], pl.LazyFrame]]:
    return dict(lake.builtin_views())


def _table_names(lake: LakeContext[pl.LazyFrame]) -> list[str]:
    try:
        return list(lake.tables())
    except LakeMLError:  # the listing failed (storage): the hint is best effort, the error raised matters more
        return []


def _rewrite_predict(tree: exp.Expr, lake: ScoringContext, frames: dict[str, pl.LazyFrame]) -> exp.Expr:
    if tree.find(PredictTable, PredictCall) is None:
        return tree
    from lakeml.sql.predict import rewrite  # here: it loads the scoring stack, which plain SQL never needs

    rewritten: exp.Expr = rewrite(tree, lake, frames)
    if rewritten.find(PredictTable, PredictCall) is not None:
        raise SQLError("A PREDICT in this query could not be run (it is in a place PREDICT is not "
                       "supported).", hint="Use PREDICT in the FROM clause, or as a column expression.")
    return rewritten
