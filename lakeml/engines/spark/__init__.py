"""The Spark engine: ``lakeml.connect(root, backend="spark")``.

The only package that imports pyspark, and only when a Spark lake is used: ``import lakeml``
never does. See docs/engines.md for what lakeml promises on Spark.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lakeml.engines.spark.engine import SparkEngine

__all__ = ["create_engine"]


def create_engine(*, spark: Any = None, spark_conf: Mapping[str, Any] | None = None) -> SparkEngine:
    """A :class:`~lakeml.engines.spark.engine.SparkEngine` on ``spark``, or on a local session started on first use.

    Raises:
        MissingDependencyError: pyspark is not installed (the hint has the pip line).
    """
    from lakeml.engines.spark.engine import SparkEngine

    return SparkEngine(spark, spark_conf)
