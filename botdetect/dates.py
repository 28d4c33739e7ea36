"""As-of-date arithmetic, in one place.

A run is for an as-of date D: it sees everything that happened up to the end of D (UTC,
stored as naive timestamps), event days of a window ending at D, and rows created before
D's end. Stages, checks and the report use these instead of their own date sums.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pyspark.sql import Column


def utc_now() -> dt.datetime:
    """Now in UTC, naive (as the tables store timestamps)."""
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def yesterday_utc() -> dt.date:
    """The default as-of date: the last complete UTC day."""
    return utc_now().date() - dt.timedelta(days=1)


def end_of_day(as_of: dt.date) -> dt.datetime:
    """The first instant after the as-of date: data strictly before it is visible."""
    return dt.datetime.combine(as_of + dt.timedelta(days=1), dt.time())


def created_by(as_of: dt.date, column: str = "created_at") -> Column:
    """Rows that exist at the as-of date: created before the end of that day."""
    from pyspark.sql import functions as F

    return F.col(column) < F.lit(end_of_day(as_of))


def window(as_of: dt.date, days: int) -> tuple[dt.date, dt.date]:
    """(first, last) event day of a `days`-day window ending at `as_of`."""
    return as_of - dt.timedelta(days=days - 1), as_of


def window_start(as_of: dt.date, windows: list[int]) -> dt.date:
    """The first event day of the largest window ending at `as_of`."""
    return window(as_of, max(windows))[0]


def day_range(start: dt.date, end: dt.date) -> list[dt.date]:
    """Every day from `start` to `end`, both included."""
    return [start + dt.timedelta(days=i) for i in range((end - start).days + 1)]
