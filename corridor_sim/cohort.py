"""The measured cohort of a flow: its transit times, censored or not, overall and by month.

A flow's measured shipments are those created in the measured window [warm-up, horizon). The run
follows them until they are all delivered or the drain ends (`simulation.drain_days`); a shipment
still under way then is right-censored at (end of run - created). Its statistics come from
`estimators.transit_summary`: the plain figures when nothing is censored, Kaplan-Meier otherwise.

From a summary-only replication the delivered times are read off its streamed histogram (bin
mid-points: exact to within half a bin) and the censored ones from the cohort still in flight.
"""

from __future__ import annotations

import math

import numpy as np

from corridor_sim.calendar import month_index
from corridor_sim.engine.model import ReplicationOutput
from corridor_sim.estimators import transit_summary


def _streamed(out: ReplicationOutput) -> bool:
    return "summary_only" in out.shipments


def cohort_times(out: ReplicationOutput, flow: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(transit days, censored, created hours) of one flow's measured shipments in a replication.

    For a summary-only replication the created hours are those of the censored ones only (the
    delivered ones are histogram counts), and NaN for the delivered.
    """
    s = out.shipments
    if _streamed(out):
        hist = s["transit_hist"][flow]
        width = float(s["bin_days"])
        done = np.repeat((np.arange(len(hist)) + 0.5) * width, hist)
        cens_created = s["censored_created_h"][s["censored_flow"] == flow]
        times = np.concatenate([done, (out.end_h - cens_created) / 24.0])
        censored = np.concatenate([np.zeros(len(done), bool), np.ones(len(cens_created), bool)])
        created = np.concatenate([np.full(len(done), math.nan), cens_created])
        return times, censored, created
    mine = (s["flow"] == flow) & (s["created_h"] >= out.warmup_h) & (s["created_h"] < out.horizon_h)
    created = s["created_h"][mine]
    delivered = s["delivered_h"][mine]
    censored = np.isnan(delivered)
    times = (np.where(censored, out.end_h, delivered) - created) / 24.0
    return times, censored, created


def replication_transit(out: ReplicationOutput, flow: int) -> dict:
    """One replication's transit summary for a flow (its mean feeds the interval across replications)."""
    s = out.shipments
    times, censored, _ = cohort_times(out, flow)
    if _streamed(out) and not censored.any():
        n = int(s["delivered"][flow])
        # Exact mean from the streamed sums (the histogram gives it only to within half a bin).
        summary = transit_summary(times)
        summary["mean"] = float(s["transit_h_sum"][flow]) / n / 24.0 if n else math.nan
        return summary
    return transit_summary(times, censored)


def pooled_transit(outputs: list[ReplicationOutput], flow: int) -> dict:
    """A flow's transit summary pooling every replication's measured shipments."""
    parts = [cohort_times(o, flow) for o in outputs]
    times = np.concatenate([p[0] for p in parts]) if parts else np.zeros(0)
    censored = np.concatenate([p[1] for p in parts]) if parts else np.zeros(0, bool)
    return transit_summary(times, censored)


def window_months(out: ReplicationOutput) -> list[int]:
    """Indices of the months (among `out.month_keys`) that overlap the measured window."""
    edges = out.month_edges_h
    return [m for m in range(len(out.month_keys))
            if edges[m] < out.horizon_h and edges[m + 1] > out.warmup_h]


def by_month(outputs: list[ReplicationOutput], flow: int) -> dict[str, dict]:
    """Per "YYYY-MM" month of creation: mean created and delivered per replication, censored, and
    transit days (mean, p50, p95) pooled over replications, Kaplan-Meier where censored."""
    if not outputs:
        return {}
    first = outputs[0]
    months = window_months(first)
    result = {}
    n = len(outputs)
    for m in months:
        times, cens = [], []
        created = delivered = censored = 0
        for out in outputs:
            s = out.shipments
            if _streamed(out):
                hist = s["month_hist"][flow, m]
                width = float(s["month_bin_days"])
                done = np.repeat((np.arange(len(hist)) + 0.5) * width, hist)
                mine = s["censored_flow"] == flow
                cc = s["censored_created_h"][mine]
                cc = cc[month_index(out.month_edges_h, cc) == m]
                t = np.concatenate([done, (out.end_h - cc) / 24.0])
                c = np.concatenate([np.zeros(len(done), bool), np.ones(len(cc), bool)])
                created += int(s["month_created"][flow, m])
                delivered += int(s["month_delivered"][flow, m])
            else:
                t_all, c_all, created_h = cohort_times(out, flow)
                keep = month_index(out.month_edges_h, created_h) == m
                t, c = t_all[keep], c_all[keep]
                created += int(keep.sum())
                delivered += int((~c).sum())
            times.append(t)
            cens.append(c)
            censored += int(c.sum())
        summary = transit_summary(np.concatenate(times), np.concatenate(cens), qs=(0.50, 0.95))
        p50, p95 = summary["quantiles"]
        result[first.month_keys[m]] = {
            "created": created / n, "delivered": delivered / n, "censored": censored / n,
            "transit_days": {"mean": summary["mean"], "p50": p50, "p95": p95},
            "estimator": summary["estimator"],
        }
    return result
