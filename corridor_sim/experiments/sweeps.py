"""Sweep: a scenario run over a grid of parameter values (`--set KEY=V1,V2,...`).

`parse_values` reads value lists and ranges, `set_path` sets a dotted KEY inside scenario data
(list items by id or index, defaults the format knows), `sweep_scenarios` validates every point
and `sweep` runs them with common random numbers and tabulates the KPIs per point and flow.
"""

from __future__ import annotations

import copy
import difflib
import itertools
import math
import re
import typing

import pandas as pd
import yaml
from pydantic import BaseModel

from corridor_sim.errors import UsageError
from corridor_sim.scenario.schema import Scenario
from corridor_sim.experiments.replications import _as_scenario, _run_many


_NUM = r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?"
_RANGE = re.compile(rf"^\s*({_NUM})\s*:\s*({_NUM})\s*(?::\s*({_NUM})\s*)?$")
MAX_RANGE_POINTS = 10_000


def _number(text: str) -> int | float:
    return int(text) if re.fullmatch(r"[-+]?\d+", text) else float(text)


def parse_values(text: str) -> list:
    """Parse `V1,V2,...` where each item is a YAML scalar or a range `start:stop[:step]`.

    A range runs from start by step (default 1) and includes stop when stop lands on the grid
    (`2:5` is 2,3,4,5; `1:10:4` is 1,5,9; `0.5:1:0.25` is 0.5,0.75,1.0). It is made of integers when
    all three numbers are integers. Other items are read as YAML scalars: `12`, `1.5`, `true`, `poisson`.

    Raises:
        UsageError: an empty item, a step of 0 or against the direction, or a non-scalar item.
    """
    values: list = []
    for item in text.split(","):
        if not item.strip():
            raise UsageError(f"empty value in '{text}'")
        match = _RANGE.match(item)
        if match:
            start, stop = _number(match.group(1)), _number(match.group(2))
            step = _number(match.group(3)) if match.group(3) else 1
            if step == 0 or (stop - start) * step < 0:
                raise UsageError(f"range '{item.strip()}': the step must be non-zero and go from start towards stop")
            count = int(math.floor((stop - start) / step + 1e-9)) + 1
            if count > MAX_RANGE_POINTS:
                raise UsageError(f"range '{item.strip()}' has {count} points (at most {MAX_RANGE_POINTS})")
            if all(isinstance(x, int) for x in (start, stop, step)):
                values += [start + k * step for k in range(count)]
            else:
                values += [float(round(start + k * step, 12)) for k in range(count)]
            continue
        try:
            value = yaml.safe_load(item)
        except yaml.YAMLError:
            raise UsageError(f"cannot read value '{item.strip()}'") from None
        if isinstance(value, (dict, list)) or value is None:
            raise UsageError(f"value '{item.strip()}' is not a plain number, word or true/false")
        values.append(value)
    return values


def parse_setting(text: str) -> tuple[str, list]:
    """Parse a `--set KEY=V1,V2,...` argument into (KEY, values); see `parse_values`."""
    key, sep, values = text.partition("=")
    if not sep or not key.strip():
        raise UsageError(f"--set {text}: expected KEY=V1,V2,... (e.g. network.nodes.PORT.handling.servers=2,3,4)")
    return key.strip(), parse_values(values)


def _models_in(annotation) -> tuple[type[BaseModel], ...]:
    """Pydantic models that a field's annotation may hold (through Optional, list, Union, Annotated)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return (annotation,)
    found: list = []
    for arg in typing.get_args(annotation):
        for model in _models_in(arg):
            if model not in found:
                found.append(model)
    return tuple(found)


def _fields_of(models: tuple) -> dict[str, tuple]:
    """Key (alias) -> models held by that key, for mappings described by `models`."""
    out: dict[str, tuple] = {}
    for model in models:
        for name, field in model.model_fields.items():
            key = field.alias or name
            out[key] = tuple(dict.fromkeys(out.get(key, ()) + _models_in(field.annotation)))
    return out


def _describe(path: list) -> str:
    return ".".join(str(p) for p in path) or "the top level"


def set_path(data: dict, key: str, value) -> None:
    """Set `value` at a sweep KEY inside scenario data, in place.

    KEY is dotted: mapping keys by name (`simulation.horizon_days`), list items by id
    (`demand.IN-RU.teu_per_year`, `network.nodes.ASTARA.handling.servers`) or by 0-based index
    (`services.TRAIN.stops.1`). A key the scenario does not write may be set when the format knows
    it (a default such as `handling.servers`).

    Raises:
        UsageError: naming KEY and the part that matches nothing.
    """
    parts = key.split(".")
    if not all(parts):
        raise UsageError(f"--set {key}: empty part in the key")
    node, models, path, i = data, (Scenario,), [], 0

    def fail(message: str):
        raise UsageError(f"--set {key}: {message}")

    while i < len(parts):
        last_part = i == len(parts) - 1
        part = parts[i]
        if isinstance(node, dict):
            fields = _fields_of(models)
            if part not in node and part not in fields:
                known = sorted(set(map(str, node)) | set(fields))
                close = difflib.get_close_matches(part, known, n=1, cutoff=0.6)
                hint = f" (did you mean '{close[0]}'?)" if close else ""
                fail(f"unknown key '{part}' in {_describe(path)}{hint}")
            models = fields.get(part, ())
            if last_part:
                node[part] = value
                return
            if part not in node or node[part] is None:
                if not models:
                    fail(f"'{part}' in {_describe(path)} is not set, and nothing can be set inside it")
                node[part] = {}
            node, path, i = node[part], path + [part], i + 1
        elif isinstance(node, list):
            index = None
            for k in range(len(parts) - i, 0, -1):  # ids may contain dots: the longest match wins
                candidate = ".".join(parts[i:i + k])
                index = next((j for j, item in enumerate(node)
                              if isinstance(item, dict) and str(item.get("id")) == candidate), None)
                if index is not None:
                    i += k
                    break
            if index is None:
                if re.fullmatch(r"\d+", part) and int(part) < len(node):
                    index, i = int(part), i + 1
                else:
                    ids = [str(item["id"]) for item in node if isinstance(item, dict) and "id" in item]
                    close = difflib.get_close_matches(part, ids, n=1, cutoff=0.5)
                    hint = f" (did you mean '{close[0]}'?)" if close else ""
                    more = " ..." if len(ids) > 12 else ""
                    known = f"; ids: {', '.join(ids[:12])}{more}" if ids else f"; {len(node)} items"
                    fail(f"no item with id or index '{part}' in {_describe(path)}{hint}{known}")
            path = path + [node[index].get("id", index) if isinstance(node[index], dict) else index]
            if i == len(parts):
                node[index] = value
                return
            node = node[index]
        else:
            fail(f"{_describe(path)} is a value ({node!r}), not a mapping or list; "
                 f"'{part}' cannot be looked up in it")


def _point_label(params: dict) -> str:
    return ", ".join(f"{k}={v}" for k, v in params.items())


def sweep_scenarios(scenario: Scenario, settings: dict) -> list[tuple[dict, Scenario]]:
    """The validated scenario of every point of the grid, as (parameter values, scenario).

    Raises:
        UsageError: a KEY matches nothing in the scenario, or has no values.
        ScenarioError: a point's modified scenario is invalid (the standard messages).
    """
    from corridor_sim.scenario import scenario_from_dict

    if not settings:
        raise UsageError("sweep needs at least one --set KEY=V1,V2,...")
    keys, grids = [], []
    for key, values in settings.items():
        values = parse_values(values) if isinstance(values, str) else list(values)
        if not values:
            raise UsageError(f"--set {key}: no values")
        set_path(copy.deepcopy(scenario.data()), key, values[0])  # check the key before running anything
        keys.append(key)
        grids.append(values)
    source = scenario.source_file or "<scenario>"
    points = []
    for combo in itertools.product(*grids):
        params = dict(zip(keys, combo))
        data = copy.deepcopy(scenario.data())
        for key, value in params.items():
            set_path(data, key, value)
        point = scenario_from_dict(data, file=f"{source} [sweep point {_point_label(params)}]")
        point._source_file = scenario.source_file
        points.append((params, point))
    return points


def sweep(scenario, settings: dict, replications: int | None = None, seed: int | None = None, jobs: int = 1,
          dask: str | None = None, progress: bool | None = False) -> pd.DataFrame:
    """Run a scenario over the full grid of parameter values and tabulate the KPIs per point and flow.

    Args:
        scenario: a Scenario or a path.
        settings: {KEY: [values]} (or {KEY: "V1,V2,start:stop:step"}); KEY as for `set_path`.
            Every combination is a point; each point's scenario is re-validated.
        replications, seed, jobs, dask, progress: as for `run`. Every point uses the same seed (its
            scenario's, i.e. the base's unless the seed is swept), so points are compared with
            common random numbers.

    Returns:
        One row per point x flow: `point`, one column per KEY, the flow's demand, transit mean with
        95% CI, p50, p95, throughput with 95% CI, shipments in transit, and the point's busiest
        facility with its utilisation. `df.attrs["nodes"]` holds the facility table per point
        (records) and `df.attrs["json"]` the sweep.json document.
    """
    scenario = _as_scenario(scenario)
    grid = {key: parse_values(values) if isinstance(values, str) else list(values)
            for key, values in settings.items()}
    points = sweep_scenarios(scenario, grid)
    keys = list(grid)
    seeds = [p.simulation.seed if seed is None else seed for _, p in points]
    n = replications or scenario.simulation.replications
    runs = _run_many([p for _, p in points], replications, seeds, jobs, dask,
                     f"sweep: {len(points)} points x {n} replications", progress)
    rows, node_rows, doc_points = [], [], []
    for i, ((params, _), res) in enumerate(zip(points, runs)):
        busiest, util = res.busiest_facility()
        for r in res.flows.itertuples():
            rows.append({"point": i, **params, "flow": r.flow, "demand_teu_per_day": r.demand_teu_per_day,
                         "transit_days_mean": r.transit_days_mean, "transit_days_ci95_low": r.transit_days_ci95_low,
                         "transit_days_ci95_high": r.transit_days_ci95_high, "transit_days_p50": r.transit_days_p50,
                         "transit_days_p95": r.transit_days_p95, "throughput_teu_per_day": r.throughput_teu_per_day,
                         "throughput_ci95_low": r.throughput_ci95_low, "throughput_ci95_high": r.throughput_ci95_high,
                         "in_transit": r.in_transit, "busiest": busiest, "busiest_utilization": util})
        for r in res.nodes.itertuples():
            node_rows.append({"point": i, **params, "node": r.node, "servers": int(r.servers),
                              "utilization": r.utilization, "utilization_ci95_low": r.utilization_ci95_low,
                              "utilization_ci95_high": r.utilization_ci95_high, "mean_queue": r.mean_queue,
                              "mean_wait_h": r.mean_wait_h})
        summary = res.summary()
        doc_points.append({"point": i, "params": params, "seed": res.seed, "replications": res.replications,
                           "busiest": summary["busiest"],
                           "flows": {f: {"transit_days": v["transit_days"],
                                         "throughput_teu_per_day": v["throughput_teu_per_day"],
                                         "in_transit": v["in_transit"]} for f, v in summary["flows"].items()},
                           "nodes": summary["nodes"]})
    df = pd.DataFrame(rows)
    df.attrs["nodes"] = node_rows
    df.attrs["json"] = {"scenario": scenario.name, "settings": grid, "keys": keys, "points": doc_points}
    return df


def format_sweep(df: pd.DataFrame) -> str:
    """The table printed by `corridor-sim sweep`."""
    keys = df.attrs.get("json", {}).get("keys", [])
    width = {k: max(len(k), *(len(str(v)) for v in df[k])) for k in keys}
    head = (" ".join(f"{k:>{width[k]}}" for k in keys) + f"  {'flow':<18} {'transit':>7} {'95% CI':>15} "
            f"{'p95':>6} {'TEU/day':>8} {'95% CI':>15}  busiest (util)")
    lines = ["Sweep: one line per point and flow (transit in days)", head, "-" * len(head)]
    for r in df.to_dict("records"):
        ci = (f"[{r['transit_days_ci95_low']:.2f},{r['transit_days_ci95_high']:.2f}]"
              if not math.isnan(r["transit_days_ci95_low"]) else "-")
        tci = (f"[{r['throughput_ci95_low']:.1f},{r['throughput_ci95_high']:.1f}]"
               if not math.isnan(r["throughput_ci95_low"]) else "-")
        lines.append(" ".join(f"{str(r[k]):>{width[k]}}" for k in keys) +
                     f"  {r['flow']:<18} {r['transit_days_mean']:7.2f} {ci:>15} {r['transit_days_p95']:6.2f} "
                     f"{r['throughput_teu_per_day']:8.1f} {tci:>15}  {r['busiest']} ({r['busiest_utilization']:.2f})")
    return "\n".join(lines)
