"""Times in words, as people read them in e-mails and pages (the same words in both)."""

from __future__ import annotations

from datetime import datetime, timedelta, tzinfo


def time_window(starts_at: datetime, ends_at: datetime, zone: tzinfo | None = None) -> str:
    """`Fri 14 Mar 2031, 19:00 to 21:00 (UTC+03:00)`: in `zone` when given, else in the offset the
    times carry; the date is repeated only when the window crosses midnight, and each end names
    its own offset when the offset changes inside the window."""
    start, end = (starts_at.astimezone(zone), ends_at.astimezone(zone)) if zone else (starts_at, ends_at)
    day, clock = "%a %d %b %Y", "%H:%M"
    if start.utcoffset() != end.utcoffset():
        return (
            f"{start.strftime(day)}, {start.strftime(clock)} ({utc_offset(start)}) to "
            f"{end.strftime(day)}, {end.strftime(clock)} ({utc_offset(end)})"
        )
    if start.date() == end.date():
        return f"{start.strftime(day)}, {start.strftime(clock)} to {end.strftime(clock)} ({utc_offset(start)})"
    return f"{start.strftime(day)}, {start.strftime(clock)} to {end.strftime(day)}, {end.strftime(clock)} ({utc_offset(end)})"


def utc_offset(moment: datetime) -> str:
    """`UTC+03:00`, `UTC-04:30`, `UTC+00:00`."""
    offset = moment.utcoffset() or timedelta(0)
    sign = "-" if offset < timedelta(0) else "+"
    minutes = abs(int(offset.total_seconds())) // 60
    return f"UTC{sign}{minutes // 60:02d}:{minutes % 60:02d}"
