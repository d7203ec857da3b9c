"""Helpers shared by the figures: reading what a figure is given, and choosing its flows.

A figure accepts a `Results`, a `ResultsDir` or a results folder path (`_as_results`), or a list
of them; these helpers name them, check requested flow ids, pick the busiest or the key flows
(longest routes, one of each mirror pair), find a flow's main route, and read the flags (unstable,
censored) and disruption windows that titles and shading show.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
import pandas as pd

from corridor_sim.calendar import windows
from corridor_sim.network import Route
from corridor_sim.results_dir import NotApplicable, load_results_dir, route_index as _route_index


def _as_results(obj):
    """A Results or ResultsDir from either, or from a folder path."""
    if isinstance(obj, (str, Path)):
        return load_results_dir(obj)
    return obj


def _as_list(obj) -> list:
    if isinstance(obj, (list, tuple)):
        return [_as_results(o) for o in obj]
    return [_as_results(obj)]


def _name(res) -> str:
    if getattr(res, "scenario", None) is not None:
        return res.scenario.name
    return getattr(res, "name", "results")


def _labels(results: list, labels: Sequence[str] | None) -> list[str]:
    if labels is not None:
        if len(labels) != len(results):
            raise ValueError(f"{len(labels)} labels for {len(results)} results")
        return [str(x) for x in labels]
    names = [_name(r) for r in results]
    seen: dict[str, int] = {}
    out = []
    for n in names:
        seen[n] = seen.get(n, 0) + 1
        out.append(n if seen[n] == 1 else f"{n} #{seen[n]}")
    return out


def _need_scenario(res) -> None:
    if getattr(res, "scenario", None) is None:
        raise NotApplicable("the figure needs the scenario (scenario.yaml in the results folder)")


def _measured_delivered(res) -> pd.DataFrame:
    ship = res.shipments
    if ship is None or len(ship) == 0:
        raise NotApplicable("no per-shipment rows (the run was written with --no-shipments)")
    return ship[ship["measured"].astype(bool) & ship["delivered_h"].notna()]


def _flow_ids(res) -> list[str]:
    if getattr(res, "scenario", None) is not None:
        return [f.id for f in res.scenario.demand]
    return [str(f) for f in res.flows["flow"]]


def _check_flows(res, flows: Iterable[str]) -> list[str]:
    known = _flow_ids(res)
    flows = [str(f) for f in flows]
    unknown = [f for f in flows if f not in known]
    if unknown:
        raise ValueError(f"unknown flow(s) {', '.join(unknown)} in {_name(res)}; flows: {', '.join(known)}")
    return flows


def _top_flows(res, n: int, by: str = "throughput_teu_per_day") -> list[str]:
    """The n flows with the most of `by` (flows table order kept among them)."""
    table = res.flows
    if len(table) <= n:
        return [str(f) for f in table["flow"]]
    values = table[by].fillna(0).to_numpy()
    keep = set(np.argsort(-values, kind="stable")[:n])
    return [str(f) for i, f in enumerate(table["flow"]) if i in keep]


def _flow_routes(res, flow_id: str) -> list[tuple[int, Route]]:
    return [(i, r) for i, (f, r, _, _) in enumerate(res.route_table()) if res.scenario.demand[f].id == flow_id]


def _main_route(res, flow_id: str) -> tuple[int, Route, float]:
    """The flow's route carrying most of its shipments (by its share when there are no shipments)."""
    routes = _flow_routes(res, flow_id)
    if not routes:
        raise NotApplicable(f"flow {flow_id} has no route")
    ship = res.shipments
    if ship is not None and len(ship):
        mine = ship[(ship["flow"] == flow_id) & ship["measured"].astype(bool)]
        if len(mine):
            counts = mine["route"].astype(str).map(_route_index).value_counts()
            best = int(counts.index[0])
            route = dict(routes)[best]
            return best, route, float(counts.iloc[0] / counts.sum())
    best, route = max(routes, key=lambda ir: ir[1].share)
    return best, route, route.share


def _key_flows(res, n: int = 4) -> list[str]:
    """Flows for the distance charts: the n longest routes, one of each pair of mirror routes
    (in scenario order; n=0 for all of them, longest first)."""
    _need_scenario(res)
    tp = dict(zip(res.flows["flow"].astype(str), res.flows["throughput_teu_per_day"].fillna(0)))
    cands = []
    for flow in res.scenario.demand:
        _, route, _ = _main_route(res, flow.id)
        cands.append((route.length_km, tp.get(flow.id, 0.0), flow.id, route.nodes))
    cands.sort(key=lambda c: (-c[0], -c[1]))
    chosen, seen = [], set()
    for _, _, fid, nodes in cands:
        key = min(nodes, tuple(reversed(nodes)))
        if key in seen:
            continue
        seen.add(key)
        chosen.append(fid)
        if len(chosen) == n:
            break
    if n == 0:
        return chosen
    order = [f.id for f in res.scenario.demand]
    return sorted(chosen, key=order.index)


def _disruption_windows(scenario, target: str, horizon_days: float) -> list[tuple[float, float, float]]:
    out = []
    if scenario is None:
        return out
    for d in scenario.disruptions:
        if d.target != target:
            continue
        for start_h, end_h in windows(d, scenario.simulation.start_date, 0.0, horizon_days * 24.0):
            out.append((start_h / 24.0, end_h / 24.0, d.capacity_factor))
    return out


def _flow_flags(res, flow: str) -> str:
    """A title suffix marking a flow that does not settle or whose slowest shipments were censored."""
    rows = res.flows[res.flows["flow"] == flow]
    if not len(rows):
        return ""
    row = rows.iloc[0]
    flags = []
    if "stable" in row and not _truthy(row["stable"]):
        flags.append("UNSTABLE: figures for this window only")
    if "censored" in row and row["censored"] > 0:
        flags.append(f"{row['censored']:.0f} censored per replication: see the KM figures in the flows table")
    return f" [{'; '.join(flags)}]" if flags else ""


def _truthy(value) -> bool:
    """A stable flag read from a table (bool, or the strings of a CSV read back)."""
    return str(value).strip().lower() not in ("false", "0", "0.0", "")
