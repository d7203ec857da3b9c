"""Delivered TEU per week per flow over simulated time, against each flow's demand.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np
from matplotlib.figure import Figure

from corridor_sim.results_dir import NotApplicable, ResultsDir
from corridor_sim.plotting.style import FLOW_COLORS, _figure
from corridor_sim.plotting.common import _as_results, _check_flows, _name, _top_flows


def plot_throughput(results, flows: Sequence[str] | None = None, max_flows: int = 6, week_days: float = 7.0) -> Figure:
    """Delivered TEU per week per flow over simulated time, with each flow's demand dashed.

    Counts TEU by delivery week (mean over replications; band min-max over them). A Results object
    holds every shipment, so the line covers the whole horizon; a results folder stores only
    shipments created after the warm-up, so its first weeks after the warm-up miss the deliveries
    of earlier shipments (shaded as ramp-up).

    Args:
        results: a Results or results folder.
        flows: flow ids (default: the `max_flows` with the highest throughput).
        week_days: bin width in days.
    """
    res = _as_results(results)
    ship = res.shipments
    if ship is None or len(ship) == 0:
        raise NotApplicable("no per-shipment rows (the run was written with --no-shipments)")
    flows = _check_flows(res, flows) if flows is not None else _top_flows(res, max_flows)
    horizon = res.horizon_days
    edges = np.arange(0.0, horizon + 1e-9, week_days)
    if edges[-1] < horizon - 1e-9:
        if horizon - edges[-1] < week_days / 2 and len(edges) > 1:
            edges[-1] = horizon  # a short last bin joins the one before
        else:
            edges = np.append(edges, horizon)
    width = np.diff(edges)
    only_measured = isinstance(res, ResultsDir) and res.warmup_days > 0  # a folder keeps no warm-up shipments
    reps = sorted(ship["replication"].unique())
    demand = dict(zip(res.flows["flow"].astype(str), res.flows["demand_teu_per_day"]))
    fig = _figure(11, 5.2)
    ax = fig.add_subplot()
    centers = (edges[:-1] + edges[1:]) / 2
    for i, flow in enumerate(flows):
        color = FLOW_COLORS[i % len(FLOW_COLORS)]
        mine = ship[(ship["flow"] == flow) & ship["delivered_h"].notna()]
        per = np.zeros((len(reps), len(width)))
        for r_i, rep in enumerate(reps):
            d = mine[mine["replication"] == rep]
            per[r_i] = np.histogram(d["delivered_h"].to_numpy() / 24.0, bins=edges, weights=d["teu"].to_numpy())[0]
        per = per / width * week_days
        start = res.warmup_days if only_measured else 0.0
        keep = edges[:-1] >= start - 1e-9
        ax.plot(centers[keep], per.mean(axis=0)[keep], color=color, linewidth=1.8, marker="o", markersize=2.5,
                label=f"{flow} (demand {demand.get(flow, math.nan) * week_days:,.0f} TEU/week)")
        if len(reps) > 1:
            ax.fill_between(centers[keep], per.min(axis=0)[keep], per.max(axis=0)[keep], color=color, alpha=0.15,
                            linewidth=0)
        if flow in demand and not math.isnan(demand[flow]):
            ax.axhline(demand[flow] * week_days, color=color, linestyle="--", linewidth=1, alpha=0.8)
    if res.warmup_days > 0:
        ax.axvspan(0, res.warmup_days, color="#cccccc", alpha=0.35, linewidth=0, label="warm-up (not measured)")
    if only_measured and len(res.flows):
        fill = float(np.nanmax(res.flows.set_index(res.flows["flow"].astype(str)).loc[flows, "transit_days_p90"]))
        if not math.isnan(fill):
            ax.axvspan(res.warmup_days, min(res.warmup_days + fill, horizon), color="#f2b134", alpha=0.12, linewidth=0,
                       label="ramp-up: earlier shipments not stored")
    ax.set_xlim(0, horizon)
    ax.set_ylim(bottom=0)
    ax.set_xlabel("simulated time (days)")
    ax.set_ylabel(f"TEU delivered per {'week' if week_days == 7 else f'{week_days:g} days'}")
    ax.grid(True, alpha=0.3)
    band = "; band: min-max over replications" if len(reps) > 1 else ""
    ax.set_title(f"{_name(res)}: delivered TEU per week by flow (dashed: demand{band})", fontsize=11)
    ax.legend(fontsize=7.5, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0)
    return fig
