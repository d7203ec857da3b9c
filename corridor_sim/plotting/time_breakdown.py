"""Where the time goes: stacked bars of travel, waiting, handling, border and queueing per flow.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np
from matplotlib.figure import Figure

from corridor_sim.plotting.style import CATEGORY_COLORS, CATEGORY_LABELS, CATEGORY_ORDER, _figure
from corridor_sim.plotting.common import _as_list, _check_flows, _labels


def plot_time_breakdown(results, flows: Sequence[str] | None = None, labels: Sequence[str] | None = None) -> Figure:
    """Where the time goes: stacked bars per flow of travel, waiting, handling, border and queueing.

    Mean days per delivered measured shipment (the flows table's *_days columns); several results
    are drawn as panels side by side with the same flows.

    Args:
        results: a Results or results folder, or a list of them.
        flows: flow ids (default: all flows of the first).
        labels: names of the results.
    """
    runs = _as_list(results)
    names = _labels(runs, labels)
    flows = _check_flows(runs[0], flows) if flows is not None else [str(f) for f in runs[0].flows["flow"]]
    fig = _figure(max(7.0, 5.2 * len(runs)) + 1.5, 0.36 * len(flows) + 2.2)
    axes = fig.subplots(1, len(runs), squeeze=False, sharey=True, sharex=True)[0]
    ypos = np.arange(len(flows))[::-1]
    longest = 0.0
    for ax, res, name in zip(axes, runs, names):
        table = res.flows.assign(flow=res.flows["flow"].astype(str)).set_index("flow")
        left = np.zeros(len(flows))
        for c in CATEGORY_ORDER:
            col = f"{c}_days"
            vals = np.array([float(table.at[f, col]) if f in table.index else np.nan for f in flows])
            vals = np.nan_to_num(vals)
            ax.barh(ypos, vals, left=left, color=CATEGORY_COLORS[c], label=CATEGORY_LABELS[c], height=0.7,
                    edgecolor="white", linewidth=0.5)
            left += vals
        for y, total, f in zip(ypos, left, flows):
            mean = float(table.at[f, "transit_days_mean"]) if f in table.index else math.nan
            ax.text(total, y, f" {total:.1f}", va="center", fontsize=7.5)
            if math.isnan(mean):
                ax.text(0.2, y, "no delivered shipments", va="center", fontsize=7.5, color="#555555")
        ax.set_yticks(ypos, flows, fontsize=8)
        ax.set_xlabel("mean days per delivered shipment")
        ax.set_title(name, fontsize=10)
        ax.grid(True, axis="x", alpha=0.3)
        longest = max(longest, float(left.max()) if len(left) else 0.0)
    axes[0].set_xlim(0, longest * 1.1 or 1.0)
    handles, lbls = axes[0].get_legend_handles_labels()
    fig.legend(handles, lbls, loc="outside lower center", ncol=5, fontsize=8, frameon=False)
    fig.suptitle("Where the time goes: mean days per shipment by activity", fontsize=12)
    return fig
