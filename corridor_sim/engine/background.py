"""Background traffic: vehicles that share the corridor's infrastructure but are not measured flows.

A `background:` item is a stream of vehicles of one mode along a route of node ids, arriving
Poisson or regularly at `vehicles_per_day` (between `start_day` and `end_day` if given). Each
vehicle drives or runs the route's segments as a measured vehicle does: it queues for a path where
a segment has `capacity_per_day`, takes single-track sections, runs the segment's running time and
delays (disruptions' extra delays included), is handled as one vehicle at every node on its route
whose handling `applies: always` (a border), and calls at the berths of its mode on its route,
moving `teu_per_call` TEU at each. Disruptions act on it through the facilities and segments it
uses. It carries no shipments and records no stages; each node counts its passages, so results
show `background_arrivals_per_day` and the background share of each facility's and segment's use.
"""

from __future__ import annotations

import simpy

from corridor_sim.engine.clock import FastTimeout, Started, sleeper
from corridor_sim.scenario.schema import Background, Segment


class BackgroundTraffic:
    """The sources and vehicle itineraries of every `background:` item of a model."""

    def __init__(self, model):
        self.model = model
        self.env: simpy.Environment = model.env
        self.arrivals: dict[str, int] = {}          # node id -> background vehicles passing
        self.facility_arrivals: dict[str, int] = {}  # node id -> of them, handled there
        self.segment_entries: dict[str, int] = {}    # "<segment id>@<from node>" -> vehicles entering
        for item in model.scenario.background:
            legs = [self._segment(item, a, b) for a, b in zip(item.route, item.route[1:])]
            self._source(item, legs)

    def _segment(self, item: Background, a: str, b: str) -> Segment:
        # Checks guarantee a segment of the item's mode joins each pair; the first is taken.
        return self.model.network.segments_between(a, b, item.mode)[0]

    def reset_statistics(self) -> None:
        for counts in (self.arrivals, self.facility_arrivals, self.segment_entries):
            counts.clear()

    def _source(self, item: Background, legs: list[Segment]) -> None:
        """Schedule the item's vehicles: each arrival is a timeout whose callback schedules the next
        one and starts the vehicle at once (engine/arrivals.py explains why, and why the events are
        those of a source process, in the same order)."""
        env = self.env
        rng = self.model._rng(f"background:{item.id}")
        gap_h = 24.0 / item.vehicles_per_day
        start_h = item.start_day * 24.0
        end_h = item.end_day * 24.0 if item.end_day is not None else float("inf")
        poisson = item.arrivals == "poisson"
        stops: list[tuple] = []  # per node of the route, what a vehicle meets there (_stops), at the first arrival

        def arrive(_event) -> None:
            if env._now >= end_h:
                return
            FastTimeout(env, rng.exponential(gap_h) if poisson else gap_h).callbacks.append(arrive)
            if not stops:  # looked up once (model.shared is built after this source is)
                stops.extend(self._stops(item, legs))
            Started(env, self._vehicle(item, stops))

        if poisson:  # the first gap is drawn at start_day, as the vehicles' every other gap
            FastTimeout(env, start_h).callbacks.append(
                lambda _event: FastTimeout(env, rng.exponential(gap_h)).callbacks.append(arrive))
        else:
            FastTimeout(env, start_h + rng.uniform(0, gap_h)).callbacks.append(arrive)

    def _stops(self, item: Background, legs: list[Segment]) -> list[tuple]:
        """What a vehicle meets at each node of the item's route, fixed by the scenario: (node id, the
        facility handling it there or None, its berth call or None, the way on or None at the end).
        The way on is (segment, its gate from here or None, its single track or None, the track's
        direction, the key of its entries), what `model.enter_segment` would look up."""
        model, tracks = self.model, self.model.shared.tracks
        out = []
        for j, node_id in enumerate(item.route):
            way = None
            if j < len(legs):
                seg = legs[j]
                track = tracks.get(seg.id)
                way = (seg, model.gate(seg, node_id), track, track.direction(node_id) if track else 0,
                       f"{seg.id}@{node_id}")
            out.append((node_id, model.vehicle_facility(node_id), model.shared.berth_call(node_id, item.mode), way))
        return out

    def _vehicle(self, item: Background, stops: list[tuple]):
        """One background vehicle's itinerary: node by node (`stops`), segment by segment."""
        model, env = self.model, self.env
        # It runs as a Started process (_source): on a Clock it parks in a facility's queue and
        # sleeps its handling and running times by yielding hours (engine/clock.py), the same
        # events in the same order as waiting on an event or a timeout.
        parked = sleeper(env)
        warmup_h = model.warmup_h
        for j, (node_id, facility, call, way) in enumerate(stops):
            if env._now >= warmup_h:
                self.arrivals[node_id] = self.arrivals.get(node_id, 0) + 1
            if facility is not None:
                if env._now >= warmup_h:
                    self.facility_arrivals[node_id] = self.facility_arrivals.get(node_id, 0) + 1
                wait = facility.request(parked)
                if wait is not None:
                    yield wait
                yield model.vehicle_handling_time_h(node_id, item.mode)  # a sleep
                facility.release()
            if call is not None:
                yield from call.arrive([], j, True, background_teu=item.teu_per_call)
            if way is None:
                break
            # model.enter_segment and run_segment inline (no generator each): the gate, the track.
            segment, gate, track, d, key = way
            if gate is not None:
                yield gate.enter()
            passage = (yield from track.enter(d, True)) if track is not None else None
            if env._now >= warmup_h:  # counted on entry, as gates and tracks count
                self.segment_entries[key] = self.segment_entries.get(key, 0) + 1
            if passage is None:
                yield model.running_time_h(segment)  # a sleep
            else:
                yield from track.run(passage, model.running_time_h(segment), True)
