"""Transit-time distributions per flow: histogram and empirical CDF, scenarios overlaid.

Pooled over every delivered measured shipment of every replication.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
from matplotlib.figure import Figure

from corridor_sim.plotting.style import SCENARIO_COLORS, _figure
from corridor_sim.plotting.common import (_as_list, _check_flows, _flow_flags, _labels, _measured_delivered,
                                          _top_flows)


def plot_transit_distributions(results, flows: Sequence[str] | None = None, labels: Sequence[str] | None = None,
                               max_flows: int = 6, bins: int = 30) -> Figure:
    """Transit-time distributions per flow: histogram (left) and empirical CDF (right), scenarios overlaid.

    Uses every delivered measured shipment of every replication (pooled).

    Args:
        results: a Results or results folder, or a list of them (overlaid, one colour each).
        flows: flow ids (default: the `max_flows` flows with the highest throughput in the first).
        labels: legend names of the results (default: the scenario names).
        max_flows: how many flows by default.
        bins: histogram bins (shared by all scenarios of a flow).
    """
    runs = _as_list(results)
    names = _labels(runs, labels)
    flows = _check_flows(runs[0], flows) if flows is not None else _top_flows(runs[0], max_flows)
    data = [_measured_delivered(r) for r in runs]
    fig = _figure(11, 2.6 * len(flows) + 0.9)
    axes = fig.subplots(len(flows), 2, squeeze=False)
    for row, flow in enumerate(flows):
        ax_h, ax_c = axes[row]
        samples = [d.loc[d["flow"] == flow, "transit_days"].to_numpy(dtype=float) for d in data]
        pooled = np.concatenate([s for s in samples if len(s)]) if any(len(s) for s in samples) else np.zeros(0)
        if len(pooled) == 0:
            for ax in (ax_h, ax_c):
                ax.text(0.5, 0.5, "no delivered shipments", ha="center", va="center", transform=ax.transAxes)
        else:
            lo, hi = np.quantile(pooled, [0.0, 0.995])
            edges = np.linspace(lo, hi if hi > lo else lo + 1, bins + 1)
        for i, (s, name) in enumerate(zip(samples, names)):
            if len(s) == 0:
                continue
            color = SCENARIO_COLORS[i % len(SCENARIO_COLORS)]
            weights = np.full(len(s), 100.0 / len(s))
            ax_h.hist(np.clip(s, edges[0], edges[-1]), bins=edges, weights=weights, histtype="stepfilled", alpha=0.25,
                      color=color)
            ax_h.hist(np.clip(s, edges[0], edges[-1]), bins=edges, weights=weights, histtype="step", linewidth=1.5,
                      color=color, label=f"{name}: mean {s.mean():.1f} d, p95 {np.quantile(s, 0.95):.1f} d (n={len(s):,})")
            x = np.sort(s)
            y = np.arange(1, len(x) + 1) / len(x)
            ax_c.step(x, y, where="post", color=color, linewidth=1.6, label=name)
            ax_c.axvline(np.quantile(s, 0.95), color=color, linestyle=":", linewidth=1)
        ax_h.set_title(f"{flow}: transit time distribution{_flow_flags(runs[0], flow)}", fontsize=10)
        ax_h.set_xlabel("transit time (days; the last bar holds the slowest 0.5%)")
        ax_h.set_ylabel("share of shipments (%)")
        ax_c.set_title(f"{flow}: empirical CDF (dotted: p95)", fontsize=10)
        ax_c.set_xlabel("transit time (days)")
        ax_c.set_ylabel("share delivered within (fraction)")
        ax_c.set_ylim(0, 1.02)
        ax_c.grid(True, alpha=0.3)
        ax_h.grid(True, alpha=0.3)
        if len(pooled):
            ax_h.set_ylim(0, ax_h.get_ylim()[1] * (1.18 + 0.1 * len(runs)))
            ax_h.legend(fontsize=7.5, loc="upper right")
            ax_c.set_xlim(edges[0], edges[-1])
    fig.suptitle("Transit time per flow (delivered shipments created after the warm-up, all replications)",
                 fontsize=12)
    return fig
