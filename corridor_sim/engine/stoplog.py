"""Stop logs: a vehicle run's stops recorded once, a shipment's ride as (run, board, alight).

A train or vessel run (services.py) logs, per stop k, five times in one flat list: arrive, service
start, service end (handling of the whole vehicle), ready to leave (after the dwell) and depart.
The last stop logs its arrival only. The list is therefore a chain of instants, and every interval
of a rider's journey between boarding and alighting is one link of that chain:

    flat index j (the interval's end)   interval          stage
    5k + 0  (arrive at k)               depart k-1 -> k   travel on segment k-1
    5k + 1  (service start)             arrive -> start   queue at stop k
    5k + 2  (service end)               start -> end      handling or border at stop k
    5k + 3  (ready)                     end -> ready      dwell at stop k
    5k + 4  (depart)                    ready -> depart   wait (for the departure) on the line

A rider that boards at stop b and alights at a has the intervals ending at j = 5b+4 ... 5a, the
first starting at its own ready time (when it began to wait) instead of the chain's. Its stage rows
are these intervals without the empty ones, which is what the engine once wrote row by row when a
shipment alighted. Now it writes one marker row per ride and the rows are expanded from the logs
when asked for (`expand_rides`), in the position of the marker: the same rows in the same order.

Stage totals per shipment are still added up when it alights (`ride_totals`), interval by interval
in the same order as the rows, so every float sum is the one of the row-by-row code.
"""

from __future__ import annotations

from array import array

import numpy as np

from corridor_sim.engine.records import Stage

RIDE_MARK = -1  # the stage kind of a marker row; its place column holds the ride's number

QUEUE, WAIT, TRAVEL, DWELL = int(Stage.QUEUE), int(Stage.WAIT), int(Stage.TRAVEL), int(Stage.DWELL)


def line_layout(line_place: int, stop_places: list[int], stop_stages: list[int],
                segment_places: list[int]) -> tuple[list[int], list[int]]:
    """The stage kind and place of the interval ending at each flat index of a line's stop log.

    Args:
        line_place: the line's place index (where waiting for a departure is recorded).
        stop_places: each stop's node place index.
        stop_stages: each stop's handling stage (HANDLING, or BORDER at a border node).
        segment_places: the place index of the segment leaving each stop (one fewer than stops).
    """
    kinds, places = [], []
    for k in range(len(stop_places)):
        node = stop_places[k]
        seg = segment_places[k - 1] if k > 0 else -1
        kinds += [TRAVEL, QUEUE, stop_stages[k], DWELL, WAIT]
        places += [seg, node, node, node, line_place]
    return kinds, places


class StopLogs:
    """The stop logs of a replication's runs and the rides of its shipments (kept with stage rows)."""

    def __init__(self):
        self.logs: list[list[float]] = []
        self.run_layout: list[int] = []
        self.layouts: list[tuple[list[int], list[int]]] = []
        self._layout_ids: dict[int, int] = {}
        self.ride_shipment = array("i")
        self.ride_run = array("i")
        self.ride_board = array("i")
        self.ride_alight = array("i")
        self.ride_ready_h = array("d")

    def new_run(self, key: int, layout: tuple[list[int], list[int]]) -> tuple[int, list[float]]:
        """Start a run of the line `key` (its place index); returns the run's number and its log."""
        lid = self._layout_ids.get(key)
        if lid is None:
            lid = self._layout_ids[key] = len(self.layouts)
            self.layouts.append(layout)
        log: list[float] = []
        self.logs.append(log)
        self.run_layout.append(lid)
        return len(self.logs) - 1, log

    def ride(self, shipment: int, run: int, board: int, alight: int, ready_h: float) -> int:
        """Record a ride; returns its number (the marker row's place)."""
        self.ride_shipment.append(shipment)
        self.ride_run.append(run)
        self.ride_board.append(board)
        self.ride_alight.append(alight)
        self.ride_ready_h.append(ready_h)
        return len(self.ride_run) - 1

    def arrays(self) -> dict[str, np.ndarray]:
        """The logs as flat numpy columns (what `expand_rides` and the results folder use)."""
        lengths = np.array([len(x) for x in self.logs], dtype=np.int64)
        lay_len = np.array([len(k) for k, _ in self.layouts], dtype=np.int64)
        return {
            "run_log_h": np.array([t for log in self.logs for t in log], dtype=np.float64),
            "run_offset": (np.cumsum(lengths) - lengths).astype(np.int64),
            "run_layout": np.array(self.run_layout, dtype=np.int32),
            "layout_kind": np.array([x for k, _ in self.layouts for x in k], dtype=np.int8),
            "layout_place": np.array([x for _, p in self.layouts for x in p], dtype=np.int32),
            "layout_offset": (np.cumsum(lay_len) - lay_len).astype(np.int64),
            "ride_shipment": np.frombuffer(self.ride_shipment, dtype=np.int32).copy(),
            "ride_run": np.frombuffer(self.ride_run, dtype=np.int32).copy(),
            "ride_board": np.frombuffer(self.ride_board, dtype=np.int32).copy(),
            "ride_alight": np.frombuffer(self.ride_alight, dtype=np.int32).copy(),
            "ride_ready_h": np.frombuffer(self.ride_ready_h, dtype=np.float64).copy(),
        }


def ride_rows(logs: dict[str, np.ndarray]) -> tuple[np.ndarray, ...]:
    """Every ride's stage rows, ride after ride: (ride, shipment, kind, place, start_h, end_h).

    Args:
        logs: `StopLogs.arrays()` (or the same columns read back from a results folder).
    """
    board, alight = logs["ride_board"].astype(np.int64), logs["ride_alight"].astype(np.int64)
    run = logs["ride_run"].astype(np.int64)
    n = 5 * (alight - board) - 3  # intervals ending at 5b+4 ... 5a
    total = int(n.sum()) if len(n) else 0
    ride = np.repeat(np.arange(len(n)), n)
    first = np.cumsum(n) - n
    j = 5 * board[ride] + 4 + (np.arange(total) - first[ride])
    at = logs["run_offset"][run[ride]] + j
    F = logs["run_log_h"]
    end = F[at]
    start = F[at - 1]
    start[first] = logs["ride_ready_h"]
    lay = logs["layout_offset"][logs["run_layout"][run[ride]]] + j
    kind, place = logs["layout_kind"][lay], logs["layout_place"][lay]
    keep = end > start
    return (ride[keep], logs["ride_shipment"][ride][keep], kind[keep], place[keep], start[keep], end[keep])


def expand_rides(rows: np.ndarray, logs: dict[str, np.ndarray]) -> np.ndarray:
    """Stage rows (n x 5: shipment, kind, place, start, end) with each ride's marker row replaced
    by the ride's rows, in place: the table the row-by-row engine wrote."""
    marks = rows[:, 1] == RIDE_MARK
    if not marks.any():
        return rows
    ride, ship, kind, place, start, end = ride_rows(logs)
    mark_pos = np.flatnonzero(marks)  # the k-th marker is ride k's (both are written together)
    plain = np.flatnonzero(~marks)
    expanded = np.column_stack([ship, kind, place, start, end]).astype(np.float64)
    pos = np.concatenate([plain, mark_pos[ride]])
    order = np.argsort(pos, kind="stable")
    return np.concatenate([rows[plain], expanded])[order]
