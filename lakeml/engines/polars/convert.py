"""Turning user data (frames of any common kind) into Polars LazyFrames (the Polars engine's ``from_data``)."""

from __future__ import annotations

from typing import Any

import polars as pl

from lakeml.errors import ConfigError


def to_lazy(data: Any) -> pl.LazyFrame:
    """Accept a Polars LazyFrame/DataFrame, a pandas DataFrame, or a pyarrow Table/RecordBatch.

    Raises:
        ConfigError: for anything else.
    """
    if isinstance(data, pl.LazyFrame):
        return data
    if isinstance(data, pl.DataFrame):
        return data.lazy()
    module = type(data).__module__.split(".")[0]
    if module == "pandas":
        return pl.from_pandas(data).lazy()
    if module == "pyarrow":
        import pyarrow as pa

        if isinstance(data, pa.RecordBatchReader):
            return pl.from_arrow(data.read_all()).lazy()  # type: ignore[union-attr]
        frame = pl.from_arrow(data)
        return frame.lazy() if isinstance(frame, pl.DataFrame) else frame.to_frame().lazy()
    raise ConfigError(
        f"Cannot use a {type(data).__name__} as table data.",
        hint="Pass a Polars LazyFrame/DataFrame, a pandas DataFrame or a pyarrow Table.",
    )
