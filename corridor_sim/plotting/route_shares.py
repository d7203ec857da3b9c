"""Route shares over time of the flows that choose their route (`choice`).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
from matplotlib.figure import Figure

from corridor_sim.results_dir import NotApplicable
from corridor_sim.plotting.style import SCENARIO_COLORS, _figure
from corridor_sim.plotting.common import _as_results


def plot_route_shares(results, flows: Sequence[str] | None = None, max_flows: int = 4) -> Figure:
    """Route shares over time of the flows that choose (`choice`): for each, the share of its TEU
    on each candidate route by week of creation (mean over replications), stacked, so freight is
    seen to move when a railway opens or a sea freezes.

    Args:
        results: a Results or results folder.
        flows: flow ids (default: the first `max_flows` flows with choice).
    """
    res = _as_results(results)
    doc = res.summary()["flows"]
    chosen = [f for f, d in doc.items() if d.get("route_shares_by_week")]
    if flows is not None:
        chosen = [f for f in flows if f in chosen]
    chosen = chosen[:max_flows]
    if not chosen:
        raise NotApplicable("no flow chooses its route")
    fig = _figure(11, 2.6 + 2.4 * len(chosen))
    axes = np.atleast_1d(fig.subplots(len(chosen), 1, sharex=True))
    for ax, flow in zip(axes, chosen):
        weekly = doc[flow]["route_shares_by_week"]
        days = np.asarray(weekly["week_start_days"], dtype=float)
        labels = list(weekly["shares"])
        shares = np.array([[np.nan if v is None else v for v in weekly["shares"][k]] for k in labels], dtype=float)
        ax.stackplot(days, np.nan_to_num(shares), step="post", labels=labels,
                     colors=[SCENARIO_COLORS[i % len(SCENARIO_COLORS)] for i in range(len(labels))], alpha=0.85)
        ax.set_ylim(0, 1)
        ax.set_ylabel("share of TEU")
        split = ", ".join(f"{m} {v:.0%}" for m, v in doc[flow].get("modal_split", {}).items())
        ax.set_title(f"{flow}: route shares by week of creation (modal split {split}; "
                     f"re-chosen on the way {doc[flow].get('rechosen', 0):.0f} a replication)", fontsize=9, loc="left")
        ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0)
        ax.grid(True, alpha=0.3)
    axes[-1].set_xlabel("simulated time (days; measured shipments by week of creation)")
    return fig
