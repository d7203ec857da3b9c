"""The shipped INSTC scenarios: they validate, run with conservation, use fleets, and show their questions."""

from __future__ import annotations

from pathlib import Path

import pytest

import corridor_sim as cs
from corridor_sim.scenario import scenario_from_dict
from corridor_sim.scenario.schema import WhenFull

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = sorted((ROOT / "scenarios").glob("*.yaml"))
NAMED_FLOWS = ["JNPT-MOW-west", "JNPT-MOW-caspian", "JNPT-MOW-east", "JNPT-MOW-suez"]
CASPIAN_PORTS = {"ANZ", "AST", "OLY", "MKH", "AMR"}
SHARE_COLUMNS = [f"{k}_share" for k in ("loaded", "empty", "turnaround", "idle", "out_of_service")]


def _load(path: Path) -> cs.Scenario:
    """Load a shipped scenario (any `extends` form: one parent or a list)."""
    return cs.load_scenario(path)


def _short(scenario: cs.Scenario, horizon_days: float, warmup_days: float, drain_days: float = 10.0) -> cs.Scenario:
    data = dict(scenario.data())
    data["simulation"] = {**data.get("simulation", {}), "horizon_days": horizon_days, "warmup_days": warmup_days,
                          "drain_days": drain_days}
    return scenario_from_dict(data, scenario.source_file)


def _paired_transit_diff(table, flow: str) -> tuple[float, float, float]:
    row = table[(table["flow"] == flow) & (table["metric"] == "transit_days")].iloc[0]
    return float(row["diff_mean"]), float(row["ci95_low"]), float(row["ci95_high"])


def test_scenario_files_are_shipped():
    """The base scenario and the six variants the issue names are all shipped."""
    names = {p.name for p in SCENARIOS}
    assert {"instc_2025.yaml", "rasht_astara_open.yaml", "demand_2030.yaml", "rasht_astara_open_2030.yaml",
            "caspian_severe_winter.yaml", "gulf_red_sea_disruption.yaml", "border_fast_track.yaml"} <= names


def test_base_scenario_measures_calendar_year_2025():
    """The base scenario's measured window is exactly the calendar year 2025."""
    sim = cs.load_scenario(ROOT / "scenarios" / "instc_2025.yaml").simulation
    assert str(sim.start_date) == "2024-11-01"
    assert sim.warmup_days == 61 and sim.horizon_days - sim.warmup_days == 365


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.name)
def test_every_when_full_service_and_caspian_vessel_has_a_fleet(path):
    """No when-full service and no Caspian vessel line runs without a finite fleet of its own."""
    scenario = _load(path)
    for service in scenario.services:
        caspian = service.mode == "sea" and set(service.stops) <= CASPIAN_PORTS
        if isinstance(service.departures, WhenFull) or caspian:
            assert service.fleet is not None and service.fleet.vehicles >= 1, (path.name, service.id)


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.name)
def test_every_shipped_scenario_validates_and_runs_briefly(path):
    """Every shipped scenario runs a short horizon with every flow's shipments and every fleet's vehicles conserved."""
    scenario = _load(path)
    assert len(scenario.description.strip()) > 40
    results = cs.run(_short(scenario, 30, 5, 5), replications=1, keep_stages=False)
    flows = results.flows_by_replication
    # Created = delivered + censored, flow by flow: nothing is lost or counted twice.
    assert (flows["created"] == flows["delivered"] + flows["censored"]).all()
    assert (flows["created"] > 0).all(), flows.loc[flows["created"] == 0, "flow"].tolist()
    for flow in NAMED_FLOWS:
        assert flow in set(flows["flow"]), flow
    ship = results.shipments
    assert ship.loc[ship["measured"], "created_h"].between(5 * 24, 30 * 24, inclusive="left").all()
    # Vehicles are conserved: each fleet keeps its size and every vehicle-hour is in exactly one state.
    fleets = {s.id: s.fleet.vehicles for s in scenario.services if s.fleet is not None}
    table = results.services.set_index("service")
    for service_id, vehicles in fleets.items():
        assert table.at[service_id, "vehicles"] == vehicles, service_id
        assert table.loc[service_id, SHARE_COLUMNS].sum() == pytest.approx(1.0, abs=1e-9), service_id


def test_named_flows_follow_their_published_routes():
    """The four named flows take the routes the issue describes (gauge change at Astara, Sarakhs; Suez)."""
    scenario = cs.load_scenario(ROOT / "scenarios" / "instc_2025.yaml")
    network = cs.network.CorridorNetwork.from_scenario(scenario)
    routes = {f.id: network.routes_for(f)[0] for f in scenario.demand if f.choice is None}
    west = routes["JNPT-MOW-west"]
    assert west.nodes[:2] == ("JNPT", "SRP") and "RST" in west.nodes and "ASI" in west.nodes
    road = [leg for leg in west.legs if leg.mode == "road"]
    assert [(leg.origin, leg.destination) for leg in road] == [("RST", "ASI")]
    assert "ANZ" in routes["JNPT-MOW-caspian"].nodes
    assert "SRK" in routes["JNPT-MOW-east"].nodes or "INB" in routes["JNPT-MOW-east"].nodes
    assert "PSD" in routes["JNPT-MOW-suez"].nodes and "LED" in routes["JNPT-MOW-suez"].nodes
    for flow in NAMED_FLOWS:
        assert scenario.flow(flow).tonnes_per_teu is not None


def test_summary_reports_cost_and_co2_per_flow():
    """summary.json carries the contract keys plus cost_usd_per_teu and co2_kg_per_teu for every flow."""
    scenario = _short(cs.load_scenario(ROOT / "scenarios" / "instc_2025.yaml"), 40, 10)
    results = cs.run(scenario, replications=2, keep_stages=False)
    summary = results.summary()
    for key in ("scenario", "seed", "replications", "horizon_days", "warmup_days", "flows", "nodes", "services"):
        assert key in summary
    for flow_id, flow in summary["flows"].items():
        assert flow["cost_usd_per_teu"] > 0 and flow["co2_kg_per_teu"] > 0, flow_id
        assert set(flow["transit_days"]) >= {"mean", "ci95", "p50", "p95"}
        assert set(flow["throughput_teu_per_day"]) >= {"mean", "ci95"}


@pytest.mark.slow
def test_rasht_astara_railway_and_2030_demand_have_significant_effects():
    """Under common random numbers the railway changes JNPT-MOW-west's mean transit and the 2030 demand the Astara road trucks' (paired 95% intervals exclude 0)."""
    base = _short(cs.load_scenario(ROOT / "scenarios" / "instc_2025.yaml"), 90, 40)
    rasht = _short(cs.load_scenario(ROOT / "scenarios" / "rasht_astara_open.yaml"), 90, 40)
    demand = _short(cs.load_scenario(ROOT / "scenarios" / "demand_2030.yaml"), 90, 40)
    table = cs.compare(base, [rasht, demand], replications=3, jobs=2)
    for variant, flow in ((rasht.name, "JNPT-MOW-west"), (demand.name, "IR-AZ-road")):
        mean, low, high = _paired_transit_diff(table[table["variant"] == variant], flow)
        assert low > 0 or high < 0, (variant, flow, mean, low, high)


@pytest.mark.slow
def test_railway_at_2030_demand_changes_the_astara_road_trucks_significantly():
    """Under common random numbers the railway (trucks may take the train) changes the Astara road trucks' mean transit at 2030 demand (paired 95% interval excludes 0)."""
    composed = _load(ROOT / "scenarios" / "rasht_astara_open_2030.yaml")
    demand = _short(cs.load_scenario(ROOT / "scenarios" / "demand_2030.yaml"), 90, 40)
    table = cs.compare(demand, [_short(composed, 90, 40)], replications=3, jobs=2)
    for flow in ("IR-AZ-road", "AZ-IR-road"):
        mean, low, high = _paired_transit_diff(table, flow)
        assert low > 0 or high < 0, (flow, mean, low, high)


@pytest.mark.slow
def test_fitted_calibration_meets_its_fit_targets():
    """The fitted scenario (scenarios/calibration/instc_2025_fitted.yaml, from `calibrate --fit`) puts
    every `use: fit` target of the INSTC targets file in its band, over two replications of the whole
    year on random numbers the fit did not see (seed 2026; the fit ran on 2025)."""
    from corridor_sim.calibration import evaluate
    from corridor_sim.fitting import read_fit_spec

    targets_file = ROOT / "scenarios" / "calibration" / "instc_2025_targets.yaml"
    spec, _, parameters = read_fit_spec(targets_file)
    fit_targets = [t for t in spec["targets"] if t["use"] == "fit"]
    assert {t["id"] for t in fit_targets} == {"V4", "V10"} and len(parameters) == 2
    fitted = cs.load_scenario(ROOT / "scenarios" / "calibration" / "instc_2025_fitted.yaml")
    results = cs.run(fitted, replications=2, seed=2026, jobs=2, keep_stages=True)
    table = evaluate(results, fit_targets)
    assert table["ok"].all(), table.to_string()
