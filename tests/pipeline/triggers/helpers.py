"""Shared pieces of the trigger tests: definitions and a pipeline runner that records what it was asked."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from lakeml.pipeline.triggers.definition import Trigger, parse_trigger
from lakeml.pipeline.triggers.fire import RunOutcome, TriggerFire

T0 = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)  # a Monday


def tumbling(name: str = "hourly", *, start: str = "2026-03-02T07:00:00Z", **props: Any) -> Trigger:
    type_props = {"frequency": "Hour", "interval": 1, "startTime": start, **props}
    return parse_trigger({"name": name, "properties": {
        "type": "TumblingWindowTrigger",
        "pipeline": {"pipelineReference": {"referenceName": "load", "type": "PipelineReference"},
                     "parameters": {"from": "@trigger().outputs.windowStartTime"}},
        "typeProperties": type_props}})


class Recorder:
    """A pipeline runner: records each fire; ``outcome(fire)`` decides the status (default Succeeded).

    ``gate``: when given, every run waits for it (to hold runs in progress).
    """

    def __init__(self, outcome: Callable[[TriggerFire], str] | None = None,
                 gate: threading.Event | None = None) -> None:
        self.fires: list[TriggerFire] = []
        self.outcome = outcome or (lambda fire: "Succeeded")
        self.gate = gate
        self.lock = threading.Lock()
        self.running = 0
        self.peak = 0
        self.started = threading.Semaphore(0)

    def __call__(self, fire: TriggerFire) -> RunOutcome:
        with self.lock:
            self.fires.append(fire)
            number = len(self.fires)
            self.running += 1
            self.peak = max(self.peak, self.running)
        self.started.release()
        try:
            if self.gate is not None:
                while not self.gate.wait(0.05):
                    if fire.cancel.is_set():
                        return RunOutcome(f"run-{number}", "Cancelled", "cancelled")
            status = self.outcome(fire)
            return RunOutcome(f"run-{number}", status, "" if status == "Succeeded" else "boom")
        finally:
            with self.lock:
                self.running -= 1

    def windows(self) -> list[datetime]:
        return [f.window_start for f in self.fires if f.window_start is not None]

    def wait_started(self, count: int) -> None:
        for _ in range(count):
            assert self.started.acquire(timeout=30), "the scheduler did not start the expected runs"
