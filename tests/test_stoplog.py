"""Stop logs: a run's stops logged once, each ride as (run, board, alight), stage rows expanded on demand.

The engine used to write a rider's stage rows stop by stop when it alighted. It now writes one
marker row per ride and the rows are expanded from the runs' stop logs (engine/stoplog.py) when a
table asks for them, or, in a results folder, when it is read back. These tests hold the expansion
to the row-by-row recording, bit for bit and in the same order.
"""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

import corridor_sim as cs
from corridor_sim.engine import CorridorModel
from corridor_sim.engine.records import STAGE_COLUMNS, STAGE_NAMES, Stage
from corridor_sim.engine.stoplog import StopLogs, expand_rides, line_layout, ride_rows
from corridor_sim.results_dir import expand_ride_tables
from corridor_sim.scenario import scenario_from_dict

SCENARIOS = Path(__file__).parent / "scenarios"


def _short(path: Path, days: float) -> cs.Scenario:
    data = copy.deepcopy(cs.load_scenario(path).data())
    data["simulation"].update(horizon_days=days, warmup_days=min(10.0, days / 4))
    return scenario_from_dict(data, str(path))


def _row_by_row(model: CorridorModel) -> None:
    """Make the model's recorder write each ride's rows when the shipment alights, as the engine did
    before stop logs (services._stamp): the reference the expansion is held to."""
    rec = model.recorder
    lines = {s.index: s for s in model.lines.values()}
    line_of = {}
    new_run = rec.new_run

    def logged_run(key, layout):
        run, log = new_run(key, layout)
        line_of[id(log)] = lines[key]
        return run, log

    def ride(shipment, run, log, kinds, board, alight, ready_h):
        if shipment < 0:
            return
        state = line_of[id(log)]
        line = state.line
        stops = [tuple(log[5 * k:5 * k + 5]) for k in range(len(log) // 5)]  # the stops left so far
        arrive_h = log[5 * alight]
        rec.stage(shipment, Stage.WAIT, state.index, ready_h, stops[board][4])
        for k in range(board, alight):
            next_arrive_h = stops[k + 1][0] if k + 1 < len(stops) else arrive_h
            rec.stage(shipment, Stage.TRAVEL, model.segment_place[line.segments[k].id], stops[k][4], next_arrive_h)
            if k + 1 < alight:
                a, s, e, r, d = stops[k + 1]
                node = line.stops[k + 1]
                place = model.node_place[node]
                rec.stage(shipment, Stage.QUEUE, place, a, s)
                rec.stage(shipment, model.handling_stage(node), place, s, e)
                rec.stage(shipment, Stage.DWELL, place, e, r)
                rec.stage(shipment, Stage.WAIT, state.index, r, d)

    rec.new_run, rec.ride = logged_run, ride


def test_expanded_rides_are_the_row_by_row_stage_rows():
    """On scenarios with multi-stop trains (a border handled at an intermediate stop, dwells) the
    stage rows expanded from stop logs equal, value for value and in order, those written row by row,
    and so do the stage totals."""
    for path, days in ((SCENARIOS / "example.yaml", 90), (SCENARIOS / "theory" / "border_train.yaml", 60)):
        scenario = _short(path, days)
        new = CorridorModel(scenario).run().shipments
        reference = CorridorModel(scenario)
        _row_by_row(reference)
        old = reference.run().shipments
        assert old.stage_rows[:, 1].min() >= 0  # the reference wrote no marker
        for key in (*STAGE_COLUMNS, "stage_totals_h", "delivered_h"):
            np.testing.assert_array_equal(new[key], old[key], err_msg=f"{path.name}: {key}")
        kinds = new["stage_kind"]
        assert (kinds == int(Stage.DWELL)).sum() > 0 or path.name == "border_train.yaml"
        assert (kinds == int(Stage.BORDER)).sum() > 0  # handled at the intermediate border stop
        assert (new.stage_rows[:, 1] == -1).sum() == len(new.stoplogs["ride_run"]) > 0
        assert len(new.stage_rows) < len(kinds)  # rides written as one row each


def test_a_hand_made_stop_log_expands_to_its_intervals():
    """A run A -> X -> B logged as arrive/start/end/ready/depart per stop gives a rider boarding at A
    and alighting at B its wait, the two segments, and the queue, border handling, dwell and wait at
    X, empty intervals left out, in journey order, in the place of its marker row."""
    logs = StopLogs()
    A, X, B, AX, XB, LINE = 0, 1, 2, 3, 4, 5
    layout = line_layout(LINE, [A, X, B], [int(Stage.HANDLING), int(Stage.BORDER), int(Stage.HANDLING)], [AX, XB])
    run, log = logs.new_run(LINE, layout)
    log += [0.0, 0.0, 0.0, 1.0, 1.5]       # A: ready at 1 (boarding done), departs at 1.5
    log += [4.0, 5.0, 7.0, 7.0, 8.0]       # X: queue 1 h, border 2 h, no dwell, waits 1 h for a path
    log += [10.0]                           # B: arrives at 10
    ride = logs.ride(7, run, 0, 2, 0.25)
    rows = np.array([[7, int(Stage.QUEUE), A, 0.0, 0.25], [7, -1, ride, 0.0, 0.0], [9, int(Stage.TRAVEL), AX, 2.0, 3.0]])
    out = expand_rides(rows, logs.arrays())
    expected = [
        [7, int(Stage.QUEUE), A, 0.0, 0.25],
        [7, int(Stage.WAIT), LINE, 0.25, 1.5],
        [7, int(Stage.TRAVEL), AX, 1.5, 4.0],
        [7, int(Stage.QUEUE), X, 4.0, 5.0],
        [7, int(Stage.BORDER), X, 5.0, 7.0],
        [7, int(Stage.WAIT), LINE, 7.0, 8.0],
        [7, int(Stage.TRAVEL), XB, 8.0, 10.0],
        [9, int(Stage.TRAVEL), AX, 2.0, 3.0],
    ]
    np.testing.assert_array_equal(out, np.array(expected, dtype=float))


def test_results_folder_stores_rides_as_stop_logs_and_reads_back_every_stage_row(tmp_path):
    """A results folder keeps a ride as one row of rides.parquet (its run's stops once in runs.parquet);
    read_results expands them to exactly the ride rows of the run (float64 stop logs) and gives every
    stage row Results gives, the other rows' hours as their nearest float32."""
    scenario = _short(SCENARIOS / "example.yaml", 60)
    results = cs.run(scenario, replications=2, seed=3, keep_stages=True)
    folder = results.write(tmp_path / "out")
    stages = pq.read_table(folder / "stages.parquet").num_rows
    rides = pq.read_table(folder / "rides.parquet").to_pandas()
    runs = pq.read_table(folder / "runs.parquet").to_pandas()
    full = results.stages()
    assert stages + len(rides) < len(full) and len(rides) > 0
    assert set(runs["replication"]) == {0, 1} and runs["line"].notna().all()
    expanded = expand_ride_tables(rides, runs)
    for out in results.outputs:  # the rides' rows from the folder are those from the engine's logs, exactly
        _, ship, kind, place, start, end = ride_rows(out.shipments.stoplogs)
        mine = expanded[expanded["replication"] == out.replication]
        np.testing.assert_array_equal(mine["shipment"].to_numpy(), ship)
        np.testing.assert_array_equal(mine["start_h"].to_numpy(), start)
        np.testing.assert_array_equal(mine["end_h"].to_numpy(), end)
        assert list(mine["stage"].astype(str)) == [STAGE_NAMES[k] for k in kind]
        assert list(mine["place"].astype(str)) == [out.places[p] for p in place]
    back = cs.read_results(folder).stages()
    want = full.sort_values(["replication", "shipment", "start_h", "end_h"], kind="stable").reset_index(drop=True)
    for c in ("replication", "shipment"):
        np.testing.assert_array_equal(back[c].to_numpy(), want[c].to_numpy(), err_msg=c)
    for c in ("start_h", "end_h"):
        x, y = want[c].to_numpy(), back[c].to_numpy()
        assert np.all((y == x) | (y == x.astype(np.float32).astype(np.float64))), c
    for c in ("stage", "place"):
        assert list(back[c].astype(str)) == list(want[c].astype(str)), c
    assert isinstance(back["stage"].dtype, pd.CategoricalDtype)
