"""Schedule recurrences: frequencies, intervals, schedules, time zones, start and end times."""

from __future__ import annotations

from datetime import UTC, datetime
from itertools import islice
from typing import Any

from lakeml.pipeline.triggers.definition import Recurrence, parse_trigger
from lakeml.pipeline.triggers.schedule import next_occurrence, occurrences


def recurrence(**rec: Any) -> Recurrence:
    trigger = parse_trigger({"name": "s", "properties": {
        "type": "ScheduleTrigger", "pipelines": [{"pipelineReference": {"referenceName": "p"}}],
        "typeProperties": {"recurrence": rec}}})
    assert isinstance(trigger.settings, Recurrence)
    return trigger.settings


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


def first(rec: Recurrence, after: datetime, n: int) -> list[datetime]:
    return list(islice(occurrences(rec, after), n))


def test_every_15_minutes_from_the_start_time():
    rec = recurrence(frequency="Minute", interval=15, startTime="2026-01-01T00:05:00Z")
    assert first(rec, utc(2026, 1, 1, 0, 0), 3) == [utc(2026, 1, 1, 0, 5), utc(2026, 1, 1, 0, 20),
                                                    utc(2026, 1, 1, 0, 35)]


def test_a_start_in_the_past_means_the_next_future_occurrence():
    rec = recurrence(frequency="Hour", interval=1, startTime="2020-01-01T00:30:00Z")
    assert next_occurrence(rec, utc(2026, 5, 5, 10, 31)) == utc(2026, 5, 5, 11, 30)
    assert next_occurrence(rec, utc(2026, 5, 5, 11, 30)) == utc(2026, 5, 5, 11, 30)
    assert next_occurrence(rec, utc(2026, 5, 5, 11, 30), inclusive=False) == utc(2026, 5, 5, 12, 30)


def test_hourly_at_given_minutes():
    rec = recurrence(frequency="Hour", interval=2, startTime="2026-01-01T00:00:00Z", schedule={"minutes": [0, 30]})
    assert first(rec, utc(2026, 1, 1), 4) == [utc(2026, 1, 1, 0, 0), utc(2026, 1, 1, 0, 30), utc(2026, 1, 1, 2, 0),
                                              utc(2026, 1, 1, 2, 30)]


def test_daily_at_hours_and_minutes():
    rec = recurrence(frequency="Day", interval=1, startTime="2026-01-01T00:00:00Z",
                     schedule={"hours": [18, 6], "minutes": [15]})
    assert first(rec, utc(2026, 1, 1, 7), 3) == [utc(2026, 1, 1, 18, 15), utc(2026, 1, 2, 6, 15),
                                                 utc(2026, 1, 2, 18, 15)]


def test_weekly_on_week_days_every_other_week():
    # 2026-03-02 is a Monday
    rec = recurrence(frequency="Week", interval=2, startTime="2026-03-02T00:00:00Z",
                     schedule={"weekDays": ["Monday", "Friday"], "hours": [9], "minutes": [0]})
    assert first(rec, utc(2026, 3, 2), 4) == [utc(2026, 3, 2, 9), utc(2026, 3, 6, 9), utc(2026, 3, 16, 9),
                                              utc(2026, 3, 20, 9)]


def test_monthly_on_the_first_and_last_day():
    rec = recurrence(frequency="Month", interval=1, startTime="2026-01-01T00:00:00Z",
                     schedule={"monthDays": [1, -1], "hours": [23], "minutes": [0]})
    assert first(rec, utc(2026, 1, 15), 4) == [utc(2026, 1, 31, 23), utc(2026, 2, 1, 23), utc(2026, 2, 28, 23),
                                               utc(2026, 3, 1, 23)]


def test_month_days_beyond_the_month_are_skipped():
    rec = recurrence(frequency="Month", interval=1, startTime="2026-01-31T08:00:00Z")
    assert first(rec, utc(2026, 1, 1), 3) == [utc(2026, 1, 31, 8), utc(2026, 3, 31, 8), utc(2026, 5, 31, 8)]


def test_daily_wall_clock_time_holds_across_daylight_saving():
    rec = recurrence(frequency="Day", interval=1, startTime="2026-03-27T06:00:00", timeZone="Europe/Berlin")
    # Berlin moves from UTC+1 to UTC+2 on 2026-03-29
    assert first(rec, utc(2026, 3, 27), 3) == [utc(2026, 3, 27, 5), utc(2026, 3, 28, 5), utc(2026, 3, 29, 4)]


def test_end_time_stops_the_recurrence():
    rec = recurrence(frequency="Day", interval=1, startTime="2026-01-01T00:00:00Z", endTime="2026-01-03T00:00:00Z")
    assert first(rec, utc(2025, 1, 1), 10) == [utc(2026, 1, 1), utc(2026, 1, 2), utc(2026, 1, 3)]
    assert next_occurrence(rec, utc(2026, 1, 3, 0, 1)) is None
