"""Activity handlers, by type. A handler takes the activity's context and its evaluated
``typeProperties`` and returns the activity's output (a JSON-ready dict, or None)."""

from __future__ import annotations

from lakeml.pipeline.activities import control, data, ml, python
from lakeml.pipeline.runner import Handler

HANDLERS: dict[str, Handler] = {**control.HANDLERS, **data.HANDLERS, **ml.HANDLERS, **python.HANDLERS}

__all__ = ["HANDLERS"]
