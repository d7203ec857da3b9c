"""The core of the `corridor-sim` command line: help, `validate`, `routes` and user errors."""

from __future__ import annotations

from importlib.metadata import entry_points
from pathlib import Path

import pytest

from corridor_sim import load_scenario
from corridor_sim.cli import main

HERE = Path(__file__).parent / "scenarios"
EXAMPLE = HERE / "example.yaml"


def help_text(argv: list[str], capsys) -> str:
    """The text printed by `corridor-sim ARGV` where ARGV asks for help (exit status 0), spaces collapsed."""
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 0
    out, err = capsys.readouterr()
    assert err == ""
    return " ".join(out.split())  # argparse wraps lines to the terminal's width


def test_console_script_is_installed():
    """The `corridor-sim` command is installed as an entry point to corridor_sim.cli:main."""
    [script] = entry_points(group="console_scripts", name="corridor-sim")
    assert script.value == "corridor_sim.cli:main"


def test_main_help(capsys):
    """`corridor-sim --help` exits 0, says what the program does and lists its subcommands."""
    out = help_text(["--help"], capsys)
    assert out.startswith("usage: corridor-sim")
    assert "Simulate multimodal freight corridors" in out
    assert "validate" in out and "routes" in out
    assert "Exit status 2 means a user error" in out


def test_validate_help(capsys):
    """`corridor-sim validate --help` exits 0 and describes the command and its FILE arguments."""
    out = help_text(["validate", "--help"], capsys)
    assert out.startswith("usage: corridor-sim validate")
    assert "FILE [FILE ...]" in out
    assert "print OK or every error" in out


def test_routes_help(capsys):
    """`corridor-sim routes --help` exits 0 and describes the command and its FILE argument."""
    out = help_text(["routes", "--help"], capsys)
    assert out.startswith("usage: corridor-sim routes")
    assert "FILE" in out
    assert "expected time split into travel, waiting for departures and handling" in out


def test_no_command_is_a_usage_error(capsys):
    """`corridor-sim` without a command exits 2 with a usage message, not a traceback."""
    with pytest.raises(SystemExit) as info:
        main([])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert "usage: corridor-sim" in err and "Traceback" not in err


def test_routes_prints_every_flow_with_its_legs(capsys):
    """`corridor-sim routes` prints each flow's node path, its expected days and every leg with its mode and service."""
    assert main(["routes", str(EXAMPLE)]) == 0
    out, err = capsys.readouterr()
    assert err == ""
    for flow in load_scenario(EXAMPLE).demand:
        assert f"\n{flow.id}: " in "\n" + out
    assert "A-CITY: ORIGIN -> PORT_A -> HUB -> END_RAIL -> GAUGE -> BORDER -> CITY" in out
    assert "CITY-HUB: CITY -> BORDER -> GAUGE -> END_RAIL -> HUB" in out
    legs = [line.split()[:2] for line in out.splitlines() if "->" in line and line.startswith("  ")]
    assert ["ORIGIN->PORT_A", "on"] in legs
    assert ["END_RAIL->GAUGE", "road"] in legs
    assert "ORIGIN->PORT_A on FEEDER" in out and "sea" in out
    assert "PORT_A->END_RAIL on IR_TRAIN" in out
    assert "GAUGE->CITY on RU_TRAIN" in out
    assert "CITY->GAUGE on RU_TRAIN~rev" in out
    assert "END_RAIL->HUB on IR_TRAIN~rev" in out
    assert out.count("expected ") == 2 and "travel" in out and "waiting" in out and "handling" in out


def test_routes_breakdown_in_hours(capsys):
    """`routes` prints each leg's hours as computed by hand (border.yaml: 2.5 + 7.5 travel, 5 wait, 3 + 5.5 + 2.5 handling)."""
    assert main(["routes", str(HERE / "routing" / "border.yaml")]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "ORIG-DEST: ORIG -> TR -> BRD -> JCT -> DEST"
    road = next(line for line in lines if line.strip().startswith("ORIG->TR"))
    ride = next(line for line in lines if line.strip().startswith("TR->DEST on TRAIN"))
    end = next(line for line in lines if line.strip().startswith("at DEST"))
    assert road.split()[1:] == ["road", "90", "2.5", "0.0", "3.0"]
    assert ride.split()[3:] == ["rail", "390", "7.5", "5.0", "5.5"]
    assert end.split()[-1] == "2.5"


@pytest.mark.parametrize("command", ["validate", "routes"])
def test_missing_file_exits_2_naming_it(command, tmp_path, capsys):
    """A scenario file that does not exist gives exit status 2 and one message naming the file."""
    missing = tmp_path / "no_such_scenario.yaml"
    assert main([command, str(missing)]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.startswith(f"error: {missing}: ")
    assert "cannot read" in err and "Traceback" not in err


def test_routes_on_a_bad_file_exits_2(capsys):
    """`routes` on an invalid scenario prints its problems and exits 2 instead of printing routes."""
    bad = HERE / "bad" / "unknown_segment_node.yaml"
    assert main(["routes", str(bad)]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert f"error: {bad}: network.segments[6].to: unknown node 'HBU'" in err
    assert "Traceback" not in err
