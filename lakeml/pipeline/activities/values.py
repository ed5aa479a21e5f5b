"""Turning frames and rows into JSON-ready outputs, and checking property values."""

from __future__ import annotations

import math
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from lakeml.errors import ConfigError


def json_value(value: Any) -> Any:
    """A cell as JSON can hold it: timestamps and dates as ISO text, NaN as null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, dict):
        return {str(k): json_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_value(v) for v in value]
    return value


def need(props: dict[str, Any], key: str, activity: str, kind: type | tuple[type, ...] = str) -> Any:
    """``props[key]`` when present and of type ``kind``.

    Raises:
        ConfigError: missing or of the wrong type (after expressions were evaluated).
    """
    value = props.get(key)
    if value is None or not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
        raise ConfigError(f"Activity {activity!r}: {key!r} must be a {_name(kind)}, got {value!r}.",
                          hint=f"Set typeProperties.{key} (an expression must evaluate to a {_name(kind)}).")
    return value


def _name(kind: type | tuple[type, ...]) -> str:
    kinds = kind if isinstance(kind, tuple) else (kind,)
    names = {str: "string", int: "number", float: "number", bool: "boolean", list: "list", dict: "object"}
    return " or ".join(dict.fromkeys(names.get(k, k.__name__) for k in kinds))
