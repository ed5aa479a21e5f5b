"""``MERGE INTO`` in lake SQL: the upsert form, run as ``Lake.write(mode="merge", keys=...)``.

Accepted: ``MERGE INTO t [AS a] USING s | (query) [AS b] ON a.k = b.k [AND a.k2 = b.k2 ...]
WHEN MATCHED THEN UPDATE SET * | UPDATE SET c = b.c, ... WHEN NOT MATCHED [BY TARGET] THEN
INSERT * | INSERT (c, ...) VALUES (b.c, ...)``, where the explicit SET and INSERT lists copy every
column from the same-named source column (the T-SQL spelling of ``*``). Other forms (conditions on
WHEN, DELETE, different expressions, only one of the two clauses) are refused with a hint: they are
not an upsert, and lakeml's merge is exactly one.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import polars as pl
from sqlglot import exp

from lakeml.errors import SchemaError, SQLError
from lakeml.sql.dialect import LakeSQL
from lakeml.sql.dml_common import conform_decimals, existing_target, run_query, table_schema

if TYPE_CHECKING:
    from lakeml.sql.dml_common import Writer

__all__ = ["run_merge"]

_FORM = ("MERGE INTO t USING s ON t.k = s.k WHEN MATCHED THEN UPDATE SET * "
         "WHEN NOT MATCHED THEN INSERT *")


def run_merge(lake: Writer, tree: exp.Merge) -> int:
    """Run an upsert MERGE; returns rows inserted plus rows updated."""
    target = tree.this
    name, fmt = existing_target(lake, target, "MERGE INTO")
    target_alias = target.alias_or_name
    using = tree.args.get("using")
    source, source_alias = _source(lake, using)
    keys = _keys(tree.args.get("on"), target_alias, source_alias)
    target_schema = table_schema(lake, name)
    columns = list(target_schema)
    _check_whens(tree, columns, keys, target_alias, source_alias)
    schema = source.collect_schema()
    missing = [c for c in columns if c not in schema]
    if missing:
        raise SchemaError(f"MERGE INTO {name}: the source has no column(s) {', '.join(missing)}.",
                          hint=f"Select every column of {name} in the source ({', '.join(columns)}).")
    rows = conform_decimals(source.select(columns), target_schema)
    result = lake.write(name, rows, mode="merge", keys=keys, format=fmt)
    return int(result.rows_affected or 0)


def _source(lake: Writer, using: exp.Expr | None) -> tuple[pl.LazyFrame, str]:
    if isinstance(using, exp.Table) and isinstance(using.this, exp.Identifier):
        alias = using.alias_or_name
        plain = using.copy()
        plain.set("alias", None)
        return run_query(lake, exp.select("*").from_(plain)), alias
    if isinstance(using, exp.Subquery) and using.alias:
        return run_query(lake, using.this), using.alias
    shown = "nothing" if using is None else repr(using.sql(dialect=LakeSQL)[:60])
    raise SQLError(f"MERGE needs a table or an aliased subquery after USING; got {shown}.",
                   hint="Write USING new_rows AS s, or USING (SELECT ...) AS s.")


def _keys(on: exp.Expr | None, target: str, source: str) -> list[str]:
    """The key columns of ``ON t.k = s.k AND ...`` (same names on both sides)."""
    parts: list[exp.Expr] = list(on.flatten()) if isinstance(on, exp.And) else ([on] if on is not None else [])
    keys: list[str] = []
    for part in parts:
        if isinstance(part, exp.Paren):
            part = part.unnest()
        if not isinstance(part, exp.EQ) or not all(isinstance(side, exp.Column) for side in (part.this,
                                                                                              part.expression)):
            shown = part.sql(dialect=LakeSQL)
            raise SQLError(f"MERGE ... ON {shown}: lake SQL merges on equal key columns only.",
                           hint="Write ON t.k = s.k [AND t.k2 = s.k2 ...] with the same column names on both sides.")
        left, right = part.this, part.expression
        by_side = {left.table: left.name, right.table: right.name}
        if set(by_side) != {target, source} or left.name != right.name:
            raise SQLError(f"MERGE ... ON {part.sql(dialect=LakeSQL)}: each condition must compare a target "
                           f"column with the source column of the same name ({target}.k = {source}.k).",
                           hint="Rename the source column in a subquery: USING (SELECT id AS k, ...) AS s.")
        keys.append(left.name)
    if not keys:
        raise SQLError("MERGE needs an ON condition naming the key columns.", hint=f"Write {_FORM}.")
    return keys


def _check_whens(tree: exp.Merge, columns: list[str], keys: list[str], target: str, source: str) -> None:
    whens = tree.args.get("whens")
    clauses = list(whens.expressions) if whens is not None else []
    seen: set[str] = set()
    for when in clauses:
        then = when.args.get("then")
        if when.args.get("condition") is not None or when.args.get("source"):
            raise SQLError(f"MERGE clause {when.sql(dialect=LakeSQL)!r} is not supported.",
                           hint=f"Lake SQL's MERGE is the upsert form: {_FORM}.")
        if when.args.get("matched") and isinstance(then, exp.Update):
            _check_update(then, columns, keys, target, source)
            seen.add("update")
        elif not when.args.get("matched") and isinstance(then, exp.Insert):
            _check_insert(then, columns, source)
            seen.add("insert")
        else:
            raise SQLError(f"MERGE clause {when.sql(dialect=LakeSQL)!r} is not supported.",
                           hint=f"Lake SQL's MERGE is the upsert form: {_FORM}.")
    if seen != {"update", "insert"} or len(clauses) != 2:
        raise SQLError("MERGE needs exactly one WHEN MATCHED THEN UPDATE and one WHEN NOT MATCHED THEN INSERT.",
                       hint=f"Lake SQL's MERGE is the upsert form: {_FORM}.")


def _check_update(update: exp.Update, columns: list[str], keys: list[str], target: str, source: str) -> None:
    sets = update.expressions
    if len(sets) == 1 and isinstance(sets[0], exp.Star):
        return
    assigned: set[str] = set()
    for item in sets:
        if not (isinstance(item, exp.EQ) and isinstance(item.this, exp.Column)
                and isinstance(item.expression, exp.Column) and item.this.table in ("", target)
                and item.expression.table == source and item.this.name == item.expression.name):
            raise SQLError(f"MERGE ... UPDATE SET {item.sql(dialect=LakeSQL)}: lake SQL copies each column from the "
                           "source column of the same name.",
                           hint="Write UPDATE SET * (or c = s.c for every column); compute new values in the "
                                "USING subquery.")
        assigned.add(item.this.name)
    left_out = [c for c in columns if c not in assigned and c not in keys]
    if left_out:
        raise SQLError(f"MERGE ... UPDATE SET leaves column(s) {', '.join(left_out)} out; lake SQL's merge "
                       "replaces whole rows.", hint="Write UPDATE SET * (or set every column).")


def _check_insert(insert: exp.Insert, columns: list[str], source: str) -> None:
    target, values = insert.this, insert.expression
    if isinstance(target, exp.Star) or (target is None and isinstance(values, exp.Star)):
        return
    names = [c.name for c in target.expressions] if isinstance(target, exp.Tuple | exp.Schema) else []
    row = values.expressions[0].expressions if isinstance(values, exp.Values) and values.expressions else (
        values.expressions if isinstance(values, exp.Tuple) else [])
    same = (len(names) == len(row) and sorted(names) == sorted(columns)
            and all(isinstance(v, exp.Column) and v.table == source and v.name == n for n, v in zip(names, row,
                                                                                                   strict=True)))
    if not same:
        raise SQLError(f"MERGE ... {insert.sql(dialect=LakeSQL)}: lake SQL inserts every column from the source "
                       "column of the same name.",
                       hint="Write INSERT * (or INSERT (c, ...) VALUES (s.c, ...) with every column).")
