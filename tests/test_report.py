"""Tests for corridor_sim.report: the self-contained HTML page of a results folder."""

from __future__ import annotations

import copy
import html
import re
from pathlib import Path

import pytest

from corridor_sim import load_scenario, run
from corridor_sim.cli import main
from corridor_sim.plotting import FIGURE_NAMES

RUN_FIGURES = [stem for stem in FIGURE_NAMES if stem != "route_shares"]  # route shares need a choosing flow
from corridor_sim.report import build_report, write_report
from corridor_sim.scenario import scenario_from_dict

EXAMPLE = Path(__file__).parent / "scenarios" / "example.yaml"
NASTY = 'Example <script>alert("x")</script> & "friends"'


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    data = copy.deepcopy(load_scenario(EXAMPLE).data())
    data["simulation"].update(horizon_days=50, warmup_days=10)
    data["name"] = NASTY
    data["description"] = "Costs < 5 & > 2"
    results = run(scenario_from_dict(data, str(EXAMPLE)), replications=2, seed=5)
    return results.write(tmp_path_factory.mktemp("report") / "run")


@pytest.fixture(scope="module")
def page(folder):
    return write_report(folder).read_text(encoding="utf-8")


def test_report_is_written_beside_the_results(folder, page):
    """write_report puts report.html in the folder, a complete HTML document."""
    assert (Path(folder) / "report.html").is_file()
    assert page.startswith("<!DOCTYPE html>") and page.rstrip().endswith("</html>")


def test_report_embeds_the_figures_as_png(page):
    """Every figure is inline as a base64 PNG, so the page needs no other file."""
    images = re.findall(r"<img src='data:image/png;base64,([A-Za-z0-9+/=]+)'", page)
    # Every run figure, the monthly one included; the example has no flow that chooses its route.
    assert len(images) == len(RUN_FIGURES) == 9
    assert all(len(b) > 10_000 for b in images)


def test_report_is_self_contained(page):
    """The page loads nothing: no script, stylesheet link or remote URL."""
    assert "<script" not in page
    assert "<link" not in page
    assert not re.search(r"(src|href)=['\"]https?:", page)


def test_report_names_every_flow_node_and_service(folder, page):
    """The flow, facility and service tables name every flow, facility and service of the scenario."""
    sc = load_scenario(Path(folder) / "scenario.yaml")
    for flow in sc.demand:
        assert f"<td>{html.escape(flow.id)}</td>" in page
    for node in sc.network.nodes:
        if node.handling is not None:
            assert f"<td>{html.escape(node.id)}</td>" in page
    for service in sc.services:
        assert f"<td>{html.escape(service.id)}</td>" in page


def test_report_escapes_text(page):
    """Scenario text is escaped: the name's markup shows as text and the YAML is inside <pre>."""
    assert "<script>alert" not in page
    assert html.escape(NASTY) in page
    assert "Costs &lt; 5 &amp; &gt; 2" in page
    pre = re.search(r"<pre>(.*?)</pre>", page, re.S).group(1)
    assert "network:" in pre and "&lt;script&gt;" in pre


def test_report_of_a_compare_folder(tmp_path):
    """A compare folder's report holds its difference table, its chart and the flows compared."""
    out = tmp_path / "cmp"
    variant = Path(__file__).parent / "scenarios" / "experiments" / "example_gauge_40.yaml"
    assert main(["compare", str(EXAMPLE), str(variant), "--replications", "2", "--jobs", "1",
                 "--out", str(out)]) == 0
    text = build_report(out)
    assert text.count("data:image/png;base64,") == 1
    assert "<td>A-CITY</td>" in text and "<td>CITY-HUB</td>" in text
    assert "paired 95% CI" in text


def test_report_command(folder, tmp_path, capsys):
    """`corridor-sim report DIR --out FILE` writes the page and says where; a missing folder exits 2."""
    target = tmp_path / "page.html"
    assert main(["report", str(folder), "--out", str(target)]) == 0
    assert str(target) in capsys.readouterr().out
    assert target.read_text(encoding="utf-8").count("data:image/png;base64,") == len(RUN_FIGURES)
    assert main(["report", str(tmp_path / "nothing")]) == 2
