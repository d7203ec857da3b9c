"""Fleets and empty boxes (engine/fleets.py, engine/empties.py) against theory and invariants.

Theory: a saturated shuttle of N vehicles of K TEU with a mean cycle C (loaded run + turnaround +
empty run + turnaround) carries N*K/C (renewal reward); a scheduled timetable with enough vehicles
is never late and with N too few departs every RTT/N; a capacity cut to f carries f of what the
uncut service carries when saturated. Statistical comparisons use the 99% Student-t interval of
per-replication values, which must contain theory and be narrow (half-width under 5%).
"""

from __future__ import annotations

import copy
import json
import math
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from corridor_sim import load_scenario
from corridor_sim.cli import main
from corridor_sim.distributions import mean_of
from corridor_sim.engine import run_replication
from corridor_sim.engine.fleets import EMPTY, IDLE, LOADED, OUT, TURNAROUND, vehicles_needed
from corridor_sim.engine.model import CorridorModel
from corridor_sim.network import CorridorNetwork
from corridor_sim.scenario import scenario_from_dict

FLEETS = Path(__file__).parent / "scenarios" / "fleets"
THEORY = Path(__file__).parent / "scenarios" / "theory"


def variant(file: str, edit) -> object:
    """The scenario file with `edit(data)` applied to its merged data."""
    path = FLEETS / file
    data = copy.deepcopy(load_scenario(path).data())
    edit(data)
    return scenario_from_dict(data, file=str(path))


def ci99(values) -> tuple[float, float]:
    x = np.asarray(values, dtype=float)
    return float(x.mean()), float(stats.t.ppf(0.995, len(x) - 1) * x.std(ddof=1) / math.sqrt(len(x)))


def assert_theory(label: str, values, theory: float, max_rel_half_width: float = 0.05) -> None:
    """Theory lies in the 99% interval of the per-replication values, and the interval is narrow."""
    mean, half = ci99(values)
    print(f"\n[theory] {label}: simulated {mean:.4f}, 99% CI [{mean - half:.4f}, {mean + half:.4f}], "
          f"theory {theory:.4f}, R={len(values)}")
    assert abs(mean - theory) <= half + 1e-9 * abs(theory), f"{label}: {theory} outside {mean} +- {half}"
    assert half <= max_rel_half_width * abs(theory), f"{label}: interval +-{half} too wide to judge"


def delivered_teu_per_day(out) -> float:
    s = out.shipments
    window = (s["delivered_h"] >= out.warmup_h) & (s["delivered_h"] < out.horizon_h)
    return float(s["teu"][window].sum()) / ((out.horizon_h - out.warmup_h) / 24.0)


def replications(scenario, **kwargs) -> list:
    return [run_replication(scenario, r, keep_stages=False, sample_queues=False, **kwargs)
            for r in range(scenario.simulation.replications)]


def shuttle_theory_teu_per_day(scenario, vehicles: int | None = None, factor: float = 1.0) -> float:
    """N * K / C per day for the shuttle scenario, read from the file."""
    [service], [seg] = scenario.services, scenario.network.segments
    run_h = seg.length_km / seg.speed_kmh
    cycle_h = 2 * run_h + 2 * mean_of(service.fleet.turnaround_h)
    n = service.fleet.vehicles if vehicles is None else vehicles
    return n * service.capacity_teu * factor / cycle_h * 24.0


# ---------------------------------------------------------------------- saturated shuttle: N*K/C


@pytest.mark.slow
def test_saturated_shuttle_carries_n_k_over_c():
    """A when-full shuttle of 3 vessels of 20 TEU with a 24 h mean cycle, facing far more demand, carries N*K/C = 60 TEU a day."""
    scenario = load_scenario(FLEETS / "shuttle.yaml")
    theory = shuttle_theory_teu_per_day(scenario)
    assert theory == pytest.approx(60.0)
    assert scenario.demand[0].teu_per_year / 365 > 1.5 * theory  # saturated
    outs = replications(scenario)
    assert_theory("shuttle N=3 K=20 C=24h: TEU/day", [delivered_teu_per_day(o) for o in outs], theory)
    for o in outs:
        f = o.extra["fleets"]["SHUTTLE"]
        h = f["vehicle_h"]
        assert sum(h.values()) == pytest.approx(f["vehicles"] * f["span_h"])  # every vehicle-hour in one state
        assert h["idle"] == 0.0  # the fleet binds: no vehicle ever waits for cargo
        # The loaded and the empty run take the same 10 h: equal shares (up to runs cut by the window).
        assert h["loaded"] == pytest.approx(h["empty"], rel=0.01)
        assert o.lines["SHUTTLE"]["load_factor_sum"] == o.lines["SHUTTLE"]["departures"]  # all sail full


@pytest.mark.slow
def test_saturated_shuttle_at_capacity_factor_half_carries_half():
    """The same shuttle with its capacity cut to 0.5 for the whole run carries half of N*K/C, on as many sailings."""
    horizon = load_scenario(FLEETS / "shuttle.yaml").simulation.horizon_days
    scenario = variant("shuttle.yaml", lambda d: d.setdefault("disruptions", []).append(
        {"id": "shallow", "target": "SHUTTLE", "start_day": 0, "end_day": horizon, "capacity_factor": 0.5}))
    outs = replications(scenario)
    assert_theory("shuttle at factor 0.5: TEU/day", [delivered_teu_per_day(o) for o in outs],
                  shuttle_theory_teu_per_day(scenario, factor=0.5))


@pytest.mark.slow
def test_vehicles_factor_takes_that_share_of_the_fleet_out():
    """With vehicles_factor 2/3 over the whole run, 2 of the 3 vessels run: the shuttle carries 2*K/C and one vessel's time is out of service."""
    horizon = load_scenario(FLEETS / "shuttle.yaml").simulation.horizon_days
    scenario = variant("shuttle.yaml", lambda d: d.setdefault("disruptions", []).append(
        {"id": "drydock", "target": "SHUTTLE", "start_day": 0, "end_day": horizon, "vehicles_factor": 2 / 3}))
    outs = replications(scenario)
    assert_theory("shuttle with 2 of 3 vessels: TEU/day", [delivered_teu_per_day(o) for o in outs],
                  shuttle_theory_teu_per_day(scenario, vehicles=2))
    for o in outs:
        f = o.extra["fleets"]["SHUTTLE"]
        assert f["vehicle_h"]["out_of_service"] == pytest.approx(f["span_h"])


# ---------------------------------------------------------------------- capacity factor without a fleet


def test_capacity_cut_never_raises_throughput_of_a_when_full_line():
    """A 140 TEU when-full line facing 548 TEU a day, cut to 0.3, carries 0.3 of what it carries uncut (never more), on no more sailings, and its transit is not shorter."""
    cut_scenario = variant("when_full_cut.yaml", lambda d: d.setdefault("disruptions", []).append(
        {"id": "ice", "target": "LINE", "start_day": 0, "end_day": 60, "capacity_factor": 0.3}))
    uncut = replications(load_scenario(FLEETS / "when_full_cut.yaml"))
    cut = replications(cut_scenario)
    ratios, transit_uncut, transit_cut = [], [], []
    for a, b in zip(uncut, cut):
        assert delivered_teu_per_day(b) <= delivered_teu_per_day(a)
        assert b.lines["LINE"]["departures"] <= a.lines["LINE"]["departures"]
        ratios.append(delivered_teu_per_day(b) / delivered_teu_per_day(a))
        for out, into in ((a, transit_uncut), (b, transit_cut)):
            s = out.shipments
            done = (s["created_h"] >= out.warmup_h) & ~np.isnan(s["delivered_h"])
            into.append(float((s["delivered_h"] - s["created_h"])[done].mean()))
    assert_theory("when-full 140 TEU at factor 0.3: throughput / uncut", ratios, 0.3)
    assert min(transit_cut) > max(transit_uncut)


# ---------------------------------------------------------------------- scheduled timetables


def departures_of(scenario, line: int = 0) -> tuple[np.ndarray, dict, object]:
    """Departure times of one line after the warm-up, the fleet's statistics and the output."""
    model = CorridorModel(scenario, keep_stages=False, sample_queues=False)
    [fleet] = model.fleets.values()
    fleet.trace = []
    out = model.run()
    times = np.array([t for t, ln, *_ in fleet.trace if ln == line and t >= model.warmup_h])
    return times, out.extra["fleets"][fleet.service.id], out


def with_fleet(vehicles: int, late: str = "wait", reverse: bool = False):
    def edit(d):
        d["services"][0]["fleet"]["vehicles"] = vehicles
        d["services"][0]["late"] = late
        d["services"][0]["reverse"] = reverse
    return edit


def test_scheduled_service_with_enough_vehicles_is_never_late():
    """A shuttle every 10 h with a 24 h round trip and ceil(24/10) = 3 vessels is never late and departs every 10 h."""
    scenario = variant("scheduled.yaml", with_fleet(3))
    needed, rtt_h = vehicles_needed(CorridorNetwork.from_scenario(scenario), scenario.services[0])
    assert (needed, rtt_h) == (3, pytest.approx(24.0))
    times, fleet, _ = departures_of(scenario)
    assert fleet["late_departures"] == 0 and fleet["skipped"] == 0
    np.testing.assert_allclose(np.diff(times), 10.0)


@pytest.mark.parametrize("vehicles", [1, 2])
def test_scheduled_service_with_too_few_vehicles_departs_every_rtt_over_n(vehicles):
    """With fewer vessels than the timetable needs, departures wait for a vessel and come every RTT/N on average."""
    scenario = variant("scheduled.yaml", with_fleet(vehicles))
    _, rtt_h = vehicles_needed(CorridorNetwork.from_scenario(scenario), scenario.services[0])
    times, fleet, _ = departures_of(scenario)
    gaps = np.diff(times)
    assert gaps.mean() == pytest.approx(rtt_h / vehicles, rel=0.01)
    assert gaps.min() >= 10.0 - 1e-9  # never more often than the timetable
    assert fleet["late_departures"] > 0 and fleet["late_h_sum"] > 0


def test_late_cancel_keeps_the_timetable_and_cancels_departures_without_a_vessel():
    """With late: cancel, one vessel on a 24 h round trip takes every third 10 h slot, on time (every 30 h), and the rest are cancelled."""
    times, fleet, out = departures_of(variant("scheduled.yaml", with_fleet(1, late="cancel")))
    np.testing.assert_allclose(np.diff(times), 30.0)
    assert fleet["late_departures"] == 0
    assert fleet["skipped"] == pytest.approx(2 * fleet["departures"], abs=2)
    assert out.lines["SHUTTLE"]["cancelled"] == fleet["skipped"]


def test_both_ways_timetable_needs_vehicles_for_each_end():
    """Running both ways on one timetable (every 10 h, 12 h one way with turnaround), a vessel also waits at each end for the next slot: 4 vessels (not ceil(RTT/H) = 3) are needed, and 3 are late."""
    four = variant("scheduled.yaml", with_fleet(4, reverse=True))
    needed, rtt_h = vehicles_needed(CorridorNetwork.from_scenario(four), four.services[0])
    assert needed == 4 and math.ceil(rtt_h / 10.0) == 3
    for line in (0, 1):
        times, fleet, _ = departures_of(four, line)
        np.testing.assert_allclose(np.diff(times), 10.0)
    assert fleet["late_departures"] == 0
    _, fleet, _ = departures_of(variant("scheduled.yaml", with_fleet(3, reverse=True)))
    assert fleet["late_departures"] > 0


def test_validate_warns_when_a_timetable_needs_more_vehicles(capsys):
    """`validate` accepts a fleet too small for its timetable (exit 0) and warns on stderr how many vehicles it needs."""
    status = main(["validate", str(FLEETS / "conservation.yaml")])
    out, err = capsys.readouterr()
    assert status == 0 and "OK" in out
    assert "warning:" in err and "services[0].fleet.vehicles: 4 vehicles" in err and "it needs 6" in err
    status = main(["validate", str(FLEETS / "scheduled.yaml")])  # 3 vessels: enough
    assert status == 0 and "warning" not in capsys.readouterr().err


# ---------------------------------------------------------------------- conservation


def test_vehicles_are_conserved_at_every_event():
    """After every event, each fleet's vehicles are each in exactly one state (loaded, empty, turnaround, idle, out), the counts add up to N, idle ones wait in the idle lists and a loaded one's run is under way."""
    scenario = load_scenario(FLEETS / "conservation.yaml")
    model = CorridorModel(scenario, keep_stages=False, sample_queues=False)
    fleets = list(model.fleets.values())
    assert {f.service.id for f in fleets} == {"TRAIN", "PAIR", "LOOP"}
    env, step = model.env, model.env.step
    seen = Counter()

    def checked_step():
        step()
        for f in fleets:
            states = Counter(v.state for v in f.vehicles)
            assert sum(f.counts) == f.n == len(f.vehicles)
            assert [states[s] for s in range(len(f.counts))] == f.counts, (env.now, f.service.id)
            idle = [v for q in f.idle for v in q]
            assert sorted(v.id for v in idle) == sorted(v.id for v in f.vehicles if v.state == IDLE)
            assert sorted(v.id for v in f.out) == sorted(v.id for v in f.vehicles if v.state == OUT)
            for v in f.vehicles:
                if v.state == LOADED:
                    assert v.taken.triggered and not v.taken.value.processed
            seen.update((f.service.id, s) for s, c in enumerate(f.counts) if c)

    changes = Counter()

    def on_change(fleet):  # also within an event, at every change of a vehicle's state
        assert sum(fleet.counts) == fleet.n and min(fleet.counts) >= 0
        changes[fleet.service.id] += 1

    for f in fleets:
        f.observer = on_change
    env.step = checked_step
    out = model.run()
    assert min(changes.values()) > 100
    # Every state was visited where it applies: the train runs back empty, vehicles were withdrawn.
    assert ("TRAIN", EMPTY) in seen and ("TRAIN", OUT) in seen and ("PAIR", OUT) in seen and ("LOOP", OUT) in seen
    assert ("LOOP", TURNAROUND) in seen and ("PAIR", LOADED) in seen
    assert ("PAIR", EMPTY) not in seen and ("LOOP", EMPTY) not in seen  # both ways / a loop: no empty run
    shares = out.extra["fleets"]["PAIR"]["vehicle_h"]
    assert sum(shares.values()) == pytest.approx(3 * scenario.simulation.horizon_days * 24.0)


def test_empty_runs_take_the_border_and_paths_like_loaded_runs():
    """A train returning empty is handled at a border that handles every train and takes a path on the limited segment, as a loaded one does."""
    scenario = load_scenario(FLEETS / "conservation.yaml")
    model = CorridorModel(scenario, keep_stages=False, sample_queues=False)
    out = model.run()
    train = out.extra["fleets"]["TRAIN"]
    loaded, empty = out.lines["TRAIN"]["departures"], train["empty_runs"]
    border = out.facilities["X"]["arrivals"]
    # Each run passing X is handled there once: loaded runs (counted when they end) and empty runs;
    # runs still between the first stop and X at the horizon are the only difference.
    assert loaded + empty <= border <= loaded + empty + 2 * train["vehicles"]
    assert model.gates[("AX", "X")].entered >= empty > 50  # the empty trains' way back through AX


# ---------------------------------------------------------------------- closures


def test_after_a_closure_only_idle_vehicles_leave_together():
    """After a 10-day closure of a when-full line, vessels leave a stop at one instant only if each was idle there (at most the fleet), where without a fleet the whole backlog sails at once."""
    def closed(fleet):
        def edit(d):
            d["disruptions"] = [{"id": "storm", "target": "LINE", "start_day": 20, "end_day": 30, "capacity_factor": 0}]
            if fleet:
                d["services"][0]["fleet"] = {"vehicles": 4, "turnaround_h": 6}
        return edit
    with_ = variant("when_full_cut.yaml", closed(True))
    model = CorridorModel(with_, keep_stages=False, sample_queues=False)
    [fleet] = model.fleets.values()
    fleet.trace = []
    model.run()
    by_instant = Counter((t, line) for t, line, *_ in fleet.trace)
    groups = {k: n for k, n in by_instant.items() if n > 1}
    assert groups and max(groups.values()) <= 4  # at the reopening, all four idle vessels sail
    for (t, line), n in groups.items():
        first = next(e for e in fleet.trace if (e[0], e[1]) == (t, line))
        assert first[3] >= n  # as many were idle at the stop as left at that instant
    without = run_replication(variant("when_full_cut.yaml", closed(False)), 0)
    s = without.shipments
    travel = (s["stage_kind"] == 4) & (s["stage_start_h"] == 30 * 24.0)
    assert s["teu"][s["stage_shipment"][travel]].sum() > 7 * 140  # today: over seven vessels at one instant


# ---------------------------------------------------------------------- a fleet that never binds


def test_a_fleet_too_large_to_bind_changes_nothing():
    """When-full lines with fleets far larger than they need and no turnaround give exactly the shipments they give without a fleet."""
    base = load_scenario(THEORY / "when_full.yaml")
    data = copy.deepcopy(base.data())
    for service in data["services"]:
        service["fleet"] = {"vehicles": 30}
    fleet = scenario_from_dict(data, file="when_full_with_fleet")
    a, b = run_replication(base, 0), run_replication(fleet, 0)
    for key in a.shipments:
        np.testing.assert_array_equal(a.shipments[key], b.shipments[key])
    assert a.lines == b.lines
    assert b.extra["fleets"]["HIGH"]["empty_runs"] > 100  # the vessels did go back empty


def test_a_fleet_running_both_ways_does_not_gather_where_no_cargo_starts():
    """Vessels of a when-full line running both ways with cargo one way only come back empty when the loaded end needs one: the line keeps carrying all its demand."""
    data = copy.deepcopy(load_scenario(THEORY / "when_full.yaml").data())
    data["services"] = [{**data["services"][0], "reverse": True, "fleet": {"vehicles": 2, "turnaround_h": 1}}]
    data["demand"] = [data["demand"][0]]
    scenario = scenario_from_dict(data, file="one_way_cargo")
    out = run_replication(scenario, 0, keep_stages=False)
    lines = out.lines
    assert lines["HIGH~rev"]["teu_carried"] == 0 and lines["HIGH~rev"]["departures"] >= lines["HIGH"]["departures"] - 2
    # Two vessels, 4 h each way plus 1 h turnarounds: 10 h a cycle carries 2 x 20 TEU, under the
    # 100 TEU a day demand, so the line carries 96 TEU a day and the rest waits.
    assert delivered_teu_per_day(out) == pytest.approx(2 * 20 * 24 / 10, rel=0.03)


# ---------------------------------------------------------------------- empty boxes


def empty_scenario(share: float = 0.4):
    """A rail line A<->B every 12 h; a flow A->B of 1 TEU boxes sends `share` of them back empty."""
    return scenario_from_dict({
        "name": "empty boxes", "simulation": {"horizon_days": 60, "warmup_days": 10, "replications": 6, "seed": 1105},
        "network": {"nodes": [{"id": "A", "kind": "rail_terminal", "lon": 0, "lat": 0},
                              {"id": "B", "kind": "rail_terminal", "lon": 1, "lat": 0,
                               "handling": {"servers": 2, "time_h": {"dist": "exponential", "mean": 0.1}}}],
                    "segments": [{"id": "R", "from": "A", "to": "B", "mode": "rail", "length_km": 400,
                                  "speed_kmh": 50, "gauge_mm": 1435}]},
        "services": [{"id": "TRAIN", "mode": "rail", "stops": ["A", "B"], "capacity_teu": 100,
                      "departures": {"every_h": 12}}],
        "demand": [{"id": "AB", "origin": "A", "destination": "B", "teu_per_year": 36500,
                    "empty_return_share": share, "empty_after_h": {"dist": "exponential", "mean": 24}}],
        "costs": {"rail": {"usd_per_teu_km": 0.5, "co2_kg_per_teu_km": 0.2}},
    }, file="empty boxes")


def test_empty_returns_occupy_exactly_the_teu_the_share_implies():
    """With empty_return_share 0.4, exactly floor(0.4 x boxes delivered) empty boxes go back, they are all the reverse train carries, and they fill 0.4 of the loaded TEU a day."""
    scenario = empty_scenario(0.4)
    per_day = []
    for r in range(scenario.simulation.replications):
        model = CorridorModel(scenario, replication=r, keep_stages=True, sample_queues=False)
        out = model.run()
        s, e = out.shipments, out.extra["empties"]
        delivered = int((~np.isnan(s["delivered_h"])).sum())
        assert e["launched"] == math.floor(0.4 * delivered + 1e-9)
        in_transit = model.lines["TRAIN~rev"].waiting()
        assert e["returned"] + in_transit <= e["launched"]
        # The reverse train carries the empties and nothing else: its TEU are exactly theirs.
        assert out.lines["TRAIN~rev"]["teu_carried"] == e["line_teu"]["TRAIN~rev"]
        assert "TRAIN" not in e["line_teu"]
        # No record belongs to an empty box: every delivered journey is exactly its own stages.
        assert s["stage_shipment"].min() >= 0
        done = ~np.isnan(s["delivered_h"])
        np.testing.assert_allclose(s["stage_totals_h"][done].sum(axis=1), (s["delivered_h"] - s["created_h"])[done],
                                   rtol=1e-9, atol=1e-6)
        per_day.append(e["line_teu"]["TRAIN~rev"] / delivered_teu_per_day(out) / 50.0)
    assert_theory("empty TEU on the reverse train / loaded TEU delivered", per_day, 0.4)


def test_empty_legs_are_charged_to_the_loaded_flow(tmp_path):
    """The flow's cost and CO2 per TEU include share x the empty way back; summary.json reports that part and the service's empty TEU a day."""
    from corridor_sim.experiments import run

    scenario = empty_scenario(0.4)
    res = run(scenario, replications=2, progress=False)
    row = res.flows.iloc[0]
    assert row.empty_cost_usd_per_teu == pytest.approx(0.4 * 400 * 0.5)
    assert row.empty_co2_kg_per_teu == pytest.approx(0.4 * 400 * 0.2)
    assert row.cost_usd_per_teu == pytest.approx(1.4 * 400 * 0.5)
    doc = json.loads((res.write(tmp_path / "out") / "summary.json").read_text())
    flow, train = doc["flows"]["AB"], doc["services"]["TRAIN"]
    assert flow["empty_cost_usd_per_teu"] == pytest.approx(80.0) and flow["empty_co2_kg_per_teu"] == pytest.approx(32.0)
    assert train["empty_teu_per_day"] == pytest.approx(0.4 * flow["throughput_teu_per_day"]["mean"], rel=0.05)
    assert train["vehicles"] is None and train["vehicle_time_shares"] is None


# ---------------------------------------------------------------------- outputs


def test_outputs_show_whether_the_fleet_binds(tmp_path, capsys):
    """The run prints a fleet table and writes vehicles, vehicle time shares, late departures and empty vehicle-km into summary.json; the report shows cargo waiting against vehicles waiting."""
    from corridor_sim.report import _run_sections

    import yaml

    data = copy.deepcopy(load_scenario(FLEETS / "shuttle.yaml").data())
    data["simulation"].update(horizon_days=50, warmup_days=10)
    (tmp_path / "shuttle.yaml").write_text(yaml.safe_dump(data))
    folder = tmp_path / "run"
    status = main(["run", str(tmp_path / "shuttle.yaml"), "--replications", "2", "--out", str(folder), "--jobs", "1"])
    printed = capsys.readouterr().out
    assert status == 0
    assert "Fleets:" in printed and "cargo" in printed.split("Fleets:")[1]
    doc = json.loads((folder / "summary.json").read_text())
    s = doc["services"]["SHUTTLE"]
    assert s["vehicles"] == 3
    assert set(s["vehicle_time_shares"]) >= {"loaded", "empty", "turnaround", "idle"}
    assert sum(s["vehicle_time_shares"].values()) == pytest.approx(1.0, abs=1e-5)
    assert s["late_departures"] > 0 and s["mean_late_h"] > 0
    assert s["empty_vehicle_km_per_day"] == pytest.approx(s["departures"] / 40 * 250, rel=0.03)
    assert "fleet of 3" in doc["busiest"]["name"]
    _, _, sections = _run_sections(folder)  # the report's tables (its figures are tested in test_report.py)
    fleets = dict(sections)["Fleets: does the fleet bind?"]
    assert "idle (vehicles waiting)" in fleets and "late departures (cargo waiting)" in fleets and ">cargo<" in fleets


@pytest.mark.slow
def test_capacity_names_the_fleet_as_the_bottleneck():
    """The capacity search on the shuttle stops below N*K/C = 60 TEU a day and names the service's fleet as the bottleneck."""
    from corridor_sim.experiments import capacity

    scenario = variant("shuttle.yaml", lambda d: (d["simulation"].update(horizon_days=60, replications=3),
                                                  d["demand"][0].update(teu_per_year=30 * 365)))
    df = capacity(scenario, "F", tolerance=0.05, progress=False)
    doc = df.attrs["json"]
    assert "SHUTTLE" in doc["bottleneck"]["name"] and "fleet" in doc["bottleneck"]["name"]
    assert 0.8 * 60 <= doc["capacity_teu_per_day"] <= 60


def loop_scenario(vehicles: int):
    """A loop P1 -> P2 -> P3 -> P1 (three 5 h legs) every 6 h, turnaround 3 h: an 18 h rotation."""
    nodes = [{"id": p, "kind": "port", "lon": i, "lat": 0} for i, p in enumerate(("P1", "P2", "P3"))]
    segs = [{"id": f"S{a}{b}", "from": a, "to": b, "mode": "sea", "length_km": 100, "speed_kmh": 20}
            for a, b in (("P1", "P2"), ("P2", "P3"), ("P3", "P1"))]
    return scenario_from_dict({
        "name": "loop", "simulation": {"horizon_days": 30, "warmup_days": 3, "replications": 1, "seed": 1106},
        "network": {"nodes": nodes, "segments": segs},
        "services": [{"id": "LOOP", "mode": "sea", "stops": ["P1", "P2", "P3", "P1"], "capacity_teu": 50,
                      "reverse": False, "departures": {"every_h": 6}, "fleet": {"vehicles": vehicles, "turnaround_h": 3}}],
        "demand": [{"id": "F", "origin": "P1", "destination": "P3", "teu_per_year": 20000}],
    }, file="loop")


def test_a_loop_cycles_its_vessels_through_the_rotation():
    """A loop with an 18 h rotation every 6 h needs 3 vessels (the rule of 7 in hours): with 3 it is never late and never runs empty, with 2 it sails every 9 h."""
    three = loop_scenario(3)
    assert vehicles_needed(CorridorNetwork.from_scenario(three), three.services[0]) == (3, pytest.approx(18.0))
    times, fleet, _ = departures_of(three)
    np.testing.assert_allclose(np.diff(times), 6.0)
    assert fleet["late_departures"] == 0 and fleet["empty_runs"] == 0
    times, fleet, _ = departures_of(loop_scenario(2))
    assert np.diff(times).mean() == pytest.approx(9.0, rel=0.01)
