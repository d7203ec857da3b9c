"""A run's results folder read back, and its per-shipment tables as pandas DataFrames.

The folder's layout and the writer of its per-shipment files live in results_layout.py (which
`corridor-sim run` uses without pandas); their names are importable from here as before. This
module reads a folder back (`read_results`: the Parquet layout, that of earlier versions, and the
CSV one), puts back the columns the files do not store, expands the rides' stage rows from the
stop logs (engine/stoplog.py), and writes DataFrames in the same layout (`write_parquet`).
docs/outputs.md lists every column and the precision kept.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from corridor_sim.columnar import ZSTD_LEVEL, Columns, arrow_table, choose_encodings  # noqa: F401
from corridor_sim.columnar import write_parquet as _write_columns
from corridor_sim.network import CorridorNetwork, Route

from corridor_sim.results_layout import (  # noqa: F401  (the layout's names, as results_dir gave them)
    FORMATS, RIDE_UNITS, RUN_UNITS, SHIPMENT_DERIVED, SHIPMENT_FLOAT32, SHIPMENT_ORDER, SHIPMENT_UNITS,
    STAGE_FLOAT32, STAGE_ORDER, STAGE_UNITS, write_shipment_tables)

def _arrow_table(frame, units: dict[str, str], float32: Sequence[str] = ()):
    """A pyarrow Table of a DataFrame or `Columns` with the layout's types (columnar.arrow_table)."""
    return arrow_table(Columns.of(frame), units, float32)


def write_parquet(frame, path: Path, units: dict[str, str], float32: Sequence[str] = ()) -> None:
    """Write a DataFrame or `Columns` to `path` as Parquet, one row group per replication
    (columnar.write_parquet: zstd level `ZSTD_LEVEL`, each column's encoding by `choose_encodings`)."""
    _write_columns(Columns.of(frame), path, units, float32)


def expand_ride_tables(rides: pd.DataFrame, runs: pd.DataFrame) -> pd.DataFrame:
    """The stage rows of the rides in rides.parquet, from the stop logs in runs.parquet (the inverse
    of results_layout.stop_log_columns; engine/stoplog.py has the rule)."""
    from corridor_sim.engine.records import STAGE_NAMES
    from corridor_sim.engine.stoplog import DWELL, QUEUE, TRAVEL, WAIT, ride_rows

    frames = []
    for rep, rd in rides.groupby("replication", sort=True):
        rn = runs[runs["replication"] == rep].sort_values(["run", "stop"], kind="stable")
        run = rn["run"].to_numpy(np.int64)
        cats = list(dict.fromkeys([*map(str, rn["node"].astype(str)), *map(str, rn["line"].astype(str)),
                                   *(str(x) for x in rn["segment"].dropna().astype(str))]))
        code = {c: i for i, c in enumerate(cats)}
        node = np.array([code[str(x)] for x in rn["node"].astype(str)], dtype=np.int32)
        line = np.array([code[str(x)] for x in rn["line"].astype(str)], dtype=np.int32)
        seg = np.array([code[str(x)] if pd.notna(x) else -1 for x in rn["segment"].astype(object)], dtype=np.int32)
        prev_seg = np.concatenate([[-1], seg[:-1]])
        prev_seg[np.r_[True, run[1:] != run[:-1]]] = -1
        handling = np.array([STAGE_NAMES.index(str(x)) for x in rn["handling"].astype(str)], dtype=np.int8)
        n = len(rn)
        kind = np.column_stack([np.full(n, TRAVEL), np.full(n, QUEUE), handling, np.full(n, DWELL),
                                np.full(n, WAIT)]).astype(np.int8).ravel()
        place = np.column_stack([prev_seg, node, node, node, line]).ravel()
        times = rn[["arrive_h", "start_h", "end_h", "ready_h", "depart_h"]].to_numpy(np.float64).ravel()
        starts = np.flatnonzero(np.r_[True, run[1:] != run[:-1]])
        offset = np.zeros(int(run.max()) + 1 if n else 0, dtype=np.int64)
        offset[run[starts]] = 5 * starts
        logs = {"run_log_h": times, "run_offset": offset, "run_layout": np.arange(len(offset), dtype=np.int32),
                "layout_kind": kind, "layout_place": place, "layout_offset": offset,
                "ride_shipment": rd["shipment"].to_numpy(np.int32), "ride_run": rd["run"].to_numpy(np.int32),
                "ride_board": rd["board"].to_numpy(np.int32), "ride_alight": rd["alight"].to_numpy(np.int32),
                "ride_ready_h": rd["ready_h"].to_numpy(np.float64)}
        _, ship, k, p, start, end = ride_rows(logs)
        frames.append(pd.DataFrame({
            "replication": rep, "shipment": ship,
            "stage": pd.Categorical.from_codes(k, categories=STAGE_NAMES),
            "place": pd.Categorical.from_codes(p, categories=cats), "start_h": start, "end_h": end}))
    if not frames:
        return pd.DataFrame(columns=list(STAGE_UNITS))
    return pd.concat(frames, ignore_index=True)


def sort_stages(stages: pd.DataFrame) -> pd.DataFrame:
    """Stage rows in journey order: by replication, shipment, start and end (stable)."""
    order = np.lexsort([stages[c].to_numpy() for c in reversed(STAGE_ORDER)])
    return stages.take(order).reset_index(drop=True)


def _concat_stages(a: pd.DataFrame, b: pd.DataFrame) -> pd.DataFrame:
    """Two stage tables as one in journey order, stage and place as categories (the stage names in
    the engine's order, the places of both tables)."""
    from pandas.api.types import union_categoricals

    from corridor_sim.engine.records import STAGE_NAMES

    parts = [x for x in (a, b) if len(x)]
    if not parts:
        return a
    out = pd.concat([x.drop(columns=["stage", "place"]) for x in parts], ignore_index=True)
    for c in ("stage", "place"):
        out[c] = union_categoricals([_str_categorical(x[c]) for x in parts], ignore_order=True)
    out["stage"] = out["stage"].cat.set_categories(STAGE_NAMES)
    return sort_stages(out[list(STAGE_UNITS)])


def _str_categorical(col: pd.Series) -> pd.Categorical:
    """A column as a Categorical with plain string categories (whatever the file's dictionary type)."""
    cat = col if isinstance(col.dtype, pd.CategoricalDtype) else col.astype(str).astype("category")
    return pd.Categorical.from_codes(cat.cat.codes.to_numpy(), categories=pd.Index([str(x) for x in cat.cat.categories],
                                                                                   dtype=object))


def _float64(frame: pd.DataFrame) -> pd.DataFrame:
    """float32 columns (hours in the Parquet layout) as float64, exactly."""
    for c in frame.columns:
        if frame[c].dtype == np.float32:
            frame[c] = frame[c].astype(np.float64)
    return frame


def _in_shipment_order(ship: pd.DataFrame) -> pd.DataFrame:
    """The shipments table by replication and shipment number (stored by flow within a replication
    since `SHIPMENT_ORDER`; tables of earlier layouts are in that order already and stay as they are)."""
    if not len(ship) or "shipment" not in ship.columns:
        return ship
    rep, num = ship["replication"].to_numpy(np.int64), ship["shipment"].to_numpy(np.int64)
    if np.all((rep[1:] > rep[:-1]) | ((rep[1:] == rep[:-1]) & (num[1:] >= num[:-1]))):
        return ship
    return ship.take(np.lexsort([num, rep])).reset_index(drop=True)


def _with_derived_columns(ship: pd.DataFrame, scenario) -> pd.DataFrame:
    """A Parquet shipments table with the columns it does not store back in place: transit_days after
    delivered_h (the float operations of `Results`), then measured, cost_usd and co2_kg (the route's
    cost per TEU x teu, as `Results` computes them; needs the folder's scenario)."""
    if "transit_days" not in ship.columns and "delivered_h" in ship.columns:
        ship.insert(ship.columns.get_loc("delivered_h") + 1, "transit_days",
                    (ship["delivered_h"] - ship["created_h"]) / 24.0)
    if "measured" not in ship.columns and "transit_days" in ship.columns:
        ship.insert(ship.columns.get_loc("transit_days") + 1, "measured", np.ones(len(ship), dtype=bool))
    if "cost_usd" not in ship.columns and "route" in ship.columns and scenario is not None:
        from corridor_sim.results import route_table

        routes = route_table(CorridorNetwork.from_scenario(scenario))
        index = np.array([route_index(x) for x in ship["route"].astype(str)], dtype=np.int64)
        usd = np.array([r[2] for r in routes])[index] if len(index) else np.zeros(0)
        co2 = np.array([r[3] for r in routes])[index] if len(index) else np.zeros(0)
        at = ship.columns.get_loc("measured") + 1
        ship.insert(at, "cost_usd", usd * ship["teu"].to_numpy(np.float64))
        ship.insert(at + 1, "co2_kg", co2 * ship["teu"].to_numpy(np.float64))
    return ship


# ---------------------------------------------------------------------- the folder read back


def route_index(label: str) -> int:
    """The engine's route number from a route label ("A B C #3" -> 3), as in the shipments table."""
    m = re.search(r"#(\d+)\s*$", str(label))
    if not m:
        raise ValueError(f"route label without its number: {label!r}")
    return int(m.group(1))


class NotApplicable(ValueError):
    """The data a figure or an export needs is not there (e.g. a run written with --no-shipments)."""


@dataclass
class ResultsDir:
    """A results folder read back: the same table attributes (and stages()/queues()) as `Results`.

    Attributes:
        folder: the folder.
        scenario: the merged scenario (from scenario.yaml), or None when the file is missing.
        flows, flows_by_replication, nodes, services, segments: the tables from the CSV files.
        shipments: measured shipments (shipments.parquet or shipments.csv), empty for a
            --no-shipments run. Unlike `Results.shipments` it holds no shipment created during the
            warm-up.
    """

    folder: Path
    scenario: object
    summary_doc: dict
    run_info: dict
    flows: pd.DataFrame
    flows_by_replication: pd.DataFrame
    nodes: pd.DataFrame
    services: pd.DataFrame
    segments: pd.DataFrame
    shipments: pd.DataFrame
    _stages: pd.DataFrame = field(repr=False, default=None)
    _queues: pd.DataFrame = field(repr=False, default=None)
    _network: CorridorNetwork | None = field(repr=False, default=None)
    _routes: list | None = field(repr=False, default=None)

    @property
    def name(self) -> str:
        return self.scenario.name if self.scenario is not None else str(self.summary_doc.get("scenario", self.folder.name))

    @property
    def replications(self) -> int:
        return int(self.summary_doc.get("replications", 1))

    @property
    def seed(self) -> int:
        return int(self.summary_doc.get("seed", 0))

    @property
    def horizon_days(self) -> float:
        return float(self.summary_doc.get("horizon_days", 0.0))

    @property
    def warmup_days(self) -> float:
        return float(self.summary_doc.get("warmup_days", 0.0))

    @property
    def measured_days(self) -> float:
        return self.horizon_days - self.warmup_days

    @property
    def network(self) -> CorridorNetwork:
        if self.scenario is None:
            raise NotApplicable(f"{self.folder} has no scenario.yaml")
        if self._network is None:
            self._network = CorridorNetwork.from_scenario(self.scenario)
        return self._network

    def route_table(self) -> list[tuple[int, Route, float, float]]:
        """(flow index, route, USD per TEU, kg CO2 per TEU) in the engine's route numbering."""
        from corridor_sim.results import route_table

        if self._routes is None:
            self._routes = route_table(self.network)
        return self._routes

    def stages(self, replication: int | None = None) -> pd.DataFrame:
        """Stage rows from stages.parquet or stages.csv.gz (the replications that kept them)."""
        st = self._stages
        return st if replication is None else st[st["replication"] == replication]

    def queues(self) -> pd.DataFrame:
        """Daily queue samples per facility and replication (queues.csv)."""
        return self._queues

    def summary(self) -> dict:
        """The summary.json document."""
        return self.summary_doc


def _read_csv(path: Path, columns: Sequence[str] = ()) -> pd.DataFrame:
    if path.is_file() and path.stat().st_size > 0:
        try:
            return pd.read_csv(path)
        except pd.errors.EmptyDataError:
            pass
    return pd.DataFrame(columns=list(columns))


def _read_table(folder: Path, stem: str, csv_name: str, columns: Sequence[str]) -> pd.DataFrame:
    """A per-shipment table from stem.parquet, else from the CSV file of the first layout."""
    parquet = folder / f"{stem}.parquet"
    if parquet.is_file():
        import pyarrow.parquet as pq

        return pq.read_table(parquet).to_pandas()
    return _read_csv(folder / csv_name, columns)


def load_results_dir(path: str | Path) -> ResultsDir:
    """Read a results folder written by `corridor-sim run` (or `Results.write`) into a ResultsDir.

    Reads the Parquet layout and the CSV one (shipments.csv, stages.csv.gz) alike.

    Raises:
        FileNotFoundError: the folder, or its summary.json / flows.csv, is missing.
    """
    from corridor_sim.scenario import load_scenario

    folder = Path(path)
    if not folder.is_dir():
        raise FileNotFoundError(f"no results folder {folder}")
    if not (folder / "summary.json").is_file() or not (folder / "flows.csv").is_file():
        raise FileNotFoundError(f"{folder} is not a run's results folder (no summary.json or flows.csv)")
    summary = json.loads((folder / "summary.json").read_text())
    run_info = json.loads((folder / "run.json").read_text()) if (folder / "run.json").is_file() else {}
    scenario = load_scenario(folder / "scenario.yaml") if (folder / "scenario.yaml").is_file() else None
    flow_ids = [f.id for f in scenario.demand] if scenario is not None else None

    shipments = _read_table(folder, "shipments", "shipments.csv", ["replication", "shipment", "flow", "route", "teu",
                                                                   "created_h", "delivered_h", "transit_days",
                                                                   "measured"])
    shipments = _with_derived_columns(_in_shipment_order(_float64(shipments)), scenario)
    if len(shipments):
        if flow_ids is not None:
            shipments["flow"] = pd.Categorical(shipments["flow"].astype(str), categories=flow_ids)
        shipments["measured"] = shipments["measured"].astype(bool)
    stages = _float64(_read_table(folder, "stages", "stages.csv.gz",
                                  ["replication", "shipment", "stage", "place", "start_h", "end_h"]))
    if (folder / "rides.parquet").is_file():  # rides stored as stop logs: expanded to their rows
        import pyarrow.parquet as pq

        rides = expand_ride_tables(_float64(pq.read_table(folder / "rides.parquet").to_pandas()),
                                   _float64(pq.read_table(folder / "runs.parquet").to_pandas()))
        stages = _concat_stages(stages, rides)
    queues = _read_csv(folder / "queues.csv", ["replication", "node", "time_days", "queue"])
    flows = _read_csv(folder / "flows.csv")
    if flow_ids is not None and len(flows):
        flows["flow"] = flows["flow"].astype(str)
    return ResultsDir(
        folder=folder, scenario=scenario, summary_doc=summary, run_info=run_info, flows=flows,
        flows_by_replication=_read_csv(folder / "flows_by_replication.csv"),
        nodes=_read_csv(folder / "nodes.csv", ["node", "name", "kind", "servers", "applies", "utilization",
                                               "utilization_ci95_low", "utilization_ci95_high", "mean_queue",
                                               "mean_wait_h", "arrivals_per_day"]),
        services=_read_csv(folder / "services.csv", ["service", "mode", "capacity_teu", "departures",
                                                     "mean_load_factor", "teu_carried_per_day", "waiting_at_end"]),
        segments=_read_csv(folder / "segments.csv", ["gate", "segment", "capacity_per_day", "utilization",
                                                     "vehicles_per_day", "queue_at_end"]),
        shipments=shipments, _stages=stages, _queues=queues,
    )


def read_results(path: str | Path) -> ResultsDir:
    """Read a run's results folder back (Parquet or CSV layout) without rerunning it.

    The returned object has the tables of `Results`: flows, flows_by_replication, nodes, services,
    segments, shipments (the measured ones), stages(), queues() and summary(), and the merged
    scenario. Figures (`corridor_sim.plotting`) accept it wherever they accept a `Results`.

    Raises:
        FileNotFoundError: the folder, or its summary.json / flows.csv, is missing.
    """
    return load_results_dir(path)
