"""The rows a model trains on: collected from any engine as Arrow, in one order that does not depend on the engine.

The validation split is drawn over row positions, so the same rows in another order give another
split and other metrics. Polars reads a table's files in their committed order; Spark packs files
into tasks by size, so a table of several files arrives in another order. Sorting the collected rows
by every sortable column makes the split (and so the metrics and the lineage fingerprint) a function
of the data alone, on every engine and whatever the file layout.
"""

from __future__ import annotations

from typing import Any

import polars as pl

from lakeml.context import LakeContext

__all__ = ["canonical_order", "collect_rows"]

_UNSORTABLE = (pl.List, pl.Array, pl.Struct, pl.Object, pl.Null)


def collect_rows(lake: LakeContext[Any], data: Any) -> pl.DataFrame:
    """Every row of ``data`` (a table name, SQL text or frame) on this machine, in :func:`canonical_order`.

    Engine errors propagate; the Lake boundary translates them.
    """
    frame = lake.frame(data)
    if isinstance(frame, pl.LazyFrame):
        collected = frame.collect()
    else:
        table = pl.from_arrow(lake.engine.collect(frame))
        assert isinstance(table, pl.DataFrame)
        collected = table
    return canonical_order(collected)


def canonical_order(frame: pl.DataFrame) -> pl.DataFrame:
    """``frame`` sorted by every column that has an order (nested columns are left out of the key).

    Rows equal in every key column keep their relative order; they differ at most in nested values.
    """
    keys = [name for name, dtype in frame.schema.items() if not isinstance(dtype, _UNSORTABLE)]
    if not keys or frame.height < 2:
        return frame
    return frame.sort(keys, nulls_last=True, maintain_order=True)
