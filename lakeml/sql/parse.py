"""Parsing lake SQL into one read-only query tree, with precise syntax errors."""

from __future__ import annotations

import logging

import sqlglot
from sqlglot import exp
from sqlglot.errors import ErrorLevel, ParseError, TokenError

from lakeml.errors import SQLError, SQLSyntaxError
from lakeml.sql.dialect import LakeSQL

__all__ = ["parse_query", "parse_statement"]

_WRITE_STATEMENTS: dict[type[exp.Expr], str] = {
    exp.Insert: "INSERT", exp.Update: "UPDATE", exp.Delete: "DELETE", exp.Merge: "MERGE",
    exp.Create: "CREATE", exp.Drop: "DROP", exp.Alter: "ALTER", exp.TruncateTable: "TRUNCATE",
}


def parse_query(query: str) -> exp.Query:
    """Parse one read-only lake SQL query (SELECT, set operation, WITH ... SELECT, VALUES).

    Raises:
        SQLSyntaxError: invalid SQL, with the 1-based line and column and the offending fragment.
        SQLError: empty text, several statements, or a statement that is not a query.

    >>> parse_query("SELECT TOP 2 a FROM t").sql(dialect=LakeSQL)
    'SELECT a FROM t LIMIT 2'
    """
    tree = parse_statement(query)
    if isinstance(tree, exp.Query):
        return tree
    raise _not_a_query(tree)


def parse_statement(query: str) -> exp.Expr:
    """Parse exactly one lake SQL statement of any kind (the DML module decides what it runs).

    Raises:
        SQLSyntaxError: invalid SQL, with the 1-based line and column and the offending fragment.
        SQLError: empty text or several statements.
    """
    if not isinstance(query, str):
        raise SQLError(f"A SQL query must be a string, not {type(query).__name__}.",
                       hint="Pass the query text, e.g. lake.sql('SELECT * FROM t').")
    sqlglot_logger = logging.getLogger("sqlglot")
    sqlglot_logger.addFilter(_quiet_command_fallback)
    try:
        statements = sqlglot.parse(query, dialect=LakeSQL, error_level=ErrorLevel.IMMEDIATE)
    except ParseError as exc:
        raise _syntax_error(query, exc) from exc
    except TokenError as exc:
        raise _token_error(query, exc) from exc
    finally:
        sqlglot_logger.removeFilter(_quiet_command_fallback)
    found = [s for s in statements if s is not None]
    if not found:
        raise SQLError("The SQL query is empty.", hint="Write a SELECT statement, e.g. SELECT * FROM t.")
    if len(found) > 1:
        raise SQLError(f"Only one SQL statement can run at a time; got {len(found)}.",
                       hint="Run the statements one by one, or combine them with WITH / UNION.")
    return found[0]


def _quiet_command_fallback(record: logging.LogRecord) -> bool:
    # sqlglot logs a warning before parsing unknown statements as commands; we raise a clear error.
    return "Falling back to parsing as a 'Command'" not in record.getMessage()


def _not_a_query(tree: exp.Expr) -> SQLError:
    kind = next((name for cls, name in _WRITE_STATEMENTS.items() if isinstance(tree, cls)), None)
    if kind is not None:
        return SQLError(f"Lake SQL is read-only: {kind} statements are not supported.",
                        hint="[[Write tables with lake.write(name, data, mode=...) or "
                             "lake.write(name, lake.sql('SELECT ...')).|Write tables with lakeml ingest, or "
                             "lakeml sql 'SELECT ...' --format parquet --output FILE and ingest that file.]]")
    first = tree.sql(dialect=LakeSQL).split()[:1] if not isinstance(tree, exp.Command) else [tree.name]
    word = first[0].upper() if first else type(tree).__name__
    return SQLError(f"Only queries can run in lake SQL; {word!r} statements are not supported.",
                    hint="Write a SELECT (or WITH ... SELECT) query.")


def _syntax_error(query: str, exc: ParseError) -> SQLSyntaxError:
    info = exc.errors[0] if exc.errors else {}
    line, column = info.get("line"), info.get("col")
    fragment = str(info.get("highlight") or "").strip()
    if column is not None and fragment and "\n" not in fragment:
        column = max(column - len(fragment) + 1, 1)  # sqlglot reports the fragment's last column
    description = str(info.get("description") or str(exc).splitlines()[0])
    if description.startswith("Required keyword: 'expression' missing"):
        description = "Incomplete expression"
    where = f" at line {line}, column {column}" if line is not None else ""
    near = f" near {fragment!r}" if fragment else ""
    return SQLSyntaxError(
        f"SQL syntax error{where}{near}: {description}.\n{_pointer(query, line, column)}".rstrip(),
        line=line, column=column,
        hint="Check the SQL at that position (a missing comma, parenthesis or keyword?).",
    )


def _token_error(query: str, exc: TokenError) -> SQLSyntaxError:
    # The tokenizer's own error ("Missing ' from <line>:<offset>") carries where the token starts.
    cause = str(exc.__cause__ or "")
    tail = cause.rsplit(":", 1)[-1].strip()
    offset = int(tail) if tail.isdigit() and int(tail) <= len(query) else len(query)
    cause = cause.split(" from ")[0] or "cannot read this text"
    before = query[:offset]
    line = before.count("\n") + 1
    column = offset - (before.rfind("\n") + 1) + 1
    fragment = query[offset:offset + 20].splitlines()[0] if query[offset:] else ""
    return SQLSyntaxError(
        f"SQL syntax error at line {line}, column {column} near {fragment!r}: {cause} "
        f"(an unterminated string or quoted name?).\n{_pointer(query, line, column)}".rstrip(),
        line=line, column=column,
        hint="Close the quote; write a quote inside a string as '' (two single quotes).",
    )


def _pointer(query: str, line: int | None, column: int | None) -> str:
    """The offending line with a caret under the column."""
    if line is None or column is None:
        return ""
    lines = query.splitlines() or [""]
    if not 1 <= line <= len(lines):
        return ""
    text = lines[line - 1]
    return f"  {text}\n  {' ' * max(column - 1, 0)}^"
