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


# ------------------------------------------------------------------ the encoding of the Parquet files


def _write_previous_layout(frame: pd.DataFrame, path: Path, units: dict, float32=(), sequential=()) -> None:
    """The Parquet writer of the layout before shipments were stored by flow (kept here to write such
    folders): rows as given, zstd level 9, `sequential` integers delta-encoded, a float column with more
    than 15% distinct values byte-stream-split, every other column dictionary-encoded."""
    from corridor_sim.results_dir import _arrow_table

    table = _arrow_table(frame, units, float32)
    encoding = {c: "DELTA_BINARY_PACKED" for c in sequential}
    for name in frame.columns:
        if pd.api.types.is_float_dtype(frame[name]) and len(frame) and frame[name].nunique() > 0.15 * len(frame):
            encoding[name] = "BYTE_STREAM_SPLIT"
    reps = frame["replication"].to_numpy()
    starts = [0, *(np.flatnonzero(reps[1:] != reps[:-1]) + 1).tolist(), len(reps)]
    with pq.ParquetWriter(path, table.schema, compression="zstd", compression_level=9, column_encoding=encoding or None,
                          use_dictionary=[c for c in table.column_names if c not in encoding]) as writer:
        for a, b in zip(starts[:-1], starts[1:]):
            writer.write_table(table.slice(a, b - a), row_group_size=b - a)


def _previous_layout_folder(parquet_dir: Path, dest: Path) -> Path:
    """A copy of `parquet_dir` with its four Parquet files rewritten by the previous layout's writer."""
    import shutil

    from corridor_sim import results_dir as rd

    shutil.copytree(parquet_dir, dest)
    specs = {"shipments": (rd.SHIPMENT_UNITS, rd.SHIPMENT_FLOAT32, ("shipment",)),
             "stages": (rd.STAGE_UNITS, rd.STAGE_FLOAT32, ("shipment",)),
             "rides": (rd.RIDE_UNITS, (), ("shipment",)), "runs": (rd.RUN_UNITS, (), ("run",))}
    for stem, (units, float32, sequential) in specs.items():
        frame = pq.read_table(parquet_dir / f"{stem}.parquet").to_pandas()
        if stem == "shipments":  # the previous layout kept shipment order
            frame = frame.sort_values(["replication", "shipment"], kind="stable").reset_index(drop=True)
        _write_previous_layout(frame, dest / f"{stem}.parquet", units, float32, sequential)
    return dest


def test_shipments_are_stored_by_flow_and_read_back_in_shipment_order(results, parquet_dir):
    """shipments.parquet holds each replication's rows by flow (the scenario's demand order), then
    shipment number; read_results gives them back in shipment order, as the run has them."""
    raw = pq.read_table(parquet_dir / "shipments.parquet").to_pandas()
    flows = [f.id for f in results.scenario.demand]
    for _, rep in raw.groupby("replication"):
        code = rep["flow"].astype(str).map(flows.index).to_numpy()
        assert np.all(np.diff(code) >= 0)
        for _, one in rep.groupby("flow", observed=True):
            assert np.all(np.diff(one["shipment"].to_numpy()) > 0)
    assert raw["flow"].astype(str).nunique() > 1  # so the order differs from shipment order
    back = cs.read_results(parquet_dir).shipments
    measured = results.shipments[results.shipments["measured"]]
    np.testing.assert_array_equal(back["shipment"].to_numpy(), measured["shipment"].to_numpy())
    np.testing.assert_array_equal(back["replication"].to_numpy(), measured["replication"].to_numpy())


def test_a_folder_of_the_previous_encoding_reads_back_the_same(parquet_dir, tmp_path):
    """A folder written in the layout before this one (shipments in shipment order, zstd 9, the old
    encoding rule) reads back to exactly the tables of the current layout."""
    old = _previous_layout_folder(parquet_dir, tmp_path / "previous")
    a, b = cs.read_results(parquet_dir), cs.read_results(old)
    pd.testing.assert_frame_equal(a.shipments, b.shipments, check_exact=True)
    pd.testing.assert_frame_equal(a.stages(), b.stages(), check_exact=True)


def test_written_columns_read_back_bit_for_bit(tmp_path):
    """write_parquet with the encodings it picks gives back exactly the values written: ids, floats
    (float64 and the float32 of float32 columns, bit for bit), nulls where NaN, categories."""
    from corridor_sim.results_dir import write_parquet

    rng = np.random.default_rng(7)
    n = 30_000
    frame = pd.DataFrame({
        "replication": np.repeat([0, 1, 2], n // 3),
        "shipment": np.cumsum(rng.integers(1, 40, n)),
        "flow": pd.Categorical(rng.choice(["a", "b", "c"], n)),
        "teu": rng.choice([1.0, 2.0], n),
        "created_h": np.sort(rng.uniform(0, 9000, n)),
        "wait_h": np.where(rng.random(n) < 0.5, 0.0, rng.exponential(20, n)),
        "delivered_h": np.where(rng.random(n) < 0.02, np.nan, rng.uniform(0, 9000, n)),
    })
    units = {c: "x" for c in frame.columns}
    write_parquet(frame, tmp_path / "t.parquet", units, float32=("created_h", "delivered_h"))
    back = pq.read_table(tmp_path / "t.parquet")
    assert back.column("delivered_h").null_count == int(frame["delivered_h"].isna().sum()) > 0
    got = back.to_pandas()
    for c in ("replication", "shipment", "teu", "wait_h"):
        np.testing.assert_array_equal(got[c].to_numpy(), frame[c].to_numpy())
    for c in ("created_h", "delivered_h"):
        assert got[c].dtype == np.float32
        np.testing.assert_array_equal(got[c].to_numpy().view(np.uint32),
                                      frame[c].to_numpy().astype(np.float32).view(np.uint32))
    assert list(got["flow"].astype(str)) == list(frame["flow"].astype(str))


def test_chosen_encodings_compress_about_as_well_as_the_best(tmp_path):
    """The encoding choose_encodings picks from a sample gives each column within 5% of the fewest
    compressed bytes any candidate gives the whole column."""
    import io

    from corridor_sim import columnar as rd  # the Parquet writer (results_dir re-exports it)

    rng = np.random.default_rng(11)
    n = 90_000  # above the sample (8 chunks of 8,192 rows), so the choice is made on part of the column
    table = pa.table({
        "rising": pa.array(np.cumsum(rng.integers(1, 30, n)).astype(np.int32)),
        "few": pa.array(rng.choice([3, 17, 250], n).astype(np.int32)),
        "clock": pa.array(np.sort(rng.uniform(0, 9000, n)).astype(np.float32)),
        "zeros": pa.array(np.where(rng.random(n) < 0.7, 0.0, rng.exponential(10, n)).astype(np.float32)),
        "levels": pa.array(rng.choice([8.875, 16.75, 27.25], n)),
    })
    chosen = rd.choose_encodings(table)

    def size(name, enc):
        buf, one = io.BytesIO(), table.select([name])
        dictionary = enc == rd.DICTIONARY
        pq.write_table(one, buf, compression="zstd", compression_level=rd.ZSTD_LEVEL, use_dictionary=dictionary,
                       column_encoding=None if dictionary else {name: enc})
        return buf.tell()

    for name in table.column_names:
        kind = "float" if pa.types.is_floating(table.schema.field(name).type) else "int"
        sizes = {enc: size(name, enc) for enc in rd._CANDIDATES[kind]}
        assert sizes[chosen[name]] <= 1.05 * min(sizes.values()), (name, chosen[name], sizes)
    assert chosen["rising"] == "DELTA_BINARY_PACKED" and chosen["clock"] == "BYTE_STREAM_SPLIT"


def test_parquet_files_are_smaller_than_in_the_previous_layout(parquet_dir, tmp_path):
    """The folder's Parquet files take fewer bytes than the same tables in the previous layout's
    encoding: none more, and together at least 5% fewer (about 10% on this run, 18% on the base INSTC)."""
    old = _previous_layout_folder(parquet_dir, tmp_path / "previous")
    new_sizes = {p.name: p.stat().st_size for p in parquet_dir.glob("*.parquet")}
    old_sizes = {name: (old / name).stat().st_size for name in new_sizes}
    assert set(new_sizes) == {"shipments.parquet", "stages.parquet", "rides.parquet", "runs.parquet"}
    for name in new_sizes:
        assert new_sizes[name] <= old_sizes[name], (name, new_sizes[name], old_sizes[name])
    assert sum(new_sizes.values()) <= 0.95 * sum(old_sizes.values()), (new_sizes, old_sizes)


# ------------------------------------------------------------------------------ written without pandas


def test_files_written_from_numpy_columns_are_those_of_the_dataframe_path(tmp_path):
    """The Parquet files written from the replications' numpy columns (what `corridor-sim run` does)
    are byte for byte those written from the pandas shipments DataFrame, and so are the small tables."""
    fresh = cs.run(_small(), replications=2, seed=5, keep_stages=True)
    a = fresh.write(tmp_path / "numpy")
    assert "shipments" not in fresh.__dict__  # nothing built the DataFrame: the numpy path wrote it
    fresh.shipments  # noqa: B018  (builds the DataFrame, which the writer then takes)
    b = fresh.write(tmp_path / "pandas")
    names = sorted(p.name for p in a.iterdir() if p.name != "run.json")
    assert {"shipments.parquet", "stages.parquet", "rides.parquet", "runs.parquet", "summary.json"} <= set(names)
    for name in names:
        assert (a / name).read_bytes() == (b / name).read_bytes(), name


def test_flows_by_replication_agrees_with_pandas_on_the_shipments_table(results):
    """Each replication's per-flow counts, throughput, cost and stage days equal those computed
    with pandas from the shipments table (to 1e-12: pandas sums in another order)."""
    ship = results.shipments
    got = results.flows_by_replication.set_index(["replication", "flow"])
    for (rep, flow), f in ship.groupby(["replication", "flow"], observed=True):
        row = got.loc[(rep, flow)]
        done = f[f["measured"] & f["delivered_h"].notna()]
        assert row["created_all"] == len(f) and row["created"] == int(f["measured"].sum())
        assert row["delivered"] == len(done) and row["delivered_all"] == int(f["delivered_h"].notna().sum())
        window = f[(f["delivered_h"] >= results.warmup_days * 24) & (f["delivered_h"] <= results.horizon_days * 24)]
        assert row["throughput_teu_per_day"] == pytest.approx(window["teu"].sum() / results.measured_days, rel=1e-12)
        assert row["cost_usd_per_teu"] == pytest.approx(done["cost_usd"].sum() / done["teu"].sum(), rel=1e-12)
        for name in ("travel", "wait", "handling", "queue"):
            assert row[f"{name}_days"] == pytest.approx(done[f"{name}_h"].mean() / 24.0, rel=1e-12, abs=1e-15)
    assert len(got) == 2 * len(results.scenario.demand) and got["delivered"].min() > 0


def test_arrays_from_numpy_buffers_equal_those_pa_array_makes():
    """The writer's arrays (made from numpy buffers, without pandas) equal pa.array's: values, types,
    nulls where a float is NaN or a code is negative, categories."""
    from corridor_sim.columnar import Columns, arrow_table

    rng = np.random.default_rng(3)
    n = 1000
    codes = rng.integers(-1, 3, n)
    f64 = np.where(rng.random(n) < 0.1, np.nan, rng.exponential(5, n))
    f32 = np.where(rng.random(n) < 0.1, np.nan, rng.uniform(0, 9000, n))
    flags = rng.random(n) < 0.5
    ids = rng.integers(0, 10**6, n)
    labels = ["a", "bé", "c c"]
    cols = Columns({"flow": codes, "shipment": ids, "measured": flags, "created_h": f32, "teu": f64},
                   {"flow": labels})
    got = arrow_table(cols, {}, float32=("created_h",))
    want = [pa.DictionaryArray.from_arrays(pa.array(codes.astype(np.int32), mask=codes < 0), pa.array(labels)),
            pa.array(ids.astype(np.int32)), pa.array(flags),
            pa.array(f32.astype(np.float32), from_pandas=True), pa.array(f64, from_pandas=True)]
    for name, arr in zip(cols.columns, want):
        assert got.column(name).combine_chunks().equals(arr), name
        assert got.column(name).null_count == arr.null_count
    assert got.column("teu").null_count == int(np.isnan(f64).sum()) > 0
    assert got.column("flow").null_count == int((codes < 0).sum()) > 0


def test_columns_concat_of_different_labels_is_what_pandas_writes():
    """Parts whose category labels differ concatenate, as pandas' concat then astype("category")
    gives them, to the labels present, sorted, every row keeping its value (a missing one missing)."""
    from corridor_sim.columnar import Columns

    a = Columns({"place": np.array([0, 2, -1, 1]), "x": np.arange(4.0)}, {"place": ["P", "A", "Z"]})
    b = Columns({"place": np.array([1, 0, 1]), "x": np.arange(3.0)}, {"place": ["M", "A", "unused"]})
    got = Columns.concat([a, b])
    want = pd.concat([a.frame(), b.frame()], ignore_index=True)["place"].astype("category")
    assert got.categories["place"] == [str(c) for c in want.cat.categories] == ["A", "M", "P", "Z"]
    np.testing.assert_array_equal(got["place"], want.cat.codes.to_numpy())
    assert list(got.frame()["place"].astype(object).where(lambda s: s.notna(), None)) == \
        ["P", "Z", None, "A", "A", "M", "A"]


def test_a_summary_only_run_written_with_shipments_writes_an_empty_table(tmp_path):
    """Results of a summary-only run written with shipments=True give an empty shipments table, not a crash."""
    res = cs.run(_small(), replications=1, seed=5, summary_only=True)
    folder = res.write(tmp_path / "res")
    back = cs.read_results(folder)
    assert len(back.shipments) == 0 and back.summary()["flows"]
