"""The `corridor-sim` command line: subcommands that call the public API and print.

A user error (a bad scenario, a bad option, an existing results folder) is one message on stderr and
exit status 2, with no traceback. A bug keeps its traceback.
"""

from __future__ import annotations

import argparse
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
    return 2 if failed else 0


def _cmd_routes(args: argparse.Namespace) -> int:
    scenario = load_scenario(args.file)
    network = CorridorNetwork.from_scenario(scenario)
    for flow in scenario.demand:
        for route in network.routes_for(flow):
            exp = route.expected
            share = f"  share {route.share:.0%}" if route.share < 1 else ""
            print(f"{flow.id}: {' -> '.join(route.nodes)}{share}")
            print(f"  {route.length_km:,.0f} km; expected {exp.total_h / 24:.1f} days = "
                  f"travel {exp.travel_h / 24:.1f} + waiting {exp.wait_h / 24:.1f} + handling {exp.handling_h / 24:.1f}")
            print(f"  {'leg':<34} {'mode':<5} {'km':>7} {'travel_h':>9} {'wait_h':>7} {'handling_h':>10}")
            for leg, e in zip(route.legs, route.leg_expected):
                via = f" on {leg.line.id}" if isinstance(leg, RideLeg) else ""
                name = f"{leg.origin}->{leg.destination}{via}"
                km = sum(s.length_km for s in leg.segments)
                print(f"  {name:<34} {leg.mode:<5} {km:>7,.0f} {e.travel_h:>9.1f} {e.wait_h:>7.1f} {e.handling_h:>10.1f}")
            last = route.leg_expected[-1]
            print(f"  {'at ' + route.nodes[-1]:<34} {'':<5} {'':>7} {'':>9} {'':>7} {last.handling_h:>10.1f}")
    return 0


def _cmd_run(args: argparse.Namespace) -> int:
    from corridor_sim.experiments import run

    scenario = load_scenario(args.file)
    out_dir = Path(args.out) if args.out else Path("results") / Path(args.file).stem
    if out_dir.exists() and not args.force:
        raise UsageError(f"results folder {out_dir} exists; use --force to replace it or --out to choose another")
    results = run(scenario, replications=args.replications, seed=args.seed, jobs=args.jobs, dask=args.dask,
                  keep_stages=False if args.no_shipments else (0,), progress=None)
    print(results.format_tables())
    written = results.write(out_dir, command=" ".join(["corridor-sim", *sys.argv[1:]]), force=args.force,
                            shipments=not args.no_shipments)
    print(f"\nResults written to {written}/")
    if args.plots:
        from corridor_sim.plotting import plot_results_dir

        for path in plot_results_dir(written, formats=("png", "svg") if args.svg else ("png",)):
            print(f"  figure {path}")
    return 0


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _add_run_options(p: argparse.ArgumentParser) -> None:
    from corridor_sim.experiments import default_jobs

    p.add_argument("--replications", type=_positive_int, metavar="N", help="replications (default: the scenario's)")
    p.add_argument("--seed", type=int, metavar="S", help="seed (default: the scenario's)")
    p.add_argument("--jobs", type=_positive_int, default=default_jobs(), metavar="N",
                   help="worker processes on this machine (default: the number of cores)")
    p.add_argument("--dask", metavar="ADDRESS", help="send replications to this Dask scheduler "
                   "(or set CORRIDOR_SIM_DASK; needs corridor-sim[dask])")
    p.add_argument("--force", action="store_true", help="replace an existing results folder")


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
                       description="Simulate a scenario's replications, print per-flow transit (mean with 95%% CI, "
                                   "p50, p95), throughput, cost and CO2, facility and service statistics, and write "
                                   "summary.json, tables and per-shipment records to a results folder.")
    p.add_argument("file", metavar="FILE", help="scenario YAML file")
    p.add_argument("--out", metavar="DIR", help="results folder (default: results/<scenario file stem>)")
    _add_run_options(p)
    p.add_argument("--no-shipments", action="store_true",
                   help="summary only: keep no per-shipment or per-stage rows (bounded memory)")
    p.add_argument("--plots", action="store_true", help="draw the figures into the results folder")
    p.add_argument("--svg", action="store_true", help="with --plots, also write SVG files")
    p.set_defaults(func=_cmd_run)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command line; return the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except (ScenarioError, UsageError) as exc:
        text = str(exc)
        print(text if text.startswith("error:") else f"error: {text}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
