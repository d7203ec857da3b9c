"""Facility figures: utilisation of facilities, services and segment paths, and queues over time.

Utilisation bars carry 95% CIs over replications and are coloured green, amber and red at 0.7
and 0.85; queue lengths are daily samples with the warm-up and disruption windows shaded.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from corridor_sim.results_dir import NotApplicable
from corridor_sim.plotting.style import _figure
from corridor_sim.plotting.common import _as_results, _disruption_windows, _name, _truthy


def _util_color(u: float) -> str:
    if math.isnan(u):
        return "#bbbbbb"
    return "#d7301f" if u >= 0.85 else ("#f2b134" if u >= 0.7 else "#4daf4a")


def _unstable_mark(row) -> str:
    return " UNSTABLE" if hasattr(row, "stable") and not _truthy(row.stable) else ""


def plot_utilisation(results, max_bars: int = 25) -> Figure:
    """Facility, service and segment-path utilisation as horizontal bars, busiest first.

    Facilities: busy servers / servers (mean with its 95% CI over replications); services: mean load
    factor per departure (TEU on board / capacity); segment paths: share of path slots used. Bars
    are green below 0.7, amber to 0.85, red above.

    Args:
        results: a Results or results folder.
        max_bars: at most this many bars per panel (the busiest).
    """
    res = _as_results(results)
    panels = []
    nodes = res.nodes.sort_values("utilization", ascending=False).head(max_bars)
    if len(nodes):
        err = None
        if "utilization_ci95_low" in nodes:
            lo = (nodes["utilization"] - nodes["utilization_ci95_low"]).clip(lower=0).fillna(0).to_numpy()
            hi = (nodes["utilization_ci95_high"] - nodes["utilization"]).clip(lower=0).fillna(0).to_numpy()
            err = np.vstack([lo, hi])
        labels = [f"{r.node} ({int(r.servers)} servers){_unstable_mark(r)}" for r in nodes.itertuples()]
        panels.append(("Facilities: busy servers / servers open (error bars: 95% CI)", labels,
                       nodes["utilization"].to_numpy(dtype=float), err))
    services = res.services.sort_values("mean_load_factor", ascending=False).head(max_bars)
    if len(services):
        labels = [f"{r.service} ({r.mode}, {r.capacity_teu:g} TEU){_unstable_mark(r)}" for r in services.itertuples()]
        panels.append(("Services: mean load factor per departure", labels,
                       services["mean_load_factor"].to_numpy(dtype=float), None))
    segments = res.segments.sort_values("utilization", ascending=False).head(max_bars)
    if len(segments):
        labels = [f"{r.gate} ({r.capacity_per_day:g}/day){_unstable_mark(r)}" for r in segments.itertuples()]
        panels.append(("Segment paths: share of path slots used", labels,
                       segments["utilization"].to_numpy(dtype=float), None))
    if not panels:
        raise NotApplicable("no facilities, services or segment paths")
    heights = [len(p[1]) + 2 for p in panels]
    fig = _figure(9.5, 0.28 * sum(heights) + 1.2)
    axes = fig.subplots(len(panels), 1, squeeze=False, height_ratios=heights)[:, 0]
    top = max(1.05, max(float(np.nanmax(np.append(p[2], 0))) for p in panels) * 1.08)
    for ax, (title, labels, values, err) in zip(axes, panels):
        y = np.arange(len(labels))[::-1]
        vals = np.nan_to_num(values)
        ax.barh(y, vals, color=[_util_color(v) for v in values], height=0.7, xerr=err,
                error_kw={"ecolor": "#333333", "elinewidth": 0.8, "capsize": 2})
        ends = vals + (err[1] if err is not None else 0)
        for yy, v, e in zip(y, values, ends):
            ax.text(min(e, top) if not math.isnan(v) else 0, yy, f" {v:.2f}" if not math.isnan(v) else " n/a",
                    va="center", fontsize=7)
        ax.set_yticks(y, labels, fontsize=7.5)
        ax.set_xlim(0, top)
        ax.axvline(0.85, color="#d7301f", linestyle=":", linewidth=1)
        ax.axvline(1.0, color="black", linewidth=0.8)
        ax.set_title(title, fontsize=10, loc="left")
        ax.set_xlabel("utilisation (fraction of capacity)")
        ax.grid(True, axis="x", alpha=0.3)
    fig.suptitle(f"{_name(res)}: utilisation (dotted line: 0.85)", fontsize=12)
    return fig


def plot_queues(results, nodes: Sequence[str] | None = None, max_nodes: int = 4) -> Figure:
    """Queue length over simulated time at chosen facilities (daily samples, mean over replications).

    The band spans the replications' minimum to maximum; the warm-up and any disruption window of
    the facility are shaded.

    Args:
        results: a Results or results folder.
        nodes: facility ids (default: the `max_nodes` with the longest mean queue).
    """
    res = _as_results(results)
    q = res.queues()
    if q is None or len(q) == 0:
        raise NotApplicable("no queue samples")
    q = q.assign(node=q["node"].astype(str))
    if nodes is None:
        order = q.groupby("node")["queue"].mean().sort_values(ascending=False)
        nodes = [n for n in order.index[:max_nodes] if order[n] > 0]
        if not nodes:
            raise NotApplicable("no facility ever had a queue")
    else:
        nodes = [str(n) for n in nodes]
        missing = [n for n in nodes if n not in set(q["node"])]
        if missing:
            raise ValueError(f"no queue samples for {', '.join(missing)}")
    scenario = getattr(res, "scenario", None)
    horizon = res.horizon_days or float(q["time_days"].max())
    fig = _figure(10, 2.3 * len(nodes) + 1.0)
    axes = fig.subplots(len(nodes), 1, squeeze=False, sharex=True)[:, 0]
    legend_items = {}
    for ax, node in zip(axes, nodes):
        mine = q[q["node"] == node]
        by_t = mine.groupby("time_days")["queue"]
        t = by_t.mean().index.to_numpy()
        ax.plot(t, by_t.mean().to_numpy(), color="#1b4f8a", linewidth=1.5)
        if mine["replication"].nunique() > 1:
            ax.fill_between(t, by_t.min().to_numpy(), by_t.max().to_numpy(), color="#1b4f8a", alpha=0.18, linewidth=0)
        if res.warmup_days > 0:
            legend_items["warm-up (not measured)"] = ax.axvspan(0, res.warmup_days, color="#cccccc", alpha=0.35,
                                                               linewidth=0)
        for a, b, factor in _disruption_windows(scenario, node, horizon):
            legend_items["disruption window of this facility"] = ax.axvspan(a, b, color="#d7301f", alpha=0.12,
                                                                           linewidth=0)
        label = node
        if scenario is not None:
            n = next((x for x in scenario.network.nodes if x.id == node), None)
            if n is not None and n.name:
                label = f"{n.name} ({node})"
        ax.set_title(f"{label}", fontsize=10, loc="left")
        ax.set_ylabel("in queue\n(shipments or vehicles)", fontsize=8.5)
        ax.grid(True, alpha=0.3)
        ax.set_ylim(bottom=0)
    axes[-1].set_xlabel("simulated time (days)")
    axes[-1].set_xlim(0, horizon)
    handles = [Line2D([], [], color="#1b4f8a", lw=1.5, label="mean over replications")]
    if q["replication"].nunique() > 1:
        handles.append(Patch(color="#1b4f8a", alpha=0.25, label="min-max over replications"))
    for lbl, artist in legend_items.items():
        handles.append(Patch(color=artist.get_facecolor(), label=lbl))
    fig.legend(handles=handles, loc="outside lower center", ncol=len(handles), fontsize=8, frameon=False)
    fig.suptitle(f"{_name(res)}: queue length at the busiest facilities (sampled daily)", fontsize=12)
    return fig
