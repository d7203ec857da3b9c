"""Per-shipment records kept in compact columns (array.array), turned into numpy after the run.

A *shipment* row holds its flow, route, size and its created and delivered times (NaN while in
transit). A *stage* row is one interval of one shipment's journey at one place: queueing or being
handled at a node, crossing a border, waiting for a departure or a path, riding or driving a
segment, dwelling at a stop. Every table and summary is derived from these rows.
"""

from __future__ import annotations

from array import array
from enum import IntEnum

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


class Recorder:
    """Column store for one replication's shipments and stages."""

    def __init__(self, keep_stages: bool = True):
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

    def new_shipment(self, flow: int, route: int, teu: float, created_h: float) -> int:
        index = len(self.flow)
        self.flow.append(flow)
        self.route.append(route)
        self.teu.append(teu)
        self.created_h.append(created_h)
        self.delivered_h.append(np.nan)
        self.stage_totals.extend(_ZEROS)
        return index

    def stage(self, shipment: int, stage: int, place: int, start_h: float, end_h: float) -> None:
        if end_h <= start_h:
            return
        self.stage_totals[shipment * N_STAGES + stage] += end_h - start_h
        if self.keep_stages:
            self.rows.extend((shipment, stage, place, start_h, end_h))

    def delivered(self, shipment: int, now_h: float) -> None:
        self.delivered_h[shipment] = now_h

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
            rows = np.frombuffer(self.rows, dtype=np.float64).reshape(-1, 5)
            out.update(
                stage_shipment=rows[:, 0].astype(np.int32),
                stage_kind=rows[:, 1].astype(np.int8),
                stage_place=rows[:, 2].astype(np.int32),
                stage_start_h=rows[:, 3].copy(),
                stage_end_h=rows[:, 4].copy(),
            )
        return out


class SummaryRecorder:
    """Streaming statistics for summary-only runs: memory bounded by the shipments in flight.

    Nothing is kept per delivered shipment: each flow accumulates counts, sums of transit and stage
    times, TEU delivered per route, and a histogram of transit days (bins of `BIN_DAYS`) from which
    percentiles are read to within half a bin. Shipments still under way at the horizon are the only
    per-shipment state left.
    """

    BIN_DAYS = 0.02
    MAX_DAYS = 400.0

    def __init__(self, n_flows: int, n_routes: int, warmup_h: float, horizon_h: float):
        self.keep_stages = False
        self.warmup_h = warmup_h
        self.horizon_h = horizon_h
        self.active: dict[int, list] = {}
        self.count = 0
        self.created_all = np.zeros(n_flows, dtype=np.int64)
        self.created = np.zeros(n_flows, dtype=np.int64)
        self.delivered_all = np.zeros(n_flows, dtype=np.int64)
        self.delivered_n = np.zeros(n_flows, dtype=np.int64)
        self.transit_h_sum = np.zeros(n_flows)
        self.stage_h_sum = np.zeros((n_flows, N_STAGES))
        self.window_teu = np.zeros(n_flows)
        self.route_teu = np.zeros(n_routes)
        self.bins = int(self.MAX_DAYS / self.BIN_DAYS)
        self.hist = np.zeros((n_flows, self.bins + 1), dtype=np.int64)  # last bin: beyond MAX_DAYS

    def new_shipment(self, flow: int, route: int, teu: float, created_h: float) -> int:
        index = self.count
        self.count += 1
        self.created_all[flow] += 1
        if created_h >= self.warmup_h:
            self.created[flow] += 1
        self.active[index] = [flow, route, teu, created_h, *_ZEROS]
        return index

    def stage(self, shipment: int, stage: int, place: int, start_h: float, end_h: float) -> None:
        if end_h > start_h:
            self.active[shipment][4 + stage] += end_h - start_h

    def delivered(self, shipment: int, now_h: float) -> None:
        flow, route, teu, created_h, *totals = self.active.pop(shipment)
        self.delivered_all[flow] += 1
        if now_h >= self.warmup_h:
            self.window_teu[flow] += teu
        if created_h >= self.warmup_h:
            transit_h = now_h - created_h
            self.delivered_n[flow] += 1
            self.transit_h_sum[flow] += transit_h
            self.stage_h_sum[flow] += totals
            self.route_teu[route] += teu
            self.hist[flow, min(int(transit_h / 24.0 / self.BIN_DAYS), self.bins)] += 1

    def arrays(self) -> dict[str, np.ndarray]:
        return {
            "summary_only": np.array(True),
            "created_all": self.created_all, "created": self.created,
            "delivered_all": self.delivered_all, "delivered": self.delivered_n,
            "transit_h_sum": self.transit_h_sum, "stage_h_sum": self.stage_h_sum,
            "window_teu": self.window_teu, "route_teu": self.route_teu, "transit_hist": self.hist,
            "bin_days": np.array(self.BIN_DAYS),
        }
