"""The optional shared parts of a model: single track, berths, yards, node dwell, background traffic.

A CorridorModel builds one SharedInfrastructure. It holds only what the scenario uses: a scenario
without `tracks: 1`, `berths`, `yard_teu`, `dwell_h`, handling by mode pair or `background` gets
empty tables here, its shipments' plans gain no step and its vehicles' runs do nothing extra, so
it simulates exactly as before (same events, same random numbers).

The model calls in at a few points: when a vehicle enters and runs a segment (`enter_segment`,
`run_segment`), when a vehicle calls at a stop (`stop_calls`, see terminals.StopCall), when a
whole vehicle is handled at a node (`vehicle_handling_time_h`), and when it plans a route (the
steps a shipment takes where it stops: yard, dwell, handling by mode pair, one-lane roads).
"""

from __future__ import annotations

from corridor_sim.distributions import sampler_of
from corridor_sim.engine.background import BackgroundTraffic
from corridor_sim.engine.clock import sleeper
from corridor_sim.engine.records import Stage
from corridor_sim.engine.terminals import BerthGroup, StopCall, Yard, berth_mode, dwell, yard_in, yard_out
from corridor_sim.engine.track import SingleTrack
from corridor_sim.network import RideLeg, RoadLeg, Route, changes_vehicle
from corridor_sim.scenario.schema import Segment

QUEUE, WAIT, TRAVEL = int(Stage.QUEUE), int(Stage.WAIT), int(Stage.TRAVEL)
SAMPLE_EVERY_H = 24.0


class SharedInfrastructure:
    """Single tracks, berths, yards, node dwell, handling by mode pair and background traffic."""

    def __init__(self, model, nodes, segments):
        self.model = model
        self.env = model.env
        self.tracks = {s.id: SingleTrack(self.env, s) for s in segments if s.tracks == 1}
        self.berths = {n.id: BerthGroup(self.env, n.id, n.berths) for n in nodes if n.berths is not None}
        self.yards = {n.id: Yard(self.env, n.id, n.yard_teu) for n in nodes if n.yard_teu is not None}
        self.node_dwell = {n.id: sampler_of(n.dwell_h, model._rng(f"node_dwell:{n.id}")) for n in nodes if n.dwell_h}
        # Handling times by mode pair: a stream per node and pair; the default is the facility's own.
        self.pair_samplers: dict[tuple[str, str], object] = {}
        for n in nodes:
            if n.handling is not None and isinstance(n.handling.time_h, dict):
                for key, spec in n.handling.time_h.items():
                    self.pair_samplers[(n.id, key)] = (
                        model.facilities[n.id].sample_service_time_h if key == "default"
                        else sampler_of(spec, model._rng(f"handling:{n.id}:{key}")))
        # A stop call per (line, stop) where a vehicle uses berths of its mode or a yard; lines
        # without any are absent, so their runs do nothing extra.
        self.stop_calls: dict[str, list] = {}
        for lid, line in model.network.lines.items():
            calls = [self.berth_call(node, line.service.mode) for node in line.stops]
            if any(calls):
                self.stop_calls[lid] = calls
        if self.berths:
            self.env.process(self._sample_berths())
        self.background = BackgroundTraffic(model) if model.scenario.background else None

    # ------------------------------------------------------------------ vehicles

    def berth_call(self, node_id: str, mode: str) -> StopCall | None:
        """What a vehicle of this mode does at a node with berths of its mode or a yard, if any."""
        node = self.model.network.nodes[node_id]
        berths = self.berths.get(node_id) if node.berths is not None and berth_mode(node) == mode else None
        yard = self.yards.get(node_id)
        if berths is None and yard is None:
            return None
        return StopCall(self.model, node, berths, yard)

    def vehicle_handling_time_h(self, node_id: str, mode: str) -> float:
        """A draw of the handling time of a whole vehicle passing a node (mode pair `mode>mode`)."""
        time_h = self.model.network.nodes[node_id].handling.time_h
        key = f"{mode}>{mode}" if f"{mode}>{mode}" in time_h else "default"
        return self.pair_samplers[(node_id, key)]()

    # ------------------------------------------------------------------ shipments' plans

    def before_handling(self, route: Route, i: int) -> list[tuple]:
        """A box stopping where leg i starts (i = len: the destination) takes yard room, unless the
        vehicle that brought it unloaded it into the yard."""
        node_id = _node(route, i)
        if node_id not in self.yards or not _stops(route, i):
            return []
        if i > 0 and isinstance(route.legs[i - 1], RideLeg):
            return []
        return [(self.yard_in, (self.yards[node_id], self.model.node_place[node_id]))]

    def handle_step(self, route: Route, i: int) -> tuple | None:
        """The handling step where handling time depends on the mode pair; None otherwise."""
        model = self.model
        node_id = _node(route, i)
        handling = model.network.nodes[node_id].handling
        if not isinstance(handling.time_h, dict):
            return None
        from_mode = route.legs[i - 1].mode if i > 0 else None
        to_mode = route.legs[i].mode if i < len(route.legs) else None
        key = f"{from_mode}>{to_mode}"
        if from_mode is None or to_mode is None or key not in handling.time_h:
            key = "default"
        return (self.handle_timed, (model.facilities[node_id], model.node_place[node_id],
                                    int(model.handling_stage(node_id)), self.pair_samplers[(node_id, key)]))

    def after_handling(self, route: Route, i: int) -> list[tuple]:
        """Where a shipment stops: the node's dwell, then leaving its yard if it goes on by road or ends."""
        model = self.model
        node_id = _node(route, i)
        if not _stops(route, i):
            return []
        steps = []
        if node_id in self.node_dwell:
            steps.append((self.dwell, (self.node_dwell[node_id], model.node_place[node_id],
                                       int(model.handling_stage(node_id)))))
        if node_id in self.yards and (i == len(route.legs) or isinstance(route.legs[i], RoadLeg)):
            steps.append((self.yard_out, (self.yards[node_id], model.node_place[node_id])))
        return steps

    def drive_step(self, segment: Segment, from_node: str) -> tuple | None:
        """The driving step on a one-lane road (`tracks: 1`); None on an ordinary road."""
        if segment.id not in self.tracks:
            return None
        return (self.drive_track, (segment, self.model.segment_place[segment.id], from_node))

    # ------------------------------------------------------------------ shipments' steps

    def handle_timed(self, shipment: int, teu: float, facility, place: int, stage: int, sample):
        """The model's `handle`, with the service time drawn for this mode pair."""
        env, rec = self.env, self.model.recorder
        arrived_h = env.now
        wait = facility.request()
        if wait is not None:
            yield wait
        started_h = env.now
        yield env.timeout(sample())
        facility.release()
        if started_h > arrived_h:
            rec.stage(shipment, QUEUE, place, arrived_h, started_h)
        rec.stage(shipment, stage, place, started_h, env.now)

    def drive_track(self, shipment: int, teu: float, segment: Segment, place: int, from_node: str):
        """Drive a one-lane segment worked alternately: wait for it (and a path), then cross."""
        model, env = self.model, self.env
        arrived_h = env.now
        passage = yield from model.enter_segment(segment, from_node)
        model.recorder.stage(shipment, WAIT, place, arrived_h, env.now)
        start_h = env.now
        # A journey (a Started process on a Clock) sleeps the crossing; an empty box's way back
        # (engine/empties.py) is a plain SimPy process, which waits on a timeout.
        yield from model.run_segment(segment, passage, model.running_time_h(segment), sleeper(env) is not None)
        model.recorder.stage(shipment, TRAVEL, place, start_h, env.now)

    def yard_in(self, shipment: int, teu: float, yard: Yard, place: int):
        return yard_in(self.model, shipment, teu, yard, place)

    def yard_out(self, shipment: int, teu: float, yard: Yard, place: int):
        return yard_out(self.model, shipment, teu, yard, place)

    def dwell(self, shipment: int, teu: float, sample, place: int, stage: int):
        return dwell(self.model, shipment, teu, sample, place, stage)

    # ------------------------------------------------------------------ statistics

    def _sample_berths(self):
        """Berth queue lengths once a day after the warm-up: their trend tells a growing backlog."""
        yield self.env.timeout(self.model.warmup_h)
        while True:
            for berths in self.berths.values():
                berths.queue_samples.append(len(berths.queue))
            yield self.env.timeout(SAMPLE_EVERY_H)

    def reset_statistics(self) -> None:
        for part in (*self.tracks.values(), *self.berths.values(), *self.yards.values()):
            part.reset_statistics()
        if self.background is not None:
            self.background.reset_statistics()

    def statistics(self) -> dict:
        """Statistics of single tracks, berths, yards and background traffic (empty if none)."""
        extra = {}
        if self.tracks:
            extra["tracks"] = {sid: t.statistics() for sid, t in self.tracks.items()}
        if self.berths:
            extra["berths"] = {nid: b.statistics() for nid, b in self.berths.items()}
        if self.yards:
            extra["yards"] = {nid: y.statistics() for nid, y in self.yards.items()}
        if self.background is not None:
            bg = self.background
            extra["background"] = {"arrivals": dict(bg.arrivals), "facility_arrivals": dict(bg.facility_arrivals),
                                   "segment_entries": dict(bg.segment_entries),
                                   "span_h": self.env.now - self.model.warmup_h}
        return extra


def _node(route: Route, i: int) -> str:
    """The node where leg i starts (i = len(route.legs): the destination)."""
    return route.nodes[0] if i == 0 else route.legs[i - 1].destination


def _stops(route: Route, i: int) -> bool:
    """Whether a shipment stops at that node: starts, ends or changes vehicle there."""
    return i == len(route.legs) or changes_vehicle(route.legs, i)
