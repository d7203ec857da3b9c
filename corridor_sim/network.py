"""The corridor as a graph, and routes through it.

Nodes and segments from the scenario become a networkx MultiDiGraph (a bidirectional segment is an
edge each way, both keyed by the segment id). Services are expanded into *lines*: one per direction
(`<id>` and `<id>~rev`), each with the segments between its stops resolved.

A *route* is a node path cut into *legs*: a road leg is driven by the shipment's own truck over one
segment; a ride leg is a stretch of consecutive rail or sea segments on one service line, from the
stop where the shipment boards to the stop where it alights. A shipment changes vehicle between two
legs, which is where `applies: transfer` handling happens.

The expected time of a route adds running time (length / speed plus mean delays and dwells), the
expected wait for departures (H/2 for a departure every H hours; half of `max_wait_h` for a
when-full service, an upper-side guess since the true wait depends on load) and mean handling times.
The expected-fastest route of a flow is the best of the k shortest node paths by running time,
re-ranked by that full expected time; routes that are not served or change gauge where they cannot
are skipped.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Union

import networkx as nx

from corridor_sim.distributions import mean_of
from corridor_sim.scenario.schema import Flow, Scenario, Scheduled, Segment, Service

K_CANDIDATE_PATHS = 30
MAX_HOP_COMBINATIONS = 64


@dataclass(frozen=True)
class Line:
    """One direction of a service: the stops in running order and the segment between each pair."""

    id: str
    service: Service
    stops: tuple[str, ...]
    segments: tuple[Segment, ...]

    @property
    def expected_wait_h(self) -> float:
        dep = self.service.departures
        if isinstance(dep, Scheduled):
            return dep.every_h / 2
        return dep.max_wait_h / 2


@dataclass(frozen=True)
class RoadLeg:
    origin: str
    destination: str
    segment: Segment
    mode: str = "road"

    @property
    def segments(self) -> tuple[Segment, ...]:
        return (self.segment,)

    @property
    def nodes(self) -> tuple[str, ...]:
        return (self.origin, self.destination)


@dataclass(frozen=True)
class RideLeg:
    line: Line
    board: int  # index into line.stops
    alight: int

    @property
    def origin(self) -> str:
        return self.line.stops[self.board]

    @property
    def destination(self) -> str:
        return self.line.stops[self.alight]

    @property
    def mode(self) -> str:
        return self.line.service.mode

    @property
    def segments(self) -> tuple[Segment, ...]:
        return self.line.segments[self.board : self.alight]

    @property
    def nodes(self) -> tuple[str, ...]:
        return self.line.stops[self.board : self.alight + 1]


Leg = Union[RoadLeg, RideLeg]


@dataclass
class Expected:
    """Expected hours of a route, split the way results are reported."""

    travel_h: float = 0.0
    wait_h: float = 0.0
    handling_h: float = 0.0

    @property
    def total_h(self) -> float:
        return self.travel_h + self.wait_h + self.handling_h


@dataclass
class Route:
    """A path for a flow, cut into legs, with its expected time."""

    nodes: tuple[str, ...]
    legs: tuple[Leg, ...]
    share: float = 1.0
    expected: Expected = field(default_factory=Expected)
    leg_expected: list[Expected] = field(default_factory=list)

    @property
    def length_km(self) -> float:
        return sum(s.length_km for leg in self.legs for s in leg.segments)


def handling_time(handling, from_mode: str | None, to_mode: str | None):
    """The handling time distribution for freight arriving by `from_mode` and leaving by `to_mode`.

    `handling.time_h` is one distribution, or a mapping keyed `"<from mode>><to mode>"` with a
    `default`; the default applies to pairs not listed and where a shipment starts or ends (one of
    the modes is None).
    """
    time_h = handling.time_h
    if not isinstance(time_h, dict):
        return time_h
    if from_mode is not None and to_mode is not None:
        return time_h.get(f"{from_mode}>{to_mode}", time_h["default"])
    return time_h["default"]


def changes_vehicle(legs: tuple[Leg, ...] | list[Leg], i: int) -> bool:
    """Whether a shipment starts or changes vehicle where leg i starts (a truck drives on)."""
    return i == 0 or not (isinstance(legs[i - 1], RoadLeg) and isinstance(legs[i], RoadLeg))


class RouteError(Exception):
    """A path that cannot be travelled as given (no segment, no service, a forbidden gauge change)."""


class CorridorNetwork:
    """The corridor graph with its service lines and the routing built on them."""

    def __init__(self, scenario: Scenario):
        self.scenario = scenario
        self.nodes = {n.id: n for n in scenario.network.nodes}
        self.graph = nx.MultiDiGraph()
        for node in scenario.network.nodes:
            self.graph.add_node(node.id, node=node)
        for seg in scenario.network.segments:
            self.graph.add_edge(seg.from_, seg.to, key=seg.id, segment=seg)
            if seg.bidirectional:
                self.graph.add_edge(seg.to, seg.from_, key=seg.id, segment=seg)
        self.lines: dict[str, Line] = {}
        for service in scenario.services:
            for line_id, stops in self._directions(service):
                segs = [self._service_segment(service, a, b) for a, b in zip(stops, stops[1:])]
                if all(s is not None for s in segs):
                    self.lines[line_id] = Line(line_id, service, tuple(stops), tuple(segs))

    @classmethod
    def from_scenario(cls, scenario: Scenario) -> "CorridorNetwork":
        return cls(scenario)

    @staticmethod
    def _directions(service: Service):
        yield service.id, list(service.stops)
        if service.reverse:
            yield f"{service.id}~rev", list(reversed(service.stops))

    def segments_between(self, a: str, b: str, mode: str | None = None) -> list[Segment]:
        """Segments that run from a to b (in that direction), optionally of one mode."""
        if not self.graph.has_edge(a, b):
            return []
        segs = [d["segment"] for d in self.graph.get_edge_data(a, b).values()]
        return [s for s in segs if mode is None or s.mode == mode]

    def _service_segment(self, service: Service, a: str, b: str) -> Segment | None:
        segs = self.segments_between(a, b, service.mode)
        return segs[0] if segs else None

    # ------------------------------------------------------------------ expected times

    def handles(self, node_id: str, transfer: bool) -> bool:
        """Whether a shipment is handled at this node on this passage."""
        h = self.nodes[node_id].handling
        return h is not None and (transfer or h.applies == "always")

    def _handling_h(self, node_id: str, transfer: bool, from_mode: str | None = None,
                    to_mode: str | None = None) -> float:
        """Mean handling time at a node on this passage, plus its `dwell_h` where the shipment stops."""
        node = self.nodes[node_id]
        mean_h = mean_of(handling_time(node.handling, from_mode, to_mode)) if self.handles(node_id, transfer) else 0.0
        if transfer and node.dwell_h:
            mean_h += mean_of(node.dwell_h)
        return mean_h

    def expected_leg(self, leg: Leg) -> Expected:
        """Expected running and waiting time of a leg, and handling at its intermediate nodes."""
        exp = Expected()
        for seg in leg.segments:
            exp.travel_h += seg.length_km / seg.speed_kmh + mean_of(seg.delay_h)
        if isinstance(leg, RideLeg):
            exp.wait_h += leg.line.expected_wait_h
            inner = leg.nodes[1:-1]
            exp.travel_h += len(inner) * mean_of(leg.line.service.dwell_h)
            exp.handling_h += sum(self._handling_h(n, False, leg.mode, leg.mode) for n in inner)
        return exp

    def expected_route(self, route: Route) -> None:
        """Fill in the route's expected time, leg by leg, handling at each node included.

        `leg_expected` has one entry per leg (handling where the leg starts, its waits, its running
        and handling at nodes passed on board) and a last entry for handling at the destination.
        """
        route.leg_expected = []
        for i, leg in enumerate(route.legs):
            exp = self.expected_leg(leg)
            arrived_by = route.legs[i - 1].mode if i > 0 else None
            exp.handling_h += self._handling_h(leg.origin, changes_vehicle(route.legs, i), arrived_by, leg.mode)
            route.leg_expected.append(exp)
        route.leg_expected.append(Expected(handling_h=self._handling_h(route.nodes[-1], True)))
        route.expected = Expected(
            travel_h=sum(e.travel_h for e in route.leg_expected),
            wait_h=sum(e.wait_h for e in route.leg_expected),
            handling_h=sum(e.handling_h for e in route.leg_expected),
        )

    # ------------------------------------------------------------------ legs from a node path

    def legs_for_path(self, path: list[str]) -> tuple[Leg, ...]:
        """Cut a node path into legs, choosing among parallel segments the expected-fastest way.

        Raises:
            RouteError: two consecutive nodes are not joined, a rail or sea stretch has no service,
                or the path changes rail gauge at a node without `gauge_change: true`.
        """
        options = []
        for a, b in zip(path, path[1:]):
            segs = self.segments_between(a, b)
            if not segs:
                raise RouteError(f"no segment runs from {a} to {b}")
            options.append(segs)
        best, best_h, first_error = None, float("inf"), None
        combos = itertools.product(*options)
        for choice in itertools.islice(combos, MAX_HOP_COMBINATIONS):
            try:
                legs = self._cut(path, choice)
            except RouteError as exc:
                first_error = first_error or exc
                continue
            route = Route(tuple(path), legs)
            self.expected_route(route)
            if route.expected.total_h < best_h:
                best, best_h = legs, route.expected.total_h
        if best is None:
            raise first_error
        return best

    def _cut(self, path: list[str], segs: tuple[Segment, ...]) -> tuple[Leg, ...]:
        legs: list[Leg] = []
        i = 0
        while i < len(segs):
            seg = segs[i]
            if seg.mode == "road":
                legs.append(RoadLeg(path[i], path[i + 1], seg))
                i += 1
                continue
            ride = self._best_ride(path, segs, i)
            if ride is None:
                raise RouteError(f"no {seg.mode} service runs {path[i]} -> {path[i + 1]} (segment {seg.id})")
            legs.append(ride)
            i += ride.alight - ride.board
        self._check_gauges(legs)
        return tuple(legs)

    def _best_ride(self, path, segs, i) -> RideLeg | None:
        best, best_key = None, None
        for line in self.lines.values():
            for k, stop in enumerate(line.stops[:-1]):
                if stop != path[i]:
                    continue
                n = 0
                while (
                    k + n < len(line.segments)
                    and i + n < len(segs)
                    and line.stops[k + n + 1] == path[i + n + 1]
                    and line.segments[k + n].id == segs[i + n].id
                ):
                    n += 1
                if n == 0:
                    continue
                key = (-n, line.expected_wait_h, line.id)
                if best_key is None or key < best_key:
                    best, best_key = RideLeg(line, k, k + n), key
        return best

    def _check_gauges(self, legs: list[Leg]) -> None:
        previous_gauge = None
        for leg in legs:
            for j, seg in enumerate(leg.segments):
                if seg.mode != "rail":
                    previous_gauge = None
                    continue
                at = leg.nodes[j]
                if previous_gauge is not None and seg.gauge_mm != previous_gauge:
                    if not self.nodes[at].gauge_change:
                        raise RouteError(
                            f"rail gauge changes from {previous_gauge} to {seg.gauge_mm} mm at {at}, "
                            f"which has no gauge_change: true"
                        )
                previous_gauge = seg.gauge_mm

    # ------------------------------------------------------------------ routing

    def _running_graph(self) -> nx.DiGraph:
        g = nx.DiGraph()
        g.add_nodes_from(self.graph.nodes)
        for a, b, data in self.graph.edges(data=True):
            seg = data["segment"]
            w = seg.length_km / seg.speed_kmh + mean_of(seg.delay_h)
            w += self._handling_h(b, False, seg.mode, seg.mode)
            if not g.has_edge(a, b) or g[a][b]["weight"] > w:
                g.add_edge(a, b, weight=w)
        return g

    def fastest_route(self, origin: str, destination: str) -> Route:
        """The expected-fastest served route between two nodes.

        Raises:
            RouteError: the destination cannot be reached, or no reaching path is served.
        """
        g = self._running_graph()
        if not nx.has_path(g, origin, destination):
            raise RouteError(f"{destination} cannot be reached from {origin}")
        best, first_error = None, None
        paths = nx.shortest_simple_paths(g, origin, destination, weight="weight")
        for path in itertools.islice(paths, K_CANDIDATE_PATHS):
            try:
                route = Route(tuple(path), self.legs_for_path(path))
            except RouteError as exc:
                first_error = first_error or exc
                continue
            self.expected_route(route)
            if best is None or route.expected.total_h < best.expected.total_h:
                best = route
        if best is None:
            raise RouteError(f"no served path from {origin} to {destination}: {first_error}")
        return best

    def routes_for(self, flow: Flow) -> list[Route]:
        """The route(s) a flow takes: its explicit route(s), else the expected-fastest path."""
        if flow.routes is not None:
            paths = [(list(r.path), r.share) for r in flow.routes]
        elif flow.route is not None:
            paths = [(list(flow.route), 1.0)]
        else:
            route = self.fastest_route(flow.origin, flow.destination)
            return [route]
        out = []
        for path, share in paths:
            route = Route(tuple(path), self.legs_for_path(path), share)
            self.expected_route(route)
            out.append(route)
        return out
