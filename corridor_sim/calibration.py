"""Calibration: a scenario's simulated figures beside published ones.

A targets file (YAML) names the scenario and lists targets of three kinds:

- `transit`: the median transit days of a flow, or of part of its route (`from` / `to` nodes: from
  the vehicle leaving `from` to it reaching `to`), against a published value and a tolerance band;
- `throughput`: the tonnes a year handled at a node (delivered flows whose route passes it, from
  their simulated throughput), against a published value and band;
- `cost_order`: flows whose mean cost per TEU must rank in the published order.

`calibrate(targets_file)` runs the scenario with every replication's stage rows kept and returns one
row per target: published value, model median with the 2.5-97.5% range of shipments and the 95%
interval of the median across replications, and whether it is within tolerance.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from corridor_sim.errors import Problem, ScenarioError
from corridor_sim.experiments import run
from corridor_sim.results import Results, t_interval
from corridor_sim.scenario import load_scenario


def leg_days(results: Results, flow_id: str, from_node: str, to_node: str) -> pd.DataFrame:
    """Per delivered measured shipment of a flow: days from leaving `from_node` to reaching `to_node`.

    The k-th running (travel) stage of a shipment is hop k of its route, so the leg starts when the
    hop out of `from_node` starts and ends when the hop into `to_node` ends.
    """
    stages = results.stages()
    if stages.empty:
        raise ValueError("leg times need stage rows: run with keep_stages=True")
    ship = results.shipments
    ship = ship[(ship["flow"] == flow_id) & ship["measured"] & ship["delivered_h"].notna()]
    routes = results.route_table()
    rows = []
    travel = stages[stages["stage"] == "travel"].sort_values(["replication", "shipment", "start_h"])
    travel = travel.assign(hop=travel.groupby(["replication", "shipment"]).cumcount())
    keyed = travel.set_index(["replication", "shipment", "hop"])
    for route_code, group in ship.groupby(ship["route"].cat.codes, observed=True):
        nodes = routes[route_code][1].nodes
        if from_node not in nodes or to_node not in nodes:
            continue
        i, j = nodes.index(from_node), nodes.index(to_node) - 1
        if j < i:
            continue
        for r, s in zip(group["replication"], group["shipment"]):
            try:
                start = keyed.at[(r, s, i), "start_h"]
                end = keyed.at[(r, s, j), "end_h"]
            except KeyError:
                continue
            rows.append((r, s, (end - start) / 24.0))
    return pd.DataFrame(rows, columns=["replication", "shipment", "days"])


def _problem(file: str, path: str, message: str) -> ScenarioError:
    return ScenarioError([Problem(file, path, message)])


def read_targets(path: str | Path) -> dict:
    """Read and check a targets file.

    Raises:
        ScenarioError: the file or one of its targets is malformed.
    """
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise _problem(str(path), "", f"cannot read targets: {exc}") from None
    if not isinstance(data, dict) or "scenario" not in data or not isinstance(data.get("targets"), list):
        raise _problem(str(path), "", "a targets file needs `scenario` and a list of `targets`")
    for i, t in enumerate(data["targets"]):
        kind = t.get("kind") if isinstance(t, dict) else None
        need = {"transit": ("id", "flow", "published", "tolerance"),
                "throughput": ("id", "node", "published", "tolerance"),
                "cost_order": ("id", "flows")}.get(kind)
        if need is None:
            raise _problem(str(path), f"targets[{i}].kind", "must be transit, throughput or cost_order")
        for key in need:
            if key not in t:
                raise _problem(str(path), f"targets[{i}].{key}", "required key is missing")
    data["scenario_path"] = path.parent / data["scenario"]
    return data


def evaluate(results: Results, targets: list[dict]) -> pd.DataFrame:
    """One row per target: published value, model value, ranges and whether it is within tolerance."""
    rows = []
    for t in targets:
        row = {"id": t["id"], "target": t.get("description", ""), "source": t.get("source", "")}
        if t["kind"] == "transit":
            low, high = t["tolerance"]
            if "from" in t or "to" in t:
                flow = results.scenario.flow(t["flow"])
                legs = leg_days(results, t["flow"], t.get("from", flow.origin), t.get("to", flow.destination))
                days = legs["days"].to_numpy()
                per_rep = legs.groupby("replication")["days"].median()
            else:
                ship = results.shipments
                done = ship[(ship["flow"] == t["flow"]) & ship["measured"] & ship["delivered_h"].notna()]
                days = done["transit_days"].to_numpy()
                per_rep = done.groupby("replication")["transit_days"].median()
            if t.get("statistic") == "mean":  # a published mean (default: the median)
                per_rep = (legs.groupby("replication")["days"] if "from" in t or "to" in t
                           else done.groupby("replication")["transit_days"]).mean()
                median = float(np.mean(days)) if len(days) else math.nan
            else:
                median = float(np.median(days)) if len(days) else math.nan
            _, ci_lo, ci_hi = t_interval(per_rep)
            row.update(published=str(t["published"]), unit="days", model=median,
                       model_range=f"{np.percentile(days, 2.5):.1f}-{np.percentile(days, 97.5):.1f}" if len(days) else "",
                       model_ci95=f"{ci_lo:.1f}-{ci_hi:.1f}" if not math.isnan(ci_lo) else "",
                       tolerance=f"{low:g}-{high:g}", ok=bool(low <= median <= high))
        elif t["kind"] == "throughput":
            low, high = t["tolerance"]
            kt = node_throughput_kt_per_year(results, t["node"])
            row.update(published=str(t["published"]), unit="kt/yr", model=kt, model_range="", model_ci95="",
                       tolerance=f"{low:g}-{high:g}", ok=bool(low <= kt <= high))
        else:
            costs = results.flows.set_index("flow")["cost_usd_per_teu"]
            values = [float(costs[f]) for f in t["flows"]]
            row.update(published=" < ".join(t["flows"]), unit="USD/TEU", model=math.nan,
                       model_range=" < ".join(f"{v:,.0f}" for v in values), model_ci95="",
                       tolerance="same order", ok=bool(all(a < b for a, b in zip(values, values[1:]))))
        rows.append(row)
    return pd.DataFrame(rows, columns=["id", "target", "published", "unit", "model", "model_range", "model_ci95",
                                       "tolerance", "ok", "source"])


def node_throughput_kt_per_year(results: Results, node_id: str) -> float:
    """Thousand tonnes a year delivered by flows whose route passes a node (throughput x tonnes/TEU)."""
    total_t_per_day = 0.0
    flows = results.flows.set_index("flow")
    shares: dict[str, float] = {}
    for f, route, _, _ in results.route_table():
        if node_id in route.nodes:
            flow = results.scenario.demand[f]
            shares[flow.id] = shares.get(flow.id, 0.0) + route.share
    for flow_id, share in shares.items():
        flow = results.scenario.flow(flow_id)
        total_t_per_day += flows.at[flow_id, "throughput_teu_per_day"] * share * (flow.tonnes_per_teu or 0.0)
    return total_t_per_day * 365.0 / 1000.0


def calibrate(targets_file: str | Path, replications: int | None = None, seed: int | None = None,
              jobs: int = 1, dask: str | None = None) -> tuple[Results, pd.DataFrame]:
    """Run a targets file's scenario (all stage rows kept) and evaluate the targets."""
    spec = read_targets(targets_file)
    scenario = load_scenario(spec["scenario_path"])
    results = run(scenario, replications=replications, seed=seed, jobs=jobs, dask=dask, keep_stages=True)
    return results, evaluate(results, spec["targets"])


def format_table(table: pd.DataFrame) -> str:
    lines = [f"{'id':<4} {'target':<48} {'published':>14} {'model':>7} {'2.5-97.5%':>12} {'CI95 median':>12} "
             f"{'tolerance':>12} {'ok':>4}"]
    lines.append("-" * len(lines[0]))
    for r in table.itertuples():
        model = "" if isinstance(r.model, float) and math.isnan(r.model) else f"{r.model:7.1f}"
        lines.append(f"{r.id:<4} {r.target[:48]:<48} {r.published[:14]:>14} {model:>7} {r.model_range[:12]:>12} "
                     f"{r.model_ci95:>12} {r.tolerance:>12} {'yes' if r.ok else 'NO':>4}")
        if r.unit == "USD/TEU":
            lines[-1] = f"{r.id:<4} {r.target[:48]:<48} {'see below':>14} {'':>7} {'':>12} {'':>12} {r.tolerance:>12} {'yes' if r.ok else 'NO':>4}"
            lines.append(f"     published order: {r.published}")
            lines.append(f"     model USD/TEU:   {r.model_range}")
    return "\n".join(lines)
