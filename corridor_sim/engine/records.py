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
