"""CorridorModel: everything of one replication on one simpy.Environment.

Built from a validated Scenario and its CorridorNetwork: a Facility for every node with handling, a
SegmentGate for every segment direction with `capacity_per_day`, a LineState for every service line,
a source process per flow, a process per disruption. `run()` simulates the horizon and returns a
ReplicationOutput of plain numpy arrays and dicts (picklable, so replications can run anywhere).

A shipment's journey is a short itinerary over its route's legs: handled where it starts, changes
vehicle or passes an `applies: always` node on its own truck; driven (road) or ridden (rail, sea);
handled at its destination. Shipments created before the warm-up are simulated but not measured.
"""

from __future__ import annotations

import gc
import math
from dataclasses import dataclass, field

import numpy as np

from corridor_sim.calendar import month_edges_h, windows
from corridor_sim.distributions import sampler_of
from corridor_sim.engine.arrivals import Arrivals
from corridor_sim.engine.choice import Chooser
from corridor_sim.engine.clock import PARK, Clock, sleeper
from corridor_sim.engine.empties import EmptyBoxes
from corridor_sim.engine.facilities import Facility, SegmentGate
from corridor_sim.engine.fleets import build_fleets, fleet_outputs
from corridor_sim.engine.pools import Pools
from corridor_sim.engine.records import Recorder, Stage, SummaryRecorder
from corridor_sim.engine.services import LineState, ServiceRunner, Waiting
from corridor_sim.engine.shared import SharedInfrastructure
from corridor_sim.engine.streams import stream
from corridor_sim.network import CorridorNetwork, RideLeg, RoadLeg, Route, changes_vehicle, handling_time
from corridor_sim.scenario.schema import Scenario, Segment

QUEUE, WAIT, TRAVEL = int(Stage.QUEUE), int(Stage.WAIT), int(Stage.TRAVEL)
SAMPLE_EVERY_H = 24.0
DEFAULT_MIN_DRAIN_DAYS = 30.0


@dataclass
class ReplicationOutput:
    """What one replication produced: per-shipment columns and per-facility/service statistics."""

    replication: int
    seed: int
    horizon_h: float
    warmup_h: float
    shipments: dict[str, np.ndarray]
    facilities: dict[str, dict]
    lines: dict[str, dict]
    gates: dict[str, dict]
    samples_h: np.ndarray
    queue_samples: dict[str, np.ndarray]
    places: list[str]
    events: int = 0
    extra: dict = field(default_factory=dict)
    end_h: float = math.nan  # when the run stopped: the horizon, or later while the cohort drained
    month_edges_h: np.ndarray = field(default_factory=lambda: np.zeros(0))
    month_keys: list[str] = field(default_factory=list)
    levels: dict = field(default_factory=dict)  # daily level samples for the stability tests


class CorridorModel:
    """One replication of a scenario."""

    def __init__(self, scenario: Scenario, network: CorridorNetwork | None = None, replication: int = 0,
                 seed: int | None = None, keep_stages: bool = True, sample_queues: bool = True,
                 summary_only: bool = False):
        self.scenario = scenario
        self.network = network or CorridorNetwork.from_scenario(scenario)
        self.replication = replication
        self.seed = scenario.simulation.seed if seed is None else seed
        self.env = Clock()
        self.horizon_h = scenario.simulation.horizon_days * 24.0
        self.warmup_h = scenario.simulation.warmup_days * 24.0
        self.sample_queues = sample_queues

        nodes, segments = scenario.network.nodes, scenario.network.segments
        self.places = [n.id for n in nodes] + [s.id for s in segments] + list(self.network.lines)
        self.node_place = {n.id: i for i, n in enumerate(nodes)}
        self.segment_place = {s.id: len(nodes) + i for i, s in enumerate(segments)}
        self.line_place = {lid: len(nodes) + len(segments) + i for i, lid in enumerate(self.network.lines)}

        self.facilities: dict[str, Facility] = {}
        for node in nodes:
            if node.handling is not None:
                rng = self._rng(f"handling:{node.id}")
                self.facilities[node.id] = Facility(self.env, node.id, node.handling.servers,
                                                    sampler_of(handling_time(node.handling, None, None), rng),
                                                    window_h=(self.warmup_h, self.horizon_h))
        self.gates: dict[tuple[str, str], SegmentGate] = {}
        self.delay_samplers = {}
        self.segment_extra: dict[str, list] = {s.id: [] for s in segments}
        for seg in segments:
            # A segment without a delay draws nothing (its stream would give only zeros).
            self.delay_samplers[seg.id] = sampler_of(seg.delay_h, self._rng(f"delay:{seg.id}")) if seg.delay_h else None
            disrupted = any(d.target == seg.id for d in scenario.disruptions)
            if seg.capacity_per_day is not None or disrupted:
                # On a single track one budget of paths serves both directions.
                shared = SegmentGate(self.env, seg.id, seg.capacity_per_day) if seg.tracks == 1 else None
                for a in (seg.from_, seg.to) if seg.bidirectional else (seg.from_,):
                    self.gates[(seg.id, a)] = shared or SegmentGate(self.env, f"{seg.id}@{a}", seg.capacity_per_day)
        # Single track, berths, yards, node dwell, handling by mode pair, background (shared.py).
        self.shared = SharedInfrastructure(self, nodes, segments)
        self.stop_calls = self.shared.stop_calls

        self.runner = ServiceRunner(self)
        self.lines: dict[str, LineState] = {}
        self.dwell_samplers = {}
        for lid, line in self.network.lines.items():
            state = LineState(line, self.line_place[lid], line.service.capacity_teu)
            self.lines[lid] = state
            self.dwell_samplers[lid] = sampler_of(line.service.dwell_h, self._rng(f"dwell:{lid}"))
            self.runner.start(state)
        self.pools = Pools(self.network, self.lines)
        self.fleets = build_fleets(self)

        self.routes: list[tuple[int, Route]] = []  # (flow index, route)
        for f, flow in enumerate(scenario.demand):
            routes = self.network.routes_for(flow)
            first = len(self.routes)
            self.routes.extend((f, r) for r in routes)
            Arrivals(self, f, flow, list(range(first, len(self.routes))))
        self.plans = [self.plan(route) for _, route in self.routes]
        self.empties = EmptyBoxes(self) if any(f.empty_return_share > 0 for f in scenario.demand) else None
        self.drain_h = self._drain_h()
        self.month_edges_h, self.month_keys = month_edges_h(scenario.simulation.start_date,
                                                            self.horizon_h + self.drain_h)
        self.choice = Chooser(self) if any(f.choice is not None for f in scenario.demand) else None
        n_flows = len(scenario.demand)
        self.recorder = (SummaryRecorder(n_flows, len(self.routes), self.warmup_h, self.horizon_h, self.month_edges_h)
                         if summary_only else
                         Recorder(keep_stages=keep_stages, n_flows=n_flows, window_h=(self.warmup_h, self.horizon_h)))
        for dis in scenario.disruptions:
            self.env.process(self._disruption(dis))
        self.env.process(self._end_warmup())
        self.samples_h: list[float] = []
        self.queue_samples: dict[str, list[int]] = {n: [] for n in self.facilities}
        self.levels: dict[str, list] = {}
        self.env.process(self._sample())

    def _rng(self, name: str) -> np.random.Generator:
        return stream(self.seed, self.replication, name)

    def _drain_h(self) -> float:
        return drain_days(self.scenario, [route for _, route in self.routes]) * 24.0

    # ------------------------------------------------------------------ lookups used by services

    def vehicle_facility(self, node_id: str) -> Facility | None:
        """The facility that handles a whole vehicle passing this node, if it applies always."""
        node = self.network.nodes[node_id]
        if node.handling is not None and node.handling.applies == "always":
            return self.facilities[node_id]
        return None

    def handling_stage(self, node_id: str) -> Stage:
        return Stage.BORDER if self.network.nodes[node_id].kind == "border" else Stage.HANDLING

    def dwell_sampler(self, state: LineState):
        return self.dwell_samplers[state.line.id]

    def gate(self, segment: Segment, from_node: str) -> SegmentGate | None:
        return self.gates.get((segment.id, from_node))

    def vehicle_handling_time_h(self, node_id: str, mode: str) -> float:
        """A draw of the handling time of a whole vehicle of this mode passing a node."""
        if isinstance(self.network.nodes[node_id].handling.time_h, dict):
            return self.shared.vehicle_handling_time_h(node_id, mode)
        return self.facilities[node_id].sample_service_time_h()

    def enter_segment(self, segment: Segment, from_node: str, background: bool = False):
        """Queue for a path into a segment (its gate) and, on a single track, its first section.

        A generator, for every vehicle entering a segment; returns what `run_segment` continues.
        """
        gate = self.gates.get((segment.id, from_node))
        if gate is not None:
            yield gate.enter()
        track = self.shared.tracks.get(segment.id)
        if track is None:
            return None
        return (yield from track.enter(track.direction(from_node), background))

    def run_segment(self, segment: Segment, passage, time_h: float, sleeps: bool = False):
        """Run a segment entered with `enter_segment` (section by section on a single track).

        `sleeps`: the vehicle is a `Started` process, which sleeps by yielding hours (engine/clock.py)."""
        if passage is None:
            yield time_h if sleeps else self.env.timeout(time_h)
        else:
            yield from self.shared.tracks[segment.id].run(passage, time_h, sleeps)

    def running_time_h(self, segment: Segment) -> float:
        time_h = segment.length_km / segment.speed_kmh
        delay = self.delay_samplers[segment.id]
        if delay is not None:
            time_h += delay()
        for extra in self.segment_extra[segment.id]:
            time_h += extra()
        return time_h

    def service_extra_delay(self, state: LineState) -> float:
        return sum(s() for s in state.extra_delays)

    # ------------------------------------------------------------------ processes

    def plan(self, route: Route, starts: list | None = None) -> list[tuple]:
        """A route as the steps a shipment takes: (process function, its arguments) each.

        Worked out once per route, so a shipment's journey does no lookups. `starts`, if given,
        receives the index of each leg's first step (where a re-choice may take over), then that of
        the destination's first step: each leg's movement (drive or ride) is the step before the next.
        """
        steps, shared = [], self.shared
        for i, leg in enumerate(route.legs):
            if starts is not None:
                starts.append(len(steps))
            steps += shared.before_handling(route, i)
            if self.network.handles(leg.origin, changes_vehicle(route.legs, i)):
                steps.append(shared.handle_step(route, i) or self._handle_step(leg.origin))
            steps += shared.after_handling(route, i)
            if isinstance(leg, RoadLeg):
                seg = leg.segment
                steps.append(shared.drive_step(seg, leg.origin)
                             or (self.drive, (seg, self.segment_place[seg.id], self.gate(seg, leg.origin))))
            else:
                steps.append((self.ride, (self.pools.group(leg.pool_key), leg.destination)))
        end = len(route.legs)
        if starts is not None:
            starts.append(len(steps))  # where the destination's steps start (after the last movement)
        steps += shared.before_handling(route, end)
        if self.network.handles(route.nodes[-1], True):
            steps.append(shared.handle_step(route, end) or self._handle_step(route.nodes[-1]))
        steps += shared.after_handling(route, end)
        return steps

    def _handle_step(self, node_id: str) -> tuple:
        return (self.handle, (self.facilities[node_id], self.node_place[node_id], int(self.handling_stage(node_id))))

    def journey(self, shipment: int, plan: list[tuple], teu: float, first: int = 0, last: int | None = None,
                at: list | None = None):
        """Carry one shipment along its route, recording each stage.

        One generator per journey: the common steps (handle, drive, ride) run inline, the same
        events in the same order as `yield from` each step would give (which costs a generator and
        a frame per step); any other step, and a subclass's own version of these, is delegated.
        It runs as a `Started` process (engine/clock.py): a handling or running time is slept by
        yielding its hours, which keeps the order of a `timeout` without making one.
        The inline steps add their stages to the shipment's totals themselves, as the recorder's
        `stage` would (the same additions in the same order), without a call per stage.

        A chooser (engine/choice.py) runs a candidate's plan a leg at a time: steps `first` to
        `last` (excluded; the shipment is delivered only when `last` is None), writing into `at`
        the step under way and when it began (at[1], at[2]), which a closure reads to turn it back.
        """
        env, rec = self.env, self.recorder  # env._now is env.now without the property
        parked = sleeper(env)  # parks where it waits for a server or a ride (engine/clock.py)
        totals, base, rows = rec.totals(shipment)
        k = first
        for step, args in (plan if first == 0 and last is None else plan[first:last]):
            if at is not None:
                at[1], at[2] = k, env._now
                k += 1
            f = getattr(step, "__func__", None)
            if f is _HANDLE:
                facility, place, stage = args
                arrived_h = env._now
                wait = facility.request(parked)
                if wait is not None:
                    yield wait
                started_h = env._now
                yield facility.sample_service_time_h()  # a sleep (engine/clock.py Started)
                facility.release()
                end_h = env._now
                if started_h > arrived_h:
                    totals[base + QUEUE] += started_h - arrived_h
                    if rows is not None:
                        rows.extend((shipment, QUEUE, place, arrived_h, started_h))
                if end_h > started_h:
                    totals[base + stage] += end_h - started_h
                    if rows is not None:
                        rows.extend((shipment, stage, place, started_h, end_h))
            elif f is _DRIVE:
                segment, place, gate = args
                if gate is not None:
                    arrived_h = env._now
                    yield gate.enter()
                    rec.stage(shipment, WAIT, place, arrived_h, env._now)
                start_h = env._now
                yield self.running_time_h(segment)
                end_h = env._now
                if end_h > start_h:
                    totals[base + TRAVEL] += end_h - start_h
                    if rows is not None:
                        rows.extend((shipment, TRAVEL, place, start_h, end_h))
            elif f is _RIDE:
                group, to = args
                done = parked or env.event()  # what the run that carries it succeeds when it alights
                self.runner.board_later(group, Waiting(shipment, teu, -1, -1, env._now, done, to, self.pools.next_seq()))
                yield PARK if parked else done
            else:
                yield from step(shipment, teu, *args)
        if last is None:
            rec.delivered(shipment, env._now)

    def handle(self, shipment: int, teu: float, facility: Facility, place: int, stage: int):
        """Queue for a server at a node, be handled, record both."""
        env = self.env
        arrived_h = env.now
        wait = facility.request()
        if wait is not None:
            yield wait
        started_h = env.now
        yield env.timeout(facility.sample_service_time_h())
        facility.release()
        if started_h > arrived_h:
            self.recorder.stage(shipment, QUEUE, place, arrived_h, started_h)
        self.recorder.stage(shipment, stage, place, started_h, env.now)

    def drive(self, shipment: int, teu: float, segment: Segment, place: int, gate: SegmentGate | None):
        """Drive a road segment on the shipment's own truck, after queueing for a path if limited."""
        env = self.env
        if gate is not None:
            arrived_h = env.now
            yield gate.enter()
            self.recorder.stage(shipment, WAIT, place, arrived_h, env.now)
        start_h = env.now
        yield env.timeout(self.running_time_h(segment))
        self.recorder.stage(shipment, TRAVEL, place, start_h, env.now)

    def ride(self, shipment: int, teu: float, group, to: str):
        """Wait in the pool for any line to `to`; the run that takes it records the ride and lets it off."""
        done = self.env.event()
        self.runner.board_later(group, Waiting(shipment, teu, -1, -1, self.env.now, done, to, self.pools.next_seq()))
        yield done

    def _disruption(self, dis):
        """Scale the target's capacity in each window (and add running delay), then restore it."""
        extra = sampler_of(dis.extra_delay_h, self._rng(f"disruption:{dis.id}"))
        has_extra = bool(dis.extra_delay_h)
        # Windows of one disruption never overlap (calendar.windows merges a season's days into runs).
        for window in windows(dis, self.scenario.simulation.start_date):
            yield self.env.timeout(max(0.0, window.start_h - self.env.now))
            self._apply(dis.target, dis.capacity_factor, extra if has_extra else None, True)
            if dis.vehicles_factor is not None:
                self.fleets[dis.target].scale(dis.vehicles_factor, True)
            if self.choice is not None and (dis.capacity_factor == 0 or dis.vehicles_factor == 0):
                self.choice.closed(dis.target)  # shipments waiting there may re-choose (engine/choice.py)
            if window.end_h == math.inf:  # a season of every day: in force for the whole run
                return
            yield self.env.timeout(window.length_h)
            self._apply(dis.target, dis.capacity_factor, extra if has_extra else None, False)
            if dis.vehicles_factor is not None:
                self.fleets[dis.target].scale(dis.vehicles_factor, False)

    def _apply(self, target: str, factor: float, extra, on: bool) -> None:
        if target in self.facilities:
            self.facilities[target].scale(factor, on)
            return
        if target in self.segment_extra:
            # A single track's two directions share one gate: scale each gate once.
            for gate in {id(g): g for (seg_id, _), g in self.gates.items() if seg_id == target}.values():
                gate.scale(factor, on)
            if extra is not None:
                (self.segment_extra[target].append if on else self.segment_extra[target].remove)(extra)
            return
        for state in self.lines.values():
            if state.line.service.id == target:
                (state.factors.append if on else state.factors.remove)(factor)
                if state.on_change is not None:
                    state.on_change()
                if extra is not None:
                    (state.extra_delays.append if on else state.extra_delays.remove)(extra)
                if on is False and state.arrival is not None and not state.arrival.triggered:
                    state.arrival.succeed()

    def _end_warmup(self):
        yield self.env.timeout(self.warmup_h)
        for facility in self.facilities.values():
            facility.reset_statistics()
        for gate in self.gates.values():
            gate.reset_statistics()
        for state in self.lines.values():
            state.reset_statistics()
        self.shared.reset_statistics()

    def _sample(self):
        """Daily samples: facility queues (and their cumulative areas, which give monthly figures
        exactly since months start at whole days), each flow's TEU in the system, gate and service
        queues: the levels whose trends say whether an element settles."""
        levels = self.levels
        for name in ("flows", "areas", "gates", "lines"):
            levels[name] = []
        gates = [g for g in self.gates.values() if g.capacity_per_day is not None]
        lines = list(self.lines.values())
        while True:
            self.samples_h.append(self.env.now)
            for node_id, facility in self.facilities.items():
                self.queue_samples[node_id].append(len(facility.queue))
            levels["flows"].append(list(self.recorder.in_system_teu))
            levels["areas"].append([f.areas() for f in self.facilities.values()])
            levels["gates"].append([len(g.queue) for g in gates])
            levels["lines"].append([s.waiting_teu() for s in lines])
            yield self.env.timeout(SAMPLE_EVERY_H)

    # ------------------------------------------------------------------ run

    def run(self) -> ReplicationOutput:
        """Simulate to the horizon and return this replication's output."""
        # Shipments waiting in queues are long-lived objects: Python's cyclic collector would walk
        # them all again and again (up to half the run time when queues grow). Everything built so
        # far is frozen out of its sight and it runs rarely; reference counting frees the rest.
        thresholds = gc.get_threshold()
        gc.freeze()
        gc.set_threshold(100_000, 50, 1000)
        try:
            self.env.run(until=self.horizon_h)
            window = self._window_statistics()
            if self.recorder.open_measured > 0 and self.drain_h > 0:
                # Follow the measured cohort to delivery, arrivals going on (unmeasured).
                self.recorder.done = self.env.event()
                self.env.run(until=self.env.any_of([self.recorder.done, self.env.timeout(self.drain_h)]))
        finally:
            gc.set_threshold(*thresholds)
            gc.unfreeze()
        facilities = window["facilities"]
        if self.empties is not None:  # the counts of boxes sent and back run to the end (conservation)
            window["extra"]["empties"].update(self.empties.counts())
        if self.choice is not None:  # route shares of the measured cohort, re-choices to the end
            window["extra"]["choice"] = self.choice.outputs()
        for node_id, facility in self.facilities.items():
            # Waits of the window's arrivals, whenever they started; those still queueing are censored.
            facilities[node_id].update(wait_sum_h=facility.wait_sum_h, waited=facility.waited,
                                       waiting_at_end=facility.waiting_in_window())
        samples_h = np.asarray(self.samples_h)
        return ReplicationOutput(
            replication=self.replication,
            seed=self.seed,
            horizon_h=self.horizon_h,
            warmup_h=self.warmup_h,
            shipments=self.recorder.arrays(),
            facilities=facilities,
            lines=window["lines"],
            gates=window["gates"],
            samples_h=samples_h if self.sample_queues else samples_h[:0],
            queue_samples={n: np.asarray(v if self.sample_queues else [], dtype=np.int32)
                           for n, v in self.queue_samples.items()},
            places=self.places,
            end_h=self.env.now,
            month_edges_h=self.month_edges_h,
            month_keys=self.month_keys,
            levels=self._level_arrays(samples_h),
            extra=window["extra"],
        )

    def _window_statistics(self) -> dict:
        """Facility, gate and line statistics over the measured window (taken at the horizon)."""
        measured_h = self.horizon_h - self.warmup_h
        lines = {}
        for lid, s in self.lines.items():
            lines[lid] = {
                "service": s.line.service.id,
                "departures": s.departures,
                "cancelled": s.cancelled,
                "load_factor_sum": s.load_factor_sum,
                "teu_carried": s.teu_carried,
                "capacity_teu": s.capacity_teu,
                "waiting_at_end": s.waiting(),
                "load_factor_nominal_sum": s.load_factor_nominal_sum,
                "peak_teu_sum": s.peak_teu_sum,
                "teu_km": s.teu_km,
                "offered_teu": s.offered_teu,
            }
        gates = {
            gate.name: {"segment": seg_id, "entered": gate.entered, "capacity_per_day": gate.capacity_per_day,
                        # against the paths open over the window (capacity x factor, integrated)
                        "utilization": (gate.entered / (gate.capacity_per_day * gate.open_h() / 24.0)
                                        if gate.open_h() > 0 else float("nan")),
                        "utilization_nominal": gate.entered / (gate.capacity_per_day * measured_h / 24.0),
                        "queue_at_end": len(gate.queue), "open_h": gate.open_h()}
            for (seg_id, _), gate in self.gates.items() if gate.capacity_per_day is not None
        }
        return {"facilities": {n: f.statistics() for n, f in self.facilities.items()}, "lines": lines,
                "gates": gates,
                "extra": {"fleets": fleet_outputs(self),
                          "empties": self.empties.statistics() if self.empties is not None else {},
                          **self.shared.statistics()}}

    def _level_arrays(self, samples_h: np.ndarray) -> dict:
        """The daily level samples as arrays keyed by element (see `_sample`)."""
        lv = self.levels
        out = {"times_h": samples_h, "flows": {}, "facility_areas": {}, "gates": {}, "lines": {}}
        flows = np.asarray(lv["flows"], dtype=float).reshape(len(samples_h), -1)
        for f, flow in enumerate(self.scenario.demand):
            out["flows"][flow.id] = flows[:, f].copy()
        areas = np.asarray(lv["areas"], dtype=float).reshape(len(samples_h), len(self.facilities), 4)
        for k, node_id in enumerate(self.facilities):
            out["facility_areas"][node_id] = areas[:, k, :].copy()
        gates = [g for g in self.gates.values() if g.capacity_per_day is not None]
        g_arr = np.asarray(lv["gates"], dtype=float).reshape(len(samples_h), len(gates))
        for k, gate in enumerate(gates):
            out["gates"][gate.name] = g_arr[:, k].copy()
        l_arr = np.asarray(lv["lines"], dtype=float).reshape(len(samples_h), len(self.lines))
        for k, lid in enumerate(self.lines):
            out["lines"][lid] = l_arr[:, k].copy()
        return out


_HANDLE, _DRIVE, _RIDE = CorridorModel.handle, CorridorModel.drive, CorridorModel.ride  # inlined by journey


def drain_days(scenario: Scenario, routes: list[Route] | None = None) -> float:
    """Days a run may go on after the horizon to follow its measured shipments to delivery:
    `simulation.drain_days`, or by default three times the slowest route's expected transit (which
    leaves out queueing), at least 30 days.

    Args:
        scenario: a validated scenario.
        routes: its flows' routes, if already worked out (else they are).
    """
    days = scenario.simulation.drain_days
    if days is not None:
        return days
    if routes is None:
        network = CorridorNetwork.from_scenario(scenario)
        routes = [route for flow in scenario.demand for route in network.routes_for(flow)]
    slowest_h = max((route.expected.total_h for route in routes), default=0.0)
    return max(DEFAULT_MIN_DRAIN_DAYS, 3.0 * slowest_h / 24.0)


def run_replication(scenario: Scenario, replication: int, seed: int | None = None,
                    keep_stages: bool = True, sample_queues: bool = True,
                    summary_only: bool = False) -> ReplicationOutput:
    """Run one replication: a pure function of (scenario, replication, seed).

    `summary_only` streams per-flow statistics instead of keeping a row per shipment (memory bounded
    by the shipments in flight); the random numbers, and so every simulated event, are the same.
    """
    model = CorridorModel(scenario, replication=replication, seed=seed, keep_stages=keep_stages,
                          sample_queues=sample_queues, summary_only=summary_only)
    return model.run()
