"""Timestamps as the expression language writes them: ISO 8601 text and .NET format strings."""

from __future__ import annotations

import re
from datetime import UTC, datetime

_STANDARD = {"o": "yyyy-MM-ddTHH:mm:ss.fffffffK", "O": "yyyy-MM-ddTHH:mm:ss.fffffffK", "s": "yyyy-MM-ddTHH:mm:ss",
             "u": "yyyy-MM-dd HH:mm:ssZ", "d": "MM/dd/yyyy", "t": "HH:mm", "T": "HH:mm:ss"}
_TOKEN = re.compile(r"yyyy|yy|MMMM|MMM|MM|M|dddd|ddd|dd|d|HH|H|hh|h|mm|m|ss|s|f{1,7}|F{1,7}|tt|K|zzz|'[^']*'"
                    r'|"[^"]*"|\\.|.', re.DOTALL)
_MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
           "November", "December"]
_DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]


def parse_timestamp(text: str) -> datetime:
    """An ISO 8601 timestamp (``Z`` or an offset; naive means UTC), as an aware datetime.

    Raises:
        ValueError: not a timestamp.
    """
    value = text.strip()
    match = re.match(r"^(.*T\d\d:\d\d:\d\d)\.(\d+)(.*)$", value)
    if match:  # .NET writes 7 fraction digits; Python reads at most 6
        value = f"{match.group(1)}.{match.group(2)[:6].ljust(6, '0')}{match.group(3)}"
    parsed = datetime.fromisoformat(value)
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def format_timestamp(moment: datetime, fmt: str | None = None) -> str:
    """``moment`` written with a .NET format string (default ``o``: ``2013-01-01T00:00:00.0000000Z``)."""
    pattern = _STANDARD.get(fmt or "o", fmt or "o")
    out: list[str] = []
    for token in _TOKEN.findall(pattern):
        out.append(_one(moment, token))
    return "".join(out)


def _one(m: datetime, token: str) -> str:
    hour12 = (m.hour % 12) or 12
    simple = {"yyyy": f"{m.year:04d}", "yy": f"{m.year % 100:02d}", "MMMM": _MONTHS[m.month - 1],
              "MMM": _MONTHS[m.month - 1][:3], "MM": f"{m.month:02d}", "M": str(m.month),
              "dddd": _DAYS[m.weekday()], "ddd": _DAYS[m.weekday()][:3], "dd": f"{m.day:02d}", "d": str(m.day),
              "HH": f"{m.hour:02d}", "H": str(m.hour), "hh": f"{hour12:02d}", "h": str(hour12),
              "mm": f"{m.minute:02d}", "m": str(m.minute), "ss": f"{m.second:02d}", "s": str(m.second),
              "tt": "AM" if m.hour < 12 else "PM", "K": "Z", "zzz": "+00:00"}
    if token in simple:
        return simple[token]
    if token[0] in "fF" and set(token) == {token[0]}:
        digits = f"{m.microsecond:06d}0"[: len(token)]
        return digits.rstrip("0") if token[0] == "F" else digits
    if len(token) >= 2 and token[0] == token[-1] and token[0] in "'\"":
        return token[1:-1]
    if token.startswith("\\"):
        return token[1:]
    return token
