"""The wall-clock budget of one AutoML call (a tiny module: it is imported before anything heavy)."""

from __future__ import annotations

import contextlib
import math
import time


def process_start() -> float:
    """When this process started, on the ``time.monotonic()`` scale (now, where /proc is unavailable).

    The CLI's budget covers the whole command, interpreter start-up and imports included.
    """
    import os

    try:
        with open("/proc/self/stat") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
        with open("/proc/uptime") as fh:
            uptime = float(fh.read().split()[0])
        age = uptime - int(fields[19]) / os.sysconf("SC_CLK_TCK")  # field 22 of stat: start time in ticks
    except (OSError, ValueError, IndexError):
        return time.monotonic()
    return time.monotonic() - max(0.0, age)


_PROCESS_IS_COMMAND = False


def mark_process_is_command() -> None:
    """Record that this process was started to run one lakeml command (the ``lakeml`` console script)."""
    global _PROCESS_IS_COMMAND
    _PROCESS_IS_COMMAND = True


def end_command_now(code: int = 0) -> None:
    """When this process is the lakeml command, end it now: flush the output and exit without the
    interpreter's teardown. That teardown frees every object of scikit-learn, ONNX, Polars and the
    rest one by one, seconds of CPU on a loaded machine (measured: 5 s at load 19 on 2 cores),
    past a budget that covers the command up to its exit. Everything the command wrote is already
    closed. Does nothing in any other process (a notebook, a test, a host program)."""
    if not _PROCESS_IS_COMMAND:
        return
    import os
    import sys

    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    os._exit(code)


def command_start() -> float:
    """When the current command's budget starts: the process start when the process is the command
    (interpreter start-up and imports count), else now (a command run inside a notebook, a test or
    another program must not be charged for the life of its host process)."""
    return process_start() if _PROCESS_IS_COMMAND else time.monotonic()


class Clock:
    """Wall-clock budget: started at construction (or at ``start``); ``budget=None`` means no time limit."""

    def __init__(self, budget: float | None, start: float | None = None) -> None:
        self.start = time.monotonic() if start is None else min(start, time.monotonic())
        self.budget = budget
        self.deadline = self.start + budget if budget is not None else math.inf

    def elapsed(self) -> float:
        """Seconds since the start."""
        return time.monotonic() - self.start

    def remaining(self) -> float:
        """Seconds left (``inf`` without a budget; negative once overrun)."""
        return self.deadline - time.monotonic()
