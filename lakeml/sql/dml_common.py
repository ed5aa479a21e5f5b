"""What writing statements share: target table names and formats, the query part, SQL's numeric widening.

Used by :mod:`lakeml.sql.dml` and :mod:`lakeml.sql.merge_sql`. The query part of a statement runs
through ``lake.sql`` (the ordinary read path), so this module never imports the SQL engine.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import polars as pl
from sqlglot import exp

from lakeml.errors import LakeMLError, SQLError, TableNotFoundError, choices_hint
from lakeml.query.formats import committed_table_format
from lakeml.query.names import TABLES_DIR, validate_name
from lakeml.query.schema_match import widens
from lakeml.sql.dialect import LakeSQL

if TYPE_CHECKING:
    from lakeml.scoring.bound import ScoringContext as Writer  # what lake SQL runs against (engine.py)

__all__ = ["conform_decimals", "existing_target", "run_query", "sql_widens", "table_format", "table_name",
           "table_names", "table_schema"]

_SCHEMAS = {"dbo"}


def table_name(table: exp.Expr, statement: str) -> str:
    """The lake table name of a statement's target (``dbo.t`` means ``t``)."""
    if isinstance(table, exp.Schema):
        table = table.this
    if not isinstance(table, exp.Table) or not isinstance(table.this, exp.Identifier):
        raise SQLError(f"{statement} needs a table name as its target, not {table.sql(dialect=LakeSQL)!r}.",
                       hint="Name a lake table, e.g. t or dbo.t.")
    db, catalog = table.text("db"), table.text("catalog")
    if catalog or (db and db.lower() not in _SCHEMAS):
        qualified = ".".join(p for p in (catalog, db, table.name) if p)
        raise SQLError(f"The table name {qualified!r} has a schema; lake tables have one-part names.",
                       hint=f"Write {table.name} (the schema 'dbo' is accepted and ignored).")
    return table.name


def table_format(lake: Writer, name: str) -> str | None:
    """The format of managed table ``name``, None when it does not exist (an external table is an error)."""
    validate_name(name)
    fmt = committed_table_format(lake.storage, f"{TABLES_DIR}/{name}")
    if fmt is not None:
        return fmt
    if name in table_names(lake):  # a catalog name without a managed table: a registered external table
        raise SQLError(f"{name!r} is a registered external table; lake SQL only writes managed tables.",
                       hint="Write to a new table name, e.g. CREATE TABLE t2 AS SELECT * FROM "
                            f"{name}.")
    return None


def existing_target(lake: Writer, target: exp.Expr, statement: str) -> tuple[str, str]:
    """The name and format of a statement's target, which must be an existing managed table."""
    name = table_name(target, statement)
    fmt = table_format(lake, name)
    if fmt is None:
        raise TableNotFoundError(f"{statement} {name}: no table named {name!r} in the lake.",
                                 hint=choices_hint(name, table_names(lake), kind="table")
                                 + f" Create it first with CREATE TABLE {name} AS SELECT ...")
    return name, fmt


def run_query(lake: Writer, query: exp.Expr) -> pl.LazyFrame:
    """The rows of a statement's query part, through the ordinary lake SQL path."""
    if isinstance(query, exp.Subquery) and not query.alias:
        query = query.this
    if isinstance(query, exp.Values):  # lake SQL runs queries; VALUES becomes a SELECT from it
        rows = query.expressions
        width = len(rows[0].expressions) if rows and isinstance(rows[0], exp.Tuple) else 1
        names = ", ".join(f"column_{i}" for i in range(width))
        return _polars(lake, lake.sql(f"SELECT * FROM ({query.sql(dialect=LakeSQL)}) AS _values({names})"))
    return _polars(lake, lake.sql(query.sql(dialect=LakeSQL)))


def table_schema(lake: Writer, name: str) -> pl.Schema:
    """The column types of table ``name`` as Polars types, on any engine."""
    frame: Any = lake.table(name)
    if isinstance(frame, pl.LazyFrame):
        return frame.collect_schema()
    engine: Any = lake.engine
    return pl.DataFrame(engine.schema(frame).empty_table()).schema


def _polars(lake: Writer, frame: object) -> pl.LazyFrame:
    """A statement's rows as a Polars frame: on another engine they are collected to the driver first
    (the statement's own checks and casts are Polars code)."""
    if isinstance(frame, pl.LazyFrame):
        return frame
    engine: Any = lake.engine  # the lake's engine, whatever its frame type
    rows = pl.from_arrow(engine.collect(frame))
    assert isinstance(rows, pl.DataFrame)
    return rows.lazy()


def sql_widens(source: pl.DataType, target: pl.DataType) -> bool:
    """Lossless widening, plus decimal to float: SQL's implicit numeric conversion (``1.5`` is a decimal literal)."""
    return widens(source, target) or (isinstance(source, pl.Decimal) and target.is_float())


def conform_decimals(frame: pl.LazyFrame, table: pl.Schema) -> pl.LazyFrame:
    """Cast decimal columns of ``frame`` whose table column is a float (what :func:`sql_widens` adds)."""
    schema = frame.collect_schema()
    casts = [pl.col(c).cast(table[c]) for c, dtype in schema.items()
             if c in table and isinstance(dtype, pl.Decimal) and table[c].is_float()]
    return frame.with_columns(casts) if casts else frame


def table_names(lake: Writer) -> list[str]:
    try:
        return list(lake.tables())
    except LakeMLError:
        return []
