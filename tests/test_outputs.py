"""Outputs that open anywhere: Parquet per-shipment tables, a folder read back, GeoJSON of the network.

One short run of tests/scenarios/example.yaml (60 days, 2 replications) is shared by the module and
written once as Parquet (the default) and once as CSV (the first version's layout).
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import corridor_sim as cs
from corridor_sim import geo
from corridor_sim.cli import main
from corridor_sim.results_dir import sort_stages
from corridor_sim.scenario import scenario_from_dict

EXAMPLE = Path(__file__).parent / "scenarios" / "example.yaml"


def _small():
    data = copy.deepcopy(cs.load_scenario(EXAMPLE).data())
    data["simulation"].update(horizon_days=60, warmup_days=10)
    return scenario_from_dict(data, str(EXAMPLE))


@pytest.fixture(scope="module")
def results():
    return cs.run(_small(), replications=2, seed=5, keep_stages=True)


@pytest.fixture(scope="module")
def parquet_dir(results, tmp_path_factory):
    return results.write(tmp_path_factory.mktemp("out") / "parquet")


@pytest.fixture(scope="module")
def csv_dir(results, tmp_path_factory):
    return results.write(tmp_path_factory.mktemp("out") / "csv", format="csv")


def _plain(df: pd.DataFrame) -> pd.DataFrame:
    """Categoricals as strings, ids as int64, index reset: for comparing values across layouts."""
    out = df.reset_index(drop=True).copy()
    for c in out.columns:
        if isinstance(out[c].dtype, pd.CategoricalDtype) or out[c].dtype == object:
            out[c] = out[c].astype(str)
        elif c in ("replication", "shipment"):
            out[c] = out[c].astype("int64")
    return out


# ------------------------------------------------------------------------------ Parquet files


def _documented_dtypes(doc: str, table: str) -> dict[str, str]:
    """The column -> dtype table of one file's section in docs/outputs.md."""
    section = doc.split(f"### {table}", 1)[1].split("\n#", 1)[0]
    rows = [line.split("|") for line in section.splitlines() if line.startswith("| `")]
    return {r[1].strip().strip("`"): r[2].strip() for r in rows}


_ARROW_NAMES = {"int32": "int32", "float": "float32", "double": "float64", "bool": "bool",
                "dictionary<values=string, indices=int32, ordered=0>": "dictionary<int32, string>"}


def test_default_folder_holds_parquet_tables_with_documented_dtypes(parquet_dir):
    """The default folder has shipments.parquet, stages.parquet, rides.parquet and runs.parquet (no CSV);
    every column has exactly the dtype docs/outputs.md gives it (dictionary categories, int32 ids,
    float32 hours where documented, a bool flag) and its unit in its field metadata."""
    assert not (parquet_dir / "shipments.csv").exists() and not (parquet_dir / "stages.csv.gz").exists()
    doc = (Path(__file__).parent.parent / "docs" / "outputs.md").read_text()
    for table in ("shipments.parquet", "stages.parquet", "rides.parquet", "runs.parquet"):
        schema = pq.read_schema(parquet_dir / table)
        documented = _documented_dtypes(doc, table)
        assert set(schema.names) == set(documented), table
        for f in schema:
            assert _ARROW_NAMES[str(f.type)] == documented[f.name], (table, f.name, f.type)
            assert f.metadata and f.metadata[b"unit"], f.name
    ship = pq.read_schema(parquet_dir / "shipments.parquet")
    for name in ("flow", "route"):
        assert pa.types.is_dictionary(ship.field(name).type) and ship.field(name).type.value_type == pa.string()
    assert ship.field("replication").type == pa.int32() and ship.field("shipment").type == pa.int32()
    assert ship.field("teu").type == pa.float64()


def test_each_replication_is_its_own_row_group(results, parquet_dir):
    """shipments.parquet has one row group per replication, so a filter on replication reads only its rows."""
    f = pq.ParquetFile(parquet_dir / "shipments.parquet")
    assert f.metadata.num_row_groups == results.replications
    for k in range(f.metadata.num_row_groups):
        stats = f.metadata.row_group(k).column(0).statistics
        assert stats.min == stats.max == k
    one = pq.read_table(parquet_dir / "shipments.parquet", filters=[("replication", "=", 1)])
    expected = results.shipments[results.shipments["measured"] & (results.shipments["replication"] == 1)]
    assert one.num_rows == len(expected) > 0


def test_parquet_folder_reads_back_the_same_tables(results, parquet_dir):
    """read_results gives back the measured shipments (hours as their nearest float32, the derived
    columns recomputed), the stage rows (in journey order; ride rows exact, the others' hours as float32),
    the queues, the summary and the small tables of the Results that wrote the folder (not delivered
    as NaN)."""
    back = cs.read_results(parquet_dir)
    measured = results.shipments[results.shipments["measured"]].copy()
    # Hours stored as float32 come back as the float32 nearest the run's value, exactly (docs/outputs.md).
    for c in ("created_h", "delivered_h", "travel_h", "wait_h", "handling_h", "border_h", "queue_h"):
        measured[c] = measured[c].astype(np.float32).astype(np.float64)
    measured["transit_days"] = (measured["delivered_h"] - measured["created_h"]) / 24.0
    pd.testing.assert_frame_equal(_plain(back.shipments), _plain(measured), check_dtype=False, check_exact=True)
    assert back.shipments["delivered_h"].isna().sum() == measured["delivered_h"].isna().sum()
    want, got = _plain(sort_stages(results.stages())), _plain(back.stages())
    pd.testing.assert_frame_equal(got.drop(columns=["start_h", "end_h"]), want.drop(columns=["start_h", "end_h"]))
    for c in ("start_h", "end_h"):  # ride rows exact (expanded from float64 stop logs), the others float32
        x, y = want[c].to_numpy(), got[c].to_numpy()
        assert np.all((y == x) | (y == x.astype(np.float32).astype(np.float64))), c
    assert len(back.stages(replication=1)) == len(results.stages(replication=1)) > 0
    pd.testing.assert_frame_equal(_plain(back.queues()), _plain(results.queues()), check_dtype=False)
    for name in ("flows", "nodes", "services", "segments", "flows_by_replication"):
        a, b = getattr(back, name), getattr(results, name)
        assert list(a.columns) == list(b.columns), name
        num = [c for c in b.columns if pd.api.types.is_float_dtype(b[c])]
        np.testing.assert_allclose(a[num].to_numpy(float), b[num].to_numpy(float), rtol=1e-12, equal_nan=True)
    assert back.summary() == json.loads(json.dumps(results.summary()))
    assert back.scenario.name == results.scenario.name and back.replications == results.replications


def test_csv_folder_of_the_first_layout_reads_back_alike(parquet_dir, csv_dir):
    """A folder written with format="csv" (shipments.csv, stages.csv.gz) reads back to the same values as
    the Parquet one."""
    assert (csv_dir / "shipments.csv").is_file() and (csv_dir / "stages.csv.gz").is_file()
    assert not (csv_dir / "shipments.parquet").exists()
    a, b = cs.read_results(parquet_dir), cs.Results.read(csv_dir)
    pd.testing.assert_frame_equal(_plain(a.shipments), _plain(b.shipments), check_dtype=False)
    pd.testing.assert_frame_equal(_plain(a.stages()), _plain(sort_stages(b.stages())), check_dtype=False)
    assert list(b.shipments["flow"].cat.categories) == list(a.shipments["flow"].cat.categories)


def test_parquet_is_smaller_than_csv(parquet_dir, csv_dir):
    """shipments.parquet takes under half the bytes of shipments.csv (8 bytes per float against ~18
    characters of text), and stages.parquet fewer than the gzipped stages.csv.gz."""
    size = lambda folder, name: (folder / name).stat().st_size  # noqa: E731
    assert size(parquet_dir, "shipments.parquet") < 0.5 * size(csv_dir, "shipments.csv")
    assert size(parquet_dir, "stages.parquet") < size(csv_dir, "stages.csv.gz")


def test_read_results_is_public():
    """read_results is part of the package's curated API."""
    assert "read_results" in cs.__all__ and callable(cs.read_results)


def test_cli_run_format_csv_writes_the_csv_layout(tmp_path, capsys):
    """`corridor-sim run --format csv` writes shipments.csv; the default writes shipments.parquet."""
    base = ["run", str(EXAMPLE), "--replications", "1", "--jobs", "1"]
    assert main([*base, "--out", str(tmp_path / "c"), "--format", "csv"]) == 0
    assert main([*base, "--out", str(tmp_path / "p")]) == 0
    capsys.readouterr()
    assert (tmp_path / "c" / "shipments.csv").is_file() and not (tmp_path / "c" / "shipments.parquet").exists()
    assert (tmp_path / "p" / "shipments.parquet").is_file() and not (tmp_path / "p" / "shipments.csv").exists()
    assert len(cs.read_results(tmp_path / "c").shipments) == len(cs.read_results(tmp_path / "p").shipments) > 0


# ------------------------------------------------------------------------------------ GeoJSON


def _check_rfc7946(doc: dict) -> None:
    """A strict check of the RFC 7946 structure used here: a FeatureCollection of Features with Point or
    LineString geometries in [lon, lat] WGS 84 positions, JSON-safe properties and no crs member."""
    assert doc["type"] == "FeatureCollection" and "crs" not in doc
    assert isinstance(doc["features"], list)
    for f in doc["features"]:
        assert f["type"] == "Feature" and isinstance(f["properties"], dict)
        assert isinstance(f.get("id", ""), (str, int))
        g = f["geometry"]
        positions = [g["coordinates"]] if g["type"] == "Point" else g["coordinates"]
        assert g["type"] in ("Point", "LineString")
        if g["type"] == "LineString":
            assert len(positions) >= 2
        for p in positions:
            assert len(p) == 2 and all(isinstance(v, float | int) for v in p)
            assert -180 <= p[0] <= 180 and -90 <= p[1] <= 90
    if "bbox" in doc:
        w, s, e, n = doc["bbox"]
        allpos = [c for f in doc["features"] for c in ([f["geometry"]["coordinates"]]
                                                        if f["geometry"]["type"] == "Point"
                                                        else f["geometry"]["coordinates"])]
        assert w == min(p[0] for p in allpos) and n == max(p[1] for p in allpos) and s <= n and w <= e


@pytest.fixture(scope="module")
def geojson_dir(parquet_dir):
    assert main(["export", str(parquet_dir), "--geojson"]) == 0
    return parquet_dir / "geojson"


def test_export_geojson_validates_as_geojson(results, geojson_dir):
    """`corridor-sim export DIR --geojson` writes nodes and segments FeatureCollections that a GeoJSON
    parser accepts as valid, one feature per node and per segment, in [lon, lat] order."""
    geojson = pytest.importorskip("geojson")
    sc = results.scenario
    for name, count in (("nodes", len(sc.network.nodes)), ("segments", len(sc.network.segments))):
        text = (geojson_dir / f"{name}.geojson").read_text()
        obj = geojson.loads(text)
        assert obj.is_valid, obj.errors()
        doc = json.loads(text)  # strict JSON: NaN would fail here
        _check_rfc7946(doc)
        assert len(doc["features"]) == count
    nodes = json.loads((geojson_dir / "nodes.geojson").read_text())
    port = next(f for f in nodes["features"] if f["id"] == "PORT_A")
    node = next(n for n in sc.network.nodes if n.id == "PORT_A")
    assert port["geometry"]["coordinates"] == [node.lon, node.lat]


def test_geojson_nodes_carry_the_nodes_table(results, geojson_dir):
    """Every facility's utilisation, mean queue and mean wait in nodes.geojson are the nodes table's; other
    nodes have them null; kind, country and name come from the scenario."""
    doc = json.loads((geojson_dir / "nodes.geojson").read_text())
    props = {f["id"]: f["properties"] for f in doc["features"]}
    table = results.nodes.set_index("node")
    for n in results.scenario.network.nodes:
        p = props[n.id]
        assert p["kind"] == n.kind and p["name"] == n.label and p["country"] == (n.country or None)
        if n.id in table.index:
            for key in ("utilization", "mean_queue", "mean_wait_h"):
                assert p[key] == pytest.approx(float(table.loc[n.id, key]), rel=1e-12), (n.id, key)
        else:
            assert p["utilization"] is None and p["mean_queue"] is None and p["mean_wait_h"] is None


def test_geojson_segments_carry_teu_per_day_and_path_use(results, geojson_dir):
    """A segment's TEU per day is the measured shipments' TEU whose route runs over it, per replication and
    measured day, split by direction; a gated segment carries its gates' utilisation from the segments table."""
    doc = json.loads((geojson_dir / "segments.geojson").read_text())
    props = {f["id"]: f["properties"] for f in doc["features"]}
    ship = results.shipments[results.shipments["measured"]]
    days = results.replications * results.measured_days
    checked = 0
    for seg in results.scenario.network.segments:
        fwd = rev = 0.0
        for label, teu in ship.groupby(ship["route"].astype(str), observed=True)["teu"].sum().items():
            nodes = label.rsplit(" #", 1)[0].split()
            pairs = list(zip(nodes[:-1], nodes[1:]))
            fwd += teu * pairs.count((seg.from_, seg.to)) / days
            rev += teu * pairs.count((seg.to, seg.from_)) / days
        p = props[seg.id]
        assert p["teu_per_day_forward"] == pytest.approx(fwd, rel=1e-9, abs=1e-12)
        assert p["teu_per_day_reverse"] == pytest.approx(rev, rel=1e-9, abs=1e-12)
        assert p["teu_per_day"] == pytest.approx(fwd + rev, rel=1e-9, abs=1e-12)
        assert p["mode"] == seg.mode and p["length_km"] == seg.length_km
        gates = results.segments[results.segments["segment"] == seg.id].set_index("gate")
        if len(gates):
            checked += 1
            for suffix, end in (("forward", seg.from_), ("reverse", seg.to)):
                gate = f"{seg.id}@{end}"
                want = float(gates.loc[gate, "utilization"]) if gate in gates.index else None
                assert p[f"path_utilization_{suffix}"] == (pytest.approx(want) if want is not None else None)
            assert p["path_utilization"] == pytest.approx(float(gates["utilization"].max()))
            assert p["path_capacity_per_day"] == seg.capacity_per_day
        else:
            assert p["path_utilization"] is None
    assert checked >= 1 and props["SEA"]["teu_per_day"] > 0


def test_sea_segment_follows_a_sea_lane_from_port_to_port(results, geojson_dir):
    """The sea segment's LineString runs from its `from` port to its `to` port through searoute's lane: more
    than two points, never shorter than the great circle between the ports."""
    doc = json.loads((geojson_dir / "segments.geojson").read_text())
    sea = next(f for f in doc["features"] if f["id"] == "SEA")
    nodes = {n.id: n for n in results.scenario.network.nodes}
    seg = next(s for s in results.scenario.network.segments if s.id == "SEA")
    coords = sea["geometry"]["coordinates"]
    assert sea["properties"]["lane"] == "searoute" and len(coords) > 2
    assert coords[0] == [nodes[seg.from_].lon, nodes[seg.from_].lat]
    assert coords[-1] == [nodes[seg.to].lon, nodes[seg.to].lat]
    great_circle = geo.haversine_km(tuple(coords[0]), tuple(coords[-1]))
    assert sea["properties"]["lane_length_km"] >= great_circle
    rail = next(f for f in doc["features"] if f["properties"]["mode"] == "rail")
    assert len(rail["geometry"]["coordinates"]) == 2 and rail["properties"]["lane"] == "straight_line"


def test_an_unroutable_sea_leg_falls_back_to_a_straight_line_and_says_so():
    """Between two points far inland searoute snaps onto a distant lane: the segment becomes the straight
    line with a note, whose length is the great circle."""
    moscow, tehran = (37.6, 55.7), (51.4, 35.7)
    lane = geo.sea_lane(moscow, tehran)
    assert not lane.routed and lane.coordinates == (moscow, tehran) and "km from the nearest sea lane" in lane.note
    assert lane.length_km == pytest.approx(geo.haversine_km(moscow, tehran))
    assert geo.sea_lane(moscow, tehran) is lane  # cached within the process


def test_map_draws_the_sea_lane_and_names_it_in_the_legend(results):
    """On the network map the sea segment is drawn along its lane (many points, solid) and the legend says
    the lanes come from searoute."""
    from corridor_sim import plotting

    fig = plotting.plot_network_map(results)
    ax = fig.axes[0]
    sea = next(ln for ln in ax.get_lines() if ln.get_gid() == "SEA")
    assert len(sea.get_xdata()) > 2 and sea.get_linestyle() == "-"
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "sea (lanes by searoute)" in labels and not any("schematic" in t for t in labels)


def test_export_refuses_what_it_cannot_export(tmp_path, parquet_dir, capsys):
    """export without --geojson, or on a folder that is not a run's, is a usage error (exit 2)."""
    assert main(["export", str(parquet_dir)]) == 2
    assert "give --geojson" in capsys.readouterr().err
    assert main(["export", str(tmp_path), "--geojson"]) == 2
    assert "error:" in capsys.readouterr().err


def test_a_folder_of_the_float64_layout_reads_back(results, parquet_dir, tmp_path):
    """A folder written before hours became float32 and rides stop logs (every column stored, float64,
    every stage row in stages.parquet) reads back to the run's tables value for value."""
    import shutil

    old = tmp_path / "old"
    shutil.copytree(parquet_dir, old)
    for name in ("rides.parquet", "runs.parquet"):
        (old / name).unlink()
    measured = results.shipments[results.shipments["measured"]].drop(columns=["transit_days"]).reset_index(drop=True)
    pq.write_table(pa.Table.from_pandas(measured, preserve_index=False), old / "shipments.parquet")
    pq.write_table(pa.Table.from_pandas(sort_stages(results.stages()), preserve_index=False), old / "stages.parquet")
    back = cs.read_results(old)
    want = results.shipments[results.shipments["measured"]]
    pd.testing.assert_frame_equal(_plain(back.shipments), _plain(want), check_dtype=False, check_exact=True)
    pd.testing.assert_frame_equal(_plain(back.stages()), _plain(sort_stages(results.stages())), check_dtype=False,
                                  check_exact=True)
