"""Missing-value tokens in CSV files: which text columns are really numbers with ``NA`` cells.

R and pandas read ``NA``, ``NaN`` and empty cells as missing; Polars reads only empty cells so,
and infers a column holding ``NA`` as text. lakeml applies the R/pandas tokens to columns that are
numbers apart from them (a text column keeps its ``"NA"``: it may be Namibia), and reports a text
column that is mostly numbers, naming the token that kept it text.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import polars as pl

DEFAULT_NULL_VALUES: tuple[str, ...] = ("", "NA", "N/A", "NaN", "nan", "NULL", "null")
"""Cells read as missing in numeric-looking CSV columns (the R and pandas defaults, in short)."""

MOSTLY_NUMERIC = 0.9  # share of numbers among a text column's values above which a warning names the rest


@dataclass(frozen=True)
class TextColumn:
    """A column read as text although most of its values are numbers."""

    column: str
    token: str
    count: int
    share: float


def _numbers(values: pl.Series) -> pl.Series:
    return values.str.strip_chars().cast(pl.Float64, strict=False)


def numeric_type(values: pl.Series) -> pl.DataType:
    """Int64 when every value is a whole number written without a decimal point, else Float64."""
    return pl.Int64() if values.str.strip_chars().cast(pl.Int64, strict=False).null_count() == 0 else pl.Float64()


def classify(sample: pl.DataFrame, nulls: Iterable[str]) -> tuple[dict[str, pl.DataType], list[TextColumn]]:
    """Split the text columns of a sample into numeric-looking ones and mostly numeric ones.

    Returns:
        The columns whose values are all numbers or null tokens, with the numeric type to read
        them as; and the columns that stay text although at least 90% of their values are numbers,
        each with its most frequent non-numeric value.
    """
    tokens = set(nulls)
    numeric: dict[str, pl.DataType] = {}
    mostly: list[TextColumn] = []
    for name in sample.columns:
        values = sample[name].drop_nulls()
        if values.dtype != pl.String or values.is_empty():
            continue
        values = values.filter(~values.is_in(sorted(tokens)))
        if values.is_empty():
            continue
        parsed = _numbers(values)
        bad = values.filter(parsed.is_null())
        if bad.is_empty():
            numeric[name] = numeric_type(values)
        elif 1 - bad.len() / values.len() >= MOSTLY_NUMERIC:
            counts = bad.value_counts(sort=True)
            token, count = counts.row(0)
            mostly.append(TextColumn(name, str(token), int(count), 1 - bad.len() / values.len()))
    return numeric, mostly


def as_number(column: str, dtype: pl.DataType, nulls: Iterable[str]) -> pl.Expr:
    """``column`` (text) as ``dtype``, with the null tokens read as missing; other text fails the cast."""
    col = pl.col(column)
    trimmed = col.str.strip_chars()
    missing = trimmed.is_in(sorted(set(nulls)))
    return pl.when(missing).then(None).otherwise(trimmed).cast(dtype, strict=True).alias(column)
