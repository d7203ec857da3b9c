"""Tests for corridor_sim.experiments: executors, warm-up, compare, sweep, capacity and their commands.

The scenarios live in tests/scenarios/experiments/ and are small (one to three facilities, 100-200
days) so the whole module runs in well under a minute and a half on two cores.
"""

from __future__ import annotations

import copy
import json
import math
from pathlib import Path

import pandas as pd
import pytest

import corridor_sim
from corridor_sim import capacity, compare, load_scenario, run, suggest_warmup_days, sweep
from corridor_sim.cli import main
from corridor_sim.errors import ScenarioError, UsageError
from corridor_sim.experiments import parse_values, set_path
from corridor_sim.scenario import scenario_from_dict

HERE = Path(__file__).parent / "scenarios" / "experiments"
CONGESTED = HERE / "congested.yaml"
MM1 = HERE / "mm1.yaml"
MU_TEU_PER_YEAR = 8760.0  # one server, exponential service with mean 1 h


def _modified(path: Path, change) -> corridor_sim.Scenario:
    data = copy.deepcopy(load_scenario(path).data())
    change(data)
    return scenario_from_dict(data, str(path))


# ------------------------------------------------------------------ replications and executors


def test_replication_streams_do_not_depend_on_count_or_workers():
    """Replication r is the same whether 2 or 3 run, serially or in 2 processes, and differs from r+1."""
    scenario = load_scenario(CONGESTED)
    serial = run(scenario, replications=3, jobs=1, keep_stages=False)
    pooled = run(scenario, replications=3, jobs=2, keep_stages=False)
    pd.testing.assert_frame_equal(serial.shipments, pooled.shipments)
    assert serial.summary() == pooled.summary()
    fewer = run(scenario, replications=2, jobs=1, keep_stages=False)
    pd.testing.assert_frame_equal(fewer.shipments, serial.shipments[serial.shipments["replication"] < 2])
    by = serial.flows_by_replication
    means = by[by["flow"] == "PORT-DEPOT"]["transit_days_mean"].tolist()
    assert len(set(means)) == 3  # independent streams: every replication has its own numbers


def test_dask_local_cluster_matches_serial_bit_for_bit():
    """Replications sent to an in-process Dask LocalCluster give the serial shipments and summary exactly."""
    distributed = pytest.importorskip("dask.distributed")
    scenario = load_scenario(CONGESTED)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                                  dashboard_address=":0") as cluster:
        remote = run(scenario, replications=3, dask=cluster.scheduler_address, keep_stages=False)
        remote_cmp = compare(CONGESTED, HERE / "congested_faster_road.yaml", replications=2,
                             dask=cluster.scheduler_address)
    local = run(scenario, replications=3, keep_stages=False)
    pd.testing.assert_frame_equal(remote.shipments, local.shipments)
    assert remote.summary() == local.summary()
    pd.testing.assert_frame_equal(remote_cmp, compare(CONGESTED, HERE / "congested_faster_road.yaml", replications=2))


# ------------------------------------------------------------------ warm-up


def test_suggest_warmup_finds_the_end_of_an_initial_closure():
    """A 20-day closure at rho=0.5 is cleared by day ~40; Welch's method suggests 40-55 days.

    The backlog of 480 shipments clears at mu - lambda = 1/h, i.e. in 20 more days; the centred
    moving average (half-width 5 days here) makes the suggestion err late by up to about 5 days.
    """
    results = run(load_scenario(HERE / "closure_start.yaml"), keep_stages=False)
    warmup = suggest_warmup_days(results)
    assert 40 <= warmup <= 55
    assert suggest_warmup_days(results, flow="LOAD") == warmup


def test_suggest_warmup_is_short_without_a_transient():
    """The same station without the closure (empty start, rho=0.5, relaxes in hours) needs under 10 days."""
    scenario = _modified(MM1, lambda d: d["simulation"].update(warmup_days=0, horizon_days=150))
    warmup = suggest_warmup_days(run(scenario, keep_stages=False))
    assert 0 <= warmup < 10


# ------------------------------------------------------------------ compare


def test_compare_paired_interval_is_far_narrower_than_unpaired():
    """With common random numbers the paired CI is over 10x narrower than Welch's and finds a 1-hour gain."""
    df = compare(CONGESTED, [HERE / "congested_faster_road.yaml", HERE / "congested_depot_5.yaml"])
    transit = df[df["metric"] == "transit_days"].set_index(["variant", "flow"])
    road = transit.loc[("Congested port, faster road", "PORT-DEPOT")]
    assert road["diff_mean"] == pytest.approx(-1 / 24, abs=0.002)  # 300 km at 75 instead of 60 km/h
    assert road["ci95_low"] <= -1 / 24 + 0.002 and road["ci95_high"] >= -1 / 24 - 0.002
    paired, unpaired = road["ci95_high"] - road["ci95_low"], road["ci95_unpaired_high"] - road["ci95_unpaired_low"]
    assert paired < unpaired / 10
    assert road["significant"] and road["ci95_unpaired_low"] < 0 < road["ci95_unpaired_high"]
    depot = transit.loc[("Congested port, 5 depot tracks", "PORT-DEPOT")]
    assert depot["ci95_high"] < 0 and depot["significant"]
    assert depot["ci95_high"] - depot["ci95_low"] < (depot["ci95_unpaired_high"] - depot["ci95_unpaired_low"]) / 5
    untouched = transit.loc[("Congested port, 5 depot tracks", "PORT-HUB")]  # never visits the depot
    assert untouched["diff_mean"] == 0 and not untouched["significant"]


def test_compare_json_contract_and_common_seed():
    """compare.json has the contract keys, and a variant's own seed is replaced by the base's."""
    variant = _modified(HERE / "congested_depot_5.yaml", lambda d: d["simulation"].update(seed=999))
    df = compare(CONGESTED, variant, replications=3)
    doc = df.attrs["json"]
    assert doc["base"] == "Congested port" and doc["seed"] == 5 and doc["replications"] == 3
    entry = doc["variants"]["Congested port, 5 depot tracks"]
    assert entry["seed"] == 5 and entry["replications"] == 3
    flow = entry["flows"]["PORT-DEPOT"]
    for key in ("transit_days_diff", "throughput_teu_per_day_diff"):
        assert set(flow[key]) >= {"mean", "ci95", "ci95_unpaired"} and len(flow[key]["ci95"]) == 2
    assert flow["significant"] is flow["transit_days_diff"]["significant"]
    row = df[(df["flow"] == "PORT-DEPOT") & (df["metric"] == "transit_days")].iloc[0]
    assert flow["transit_days_diff"]["mean"] == pytest.approx(row["diff_mean"], abs=1e-6)
    assert json.loads(json.dumps(doc)) == doc  # plain JSON
    fewer = _modified(CONGESTED, lambda d: d.update(name="No hub flow", demand=d["demand"][:1]))
    only = compare(CONGESTED, fewer, replications=2).attrs["json"]["variants"]["No hub flow"]
    assert list(only["flows"]) == ["PORT-DEPOT"] and only["flows_only_in_base"] == ["PORT-HUB"]


def test_cli_compare_writes_folder_and_refuses_to_overwrite(tmp_path, capsys):
    """`compare` prints the table, writes compare.csv/json and run.json; a second run needs --force."""
    out = tmp_path / "cmp"
    argv = ["compare", str(CONGESTED), str(HERE / "congested_faster_road.yaml"), "--replications", "2",
            "--jobs", "1", "--out", str(out)]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "Variant: Congested port, faster road" in printed and "paired 95% CI" in printed
    doc = json.loads((out / "compare.json").read_text())
    assert doc["variants"]["Congested port, faster road"]["flows"]["PORT-HUB"]["transit_days_diff"]["mean"] == \
        pytest.approx(-1 / 24, abs=0.002)
    table = pd.read_csv(out / "compare.csv")
    assert len(table) == 4 and set(table["metric"]) == {"transit_days", "throughput_teu_per_day"}
    meta = json.loads((out / "run.json").read_text())
    assert meta["experiment"] == "compare" and meta["seed"] == 5 and meta["version"] == corridor_sim.__version__
    assert (out / "scenario.yaml").exists() and len(list((out / "variants").glob("*.yaml"))) == 1
    assert main(argv) == 2
    assert "exists" in capsys.readouterr().err
    assert main([*argv, "--force"]) == 0


# ------------------------------------------------------------------ sweep


def test_parse_values_ranges_and_scalars():
    """Ranges include a stop on the grid; other items are YAML scalars."""
    assert parse_values("2:5") == [2, 3, 4, 5]
    assert parse_values("1:10:4") == [1, 5, 9]
    assert parse_values("0.5:1:0.25") == [0.5, 0.75, 1.0]
    assert parse_values("5:1:-2,8") == [5, 3, 1, 8]
    assert parse_values("1,2.5,true,regular") == [1, 2.5, True, "regular"]
    for bad in ("1:3:0", "3:1", "1,,2", "[1, 2]"):
        with pytest.raises(UsageError):
            parse_values(bad)


def test_set_path_addresses_ids_indices_and_defaults():
    """Keys reach list items by id or index and defaults the file leaves out; unknown parts are named."""
    data = copy.deepcopy(load_scenario(CONGESTED).data())
    set_path(data, "demand.PORT-HUB.teu_per_year", 2500)
    set_path(data, "network.nodes.0.handling.servers", 4)
    set_path(data, "network.segments.ROAD2.capacity_per_day", 30)  # not in the file: a known default
    set_path(data, "network.nodes.HUB.handling.time_h.high", 4)
    assert data["demand"][1]["teu_per_year"] == 2500
    assert data["network"]["nodes"][0]["handling"]["servers"] == 4
    assert data["network"]["segments"][1]["capacity_per_day"] == 30
    assert data["network"]["nodes"][1]["handling"]["time_h"]["high"] == 4
    with pytest.raises(UsageError, match="network.nodes.QUAY.handling.servers.*'QUAY'"):
        set_path(data, "network.nodes.QUAY.handling.servers", 2)
    with pytest.raises(UsageError, match="unknown key 'server'.*did you mean 'servers'"):
        set_path(data, "network.nodes.PORT.handling.server", 2)


def test_sweep_transit_falls_as_port_servers_rise():
    """Transit falls monotonically from 2 to 5 cranes, and the 2- and 5-crane intervals do not overlap."""
    key = "network.nodes.PORT.handling.servers"
    df = sweep(CONGESTED, {key: "2:5"})
    assert len(df) == 8 and list(df.columns[:3]) == ["point", key, "flow"]
    for flow in ("PORT-DEPOT", "PORT-HUB"):
        f = df[df["flow"] == flow].sort_values(key)
        means = f["transit_days_mean"].tolist()
        assert all(a > b for a, b in zip(means, means[1:]))
        two, five = f.iloc[0], f.iloc[-1]
        assert two["transit_days_ci95_low"] > five["transit_days_ci95_high"]
        assert two["transit_days_mean"] - five["transit_days_mean"] > 0.25  # M/M/2 at rho 0.85 waits ~6 h
    assert df[df[key] == 2]["busiest"].iloc[0] == "node PORT"
    assert df[df[key] == 5]["busiest"].iloc[0] == "node DEPOT"
    nodes = pd.DataFrame(df.attrs["nodes"])
    port = nodes[nodes["node"] == "PORT"].sort_values(key)
    assert port["servers"].tolist() == [2, 3, 4, 5] and port["utilization"].is_monotonic_decreasing


def test_sweep_revalidates_every_point():
    """A bad value at one point raises the standard ScenarioError naming the key path."""
    with pytest.raises(ScenarioError, match=r"network.nodes\[0\].handling.servers"):
        sweep(CONGESTED, {"network.nodes.PORT.handling.servers": [2, 0]})


def test_cli_sweep_grid_writes_tidy_tables(tmp_path, capsys):
    """A 2x2 grid writes one sweep.csv row per point and flow, plus nodes per point."""
    out = tmp_path / "sw"
    assert main(["sweep", str(CONGESTED), "--set", "network.nodes.PORT.handling.servers=2,3",
                 "--set", "demand.PORT-HUB.teu_per_year=1000,2000", "--set", "simulation.horizon_days=60",
                 "--replications", "2", "--jobs", "1", "--out", str(out)]) == 0
    table = pd.read_csv(out / "sweep.csv")
    assert len(table) == 4 * 2 and table["point"].nunique() == 4
    assert sorted(set(zip(table["network.nodes.PORT.handling.servers"], table["demand.PORT-HUB.teu_per_year"]))) == \
        [(2, 1000), (2, 2000), (3, 1000), (3, 2000)]
    hub = table[table["flow"] == "PORT-HUB"]
    assert hub["demand_teu_per_day"].round(2).tolist() == [2.74, 5.48, 2.74, 5.48]
    assert len(pd.read_csv(out / "sweep_nodes.csv")) == 4 * 3
    doc = json.loads((out / "sweep.json").read_text())
    assert doc["settings"]["network.nodes.PORT.handling.servers"] == [2, 3] and len(doc["points"]) == 4
    assert json.loads((out / "run.json").read_text())["experiment"] == "sweep"
    assert "network.nodes.PORT.handling.servers" in capsys.readouterr().out


@pytest.mark.parametrize("setting, message", [
    ("network.nodes.QUAY.handling.servers=2,3", "network.nodes.QUAY.handling.servers: no item with id or index 'QUAY'"),
    ("demand.PORT-HUB.teu_per_yer=100", "unknown key 'teu_per_yer'"),
    ("network.nodes.PORT.handling.servers=2,0", "network.nodes[0].handling.servers"),
])
def test_cli_sweep_bad_key_or_value_exits_2_and_writes_nothing(tmp_path, capsys, setting, message):
    """A bad KEY or value is one error line, exit status 2, and no results folder."""
    out = tmp_path / "sw"
    assert main(["sweep", str(CONGESTED), "--set", setting, "--jobs", "1", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and message in err
    assert not out.exists() and not list(tmp_path.iterdir())


# ------------------------------------------------------------------ capacity


def test_capacity_of_mm1_station_is_just_below_its_service_rate(tmp_path, capsys):
    """Capacity of one M/M/1 station (mu = 8760 TEU/yr) lands 0-15% below mu, limited by that station.

    A finite run cannot tell rho just below 1 from just above: the queue's relaxation time, about
    1/(mu (1 - sqrt(rho))^2), is 65 days at rho=0.95 and 180 at 0.97 against 160 measured days. So
    the criteria (backlog growing > 1%/day with a CI above 0, or utilisation >= 0.98) bite slightly
    below mu (2-5% below over seeds 1-15) and never above it.
    """
    out = tmp_path / "cap"
    assert main(["capacity", str(MM1), "--flow", "LOAD", "--jobs", "1", "--out", str(out)]) == 0
    assert "Bottleneck: node STATION" in capsys.readouterr().out
    doc = json.loads((out / "capacity.json").read_text())
    found = doc["capacity_teu_per_year"]
    assert 0.85 * MU_TEU_PER_YEAR <= found < MU_TEU_PER_YEAR
    assert doc["bottleneck"]["name"] == "node STATION" and 0.85 < doc["bottleneck"]["utilization"] < 0.98
    assert doc["criteria"]["max_utilization"] == 0.98 and doc["criteria"]["backlog_growth"] == 0.01
    assert doc["lowest_infeasible_teu_per_year"] <= found * 1.02 + 1e-6  # bracket within the 2% tolerance
    points = pd.read_csv(out / "capacity.csv")
    assert points["feasible"].dtype == bool and points.iloc[0]["demand_teu_per_year"] == 4380
    feasible, infeasible = points[points["feasible"]], points[~points["feasible"]]
    assert feasible["demand_teu_per_year"].max() == found
    assert feasible["demand_teu_per_year"].max() < infeasible["demand_teu_per_year"].min()
    assert (infeasible["demand_teu_per_year"] >= MU_TEU_PER_YEAR).any()


def test_capacity_with_p95_limit_matches_mm1_formula():
    """With p95 transit <= 0.5 days the M/M/1 limit is lambda = mu - ln(20)/12 h, i.e. 6,573 TEU/yr.

    The pooled p95 of 4 x 160 days at rho ~0.75 is known to about +-10% (autocorrelated waits), and
    p95 = ln 20 / (mu - lambda) moves 1% in lambda for ~3% in p95, so the search lands within ~8%.
    """
    df = capacity(MM1, "LOAD", p95_days=0.5, tolerance=0.02)
    found = df.attrs["json"]["capacity_teu_per_year"]
    expected = (1 - math.log(20) / 12) * MU_TEU_PER_YEAR  # sojourn ~ Exp(mu - lambda): p95 = ln 20 / (mu - lambda)
    assert found == pytest.approx(expected, rel=0.08)
    assert found < df.attrs["json"]["lowest_infeasible_teu_per_year"] < MU_TEU_PER_YEAR
    assert df[~df["feasible"]]["reason"].str.contains("p95 transit").any()


def test_capacity_brackets_down_from_an_overloaded_start():
    """Starting above mu (20,000 TEU/yr) the search halves to a feasible level, then bisects below mu."""
    scenario = _modified(MM1, lambda d: d["demand"][0].update(teu_per_year=20000))
    df = capacity(scenario, "LOAD", tolerance=0.05, replications=2)
    bracket = df[df["phase"] == "bracket"]
    assert bracket["demand_teu_per_year"].tolist() == [20000, 10000, 5000]
    assert bracket["feasible"].tolist() == [False, False, True]
    found = df.attrs["json"]["capacity_teu_per_year"]
    assert 0.85 * MU_TEU_PER_YEAR <= found < MU_TEU_PER_YEAR
    assert df.iloc[0]["throughput_ratio"] < 0.5 and df.iloc[0]["max_utilization"] > 0.99  # 2.3x overloaded


def test_cli_capacity_unknown_flow_exits_2(tmp_path, capsys):
    """An unknown --flow is a usage error naming it, with a suggestion."""
    assert main(["capacity", str(MM1), "--flow", "LAOD", "--out", str(tmp_path / "c")]) == 2
    err = capsys.readouterr().err
    assert "unknown flow 'LAOD'" in err and "did you mean 'LOAD'" in err
    assert not (tmp_path / "c").exists()


def test_package_exports_the_experiments():
    """compare, sweep, capacity and suggest_warmup_days are importable from corridor_sim."""
    for name in ("compare", "sweep", "capacity", "suggest_warmup_days"):
        assert name in corridor_sim.__all__ and callable(getattr(corridor_sim, name))
