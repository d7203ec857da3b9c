"""A run's results folder on disk: the per-shipment tables written as Parquet (or CSV), and read back.

The small tables (flows, nodes, services, segments, queues) are CSV files and summary.json. The two
large ones, one row per measured shipment and one row per stage of a shipment's journey, are Parquet
files by default:

- ``shipments.parquet``: the shipments created in the measured window, every replication, one row
  group per replication (in replication order), so a reader that filters on ``replication`` (pyarrow,
  polars, DuckDB) reads only that replication's rows;
- ``stages.parquet``: the stage rows of the replications that kept them (replication 0 by default),
  also one row group per replication.

One file per table (rather than a folder per replication) keeps the folder one level deep and opens
with a single ``pd.read_parquet(path)``. Categorical columns (flow, route, stage, place) are
dictionary-encoded, ids are int32, times float64 hours, flags bool; each column's unit is also in
the file's field metadata. docs/outputs.md lists every column. ``--format csv`` writes
``shipments.csv`` and ``stages.csv.gz`` instead (the first version's layout); `load_results_dir`
reads either layout.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from corridor_sim.network import CorridorNetwork, Route

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
_CATEGORICAL = {"flow", "route", "stage", "place"}
_INT = {"replication", "shipment"}
_BOOL = {"measured"}


def _arrow_table(frame: pd.DataFrame, units: dict[str, str]):
    """A pyarrow Table of `frame` with the project's dtypes: dictionary<int32, string> categories,
    int32 ids, bool flags, float64 quantities (NaN written as null: not delivered yet)."""
    import pyarrow as pa

    arrays, fields = [], []
    for name in frame.columns:
        col = frame[name]
        if name in _CATEGORICAL:
            cat = col if isinstance(col.dtype, pd.CategoricalDtype) else col.astype("category")
            codes = cat.cat.codes.to_numpy().astype(np.int32)
            arr = pa.DictionaryArray.from_arrays(pa.array(codes, mask=codes < 0),
                                                 pa.array([str(c) for c in cat.cat.categories], pa.string()))
        elif name in _INT:
            arr = pa.array(col.to_numpy().astype(np.int32))
        elif name in _BOOL:
            arr = pa.array(col.to_numpy().astype(bool))
        else:
            arr = pa.array(col.to_numpy(dtype=np.float64), from_pandas=True)
        arrays.append(arr)
        fields.append(pa.field(name, arr.type, metadata={"unit": units.get(name, "")}))
    return pa.Table.from_arrays(arrays, schema=pa.schema(fields))


def write_parquet(frame: pd.DataFrame, path: Path, units: dict[str, str], sequential: Sequence[str] = ()) -> None:
    """Write `frame` to `path` as Parquet (zstd), one row group per replication.

    Rows must come grouped by replication (as `Results` builds them); each group is written by its
    own `write_table` call, which starts a row group. Integer columns named in `sequential` (rising
    within a replication) are delta-encoded; a float column whose values hardly repeat (more than
    90% distinct, such as creation times) is byte-stream-split, which zstd compresses better than a
    dictionary of unique values; every other column is dictionary-encoded.
    """
    import pyarrow.parquet as pq

    table = _arrow_table(frame, units)
    encoding = {c: "DELTA_BINARY_PACKED" for c in sequential}
    for name in frame.columns:
        if pd.api.types.is_float_dtype(frame[name]) and len(frame) and frame[name].nunique() > 0.9 * len(frame):
            encoding[name] = "BYTE_STREAM_SPLIT"
    reps = frame["replication"].to_numpy()
    starts = [0, *(np.flatnonzero(reps[1:] != reps[:-1]) + 1).tolist(), len(reps)]
    with pq.ParquetWriter(path, table.schema, compression="zstd", column_encoding=encoding or None,
                          use_dictionary=[c for c in table.column_names if c not in encoding]) as writer:
        for a, b in zip(starts[:-1], starts[1:]):
            if b > a:
                writer.write_table(table.slice(a, b - a), row_group_size=b - a)


def write_shipment_tables(folder: Path, shipments: pd.DataFrame, stages: pd.DataFrame, fmt: str = "parquet") -> None:
    """Write the measured shipments and the stage rows into `folder` in format `fmt` ('parquet' or 'csv').

    In Parquet, `transit_days` is left out (read_results adds it back from delivered_h and created_h,
    the same float operations) and the stage rows are sorted by replication, shipment and start:
    each journey in order, which also lets the shipment column be delta-encoded.
    """
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; one of {', '.join(FORMATS)}")
    if fmt == "csv":
        shipments.to_csv(folder / "shipments.csv", index=False)
        if len(stages):
            stages.to_csv(folder / "stages.csv.gz", index=False)
        return
    write_parquet(shipments.drop(columns=["transit_days"]), folder / "shipments.parquet", SHIPMENT_UNITS,
                  sequential=("shipment",))
    if len(stages):
        write_parquet(sort_stages(stages), folder / "stages.parquet", STAGE_UNITS, sequential=("shipment",))


def sort_stages(stages: pd.DataFrame) -> pd.DataFrame:
    """Stage rows in journey order: by replication, shipment, start and end (stable)."""
    order = np.lexsort([stages[c].to_numpy() for c in ("end_h", "start_h", "shipment", "replication")])
    return stages.take(order).reset_index(drop=True)


def _with_transit_days(ship: pd.DataFrame) -> pd.DataFrame:
    """A Parquet shipments table with its derived transit_days column back in place, after delivered_h."""
    if "transit_days" not in ship.columns and "delivered_h" in ship.columns:
        ship.insert(ship.columns.get_loc("delivered_h") + 1, "transit_days",
                    (ship["delivered_h"] - ship["created_h"]) / 24.0)
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
    shipments = _with_transit_days(shipments)
    if len(shipments):
        if flow_ids is not None:
            shipments["flow"] = pd.Categorical(shipments["flow"].astype(str), categories=flow_ids)
        shipments["measured"] = shipments["measured"].astype(bool)
    stages = _read_table(folder, "stages", "stages.csv.gz",
                         ["replication", "shipment", "stage", "place", "start_h", "end_h"])
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
