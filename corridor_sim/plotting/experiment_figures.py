"""Figures of experiments: compare (paired differences), sweep (KPIs against a parameter) and
capacity (throughput and p95 transit against demand).

Each takes the DataFrame the experiment returns, or its results folder, or its CSV file (read
with the JSON document beside it as `df.attrs["json"]`).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from corridor_sim.plotting.style import FLOW_COLORS, SCENARIO_COLORS, _figure


def _read_experiment(obj, name: str) -> pd.DataFrame:
    """A DataFrame as given, or read from an experiment folder (NAME.csv with NAME.json as attrs)."""
    if isinstance(obj, pd.DataFrame):
        return obj
    path = Path(obj)
    csv = path / f"{name}.csv" if path.is_dir() else path
    if not csv.is_file():
        raise FileNotFoundError(f"no {name}.csv in {path}")
    df = pd.read_csv(csv)
    doc = csv.with_suffix(".json")
    if doc.is_file():
        df.attrs["json"] = json.loads(doc.read_text())
    return df


def plot_comparison(compare_df, flows: Sequence[str] | None = None, max_flows: int = 30) -> Figure:
    """Differences between variants and a base per flow, with their paired 95% confidence intervals.

    Expects the DataFrame of `corridor_sim.compare` (or a compare folder / compare.csv): columns
    `variant`, `flow`, `metric` ("transit_days", "throughput_teu_per_day"), `diff_mean`,
    `ci95_low`, `ci95_high`, optionally `significant` and `base_mean`. One panel per metric; a
    filled marker is significant (its CI excludes 0), a hollow one is not.

    Args:
        compare_df: the compare DataFrame, a compare results folder or compare.csv.
        flows: flow ids (default: all, at most `max_flows` with the largest transit differences).
    """
    df = _read_experiment(compare_df, "compare").copy()
    need = {"variant", "flow", "metric", "diff_mean", "ci95_low", "ci95_high"}
    if missing := need - set(df.columns):
        raise ValueError(f"comparison table lacks columns {sorted(missing)}")
    df["flow"] = df["flow"].astype(str)
    if "significant" not in df:
        df["significant"] = (df["ci95_low"] > 0) | (df["ci95_high"] < 0)
    df["significant"] = df["significant"].astype(str).str.lower().isin(["true", "1"])
    if flows is None:
        t = df[df["metric"] == df["metric"].iloc[0]]
        size = t.groupby("flow", sort=False)["diff_mean"].apply(lambda s: np.nanmax(np.abs(s.to_numpy())))
        keep = set(size.sort_values(ascending=False).index[:max_flows])
        flows = [f for f in dict.fromkeys(df["flow"]) if f in keep]
    else:
        flows = [str(f) for f in flows]
    metrics = list(dict.fromkeys(df["metric"]))
    variants = list(dict.fromkeys(df["variant"]))
    metric_labels = {"transit_days": "mean transit time (days)", "throughput_teu_per_day": "throughput (TEU/day)"}
    metric_titles = {"transit_days": "Mean transit time (days)", "throughput_teu_per_day": "Throughput (TEU/day)"}
    fig = _figure(5.2 * len(metrics) + 1.5, 0.32 * len(flows) * max(1, len(variants) * 0.7) + 2.6)
    axes = fig.subplots(1, len(metrics), squeeze=False, sharey=True)[0]
    y_base = np.arange(len(flows))[::-1].astype(float)
    offsets = (np.arange(len(variants)) - (len(variants) - 1) / 2) * (0.6 / max(len(variants), 1))
    for ax, metric in zip(axes, metrics):
        sub = df[df["metric"] == metric].set_index(["variant", "flow"])
        for v_i, variant in enumerate(variants):
            color = SCENARIO_COLORS[(v_i + 1) % len(SCENARIO_COLORS)]
            for f_i, flow in enumerate(flows):
                if (variant, flow) not in sub.index:
                    continue
                r = sub.loc[(variant, flow)]
                y = y_base[f_i] + offsets[v_i]
                lo, hi, m = float(r["ci95_low"]), float(r["ci95_high"]), float(r["diff_mean"])
                if not (math.isnan(lo) or math.isnan(hi)):
                    ax.errorbar(m, y, xerr=[[max(m - lo, 0)], [max(hi - m, 0)]], color=color, capsize=3,
                                elinewidth=1.2, fmt="none")
                ax.plot(m, y, marker="o", markersize=6, color=color,
                        markerfacecolor=color if bool(r["significant"]) else "white", linestyle="none")
        ax.axvline(0, color="black", linewidth=0.8)
        ax.set_yticks(y_base, flows, fontsize=8)
        ax.set_xlabel(f"difference in {metric_labels.get(metric, metric)}\n(variant minus base)")
        ax.set_title(metric_titles.get(metric, metric), fontsize=10)
        ax.set_ylim(-0.7, len(flows) - 0.3)
        ax.grid(True, axis="x", alpha=0.3)
    doc = df.attrs.get("json", {})
    base = doc.get("base", "base")
    handles = [Line2D([], [], marker="o", color=SCENARIO_COLORS[(i + 1) % len(SCENARIO_COLORS)], linestyle="-",
                      label=f"{v} minus {base}") for i, v in enumerate(variants)]
    handles += [Line2D([], [], marker="o", color="#555555", linestyle="none", label="significant (95% CI excludes 0)"),
                Line2D([], [], marker="o", color="#555555", markerfacecolor="white", linestyle="none",
                       label="not significant")]
    fig.legend(handles=handles, loc="outside lower center", ncol=min(len(handles), 3), fontsize=8, frameon=False)
    reps = doc.get("replications")
    extra = f", {reps} paired replications" if reps else ""
    fig.suptitle(f"Variant against base per flow: mean difference with paired 95% CI{extra}", fontsize=12)
    return fig


SWEEP_COLUMNS = {"point", "flow", "demand_teu_per_day", "transit_days_mean", "transit_days_ci95_low",
                 "transit_days_ci95_high", "transit_days_p50", "transit_days_p95", "throughput_teu_per_day",
                 "throughput_ci95_low", "throughput_ci95_high", "in_transit", "busiest", "busiest_utilization"}


def plot_sweep(sweep_df, param: str | None = None, flows: Sequence[str] | None = None, max_flows: int = 5) -> Figure:
    """KPIs against a swept parameter: mean transit (95% band, p95 dotted) and throughput (95% band).

    Expects the DataFrame of `corridor_sim.sweep` (or a sweep folder / sweep.csv): one row per point
    and flow with `point`, one column per swept key, `flow`, `transit_days_mean`,
    `transit_days_ci95_low/high`, `transit_days_p95`, `throughput_teu_per_day` and
    `throughput_ci95_low/high`. With several swept keys, `param` is the x axis and each combination of
    the others is its own line.

    Args:
        sweep_df: the sweep DataFrame, a sweep results folder or sweep.csv.
        param: the swept key on the x axis (default: the first).
        flows: flow ids (default: the `max_flows` whose mean transit changes most across the sweep).
    """
    df = _read_experiment(sweep_df, "sweep").copy()
    df["flow"] = df["flow"].astype(str)
    keys = df.attrs.get("json", {}).get("keys") or [c for c in df.columns if c not in SWEEP_COLUMNS]
    if not keys:
        raise ValueError("cannot tell the swept parameter: no key columns in the sweep table")
    param = param or keys[0]
    if param not in df.columns:
        raise ValueError(f"{param!r} is not a swept key; keys: {', '.join(keys)}")
    others = [k for k in keys if k != param]
    if flows is None:
        spread = df.groupby("flow", sort=False)["transit_days_mean"].agg(lambda s: np.nanmax(s) - np.nanmin(s)
                                                                          if s.notna().any() else 0.0)
        keep = set(spread.sort_values(ascending=False).index[:max_flows])
        flows = [f for f in dict.fromkeys(df["flow"]) if f in keep]
    else:
        flows = [str(f) for f in flows]
    numeric = pd.api.types.is_numeric_dtype(df[param])
    values = list(dict.fromkeys(df[param]))
    if numeric:
        values = sorted(values)
    xpos = {v: (float(v) if numeric else i) for i, v in enumerate(values)}
    fig = _figure(12, 4.8)
    ax_t, ax_q = fig.subplots(1, 2)
    line_i = 0
    for flow in flows:
        sub = df[df["flow"] == flow]
        groups = sub.groupby(others, sort=False) if others else [((), sub)]
        for gkey, g in groups:
            g = g.assign(_x=g[param].map(xpos)).sort_values("_x")
            color = FLOW_COLORS[line_i % len(FLOW_COLORS)]
            line_i += 1
            gkey = gkey if isinstance(gkey, tuple) else (gkey,)
            suffix = (" (" + ", ".join(f"{k.split('.')[-1]}={v}" for k, v in zip(others, gkey)) + ")") if others else ""
            ax_t.plot(g["_x"], g["transit_days_mean"], marker="o", color=color, label=f"{flow}{suffix}")
            ax_t.fill_between(g["_x"], g["transit_days_ci95_low"], g["transit_days_ci95_high"], color=color,
                              alpha=0.18, linewidth=0)
            if "transit_days_p95" in g:
                ax_t.plot(g["_x"], g["transit_days_p95"], linestyle=":", color=color, linewidth=1.2)
            ax_q.plot(g["_x"], g["throughput_teu_per_day"], marker="o", color=color, label=f"{flow}{suffix}")
            ax_q.fill_between(g["_x"], g["throughput_ci95_low"], g["throughput_ci95_high"], color=color, alpha=0.18,
                              linewidth=0)
            if "demand_teu_per_day" in g:
                ax_q.plot(g["_x"], g["demand_teu_per_day"], linestyle="--", color=color, linewidth=1)
    for ax in (ax_t, ax_q):
        ax.set_xlabel(param)
        ax.grid(True, alpha=0.3)
        if not numeric:
            ax.set_xticks(range(len(values)), [str(v) for v in values])
    ax_t.set_ylabel("transit time (days)")
    ax_t.set_title("Mean transit (band: 95% CI; dotted: p95)", fontsize=10)
    ax_q.set_ylabel("throughput (TEU/day)")
    ax_q.set_title("Throughput (band: 95% CI; dashed: demand)", fontsize=10)
    ax_t.set_ylim(bottom=0)
    ax_q.set_ylim(bottom=0)
    handles, labels = ax_t.get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncol=min(len(handles), 4), fontsize=8, frameon=False)
    scenario = df.attrs.get("json", {}).get("scenario")
    fig.suptitle(f"Sweep of {param}" + (f" in {scenario}" if scenario else ""), fontsize=12)
    return fig


def plot_capacity(capacity_df) -> Figure:
    """The capacity curve: delivered throughput and transit time (mean, p95) against demand.

    Expects the DataFrame of `corridor_sim.capacity` (or a capacity folder / capacity.csv): one row
    per demand level tried with `demand_teu_per_day`, `throughput_teu_per_day`, `transit_days_mean`,
    `transit_days_p95` and `feasible`; `df.attrs["json"]` (capacity.json) adds the capacity found,
    the bottleneck and the criteria (p95 limit) when present.

    Args:
        capacity_df: the capacity DataFrame, a capacity results folder or capacity.csv.
    """
    df = _read_experiment(capacity_df, "capacity").copy()
    need = {"demand_teu_per_day", "throughput_teu_per_day", "transit_days_p95"}
    if missing := need - set(df.columns):
        raise ValueError(f"capacity table lacks columns {sorted(missing)}")
    df = df.sort_values("demand_teu_per_day")
    feasible = df["feasible"].astype(str).str.lower().isin(["true", "1"]) if "feasible" in df else pd.Series(True, index=df.index)
    doc = df.attrs.get("json", {})
    fig = _figure(10, 7.2)
    ax_q, ax_t = fig.subplots(2, 1, sharex=True)
    x = df["demand_teu_per_day"].to_numpy(dtype=float)
    top = float(max(x.max(), df["throughput_teu_per_day"].max())) * 1.05
    ax_q.plot([0, top], [0, top], color="#999999", linestyle="--", linewidth=1, label="throughput = demand")
    ax_q.plot(x, df["throughput_teu_per_day"], color="#1b4f8a", linewidth=1.6, label="delivered (TEU/day)")
    ax_t.plot(x, df["transit_days_p95"], color="#d7301f", linewidth=1.6, label="p95 transit")
    if "transit_days_mean" in df:
        ax_t.plot(x, df["transit_days_mean"], color="#1b4f8a", linewidth=1.6, label="mean transit")
    for ax, col, color in ((ax_q, "throughput_teu_per_day", "#1b4f8a"), (ax_t, "transit_days_p95", "#d7301f")):
        ax.scatter(x[feasible.to_numpy()], df.loc[feasible, col], color=color, zorder=3, s=30,
                   label="feasible level" if ax is ax_q else None)
        ax.scatter(x[~feasible.to_numpy()], df.loc[~feasible, col], marker="x", color="black", zorder=3, s=40,
                   label="infeasible level" if ax is ax_q else None)
    cap = doc.get("capacity_teu_per_day")
    if cap is not None:
        for ax in (ax_q, ax_t):
            ax.axvline(cap, color="#2ca02c", linewidth=1.5, linestyle="-.",
                       label=f"capacity {cap:,.1f} TEU/day" if ax is ax_q else None)
    p95 = (doc.get("criteria") or {}).get("p95_days")
    if p95:
        ax_t.axhline(p95, color="#d7301f", linestyle=":", linewidth=1, label=f"p95 limit {p95:g} d")
    ax_q.set_ylabel("throughput (TEU/day)")
    ax_q.set_title("Delivered throughput against demand", fontsize=10, loc="left")
    ax_t.set_ylabel("transit time (days)")
    ax_t.set_xlabel(f"demand of flow {doc.get('flow', '')} (TEU/day)".replace("  ", " "))
    ax_t.set_title("Transit time against demand", fontsize=10, loc="left")
    for ax in (ax_q, ax_t):
        ax.grid(True, alpha=0.3)
        ax.set_xlim(0, top)
        ax.set_ylim(bottom=0)
        ax.legend(fontsize=8, loc="upper left")
    bottleneck = (doc.get("bottleneck") or {}).get("name")
    title = f"Capacity of flow {doc['flow']}" if doc.get("flow") else "Capacity curve"
    if doc.get("scenario"):
        title += f" in {doc['scenario']}"
    if bottleneck:
        title += f"\nbottleneck at capacity: {bottleneck}"
    fig.suptitle(title, fontsize=12)
    return fig
