"""Cross-reference checks, run once the scenario's shape is valid.

Each check adds a Problem naming the key path; all are collected so the user sees every fault at
once. Unknown ids come with a did-you-mean suggestion.
"""

from __future__ import annotations

import difflib
from typing import TYPE_CHECKING

from corridor_sim.errors import Problem, shorten
from corridor_sim.scenario.schema import Scenario

if TYPE_CHECKING:  # network.py imports the schema, so it is imported lazily here (no import cycle)
    from corridor_sim.network import CorridorNetwork


def _unknown(kind: str, value: str, known) -> str:
    if len(value) > 200:  # a huge id: no useful suggestion, and difflib would take long
        return f"unknown {kind} '{shorten(value, 80)}'"
    close = difflib.get_close_matches(value, list(known), n=1, cutoff=0.5)
    hint = f" (did you mean '{close[0]}'?)" if close else ""
    return f"unknown {kind} '{value}'{hint}"


def _unknown_nodes(key: str, path, nodes, add) -> bool:
    """Report every unknown node of a list of node ids (at `key[j]`); whether there was one."""
    bad = False
    for j, node in enumerate(path):
        if node not in nodes:
            add(f"{key}[{j}]", _unknown("node", node, nodes))
            bad = True
    return bad


def check(scenario: Scenario, file: str) -> list[Problem]:
    """Every cross-reference problem in a validated-shape scenario."""
    from corridor_sim.network import CorridorNetwork

    problems: list[Problem] = []

    def add(path: str, message: str) -> None:
        problems.append(Problem(file, path, message))

    sim = scenario.simulation
    if sim.warmup_days >= sim.horizon_days:
        add("simulation.warmup_days", f"must be shorter than horizon_days ({sim.warmup_days:g} >= {sim.horizon_days:g})")

    # Ids are unique across every kind of item.
    seen: dict[str, str] = {}
    groups = [
        ("network.nodes", scenario.network.nodes),
        ("network.segments", scenario.network.segments),
        ("services", scenario.services),
        ("demand", scenario.demand),
        ("disruptions", scenario.disruptions),
        ("background", scenario.background),
    ]
    for prefix, items in groups:
        for i, item in enumerate(items):
            if item.id in seen:
                add(f"{prefix}[{i}].id", f"duplicate id '{item.id}' (already used at {seen[item.id]})")
            else:
                seen[item.id] = f"{prefix}[{i}]"

    nodes = {n.id: n for n in scenario.network.nodes}
    unknown_nodes = False
    for i, seg in enumerate(scenario.network.segments):
        for key, ref in (("from", seg.from_), ("to", seg.to)):
            if ref not in nodes:
                add(f"network.segments[{i}].{key}", _unknown("node", ref, nodes))
                unknown_nodes = True
        if seg.from_ == seg.to:
            add(f"network.segments[{i}].to", "a segment must join two different nodes")
    if not unknown_nodes:  # the graph cannot be built on unknown nodes
        network = CorridorNetwork.from_scenario(scenario)
        _check_services(scenario, network, add)
        _check_flows(scenario, network, add)
        _check_fleets(scenario, network, add)
        _check_empties(scenario, network, add)
        _check_background(scenario, network, add)
    _check_infrastructure(scenario, add)

    targets = {**{n.id: "node" for n in scenario.network.nodes},
               **{s.id: "segment" for s in scenario.network.segments},
               **{s.id: "service" for s in scenario.services}}
    for i, dis in enumerate(scenario.disruptions):
        if dis.target not in targets:
            add(f"disruptions[{i}].target", _unknown("node, segment or service", dis.target, targets))
        elif targets[dis.target] == "node" and nodes[dis.target].handling is None:
            add(f"disruptions[{i}].target", f"node '{dis.target}' has no handling facility to disrupt")
        if dis.dates is not None and dis.dates.to < sim.start_date:
            add(f"disruptions[{i}].dates.to", f"the window ends before simulation.start_date "
                f"({dis.dates.to} < {sim.start_date}), so it never applies")
        if dis.vehicles_factor is not None and dis.target in targets:
            service = next((s for s in scenario.services if s.id == dis.target), None)
            if service is None:
                add(f"disruptions[{i}].vehicles_factor",
                    f"applies to a service with a fleet; '{dis.target}' is a {targets[dis.target]}")
            elif service.fleet is None:
                add(f"disruptions[{i}].vehicles_factor", f"service '{dis.target}' has no fleet to take vehicles from")
    return problems


def _check_services(scenario: Scenario, network: CorridorNetwork, add) -> None:
    nodes = network.nodes
    for i, service in enumerate(scenario.services):
        if _unknown_nodes(f"services[{i}].stops", service.stops, nodes, add):
            continue
        gauges = set()
        for j, (a, b) in enumerate(zip(service.stops, service.stops[1:])):
            segs = network.segments_between(a, b, service.mode)
            if not segs:
                add(f"services[{i}].stops[{j + 1}]", f"no {service.mode} segment joins {a} to {b}")
            else:
                gauges.add(segs[0].gauge_mm)
            if service.reverse and not network.segments_between(b, a, service.mode) and segs:
                add(f"services[{i}].reverse", f"segment {segs[0].id} is one-way, so the service cannot run back from {b} to {a}; set reverse: false")
        if service.mode == "rail" and len(gauges) > 1:
            add(f"services[{i}].stops", f"a rail service must keep one gauge; its segments have gauges {sorted(gauges)} mm")


def _check_flows(scenario: Scenario, network: CorridorNetwork, add) -> None:
    from corridor_sim.network import RouteError

    yards = {n.id: n.yard_teu for n in scenario.network.nodes if n.yard_teu is not None}

    nodes = network.nodes
    service_ids = {s.id for s in scenario.services}
    for i, flow in enumerate(scenario.demand):
        bad = False
        named = [(f"demand[{i}].services", flow.services)]
        named += [(f"demand[{i}].routes[{r}].services", alt.services) for r, alt in enumerate(flow.routes or [])]
        for prefix, services in named:
            for j, service in enumerate(services or []):
                if service not in service_ids:
                    add(f"{prefix}[{j}]", _unknown("service", service, service_ids))
                    bad = True
        for key in ("origin", "destination"):
            ref = getattr(flow, key)
            if ref not in nodes:
                add(f"demand[{i}].{key}", _unknown("node", ref, nodes))
                bad = True
        flow_services = tuple(flow.services) if flow.services is not None else None
        paths = []
        if flow.route is not None:
            paths.append((f"demand[{i}].route", flow.route, flow_services, None))
        for r, alt in enumerate(flow.routes or []):
            paths.append((f"demand[{i}].routes[{r}].path", alt.path,
                          tuple(alt.services) if alt.services is not None else flow_services,
                          tuple(alt.modes) if alt.modes is not None else None))
        if flow.routes is not None and flow.choice is None and all(alt.share is None for alt in flow.routes):
            add(f"demand[{i}].routes", "give every route a share (shares may be left out only with choice)")
        for prefix, path, services, *modes in paths:
            bad = _unknown_nodes(prefix, path, nodes, add) or bad
            if bad:
                continue
            if path[0] != flow.origin or path[-1] != flow.destination:
                add(prefix, f"must run from origin {flow.origin} to destination {flow.destination}, not {path[0]} to {path[-1]}")
                continue
            for j, (a, b) in enumerate(zip(path, path[1:])):
                if not network.segments_between(a, b):
                    add(f"{prefix}[{j + 1}]", f"the route does not follow segments: no segment runs from {a} to {b}")
                    bad = True
            if not bad:
                try:
                    _check_fits(flow, network, network.legs_for_path(list(path), services, modes[0]),
                                f"demand[{i}].shipment_teu", add, yards)
                except RouteError as exc:
                    add(prefix, str(exc))
        if not bad and not paths:
            try:
                route = network.fastest_route(flow.origin, flow.destination, flow_services)
                if flow.choice is not None:  # every candidate must fit as well
                    for candidate in network.candidate_routes(flow.origin, flow.destination, flow_services,
                                                              flow.choice.among):
                        _check_fits(flow, network, candidate.legs, f"demand[{i}].shipment_teu", add, yards)
            except RouteError as exc:
                add(f"demand[{i}].destination", str(exc))
            else:
                _check_fits(flow, network, route.legs, f"demand[{i}].shipment_teu", add, yards)


def _check_fits(flow, network, legs, path: str, add, yards: dict[str, float]) -> None:
    """A consignment larger than a yard on its route, or than every vehicle of a ride's pool, would
    block that queue for ever."""
    for leg in legs:
        for node in (leg.origin, leg.destination):
            yard_teu = yards.get(node)
            if yard_teu is not None and flow.shipment_teu > yard_teu:
                add(path, f"{flow.shipment_teu:g} TEU does not fit in the yard at {node} (yard_teu {yard_teu:g}) "
                          f"on the flow's route")
                return
    for leg in legs:
        if getattr(leg, "line", None) is None:
            continue
        line = max((m[0] for m in network.pool_lines(*leg.pool_key)), key=lambda ln: ln.service.capacity_teu)
        if flow.shipment_teu > line.service.capacity_teu:
            add(path, f"{flow.shipment_teu:g} TEU does not fit on service {line.service.id} "
                      f"(capacity_teu {line.service.capacity_teu:g}) on the flow's route")
            return


def _check_fleets(scenario: Scenario, network: CorridorNetwork, add) -> None:
    """`late` needs a scheduled service with a fleet; an empty return needs segments back."""
    nodes = network.nodes
    for i, service in enumerate(scenario.services):
        if any(stop not in nodes for stop in service.stops):
            continue
        scheduled = hasattr(service.departures, "every_h")
        if service.late != "wait" and (service.fleet is None or not scheduled):
            add(f"services[{i}].late", "applies to a scheduled service with a fleet "
                                       "(without one a vehicle is always there)")
        loop = service.stops[0] == service.stops[-1]
        if service.fleet is None or service.reverse or loop:
            continue
        for a, b in zip(service.stops, service.stops[1:]):
            if network.segments_between(a, b, service.mode) and not network.segments_between(b, a, service.mode):
                add(f"services[{i}].fleet", f"no {service.mode} segment runs back from {b} to {a}, so an empty "
                                            f"vehicle cannot return to {service.stops[0]}; make the segment "
                                            f"bidirectional or end the service where it starts (a loop)")
                break


def _check_empties(scenario: Scenario, network: CorridorNetwork, add) -> None:
    """Empty boxes go back along a served path from the flow's destination to its origin."""
    from corridor_sim.network import RouteError

    nodes = network.nodes
    for i, flow in enumerate(scenario.demand):
        if flow.empty_route is not None and flow.empty_return_share == 0:
            add(f"demand[{i}].empty_route", "given, but empty_return_share is 0: no empty box returns")
            continue
        if flow.empty_return_share == 0 or flow.origin not in nodes or flow.destination not in nodes:
            continue
        if flow.empty_route is not None:
            path, key = list(flow.empty_route), f"demand[{i}].empty_route"
            if _unknown_nodes(key, path, nodes, add):
                continue
            if path[0] != flow.destination or path[-1] != flow.origin:
                add(key, f"must run from the destination {flow.destination} back to the origin {flow.origin}, "
                         f"not {path[0]} to {path[-1]}")
                continue
            paths = [path]
        else:
            key = f"demand[{i}].empty_return_share"
            try:
                paths = [list(reversed(r.nodes)) for r in network.routes_for(flow)]
            except RouteError:
                continue  # reported for the loaded route already
        for path in paths:
            try:
                network.legs_for_path(path)
            except RouteError as exc:
                add(key, f"empty boxes cannot return along {' -> '.join(path)}: {exc}; give empty_route")
                break


MODES = ("rail", "road", "sea")


def _check_infrastructure(scenario: Scenario, add) -> None:
    """Single-track keys only on single track; handling times by mode pair name real modes."""
    for i, seg in enumerate(scenario.network.segments):
        if seg.tracks != 1:
            for key, value, plain in (("sections", seg.sections, 1), ("headway_h", seg.headway_h, 0.0),
                                      ("switch_h", seg.switch_h, 0.0)):
                if value != plain:
                    add(f"network.segments[{i}].{key}", f"{key} applies to a single-track segment (tracks: 1), "
                                                        f"not to one with tracks: {seg.tracks}")
    for i, node in enumerate(scenario.network.nodes):
        if node.yard_teu is not None:
            # A vehicle unloads all its boxes for the node at once; more than the yard holds could never go in.
            for service in scenario.services:
                unloads_at = service.stops if service.reverse else service.stops[1:]
                if node.id in unloads_at and service.capacity_teu > node.yard_teu:
                    add(f"network.nodes[{i}].yard_teu", f"{node.yard_teu:g} TEU is less than service {service.id} "
                                                        f"may unload here at once (capacity_teu {service.capacity_teu:g})")
                    break
        time_h = node.handling.time_h if node.handling is not None else None
        if not isinstance(time_h, dict):
            continue
        path = f"network.nodes[{i}].handling.time_h"
        if "default" not in time_h:
            add(path, "a handling time by mode pair needs a 'default' (for pairs not listed, and where "
                      "shipments start or end)")
        for key in time_h:
            if key == "default":
                continue
            parts = key.split(">")
            if len(parts) != 2:
                add(f"{path}.{key}", f"a mode pair is written '<from mode>><to mode>' (e.g. 'road>rail'), not '{key}'")
                continue
            for part in parts:
                if part not in MODES:
                    add(f"{path}.{key}", _unknown("mode", part, MODES))


def _check_background(scenario: Scenario, network: CorridorNetwork, add) -> None:
    """A background route must exist: known nodes joined in order by segments of its mode."""
    nodes = network.nodes
    for i, item in enumerate(scenario.background):
        if _unknown_nodes(f"background[{i}].route", item.route, nodes, add):
            continue
        for j, (a, b) in enumerate(zip(item.route, item.route[1:])):
            if not network.segments_between(a, b, item.mode):
                add(f"background[{i}].route[{j + 1}]", f"the route does not exist: no {item.mode} segment runs from {a} to {b}")
