"""The scoring layer's side of the model registry: load checks and alias binding (wired by the session)."""

from __future__ import annotations

from lakeml.registry.registry import ModelVersion
from lakeml.scoring.bound import BoundModel, ScoringContext, bind_model
from lakeml.scoring.session import new_session

__all__ = ["ScoringRuntime"]


class ScoringRuntime:
    """The :class:`~lakeml.registry.registry.ModelRuntime` of one lake: ONNX Runtime checks and bindings."""

    def __init__(self, lake: ScoringContext) -> None:
        self._lake = lake

    def check_loadable(self, onnx: bytes) -> None:
        """Raise a lakeml error if ONNX Runtime cannot load ``onnx``."""
        new_session(onnx, threads=1)

    def bind(self, mv: ModelVersion, *, alias: str, return_type: str | None, output: str | None) -> BoundModel:
        """Bind ``mv`` to ``alias`` on the lake (see :func:`lakeml.scoring.bound.bind_model`)."""
        return bind_model(self._lake, mv, alias=alias, return_type=return_type, output=output)
