"""The one table of column type names lakeml accepts, mapped to Polars dtypes.

Every place a user writes a type name reads this table: ``ingest --schema``, ``PREDICT ... WITH``,
``outputs=`` and the ``CAST(col AS ...)`` hints in scoring errors. The names mean what a
``CAST(x AS name)`` means in ``lake.sql`` (PostgreSQL-style): ``int8`` is an 8-byte (64-bit)
integer, ``tinyint`` a signed 8-bit one, ``utinyint`` an unsigned 8-bit one, ``real`` 32-bit
and ``float`` 64-bit. A test checks the table against ``lake.sql`` and in both directions.
"""

from __future__ import annotations

from typing import Any

import polars as pl

from lakeml.errors import ConfigError

# name -> dtype; the first name listed for a dtype is the one lakeml writes (``sql_name``)
SQL_TYPES: dict[str, pl.DataType] = {
    "real": pl.Float32(), "float4": pl.Float32(), "float32": pl.Float32(),
    "float": pl.Float64(), "double": pl.Float64(), "double precision": pl.Float64(), "float8": pl.Float64(),
    "float64": pl.Float64(),
    "bigint": pl.Int64(), "int8": pl.Int64(), "long": pl.Int64(), "int64": pl.Int64(),
    "int": pl.Int32(), "integer": pl.Int32(), "int4": pl.Int32(), "int32": pl.Int32(),
    "smallint": pl.Int16(), "int2": pl.Int16(), "int16": pl.Int16(),
    "tinyint": pl.Int8(), "int1": pl.Int8(),
    "utinyint": pl.UInt8(),
    "uinteger": pl.UInt32(), "uint32": pl.UInt32(),
    "ubigint": pl.UInt64(), "uint64": pl.UInt64(),
    "varchar": pl.String(), "nvarchar": pl.String(), "char": pl.String(), "nchar": pl.String(),
    "string": pl.String(), "text": pl.String(), "str": pl.String(), "utf8": pl.String(),
    "bit": pl.Boolean(), "bool": pl.Boolean(), "boolean": pl.Boolean(),
    "date": pl.Date(), "timestamp": pl.Datetime("us"), "datetime": pl.Datetime("us"), "time": pl.Time(),
    "categorical": pl.Categorical(), "category": pl.Categorical(),
}


def sql_type(name: str) -> pl.DataType | None:
    """The dtype a type name means (case and spacing ignored), or None for a name not in the table."""
    return SQL_TYPES.get(" ".join(name.strip().lower().split()))


def sql_name(dtype: pl.DataType) -> str | None:
    """The name lakeml writes for ``dtype`` (``Float32`` -> ``real``), or None when it has none."""
    return next((name for name, dt in SQL_TYPES.items() if dt == dtype), None)


def parse_dtype(value: Any) -> Any:
    """A Polars dtype from a dtype, or a type name from :data:`SQL_TYPES` (``"bigint"``, ``"str"``...).

    Raises:
        ConfigError: a name not in the table.
    """
    if isinstance(value, pl.DataType) or (isinstance(value, type) and issubclass(value, pl.DataType)):
        return value
    dtype = sql_type(str(value))
    if dtype is None:
        raise ConfigError(f"Unknown column type {value!r}.", hint=f"Use one of: {', '.join(sorted(SQL_TYPES))}.")
    return dtype
