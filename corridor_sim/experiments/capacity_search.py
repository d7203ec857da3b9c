"""Capacity: the largest demand of one flow that the corridor carries in steady state, by bisection.

A demand level is feasible when every flow keeps up, no backlog grows, nothing is saturated and
(if asked) the flow's p95 transit stays within a limit; see `capacity` for the criteria.
"""

from __future__ import annotations

import copy
import math

import pandas as pd

from corridor_sim.errors import UsageError
from corridor_sim.estimators import slope_per_day
from corridor_sim.results import Results, _json_number, t_interval
from corridor_sim.stability import level_series
from corridor_sim.experiments.replications import _as_scenario, _run_many, check_flow


def _backlog_growth(results: Results) -> dict[str, list[float]]:
    """Per flow, per replication: the least-squares slope of the flow's TEU in the system over the
    measured window (sampled daily), as a fraction of the TEU created per day in that window."""
    out: dict[str, list[float]] = {f.id: [] for f in results.scenario.demand}
    by = results.flows_by_replication
    for o in results.outputs:
        for flow in results.scenario.demand:
            row = by[(by["replication"] == o.replication) & (by["flow"] == flow.id)]
            rate = flow.shipment_teu * float(row["created"].sum()) / results.measured_days
            days, level = level_series(o, "flows", flow.id)
            if rate <= 0 or len(days) < 3:
                continue
            out[flow.id].append(slope_per_day(days, level) / rate)
    return out


def _assess(results: Results, flow_id: str, p95_days: float | None, throughput_ratio: float,
            backlog_growth: float, max_utilization: float) -> dict:
    """The capacity criteria at one demand level (see `capacity`)."""
    by = results.flows_by_replication
    growth = _backlog_growth(results)
    reasons = []
    worst_ratio, worst_growth, worst_growth_low = math.inf, -math.inf, math.nan
    for flow in results.scenario.demand:
        r = by[by["flow"] == flow.id]
        created = float((r["created"] * flow.shipment_teu).mean()) / results.measured_days
        ratio = float(r["throughput_teu_per_day"].mean()) / created if created > 0 else math.nan
        if not math.isnan(ratio):
            worst_ratio = min(worst_ratio, ratio)
            if ratio < throughput_ratio:
                reasons.append(f"{flow.id}: throughput {ratio:.3f} of demand < {throughput_ratio:g}")
        g = growth[flow.id]
        if not g:
            continue
        mean, low, _ = t_interval(g)
        if mean > worst_growth:
            worst_growth, worst_growth_low = mean, low
        growing = mean > backlog_growth and (len(g) < 2 or low > 0)
        if growing:
            sure = f", 95% CI from {low:+.2%}" if len(g) >= 2 else ""
            reasons.append(f"{flow.id}: backlog grows {mean:.2%} of demand a day{sure} > {backlog_growth:.1%}")
    loads = [(f"node {r.node}", r.utilization) for r in results.nodes.itertuples()]
    loads += [(f"segment {r.gate}", r.utilization) for r in results.segments.itertuples()]
    # A when-full fleet is saturated when its vehicles are never idle waiting for cargo; a scheduled
    # fleet is busy by its timetable whatever the demand (it binds through late departures instead).
    when_full = {s.id for s in results.scenario.services if s.fleet is not None and not hasattr(s.departures, "every_h")}
    loads += [(f"service {r.service} (fleet of {r.vehicles:.0f})", r.fleet_utilization)
              for r in results.services.itertuples() if r.service in when_full]
    loads = [x for x in loads if not math.isnan(x[1])]
    top_name, top_util = max(loads, key=lambda x: x[1]) if loads else ("", math.nan)
    if top_util >= max_utilization:
        reasons.append(f"{top_name}: utilisation {top_util:.3f} >= {max_utilization:g}")
    row = results.flows[results.flows["flow"] == flow_id].iloc[0]
    p95 = float(row.transit_days_p95)
    if p95_days is not None and not p95 <= p95_days:
        reasons.append(f"{flow_id}: p95 transit {p95:.2f} days > {p95_days:g}")
    busiest, util = results.busiest_facility()
    created_flow = float(by[by["flow"] == flow_id]["created"].mean())
    return {"created_teu_per_day": created_flow * results.scenario.flow(flow_id).shipment_teu / results.measured_days,
            "throughput_teu_per_day": float(row.throughput_teu_per_day),
            "throughput_ratio": worst_ratio if worst_ratio != math.inf else math.nan,
            "backlog_growth": worst_growth if worst_growth != -math.inf else math.nan,
            "backlog_growth_ci95_low": worst_growth_low,
            "max_utilization": top_util,
            "transit_days_mean": float(row.transit_days_mean), "transit_days_p95": p95,
            "feasible": not reasons, "reason": "; ".join(reasons), "busiest": busiest, "busiest_utilization": util}


def capacity(scenario, flow_id: str, p95_days: float | None = None, tolerance: float = 0.02,
             throughput_ratio: float = 0.97, backlog_growth: float = 0.01, max_utilization: float = 0.98,
             replications: int | None = None, seed: int | None = None, jobs: int = 1, dask: str | None = None,
             progress: bool | None = False, max_doublings: int = 12) -> pd.DataFrame:
    """Find the largest demand of one flow that the corridor carries in steady state, by bisection.

    A demand level (the flow's teu_per_year; every other flow unchanged) is feasible when, over the
    measured window (after the warm-up):

    1. every flow keeps up: TEU delivered per day >= `throughput_ratio` x TEU created per day in
       the window (the realised demand, so the arrivals' own noise does not count against it);
    2. no flow's backlog is growing: the TEU in transit, sampled daily, has a least-squares slope
       per replication; expressed as a fraction of the TEU created per day, it is "growing" when its
       mean exceeds `backlog_growth` and its 95% interval lies above 0 (with one replication: the
       mean alone). The interval keeps the noise of lumpy services and disruption humps from
       passing for growth;
    3. no facility, segment gate or when-full service's fleet is busier than `max_utilization`
       (a fleet is busy when its vehicles are not idle; services' load factors are not counted: a
       when-full train leaves full by design). Within a finite horizon a station that busy cannot
       be told apart from an overloaded one (its queue has not settled), so it counts as saturated;
    4. if `p95_days` is given, the flow's 95th percentile transit time is at most p95_days.

    The search starts at the scenario's demand and doubles it (or halves it) until a feasible and an
    infeasible level bracket the answer, then bisects until they are within `tolerance` (relative).
    Every level uses the same seed and replications (common random numbers), so feasibility moves
    with demand, not with noise. Because of criteria 2 and 3 the answer lies somewhat below the
    true saturation point (for a single M/M/1 station, 2-10% below its service rate), never above
    it; the horizon should span whole cycles of any recurring disruption.

    Returns:
        Every evaluated level (step, phase, demand, created and delivered TEU/day of the flow,
        worst throughput ratio, largest backlog growth and its CI low end, highest facility or
        gate utilisation, transit mean and p95 of the flow, feasible, reason, busiest facility,
        gate or service). `df.attrs["json"]` holds capacity.json: the capacity (largest feasible
        demand), the smallest infeasible one, the bottleneck (busiest facility, segment gate or
        service at the capacity) and the criteria.
    """
    from corridor_sim.scenario import scenario_from_dict

    scenario = _as_scenario(scenario)
    check_flow(scenario, flow_id)
    if not 0 < tolerance < 1:
        raise UsageError(f"tolerance must be between 0 and 1, got {tolerance}")
    index = [f.id for f in scenario.demand].index(flow_id)
    seed = scenario.simulation.seed if seed is None else seed
    n = replications or scenario.simulation.replications
    rows: list[dict] = []
    cache: dict[float, dict] = {}

    def evaluate(demand: float, phase: str) -> dict:
        if demand in cache:
            return cache[demand]
        data = copy.deepcopy(scenario.data())
        data["demand"][index]["teu_per_year"] = float(demand)
        point = scenario_from_dict(data, file=scenario.source_file or "<scenario>")
        res = _run_many([point], n, [seed], jobs, dask, f"capacity {flow_id} at {demand:,.0f} TEU/yr", progress)[0]
        row = {"step": len(rows), "phase": phase, "demand_teu_per_year": float(demand),
               "demand_teu_per_day": float(demand) / 365.0,
               **_assess(res, flow_id, p95_days, throughput_ratio, backlog_growth, max_utilization)}
        rows.append(row)
        cache[demand] = row
        return row

    start = float(scenario.demand[index].teu_per_year)
    lo = hi = None
    if evaluate(start, "bracket")["feasible"]:
        lo = start
        for _ in range(max_doublings):
            if evaluate(lo * 2, "bracket")["feasible"]:
                lo *= 2
            else:
                hi = lo * 2
                break
    else:
        hi = start
        for _ in range(max_doublings):
            if evaluate(hi / 2, "bracket")["feasible"]:
                lo = hi / 2
                break
            hi /= 2
    if lo is not None and hi is not None:
        while hi - lo > tolerance * lo:
            mid = (lo + hi) / 2
            if evaluate(mid, "bisect")["feasible"]:
                lo = mid
            else:
                hi = mid
    df = pd.DataFrame(rows)
    at = cache[lo] if lo is not None else None
    if lo is None:
        note = f"no feasible demand found down to {hi:,.0f} TEU/year"
    elif hi is None:
        note = f"still feasible at {lo:,.0f} TEU/year ({2 ** max_doublings}x the scenario's demand): no bound found"
    else:
        note = f"capacity within [{lo:,.0f}, {hi:,.0f}) TEU/year"
    df.attrs["json"] = {
        "scenario": scenario.name, "flow": flow_id, "seed": seed, "replications": n,
        "capacity_teu_per_year": _json_number(lo) if lo is not None else None,
        "capacity_teu_per_day": _json_number(lo / 365.0) if lo is not None else None,
        "lowest_infeasible_teu_per_year": _json_number(hi) if hi is not None else None,
        "bounded": lo is not None and hi is not None, "note": note,
        "bottleneck": {"name": at["busiest"], "utilization": _json_number(at["busiest_utilization"])} if at else None,
        "at_capacity": {k: _json_number(v) for k, v in at.items()
                        if k not in {"step", "phase", "busiest", "busiest_utilization"}} if at else None,
        "criteria": {"throughput_ratio": throughput_ratio, "backlog_growth": backlog_growth,
                     "max_utilization": max_utilization, "p95_days": p95_days, "tolerance": tolerance,
                     "text": "every flow: delivered >= throughput_ratio x created TEU/day in the measured window; "
                             "no flow's TEU-in-transit slope both above backlog_growth x created TEU/day on "
                             "average and with a 95% CI above 0; every facility and segment gate below "
                             "max_utilization; and the flow's p95 transit <= p95_days if given"},
        "evaluations": len(rows),
    }
    return df


def format_capacity(df: pd.DataFrame) -> str:
    """The table printed by `corridor-sim capacity`."""
    doc = df.attrs.get("json", {})
    head = (f"{'step':>4} {'phase':<8} {'TEU/year':>10} {'TEU/day':>8} {'deliv/day':>9} {'ratio':>6} {'growth':>7} "
            f"{'util':>5} {'mean':>6} {'p95':>6} {'ok':>3}  busiest (util)")
    lines = [f"Capacity of flow {doc.get('flow')} in {doc.get('scenario')} ({doc.get('replications')} replications, "
             f"seed {doc.get('seed')})",
             "ratio: worst delivered/created TEU over flows; growth: largest mean backlog slope / demand; "
             "util: busiest facility or gate; mean, p95: the flow's transit days", head, "-" * len(head)]
    for r in df.to_dict("records"):
        lines.append(f"{r['step']:4d} {r['phase']:<8} {r['demand_teu_per_year']:10,.0f} "
                     f"{r['demand_teu_per_day']:8.1f} "
                     f"{r['throughput_teu_per_day']:9.1f} {r['throughput_ratio']:6.3f} {r['backlog_growth']:7.2%} "
                     f"{r['max_utilization']:5.2f} {r['transit_days_mean']:6.2f} {r['transit_days_p95']:6.2f} "
                     f"{'yes' if r['feasible'] else 'no':>3}  "
                     f"{r['busiest']} ({r['busiest_utilization']:.2f})")
    lines.append("")
    if doc.get("capacity_teu_per_year") is not None:
        b = doc.get("bottleneck") or {}
        lines.append(f"Capacity: {doc['capacity_teu_per_year']:,.0f} TEU/year "
                     f"({doc['capacity_teu_per_day']:.1f} TEU/day); "
                     f"{doc['note']}")
        lines.append(f"Bottleneck: {b.get('name')} (utilisation {b.get('utilization') or float('nan'):.2f})")
    else:
        lines.append(f"Capacity: not found; {doc.get('note')}")
    infeasible = df[~df["feasible"]]
    if len(infeasible):
        lines.append(f"First limit hit above it: {infeasible.sort_values('demand_teu_per_year').iloc[0]['reason']}")
    return "\n".join(lines)
