"""The calendar: clock hours against dates, and the windows in which disruptions apply.

The engine tests run a one-node scenario (4 servers, no demand) whose facility a disruption halves,
and record every `_apply` call and the facility's servers at chosen hours. Expected clock hours are
counted by hand from the dates (day counts written out), not with the date library under test.
"""

from __future__ import annotations

import math
from datetime import date
from itertools import islice

import numpy as np
import pytest

from corridor_sim import calendar
from corridor_sim.engine import CorridorModel
from corridor_sim.scenario import scenario_from_dict
from corridor_sim.scenario.schema import Disruption

H = 24.0  # hours per day


def one_node(disruption: dict, start_date: str | None, horizon_days: float) -> dict:
    simulation = {"horizon_days": horizon_days, "warmup_days": 0, "replications": 1, "seed": 3}
    if start_date is not None:
        simulation["start_date"] = start_date
    return {
        "name": "calendar test",
        "simulation": simulation,
        "network": {"nodes": [{"id": "F", "kind": "port", "lon": 0, "lat": 0,
                               "handling": {"servers": 4, "time_h": 1}}]},
        "disruptions": [{"id": "d", "target": "F", "capacity_factor": 0.5, **disruption}],
    }


def run_probed(data: dict, probe_h: list[float]) -> tuple[list[tuple[float, bool]], dict[float, int]]:
    """Run the scenario; return the (hour, on) of every application and F's servers at each probe hour."""
    model = CorridorModel(scenario_from_dict(data))
    applied: list[tuple[float, bool]] = []
    apply = model._apply

    def recording(target, factor, extra, on):
        applied.append((model.env.now, on))
        apply(target, factor, extra, on)

    model._apply = recording
    servers: dict[float, int] = {}

    def probe():
        for t in sorted(probe_h):
            yield model.env.timeout(t - model.env.now)
            servers[t] = model.facilities["F"].servers

    model.env.process(probe())
    model.run()
    return applied, servers


def intervals(applied: list[tuple[float, bool]]) -> list[tuple[float, float]]:
    """The applied windows as (on, off) pairs, checking that on and off alternate (nothing doubles)."""
    assert [on for _, on in applied] == [True, False] * (len(applied) // 2) + [True] * (len(applied) % 2)
    times = [t for t, _ in applied]
    return list(zip(times[::2], times[1::2] + [math.inf] * (len(times) % 2)))


# ---------------------------------------------------------------------- through the engine

def test_season_across_the_new_year_is_in_force_in_january_and_december_not_july():
    """A season 12-01..02-28 halves the facility in January and December of each year and not in July, switching at 00:00 on 1 Mar and 1 Dec."""
    # Day 0 = 1 Jan 2025. 1 Mar 2025 = day 59; 1 Dec 2025 = day 334; 1 Mar 2026 = day 424; 1 Dec 2026 = 699.
    jan, jul, dec, jan2 = 15 * H, 196 * H, 348 * H, 380 * H
    applied, servers = run_probed(one_node({"season": {"from": "12-01", "to": "02-28"}}, "2025-01-01", 730),
                                  [jan, jul, dec, jan2])
    assert servers == {jan: 2, jul: 4, dec: 2, jan2: 2}
    assert intervals(applied) == [(0.0, 59 * H), (334 * H, 424 * H), (699 * H, math.inf)]


def test_season_under_way_on_day_zero_is_in_force_from_hour_zero():
    """With day 0 on 10 Jan 2025, a season 12-20..01-20 is in force at hour 0, lifts at 00:00 on 21 Jan (hour 264) and returns on 20 Dec."""
    # 10 Jan -> 21 Jan = 11 days; 10 Jan -> 20 Dec 2025 = 22 + 28 + 31 + 30 + 31 + 30 + 31 + 31 + 30 + 31 + 30 + 19 = 344 days.
    applied, servers = run_probed(one_node({"season": {"from": "12-20", "to": "01-20"}}, "2025-01-10", 400),
                                  [0.0, 263.0, 265.0])
    assert servers == {0.0: 2, 263.0: 2, 265.0: 4}
    assert intervals(applied)[:2] == [(0.0, 264.0), (344 * H, (344 + 32) * H)]


def test_dated_window_on_leap_day_covers_29_february_2028():
    """dates 2028-02-29..2028-02-29 with day 0 on 1 Jan 2028 applies from hour 59*24 to 60*24."""
    applied, _ = run_probed(one_node({"dates": {"from": "2028-02-29", "to": "2028-02-29"}}, "2028-01-01", 100), [])
    assert intervals(applied) == [(59 * H, 60 * H)]


def test_season_to_02_29_ends_with_february_in_leap_and_common_years():
    """A season 12-01..02-29 from 1 Nov 2027 includes 29 Feb 2028 and ends after 28 Feb 2029."""
    # 1 Nov 2027 -> 1 Dec 2027: 30 d; -> 1 Mar 2028: 30+31+31+29 = 121 d; -> 1 Dec 2028: 366+30 = 396 d
    # (1 Nov 2027 - 1 Nov 2028 holds 29 Feb); -> 1 Mar 2029: 396+31+31+28 = 486 d.
    applied, _ = run_probed(one_node({"season": {"from": "12-01", "to": "02-29"}}, "2027-11-01", 600), [])
    assert intervals(applied) == [(30 * H, 121 * H), (396 * H, 486 * H)]


def test_start_day_windows_keep_the_engine_arithmetic_exactly():
    """start_day/end_day/every_days windows switch at exactly the hours the engine's old loop gave, even when k*every_days rounds."""
    start_day, end_day, every_days = 10.3, 12.7, 7.1  # not exact in binary: the old arithmetic must be kept
    applied, _ = run_probed(one_node({"start_day": start_day, "end_day": end_day, "every_days": every_days},
                                     None, 100), [])
    # The loop before the calendar: wait max(0, start + k*period - now), hold end - start.
    start_h, end_h, period_h = start_day * 24.0, end_day * 24.0, every_days * 24.0
    expected, now = [], 0.0
    for k in range(20):
        now = now + max(0.0, start_h + k * period_h - now)
        on = now
        now = now + (end_h - start_h)
        if on >= 100 * H:
            break
        expected.append((on, now if now < 100 * H else math.inf))
    assert intervals(applied) == expected  # exact equality, not approx
    # Recomputing the hold as (end + k*period) - (start + k*period) would differ in the last bit here.
    assert any((end_h + k * period_h) - (start_h + k * period_h) != end_h - start_h for k in range(1, 13))


def test_one_off_start_day_window_without_start_date_is_unchanged():
    """A one-off start_day/end_day window applies on [start_day, end_day) days of the clock, whatever the default start_date."""
    applied, servers = run_probed(one_node({"start_day": 40, "end_day": 50}, None, 100), [39 * H, 45 * H, 51 * H])
    assert intervals(applied) == [(40 * H, 50 * H)]
    assert servers == {39 * H: 4, 45 * H: 2, 51 * H: 4}


def test_season_of_every_day_applies_once_for_the_whole_run():
    """A season 03-01..02-29 covers every day of every year: applied once at hour 0 and never lifted or applied again."""
    applied, servers = run_probed(one_node({"season": {"from": "03-01", "to": "02-29"}}, "2027-06-01", 1500),
                                  [0.0, 1000 * H])
    assert applied == [(0.0, True)]
    assert servers == {0.0: 2, 1000 * H: 2}


def test_season_windows_that_touch_across_years_merge_into_one():
    """A season 03-01..02-28 misses only 29 February: from 1 Mar 2027 it is one window to 29 Feb 2028, then one to 29 Feb 2032, never doubled."""
    # 1 Mar 2027 -> 29 Feb 2028: 365 d; -> 1 Mar 2028: 366 d; -> 29 Feb 2032: 366 + 4*365 = 1826 d.
    applied, servers = run_probed(one_node({"season": {"from": "03-01", "to": "02-28"}}, "2027-03-01", 2000),
                                  [365.5 * H, 1000 * H])
    assert intervals(applied)[:2] == [(0.0, 365 * H), (366 * H, 1826 * H)]
    assert servers == {365.5 * H: 4, 1000 * H: 2}  # halved once, not quartered


# ---------------------------------------------------------------------- calendar functions

def _disruption(**window) -> Disruption:
    return Disruption.model_validate({"id": "d", "target": "F", "capacity_factor": 0.5, **window})


def test_windows_are_clipped_to_any_clock_span():
    """windows() over [from_h, to_h) gives only the windows meeting the span, cut at its ends."""
    season = _disruption(season={"from": "12-01", "to": "02-28"})
    # Day 0 = 1 Jan 2025: the 2025-26 winter is days 334-424, the 2026-27 one days 699-789.
    got = list(calendar.windows(season, date(2025, 1, 1), from_h=400 * H, to_h=700 * H))
    assert got == [(400 * H, 424 * H), (699 * H, 700 * H)]
    days = _disruption(start_day=1, end_day=2, every_days=10)
    assert list(calendar.windows(days, date(2025, 1, 1), from_h=1.5 * H, to_h=31.5 * H)) == [
        (1.5 * H, 2 * H), (11 * H, 12 * H), (21 * H, 22 * H), (31 * H, 31.5 * H)]
    assert list(islice(calendar.windows(days), 3)) == [(1 * H, 2 * H), (11 * H, 12 * H), (21 * H, 22 * H)]


def test_clock_and_dates_convert_both_ways_across_a_leap_day():
    """Clock hour 0 is 00:00 on start_date; 2028-02-29 and 2028-03-01 are 24 h apart; the conversions invert."""
    start = date(2027, 11, 1)
    assert calendar.clock_h(start, date(2028, 2, 29)) == 120 * H  # 30 + 31 + 31 + 28 days
    assert calendar.clock_h(start, "2028-03-01") - calendar.clock_h(start, "2028-02-29") == H
    assert calendar.date_of(start, 120 * H + 23.99) == date(2028, 2, 29)
    assert calendar.date_of(start, 121 * H) == date(2028, 3, 1)
    hours = np.array([0.0, 120 * H + 12, 121 * H])
    assert list(calendar.dates_of(start, hours).astype(str)) == ["2027-11-01", "2028-02-29", "2028-03-01"]
    assert str(calendar.datetimes_of(start, [120 * H + 12])[0]) == "2028-02-29T12:00:00"


def test_month_keys_are_calendar_months_vectorised():
    """month_keys maps clock hours to "YYYY-MM" of their calendar day, over a shape, at exact month edges."""
    start = date(2024, 11, 1)  # Nov 30 d, Dec 31 d: 2025-01 starts at day 61
    hours = np.array([[0.0, 30 * H - 0.01], [30 * H, 61 * H], [426 * H - 1, 61 * H - 1e-9]])
    assert calendar.month_keys(start, hours).tolist() == [["2024-11", "2024-11"], ["2024-12", "2025-01"],
                                                          ["2025-12", "2024-12"]]
    assert calendar.month_key(start, 61 * H) == "2025-01"
    with pytest.raises(ValueError):
        calendar.month_keys(start, [np.nan])


def test_months_split_a_span_into_calendar_months():
    """months() lists each month met by a span with its hours; February 2028 has 29 days and the lengths add up."""
    got = list(calendar.months(date(2028, 1, 15), 0.0, 60 * H))
    assert got == [("2028-01", 0.0, 17 * H), ("2028-02", 17 * H, 46 * H), ("2028-03", 46 * H, 60 * H)]
    assert sum(end - start for _, start, end in got) == 60 * H


def test_in_season_wraps_across_the_new_year():
    """A wrapping season holds both its bounds and the days between across 31 December, and nothing in between the other way."""
    winter = _disruption(season={"from": "12-01", "to": "02-28"}).season
    inside = [date(2025, 12, 1), date(2025, 12, 31), date(2026, 1, 1), date(2026, 2, 28)]
    outside = [date(2025, 11, 30), date(2026, 3, 1), date(2026, 7, 1), date(2028, 2, 29)]
    assert all(calendar.in_season(d, winter) for d in inside)
    assert not any(calendar.in_season(d, winter) for d in outside)


def test_default_start_date_keeps_day_zero_on_1_january_2025():
    """A scenario without simulation.start_date has day 0 on 1 January 2025."""
    scenario = scenario_from_dict(one_node({"start_day": 1, "end_day": 2}, None, 10))
    assert scenario.simulation.start_date == date(2025, 1, 1)


def test_queue_plot_shades_the_calendar_windows_of_a_facility():
    """The queue figure's disruption shading (in days) follows the calendar windows, a season under way on day 0 included."""
    from corridor_sim import plotting

    scenario = scenario_from_dict(one_node({"season": {"from": "12-01", "to": "02-28"}}, "2024-11-01", 426))
    # 1 Nov 2024 -> 1 Dec: 30 d; -> 1 Mar 2025: 30 + 31 + 31 + 28 = 120 d; -> 1 Dec 2025: 395 d.
    assert plotting._disruption_windows(scenario, "F", 426.0) == [(30.0, 120.0, 0.5), (395.0, 426.0, 0.5)]
    assert plotting._disruption_windows(scenario, "OTHER", 426.0) == []
