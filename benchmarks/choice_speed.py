"""Time route and mode choice: the base scenario with `choice` on every flow against without.

    python benchmarks/choice_speed.py [--scenario PATH] [--rounds 3] [--days DAYS] [--at origin]

The with-choice variant is built in memory: every flow gets `choice: {at: ...}` (defaults otherwise:
by time, no logit, no lag) and as candidates its own route(s) followed by the 3 expected-fastest
served routes the network offers across modes (duplicates dropped), so that choosing can keep the
scenario's assignment where it is best. (Dropping the flow's own route would force, say, the Suez
yardstick's freight onto the western route, a different and overloaded corridor, not the cost of
choosing.) The without variant is the scenario with any `choice` removed (candidates without
shares get even shares). Both run one replication in summary-only mode (the CLI's
`run --replications 1 --no-shipments`), alternately (without, with; then with, without; ...), each
timed from building the model to the end of the run. Prints the median seconds (wall and CPU) of
each, the with / without ratio of the medians (target: within 1.3) and the shipments simulated.
The machine may be shared: read CPU time first.

`--interleaved` steps both models in one process (steadier under load, but it understates the ratio:
the two models evict each other's data from the caches, which slows the cheaper one more; the
separate runs are the figure of record, docs/performance.md): both models are built in one process
and advanced alternately a simulated day at a time (`env.run(until=...)`, the order swapped every
day) to the horizon (no drain), the CPU time of each summed over its builds and days, so that the
machine's load falls on both alike. It prints the same lines, for its one round.
"""

from __future__ import annotations

import argparse
import copy
import statistics
import time
from pathlib import Path

from corridor_sim import load_scenario
from corridor_sim.engine.model import CorridorModel
from corridor_sim.network import CorridorNetwork
from corridor_sim.scenario.schema import Scenario

ROOT = Path(__file__).resolve().parent.parent


def with_choice(scenario: Scenario, at: str, among: int = 3) -> Scenario:
    """The scenario with `choice` on every flow: its own route(s), then the network's candidates."""
    network = CorridorNetwork(scenario)
    data = copy.deepcopy(scenario.data())  # the merged data the scenario was built from
    for flow, spec in zip(scenario.demand, data.get("demand", [])):
        own = [{"path": list(r.nodes), "modes": modes_of(r)} for r in network.routes_for(flow)]
        named = tuple(flow.services) if flow.services is not None else None
        offered = [{"path": list(r.nodes), "modes": modes_of(r)}
                   for r in network.candidate_routes(flow.origin, flow.destination, named, among)]
        candidates = []
        for c in own + offered:
            if c not in candidates:
                candidates.append(c)
        spec.pop("route", None)
        spec["routes"] = candidates
        spec["choice"] = {**spec.get("choice", {}), "at": at}
    return validated(data)


def without_choice(scenario: Scenario) -> Scenario:
    """The scenario with any `choice` removed (a `routes` list without shares gets even shares)."""
    data = copy.deepcopy(scenario.data())
    for spec in data.get("demand", []):
        if spec.pop("choice", None) is not None and spec.get("routes"):
            if all(r.get("share") is None for r in spec["routes"]):
                for r in spec["routes"]:
                    r["share"] = 1.0 / len(spec["routes"])
    return validated(data)


def modes_of(route) -> list[str]:
    """The modes a route's legs use (keeps a candidate to them when it is planned again)."""
    return sorted({seg.mode for leg in route.legs for seg in leg.segments})


def validated(data: dict) -> Scenario:
    """A Scenario from plain data, keeping the data (as the loader does) for further variants."""
    scenario = Scenario.model_validate(data)
    scenario._data = data
    return scenario


def timed(scenario: Scenario) -> tuple[float, float, int, int]:
    """(wall s, CPU s, shipments, events) of one summary-only replication, model build included."""
    w0, c0 = time.perf_counter(), time.process_time()
    model = CorridorModel(scenario, replication=0, keep_stages=False, summary_only=True)
    model.run()
    events = next(model.env._eid)  # SimPy's count of scheduled events (private, for reading only)
    return time.perf_counter() - w0, time.process_time() - c0, int(model.recorder.count), events


def interleaved(variants: dict[str, Scenario]) -> dict[str, tuple[float, float, int, int]]:
    """(wall s, CPU s, shipments, events) of each variant, built in one process and advanced
    alternately a simulated day at a time to the horizon (no drain)."""
    wall = {k: 0.0 for k in variants}
    cpu = {k: 0.0 for k in variants}
    models = {}
    for name, scenario in variants.items():
        w0, c0 = time.perf_counter(), time.process_time()
        models[name] = CorridorModel(scenario, replication=0, keep_stages=False, summary_only=True)
        wall[name] += time.perf_counter() - w0
        cpu[name] += time.process_time() - c0
    horizon_h = next(iter(models.values())).horizon_h
    names = list(variants)
    day = 0
    while day * 24.0 < horizon_h:
        day += 1
        for name in (names if day % 2 else names[::-1]):
            w0, c0 = time.perf_counter(), time.process_time()
            models[name].env.run(until=min(day * 24.0, horizon_h))
            wall[name] += time.perf_counter() - w0
            cpu[name] += time.process_time() - c0
    return {k: (wall[k], cpu[k], int(m.recorder.count), next(m.env._eid)) for k, m in models.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", default=str(ROOT / "scenarios" / "instc_2025.yaml"))
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--days", type=float, default=None, help="horizon days (default: the scenario's)")
    parser.add_argument("--at", choices=["origin", "every_transfer"], default="origin")
    parser.add_argument("--interleaved", action="store_true",
                        help="both models in one process, a simulated day each in turn, to the horizon")
    args = parser.parse_args()
    base = load_scenario(args.scenario)
    if args.days is not None:
        data = copy.deepcopy(base.data())
        data.setdefault("simulation", {})["horizon_days"] = args.days
        base = validated(data)
    variants = {"without": without_choice(base), "with": with_choice(base, args.at)}
    times: dict[str, list[tuple[float, float, int]]] = {k: [] for k in variants}
    for i in range(args.rounds if not args.interleaved else 0):
        order = ["without", "with"] if i % 2 == 0 else ["with", "without"]
        for name in order:
            times[name].append(timed(variants[name]))
            print(f"round {i + 1} {name:<8} wall {times[name][-1][0]:7.2f} s  cpu {times[name][-1][1]:7.2f} s", flush=True)
    if args.interleaved:
        for name, run in interleaved(variants).items():
            times[name].append(run)
            print(f"round 1 {name:<8} wall {run[0]:7.2f} s  cpu {run[1]:7.2f} s", flush=True)
    med = {k: (statistics.median(t[0] for t in v), statistics.median(t[1] for t in v), v[0][2], v[0][3])
           for k, v in times.items()}
    for name, (wall, cpu, n, events) in med.items():
        print(f"{name:<8} median wall {wall:7.2f} s  cpu {cpu:7.2f} s  shipments {n}  events {events}")
    print(f"ratio with / without: wall {med['with'][0] / med['without'][0]:.3f}  "
          f"cpu {med['with'][1] / med['without'][1]:.3f}  (target <= 1.3)")
    # Choice changes what is simulated (routes, and so the drain's length): CPU per event separates
    # the chooser's own cost from a different amount of simulation.
    per_event = (med["with"][1] / med["with"][3]) / (med["without"][1] / med["without"][3])
    print(f"events with / without {med['with'][3] / med['without'][3]:.3f}; CPU per event with / without {per_event:.3f}")


if __name__ == "__main__":
    main()
