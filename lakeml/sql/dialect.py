"""The lake's SQL dialect: PostgreSQL-style SQL (what Polars SQL speaks) plus T-SQL forms.

Base: sqlglot's PostgreSQL dialect, because Polars SQL follows PostgreSQL (double-quoted
identifiers, ``::`` casts, ILIKE, ``LIMIT``, ``$$`` strings, ``@>`` operators), and its
parse -> generate round trip is the identity for ordinary queries. On top of it:

- T-SQL ``SELECT TOP n`` / ``TOP (n)`` (parsed into the ordinary ``LIMIT`` node),
- ``@name`` parameters (Postgres already tokenizes them; written back as ``@name``) and
  ``:name`` placeholders (written back as ``:name``),
- ``OPENROWSET(BULK 'uri', FORMAT = 'PARQUET' | 'CSV' | 'DELTA', HEADER_ROW = TRUE, ...)
  [WITH (col type [ordinal], ...)]`` -> :class:`~lakeml.sql.nodes.OpenRowset`,
- ``PREDICT(MODEL = ..., DATA = t AS d | (SELECT ...) AS d, RUNTIME = ONNX) WITH (...)`` ->
  :class:`~lakeml.sql.nodes.PredictTable` and ``PREDICT('alias', c1, ...)`` ->
  :class:`~lakeml.sql.nodes.PredictCall`,
- QUALIFY is kept (Polars runs it; the PostgreSQL generator would rewrite it away),
- type names as Polars reads them: ``FLOAT``/``DOUBLE`` are 64-bit (written ``FLOAT``, as in
  T-SQL), ``REAL`` is 32-bit, ``TINYINT`` stays ``TINYINT``.

>>> import sqlglot
>>> sqlglot.parse_one("SELECT TOP 3 a FROM t WHERE b = @b", dialect=LakeSQL).sql(dialect=LakeSQL)
'SELECT a FROM t WHERE b = @b LIMIT 3'
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

from sqlglot import exp
from sqlglot.dialects.postgres import Postgres
from sqlglot.generators.postgres import PostgresGenerator
from sqlglot.parsers.postgres import PostgresParser
from sqlglot.parsers.tsql import TSQLParser
from sqlglot.tokens import TokenType

from lakeml.sql.nodes import OpenRowset, OpenRowsetColumn, PredictCall, PredictTable

__all__ = ["LakeSQL"]

_PREDICT_KEYS = ("MODEL", "DATA", "RUNTIME")


def _keep(name: str) -> Callable[[list[exp.Expr]], exp.Expr]:
    return lambda args: exp.Anonymous(this=name, expressions=args)


# Functions Polars reads differently from how sqlglot would rewrite them (e.g. LOG10(x) -> LOG(10, x),
# but Polars' LOG takes the base second): keep them exactly as written.
_KEEP_AS_WRITTEN = ("LOG10", "LOG2", "ARRAY_CONTAINS", "ARRAY_LENGTH")


# T-SQL functions serverless-SQL users write, built the way sqlglot's T-SQL parser builds them.
_TSQL_FUNCTIONS = ("COUNT_BIG", "DATEADD", "GETDATE", "SYSDATETIME", "ISNULL", "SQUARE", "EOMONTH")


class LakeParser(PostgresParser):
    """PostgreSQL parser plus the OPENROWSET and PREDICT function parsers and common T-SQL functions."""

    FUNCTIONS: ClassVar[dict[str, Callable[..., Any]]] = {
        **PostgresParser.FUNCTIONS,
        **{name: TSQLParser.FUNCTIONS[name] for name in _TSQL_FUNCTIONS},
        **{name: _keep(name) for name in _KEEP_AS_WRITTEN},
    }

    FUNCTION_PARSERS: ClassVar[dict[str, Callable[..., Any]]] = {
        **PostgresParser.FUNCTION_PARSERS,
        "OPENROWSET": lambda self: self._parse_openrowset(),
        "PREDICT": lambda self: self._parse_predict(),
        "CONVERT": lambda self: self._parse_tsql_convert(),
    }

    def _parse_tsql_convert(self) -> exp.Cast:
        """T-SQL ``CONVERT(type, expr)``; a style argument has no Polars meaning, so it is refused."""
        to = self._parse_types()
        if to is None or not self._match(TokenType.COMMA):
            self.raise_error("Expected CONVERT(<type>, <expression>), e.g. CONVERT(INT, x)")
        this = self._parse_assignment()
        if self._match(TokenType.COMMA):
            self.raise_error("CONVERT styles are not supported; use CAST, or STRFTIME for date formats")
        self._expect_r_paren("CONVERT")
        return self.expression(exp.Cast(this=this, to=to))

    # --- OPENROWSET -------------------------------------------------------------------------
    def _parse_openrowset(self) -> OpenRowset:
        if not self._match_text_seq("BULK"):
            self.raise_error("Expected BULK 'location' as the first OPENROWSET argument")
        location = self._parse_bitwise()
        locations = location.expressions if isinstance(location, exp.Tuple) else [location]
        if not locations or not all(isinstance(x, exp.Literal) and x.is_string for x in locations):
            self.raise_error("OPENROWSET BULK expects a string location, e.g. BULK 'data/*.parquet'")
        options: list[exp.Expr] = []
        while self._match(TokenType.COMMA):
            name = self._parse_var(any_token=True)
            if name is None:
                self.raise_error("Expected an OPENROWSET option name")
            assert name is not None
            if not self._match(TokenType.EQ):
                self.raise_error(f"Expected '=' after OPENROWSET option {name.name.upper()}")
            value = self._parse_bitwise()
            if value is None:
                self.raise_error(f"Expected a value for OPENROWSET option {name.name.upper()}")
            options.append(exp.EQ(this=exp.var(name.name.upper()), expression=value))
        columns = None
        if self._match_pair(TokenType.R_PAREN, TokenType.WITH):
            self._match_l_paren()
            columns = self._parse_csv(self._parse_openrowset_column)
        self._expect_r_paren("OPENROWSET")
        return self.expression(OpenRowset(this=location, options=options, columns=columns))

    def _parse_openrowset_column(self) -> OpenRowsetColumn:
        name = self._parse_id_var(any_token=False)
        if name is None:
            self.raise_error("Expected a column name in OPENROWSET WITH (...)")
        kind = self._parse_types()
        if kind is None:
            self.raise_error("Expected a column type in OPENROWSET WITH (...)")
        source = self._parse_number() or self._parse_string()
        return self.expression(OpenRowsetColumn(this=name, kind=kind, source=source))

    # --- PREDICT ----------------------------------------------------------------------------
    def _parse_predict(self) -> exp.Expr:
        curr, nxt = self._curr, self._next
        is_table_form = (
            curr is not None and nxt is not None
            and curr.text.upper() in _PREDICT_KEYS and nxt.token_type == TokenType.EQ
        )
        return self._parse_predict_table() if is_table_form else self._parse_predict_call()

    def _parse_predict_call(self) -> PredictCall:
        alias = self._parse_string()
        if alias is None:
            self.raise_error(
                "PREDICT expects a bound model alias string first, e.g. PREDICT('churn', a, b), "
                "or the table form PREDICT(MODEL = ..., DATA = t AS d)"
            )
        args: list[exp.Expr] = []
        while self._match(TokenType.COMMA):
            arg = self._parse_star() or self._parse_assignment()
            if arg is None:
                self.raise_error("Expected a PREDICT argument")
            args.append(arg)  # type: ignore[arg-type]
        self._expect_r_paren("PREDICT")
        return self.expression(PredictCall(this=alias, expressions=args))

    def _parse_predict_table(self) -> PredictTable:
        args: dict[str, Any] = {}
        while True:
            key = self._curr.text.upper() if self._curr else ""
            if key not in _PREDICT_KEYS:
                self.raise_error(f"Expected MODEL, DATA or RUNTIME in PREDICT, found {key or 'end'}")
            if key.lower() in args:
                self.raise_error(f"PREDICT argument {key} given twice")
            self._advance()
            if not self._match(TokenType.EQ):
                self.raise_error(f"Expected '=' after PREDICT {key}")
            if key == "MODEL":
                args["model"] = self._parse_bitwise()
            elif key == "DATA":
                args["data"] = self._parse_predict_data()
                if self._match(TokenType.ALIAS):
                    args["data_alias"] = self._parse_table_alias()
            else:
                runtime = self._parse_var(any_token=True)
                args["runtime"] = exp.var(runtime.name.upper()) if runtime else None
            if args.get(key.lower()) is None:
                self.raise_error(f"Expected a value for PREDICT {key}")
            if not self._match(TokenType.COMMA):
                break
        for required in ("model", "data"):
            if required not in args:
                self.raise_error(f"PREDICT needs {required.upper()} = ...")
        if self._match_pair(TokenType.R_PAREN, TokenType.WITH):
            self._match_l_paren()
            args["columns"] = self._parse_csv(self._parse_predict_column)
        self._expect_r_paren("PREDICT")
        return self.expression(PredictTable(**args))

    def _parse_predict_data(self) -> exp.Expr | None:
        """DATA: a table, view or CTE name, or a parenthesized query (read like a CTE)."""
        if not (self._curr and self._curr.token_type == TokenType.L_PAREN):
            return self._parse_table_parts()
        self._advance()
        query = self._parse_select(nested=True, parse_subquery_alias=False)
        if not isinstance(query, exp.Query):
            self.raise_error("Expected a query in PREDICT DATA = (...), e.g. DATA = (SELECT * FROM t) AS d")
        if not self._match(TokenType.R_PAREN):
            self.raise_error("Expected ')' to close the PREDICT DATA query")
        return self.expression(exp.Subquery(this=query))

    def _parse_predict_column(self) -> exp.ColumnDef:
        name = self._parse_id_var(any_token=False)
        if name is None:
            self.raise_error("Expected an output column name in PREDICT WITH (...)")
        kind = self._parse_array_type() or self._parse_types()
        if kind is None:
            self.raise_error("Expected a type in PREDICT WITH (...), e.g. label bigint")
        constraints = []
        if self._match_text_seq("NOT", "NULL"):
            constraints.append(exp.ColumnConstraint(kind=exp.NotNullColumnConstraint()))
        return self.expression(exp.ColumnDef(this=name, kind=kind, constraints=constraints))

    def _parse_array_type(self) -> exp.DataType | None:
        """``array(<type>, <size>)``: the fixed-size array type of PREDICT WITH columns."""
        if not (self._curr and self._curr.text.upper() == "ARRAY" and self._next
                and self._next.token_type == TokenType.L_PAREN):
            return None
        self._advance(2)
        inner = self._parse_types()
        if inner is None or not self._match(TokenType.COMMA):
            self.raise_error("Expected array(<element type>, <size>), e.g. array(real, 2)")
        size = self._parse_number()
        if size is None or not self._match(TokenType.R_PAREN):
            self.raise_error("Expected array(<element type>, <size>), e.g. array(real, 2)")
        return exp.DataType(this=exp.DType.ARRAY, expressions=[inner], values=[size], nested=True)

    def _expect_r_paren(self, what: str) -> None:
        # Leave the ')' for the generic function-call code, which only optionally matches it.
        if not (self._curr and self._curr.token_type == TokenType.R_PAREN):
            found = self._curr.text if self._curr else "end of query"
            self.raise_error(f"Expected ')' to close {what}, found {found!r}")


class LakeGenerator(PostgresGenerator):
    """PostgreSQL generator that keeps QUALIFY, SEMI/ANTI joins, and writes the lake's own nodes back."""

    PARAMETER_TOKEN = "@"
    NAMED_PLACEHOLDER_TOKEN = ":"
    # Polars runs these natively; the PostgreSQL generator would rewrite them (TRY_CAST -> CAST!).
    TRY_SUPPORTED = True
    SUPPORTS_MEDIAN = True

    TYPE_MAPPING: ClassVar[dict[exp.DType, str]] = {
        **PostgresGenerator.TYPE_MAPPING,
        exp.DType.TINYINT: "TINYINT",
        exp.DType.DOUBLE: "FLOAT",
    }

    TRANSFORMS: ClassVar[dict[type[exp.Expr], Callable[..., str]]] = {
        # No exp.Select entry: PostgreSQL's would rewrite QUALIFY and SEMI/ANTI joins; Polars runs them.
        **{k: v for k, v in PostgresGenerator.TRANSFORMS.items() if k is not exp.Select},
        exp.TryCast: lambda self, e: self.cast_sql(e, safe_prefix="TRY_"),
        exp.National: lambda self, e: self.sql(exp.Literal.string(e.name)),  # N'...' is just text here
        # sqlglot dispatches `<key>_sql` methods only for its own node classes; ours go here.
        OpenRowset: lambda self, e: self.openrowset_sql(e),
        OpenRowsetColumn: lambda self, e: self.openrowsetcolumn_sql(e),
        PredictTable: lambda self, e: self.predicttable_sql(e),
        PredictCall: lambda self, e: self.predictcall_sql(e),
    }

    def placeholder_sql(self, expression: exp.Placeholder) -> str:
        """``:name`` for named placeholders, ``?`` otherwise."""
        return f":{expression.name}" if expression.this else "?"

    def cast_sql(self, expression: exp.Cast, safe_prefix: str | None = None) -> str:
        """CAST as PostgreSQL, except that T-SQL's ``bit`` (lakeml's name for bool) casts to BOOLEAN."""
        to = expression.args.get("to")
        if isinstance(to, exp.DataType) and to.is_type(exp.DType.BIT):
            expression = expression.copy()
            expression.set("to", exp.DataType.build("BOOLEAN"))
        return super().cast_sql(expression, safe_prefix=safe_prefix)

    def datatype_sql(self, expression: exp.DataType) -> str:
        """Fixed-size arrays as ``ARRAY(<type>, <size>)``; everything else as PostgreSQL."""
        values = expression.args.get("values")
        if expression.is_type(exp.DType.ARRAY) and expression.expressions and values:
            return f"ARRAY({self.sql(expression.expressions[0])}, {self.sql(values[0])})"
        return super().datatype_sql(expression)

    def openrowset_sql(self, expression: OpenRowset) -> str:
        """``OPENROWSET(BULK '...', OPT = value, ...) [WITH (...)]``."""
        parts = [f"BULK {self.sql(expression, 'this')}"]
        parts += [self.sql(option) for option in expression.args.get("options") or []]
        columns = expression.args.get("columns")
        with_sql = f" WITH ({self.expressions(expression, key='columns', flat=True)})" if columns else ""
        return f"OPENROWSET({', '.join(parts)}){with_sql}"

    def openrowsetcolumn_sql(self, expression: OpenRowsetColumn) -> str:
        """``name type [ordinal | 'path']``."""
        source = self.sql(expression, "source")
        text = f"{self.sql(expression, 'this')} {self.sql(expression, 'kind')}"
        return f"{text} {source}" if source else text

    def predicttable_sql(self, expression: PredictTable) -> str:
        """``PREDICT(MODEL = ..., DATA = t AS d | (SELECT ...) AS d, RUNTIME = ONNX) [WITH (...)]``."""
        data = self.sql(expression, "data")
        alias = self.sql(expression, "data_alias")
        data_sql = f"{data} AS {alias}" if alias else data
        parts = [f"MODEL = {self.sql(expression, 'model')}", f"DATA = {data_sql}"]
        if expression.args.get("runtime"):
            parts.append(f"RUNTIME = {self.sql(expression, 'runtime')}")
        columns = expression.args.get("columns")
        with_sql = f" WITH ({self.expressions(expression, key='columns', flat=True)})" if columns else ""
        return f"PREDICT({', '.join(parts)}){with_sql}"

    def predictcall_sql(self, expression: PredictCall) -> str:
        """``PREDICT('alias', arg, ...)``."""
        return self.func("PREDICT", expression.this, *expression.expressions)


class LakeSQL(Postgres):
    """The lake's SQL dialect (see the module docstring). Use as ``dialect=LakeSQL``."""

    class Tokenizer(Postgres.Tokenizer):
        """PostgreSQL tokens plus T-SQL ``TOP``."""

        KEYWORDS: ClassVar[dict[str, TokenType]] = {
            **Postgres.Tokenizer.KEYWORDS,
            "TOP": TokenType.TOP,
            "//": TokenType.DIV,  # Polars' integer division operator
        }

    Parser = LakeParser
    Generator = LakeGenerator
