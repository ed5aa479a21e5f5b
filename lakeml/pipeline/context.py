"""What the pipeline layer needs from a lake, as typed Protocols (the session's ``Lake`` has it all).

Activities drive the lake's public operations (SQL, writes, training, AutoML, scoring, profiles,
table descriptions), so :class:`PipelineContext` extends the registry's
:class:`~lakeml.registry.context.ModelsContext` with those; triggers only run stored pipelines
(:class:`PipelinesContext`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal, Protocol

from lakeml.context import StorageContext
from lakeml.registry.context import ModelsContext

if TYPE_CHECKING:
    from lakeml.explore.profile import Profile
    from lakeml.ml.automl.result import AutoMLResult
    from lakeml.ml.train import TrainResult
    from lakeml.pipeline.api import Pipelines
    from lakeml.scoring.api import ScoreResult

__all__ = ["PipelineContext", "PipelinesContext", "TableFacts"]


class TableFacts(Protocol):
    """What GetMetadata reads of a table description (``Lake.describe``)."""

    @property
    def managed(self) -> bool:
        """Whether lakeml owns the table's files (under ``tables/<name>/``)."""
        ...

    @property
    def schema(self) -> Mapping[str, str]:
        """Column names and their type names."""
        ...

    @property
    def num_rows(self) -> int | None:
        """The row count when cheap to know, else None."""
        ...


class PipelineContext(ModelsContext, Protocol):
    """A lake's tables, SQL and registry plus the operations pipeline activities run."""

    def describe(self, name: str) -> TableFacts:
        """Schema, format, location and (when cheap) row count of a table."""
        ...

    def train(self, data: object, *, target: str, model: str = ..., params: dict[str, Any] | None = ...,
              task: str | None = ..., roles: dict[str, str] | None = ..., seed: int = ...) -> TrainResult:
        """Train one model family (``Lake.train``)."""
        ...

    def automl(self, data: object, *, target: str, task: Literal["classification", "regression"] | None = ...,
               metric: str | None = ..., time_budget: float | None = ..., max_trials: int | None = ...,
               seed: int | None = ..., allowed: Sequence[str] | None = ..., blocked: Sequence[str] | None = ...,
               roles: dict[str, str] | None = ...) -> AutoMLResult:
        """Search families and hyperparameters within a budget (``Lake.automl``)."""
        ...

    def score(self, model: str, source: object, target: str, *, outputs: str | dict[str, Any] | None = ...,
              on_null: str = ..., mode: str = ...) -> ScoreResult:
        """Stream a table or query through a model into a table (``Lake.score``)."""
        ...

    def profile(self, data: object, *, target: str | None = ..., sample: int | float | None = ...) -> Profile:
        """Profile a table or query (``Lake.profile``)."""
        ...


class PipelinesContext(StorageContext, Protocol):
    """A lake's storage and settings plus its stored pipelines (what triggers need to run fires)."""

    @property
    def pipelines(self) -> Pipelines:
        """The lake's pipelines (``lake.pipelines``)."""
        ...
