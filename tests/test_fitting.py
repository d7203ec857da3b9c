"""`calibrate --fit` (corridor_sim/fitting.py) on a scenario whose truth is known.

tests/scenarios/calibration/border.yaml is one road leg through an M/M/1 border post whose service
mean is the unknown (written there as the prior, 1.0 h); its targets file
(border_targets.yaml) holds targets generated from the M/M/1 formulas at the true mean m* = 1.2 h:
the mean transit (fitted), the median transit (held out, consistent with the truth) and a median
from a source that counted a stop the model does not have (held out, which the fitted model must
be seen to miss).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import yaml
from scipy import stats

from corridor_sim import ScenarioError, load_scenario
from corridor_sim.cli import main
from corridor_sim.fitting import fit_calibration, format_fit_table, overlay, read_fit_spec
from corridor_sim.queueing import mg1_wait_h, mmc_time_in_system_h
from corridor_sim.scenario.loading import plain, read_scenario

HERE = Path(__file__).parent / "scenarios" / "calibration"
TARGETS = HERE / "border_targets.yaml"
BAD = HERE / "bad_targets"
KEY = "network.nodes.BND.handling.time_h.mean"
TRUE_MEAN_H = 1.2
TRUE_FACTOR = 1.2  # border_pair.yaml: BND2's triangular time, 1.2 times as written
ROAD_H = 4.0  # two road halves of 100 km at 50 km/h


def arrival_rate_per_h() -> float:
    [flow] = load_scenario(HERE / "border.yaml").demand
    return flow.teu_per_year / flow.shipment_teu / 8760.0


def mean_transit_days(m: float) -> float:
    """Theory: road time plus the M/M/1 time in system at service mean m hours."""
    return (ROAD_H + mmc_time_in_system_h(arrival_rate_per_h(), m, 1)) / 24.0


def median_transit_days(m: float) -> float:
    """Theory: the M/M/1 (FIFO) sojourn is exponential, so its median is ln 2 times its mean."""
    return (ROAD_H + math.log(2) * mmc_time_in_system_h(arrival_rate_per_h(), m, 1)) / 24.0


def ci99_half(values) -> float:
    x = np.asarray(values, dtype=float)
    return float(stats.t.ppf(0.995, len(x) - 1) * x.std(ddof=1) / math.sqrt(len(x)))


def test_targets_file_holds_the_theory_at_the_true_value():
    """The synthetic targets are the M/M/1 formulas at m* = 1.2 h (the file's numbers are not tuned to a run)."""
    spec, _, [parameter] = read_fit_spec(TARGETS)
    t = {x["id"]: x for x in spec["targets"]}
    assert t["T1"]["published"] == pytest.approx(mean_transit_days(TRUE_MEAN_H), rel=1e-6)
    assert t["H1"]["published"] == pytest.approx(median_transit_days(TRUE_MEAN_H), rel=1e-6)
    assert t["H2"]["published"] == pytest.approx(median_transit_days(TRUE_MEAN_H) + 2 / 24, rel=1e-6)
    assert [x["use"] for x in spec["targets"]] == ["fit", "held_out", "held_out", "dropped"]  # H2: the default
    assert parameter.keys == [KEY] and parameter.start == 1.0 and (parameter.low, parameter.high) == (0.5, 1.8)


@pytest.mark.slow
def test_fit_recovers_the_true_border_time_and_reports_the_held_out_miss():
    """The fit recovers m* within the run's own 99% interval mapped through the theory's slope, meets
    the consistent held-out median, and reports the inconsistent held-out target as missed."""
    result = fit_calibration(TARGETS)
    [fitted] = result.fitted
    lam = arrival_rate_per_h()
    slope = 1.0 / (1.0 - lam * TRUE_MEAN_H) ** 2 / 24.0  # d(mean transit days)/d(service mean h) at m*
    before, after = result.per_replication["T1"]
    half = ci99_half(after)  # the fresh-seed replications at the fitted value
    tolerance_h = half / slope
    print(f"\n[fit] true {TRUE_MEAN_H} h, fitted {fitted:.4f} h, tolerance +-{tolerance_h:.4f} h "
          f"(99% CI half-width {half * 24:.3f} h of the mean transit); "
          f"{result.evaluations} evaluations\n{format_fit_table(result)}")
    assert abs(fitted - TRUE_MEAN_H) <= tolerance_h
    assert half <= 0.05 * mean_transit_days(TRUE_MEAN_H)  # the interval is narrow enough to judge
    rows = result.table.set_index("id")
    assert not rows.at["T1", "met_before"] and rows.at["T1", "met_after"]
    assert not rows.at["H1", "met_before"] and rows.at["H1", "met_after"]
    assert not rows.at["H2", "met_after"]  # the calibration can fail: the held-out target is missed
    assert "held-out targets the fitted model misses: H2" in format_fit_table(result)
    assert result.objective_fitted < result.objective_start
    # before: the prior 1.0 h; theory at the prior is inside its own 99% interval
    assert abs(np.mean(before) - mean_transit_days(1.0)) <= ci99_half(before)


def test_fit_is_reproducible_and_bounded():
    """The same seed gives the same search and fitted value, and the search stops at --max-evals simulations."""
    runs = [fit_calibration(TARGETS, replications=2, max_evals=3) for _ in range(2)]
    assert runs[0].evaluations == 3 and "limit of 3 evaluations" in runs[0].message
    assert runs[0].history == runs[1].history and runs[0].fitted == runs[1].fitted
    assert runs[0].table.equals(runs[1].table)
    other = fit_calibration(TARGETS, replications=2, max_evals=3, seed=99)
    assert other.history[0]["objective"] != runs[0].history[0]["objective"]  # the seed is used


def test_overlay_extends_the_scenario_and_sets_the_fitted_values(tmp_path):
    """The fitted-scenario overlay, run through `extends`, is the base scenario with only the fitted keys changed."""
    spec, base, parameters = read_fit_spec(TARGETS)
    values = [1.234]
    (tmp_path / "fitted.yaml").write_text(yaml.safe_dump(
        {"extends": str((HERE / "border.yaml").resolve()), **overlay(base.data(), parameters, values)}))
    merged = plain(read_scenario(tmp_path / "fitted.yaml"))
    expected = plain(read_scenario(HERE / "border.yaml"))
    expected["network"]["nodes"][1]["handling"]["time_h"]["mean"] = 1.234
    assert merged == expected


def test_cli_fit_writes_the_fitted_values_and_a_runnable_overlay(tmp_path, capsys):
    """`calibrate --fit` prints the before/after table and writes fit.json, the fitted values, the table and an overlay that validates."""
    out = tmp_path / "fit"
    status = main(["calibrate", str(TARGETS), "--fit", "--replications", "2", "--max-evals", "4", "--jobs", "1",
                   "--out", str(out)])
    printed = capsys.readouterr().out
    assert status == 0 and "before mean [CI]" in printed and "held_out" in printed
    names = {p.name for p in out.iterdir()}
    assert {"fit.json", "fitted_values.yaml", "fitted_scenario.yaml", "fit_table.csv", "fit_table.txt"} <= names
    values = yaml.safe_load((out / "fitted_values.yaml").read_text())
    fitted = load_scenario(out / "fitted_scenario.yaml")
    assert fitted.node("BND").handling.time_h.mean == pytest.approx(values["keys"][KEY])
    assert 0.5 <= values["keys"][KEY] <= 1.8


def test_calibrate_without_fit_ignores_use_and_fit(capsys):
    """Without --fit the targets file's `use` marks and fit section change nothing: every target is evaluated as before."""
    from corridor_sim.calibration import calibrate

    _, table = calibrate(TARGETS, replications=2)
    assert list(table["id"]) == ["T1", "H1", "H2", "D1"]


# file -> (key path, message fragments)
BAD_CASES = {
    "unknown_key.yaml": ("fit.parameters[0].key", ("matches nothing", "no item with id or index 'BORDER'", "(line 5)")),
    "bounds_reversed.yaml": ("fit.parameters[0].bounds", ("low must be below high", "[1.8, 0.5]", "(line 6)")),
    "not_numeric.yaml": ("fit.parameters[0].key", ("is not a number", "'exponential'", "(line 5)")),
    "no_fit_targets.yaml": ("targets", ("no target has `use: fit`", "(line 8)")),
    "use_unknown.yaml": ("targets[0].use", ("must be fit, held_out or dropped", "'fitted'", "(line 11)")),
    "no_reason.yaml": ("fit.parameters[0].reason", ("say why this input is uncertain",)),
    "bounds_invalid_scenario.yaml": ("fit.parameters[0].bounds", ("at -1 the scenario is not valid", "greater than 0")),
    "integer_count.yaml": ("fit.parameters[0].bounds", ("not valid", "valid integer")),
}


def test_every_bad_targets_file_has_a_case():
    """Every file under bad_targets/ is a checked case."""
    assert sorted(p.name for p in BAD.glob("*.yaml")) == sorted(BAD_CASES)


@pytest.mark.parametrize("name", sorted(BAD_CASES), ids=lambda n: n.removesuffix(".yaml"))
def test_bad_targets_file(name, capsys, tmp_path):
    """A malformed fit spec is one located error (file, key path, message) and `calibrate --fit` exits 2 without a traceback."""
    path = BAD / name
    key_path, fragments = BAD_CASES[name]
    with pytest.raises(ScenarioError) as info:
        read_fit_spec(path)
    [problem] = info.value.problems
    assert Path(problem.file) == path and problem.key_path == key_path, problem
    for fragment in fragments:
        assert fragment in problem.message, problem
    status = main(["calibrate", str(path), "--fit", "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert status == 2 and "Traceback" not in err
    assert err.startswith(f"error: {path}: {key_path}: ")
    assert not (tmp_path / "out").exists()



def mg1_mean_transit_days(factor: float) -> float:
    """Theory for flow G of border_pair.yaml: road time plus the M/G/1 (Pollaczek-Khinchine) time in
    system at BND2, whose service is Tri(0.5, 1, 1.5) h times the factor."""
    low, mode, high = (factor * x for x in (0.5, 1.0, 1.5))
    mean = (low + mode + high) / 3
    sd = math.sqrt((low ** 2 + mode ** 2 + high ** 2 - low * mode - low * high - mode * high) / 18)
    return (ROAD_H + mean + mg1_wait_h(arrival_rate_per_h(), mean, sd)) / 24.0


@pytest.mark.slow
def test_two_parameters_fitted_together_recover_both_truths():
    """Powell on two parameters (an exponential border mean, and a scale factor on the three corners of a
    triangular border time) recovers both truths within the run's 99% intervals mapped through the theory's slopes."""
    targets = HERE / "border_pair_targets.yaml"
    spec, _, parameters = read_fit_spec(targets)
    t = {x["id"]: x for x in spec["targets"]}
    assert t["T1"]["published"] == pytest.approx(mean_transit_days(TRUE_MEAN_H), rel=1e-6)
    assert t["T2"]["published"] == pytest.approx(mg1_mean_transit_days(TRUE_FACTOR), rel=1e-6)
    assert parameters[1].scale and parameters[1].originals == [0.5, 1.0, 1.5]
    result = fit_calibration(targets)
    fitted_m, fitted_factor = result.fitted
    lam = arrival_rate_per_h()
    slope_m = 1.0 / (1.0 - lam * TRUE_MEAN_H) ** 2 / 24.0
    slope_f = (mg1_mean_transit_days(TRUE_FACTOR + 1e-4) - mg1_mean_transit_days(TRUE_FACTOR - 1e-4)) / 2e-4
    half_1, half_2 = ci99_half(result.per_replication["T1"][1]), ci99_half(result.per_replication["T2"][1])
    print(f"\n[fit2] m {fitted_m:.4f} h (true {TRUE_MEAN_H}, +-{half_1 / slope_m:.4f}); factor {fitted_factor:.4f} "
          f"(true {TRUE_FACTOR}, +-{half_2 / slope_f:.4f}); {result.evaluations} evaluations ({result.message})")
    assert abs(fitted_m - TRUE_MEAN_H) <= half_1 / slope_m
    assert abs(fitted_factor - TRUE_FACTOR) <= half_2 / slope_f
    assert half_1 <= 0.05 * t["T1"]["published"] and half_2 <= 0.05 * t["T2"]["published"]
    assert not result.table["met_before"].any()  # the priors miss both (by 14% and 10%)
