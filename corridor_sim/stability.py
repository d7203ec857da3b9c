"""Whether each element of a run settles: backlog trends over the measured window.

Each replication samples, once a day: every flow's TEU in the system (created, not yet delivered),
every facility's cumulative queue and busy areas (so a day's mean queue and a month's utilisation
come out exactly), every gate's queue of vehicles and every service line's TEU waiting. Over the
measured window, `estimators.growth_test` gives the trend and whether it is a significant growth.
The level's units: TEU for flows and services, shipments (or vehicles) queueing for facilities,
vehicles for gates; growth is per day.
"""

from __future__ import annotations

import math

import numpy as np

from corridor_sim.engine.model import ReplicationOutput
from corridor_sim.estimators import growth_test


def _in_window(out: ReplicationOutput) -> np.ndarray:
    t = out.levels["times_h"]
    return (t >= out.warmup_h) & (t <= out.horizon_h)


def level_series(out: ReplicationOutput, kind: str, name: str) -> tuple[np.ndarray, np.ndarray]:
    """(days, level) over the measured window for one element: kind is flows, facilities, gates or
    lines (one service line) or services (all its lines). A facility's level is its mean queue over each day (from the cumulative areas)."""
    t = out.levels["times_h"]
    if kind == "facilities":
        queue_area = out.levels["facility_areas"][name][:, 0]
        level = np.diff(queue_area) / 24.0  # mean queue over the day that ends at t[1:]
        t = t[1:]
        keep = (t > out.warmup_h) & (t <= out.horizon_h)
        return t[keep] / 24.0, level[keep]
    keep = _in_window(out)
    if kind == "services":  # a service's level: the TEU waiting for any of its lines
        level = sum(out.levels["lines"][lid] for lid, v in out.lines.items() if v["service"] == name)
        return t[keep] / 24.0, np.asarray(level, dtype=float)[keep] if np.ndim(level) else np.zeros(int(keep.sum()))
    return t[keep] / 24.0, out.levels[kind][name][keep]


def stability(outputs: list[ReplicationOutput], kind: str, name: str, rate_per_day: float) -> dict:
    """{"growth_per_day", "stable", "p_value"} of one element over all replications."""
    store = {"facilities": "facility_areas", "services": "lines"}.get(kind, kind)
    series = [level_series(o, kind, name) for o in outputs
              if o.levels and (kind == "services" or name in o.levels.get(store, {}))]
    if not series:
        return {"growth_per_day": math.nan, "stable": True, "p_value": math.nan}
    return growth_test(series, rate_per_day)


def monthly_facility(outputs: list[ReplicationOutput], node_id: str, months: list[int]) -> dict[str, dict]:
    """Per "YYYY-MM": a facility's utilisation (of the servers open) and mean queue, mean over
    replications, from the daily cumulative areas (months start at whole days of the clock)."""
    result = {}
    if not outputs:
        return result
    first = outputs[0]
    for m in months:
        utils, queues = [], []
        for out in outputs:
            areas = out.levels["facility_areas"].get(node_id)
            if areas is None or len(areas) == 0:
                continue
            t = out.levels["times_h"]
            lo = max(first.month_edges_h[m], out.warmup_h)
            hi = min(first.month_edges_h[m + 1], out.horizon_h)
            i, j = int(np.searchsorted(t, lo - 1e-9)), int(np.searchsorted(t, hi - 1e-9))
            j = min(j, len(t) - 1)
            if j <= i:
                continue
            q, _, busy_open, open_ = areas[j] - areas[i]
            utils.append(busy_open / open_ if open_ > 0 else math.nan)
            queues.append(q / (t[j] - t[i]))
        if utils:
            result[first.month_keys[m]] = {"utilization": float(np.nanmean(utils)) if not all(
                math.isnan(u) for u in utils) else math.nan, "mean_queue": float(np.mean(queues))}
    return result
