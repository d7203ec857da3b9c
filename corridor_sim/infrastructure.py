"""Results of the shared infrastructure: berths, yards, single-track segments and background traffic.

Each figure is the mean over replications of a per-replication value measured after the warm-up.
They are added to summary.json under the node or segment they describe (only where a scenario uses
them, so a scenario without berths, yards, single track or background traffic reports as before):

- `nodes.<id>`: `berth_utilization` (berth-hours used / (berths x hours)), `berth_mean_wait_h`
  (per call), `berth_calls_per_day`, `berth_queue_slope_per_day` and `berth_stable`;
  `yard_mean_occupancy_teu`, `yard_peak_occupancy_teu`, `yard_share_time_full`;
  `background_arrivals_per_day` (background vehicles passing the node) and, at a facility,
  `background_share` (of the vehicles and shipments it handled).
- `segments.<id>` (a single-track segment): `occupation_share` (time a section is occupied,
  averaged over its sections), `vehicles_per_day`, `meets_per_day`, `mean_wait_h` (for a path, per
  vehicle, loop waits included), `background_share`; and on every gate that background vehicles
  use, `background_share` of the vehicles it admitted.

`berth_stable` is false when the berth queue grows: its least-squares trend over the measured
window adds at least one waiting call, with the berths busy at least 95% of the time (calls that
need more berth-hours than there are). A stable queue has no trend; a growing one never empties.
"""

from __future__ import annotations

import math

import numpy as np

UNSTABLE_UTILIZATION = 0.95


def _mean(values) -> float:
    values = [v for v in values if not math.isnan(v)]
    return float(np.mean(values)) if values else math.nan


def shared_summary(outputs, measured_days: float) -> tuple[dict, dict]:
    """(node entries, segment entries) to merge into summary.json, from every replication's output."""
    nodes: dict[str, dict] = {}
    segments: dict[str, dict] = {}
    extras = [o.extra for o in outputs]
    for nid in sorted({n for e in extras for n in e.get("berths", {})}):
        per = [e["berths"][nid] for e in extras]
        util = _mean([p["utilization"] for p in per])
        slope = _mean([p["queue_slope_per_day"] for p in per])
        nodes.setdefault(nid, {}).update({
            "berths": per[0]["berths"],
            "berth_utilization": util,
            "berth_mean_wait_h": _mean([p["wait_sum_h"] / p["waits"] if p["waits"] else 0.0 for p in per]),
            "berth_calls_per_day": _mean([p["calls"] / p["span_h"] * 24 for p in per]),
            "berth_queue_slope_per_day": slope,
            "berth_stable": not (slope * measured_days >= 1.0 and util >= UNSTABLE_UTILIZATION),
        })
        if any(p["calls_background"] for p in per):
            nodes[nid]["berth_background_share"] = _mean(
                [p["calls_background"] / p["calls"] if p["calls"] else math.nan for p in per])
    for nid in sorted({n for e in extras for n in e.get("yards", {})}):
        per = [e["yards"][nid] for e in extras]
        nodes.setdefault(nid, {}).update({
            "yard_teu": per[0]["yard_teu"],
            "yard_mean_occupancy_teu": _mean([p["mean_occupancy_teu"] for p in per]),
            "yard_peak_occupancy_teu": float(max(p["peak_occupancy_teu"] for p in per)),
            "yard_share_time_full": _mean([p["share_time_full"] for p in per]),
        })
    for sid in sorted({s for e in extras for s in e.get("tracks", {})}):
        per = [e["tracks"][sid] for e in extras]
        segments.setdefault(sid, {}).update({
            "tracks": 1, "sections": per[0]["sections"],
            "occupation_share": _mean([p["occupation_share"] for p in per]),
            "vehicles_per_day": _mean([p["entered"] / p["span_h"] * 24 for p in per]),
            "meets_per_day": _mean([p["meets"] / p["span_h"] * 24 for p in per]),
            "mean_wait_h": _mean([p["wait_sum_h"] / p["entered"] if p["entered"] else 0.0 for p in per]),
            "background_share": _mean([p["entered_background"] / p["entered"] if p["entered"] else math.nan
                                       for p in per]),
        })
    if any("background" in e for e in extras):
        bgs = [e.get("background", {}) for e in extras]
        for nid in sorted({n for b in bgs for n in b.get("arrivals", {})}):
            entry = nodes.setdefault(nid, {})
            entry["background_arrivals_per_day"] = _mean([b["arrivals"].get(nid, 0) / b["span_h"] * 24 for b in bgs])
            shares = []
            for o, b in zip(outputs, bgs):
                handled = o.facilities.get(nid, {}).get("arrivals", 0)
                if handled:
                    shares.append(b["facility_arrivals"].get(nid, 0) / handled)
            if shares:
                entry["background_share"] = _mean(shares)
        for o, b in zip(outputs, bgs):
            for name, gate in o.gates.items():
                seg = gate["segment"]
                mine = sum(v for k, v in b.get("segment_entries", {}).items()
                           if k == name or (name == seg and k.startswith(f"{seg}@")))
                if gate["entered"]:
                    segments.setdefault(name, {}).setdefault("_shares", []).append(mine / gate["entered"])
        for entry in segments.values():
            if "_shares" in entry:
                entry["background_share_of_paths"] = _mean(entry.pop("_shares"))
    return nodes, segments


def format_lines(outputs, measured_days: float) -> list[str]:
    """The shared-infrastructure part of the tables printed by `corridor-sim run` (empty if unused)."""
    if not any(o.extra for o in outputs):
        return []
    nodes, segments = shared_summary(outputs, measured_days)
    lines = []
    berths = {k: v for k, v in nodes.items() if "berth_utilization" in v}
    if berths:
        lines += ["", "Berths"]
        head = f"{'node':<14} {'berths':>6} {'util':>6} {'calls/d':>8} {'wait_h':>8} {'stable':>6}"
        lines += [head, "-" * len(head)]
        for nid, v in berths.items():
            lines.append(f"{nid:<14} {v['berths']:6d} {v['berth_utilization']:6.2f} {v['berth_calls_per_day']:8.2f} "
                         f"{v['berth_mean_wait_h']:8.1f} {'yes' if v['berth_stable'] else 'NO':>6}")
    yards = {k: v for k, v in nodes.items() if "yard_teu" in v}
    if yards:
        lines += ["", "Yards (TEU)"]
        head = f"{'node':<14} {'room':>7} {'mean':>7} {'peak':>7} {'full':>6}"
        lines += [head, "-" * len(head)]
        for nid, v in yards.items():
            lines.append(f"{nid:<14} {v['yard_teu']:7.0f} {v['yard_mean_occupancy_teu']:7.1f} "
                         f"{v['yard_peak_occupancy_teu']:7.0f} {v['yard_share_time_full']:6.2f}")
    tracks = {k: v for k, v in segments.items() if v.get("tracks") == 1}
    if tracks:
        lines += ["", "Single track (both directions)"]
        head = f"{'segment':<18} {'sections':>8} {'occupied':>8} {'veh/day':>8} {'meets/d':>8} {'wait_h':>8}"
        lines += [head, "-" * len(head)]
        for sid, v in tracks.items():
            lines.append(f"{sid:<18} {v['sections']:8d} {v['occupation_share']:8.2f} {v['vehicles_per_day']:8.1f} "
                         f"{v['meets_per_day']:8.1f} {v['mean_wait_h']:8.1f}")
    background = {k: v for k, v in nodes.items() if "background_arrivals_per_day" in v}
    if background:
        lines += ["", "Background traffic (vehicles per day passing; share of a facility's arrivals)"]
        for nid, v in background.items():
            share = v.get("background_share")
            lines.append(f"{nid:<14} {v['background_arrivals_per_day']:8.1f}" + (f" {share:6.2f}" if share is not None else ""))
    return lines


def busiest_candidates(outputs) -> list[tuple[str, float]]:
    """Berth groups (by utilisation) and single tracks (by occupation) to weigh against facilities."""
    extras = [o.extra for o in outputs]
    out = []
    for kind, label, key in (("berths", "berths", "utilization"), ("tracks", "single track", "occupation_share")):
        for name in sorted({n for e in extras for n in e.get(kind, {})}):
            out.append((f"{label} {name}", _mean([e[kind][name][key] for e in extras if name in e.get(kind, {})])))
    return out


def merge_into(summary_nodes: dict, summary_segments: dict, outputs, measured_days: float) -> None:
    """Add the shared-infrastructure figures to the summary's node and segment entries (in place)."""
    if not any(o.extra for o in outputs):
        return
    nodes, segments = shared_summary(outputs, measured_days)
    for target, extra in ((summary_nodes, nodes), (summary_segments, segments)):
        for key, values in extra.items():
            target.setdefault(key, {}).update({k: _json(v) for k, v in values.items()})


def _json(value):
    if isinstance(value, float) and (math.isnan(value) or math.isinf(value)):
        return None
    return value
