"""Results of a run: tables derived from the replications' records, intervals, and the results folder.

Counts are means per replication over the measured window (after the warm-up). A flow's measured
shipments are those created in the window; `delivered` counts those of them delivered by the
horizon and `in_transit` the rest, so created = delivered + in_transit. Transit times are those of
delivered measured shipments: the mean has a Student-t interval across replication means, the
percentiles pool every replication's shipments. Throughput is TEU delivered per day of the window
(whenever the shipment was created).
"""

from __future__ import annotations

import json
import math
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import yaml
from scipy.special import stdtrit

from corridor_sim.engine.model import ReplicationOutput
from corridor_sim.engine.records import STAGE_NAMES, Stage
from corridor_sim.network import CorridorNetwork, RideLeg, Route, changes_vehicle
from corridor_sim.outdir import OutputLock, check_out_dir
from corridor_sim.scenario.schema import Scenario

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
    half = float(stdtrit(len(x) - 1, 0.5 + level / 2) * x.std(ddof=1) / math.sqrt(len(x)))
    return mean, mean - half, mean + half


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
    """(flow index, route, USD per TEU, kg CO2 per TEU) for every route, in the engine's numbering."""
    table = []
    for f, flow in enumerate(network.scenario.demand):
        for route in network.routes_for(flow):
            usd, co2 = route_cost(network, route)
            table.append((f, route, usd, co2))
    return table


def _json_number(x):
    if isinstance(x, (float, np.floating)):
        return None if math.isnan(x) else round(float(x), 6)
    if isinstance(x, np.integer):
        return int(x)
    return x


def _ci(values) -> dict:
    mean, lo, hi = t_interval(values)
    return {"mean": _json_number(mean), "ci95": [_json_number(lo), _json_number(hi)]}


@dataclass
class Results:
    """A run's results: pandas tables for flows, nodes, services, segments and shipments."""

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
        self.shipments = self._shipments_table()
        self.flows_by_replication = self._flows_by_replication()
        self.flows = self._flows_table()
        self.nodes = self._nodes_table()
        self.services = self._services_table()
        self.segments = self._segments_table()

    # ------------------------------------------------------------------ tables

    def route_table(self) -> list[tuple[int, Route, float, float]]:
        """(flow index, route, USD per TEU, kg CO2 per TEU) in the engine's route numbering."""
        if self._routes is None:
            self._routes = route_table(self.network)
        return self._routes

    def _shipments_table(self) -> pd.DataFrame:
        routes = self.route_table()
        flow_ids = [f.id for f in self.scenario.demand]
        frames = []
        for out in self.outputs:
            s = out.shipments
            if "summary_only" in s:
                continue
            totals = s["stage_totals_h"]
            route = s["route"]
            usd = np.array([r[2] for r in routes])[route] if len(route) else np.zeros(0)
            co2 = np.array([r[3] for r in routes])[route] if len(route) else np.zeros(0)
            frame = pd.DataFrame({
                "replication": out.replication,
                "shipment": np.arange(len(route)),
                "flow": pd.Categorical.from_codes(s["flow"], categories=flow_ids),
                "route": pd.Categorical.from_codes(route, categories=[" ".join(r[1].nodes) + f" #{i}" for i, r in enumerate(routes)]),
                "teu": s["teu"],
                "created_h": s["created_h"],
                "delivered_h": s["delivered_h"],
                "transit_days": (s["delivered_h"] - s["created_h"]) / 24.0,
                "measured": s["created_h"] >= out.warmup_h,
                "cost_usd": usd * s["teu"],
                "co2_kg": co2 * s["teu"],
            })
            for name, stages in CATEGORIES.items():
                frame[f"{name}_h"] = totals[:, [int(x) for x in stages]].sum(axis=1) if len(route) else []
            frames.append(frame)
        if not frames:
            columns = ["replication", "shipment", "flow", "route", "teu", "created_h", "delivered_h", "transit_days",
                       "measured", "cost_usd", "co2_kg", *(f"{name}_h" for name in CATEGORIES)]
            return pd.DataFrame({c: pd.Series(dtype=bool if c == "measured" else float) for c in columns})
        return pd.concat(frames, ignore_index=True)

    def _streamed_rows(self, out: ReplicationOutput) -> list[dict]:
        """flows_by_replication rows from a summary-only replication's streamed statistics."""
        s = out.shipments
        routes = self.route_table()
        rows = []
        for f, flow in enumerate(self.scenario.demand):
            n = int(s["delivered"][f])
            mine = [i for i, r in enumerate(routes) if r[0] == f]
            teu = sum(s["route_teu"][i] for i in mine)
            row = {
                "replication": out.replication, "flow": flow.id,
                "created_all": int(s["created_all"][f]), "delivered_all": int(s["delivered_all"][f]),
                "created": int(s["created"][f]), "delivered": n, "in_transit": int(s["created"][f]) - n,
                "transit_days_mean": s["transit_h_sum"][f] / n / 24.0 if n else math.nan,
                "throughput_teu_per_day": s["window_teu"][f] / self.measured_days,
                "cost_usd_per_teu": sum(s["route_teu"][i] * routes[i][2] for i in mine) / teu if teu else math.nan,
                "co2_kg_per_teu": sum(s["route_teu"][i] * routes[i][3] for i in mine) / teu if teu else math.nan,
            }
            for name, stages in CATEGORIES.items():
                total = sum(s["stage_h_sum"][f][int(x)] for x in stages)
                row[f"{name}_days"] = total / n / 24.0 if n else math.nan
            rows.append(row)
        return rows

    def _transit_quantiles(self, flow_index: int, done: pd.DataFrame, qs: tuple[float, ...]) -> list[float]:
        """Quantiles of transit days pooled over replications: exact from shipment rows, else read off
        the streamed histograms (to within half a bin)."""
        if len(done):
            return [float(done["transit_days"].quantile(q)) for q in qs]
        hists = [o.shipments["transit_hist"][flow_index] for o in self.outputs if "summary_only" in o.shipments]
        if not hists or sum(h.sum() for h in hists) == 0:
            return [math.nan] * len(qs)
        hist = np.sum(hists, axis=0)
        width = float(self.outputs[0].shipments["bin_days"])
        cum = np.cumsum(hist) / hist.sum()
        return [(int(np.searchsorted(cum, q)) + 0.5) * width for q in qs]

    def _flows_by_replication(self) -> pd.DataFrame:
        rows = []
        ship = self.shipments
        for out in self.outputs:
            if "summary_only" in out.shipments:
                rows += self._streamed_rows(out)
                continue
            mine = ship[ship["replication"] == out.replication]
            for flow in self.scenario.demand:
                f = mine[mine["flow"] == flow.id]
                measured = f[f["measured"]]
                done = measured[measured["delivered_h"].notna()]
                in_window = f[(f["delivered_h"] >= out.warmup_h) & (f["delivered_h"] <= out.horizon_h)]
                teu_per_day = in_window["teu"].sum() / self.measured_days
                row = {
                    "replication": out.replication,
                    "flow": flow.id,
                    "created_all": len(f),
                    "delivered_all": int(f["delivered_h"].notna().sum()),
                    "created": len(measured),
                    "delivered": len(done),
                    "in_transit": len(measured) - len(done),
                    "transit_days_mean": done["transit_days"].mean() if len(done) else math.nan,
                    "throughput_teu_per_day": teu_per_day,
                    "cost_usd_per_teu": (done["cost_usd"].sum() / done["teu"].sum()) if len(done) else math.nan,
                    "co2_kg_per_teu": (done["co2_kg"].sum() / done["teu"].sum()) if len(done) else math.nan,
                }
                for name in CATEGORIES:
                    row[f"{name}_days"] = done[f"{name}_h"].mean() / 24.0 if len(done) else math.nan
                rows.append(row)
        return pd.DataFrame(rows)

    def _flows_table(self) -> pd.DataFrame:
        rows = []
        by = self.flows_by_replication
        ship = self.shipments
        for f, flow in enumerate(self.scenario.demand):
            r = by[by["flow"] == flow.id]
            done = ship[(ship["flow"] == flow.id) & ship["measured"] & ship["delivered_h"].notna()]
            p10, p50, p90, p95 = self._transit_quantiles(f, done, (0.10, 0.50, 0.90, 0.95))
            mean, lo, hi = t_interval(r["transit_days_mean"])
            tp, tp_lo, tp_hi = t_interval(r["throughput_teu_per_day"])
            row = {
                "flow": flow.id, "origin": flow.origin, "destination": flow.destination,
                "demand_teu_per_day": flow.teu_per_year / 365.0,
                "created": r["created"].mean(), "delivered": r["delivered"].mean(), "in_transit": r["in_transit"].mean(),
                "transit_days_mean": mean, "transit_days_ci95_low": lo, "transit_days_ci95_high": hi,
                "transit_days_p10": p10, "transit_days_p50": p50, "transit_days_p90": p90, "transit_days_p95": p95,
                "throughput_teu_per_day": tp, "throughput_ci95_low": tp_lo, "throughput_ci95_high": tp_hi,
                "throughput_tonnes_per_day": tp * flow.tonnes_per_teu if flow.tonnes_per_teu else math.nan,
                "cost_usd_per_teu": r["cost_usd_per_teu"].mean(),
                "co2_kg_per_teu": r["co2_kg_per_teu"].mean(),
            }
            for name in CATEGORIES:
                row[f"{name}_days"] = r[f"{name}_days"].mean()
            rows.append(row)
        return pd.DataFrame(rows)

    def _nodes_table(self) -> pd.DataFrame:
        rows = []
        for node in self.scenario.network.nodes:
            if node.handling is None:
                continue
            per = [o.facilities[node.id] for o in self.outputs]
            util = t_interval([p["utilization"] for p in per])
            rows.append({
                "node": node.id, "name": node.label, "kind": node.kind, "servers": node.handling.servers,
                "applies": node.handling.applies,
                "utilization": util[0], "utilization_ci95_low": util[1], "utilization_ci95_high": util[2],
                "mean_queue": np.mean([p["mean_queue"] for p in per]),
                "mean_wait_h": np.mean([p["wait_sum_h"] / p["started"] if p["started"] else 0.0 for p in per]),
                "arrivals_per_day": np.mean([p["arrivals"] / p["span_h"] * 24 for p in per]),
            })
        return pd.DataFrame(rows, columns=["node", "name", "kind", "servers", "applies", "utilization",
                                           "utilization_ci95_low", "utilization_ci95_high", "mean_queue",
                                           "mean_wait_h", "arrivals_per_day"])

    def _services_table(self) -> pd.DataFrame:
        rows = []
        for service in self.scenario.services:
            deps, lf, teu, waiting = [], [], [], []
            for o in self.outputs:
                mine = [v for v in o.lines.values() if v["service"] == service.id]
                d = sum(v["departures"] for v in mine)
                deps.append(d)
                lf.append(sum(v["load_factor_sum"] for v in mine) / d if d else math.nan)
                teu.append(sum(v["teu_carried"] for v in mine))
                waiting.append(sum(v["waiting_at_end"] for v in mine))
            rows.append({
                "service": service.id, "mode": service.mode, "capacity_teu": service.capacity_teu,
                "departures": float(np.mean(deps)),
                "mean_load_factor": float(np.nanmean(lf)) if not all(math.isnan(x) for x in lf) else math.nan,
                "teu_carried_per_day": float(np.mean(teu)) / self.measured_days,
                "waiting_at_end": float(np.mean(waiting)),
            })
        return pd.DataFrame(rows, columns=["service", "mode", "capacity_teu", "departures", "mean_load_factor",
                                           "teu_carried_per_day", "waiting_at_end"])

    def _segments_table(self) -> pd.DataFrame:
        rows = []
        names = sorted({g for o in self.outputs for g in o.gates})
        for name in names:
            per = [o.gates[name] for o in self.outputs]
            rows.append({"gate": name, "segment": per[0]["segment"], "capacity_per_day": per[0]["capacity_per_day"],
                         "utilization": float(np.mean([p["utilization"] for p in per])),
                         "vehicles_per_day": float(np.mean([p["entered"] for p in per])) / self.measured_days,
                         "queue_at_end": float(np.mean([p["queue_at_end"] for p in per]))})
        return pd.DataFrame(rows, columns=["gate", "segment", "capacity_per_day", "utilization",
                                           "vehicles_per_day", "queue_at_end"])

    def stages(self, replication: int | None = None) -> pd.DataFrame:
        """Stage rows (one per interval of a shipment's journey) for replications that kept them."""
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
        frames = []
        for out in self.outputs:
            for node_id, q in out.queue_samples.items():
                frames.append(pd.DataFrame({"replication": out.replication, "node": node_id,
                                            "time_days": out.samples_h[: len(q)] / 24.0, "queue": q}))
        if not frames:
            return pd.DataFrame(columns=["replication", "node", "time_days", "queue"])
        return pd.concat(frames, ignore_index=True)

    def busiest_facility(self) -> tuple[str, float]:
        """The facility, gate or service with the highest utilisation: (name, utilisation)."""
        candidates = [(f"node {r.node}", r.utilization) for r in self.nodes.itertuples()]
        candidates += [(f"segment {r.gate}", r.utilization) for r in self.segments.itertuples()]
        candidates += [(f"service {r.service}", r.mean_load_factor) for r in self.services.itertuples()
                       if not math.isnan(r.mean_load_factor)]
        return max(candidates, key=lambda c: c[1]) if candidates else ("", math.nan)

    # ------------------------------------------------------------------ summary.json

    def summary(self) -> dict:
        """The summary.json contract (plus extra keys)."""
        flows = {}
        by = self.flows_by_replication
        for row in self.flows.itertuples():
            r = by[by["flow"] == row.flow]
            flow = self.scenario.flow(row.flow)
            flows[row.flow] = {
                "origin": row.origin, "destination": row.destination,
                "created": _json_number(row.created), "delivered": _json_number(row.delivered),
                "in_transit": _json_number(row.in_transit),
                "transit_days": {**_ci(r["transit_days_mean"]), "p10": _json_number(row.transit_days_p10),
                                 "p50": _json_number(row.transit_days_p50), "p90": _json_number(row.transit_days_p90),
                                 "p95": _json_number(row.transit_days_p95)},
                "throughput_teu_per_day": _ci(r["throughput_teu_per_day"]),
                "throughput_tonnes_per_day": _json_number(row.throughput_tonnes_per_day),
                "demand_teu_per_day": _json_number(row.demand_teu_per_day),
                "tonnes_per_teu": flow.tonnes_per_teu,
                "cost_usd_per_teu": _json_number(row.cost_usd_per_teu),
                "co2_kg_per_teu": _json_number(row.co2_kg_per_teu),
                "time_days": {name: _json_number(getattr(row, f"{name}_days")) for name in CATEGORIES},
            }
        nodes = {r.node: {"utilization": _json_number(r.utilization), "mean_queue": _json_number(r.mean_queue),
                          "mean_wait_h": _json_number(r.mean_wait_h), "servers": int(r.servers),
                          "arrivals_per_day": _json_number(r.arrivals_per_day)}
                 for r in self.nodes.itertuples()}
        services = {r.service: {"departures": _json_number(r.departures), "mean_load_factor": _json_number(r.mean_load_factor),
                                "teu_carried_per_day": _json_number(r.teu_carried_per_day)}
                    for r in self.services.itertuples()}
        segments = {r.gate: {"utilization": _json_number(r.utilization), "vehicles_per_day": _json_number(r.vehicles_per_day)}
                    for r in self.segments.itertuples()}
        busiest, util = self.busiest_facility()
        return {
            "scenario": self.scenario.name, "seed": self.seed, "replications": self.replications,
            "horizon_days": self.horizon_days, "warmup_days": self.warmup_days,
            "flows": flows, "nodes": nodes, "services": services, "segments": segments,
            "busiest": {"name": busiest, "utilization": _json_number(util)},
        }

    # ------------------------------------------------------------------ printing

    def format_tables(self) -> str:
        """The tables printed by `corridor-sim run`."""
        lines = [f"Scenario: {self.scenario.name}  ({self.replications} replications, seed {self.seed}, "
                 f"{self.measured_days:g} measured days after {self.warmup_days:g} warm-up)", "",
                 "Flows: transit days (mean with 95% CI, p50, p95), throughput, cost and CO2 per TEU"]
        head = (f"{'flow':<22} {'shipments':>9} {'in_trans':>8} {'TEU/day':>8} {'mean':>6} {'95% CI':>13} "
                f"{'p50':>6} {'p95':>6} {'t/day':>7} {'USD/TEU':>8} {'kgCO2/TEU':>9}")
        lines += [head, "-" * len(head)]
        for r in self.flows.itertuples():
            ci = f"[{r.transit_days_ci95_low:5.1f},{r.transit_days_ci95_high:5.1f}]" if not math.isnan(r.transit_days_ci95_low) else ""
            tonnes = f"{r.throughput_tonnes_per_day:7.0f}" if not math.isnan(r.throughput_tonnes_per_day) else f"{'-':>7}"
            lines.append(f"{r.flow:<22} {r.created:9.0f} {r.in_transit:8.0f} {r.throughput_teu_per_day:8.1f} "
                         f"{r.transit_days_mean:6.1f} {ci:>13} {r.transit_days_p50:6.1f} {r.transit_days_p95:6.1f} "
                         f"{tonnes} {r.cost_usd_per_teu:8.0f} {r.co2_kg_per_teu:9.0f}")
        lines += ["", "Where the time goes (mean days per delivered shipment)"]
        head = f"{'flow':<22} " + " ".join(f"{c:>8}" for c in CATEGORIES)
        lines += [head, "-" * len(head)]
        for r in self.flows.itertuples():
            lines.append(f"{r.flow:<22} " + " ".join(f"{getattr(r, c + '_days'):8.2f}" for c in CATEGORIES))
        if len(self.nodes):
            lines += ["", "Facilities"]
            head = f"{'node':<14} {'kind':<13} {'servers':>7} {'util':>6} {'queue':>8} {'wait_h':>8} {'arr/day':>8}"
            lines += [head, "-" * len(head)]
            for r in self.nodes.sort_values("utilization", ascending=False).itertuples():
                lines.append(f"{r.node:<14} {r.kind:<13} {r.servers:7d} {r.utilization:6.2f} {r.mean_queue:8.1f} "
                             f"{r.mean_wait_h:8.1f} {r.arrivals_per_day:8.1f}")
        if len(self.services):
            lines += ["", "Services"]
            head = f"{'service':<24} {'mode':<5} {'cap_teu':>7} {'departures':>10} {'load':>6} {'TEU/day':>8} {'waiting':>8}"
            lines += [head, "-" * len(head)]
            for r in self.services.itertuples():
                lines.append(f"{r.service:<24} {r.mode:<5} {r.capacity_teu:7.0f} {r.departures:10.1f} "
                             f"{r.mean_load_factor:6.2f} {r.teu_carried_per_day:8.1f} {r.waiting_at_end:8.0f}")
        if len(self.segments):
            lines += ["", "Segment paths (vehicles per day per direction)"]
            head = f"{'gate':<24} {'cap/day':>8} {'used/day':>8} {'util':>6} {'queue':>6}"
            lines += [head, "-" * len(head)]
            for r in self.segments.itertuples():
                lines.append(f"{r.gate:<24} {r.capacity_per_day:8.1f} {r.vehicles_per_day:8.1f} {r.utilization:6.2f} {r.queue_at_end:6.0f}")
        busiest, util = self.busiest_facility()
        lines += ["", f"Busiest: {busiest} (utilisation {util:.2f})"]
        return "\n".join(lines)

    # ------------------------------------------------------------------ writing

    def write(self, out_dir: str | Path, command: str = "", force: bool = False, shipments: bool = True,
              extra=None) -> Path:
        """Write the results folder atomically; see `write_folder`. `extra(tmp_path)`, if given,
        adds a command's own files before the folder is renamed into place."""
        def fill(tmp: Path) -> None:
            (tmp / "summary.json").write_text(json.dumps(self.summary(), indent=2))
            self.flows.to_csv(tmp / "flows.csv", index=False)
            self.flows_by_replication.to_csv(tmp / "flows_by_replication.csv", index=False)
            self.nodes.to_csv(tmp / "nodes.csv", index=False)
            self.services.to_csv(tmp / "services.csv", index=False)
            self.segments.to_csv(tmp / "segments.csv", index=False)
            self.queues().to_csv(tmp / "queues.csv", index=False)
            if shipments:
                self.shipments[self.shipments["measured"]].to_csv(tmp / "shipments.csv", index=False)
                stages = self.stages()
                if len(stages):
                    stages.to_csv(tmp / "stages.csv.gz", index=False)
            if extra is not None:
                extra(tmp)
        return write_folder(out_dir, self.scenario, fill, command=command, seed=self.seed,
                            replications=self.replications, force=force)


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


def _write_locked(out: Path, scenario, fill, command, seed, replications, extra_meta, version) -> Path:
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))
    try:
        if scenario is not None:
            (tmp / "scenario.yaml").write_text(yaml.safe_dump(scenario.data(), sort_keys=False, allow_unicode=True))
        meta = {"command": command, "version": version, "seed": seed, "replications": replications,
                "scenario": scenario.name if scenario is not None else None,
                "scenario_file": scenario.source_file if scenario is not None else None,
                "numpy": np.__version__, "pandas": pd.__version__, **(extra_meta or {})}
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
