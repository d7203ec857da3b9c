"""Time-distance and cost-distance charts (UNESCAP style) along each flow's main route.

A journey is drawn as sloped runs (travel, or segment charges) and vertical steps (time or charges
at a place). The time chart comes from the stage rows of the simulated shipments (median with a
p10-p90 band); the cost chart from the scenario's rates and node charges, adding up as
`results.route_cost` does. Flows joining the same two places can be overlaid on shared axes.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from corridor_sim.network import CorridorNetwork, RideLeg, Route, changes_vehicle
from corridor_sim.results_dir import NotApplicable, route_index as _route_index
from corridor_sim.plotting.style import (CATEGORY_COLORS, CATEGORY_LABELS, MODE_COLORS, MODE_STYLES,
                                         OVERLAY_COLORS, _figure, _place_labels)
from corridor_sim.plotting.common import (_as_list, _check_flows, _flow_ids, _key_flows, _labels, _main_route,
                                          _measured_delivered, _need_scenario)


@dataclass
class _Profile:
    """A flow's journey along its main route: cumulative distance against elapsed time."""

    flow: str
    route: Route
    share: float
    seg_ids: list[str]
    seg_modes: list[str]
    seg_km: np.ndarray
    start_q: np.ndarray  # (3, K) p10/p50/p90 of each segment's start, days since creation
    end_q: np.ndarray    # (3, K)
    total_q: np.ndarray  # (3,)
    gaps: list[list[tuple[str, float]]]  # per gap 0..K: [(category, mean days)] in order of occurrence
    n: int


def _time_profile(res, flow: str) -> _Profile:
    _need_scenario(res)
    st = res.stages()
    if st is None or len(st) == 0:
        raise NotApplicable("no stage rows (the run kept none, or was written with --no-shipments)")
    ship = _measured_delivered(res)
    reps = st["replication"].unique()
    index, route, share = _main_route(res, flow)
    mine = ship[(ship["flow"] == flow) & ship["replication"].isin(reps)]
    mine = mine[mine["route"].astype(str).map(_route_index) == index]
    if len(mine) == 0:
        raise NotApplicable(f"no delivered shipment of {flow} with stage rows")
    segs = [s for leg in route.legs for s in leg.segments]
    seq = np.array([s.id for s in segs], dtype=object)
    K = len(seq)
    keys = mine[["replication", "shipment", "created_h", "delivered_h"]]
    rows = st.merge(keys, on=["replication", "shipment"], how="inner")
    rows = rows.assign(stage=rows["stage"].astype(str), place=rows["place"].astype(str),
                       t0=(rows["start_h"] - rows["created_h"]) / 24.0, t1=(rows["end_h"] - rows["created_h"]) / 24.0)
    rows = rows.sort_values(["replication", "shipment", "start_h", "end_h"], kind="stable")
    is_travel = (rows["stage"] == "travel").to_numpy()
    grp = [rows["replication"].to_numpy(), rows["shipment"].to_numpy()]
    rows["gap"] = pd.Series(is_travel.astype(int), index=rows.index).groupby(grp).cumsum().to_numpy()
    travel = rows[is_travel].copy()
    travel["k"] = travel.groupby(["replication", "shipment"]).cumcount()
    ok_place = (travel["k"].to_numpy() < K) & (travel["place"].to_numpy() == seq[np.minimum(travel["k"].to_numpy(), K - 1)])
    check = travel.assign(ok=ok_place).groupby(["replication", "shipment"]).agg(n=("k", "size"), ok=("ok", "all"))
    good = check[(check["n"] == K) & check["ok"]].index
    if len(good) == 0:
        raise NotApplicable(f"no shipment of {flow} whose stage rows follow its route")
    travel = travel.set_index(["replication", "shipment"]).loc[good].reset_index()
    starts = travel.pivot_table(index=["replication", "shipment"], columns="k", values="t0").to_numpy()
    ends = travel.pivot_table(index=["replication", "shipment"], columns="k", values="t1").to_numpy()
    totals = keys.set_index(["replication", "shipment"]).loc[good]
    total = ((totals["delivered_h"] - totals["created_h"]) / 24.0).to_numpy()
    qs = [0.10, 0.50, 0.90]
    others = rows[~is_travel].copy()
    others = others.set_index(["replication", "shipment"]).loc[lambda d: d.index.isin(good)].reset_index()
    others["dur"] = others["t1"] - others["t0"]
    cat = others["stage"].replace({"dwell": "dwell"})
    others["cat"] = cat
    n = len(good)
    gaps: list[list[tuple[str, float]]] = []
    agg = others.groupby(["gap", "cat"]).agg(total=("dur", "sum"), when=("t0", "mean"))
    for g in range(K + 1):
        if g in agg.index.get_level_values(0):
            part = agg.loc[g].sort_values("when")
            gaps.append([(str(c), float(v) / n) for c, v in part["total"].items() if v > 0])
        else:
            gaps.append([])
    return _Profile(flow=flow, route=route, share=share, seg_ids=list(seq), seg_modes=[s.mode for s in segs],
                    seg_km=np.array([s.length_km for s in segs], dtype=float),
                    start_q=np.quantile(starts, qs, axis=0), end_q=np.quantile(ends, qs, axis=0),
                    total_q=np.quantile(total, qs), gaps=gaps, n=n)


def _short_name(label: str) -> str:
    """A node's name up to its first bracket, comma or slash ("Shahid Rajaee (Bandar Abbas)" -> "Shahid Rajaee")."""
    short = re.split(r" \(|,| / ", label, maxsplit=1)[0].strip()
    return short or label


def _route_node_labels(res, route: Route, seg_km: np.ndarray) -> list[tuple[float, str]]:
    """(cumulative km, short name) of the route's nodes; the id is added where short names repeat."""
    nodes = {n.id: n for n in res.scenario.network.nodes}
    names = [_short_name(nodes[n].label) if n in nodes else n for n in route.nodes]
    counts = {x: names.count(x) for x in names}
    names = [f"{x} ({n})" if counts[x] > 1 and x != n else x for x, n in zip(names, route.nodes)]
    xs = np.concatenate([[0.0], np.cumsum(seg_km)])
    return [(float(x), name) for x, name in zip(xs, names)]


@dataclass
class _Path:
    """One journey drawn on a distance chart: runs (sloped) and stops (vertical) in order."""

    flow: str
    title: str
    legend: str
    pieces: list  # ("run", mode, x0, y0, x1, y1) or ("stop", category, x, y0, y1)
    marks: list   # (x, y, name, importance) per route node
    length_km: float
    top: float
    band: tuple | None = None  # (x, low, high)


def _time_path(res, prof: _Profile) -> _Path:
    xs = np.concatenate([[0.0], np.cumsum(prof.seg_km)])
    K = len(prof.seg_km)
    med_s, med_e = prof.start_q[1], prof.end_q[1]
    pieces, importance, mids = [], [], []
    for g in range(K + 1):
        y0 = 0.0 if g == 0 else med_e[g - 1]
        y1 = med_s[g] if g < K else prof.total_q[1]
        parts = prof.gaps[g]
        tot = sum(v for _, v in parts)
        if y1 > y0:
            y = y0
            for c, v in (parts if tot > 0 else [("dwell", 1.0)]):
                h = (y1 - y0) * v / (tot if tot > 0 else 1.0)
                pieces.append(("stop", c, xs[g], y, y + h))
                y += h
        importance.append(y1 - y0)
        mids.append((y0 + y1) / 2)
        if g < K:
            pieces.append(("run", prof.seg_modes[g], xs[g], med_s[g], xs[g + 1], med_e[g]))
    names = _route_node_labels(res, prof.route, prof.seg_km)
    marks = [(x, y, name, imp) for (x, name), y, imp in zip(names, mids, importance)]
    band_x, band_lo, band_hi = [0.0], [0.0], [0.0]
    for k in range(K):
        band_x += [xs[k], xs[k + 1]]
        band_lo += [prof.start_q[0, k], prof.end_q[0, k]]
        band_hi += [prof.start_q[2, k], prof.end_q[2, k]]
    band_x.append(xs[-1])
    band_lo.append(prof.total_q[0])
    band_hi.append(prof.total_q[2])
    share = f", {prof.share:.0%} of its shipments" if prof.share < 0.995 else ""
    q = prof.total_q
    return _Path(flow=prof.flow,
                 title=f"{prof.flow}: median {q[1]:.1f} d (p10 {q[0]:.1f}, p90 {q[2]:.1f}), "
                       f"{prof.route.length_km:,.0f} km{share}",
                 legend=f"{prof.flow}: median {q[1]:.1f} d (p10-p90 {q[0]:.1f}-{q[2]:.1f}), "
                        f"{prof.route.length_km:,.0f} km",
                 pieces=pieces, marks=marks, length_km=float(xs[-1]), top=float(q[2]),
                 band=(np.array(band_x), np.array(band_lo), np.array(band_hi)))


def _cost_steps(network: CorridorNetwork, route: Route, metric: str) -> list[tuple]:
    """The route's charges in order, as `results.route_cost` adds them up: ("stop", kind, node index,
    amount) where a shipment is handled, ("run", mode, km, amount) for each segment."""
    costs = network.scenario.costs
    steps: list[tuple] = []
    at = 0  # index of the route node the shipment is at

    def node_step(node_id):
        node = network.nodes[node_id]
        h = node.handling
        value = h.cost_usd_per_teu if metric == "usd" else h.co2_kg_per_teu
        steps.append(("stop", "border" if node.kind == "border" else "handling", at, value))

    for i, leg in enumerate(route.legs):
        if network.handles(leg.origin, changes_vehicle(route.legs, i)):
            node_step(leg.origin)
        for j, seg in enumerate(leg.segments):
            if j > 0 and isinstance(leg, RideLeg) and network.handles(leg.nodes[j], False):
                node_step(leg.nodes[j])
            mode = getattr(costs, seg.mode)
            if metric == "usd":
                rate = seg.cost_usd_per_teu_km if seg.cost_usd_per_teu_km is not None else mode.usd_per_teu_km
            else:
                rate = seg.co2_kg_per_teu_km if seg.co2_kg_per_teu_km is not None else mode.co2_kg_per_teu_km
            steps.append(("run", seg.mode, seg.length_km, seg.length_km * rate))
            at += 1
    if network.handles(route.nodes[-1], True):
        node_step(route.nodes[-1])
    return steps


def _cost_path(res, flow: str, metric: str, unit: str) -> _Path:
    _, route, share = _main_route(res, flow)
    steps = _cost_steps(res.network, route, metric)
    seg_km = np.array([s[2] for s in steps if s[0] == "run"], dtype=float)
    xs = np.concatenate([[0.0], np.cumsum(seg_km)])
    charge = np.zeros(len(xs))
    y_at = np.zeros(len(xs))
    pieces, x, y, node = [], 0.0, 0.0, 0
    for step in steps:
        if step[0] == "stop":
            _, kind, node, amount = step
            if amount > 0:
                pieces.append(("stop", kind, x, y, y + amount))
                charge[node] += amount
                y_at[node] = y + amount / 2
                y += amount
        else:
            _, mode, km, amount = step
            y_at[node] = y_at[node] or y
            pieces.append(("run", mode, x, y, x + km, y + amount))
            x += km
            y += amount
            node += 1
            y_at[node] = y
    names = _route_node_labels(res, route, seg_km)
    marks = [(nx, ny, name, imp) for (nx, name), ny, imp in zip(names, y_at, charge)]
    share_txt = f", {share:.0%} of its shipments" if share < 0.995 else ""
    return _Path(flow=flow, title=f"{flow}: {y:,.0f} {unit}, {x:,.0f} km{share_txt}",
                 legend=f"{flow}: {y:,.0f} {unit}, {x:,.0f} km", pieces=pieces, marks=marks,
                 length_km=float(x), top=float(y))


def _draw_path(ax, path: _Path, color: str | None = None) -> set[str]:
    """Draw a path: runs in mode colours (or in `color`, styled by mode), stops in category colours."""
    used = set()
    if path.band is not None:
        bx, lo, hi = path.band
        ax.fill_between(bx, lo, hi, color=color or "#9aa5b1", alpha=0.12 if color else 0.3, linewidth=0, zorder=1)
    for piece in path.pieces:
        if piece[0] == "run":
            _, mode, x0, y0, x1, y1 = piece
            if color is None:
                ax.plot([x0, x1], [y0, y1], color=MODE_COLORS[mode], linewidth=2.4, zorder=4,
                        solid_capstyle="round")
            else:
                ax.plot([x0, x1], [y0, y1], color=color, linewidth=2.0, linestyle=MODE_STYLES[mode], zorder=4)
            used.add("mode:" + mode)
        else:
            _, cat, x, y0, y1 = piece
            ax.plot([x, x], [y0, y1], color=CATEGORY_COLORS.get(cat, "#777777"), linewidth=5 if color is None else 4,
                    solid_capstyle="butt", zorder=3)
            used.add(cat)
    return used


def _node_axis(ax, marks: list, span_km: float, fontsize: float = 7.5, rotation: float = 40.0) -> None:
    """Node names on a top axis at their cumulative distance, dropping the less important of any two
    that would collide (route ends first, then the longest stops)."""
    top = ax.secondary_xaxis("top")
    fig = ax.figure
    width_px = ax.get_position().width * fig.get_figwidth() * fig.dpi * 0.92
    min_px = 1.35 * fontsize * fig.dpi / 72 / math.sin(math.radians(rotation))
    min_km = min_px * (span_km or 1.0) / max(width_px, 1.0)
    order = sorted(range(len(marks)), key=lambda i: (i not in (0, len(marks) - 1), -marks[i][3]))
    kept: list[int] = []
    for i in order:
        if all(abs(marks[i][0] - marks[j][0]) >= min_km for j in kept):
            kept.append(i)
    kept.sort()
    top.set_xticks([marks[i][0] for i in kept], [marks[i][2] for i in kept], rotation=rotation, ha="left",
                   rotation_mode="anchor", fontsize=fontsize)
    top.tick_params(length=3, pad=2)


def _same_pair(res, flows: Sequence[str]) -> bool:
    """Whether all flows join the same two places (alternative routes: drawn on shared axes)."""
    pairs = {frozenset((f.origin, f.destination)) for f in res.scenario.demand if f.id in set(flows)}
    return len(pairs) == 1


def _distance_figure(grid: list[list[_Path]], names: list[str], overlay: bool, same_pair: bool, xlabel: str,
                     ylabel: str, band_label: str | None, yfmt=None) -> tuple[Figure, set[str]]:
    """Lay out distance charts: grid[flow][run]. Overlay: one panel per run, the flows drawn together
    in their own colours; otherwise one panel per flow and run (runs side by side), all on shared
    axes when the flows join the same two places (`same_pair`), else shared along each row."""
    n_flows, n_runs = len(grid), len(names)
    share_all = overlay or (n_flows > 1 and same_pair)
    if overlay:
        rows, cols = 1, n_runs
    elif n_runs > 1:
        rows, cols = n_flows, n_runs
    else:
        cols = 1 if n_flows == 1 else 2
        rows = math.ceil(n_flows / cols)
    fig = _figure(max(11.0, 6.4 * cols) if not overlay else max(11.0, 6.6 * cols),
                  4.6 * rows + 1.2 if not overlay else 6.8)
    if share_all:
        axes = fig.subplots(rows, cols, squeeze=False, sharex=True, sharey=True)
    else:
        axes = fig.subplots(rows, cols, squeeze=False)
        if n_runs > 1:
            for i in range(rows):
                for j in range(1, cols):
                    axes[i, j].sharex(axes[i, 0])
                    axes[i, j].sharey(axes[i, 0])
    used: set[str] = set()
    panels = []  # (ax, [paths])
    if overlay:
        for j in range(n_runs):
            panels.append((axes[0, j], [grid[i][j] for i in range(n_flows)], names[j]))
    else:
        for i in range(n_flows):
            for j in range(n_runs):
                ax = axes[i, j] if n_runs > 1 else axes.flat[i]
                panels.append((ax, [grid[i][j]], names[j] if n_runs > 1 else ""))
        for ax in list(axes.flat)[len(panels):]:
            ax.set_visible(False)

    def group(ax):
        if share_all:
            return [p for _, ps, _ in panels for p in ps]
        row = [ps for a, ps, _ in panels if a in ax.get_shared_x_axes().get_siblings(ax)]
        return [p for ps in row for p in ps]

    for ax, paths, name in panels:
        peers = group(ax)
        span = max(p.length_km for p in peers)
        top = max(p.top for p in peers)
        ax.set_xlim(0, span * 1.02)
        ax.set_ylim(0, top * 1.06 or 1.0)
        handles = []
        for k, path in enumerate(paths):
            color = OVERLAY_COLORS[k % len(OVERLAY_COLORS)] if overlay else None
            used |= _draw_path(ax, path, color)
            if overlay:
                handles.append(Line2D([], [], color=color, linewidth=2.0, label=path.legend))
        if overlay:
            ax.legend(handles=handles, loc="upper left", fontsize=7.5, framealpha=0.9)
            ax.set_title(name, fontsize=10, loc="left")
            items = []
            for path in paths:
                for x, y, label, imp in path.marks:
                    if imp >= 0.03 * top and not any(abs(x - i[0]) < 1e-6 and label == i[2] for i in items):
                        items.append((x, y, label, imp))
            items.sort(key=lambda i: -i[3])
            fig.canvas.draw()
            _place_labels(fig, ax, [(x, y, label) for x, y, label, _ in items[:14]], fontsize=7, draw=False)
        else:
            _node_axis(ax, paths[0].marks, span)
            ax.set_title((f"{name}\n" if name else "") + paths[0].title, fontsize=9, loc="left")
        ax.grid(True, alpha=0.3)
        ax.tick_params(labelbottom=True, labelleft=True)
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        if yfmt:
            ax.yaxis.set_major_formatter(yfmt)
    handles = []
    if overlay:
        for m in ("rail", "road", "sea"):
            if "mode:" + m in used:
                handles.append(Line2D([], [], color="#444444", lw=2, linestyle=MODE_STYLES[m], label=f"{m} (line style)"))
    else:
        for m in ("rail", "road", "sea"):
            if "mode:" + m in used:
                handles.append(Line2D([], [], color=MODE_COLORS[m], lw=2.4, label=m))
    for c in ("handling", "border", "queue", "wait", "dwell"):
        if c in used:
            handles.append(Line2D([], [], color=CATEGORY_COLORS[c], lw=6, label=CATEGORY_LABELS[c]))
    if band_label:
        handles.append(Patch(color="#9aa5b1", alpha=0.4, label=band_label))
    fig.legend(handles=handles, loc="outside lower center", ncol=min(len(handles), 4), fontsize=8, frameon=False)
    return fig, used


def _overlay_default(res, flows: Sequence[str], overlay: bool | None) -> bool:
    if overlay is not None:
        return overlay
    return len(flows) > 1 and _same_pair(res, flows)


def plot_time_distance(results, flows: Sequence[str] | None = None, labels: Sequence[str] | None = None,
                       max_flows: int = 4, overlay: bool | None = None) -> Figure:
    """Time-distance chart (UNESCAP style): cumulative distance against cumulative days, per flow.

    Built from the simulated shipments' stage rows (the replications that kept them, normally
    replication 0), on each flow's main route: sloped runs are travel, vertical steps are time spent
    at a place without moving, split into handling, border, queueing, waiting and dwell on board in
    proportion to their mean there. The line is the median over shipments at every node; the band
    spans their 10th to 90th percentiles.

    Args:
        results: a Results or results folder, or a list of them (scenarios side by side, same flows).
        flows: flow ids (default: up to `max_flows` of the longest routes, one per pair of mirror routes).
        labels: names of the results (default: the scenario names).
        overlay: draw the flows together, one colour each (runs styled by mode), one panel per
            scenario; default: when the flows are alternative routes between the same two places.
            Otherwise each flow has its own panel with runs coloured by mode and node names on top.
    """
    runs = _as_list(results)
    names = _labels(runs, labels)
    if flows is not None:
        flows = _check_flows(runs[0], flows)
        profiles = [[_time_profile(r, f) for r in runs] for f in flows]
    else:  # the longest routes that every run has shipments of
        flows, profiles = [], []
        for f in _key_flows(runs[0], 0):
            try:
                profiles.append([_time_profile(r, f) for r in runs])
            except NotApplicable:
                continue
            flows.append(f)
            if len(flows) == max_flows:
                break
        if not flows:
            raise NotApplicable("no flow has delivered shipments with stage rows")
        order = _flow_ids(runs[0])
        keep = sorted(range(len(flows)), key=lambda i: order.index(flows[i]))
        flows, profiles = [flows[i] for i in keep], [profiles[i] for i in keep]
    overlay = _overlay_default(runs[0], flows, overlay)
    grid = [[_time_path(r, p) for r, p in zip(runs, ps)] for ps in profiles]
    fig, _ = _distance_figure(grid, names, overlay, _same_pair(runs[0], flows), "cumulative distance (km)",
                              "cumulative time (days)", "p10-p90 band over shipments")
    n_ship = sum(p.n for ps in profiles for p in ps)
    fig.suptitle(f"Time-distance: median journey of {n_ship:,} simulated shipments "
                 "(vertical steps: time at a place)", fontsize=12)
    return fig


def plot_cost_distance(results, flows: Sequence[str] | None = None, labels: Sequence[str] | None = None,
                       metric: str = "usd", max_flows: int = 4, overlay: bool | None = None) -> Figure:
    """Cost-distance chart (UNESCAP style): cumulative distance against cumulative cost per TEU.

    Sloped runs are segment charges (length x the segment's or the mode's rate per TEU-km); vertical
    steps are node charges where a shipment is handled (handling or border). The totals equal the
    cost per TEU of `results.route_cost` for each flow's main route. Costs are deterministic, so
    there is no band.

    Args:
        results: a Results or results folder, or a list of them (scenarios side by side).
        flows: flow ids (default: as `plot_time_distance`).
        labels: names of the results.
        metric: "usd" (cost, USD per TEU) or "co2" (kg CO2 per TEU).
        overlay: as for `plot_time_distance`.
    """
    if metric not in ("usd", "co2"):
        raise ValueError(f"metric must be 'usd' or 'co2', not {metric!r}")
    unit = "USD/TEU" if metric == "usd" else "kg CO2/TEU"
    runs = _as_list(results)
    for r in runs:
        _need_scenario(r)
    names = _labels(runs, labels)
    flows = _check_flows(runs[0], flows) if flows is not None else _key_flows(runs[0], max_flows)
    overlay = _overlay_default(runs[0], flows, overlay)
    grid = [[_cost_path(r, f, metric, unit) for r in runs] for f in flows]
    what = "cost" if metric == "usd" else "CO2"
    fig, _ = _distance_figure(grid, names, overlay, _same_pair(runs[0], flows), "cumulative distance (km)",
                              f"cumulative {what} ({unit})", None, yfmt=lambda v, _: f"{v:,.0f}")
    fig.suptitle(f"{what.capitalize() if what == 'cost' else what}-distance per TEU on each flow's main route "
                 "(segment rates and node charges)", fontsize=12)
    return fig
