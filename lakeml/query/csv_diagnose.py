"""Find the first bad row of a CSV that Polars could not read: file, line and column."""

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Collection, Mapping
from dataclasses import dataclass

import polars as pl


@dataclass(frozen=True)
class CsvProblem:
    """Where a CSV file breaks its schema."""

    file: str
    line: int
    column: str
    reason: str
    value: str | None = None


def _fits(value: str, dtype: pl.DataType, null_values: Collection[str] = ()) -> bool:
    if value == "" or (dtype.is_numeric() and value.strip() in null_values):
        return True
    try:
        if dtype.is_integer():
            int(value)
        elif dtype.is_float():
            float(value)
        elif dtype == pl.Boolean:
            return value.lower() in ("true", "false", "1", "0")
        elif dtype == pl.Date:
            dt.date.fromisoformat(value)
        elif isinstance(dtype, pl.Datetime):
            dt.datetime.fromisoformat(value)
    except ValueError:
        return False
    return True


def diagnose_csv(files: list[str], schema: pl.Schema, *, separator: str = ",",
                 null_values: Mapping[str, Collection[str]] | None = None) -> CsvProblem | None:
    """Scan CSV files row by row and report the first row that does not fit ``schema``.

    ``null_values`` maps numeric columns to the tokens that read as missing in them, so the row
    reported is the first that holds a real misfit.
    """
    nulls = null_values or {}
    names = list(schema)
    for file in files:
        with open(file, newline="", encoding="utf-8", errors="replace") as handle:
            reader = csv.reader(handle, delimiter=separator)
            header = next(reader, None)
            if header is None:
                continue
            for row in reader:
                line = reader.line_num
                if len(row) != len(header):
                    column = header[min(len(row), len(header)) - 1] if len(row) > len(header) else header[len(row)]
                    return CsvProblem(file, line, column,
                                      f"expected {len(header)} fields, found {len(row)}")
                for name, value in zip(header, row, strict=False):
                    dtype = schema.get(name)
                    if dtype is not None and name in names and not _fits(value, dtype, nulls.get(name, ())):
                        return CsvProblem(file, line, name, f"value {value[:60]!r} is not a valid {dtype}", value)
    return None
