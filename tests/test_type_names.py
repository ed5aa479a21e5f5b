"""One table of type names (lakeml.query.dtypes.SQL_TYPES), read the same way everywhere."""

from __future__ import annotations

import polars as pl
import pytest

from lakeml.errors import ConfigError, PredictError
from lakeml.query.dtypes import SQL_TYPES, parse_dtype, sql_name
from lakeml.registry.manifest import _ELEM
from lakeml.scoring.types import ONNX_ELEM, parse_outputs, parse_sql_type
from lakeml.session import Lake

# names lake.sql's CAST refuses (it never reads them differently); every other name must agree with it
NOT_SQL_CASTABLE = {"float32", "float64", "utf8", "categorical", "category"}


@pytest.mark.parametrize("name", sorted(SQL_TYPES))
def test_ingest_schema_and_predict_with_read_a_name_the_same(name: str) -> None:
    assert parse_dtype(name) == SQL_TYPES[name]
    assert parse_sql_type(name) == SQL_TYPES[name]
    assert parse_sql_type(name.upper()) == SQL_TYPES[name]
    assert parse_outputs({"out": name})[0].dtype == SQL_TYPES[name]


def test_the_names_users_tripped_on() -> None:
    for read in (parse_dtype, parse_sql_type):
        assert read("int8") == pl.Int64
        assert read("tinyint") == pl.Int8
        assert read("utinyint") == pl.UInt8
        assert read("int") == pl.Int32
        assert read("real") == pl.Float32
        assert read("float") == pl.Float64


def test_every_dtype_in_the_table_round_trips_through_its_name() -> None:
    for dtype in set(SQL_TYPES.values()):
        name = sql_name(dtype)
        assert name is not None and SQL_TYPES[name] == dtype
        assert parse_sql_type(name) == dtype and parse_dtype(name) == dtype


def test_names_mean_what_cast_means_in_lake_sql(lake: Lake) -> None:
    lake.write("t", pl.DataFrame({"x": [1]}))
    for name, dtype in SQL_TYPES.items():
        if name in NOT_SQL_CASTABLE:
            continue
        got = lake.sql(f"SELECT CAST(x AS {name}) AS x FROM t").collect().schema["x"]
        assert got == dtype, f"CAST(x AS {name}) gives {got} in lake.sql but {dtype} in the table"


def test_the_cast_a_scoring_error_suggests_gives_a_column_the_input_accepts() -> None:
    for elem, sql in _ELEM.values():
        if elem in ONNX_ELEM and sql is not None:
            assert isinstance(SQL_TYPES[sql], ONNX_ELEM[elem][1]), (elem, sql)


def test_unknown_names_are_refused_in_both_places() -> None:
    with pytest.raises(ConfigError, match="Unknown column type 'strng'"):
        parse_dtype("strng")
    with pytest.raises(PredictError, match="Unknown SQL type 'strng'"):
        parse_sql_type("strng")
