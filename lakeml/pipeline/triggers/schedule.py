"""When a schedule trigger fires: the occurrences of a recurrence, in its time zone.

A period is ``interval`` units of ``frequency`` counted from ``startTime``; inside a period the
``schedule`` picks the times (``minutes`` of an hour; ``hours`` x ``minutes`` of a day; ``weekDays``
of a week; ``monthDays`` of a month, ``-1`` being the last day). Without a schedule the trigger fires
at the start of each period. Days, weeks and months follow the calendar of ``timeZone`` (so a
daily 06:00 stays 06:00 across daylight-saving changes); minutes and hours are fixed lengths.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

from lakeml.pipeline.triggers.definition import Recurrence

_FIXED = {"Minute": timedelta(minutes=1), "Hour": timedelta(hours=1)}
_APPROX = {"Minute": timedelta(minutes=1), "Hour": timedelta(hours=1), "Day": timedelta(days=1),
           "Week": timedelta(days=7)}
_MAX_EMPTY_PERIODS = 5000  # a schedule that can never fire (monthDays [31] every 12 months from February)


def next_occurrence(rec: Recurrence, after: datetime, *, inclusive: bool = True) -> datetime | None:
    """The first occurrence at or after ``after`` (strictly after unless ``inclusive``), in UTC; None past the end."""
    return next(occurrences(rec, after, inclusive=inclusive), None)


def occurrences(rec: Recurrence, after: datetime, *, inclusive: bool = True) -> Iterator[datetime]:
    """Every occurrence from ``after`` on, ascending, in UTC (ends at ``endTime``)."""
    start = rec.start.astimezone(UTC)
    floor = max(after.astimezone(UTC), start)
    strict = not inclusive and floor == after.astimezone(UTC)
    empty = 0
    period = _first_period(rec, floor)
    while True:
        found = False
        for moment in _period_times(rec, period):
            if moment < start:
                continue
            if rec.end is not None and moment > rec.end:
                return
            if moment < floor or (strict and moment == floor):
                continue
            found = True
            yield moment
        empty = 0 if found else empty + 1
        if empty > _MAX_EMPTY_PERIODS:
            return
        if rec.end is not None and _period_base(rec, period) > rec.end:
            return
        period += 1


def _first_period(rec: Recurrence, floor: datetime) -> int:
    """A period index at or before the one holding ``floor`` (one early, to cover calendar shifts)."""
    start = rec.start.astimezone(UTC)
    if rec.frequency == "Month":
        local_start, local_floor = rec.start.astimezone(rec.zone), floor.astimezone(rec.zone)
        months = (local_floor.year - local_start.year) * 12 + local_floor.month - local_start.month
        return max(0, months // rec.interval - 1)
    length = _APPROX[rec.frequency] * rec.interval
    return max(0, int((floor - start) / length) - 1)


def _period_base(rec: Recurrence, k: int) -> datetime:
    """The start of period ``k`` in UTC."""
    if rec.frequency in _FIXED:
        return rec.start.astimezone(UTC) + _FIXED[rec.frequency] * rec.interval * k
    local = rec.start.astimezone(rec.zone)
    if rec.frequency == "Month":
        month_index = local.month - 1 + k * rec.interval
        year, month = local.year + month_index // 12, month_index % 12 + 1
        day = min(local.day, calendar.monthrange(year, month)[1])
        return _at(date(year, month, day), local.hour, local.minute, local.second, rec).astimezone(UTC)
    days = (7 if rec.frequency == "Week" else 1) * rec.interval * k
    return _at(local.date() + timedelta(days=days), local.hour, local.minute, local.second, rec)


def _at(day: date, hour: int, minute: int, second: int, rec: Recurrence) -> datetime:
    """Wall-clock ``day hour:minute:second`` in the recurrence's zone, as UTC."""
    return datetime(day.year, day.month, day.day, hour, minute, second, tzinfo=rec.zone).astimezone(UTC)


def _clock_times(rec: Recurrence) -> list[tuple[int, int, int]]:
    """The (hour, minute, second) of day the schedule fires at."""
    local = rec.start.astimezone(rec.zone)
    if not rec.hours and not rec.minutes:
        return [(local.hour, local.minute, local.second)]
    hours = rec.hours or (local.hour,)
    minutes = rec.minutes or (local.minute,)
    return [(h, m, 0) for h in hours for m in minutes]


def _period_times(rec: Recurrence, k: int) -> list[datetime]:
    """The occurrences inside period ``k``, ascending, in UTC."""
    base = _period_base(rec, k)
    if rec.frequency == "Minute" or (rec.frequency == "Hour" and not rec.minutes):
        return [base]
    local = base.astimezone(rec.zone)
    if rec.frequency == "Hour":
        hour = local.replace(minute=0, second=0, microsecond=0)
        return sorted(hour.replace(minute=m).astimezone(UTC) for m in rec.minutes)
    if rec.frequency == "Day":
        days = [local.date()]
    elif rec.frequency == "Week":
        start_weekday = rec.start.astimezone(rec.zone).weekday()
        monday = local.date() - timedelta(days=start_weekday)
        days = [monday + timedelta(days=d) for d in (rec.week_days or (start_weekday,))]
    else:
        last = calendar.monthrange(local.year, local.month)[1]
        wanted = rec.month_days or (rec.start.astimezone(rec.zone).day,)
        numbers = sorted({last if d == -1 else d for d in wanted if d == -1 or d <= last})
        days = [date(local.year, local.month, d) for d in numbers]
    return sorted(_at(day, h, m, s, rec) for day in days for h, m, s in _clock_times(rec))
