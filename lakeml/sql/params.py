"""Binding ``@name`` / ``:name`` query parameters as literal syntax nodes (never as text)."""

from __future__ import annotations

import datetime as dt
import decimal
import math
from collections.abc import Mapping, Sequence
from typing import Any

from sqlglot import exp

from lakeml.errors import ConfigError, SQLError, did_you_mean

__all__ = ["bind_params", "literal"]


def bind_params(tree: exp.Expr, params: Mapping[str, Any] | None) -> exp.Expr:
    """Replace every ``@name`` and ``:name`` in ``tree`` with the literal value of ``params[name]``.

    Values become sqlglot literal nodes, so quoting is done by the SQL generator and a value can
    never change the shape of the query. A list or tuple value expands inside ``IN (@ids)``.
    Names match exactly, else case-insensitively (T-SQL parameters ignore case). Extra entries
    in ``params`` are ignored.

    Raises:
        SQLError: a parameter in the query has no value, or a positional ``?``/``$1`` is used.
        ConfigError: ``params`` is not a mapping, or a value has an unsupported type.
    """
    if params is not None and not isinstance(params, Mapping):
        raise ConfigError(f"params must be a dict of name -> value, not {type(params).__name__}.",
                          hint="Write lake.sql('... WHERE id = @id', params={'id': 3}).")
    given = dict(params or {})
    lowered: dict[str, list[str]] = {}
    for given_key in given:
        lowered.setdefault(str(given_key).lower(), []).append(str(given_key))
    for node in list(tree.find_all(exp.Parameter, exp.Placeholder)):
        name = _param_name(node)
        key = name if name in given else _case_insensitive(name, lowered)
        if key is None:
            raise SQLError(
                f"The query uses the parameter @{name} but no value was given for it.",
                hint=_missing_hint(name, given),
            )
        value = given[key]
        parent = node.parent
        if isinstance(value, list | tuple) and isinstance(parent, exp.In) and node.arg_key == "expressions":
            items = [literal(v, name=name) for v in value]
            rest = [e for e in parent.expressions if e is not node]
            if not items and not rest:
                items = [exp.Null()]  # x IN () is not SQL; IN (NULL) matches no row, like an empty list
            parent.set("expressions", rest + items)
            continue
        node.replace(literal(value, name=name))
    return tree


def _param_name(node: exp.Expr) -> str:
    if isinstance(node, exp.Placeholder):
        if not node.this:
            raise SQLError("Positional '?' parameters are not supported.",
                           hint="Name them: WHERE id = @id, with [[params={'id': ...}|--param id=VALUE]].")
        return str(node.this)
    inner = node.this
    if isinstance(inner, exp.Literal) and not inner.is_string:
        raise SQLError(f"Positional parameters like ${inner.name} are not supported.",
                       hint="Name them: WHERE id = @id, with [[params={'id': ...}|--param id=VALUE]].")
    return inner.name if isinstance(inner, exp.Expr) else str(inner)


def _case_insensitive(name: str, lowered: dict[str, list[str]]) -> str | None:
    matches = lowered.get(name.lower(), [])
    return matches[0] if len(matches) == 1 else None


def _missing_hint(name: str, given: dict[str, Any]) -> str:
    suggestion = did_you_mean(name, [str(k) for k in given])
    if suggestion:
        return f"{suggestion} Pass [[params={{'{name}': ...}}|--param {name}=VALUE]]."
    if not given:
        return f"Pass [[params={{'{name}': ...}} to lake.sql()|--param {name}=VALUE]]."
    return (f"Pass [[params={{'{name}': ...}}|--param {name}=VALUE]]; the parameters given are: "
            f"{', '.join(sorted(map(str, given)))}.")


def literal(value: Any, *, name: str = "value") -> exp.Expr:
    """The SQL literal node of a Python value (None, bool, int, float, Decimal, str, date, datetime).

    >>> from lakeml.sql.dialect import LakeSQL
    >>> literal("O'Brien").sql(dialect=LakeSQL)
    "'O''Brien'"
    """
    if value is None:
        return exp.Null()
    if isinstance(value, bool):
        return exp.Boolean(this=value)
    if isinstance(value, int):
        return _signed(exp.Literal.number(abs(value)), value < 0)
    if isinstance(value, float):
        if not math.isfinite(value):
            return exp.Cast(this=exp.Literal.string(repr(value)), to=exp.DataType.build("DOUBLE"))
        return _signed(exp.Literal.number(repr(abs(value))), math.copysign(1.0, value) < 0)
    if isinstance(value, decimal.Decimal):
        if not value.is_finite():
            raise ConfigError(f"Parameter @{name} is a non-finite Decimal ({value}).",
                              hint="Pass a float for NaN or infinity.")
        return _signed(exp.Literal.number(str(abs(value))), value.is_signed())
    if isinstance(value, str):
        return exp.Literal.string(value)
    if isinstance(value, dt.datetime):
        return exp.Cast(this=exp.Literal.string(value.isoformat(sep=" ")), to=exp.DataType.build("TIMESTAMP"))
    if isinstance(value, dt.date):
        return exp.Cast(this=exp.Literal.string(value.isoformat()), to=exp.DataType.build("DATE"))
    if isinstance(value, Sequence) and not isinstance(value, bytes | bytearray):
        raise ConfigError(f"Parameter @{name} is a {type(value).__name__}; lists only work in IN (@{name}).",
                          hint=f"Write WHERE col IN (@{name}), or pass a single value.")
    raise ConfigError(
        f"Parameter @{name} has an unsupported type {type(value).__name__}.",
        hint="Use None, bool, int, float, Decimal, str, datetime.date or datetime.datetime "
             "(or a list of them inside IN (...)).",
    )


def _signed(number: exp.Expr, negative: bool) -> exp.Expr:
    # A negative literal in parentheses keeps `a - @x` with x=-1 from becoming `a - -1` text issues.
    return exp.Paren(this=exp.Neg(this=number)) if negative else number
