"""Execution engines behind one boundary (:mod:`lakeml.engines.base`): Polars (default) and Spark.

Engines load lazily by name, so ``import lakeml`` imports neither an engine nor pyspark.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Any

from lakeml.engines.base import Engine
from lakeml.errors import ConfigError, UnsupportedOperationError

#: Engine names users pass as ``backend=``.
ENGINES: tuple[str, ...] = ("polars", "spark")


def load_engine(name: str, *, options: Mapping[str, object] | None = None) -> Engine[Any]:
    """The engine called ``name``, built with ``options`` (e.g. ``spark=``, ``spark_conf=`` for Spark).

    Each engine package exposes ``create_engine(**options)``.

    Raises:
        ConfigError: an unknown engine name.
        MissingDependencyError: the engine's optional packages are not installed (pip line in the hint).
        UnsupportedOperationError: the engine is not part of this lakeml build.
    """
    if name not in ENGINES:
        raise ConfigError(f"Unknown backend {name!r}.", hint=f"Use one of: {', '.join(ENGINES)}.")
    try:
        module = importlib.import_module(f"lakeml.engines.{name}")
    except ModuleNotFoundError as exc:
        if exc.name != f"lakeml.engines.{name}":
            raise  # a missing dependency of the engine: its own error names it
        raise UnsupportedOperationError(f"The {name!r} backend is not available in this version of lakeml.",
                                        hint="Use backend='polars' (the default single-machine engine).") from None
    engine: Engine[Any] = module.create_engine(**dict(options or {}))
    return engine
