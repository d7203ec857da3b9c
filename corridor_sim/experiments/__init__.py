"""Experiments: replications run serially, in local processes or on a Dask cluster.

A replication is a pure function of (scenario, replication index, seed), so the executor never
changes a result: serial, `jobs=N` processes and Dask give the same numbers bit for bit.
"""

from __future__ import annotations

import copy
import difflib
import itertools
import math
import os
import re
import sys
import typing
import warnings
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Callable, Iterable

import numpy as np
import pandas as pd
import yaml
from pydantic import BaseModel
from scipy.special import stdtrit

from corridor_sim.engine.model import ReplicationOutput, run_replication
from corridor_sim.errors import UsageError
from corridor_sim.estimators import slope_per_day
from corridor_sim.results import Results, _json_number, t_interval
from corridor_sim.scenario.schema import Scenario
from corridor_sim.stability import level_series

DASK_ENV = "CORRIDOR_SIM_DASK"


def _task(args: tuple) -> ReplicationOutput:
    scenario, replication, seed, keep_stages, *rest = args
    return run_replication(scenario, replication, seed=seed, keep_stages=keep_stages,
                           summary_only=bool(rest and rest[0]))


class _Progress:
    """A one-line progress counter on stderr, shown only when stderr is a terminal."""

    def __init__(self, total: int, label: str, enabled: bool | None = None):
        self.total, self.label, self.done = total, label, 0
        self.enabled = sys.stderr.isatty() if enabled is None else enabled

    def step(self) -> None:
        self.done += 1
        if self.enabled:
            end = "\n" if self.done == self.total else ""
            print(f"\r{self.label}: {self.done}/{self.total}", end=end, file=sys.stderr, flush=True)


def default_jobs() -> int:
    return max(1, os.cpu_count() or 1)


def require_dask():
    """dask.distributed's Client, if the optional extra is installed.

    Raises:
        UsageError: it is not, with how to install it.
    """
    try:
        from dask.distributed import Client
    except ImportError:
        raise UsageError("--dask (or CORRIDOR_SIM_DASK) needs Dask, which is not installed; "
                         "install it with: pip install 'corridor-sim[dask]'") from None
    return Client


def map_tasks(func: Callable, tasks: list, jobs: int = 1, dask: str | None = None,
              progress: _Progress | None = None) -> list:
    """Apply func to every task, in order: serially, in `jobs` processes, or on a Dask scheduler."""
    dask = dask or os.environ.get(DASK_ENV) or None
    results = []
    if dask:
        Client = require_dask()
        with Client(dask) as client:
            futures = client.map(func, tasks, pure=False)
            for future in futures:
                results.append(future.result())
                if progress:
                    progress.step()
        return results
    if jobs <= 1 or len(tasks) <= 1:
        for task in tasks:
            results.append(func(task))
            if progress:
                progress.step()
        return results
    with ProcessPoolExecutor(max_workers=min(jobs, len(tasks))) as pool:
        try:
            for result in pool.map(func, tasks):
                results.append(result)
                if progress:
                    progress.step()
        except BaseException:
            # Interrupted (Ctrl-C, SIGTERM) or failed: do not wait for the replications still running.
            pool.shutdown(wait=False, cancel_futures=True)
            for process in list(getattr(pool, "_processes", {}).values()):
                process.terminate()
            raise
    return results


def run(scenario: Scenario, replications: int | None = None, seed: int | None = None, jobs: int = 1,
        dask: str | None = None, keep_stages: Iterable[int] | bool = (0,), progress: bool | None = False,
        summary_only: bool = False) -> Results:
    """Run a scenario's replications and gather the results.

    Args:
        scenario: a validated scenario (from `load_scenario`).
        replications: number of replications (default: the scenario's).
        seed: the seed (default: the scenario's).
        jobs: local worker processes (1 = serial).
        dask: address of a Dask scheduler (or set CORRIDOR_SIM_DASK); overrides jobs.
        keep_stages: replications whose per-stage rows are kept (True: all, False: none).
        progress: show a progress counter on a terminal.
        summary_only: stream per-flow statistics instead of per-shipment rows (memory bounded by the
            shipments in flight; percentiles from histograms of 0.02-day bins). Same simulation.

    Returns:
        Results with pandas tables (flows, nodes, services, segments, shipments).
    """
    n = replications or scenario.simulation.replications
    seed = scenario.simulation.seed if seed is None else seed
    if keep_stages is True:
        keep = set(range(n))
    elif keep_stages is False:
        keep = set()
    else:
        keep = set(keep_stages)
    tasks = [(scenario, r, seed, r in keep and not summary_only, summary_only) for r in range(n)]
    outputs = map_tasks(_task, tasks, jobs=jobs, dask=dask,
                        progress=_Progress(n, f"{scenario.name} replications", progress) if progress is not False else None)
    return Results(scenario, seed, outputs)


# ================================================================ experiments built on the runner
#
# Everything below runs whole scenarios through `map_tasks`, so serial, `jobs=N` and Dask give the
# same numbers, and every scenario of one experiment uses the same seed and replication indices:
# common random numbers (see engine/streams.py). Replication r of a base and of a variant draw the
# same arrivals and the same service times wherever the two scenarios share a flow or a facility,
# so their per-replication difference carries little noise and a paired interval is sharp.


def _as_scenario(item) -> Scenario:
    if isinstance(item, Scenario):
        return item
    from corridor_sim.scenario import load_scenario

    return load_scenario(item)


def _run_many(scenarios: list[Scenario], replications: int | None, seeds: list[int], jobs: int, dask: str | None,
              label: str, progress: bool | None) -> list[Results]:
    """Run several scenarios' replications as one batch of tasks (so workers stay busy); in order."""
    counts = [replications or s.simulation.replications for s in scenarios]
    tasks = [(s, r, seed, False) for s, n, seed in zip(scenarios, counts, seeds) for r in range(n)]
    bar = _Progress(len(tasks), label, progress) if progress is not False else None
    outputs = map_tasks(_task, tasks, jobs=jobs, dask=dask, progress=bar)
    results, start = [], 0
    for s, n, seed in zip(scenarios, counts, seeds):
        results.append(Results(s, seed, outputs[start:start + n]))
        start += n
    return results


# ---------------------------------------------------------------------------------------- warm-up


def welch_curve(results: Results, flow: str, bin_days: float = 1.0, window: int | None = None) -> pd.DataFrame:
    """Welch's moving average of transit times by creation time, for one flow.

    Shipments (all of them, warm-up included) are put in bins of `bin_days` by creation time; each
    replication's mean transit per bin is averaged across replications (Welch's Y_i), then smoothed
    with a centred moving average of half-width `window` bins (Welch's w; near the start the window
    shrinks to fit). Bins late in the horizon, where fewer than 95% of the shipments were delivered
    by the end (so the delivered ones are the quick ones), are cut off (`usable` False).

    Returns:
        DataFrame with time_days (bin start), mean_transit_days, smoothed, delivered_fraction, usable.
    """
    check_flow(results.scenario, flow)
    ship = results.shipments[results.shipments["flow"] == flow]
    nbins = max(1, int(math.floor(results.horizon_days / bin_days + 1e-9)))
    sums = np.zeros((results.replications, nbins))
    counts = np.zeros((results.replications, nbins))
    created = np.zeros(nbins)
    for i, out in enumerate(results.outputs):
        mine = ship[ship["replication"] == out.replication]
        b = np.minimum((mine["created_h"].to_numpy() / 24.0 / bin_days).astype(int), nbins - 1)
        created += np.bincount(b, minlength=nbins)
        done = mine["delivered_h"].notna().to_numpy()
        sums[i] = np.bincount(b[done], weights=mine["transit_days"].to_numpy()[done], minlength=nbins)
        counts[i] = np.bincount(b[done], minlength=nbins)
    with np.errstate(invalid="ignore", divide="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        y = np.nanmean(np.where(counts > 0, sums / np.where(counts > 0, counts, 1), np.nan), axis=0)
        delivered = np.where(created > 0, counts.sum(axis=0) / np.where(created > 0, created, 1), np.nan)
    short = np.flatnonzero(delivered < 0.95)
    m = int(short[0]) if len(short) else nbins
    w = window if window is not None else max(1, round(m / 30))
    smoothed = np.full(nbins, np.nan)
    for i in range(max(0, m - w)):
        half = min(i, w)
        part = y[i - half: i + half + 1]
        if np.any(~np.isnan(part)):
            smoothed[i] = np.nanmean(part)
    return pd.DataFrame({"time_days": np.arange(nbins) * bin_days, "mean_transit_days": y, "smoothed": smoothed,
                         "delivered_fraction": delivered, "usable": np.arange(nbins) < m})


def suggest_warmup_days(results: Results, flow: str | None = None, bin_days: float = 1.0,
                        window: int | None = None) -> float:
    """A warm-up suggested by Welch's moving-average method on transit times by creation time.

    For each flow (or the one given) the smoothed Welch curve (see `welch_curve`) is compared with
    its steady level L, the mean of the per-bin averages over the second half of the usable
    horizon. The warm-up ends at the first bin where the curve, coming from the side it started
    on, is within two standard deviations (of the smoothed curve over that second half) of L: it
    has come down from an initial backlog, or up from an empty system. Because the curve is a
    centred average, the answer errs late by up to about w bins, the safe side. With no flow
    given, the longest warm-up over all flows is returned. Run the scenario with a horizon at
    least twice the expected warm-up (the steady level is taken from the second half) and several
    replications.

    Args:
        results: a run, ideally with `warmup_days: 0` (every shipment is used either way).
        flow: a flow id, or None for the longest over all flows.
        bin_days: width of the creation-time bins.
        window: Welch's half-width w in bins (default: about a thirtieth of the usable bins).

    Returns:
        Days of warm-up to discard (a multiple of bin_days); NaN if fewer than 10 usable bins.
    """
    flows = [flow] if flow is not None else [f.id for f in results.scenario.demand]
    best = math.nan
    for fid in flows:
        curve = welch_curve(results, fid, bin_days=bin_days, window=window)
        usable = curve[curve["usable"]]
        m = len(usable)
        if m < 10:
            continue
        y = usable["mean_transit_days"].to_numpy()
        s = usable["smoothed"].to_numpy()
        level = float(np.nanmean(y[m // 2:]))
        tail = s[m // 2:]
        tail = tail[~np.isnan(tail)]
        tol = 2.0 * float(np.std(tail)) if len(tail) > 1 else 0.0
        valid = np.flatnonzero(~np.isnan(s))
        if not len(valid):
            continue
        side = np.sign(s[valid[0]] - level)
        hits = [i for i in valid if side * (s[i] - level) <= tol]
        days = float(hits[0] * bin_days) if hits else float(m * bin_days)
        best = days if math.isnan(best) else max(best, days)
    return best


# ---------------------------------------------------------------------------------------- compare

COMPARE_METRICS = {"transit_days": "transit_days_mean", "throughput_teu_per_day": "throughput_teu_per_day"}


def _welch_interval(x: np.ndarray, y: np.ndarray, level: float = 0.95) -> tuple[float, float]:
    """Unpaired (Welch) interval for mean(y) - mean(x)."""
    if len(x) < 2 or len(y) < 2:
        return math.nan, math.nan
    diff = float(y.mean() - x.mean())
    vx, vy = x.var(ddof=1) / len(x), y.var(ddof=1) / len(y)
    se = math.sqrt(vx + vy)
    if se == 0:
        return diff, diff
    df = (vx + vy) ** 2 / (vx**2 / (len(x) - 1) + vy**2 / (len(y) - 1))
    half = float(stdtrit(df, 0.5 + level / 2) * se)
    return diff - half, diff + half


def _unique_names(scenarios: list[Scenario]) -> list[str]:
    names, seen = [], {}
    for s in scenarios:
        seen[s.name] = seen.get(s.name, 0) + 1
        names.append(s.name if seen[s.name] == 1 else f"{s.name} #{seen[s.name]}")
    return names


def compare_results(base: Results, variants: list[Results], names: list[str] | None = None) -> pd.DataFrame:
    """Paired differences (variant minus base) of per-flow KPIs between runs made with common random numbers.

    For every flow present in both runs and each metric (mean transit days of delivered measured
    shipments; throughput in TEU per day), replication r of the variant is paired with replication
    r of the base: the mean difference has a Student-t interval over the per-replication
    differences (paired, `ci95`) beside Welch's interval for two independent samples
    (`ci95_unpaired`), which ignores the pairing. A difference is significant when its paired 95%
    interval excludes 0; the flow-level `significant` of the JSON refers to transit time.

    Returns:
        One row per variant, flow and metric; `df.attrs["json"]` holds the compare.json document.
    """
    names = names or _unique_names([base.scenario, *(v.scenario for v in variants)])
    base_name, variant_names = names[0], names[1:]
    rows = []
    doc = {"base": base_name, "seed": base.seed, "replications": base.replications, "common_random_numbers": True,
           "difference": "variant minus base", "variants": {}}
    b_by = base.flows_by_replication
    for name, var in zip(variant_names, variants):
        v_by = var.flows_by_replication
        base_flows = [f.id for f in base.scenario.demand]
        var_flows = {f.id for f in var.scenario.demand}
        common = [f for f in base_flows if f in var_flows]
        entry = {"seed": var.seed, "replications": var.replications, "flows": {},
                 "flows_only_in_base": [f for f in base_flows if f not in var_flows],
                 "flows_only_in_variant": [f.id for f in var.scenario.demand if f.id not in set(base_flows)]}
        for flow in common:
            flow_doc = {}
            for metric, column in COMPARE_METRICS.items():
                b = b_by[b_by["flow"] == flow].set_index("replication")[column]
                v = v_by[v_by["flow"] == flow].set_index("replication")[column]
                pairs = pd.concat([b.rename("base"), v.rename("variant")], axis=1, join="inner").dropna()
                d = (pairs["variant"] - pairs["base"]).to_numpy(dtype=float)
                mean, lo, hi = t_interval(d)
                ulo, uhi = _welch_interval(b.dropna().to_numpy(dtype=float), v.dropna().to_numpy(dtype=float))
                significant = bool(not math.isnan(lo) and (lo > 0 or hi < 0))
                rows.append({"variant": name, "flow": flow, "metric": metric,
                             "base_mean": float(b.mean()), "variant_mean": float(v.mean()), "diff_mean": mean,
                             "ci95_low": lo, "ci95_high": hi, "ci95_unpaired_low": ulo, "ci95_unpaired_high": uhi,
                             "significant": significant, "pairs": len(d)})
                flow_doc[f"{metric}_diff"] = {
                    "mean": _json_number(mean), "ci95": [_json_number(lo), _json_number(hi)],
                    "ci95_unpaired": [_json_number(ulo), _json_number(uhi)], "significant": significant,
                    "base_mean": _json_number(float(b.mean())), "variant_mean": _json_number(float(v.mean())),
                    "per_replication": [_json_number(x) for x in d]}
            flow_doc["significant"] = flow_doc["transit_days_diff"]["significant"]
            entry["flows"][flow] = flow_doc
        doc["variants"][name] = entry
    df = pd.DataFrame(rows, columns=["variant", "flow", "metric", "base_mean", "variant_mean", "diff_mean",
                                     "ci95_low", "ci95_high", "ci95_unpaired_low", "ci95_unpaired_high",
                                     "significant", "pairs"])
    df.attrs["json"] = doc
    return df


def run_compare(base, variants, replications: int | None = None, seed: int | None = None, jobs: int = 1,
                dask: str | None = None, progress: bool | None = False) -> tuple[pd.DataFrame, list[Results]]:
    """`compare`, also returning the runs (base first) for writing them out."""
    base = _as_scenario(base)
    if isinstance(variants, (Scenario, str, Path)):
        variants = [variants]
    variants = [_as_scenario(v) for v in variants]
    if not variants:
        raise UsageError("compare needs at least one variant scenario")
    seed = base.simulation.seed if seed is None else seed
    replications = replications or base.simulation.replications
    scenarios = [base, *variants]
    runs = _run_many(scenarios, replications, [seed] * len(scenarios), jobs, dask,
                     f"compare: {len(scenarios)} scenarios", progress)
    return compare_results(runs[0], runs[1:], _unique_names(scenarios)), runs


def compare(base, variants, replications: int | None = None, seed: int | None = None, jobs: int = 1,
            dask: str | None = None, progress: bool | None = False) -> pd.DataFrame:
    """Run a base scenario and variants with common random numbers and compare them flow by flow.

    Every scenario runs with the same seed (the base's unless `seed`) and the same replication
    indices (the base's count unless `replications`), so replication r of each sees the same random
    numbers wherever they share a flow or facility; see `compare_results` for the statistics.

    Args:
        base: the base scenario (a Scenario or a path).
        variants: one variant or a list of them (Scenarios or paths).
        replications, seed, jobs, dask, progress: as for `run`.

    Returns:
        One row per variant x flow x metric (transit_days, throughput_teu_per_day) with the base and
        variant means, the difference's mean, paired `ci95_low/high`, unpaired (Welch)
        `ci95_unpaired_low/high` and `significant`. `df.attrs["json"]` is the compare.json document:
        {"base": NAME, "variants": {NAME: {"flows": {FLOW: {"transit_days_diff": {"mean", "ci95",
        "ci95_unpaired", ...}, "throughput_teu_per_day_diff": {...}, "significant": bool}}}}}.
    """
    return run_compare(base, variants, replications, seed, jobs, dask, progress)[0]


def _fmt_ci(lo: float, hi: float, digits: int) -> str:
    if math.isnan(lo):
        return "-"
    return f"[{lo:+.{digits}f}, {hi:+.{digits}f}]"


def format_compare(df: pd.DataFrame) -> str:
    """The table printed by `corridor-sim compare`."""
    doc = df.attrs.get("json", {})
    lines = [f"Base: {doc.get('base', '?')}  ({doc.get('replications', '?')} replications, "
             f"seed {doc.get('seed', '?')}, common random numbers)",
             "Differences are variant minus base; paired 95% CI over per-replication differences, unpaired = Welch.",
             "* = significant (paired CI excludes 0)"]
    labels = {"transit_days": "transit days", "throughput_teu_per_day": "TEU/day"}
    for name, entry in doc.get("variants", {}).items():
        lines += ["", f"Variant: {name}"]
        head = (f"{'flow':<20} {'metric':<13} {'base':>8} {'variant':>8} {'diff':>8}  {'paired 95% CI':<20} "
                f"{'unpaired 95% CI':<20}")
        lines += [head, "-" * len(head)]
        for r in df[df["variant"] == name].itertuples():
            digits = 2 if r.metric == "transit_days" else 1
            star = " *" if r.significant else ""
            lines.append(f"{r.flow:<20} {labels.get(r.metric, r.metric):<13} {r.base_mean:8.{digits}f} "
                         f"{r.variant_mean:8.{digits}f} {r.diff_mean:+8.{digits + 1}f}  "
                         f"{_fmt_ci(r.ci95_low, r.ci95_high, digits + 1):<20} "
                         f"{_fmt_ci(r.ci95_unpaired_low, r.ci95_unpaired_high, digits + 1):<20}{star}")
        for key, text in (("flows_only_in_base", "only in base"), ("flows_only_in_variant", "only in variant")):
            if entry.get(key):
                lines.append(f"(flows {text}, not compared: {', '.join(entry[key])})")
    return "\n".join(lines)


# ------------------------------------------------------------------------------------------ sweep

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


# --------------------------------------------------------------------------------------- capacity


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


def check_flow(scenario: Scenario, flow_id: str) -> None:
    """Raise a UsageError naming `flow_id` (with a did-you-mean) unless the scenario has that flow."""
    ids = [f.id for f in scenario.demand]
    if flow_id not in ids:
        close = difflib.get_close_matches(flow_id, ids, n=1, cutoff=0.5)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        raise UsageError(f"unknown flow '{flow_id}'{hint}; flows: {', '.join(ids) or 'none'}")


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
