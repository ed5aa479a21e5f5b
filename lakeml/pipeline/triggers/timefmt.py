"""Times and time spans as trigger definitions write them: ISO 8601 instants and ``[-][d.]hh:mm:ss`` spans."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, tzinfo

_SPAN = re.compile(r"^(?P<sign>-)?(?:(?P<days>\d+)\.)?(?P<h>\d{1,2}):(?P<m>\d{2}):(?P<s>\d{2})(?:\.(?P<f>\d{1,7}))?$")


def parse_timespan(text: str) -> timedelta:
    """``"1.02:00:00"`` → 1 day 2 hours; ``"-01:00:00"`` → minus one hour.

    Raises:
        ValueError: not a ``[-][d.]hh:mm:ss`` span (the caller turns it into a validation issue).
    """
    match = _SPAN.match(text.strip())
    if not match:
        raise ValueError(f"{text!r} is not a time span like '01:00:00' or '1.00:00:00' ([-][d.]hh:mm:ss)")
    hours, minutes, seconds = int(match["h"]), int(match["m"]), int(match["s"])
    if hours > 23 or minutes > 59 or seconds > 59:
        raise ValueError(f"{text!r} has hours above 23 or minutes/seconds above 59")
    fraction = float(f"0.{match['f']}") if match["f"] else 0.0
    span = timedelta(days=int(match["days"] or 0), hours=hours, minutes=minutes, seconds=seconds + fraction)
    return -span if match["sign"] else span


def format_timespan(span: timedelta) -> str:
    """The ``[-][d.]hh:mm:ss`` form of ``span`` (whole seconds)."""
    sign = "-" if span < timedelta(0) else ""
    total = int(abs(span).total_seconds())
    days, rest = divmod(total, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, seconds = divmod(rest, 60)
    return f"{sign}{f'{days}.' if days else ''}{hours:02d}:{minutes:02d}:{seconds:02d}"


def parse_instant(text: str, *, default_zone: tzinfo = UTC) -> datetime:
    """An ISO 8601 time (``2026-01-01T00:00:00Z``); a time without an offset is in ``default_zone``.

    Raises:
        ValueError: not an ISO 8601 date-time.
    """
    raw = text.strip()
    if raw.endswith(("Z", "z")):
        raw = raw[:-1] + "+00:00"
    try:
        value = datetime.fromisoformat(raw)
    except ValueError:
        raise ValueError(f"{text!r} is not an ISO 8601 time like '2026-01-01T00:00:00Z'") from None
    return value.replace(tzinfo=default_zone) if value.tzinfo is None else value


def iso(value: datetime) -> str:
    """``value`` in UTC as ``2026-01-01T00:00:00Z`` (the form trigger outputs and run records use)."""
    text = value.astimezone(UTC).isoformat()
    return text.replace("+00:00", "Z")


def stamp(value: datetime) -> str:
    """``value`` in UTC as a file-name-safe key that sorts by time: ``20260101T000000Z``."""
    utc = value.astimezone(UTC)
    base = utc.strftime("%Y%m%dT%H%M%S")
    return f"{base}{utc.microsecond:06d}Z" if utc.microsecond else f"{base}Z"


def parse_stamp(text: str) -> datetime:
    """The inverse of :func:`stamp`."""
    body = text.rstrip("Z")
    fmt = "%Y%m%dT%H%M%S%f" if len(body) > 15 else "%Y%m%dT%H%M%S"
    return datetime.strptime(body, fmt).replace(tzinfo=UTC)
