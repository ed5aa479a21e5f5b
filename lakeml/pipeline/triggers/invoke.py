"""From a trigger fire to a pipeline run: the trigger's parameter values are evaluated in the
trigger's context (``@trigger().outputs.windowStartTime``, ``@triggerBody().fileName``), then the
pipeline runs with the trigger's details so its own expressions can read them too."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from lakeml.pipeline.expressions import compile_value, render
from lakeml.pipeline.triggers.fire import TriggerFire
from lakeml.pipeline.triggers.timefmt import iso

if TYPE_CHECKING:
    from lakeml.pipeline.context import PipelinesContext
    from lakeml.pipeline.triggers.fire import RunOutcome, RunPipeline


class TriggerContext:
    """What a trigger's parameter values may read: ``trigger()``, ``triggerBody()`` and the trigger fields
    of ``pipeline()``; activities, items and variables do not exist yet."""

    def __init__(self, fire: TriggerFire) -> None:
        self.fire = fire

    def pipeline(self) -> dict[str, Any]:
        """``pipeline()`` as far as it is known before the run starts."""
        return {"Pipeline": self.fire.pipeline, "TriggerName": self.fire.trigger, "TriggerType": self.fire.trigger_type,
                "TriggerTime": iso(self.fire.trigger_time), "parameters": {}}

    def activity(self, name: str) -> dict[str, Any]:
        """No activity has run when a trigger's parameters are evaluated."""
        raise KeyError(name)

    def item(self) -> Any:
        """There is no ForEach item here."""
        raise LookupError("item() is only available inside a ForEach")

    def variable(self, name: str) -> Any:
        """Pipeline variables do not exist before the run."""
        raise KeyError(name)

    def trigger(self) -> dict[str, Any]:
        """``trigger()``."""
        return self.fire.info()

    def trigger_body(self) -> dict[str, Any]:
        """``triggerBody()``."""
        return self.fire.body()

    def now(self) -> datetime:
        """The time the trigger started the run."""
        return self.fire.trigger_time


def resolve_parameters(fire: TriggerFire) -> dict[str, Any]:
    """The trigger's parameter values for ``fire``, expressions evaluated.

    Raises:
        ExpressionError: a value is a bad expression (naming it and the position).
    """
    resolved = render(compile_value(dict(fire.parameters)), TriggerContext(fire))
    return dict(resolved) if isinstance(resolved, dict) else {}


def lake_runner(lake: PipelinesContext, *, poll: float = 0.2) -> RunPipeline:
    """A :data:`~.fire.RunPipeline` that runs the lake's stored pipelines with ``lake.pipelines.run``.

    The run is recorded with ``invokedBy`` the trigger's name; when the fire's ``cancel`` is set the
    run is cancelled (its activities stop and it ends ``Cancelled``).
    """
    from lakeml.pipeline.triggers.fire import RunOutcome

    def run(fire: TriggerFire) -> RunOutcome:
        parameters = resolve_parameters(fire)
        handle = lake.pipelines.run(fire.pipeline, parameters, wait=False, invoked_by=fire.trigger,
                                    trigger=fire.info(), trigger_body=fire.body())
        cancelled = False
        while not handle.done.wait(poll):
            if fire.cancel.is_set() and not cancelled:
                handle.cancel()
                cancelled = True
        result = handle.wait()
        return RunOutcome(str(result.run_id), str(result.status), str(result.message or ""))

    return run
