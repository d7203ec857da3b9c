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

    targets = {**{n.id: "node" for n in scenario.network.nodes},
               **{s.id: "segment" for s in scenario.network.segments},
               **{s.id: "service" for s in scenario.services}}
    for i, dis in enumerate(scenario.disruptions):
        if dis.target not in targets:
            add(f"disruptions[{i}].target", _unknown("node, segment or service", dis.target, targets))
        elif targets[dis.target] == "node" and nodes[dis.target].handling is None:
            add(f"disruptions[{i}].target", f"node '{dis.target}' has no handling facility to disrupt")
    return problems


def _check_services(scenario: Scenario, network: CorridorNetwork, add) -> None:
    nodes = network.nodes
    for i, service in enumerate(scenario.services):
        unknown = False
        for j, stop in enumerate(service.stops):
            if stop not in nodes:
                add(f"services[{i}].stops[{j}]", _unknown("node", stop, nodes))
                unknown = True
        if unknown:
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

    nodes = network.nodes
    for i, flow in enumerate(scenario.demand):
        bad = False
        for key in ("origin", "destination"):
            ref = getattr(flow, key)
            if ref not in nodes:
                add(f"demand[{i}].{key}", _unknown("node", ref, nodes))
                bad = True
        paths = []
        if flow.route is not None:
            paths.append((f"demand[{i}].route", flow.route))
        for r, alt in enumerate(flow.routes or []):
            paths.append((f"demand[{i}].routes[{r}].path", alt.path))
        for prefix, path in paths:
            for j, node in enumerate(path):
                if node not in nodes:
                    add(f"{prefix}[{j}]", _unknown("node", node, nodes))
                    bad = True
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
                    _check_fits(flow, network.legs_for_path(list(path)), f"demand[{i}].shipment_teu", add)
                except RouteError as exc:
                    add(prefix, str(exc))
        if not bad and not paths:
            try:
                route = network.fastest_route(flow.origin, flow.destination)
            except RouteError as exc:
                add(f"demand[{i}].destination", str(exc))
            else:
                _check_fits(flow, route.legs, f"demand[{i}].shipment_teu", add)


def _check_fits(flow, legs, path: str, add) -> None:
    """A consignment larger than a vehicle on its route would block that line's queue for ever."""
    for leg in legs:
        line = getattr(leg, "line", None)
        if line is not None and flow.shipment_teu > line.service.capacity_teu:
            add(path, f"{flow.shipment_teu:g} TEU does not fit on service {line.service.id} "
                      f"(capacity_teu {line.service.capacity_teu:g}) on the flow's route")
            return
