"""Routing on small graphs whose answer is worked out by hand (files under tests/scenarios/routing/).

Expected time of a route, in hours: travel = km / kmh (+ mean delays and dwells at intermediate
stops), wait = every_h / 2 for a scheduled service (max_wait_h / 2 for a when-full one), handling =
the mean handling time where a shipment starts, changes vehicle or ends, plus `applies: always`
nodes passed on board.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest
from pytest import approx

from corridor_sim import load_scenario
from corridor_sim.network import CorridorNetwork, RideLeg, RoadLeg, Route
from corridor_sim.scenario import scenario_from_dict

ROUTING = Path(__file__).parent / "scenarios" / "routing"


def network_of(name: str) -> CorridorNetwork:
    return CorridorNetwork.from_scenario(load_scenario(ROUTING / name))


def route_of(network: CorridorNetwork, flow_id: str) -> Route:
    [route] = network.routes_for(network.scenario.flow(flow_id))
    return route


def path_route(network: CorridorNetwork, path: list[str]) -> Route:
    route = Route(tuple(path), network.legs_for_path(path))
    network.expected_route(route)
    return route


def breakdown(route: Route) -> tuple[float, float, float]:
    return route.expected.travel_h, route.expected.wait_h, route.expected.handling_h


# ---------------------------------------------------------------------- frequency.yaml

HANDLING_A = 2.0
HANDLING_B = (1 + 3) / 2  # uniform 1..3
DIRECT = (300 / 50, 168 / 2, HANDLING_A + HANDLING_B)  # 6 + 84 + 4 = 94
VIA_M = (400 / 50 + 200 / 50 + 0.5, 12 / 2, HANDLING_A + HANDLING_B)  # 12.5 + 6 + 4 = 22.5


def test_frequent_longer_path_beats_rare_shorter_one():
    """The expected-fastest route takes the longer rail path with frequent trains over the shorter one with a weekly train."""
    network = network_of("frequency.yaml")
    route = route_of(network, "FREE")
    assert route.nodes == ("A", "M", "B")
    assert route.length_km == 600
    [leg] = route.legs
    assert isinstance(leg, RideLeg) and leg.line.id == "FREQUENT"
    assert breakdown(route) == approx(VIA_M)
    assert route.expected.total_h == approx(22.5)
    # The direct path is shorter and quicker to run, yet slower in expectation.
    direct = path_route(network, ["A", "B"])
    assert direct.expected.travel_h < route.expected.travel_h
    assert breakdown(direct) == approx(DIRECT)
    assert direct.expected.total_h == approx(94)
    assert direct.expected.total_h > route.expected.total_h


def test_explicit_route_is_honoured_even_when_slower():
    """A flow with an explicit `route` keeps it, though the expected-fastest path is another."""
    network = network_of("frequency.yaml")
    route = route_of(network, "FORCED")
    assert route.nodes == ("A", "B")
    assert route.legs[0].line.id == "WEEKLY"
    assert breakdown(route) == approx(DIRECT)
    assert route.expected.total_h > route_of(network, "FREE").expected.total_h


def test_route_alternatives_keep_their_shares():
    """A flow with `routes` gets each alternative path as given, with its share."""
    network = network_of("frequency.yaml")
    routes = network.routes_for(network.scenario.flow("SPLIT"))
    assert [(r.nodes, r.share) for r in routes] == [(("A", "B"), 0.25), (("A", "M", "B"), 0.75)]
    assert breakdown(routes[0]) == approx(DIRECT)
    assert breakdown(routes[1]) == approx(VIA_M)


def test_node_passed_on_board_is_not_handled_unless_always():
    """M's `applies: transfer` handling (7 h) is not counted for a train that only passes through it."""
    route = route_of(network_of("frequency.yaml"), "FREE")
    assert route.expected.handling_h == approx(HANDLING_A + HANDLING_B)
    assert route.leg_expected[0].handling_h == approx(HANDLING_A)


# ---------------------------------------------------------------------- parallel.yaml


def test_parallel_road_chosen_when_faster():
    """Between P and Q the road (2 h) beats the railway (1 h running + 12 h waiting for a daily train)."""
    network = network_of("parallel.yaml")
    route = route_of(network, "P-Q")
    [leg] = route.legs
    assert isinstance(leg, RoadLeg) and leg.segment.id == "PQ-road"
    assert breakdown(route) == approx((100 / 50, 0, 1 + 0.5))


def test_parallel_rail_chosen_when_faster():
    """Between Q and R the railway (3 h running + 1 h waiting for a two-hourly train) beats the road (5 h)."""
    network = network_of("parallel.yaml")
    route = route_of(network, "Q-R")
    [leg] = route.legs
    assert isinstance(leg, RideLeg) and leg.line.id == "QR_TRAIN"
    assert [s.id for s in leg.segments] == ["QR-rail"]
    assert breakdown(route) == approx((300 / 100, 2 / 2, 0.5 + 1))


def test_explicit_path_picks_the_faster_parallel_segment():
    """An explicit node path over a road-and-rail pair is cut into the expected-fastest legs."""
    network = network_of("parallel.yaml")
    legs = network.legs_for_path(["P", "Q", "R"])
    assert [type(leg) for leg in legs] == [RoadLeg, RideLeg]
    assert legs[0].segment.id == "PQ-road" and legs[1].line.id == "QR_TRAIN"
    route = path_route(network, ["P", "Q", "R"])
    # road P-Q 2 h; train Q-R 3 h + 1 h wait; handling at P, at Q (truck to train) and at R: 8.5 h
    assert breakdown(route) == approx((2 + 3, 1, 1 + 0.5 + 1))
    assert route.expected.total_h == approx(8.5)
    # driving on by road would save Q's handling but lose more on the road: 2 + 5 + 1 + 1 = 9 h
    segments = {s.id: s for s in network.scenario.network.segments}
    by_road = Route(("P", "Q", "R"), (RoadLeg("P", "Q", segments["PQ-road"]), RoadLeg("Q", "R", segments["QR-road"])))
    network.expected_route(by_road)
    assert breakdown(by_road) == approx((2 + 5, 0, 1 + 1))
    assert by_road.expected.total_h > route.expected.total_h


# ---------------------------------------------------------------------- transfer.yaml


def test_transfer_between_legs_adds_the_node_handling():
    """Changing from truck to train at T adds T's handling (5 h) to the route."""
    route = route_of(network_of("transfer.yaml"), "O-D")
    assert route.nodes == ("O", "T", "D")
    assert [leg.mode for leg in route.legs] == ["road", "rail"]
    assert breakdown(route) == approx((120 / 60 + 300 / 60, 8 / 2, 2 + 5 + 3))
    assert [e.handling_h for e in route.leg_expected] == approx([2, 5, 3])


def test_transfer_between_two_services_adds_handling_and_both_waits():
    """Changing from one train to another at D adds D's handling and the second service's wait (when-full: max_wait_h / 2)."""
    route = route_of(network_of("transfer.yaml"), "O-E")
    assert [leg.line.id for leg in route.legs if isinstance(leg, RideLeg)] == ["MAIN", "SHUTTLE"]
    travel = 120 / 60 + 300 / 60 + 60 / 60
    wait = 8 / 2 + 6 / 2
    handling = 2 + 5 + 3 + 4  # O, T, D (transfer), E (exponential mean 4)
    assert breakdown(route) == approx((travel, wait, handling))
    assert [e.wait_h for e in route.leg_expected] == approx([0, 4, 3, 0])


def test_truck_driving_on_is_not_handled():
    """Two road legs in a row are one truck: the node between them is not handled."""
    route = route_of(network_of("transfer.yaml"), "S-D")
    assert route.nodes == ("S", "O", "T", "D")
    assert [leg.mode for leg in route.legs] == ["road", "road", "rail"]
    assert breakdown(route) == approx((1 + 2 + 5, 4, 1 + 5 + 3))  # no 2 h at O
    assert route.leg_expected[1].handling_h == 0


# ---------------------------------------------------------------------- border.yaml

# Hand-computed expected hours for ORIG -> DEST (see the file's header).
TRAVEL = (90 / 45 + (0 + 1) / 2) + (240 / 60 + 100 / 50 + 50 / 50) + 2 * 0.25  # 10
WAIT = 10 / 2  # 5
HANDLING_ORIG = (1 + 2 + 6) / 3  # triangular mean: 3
HANDLING_TR, HANDLING_BRD, HANDLING_DEST = 4.0, 1.5, 2.5


def test_border_applies_always_is_handled_on_a_passing_train():
    """A border with `applies: always` adds its handling to shipments that pass it on board."""
    route = route_of(network_of("border.yaml"), "ORIG-DEST")
    ride = route.legs[1]
    assert isinstance(ride, RideLeg) and ride.nodes == ("TR", "BRD", "JCT", "DEST")
    assert route.leg_expected[1].handling_h == approx(HANDLING_TR + HANDLING_BRD)  # JCT (transfer only) adds nothing


def test_border_handling_vanishes_with_applies_transfer(tmp_path):
    """The same border with `applies: transfer` is not handled on board: the route is 1.5 h quicker."""
    child = tmp_path / "no_border.yaml"
    child.write_text(
        f"extends: {(ROUTING / 'border.yaml').resolve()}\n"
        "network:\n  nodes:\n    - {id: BRD, handling: {applies: transfer}}\n"
    )
    network = CorridorNetwork.from_scenario(load_scenario(child))
    route = route_of(network, "ORIG-DEST")
    assert route.expected.handling_h == approx(HANDLING_ORIG + HANDLING_TR + HANDLING_DEST)


def test_expected_breakdown_equals_hand_computation():
    """Travel, wait and handling of the route, in total and per leg, equal the values computed by hand."""
    route = route_of(network_of("border.yaml"), "ORIG-DEST")
    assert route.nodes == ("ORIG", "TR", "BRD", "JCT", "DEST")
    assert (TRAVEL, WAIT) == approx((10, 5))
    assert breakdown(route) == approx((TRAVEL, WAIT, HANDLING_ORIG + HANDLING_TR + HANDLING_BRD + HANDLING_DEST))
    assert route.expected.total_h == approx(10 + 5 + 11)
    legs = [(e.travel_h, e.wait_h, e.handling_h) for e in route.leg_expected]
    assert legs[0] == approx((2.5, 0, HANDLING_ORIG))  # road leg, handled at ORIG
    assert legs[1] == approx((7.5, 5, HANDLING_TR + HANDLING_BRD))  # ride, boards at TR, border on board
    assert legs[2] == approx((0, 0, HANDLING_DEST))  # at the destination
    assert route.length_km == 90 + 240 + 100 + 50


@pytest.mark.parametrize("name", ["frequency.yaml", "parallel.yaml", "transfer.yaml", "border.yaml", "seven_hops.yaml"])
def test_routing_scenarios_are_valid(name):
    """Each routing scenario is itself a valid scenario, and every flow in it has a route."""
    network = network_of(name)
    for flow in network.scenario.demand:
        routes = network.routes_for(flow)
        assert routes and sum(r.share for r in routes) == approx(1)
        assert all(r.nodes[0] == flow.origin and r.nodes[-1] == flow.destination for r in routes)


# ---------------------------------------------------------------------- seven_hops.yaml: exact cutting


def test_parallel_segments_all_rail_found_over_seven_hops():
    """Over seven hops each with a road (listed first) and a rail segment, the all-rail ride, fastest and last of the 128 combinations in list order, is found."""
    network = network_of("seven_hops.yaml")
    for flow_id in ("FREE", "PATH"):
        route = route_of(network, flow_id)
        [leg] = route.legs
        assert isinstance(leg, RideLeg) and [s.id for s in leg.segments] == [f"RAIL{i}" for i in range(7)]
        assert breakdown(route) == approx((7 * 100 / 100, 4 / 2, 0))  # 7 h on board, 2 h wait, no handling
    segments = {s.id: s for s in network.scenario.network.segments}
    by_road = Route(tuple(f"N{i}" for i in range(8)),
                    tuple(RoadLeg(f"N{i}", f"N{i + 1}", segments[f"ROAD{i}"]) for i in range(7)))
    network.expected_route(by_road)
    assert by_road.expected.total_h == approx(14)


def _random_corridor(seed: int, hops: int) -> dict:
    """A corridor of `hops` hops, each with a road and a rail segment; two lines share part of it."""
    rng = np.random.default_rng(seed)
    nodes = [{"id": f"N{i}", "kind": "junction", "lon": float(i), "lat": 0.0} for i in range(hops + 1)]
    for node in nodes:
        if rng.random() < 0.7:
            node["handling"] = {"time_h": float(rng.uniform(0.2, 3)), "applies": "always" if rng.random() < 0.2 else "transfer"}
    segments = []
    for i in range(hops):
        segments.append({"id": f"ROAD{i}", "from": f"N{i}", "to": f"N{i + 1}", "mode": "road",
                         "length_km": float(rng.uniform(50, 200)), "speed_kmh": float(rng.uniform(15, 90))})
        segments.append({"id": f"RAIL{i}", "from": f"N{i}", "to": f"N{i + 1}", "mode": "rail",
                         "length_km": float(rng.uniform(50, 250)), "speed_kmh": float(rng.uniform(60, 140)), "gauge_mm": 1435})
    a, b = sorted(rng.choice(hops + 1, size=2, replace=False))
    services = [
        {"id": "LONG", "mode": "rail", "stops": [n["id"] for n in nodes], "capacity_teu": 100,
         "departures": {"every_h": float(rng.uniform(1, 6)), "first_h": float(rng.uniform(0, 5))}},
        {"id": "SHORT", "mode": "rail", "stops": [f"N{i}" for i in range(a, b + 1)], "capacity_teu": 100,
         "departures": {"every_h": float(rng.uniform(1, 6)), "first_h": float(rng.uniform(0, 5))}},
    ]
    return {"name": f"random corridor {seed}", "network": {"nodes": nodes, "segments": segments},
            "services": services, "demand": []}


def _brute_force_h(network: CorridorNetwork, path: list[str]) -> float:
    """The expected time of the fastest way along the path, trying every cut: per hop road, or rail
    continuing the ride before it, or rail starting a new ride."""
    segments = {s.id: s for s in network.scenario.network.segments}
    best = float("inf")
    for choice in itertools.product(("road", "on", "new"), repeat=len(path) - 1):
        legs, ride_start = [], None
        for i, c in enumerate(choice + ("end",)):
            if ride_start is not None and c != "on":
                stretch = tuple(path[ride_start:i + 1])
                lines = [(line, line.stops.index(stretch[0])) for line in network.lines.values()
                         if "~rev" not in line.id and all(n in line.stops for n in stretch)]
                if not lines:
                    break
                line, k = lines[0]
                legs.append(RideLeg(line, k, k + len(stretch) - 1))
                ride_start = None
            if c == "road":
                legs.append(RoadLeg(path[i], path[i + 1], segments[f"ROAD{i}"]))
            elif c == "new" or (c == "on" and ride_start is None and i == 0):
                ride_start = i
            elif c == "on" and ride_start is None:
                break  # "on" without a ride to continue is the same as "new": skip the duplicate
        else:
            route = Route(tuple(path), tuple(legs))
            network.expected_route(route)
            best = min(best, route.expected.total_h)
    return best


@pytest.mark.parametrize("seed", range(12))
def test_cutting_a_path_is_exact(seed):
    """On random corridors with a road and a rail segment per hop and two lines sharing a stretch, the legs chosen are as fast as the best of every possible cut."""
    network = CorridorNetwork.from_scenario(scenario_from_dict(_random_corridor(seed, 6), "random.yaml"))
    path = [f"N{i}" for i in range(7)]
    route = path_route(network, path)
    assert route.expected.total_h == approx(_brute_force_h(network, path), rel=1e-12)


def test_cutting_a_long_path_needs_no_enumeration():
    """A path of 60 hops, each with a road and a rail segment (2^60 combinations), is cut exactly."""
    network = CorridorNetwork.from_scenario(scenario_from_dict(_random_corridor(99, 60), "random.yaml"))
    route = path_route(network, [f"N{i}" for i in range(61)])
    assert len(route.nodes) == 61 and route.expected.total_h > 0
    assert {s.mode for leg in route.legs for s in leg.segments} <= {"road", "rail"}
