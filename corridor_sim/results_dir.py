"""A run's results folder on disk: the per-shipment tables written as Parquet (or CSV), and read back.

The small tables (flows, nodes, services, segments, queues) are CSV files and summary.json. The
large ones are Parquet files by default, each with one row group per replication (in replication
order), so a reader that filters on ``replication`` (pyarrow, polars, DuckDB) reads only its rows:

- ``shipments.parquet``: the shipments created in the measured window, every replication;
- ``stages.parquet``: the stage rows outside rides of the replications that kept them
  (replication 0 by default);
- ``rides.parquet`` and ``runs.parquet``: each ride as (run, board, alight) and each vehicle run's
  stop log, from which `read_results` expands the rides' stage rows (engine/stoplog.py).

One file per table (rather than a folder per replication) keeps the folder one level deep and opens
with a single ``pd.read_parquet(path)``. Categorical columns are dictionary-encoded, ids int32,
hours float32 in the shipments and stages files (float64 in the stop logs), flags bool; columns that
follow from others are not stored and are put back on reading. Each column's unit is also in the
file's field metadata. Each numeric column gets the encoding that compresses it best on a sample
(`choose_encodings`), and the shipments are stored by flow within a replication (`SHIPMENT_ORDER`).
docs/outputs.md lists every column and the precision kept. ``--format csv``
writes ``shipments.csv`` and ``stages.csv.gz`` instead (the first version's layout, every column,
float64); `load_results_dir` reads either layout, and the Parquet one of earlier versions.
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
RIDE_UNITS = {"replication": "index", "shipment": "index", "run": "index", "board": "stop index",
              "alight": "stop index", "ready_h": "h"}
RUN_UNITS = {"replication": "index", "run": "index", "line": "line id", "stop": "stop index", "node": "place id",
             "handling": "stage name", "segment": "place id", "arrive_h": "h", "start_h": "h", "end_h": "h",
             "ready_h": "h", "depart_h": "h"}
_CATEGORICAL = {"flow", "route", "stage", "place", "line", "node", "handling", "segment"}
_INT = {"replication", "shipment", "run", "board", "alight", "stop"}
_BOOL = {"measured"}
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
# zstd level 9: level 15 takes about 4% fewer bytes but, on the ten-station network's 320,000 stage
# rows, 1.2 s more CPU of a 7-8 s run (docs/performance.md).
ZSTD_LEVEL = 9


def _arrow_table(frame: pd.DataFrame, units: dict[str, str], float32: Sequence[str] = ()):
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
            arr = pa.array(col.to_numpy(dtype=np.float32 if name in float32 else np.float64), from_pandas=True)
        arrays.append(arr)
        fields.append(pa.field(name, arr.type, metadata={"unit": units.get(name, "")}))
    return pa.Table.from_arrays(arrays, schema=pa.schema(fields))


def write_parquet(frame: pd.DataFrame, path: Path, units: dict[str, str], float32: Sequence[str] = ()) -> None:
    """Write `frame` to `path` as Parquet (zstd, level `ZSTD_LEVEL`), one row group per replication.

    Rows must come grouped by replication (as `Results` builds them); each group is written by its
    own `write_table` call, which starts a row group. Categorical columns are dictionary-encoded;
    every other column gets the encoding that compresses it best (`choose_encodings`).
    """
    import pyarrow.parquet as pq

    table = _arrow_table(frame, units, float32)
    encoding = choose_encodings(table)
    reps = frame["replication"].to_numpy()
    starts = [0, *(np.flatnonzero(reps[1:] != reps[:-1]) + 1).tolist(), len(reps)]
    plain = {c: e for c, e in encoding.items() if e != _DICTIONARY}
    with pq.ParquetWriter(path, table.schema, compression="zstd", compression_level=ZSTD_LEVEL,
                          column_encoding=plain or None,
                          use_dictionary=[c for c in table.column_names if c not in plain]) as writer:
        for a, b in zip(starts[:-1], starts[1:]):
            if b > a:
                writer.write_table(table.slice(a, b - a), row_group_size=b - a)


_DICTIONARY = "RLE_DICTIONARY"
# Encodings tried per column type: the two Parquet encodings that suit it, and a dictionary.
_CANDIDATES = {"float": ("BYTE_STREAM_SPLIT", "PLAIN", _DICTIONARY),
               "int": ("DELTA_BINARY_PACKED", "PLAIN", _DICTIONARY)}
# The sample compressed with each candidate: chunks of consecutive rows (delta and byte-stream-split
# gain from neighbours) spread over the table, at a fast zstd level (the ranking hardly depends on it).
_SAMPLE_CHUNKS, _SAMPLE_ROWS, _TRIAL_LEVEL = 8, 8192, 3


def choose_encodings(table) -> dict[str, str]:
    """Column -> the Parquet encoding whose zstd-compressed bytes are fewest on a sample of it.

    Floats try byte-stream-split (zstd compresses the separated exponent and mantissa bytes of
    clock times best), plain (durations with many zeros, few distinct values) and a dictionary;
    integers try delta (ids rising within a replication), plain and a dictionary. Dictionary-typed
    (categorical) and boolean columns are left out: they keep the writer's default (a dictionary).
    """
    import io

    import pyarrow as pa
    import pyarrow.parquet as pq

    out = {}
    n = table.num_rows
    if n == 0:
        return out
    # The whole column if it is small, else chunks that do not overlap (repeated rows would favour
    # whatever encoding zstd finds the repeat in).
    if n <= _SAMPLE_CHUNKS * _SAMPLE_ROWS:
        starts, rows = np.array([0]), n
    else:
        starts, rows = np.linspace(0, n - _SAMPLE_ROWS, _SAMPLE_CHUNKS).astype(np.int64), _SAMPLE_ROWS
    for name in table.column_names:
        col = table.column(name)
        kind = "float" if pa.types.is_floating(col.type) else "int" if pa.types.is_integer(col.type) else None
        if kind is None:
            continue
        sample = pa.table({"x": pa.concat_arrays([c for s in starts for c in col.slice(int(s), rows).chunks])})
        sizes = {}
        for enc in _CANDIDATES[kind]:
            buf = io.BytesIO()
            if enc == _DICTIONARY:
                pq.write_table(sample, buf, compression="zstd", compression_level=_TRIAL_LEVEL, use_dictionary=True)
            else:
                pq.write_table(sample, buf, compression="zstd", compression_level=_TRIAL_LEVEL, use_dictionary=False,
                               column_encoding={"x": enc})
            sizes[enc] = buf.tell()
        out[name] = min(sizes, key=sizes.get)
    return out


def sort_within_replication(frame: pd.DataFrame, keys: Sequence[str]) -> pd.DataFrame:
    """Rows ordered by replication, then by `keys` (a categorical by its category order), stable."""
    def values(c):
        col = frame[c]
        return col.cat.codes.to_numpy() if isinstance(col.dtype, pd.CategoricalDtype) else col.to_numpy()

    order = np.lexsort([values(c) for c in reversed(("replication", *keys))])
    return frame.take(order).reset_index(drop=True)


def write_shipment_tables(folder: Path, shipments: pd.DataFrame, stages, fmt: str = "parquet",
                          outputs: Sequence | None = None) -> None:
    """Write the measured shipments and the stage rows into `folder` in format `fmt` ('parquet' or 'csv').

    `stages` is the stage table, or a function that returns it (called only where it is written
    row by row). In Parquet, `transit_days` is left out (read_results adds it back from delivered_h
    and created_h, the same float operations). With the replications' `outputs`, the stage rows of
    rides are not written: the vehicle runs' stop logs go to runs.parquet and each ride's
    (run, board, alight) to rides.parquet, and read_results expands them (engine/stoplog.py); the
    other stage rows go to stages.parquet, sorted by replication, shipment and start: each journey
    in order, which also lets the shipment column be delta-encoded. The shipments are stored by
    replication, flow and shipment (`SHIPMENT_ORDER`).
    """
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; one of {', '.join(FORMATS)}")
    if callable(stages) and (fmt == "csv" or outputs is None):
        stages = stages()
    if fmt == "csv":
        shipments.to_csv(folder / "shipments.csv", index=False)
        if len(stages):
            stages.to_csv(folder / "stages.csv.gz", index=False)
        return
    stored = shipments.drop(columns=[c for c in SHIPMENT_DERIVED if c in shipments.columns])
    write_parquet(sort_within_replication(stored, SHIPMENT_ORDER), folder / "shipments.parquet", SHIPMENT_UNITS,
                  float32=SHIPMENT_FLOAT32)
    if outputs is None:
        if len(stages):
            write_parquet(sort_stages(stages), folder / "stages.parquet", STAGE_UNITS,
                          float32=STAGE_FLOAT32)
        return
    plain, rides, runs = stop_log_frames(outputs)
    if len(plain) or len(rides):
        write_parquet(sort_stages(plain), folder / "stages.parquet", STAGE_UNITS,
                      float32=STAGE_FLOAT32)
    if len(rides):
        write_parquet(rides, folder / "rides.parquet", RIDE_UNITS)
        write_parquet(runs, folder / "runs.parquet", RUN_UNITS)


def stop_log_frames(outputs: Sequence) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
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
        plain.append(pd.DataFrame({
            "replication": out.replication, "shipment": rows[:, 0].astype(np.int32),
            "stage": pd.Categorical.from_codes(rows[:, 1].astype(np.int8), categories=STAGE_NAMES),
            "place": pd.Categorical.from_codes(rows[:, 2].astype(np.int32), categories=out.places),
            "start_h": rows[:, 3], "end_h": rows[:, 4]}))
        rides.append(pd.DataFrame({
            "replication": out.replication, "shipment": logs["ride_shipment"], "run": logs["ride_run"],
            "board": logs["ride_board"], "alight": logs["ride_alight"], "ready_h": logs["ride_ready_h"]}))
        runs.append(_runs_frame(out.replication, logs, out.places))
    if not plain:
        empty = pd.DataFrame(columns=list(STAGE_UNITS))
        return empty, pd.DataFrame(columns=list(RIDE_UNITS)), pd.DataFrame(columns=list(RUN_UNITS))
    return (pd.concat(plain, ignore_index=True), pd.concat(rides, ignore_index=True),
            pd.concat(runs, ignore_index=True))


def _runs_frame(replication: int, s, places: list[str]) -> pd.DataFrame:
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
    return pd.DataFrame({
        "replication": replication, "run": run.astype(np.int32),
        "line": pd.Categorical.from_codes(place[lay + 4], categories=cats),
        "stop": stop.astype(np.int32),
        "node": pd.Categorical.from_codes(place[lay + 1], categories=cats),
        "handling": pd.Categorical.from_codes(kind[lay + 2].astype(np.int8), categories=STAGE_NAMES),
        "segment": pd.Categorical.from_codes(seg, categories=cats),
        "arrive_h": times[:, 0], "start_h": times[:, 1], "end_h": times[:, 2], "ready_h": times[:, 3],
        "depart_h": times[:, 4]})


def expand_ride_tables(rides: pd.DataFrame, runs: pd.DataFrame) -> pd.DataFrame:
    """The stage rows of the rides in rides.parquet, from the stop logs in runs.parquet (the inverse
    of `stop_log_frames`; engine/stoplog.py has the rule)."""
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
    order = np.lexsort([stages[c].to_numpy() for c in ("end_h", "start_h", "shipment", "replication")])
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
