"""The one mapping between Spark SQL types and Polars types (and so lakeml's SQL type names).

Scoring binds models against a Polars schema (docs/predict.md rule 5), results cross engines as
Arrow, and the conformance tests compare schemas through this table.
"""

from __future__ import annotations

from typing import Any

import polars as pl

from lakeml.errors import SchemaError


def _spark_types() -> Any:
    from pyspark.sql import types as T

    return T


def scalar_pairs() -> list[tuple[Any, pl.DataType]]:
    """(Spark type, Polars type) for every scalar type both engines share, Spark's canonical form first."""
    T = _spark_types()
    return [
        (T.BooleanType(), pl.Boolean()), (T.ByteType(), pl.Int8()), (T.ShortType(), pl.Int16()),
        (T.IntegerType(), pl.Int32()), (T.LongType(), pl.Int64()), (T.FloatType(), pl.Float32()),
        (T.DoubleType(), pl.Float64()), (T.StringType(), pl.String()), (T.BinaryType(), pl.Binary()),
        (T.DateType(), pl.Date()), (T.TimestampType(), pl.Datetime("us", "UTC")),
        (T.TimestampNTZType(), pl.Datetime("us")), (T.NullType(), pl.Null()),
    ]


# Polars types Spark has no twin for, and the Spark type that holds every value of them.
_WIDER: dict[type[pl.DataType], str] = {
    pl.UInt8: "ShortType", pl.UInt16: "IntegerType", pl.UInt32: "LongType", pl.Categorical: "StringType",
    pl.Enum: "StringType", pl.Time: "LongType",
}


def to_polars(dtype: Any) -> pl.DataType:
    """The Polars type of a Spark type."""
    T = _spark_types()
    for spark, polars in scalar_pairs():
        if dtype == spark:
            return polars
    if isinstance(dtype, T.DecimalType):
        return pl.Decimal(dtype.precision, dtype.scale)
    if isinstance(dtype, T.ArrayType):
        return pl.List(to_polars(dtype.elementType))
    if isinstance(dtype, T.StructType):
        return pl.Struct({f.name: to_polars(f.dataType) for f in dtype.fields})
    raise SchemaError(f"The Spark type {dtype.simpleString()} has no Polars equivalent in lakeml.",
                      hint="CAST the column to a numeric, string, date or timestamp type in the query.")


def to_spark(dtype: pl.DataType) -> Any:
    """The Spark type of a Polars type (unsigned and categorical types widen losslessly)."""
    T = _spark_types()
    if isinstance(dtype, pl.Datetime):
        return T.TimestampType() if dtype.time_zone else T.TimestampNTZType()
    for spark, polars in scalar_pairs():
        if dtype == polars:
            return spark
    wider = _WIDER.get(dtype.base_type()) if hasattr(dtype, "base_type") else None
    if wider is not None:
        return getattr(T, wider)()
    if isinstance(dtype, pl.Decimal):
        return T.DecimalType(dtype.precision or 38, dtype.scale or 0)
    if isinstance(dtype, pl.Array | pl.List):
        return T.ArrayType(to_spark(_instance(dtype.inner)))
    if isinstance(dtype, pl.Struct):
        return T.StructType([T.StructField(f.name, to_spark(_instance(f.dtype))) for f in dtype.fields])
    raise SchemaError(f"The Polars type {dtype} has no Spark equivalent in lakeml.",
                      hint="Cast the column to a numeric, string, date or timestamp type first.")


def _instance(dtype: Any) -> pl.DataType:
    """Polars sometimes hands back a type class (``pl.Float32``) where an instance is meant."""
    return dtype() if isinstance(dtype, type) else dtype  # type: ignore[no-any-return]


def polars_schema(schema: Any) -> pl.Schema:
    """A Spark StructType as a Polars schema."""
    return pl.Schema({f.name: to_polars(f.dataType) for f in schema.fields})


def spark_schema(schema: pl.Schema | dict[str, pl.DataType]) -> Any:
    """A Polars schema as a Spark StructType."""
    T = _spark_types()
    return T.StructType([T.StructField(name, to_spark(dtype)) for name, dtype in schema.items()])


def arrow_schema(schema: Any) -> Any:
    """The Arrow schema Spark exchanges batches in for a StructType (what mapInArrow must yield)."""
    from pyspark.sql.pandas.types import to_arrow_schema

    return to_arrow_schema(schema, timezone="UTC", prefers_large_types=False)
