"""AutoML: hyperopt TPE over model families under a hard wall-clock budget.

Modules: ``space`` (search space), ``search`` (TPE ask/tell), ``workers`` (killable trial
processes), ``engine`` (the search loop), ``trial`` (what a worker runs), ``ensemble`` (voting),
``data`` (input preparation), ``finish`` (refit, export, parity, run tables), ``result``, ``api``.

>>> from lakeml.ml.automl import automl
>>> result = automl(lake, "flights", target="late", time_budget=60)   # doctest: +SKIP
"""

from __future__ import annotations

from typing import Any

__all__ = ["AutoMLResult", "automl"]


def __getattr__(name: str) -> Any:
    # Lazy, so worker processes importing lakeml.ml.automl.workers start fast.
    if name == "automl":
        from lakeml.ml.automl.api import automl

        return automl
    if name == "AutoMLResult":
        from lakeml.ml.automl.result import AutoMLResult

        return AutoMLResult
    raise AttributeError(f"module 'lakeml.ml.automl' has no attribute {name!r}")
