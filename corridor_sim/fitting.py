"""Calibration fit: the genuinely uncertain inputs fitted to some targets, checked on the others.

A targets file (see corridor_sim/calibration.py) marks each target with `use`:

- `fit`: the fit minimises its miss;
- `held_out` (the default): not used by the fit, evidence of whether the fitted model is right;
- `dropped`: shown for information only, not evidence (e.g. circular: the input it measures was set
  from it); it needs a `reason`.

and names, under `fit.parameters`, the inputs that are genuinely uncertain, each a scenario key path
in the `sweep --set` convention (`network.nodes.BND.handling.time_h.mean`: mapping keys by name,
list items by id or 0-based index) with `bounds: [low, high]` and a `reason`. A parameter may
instead name several `keys`: all are set to its value, or, with `scale: true`, each is its
scenario value times the parameter (a factor, 1 at the start), so the shape of a triangular time
can be stretched as a whole.

`fit_calibration` minimises, over the parameters within their bounds, the sum over `fit` targets of
((model - aim) / half-band)^2, where model is the mean over replications of the per-replication
statistic (median or mean transit days, node kt a year), aim is `published` when it is a number and
the middle of `tolerance` otherwise, and half-band is half the width of `tolerance`. Every
evaluation uses the same seed and replication indices (common random numbers), so the objective is
a deterministic function of the parameters and the optimiser (scipy: bounded Brent for one
parameter, Powell with bounds for several) does not chase noise. The number of simulations is
capped (`max_evals`). The fitted model is then checked, beside the starting one, on fresh random
numbers (seed + 1, the same replications): every target's mean with its 95% t-interval, before (the
scenario as written) and after, and whether it is within its band.
"""

from __future__ import annotations

import copy
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import scipy.optimize

from corridor_sim.calibration import leg_days, read_targets
from corridor_sim.errors import Problem, ScenarioError
from corridor_sim.experiments import run
from corridor_sim.results import Results, t_interval
from corridor_sim.scenario import load_scenario, scenario_from_dict
from corridor_sim.scenario.loading import read_yaml

USES = ("fit", "held_out", "dropped")
DEFAULT_USE = "held_out"
DEFAULT_MAX_EVALS = 60
MISSING_PENALTY = 1e6  # a fit target with no value (nothing delivered): far worse than any miss
CHECK_SEED_OFFSET = 1  # the before/after table runs on fresh random numbers: seed + 1


@dataclass
class Parameter:
    """One uncertain input: the key paths it sets, its bounds, why it is uncertain."""

    id: str
    keys: list[str]
    steps: list[list]  # each key resolved against the scenario: ("key", name) / ("item", index)
    low: float
    high: float
    reason: str
    scale: bool
    originals: list[float]  # the scenario's value at each key
    start: float

    def values(self, x: float) -> list[float]:
        """The value written at each key when the parameter is x."""
        return [o * x for o in self.originals] if self.scale else [x] * len(self.keys)


@dataclass
class FitResult:
    """What a fit found: the parameters, the before/after table and the search."""

    parameters: list[Parameter]
    fitted: list[float]
    table: pd.DataFrame
    objective_start: float
    objective_fitted: float
    evaluations: int
    history: list[dict]
    seed: int
    check_seed: int
    replications: int
    scenario_file: Path
    fitted_scenario: Any = field(repr=False, default=None)
    message: str = ""
    per_replication: dict = field(repr=False, default_factory=dict)  # target id -> (before, after) arrays


# ------------------------------------------------------------------------------- reading the spec


def _fault(file: str, key_path: str, message: str, lines: dict | None = None, key: Any = None) -> ScenarioError:
    line = (lines or {}).get(key, ("", 0))[1] if key is not None else 0
    return ScenarioError([Problem(file, key_path, message + (f" (line {line})" if line else ""))])


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def resolve_key(data: Any, key: str) -> tuple[list, Any] | str:
    """Walk a sweep KEY through scenario data: (steps, value found), or a message saying where it fails.

    Same convention as `corridor_sim.experiments.set_path` (mapping keys by name; list items by id,
    the longest dotted match first, else by 0-based index), but the key must exist: a fitted input
    is one the scenario states.
    """
    parts = key.split(".")
    if not key or not all(parts):
        return "empty part in the key path"
    node, steps, done, i = data, [], [], 0
    while i < len(parts):
        part = parts[i]
        where = ".".join(done) or "the top level"
        if isinstance(node, dict):
            if part not in node:
                return f"'{part}' is not in {where} of the scenario"
            steps.append(("key", part))
            node, i = node[part], i + 1
            done.append(part)
        elif isinstance(node, list):
            index = None
            for k in range(len(parts) - i, 0, -1):
                candidate = ".".join(parts[i:i + k])
                index = next((j for j, item in enumerate(node)
                              if isinstance(item, dict) and str(item.get("id")) == candidate), None)
                if index is not None:
                    done.append(candidate)
                    i += k
                    break
            if index is None:
                if re.fullmatch(r"\d+", part) and int(part) < len(node):
                    index, i = int(part), i + 1
                    done.append(part)
                else:
                    ids = [str(item["id"]) for item in node if isinstance(item, dict) and "id" in item]
                    known = f" (ids: {', '.join(ids[:12])})" if ids else ""
                    return f"no item with id or index '{part}' in {where}{known}"
            steps.append(("item", index))
            node = node[index]
        else:
            return f"{where} is a value ({node!r}), not a mapping or list"
    return steps, node


def _set(data: Any, steps: list, value: Any) -> None:
    node = data
    for _, part in steps[:-1]:
        node = node[part]
    node[steps[-1][1]] = value


def read_fit_spec(targets_file: str | Path) -> tuple[dict, Any, list[Parameter]]:
    """Read a targets file for `--fit`: (targets spec, base scenario, parameters).

    Raises:
        ScenarioError: located in the targets file (key path and line): a `use` that is not fit,
            held_out or dropped; no `fit` target; a fit target that has no number to miss
            (cost_order); no parameters; an unknown key path; a value there that is not a number;
            bounds that are not two numbers with low < high; a parameter without a reason; bounds
            at which the scenario is not valid.
    """
    path = Path(targets_file)
    file = str(path)
    spec = read_targets(path)
    raw = read_yaml(path)  # the same file again, for the line of each key
    targets = raw["targets"]
    uses = []
    for i, (t, written) in enumerate(zip(spec["targets"], targets)):
        at = f"targets[{i}]"
        use = t.get("use", DEFAULT_USE)
        if use not in USES:
            raise _fault(file, f"{at}.use", f"must be fit, held_out or dropped (got {use!r})", written.lines, "use")
        if use == "fit" and t["kind"] == "cost_order":
            raise _fault(file, f"{at}.use", "a cost_order target has no number to miss by, so it cannot be "
                         "fitted: mark it held_out or dropped", written.lines, "use")
        if use == "fit":
            _band(file, at, t, written)
        if use == "dropped" and not str(t.get("reason") or "").strip():
            raise _fault(file, f"{at}.reason", "a dropped target needs a reason (why it is not evidence)",
                         written.lines, "use")
        statistic = t.get("statistic", "median")
        if statistic not in ("median", "mean") or (statistic == "mean" and t["kind"] != "transit"):
            raise _fault(file, f"{at}.statistic", f"must be median or mean, for a transit target (got {statistic!r})",
                         written.lines, "statistic")
        uses.append(use)
    if "fit" not in uses:
        raise _fault(file, "targets", "no target has `use: fit`: nothing to fit to", raw.lines, "targets")
    fit = raw.get("fit")
    if not isinstance(fit, dict) or not isinstance(fit.get("parameters"), list) or not fit["parameters"]:
        raise _fault(file, "fit.parameters", "--fit needs a list of parameters to fit (key, bounds, reason)",
                     raw.lines if not isinstance(fit, dict) else fit.lines,
                     "fit" if not isinstance(fit, dict) else "parameters")
    scenario = load_scenario(spec["scenario_path"])
    data = scenario.data()
    parameters, seen = [], set()
    for i, p in enumerate(fit["parameters"]):
        parameters.append(_parameter(file, i, p, data, seen))
    for i, p in enumerate(parameters):  # the scenario must be valid across the whole box
        for x in (p.low, (p.low + p.high) / 2 + (p.high - p.low) * 1e-3, p.high):
            trial = copy.deepcopy(data)
            for steps, value in zip(p.steps, p.values(x)):
                _set(trial, steps, value)
            try:
                scenario_from_dict(trial, file=str(spec["scenario_path"]))
            except ScenarioError as exc:
                reasons = "; ".join(f"{q.key_path}: {q.message}" for q in exc.problems)
                raise _fault(file, f"fit.parameters[{i}].bounds", f"at {x:g} the scenario is not valid: {reasons}",
                             fit["parameters"][i].lines, "bounds") from None
    for t, use in zip(spec["targets"], uses):
        t["use"] = use
    return spec, scenario, parameters


def _band(file: str, at: str, t: dict, written: Any) -> None:
    band = t.get("tolerance")
    if not (isinstance(band, list) and len(band) == 2 and all(_is_number(b) for b in band) and band[0] < band[1]):
        raise _fault(file, f"{at}.tolerance", "a fit target needs a band [low, high] of two numbers with low < high",
                     written.lines, "tolerance")


def _parameter(file: str, i: int, p: Any, data: dict, seen: set) -> Parameter:
    at = f"fit.parameters[{i}]"
    if not isinstance(p, dict):
        raise _fault(file, at, "must be a mapping with key (or keys), bounds and reason")
    lines = p.lines
    allowed = {"id", "key", "keys", "bounds", "reason", "scale"}
    unknown = sorted(set(map(str, p)) - allowed)
    if unknown:
        raise _fault(file, f"{at}.{unknown[0]}", f"unknown key '{unknown[0]}' (allowed: {', '.join(sorted(allowed))})",
                     lines, unknown[0])
    if ("key" in p) == ("keys" in p):
        raise _fault(file, at, "give either key (one path) or keys (a list of paths)", lines,
                     "key" if "key" in p else None)
    name = "key" if "key" in p else "keys"
    keys = [p["key"]] if name == "key" else p["keys"]
    if not isinstance(keys, list) or not keys or not all(isinstance(k, str) for k in keys):
        raise _fault(file, f"{at}.{name}", "must be a key path (or a non-empty list of them)", lines, name)
    scale = p.get("scale", False)
    if not isinstance(scale, bool):
        raise _fault(file, f"{at}.scale", f"must be true or false (got {scale!r})", lines, "scale")
    steps, originals = [], []
    for j, key in enumerate(keys):
        where = f"{at}.key" if name == "key" else f"{at}.keys[{j}]"
        found = resolve_key(data, key)
        if isinstance(found, str):
            raise _fault(file, where, f"'{key}' matches nothing in the scenario: {found}", lines, name)
        if not _is_number(found[1]):
            raise _fault(file, where, f"'{key}' is not a number in the scenario (got {found[1]!r}); "
                         "only a numeric input can be fitted", lines, name)
        if key in seen:
            raise _fault(file, where, f"'{key}' is fitted twice", lines, name)
        seen.add(key)
        steps.append(found[0])
        originals.append(float(found[1]))
    bounds = p.get("bounds")
    if not (isinstance(bounds, list) and len(bounds) == 2 and all(_is_number(b) for b in bounds)):
        raise _fault(file, f"{at}.bounds", f"must be [low, high], two numbers (got {bounds!r})", lines, "bounds")
    low, high = float(bounds[0]), float(bounds[1])
    if not low < high:
        raise _fault(file, f"{at}.bounds", f"low must be below high (got [{low:g}, {high:g}])", lines, "bounds")
    reason = p.get("reason")
    if not isinstance(reason, str) or not reason.strip():
        raise _fault(file, f"{at}.reason", "say why this input is uncertain (a reason is required)", lines,
                     "reason" if "reason" in p else name)
    start = 1.0 if scale else originals[0]
    return Parameter(id=str(p.get("id") or keys[0]), keys=keys, steps=steps, low=low, high=high, reason=reason,
                     scale=scale, originals=originals, start=min(max(start, low), high))


# ------------------------------------------------------------------------------------- evaluation


def scenario_at(base: Any, parameters: list[Parameter], x: list[float]) -> Any:
    """The base scenario with each parameter at its value in x, validated."""
    data = copy.deepcopy(base.data())
    for p, value in zip(parameters, x):
        for steps, v in zip(p.steps, p.values(value)):
            _set(data, steps, v)
    label = ", ".join(f"{p.id}={v:.6g}" for p, v in zip(parameters, x))
    scenario = scenario_from_dict(data, file=f"{base.source_file} [fit point {label}]")
    scenario._source_file = base.source_file
    return scenario


def per_replication(results: Results, target: dict) -> np.ndarray:
    """A target's statistic in each replication: transit days (median or mean), or kt a year at a node."""
    reps = range(results.replications)
    if target["kind"] == "transit":
        mean = target.get("statistic", "median") == "mean"
        if "from" in target or "to" in target:
            flow = results.scenario.flow(target["flow"])
            legs = leg_days(results, target["flow"], target.get("from", flow.origin),
                            target.get("to", flow.destination))
            grouped = legs.groupby("replication")["days"]
        elif mean:
            by = results.flows_by_replication
            values = by[by["flow"] == target["flow"]].set_index("replication")["transit_days_mean"]
            return np.array([float(values.get(r, math.nan)) for r in reps])
        else:
            ship = results.shipments
            done = ship[(ship["flow"] == target["flow"]) & ship["measured"] & ship["delivered_h"].notna()]
            grouped = done.groupby("replication")["transit_days"]
        values = grouped.mean() if mean else grouped.median()
        return np.array([float(values.get(r, math.nan)) for r in reps])
    if target["kind"] == "throughput":
        by = results.flows_by_replication.set_index(["replication", "flow"])["throughput_teu_per_day"]
        shares: dict[str, float] = {}
        for f, route, _, _ in results.route_table():
            if target["node"] in route.nodes:
                flow = results.scenario.demand[f]
                shares[flow.id] = shares.get(flow.id, 0.0) + route.share
        out = []
        for r in reps:
            t_per_day = sum(float(by.get((r, fid), 0.0)) * share * (results.scenario.flow(fid).tonnes_per_teu or 0.0)
                            for fid, share in shares.items())
            out.append(t_per_day * 365.0 / 1000.0)
        return np.array(out)
    raise ValueError(f"no per-replication number for a {target['kind']} target")


def aim_and_scale(target: dict) -> tuple[float, float]:
    """(aim, half-band): `published` when a number, else the band's middle; half the band's width."""
    low, high = target["tolerance"]
    aim = target["published"] if _is_number(target.get("published")) else (low + high) / 2
    return float(aim), (high - low) / 2


def objective(results: Results, targets: list[dict]) -> float:
    """Sum over the fit targets of the squared miss of the replications' mean, in half-bands."""
    total = 0.0
    for t in targets:
        if t["use"] != "fit":
            continue
        value = float(np.nanmean(per_replication(results, t))) if results.replications else math.nan
        aim, scale = aim_and_scale(t)
        total += MISSING_PENALTY if math.isnan(value) else ((value - aim) / scale) ** 2
    return total


def _needs_stages(targets: list[dict]) -> bool:
    return any(t["kind"] == "transit" and ("from" in t or "to" in t) for t in targets)


def _row(results: Results, t: dict) -> dict:
    """Mean with 95% t-interval over replications, and whether it is within the band."""
    if t["kind"] == "cost_order":
        costs = results.flows.set_index("flow")["cost_usd_per_teu"]
        values = [float(costs[f]) for f in t["flows"]]
        return {"mean": math.nan, "ci95_low": math.nan, "ci95_high": math.nan,
                "text": " < ".join(f"{v:,.0f}" for v in values),
                "met": bool(all(a < b for a, b in zip(values, values[1:])))}
    mean, lo, hi = t_interval(per_replication(results, t))
    low, high = t["tolerance"]
    ci = f" [{lo:.4g}, {hi:.4g}]" if not math.isnan(lo) else ""
    return {"mean": mean, "ci95_low": lo, "ci95_high": hi, "text": f"{mean:.4g}{ci}",
            "met": bool(not math.isnan(mean) and low <= mean <= high)}


def fit_table(before: Results, after: Results, targets: list[dict]) -> pd.DataFrame:
    """One row per target: use, band, before and after mean with 95% CI, met before and after."""
    rows = []
    for t in targets:
        b, a = _row(before, t), _row(after, t)
        unit = {"transit": "days", "throughput": "kt/yr", "cost_order": "USD/TEU"}[t["kind"]]
        band = "same order" if t["kind"] == "cost_order" else f"{t['tolerance'][0]:g}-{t['tolerance'][1]:g}"
        stat = t.get("statistic", "median") if t["kind"] == "transit" else ""
        rows.append({"id": t["id"], "target": t.get("description", ""), "use": t["use"], "unit": unit,
                     "statistic": stat, "published": str(t.get("published", " < ".join(t.get("flows", [])))),
                     "band": band,
                     "before_mean": b["mean"], "before_ci95_low": b["ci95_low"], "before_ci95_high": b["ci95_high"],
                     "after_mean": a["mean"], "after_ci95_low": a["ci95_low"], "after_ci95_high": a["ci95_high"],
                     "before": b["text"], "after": a["text"], "met_before": b["met"], "met_after": a["met"],
                     "reason": t.get("reason", ""), "source": t.get("source", "")})
    return pd.DataFrame(rows)


# ----------------------------------------------------------------------------------------- the fit


class _Budget(Exception):
    pass


class _Converged(Exception):
    pass


CONVERGED_OBJECTIVE = 1e-6  # every fit target within 0.1% of its half-band: far inside the noise


def fit_calibration(targets_file: str | Path, replications: int | None = None, seed: int | None = None,
                    jobs: int = 1, dask: str | None = None, max_evals: int = DEFAULT_MAX_EVALS) -> FitResult:
    """Fit a targets file's parameters to its `fit` targets and check every target before and after.

    Args:
        targets_file: the targets YAML (with `use:` marks and `fit.parameters`).
        replications, seed: of every evaluation (default: the scenario's); the before/after table
            uses seed + 1 with the same replications.
        jobs, dask: as for `run`.
        max_evals: the most simulations (each of all replications) the search may make.

    Returns:
        The fitted values, the before/after table and the search history.

    Raises:
        ScenarioError: the targets file or its parameters are malformed (see `read_fit_spec`).
    """
    spec, base, parameters = read_fit_spec(targets_file)
    targets = spec["targets"]
    n = replications or base.simulation.replications
    seed = base.simulation.seed if seed is None else seed
    keep = _needs_stages(targets)
    history: list[dict] = []
    cache: dict[tuple, float] = {}

    def evaluate(x) -> float:
        x = [float(min(max(v, p.low), p.high)) for v, p in zip(np.atleast_1d(x), parameters)]
        key = tuple(x)
        if key not in cache:
            if len(history) >= max_evals:
                raise _Budget()
            results = run(scenario_at(base, parameters, x), replications=n, seed=seed, jobs=jobs, dask=dask,
                          keep_stages=keep)
            cache[key] = objective(results, targets)
            history.append({"values": dict(zip((p.id for p in parameters), x)), "objective": cache[key]})
            if cache[key] <= CONVERGED_OBJECTIVE:
                raise _Converged()
        return cache[key]

    start = [p.start for p in parameters]
    message = ""
    try:
        evaluate(start)
        if len(parameters) == 1:
            p = parameters[0]
            found = scipy.optimize.minimize_scalar(
                lambda v: evaluate([v]), bounds=(p.low, p.high), method="bounded",
                options={"xatol": 1e-4 * (p.high - p.low), "maxiter": max_evals})
            message = str(found.message) if hasattr(found, "message") else ""
        else:
            # Searched on the unit box, so that one step means the same share of every range.
            def unit(u):
                return evaluate([p.low + ui * (p.high - p.low) for ui, p in zip(u, parameters)])

            u0 = [(p.start - p.low) / (p.high - p.low) for p in parameters]
            found = scipy.optimize.minimize(unit, u0, method="Powell", bounds=[(0.0, 1.0)] * len(parameters),
                                            options={"xtol": 1e-4, "ftol": 1e-6, "maxfev": max_evals})
            message = str(found.message)
    except _Budget:
        message = f"stopped at the limit of {max_evals} evaluations"
    except _Converged:
        message = f"every fit target within {math.sqrt(CONVERGED_OBJECTIVE):.1%} of its half-band"
    best = min(history, key=lambda h: h["objective"])
    fitted = [best["values"][p.id] for p in parameters]
    check_seed = seed + CHECK_SEED_OFFSET
    fitted_scenario = scenario_at(base, parameters, fitted)
    before = run(base, replications=n, seed=check_seed, jobs=jobs, dask=dask, keep_stages=keep)  # as written
    after = run(fitted_scenario, replications=n, seed=check_seed, jobs=jobs, dask=dask, keep_stages=keep)
    values = {t["id"]: (per_replication(before, t), per_replication(after, t)) for t in targets
              if t["kind"] != "cost_order"}
    return FitResult(parameters=parameters, fitted=fitted, table=fit_table(before, after, targets),
                     per_replication=values,
                     objective_start=history[0]["objective"], objective_fitted=best["objective"],
                     evaluations=len(history), history=history, seed=seed, check_seed=check_seed, replications=n,
                     scenario_file=Path(spec["scenario_path"]), fitted_scenario=fitted_scenario, message=message)


# ------------------------------------------------------------------------------------------ outputs


def overlay(base_data: dict, parameters: list[Parameter], fitted: list[float]) -> dict:
    """The scenario keys a child file must write (under `extends`) to set the fitted values.

    Items of id lists are written as {id, changed keys} (merged by id); a list without ids is
    replaced whole by the parent's list with the value changed.
    """
    out: dict = {}
    for p, x in zip(parameters, fitted):
        for steps, value in zip(p.steps, p.values(x)):
            _overlay_set(out, base_data, steps, value)
    return out


def _overlay_set(node_out: Any, node_base: Any, steps: list, value: Any) -> None:
    kind, part = steps[0]
    rest = steps[1:]
    if kind == "key":
        if not rest:
            node_out[part] = value
            return
        child = node_base[part]
        if isinstance(child, list) and not _has_ids(child):
            # Such a list replaces the parent's whole: write the parent's, with the value changed.
            if part not in node_out:
                node_out[part] = copy.deepcopy(child)
            _set(node_out[part], rest, value)
            return
        node_out.setdefault(part, [] if isinstance(child, list) else {})
        _overlay_set(node_out[part], child, rest, value)
        return
    item_base = node_base[part]  # an item of an id list: merged by its id
    item = next((i for i in node_out if i.get("id") == item_base["id"]), None)
    if item is None:
        item = {"id": item_base["id"]}
        node_out.append(item)
    _overlay_set(item, item_base, rest, value)


def _has_ids(items: Any) -> bool:
    return isinstance(items, list) and bool(items) and all(isinstance(i, dict) and "id" in i for i in items)


def format_fit_table(result: FitResult) -> str:
    """The parameters (start, fitted, bounds) and the before/after table, as printed."""
    lines = [f"Fitted on {result.replications} replications, seed {result.seed} (common random numbers), "
             f"{result.evaluations} evaluations: objective {result.objective_start:.4g} -> "
             f"{result.objective_fitted:.4g}"
             + (f" ({result.message})" if result.message else "")]
    lines.append(f"{'parameter':<48} {'start':>10} {'fitted':>10} {'bounds':>18}")
    for p, x in zip(result.parameters, result.fitted):
        name = p.id + (" (x scale)" if p.scale else "")
        lines.append(f"{name[:48]:<48} {p.start:>10.4g} {x:>10.4g} {f'{p.low:g}-{p.high:g}':>18}")
    lines.append("")
    lines.append(f"Targets on fresh random numbers (seed {result.check_seed}): mean over replications [95% CI]")
    head = (f"{'id':<6} {'use':<9} {'published':>10} {'band':>15} {'before mean [CI]':>26} {'after mean [CI]':>26} "
            f"{'met before':>10} {'met after':>9}")
    lines += [head, "-" * len(head)]
    for r in result.table.itertuples():
        order = r.unit == "USD/TEU"  # the flows and their costs do not fit the columns: listed below
        published, before, after = ("see below", "", "") if order else (r.published, r.before, r.after)
        lines.append(f"{str(r.id)[:6]:<6} {r.use:<9} {published[:10]:>10} {r.band[:15]:>15} {before[:26]:>26} "
                     f"{after[:26]:>26} {'yes' if r.met_before else 'NO':>10} {'yes' if r.met_after else 'NO':>9}")
        if order:
            lines.append(f"       published order: {r.published}")
            lines.append(f"       USD/TEU before:  {r.before}; after: {r.after}")
    lines.append("")
    table = result.table
    for use in USES:
        part = table[table["use"] == use]
        if len(part) and use != "dropped":
            lines.append(f"{use}: {int(part['met_after'].sum())} of {len(part)} met after the fit "
                         f"({int(part['met_before'].sum())} before)")
        elif len(part):
            lines.append(f"dropped (shown, not evidence): {', '.join(map(str, part['id']))}")
    missed = table[(table["use"] == "held_out") & ~table["met_after"]]
    if len(missed):
        lines.append(f"held-out targets the fitted model misses: {', '.join(map(str, missed['id']))}")
    return "\n".join(lines)


def fit_document(result: FitResult) -> dict:
    """fit.json: the parameters with their bounds, reasons, start and fitted values, and the search."""
    return {
        "scenario_file": str(result.scenario_file),
        "seed": result.seed, "check_seed": result.check_seed, "replications": result.replications,
        "evaluations": result.evaluations, "message": result.message,
        "objective_start": result.objective_start, "objective_fitted": result.objective_fitted,
        "parameters": [{"id": p.id, "keys": p.keys, "scale": p.scale, "bounds": [p.low, p.high], "reason": p.reason,
                        "start": p.start, "fitted": x,
                        "values": dict(zip(p.keys, p.values(x)))} for p, x in zip(result.parameters, result.fitted)],
        "history": result.history,
    }


def fitted_values_document(result: FitResult) -> dict:
    """fitted_values.yaml: each parameter's fitted value, and the value written at every key."""
    return {"parameters": {p.id: x for p, x in zip(result.parameters, result.fitted)},
            "keys": {k: v for p, x in zip(result.parameters, result.fitted) for k, v in zip(p.keys, p.values(x))}}


def overlay_document(result: FitResult, base: Any, extends: str) -> dict:
    """fitted_scenario.yaml: a scenario that `extends` the original and sets the fitted values."""
    name = f"{base.name} (fitted)"
    return {"extends": extends, "name": name, **overlay(base.data(), result.parameters, result.fitted)}
