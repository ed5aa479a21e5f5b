"""The Polars engine (the default): lazy ``LazyFrame`` plans, Polars SQL, streaming sinks.

This package is the one place lakeml uses Polars' engine APIs (scans, ``SQLContext``, sinks) for
engine work; the layers above reach it through :class:`lakeml.engines.base.Engine`.
"""

from __future__ import annotations

from lakeml.engines.polars.engine import PolarsEngine

__all__ = ["PolarsEngine", "create_engine"]


def create_engine() -> PolarsEngine:
    """The Polars engine (it takes no options)."""
    return PolarsEngine()
