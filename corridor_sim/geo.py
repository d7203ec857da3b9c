"""The network on the map: TEU carried per segment, sea lanes, and GeoJSON for GIS tools.

A segment's geometry is the straight line between its two nodes, except on the sea, where it follows
the shortest sea lane computed offline by the `searoute` package (a maritime network shipped with it:
no download at run time). A lane starts and ends where searoute snaps the ports onto its network;
the ports themselves are added at both ends so the line meets the nodes. When searoute is missing,
fails, or snaps a port more than `SNAP_KM` away (an inland node, a lake it does not know), the
segment falls back to the straight line and says so (`lane: "straight_line"`). The lane is a picture
of where the ships go: the model's distance stays the scenario's `length_km` (the lane's own length
is reported beside it as `lane_length_km`). Lanes are cached per pair of end points for the life of
the process, so the map and the GeoJSON of a run compute each one once.

`write_geojson` writes two RFC 7946 FeatureCollections (WGS 84 longitude, latitude; no `crs`
member) that QGIS, kepler.gl, geopandas and DuckDB's spatial extension open as they are:
``nodes.geojson`` (Points) and ``segments.geojson`` (LineStrings). Their properties are listed in
docs/outputs.md.
"""

from __future__ import annotations

import functools
import json
import math
from dataclasses import dataclass
from pathlib import Path

from corridor_sim.results_dir import route_index

SNAP_KM = 150.0  # farther than this from the sea network, a port is not on a lane searoute knows
EARTH_RADIUS_KM = 6371.0088


def haversine_km(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Great-circle distance in km between two (lon, lat) points in degrees."""
    lon1, lat1, lon2, lat2 = map(math.radians, (*a, *b))
    h = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(h)))


@dataclass(frozen=True)
class SeaLane:
    """A sea segment's geometry: (lon, lat) points from origin to destination.

    Attributes:
        coordinates: the points, the two nodes first and last.
        routed: True when searoute found the lane, False for the straight-line fallback.
        length_km: the lane's length along its points (great circle between consecutive points).
        note: why the straight line was used, empty when routed.
    """

    coordinates: tuple[tuple[float, float], ...]
    routed: bool
    length_km: float
    note: str = ""


def _length_km(points) -> float:
    return sum(haversine_km(p, q) for p, q in zip(points[:-1], points[1:]))


@functools.lru_cache(maxsize=None)
def sea_lane(origin: tuple[float, float], destination: tuple[float, float]) -> SeaLane:
    """The sea lane between two (lon, lat) points, or the straight line when searoute cannot route it."""
    straight = (tuple(origin), tuple(destination))

    def fallback(note: str) -> SeaLane:
        return SeaLane(straight, False, haversine_km(origin, destination), note)

    try:
        import searoute
    except ImportError:
        return fallback("searoute is not installed")
    try:
        feature = searoute.searoute(list(origin), list(destination), units="km")
        points = [(float(p[0]), float(p[1])) for p in feature["geometry"]["coordinates"]]
    except Exception as exc:  # searoute raises plain exceptions for unroutable pairs
        return fallback(f"searoute found no lane ({type(exc).__name__})")
    if len(points) < 2:
        return fallback("searoute found no lane")
    snap = max(haversine_km(origin, points[0]), haversine_km(destination, points[-1]))
    if snap > SNAP_KM:
        return fallback(f"a port lies {snap:.0f} km from the nearest sea lane")
    points = [tuple(origin), *points, tuple(destination)]
    deduped = [points[0]]
    for p in points[1:]:
        if haversine_km(p, deduped[-1]) > 1e-3:
            deduped.append(p)
    if len(deduped) < 2:
        return fallback("the two ports coincide")
    return SeaLane(tuple(deduped), True, _length_km(deduped))


def segment_geometry(seg, nodes: dict) -> SeaLane:
    """A segment's (lon, lat) points from its `from` node to its `to` node: a sea lane at sea."""
    a, b = nodes[seg.from_], nodes[seg.to]
    ends = ((float(a.lon), float(a.lat)), (float(b.lon), float(b.lat)))
    if seg.mode == "sea":
        return sea_lane(*ends)
    return SeaLane(ends, False, haversine_km(*ends))


# ------------------------------------------------------------------------------ TEU per segment


def segment_loads(res) -> dict[str, tuple[float, float]]:
    """TEU per day carried on each segment in each direction: (from -> to, to -> from).

    From the measured shipments (every one created in the measured window, per replication and
    measured day) when the run kept them, else from each flow's throughput split by route share.

    Args:
        res: a Results or a results folder read back (ResultsDir).
    """
    load = {s.id: [0.0, 0.0] for s in res.scenario.network.segments}
    table = res.route_table()

    def add(route, teu_per_day: float) -> None:
        for leg in route.legs:
            for i, seg in enumerate(leg.segments):
                load[seg.id][0 if leg.nodes[i] == seg.from_ else 1] += teu_per_day

    ship = res.shipments
    if ship is not None and len(ship):
        measured = ship[ship["measured"].astype(bool)]
        teu = measured.groupby(measured["route"].astype(str), observed=True)["teu"].sum()
        days = max(res.replications * res.measured_days, 1e-9)
        for label, total in teu.items():
            add(table[route_index(label)][1], total / days)
    else:
        tp = dict(zip(res.flows["flow"].astype(str), res.flows["throughput_teu_per_day"].fillna(0)))
        for f, route, _, _ in table:
            add(route, tp.get(res.scenario.demand[f].id, 0.0) * route.share)
    return {k: (v[0], v[1]) for k, v in load.items()}


def segment_teu_per_day(res) -> dict[str, float]:
    """TEU per day (both directions) carried on each segment; see `segment_loads`."""
    return {k: fwd + rev for k, (fwd, rev) in segment_loads(res).items()}


# ------------------------------------------------------------------------------------ GeoJSON


def _number(x):
    """A JSON number, or None for a missing or NaN value (JSON has no NaN)."""
    if x is None:
        return None
    try:
        value = float(x)
    except (TypeError, ValueError):
        return None
    if math.isnan(value) or math.isinf(value):
        return None
    return int(value) if isinstance(x, (int,)) and not isinstance(x, bool) else value


def _flag(x):
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return None
    return str(x).strip().lower() not in ("false", "0", "0.0", "")


def _position(lon: float, lat: float) -> list[float]:
    return [round(float(lon), 6), round(float(lat), 6)]


def _collection(features: list[dict], name: str) -> dict:
    coords = [c for f in features for c in (f["geometry"]["coordinates"] if f["geometry"]["type"] == "LineString"
                                             else [f["geometry"]["coordinates"]])]
    doc = {"type": "FeatureCollection", "name": name, "features": features}
    if coords:
        lons, lats = [c[0] for c in coords], [c[1] for c in coords]
        doc["bbox"] = [min(lons), min(lats), max(lons), max(lats)]
    return doc


def nodes_geojson(res) -> dict:
    """Every node as a Point Feature with its kind, country, name and, at a facility, its results.

    Properties per node: id, name, kind, country, facility (bool), servers, utilization,
    utilization_nominal, mean_queue (TEU-shipments waiting, time-average), mean_wait_h,
    arrivals_per_day and stable, from the nodes table (null where the node handles nothing).
    """
    table = {}
    if res.nodes is not None and len(res.nodes):
        table = {str(r["node"]): r for r in res.nodes.to_dict("records")}
    features = []
    for n in res.scenario.network.nodes:
        row = table.get(n.id, {})
        features.append({
            "type": "Feature", "id": n.id,
            "geometry": {"type": "Point", "coordinates": _position(n.lon, n.lat)},
            "properties": {
                "id": n.id, "name": n.label, "kind": n.kind, "country": n.country or None,
                "facility": n.handling is not None,
                "servers": n.handling.servers if n.handling is not None else None,
                "utilization": _number(row.get("utilization")),
                "utilization_nominal": _number(row.get("utilization_nominal")),
                "mean_queue": _number(row.get("mean_queue")),
                "mean_wait_h": _number(row.get("mean_wait_h")),
                "arrivals_per_day": _number(row.get("arrivals_per_day")),
                "stable": _flag(row.get("stable")) if row else None,
            },
        })
    return _collection(features, "nodes")


def segments_geojson(res) -> dict:
    """Every segment as a LineString Feature from its `from` node to its `to` node, with its results.

    Properties per segment: id, from, to, mode, length_km (the scenario's), lane ("searoute" or
    "straight_line"), lane_length_km, lane_note; teu_per_day (both directions), teu_per_day_forward
    (from -> to), teu_per_day_reverse; and where the segment has a path gate (capacity_per_day or a
    disruption), path_capacity_per_day, path_utilization (the busier direction),
    path_utilization_forward / _reverse and path_vehicles_per_day_forward / _reverse (null otherwise).
    """
    nodes = {n.id: n for n in res.scenario.network.nodes}
    loads = segment_loads(res)
    gates = {}
    if res.segments is not None and len(res.segments):
        gates = {str(r["gate"]): r for r in res.segments.to_dict("records")}
    features = []
    for seg in res.scenario.network.segments:
        geom = segment_geometry(seg, nodes)
        fwd, rev = loads.get(seg.id, (0.0, 0.0))
        g_fwd, g_rev = gates.get(f"{seg.id}@{seg.from_}"), gates.get(f"{seg.id}@{seg.to}")
        utils = [_number(g["utilization"]) for g in (g_fwd, g_rev) if g is not None]
        utils = [u for u in utils if u is not None]
        gated = g_fwd is not None or g_rev is not None
        features.append({
            "type": "Feature", "id": seg.id,
            "geometry": {"type": "LineString", "coordinates": [_position(*p) for p in geom.coordinates]},
            "properties": {
                "id": seg.id, "from": seg.from_, "to": seg.to, "mode": seg.mode, "length_km": seg.length_km,
                "lane": "searoute" if geom.routed else "straight_line",
                "lane_length_km": round(geom.length_km, 3), "lane_note": geom.note or None,
                "teu_per_day": fwd + rev, "teu_per_day_forward": fwd, "teu_per_day_reverse": rev,
                "path_capacity_per_day": _number((g_fwd or g_rev)["capacity_per_day"]) if gated else None,
                "path_utilization": max(utils) if utils else None,
                "path_utilization_forward": _number(g_fwd["utilization"]) if g_fwd is not None else None,
                "path_utilization_reverse": _number(g_rev["utilization"]) if g_rev is not None else None,
                "path_vehicles_per_day_forward": _number(g_fwd["vehicles_per_day"]) if g_fwd is not None else None,
                "path_vehicles_per_day_reverse": _number(g_rev["vehicles_per_day"]) if g_rev is not None else None,
            },
        })
    return _collection(features, "segments")


def write_geojson(res, out_dir: str | Path) -> list[Path]:
    """Write nodes.geojson and segments.geojson into `out_dir` (created if missing); return the paths.

    Args:
        res: a Results, or a run's results folder read back (`corridor_sim.read_results`).
    """
    from corridor_sim.results_dir import NotApplicable

    if getattr(res, "scenario", None) is None:
        raise NotApplicable("GeoJSON needs the scenario (scenario.yaml in the results folder)")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, doc in (("nodes", nodes_geojson(res)), ("segments", segments_geojson(res))):
        path = out / f"{name}.geojson"
        path.write_text(json.dumps(doc, allow_nan=False))
        paths.append(path)
    return paths
