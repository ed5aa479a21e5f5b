"""Time for the triggers: every trigger decision reads an injectable clock, so tests drive time."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    """Where the scheduler gets the time and how it waits."""

    def now(self) -> datetime:
        """The current time, timezone-aware (UTC)."""
        ...

    def wait(self, seconds: float, stop: threading.Event) -> bool:
        """Wait up to ``seconds`` or until ``stop`` is set; True when stopped."""
        ...


class SystemClock:
    """The wall clock."""

    def now(self) -> datetime:
        """The current UTC time."""
        return datetime.now(UTC)

    def wait(self, seconds: float, stop: threading.Event) -> bool:
        """Block on ``stop`` for up to ``seconds``."""
        return stop.wait(max(0.0, seconds))


class ManualClock:
    """A clock that moves only when told to (tests and simulations).

    ``wait`` advances the clock by the requested time instead of sleeping, so a serve loop driven by
    a manual clock runs through hours of schedule at once.
    """

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            start = start.replace(tzinfo=UTC)
        self._now = start.astimezone(UTC)
        self._lock = threading.Lock()

    def now(self) -> datetime:
        """The clock's current time."""
        with self._lock:
            return self._now

    def set(self, when: datetime) -> None:
        """Jump to ``when`` (naive times are UTC)."""
        with self._lock:
            self._now = (when if when.tzinfo else when.replace(tzinfo=UTC)).astimezone(UTC)

    def advance(self, delta: timedelta | float) -> datetime:
        """Move forward by ``delta`` (a timedelta or seconds); returns the new time."""
        step = delta if isinstance(delta, timedelta) else timedelta(seconds=delta)
        with self._lock:
            self._now += step
            return self._now

    def wait(self, seconds: float, stop: threading.Event) -> bool:
        """Advance by ``seconds`` without sleeping."""
        if stop.is_set():
            return True
        self.advance(max(0.0, seconds))
        return stop.is_set()
