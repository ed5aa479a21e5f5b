"""Time for the runner and the triggers: the system clock, or a fake one tests move by hand.

Every wait in lakeml.pipeline (retry intervals, Wait activities, Until loops, timeouts) goes
through a :class:`Clock`, so tests never sleep.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    """Wall-clock time and waiting."""

    def now(self) -> datetime:
        """The current time, timezone-aware UTC."""
        ...

    def monotonic(self) -> float:
        """Seconds on a clock that never goes back (for durations)."""
        ...

    def sleep(self, seconds: float, stop: threading.Event | None = None) -> bool:
        """Wait ``seconds`` or until ``stop`` is set; returns True when stopped early."""
        ...

    def wait(self, done: threading.Event, seconds: float) -> bool:
        """Wait for ``done`` for at most ``seconds`` (a fake clock waits for ``done`` only, since its
        time moves only when someone sleeps); returns whether ``done`` is set."""
        ...


class SystemClock:
    """The real clock."""

    def now(self) -> datetime:
        return datetime.now(UTC)

    def monotonic(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float, stop: threading.Event | None = None) -> bool:
        if seconds <= 0:
            return bool(stop and stop.is_set())
        if stop is None:
            time.sleep(seconds)
            return False
        return stop.wait(seconds)

    def wait(self, done: threading.Event, seconds: float) -> bool:
        return done.wait(seconds)


class FakeClock:
    """A clock that only moves when slept on or advanced: ``sleep`` returns at once, moving time.

    Args:
        start: the starting time (aware; naive is read as UTC).
    """

    def __init__(self, start: datetime | None = None) -> None:
        start = start or datetime(2026, 1, 1, tzinfo=UTC)
        self._now = start if start.tzinfo else start.replace(tzinfo=UTC)
        self._lock = threading.Lock()
        self.slept: list[float] = []

    def now(self) -> datetime:
        with self._lock:
            return self._now

    def monotonic(self) -> float:
        with self._lock:
            return self._now.timestamp()

    def advance(self, seconds: float) -> None:
        """Move time forward."""
        with self._lock:
            self._now += timedelta(seconds=seconds)

    def sleep(self, seconds: float, stop: threading.Event | None = None) -> bool:
        if stop is not None and stop.is_set():
            return True
        with self._lock:
            self.slept.append(seconds)
            self._now += timedelta(seconds=max(0.0, seconds))
        return bool(stop and stop.is_set())

    def wait(self, done: threading.Event, seconds: float) -> bool:
        done.wait()
        return True
