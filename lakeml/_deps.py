"""Optional imports with install hints."""

from __future__ import annotations

import importlib
from types import ModuleType

from lakeml.errors import MissingDependencyError

_EXTRA_FOR = {"pyspark": "spark", "duckdb": "bench", "flaml": "bench"}


def require(module: str, *, purpose: str) -> ModuleType:
    """Import an optional module or raise :class:`MissingDependencyError` with the pip line."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        extra = _EXTRA_FOR.get(module.split(".")[0])
        line = f"pip install 'lakeml[{extra}]'" if extra else f"pip install {module.split('.')[0]}"
        raise MissingDependencyError(
            f"{purpose} needs the optional package '{module}', which is not installed.",
            hint=f"Install it with: {line}",
        ) from exc
