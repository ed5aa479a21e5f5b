"""Column type names users write (in schemas and CLI flags) mapped to Polars dtypes."""

from __future__ import annotations

from typing import Any

import polars as pl

from lakeml.errors import ConfigError

_NAMES: dict[str, Any] = {
    "str": pl.String, "string": pl.String, "utf8": pl.String, "varchar": pl.String, "text": pl.String,
    "int": pl.Int64, "int64": pl.Int64, "bigint": pl.Int64, "int32": pl.Int32, "integer": pl.Int32,
    "int16": pl.Int16, "smallint": pl.Int16, "int8": pl.Int8, "tinyint": pl.Int8,
    "uint64": pl.UInt64, "uint32": pl.UInt32,
    "float": pl.Float64, "float64": pl.Float64, "double": pl.Float64, "float32": pl.Float32, "real": pl.Float32,
    "bool": pl.Boolean, "boolean": pl.Boolean, "bit": pl.Boolean,
    "date": pl.Date, "datetime": pl.Datetime("us"), "timestamp": pl.Datetime("us"), "time": pl.Time,
    "categorical": pl.Categorical, "category": pl.Categorical,
}


def parse_dtype(value: Any) -> Any:
    """A Polars dtype from a dtype, or a name such as ``"int64"``, ``"float"``, ``"str"``, ``"date"``."""
    if isinstance(value, pl.DataType) or (isinstance(value, type) and issubclass(value, pl.DataType)):
        return value
    key = str(value).strip().lower()
    if key in _NAMES:
        return _NAMES[key]
    raise ConfigError(f"Unknown column type {value!r}.", hint=f"Use one of: {', '.join(sorted(_NAMES))}.")
