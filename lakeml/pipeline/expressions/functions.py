"""The functions of the expression language (no function here can run Python or touch the lake)."""

from __future__ import annotations

import json
import math
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from lakeml.pipeline.expressions.datetimes import format_timestamp, parse_timestamp


class FunctionError(Exception):
    """Raised by a function body; the evaluator turns it into an ExpressionError naming the function."""


@dataclass(frozen=True)
class Function:
    """A function: its arity and its body (which receives the evaluated arguments and the clock's now)."""

    name: str
    min_args: int
    max_args: int | None
    body: Callable[..., Any]
    needs_now: bool = False


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object" if isinstance(value, dict) else type(value).__name__


def _num(value: Any, what: str = "a number") -> int | float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise FunctionError(f"expects {what}, got {_kind(value)} {to_text(value)!r}")
    return value


def _str(value: Any) -> str:
    if not isinstance(value, str):
        raise FunctionError(f"expects a string, got {_kind(value)} {to_text(value)!r}")
    return value


def _arr(value: Any) -> list[Any]:
    if not isinstance(value, list):
        raise FunctionError(f"expects an array, got {_kind(value)} {to_text(value)!r}")
    return value


def _bool(value: Any) -> bool:
    if not isinstance(value, bool):
        raise FunctionError(f"expects a boolean, got {_kind(value)} {to_text(value)!r}")
    return value


def to_text(value: Any) -> str:
    """A value as the language writes it into a string (``string()`` and ``@{...}``)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, list | dict):
        return json.dumps(value, default=str)
    return str(value)


def _equals(a: Any, b: Any) -> bool:
    if _kind(a) != _kind(b):
        return False
    return bool(a == b)


def _compare(a: Any, b: Any) -> int:
    if _kind(a) != _kind(b) or _kind(a) not in ("number", "string"):
        raise FunctionError(f"compares two numbers or two strings, got {_kind(a)} and {_kind(b)}")
    return (a > b) - (a < b)


def _div(a: Any, b: Any) -> int | float:
    x, y = _num(a), _num(b)
    if y == 0:
        raise FunctionError("divides by zero")
    if isinstance(x, int) and isinstance(y, int):
        return int(x / y)  # integer division truncates toward zero, as in the cloud
    return x / y


def _mod(a: Any, b: Any) -> int | float:
    x, y = _num(a), _num(b)
    if y == 0:
        raise FunctionError("divides by zero")
    result = math.fmod(x, y)
    return int(result) if isinstance(x, int) and isinstance(y, int) else result


def _length(value: Any) -> int:
    if isinstance(value, str | list | dict):
        return len(value)
    raise FunctionError(f"expects a string, array or object, got {_kind(value)}")


def _empty(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, str | list | dict):
        return len(value) == 0
    raise FunctionError(f"expects a string, array or object, got {_kind(value)}")


def _contains(collection: Any, value: Any) -> bool:
    if isinstance(collection, str):
        return _str(value) in collection
    if isinstance(collection, list):
        return any(_equals(item, value) for item in collection)
    if isinstance(collection, dict):
        return _str(value) in collection
    raise FunctionError(f"expects a string, array or object, got {_kind(collection)}")


def _first(value: Any) -> Any:
    if isinstance(value, str | list):
        return value[0] if value else None
    raise FunctionError(f"expects a string or array, got {_kind(value)}")


def _last(value: Any) -> Any:
    if isinstance(value, str | list):
        return value[-1] if value else None
    raise FunctionError(f"expects a string or array, got {_kind(value)}")


def _substring(text: Any, start: Any, length: Any = None) -> str:
    s, begin = _str(text), int(_num(start))
    if begin < 0 or begin > len(s):
        raise FunctionError(f"start index {begin} is outside the string of length {len(s)}")
    if length is None:
        return s[begin:]
    count = int(_num(length))
    if count < 0 or begin + count > len(s):
        raise FunctionError(f"start {begin} + length {count} is beyond the string of length {len(s)}")
    return s[begin:begin + count]


def _int(value: Any) -> int:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            pass
    raise FunctionError(f"cannot convert {to_text(value)!r} to an integer")


def _float(value: Any) -> float:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip())
        except ValueError:
            pass
    raise FunctionError(f"cannot convert {to_text(value)!r} to a float")


def _to_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return value != 0
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise FunctionError(f"cannot convert {to_text(value)!r} to a boolean (use true/false or a number)")


def _json(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except json.JSONDecodeError as exc:
        raise FunctionError(f"the text is not valid JSON ({exc.msg} at character {exc.pos})") from None


def _range(start: Any, count: Any) -> list[int]:
    begin, n = int(_num(start)), int(_num(count))
    if n < 0 or n > 100_000:
        raise FunctionError(f"count {n} must be between 0 and 100000")
    return list(range(begin, begin + n))


def _coalesce(*values: Any) -> Any:
    return next((v for v in values if v is not None), None)


def _timestamp(value: Any) -> datetime:
    try:
        return parse_timestamp(_str(value))
    except ValueError:
        raise FunctionError(f"{value!r} is not an ISO 8601 timestamp such as '2013-01-01T00:00:00Z'") from None


def _shift(unit: str) -> Callable[..., str]:
    def body(stamp: Any, amount: Any, fmt: Any = None) -> str:
        moment = _timestamp(stamp) + timedelta(**{unit: _num(amount)})
        return format_timestamp(moment, _str(fmt) if fmt is not None else None)
    return body


def _format(stamp: Any, fmt: Any = None) -> str:
    return format_timestamp(_timestamp(stamp), _str(fmt) if fmt is not None else None)


def _utcnow(now: datetime, fmt: Any = None) -> str:
    return format_timestamp(now, _str(fmt) if fmt is not None else None)


def _start_of_day(stamp: Any, fmt: Any = None) -> str:
    moment = _timestamp(stamp).replace(hour=0, minute=0, second=0, microsecond=0)
    return format_timestamp(moment, _str(fmt) if fmt is not None else None)


def _union(*values: Any) -> Any:
    if all(isinstance(v, dict) for v in values):
        merged: dict[str, Any] = {}
        for v in values:
            merged.update(v)
        return merged
    out: list[Any] = []
    for v in values:
        for item in _arr(v):
            if not any(_equals(item, seen) for seen in out):
                out.append(item)
    return out


def _intersection(*values: Any) -> list[Any]:
    first, rest = _arr(values[0]), [_arr(v) for v in values[1:]]
    return [x for x in first if all(any(_equals(x, y) for y in other) for other in rest)]


def _take(value: Any, count: Any) -> Any:
    n = max(0, int(_num(count)))
    if isinstance(value, str | list):
        return value[:n]
    raise FunctionError(f"expects a string or array, got {_kind(value)}")


def _skip(value: Any, count: Any) -> Any:
    n = max(0, int(_num(count)))
    if isinstance(value, str | list):
        return value[n:]
    raise FunctionError(f"expects a string or array, got {_kind(value)}")


def _extreme(pick: Callable[..., Any]) -> Callable[..., Any]:
    def body(*values: Any) -> Any:
        items = values[0] if len(values) == 1 and isinstance(values[0], list) else list(values)
        if not items:
            raise FunctionError("needs at least one number")
        return pick(_num(v) for v in items)
    return body


def _add(a: Any, b: Any) -> Any:
    return _num(a) + _num(b)


def _concat(*values: Any) -> str:
    return "".join(to_text(v) for v in values)


_F = Function
FUNCTIONS: dict[str, Function] = {f.name.lower(): f for f in (
    _F("concat", 1, None, _concat),
    _F("equals", 2, 2, _equals),
    _F("greater", 2, 2, lambda a, b: _compare(a, b) > 0),
    _F("greaterOrEquals", 2, 2, lambda a, b: _compare(a, b) >= 0),
    _F("less", 2, 2, lambda a, b: _compare(a, b) < 0),
    _F("lessOrEquals", 2, 2, lambda a, b: _compare(a, b) <= 0),
    _F("and", 2, None, lambda *v: all(_bool(x) for x in v)),
    _F("or", 2, None, lambda *v: any(_bool(x) for x in v)),
    _F("not", 1, 1, lambda v: not _bool(v)),
    _F("if", 3, 3, lambda c, a, b: a if _bool(c) else b),  # evaluated lazily by the evaluator
    _F("add", 2, 2, _add),
    _F("sub", 2, 2, lambda a, b: _num(a) - _num(b)),
    _F("mul", 2, 2, lambda a, b: _num(a) * _num(b)),
    _F("div", 2, 2, _div),
    _F("mod", 2, 2, _mod),
    _F("max", 1, None, _extreme(max)),
    _F("min", 1, None, _extreme(min)),
    _F("length", 1, 1, _length),
    _F("empty", 1, 1, _empty),
    _F("contains", 2, 2, _contains),
    _F("coalesce", 1, None, _coalesce),
    _F("first", 1, 1, _first),
    _F("last", 1, 1, _last),
    _F("split", 2, 2, lambda s, sep: _str(s).split(_str(sep)) if _str(sep) else list(_str(s))),
    _F("join", 2, 2, lambda a, sep: _str(sep).join(to_text(x) for x in _arr(a))),
    _F("replace", 3, 3, lambda s, old, new: _str(s).replace(_str(old), _str(new))),
    _F("toLower", 1, 1, lambda s: _str(s).lower()),
    _F("toUpper", 1, 1, lambda s: _str(s).upper()),
    _F("trim", 1, 1, lambda s: _str(s).strip()),
    _F("startsWith", 2, 2, lambda s, p: _str(s).lower().startswith(_str(p).lower())),
    _F("endsWith", 2, 2, lambda s, p: _str(s).lower().endswith(_str(p).lower())),
    _F("indexOf", 2, 2, lambda s, p: _str(s).lower().find(_str(p).lower())),
    _F("substring", 2, 3, _substring),
    _F("string", 1, 1, to_text),
    _F("int", 1, 1, _int),
    _F("float", 1, 1, _float),
    _F("bool", 1, 1, _to_bool),
    _F("json", 1, 1, _json),
    _F("array", 1, 1, lambda v: [v]),
    _F("createArray", 0, None, lambda *v: list(v)),
    _F("range", 2, 2, _range),
    _F("union", 2, None, _union),
    _F("intersection", 2, None, _intersection),
    _F("take", 2, 2, _take),
    _F("skip", 2, 2, _skip),
    _F("guid", 0, 0, lambda: str(uuid.uuid4())),
    _F("utcnow", 0, 1, _utcnow, needs_now=True),
    _F("formatDateTime", 1, 2, _format),
    _F("addDays", 2, 3, _shift("days")),
    _F("addHours", 2, 3, _shift("hours")),
    _F("addMinutes", 2, 3, _shift("minutes")),
    _F("addSeconds", 2, 3, _shift("seconds")),
    _F("startOfDay", 1, 2, _start_of_day),
)}

#: Functions that read the run's state; the evaluator answers them from its context.
REFERENCES = {"pipeline": (0, 0), "activity": (1, 1), "item": (0, 0), "variables": (1, 1), "trigger": (0, 0),
              "triggerbody": (0, 0)}
LAZY = {"if", "and", "or"}
