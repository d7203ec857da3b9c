"""The calendar: which date each hour of the engine's clock falls on, and when disruptions apply.

The engine's clock runs in hours since day 0; `simulation.start_date` is the date of day 0, and the
clock's hour 0 is 00:00 on that date. Dates are corridor-local civil dates without daylight saving
or time zones: a day is always 24 hours. Conversions go through the date library (`datetime.date`,
numpy `datetime64`), never through arithmetic on 365 days, so 29 February exists in leap years and
a month key is the month on the calendar.

A disruption gives its window in one of three forms:

- `start_day`/`end_day` (optionally `every_days`): clock days, the window [start, end) repeated every
  `every_days` from `start_day` on. Exactly the arithmetic the engine always used.
- `season: {from: "MM-DD", to: "MM-DD"}`: every calendar day whose month-day lies between `from` and
  `to`, both days included (from 00:00 on `from` to 24:00 on `to`), in every year. When `to` comes
  before `from` in the year the season wraps across the new year (`12-01` to `02-28`). A season
  applies over the whole clock: one already under way on day 0 is in force from hour 0.
- `dates: {from: YYYY-MM-DD, to: YYYY-MM-DD}`: one window, both days included.

A season is a set of month-days, so "02-29" is simply a day that exists only in leap years: in
other years a season ending on 02-29 ends with 28 February (`to: "02-29"` means "to the end of
February" in every year), one starting on 02-29 starts on 1 March, and a season of 02-29 alone does
not occur. The windows of a season are the maximal runs of consecutive days in it, so they never
overlap and a season that covers every day of the year is one window over the whole clock.
"""

from __future__ import annotations

import math
import re
from datetime import date, datetime, timedelta
from typing import Iterator, Optional, Protocol

import numpy as np
from numpy.typing import ArrayLike

HOURS_PER_DAY = 24.0
DEFAULT_START_DATE = date(2025, 1, 1)  # schema.Simulation.start_date's default (kept there too)

_MONTH_DAY = re.compile(r"^(\d{2})-(\d{2})$")
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_ONE_DAY = timedelta(days=1)


# ------------------------------------------------------------------ parsing (used by the schema)

def month_day(value) -> tuple[int, int]:
    """The (month, day) of a season bound written "MM-DD".

    Raises:
        ValueError: not a string of the form MM-DD, or no such day in a leap year ("02-30", "13-01").
    """
    match = _MONTH_DAY.match(value) if isinstance(value, str) else None
    if match is None:
        raise ValueError(f'a season day is written "MM-DD" in quotes, e.g. "12-01" (got {value!r})')
    month, day = int(match.group(1)), int(match.group(2))
    try:
        date(2024, month, day)  # a leap year: 02-29 is a day of the calendar
    except ValueError:
        raise ValueError(f"no such day of the year: {value!r} (month {month}, day {day})") from None
    return month, day


def iso_date(value) -> date:
    """A calendar date from a YAML date or an ISO string YYYY-MM-DD.

    Raises:
        ValueError: a date with a time of day, any other type (a number is not read as a timestamp), a
            string of another form, or a day that does not exist (2025-02-29).
    """
    if isinstance(value, datetime):
        raise ValueError(f"give a date YYYY-MM-DD without a time of day (got {value.isoformat()})")
    if isinstance(value, date):
        return value
    if not isinstance(value, str) or _ISO_DATE.match(value) is None:
        raise ValueError(f"must be an ISO date YYYY-MM-DD (got {value!r})")
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise ValueError(f"no such date: {value!r} ({exc})") from None


# ------------------------------------------------------------------ clock <-> dates

def clock_h(start_date: date, when: date | datetime | str) -> float:
    """Hours since day 0 (00:00 on `start_date`) at 00:00 of a date, or at a date and time.

    Args:
        start_date: the date of day 0.
        when: a date (its 00:00), a naive datetime, or an ISO date string.
    """
    if isinstance(when, str):
        when = iso_date(when)
    if isinstance(when, datetime):
        return (when - datetime.combine(start_date, datetime.min.time())).total_seconds() / 3600.0
    return (when - start_date).days * HOURS_PER_DAY


def date_of(start_date: date, hours: float) -> date:
    """The calendar date on which clock hour `hours` falls (hour 24 is the start of day 1)."""
    return start_date + timedelta(days=math.floor(hours / HOURS_PER_DAY))


def datetime_of(start_date: date, hours: float) -> datetime:
    """The date and time of clock hour `hours`."""
    return datetime.combine(start_date, datetime.min.time()) + timedelta(hours=hours)


def dates_of(start_date: date, hours: ArrayLike) -> np.ndarray:
    """The calendar dates (numpy datetime64[D]) of finite clock hours, vectorised."""
    days = np.floor(np.asarray(hours, dtype=float) / HOURS_PER_DAY).astype(np.int64)
    return np.datetime64(start_date, "D") + days


def datetimes_of(start_date: date, hours: ArrayLike) -> np.ndarray:
    """The dates and times (numpy datetime64[s], to the nearest second) of finite clock hours."""
    seconds = np.rint(np.asarray(hours, dtype=float) * 3600.0).astype(np.int64)
    return np.datetime64(start_date, "s") + seconds


def month_keys(start_date: date, hours: ArrayLike) -> np.ndarray:
    """The "YYYY-MM" month of each finite clock hour, vectorised (an array of str).

    Args:
        start_date: the date of day 0.
        hours: clock hours (any shape); NaN or infinite values are refused.

    Raises:
        ValueError: a value is not finite.
    """
    hours = np.asarray(hours, dtype=float)
    if not np.isfinite(hours).all():
        raise ValueError("month_keys needs finite clock hours")
    return np.datetime_as_string(dates_of(start_date, hours).astype("datetime64[M]"), unit="M")


def month_key(start_date: date, hours: float) -> str:
    """The "YYYY-MM" month of one clock hour."""
    return date_of(start_date, hours).strftime("%Y-%m")


def months(start_date: date, from_h: float, to_h: float) -> Iterator[tuple[str, float, float]]:
    """The calendar months overlapping the clock span [from_h, to_h), each as (key, start_h, end_h).

    The first and last months are clipped to the span, so the lengths add up to `to_h - from_h`.
    """
    if to_h <= from_h:
        return
    day = date_of(start_date, from_h)
    first = date(day.year, day.month, 1)
    while True:
        following = date(first.year + first.month // 12, first.month % 12 + 1, 1)
        start_h, end_h = clock_h(start_date, first), clock_h(start_date, following)
        yield first.strftime("%Y-%m"), max(start_h, from_h), min(end_h, to_h)
        if end_h >= to_h:
            return
        first = following


def month_edges_h(start_date: date, span_h: float) -> tuple[np.ndarray, list[str]]:
    """The first instant of every calendar month met in [0, span_h], as clock hours, with keys.

    Returns:
        (edges, keys): edges[i] is the clock hour at which month keys[i] ("YYYY-MM") begins (the
        first edge may be negative: the month day 0 falls in), and a last edge closes the last month.
    """
    day0 = np.datetime64(start_date, "D")
    first = day0.astype("datetime64[M]")
    last = (day0 + np.timedelta64(int(np.ceil(span_h / HOURS_PER_DAY)), "D")).astype("datetime64[M]")
    month_starts = np.arange(first, last + np.timedelta64(2, "M"), np.timedelta64(1, "M"))
    edges = (month_starts.astype("datetime64[D]") - day0).astype(np.int64) * HOURS_PER_DAY
    keys = [str(m) for m in month_starts[:-1]]
    return edges.astype(float), keys


def month_index(edges_h: np.ndarray, times_h: ArrayLike) -> np.ndarray:
    """For each clock time, the index of its month among `month_edges_h`'s keys."""
    return np.searchsorted(edges_h, np.asarray(times_h, dtype=float), side="right") - 1


# ------------------------------------------------------------------ disruption windows

class Window(tuple):
    """A window of clock hours, a pair (start_h, end_h) with start_h < end_h.

    `length_h` is how long the engine holds it: end_h - start_h, except for the repeats of a
    start_day/end_day window, which keep the first window's length end_day*24 - start_day*24. That
    is the engine's arithmetic from before the calendar: adding k*every_days*24 to both ends can
    round their difference in the last bit, and old scenarios must keep bit-identical results.
    """

    def __new__(cls, start_h: float, end_h: float, length_h: Optional[float] = None) -> "Window":
        window = super().__new__(cls, (start_h, end_h))
        window.length_h = end_h - start_h if length_h is None else length_h
        return window

    @property
    def start_h(self) -> float:
        return self[0]

    @property
    def end_h(self) -> float:
        return self[1]


class _Span(Protocol):  # schema.Season and schema.DateSpan
    from_: object
    to: object


class _Windowed(Protocol):  # schema.Disruption
    start_day: Optional[float]
    end_day: Optional[float]
    every_days: Optional[float]
    season: Optional[_Span]
    dates: Optional[_Span]


def in_season(day: date, season: _Span) -> bool:
    """Whether a calendar day lies in a season (both bounds included, wrapping across the new year)."""
    return _season_test(season)(day)


def _season_test(season: _Span):
    first, last = month_day(season.from_), month_day(season.to)
    if first <= last:
        return lambda day: first <= (day.month, day.day) <= last
    return lambda day: (day.month, day.day) >= first or (day.month, day.day) <= last


def _season_runs(season: _Span, first_day: date) -> Iterator[tuple[date, Optional[date]]]:
    """Maximal runs [start, end) of consecutive days in the season, from `first_day` on (None: no end)."""
    test = _season_test(season)
    leap_year = (date(2024, 1, 1) + timedelta(days=i) for i in range(366))  # every month-day once
    if all(test(d) for d in leap_year):
        yield first_day, None
        return
    day = first_day
    while True:
        while not test(day):
            day += _ONE_DAY
        start = day
        while test(day):
            day += _ONE_DAY
        yield start, day


def season_windows(season: _Span, start_date: date, from_h: float = 0.0,
                   to_h: float = math.inf) -> Iterator[Window]:
    """The windows (start_h, end_h) of a season within the clock span [from_h, to_h), in order.

    A window under way at `from_h` starts at `from_h`; one still running at `to_h` ends there. A
    season covering every day gives one window, ending at `to_h` (infinite by default).
    """
    if to_h <= from_h:
        return
    for start, end in _season_runs(season, date_of(start_date, from_h)):
        start_h = clock_h(start_date, start)
        if start_h >= to_h:
            return
        end_h = math.inf if end is None else clock_h(start_date, end)
        yield Window(max(start_h, from_h), min(end_h, to_h))
        if end_h >= to_h:
            return


def dated_window(dates: _Span, start_date: date, from_h: float = 0.0,
                 to_h: float = math.inf) -> Iterator[Window]:
    """The one window of `dates: {from, to}` (00:00 on `from` to 24:00 on `to`), clipped to the span."""
    start_h = clock_h(start_date, iso_date(dates.from_))
    end_h = clock_h(start_date, iso_date(dates.to) + _ONE_DAY)
    start_h, end_h = max(start_h, from_h), min(end_h, to_h)
    if start_h < end_h:
        yield Window(start_h, end_h)


def day_windows(start_day: float, end_day: float, every_days: Optional[float] = None, from_h: float = 0.0,
                to_h: float = math.inf) -> Iterator[Window]:
    """The windows of `start_day`/`end_day`/`every_days` in clock hours, clipped to [from_h, to_h).

    The k-th window is [start_day*24 + k*every_days*24, end_day*24 + k*every_days*24), the engine's
    arithmetic from before the calendar, so old scenarios keep their exact windows.
    """
    if to_h <= from_h:
        return
    start0_h, end0_h = start_day * HOURS_PER_DAY, end_day * HOURS_PER_DAY
    period_h = every_days * HOURS_PER_DAY if every_days else None
    k = 0
    while True:
        offset = k * period_h if period_h else 0.0
        start_h, end_h = start0_h + offset, end0_h + offset
        if start_h >= to_h:
            return
        if end_h > from_h:
            clipped = start_h < from_h or end_h > to_h
            yield Window(max(start_h, from_h), min(end_h, to_h), None if clipped else end0_h - start0_h)
        if period_h is None:
            return
        k += 1


def windows(disruption: _Windowed, start_date: date = DEFAULT_START_DATE, from_h: float = 0.0,
            to_h: float = math.inf) -> Iterator[Window]:
    """The windows (start_h, end_h) in which a disruption applies, in clock hours, in order.

    Args:
        disruption: a validated schema.Disruption (exactly one window form is set).
        start_date: the date of day 0 (`simulation.start_date`).
        from_h: start of the clock span of interest (the engine uses 0: seasons under way are in force).
        to_h: end of the span; infinite by default (a recurring window then never stops).

    Returns:
        An iterator of non-overlapping Windows, pairs (start_h, end_h) with start_h < end_h, clipped
        to the span; a season that covers every day yields one window to `to_h` (inf by default).
    """
    if disruption.season is not None:
        return season_windows(disruption.season, start_date, from_h, to_h)
    if disruption.dates is not None:
        return dated_window(disruption.dates, start_date, from_h, to_h)
    return day_windows(disruption.start_day, disruption.end_day, disruption.every_days, from_h, to_h)
