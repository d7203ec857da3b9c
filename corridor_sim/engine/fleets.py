"""Fleets: the trains or vessels of a service, which must come back before they leave again.

A service with `fleet: {vehicles: N, turnaround_h: T}` owns N vehicles. A trip (a run of one of the
service's lines, services.py) starts only with a vehicle idle at the line's first stop. Each vehicle
is a SimPy process that reads as its itinerary (the closed cycle of OpenCLSim and PopUpSim's
locomotive pool):

    wait idle at a terminal -> run a trip -> turn around (T) -> [return empty -> turn around (T)]

- `reverse: true`: the same vehicles run both directions; one that reaches the last stop takes the
  next trip back (it waits idle there for the reverse line's departure).
- `reverse: false`, the last stop not the first: it runs back empty along the service's segments
  (reversed) to the first stop, through the same code as a loaded run (`ServiceRunner._run`) with
  nothing to board, so it queues for paths, is handled as a vehicle where handling `applies:
  always` and takes the running time; it does not dwell at intermediate stops. A cycle is then
  C = loaded run + T + empty run + T.
- A loop (first stop = last stop) cycles its vehicles through the rotation: loaded run + T.

Vehicles start idle: with `reverse: true` alternately at the two ends (the first stop gets the odd
one out), otherwise all at the first stop. A vehicle is always in exactly one state: on a loaded
trip, on an empty run, turning around, idle, or out of service (a disruption's `vehicles_factor`
multiplies the fleet in service, like `capacity_factor` multiplies TEU: round(N x factor) vehicles
stay, at least one unless the factor is 0; the others are withdrawn, idle ones at once, those under
way when they next finish turning around, and come back idle where they are when it lifts).
Time-weighted areas of the counts give each state's share of vehicle time.

Departures (called from services.py): a scheduled departure with no idle vehicle leaves late when
one becomes idle (the lateness is recorded), or is cancelled with `late: cancel`; while one late
departure waits, later slots of that line are cancelled (so lateness cannot pile up for ever and the
line departs every RTT/N). A when-full departure that is due waits for a vehicle; the wait counts
as lateness too. With `reverse: true`, when a when-full departure is due at one end with no vehicle
there while a vehicle idles at the other end with no cargo for its line, that vehicle comes over
empty at once, so the fleet cannot gather where no cargo starts. Idle share ("vehicles waiting for cargo") against late departures ("cargo waiting
for a vehicle") says whether the fleet binds.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field

import simpy

from corridor_sim.distributions import mean_of, sampler_of
from corridor_sim.network import CorridorNetwork, Line
from corridor_sim.scenario.schema import Scenario, Scheduled, Service

LOADED, EMPTY, TURNAROUND, IDLE, OUT = range(5)
STATE_NAMES = ("loaded", "empty", "turnaround", "idle", "out_of_service")


@dataclass(slots=True)
class Vehicle:
    id: int
    line: int  # the line (0 forward, 1 reverse) whose first stop it is at or heading for
    state: int = IDLE
    idle_since_h: float = 0.0
    taken: simpy.Event | None = None  # fires with the run process when a departure takes it


@dataclass
class Fleet:
    """The vehicles of one service and their statistics."""

    model: object
    service: Service
    states: list  # LineState per line: [forward] or [forward, reverse]
    empty_state: object | None  # LineState of the empty return (reverse: false, not a loop)
    vehicles: list[Vehicle] = field(default_factory=list)
    observer: object = None  # called with the fleet after every state change (tests)
    trace: list | None = None  # (time, line, vehicle, idle there before) per departure, when a list

    def __post_init__(self):
        model, service = self.model, self.service
        self.env: simpy.Environment = model.env
        self.runner = model.runner
        self.n = service.fleet.vehicles
        self.turnaround = sampler_of(service.fleet.turnaround_h, model._rng(f"turnaround:{service.id}"))
        self.idle = [deque() for _ in self.states]
        self.out: deque = deque()
        self.pending: list[float | None] = [None] * len(self.states)  # a late departure waiting, since
        self.due: list[float | None] = [None] * len(self.states)  # a when-full departure due, since
        self._factors: list[float] = []
        self.target = self.n
        self.counts = [0] * len(STATE_NAMES)
        self.counts[IDLE] = self.n
        self.empty_km, self.empty_co2_kg, self.empty_cost_usd = (
            empty_run_costs(model.scenario, service, self.empty_state.line) if self.empty_state else (0.0, 0.0, 0.0))
        self.reset_statistics()
        for i in range(self.n):
            v = Vehicle(i, i % len(self.states), taken=self.env.event())
            self.vehicles.append(v)
            self.idle[v.line].append(v)
            self.env.process(self._cycle(v))
        self.env.process(self._reset_at_warmup())

    # ------------------------------------------------------------------ the vehicle's itinerary

    def _cycle(self, v: Vehicle):
        """One vehicle for ever: wait at a terminal, run a trip, turn around, return empty if needed."""
        while True:
            run = yield v.taken  # idle (or out of service) at a terminal until a departure takes it
            yield run
            yield from self._turn_around(v)
            if self.empty_state is not None:
                self._set(v, EMPTY)
                yield self.env.process(self.runner._run(self.empty_state, 0.0))
                self._count_empty_run()
                yield from self._turn_around(v)
            elif len(self.states) == 2:
                v.line = 1 - v.line
            self._park(v)

    def _park(self, v: Vehicle) -> None:
        """Leave a vehicle idle at its terminal, or out of service if the fleet is cut."""
        v.taken = self.env.event()
        if self.n - len(self.out) > self.target:
            self.out.append(v)
            self._set(v, OUT)
        else:
            self._make_idle(v)

    def _make_idle(self, v: Vehicle) -> None:
        v.idle_since_h = self.env.now
        self.idle[v.line].append(v)
        self._set(v, IDLE)
        self._vehicle_ready(v.line)

    def _turn_around(self, v: Vehicle):
        self._set(v, TURNAROUND)
        time_h = self.turnaround()
        if time_h:
            yield self.env.timeout(time_h)

    # ------------------------------------------------------------------ departures (services.py)

    def ready(self, state) -> bool:
        """Whether a due when-full departure of this line has a vehicle; if not, it is late from now."""
        line = self.states.index(state)
        if self.idle[line]:
            return True
        if self.due[line] is None:
            self.due[line] = self.env.now
            if len(self.states) == 2:  # an idle vehicle at the other end may come over empty
                other = self.states[1 - line]
                if other.arrival is not None and not other.arrival.triggered:
                    other.arrival.succeed()
        return False

    def idle_deadline_h(self, state, max_wait_h: float) -> float:
        """Now, if an idle vehicle of this when-full line should leave empty: the fleet runs both
        ways, nothing waits for this line and a departure of the other line is due with no vehicle
        there (so the fleet cannot gather at the end without cargo); else never."""
        line = self.states.index(state)
        if len(self.states) < 2 or not self.idle[line] or state.has_waiting():
            return math.inf
        return self.env.now if self.due[1 - line] is not None else math.inf

    def take(self, state) -> Vehicle | None:
        """The idle vehicle for a departure of this line, or None (the departure waits or is cancelled)."""
        line = self.states.index(state)
        now = self.env.now
        if self.idle[line]:
            if self.trace is not None:
                self.trace.append((now, line, self.idle[line][0].id, len(self.idle[line])))
            v = self.idle[line].popleft()
            self._set(v, LOADED)
            since = self.pending[line] if self.pending[line] is not None else self.due[line]
            self.pending[line] = self.due[line] = None
            if now >= self.model.warmup_h:
                self.departures += 1
                if since is not None and now > since:
                    self.late_departures += 1
                    self.late_h_sum += now - since
            return v
        if self.service.late == "cancel" or self.pending[line] is not None:
            state.cancelled += 1  # no vehicle, or an earlier departure is still waiting for one
            if now >= self.model.warmup_h:
                self.skipped += 1
        else:
            self.pending[line] = now
        return None

    def _vehicle_ready(self, line: int) -> None:
        """A vehicle became idle at this line's first stop: start a late departure or wake the line."""
        state = self.states[line]
        if self.pending[line] is not None:
            if state.capacity_teu * state.factor() > 0:
                self.runner._depart(state)
            else:  # the service is closed: the late departure is cancelled like any other
                self.pending[line] = None
                state.cancelled += 1
        elif state.arrival is not None and not state.arrival.triggered:
            state.arrival.succeed()

    # ------------------------------------------------------------------ vehicles_factor

    def scale(self, factor: float, on: bool) -> None:
        """Apply (on) or lift a vehicles_factor; active factors multiply."""
        (self._factors.append if on else self._factors.remove)(factor)
        product = math.prod(self._factors) if self._factors else 1.0
        self.target = 0 if product == 0 else max(1, round(self.n * product))
        for state in self.states:
            if state.on_change is not None:
                state.on_change()
        while self.n - len(self.out) > self.target and any(self.idle):
            line = max(range(len(self.idle)), key=lambda i: len(self.idle[i]))
            v = self.idle[line].pop()  # the latest to arrive: the others keep their place in line
            self.out.append(v)
            self._set(v, OUT)
        while self.n - len(self.out) < self.target and self.out:
            self._make_idle(self.out.popleft())

    # ------------------------------------------------------------------ statistics

    def _set(self, v: Vehicle, new: int) -> None:
        self._advance()
        self.counts[v.state] -= 1
        self.counts[new] += 1
        v.state = new
        if self.observer is not None:
            self.observer(self)

    def _advance(self) -> None:
        now = self.env.now
        dt = now - self._last_h
        if dt:
            for i, c in enumerate(self.counts):
                self.areas[i] += c * dt
            self._last_h = now

    def _count_empty_run(self) -> None:
        if self.env.now >= self.model.warmup_h:
            self.empty_runs += 1

    def reset_statistics(self) -> None:
        self._last_h = self.since_h = self.env.now
        self.areas = [0.0] * len(STATE_NAMES)
        self.departures = self.late_departures = self.skipped = self.empty_runs = 0
        self.late_h_sum = 0.0

    def _reset_at_warmup(self):
        yield self.env.timeout(self.model.warmup_h)
        self._advance()
        self.reset_statistics()

    def statistics(self) -> dict:
        """Measured statistics since the warm-up, up to now."""
        self._advance()
        span = max(self.env.now - self.since_h, 1e-12)
        return {
            "vehicles": self.n, "span_h": span,
            "vehicle_h": {name: self.areas[i] for i, name in enumerate(STATE_NAMES)},
            "departures": self.departures, "late_departures": self.late_departures, "late_h_sum": self.late_h_sum,
            "skipped": self.skipped, "empty_runs": self.empty_runs,
            "empty_vehicle_km": self.empty_runs * self.empty_km,
            "empty_run_co2_kg": self.empty_runs * self.empty_co2_kg,
            "empty_run_cost_usd": self.empty_runs * self.empty_cost_usd,
        }


# ---------------------------------------------------------------------- building


def _no_dwell() -> float:
    return 0.0


def build_fleets(model) -> dict[str, Fleet]:
    """A Fleet for every service of the model that has one, keyed by service id."""
    from corridor_sim.engine.services import LineState

    fleets = {}
    for service in model.scenario.services:
        if service.fleet is None or service.id not in model.lines:
            continue
        states = [model.lines[service.id]]
        if service.reverse and f"{service.id}~rev" in model.lines:
            states.append(model.lines[f"{service.id}~rev"])
        empty_state = None
        line = empty_line(model.network, service)
        if line is not None and len(states) == 1:
            empty_state = LineState(line, states[0].index, service.capacity_teu)
            # An empty run boards nobody: no pools at its stops.
            empty_state.boards = [[] for _ in line.stops]
            empty_state.alights = [{} for _ in line.stops]
            empty_state.km = [0.0] * len(line.stops)
            empty_state.through_teu = [0.0] * len(line.stops)
            empty_state.extra_delays = states[0].extra_delays  # a service's extra delay slows its empty runs too
            model.dwell_samplers[line.id] = _no_dwell
        fleet = Fleet(model, service, states, empty_state)
        for state in states:
            state.fleet = fleet
        fleets[service.id] = fleet
    return fleets


def empty_line(network: CorridorNetwork, service: Service) -> Line | None:
    """The way back empty of a `reverse: false` service: its stops reversed (None for a loop)."""
    if service.reverse or service.stops[0] == service.stops[-1]:
        return None
    stops = list(reversed(service.stops))
    segs = []
    for a, b in zip(stops, stops[1:]):
        found = network.segments_between(a, b, service.mode)
        if not found:
            return None
        segs.append(found[0])
    return Line(f"{service.id}~empty", service, tuple(stops), tuple(segs))


def empty_run_costs(scenario: Scenario, service: Service, line: Line) -> tuple[float, float, float]:
    """(km, kg CO2, USD) of one empty run: per km as given in the fleet, else a vehicle's worth of
    the segment's per-TEU-km rate (capacity_teu x rate: an upper bound for an empty vehicle)."""
    fleet, mode = service.fleet, getattr(scenario.costs, service.mode)
    km = co2 = usd = 0.0
    for seg in line.segments:
        km += seg.length_km
        rate_co2 = seg.co2_kg_per_teu_km if seg.co2_kg_per_teu_km is not None else mode.co2_kg_per_teu_km
        rate_usd = seg.cost_usd_per_teu_km if seg.cost_usd_per_teu_km is not None else mode.usd_per_teu_km
        co2 += seg.length_km * (fleet.empty_co2_kg_per_km if fleet.empty_co2_kg_per_km is not None
                                else service.capacity_teu * rate_co2)
        usd += seg.length_km * (fleet.empty_cost_usd_per_km if fleet.empty_cost_usd_per_km is not None
                                else service.capacity_teu * rate_usd)
    return km, co2, usd


def fleet_outputs(model) -> dict:
    """Per service with a fleet, its statistics (for ReplicationOutput.extra)."""
    return {sid: fleet.statistics() for sid, fleet in getattr(model, "fleets", {}).items()}


# ---------------------------------------------------------------------- sizing (validate, routes)


def trip_h(network: CorridorNetwork, line: Line, dwell: bool = True) -> float:
    """Expected hours of one run of a line, first stop to last: running, mean delays, and at each
    intermediate stop the vehicle's handling (where it applies always) and the dwell."""
    hours = sum(seg.length_km / seg.speed_kmh + mean_of(seg.delay_h) for seg in line.segments)
    for node_id in line.stops[1:-1]:
        handling = network.nodes[node_id].handling
        if handling is not None and handling.applies == "always":
            hours += mean_of(handling.time_h)
        if dwell:
            hours += mean_of(line.service.dwell_h)
    return hours


def vehicles_needed(network: CorridorNetwork, service: Service) -> tuple[int, float] | None:
    """(vehicles a scheduled timetable needs, its round trip in hours), or None if not scheduled.

    A shuttle returning empty or a loop needs ceil(RTT / H), the round trip RTT including both
    turnarounds. With `reverse: true` both directions keep the same timetable, so a vehicle also
    waits at each end for the next departure: ceil(a / H) + ceil(b / H) with a, b one way plus its
    turnaround.
    """
    dep = service.departures
    if not isinstance(dep, Scheduled) or service.id not in network.lines:
        return None
    legs = cycle_legs_h(network, service)
    if len(legs) == 2 and service.reverse:
        return math.ceil(legs[0] / dep.every_h - 1e-9) + math.ceil(legs[1] / dep.every_h - 1e-9), sum(legs)
    return math.ceil(sum(legs) / dep.every_h - 1e-9), sum(legs)


def cycle_legs_h(network: CorridorNetwork, service: Service) -> list[float]:
    """The expected hours of the parts of one vehicle's cycle, each with its turnaround: the loaded
    trip, then (`reverse: true`) the trip back or (`reverse: false`, not a loop) the empty run back.
    Their sum C is the round trip: N vehicles give at most one departure per line every C / N."""
    turn_h = mean_of(service.fleet.turnaround_h) if service.fleet else 0.0
    legs = [trip_h(network, network.lines[service.id]) + turn_h]
    back = network.lines.get(f"{service.id}~rev")
    if service.reverse and back is not None:
        legs.append(trip_h(network, back) + turn_h)
    else:
        line = empty_line(network, service)
        if line is not None:
            legs.append(trip_h(network, line, dwell=False) + turn_h)
    return legs


def fleet_warnings(scenario: Scenario) -> list[str]:
    """A warning per scheduled service whose fleet is too small for its timetable."""
    network = CorridorNetwork.from_scenario(scenario)
    out = []
    for i, service in enumerate(scenario.services):
        if service.fleet is None:
            continue
        needed = vehicles_needed(network, service)
        if needed is not None and service.fleet.vehicles < needed[0]:
            out.append(f"services[{i}].fleet.vehicles: {service.fleet.vehicles} vehicles cannot keep service "
                       f"{service.id}'s timetable (every {service.departures.every_h:g} h, round trip "
                       f"{needed[1]:.1f} h): it needs {needed[0]}; departures will be late or cancelled")
    return out
