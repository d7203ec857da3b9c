"""Pooled boarding and capacity-true service and segment figures, against theory (tests/scenarios/pooled/).

As in test_engine_theory.py, theory must lie inside the 99% Student-t interval of the per-replication
values and that interval must be narrow (half-width under 5% of the theory value); where the engine
must match theory exactly (a vessel always full, a saturated gate) the match is exact.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from corridor_sim import load_scenario
from corridor_sim.engine import run_replication
from corridor_sim.engine.records import Stage
from corridor_sim.network import CorridorNetwork
from corridor_sim.queueing import merged_timetable_wait_h, scheduled_departure_wait_h
from corridor_sim.results import Results

POOLED = Path(__file__).parent / "scenarios" / "pooled"
MAX_REL_HALF_WIDTH = 0.05


def assert_theory(label: str, values, theory: float) -> None:
    """Theory lies in the 99% interval of the per-replication values, and the interval is narrow."""
    x = np.asarray(values, dtype=float)
    mean = float(x.mean())
    half = float(stats.t.ppf(0.995, len(x) - 1) * x.std(ddof=1) / math.sqrt(len(x)))
    print(f"\n[theory] {label}: simulated {mean:.4f}, 99% CI [{mean - half:.4f}, {mean + half:.4f}] "
          f"(+-{100 * half / abs(theory):.2f}%), theory {theory:.4f}, R={len(x)}")
    assert abs(mean - theory) <= half + 1e-9 * abs(theory), f"{label}: theory {theory} outside {mean} +- {half}"
    assert half <= MAX_REL_HALF_WIDTH * abs(theory), f"{label}: half-width {half} too wide to judge"


def replications(name: str, **kwargs) -> tuple:
    scenario = load_scenario(POOLED / name)
    outs = [run_replication(scenario, r, **kwargs) for r in range(scenario.simulation.replications)]
    return scenario, outs


def measured(out, flow: int) -> np.ndarray:
    s = out.shipments
    return (s["flow"] == flow) & (s["created_h"] >= out.warmup_h) & ~np.isnan(s["delivered_h"])


@pytest.fixture(scope="module")
def two_trains():
    return replications("two_trains.yaml", sample_queues=False)


def test_queueing_merged_timetable_by_hand():
    """The merged-timetable wait equals hand-computed values: H/2 alone, H/4 for two equal timetables half a period apart, sum(g^2)/2T otherwise."""
    assert merged_timetable_wait_h([(24.0, 5.0)]) == 12.0
    assert merged_timetable_wait_h([(24.0, 0.0), (24.0, 12.0)]) == pytest.approx(6.0)
    # departures at 0 and 6 every 24 h: gaps 6 and 18, (36 + 324) / 48 = 7.5
    assert merged_timetable_wait_h([(24.0, 0.0), (24.0, 30.0)]) == pytest.approx(7.5)
    # every 12 h and every 8 h from 0: departures 0, 8, 12, 16 in 24 h, gaps 8, 4, 4, 8: 160 / 48
    assert merged_timetable_wait_h([(12.0, 0.0), (8.0, 0.0)]) == pytest.approx(10.0 / 3.0)
    # more departures never lengthen the wait
    assert merged_timetable_wait_h([(24.0, 0.0), (24.0, 7.0), (168.0, 50.0)]) <= merged_timetable_wait_h([(24.0, 0.0), (24.0, 7.0)])


def test_routing_expects_the_pooled_wait():
    """Routing expects the merged timetable's wait for a pooled ride (6 h for two daily trains 12 h apart) and the named service's own H/2 for a route naming it."""
    network = CorridorNetwork.from_scenario(load_scenario(POOLED / "two_trains.yaml"))
    [free] = network.routes_for(network.scenario.flow("F"))
    [named] = network.routes_for(network.scenario.flow("G"))
    assert free.expected.wait_h == pytest.approx(6.0)
    assert named.expected.wait_h == pytest.approx(scheduled_departure_wait_h(24.0))
    assert sorted(line.id for line, _, _ in network.pool_lines(*free.legs[0].pool_key)) == ["T1", "T2"]
    assert [line.id for line, _, _ in network.pool_lines(*named.legs[0].pool_key)] == ["T1"]


@pytest.mark.slow
def test_two_daily_trains_twelve_hours_apart_wait_six_hours(two_trains):
    """Poisson arrivals free to take either of two daily trains 12 h apart wait 6 h on average, and both trains carry them."""
    scenario, outs = two_trains
    waits = [out.shipments["stage_totals_h"][measured(out, 0), Stage.WAIT].mean() for out in outs]
    assert_theory("two daily trains 12 h apart: WAIT h", waits, 6.0)
    for out in outs:
        assert out.shipments["stage_totals_h"][measured(out, 0), Stage.WAIT].max() <= 12.0 + 1e-9
    # Each train takes the arrivals of the 12 h before it: half of F (5 TEU a day), and T1 all of G.
    days = (scenario.simulation.horizon_days - scenario.simulation.warmup_days)
    half_f = scenario.flow("F").teu_per_year / 365.0 / 2
    g = scenario.flow("G").teu_per_year / 365.0
    assert_theory("T2 TEU boarded per day", [o.lines["T2"]["teu_carried"] / days for o in outs], half_f)
    assert_theory("T1 TEU boarded per day", [o.lines["T1"]["teu_carried"] / days for o in outs], half_f + g)


@pytest.mark.slow
def test_route_naming_a_service_rides_only_it(two_trains):
    """A flow whose route names T1 boards only T1 and so waits H/2 = 12 h, though T2 serves the same stops."""
    scenario, outs = two_trains
    waits = []
    for out in outs:
        s = out.shipments
        mine = np.isin(s["stage_shipment"], np.flatnonzero(s["flow"] == 1))
        rides = mine & np.isin(s["stage_kind"], [int(Stage.WAIT), int(Stage.TRAVEL)])
        places = {out.places[p] for p in np.unique(s["stage_place"][rides & (s["stage_kind"] == int(Stage.WAIT))])}
        assert places == {"T1"}
        # the pooled flow does ride T2, recorded on T2
        theirs = np.isin(s["stage_shipment"], np.flatnonzero(s["flow"] == 0)) & (s["stage_kind"] == int(Stage.WAIT))
        assert {out.places[p] for p in np.unique(s["stage_place"][theirs])} == {"T1", "T2"}
        waits.append(s["stage_totals_h"][measured(out, 1), Stage.WAIT].mean())
    assert_theory("route naming T1 (daily): WAIT h", waits, scheduled_departure_wait_h(24.0))


@pytest.mark.slow
def test_teu_carried_counts_every_teu_boarded():
    """Two 10 TEU/day flows A->B and B->C on one A-B-C train: it carries 20 TEU a day (not its peak load) and 10 x 300 + 10 x 200 TEU-km a day."""
    scenario, outs = replications("abc_train.yaml", keep_stages=False, sample_queues=False)
    days = scenario.simulation.horizon_days - scenario.simulation.warmup_days
    per_day = sum(f.teu_per_year for f in scenario.demand) / 365.0
    km = {s.id: s.length_km for s in scenario.network.segments}
    teu_km = scenario.flow("A-B").teu_per_year / 365.0 * km["AB"] + scenario.flow("B-C").teu_per_year / 365.0 * km["BC"]
    assert_theory("A-B-C train: TEU boarded per day", [o.lines["TRAIN"]["teu_carried"] / days for o in outs], per_day)
    assert_theory("A-B-C train: TEU-km per day", [o.lines["TRAIN"]["teu_km"] / days for o in outs], teu_km)
    res = Results(scenario, scenario.simulation.seed, outs)
    [row] = res.services.itertuples()
    assert row.teu_carried_per_day == pytest.approx(np.mean([o.lines["TRAIN"]["teu_carried"] for o in outs]) / days)
    assert row.teu_km_per_day == pytest.approx(np.mean([o.lines["TRAIN"]["teu_km"] for o in outs]) / days)
    # the peak on board is the larger of two daily batches, well under the TEU carried
    assert row.mean_peak_load_teu < 0.7 * row.teu_carried_per_day
    summary = res.summary()["services"]["TRAIN"]
    assert summary["teu_carried_per_day"] == pytest.approx(row.teu_carried_per_day, rel=1e-6)
    assert summary["teu_km_per_day"] == pytest.approx(row.teu_km_per_day, rel=1e-6)


@pytest.fixture(scope="module")
def half_capacity():
    scenario, outs = replications("half_capacity.yaml", keep_stages=False, sample_queues=False)
    return scenario, outs, Results(scenario, scenario.simulation.seed, outs)


def test_load_factor_is_against_the_teu_offered(half_capacity):
    """A vessel always sailing full while a disruption halves it half the time has load factor 1 against the TEU offered, 0.75 against nominal capacity."""
    _, outs, res = half_capacity
    for out in outs:
        line = out.lines["VESSEL"]
        assert line["departures"] == 100
        assert line["load_factor_sum"] / line["departures"] == pytest.approx(1.0)
        assert line["load_factor_nominal_sum"] / line["departures"] == pytest.approx(0.75)
        assert line["teu_carried"] == pytest.approx(line["offered_teu"]) == pytest.approx(50 * 50 + 50 * 25)
    [row] = res.services.itertuples()
    assert (row.mean_load_factor, row.mean_load_factor_nominal) == pytest.approx((1.0, 0.75))
    summary = res.summary()["services"]["VESSEL"]
    assert (summary["mean_load_factor"], summary["mean_load_factor_nominal"]) == pytest.approx((1.0, 0.75))


def test_gate_utilisation_is_against_the_paths_available(half_capacity):
    """A road gate closed half the time and used to the full while open reads utilisation 1.0 against the paths available, 0.5 against nominal."""
    scenario, outs, res = half_capacity
    days = scenario.simulation.horizon_days - scenario.simulation.warmup_days
    for out in outs:
        gate = out.gates["RS@R"]
        assert gate["open_h"] == pytest.approx(days * 24 / 2)
        assert gate["entered"] == pytest.approx(24 * days / 2)  # one truck an hour while open
        assert gate["utilization"] == pytest.approx(1.0) and gate["utilization_nominal"] == pytest.approx(0.5)
    [row] = res.segments.itertuples()
    assert (row.utilization, row.utilization_nominal, row.open_fraction) == pytest.approx((1.0, 0.5, 0.5))
    summary = res.summary()["segments"]["RS@R"]
    assert (summary["utilization"], summary["utilization_nominal"]) == pytest.approx((1.0, 0.5))


def test_two_when_full_lines_share_a_pool():
    """Two when-full vessels serving one pool are told of its arrivals: every departure sails full and together they carry the whole demand, none left behind."""
    scenario, outs = replications("two_when_full.yaml", keep_stages=False, sample_queues=False)
    days = scenario.simulation.horizon_days - scenario.simulation.warmup_days
    demand_teu = scenario.flow("F").teu_per_year / 365.0 * days
    for out in outs:
        lines = [out.lines["V1"], out.lines["V2"]]
        departures = sum(v["departures"] for v in lines)
        assert departures == demand_teu / 10
        assert sum(v["load_factor_sum"] for v in lines) == departures  # all full
        assert sum(v["teu_carried"] for v in lines) == demand_teu
        assert out.lines["V1"]["waiting_at_end"] == out.lines["V2"]["waiting_at_end"] < 10  # one pool
