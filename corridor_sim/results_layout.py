"""The per-shipment files of a results folder: their layout, and their writer (numpy and pyarrow, no pandas).

The small tables (flows, nodes, services, segments, queues) are CSV files and summary.json. The
large ones are Parquet files by default, each with one row group per replication (in replication
order), so a reader that filters on ``replication`` (pyarrow, polars, DuckDB) reads only its rows:

- ``shipments.parquet``: the shipments created in the measured window, every replication;
- ``stages.parquet``: the stage rows outside rides of the replications that kept them
  (replication 0 by default);
- ``rides.parquet`` and ``runs.parquet``: each ride as (run, board, alight) and each vehicle run's
  stop log, from which `read_results` expands the rides' stage rows (engine/stoplog.py).

Categorical columns are dictionary-encoded, ids int32, hours float32 in the shipments and stages
files (float64 in the stop logs), flags bool; columns that follow from others are not stored and
are put back on reading (results_dir.py reads the folder). Each column's unit is also in the file's
field metadata; docs/outputs.md lists every column and the precision kept. The tables are written
from the replications' numpy columns (corridor_sim/columnar.py), so `corridor-sim run` does not
import pandas unless asked for CSV (``--format csv``: ``shipments.csv`` and ``stages.csv.gz``, the
first version's layout, every column, float64).
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

from corridor_sim.columnar import Columns, sorted_rows, write_parquet

FORMATS = ("parquet", "csv")

# Column -> unit, written as field metadata and documented in docs/outputs.md.
SHIPMENT_UNITS = {
    "replication": "index", "shipment": "index", "flow": "flow id", "route": "route label",
    "teu": "TEU", "created_h": "h", "delivered_h": "h", "measured": "flag",
    "cost_usd": "USD", "co2_kg": "kg", "travel_h": "h", "wait_h": "h", "handling_h": "h",
    "border_h": "h", "queue_h": "h",
}
STAGE_UNITS = {"replication": "index", "shipment": "index", "stage": "stage name", "place": "place id",
               "start_h": "h", "end_h": "h"}
RIDE_UNITS = {"replication": "index", "shipment": "index", "run": "index", "board": "stop index",
              "alight": "stop index", "ready_h": "h"}
RUN_UNITS = {"replication": "index", "run": "index", "line": "line id", "stop": "stop index", "node": "place id",
             "handling": "stage name", "segment": "place id", "arrive_h": "h", "start_h": "h", "end_h": "h",
             "ready_h": "h", "depart_h": "h"}
# Times and durations in hours are written as float32 (docs/outputs.md states the precision kept);
# read_results gives them back as float64.
SHIPMENT_FLOAT32 = ("created_h", "delivered_h", "travel_h", "wait_h", "handling_h", "border_h", "queue_h")
# stages.parquet's times too; rides.parquet and runs.parquet keep float64, so that the rows expanded
# from them on reading are exactly those of the run (an interval under a float32 step is not lost).
STAGE_FLOAT32 = ("start_h", "end_h")
# Columns of the shipments table not stored because they follow from others: transit_days from the
# times, measured (every stored shipment is), cost_usd and co2_kg from the route and the TEU.
SHIPMENT_DERIVED = ("transit_days", "measured", "cost_usd", "co2_kg")
# shipments.parquet's rows within a replication: by flow, then shipment number. A flow's shipments
# share their routes and similar journeys, so flow and route come in long runs and the hours of
# neighbouring rows are close (19% fewer bytes than in shipment order on the base INSTC run);
# read_results puts the rows back in shipment order.
SHIPMENT_ORDER = ("flow", "shipment")
# stages.parquet's rows: each journey in order (results_dir.sort_stages sorts a DataFrame alike).
STAGE_ORDER = ("replication", "shipment", "start_h", "end_h")


def write_shipment_tables(folder: Path, shipments, stages, fmt: str = "parquet",
                          outputs: Sequence | None = None) -> None:
    """Write the measured shipments and the stage rows into `folder` in format `fmt` ('parquet' or 'csv').

    `shipments` is a DataFrame or `Columns`. `stages` is the stage table, or a function that returns
    it (called only where it is written row by row). In Parquet, the columns of `SHIPMENT_DERIVED`
    are left out (read_results puts them back: the same float operations). With the replications'
    `outputs`, the stage rows of rides are not written: the vehicle runs' stop logs go to
    runs.parquet and each ride's (run, board, alight) to rides.parquet, and read_results expands
    them (engine/stoplog.py); the other stage rows go to stages.parquet, sorted by replication,
    shipment and start: each journey in order, which also lets the shipment column be
    delta-encoded. The shipments are stored by replication, flow and shipment (`SHIPMENT_ORDER`).
    """
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; one of {', '.join(FORMATS)}")
    if callable(stages) and (fmt == "csv" or outputs is None):
        stages = stages()
    if fmt == "csv":
        frame = shipments.frame() if isinstance(shipments, Columns) else shipments
        frame.to_csv(folder / "shipments.csv", index=False)
        if len(stages):
            stages.to_csv(folder / "stages.csv.gz", index=False)
        return
    stored = Columns.of(shipments).drop(SHIPMENT_DERIVED)
    write_parquet(sorted_rows(stored, ("replication", *SHIPMENT_ORDER)), folder / "shipments.parquet",
                  SHIPMENT_UNITS, float32=SHIPMENT_FLOAT32)
    if outputs is None:
        if len(stages):
            write_parquet(sort_stage_rows(Columns.of(stages)), folder / "stages.parquet", STAGE_UNITS, float32=STAGE_FLOAT32)
        return
    plain, rides, runs = stop_log_columns(outputs)
    if len(plain) or len(rides):
        write_parquet(sort_stage_rows(plain), folder / "stages.parquet", STAGE_UNITS, float32=STAGE_FLOAT32)
    if len(rides):
        write_parquet(rides, folder / "rides.parquet", RIDE_UNITS)
        write_parquet(runs, folder / "runs.parquet", RUN_UNITS)


def sort_stage_rows(stages: Columns) -> Columns:
    """Stage rows in journey order: by replication, shipment, start and end (stable)."""
    return sorted_rows(stages, STAGE_ORDER)


def stop_log_columns(outputs: Sequence) -> tuple[Columns, Columns, Columns]:
    """The stage rows outside rides, the rides and the runs' stop logs of the replications that kept
    stage rows, as the tables of stages.parquet, rides.parquet and runs.parquet."""
    from corridor_sim.engine.records import STAGE_NAMES

    plain, rides, runs = [], [], []
    for out in outputs:
        s = out.shipments
        rows = getattr(s, "stage_rows", None)
        if rows is None:
            continue
        logs = s.stoplogs
        rows = rows[rows[:, 1] >= 0]  # the marker rows of rides are left to rides.parquet
        plain.append(Columns({
            "replication": np.full(len(rows), out.replication, dtype=np.int64),
            "shipment": rows[:, 0].astype(np.int32), "stage": rows[:, 1].astype(np.int8),
            "place": rows[:, 2].astype(np.int32), "start_h": rows[:, 3], "end_h": rows[:, 4]},
            {"stage": list(STAGE_NAMES), "place": list(out.places)}))
        ride = logs["ride_shipment"]
        rides.append(Columns({
            "replication": np.full(len(ride), out.replication, dtype=np.int64), "shipment": ride,
            "run": logs["ride_run"], "board": logs["ride_board"], "alight": logs["ride_alight"],
            "ready_h": logs["ride_ready_h"]}))
        runs.append(_runs_columns(out.replication, logs, out.places))
    return Columns.concat(plain), Columns.concat(rides), Columns.concat(runs)


def _runs_columns(replication: int, s, places: list[str]) -> Columns:
    """One row per stop a run reached: the stop log's five instants (null where not yet reached)."""
    from corridor_sim.engine.records import STAGE_NAMES

    log, offset = s["run_log_h"], s["run_offset"]
    lengths = np.diff(np.append(offset, len(log)))
    stops = (lengths + 4) // 5  # a run logs 5 instants per stop left, 1 at the stop it is at
    run = np.repeat(np.arange(len(offset)), stops)
    first = np.cumsum(stops) - stops
    stop = np.arange(int(stops.sum())) - first[run]
    times = np.full((len(run), 5), np.nan)
    for t in range(5):
        at = 5 * stop + t
        ok = at < lengths[run]
        times[ok, t] = log[offset[run[ok]] + at[ok]]
    lay = s["layout_offset"][s["run_layout"][run]] + 5 * stop
    kind, place = s["layout_kind"], s["layout_place"]
    n_lay = len(place)
    nxt = np.minimum(lay + 5, n_lay - 1)
    # The segment leaving the stop is the travel place of the next stop's first link (none after the last).
    last = (np.append(s["layout_offset"][1:], n_lay)[s["run_layout"][run]] == lay + 5)
    seg = np.where(last, -1, place[nxt])
    cats = list(places)
    return Columns({
        "replication": np.full(len(run), replication, dtype=np.int64), "run": run.astype(np.int32),
        "line": place[lay + 4], "stop": stop.astype(np.int32), "node": place[lay + 1],
        "handling": kind[lay + 2].astype(np.int8), "segment": seg,
        "arrive_h": times[:, 0], "start_h": times[:, 1], "end_h": times[:, 2], "ready_h": times[:, 3],
        "depart_h": times[:, 4]},
        {"line": cats, "node": cats, "handling": list(STAGE_NAMES), "segment": cats})
