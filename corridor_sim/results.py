"""Results of a run: tables derived from the replications' records, intervals, and the results folder.

Counts are means per replication over the measured window [warm-up, horizon). A flow's measured
shipments are those created in the window; the run follows them past the horizon until they are
delivered or the drain ends. `delivered` counts those delivered and `censored` (also `in_transit`)
those still under way at the end, so created = delivered + censored. Transit times are estimated
with the censored ones taken into account (corridor_sim/cohort.py: Kaplan-Meier when any is
censored): the mean has a Student-t interval across replication means, the percentiles pool every
replication's shipments. Throughput is TEU delivered per day of the window (whenever the shipment was
created). Every flow, facility, gate and service is tested for a backlog that grows over the window
(corridor_sim/stability.py); an unstable flow's figures describe that window, not a steady state.

Capacity figures are measured against the capacity actually offered: a service's load factor
against the TEU its departure offered under the disruption in force (`mean_load_factor_nominal`:
against nominal capacity), a segment gate's utilisation against the paths open over the window
(`utilization_nominal`: against nominal paths). A service's `teu_carried_per_day` counts every TEU
boarded and `teu_km_per_day` the TEU x km they rode.
"""

from __future__ import annotations

import functools
import json
import math
import os
import shutil
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from corridor_sim.columnar import Columns
from corridor_sim.cohort import by_month, pooled_transit, replication_transit, window_months
from corridor_sim.engine.choice import choice_summary
from corridor_sim.engine.empties import empty_routes
from corridor_sim.engine.fleets import STATE_NAMES
from corridor_sim.engine.model import ReplicationOutput
from corridor_sim.engine.records import STAGE_NAMES, Stage
from corridor_sim.errors import UsageError
from corridor_sim.infrastructure import busiest_candidates, format_lines, merge_into
from corridor_sim.network import CorridorNetwork, RideLeg, Route, changes_vehicle
from corridor_sim.outdir import OutputLock, check_out_dir
from corridor_sim.scenario.loading import dump_yaml
from corridor_sim.scenario.schema import Scenario
from corridor_sim.stability import monthly_facility, stability
from corridor_sim.tables import FLOAT, Table, nanmean

if TYPE_CHECKING:
    import pandas as pd

# The tables built on first use, and only then (pandas is imported for them): see `Results.__getattr__`.
FRAMES = ("shipments", "flows_by_replication", "flows", "nodes", "services", "segments")

# Columns of the services table about fleets and empty boxes (NaN shares without a fleet).
FLEET_COLUMNS = ["vehicles", *(f"{k}_share" for k in STATE_NAMES), "fleet_utilization", "late_departures",
                 "mean_late_h", "cancelled_departures", "empty_teu_per_day", "empty_vehicle_km_per_day",
                 "empty_run_co2_kg_per_day"]

# Stage categories reported as "where the time goes"; dwell on board counts as travel.
CATEGORIES = {"travel": (Stage.TRAVEL, Stage.DWELL), "wait": (Stage.WAIT,), "handling": (Stage.HANDLING,),
              "border": (Stage.BORDER,), "queue": (Stage.QUEUE,)}


def t_interval(values, level: float = 0.95) -> tuple[float, float, float]:
    """Mean of per-replication values with its Student-t interval (NaN bounds for one value)."""
    x = np.asarray([v for v in values if not math.isnan(v)], dtype=float)
    if len(x) == 0:
        return math.nan, math.nan, math.nan
    mean = float(x.mean())
    if len(x) < 2:
        return mean, math.nan, math.nan
    from scipy.special import stdtrit  # only with two values or more (0.3-0.4 s to import)

    half = float(stdtrit(len(x) - 1, 0.5 + level / 2) * x.std(ddof=1) / math.sqrt(len(x)))
    return mean, mean - half, mean + half


def _queues_frame(blocks: list[dict]) -> pd.DataFrame:
    import pandas as pd

    if not blocks:
        return pd.DataFrame(columns=["replication", "node", "time_days", "queue"])
    return pd.concat([pd.DataFrame(b) for b in blocks], ignore_index=True)


def route_cost(network: CorridorNetwork, route: Route) -> tuple[float, float]:
    """Cost (USD) and CO2 (kg) per TEU of a route: running by segment rate, charges where handled."""
    costs = network.scenario.costs
    usd = co2 = 0.0
    for leg in route.legs:
        for seg in leg.segments:
            mode = getattr(costs, seg.mode)
            rate = seg.cost_usd_per_teu_km if seg.cost_usd_per_teu_km is not None else mode.usd_per_teu_km
            rate_co2 = seg.co2_kg_per_teu_km if seg.co2_kg_per_teu_km is not None else mode.co2_kg_per_teu_km
            usd += seg.length_km * rate
            co2 += seg.length_km * rate_co2
    handled = []
    for i, leg in enumerate(route.legs):
        if network.handles(leg.origin, changes_vehicle(route.legs, i)):
            handled.append(leg.origin)
        if isinstance(leg, RideLeg):
            handled += [n for n in leg.nodes[1:-1] if network.handles(n, False)]
    if network.handles(route.nodes[-1], True):
        handled.append(route.nodes[-1])
    for node_id in handled:
        h = network.nodes[node_id].handling
        usd += h.cost_usd_per_teu
        co2 += h.co2_kg_per_teu
    return usd, co2


def route_table(network: CorridorNetwork) -> list[tuple[int, Route, float, float]]:
    """(flow index, route, USD per TEU, kg CO2 per TEU) for every route, in the engine's numbering.

    The cost of a route includes its empty boxes going back (`empty_route_costs`)."""
    table = []
    for f, flow in enumerate(network.scenario.demand):
        routes = network.routes_for(flow)
        for route, (empty_usd, empty_co2) in zip(routes, _empty_costs(network, flow, routes)):
            usd, co2 = route_cost(network, route)
            table.append((f, route, usd + empty_usd, co2 + empty_co2))
    return table


def _cohort_wait_h(stats: dict) -> float:
    """Mean wait of a facility's arrivals in the measured window, whenever they started service:
    those served at once waited 0; those still queueing at the end of the run are left out (censored,
    reported as `waiting_at_end`)."""
    served = stats["arrivals"] - stats["waiting_at_end"]
    return stats["wait_sum_h"] / served if served > 0 else 0.0
def _empty_costs(network: CorridorNetwork, flow, routes: list[Route]) -> list[tuple[float, float]]:
    if flow.empty_return_share <= 0:
        return [(0.0, 0.0)] * len(routes)
    share = flow.empty_return_share
    return [tuple(share * x for x in route_cost(network, back)) for back in empty_routes(network, flow, routes)]


def empty_route_costs(network: CorridorNetwork) -> list[tuple[float, float]]:
    """Per route (route_table's numbering), USD and kg CO2 per loaded TEU of its empty boxes going
    back: empty_return_share x the cost of the empty route (charged to the loaded flow)."""
    out = []
    for flow in network.scenario.demand:
        out += _empty_costs(network, flow, network.routes_for(flow))
    return out


def _json_number(x):
    if isinstance(x, (float, np.floating)):
        return None if math.isnan(x) else round(float(x), 6)
    if isinstance(x, np.integer):
        return int(x)
    return x


def _json_tree(tree):
    """A nested dict of numbers made JSON-ready (NaN as null)."""
    if isinstance(tree, dict):
        return {k: _json_tree(v) for k, v in tree.items()}
    return _json_number(tree)


def _ci(values) -> dict:
    mean, lo, hi = t_interval(values)
    return {"mean": _json_number(mean), "ci95": [_json_number(lo), _json_number(hi)]}


def _fleet_summary(r) -> dict:
    """summary.json keys of a services-table row about its fleet and empty boxes."""
    has_fleet = not math.isnan(r.vehicles)
    return {
        "vehicles": int(r.vehicles) if has_fleet else None,
        "vehicle_time_shares": {k: _json_number(getattr(r, f"{k}_share")) for k in STATE_NAMES} if has_fleet else None,
        "fleet_utilization": _json_number(r.fleet_utilization),
        "late_departures": _json_number(r.late_departures), "mean_late_h": _json_number(r.mean_late_h),
        "cancelled_departures": _json_number(r.cancelled_departures),
        "empty_teu_per_day": _json_number(r.empty_teu_per_day),
        "empty_vehicle_km_per_day": _json_number(r.empty_vehicle_km_per_day),
        "empty_run_co2_kg_per_day": _json_number(r.empty_run_co2_kg_per_day),
    }


def fleet_verdict(r) -> str:
    """Who waits on a service with a fleet: 'cargo' (departures late or cancelled for want of a
    vehicle while vehicles are seldom idle: the fleet binds), 'vehicles' (idle vehicles, no late
    departure: demand or infrastructure binds), or 'both'. Seldom: under 5% of vehicle time."""
    if math.isnan(r.vehicles):
        return ""
    cargo = r.late_departures > 0
    vehicles = r.idle_share >= 0.05
    if cargo and not vehicles:
        return "cargo"
    if vehicles and not cargo:
        return "vehicles"
    return "both" if cargo else "neither"


@dataclass
class Results:
    """A run's results: pandas tables for flows, nodes, services, segments and shipments.

    The tables are pandas DataFrames built when first asked for (`results.flows`); summary.json,
    the printed tables and the small CSV files come from the same tables without pandas
    (corridor_sim/tables.py), so that a summary-only run never imports it.
    """

    scenario: Scenario
    seed: int
    outputs: list[ReplicationOutput]
    network: CorridorNetwork = field(repr=False, default=None)

    def __post_init__(self):
        self.network = self.network or CorridorNetwork.from_scenario(self.scenario)
        self.replications = len(self.outputs)
        sim = self.scenario.simulation
        self.horizon_days = sim.horizon_days
        self.warmup_days = sim.warmup_days
        self.measured_days = sim.horizon_days - sim.warmup_days
        self._routes = None
        self._tables = {}  # the tables without pandas; their DataFrames are built on first use
        self._tables["flows_by_replication"] = self._flows_by_replication()
        self._tables["flows"] = self._flows_table()
        self._tables["nodes"] = self._nodes_table()
        self._tables["services"] = self._services_table()
        self._tables["segments"] = self._segments_table()

    def __getattr__(self, name: str):
        """`shipments`, `flows_by_replication`, `flows`, `nodes`, `services`, `segments`: the
        DataFrames, built (and pandas imported) when first asked for."""
        tables = self.__dict__.get("_tables")
        if name not in FRAMES or tables is None:
            raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")
        value = self._shipments_table() if name == "shipments" else tables[name].frame()
        self.__dict__[name] = value
        return value

    def _view(self, name: str) -> Table:
        """A table as summary(), format_tables() and write() read it: the DataFrame if one was
        built or set (a caller may have changed it), else the table without pandas."""
        value = self.__dict__.get(name)
        if value is None:
            return self._tables[name]
        return value if isinstance(value, Table) else Table.from_frame(value)

    # ------------------------------------------------------------------ tables

    def route_table(self) -> list[tuple[int, Route, float, float]]:
        """(flow index, route, USD per TEU, kg CO2 per TEU) in the engine's route numbering."""
        if self._routes is None:
            self._routes = route_table(self.network)
        return self._routes

    def _shipment_columns(self, out: ReplicationOutput) -> Columns:
        """One replication's shipments table as numpy columns (`Results.shipments` has them all):
        flow and route as codes into the flow ids and the route labels."""
        routes = self.route_table()
        s = out.shipments
        totals = s["stage_totals_h"]
        route = s["route"]
        n = len(route)
        usd = np.array([r[2] for r in routes])[route] if n else np.zeros(0)
        co2 = np.array([r[3] for r in routes])[route] if n else np.zeros(0)
        data = {
            "replication": np.full(n, out.replication, dtype=np.int64),
            "shipment": np.arange(n),
            "flow": s["flow"], "route": route,
            "teu": s["teu"], "created_h": s["created_h"], "delivered_h": s["delivered_h"],
            "transit_days": (s["delivered_h"] - s["created_h"]) / 24.0,
            "measured": (s["created_h"] >= out.warmup_h) & (s["created_h"] < out.horizon_h),
            "cost_usd": usd * s["teu"], "co2_kg": co2 * s["teu"],
        }
        for name, stages in CATEGORIES.items():
            data[f"{name}_h"] = totals[:, [int(x) for x in stages]].sum(axis=1) if n else np.zeros(0)
        return Columns(data, {"flow": [f.id for f in self.scenario.demand],
                              "route": [" ".join(r[1].nodes) + f" #{i}" for i, r in enumerate(routes)]})

    def _kept_shipments(self) -> list[Columns]:
        """The shipment columns of every replication that kept them (not summary-only), in order."""
        if getattr(self, "_columns", None) is None:
            self._columns = [self._shipment_columns(out) for out in self.outputs
                             if "summary_only" not in out.shipments]
        return self._columns

    def _shipments_table(self) -> pd.DataFrame:
        import pandas as pd

        parts = self._kept_shipments()
        if not parts:
            columns = ["replication", "shipment", "flow", "route", "teu", "created_h", "delivered_h", "transit_days",
                       "measured", "cost_usd", "co2_kg", *(f"{name}_h" for name in CATEGORIES)]
            return pd.DataFrame({c: pd.Series(dtype=bool if c == "measured" else float) for c in columns})
        return Columns.concat(parts).frame()

    def _measured_shipments(self):
        """The measured shipments as written to the folder: the DataFrame if one was built or set
        (a caller may have changed it), else the replications' numpy columns (no pandas)."""
        parts = self._kept_shipments()
        if "shipments" in self.__dict__ or not parts:  # (no replication kept them: the empty table)
            frame = self.shipments
            return frame[frame["measured"]]
        cols = Columns.concat(parts)
        return cols.take(np.flatnonzero(cols["measured"]))

    def _streamed_rows(self, out: ReplicationOutput) -> list[dict]:
        """flows_by_replication rows from a summary-only replication's streamed statistics."""
        s = out.shipments
        routes = self.route_table()
        empty = self._empty_costs()
        rows = []
        for f, flow in enumerate(self.scenario.demand):
            n = int(s["delivered"][f])
            mine = [i for i, r in enumerate(routes) if r[0] == f]
            teu = sum(s["route_teu"][i] for i in mine)
            row = {
                "replication": out.replication, "flow": flow.id,
                "created_all": int(s["created_all"][f]), "delivered_all": int(s["delivered_all"][f]),
                "created": int(s["created"][f]), "delivered": n, "in_transit": int(s["created"][f]) - n,
                "censored": int(s["created"][f]) - n,
                "transit_days_mean": replication_transit(out, f)["mean"],
                "throughput_teu_per_day": s["window_teu"][f] / self.measured_days,
                "cost_usd_per_teu": sum(s["route_teu"][i] * routes[i][2] for i in mine) / teu if teu else math.nan,
                "co2_kg_per_teu": sum(s["route_teu"][i] * routes[i][3] for i in mine) / teu if teu else math.nan,
                "empty_cost_usd_per_teu": sum(s["route_teu"][i] * empty[i][0] for i in mine) / teu if teu else math.nan,
                "empty_co2_kg_per_teu": sum(s["route_teu"][i] * empty[i][1] for i in mine) / teu if teu else math.nan,
            }
            for name, stages in CATEGORIES.items():
                total = sum(s["stage_h_sum"][f][int(x)] for x in stages)
                row[f"{name}_days"] = total / n / 24.0 if n else math.nan
            rows.append(row)
        return rows

    def _empty_costs(self) -> list[tuple[float, float]]:
        if getattr(self, "_empty", None) is None:
            self._empty = empty_route_costs(self.network)
        return self._empty

    def _flows_by_replication(self) -> Table:
        rows = []
        empty = np.array(self._empty_costs(), dtype=float).reshape(-1, 2)
        kept = iter(self._kept_shipments())
        for out in self.outputs:
            if "summary_only" in out.shipments:
                rows += self._streamed_rows(out)
                continue
            mine = next(kept)
            flow, delivered_h, teu = mine["flow"], mine["delivered_h"], mine["teu"]
            measured = mine["measured"]
            done_all = ~np.isnan(delivered_h)
            in_window = (delivered_h >= out.warmup_h) & (delivered_h <= out.horizon_h)
            for k, spec in enumerate(self.scenario.demand):
                f = flow == k
                done = np.flatnonzero(f & measured & done_all)  # in shipment order, as the table's rows
                n_measured = int(np.count_nonzero(f & measured))
                d_teu = teu[done]
                row = {
                    "replication": out.replication,
                    "flow": spec.id,
                    "created_all": int(np.count_nonzero(f)),
                    "delivered_all": int(np.count_nonzero(f & done_all)),
                    "created": n_measured,
                    "delivered": len(done),
                    "in_transit": n_measured - len(done),
                    "censored": n_measured - len(done),
                    "transit_days_mean": replication_transit(out, k)["mean"],
                    "throughput_teu_per_day": teu[f & in_window].sum() / self.measured_days,
                    "cost_usd_per_teu": (mine["cost_usd"][done].sum() / d_teu.sum()) if len(done) else math.nan,
                    "co2_kg_per_teu": (mine["co2_kg"][done].sum() / d_teu.sum()) if len(done) else math.nan,
                }
                codes = mine["route"][done]
                for j, key in enumerate(("empty_cost_usd_per_teu", "empty_co2_kg_per_teu")):
                    row[key] = float((empty[codes, j] * d_teu).sum() / d_teu.sum()) if len(done) else math.nan
                for name in CATEGORIES:
                    row[f"{name}_days"] = nanmean(mine[f"{name}_h"][done], FLOAT) / 24.0 if len(done) else math.nan
                rows.append(row)
        return Table.from_rows(rows)

    def _flows_table(self) -> Table:
        rows = []
        by = self._view("flows_by_replication")
        for f, flow in enumerate(self.scenario.demand):
            r = by.where("flow", flow.id)
            pooled = pooled_transit(self.outputs, f)
            p10, p50, p90, p95 = (math.nan if q is None else q for q in pooled["quantiles"])
            mean, lo, hi = t_interval(r.column("transit_days_mean"))
            trend = stability(self.outputs, "flows", flow.id, flow.teu_per_year / 365.0)
            tp, tp_lo, tp_hi = t_interval(r.column("throughput_teu_per_day"))
            row = {
                "flow": flow.id, "origin": flow.origin, "destination": flow.destination,
                "demand_teu_per_day": flow.teu_per_year / 365.0,
                "created": r.mean("created"), "delivered": r.mean("delivered"), "in_transit": r.mean("in_transit"),
                "censored": r.mean("censored"), "transit_estimator": pooled["estimator"],
                "stable": trend["stable"], "backlog_growth_teu_per_day": trend["growth_per_day"],
                "transit_days_mean": mean, "transit_days_ci95_low": lo, "transit_days_ci95_high": hi,
                "transit_days_p10": p10, "transit_days_p50": p50, "transit_days_p90": p90, "transit_days_p95": p95,
                "throughput_teu_per_day": tp, "throughput_ci95_low": tp_lo, "throughput_ci95_high": tp_hi,
                "throughput_tonnes_per_day": tp * flow.tonnes_per_teu if flow.tonnes_per_teu else math.nan,
                "cost_usd_per_teu": r.mean("cost_usd_per_teu"),
                "co2_kg_per_teu": r.mean("co2_kg_per_teu"),
                "empty_cost_usd_per_teu": r.mean("empty_cost_usd_per_teu"),
                "empty_co2_kg_per_teu": r.mean("empty_co2_kg_per_teu"),
            }
            for name in CATEGORIES:
                row[f"{name}_days"] = r.mean(f"{name}_days")
            rows.append(row)
        return Table.from_rows(rows)

    def _nodes_table(self) -> Table:
        rows = []
        for node in self.scenario.network.nodes:
            if node.handling is None:
                continue
            per = [o.facilities[node.id] for o in self.outputs]
            util = t_interval([p["utilization"] for p in per])
            arrivals_per_day = float(np.mean([p["arrivals"] / p["span_h"] * 24 for p in per]))
            trend = stability(self.outputs, "facilities", node.id, arrivals_per_day)
            rows.append({
                "node": node.id, "name": node.label, "kind": node.kind, "servers": node.handling.servers,
                "applies": node.handling.applies,
                "utilization": util[0], "utilization_ci95_low": util[1], "utilization_ci95_high": util[2],
                "utilization_nominal": float(np.mean([p["utilization_nominal"] for p in per])),
                "mean_queue": np.mean([p["mean_queue"] for p in per]),
                "mean_wait_h": np.mean([_cohort_wait_h(p) for p in per]),
                "waiting_at_end": float(np.mean([p["waiting_at_end"] for p in per])),
                "arrivals_per_day": arrivals_per_day,
                "stable": trend["stable"], "backlog_growth_per_day": trend["growth_per_day"],
            })
        return Table.from_rows(rows, columns=["node", "name", "kind", "servers", "applies", "utilization",
                                           "utilization_ci95_low", "utilization_ci95_high", "utilization_nominal",
                                           "mean_queue", "mean_wait_h", "waiting_at_end", "arrivals_per_day",
                                           "stable", "backlog_growth_per_day"])

    def _services_table(self) -> Table:
        """Per service (both directions): departures, load factors, TEU and TEU-km carried a day.

        `teu_carried_per_day` counts every TEU boarded on a measured departure; `teu_km_per_day` the
        TEU x km they rode. `mean_load_factor` is the peak TEU on board over the TEU the departure
        offered (capacity x the disruption factor in force), `mean_load_factor_nominal` over nominal
        capacity; `mean_peak_load_teu` is the peak TEU on board of a departure.
        """
        def per_departure(values):
            return float(np.nanmean(values)) if not all(math.isnan(x) for x in values) else math.nan

        columns = ["service", "mode", "capacity_teu", "departures", "mean_load_factor", "teu_carried_per_day",
                   "waiting_at_end", "teu_km_per_day", "mean_load_factor_nominal", "mean_peak_load_teu",
                   "offered_teu_per_day", "stable", "backlog_growth_teu_per_day"]
        rows = []
        for service in self.scenario.services:
            deps, waiting = [], []
            per = {k: [] for k in ("load_factor_sum", "load_factor_nominal_sum", "peak_teu_sum")}
            day = {k: [] for k in ("teu_carried", "teu_km", "offered_teu")}
            for o in self.outputs:
                mine = [v for v in o.lines.values() if v["service"] == service.id]
                d = sum(v["departures"] for v in mine)
                deps.append(d)
                for k, values in per.items():
                    values.append(sum(v[k] for v in mine) / d if d else math.nan)
                for k, values in day.items():
                    values.append(sum(v[k] for v in mine) / self.measured_days)
                waiting.append(sum(v["waiting_at_end"] for v in mine))
            carried = float(np.mean(day["teu_carried"]))
            trend = stability(self.outputs, "services", service.id, carried)
            rows.append({
                "service": service.id, "mode": service.mode, "capacity_teu": service.capacity_teu,
                "departures": float(np.mean(deps)),
                "mean_load_factor": per_departure(per["load_factor_sum"]),
                "teu_carried_per_day": carried,
                "waiting_at_end": float(np.mean(waiting)),
                "teu_km_per_day": float(np.mean(day["teu_km"])),
                "mean_load_factor_nominal": per_departure(per["load_factor_nominal_sum"]),
                "mean_peak_load_teu": per_departure(per["peak_teu_sum"]),
                "offered_teu_per_day": float(np.mean(day["offered_teu"])),
                "stable": trend["stable"], "backlog_growth_teu_per_day": trend["growth_per_day"],
                **self._fleet_columns(service),
            })
        return Table.from_rows(rows, columns=[*columns, *FLEET_COLUMNS])

    def _fleet_columns(self, service) -> dict:
        """A service's fleet (vehicle time shares, lateness, empty runs) and its empty boxes, per day
        of the measured window; NaN shares for a service without a fleet."""
        days = self.measured_days
        per = [o.extra.get("fleets", {}).get(service.id) for o in self.outputs]
        empty_teu = [sum(t for lid, t in o.extra.get("empties", {}).get("line_teu", {}).items()
                         if lid == service.id or lid == f"{service.id}~rev") for o in self.outputs]
        cancelled = [sum(v["cancelled"] for v in o.lines.values() if v["service"] == service.id) for o in self.outputs]
        row = {"cancelled_departures": float(np.mean(cancelled)), "empty_teu_per_day": float(np.mean(empty_teu)) / days}
        if service.fleet is None or any(p is None for p in per):
            return {"vehicles": math.nan, **{f"{k}_share": math.nan for k in STATE_NAMES}, "fleet_utilization": math.nan,
                    "late_departures": 0.0, "mean_late_h": math.nan, **row, "empty_vehicle_km_per_day": 0.0,
                    "empty_run_co2_kg_per_day": 0.0}
        total = {k: sum(p["vehicle_h"][k] for p in per) for k in STATE_NAMES}
        vehicle_h = sum(p["vehicles"] * p["span_h"] for p in per)
        in_service_h = vehicle_h - total["out_of_service"]
        late = sum(p["late_departures"] for p in per)
        return {"vehicles": float(service.fleet.vehicles), **{f"{k}_share": total[k] / vehicle_h for k in STATE_NAMES},
                "fleet_utilization": 1 - total["idle"] / in_service_h if in_service_h > 0 else math.nan,
                "late_departures": late / len(per), "mean_late_h": sum(p["late_h_sum"] for p in per) / late if late else 0.0,
                **row, "empty_vehicle_km_per_day": float(np.mean([p["empty_vehicle_km"] for p in per])) / days,
                "empty_run_co2_kg_per_day": float(np.mean([p["empty_run_co2_kg"] for p in per])) / days}

    def _segments_table(self) -> Table:
        """Per segment gate: `utilization` is vehicles admitted over the paths actually available
        (capacity_per_day x factor, integrated over the window); `utilization_nominal` over nominal
        paths; `open_fraction` is the mean factor over the window."""
        rows = []
        names = sorted({g for o in self.outputs for g in o.gates})
        for name in names:
            per = [o.gates[name] for o in self.outputs]
            util = [p["utilization"] for p in per]
            vehicles = float(np.mean([p["entered"] for p in per])) / self.measured_days
            trend = stability(self.outputs, "gates", name, vehicles)
            rows.append({"gate": name, "segment": per[0]["segment"], "capacity_per_day": per[0]["capacity_per_day"],
                         "utilization": float(np.nanmean(util)) if not all(math.isnan(u) for u in util) else math.nan,
                         "vehicles_per_day": vehicles,
                         "queue_at_end": float(np.mean([p["queue_at_end"] for p in per])),
                         "utilization_nominal": float(np.mean([p["utilization_nominal"] for p in per])),
                         "open_fraction": float(np.mean([p["open_h"] for p in per])) / (self.measured_days * 24.0),
                         "stable": trend["stable"], "backlog_growth_per_day": trend["growth_per_day"]})
        return Table.from_rows(rows, columns=["gate", "segment", "capacity_per_day", "utilization",
                                           "vehicles_per_day", "queue_at_end", "utilization_nominal", "open_fraction",
                                           "stable", "backlog_growth_per_day"])

    def stages(self, replication: int | None = None) -> pd.DataFrame:
        """Stage rows (one per interval of a shipment's journey) for replications that kept them."""
        import pandas as pd

        frames = []
        for out in self.outputs:
            s = out.shipments
            if "stage_shipment" not in s or (replication is not None and out.replication != replication):
                continue
            frames.append(pd.DataFrame({
                "replication": out.replication, "shipment": s["stage_shipment"],
                "stage": pd.Categorical.from_codes(s["stage_kind"], categories=STAGE_NAMES),
                "place": pd.Categorical.from_codes(s["stage_place"], categories=out.places),
                "start_h": s["stage_start_h"], "end_h": s["stage_end_h"],
            }))
        if not frames:
            return pd.DataFrame(columns=["replication", "shipment", "stage", "place", "start_h", "end_h"])
        return pd.concat(frames, ignore_index=True)

    def queues(self) -> pd.DataFrame:
        """Queue length at each facility, sampled daily, per replication (long format)."""
        return self._queues_table().frame()

    def _queues_view(self) -> Table:
        """The queues table as write() reads it: from `queues()` where a subclass (or a caller)
        replaced that method, as before; else without pandas."""
        if getattr(type(self), "queues", None) is not _RESULTS_QUEUES:
            return Table.from_frame(self.queues())
        return self._queues_table()

    def _queues_table(self) -> Table:
        blocks = [{"replication": out.replication, "node": node_id, "time_days": out.samples_h[: len(q)] / 24.0,
                   "queue": q} for out in self.outputs for node_id, q in out.queue_samples.items()]
        return Table.from_arrays(["replication", "node", "time_days", "queue"], blocks,
                                 functools.partial(_queues_frame, blocks))

    def busiest_facility(self) -> tuple[str, float]:
        """The facility, gate or service with the highest utilisation: (name, utilisation)."""
        candidates = [(f"node {r.node}", r.utilization) for r in self._view("nodes").itertuples()]
        candidates += [(f"segment {r.gate}", r.utilization) for r in self._view("segments").itertuples()]
        fleet = {r.service: f" (fleet of {r.vehicles:.0f})" for r in self._view("services").itertuples() if not math.isnan(r.vehicles)}
        candidates += [(f"service {r.service}{fleet.get(r.service, '')}", r.mean_load_factor)
                       for r in self._view("services").itertuples() if not math.isnan(r.mean_load_factor)]
        # A when-full fleet's busy share (1 - idle) says how close it is to binding; a scheduled
        # fleet is as busy as its timetable makes it, whatever the demand.
        when_full = {s.id for s in self.scenario.services if s.fleet is not None and not hasattr(s.departures, "every_h")}
        candidates += [(f"service {r.service}{fleet[r.service]}", r.fleet_utilization)
                       for r in self._view("services").itertuples() if r.service in when_full and not math.isnan(r.fleet_utilization)]
        candidates += busiest_candidates(self.outputs)  # berths and single tracks, where used
        return max(candidates, key=lambda c: c[1]) if candidates else ("", math.nan)

    # ------------------------------------------------------------------ summary.json

    def summary(self) -> dict:
        """The summary.json contract (plus extra keys)."""
        flows = {}
        by = self._view("flows_by_replication")
        for f, row in enumerate(self._view("flows").itertuples()):
            r = by.where("flow", row.flow)
            flow = self.scenario.flow(row.flow)
            flows[row.flow] = {
                "origin": row.origin, "destination": row.destination,
                "created": _json_number(row.created), "delivered": _json_number(row.delivered),
                "in_transit": _json_number(row.in_transit), "censored": _json_number(row.censored),
                "stable": bool(row.stable), "backlog_growth_teu_per_day": _json_number(row.backlog_growth_teu_per_day),
                "transit_days": {**_ci(r.column("transit_days_mean")), "p10": _json_number(row.transit_days_p10),
                                 "p50": _json_number(row.transit_days_p50), "p90": _json_number(row.transit_days_p90),
                                 "p95": _json_number(row.transit_days_p95), "estimator": row.transit_estimator},
                "throughput_teu_per_day": _ci(r.column("throughput_teu_per_day")),
                "throughput_tonnes_per_day": _json_number(row.throughput_tonnes_per_day),
                "demand_teu_per_day": _json_number(row.demand_teu_per_day),
                "tonnes_per_teu": flow.tonnes_per_teu,
                "cost_usd_per_teu": _json_number(row.cost_usd_per_teu),
                "co2_kg_per_teu": _json_number(row.co2_kg_per_teu),
                "empty_cost_usd_per_teu": _json_number(row.empty_cost_usd_per_teu),
                "empty_co2_kg_per_teu": _json_number(row.empty_co2_kg_per_teu),
                "time_days": {name: _json_number(getattr(row, f"{name}_days")) for name in CATEGORIES},
                "by_month": _json_tree(by_month(self.outputs, f)),
            }
            if flow.choice is not None:  # route and mode choice (engine/choice.py)
                flows[row.flow].update(_json_tree(choice_summary(
                    self.outputs, flow.id, [route for ff, route, _, _ in self.route_table() if ff == f])))
        months = window_months(self.outputs[0]) if self.outputs else []
        nodes = {r.node: {"utilization": _json_number(r.utilization),
                          "utilization_nominal": _json_number(r.utilization_nominal),
                          "mean_queue": _json_number(r.mean_queue),
                          "mean_wait_h": _json_number(r.mean_wait_h), "servers": int(r.servers),
                          "arrivals_per_day": _json_number(r.arrivals_per_day),
                          "stable": bool(r.stable), "backlog_growth_per_day": _json_number(r.backlog_growth_per_day),
                          "by_month": _json_tree(monthly_facility(self.outputs, r.node, months))}
                 for r in self._view("nodes").itertuples()}
        services = {r.service: {"departures": _json_number(r.departures), "mean_load_factor": _json_number(r.mean_load_factor),
                                "teu_carried_per_day": _json_number(r.teu_carried_per_day),
                                "teu_km_per_day": _json_number(r.teu_km_per_day),
                                "mean_load_factor_nominal": _json_number(r.mean_load_factor_nominal),
                                "mean_peak_load_teu": _json_number(r.mean_peak_load_teu),
                                "stable": bool(r.stable),
                                "backlog_growth_teu_per_day": _json_number(r.backlog_growth_teu_per_day), **_fleet_summary(r)}
                    for r in self._view("services").itertuples()}
        segments = {r.gate: {"utilization": _json_number(r.utilization), "vehicles_per_day": _json_number(r.vehicles_per_day),
                             "utilization_nominal": _json_number(r.utilization_nominal),
                             "open_fraction": _json_number(r.open_fraction),
                             "stable": bool(r.stable), "backlog_growth_per_day": _json_number(r.backlog_growth_per_day)}
                    for r in self._view("segments").itertuples()}
        merge_into(nodes, segments, self.outputs, self.measured_days)  # berths, yards, single track, background
        busiest, util = self.busiest_facility()
        return {
            "scenario": self.scenario.name, "seed": self.seed, "replications": self.replications,
            "horizon_days": self.horizon_days, "warmup_days": self.warmup_days,
            "start_date": self.scenario.simulation.start_date.isoformat(),
            "end_days_mean": _json_number(float(np.mean([o.end_h for o in self.outputs])) / 24.0) if self.outputs else None,
            "flows": flows, "nodes": nodes, "services": services, "segments": segments,
            "busiest": {"name": busiest, "utilization": _json_number(util)},
            "unstable": self.unstable(),
        }

    def unstable(self) -> list[str]:
        """Every element whose backlog grows significantly over the measured window, as "kind id"."""
        out = [f"flow {r.flow}" for r in self._view("flows").itertuples() if not r.stable]
        out += [f"node {r.node}" for r in self._view("nodes").itertuples() if not r.stable]
        out += [f"service {r.service}" for r in self._view("services").itertuples() if not r.stable]
        out += [f"segment {r.gate}" for r in self._view("segments").itertuples() if not r.stable]
        return out

    # ------------------------------------------------------------------ printing

    def format_tables(self) -> str:
        """The tables printed by `corridor-sim run`."""
        lines = [f"Scenario: {self.scenario.name}  ({self.replications} replications, seed {self.seed}, "
                 f"{self.measured_days:g} measured days after {self.warmup_days:g} warm-up)", "",
                 "Flows: transit days (mean with 95% CI, p50, p95), throughput, cost and CO2 per TEU"]
        head = (f"{'flow':<22} {'shipments':>9} {'censored':>8} {'TEU/day':>8} {'mean':>6} {'95% CI':>13} "
                f"{'p50':>6} {'p95':>6} {'t/day':>7} {'USD/TEU':>8} {'kgCO2/TEU':>9}")
        lines += [head, "-" * len(head)]
        for r in self._view("flows").itertuples():
            ci = f"[{r.transit_days_ci95_low:5.1f},{r.transit_days_ci95_high:5.1f}]" if not math.isnan(r.transit_days_ci95_low) else ""
            tonnes = f"{r.throughput_tonnes_per_day:7.0f}" if not math.isnan(r.throughput_tonnes_per_day) else f"{'-':>7}"
            mark = "" if r.stable else "  (unstable: this window only)"
            km = " KM" if r.transit_estimator == "kaplan-meier" else ""
            lines.append(f"{r.flow:<22} {r.created:9.0f} {r.censored:8.0f} {r.throughput_teu_per_day:8.1f} "
                         f"{r.transit_days_mean:6.1f} {ci:>13} {r.transit_days_p50:6.1f} {r.transit_days_p95:6.1f} "
                         f"{tonnes} {r.cost_usd_per_teu:8.0f} {r.co2_kg_per_teu:9.0f}{km}{mark}")
        flows = self._view("flows")
        if len(flows) and any(c > 0 for c in flows.column("censored")):
            lines.append("KM: some measured shipments were still under way at the end of the drain; their "
                         "transit figures are Kaplan-Meier estimates (mean restricted to the longest follow-up)")
        lines += ["", "Where the time goes (mean days per delivered shipment)"]
        head = f"{'flow':<22} " + " ".join(f"{c:>8}" for c in CATEGORIES)
        lines += [head, "-" * len(head)]
        for r in self._view("flows").itertuples():
            lines.append(f"{r.flow:<22} " + " ".join(f"{getattr(r, c + '_days'):8.2f}" for c in CATEGORIES))
        if len(self._view("nodes")):
            lines += ["", "Facilities"]
            head = f"{'node':<14} {'kind':<13} {'servers':>7} {'util':>6} {'queue':>8} {'wait_h':>8} {'arr/day':>8}"
            lines += [head, "-" * len(head)]
            for r in self._view("nodes").sort_values("utilization", ascending=False).itertuples():
                lines.append(f"{r.node:<14} {r.kind:<13} {r.servers:7d} {r.utilization:6.2f} {r.mean_queue:8.1f} "
                             f"{r.mean_wait_h:8.1f} {r.arrivals_per_day:8.1f}")
        if len(self._view("services")):
            lines += ["", "Services"]
            head = (f"{'service':<24} {'mode':<5} {'cap_teu':>7} {'departures':>10} {'load':>6} {'TEU/day':>8} "
                    f"{'TEU-km/day':>11} {'waiting':>8}")
            lines += [head, "-" * len(head)]
            for r in self._view("services").itertuples():
                lines.append(f"{r.service:<24} {r.mode:<5} {r.capacity_teu:7.0f} {r.departures:10.1f} "
                             f"{r.mean_load_factor:6.2f} {r.teu_carried_per_day:8.1f} {r.teu_km_per_day:11,.0f} "
                             f"{r.waiting_at_end:8.0f}")
        services = self._view("services")
        fleets = services.mask([not math.isnan(v) or e > 0 for v, e in zip(services.column("vehicles"),
                                                                          services.column("empty_teu_per_day"))])
        if len(fleets):
            lines += ["", "Fleets: share of vehicle time; late departures (cargo waiting for a vehicle) against "
                          "idle vehicles (vehicles waiting for cargo); empty boxes and empty runs per day"]
            head = (f"{'service':<24} {'veh':>4} {'loaded':>6} {'empty':>6} {'turn':>6} {'idle':>6} {'late':>6} "
                    f"{'late_h':>6} {'cancel':>6} {'emptyTEU/d':>10} {'empty km/d':>10}  waits")
            lines += [head, "-" * len(head)]
            for r in fleets.itertuples():
                if math.isnan(r.vehicles):  # no fleet: only its empty boxes
                    lines.append(f"{r.service:<24} {'-':>4} {'-':>6} {'-':>6} {'-':>6} {'-':>6} {'-':>6} {'-':>6} "
                                 f"{r.cancelled_departures:6.1f} {r.empty_teu_per_day:10.1f} {'-':>10}")
                    continue
                lines.append(f"{r.service:<24} {r.vehicles:4.0f} {r.loaded_share:6.2f} {r.empty_share:6.2f} "
                             f"{r.turnaround_share:6.2f} {r.idle_share:6.2f} {r.late_departures:6.1f} "
                             f"{r.mean_late_h:6.1f} {r.cancelled_departures:6.1f} {r.empty_teu_per_day:10.1f} "
                             f"{r.empty_vehicle_km_per_day:10.0f}  {fleet_verdict(r)}")
        empties = [f for f in self.scenario.demand if f.empty_return_share > 0]
        if empties:
            lines += ["", "Empty boxes going back (cost and CO2 per loaded TEU, included in the flows' figures)"]
            head = f"{'flow':<22} {'share':>6} {'USD/TEU':>8} {'kgCO2/TEU':>9}"
            lines += [head, "-" * len(head)]
            for f in empties:
                r = self._view("flows").row("flow", f.id)
                lines.append(f"{f.id:<22} {f.empty_return_share:6.2f} {r.empty_cost_usd_per_teu:8.0f} "
                             f"{r.empty_co2_kg_per_teu:9.0f}")
        lines += self._choice_lines()
        if len(self._view("segments")):
            lines += ["", "Segment paths (vehicles per day per direction; util of the paths open, util_nom of nominal)"]
            head = f"{'gate':<24} {'cap/day':>8} {'used/day':>8} {'util':>6} {'util_nom':>8} {'queue':>6}"
            lines += [head, "-" * len(head)]
            for r in self._view("segments").itertuples():
                lines.append(f"{r.gate:<24} {r.capacity_per_day:8.1f} {r.vehicles_per_day:8.1f} {r.utilization:6.2f} "
                             f"{r.utilization_nominal:8.2f} {r.queue_at_end:6.0f}")
        lines += format_lines(self.outputs, self.measured_days)  # berths, yards, single track, background
        busiest, util = self.busiest_facility()
        lines += ["", f"Busiest: {busiest} (utilisation {util:.2f})"]
        lines += self.warnings()
        return "\n".join(lines)

    def _choice_lines(self) -> list[str]:
        """The route-choice table: each choice flow's share of TEU by candidate, modal split, re-choices."""
        chosen = [(f, flow) for f, flow in enumerate(self.scenario.demand) if flow.choice is not None]
        if not chosen:
            return []
        lines = ["", "Route choice (share of the measured TEU by route finally taken; re-chosen: shipments a replication)"]
        head = f"{'flow':<22} {'share':>6}  route"
        lines += [head, "-" * 60]
        for f, flow in chosen:
            doc = choice_summary(self.outputs, flow.id, [route for ff, route, _, _ in self.route_table() if ff == f])
            for label, share in doc.get("route_shares", {}).items():
                lines.append(f"{flow.id:<22} {share:6.2f}  {label}")
            split = ", ".join(f"{m} {v:.2f}" for m, v in doc.get("modal_split", {}).items())
            lines.append(f"{'':<22} modal split: {split}; re-chosen {doc.get('rechosen', 0.0):.1f}")
        return lines

    def warnings(self) -> list[str]:
        """One line for every element that does not settle over the measured window."""
        out = []
        for r in self._view("flows").itertuples():
            if not r.stable:
                out.append(f"warning: flow {r.flow} does not settle: its backlog grows "
                           f"{r.backlog_growth_teu_per_day:.1f} TEU/day over the measured window; its transit "
                           f"figures describe that window, not a steady state")
        for r in self._view("nodes").itertuples():
            if not r.stable:
                out.append(f"warning: node {r.node} does not settle: its queue grows {r.backlog_growth_per_day:.1f} "
                           f"a day over the measured window (utilisation {r.utilization:.2f})")
        for r in self._view("services").itertuples():
            if not r.stable:
                out.append(f"warning: service {r.service} does not settle: TEU waiting for it grow "
                           f"{r.backlog_growth_teu_per_day:.1f} a day over the measured window")
        for r in self._view("segments").itertuples():
            if not r.stable:
                out.append(f"warning: segment path {r.gate} does not settle: its queue grows "
                           f"{r.backlog_growth_per_day:.1f} vehicles a day over the measured window")
        return ([""] if out else []) + out

    # ------------------------------------------------------------------ writing

    @staticmethod
    def read(folder: str | Path):
        """A results folder read back (Parquet or CSV layout): see `corridor_sim.read_results`."""
        from corridor_sim.results_dir import read_results

        return read_results(folder)

    def write(self, out_dir: str | Path, command: str = "", force: bool = False, shipments: bool = True,
              extra=None, format: str = "parquet") -> Path:
        """Write the results folder atomically; see `write_folder`. `extra(tmp_path)`, if given,
        adds a command's own files before the folder is renamed into place. The measured shipments
        and the stage rows go to Parquet files, or CSV with `format="csv"` (corridor_sim/results_dir.py)."""
        def fill(tmp: Path) -> None:
            (tmp / "summary.json").write_text(json.dumps(self.summary(), indent=2))
            self._view("flows").to_csv(tmp / "flows.csv")
            self._view("flows_by_replication").to_csv(tmp / "flows_by_replication.csv")
            self._view("nodes").to_csv(tmp / "nodes.csv")
            self._view("services").to_csv(tmp / "services.csv")
            self._view("segments").to_csv(tmp / "segments.csv")
            self._queues_view().to_csv(tmp / "queues.csv")
            if shipments:
                from corridor_sim.results_layout import write_shipment_tables  # pyarrow (pandas for CSV)

                write_shipment_tables(tmp, self._measured_shipments(), self.stages, format, outputs=self.outputs)
            if extra is not None:
                extra(tmp)
        return write_folder(out_dir, self.scenario, fill, command=command, seed=self.seed,
                            replications=self.replications, force=force)


_RESULTS_QUEUES = Results.queues  # Results' own queues(), to tell whether it was replaced


def write_folder(out_dir: str | Path, scenario: Scenario | None, fill, command: str, seed: int,
                 replications: int, force: bool = False, extra_meta: dict | None = None) -> Path:
    """Write a results folder atomically: fill a temporary sibling, then rename it into place.

    The folder holds the merged scenario (scenario.yaml), run.json (command, version, seed, the files
    written) and what `fill(tmp_path)` writes. A half-written run never looks complete; an existing
    folder is kept unless `force`, and then replaced only once the new one is complete, and only if
    it is a results folder holding nothing else (see `outdir.check_out_dir`). The folder is locked
    while it is written.

    Raises:
        UsageError: the folder exists and force is false, may not be replaced, cannot be created, or
            another process is writing it.
    """
    from corridor_sim import __version__

    out = check_out_dir(out_dir, force)
    with OutputLock(out):
        return _write_locked(out, scenario, fill, command, seed, replications, extra_meta, __version__)


def _pandas_version() -> str:
    """pandas' version for run.json, read from its installed metadata when the run did not import it."""
    pd = sys.modules.get("pandas")
    if pd is not None:
        return pd.__version__
    from importlib.metadata import version

    return version("pandas")


def _write_locked(out: Path, scenario, fill, command, seed, replications, extra_meta, version) -> Path:
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))
    try:
        if scenario is not None:
            (tmp / "scenario.yaml").write_text(dump_yaml(scenario.data(), sort_keys=False, allow_unicode=True))
        meta = {"command": command, "version": version, "seed": seed, "replications": replications,
                "scenario": scenario.name if scenario is not None else None,
                "scenario_file": scenario.source_file if scenario is not None else None,
                "numpy": np.__version__, "pandas": _pandas_version(), **(extra_meta or {})}
        (tmp / "run.json").write_text(json.dumps(meta, indent=2))  # first: a fill may read it
        fill(tmp)
        # The run record lists what the run wrote: `--force` replaces only such a folder.
        meta["files"] = sorted(p.name for p in tmp.iterdir())
        (tmp / "run.json").write_text(json.dumps(meta, indent=2))
        if out.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old-", dir=out.parent))
            os.replace(out, old / "previous")
            os.replace(tmp, out)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out
