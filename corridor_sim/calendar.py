"""The calendar: the engine's clock (hours since day 0) against dates.

Day 0 is `simulation.start_date` at 00:00; the clock has no time zone and no daylight saving. Month
lengths and leap years come from numpy's datetime64, never from arithmetic on 365.
"""

from __future__ import annotations

import datetime as dt

import numpy as np


def month_edges_h(start_date: dt.date, span_h: float) -> tuple[np.ndarray, list[str]]:
    """The first instant of every calendar month met in [0, span_h], as clock hours, with keys.

    Returns:
        (edges, keys): edges[i] is the clock hour at which month keys[i] ("YYYY-MM") begins (the
        first edge may be negative: the month day 0 falls in), and a last edge closes the last month.
    """
    day0 = np.datetime64(start_date, "D")
    first = day0.astype("datetime64[M]")
    last = (day0 + np.timedelta64(int(np.ceil(span_h / 24.0)), "D")).astype("datetime64[M]")
    months = np.arange(first, last + np.timedelta64(2, "M"), np.timedelta64(1, "M"))
    edges = (months.astype("datetime64[D]") - day0).astype(np.int64) * 24.0
    keys = [str(m) for m in months[:-1]]
    return edges.astype(float), keys


def month_index(edges_h: np.ndarray, times_h: np.ndarray) -> np.ndarray:
    """For each clock time, the index of its month among `month_edges_h`'s keys."""
    return np.searchsorted(edges_h, np.asarray(times_h, dtype=float), side="right") - 1
