"""The one mapping between Arrow types (what crosses lakeml's engine boundary) and Spark SQL types.

Arrow types Spark has no twin for widen losslessly first (unsigned integers to the next signed
type, string views to strings); the rest is PySpark's own Arrow conversion. Conformance tests
compare results of both engines through :func:`comparable`.
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa

from lakeml.errors import SchemaError

# Arrow types Spark cannot hold as they are -> the Arrow type that holds every value and that Spark has.
_WIDEN: dict[pa.DataType, pa.DataType] = {
    pa.uint8(): pa.int16(), pa.uint16(): pa.int32(), pa.uint32(): pa.int64(), pa.uint64(): pa.decimal128(20, 0),
    pa.string_view(): pa.string(), pa.large_string(): pa.string(), pa.binary_view(): pa.binary(),
    pa.large_binary(): pa.binary(),
}


def spark_ready(dtype: pa.DataType) -> pa.DataType:
    """``dtype`` with every part Spark lacks widened (recursively through lists and structs)."""
    if dtype in _WIDEN:
        return _WIDEN[dtype]
    if pa.types.is_dictionary(dtype):
        return spark_ready(dtype.value_type)
    if pa.types.is_list(dtype) or pa.types.is_large_list(dtype) or pa.types.is_fixed_size_list(dtype) or \
            pa.types.is_list_view(dtype):
        return pa.list_(spark_ready(dtype.value_type))
    if pa.types.is_struct(dtype):
        return pa.struct([pa.field(f.name, spark_ready(f.type)) for f in dtype])
    if pa.types.is_timestamp(dtype) and dtype.unit == "ns":
        return pa.timestamp("us", dtype.tz)
    return dtype


def to_spark_schema(schema: pa.Schema) -> Any:
    """The Spark StructType of an Arrow schema."""
    from pyspark.sql.pandas.types import from_arrow_type
    from pyspark.sql.types import StructField, StructType

    fields = []
    for field in schema:
        try:
            fields.append(StructField(field.name, from_arrow_type(spark_ready(field.type)), True))
        except Exception as exc:
            raise SchemaError(f"Column {field.name!r} has the type {field.type}, which Spark cannot hold.",
                              hint="Cast it to a number, string, date or timestamp first.") from exc
    return StructType(fields)


def to_arrow_schema(struct: Any) -> pa.Schema:
    """The Arrow schema Spark exchanges batches in for a StructType (session time zone: UTC)."""
    from pyspark.sql.pandas.types import to_arrow_schema as spark_to_arrow

    return spark_to_arrow(struct, timezone="UTC", prefers_large_types=False)


def spark_table(table: pa.Table, struct: Any | None = None) -> pa.Table:
    """``table`` cast to exactly the Arrow schema Spark expects for ``struct`` (or for its own widened types)."""
    target = to_arrow_schema(struct if struct is not None else to_spark_schema(table.schema))
    if table.schema.equals(target):
        return table
    columns = []
    for i, field in enumerate(target):
        column = table.column(i)
        if pa.types.is_dictionary(column.type):
            column = column.cast(column.type.value_type)
        columns.append(column.cast(field.type))
    return pa.Table.from_arrays(columns, schema=target)


def comparable(schema: pa.Schema) -> pa.Schema:
    """A schema as both engines can agree on it: the Spark-ready widening of every column."""
    return pa.schema([pa.field(f.name, spark_ready(f.type)) for f in schema])
