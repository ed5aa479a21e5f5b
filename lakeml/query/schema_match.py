"""Fitting appended data to a table's columns: lossless widening, and the differences nothing fixes."""

from __future__ import annotations

from dataclasses import dataclass, field

import polars as pl

_SIGNED = (pl.Int8, pl.Int16, pl.Int32, pl.Int64)
_UNSIGNED = (pl.UInt8, pl.UInt16, pl.UInt32, pl.UInt64)
_FLOATS = (pl.Float32, pl.Float64)


def _rank(dtype: pl.DataType, family: tuple[type[pl.DataType], ...]) -> int | None:
    return next((i for i, d in enumerate(family) if dtype == d), None)


def widens(source: pl.DataType, target: pl.DataType) -> bool:
    """Whether every ``source`` value can be cast to ``target`` (a wider type of the same kind).

    Integers widen to wider integers (unsigned to a strictly wider signed one) and to floats,
    Float32 to Float64, and an all-null column to anything. Int64 to Float64 is accepted as
    Spark and pandas accept it, although integers beyond 2**53 round.
    """
    if source == target or source == pl.Null:
        return True
    for family in (_SIGNED, _UNSIGNED, _FLOATS):
        s, t = _rank(source, family), _rank(target, family)
        if s is not None and t is not None:
            return s < t
    u, s = _rank(source, _UNSIGNED), _rank(target, _SIGNED)
    if u is not None and s is not None:
        return u < s
    if source.is_integer() and target.is_float():
        return target == pl.Float64 or _rank(source, _SIGNED + _UNSIGNED) in (0, 1, 4, 5)
    return False


@dataclass
class AppendFit:
    """How new data fits a table: the casts that widen it, and what cannot be fixed by a cast."""

    casts: dict[str, pl.DataType] = field(default_factory=dict)
    missing: list[str] = field(default_factory=list)
    extra: list[str] = field(default_factory=list)
    narrowing: dict[str, tuple[pl.DataType, pl.DataType]] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """Whether the data can be appended (after the casts)."""
        return not (self.missing or self.extra or self.narrowing)

    def describe(self) -> str:
        """The differences, naming only the columns that differ."""
        parts = []
        if self.missing:
            parts.append(f"the new data lacks column(s) {', '.join(self.missing)}")
        if self.extra:
            parts.append(f"the table has no column(s) {', '.join(self.extra)}")
        for name, (table_type, new_type) in self.narrowing.items():
            parts.append(f"column {name} is {table_type} in the table but {new_type} in the new data")
        return "; ".join(parts)


def fit_append(table: pl.Schema, new: pl.Schema) -> AppendFit:
    """Compare the schema of data to append with the table's schema."""
    fit = AppendFit(missing=[c for c in table if c not in new], extra=[c for c in new if c not in table])
    for name, dtype in table.items():
        got = new.get(name)
        if got is None or got == dtype:
            continue
        if widens(got, dtype):
            fit.casts[name] = dtype
        else:
            fit.narrowing[name] = (dtype, got)
    return fit


def conform(frame: pl.LazyFrame, table: pl.Schema, fit: AppendFit) -> pl.LazyFrame:
    """``frame`` with the table's column order and the widening casts applied."""
    return frame.select([pl.col(c).cast(fit.casts[c]) if c in fit.casts else pl.col(c) for c in table])
