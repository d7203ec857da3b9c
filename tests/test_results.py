"""Results: summary-only streaming agrees with per-shipment records; intervals; results folders."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import corridor_sim as cs
from corridor_sim.engine import CorridorModel
from corridor_sim.errors import UsageError
from corridor_sim.results import t_interval

EXAMPLE = Path(__file__).parent / "scenarios" / "example.yaml"


@pytest.fixture(scope="module")
def example():
    return cs.load_scenario(EXAMPLE)


def test_summary_only_run_matches_the_per_shipment_run(example):
    """Streaming statistics give the same counts, means and costs as per-shipment rows, and percentiles to half a bin."""
    full = cs.run(example, replications=3)
    streamed = cs.run(example, replications=3, summary_only=True)
    assert len(streamed.shipments) == 0
    cols = ["created", "delivered", "in_transit", "created_all", "delivered_all"]
    assert (full.flows_by_replication[cols].to_numpy() == streamed.flows_by_replication[cols].to_numpy()).all()
    cols = ["transit_days_mean", "throughput_teu_per_day", "cost_usd_per_teu", "co2_kg_per_teu",
            "travel_days", "wait_days", "handling_days", "border_days", "queue_days"]
    np.testing.assert_allclose(full.flows_by_replication[cols].to_numpy(dtype=float),
                               streamed.flows_by_replication[cols].to_numpy(dtype=float), rtol=1e-9)
    for q in ("transit_days_p10", "transit_days_p50", "transit_days_p95"):
        # Half a 0.02-day bin, plus the gap between neighbouring order statistics pandas interpolates.
        np.testing.assert_allclose(full.flows[q], streamed.flows[q], atol=0.02)


def test_summary_only_keeps_state_only_for_shipments_in_flight(example):
    """After a summary-only run the recorder holds exactly the shipments still under way, nothing per delivered one."""
    model = CorridorModel(example, summary_only=True)
    out = model.run()
    in_transit = int(out.shipments["created_all"].sum() - out.shipments["delivered_all"].sum())
    assert len(model.recorder.active) == in_transit
    assert out.shipments["created_all"].sum() > 4 * in_transit  # a fraction of all shipments created


def test_t_interval_matches_a_textbook_value():
    """The 95% Student-t interval of 1..5 is 3 +- 2.776 * sqrt(2.5) / sqrt(5)."""
    mean, lo, hi = t_interval([1, 2, 3, 4, 5])
    assert mean == 3
    assert hi - mean == pytest.approx(2.7764451 * np.sqrt(2.5) / np.sqrt(5), rel=1e-6)
    assert np.isnan(t_interval([4.0])[1])


def test_results_folder_is_complete_and_not_overwritten(example, tmp_path):
    """A run writes summary.json with the contract keys and its inputs, and refuses to overwrite without force."""
    results = cs.run(example, replications=2)
    out = results.write(tmp_path / "run", command="test")
    summary = json.loads((out / "summary.json").read_text())
    assert summary["replications"] == 2 and summary["seed"] == example.simulation.seed
    for name in ("scenario.yaml", "run.json", "flows.csv", "nodes.csv", "services.csv", "shipments.parquet", "queues.csv"):
        assert (out / name).is_file(), name
    assert cs.load_scenario(out / "scenario.yaml").name == example.name
    before = (out / "summary.json").read_text()
    with pytest.raises(UsageError):
        results.write(tmp_path / "run", command="again")
    assert (out / "summary.json").read_text() == before
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_cli_run_writes_the_summary_only_folder(tmp_path, capsys):
    """`corridor-sim run --no-shipments` prints the flow table and writes no per-shipment file."""
    from corridor_sim.cli import main

    code = main(["run", str(EXAMPLE), "--out", str(tmp_path / "r"), "--replications", "2", "--jobs", "1",
                 "--no-shipments"])
    assert code == 0
    printed = capsys.readouterr().out
    assert "A-CITY" in printed and "Busiest" in printed
    assert (tmp_path / "r" / "summary.json").is_file()
    assert not (tmp_path / "r" / "shipments.csv").exists()
    assert not (tmp_path / "r" / "shipments.parquet").exists()
