"""The engine against closed-form queueing theory (corridor_sim.queueing), on tests/scenarios/theory/.

Every statistical comparison derives its tolerance from the run itself: R replications give R
per-replication means (of *measured* shipments: created after the warm-up and delivered); theory
must lie inside the 99% Student-t interval of those means, and the interval's half-width must be
under 5% of the theory value, so a noisy run cannot pass by being vague. Where the engine must
match theory exactly (a full vessel, a saturated gate) the interval has zero width and the match is
exact up to float rounding.

The long runs (M/M/1, M/M/3, the tandem) are spread over a small process pool, one replication per
task; a replication is a pure function of (scenario, replication index), so this changes nothing.
"""

from __future__ import annotations

import math
import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from corridor_sim import load_scenario
from corridor_sim.distributions import mean_of
from corridor_sim.engine import run_replication
from corridor_sim.engine.records import Stage
from corridor_sim.queueing import (
    batch_service_throughput_teu_per_day,
    jackson_tandem_time_in_system_h,
    mmc_mean_queue,
    mmc_time_in_system_h,
    mmc_utilization,
    mmc_wait_h,
    scheduled_departure_wait_h,
)

THEORY = Path(__file__).parent / "scenarios" / "theory"
EXAMPLE = Path(__file__).parent / "scenarios" / "example.yaml"
HOURS_PER_YEAR = 8760.0
MAX_REL_HALF_WIDTH = 0.05
QH = [Stage.QUEUE, Stage.HANDLING]



def arrival_rate_per_h(file: str) -> float:
    """The Poisson arrival rate of a scenario's one flow, in shipments per hour."""
    [flow] = load_scenario(THEORY / file).demand
    assert flow.arrivals == "poisson"
    return flow.teu_per_year / flow.shipment_teu / HOURS_PER_YEAR


def station(file: str, node_id: str) -> tuple[float, int]:
    """(mean service h, servers) of a node's exponential handling, read from the scenario."""
    handling = load_scenario(THEORY / file).node(node_id).handling
    assert handling.time_h.dist == "exponential"
    return mean_of(handling.time_h), handling.servers


# The M/M/c stations of the scenario files: (arrival rate per hour, mean service h, servers).
MM1 = (arrival_rate_per_h("mm1.yaml"), *station("mm1.yaml", "ORIGIN"))
MM3 = (arrival_rate_per_h("mm3.yaml"), *station("mm3.yaml", "ORIGIN"))
TANDEM_RATE = arrival_rate_per_h("tandem.yaml")
TANDEM = {node: station("tandem.yaml", node) for node in ("S1", "S2", "S3")}
assert MM1[1:] == (1.0, 1) and MM1[0] == pytest.approx(0.7)  # rho 0.7
assert MM3[1:] == (1.0, 3) and MM3[0] / 3 == pytest.approx(0.8)  # rho 0.8


# ---------------------------------------------------------------------- helpers


def measured(out) -> np.ndarray:
    """Mask of the measured shipments: created after the warm-up and delivered."""
    s = out.shipments
    return (s["created_h"] >= out.warmup_h) & ~np.isnan(s["delivered_h"])


def place_time(out, node_id: str, kinds) -> np.ndarray:
    """Hours each shipment spent in the given stage kinds at one place (from the stage rows)."""
    s = out.shipments
    rows = (s["stage_place"] == out.places.index(node_id)) & np.isin(s["stage_kind"], [int(k) for k in kinds])
    return np.bincount(s["stage_shipment"][rows], weights=(s["stage_end_h"] - s["stage_start_h"])[rows],
                       minlength=len(s["flow"]))


def ci99(values) -> tuple[float, float]:
    """Mean and half-width of the 99% Student-t interval of per-replication values."""
    x = np.asarray(values, dtype=float)
    half = stats.t.ppf(0.995, len(x) - 1) * x.std(ddof=1) / math.sqrt(len(x))
    return float(x.mean()), float(half)


def assert_theory(label: str, values, theory: float, max_rel_half_width: float = MAX_REL_HALF_WIDTH) -> None:
    """Theory lies in the 99% interval of the per-replication values, and the interval is narrow."""
    mean, half = ci99(values)
    rounding = 1e-9 * abs(theory)  # an exact match (zero-width interval) still allows float rounding
    print(f"\n[theory] {label}: simulated {mean:.4f}, 99% CI [{mean - half:.4f}, {mean + half:.4f}] "
          f"(+-{100 * half / abs(theory):.2f}%), theory {theory:.4f}, R={len(values)}")
    assert abs(mean - theory) <= half + rounding, (
        f"{label}: theory {theory:.6g} outside the 99% CI {mean:.6g} +- {half:.3g} of {len(values)} replications")
    assert half <= max_rel_half_width * abs(theory), (
        f"{label}: 99% CI half-width {half:.3g} is over {max_rel_half_width:.0%} of {theory:.6g}: too noisy to judge")


def facility_summary(out, node_id: str) -> dict:
    f = dict(out.facilities[node_id])
    span = f["span_h"]
    f["arrival_rate_per_h"] = f["arrivals"] / span
    f["mean_wait_h"] = f["wait_sum_h"] / f["started"]
    return f


# ---------------------------------------------------------------------- per-replication summaries
# Each runs in a worker process and returns a few numbers, not the whole output.


def summarise_station(out) -> dict:
    m = measured(out)
    totals = out.shipments["stage_totals_h"][m]
    return {"n": int(m.sum()), "W": float(totals[:, QH].sum(axis=1).mean()), "Wq": float(totals[:, Stage.QUEUE].mean()),
            "ORIGIN": facility_summary(out, "ORIGIN")}


def summarise_tandem(out) -> dict:
    m = measured(out)
    totals = out.shipments["stage_totals_h"][m]
    result = {"n": int(m.sum()), "W": float(totals[:, QH].sum(axis=1).mean())}
    for node in TANDEM:
        result[node] = facility_summary(out, node)
        result[node]["W"] = float(place_time(out, node, QH)[m].mean())
        result[node]["Wq"] = float(place_time(out, node, [Stage.QUEUE])[m].mean())
    return result


SUMMARIES = {"station": summarise_station, "tandem": summarise_tandem}


def _replicate(task: tuple[str, int, str | None, dict]) -> object:
    file, replication, summary, kwargs = task
    out = run_replication(load_scenario(file), replication, **kwargs)
    return out if summary is None else SUMMARIES[summary](out)


class Runs:
    """Runs every replication of a scenario on a small process pool, caching what it returns."""

    def __init__(self):
        workers = max(1, min(2, os.cpu_count() or 1))
        method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
        self.pool = ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context(method))
        self.cache: dict[tuple, list] = {}

    def __call__(self, file: str | Path, summary: str | None = None, **kwargs) -> list:
        """Per-replication summaries (or, with no summary, whole outputs) of a scenario's replications."""
        path = str(file if isinstance(file, Path) else THEORY / file)
        key = (path, summary, tuple(sorted(kwargs.items())))
        if key not in self.cache:
            reps = load_scenario(path).simulation.replications
            tasks = [(path, r, summary, kwargs) for r in range(reps)]
            self.cache[key] = list(self.pool.map(_replicate, tasks))
        return self.cache[key]


@pytest.fixture(scope="module")
def runs():
    r = Runs()
    yield r
    r.pool.shutdown()


# ---------------------------------------------------------------------- 1, 9: M/M/1 and M/M/c


@pytest.mark.slow
def test_mm1_time_in_system_and_wait(runs):
    """At an M/M/1 station (rho 0.7) the mean time in system and the mean queue wait equal the M/M/1 formulas."""
    reps = runs("mm1.yaml", "station", keep_stages=False, sample_queues=False)
    assert min(r["n"] for r in reps) > 20_000
    assert_theory("M/M/1 W (QUEUE+HANDLING) h", [r["W"] for r in reps], mmc_time_in_system_h(*MM1))
    assert_theory("M/M/1 Wq (QUEUE) h", [r["Wq"] for r in reps], mmc_wait_h(*MM1))


@pytest.mark.slow
def test_mm3_time_in_system_and_wait(runs):
    """At an M/M/3 station (rho 0.8) the mean time in system and the mean queue wait equal the M/M/c formulas."""
    reps = runs("mm3.yaml", "station", keep_stages=False, sample_queues=False)
    assert min(r["n"] for r in reps) > 50_000
    assert_theory("M/M/3 W (QUEUE+HANDLING) h", [r["W"] for r in reps], mmc_time_in_system_h(*MM3))
    assert_theory("M/M/3 Wq (QUEUE) h", [r["Wq"] for r in reps], mmc_wait_h(*MM3))


@pytest.mark.slow
@pytest.mark.parametrize("file, station", [("mm1.yaml", MM1), ("mm3.yaml", MM3)])
def test_utilisation_is_rho(runs, file, station):
    """A facility's measured utilisation equals rho = lambda / (c mu)."""
    reps = runs(file, "station", keep_stages=False, sample_queues=False)
    assert_theory(f"{file} utilisation", [r["ORIGIN"]["utilization"] for r in reps], mmc_utilization(*station))


# ---------------------------------------------------------------------- 2: Jackson tandem


@pytest.mark.slow
def test_jackson_tandem(runs):
    """In three M/M/c stations in series each station's mean time matches its own M/M/c and the total matches the Jackson sum."""
    reps = runs("tandem.yaml", "tandem", sample_queues=False)
    assert min(r["n"] for r in reps) > 15_000
    for node, (service_h, servers) in TANDEM.items():
        assert_theory(f"tandem {node} W h", [r[node]["W"] for r in reps],
                      mmc_time_in_system_h(TANDEM_RATE, service_h, servers))
        assert_theory(f"tandem {node} utilisation", [r[node]["utilization"] for r in reps],
                      mmc_utilization(TANDEM_RATE, service_h, servers))
    assert_theory("tandem total W h", [r["W"] for r in reps],
                  jackson_tandem_time_in_system_h(TANDEM_RATE, list(TANDEM.values())))


@pytest.mark.slow
def test_tandem_stations_do_not_add_other_time(runs):
    """In the tandem every measured hour is queue or handling at one of the three stations (roads are negligible)."""
    reps = runs("tandem.yaml", "tandem", sample_queues=False)
    for r in reps:
        assert sum(r[node]["W"] for node in TANDEM) == pytest.approx(r["W"], rel=1e-9)


# ---------------------------------------------------------------------- 5: Little's law


def _assert_little(label: str, f: dict, rel: float = 0.01) -> float:
    """Lq = lambda * Wq on one replication's sample path; returns the relative gap.

    The only gap is the few shipments queued at either end of the measured window (counted whole in
    the waits, partly in the time-average), worth far less than 1% over thousands of arrivals.
    """
    assert f["arrivals"] > 1000, label
    little = f["arrival_rate_per_h"] * f["mean_wait_h"]
    assert f["mean_queue"] == pytest.approx(little, rel=rel), (
        f"{label}: Lq {f['mean_queue']:.4f} vs lambda*Wq {little:.4f}")
    return f["mean_queue"] / little - 1.0


@pytest.mark.slow
@pytest.mark.parametrize("file, nodes", [("mm1.yaml", ["ORIGIN"]), ("mm3.yaml", ["ORIGIN"]),
                                         ("tandem.yaml", list(TANDEM))])
def test_littles_law_at_facilities(runs, file, nodes):
    """At every facility of every replication the mean queue equals arrival rate times mean wait (Little's law)."""
    if file == "tandem.yaml":
        reps = runs(file, "tandem", sample_queues=False)
    else:
        reps = runs(file, "station", keep_stages=False, sample_queues=False)
    gaps = [_assert_little(f"{file} rep {i} {node}", r[node]) for i, r in enumerate(reps) for node in nodes]
    print(f"\n[little] {file}: largest |Lq / (lambda Wq) - 1| over {len(gaps)} facility-runs: "
          f"{100 * max(abs(g) for g in gaps):.4f}%")
    if file != "tandem.yaml":  # and the time-average queue itself matches Lq of M/M/c
        station = MM1 if file == "mm1.yaml" else MM3
        assert_theory(f"{file} Lq (time-average queue)", [r["ORIGIN"]["mean_queue"] for r in reps],
                      mmc_mean_queue(*station))


def test_littles_law_through_a_closure(runs):
    """Little's law holds at a facility even when a 10-day closure makes its queue far from stationary."""
    gaps = []
    for out in runs("closure_facility.yaml"):
        f = facility_summary(out, "ORIGIN")
        assert f["mean_queue"] > 50  # the closure really did pile shipments up
        gaps.append(_assert_little(f"closure rep {out.replication}", f))
    print(f"\n[little] closure: largest |Lq / (lambda Wq) - 1|: {100 * max(abs(g) for g in gaps):.4f}%")


# ---------------------------------------------------------------------- 3: scheduled departures


def test_scheduled_service_wait_is_half_the_headway(runs):
    """Poisson arrivals at a stop served every 24 h with ample room wait 12 h on average for a departure."""
    reps = runs("scheduled.yaml", keep_stages=False, sample_queues=False)
    waits = []
    for out in reps:
        m = measured(out)
        assert m.sum() > 3500
        waits.append(out.shipments["stage_totals_h"][m, Stage.WAIT].mean())
        assert out.shipments["stage_totals_h"][m, Stage.WAIT].max() <= 24.0 + 1e-9
    assert_theory("scheduled every 24 h: WAIT h", waits, scheduled_departure_wait_h(24.0))


# ---------------------------------------------------------------------- 4: weekly vessel over capacity


def backlog_at(out, t_h: float) -> int:
    """Shipments created by t and not yet delivered at t."""
    s = out.shipments
    delivered = ~np.isnan(s["delivered_h"]) & (s["delivered_h"] <= t_h)
    return int(((s["created_h"] <= t_h) & ~delivered).sum())


def test_weekly_vessel_throughput_is_its_capacity(runs):
    """A weekly vessel of 100 TEU facing 120 TEU a week delivers exactly 100/7 TEU a day, and the backlog grows by about 20 TEU a week."""
    scenario = load_scenario(THEORY / "weekly_vessel.yaml")
    [vessel], [flow] = scenario.services, scenario.demand
    capacity_teu, every_h = vessel.capacity_teu, vessel.departures.every_h
    demand_teu_per_week = flow.teu_per_year / 365.0 * 7.0
    assert (capacity_teu, every_h) == (100, 168) and demand_teu_per_week == pytest.approx(120.0)
    reps = runs("weekly_vessel.yaml", keep_stages=False, sample_queues=False)
    throughput, growth = [], []
    for out in reps:
        s = out.shipments
        measured_days = (out.horizon_h - out.warmup_h) / 24.0
        in_window = (s["delivered_h"] >= out.warmup_h) & (s["delivered_h"] < out.horizon_h)
        throughput.append(s["teu"][in_window].sum() / measured_days)
        line = out.lines["VESSEL"]
        assert line["departures"] == 100 and line["load_factor_sum"] == pytest.approx(100.0)  # all sail full
        mid_h = (out.warmup_h + out.horizon_h) / 2
        start, middle, end = backlog_at(out, out.warmup_h), backlog_at(out, mid_h), backlog_at(out, out.horizon_h)
        assert 0 < start < middle < end, (start, middle, end)
        assert line["waiting_at_end"] == end  # nothing on board at the horizon: the backlog waits at the quay
        growth.append((end - start) / (measured_days / 7.0))
    assert_theory("weekly vessel K=100: TEU delivered/day", throughput,
                  batch_service_throughput_teu_per_day(capacity_teu, every_h))
    assert_theory("weekly vessel: backlog growth TEU/week", growth, demand_teu_per_week - capacity_teu * 168 / every_h)


# ---------------------------------------------------------------------- 10: a segment gate over capacity


def test_gate_throughput_is_capacity_per_day(runs):
    """A road segment admitting 24 trucks a day, facing 30 a day, passes exactly 24 a day and queues the rest."""
    [road] = load_scenario(THEORY / "gate.yaml").network.segments
    assert road.capacity_per_day == 24
    throughput, entered = [], []
    for out in runs("gate.yaml", keep_stages=False, sample_queues=False):
        s = out.shipments
        measured_days = (out.horizon_h - out.warmup_h) / 24.0
        in_window = (s["delivered_h"] >= out.warmup_h) & (s["delivered_h"] < out.horizon_h)
        throughput.append(in_window.sum() / measured_days)
        gate = out.gates["ROAD@ORIGIN"]
        entered.append(gate["entered"] / measured_days)
        assert gate["queue_at_end"] > 400  # demand 6 a day above capacity keeps piling up
    assert_theory("gate N=24/day: trucks delivered/day", throughput, road.capacity_per_day)
    assert_theory("gate N=24/day: trucks entered/day", entered, road.capacity_per_day)


# ---------------------------------------------------------------------- 6, 8: conservation and closures


def assert_conserved(out, max_age_in_transit_h: float | None = None) -> None:
    """Every shipment is delivered or in transit, and a delivered one's stages add up to its journey."""
    s = out.shipments
    n = len(s["flow"])
    in_transit = np.isnan(s["delivered_h"])
    for f in np.unique(s["flow"]):
        of_flow = s["flow"] == f
        created = int(of_flow.sum())
        delivered = int((of_flow & ~in_transit).sum())
        assert created == delivered + int((of_flow & in_transit).sum())
        assert delivered > 0
    done = ~in_transit
    assert np.all(s["delivered_h"][done] >= s["created_h"][done])
    assert np.all(s["delivered_h"][done] <= out.end_h)  # the run follows its cohort past the horizon
    # No time goes missing or is counted twice: a journey is exactly the sum of its stages.
    journey = s["delivered_h"][done] - s["created_h"][done]
    np.testing.assert_allclose(s["stage_totals_h"][done].sum(axis=1), journey, rtol=1e-9, atol=1e-6)
    if "stage_kind" in s:  # the per-kind totals are the stage rows summed
        rows = np.zeros((n, len(Stage)))
        np.add.at(rows, (s["stage_shipment"], s["stage_kind"]), s["stage_end_h"] - s["stage_start_h"])
        np.testing.assert_allclose(rows, s["stage_totals_h"], rtol=1e-9, atol=1e-6)
        assert np.all(s["stage_end_h"] > s["stage_start_h"])
    if max_age_in_transit_h is not None:  # none is stuck: only recent shipments are still travelling
        assert np.all(s["created_h"][in_transit] >= out.horizon_h - max_age_in_transit_h)


def test_conservation_on_the_example_with_disruptions(runs):
    """On the example corridor (a border slowdown and a recurring rail closure) every shipment is delivered or in transit and its time fully accounted for."""
    for out in runs(EXAMPLE):
        assert_conserved(out, max_age_in_transit_h=40 * 24.0)


def stage_rows(out, place: str, kind: Stage):
    s = out.shipments
    rows = (s["stage_place"] == out.places.index(place)) & (s["stage_kind"] == int(kind))
    return s["stage_shipment"][rows], s["stage_start_h"][rows], s["stage_end_h"][rows]


def test_facility_closure_holds_shipments_and_loses_none(runs):
    """A facility closed from day 10 to day 20 starts no handling in the window, holds its arrivals in queue and then handles every one."""
    for out in runs("closure_facility.yaml"):
        assert_conserved(out, max_age_in_transit_h=24.0)
        close_h, open_h = 10 * 24.0, 20 * 24.0
        _, start, _ = stage_rows(out, "ORIGIN", Stage.HANDLING)
        assert not np.any((start >= close_h) & (start < open_h))
        assert np.any(start == open_h)  # the queue is served the moment it reopens
        s = out.shipments
        caught = (s["created_h"] >= close_h) & (s["created_h"] < open_h)
        assert caught.sum() > 400
        assert np.all(s["created_h"][caught] + s["stage_totals_h"][caught, Stage.QUEUE] >= open_h - 1e-9)
        assert not np.isnan(s["delivered_h"][caught]).any()


def test_segment_closure_holds_trucks_and_loses_none(runs):
    """A road closed from day 10 to day 20 lets no truck on in either direction in the window; they wait and all get through."""
    for out in runs("closure_segment.yaml"):
        assert_conserved(out, max_age_in_transit_h=24.0)
        close_h, open_h = 10 * 24.0, 20 * 24.0
        _, start, _ = stage_rows(out, "ROAD", Stage.TRAVEL)
        assert not np.any((start >= close_h) & (start < open_h))
        who, w_start, w_end = stage_rows(out, "ROAD", Stage.WAIT)
        held = (w_start >= close_h) & (w_start < open_h)
        assert np.all(w_end[held] == open_h)
        assert len(np.unique(out.shipments["flow"][who[held]])) == 2  # both directions were held
        assert held.sum() > 300


# ---------------------------------------------------------------------- 7: reproducibility


def _same(a, b) -> bool:
    return a.keys() == b.keys() and all(np.array_equal(a[k], b[k], equal_nan=True) for k in a)


def test_same_seed_same_output(runs):
    """The same scenario, replication and seed give identical outputs, also when run in another process."""
    scenario = load_scenario(EXAMPLE)
    first, second = run_replication(scenario, 1), run_replication(scenario, 1)
    assert len(first.shipments["flow"]) > 100
    assert _same(first.shipments, second.shipments)
    assert _same(first.queue_samples, second.queue_samples)
    assert first.facilities == second.facilities and first.lines == second.lines and first.gates == second.gates
    elsewhere = runs(EXAMPLE)[1]  # run in a worker process
    assert _same(first.shipments, elsewhere.shipments)
    assert first.facilities == elsewhere.facilities and first.lines == elsewhere.lines


def test_other_replication_or_seed_differs(runs):
    """Another replication index or another seed gives a different sample path."""
    base = runs(EXAMPLE)[0].shipments
    other_seed = run_replication(load_scenario(EXAMPLE), 0, seed=8).shipments
    for other in (runs(EXAMPLE)[1].shipments, other_seed):
        n = min(len(base["created_h"]), len(other["created_h"]))
        assert not np.array_equal(base["created_h"][:n], other["created_h"][:n])
        assert not _same(base, other)
