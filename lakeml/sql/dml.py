"""SQL that writes: CREATE TABLE [AS], SELECT ... INTO, INSERT, DROP TABLE and MERGE.

Each statement is one table commit through the table's log (lakeml Parquet or Delta), made by the
same write functions as :meth:`Lake.write`: a statement that fails or is killed leaves the table as
it was. The query part runs through the ordinary lake SQL path (:mod:`lakeml.sql.engine`), so it
reads lake tables, files, parameters and PREDICT like any query. A statement returns a one-row
frame with the column ``rows_affected``.

Supported forms (T-SQL spellings where common):

- ``CREATE [OR REPLACE] TABLE t [USING DELTA|PARQUET] [PARTITIONED BY (c)] AS <query>``,
  ``CREATE TABLE IF NOT EXISTS t AS <query>``, ``CREATE TABLE t (col type, ...)``;
  ``SELECT ... INTO t FROM ...`` (T-SQL CTAS: the table must not exist);
- ``INSERT [INTO] t [(cols)] <query> | VALUES (...), ...``, ``INSERT OVERWRITE t <query>``;
- ``DROP TABLE [IF EXISTS] t``;
- ``MERGE INTO t USING s ON t.k = s.k [AND ...] WHEN MATCHED THEN UPDATE SET * | SET c = s.c, ...
  WHEN NOT MATCHED THEN INSERT * | INSERT (cols) VALUES (s.cols)``: an upsert by the ON keys.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import polars as pl
from sqlglot import exp

from lakeml.errors import (
    ColumnNotFoundError,
    SchemaError,
    SQLError,
    SQLSyntaxError,
    TableExistsError,
    TableNotFoundError,
    choices_hint,
)
from lakeml.query.dtypes import SQL_TYPES, sql_name, sql_type
from lakeml.sql.dialect import LakeSQL
from lakeml.sql.dml_common import (
    existing_target,
    run_query,
    sql_widens,
    table_format,
    table_name,
    table_names,
    table_schema,
)
from lakeml.sql.merge_sql import run_merge
from lakeml.sql.params import bind_params
from lakeml.sql.parse import parse_statement

if TYPE_CHECKING:
    from lakeml.sql.dml_common import Writer
    from lakeml.storage.transactions import WriteResult

__all__ = ["ROWS_AFFECTED", "execute_dml"]

ROWS_AFFECTED = "rows_affected"
# Words that can start or mark a writing statement; text without any of them is a query.
_WRITE_WORD = re.compile(r"\b(create|insert|drop|merge|into|update|delete|alter|truncate)\b", re.IGNORECASE)
_SCHEMAS = {"dbo"}
_SUPPORTED = ("CREATE TABLE ... AS SELECT, SELECT ... INTO, INSERT INTO, DROP TABLE and MERGE INTO "
              "(upsert by keys)")


def execute_dml(lake: Writer, query: str, params: Mapping[str, Any] | None = None) -> pl.LazyFrame | None:
    """Run ``query`` if it is a writing statement; None when it is a plain query (for the query path).

    Returns:
        A one-row frame ``rows_affected`` (Int64): rows written by CREATE/SELECT INTO/INSERT, rows
        inserted plus updated by MERGE, 0 for DROP and for a CREATE ... IF NOT EXISTS that found the table.
    """
    if not isinstance(query, str) or not _WRITE_WORD.search(query):
        return None
    tree = parse_statement(query)
    if isinstance(tree, exp.Query) and tree.args.get("into") is None:
        return None
    tree = bind_params(tree.copy(), params)
    rows = _run(lake, tree)
    return pl.LazyFrame({ROWS_AFFECTED: [rows]}, schema={ROWS_AFFECTED: pl.Int64})


def is_write(query: str) -> bool:
    """Whether ``query`` is a statement that writes (CREATE, SELECT INTO, INSERT, DROP, MERGE)."""
    if not isinstance(query, str) or not _WRITE_WORD.search(query):
        return False
    tree = parse_statement(query)
    return not isinstance(tree, exp.Query) or tree.args.get("into") is not None


def refuse_writes(query: str) -> None:
    """Raise SQLError when ``query`` is a writing statement: where data is read (``lake.train(data=...)``,
    ``lake.profile``...) a statement must not change the lake as a side effect."""
    if is_write(query):
        raise SQLError("Data to read must be a table name or a query, not a statement that writes.",
                       hint="Run the statement with [[lake.sql(...)|lakeml sql]] first, then pass the table "
                            "name or a SELECT.")


def _run(lake: Writer, tree: exp.Expr) -> int:
    if isinstance(tree, exp.Create):
        return _create(lake, tree)
    if isinstance(tree, exp.Query):
        return _select_into(lake, tree)
    if isinstance(tree, exp.Insert):
        return _insert(lake, tree)
    if isinstance(tree, exp.Drop):
        return _drop(lake, tree)
    if isinstance(tree, exp.Merge):
        return run_merge(lake, tree)
    if isinstance(tree, exp.Command):  # sqlglot could not read the statement's structure
        word = tree.name.upper() or "this"
        raise SQLSyntaxError(f"SQL syntax error: lake SQL cannot read this {word} statement.",
                             hint=f"Check the statement; lake SQL writes with {_SUPPORTED}.")
    kinds: dict[type[exp.Expr], str] = {exp.Update: "UPDATE", exp.Delete: "DELETE", exp.Alter: "ALTER",
                                        exp.TruncateTable: "TRUNCATE"}
    kind = kinds.get(type(tree), type(tree).__name__.upper())
    raise SQLError(f"{kind} statements are not supported in lake SQL.",
                   hint=f"Lake SQL writes with {_SUPPORTED}; rewrite the table with CREATE OR REPLACE TABLE t "
                        "AS SELECT ..., or upsert with MERGE.")


# -- names ------------------------------------------------------------------------------------------
def _as_query(node: exp.Expr | None, statement: str) -> exp.Expr:
    inner = node.this if isinstance(node, exp.Subquery) and not node.alias else node
    if not isinstance(inner, exp.Query | exp.Values):
        found = "nothing" if inner is None else repr(inner.sql(dialect=LakeSQL)[:60])
        raise SQLError(f"{statement} needs a query (SELECT, WITH ... SELECT or VALUES) after AS; got {found}.",
                       hint="Write CREATE TABLE t AS SELECT ... (or define columns: CREATE TABLE t (a int, b text)).")
    return inner


# -- CREATE TABLE / SELECT INTO -----------------------------------------------------------------------
def _create(lake: Writer, tree: exp.Create) -> int:
    kind = str(tree.args.get("kind") or "").upper()
    if kind != "TABLE":
        raise SQLError(f"CREATE {kind or '...'} is not supported in lake SQL.",
                       hint=f"Lake SQL writes with {_SUPPORTED}.")
    target = tree.this
    name = table_name(target, "CREATE TABLE")
    fmt, partition_by = _properties(tree)
    existing = table_format(lake, name)
    if existing is not None and tree.args.get("exists"):
        return 0  # CREATE TABLE IF NOT EXISTS: the table is there
    replace = bool(tree.args.get("replace"))
    if existing is not None and not replace:
        raise _exists(name)
    if replace and existing is not None and fmt is not None and fmt != existing:
        raise SQLError(f"CREATE OR REPLACE TABLE {name} USING {fmt.upper()}: {name!r} is a {existing} table, "
                       "and a replace keeps the format.",
                       hint=f"Drop it first (DROP TABLE {name}), then create it as {fmt}.")
    fmt = fmt or existing or "parquet"
    if tree.expression is None and isinstance(target, exp.Schema):
        frame = pl.LazyFrame(schema=_column_defs(target))
    else:
        if isinstance(target, exp.Schema):
            raise SQLError("CREATE TABLE ... (columns) AS SELECT is not supported: the query defines the columns.",
                           hint=f"Write CREATE TABLE {name} AS SELECT CAST(a AS int) AS a, ...")
        frame = run_query(lake, _as_query(tree.expression, "CREATE TABLE"))
    return _write_new(lake, name, frame, mode="overwrite" if replace and existing else "error", fmt=fmt,
                      partition_by=partition_by)


def _select_into(lake: Writer, tree: exp.Query) -> int:
    into = tree.args["into"]
    if into.args.get("temporary") or into.args.get("unlogged"):
        raise SQLError("SELECT ... INTO a temporary table is not supported.",
                       hint="Select INTO a lake table, or use a WITH clause for intermediate results.")
    name = table_name(into.this, "SELECT ... INTO")
    if table_format(lake, name) is not None:
        raise _exists(name, into=True)
    query = tree.copy()
    query.set("into", None)
    return _write_new(lake, name, run_query(lake, query), mode="error", fmt="parquet", partition_by=None)


def _write_new(lake: Writer, name: str, frame: pl.LazyFrame, *, mode: str, fmt: str,
               partition_by: list[str] | None) -> int:
    try:
        result = lake.write(name, frame, mode=mode, format=fmt, partition_by=partition_by)
    except TableExistsError:
        raise _exists(name, meanwhile=True) from None
    return _affected(result)


def _affected(result: WriteResult) -> int:
    rows = result.rows_affected
    return int(rows) if rows is not None else 0


def _exists(name: str, *, into: bool = False, meanwhile: bool = False) -> TableExistsError:
    what = "was created by another writer meanwhile" if meanwhile else "already exists"
    if into:
        return TableExistsError(f"SELECT ... INTO {name}: table {name!r} {what}.",
                                hint=f"Add the rows with INSERT INTO {name} SELECT ..., or replace the table "
                                     f"with CREATE OR REPLACE TABLE {name} AS SELECT ...")
    return TableExistsError(f"CREATE TABLE {name}: table {name!r} {what}.",
                            hint=f"Use CREATE OR REPLACE TABLE {name} AS ... to replace it, CREATE TABLE IF NOT "
                                 f"EXISTS to keep it, or INSERT INTO {name} to add rows.")


def _properties(tree: exp.Create) -> tuple[str | None, list[str] | None]:
    """The format (USING DELTA / WITH (format = 'delta')) and PARTITIONED BY columns of a CREATE."""
    fmt: str | None = None
    partition_by: list[str] | None = None
    properties = tree.args.get("properties")
    for prop in properties.expressions if properties is not None else []:
        if isinstance(prop, exp.FileFormatProperty):
            value = prop.this.name if isinstance(prop.this, exp.Expr) else str(prop.this)
            fmt = value.lower()
            if fmt not in ("parquet", "delta"):
                raise SQLError(f"Lake tables are stored as parquet or delta, not {value!r}.",
                               hint="Write USING DELTA or USING PARQUET (the default).")
        elif isinstance(prop, exp.PartitionedByProperty):
            cols = prop.this.expressions if isinstance(prop.this, exp.Schema | exp.Tuple) else [prop.this]
            partition_by = [c.name for c in cols]
        else:
            raise SQLError(f"The table property {prop.sql(dialect=LakeSQL)!r} is not supported.",
                           hint="Lake SQL reads USING DELTA|PARQUET and PARTITIONED BY (col, ...).")
    return fmt, partition_by


def _column_defs(schema: exp.Schema) -> dict[str, pl.DataType]:
    columns: dict[str, pl.DataType] = {}
    for col in schema.expressions:
        if not isinstance(col, exp.ColumnDef) or not isinstance(col.args.get("kind"), exp.DataType):
            raise SQLError(f"Cannot read the column definition {col.sql(dialect=LakeSQL)!r}.",
                           hint="Define columns as name type, e.g. CREATE TABLE t (id bigint, name text).")
        kind = col.args["kind"]
        base = kind.copy()
        base.set("expressions", None)  # VARCHAR(10) -> VARCHAR: lengths do not change the column type
        dtype = sql_type(base.sql(dialect=LakeSQL)) or sql_type(kind.this.name if kind.this else "")
        if dtype is None:
            raise SQLError(f"Unknown column type {kind.sql(dialect=LakeSQL)!r} for column {col.name!r}.",
                           hint=f"Use one of: {', '.join(sorted(SQL_TYPES))}.")
        if col.name in columns:
            raise SQLError(f"Column {col.name!r} is defined twice.", hint="Give each column one definition.")
        columns[col.name] = dtype
    return columns


# -- INSERT ---------------------------------------------------------------------------------------------
def _insert(lake: Writer, tree: exp.Insert) -> int:
    target = tree.this
    name, fmt = existing_target(lake, target, "INSERT INTO")
    columns = [c.name for c in target.expressions] if isinstance(target, exp.Schema) else None
    source = tree.expression
    inner = source.this if isinstance(source, exp.Subquery) and not source.alias else source
    if not isinstance(inner, exp.Query | exp.Values):
        raise SQLError("INSERT needs a query or VALUES as its source.",
                       hint=f"Write INSERT INTO {name} SELECT ... or INSERT INTO {name} VALUES (...).")
    ctes = tree.args.get("with_") or tree.args.get("with")
    if ctes is not None:
        inner = inner.copy()
        inner.set("with_" if "with_" in inner.arg_types else "with", ctes.copy())
    target_schema = table_schema(lake, name)
    rows = run_query(lake, inner)
    frame = fit_insert(rows, target_schema, columns, name=name, values=isinstance(inner, exp.Values))
    mode = "overwrite" if tree.args.get("overwrite") else "append"
    return _affected(lake.write(name, frame, mode=mode, format=fmt))


def fit_insert(rows: pl.LazyFrame, table: pl.Schema, columns: list[str] | None, *, name: str,
               values: bool = False) -> pl.LazyFrame:
    """Map INSERT's source columns onto the table's by position, check the types, fill unnamed columns with nulls.

    A query's column types must widen losslessly to the table's (``lakeml.query.schema_match.widens``);
    VALUES literals are cast when every value converts exactly (``1`` into a ``smallint`` column).
    """
    targets = list(columns) if columns is not None else list(table)
    unknown = [c for c in targets if c not in table]
    if unknown:
        raise ColumnNotFoundError(f"INSERT INTO {name}: the table has no column {unknown[0]!r}.",
                                  hint=choices_hint(unknown[0], list(table), kind="column"))
    if len(set(targets)) != len(targets):
        raise SQLError(f"INSERT INTO {name} names a column twice.", hint="Name each column once.")
    source = rows.collect_schema()
    if len(source) != len(targets):
        raise SchemaError(f"INSERT INTO {name}: the source has {len(source)} column(s) but "
                          f"{len(targets)} {'are named' if columns is not None else 'are in the table'}.",
                          hint=f"Insert values for {', '.join(targets)} in this order, or name the columns: "
                               f"INSERT INTO {name} (col, ...) SELECT ...")
    pairs = list(zip(source.items(), targets, strict=True))
    frame = rows.select([pl.col(src).alias(dst) for (src, _), dst in pairs])
    casts: dict[str, pl.DataType] = {}
    for (_, got), dst in pairs:
        want = table[dst]
        if got == want:
            continue
        if sql_widens(got, want) or values:
            casts[dst] = want
            continue
        raise SchemaError(f"INSERT INTO {name}: column {dst} is {want} in the table but the source gives {got}, "
                          "which does not convert without loss.",
                          hint=f"Cast it in the query: CAST(expr AS {sql_name(want) or want}) AS {dst}.")
    missing = [c for c in table if c not in targets]
    frame = frame.with_columns([pl.lit(None, dtype=table[c]).alias(c) for c in missing])
    frame = frame.select(list(table))
    if not casts:
        return frame
    if not values:
        return frame.with_columns([pl.col(c).cast(t) for c, t in casts.items()])
    literal = frame.collect()
    for column, dtype in casts.items():
        converted = _convert(literal[column], dtype)
        bad = literal[column].filter(converted.is_null() & literal[column].is_not_null())
        if bad.len():
            raise SchemaError(f"INSERT INTO {name}: the value {_shown(bad[0])} does not convert to column "
                              f"{column}'s type {dtype} without loss.",
                              hint=f"Insert values of type {sql_name(dtype) or dtype} into {column}.")
        literal = literal.with_columns(converted.alias(column))
    return literal.lazy()


def _convert(values: pl.Series, dtype: pl.DataType) -> pl.Series:
    """VALUES literals converted to ``dtype``; a value that does not convert exactly becomes null."""
    if values.dtype == pl.String and dtype == pl.Date:
        return values.str.to_date(strict=False)
    if values.dtype == pl.String and isinstance(dtype, pl.Datetime):
        return values.str.to_datetime(time_unit=dtype.time_unit, time_zone=dtype.time_zone, strict=False)
    if values.dtype == pl.String and dtype == pl.Time:
        return values.str.to_time(strict=False)
    try:
        converted = values.cast(dtype, strict=False)
    except pl.exceptions.PolarsError:  # no conversion between the types at all
        return pl.Series(values.name, [None] * values.len(), dtype=dtype)
    if values.dtype.is_numeric() and dtype.is_numeric():  # 1.5 into an integer column is not exact
        exact = converted.cast(values.dtype, strict=False) == values
        converted = converted.zip_with(exact.fill_null(False), pl.Series([None] * values.len(), dtype=dtype))
    return converted


# -- DROP TABLE -----------------------------------------------------------------------------------------
def _drop(lake: Writer, tree: exp.Drop) -> int:
    kind = str(tree.args.get("kind") or "").upper()
    if kind != "TABLE":
        raise SQLError(f"DROP {kind or '...'} is not supported in lake SQL.", hint="Use DROP TABLE [IF EXISTS] t.")
    tables = list(tree.args.get("tables") or ([tree.this] if tree.this is not None else []))
    if len(tables) != 1:
        raise SQLError("DROP TABLE drops one table per statement.",
                       hint="Run one DROP TABLE statement for each table.")
    name = table_name(tables[0], "DROP TABLE")
    if table_format(lake, name) is None:
        if tree.args.get("exists"):
            return 0
        raise TableNotFoundError(f"DROP TABLE {name}: no table named {name!r} in the lake.",
                                 hint=choices_hint(name, table_names(lake), kind="table")
                                 + f" Write DROP TABLE IF EXISTS {name} to accept a missing table.")
    lake.drop(name)
    return 0


def _shown(value: Any) -> str:
    return repr(value) if isinstance(value, str) else str(value)
