"""Compare: a base scenario and variants run with common random numbers, differenced flow by flow.

Replication r of a variant is paired with replication r of the base; the paired Student-t
interval of the differences is reported beside Welch's unpaired interval.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.special import stdtrit

from corridor_sim.errors import UsageError
from corridor_sim.results import Results, _json_number, t_interval
from corridor_sim.scenario.schema import Scenario
from corridor_sim.experiments.replications import _as_scenario, _run_many


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
