"""What a trigger hands the pipeline runner, and what it gets back.

The scheduler knows the runner only through :data:`RunPipeline`: a callable that runs one pipeline
for one :class:`TriggerFire` and returns a :class:`RunOutcome`. The fire carries everything the
pipeline's expressions read about their trigger: ``@trigger().outputs.windowStartTime``,
``@triggerBody().fileName``, ``pipeline().TriggerTime``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from lakeml.pipeline.triggers.timefmt import iso


@dataclass(frozen=True)
class TriggerFire:
    """One pipeline run a trigger asks for.

    Attributes:
        trigger: the trigger's name.
        trigger_type: the cloud type name (``ScheduleTrigger``, ``TumblingWindowTrigger``, ``BlobEventsTrigger``).
        pipeline: the pipeline to run.
        parameters: the trigger's parameter values for it (expressions not yet evaluated).
        scheduled_time: when the fire was due (the window end for a tumbling window).
        trigger_time: when the trigger actually started the run.
        window_start / window_end: the tumbling window, if any.
        file_name / folder_path: the new file of a storage event (``folder_path`` lake-relative).
        attempt: 1 for the first run of this fire, more for retries and reruns.
        cancel: set when the run should stop (the serve process is shutting down).
    """

    trigger: str
    trigger_type: str
    pipeline: str
    parameters: dict[str, Any]
    scheduled_time: datetime
    trigger_time: datetime
    window_start: datetime | None = None
    window_end: datetime | None = None
    file_name: str | None = None
    folder_path: str | None = None
    attempt: int = 1
    cancel: threading.Event = field(default_factory=threading.Event, compare=False, repr=False)

    def outputs(self) -> dict[str, Any]:
        """``@trigger().outputs``: the window bounds (tumbling windows) or the event body (storage events)."""
        if self.window_start is not None and self.window_end is not None:
            return {"windowStartTime": iso(self.window_start), "windowEndTime": iso(self.window_end)}
        if self.file_name is not None:
            return {"body": self.body()}
        return {}

    def body(self) -> dict[str, Any]:
        """``@triggerBody()``: ``fileName`` and ``folderPath`` of a storage event (empty otherwise)."""
        if self.file_name is None:
            return {}
        return {"fileName": self.file_name, "folderPath": self.folder_path or ""}

    def info(self) -> dict[str, Any]:
        """``@trigger()``: name, type, scheduledTime, startTime and outputs."""
        return {"name": self.trigger, "type": self.trigger_type, "scheduledTime": iso(self.scheduled_time),
                "startTime": iso(self.trigger_time), "outputs": self.outputs()}


@dataclass(frozen=True)
class RunOutcome:
    """How a triggered pipeline run ended: its run id, status (Succeeded/Failed/Cancelled) and message."""

    run_id: str
    status: str
    message: str = ""


#: Runs one pipeline for one fire; must not raise for a failed run (return status ``Failed``).
RunPipeline = Callable[[TriggerFire], RunOutcome]
