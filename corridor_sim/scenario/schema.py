"""The scenario as typed, frozen objects: the YAML's shape, units in the field names.

Every default lives here and nowhere else. Field constraints catch bad numbers (a negative length,
zero servers); cross-references between items (unknown nodes, routes that do not follow segments)
are checked afterwards, in `checks.py`, once the shape is known to be right.
"""

from __future__ import annotations

import datetime as _dt
from typing import Annotated, Literal, Optional, Union

from pydantic import (BaseModel, ConfigDict, Discriminator, Field, PrivateAttr, Tag, field_validator,
                      model_validator)

from corridor_sim import calendar
from corridor_sim.distributions import Distribution

Mode = Literal["rail", "road", "sea"]
NodeKind = Literal["port", "rail_terminal", "road_terminal", "border", "gauge_change", "junction", "city"]


class _Model(BaseModel):
    # allow_inf_nan=False: .inf and .nan are refused wherever a number is meant.
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True, allow_inf_nan=False)


class Simulation(_Model):
    horizon_days: float = Field(365.0, gt=0)
    warmup_days: float = Field(30.0, ge=0)
    replications: int = Field(5, ge=1)
    seed: int = Field(1, ge=0)
    # Days the run goes on after the horizon to follow the measured shipments to delivery (None:
    # three times the slowest route's expected transit, at least 30 days; see engine/model.py).
    drain_days: Optional[float] = Field(None, ge=0, le=3650)
    # Day 0 is 00:00 on this date. 1 January keeps the clock of scenarios written before the calendar.
    start_date: _dt.date = _dt.date(2025, 1, 1)

    @field_validator("start_date", mode="before")
    @classmethod
    def _iso_start_date(cls, value):
        return calendar.iso_date(value)


def _time_h_kind(value) -> str:
    # A mapping without `dist` is a table by mode pair; anything else is one distribution.
    if isinstance(value, dict) and "dist" not in value:
        return "~by_mode_pair"
    return "~distribution"


HandlingTime = Annotated[
    Union[Annotated[Distribution, Tag("~distribution")],
          Annotated[dict[str, Distribution], Tag("~by_mode_pair")]],
    Discriminator(_time_h_kind),
]
"""A handling time: one distribution, or a mapping `"<from mode>><to mode>"` -> distribution with a `default`."""


class Handling(_Model):
    servers: int = Field(1, ge=1, le=1_000_000)
    time_h: HandlingTime
    applies: Literal["transfer", "always"] = "transfer"
    cost_usd_per_teu: float = Field(0.0, ge=0)
    co2_kg_per_teu: float = Field(0.0, ge=0)


class Node(_Model):
    id: str = Field(min_length=1)
    name: str = ""
    kind: NodeKind
    lon: float = Field(ge=-180, le=180)
    lat: float = Field(ge=-90, le=90)
    country: str = ""
    handling: Optional[Handling] = None
    gauge_change: bool = False
    dwell_h: Distribution = 0.0
    berths: Optional["Berths"] = None
    yard_teu: Optional[float] = Field(None, gt=0)

    @property
    def label(self) -> str:
        return self.name or self.id


class Berths(_Model):
    count: int = Field(1, ge=1)
    fixed_h: float = Field(0.0, ge=0)
    teu_per_hour: float = Field(gt=0)
    mode: Optional[Literal["rail", "sea"]] = None


class Segment(_Model):
    id: str = Field(min_length=1)
    from_: str = Field(alias="from", min_length=1)
    to: str = Field(min_length=1)
    mode: Mode
    length_km: float = Field(gt=0, le=40_075)  # at most once round the Earth
    speed_kmh: float = Field(ge=0.1, le=1000)
    gauge_mm: Optional[int] = Field(None, gt=0, validate_default=True)
    capacity_per_day: Optional[float] = Field(None, gt=0)
    bidirectional: bool = True
    delay_h: Distribution = 0.0
    cost_usd_per_teu_km: Optional[float] = Field(None, ge=0)
    co2_kg_per_teu_km: Optional[float] = Field(None, ge=0)
    tracks: Literal[1, 2] = 2
    sections: int = Field(1, ge=1)
    headway_h: float = Field(0.0, ge=0)
    switch_h: float = Field(0.0, ge=0)

    @field_validator("gauge_mm")
    @classmethod
    def _gauge_only_on_rail(cls, gauge_mm, info):
        # A field validator (not a model validator) so that the error names the key gauge_mm.
        mode = info.data.get("mode")
        if mode == "rail" and gauge_mm is None:
            raise ValueError("gauge_mm is required on a rail segment")
        if mode is not None and mode != "rail" and gauge_mm is not None:
            raise ValueError(f"gauge_mm applies to rail only, not {mode}")
        return gauge_mm


class Network(_Model):
    nodes: list[Node] = Field(min_length=1)
    segments: list[Segment] = Field(default_factory=list)


class Scheduled(_Model):
    every_h: float = Field(ge=0.1)
    first_h: float = Field(0.0, ge=0)


class WhenFull(_Model):
    when_full: Literal[True]
    max_wait_h: float = Field(gt=0)


def _departures_kind(value) -> str | None:
    if isinstance(value, (Scheduled, WhenFull)):
        return "~when_full" if isinstance(value, WhenFull) else "~scheduled"
    if isinstance(value, dict) and "when_full" in value:
        return "~when_full"
    if isinstance(value, dict) and "every_h" in value:
        return "~scheduled"
    return None  # neither form: reported with the message below


Departures = Annotated[
    Union[Annotated[Scheduled, Tag("~scheduled")], Annotated[WhenFull, Tag("~when_full")]],
    Discriminator(
        _departures_kind,
        custom_error_type="departures_form",
        custom_error_message=("give either {every_h: H, first_h: F} (scheduled) "
                              "or {when_full: true, max_wait_h: W}"),
    ),
]


class Fleet(_Model):
    """The vehicles that run a service (see engine/fleets.py)."""

    vehicles: int = Field(ge=1)
    turnaround_h: Distribution = 0.0
    # Running cost and CO2 of an empty vehicle per km; None: capacity_teu x the segment's per-TEU-km rate.
    empty_cost_usd_per_km: Optional[float] = Field(None, ge=0)
    empty_co2_kg_per_km: Optional[float] = Field(None, ge=0)


class Service(_Model):
    id: str = Field(min_length=1)
    mode: Literal["rail", "sea"]
    stops: list[str] = Field(min_length=2)
    capacity_teu: float = Field(gt=0)
    departures: Departures
    dwell_h: Distribution = 0.0
    reverse: bool = True
    fleet: Optional[Fleet] = None
    late: Literal["wait", "cancel"] = "wait"


class RouteShare(_Model):
    path: list[str] = Field(min_length=2)
    # Required without `choice`; a flow with `choice` may leave every share out (they are then equal).
    share: Optional[float] = Field(None, gt=0, le=1)
    services: Optional[list[str]] = Field(None, min_length=1)
    # Ride or drive only these modes along the path (None: the fastest of any), so that one node
    # path can be a road and a rail candidate of a mode choice.
    modes: Optional[list[Mode]] = Field(None, min_length=1)


class Choice(_Model):
    """Route and mode choice per shipment on the live state of the corridor (engine/choice.py)."""

    by: Literal["time", "cost"] = "time"
    # 10 USD/TEU-h: 0.6 %/day of a USD 40,000 TEU (Hummels & Schaur 2013, the low end).
    value_of_time_usd_per_teu_h: float = Field(10.0, ge=0, allow_inf_nan=False)
    logit_scale: float = Field(0.0, ge=0, allow_inf_nan=False)  # per USD of generalised cost; 0: the best
    among: int = Field(3, ge=1, le=30)  # candidates the network offers when `routes` is not given
    at: Literal["origin", "every_transfer"] = "origin"
    information_lag_h: float = Field(0.0, ge=0, allow_inf_nan=False)


class Flow(_Model):
    id: str = Field(min_length=1)
    origin: str = Field(min_length=1)
    destination: str = Field(min_length=1)
    teu_per_year: float = Field(gt=0)
    shipment_teu: float = Field(1.0, gt=0)
    tonnes_per_teu: Optional[float] = Field(None, gt=0, le=100)
    arrivals: Literal["poisson", "regular"] = "poisson"
    route: Optional[list[str]] = Field(None, min_length=2)
    routes: Optional[list[RouteShare]] = Field(None, min_length=1)
    services: Optional[list[str]] = Field(None, min_length=1)
    empty_return_share: float = Field(0.0, ge=0, le=1)
    empty_after_h: Distribution = 0.0
    empty_route: Optional[list[str]] = Field(None, min_length=2)
    choice: Optional[Choice] = None

    @field_validator("routes")
    @classmethod
    def _shares_sum_to_one(cls, routes):
        # A field validator (not a model validator) so that the error names the key routes.
        if routes is not None and all(r.share is None for r in routes):
            return routes  # only valid with `choice` (checked in checks.py)
        if routes is not None and any(r.share is None for r in routes):
            raise ValueError("give a share for every route, or (with choice) for none")
        total = sum(r.share for r in routes) if routes is not None else 1.0
        if abs(total - 1) > 1e-6:
            raise ValueError(f"routes shares must sum to 1, not {total:g}")
        return routes

    @model_validator(mode="after")
    def _one_way_to_route(self):
        if self.route is not None and self.routes is not None:
            raise ValueError("give either route or routes, not both")
        if self.origin == self.destination:
            raise ValueError("origin and destination are the same node")
        return self


class Season(_Model):
    """Every calendar year, from 00:00 on `from` to 24:00 on `to` ("MM-DD"); wraps across the new year."""

    from_: str = Field(alias="from")
    to: str

    @field_validator("from_", "to", mode="before")
    @classmethod
    def _month_day(cls, value):
        calendar.month_day(value)
        return value


class DateSpan(_Model):
    """One window of calendar dates, from 00:00 on `from` to 24:00 on `to`."""

    from_: _dt.date = Field(alias="from")
    to: _dt.date

    @field_validator("from_", "to", mode="before")
    @classmethod
    def _iso(cls, value):
        return calendar.iso_date(value)

    @field_validator("to")
    @classmethod
    def _not_before_from(cls, to, info):
        first = info.data.get("from_")
        if first is not None and to < first:
            raise ValueError(f"to ({to}) is before from ({first})")
        return to


_WINDOW_FORMS = "start_day/end_day (every_days to repeat), season: {from, to} or dates: {from, to}"


class Disruption(_Model):
    id: str = Field(min_length=1)
    target: str = Field(min_length=1)
    start_day: Optional[float] = Field(None, ge=0)
    end_day: Optional[float] = Field(None, gt=0, validate_default=True)
    capacity_factor: float = Field(1.0, ge=0, le=100)
    every_days: Optional[float] = Field(None, ge=0.1)
    extra_delay_h: Distribution = 0.0
    season: Optional[Season] = None
    dates: Optional[DateSpan] = None
    vehicles_factor: Optional[float] = Field(None, ge=0)

    # The window forms are checked by field validators (not one model validator) so that each error
    # names the key at fault; a validator skips when an earlier key it reads is itself invalid.
    @field_validator("end_day")
    @classmethod
    def _end_with_start(cls, end_day, info):
        if "start_day" not in info.data:
            return end_day
        if info.data["start_day"] is not None and end_day is None:
            raise ValueError("end_day is required with start_day")
        if info.data["start_day"] is None and end_day is not None:
            raise ValueError("end_day needs a start_day")
        return end_day

    @field_validator("every_days")
    @classmethod
    def _every_with_days(cls, every_days, info):
        if every_days is not None and info.data.get("start_day", 0) is None:
            raise ValueError("every_days repeats a start_day/end_day window (a season recurs every year by itself)")
        return every_days

    @field_validator("season")
    @classmethod
    def _season_alone(cls, season, info):
        if season is not None and info.data.get("start_day") is not None:
            raise ValueError(f"give one window form, not several: {_WINDOW_FORMS} (start_day is also given)")
        return season

    @field_validator("dates")
    @classmethod
    def _dates_alone(cls, dates, info):
        if dates is None:
            return dates
        other = "season" if info.data.get("season") is not None else "start_day" if info.data.get("start_day") is not None else None
        if other is not None:
            raise ValueError(f"give one window form, not several: {_WINDOW_FORMS} ({other} is also given)")
        return dates

    @model_validator(mode="after")
    def _window(self):
        if "capacity_factor" not in self.model_fields_set and self.vehicles_factor is None:
            raise ValueError("give capacity_factor (or vehicles_factor, for a service with a fleet)")
        if self.start_day is None and self.season is None and self.dates is None:
            raise ValueError(f"a disruption needs a window: {_WINDOW_FORMS}")
        if self.start_day is None:
            return self
        if self.end_day <= self.start_day:
            raise ValueError("end_day must be after start_day")
        if self.every_days is not None and self.end_day - self.start_day > self.every_days:
            raise ValueError("the window is longer than its recurrence every_days")
        return self


class Background(_Model):
    id: str = Field(min_length=1)
    mode: Mode
    route: list[str] = Field(min_length=2)
    vehicles_per_day: float = Field(gt=0)
    arrivals: Literal["poisson", "regular"] = "poisson"
    teu_per_call: float = Field(0.0, ge=0)
    start_day: float = Field(0.0, ge=0)
    end_day: Optional[float] = Field(None, gt=0)

    @model_validator(mode="after")
    def _window(self):
        if self.end_day is not None and self.end_day <= self.start_day:
            raise ValueError("end_day must be after start_day")
        return self


class ModeCost(_Model):
    usd_per_teu_km: float = Field(0.0, ge=0)
    co2_kg_per_teu_km: float = Field(0.0, ge=0)


class Costs(_Model):
    rail: ModeCost = ModeCost()
    road: ModeCost = ModeCost()
    sea: ModeCost = ModeCost()


class Scenario(_Model):
    name: str = Field(min_length=1)
    description: str = ""
    simulation: Simulation = Simulation()
    network: Network
    services: list[Service] = Field(default_factory=list)
    demand: list[Flow] = Field(default_factory=list)
    disruptions: list[Disruption] = Field(default_factory=list)
    costs: Costs = Costs()
    background: list[Background] = Field(default_factory=list)

    # Where the scenario came from and the merged data it was built from (set by the loader).
    _source_file: str = PrivateAttr(default="")
    _data: Optional[dict] = PrivateAttr(default=None)

    @property
    def source_file(self) -> str:
        return self._source_file

    def data(self) -> dict:
        """The merged plain data the scenario was built from (written beside results)."""
        if self._data is not None:
            return self._data
        return self.model_dump(by_alias=True, mode="json", exclude_defaults=True)

    # Convenience lookups for model code (validated ids are unique).
    def node(self, node_id: str) -> Node:
        return next(n for n in self.network.nodes if n.id == node_id)

    def flow(self, flow_id: str) -> Flow:
        return next(f for f in self.demand if f.id == flow_id)
