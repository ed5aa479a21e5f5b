"""The grid of a tumbling window trigger: fixed-size, back-to-back windows from ``startTime``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from lakeml.pipeline.triggers.definition import TumblingWindow


@dataclass(frozen=True, order=True)
class Window:
    """One window ``[start, end)``, in UTC."""

    start: datetime
    end: datetime


def window_at(tw: TumblingWindow, index: int) -> Window:
    """Window number ``index`` (0 starts at ``startTime``)."""
    start = tw.start + tw.size * index
    return Window(start, start + tw.size)


def _index_at_or_after(tw: TumblingWindow, moment: datetime) -> int:
    """The index of the first window starting at or after ``moment``."""
    if moment <= tw.start:
        return 0
    whole, rest = divmod(moment - tw.start, tw.size)
    return whole + (1 if rest else 0)


def is_on_grid(tw: TumblingWindow, moment: datetime) -> bool:
    """Whether a window starts exactly at ``moment``."""
    return moment >= tw.start and (moment - tw.start) % tw.size == timedelta(0)


def ready_windows(tw: TumblingWindow, now: datetime) -> list[Window]:
    """Every window that has ended (plus ``delay``) by ``now`` and ends by ``endTime``, oldest first."""
    out: list[Window] = []
    index = 0
    while True:
        window = window_at(tw, index)
        if window.end + tw.delay > now or (tw.end is not None and window.end > tw.end):
            return out
        out.append(window)
        index += 1


def next_ready_time(tw: TumblingWindow, now: datetime) -> datetime | None:
    """When the next window after ``now`` becomes ready (None after ``endTime``)."""
    index = _index_at_or_after(tw, now - tw.delay - tw.size)
    while True:
        window = window_at(tw, index)
        if tw.end is not None and window.end > tw.end:
            return None
        ready = window.end + tw.delay
        if ready > now:
            return ready
        index += 1


def windows_between(tw: TumblingWindow, start: datetime, end: datetime) -> list[Window]:
    """The windows of the grid that start in ``[start, end)``, oldest first (any that end by ``endTime``)."""
    out: list[Window] = []
    index = _index_at_or_after(tw, start)
    while True:
        window = window_at(tw, index)
        if window.start >= end or (tw.end is not None and window.end > tw.end):
            return out
        out.append(window)
        index += 1


def dependencies(tw: TumblingWindow, window: Window) -> list[Window]:
    """The earlier windows of the same trigger that ``window`` waits for (self-dependency)."""
    needed: set[Window] = set()
    for dep in tw.depends_on:
        lo = window.start + dep.offset
        for candidate in windows_between(tw, lo, lo + dep.size):
            if candidate.start < window.start:
                needed.add(candidate)
    return sorted(needed)
