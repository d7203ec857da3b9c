"""Shared infrastructure against theory: single track, background traffic, berths, yards, dwell, mode pairs.

Scenarios are under tests/scenarios/infrastructure/. Deterministic cases (timetabled trains,
regular background traffic) must match exactly, up to one vehicle at the edges of the measured
window; statistical ones put theory inside the 99% Student-t interval of the per-replication means
and require that interval to be narrow (half-width under 5% of the theory value).
"""

from __future__ import annotations

import copy
import math
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from corridor_sim import load_scenario
from corridor_sim.engine import run_replication
from corridor_sim.engine.records import Stage
from corridor_sim.experiments import run
from corridor_sim.network import CorridorNetwork
from corridor_sim.queueing import md1_wait_h, mmc_wait_h
from corridor_sim.scenario import scenario_from_dict

HERE = Path(__file__).parent / "scenarios" / "infrastructure"
MAX_REL_HALF_WIDTH = 0.05


def scenario(name: str, **changes):
    """A scenario file, with `changes` applied to its data: {"path.to.key": value} (list items by index)."""
    sc = load_scenario(HERE / name)
    if not changes:
        return sc
    data = copy.deepcopy(sc.data())
    for dotted, value in changes.items():
        *parents, last = dotted.split(".")
        node = data
        for part in parents:
            node = node[int(part)] if part.isdigit() else node[part]
        node[int(last) if last.isdigit() else last] = value
    return scenario_from_dict(data, str(HERE / name))


def assert_theory(label: str, values, theory: float) -> None:
    """Theory lies in the 99% t-interval of the per-replication values, and the interval is narrow."""
    x = np.asarray(values, dtype=float)
    half = stats.t.ppf(0.995, len(x) - 1) * x.std(ddof=1) / math.sqrt(len(x))
    print(f"\n[theory] {label}: simulated {x.mean():.4f} +- {half:.4f} (99%), theory {theory:.4f}, R={len(x)}")
    assert abs(x.mean() - theory) <= half, f"{label}: theory {theory:.6g} outside {x.mean():.6g} +- {half:.3g}"
    assert half <= MAX_REL_HALF_WIDTH * abs(theory), f"{label}: interval +-{half:.3g} too wide to judge"


def stage_rows(out, flow: int, place: str, kind: Stage) -> tuple[np.ndarray, np.ndarray]:
    """(start_h, end_h) of one flow's stage rows of a kind at a place."""
    s = out.shipments
    flows = s["flow"][s["stage_shipment"]]
    rows = (flows == flow) & (s["stage_place"] == out.places.index(place)) & (s["stage_kind"] == int(kind))
    return s["stage_start_h"][rows], s["stage_end_h"][rows]


def measured_place_mean(out, place: str, kinds, flow: int | None = None) -> float:
    """Mean hours per measured delivered shipment spent in the stage kinds at a place."""
    s = out.shipments
    n = len(s["flow"])
    rows = (s["stage_place"] == out.places.index(place)) & np.isin(s["stage_kind"], [int(k) for k in kinds])
    per = np.bincount(s["stage_shipment"][rows], weights=(s["stage_end_h"] - s["stage_start_h"])[rows], minlength=n)
    m = (s["created_h"] >= out.warmup_h) & ~np.isnan(s["delivered_h"])
    if flow is not None:
        m &= s["flow"] == flow
    return float(per[m].mean())


def measured_total_mean(out, kind: Stage, flow: int | None = None, margin_h: float = 0.0) -> float:
    """Mean hours per measured delivered shipment in one stage kind (for scenarios with one such place).

    `margin_h` leaves out shipments created that close to the horizon: all earlier ones are delivered,
    so long stays are not under-counted (only shipments done by the horizon are delivered).
    """
    s = out.shipments
    m = (s["created_h"] >= out.warmup_h) & (s["created_h"] <= out.horizon_h - margin_h)
    if margin_h:
        assert not np.isnan(s["delivered_h"][m]).any()
    m &= ~np.isnan(s["delivered_h"])
    if flow is not None:
        m &= s["flow"] == flow
    return float(s["stage_totals_h"][m, int(kind)].mean())


# ---------------------------------------------------------------------- single track


@pytest.mark.parametrize("switch_h", [0.0, 0.5])
def test_timetabled_meet_delays_the_second_train_by_the_overlap(switch_h):
    """On one single-track section of 6 h, the train due 2 h after the opposing one leaves when it has cleared (+ switch_h): 4 h late."""
    out = run_replication(scenario("single_track_meet.yaml", **{"network.segments.0.switch_h": switch_h}), 0)
    east_start, east_end = stage_rows(out, 0, "AB", Stage.TRAVEL)
    west_start, west_end = stage_rows(out, 1, "AB", Stage.TRAVEL)
    assert len(east_start) > 100 and len(west_start) > 100
    assert np.allclose(east_start % 24, 0.0) and np.allclose(east_end - east_start, 6.0)
    assert np.allclose(west_start % 24, 6.0 + switch_h) and np.allclose(west_end - west_start, 6.0)
    track = out.extra["tracks"]["AB"]
    days = track["span_h"] / 24
    assert track["meets"] == pytest.approx(days, abs=1)
    assert track["wait_sum_h"] == pytest.approx((4.0 + switch_h) * days, abs=5.0)


def test_two_tracks_do_not_meet():
    """The same timetable on two tracks runs to time: the second train leaves at 2 h."""
    out = run_replication(scenario("single_track_meet.yaml", **{"network.segments.0.tracks": 2}), 0)
    west_start, _ = stage_rows(out, 1, "AB", Stage.TRAVEL)
    assert np.allclose(west_start % 24, 2.0)
    assert "tracks" not in out.extra


SATURATE = {"background.0.vehicles_per_day": 20, "background.1.vehicles_per_day": 20}


@pytest.mark.parametrize("sections", [1, 2, 3, 4])
def test_saturated_single_track_carries_scotts_capacity(sections):
    """Saturated from both ends, T = 2 h in N block sections with switch_h 0.5 alternates in each and carries Scott's 24 / (T/N + t) trains a day."""
    out = run_replication(scenario("single_track_saturated.yaml", **SATURATE,
                                   **{"network.segments.0.sections": sections}), 0)
    track = out.extra["tracks"]["AB"]
    days = track["span_h"] / 24
    assert track["waiting_at_end"] > 100  # saturated
    assert track["entered"] / days == pytest.approx(24 / (2.0 / sections + 0.5), abs=1 / days)
    assert abs(track["crossed_forward"] - track["crossed_back"]) <= 1
    if sections == 1:  # occupied T of every T + t
        assert track["occupation_share"] == pytest.approx(2.0 / 2.5, abs=2.5 / track["span_h"])


def test_passing_loops_never_deadlock():
    """Saturated Poisson traffic both ways over 4 block sections keeps crossing both ways to the end of a longer run."""
    changes = {**SATURATE, "network.segments.0.sections": 4, "background.0.arrivals": "poisson",
               "background.1.arrivals": "poisson"}
    early = run_replication(scenario("single_track_saturated.yaml", **changes), 0).extra["tracks"]["AB"]
    late = run_replication(scenario("single_track_saturated.yaml", **changes, **{"simulation.horizon_days": 75}),
                           0).extra["tracks"]["AB"]
    assert late["waiting_at_end"] > 100  # still saturated
    for key in ("crossed_forward", "crossed_back"):
        assert late[key] - early[key] == pytest.approx(10 * 24 / 2 / (2.0 / 4 + 0.5), abs=2)  # 10 days at capacity


def test_capacity_per_day_on_one_track_is_shared_by_both_directions():
    """A one-lane bridge with capacity_per_day 6 carries 6 vehicles a day in all, though 5 a day arrive each way; two lanes carry all 10."""
    out = run_replication(scenario("one_lane_bridge.yaml"), 0)
    days = (out.horizon_h - out.warmup_h) / 24
    assert list(out.gates) == ["BRIDGE"]
    assert out.gates["BRIDGE"]["entered"] / days == pytest.approx(6.0, abs=1 / days)
    two = run_replication(scenario("one_lane_bridge.yaml", **{"network.segments.0.tracks": 2}), 0)
    assert sum(g["entered"] for g in two.gates.values()) / days == pytest.approx(10.0, abs=2 / days)


# ---------------------------------------------------------------------- background traffic


@pytest.mark.slow
def test_measured_trucks_wait_as_erlang_c_at_the_total_rate():
    """Measured Poisson trucks sharing an M/M/2 border with Poisson background trucks wait as Erlang C at the summed rate (rho 0.8)."""
    sc = scenario("border_background.yaml")
    res = run(sc)
    waits = [measured_total_mean(o, Stage.QUEUE) for o in res.outputs]  # the border is the only queue
    assert_theory("border Wq h (measured trucks)", waits, mmc_wait_h(0.7 + 16.8 / 24, 1.0, 2))
    node = res.summary()["nodes"]["BORDER"]
    assert node["background_arrivals_per_day"] == pytest.approx(16.8, rel=0.02)
    assert node["background_share"] == pytest.approx(0.5, abs=0.01)


def test_a_closed_border_holds_background_vehicles():
    """Background trucks wait at a border closed by a disruption: none reaches the far side while it is shut."""
    data = copy.deepcopy(scenario("border_background.yaml").data())
    data["simulation"] = {"horizon_days": 40, "warmup_days": 10, "replications": 1, "seed": 1}
    data["demand"] = []
    data["disruptions"] = [{"id": "SHUT", "target": "BORDER", "start_day": 5, "end_day": 40, "capacity_factor": 0}]
    out = run_replication(scenario_from_dict(data, "closed"), 0)
    arrivals = out.extra["background"]["arrivals"]
    assert arrivals["ORIGIN"] / 30 == pytest.approx(16.8, rel=0.1)
    assert arrivals.get("DEST", 0) == 0


# ---------------------------------------------------------------------- berths


def test_berth_utilisation_is_calls_times_berth_time_over_time():
    """One berth with a 6 h background call and a 4 h liner call a day is busy (6 + 4) / 24 of the time, and both are counted."""
    res = run(scenario("berths.yaml"))
    node = res.summary()["nodes"]["P1"]
    span_h = res.measured_days * 24
    assert node["berth_utilization"] == pytest.approx((6 + 4) / 24, abs=10 / span_h)
    assert node["berth_calls_per_day"] == pytest.approx(2.0, abs=2 * 24 / span_h)
    assert node["berth_stable"] is True


@pytest.mark.parametrize("teu, stable", [(300, False), (200, True)])
def test_two_calls_a_day_needing_more_than_24_berth_hours_are_unstable(teu, stable):
    """Two calls a day of 1 h + TEU / 25 h at one berth: 2 x 13 h > 24 h is flagged unstable, 2 x 9 h is not."""
    res = run(scenario("berths.yaml", **{"demand": [], "services": [], "network.nodes.0.berths.fixed_h": 1,
                                         "background.0.vehicles_per_day": 2, "background.0.teu_per_call": teu}))
    node = res.summary()["nodes"]["P1"]
    assert node["berth_stable"] is stable
    if not stable:
        assert node["berth_utilization"] == pytest.approx(1.0, abs=0.01)
        assert node["berth_queue_slope_per_day"] == pytest.approx(2 - 24 / 13, rel=0.1)
    else:
        assert node["berth_utilization"] == pytest.approx(2 * 9 / 24, abs=0.01)
        assert node["berth_mean_wait_h"] < 9


@pytest.mark.slow
def test_berth_wait_of_poisson_calls_is_md1():
    """Poisson calls (2 a day) of a fixed 6 h at one berth wait as M/D/1: rho S / (2 (1 - rho)) = 3 h."""
    sc = scenario("berths.yaml", **{"demand": [], "services": [], "background.0.arrivals": "poisson",
                                    "background.0.vehicles_per_day": 2, "simulation.horizon_days": 3005,
                                    "simulation.replications": 20})
    res = run(sc, jobs=1)
    waits = [o.extra["berths"]["P1"]["wait_sum_h"] / o.extra["berths"]["P1"]["waits"] for o in res.outputs]
    assert_theory("M/D/1 berth wait h", waits, md1_wait_h(2 / 24, 2.0 + 100 / 25))
    assert res.summary()["nodes"]["P1"]["berth_mean_wait_h"] == pytest.approx(float(np.mean(waits)))


def test_berth_time_counts_on_shipments_aboard():
    """A box on the liner records the berth's unloading at P2 too when P2 has berths: 2 h + 50 TEU / 25 TEU an hour = 4 h of handling."""
    sc = scenario("berths.yaml", **{"network.nodes.1.berths": {"count": 1, "fixed_h": 2, "teu_per_hour": 25}})
    out = run_replication(sc, 0)
    assert measured_place_mean(out, "P2", [Stage.HANDLING]) == pytest.approx(4.0)


# ---------------------------------------------------------------------- dwell, mode pairs


@pytest.mark.parametrize("teu_per_year", [730, 73000])
def test_dwell_station_mean_is_its_dwell_mean_at_any_load(teu_per_year):
    """A dwell_h station (gamma, mean 30 h) delays each shipment by 30 h on average at 2 or 200 TEU a day: M/G/inf, no queue."""
    days = 400 if teu_per_year < 10_000 else 40
    sc = scenario("dwell.yaml", **{"demand.0.teu_per_year": teu_per_year, "simulation.horizon_days": days})
    res = run(sc)
    # Dwell at CUSTOMS, the only stop; shipments created in the last 10 days (33 sd) are left out.
    means = [measured_total_mean(o, Stage.HANDLING, margin_h=240) for o in res.outputs]
    assert all(measured_total_mean(o, Stage.QUEUE) == 0 for o in res.outputs)
    assert_theory(f"dwell mean h at {teu_per_year} TEU/yr", means, 30.0)


def test_dwell_counts_in_expected_route_time():
    """Routing's expected time includes the mean dwell where a shipment stops."""
    sc = scenario("dwell.yaml")
    [route] = CorridorNetwork.from_scenario(sc).routes_for(sc.demand[0])
    assert route.expected.handling_h == pytest.approx(30.0)


def test_handling_time_by_mode_pair():
    """A terminal transloading trucks onto trains takes its road>rail time (mean 2 h), in routing and in simulation."""
    sc = scenario("mode_pairs.yaml")
    [route] = CorridorNetwork.from_scenario(sc).routes_for(sc.demand[0])
    assert route.expected.handling_h == pytest.approx(2.0)
    res = run(sc)
    assert_theory("road>rail handling h", [measured_total_mean(o, Stage.HANDLING) for o in res.outputs], 2.0)


def test_mode_pair_default_applies_where_a_shipment_ends():
    """A shipment ending at the terminal by rail is handled with the default time (10 h), not a pair's."""
    sc = scenario("mode_pairs.yaml", **{"demand.0.origin": "D", "demand.0.destination": "RT"})
    [route] = CorridorNetwork.from_scenario(sc).routes_for(sc.demand[0])
    assert route.expected.handling_h == pytest.approx(10.0)
    out = run_replication(sc, 0)
    assert measured_place_mean(out, "RT", [Stage.HANDLING]) == pytest.approx(10.0)


# ---------------------------------------------------------------------- yards


def test_a_full_yard_blocks_and_loses_nothing():
    """A 30-TEU yard fills at times: trucks wait outside, the inbound train waits for room; the bound holds and every box is accounted for."""
    res = run(scenario("yard.yaml"))
    for out in res.outputs:
        yard = out.extra["yards"]["RT"]
        assert yard["peak_occupancy_teu"] <= 30.0
        assert yard["teu_in"] - yard["teu_out"] == pytest.approx(yard["level_at_end"] - yard["level_at_start"])
        assert 0 < yard["share_time_full"] < 0.2
    export = res.flows.set_index("flow").loc["EXPORT"]
    # RT is the only place with a queue: trucks waiting outside, boxes on the train waiting for room.
    assert sum(measured_total_mean(o, Stage.QUEUE, flow=0) for o in res.outputs) > 0
    assert sum(measured_total_mean(o, Stage.QUEUE, flow=1) for o in res.outputs) > 0
    assert export.created == export.delivered + export.in_transit
    # Throughput keeps up with demand (within the run's interval): blocking delays boxes, it loses none.
    summary = res.summary()
    for flow in ("EXPORT", "IMPORT"):
        f = summary["flows"][flow]
        low, high = f["throughput_teu_per_day"]["ci95"]
        assert low - 0.5 <= f["demand_teu_per_day"] <= high + 0.5
    node = summary["nodes"]["RT"]
    assert node["yard_peak_occupancy_teu"] == 30.0 and 0 < node["yard_mean_occupancy_teu"] < 30


# ---------------------------------------------------------------------- the command line and summary.json


def test_run_writes_the_shared_infrastructure_contract_keys(tmp_path, capsys):
    """`corridor-sim run` writes berth, yard, background and single-track figures into summary.json and prints them."""
    import json

    import yaml

    from corridor_sim.cli import main

    data = copy.deepcopy(scenario("berths.yaml").data())
    data["network"]["nodes"][0]["yard_teu"] = 500
    data["network"]["segments"][0]["tracks"] = 1
    path = tmp_path / "shared.yaml"
    path.write_text(yaml.safe_dump(data))
    assert main(["run", str(path), "--out", str(tmp_path / "r"), "--jobs", "1"]) == 0
    printed = capsys.readouterr().out
    assert "Berths" in printed and "Single track" in printed and "Yards" in printed
    summary = json.loads((tmp_path / "r" / "summary.json").read_text())
    p1 = summary["nodes"]["P1"]
    for key in ("berth_utilization", "berth_mean_wait_h", "berth_stable", "background_arrivals_per_day",
                "yard_mean_occupancy_teu", "yard_peak_occupancy_teu", "yard_share_time_full"):
        assert key in p1, key
    assert p1["background_arrivals_per_day"] == pytest.approx(1.0, abs=0.02)
    sea = summary["segments"]["SEA"]
    # Two 10 h passages a day, the same way (they may overlap, following at headway 0).
    assert sea["tracks"] == 1 and sea["vehicles_per_day"] == pytest.approx(2.0, abs=0.05)
    assert 10 / 24 <= sea["occupation_share"] <= 2 * 10 / 24 + 0.01
    assert sea["background_share"] == pytest.approx(0.5, abs=0.01)
