"""Syntax-tree nodes for the lake's own SQL forms (OPENROWSET, both PREDICT forms).

sqlglot has no nodes for these T-SQL / SQL-pool constructs, so the lake dialect
(:mod:`lakeml.sql.dialect`) parses them into the classes below and writes them back with
``tree.sql(dialect=LakeSQL)``. The engine rewrites them away before Polars sees the query.
"""

from __future__ import annotations

from typing import ClassVar

from sqlglot import exp


class OpenRowset(exp.Expression, exp.Func):
    """``OPENROWSET(BULK 'uri', FORMAT = 'PARQUET', NAME = value, ...) [WITH (col type, ...)]``.

    The serverless-SQL way of querying files, used in ``FROM`` (the table alias, e.g. ``AS r``,
    belongs to the surrounding table node, as for any table function).

    Args:
        this: the BULK location: a string :class:`~sqlglot.exp.Literal`, or an
            :class:`~sqlglot.exp.Tuple` of string literals for ``BULK ('a', 'b')``.
        options: list of :class:`~sqlglot.exp.EQ` nodes ``Var(NAME) = value`` in the order
            written, FORMAT included (e.g. ``FORMAT = 'CSV'``, ``HEADER_ROW = TRUE``,
            ``FIELDTERMINATOR = ';'``). Option names are upper-cased.
        columns: optional list of :class:`OpenRowsetColumn` from a ``WITH (...)`` schema.
    """

    arg_types: ClassVar[dict[str, bool]] = {"this": True, "options": False, "columns": False}
    _sql_names: ClassVar[list[str]] = ["OPENROWSET"]

    @property
    def locations(self) -> list[str]:
        """The BULK location strings."""
        target = self.this
        items = target.expressions if isinstance(target, exp.Tuple) else [target]
        return [item.name for item in items]

    def option(self, name: str) -> exp.Expr | None:
        """The value node of option ``name`` (case-insensitive), or None."""
        for item in self.args.get("options") or []:
            if item.this.name.upper() == name.upper():
                return item.expression
        return None


class OpenRowsetColumn(exp.Expression):
    """One column of an OPENROWSET ``WITH (...)`` schema: ``name type [ordinal | 'json path']``.

    Args:
        this: the column name, an :class:`~sqlglot.exp.Identifier`.
        kind: the declared :class:`~sqlglot.exp.DataType`.
        source: optional column ordinal (number literal, 1-based, CSV) or path (string literal).
    """

    arg_types: ClassVar[dict[str, bool]] = {"this": True, "kind": True, "source": False}


class PredictTable(exp.Expression, exp.Func):
    """The SQL-pool table form of PREDICT, used in ``FROM``.

    ``PREDICT(MODEL = <model>, DATA = <table> AS <alias>, RUNTIME = ONNX) WITH (<col> <type>
    [NOT NULL], ...) AS p``; the trailing ``AS p`` belongs to the surrounding table node.

    Args:
        model: the model: a string :class:`~sqlglot.exp.Literal` registry reference
            (``'churn:3'``, ``'churn@champion'``), a :class:`~sqlglot.exp.Parameter` (``@m``)
            or :class:`~sqlglot.exp.Placeholder` (``:m``) before binding, or a scalar
            :class:`~sqlglot.exp.Subquery` (``(SELECT model FROM models WHERE ...)``).
        data: the DATA source, an :class:`~sqlglot.exp.Table` (catalog table, view or CTE name) or an
            :class:`~sqlglot.exp.Subquery` (``DATA = (SELECT ...) AS d``, read like a CTE).
        data_alias: optional :class:`~sqlglot.exp.TableAlias` of DATA (``AS d``).
        runtime: optional :class:`~sqlglot.exp.Var` (``ONNX``, upper-cased).
        columns: optional list of :class:`~sqlglot.exp.ColumnDef` from ``WITH (...)``; each has
            ``this`` (name), ``kind`` (DataType; ``array(real, 2)`` is an ARRAY DataType with
            ``expressions=[REAL]`` and ``values=[2]``) and ``constraints`` (NOT NULL).
    """

    arg_types: ClassVar[dict[str, bool]] = {
        "model": True, "data": True, "data_alias": False, "runtime": False, "columns": False,
    }
    _sql_names: ClassVar[list[str]] = ["PREDICT"]


class PredictCall(exp.Expression, exp.Func):
    """The bound-model scalar form ``PREDICT('alias', c1, c2)`` or ``PREDICT('alias', *)``.

    Args:
        this: the bound model alias, a string :class:`~sqlglot.exp.Literal`.
        expressions: the argument expressions, in order (a single :class:`~sqlglot.exp.Star`
            for ``*``).
    """

    arg_types: ClassVar[dict[str, bool]] = {"this": True, "expressions": False}
    _sql_names: ClassVar[list[str]] = ["PREDICT"]

    @property
    def alias_name(self) -> str:
        """The bound model alias as text."""
        return self.this.name
