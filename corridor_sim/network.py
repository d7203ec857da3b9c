"""The corridor as a graph, and routes through it.

Nodes and segments from the scenario become a networkx MultiDiGraph (a bidirectional segment is an
edge each way, both keyed by the segment id). Services are expanded into *lines*: one per direction
(`<id>` and `<id>~rev`), each with the segments between its stops resolved.

A *route* is a node path cut into *legs*: a road leg is driven by the shipment's own truck over one
segment; a ride leg is a stretch of consecutive rail or sea segments from the stop where the
shipment boards to the stop where it alights. A shipment changes vehicle between two legs, which is
where `applies: transfer` handling happens.

Ride legs are *pooled*: a shipment riding from a to b takes the first departure of any line that
calls at a and later at b running the route's way between them (the same stops and segments; of the
route's named `services` only, if it names any). A line that reaches b another way does not carry
it, since that would not be its route. The leg's `line` is one line of the pool (the one with the
shortest dwell), the pool (`pool_lines`) every line the shipment may board.

The expected time of a route adds running time (length / speed plus mean delays and dwells), the
expected wait for the pool's departures and mean handling times. The wait for scheduled lines is
that of their merged timetable at the boarding stop (H/2 for one line every H hours; two daily
trains 12 h apart give 6 h), each line's phase there being its `first_h` plus its expected running
to that stop. A when-full line counts as a departure stream with mean wait `max_wait_h / 2` (an
upper-side guess, since the true wait depends on load), and independent streams combine as rates:
1 / wait = sum of 1 / wait_i.

A node path is cut into legs exactly by a shortest path over states (hop reached, how: by road, on
a ride, and the rail gauge arrived on): a road segment or a served ride stretch are the arcs, each
costing its expected time plus handling where the vehicle changes, so parallel road and rail
segments on every hop are compared without enumerating their combinations. The expected-fastest
route of a flow is the best of the k shortest node paths by running time, re-ranked by that full
expected time; routes that are not served or change gauge where they cannot are skipped.

networkx (0.3 s of CPU to import) is imported only for that search: a scenario whose flows
all name their route never imports it. The segments between two nodes are looked up in a dict of
the same content and order as the graph's.
"""

from __future__ import annotations

import functools
import heapq
import itertools
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Union

from corridor_sim.distributions import mean_of
from corridor_sim.queueing import merged_timetable_wait_h
from corridor_sim.scenario.schema import Flow, Scenario, Scheduled, Segment, Service

if TYPE_CHECKING:
    import networkx as nx

K_CANDIDATE_PATHS = 30


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
    line: Line  # the line that follows the route's path (the pool may hold others)
    board: int  # index into line.stops
    alight: int
    services: tuple[str, ...] | None = None  # the route's named services; None: any of the mode

    @property
    def pool_key(self) -> tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...] | None]:
        """(nodes, segment ids, named services) of the ride: shipments with one key wait together."""
        return (self.nodes, tuple(s.id for s in self.segments), self.services)

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
        # (a, b) -> {segment id: segment}: the graph's edges from a to b, keyed and ordered as in `graph`
        self._between: dict[tuple[str, str], dict[str, Segment]] = {}
        for seg in scenario.network.segments:
            self._between.setdefault((seg.from_, seg.to), {})[seg.id] = seg
            if seg.bidirectional:
                self._between.setdefault((seg.to, seg.from_), {})[seg.id] = seg
        self.lines: dict[str, Line] = {}
        for service in scenario.services:
            for line_id, stops in self._directions(service):
                segs = [self._service_segment(service, a, b) for a, b in zip(stops, stops[1:])]
                if all(s is not None for s in segs):
                    self.lines[line_id] = Line(line_id, service, tuple(stops), tuple(segs))
        self._pools: dict = {}
        self._pool_waits: dict = {}

    @classmethod
    def from_scenario(cls, scenario: Scenario) -> "CorridorNetwork":
        return cls(scenario)

    @functools.cached_property
    def graph(self) -> nx.MultiDiGraph:
        """Nodes and segments as a networkx MultiDiGraph (a bidirectional segment is an edge each way,
        both keyed by the segment id), built when first used."""
        import networkx as nx

        graph = nx.MultiDiGraph()
        for node in self.scenario.network.nodes:
            graph.add_node(node.id, node=node)
        for seg in self.scenario.network.segments:
            graph.add_edge(seg.from_, seg.to, key=seg.id, segment=seg)
            if seg.bidirectional:
                graph.add_edge(seg.to, seg.from_, key=seg.id, segment=seg)
        return graph

    @staticmethod
    def _directions(service: Service):
        yield service.id, list(service.stops)
        if service.reverse:
            yield f"{service.id}~rev", list(reversed(service.stops))

    def segments_between(self, a: str, b: str, mode: str | None = None) -> list[Segment]:
        """Segments that run from a to b (in that direction), optionally of one mode."""
        segs = list(self._between.get((a, b), {}).values())
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
            exp.wait_h += self.pool_wait_h(*leg.pool_key)
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

    # ------------------------------------------------------------------ pools of lines

    def pool_lines(self, nodes: tuple[str, ...], segment_ids: tuple[str, ...],
                   services: tuple[str, ...] | None = None) -> tuple[tuple[Line, int, int], ...]:
        """Every line a shipment riding over `nodes` may board: (line, board index, alight index).

        A line (of the named services, if any) serves the pool from each stop at nodes[0] where its
        next stops are the rest of `nodes`, over the segments `segment_ids`. In the lines' order.
        """
        key = (nodes, segment_ids, services)
        found = self._pools.get(key)
        if found is None:
            found = []
            n = len(segment_ids)
            for line in self.lines.values():
                if services is not None and line.service.id not in services:
                    continue
                for k in range(len(line.stops) - n):
                    if (line.stops[k:k + n + 1] == nodes
                            and tuple(s.id for s in line.segments[k:k + n]) == segment_ids):
                        found.append((line, k, k + n))
            found = self._pools[key] = tuple(found)
        return found

    def pool_wait_h(self, nodes: tuple[str, ...], segment_ids: tuple[str, ...],
                    services: tuple[str, ...] | None = None) -> float:
        """Expected wait (hours) of a Poisson arrival at nodes[0] for the pool's first departure.

        Scheduled lines merge their timetables there (see `merged_timetable_wait_h`); when-full lines
        are streams with mean wait `max_wait_h / 2`; streams combine as rates. One line: its own wait.
        """
        key = (nodes, segment_ids, services)
        if key in self._pool_waits:
            return self._pool_waits[key]
        members = self.pool_lines(nodes, segment_ids, services)
        if not members:
            wait = float("inf")
        elif len(members) == 1:
            wait = members[0][0].expected_wait_h
        else:
            timetables = [(line.service.departures.every_h, line.service.departures.first_h + self._offset_h(line, k))
                          for line, k, _ in members if isinstance(line.service.departures, Scheduled)]
            rate = 1.0 / merged_timetable_wait_h(timetables) if timetables else 0.0
            rate += sum(1.0 / line.expected_wait_h for line, _, _ in members
                        if not isinstance(line.service.departures, Scheduled))
            wait = 1.0 / rate
        self._pool_waits[key] = wait
        return wait

    def _offset_h(self, line: Line, k: int) -> float:
        """Expected hours from a line's departure at its first stop to its departure from stop k."""
        offset = 0.0
        for j in range(k):
            seg = line.segments[j]
            offset += seg.length_km / seg.speed_kmh + mean_of(seg.delay_h)
            offset += self._handling_h(line.stops[j + 1], False) + mean_of(line.service.dwell_h)
        return offset

    # ------------------------------------------------------------------ legs from a node path

    def legs_for_path(self, path: list[str], services: tuple[str, ...] | None = None,
                      modes: tuple[str, ...] | None = None) -> tuple[Leg, ...]:
        """Cut a node path into the expected-fastest legs, choosing among parallel segments exactly.

        A shortest path over states (node index on the path, arrived by road or not, rail gauge
        arrived on): arcs are a road segment of one hop, or a ride over a stretch of the path that a
        line runs (of the named `services` only, if given), each costing its expected time plus the
        handling where it starts (where the vehicle changes). Gauge changes where not allowed are
        not arcs. Every hop's segments are compared; nothing is enumerated combination by combination.
        With `modes`, only segments and lines of those modes are arcs (a road or a rail candidate of
        one node path, for mode choice).

        Raises:
            RouteError: two consecutive nodes are not joined, a rail or sea stretch has no service,
                or the path changes rail gauge at a node without `gauge_change: true`.
        """
        hops = []
        for a, b in zip(path, path[1:]):
            segs = self.segments_between(a, b)
            if not segs:
                raise RouteError(f"no segment runs from {a} to {b}")
            hops.append(segs)
        n = len(hops)
        rides = self._ride_candidates(path, hops, services)
        if modes is not None:
            rides = [[leg for leg in legs if leg.mode in modes] for legs in rides]
        covered = {(j + m, seg.id) for j, legs in enumerate(rides) for leg in legs
                   for m, seg in enumerate(leg.segments)}
        errors: list[tuple[int, str]] = []
        for i, segs in enumerate(hops):
            for seg in segs:
                if seg.mode != "road" and (i, seg.id) not in covered:
                    errors.append((i, f"no {seg.mode} service runs {path[i]} -> {path[i + 1]} (segment {seg.id})"))
        # Dijkstra (costs are non-negative); the counter keeps ties in a fixed order.
        start = (0, True, None)  # (node index, a vehicle change happens here, rail gauge arrived on)
        best = {start: 0.0}
        back: dict = {}
        heap = [(0.0, 0, start)]
        counter = itertools.count(1)
        while heap:
            cost, _, state = heapq.heappop(heap)
            if cost > best[state]:
                continue
            i, changes, gauge = state
            if i == n:
                legs = []
                while state != start:
                    state, leg = back[state]
                    legs.append(leg)
                return tuple(reversed(legs))
            arcs = [(RoadLeg(path[i], path[i + 1], seg), i + 1) for seg in hops[i]
                    if seg.mode == "road" and (modes is None or "road" in modes)]
            arcs += [(leg, i + leg.alight - leg.board) for leg in rides[i]]
            for leg, j in arcs:
                is_road = isinstance(leg, RoadLeg)
                new_gauge, problem = self._gauge_after(leg, gauge)
                if problem is not None:
                    errors.append((i, problem))
                    continue
                step = self.expected_leg(leg).total_h + self._handling_h(path[i], changes or not is_road)
                if j == n:
                    step += self._handling_h(path[n], True)
                target = (j, not is_road, new_gauge)
                if cost + step < best.get(target, float("inf")):
                    best[target] = cost + step
                    back[target] = (state, leg)
                    heapq.heappush(heap, (cost + step, next(counter), target))
        raise RouteError(min(errors)[1] if errors else f"no way along {' -> '.join(path)}")

    def _ride_candidates(self, path, hops, services) -> list[list[RideLeg]]:
        """Per path index i, every ride starting there: a line running path[i..k] on its own segments.

        Of lines running the same stretch on the same segments, the one with the shortest mean dwell
        (then the first id) stands for them; its pool is the same.
        """
        found: list[dict] = [{} for _ in hops]
        for line in self.lines.values():
            if services is not None and line.service.id not in services:
                continue
            for k, stop in enumerate(line.stops[:-1]):
                for i in (i for i, node in enumerate(path[:-1]) if node == stop):
                    m = 0
                    while (k + m < len(line.segments) and i + m < len(hops)
                           and line.stops[k + m + 1] == path[i + m + 1]):
                        m += 1
                        key = tuple(s.id for s in line.segments[k:k + m])
                        rank = (mean_of(line.service.dwell_h), line.id)
                        if key not in found[i] or rank < found[i][key][0]:
                            found[i][key] = (rank, RideLeg(line, k, k + m, services))
        return [[leg for _, leg in options.values()] for options in found]

    def _gauge_after(self, leg: Leg, gauge: int | None) -> tuple[int | None, str | None]:
        """The rail gauge a leg arrives on, or a problem if it changes gauge where it may not."""
        for j, seg in enumerate(leg.segments):
            if seg.mode != "rail":
                gauge = None
                continue
            at = leg.nodes[j]
            if gauge is not None and seg.gauge_mm != gauge and not self.nodes[at].gauge_change:
                return gauge, (f"rail gauge changes from {gauge} to {seg.gauge_mm} mm at {at}, "
                               f"which has no gauge_change: true")
            gauge = seg.gauge_mm
        return gauge, None

    # ------------------------------------------------------------------ routing

    def _running_graph(self) -> nx.DiGraph:
        import networkx as nx

        g = nx.DiGraph()
        g.add_nodes_from(self.graph.nodes)
        for a, b, data in self.graph.edges(data=True):
            seg = data["segment"]
            w = seg.length_km / seg.speed_kmh + mean_of(seg.delay_h)
            w += self._handling_h(b, False, seg.mode, seg.mode)
            if not g.has_edge(a, b) or g[a][b]["weight"] > w:
                g.add_edge(a, b, weight=w)
        return g

    def fastest_route(self, origin: str, destination: str, services: tuple[str, ...] | None = None) -> Route:
        """The expected-fastest served route between two nodes (riding only `services`, if given).

        Raises:
            RouteError: the destination cannot be reached, or no reaching path is served.
        """
        import networkx as nx

        g = self._running_graph()
        if not nx.has_path(g, origin, destination):
            raise RouteError(f"{destination} cannot be reached from {origin}")
        best, first_error = None, None
        paths = nx.shortest_simple_paths(g, origin, destination, weight="weight")
        for path in itertools.islice(paths, K_CANDIDATE_PATHS):
            try:
                route = Route(tuple(path), self.legs_for_path(path, services))
            except RouteError as exc:
                first_error = first_error or exc
                continue
            self.expected_route(route)
            if best is None or route.expected.total_h < best.expected.total_h:
                best = route
        if best is None:
            raise RouteError(f"no served path from {origin} to {destination}: {first_error}")
        return best

    def candidate_routes(self, origin: str, destination: str, services: tuple[str, ...] | None,
                         among: int) -> list[Route]:
        """The `among` expected-fastest distinct served routes between two nodes, across modes.

        Each of the k shortest node paths (by running time) is cut into legs as fast as it goes,
        and also by each single mode it offers and without road, so that a road and a rail way over
        the same nodes are both candidates; routes with the same legs count once. Fastest first.

        Raises:
            RouteError: the destination cannot be reached, or no reaching path is served.
        """
        memo = self.__dict__.setdefault("_candidates", {})
        key = (origin, destination, services, among)
        if key not in memo:
            memo[key] = self._candidate_routes(origin, destination, services, among)
        return [Route(r.nodes, r.legs, r.share, r.expected, r.leg_expected) for r in memo[key]]

    def _candidate_routes(self, origin: str, destination: str, services: tuple[str, ...] | None,
                          among: int) -> list[Route]:
        import networkx as nx

        g = self._running_graph()
        if not nx.has_path(g, origin, destination):
            raise RouteError(f"{destination} cannot be reached from {origin}")
        found: dict[tuple, Route] = {}
        first_error = None
        # The node paths to try: enough for `among` candidates (each path gives one per mode).
        for path in itertools.islice(nx.shortest_simple_paths(g, origin, destination, weight="weight"),
                                     min(K_CANDIDATE_PATHS, 4 * among)):
            present = sorted({s.mode for a, b in zip(path, path[1:]) for s in self.segments_between(a, b)})
            variants = [None] + [(m,) for m in present]
            if "road" in present and len(present) > 2:
                variants.append(tuple(m for m in present if m != "road"))
            for modes in variants:
                try:
                    legs = self.legs_for_path(path, services, modes)
                except RouteError as exc:
                    first_error = first_error or exc
                    continue
                key = tuple((type(leg).__name__, tuple(s.id for s in leg.segments)) for leg in legs)
                if key not in found:
                    route = Route(tuple(path), legs)
                    self.expected_route(route)
                    found[key] = route
        if not found:
            raise RouteError(f"no served path from {origin} to {destination}: {first_error}")
        best = sorted(found.values(), key=lambda r: r.expected.total_h)[:among]
        for route in best:
            route.share = 1.0 / len(best)
        return best

    def routes_for(self, flow: Flow) -> list[Route]:
        """The route(s) a flow takes: its explicit route(s), else the expected-fastest path.

        A route's ride legs board only lines of its named services (a `routes` alternative's own
        `services`, else the flow's), if it names any.

        With `choice`, they are the candidates a shipment chooses among: its `routes` (shares
        ignored), else the `among` expected-fastest served routes across modes (`candidate_routes`).
        """
        named = tuple(flow.services) if flow.services is not None else None
        if flow.choice is not None and flow.routes is None and flow.route is None:
            return self.candidate_routes(flow.origin, flow.destination, named, flow.choice.among)
        if flow.routes is not None:
            even = 1.0 / len(flow.routes)
            paths = [(list(r.path), r.share if r.share is not None else even,
                      tuple(r.services) if r.services is not None else named,
                      tuple(r.modes) if r.modes is not None else None) for r in flow.routes]
        elif flow.route is not None:
            paths = [(list(flow.route), 1.0, named, None)]
        else:
            route = self.fastest_route(flow.origin, flow.destination, named)
            return [route]
        out = []
        for path, share, services, modes in paths:
            route = Route(tuple(path), self.legs_for_path(path, services, modes), share)
            self.expected_route(route)
            out.append(route)
        return out
