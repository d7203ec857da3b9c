"""Per-shipment records kept in compact columns (array.array), turned into numpy after the run.

A *shipment* row holds its flow, route, size and its created and delivered times (NaN while in
transit). A *stage* row is one interval of one shipment's journey at one place: queueing or being
handled at a node, crossing a border, waiting for a departure or a path, riding or driving a
segment, dwelling at a stop. Every table and summary is derived from these rows.
"""

from __future__ import annotations

import math
from array import array
from bisect import bisect_right
from enum import IntEnum
from operator import add

import numpy as np


class Stage(IntEnum):
    QUEUE = 0      # waiting for a server at a node
    HANDLING = 1   # being handled at a node (transfer, transload, port dwell)
    BORDER = 2     # being handled at a border node
    WAIT = 3       # waiting for a departure, a path (segment slot) or a vehicle
    TRAVEL = 4     # running on a segment
    DWELL = 5      # on board while the vehicle stops at an intermediate stop


STAGE_NAMES = [s.name.lower() for s in Stage]
N_STAGES = len(Stage)


_ZEROS = (0.0,) * N_STAGES
_WAIT = int(Stage.WAIT)


class _Cohort:
    """What both recorders keep about the measured cohort: shipments created in the window.

    `open_measured` counts the cohort's shipments not yet delivered; `done` (when set by the model)
    fires when it falls to zero after the horizon, which ends the drain. `in_system_teu` is each
    flow's TEU created and not yet delivered (the level whose trend says whether the flow settles).
    """

    def _init_cohort(self, n_flows: int, window_h: tuple[float, float]) -> None:
        self.window_h = window_h
        self.open_measured = 0
        self.done = None
        self.in_system_teu = [0.0] * n_flows

    def _created(self, flow: int, teu: float, created_h: float) -> None:
        self.in_system_teu[flow] += teu
        if self.window_h[0] <= created_h < self.window_h[1]:
            self.open_measured += 1

    def _delivered(self, flow: int, teu: float, created_h: float) -> None:
        self.in_system_teu[flow] -= teu
        if self.window_h[0] <= created_h < self.window_h[1]:
            self.open_measured -= 1
            if self.open_measured == 0 and self.done is not None and not self.done.triggered:
                self.done.succeed()


class Recorder(_Cohort):
    """Column store for one replication's shipments and stages."""

    def __init__(self, keep_stages: bool = True, n_flows: int = 0,
                 window_h: tuple[float, float] = (0.0, float("inf"))):
        self._init_cohort(n_flows, window_h)
        self.keep_stages = keep_stages
        self.flow = array("i")
        self.route = array("i")
        self.teu = array("d")
        self.created_h = array("d")
        self.delivered_h = array("d")
        # Stage rows interleaved (shipment, stage, place, start_h, end_h): one C call per row.
        self.rows = array("d")
        # Totals per shipment and stage category, kept even when stage rows are not.
        self.stage_totals = array("d")
        # Runs' stop logs and shipments' rides, from which a ride's rows are expanded (stoplog.py).
        self.stoplogs = None
        if keep_stages:
            from corridor_sim.engine.stoplog import StopLogs

            self.stoplogs = StopLogs()

    def new_shipment(self, flow: int, route: int, teu: float, created_h: float) -> int:
        index = len(self.flow)
        self.flow.append(flow)
        self.route.append(route)
        self.teu.append(teu)
        self.created_h.append(created_h)
        self.delivered_h.append(np.nan)
        self.stage_totals.extend(_ZEROS)
        self._created(flow, teu, created_h)
        return index

    def stage(self, shipment: int, stage: int, place: int, start_h: float, end_h: float) -> None:
        if end_h <= start_h or shipment < 0:  # an empty box (engine/empties.py) is not recorded
            return
        self.stage_totals[shipment * N_STAGES + stage] += end_h - start_h
        if self.keep_stages:
            self.rows.extend((shipment, stage, place, start_h, end_h))

    def totals(self, shipment: int) -> tuple:
        """Where a loaded shipment's stages go: (totals, offset, rows), its total of stage k being
        totals[offset + k], and `rows` the stage rows' column (None when they are not kept). A
        journey adds its stages there itself, as `stage` would, rather than calling it for each."""
        return self.stage_totals, shipment * N_STAGES, self.rows if self.keep_stages else None

    def new_run(self, key: int, layout) -> tuple[int, list]:
        """A vehicle run of line `key` begins: its number and the list it logs its stops in."""
        if self.stoplogs is None:
            return -1, []
        return self.stoplogs.new_run(key, layout)

    def ride(self, shipment: int, run: int, log: list, kinds: list, board: int, alight: int, ready_h: float) -> None:
        """A shipment alights: add its ride's stages to its totals from the run's stop log, in the order
        of the rows, and (with stage rows) write one marker row that `arrays()` expands (stoplog.py)."""
        if shipment < 0:  # an empty box (engine/empties.py) is not recorded
            return
        t = self.stage_totals
        base = shipment * N_STAGES
        j = 5 * board + 4
        prev = log[j]
        if prev > ready_h:
            t[base + _WAIT] += prev - ready_h
        for j in range(j + 1, 5 * alight + 1):
            x = log[j]
            if x > prev:
                t[base + kinds[j]] += x - prev
            prev = x
        if self.stoplogs is not None:
            self.rows.extend((shipment, -1, self.stoplogs.ride(shipment, run, board, alight, ready_h), 0.0, 0.0))

    def delivered(self, shipment: int, now_h: float) -> None:
        self.delivered_h[shipment] = now_h
        self._delivered(self.flow[shipment], self.teu[shipment], self.created_h[shipment])

    def arrays(self) -> dict[str, np.ndarray]:
        n = len(self.flow)
        out = {
            "flow": np.frombuffer(self.flow, dtype=np.int32).copy(),
            "route": np.frombuffer(self.route, dtype=np.int32).copy(),
            "teu": np.frombuffer(self.teu, dtype=np.float64).copy(),
            "created_h": np.frombuffer(self.created_h, dtype=np.float64).copy(),
            "delivered_h": np.frombuffer(self.delivered_h, dtype=np.float64).copy(),
            "stage_totals_h": np.frombuffer(self.stage_totals, dtype=np.float64).reshape(n, N_STAGES).copy(),
        }
        if self.keep_stages:
            rows = np.frombuffer(self.rows, dtype=np.float64).reshape(-1, 5).copy()
            return ShipmentColumns(out, rows, self.stoplogs.arrays())
        return ShipmentColumns(out)


STAGE_COLUMNS = ("stage_shipment", "stage_kind", "stage_place", "stage_start_h", "stage_end_h")


class ShipmentColumns(dict):
    """A replication's per-shipment columns (a dict of arrays).

    With stage rows kept it also holds the rows as the engine wrote them (`stage_rows`: shipment,
    kind, place, start, end; a marker row per ride) and the runs' stop logs (`stoplogs`), and the
    `stage_*` columns are expanded from them on first use (engine/stoplog.py): a replication carries
    no row per ridden stop, pickled to the parent or not, until a table asks for it.
    """

    def __init__(self, columns: dict, stage_rows: np.ndarray | None = None, stoplogs: dict | None = None):
        super().__init__(columns)
        self.stage_rows = stage_rows
        self.stoplogs = stoplogs

    def _pending(self) -> bool:
        return getattr(self, "stage_rows", None) is not None and not dict.__contains__(self, "stage_kind")

    def __missing__(self, key):
        if key in STAGE_COLUMNS and self._pending():
            from corridor_sim.engine.stoplog import expand_rides

            rows = expand_rides(self.stage_rows, self.stoplogs)
            self.update(stage_shipment=rows[:, 0].astype(np.int32), stage_kind=rows[:, 1].astype(np.int8),
                        stage_place=rows[:, 2].astype(np.int32), stage_start_h=rows[:, 3].copy(),
                        stage_end_h=rows[:, 4].copy())
            return dict.__getitem__(self, key)
        raise KeyError(key)

    def __contains__(self, key) -> bool:
        return dict.__contains__(self, key) or (key in STAGE_COLUMNS and self._pending())

    def __iter__(self):
        yield from dict.__iter__(self)
        if self._pending():
            yield from STAGE_COLUMNS

    def keys(self):
        return list(self)

    def get(self, key, default=None):
        return self[key] if key in self else default


class SummaryRecorder(_Cohort):
    """Streaming statistics for summary-only runs: memory bounded by the shipments in flight.

    Nothing is kept per delivered shipment: each flow accumulates counts, sums of transit and stage
    times, TEU delivered per route, and a histogram of transit days (bins of `BIN_DAYS`) from which
    percentiles are read to within half a bin; per month of creation, counts and a coarser histogram
    (`MONTH_BIN_DAYS`). Shipments still under way are the only per-shipment state left; those of
    the measured cohort still under way at the end are reported as censored.
    """

    BIN_DAYS = 0.02
    MONTH_BIN_DAYS = 0.1
    MAX_DAYS = 400.0

    def __init__(self, n_flows: int, n_routes: int, warmup_h: float, horizon_h: float,
                 month_edges_h: np.ndarray | None = None):
        self._init_cohort(n_flows, (warmup_h, horizon_h))
        self.keep_stages = False
        self.warmup_h = warmup_h
        self.horizon_h = horizon_h
        self.active: dict[int, list] = {}
        self.count = 0
        # Plain Python lists while running (a numpy scalar update costs several times a list's; the
        # float additions are the same IEEE ones), numpy arrays in `arrays()`.
        self.created_all = [0] * n_flows
        self.created = [0] * n_flows
        self.delivered_all = [0] * n_flows
        self.delivered_n = [0] * n_flows
        self.transit_h_sum = [0.0] * n_flows
        self.stage_h_sum = [[0.0] * N_STAGES for _ in range(n_flows)]
        self.window_teu = [0.0] * n_flows
        self.route_teu = [0.0] * n_routes
        self.bins = int(self.MAX_DAYS / self.BIN_DAYS)
        self.hist = [array("q", bytes(8 * (self.bins + 1))) for _ in range(n_flows)]  # last bin: beyond MAX_DAYS
        self.month_edges = [0.0, math.inf] if month_edges_h is None else [float(x) for x in month_edges_h]
        months = len(self.month_edges) - 1
        self.month_bins = int(self.MAX_DAYS / self.MONTH_BIN_DAYS)
        self.month_created = [[0] * months for _ in range(n_flows)]
        self.month_delivered = [[0] * months for _ in range(n_flows)]
        self.month_hist = [[array("i", bytes(4 * (self.month_bins + 1))) for _ in range(months)]
                           for _ in range(n_flows)]

    def new_shipment(self, flow: int, route: int, teu: float, created_h: float) -> int:
        index = self.count
        self.count += 1
        self.created_all[flow] += 1
        self.in_system_teu[flow] += teu
        if self.warmup_h <= created_h < self.horizon_h:  # the measured cohort (_Cohort._created, inline)
            self.open_measured += 1
            self.created[flow] += 1
            month = bisect_right(self.month_edges, created_h) - 1
            self.month_created[flow][month] += 1
        else:
            month = None  # not of the measured cohort
        self.active[index] = [flow, route, teu, created_h, *_ZEROS, month]
        return index

    def stage(self, shipment: int, stage: int, place: int, start_h: float, end_h: float) -> None:
        if end_h > start_h and shipment >= 0:  # an empty box (engine/empties.py) is not recorded
            self.active[shipment][4 + stage] += end_h - start_h

    def totals(self, shipment: int) -> tuple:
        """As `Recorder.totals`: the shipment's row of totals under way, and no stage rows."""
        return self.active[shipment], 4, None

    def new_run(self, key: int, layout) -> tuple[int, list]:
        return -1, []

    def ride(self, shipment: int, run: int, log: list, kinds: list, board: int, alight: int, ready_h: float) -> None:
        """A shipment alights: add its ride's stages to its totals (as `Recorder.ride`)."""
        if shipment < 0:
            return
        t = self.active[shipment]
        j = 5 * board + 4
        prev = log[j]
        if prev > ready_h:
            t[4 + _WAIT] += prev - ready_h
        for j in range(j + 1, 5 * alight + 1):
            x = log[j]
            if x > prev:
                t[4 + kinds[j]] += x - prev
            prev = x

    def delivered(self, shipment: int, now_h: float) -> None:
        row = self.active.pop(shipment)
        flow, route, teu, created_h = row[0], row[1], row[2], row[3]
        self.in_system_teu[flow] -= teu
        self.delivered_all[flow] += 1
        if self.warmup_h <= now_h <= self.horizon_h:
            self.window_teu[flow] += teu
        month = row[-1]
        if month is not None:  # of the measured cohort
            self.open_measured -= 1  # _Cohort._delivered, inline
            if self.open_measured == 0 and self.done is not None and not self.done.triggered:
                self.done.succeed()
            transit_h = now_h - created_h
            days = transit_h / 24.0
            self.delivered_n[flow] += 1
            self.transit_h_sum[flow] += transit_h
            # a + b for each stage, in C: the same additions as a comprehension's
            self.stage_h_sum[flow] = list(map(add, self.stage_h_sum[flow], row[4:-1]))
            self.route_teu[route] += teu
            self.hist[flow][min(int(days / self.BIN_DAYS), self.bins)] += 1
            self.month_delivered[flow][month] += 1
            self.month_hist[flow][month][min(int(days / self.MONTH_BIN_DAYS), self.month_bins)] += 1

    def arrays(self) -> dict[str, np.ndarray]:
        cohort = [(v[0], v[3]) for v in self.active.values() if self.warmup_h <= v[3] < self.horizon_h]
        n_flows, months = len(self.created_all), len(self.month_edges) - 1
        return {
            "summary_only": np.array(True),
            "created_all": np.array(self.created_all, dtype=np.int64), "created": np.array(self.created, dtype=np.int64),
            "delivered_all": np.array(self.delivered_all, dtype=np.int64),
            "delivered": np.array(self.delivered_n, dtype=np.int64),
            "transit_h_sum": np.array(self.transit_h_sum, dtype=np.float64),
            "stage_h_sum": np.array(self.stage_h_sum, dtype=np.float64).reshape(n_flows, N_STAGES),
            "window_teu": np.array(self.window_teu, dtype=np.float64),
            "route_teu": np.array(self.route_teu, dtype=np.float64),
            "transit_hist": np.array([np.frombuffer(h, dtype=np.int64) for h in self.hist],
                                     dtype=np.int64).reshape(n_flows, self.bins + 1),
            "bin_days": np.array(self.BIN_DAYS), "month_bin_days": np.array(self.MONTH_BIN_DAYS),
            "month_created": np.array(self.month_created, dtype=np.int64).reshape(n_flows, months),
            "month_delivered": np.array(self.month_delivered, dtype=np.int64).reshape(n_flows, months),
            "month_hist": np.array([[np.frombuffer(h, dtype=np.int32) for h in row] for row in self.month_hist],
                                   dtype=np.int32).reshape(n_flows, months, self.month_bins + 1),
            "censored_flow": np.array([c[0] for c in cohort], dtype=np.int32),
            "censored_created_h": np.array([c[1] for c in cohort], dtype=np.float64),
        }
