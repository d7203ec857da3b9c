"""Tests for corridor_sim.experiments.streaming: replications streamed to a results folder.

A streamed run must write exactly the per-replication rows a serial `run` computes with the same
seed, whatever the executor, and must not hold every replication in the parent.
"""

from __future__ import annotations

import copy
import gc
import json
from pathlib import Path

import pandas as pd
import pytest

from corridor_sim import load_scenario, run
from corridor_sim.engine.model import ReplicationOutput
from corridor_sim.experiments import completed, run_streamed, streaming
from corridor_sim.scenario import scenario_from_dict

MM1 = Path(__file__).parent / "scenarios" / "experiments" / "mm1.yaml"


def _short_mm1(horizon_days: float, warmup_days: float):
    data = copy.deepcopy(load_scenario(MM1).data())
    data["simulation"].update(horizon_days=horizon_days, warmup_days=warmup_days)
    return scenario_from_dict(data, str(MM1))


def _count_live(monkeypatch) -> list[tuple[int, int]]:
    """Record, each time the stream writes a table, how many replication outputs and how many
    replication blocks are alive in this process (the Dask workers are threads of it here)."""
    counts: list[tuple[int, int]] = []
    real = streaming._Blocks.append

    def counting(self, df):
        gc.collect()
        live = [type(o) for o in gc.get_objects() if type(o) in (ReplicationOutput, streaming.Block)]
        counts.append((live.count(ReplicationOutput), live.count(streaming.Block)))
        return real(self, df)

    monkeypatch.setattr(streaming._Blocks, "append", counting)
    return counts


@pytest.mark.slow
def test_dask_stream_of_200_replications_equals_serial_run_and_holds_few(tmp_path, monkeypatch):
    """200 summary-only replications streamed from a 2-worker Dask LocalCluster write the serial run's
    per-replication rows exactly; no replication output reaches the parent, and it never holds more
    than a batch of blocks plus those waiting on the workers."""
    distributed = pytest.importorskip("dask.distributed")
    scenario = _short_mm1(10.0, 2.0)
    n, batch, window = 200, 8, 4
    serial = run(scenario, replications=n, summary_only=True, keep_stages=False)
    live = _count_live(monkeypatch)
    by_rep, flows, nodes = serial.flows_by_replication, serial.flows, serial.nodes
    del serial  # its 200 outputs would count as live below
    gc.collect()
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                                  dashboard_address=None) as cluster:
        streamed = run_streamed(scenario, tmp_path / "res", replications=n, dask=cluster.scheduler_address,
                                window=window, batch=batch)
    on_disk = streamed.flows_by_replication()
    assert list(on_disk["replication"]) == list(range(n))
    pd.testing.assert_frame_equal(on_disk[by_rep.columns], by_rep, check_exact=True)
    cols = ["flow", "transit_days_mean", "transit_days_ci95_low", "transit_days_ci95_high", "throughput_teu_per_day",
            "throughput_ci95_low", "throughput_ci95_high", "created", "delivered", "in_transit"]
    pd.testing.assert_frame_equal(streamed.flows[cols], flows[cols], check_exact=True)
    node_cols = ["node", "utilization", "utilization_ci95_low", "utilization_ci95_high", "mean_queue",
                 "arrivals_per_day"]
    pd.testing.assert_frame_equal(streamed.nodes[node_cols], nodes[node_cols], check_exact=True)
    doc = json.loads((streamed.folder / "stream.json").read_text())
    assert doc["replications"] == n and doc["executor"] == "dask" and doc["max_blocks_held"] <= batch
    mean = float(flows["transit_days_mean"].iloc[0])
    assert doc["flows"]["LOAD"]["transit_days_mean"] == pytest.approx(mean, rel=1e-5)
    assert len(live) == 2 * n // batch  # two tables per batch
    assert max(outputs for outputs, _ in live) <= 2, live  # only those of the replications running
    assert max(blocks for _, blocks in live) <= batch + window, live  # a batch, and a window on the workers


def test_processes_stream_with_shipments_equals_run(tmp_path):
    """With shipments, two worker processes stream the per-replication rows and the measured
    shipments of `run` with the same seed, one replication at a time."""
    scenario = _short_mm1(30.0, 5.0)
    reference = run(scenario, replications=4, keep_stages=False)
    streamed = run_streamed(scenario, tmp_path / "res", replications=4, jobs=2, summary_only=False)
    assert streamed.max_held == 1
    pd.testing.assert_frame_equal(streamed.flows_by_replication()[reference.flows_by_replication.columns],
                                  reference.flows_by_replication, check_exact=True)
    ships = pd.read_parquet(streamed.folder / "shipments.parquet").sort_values(["replication", "shipment"],
                                                                             kind="stable")
    expected = reference.shipments[reference.shipments["measured"]]
    for col in ("replication", "shipment", "created_h", "delivered_h", "transit_days", "teu"):
        assert ships[col].tolist() == expected[col].tolist()
    assert sorted(p.name for p in streamed.folder.iterdir()) == [
        "flows_by_replication.parquet", "nodes_by_replication.parquet", "run.json", "scenario.yaml",
        "shipments.parquet", "stream.json"]


def test_completed_yields_every_task_once_in_any_order():
    """`completed` yields each task's index with its result exactly once, serially in order."""
    tasks = list(range(7))
    assert list(completed(abs, [-t for t in tasks])) == [(t, t) for t in tasks]
    got = sorted(completed(abs, [-t for t in tasks], jobs=2, window=3))
    assert got == [(t, t) for t in tasks]


def test_cli_run_stream_writes_the_blocks(tmp_path, capsys):
    """`corridor-sim run --stream --no-shipments` writes the per-replication blocks and stream.json;
    with --plots it is a usage error (exit 2) before anything runs."""
    from corridor_sim.cli import main

    out = tmp_path / "res"
    assert main(["run", str(MM1), "--stream", "--no-shipments", "--replications", "3", "--jobs", "1",
                 "--out", str(out)]) == 0
    assert "3 replications streamed" in capsys.readouterr().out
    doc = json.loads((out / "stream.json").read_text())
    assert doc["replications"] == 3 and doc["summary_only"] is True
    assert sorted(pd.read_parquet(out / "flows_by_replication.parquet")["replication"]) == [0, 1, 2]
    assert main(["run", str(MM1), "--stream", "--plots", "--out", str(tmp_path / "other")]) == 2
    assert "--plots" in capsys.readouterr().err and not (tmp_path / "other").exists()
