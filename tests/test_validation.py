"""Validation: one small invalid scenario per fault under tests/scenarios/bad/.

Each case checks both faces of the fault: the `Problem` list that `load_scenario` raises (file, key
path, message), and the command line `corridor-sim validate FILE` (exit status 2, the message on
stderr, no traceback).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from corridor_sim import ScenarioError, load_scenario
from corridor_sim.cli import main

HERE = Path(__file__).parent / "scenarios"
BAD = HERE / "bad"
EXAMPLE = HERE / "example.yaml"

CHILD = "child"  # the problem is in the bad file itself
PARENT = "parent"  # the problem is in a key the bad file inherits from ../example.yaml

# file -> every problem expected, as (which file, key path, message fragments)
CASES: dict[str, list[tuple[str, str, tuple[str, ...]]]] = {
    "unknown_key.yaml": [
        (CHILD, "network.segments[3].speed_kph", ("unknown key 'speed_kph'", "did you mean 'speed_kmh'", "(line 5)"))],
    "wrong_type.yaml": [
        (CHILD, "network.segments[2].length_km", ("valid number", "'three hundred'"))],
    "negative_length.yaml": [
        (CHILD, "network.segments[1].length_km", ("greater than 0", "-1200"))],
    "zero_length.yaml": [
        (CHILD, "network.segments[1].length_km", ("greater than 0", "got 0"))],
    "zero_speed.yaml": [
        (CHILD, "network.segments[5].speed_kmh", ("greater than or equal to 0.1", "got 0"))],
    "negative_speed.yaml": [
        (CHILD, "network.segments[5].speed_kmh", ("greater than or equal to 0.1", "-40"))],
    "zero_capacity_per_day.yaml": [
        (CHILD, "network.segments[1].capacity_per_day", ("greater than 0", "got 0"))],
    "zero_capacity_teu.yaml": [
        (CHILD, "services[0].capacity_teu", ("greater than 0", "got 0"))],
    "fleet_zero_vehicles.yaml": [
        (CHILD, "services[0].fleet.vehicles", ("greater than or equal to 1", "got 0", "(line 4)"))],
    "fleet_vehicles_not_integer.yaml": [
        (CHILD, "services[0].fleet.vehicles", ("valid integer", "fractional part", "2.5"))],
    "fleet_negative_turnaround.yaml": [
        (CHILD, "services[0].fleet.turnaround_h", ("greater than or equal to 0", "-6"))],
    "empty_share_above_one.yaml": [
        (CHILD, "demand[0].empty_return_share", ("less than or equal to 1", "1.5"))],
    "vehicles_factor_without_fleet.yaml": [
        (CHILD, "disruptions[2].vehicles_factor", ("service 'FEEDER' has no fleet",))],
    "late_without_fleet.yaml": [
        (CHILD, "services[2].late", ("scheduled service with a fleet",))],
    "shipment_too_big.yaml": [
        (CHILD, "demand[0].shipment_teu", ("120 TEU does not fit on service IR_TRAIN", "capacity_teu 90"))],
    "drain_negative.yaml": [
        (CHILD, "simulation.drain_days", ("greater than or equal to 0", "-5", "(line 3)"))],
    "drain_absurd.yaml": [
        (CHILD, "simulation.drain_days", ("less than or equal to 3650", "1000000000", "(line 3)"))],
    "zero_servers.yaml": [
        (CHILD, "network.nodes[0].handling.servers", ("greater than or equal to 1", "got 0"))],
    "unknown_segment_node.yaml": [
        (CHILD, "network.segments[6].to", ("unknown node 'HBU'", "did you mean 'HUB'"))],
    "unknown_service_stop.yaml": [
        (CHILD, "services[3].stops[1]", ("unknown node 'BORDR'", "did you mean 'BORDER'"))],
    "unknown_route_node.yaml": [
        (CHILD, "demand[0].route[4]", ("unknown node 'GAUGES'", "did you mean 'GAUGE'"))],
    "unknown_disruption_target.yaml": [
        (CHILD, "disruptions[0].target", ("unknown node, segment or service 'RAIL9'",))],
    "duplicate_id.yaml": [
        (CHILD, "network.nodes[2].id", ("duplicate id 'A'", "network.nodes[0]", "(line 7)"))],
    "duplicate_id_across_kinds.yaml": [
        (CHILD, "network.segments[6].id", ("duplicate id 'HUB'", "already used at network.nodes[1]"))],
    "route_not_following_segments.yaml": [
        (CHILD, "demand[0].route[2]", ("does not follow segments", "PORT_A to END_RAIL"))],
    "route_wrong_start.yaml": [
        (CHILD, "demand[0].route", ("from origin ORIGIN", "not PORT_A"))],
    "service_stops_not_joined.yaml": [
        (CHILD, "services[3].stops[1]", ("no rail segment joins END_RAIL to GAUGE",))],
    "gauge_change_forbidden.yaml": [
        (CHILD, "demand[0].route", ("gauge changes from 1435 to 1520 mm at MID", "gauge_change: true"))],
    "service_mixed_gauge.yaml": [
        (CHILD, "services[0].stops", ("one gauge", "1435", "1520"))],
    "unreachable_destination.yaml": [
        (CHILD, "demand[2].destination", ("ISLAND cannot be reached from CITY",))],
    "warmup_too_long.yaml": [
        (CHILD, "simulation.warmup_days", ("shorter than horizon_days", "120 >= 120", "(line 3)"))],
    "syntax_error.yaml": [
        (CHILD, "", ("YAML syntax error", "line 7", "started at line 6"))],
    "triangular_low_above_high.yaml": [
        (CHILD, "network.nodes[0].handling.time_h", ("triangular", "low <= mode <= high"))],
    "unknown_distribution.yaml": [
        (CHILD, "network.nodes[5].handling.time_h", ("'weibull'", "'triangular'"))],
    "departures_missing.yaml": [
        (CHILD, "services[3].departures", ("every_h", "when_full"))],
    "route_shares.yaml": [
        (CHILD, "demand[2].routes", ("shares must sum to 1", "0.9"))],
    "choice_logit_negative.yaml": [
        (CHILD, "demand[0].choice.logit_scale", ("greater than or equal to 0", "-0.1", "(line 5)"))],
    "choice_value_of_time_infinite.yaml": [
        (CHILD, "demand[0].choice.value_of_time_usd_per_teu_h", ("finite number", "(line 5)"))],
    "choice_among_zero.yaml": [
        (CHILD, "demand[1].choice.among", ("greater than or equal to 1", "got 0", "(line 5)"))],
    "choice_route_misses_destination.yaml": [
        (CHILD, "demand[2].routes[1].path", ("must run from origin ORIGIN to destination HUB", "not ORIGIN to PORT_A"))],
    "routes_without_shares.yaml": [
        (CHILD, "demand[2].routes", ("give every route a share", "only with choice"))],
    "rail_without_gauge.yaml": [
        (CHILD, "network.segments[6].gauge_mm", ("required on a rail segment",))],
    # The route is inherited, so the fault is located in the parent's key; the message names the leg.
    "leg_without_service.yaml": [
        (PARENT, "demand[0].route", ("no sea service", "ORIGIN -> PORT_A"))],
    "unknown_route_service.yaml": [
        (CHILD, "demand[0].services[1]", ("unknown service 'IR_TRAINS'", "did you mean 'IR_TRAIN'"))],
    # The flow names services that do not run its (inherited) route's rail stretch.
    "route_service_not_serving.yaml": [
        (PARENT, "demand[0].route", ("no rail service runs PORT_A -> HUB", "segment RAIL1"))],
    "billion_laughs.yaml": [
        (CHILD, "", ("expands to more than", "refused"))],
    "python_object_tag.yaml": [
        (CHILD, "name", ("python/object/apply", "not allowed", "(line 2)"))],
    "season_bad_month.yaml": [
        (CHILD, "disruptions[2].season.from", ("no such day of the year", "'13-01'", "(line 4)"))],
    "season_bad_day.yaml": [
        (CHILD, "disruptions[2].season.to", ("no such day of the year", "'02-30'", "(line 7)"))],
    "season_not_month_day.yaml": [
        (CHILD, "disruptions[2].season.from", ('"MM-DD"', "got 1201"))],
    "dates_not_iso.yaml": [
        (CHILD, "disruptions[2].dates.from", ("ISO date YYYY-MM-DD", "'1 March 2025'"))],
    "dates_to_before_from.yaml": [
        (CHILD, "disruptions[2].dates.to", ("to (2025-03-01) is before from (2025-03-05)",))],
    "dates_before_start_date.yaml": [
        (CHILD, "disruptions[2].dates.to", ("ends before simulation.start_date", "2024-03-05 < 2025-01-01", "never applies"))],
    "start_date_no_such_day.yaml": [
        (CHILD, "simulation.start_date", ("no such date", "'2025-02-30'", "(line 3)"))],
    "start_date_with_time.yaml": [
        (CHILD, "simulation.start_date", ("without a time of day",))],
    "window_forms_several.yaml": [
        (CHILD, "disruptions[2].season", ("one window form, not several", "start_day is also given"))],
    "window_form_missing.yaml": [
        (CHILD, "disruptions[2]", ("needs a window", "season: {from, to}", "dates: {from, to}"))],
    "every_days_with_season.yaml": [
        (CHILD, "disruptions[2].every_days", ("repeats a start_day/end_day window",))],
    "single_track_zero_sections.yaml": [
        (CHILD, "network.segments[2].sections", ("greater than or equal to 1", "got 0", "(line 5)"))],
    "single_track_keys_on_double_track.yaml": [
        (CHILD, "network.segments[2].sections", ("applies to a single-track segment (tracks: 1)",))],
    "berths_without_rate.yaml": [
        (CHILD, "network.nodes[0].berths.teu_per_hour", ("required key is missing",))],
    "background_route_missing.yaml": [
        (CHILD, "background[0].route[2]", ("route does not exist", "no road segment runs from GAUGE to HUB"))],
    "mode_pair_unknown_mode.yaml": [
        (CHILD, "network.nodes[6].handling.time_h.sea>rial", ("unknown mode 'rial'", "did you mean 'rail'"))],
    "yard_smaller_than_vehicle.yaml": [
        (CHILD, "network.nodes[2].yard_teu", ("40 TEU is less than service IR_TRAIN", "capacity_teu 90"))],
    # Non-finite and absurd numbers (issue 16): refused where a finite, meant value is needed.
    "inf_length.yaml": [
        (CHILD, "network.segments[2].length_km", ("finite number", "got inf", "(line 5)"))],
    "nan_service_time.yaml": [
        (CHILD, "network.nodes[6].handling.time_h", ("finite number", "got nan", "(line 5)"))],
    "inf_empirical_value.yaml": [
        (CHILD, "services[1].dwell_h.values[1]", ("finite number", "got inf", "(line 4)"))],
    "inf_max_wait.yaml": [
        (CHILD, "services[1].departures.max_wait_h", ("finite number", "got inf", "(line 4)"))],
    "inf_capacity_factor.yaml": [
        (CHILD, "disruptions[0].capacity_factor", ("finite number", "got inf", "(line 4)"))],
    "gamma_underflow.yaml": [
        (CHILD, "network.nodes[3].handling.time_h", ("gamma with mean 1e-300 and sd 1", "shape (mean/sd)^2 = 0",
                                                    "(line 5)"))],
    "gamma_overflow.yaml": [
        (CHILD, "network.nodes[3].handling.time_h.sd", ("less than or equal to 1000000", "1e+300", "(line 5)"))],
    "lognormal_overflow.yaml": [
        (CHILD, "network.nodes[4].handling.time_h", ("lognormal with mean 1e-300 and sd 1000", "overflows"))],
    "time_absurd.yaml": [
        (CHILD, "network.nodes[6].handling.time_h", ("less than or equal to 1000000", "1e+300"))],
    "servers_absurd.yaml": [
        (CHILD, "network.nodes[5].handling.servers", ("less than or equal to 1000000", "1000000000"))],
    "speed_absurd.yaml": [
        (CHILD, "network.segments[5].speed_kmh", ("less than or equal to 1000", "got 1000000"))],
    "every_h_tiny.yaml": [
        (CHILD, "services[2].departures.every_h", ("greater than or equal to 0.1", "1e-06", "(line 4)"))],
    "every_days_tiny.yaml": [
        (CHILD, "disruptions[1].every_days", ("greater than or equal to 0.1", "1e-09", "(line 4)"))],
    # YAML edge cases (issue 16): each with its file, key path and line.
    "list_as_id.yaml": [
        (CHILD, "network.nodes[0].id", ("an id must be a plain value, not a list", "(line 5)"))],
    "mapping_as_id.yaml": [
        (CHILD, "demand[0].id", ("an id must be a plain value, not a mapping", "(line 4)"))],
    "duplicate_id_in_child.yaml": [
        (CHILD, "network.segments[1].id", ("duplicate id 'RAIL1' in this list", "first at network.segments[0]",
                                          "(line 6)"))],
    "remove_unknown_id.yaml": [
        (CHILD, "disruptions[0].remove", ("cannot remove 'wintr'", "parent has no item with this id", "(line 4)"))],
    "extends_folder.yaml": [
        (CHILD, "extends", ("cannot use '../extends' as a parent", "a folder", "(line 2)"))],
    "extends_not_scenario.yaml": [
        (CHILD, "extends", ("cannot use '../not_scenarios/passwd' as a parent", "top level must be a mapping",
                            "(line 2)"))],
    "extends_not_scenario_mapping.yaml": [
        (CHILD, "extends", ("'../not_scenarios/status.yaml' is not a scenario file", "none of a scenario's keys",
                            "(line 2)"))],
    "extends_list_missing_parent.yaml": [
        (CHILD, "extends[1]", ("parent file 'no_such_parent.yaml' not found", "(line 4)"))],
    "extends_list_cycle.yaml": [
        (CHILD, "extends[1]", ("cycle of extends", "extends_list_cycle.yaml -> list_cycle_back.yaml", "(line 4)"))],
    "nul_byte.yaml": [
        (CHILD, "", ("not a text file", "NUL", "(line 2)"))],
    "not_utf8.yaml": [
        (CHILD, "", ("not UTF-8 text", "0xe9", "(line 2)"))],
    "control_character.yaml": [
        (CHILD, "", ("not YAML text", "#x0007", "(line 2)"))],
    "missing_top_level.yaml": [
        (CHILD, "name", ("required key is missing", "(line 2)")),
        (CHILD, "network", ("required key is missing", "(line 2)"))],
    "duplicate_key.yaml": [
        (CHILD, "name", ("duplicate key 'name'", "(line 6)"))],
    "several_schema_faults.yaml": [
        (CHILD, "network.nodes[1].handling.servers", ("greater than or equal to 1",)),
        (CHILD, "network.segments[2].length_km", ("greater than 0",)),
        (CHILD, "network.segments[3].speed_kph", ("did you mean 'speed_kmh'",)),
    ],
    "several_reference_faults.yaml": [
        (CHILD, "simulation.warmup_days", ("shorter than horizon_days",)),
        (CHILD, "services[3].stops[1]", ("unknown node 'BORDR'",)),
        (CHILD, "disruptions[1].target", ("'RAIL9'",)),
    ],
}


def expected_file(which: str, bad_file: Path) -> Path:
    return bad_file if which == CHILD else EXAMPLE


def same_file(a, b) -> bool:
    return Path(a).resolve() == Path(b).resolve()


def test_every_bad_file_has_a_case():
    """Every file under tests/scenarios/bad/ is one of the checked cases (none goes untested)."""
    assert sorted(p.name for p in BAD.glob("*.yaml")) == sorted(CASES)


@pytest.mark.parametrize("name", sorted(CASES), ids=lambda n: n.removesuffix(".yaml"))
def test_bad_file_problems(name):
    """load_scenario raises a ScenarioError listing exactly the expected problems, each with its file, key path and message."""
    path = BAD / name
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    problems = info.value.problems
    expected = CASES[name]
    assert len(problems) == len(expected), "\n".join(map(str, problems))
    for (which, key_path, fragments), problem in zip(expected, problems):
        assert same_file(problem.file, expected_file(which, path)), problem
        assert problem.key_path == key_path, problem
        for fragment in fragments:
            assert fragment in problem.message, problem


@pytest.mark.parametrize("name", sorted(CASES), ids=lambda n: n.removesuffix(".yaml"))
def test_bad_file_validate_command(name, capsys):
    """`corridor-sim validate` on the file exits 2 and prints each problem as one `error: FILE: KEY: message` line, without a traceback."""
    path = BAD / name
    status = main(["validate", str(path)])
    out, err = capsys.readouterr()
    assert status == 2
    assert "OK" not in out
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == len(CASES[name])
    for line, (which, key_path, fragments) in zip(lines, CASES[name]):
        assert line.startswith("error: ")
        where = str(path) if which == CHILD else str(path.parent / "../example.yaml")
        assert line.startswith(f"error: {where}: {key_path}: " if key_path else f"error: {where}: "), line
        for fragment in fragments:
            assert fragment in line


def test_several_faults_in_one_file_are_reported_together(capsys):
    """Faults of different keys in one file all come out of one run, not one per run."""
    with pytest.raises(ScenarioError) as info:
        load_scenario(BAD / "several_reference_faults.yaml")
    assert len(info.value.problems) == 3
    assert str(info.value).count("error: ") == 3
    assert main(["validate", str(BAD / "several_schema_faults.yaml")]) == 2
    assert capsys.readouterr().err.count("error: ") == 3


def test_validate_good_file_prints_ok(capsys):
    """`validate` on a valid file exits 0 and prints OK with the file's name and its counts."""
    assert main(["validate", str(EXAMPLE)]) == 0
    out, err = capsys.readouterr()
    assert err == ""
    assert out.startswith(f"OK {EXAMPLE}: Example corridor")
    assert "7 nodes, 6 segments, 3 services, 2 flows, 2 disruptions" in out


def test_validate_several_files(capsys):
    """`validate` on good and bad files prints OK for each good one and errors for each bad one, and exits 2."""
    good, bad1, bad2 = EXAMPLE, BAD / "zero_speed.yaml", BAD / "unknown_key.yaml"
    status = main(["validate", str(good), str(bad1), str(EXAMPLE), str(bad2)])
    out, err = capsys.readouterr()
    assert status == 2
    assert out.count(f"OK {good}:") == 2
    assert str(bad1) not in out and str(bad2) not in out
    assert f"error: {bad1}: network.segments[5].speed_kmh:" in err
    assert f"error: {bad2}: network.segments[3].speed_kph:" in err
    assert "Traceback" not in err


def test_validate_all_good_files_exits_zero(capsys):
    """`validate` on several valid files exits 0 with one OK line each."""
    routing = sorted((HERE / "routing").glob("*.yaml"))
    assert main(["validate", str(EXAMPLE), *map(str, routing)]) == 0
    out, err = capsys.readouterr()
    assert err == "" and out.count("OK ") == 1 + len(routing)
