"""Month by month: transit times of the key flows and utilisation of the busiest facilities.

Seasons (frozen seas, harvest peaks, closures by date) show up here; the figures come from the
`by_month` entries of summary.json.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
from matplotlib.figure import Figure

from corridor_sim.results_dir import NotApplicable
from corridor_sim.plotting.style import SCENARIO_COLORS, _figure
from corridor_sim.plotting.common import _as_results, _check_flows, _flow_flags, _key_flows, _name


def plot_monthly(results, flows: Sequence[str] | None = None, nodes: Sequence[str] | None = None,
                 max_flows: int = 4, max_nodes: int = 5) -> Figure:
    """Month by month: transit days of the key flows (mean, with p95 dotted) by month of creation,
    and the utilisation (of the servers open) of the busiest facilities; seasons show up here.

    Args:
        results: a Results or results folder.
        flows: flow ids (default: the `max_flows` key flows).
        nodes: facility ids (default: the `max_nodes` busiest).
    """
    res = _as_results(results)
    doc = res.summary()
    flows = _check_flows(res, flows) if flows is not None else _key_flows(res, max_flows)
    flow_months = {f: doc["flows"][f].get("by_month", {}) for f in flows}
    if not any(flow_months.values()):
        raise NotApplicable("no monthly figures")
    if nodes is None:
        nodes = list(res.nodes.sort_values("utilization", ascending=False)["node"].head(max_nodes))
    node_months = {n: doc["nodes"][n].get("by_month", {}) for n in nodes if n in doc["nodes"]}
    fig = _figure(11, 7.5)
    ax_t, ax_u = fig.subplots(2, 1, sharex=True)
    keys = sorted({k for m in list(flow_months.values()) + list(node_months.values()) for k in m})
    x = np.arange(len(keys))
    for i, (flow, months) in enumerate(flow_months.items()):
        color = SCENARIO_COLORS[i % len(SCENARIO_COLORS)]
        mean = [(months.get(k) or {}).get("transit_days", {}).get("mean") for k in keys]
        p95 = [(months.get(k) or {}).get("transit_days", {}).get("p95") for k in keys]
        ax_t.plot(x, [np.nan if v is None else v for v in mean], marker="o", color=color,
                  label=f"{flow}: mean{_flow_flags(res, flow)}")
        ax_t.plot(x, [np.nan if v is None else v for v in p95], linestyle=":", color=color, label=f"{flow}: p95")
    ax_t.set_ylabel("transit time (days)")
    ax_t.set_title("Transit time by month of creation (measured shipments, all replications)", fontsize=10,
                   loc="left")
    ax_t.legend(fontsize=7, ncol=2)
    ax_t.grid(True, alpha=0.3)
    for i, (node, months) in enumerate(node_months.items()):
        util = [(months.get(k) or {}).get("utilization") for k in keys]
        ax_u.plot(x, [np.nan if v is None else v for v in util], marker="s",
                  color=SCENARIO_COLORS[i % len(SCENARIO_COLORS)], label=node)
    ax_u.axhline(1.0, color="black", linewidth=0.8)
    ax_u.set_ylabel("utilisation (of servers open)")
    ax_u.set_title("Facility utilisation by month", fontsize=10, loc="left")
    if node_months:
        ax_u.legend(fontsize=7, ncol=3)
    ax_u.grid(True, alpha=0.3)
    ax_u.set_xticks(x, keys, rotation=45, fontsize=8)
    fig.suptitle(f"{_name(res)}: month by month", fontsize=12)
    return fig
