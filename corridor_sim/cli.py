"""The `corridor-sim` command line: subcommands that call the public API and print.

A user error (a bad scenario, a bad option, an existing results folder) is one message on stderr and
exit status 2, with no traceback. A bug keeps its traceback.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sys
from pathlib import Path

from corridor_sim.errors import ScenarioError, UsageError
from corridor_sim.network import CorridorNetwork, RideLeg
from corridor_sim.scenario import load_scenario


def _cmd_validate(args: argparse.Namespace) -> int:
    failed = False
    for path in args.files:
        try:
            scenario = load_scenario(path)
        except ScenarioError as exc:
            print(exc, file=sys.stderr)
            failed = True
            continue
        print(f"OK {path}: {scenario.name} ({len(scenario.network.nodes)} nodes, "
              f"{len(scenario.network.segments)} segments, {len(scenario.services)} services, "
              f"{len(scenario.demand)} flows, {len(scenario.disruptions)} disruptions)")
        _print_fleet_warnings(scenario, path)
    return 2 if failed else 0


def _print_fleet_warnings(scenario, path: str) -> None:
    """Warn (stderr, not an error) about timetables that need more vehicles than their fleet has."""
    from corridor_sim.engine.fleets import fleet_warnings

    for text in fleet_warnings(scenario):
        print(f"warning: {path}: {text}", file=sys.stderr)


def _cmd_routes(args: argparse.Namespace) -> int:
    scenario = load_scenario(args.file)
    network = CorridorNetwork.from_scenario(scenario)
    _print_fleet_warnings(scenario, args.file)
    for flow in scenario.demand:
        for route in network.routes_for(flow):
            exp = route.expected
            share = f"  share {route.share:.0%}" if route.share < 1 else ""
            if flow.choice is not None:  # a candidate of the choice (engine/choice.py), no fixed share
                share = "  choice candidate"
            print(f"{flow.id}: {' -> '.join(route.nodes)}{share}")
            print(f"  {route.length_km:,.0f} km; expected {exp.total_h / 24:.1f} days = "
                  f"travel {exp.travel_h / 24:.1f} + waiting {exp.wait_h / 24:.1f} + handling {exp.handling_h / 24:.1f}")
            print(f"  {'leg':<34} {'mode':<5} {'km':>7} {'travel_h':>9} {'wait_h':>7} {'handling_h':>10}")
            for leg, e in zip(route.legs, route.leg_expected):
                # a ride boards any line of its pool: all are named
                via = (f" on {'|'.join(line.id for line, _, _ in network.pool_lines(*leg.pool_key))}"
                       if isinstance(leg, RideLeg) else "")
                name = f"{leg.origin}->{leg.destination}{via}"
                km = sum(s.length_km for s in leg.segments)
                print(f"  {name:<34} {leg.mode:<5} {km:>7,.0f} {e.travel_h:>9.1f} {e.wait_h:>7.1f} {e.handling_h:>10.1f}")
            last = route.leg_expected[-1]
            print(f"  {'at ' + route.nodes[-1]:<34} {'':<5} {'':>7} {'':>9} {'':>7} {last.handling_h:>10.1f}")
    return 0


def _cmd_run(args: argparse.Namespace) -> int:
    from corridor_sim.experiments import run

    scenario = load_scenario(args.file)
    _check_work(args, scenario)
    if args.stream and args.plots:
        raise UsageError("--plots draws from the full tables, which --stream does not gather: run without --stream")
    out_dir = _experiment_out(args, Path("results") / Path(args.file).stem)
    if args.stream:
        return _run_streamed(args, scenario, out_dir)
    results = run(scenario, replications=args.replications, seed=args.seed, jobs=args.jobs, dask=args.dask,
                  keep_stages=False if args.no_shipments else (0,), progress=None, summary_only=args.no_shipments)
    print(results.format_tables())
    written = results.write(out_dir, command=" ".join(["corridor-sim", *sys.argv[1:]]), force=args.force,
                            shipments=not args.no_shipments, format=args.format)
    print(f"\nResults written to {written}/")
    if args.plots:
        from corridor_sim.geo import write_geojson
        from corridor_sim.plotting import plot_results_dir

        for path in plot_results_dir(written, formats=("png", "svg") if args.svg else ("png",)):
            print(f"  figure {path}")
        for path in write_geojson(results, written / "geojson"):
            print(f"  GeoJSON {path}")
    return 0


def _run_streamed(args: argparse.Namespace, scenario, out_dir: Path) -> int:
    """`run --stream`: replications reduced to per-replication blocks on disk as they complete."""
    from corridor_sim.experiments import run_streamed

    streamed = run_streamed(scenario, out_dir, replications=args.replications, seed=args.seed, jobs=args.jobs,
                            dask=args.dask, summary_only=args.no_shipments, force=args.force, progress=None,
                            command=" ".join(["corridor-sim", *sys.argv[1:]]))
    print(streamed.flows.to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    print(f"\n{streamed.replications} replications streamed to {streamed.folder}/ "
          f"(at most {streamed.max_held} held at once)")
    return 0


def _cmd_export(args: argparse.Namespace) -> int:
    from corridor_sim.geo import write_geojson
    from corridor_sim.plotting import experiment_kind
    from corridor_sim.results_dir import NotApplicable, read_results

    folder = Path(args.folder)
    if not folder.is_dir():
        raise UsageError(f"no results folder {folder}")
    if not args.geojson:
        raise UsageError("nothing to export: give --geojson")
    try:
        if experiment_kind(folder) != "run":
            raise UsageError(f"{folder} is not a run's results folder: only a run's network can be exported")
        paths = write_geojson(read_results(folder), folder / "geojson")
    except (FileNotFoundError, NotApplicable) as exc:
        raise UsageError(str(exc)) from None
    for path in paths:
        print(f"GeoJSON {path}")
    return 0


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _seed(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more (like simulation.seed), got {value}")
    return value


def _add_run_options(p: argparse.ArgumentParser) -> None:
    from corridor_sim.experiments import default_jobs
    from corridor_sim.workload import DEFAULT_MAX_WORK

    p.add_argument("--replications", type=_positive_int, metavar="N", help="replications (default: the scenario's)")
    p.add_argument("--seed", type=_seed, metavar="S", help="seed, 0 or more (default: the scenario's)")
    p.add_argument("--jobs", type=_positive_int, default=default_jobs(), metavar="N",
                   help="worker processes on this machine (default: the number of cores)")
    p.add_argument("--dask", metavar="ADDRESS", help="send replications to this Dask scheduler "
                   "(or set CORRIDOR_SIM_DASK; needs corridor-sim[dask])")
    p.add_argument("--force", action="store_true",
                   help="replace an existing results folder (only one written by corridor-sim, holding nothing else)")
    p.add_argument("--max-work", type=_positive_float, default=DEFAULT_MAX_WORK, metavar="N",
                   help="refuse a run whose estimated shipments, departures, disruption windows and queue samples "
                        f"(all replications) exceed N (default {DEFAULT_MAX_WORK:,}, about an hour on one core)")


def _check_work(args: argparse.Namespace, *scenarios) -> None:
    """Refuse (exit 2) before simulating if a scenario's estimated work is beyond --max-work."""
    from corridor_sim.engine.model import drain_days
    from corridor_sim.workload import check_work

    for scenario in scenarios:
        replications = args.replications or scenario.simulation.replications
        # A run goes on after the horizon for at most its drain (engine/model.py: drain_days).
        span_h = (scenario.simulation.horizon_days + drain_days(scenario)) * 24.0
        check_work(scenario, replications, span_h, args.max_work)


def _experiment_out(args: argparse.Namespace, default: Path) -> Path:
    """The results folder of a command: checked before anything runs, and locked for the run.

    Also checks that a Dask scheduler, if asked for, can be used.
    """
    from corridor_sim.outdir import OutputLock, check_out_dir

    if getattr(args, "dask", None) or os.environ.get("CORRIDOR_SIM_DASK"):
        from corridor_sim.experiments import require_dask

        require_dask()
    if args.out is not None and not args.out.strip():
        raise UsageError("--out must name a folder, not an empty string")
    out_dir = check_out_dir(Path(args.out) if args.out else default, args.force)
    lock = OutputLock(out_dir).acquire()
    stack = getattr(args, "exit_stack", None)
    if stack is not None:
        stack.callback(lock.release)  # released when the command ends, however it ends
    return out_dir


def _write_json(path: Path, doc: dict) -> None:
    import json

    path.write_text(json.dumps(doc, indent=2, default=str))


def _cmd_compare(args: argparse.Namespace) -> int:
    import pandas as pd

    from corridor_sim.experiments import format_compare, run_compare
    from corridor_sim.results import write_folder
    from corridor_sim.scenario.loading import dump_yaml

    base = load_scenario(args.base)
    variants = [load_scenario(v) for v in args.variants]
    _check_work(args, base, *variants)
    out_dir = _experiment_out(args, Path("results") / f"compare-{Path(args.base).stem}")
    df, runs = run_compare(base, variants, replications=args.replications, seed=args.seed, jobs=args.jobs,
                           dask=args.dask, progress=None)
    print(format_compare(df))
    doc = df.attrs["json"]

    def fill(tmp: Path) -> None:
        df.to_csv(tmp / "compare.csv", index=False)
        _write_json(tmp / "compare.json", doc)
        (tmp / "variants").mkdir()
        for i, (path, variant) in enumerate(zip(args.variants, variants), start=1):
            (tmp / "variants" / f"{i}-{Path(path).stem}.yaml").write_text(
                dump_yaml(variant.data(), sort_keys=False, allow_unicode=True))
        names = [doc["base"], *doc["variants"]]
        by_replication = [res.flows_by_replication.assign(scenario=name) for name, res in zip(names, runs)]
        pd.concat(by_replication, ignore_index=True).to_csv(tmp / "flows_by_replication.csv", index=False)
        # Each scenario's own summary and flow table (percentiles, busiest facility) beside the differences.
        pd.concat([res.flows.assign(scenario=name) for name, res in zip(names, runs)],
                  ignore_index=True).to_csv(tmp / "flows.csv", index=False)
        _write_json(tmp / "summaries.json", {name: res.summary() for name, res in zip(names, runs)})

    written = write_folder(out_dir, base, fill, command=" ".join(["corridor-sim", *sys.argv[1:]]), seed=doc["seed"],
                           replications=doc["replications"], force=args.force,
                           extra_meta={"experiment": "compare", "base_file": args.base,
                                       "variant_files": args.variants})
    print(f"\nResults written to {written}/")
    return 0


def _cmd_sweep(args: argparse.Namespace) -> int:
    import pandas as pd

    from corridor_sim.experiments import format_sweep, parse_setting, sweep, sweep_scenarios
    from corridor_sim.results import write_folder

    scenario = load_scenario(args.file)
    settings: dict[str, list] = {}
    for text in args.set:
        key, values = parse_setting(text)
        if key in settings:
            raise UsageError(f"--set {key} given twice")
        settings[key] = values
    points = sweep_scenarios(scenario, settings)  # every key and every point's scenario checked before anything runs
    _check_work(args, *(point for _, point in points))
    out_dir = _experiment_out(args, Path("results") / f"sweep-{Path(args.file).stem}")
    df = sweep(scenario, settings, replications=args.replications, seed=args.seed, jobs=args.jobs, dask=args.dask,
               progress=None)
    print(format_sweep(df))
    doc = df.attrs["json"]

    def fill(tmp: Path) -> None:
        df.to_csv(tmp / "sweep.csv", index=False)
        pd.DataFrame(df.attrs["nodes"]).to_csv(tmp / "sweep_nodes.csv", index=False)
        _write_json(tmp / "sweep.json", doc)

    written = write_folder(out_dir, scenario, fill, command=" ".join(["corridor-sim", *sys.argv[1:]]),
                           seed=scenario.simulation.seed if args.seed is None else args.seed,
                           replications=args.replications or scenario.simulation.replications, force=args.force,
                           extra_meta={"experiment": "sweep", "settings": doc["settings"],
                                       "points": len(doc["points"])})
    print(f"\nResults written to {written}/")
    return 0


def _cmd_capacity(args: argparse.Namespace) -> int:
    from corridor_sim.experiments import capacity, check_flow, format_capacity
    from corridor_sim.results import write_folder

    scenario = load_scenario(args.file)
    check_flow(scenario, args.flow)
    _check_work(args, scenario)
    out_dir = _experiment_out(args, Path("results") / f"capacity-{Path(args.file).stem}-{args.flow}")
    df = capacity(scenario, args.flow, p95_days=args.p95_days, tolerance=args.tolerance,
                  throughput_ratio=args.throughput_ratio, backlog_growth=args.backlog_growth,
                  max_utilization=args.max_utilization,
                  replications=args.replications, seed=args.seed, jobs=args.jobs, dask=args.dask, progress=None)
    print(format_capacity(df))
    doc = df.attrs["json"]

    def fill(tmp: Path) -> None:
        df.to_csv(tmp / "capacity.csv", index=False)
        _write_json(tmp / "capacity.json", doc)

    written = write_folder(out_dir, scenario, fill, command=" ".join(["corridor-sim", *sys.argv[1:]]),
                           seed=doc["seed"], replications=doc["replications"], force=args.force,
                           extra_meta={"experiment": "capacity", "flow": args.flow})
    print(f"\nResults written to {written}/")
    return 0


def _fraction(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1, got {value:g}")
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be greater than 0, got {value:g}")
    return value


def _cmd_plot(args: argparse.Namespace) -> int:
    from corridor_sim.outdir import require_results_folder
    from corridor_sim.plotting import plot_results_dir

    folder = require_results_folder(args.folder)
    with _malformed_results(folder):
        paths = plot_results_dir(folder, formats=("png", "svg") if args.svg else ("png",))
    for path in paths:
        print(f"figure {path}")
    if not paths:
        print(f"no figure applies to {folder}")
    return 0


@contextlib.contextmanager
def _malformed_results(folder: Path):
    """Report results files that cannot be read (edited, truncated, not ours) as a user error."""
    import json

    import pandas as pd

    try:
        yield
    except FileNotFoundError as exc:
        raise UsageError(str(exc)) from None
    except (json.JSONDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise UsageError(f"a results file in {folder} cannot be read ({type(exc).__name__}: {exc}); "
                         f"was it edited or truncated?") from None
    except (KeyError, TypeError, ValueError, IndexError, AttributeError) as exc:
        raise UsageError(f"the results files in {folder} do not have the form corridor-sim writes "
                         f"({type(exc).__name__}: {exc}); was one edited or truncated?") from None


def _cmd_calibrate(args: argparse.Namespace) -> int:
    from corridor_sim.calibration import calibrate, format_table

    if args.fit:
        return _cmd_calibrate_fit(args)

    out_dir = _experiment_out(args, Path("results") / f"calibration-{Path(args.targets).stem}")
    results, table = calibrate(args.targets, replications=args.replications, seed=args.seed, jobs=args.jobs,
                               dask=args.dask)
    text = format_table(table)
    print(text)

    def extra(tmp: Path) -> None:
        table.to_csv(tmp / "calibration.csv", index=False)
        (tmp / "calibration.txt").write_text(text + "\n")

    results.write(out_dir, command=" ".join(["corridor-sim", *sys.argv[1:]]), force=args.force, shipments=False,
                  extra=extra)
    print(f"\nResults written to {out_dir}/")
    passed = int(table["ok"].sum())
    print(f"{passed} of {len(table)} targets within tolerance")
    return 0


def _cmd_calibrate_fit(args: argparse.Namespace) -> int:
    """`calibrate --fit`: fit the uncertain inputs, write the fitted values and the before/after table."""
    from corridor_sim.fitting import (fit_calibration, fit_document, fitted_values_document, format_fit_table,
                                      overlay_document, read_fit_spec)
    from corridor_sim.results import write_folder
    from corridor_sim.scenario.loading import dump_yaml

    _, base, _ = read_fit_spec(args.targets)  # a malformed file fails here, before the folder is taken
    _check_work(args, base)
    out_dir = _experiment_out(args, Path("results") / f"calibration-fit-{Path(args.targets).stem}")
    result = fit_calibration(args.targets, replications=args.replications, seed=args.seed, jobs=args.jobs,
                             dask=args.dask, max_evals=args.max_evals)
    text = format_fit_table(result)
    print(text)
    extends = os.path.relpath(result.scenario_file.resolve(), out_dir.resolve())

    def fill(tmp: Path) -> None:
        _write_json(tmp / "fit.json", fit_document(result))
        (tmp / "fitted_values.yaml").write_text(dump_yaml(fitted_values_document(result), sort_keys=False))
        (tmp / "fitted_scenario.yaml").write_text(
            "# The scenario with the fitted values: corridor-sim run fitted_scenario.yaml\n"
            + dump_yaml(overlay_document(result, base, extends), sort_keys=False, allow_unicode=True))
        result.table.to_csv(tmp / "fit_table.csv", index=False)
        (tmp / "fit_table.txt").write_text(text + "\n")

    write_folder(out_dir, result.fitted_scenario, fill, command=" ".join(["corridor-sim", *sys.argv[1:]]),
                 seed=result.seed, replications=result.replications, force=args.force,
                 extra_meta={"experiment": "calibration-fit"})
    print(f"\nResults written to {out_dir}/")
    return 0


def _cmd_report(args: argparse.Namespace) -> int:
    from corridor_sim.outdir import require_results_folder
    from corridor_sim.report import write_report

    if args.out is not None and not args.out.strip():
        raise UsageError("--out must name a file, not an empty string")
    folder = require_results_folder(args.folder)
    with _malformed_results(folder):
        path = write_report(folder, out=args.out)
    print(f"report written to {path}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="corridor-sim",
        description="Simulate multimodal freight corridors described in scenario YAML files.",
        epilog="Scenario format: docs/scenario-format.md. Exit status 2 means a user error.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("validate", help="check scenario files and print OK or every error",
                       description="Read, merge and check each scenario file; print OK or every error found.")
    p.add_argument("files", nargs="+", metavar="FILE", help="scenario YAML files")
    p.set_defaults(func=_cmd_validate)

    p = sub.add_parser("routes", help="print each flow's route, legs and expected time",
                       description="Print each flow's route: the legs with mode and distance, and the "
                                   "expected time split into travel, waiting for departures and handling.")
    p.add_argument("file", metavar="FILE", help="scenario YAML file")
    p.set_defaults(func=_cmd_routes)

    p = sub.add_parser("run", help="simulate a scenario, print the tables and write a results folder",
                       description="Simulate a scenario's replications, print per-flow transit (mean with 95% CI, "
                                   "p50, p95), throughput, cost and CO2, facility and service statistics, and write "
                                   "summary.json, tables and per-shipment records (Parquet) to a results folder.")
    p.add_argument("file", metavar="FILE", help="scenario YAML file")
    p.add_argument("--out", metavar="DIR", help="results folder (default: results/<scenario file stem>)")
    _add_run_options(p)
    p.add_argument("--no-shipments", action="store_true",
                   help="summary only: stream per-flow statistics, keep no per-shipment rows "
                        "(memory bounded by shipments in flight; percentiles to 0.01 day)")
    p.add_argument("--stream", action="store_true",
                   help="for many replications: write per-replication Parquet blocks as replications complete, "
                        "holding none of them (stream.json and *_by_replication.parquet; see docs/outputs.md)")
    p.add_argument("--format", choices=("parquet", "csv"), default="parquet",
                   help="file format of the per-shipment and stage tables (default: parquet; see docs/outputs.md)")
    p.add_argument("--plots", action="store_true",
                   help="draw the figures into the results folder (and write its network as GeoJSON)")
    p.add_argument("--svg", action="store_true", help="with --plots, also write SVG files")
    p.set_defaults(func=_cmd_run)

    p = sub.add_parser("compare", help="compare variants with a base scenario using common random numbers",
                       description="Run a base scenario and variants with the same seed and replication indices "
                                   "(common random numbers) and report, per flow present in both, the difference "
                                   "(variant minus base) in mean transit days and in throughput, with a paired 95% CI "
                                   "(t interval of per-replication differences), the unpaired (Welch) interval, and "
                                   "whether it is significant (the paired CI excludes 0). Writes compare.csv and "
                                   "compare.json.")
    p.add_argument("base", metavar="BASE", help="base scenario YAML file (its seed and replications are used)")
    p.add_argument("variants", nargs="+", metavar="VARIANT", help="variant scenario YAML files")
    p.add_argument("--out", metavar="DIR", help="results folder (default: results/compare-<base file stem>)")
    _add_run_options(p)
    p.set_defaults(func=_cmd_compare)

    p = sub.add_parser("sweep", help="run a scenario over a grid of parameter values",
                       description="Run a scenario at every combination of the --set values and write sweep.csv "
                                   "(one row per point and flow: the values, transit mean with 95% CI, p95, "
                                   "throughput with 95% CI, busiest facility), sweep_nodes.csv and sweep.json.",
                       epilog="KEY is a dotted path into the scenario: mapping keys by name, list items by id or "
                              "0-based index, e.g. demand.IN-RU.teu_per_year, network.nodes.ASTARA.handling.servers, "
                              "simulation.horizon_days. Values are YAML scalars separated by commas, or ranges "
                              "start:stop[:step] that include stop when it lands on the grid (2:5 = 2,3,4,5; "
                              "1:10:4 = 1,5,9). Every point is validated like a scenario file; all points use the "
                              "same seed.")
    p.add_argument("file", metavar="FILE", help="scenario YAML file")
    p.add_argument("--set", action="append", required=True, metavar="KEY=V1,V2,...",
                   help="a parameter and its values (repeat for a grid)")
    p.add_argument("--out", metavar="DIR", help="results folder (default: results/sweep-<scenario file stem>)")
    _add_run_options(p)
    p.set_defaults(func=_cmd_sweep)

    p = sub.add_parser("capacity", help="find the largest demand of a flow carried in steady state",
                       description="Bisect over the flow's teu_per_year (bracketed by doubling or halving from the "
                                   "scenario's) for the largest demand at which, over the measured window, every "
                                   "flow keeps up (TEU delivered >= --throughput-ratio x TEU created per day), no "
                                   "flow's backlog grows (TEU in transit rising by more than --backlog-growth x TEU "
                                   "created per day on average, with a 95% CI above 0), no facility or segment gate "
                                   "is busier than --max-utilization and, with --p95-days, the flow's p95 transit is "
                                   "within D days. Names the bottleneck (busiest facility, segment gate or service) "
                                   "there and writes capacity.csv (every level tried) and capacity.json.",
                       epilog="A finite run cannot tell a queue close to saturation from an overloaded one, so the "
                              "answer lies somewhat below the true saturation point and never above it (2-5% below "
                              "for a single M/M/1 station over 160 measured days). Use a horizon that spans whole "
                              "cycles of recurring disruptions.")
    p.add_argument("file", metavar="FILE", help="scenario YAML file")
    p.add_argument("--flow", required=True, metavar="ID", help="the flow whose demand is varied")
    p.add_argument("--p95-days", type=_positive_float, metavar="D", help="also require p95 transit <= D days")
    p.add_argument("--tolerance", type=_fraction, default=0.02, metavar="F",
                   help="stop when the bracket is narrower than F x its lower end (default 0.02)")
    p.add_argument("--throughput-ratio", type=_fraction, default=0.97, metavar="R",
                   help="delivered / created TEU per day needed, every flow (default 0.97)")
    p.add_argument("--backlog-growth", type=_fraction, default=0.01, metavar="G",
                   help="largest backlog growth per day as a fraction of demand per day (default 0.01)")
    p.add_argument("--max-utilization", type=_fraction, default=0.98, metavar="U",
                   help="busiest facility or segment gate allowed (default 0.98)")
    p.add_argument("--out", metavar="DIR", help="results folder (default: results/capacity-<file stem>-<flow>)")
    _add_run_options(p)
    p.set_defaults(func=_cmd_capacity)
    p = sub.add_parser("plot", help="draw the figures of a results folder into RESULTS_DIR/figures/",
                       description="Draw every figure that applies to a results folder (a run's: network map, "
                                   "transit distributions, time- and cost-distance, where the time goes, utilisation, "
                                   "queues, throughput; a compare, sweep or capacity folder's chart) into "
                                   "RESULTS_DIR/figures/ as PNG (and SVG with --svg).")
    p.add_argument("folder", metavar="RESULTS_DIR", help="a folder written by run, compare, sweep or capacity")
    p.add_argument("--svg", action="store_true", help="also write SVG files")
    p.set_defaults(func=_cmd_plot)

    p = sub.add_parser("export", help="write a run's network with its results for GIS tools",
                       description="Write a run's network with its results as GeoJSON FeatureCollections "
                                   "(RESULTS_DIR/geojson/nodes.geojson: points with utilisation, mean queue and "
                                   "wait; segments.geojson: lines with TEU per day, path utilisation and mode, sea "
                                   "legs along sea lanes) that QGIS and kepler.gl open. Properties: docs/outputs.md.")
    p.add_argument("folder", metavar="RESULTS_DIR", help="a folder written by run")
    p.add_argument("--geojson", action="store_true", help="write the GeoJSON files")
    p.set_defaults(func=_cmd_export)

    p = sub.add_parser("report", help="write RESULTS_DIR/report.html, one self-contained page",
                       description="Write one self-contained HTML page (figures embedded as PNG, the result "
                                   "tables and the merged scenario) that opens in a browser without a server.")
    p.add_argument("folder", metavar="RESULTS_DIR", help="a folder written by run, compare, sweep or capacity")
    p.add_argument("--out", metavar="FILE", help="where to write the page (default: RESULTS_DIR/report.html)")
    p.set_defaults(func=_cmd_report)

    p = sub.add_parser("calibrate", help="run a scenario against published targets and print the table",
                       description="Run the scenario named in a targets file (every replication's stage rows "
                                   "kept) and print, per target, the published value, the model median with "
                                   "the 2.5-97.5 percent range of shipments and the 95 percent interval of the "
                                   "median across replications, and whether it is within tolerance.")
    p.add_argument("targets", metavar="TARGETS", help="targets YAML file (e.g. scenarios/calibration/instc_2025_targets.yaml)")
    p.add_argument("--out", metavar="DIR", help="results folder (default: results/calibration-<targets stem>, "
                                                "with --fit results/calibration-fit-<targets stem>)")
    p.add_argument("--fit", action="store_true",
                   help="fit the targets file's fit.parameters to its `use: fit` targets (scipy.optimize on common "
                        "random numbers) and print every target before and after on fresh random numbers")
    p.add_argument("--max-evals", type=_positive_int, default=60, metavar="N",
                   help="with --fit, the most simulations (each of all replications) the search may make (default 60)")
    _add_run_options(p)
    p.set_defaults(func=_cmd_calibrate)
    return parser


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised like Ctrl-C so that the same clean-up runs (temporary folder, lock)."""


def _on_sigterm(signum, frame):
    raise Terminated()


def main(argv: list[str] | None = None) -> int:
    """Run the command line; return the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        previous = signal.signal(signal.SIGTERM, _on_sigterm)
    except ValueError:  # not the main thread: leave signals alone
        previous = None
    else:
        # A process started by one that blocks SIGTERM (a pool starting its helpers does, for a
        # moment) inherits the blocked mask: the signal would stay pending and the run go on.
        if hasattr(signal, "pthread_sigmask"):
            signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM, signal.SIGINT})
    try:
        with contextlib.ExitStack() as args.exit_stack:
            return args.func(args)
    except (ScenarioError, UsageError) as exc:
        text = str(exc)
        print(text if text.startswith("error:") else f"error: {text}", file=sys.stderr)
        return 2
    except Terminated:
        print("terminated", file=sys.stderr)
        return 128 + signal.SIGTERM
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
