"""The fast path: plain SQL that the lake dialect would hand to Polars unchanged skips sqlglot.

Most queries are ordinary SELECTs over catalog tables. For those, parsing with sqlglot, copying
and walking the tree and writing the text back costs several milliseconds per new query text
(and importing sqlglot costs ~100 ms on the first one), yet Polars receives a text that means the
same as the one the user wrote. :func:`plain_tables` recognises such text with one pass of a small
lexer and names the tables it reads; anything it is not sure about (a lake form such as TOP,
PREDICT, OPENROWSET or ``@params``, a function or keyword sqlglot would rewrite, a comment, a cast
with ``::``, a schema-qualified name) returns ``None`` and takes the full path in
:mod:`lakeml.sql.engine`. The lexer only accepts a closed list of keywords and functions whose
round trip through the lake dialect is the identity, so the two paths cannot differ in meaning;
every other word that sqlglot reads as a keyword (:data:`lakeml.sql._keywords.DIALECT_KEYWORDS`)
sends the query down the full path.

>>> sorted(plain_tables("SELECT a, SUM(b) AS s FROM t JOIN u ON t.k = u.k GROUP BY a"))
['t', 'u']
>>> plain_tables("SELECT TOP 5 a FROM t") is None
True
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import polars as pl

from lakeml.errors import LakeMLError
from lakeml.sql._keywords import DIALECT_KEYWORDS
from lakeml.sql.tables import table_frames

if TYPE_CHECKING:
    from lakeml.context import LakeContext
    from lakeml.scoring.bound import ScoringContext

__all__ = ["execute", "plain_tables", "run_plain"]

# One token per match, after any whitespace: (a form the lexer refuses, a token, any other character).
# ``findall`` runs the whole scan in C; every position is covered, as the last branch takes any
# non-space character. A number runs into no letter, digit or quote (0x1F, 1e, 2abc, 1'a' have
# dialect-specific meanings): the atomic group keeps it from matching a shorter prefix instead.
_TOKEN = re.compile(
    r"""\s*(?:
        (--|/\*|//|::)
      | ('(?:[^']|'')*'
        | "(?:[^"]|"")+"
        | (?>(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?)(?![A-Za-z0-9_'"])
        | [A-Za-z_][A-Za-z0-9_]*
        | <>|<=|>=|!=|\|\||[(),.*+\-/%=<>])
      | (\S))""",
    re.VERBOSE,
)

# Keywords whose parse -> write round trip in the lake dialect keeps the query's meaning for Polars.
_SAFE_KEYWORDS = frozenset({
    "SELECT", "FROM", "WHERE", "GROUP", "BY", "ORDER", "HAVING", "LIMIT", "OFFSET", "AS", "AND", "OR",
    "NOT", "IN", "EXISTS", "BETWEEN", "LIKE", "IS", "NULL", "TRUE", "FALSE", "CASE", "WHEN", "THEN", "ELSE",
    "END", "JOIN", "INNER", "LEFT", "RIGHT", "FULL", "OUTER", "CROSS", "ON", "UNION", "ALL", "DISTINCT",
    "WITH", "ASC", "DESC", "DATE", "INTERVAL", "DAY", "MONTH", "YEAR",
})
# Functions (a word followed by "(") that the lake dialect writes back with the same meaning.
_SAFE_FUNCTIONS = frozenset({
    "COUNT", "SUM", "AVG", "MIN", "MAX", "EXTRACT", "SUBSTRING", "COALESCE", "ABS", "ROUND", "UPPER", "LOWER",
})
# After one of these, a word is a table name (in a FROM list, also after a comma).
_TABLE_INTRO = frozenset({"FROM", "JOIN"})
# Words that end a FROM list at the same nesting depth.
_CLAUSES = frozenset({"WHERE", "GROUP", "ORDER", "HAVING", "LIMIT", "OFFSET", "UNION", "ON", "SELECT"})


def execute(lake: ScoringContext, query: str, params: Mapping[str, Any] | None = None) -> pl.LazyFrame:
    """Run a lake SQL query lazily (what ``Lake.sql`` calls): the fast path when it applies, else
    :func:`lakeml.sql.engine.execute` (same arguments, same result, same errors).
    """
    if isinstance(query, str) and (params is None or isinstance(params, Mapping)):
        plain = run_plain(lake, query)  # parameters given to a query without @name are ignored, as there
        if plain is not None:
            return plain
    from lakeml.sql.engine import execute as execute_full  # here: importing sqlglot costs ~100 ms

    return execute_full(lake, query, params)


def run_plain(lake: LakeContext[pl.LazyFrame], query: str) -> pl.LazyFrame | None:
    """Plan ``query`` straight in Polars SQL when it is plain; None when the full path must run.

    The full path also runs when planning fails here (an unknown table or column, a built-in
    view, a syntax error): it raises the lake's own error for it, with its hints.
    """
    if lake.engine.sql_dialect != "polars":
        return None  # the user's text goes to the engine as written: only Polars SQL reads it as LakeSQL does
    names = plain_tables(query)
    if names is None:
        return None
    try:
        frames = table_frames(lake, names)
    except LakeMLError:
        return None
    try:
        return lake.engine.sql(query, frames=frames)  # resolves the schema now, as the full path does
    except Exception:
        return None


@functools.lru_cache(maxsize=1024)
def plain_tables(query: str) -> frozenset[str] | None:
    """The names ``query`` reads in FROM / JOIN position, or None when it needs the full SQL path.

    CTE names are left out (they are not lake tables). A name may still be a built-in view or
    a missing table: Polars then fails to plan and the caller takes the full path, which says why.
    """
    tokens: list[tuple[str, str]] = []
    for refused, text, other in _TOKEN.findall(query):
        if refused or other:
            return None  # a character or form the lexer does not know: let sqlglot read it
        first = text[0]
        if first.isalpha() or first == "_":
            tokens.append(("word", text))
        elif first.isdigit() or (first == "." and len(text) > 1):
            tokens.append(("num", text))
        else:
            tokens.append(("str" if first == "'" else "qid" if first == '"' else "op", text))
    return _tables(tokens)


def _tables(tokens: list[tuple[str, str]]) -> frozenset[str] | None:
    tables: set[str] = set()
    ctes: set[str] = set()
    # Per parenthesis depth: "from" inside a FROM list, "call" inside a function's arguments
    # (EXTRACT(YEAR FROM d) names no table), "" elsewhere.
    state = [""]
    previous_kind, previous = "", ""
    for index, (kind, text) in enumerate(tokens):
        upper = text.upper() if kind == "word" else text
        following = tokens[index + 1] if index + 1 < len(tokens) else ("", "")
        if kind == "word":
            if following[1] == "(":
                if upper not in _SAFE_FUNCTIONS and upper not in _SAFE_KEYWORDS:
                    return None  # PREDICT(, OPENROWSET(, read_parquet(, ISNULL(, window functions ...
            elif upper in _SAFE_KEYWORDS:
                pass
            elif upper in DIALECT_KEYWORDS or upper == "DBO":
                return None  # TOP, QUALIFY, type names, ... or a T-SQL schema prefix
            elif following[0] == "str":
                return None  # N'text', E'text'
        if kind in ("word", "qid") and upper not in _SAFE_KEYWORDS:
            name = text[1:-1].replace('""', '"') if kind == "qid" else text
            if _starts_table(previous_kind, previous, state[-1]):
                if following[1] == ".":
                    return None  # schema.table: the full path checks the schema
                tables.add(name)
            if following[1].upper() == "AS" and index + 2 < len(tokens) and tokens[index + 2][1] == "(":
                ctes.add(name)
        if text == "(":
            state.append("call" if previous_kind == "word" and previous in _SAFE_FUNCTIONS else "")
        elif text == ")":
            if len(state) == 1:
                return None  # unbalanced: let the parser report it
            state.pop()
        elif kind == "word" and state[-1] != "call":
            if upper in _TABLE_INTRO:
                state[-1] = "from"
            elif upper in _CLAUSES:
                state[-1] = ""
        previous_kind, previous = kind, upper
    if len(state) != 1:
        return None
    return frozenset(tables - ctes)


def _starts_table(previous_kind: str, previous: str, state: str) -> bool:
    if state == "call":
        return False
    if previous_kind == "word" and previous in _TABLE_INTRO:
        return True
    return state == "from" and previous == ","
