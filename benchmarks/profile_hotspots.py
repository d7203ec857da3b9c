"""Profile corridor_sim's hot path with cProfile (standard library, no install needed).

    python benchmarks/profile_hotspots.py [--scenario PATH] [--days-ten 830] [--days 365] [--top 25]
                                          [--replications 10] [--results-days 90] [--out DIR]

Profiles, each in this process:
  1. one replication of the ten-station network (benchmarks/scenarios/ten_stations.yaml);
  2. one replication of the base scenario for one simulated year (default: scenarios/instc_2025.yaml
     if it validates, else tests/scenarios/example.yaml);
  3. Results construction for ten replications of the base scenario (90 days), table by table
     (timed, not profiled), against the time the ten replications took to simulate;
  4. import time of corridor_sim and its heavy dependencies, one after the other, in a fresh process.

For 1 and 2 it prints the functions with the largest own time (tottime) as a share of the profiled
total, and the own time grouped by source file. cProfile adds a roughly constant cost per call, so
it inflates many small calls: read the shares as a ranking, and benchmarks/what_if.py for gains.
With --out the raw .prof files are written there (open with `python -m pstats` or snakeviz).
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import os
import pstats
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from bench_worker import TEN_STATIONS, load_with  # noqa: E402
from run_all import default_scenario  # noqa: E402


def _short(filename: str) -> str:
    for marker in ("corridor_sim/", "simpy/", "numpy/", "pandas/", "scipy/"):
        i = filename.rfind(marker)
        if i >= 0:
            return filename[i:]
    if filename.startswith("~") or filename == "":
        return "<built-in>"
    return os.path.basename(filename)


def profile_call(label: str, func, top: int, out_dir: Path | None) -> dict:
    prof = cProfile.Profile()
    gc_s = [0.0, 0]
    started = [0.0]

    def on_gc(phase, info):  # cProfile charges collections to whatever allocated: count them apart
        if phase == "start":
            started[0] = time.perf_counter()
        else:
            gc_s[0] += time.perf_counter() - started[0]
            gc_s[1] += 1

    gc.callbacks.append(on_gc)
    t0 = time.perf_counter()
    prof.enable()
    func()
    prof.disable()
    wall = time.perf_counter() - t0
    gc.callbacks.remove(on_gc)
    stats = pstats.Stats(prof)
    total = stats.total_tt
    rows = []
    by_file: dict[str, float] = defaultdict(float)
    for (filename, line, name), (cc, nc, tt, ct, _callers) in stats.stats.items():
        short = _short(filename)
        rows.append((tt, ct, nc, f"{short}:{line}({name})" if line else f"{name}"))
        key = short if short != "<built-in>" else f"<built-in> {name}"
        by_file[key] += tt
    rows.sort(reverse=True)
    print(f"\n== {label}: {wall:.2f} s under cProfile, {total:.2f} s profiled own time; cyclic GC "
          f"{gc_s[0]:.2f} s in {gc_s[1]} collections ({100 * gc_s[0] / wall:.1f}% of the wall time, spread over "
          f"the allocating functions below)")
    print(f"{'own %':>6} {'cum %':>6} {'calls':>10}  function")
    for tt, ct, nc, name in rows[:top]:
        print(f"{100 * tt / total:6.1f} {100 * ct / total:6.1f} {nc:10d}  {name}")
    print(f"\n   own time by file (top {min(top, 15)})")
    for key, tt in sorted(by_file.items(), key=lambda kv: -kv[1])[: min(top, 15)]:
        print(f"   {100 * tt / total:6.1f}%  {key}")
    if out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True)
        path = out_dir / (label.split(":")[0].replace(" ", "_") + ".prof")
        stats.dump_stats(path)
        print(f"   written {path}")
    return {"wall_s": wall, "top": [(name, 100 * tt / total) for tt, _, _, name in rows[:top]],
            "by_file": {k: 100 * v / total for k, v in by_file.items()}}


def results_breakdown(scenario, replications: int) -> None:
    """Time each Results table against the simulation of the same replications."""
    from corridor_sim.engine.model import run_replication
    from corridor_sim.results import Results

    seed = scenario.simulation.seed
    t0 = time.perf_counter()
    outputs = [run_replication(scenario, r, seed=seed, keep_stages=(r == 0)) for r in range(replications)]
    sim_s = time.perf_counter() - t0
    res = Results.__new__(Results)  # construct step by step to time each table
    res.scenario, res.seed, res.outputs, res.network = scenario, seed, outputs, None
    parts = {}
    t = time.perf_counter()
    from corridor_sim.network import CorridorNetwork

    res.network = CorridorNetwork.from_scenario(scenario)
    res.replications = len(outputs)
    sim = scenario.simulation
    res.horizon_days, res.warmup_days = sim.horizon_days, sim.warmup_days
    res.measured_days = sim.horizon_days - sim.warmup_days
    res._routes = None
    parts["network + routes"] = time.perf_counter() - t
    for name, attr, method in [("shipments table", "shipments", res._shipments_table),
                               ("flows_by_replication", "flows_by_replication", res._flows_by_replication),
                               ("flows table", "flows", res._flows_table),
                               ("nodes table", "nodes", res._nodes_table),
                               ("services table", "services", res._services_table),
                               ("segments table", "segments", res._segments_table)]:
        t = time.perf_counter()
        setattr(res, attr, method())
        parts[name] = time.perf_counter() - t
    t = time.perf_counter()
    res.summary()
    parts["summary()"] = time.perf_counter() - t
    t = time.perf_counter()
    res.format_tables()
    parts["format_tables()"] = time.perf_counter() - t
    t = time.perf_counter()
    Results(scenario, seed, outputs)
    whole = time.perf_counter() - t
    n = sum(len(o.shipments["flow"]) for o in outputs)
    print(f"\n== Results construction, {replications} replications, {n} shipments, "
          f"{len(scenario.demand)} flows: simulate {sim_s:.2f} s; Results(...) {whole:.3f} s "
          f"({100 * whole / sim_s:.1f}% of simulate)")
    for name, s in parts.items():
        print(f"   {s * 1e3:8.1f} ms  {name}")


IMPORT_SEQUENCE = ["numpy", "simpy", "yaml", "pydantic", "networkx", "pandas", "scipy.stats", "corridor_sim"]


def import_breakdown() -> None:
    """Import time of each heavy dependency, in order, in a fresh process, then corridor_sim itself.

    `import corridor_sim` (any of its modules) runs corridor_sim/__init__.py, which imports
    experiments and results, and so pandas and scipy.stats, whatever the program uses.
    """
    code = ("import time, json\nout = {}\nt0 = time.perf_counter()\n"
            f"for name in {IMPORT_SEQUENCE!r}:\n"
            "    t = time.perf_counter(); __import__(name); out[name] = time.perf_counter() - t\n"
            "out['total'] = time.perf_counter() - t0\nprint(json.dumps(out))")
    import json

    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    times = json.loads(proc.stdout.strip().splitlines()[-1])
    print(f"\n== import corridor_sim in a fresh process: {times['total']:.2f} s, one cold run, each "
          f"package after the ones above it")
    for name in IMPORT_SEQUENCE:
        what = " (its own modules, after the above)" if name == "corridor_sim" else ""
        print(f"   {times[name]:6.2f} s  {name}{what}")


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--scenario", default=None, help="base scenario (default: INSTC if valid, else the example)")
    p.add_argument("--days-ten", type=float, default=830.0)
    p.add_argument("--days", type=float, default=365.0, help="horizon of the base scenario runs")
    p.add_argument("--replications", type=int, default=10, help="for the Results breakdown")
    p.add_argument("--results-days", type=float, default=90.0, help="horizon of the Results breakdown runs")
    p.add_argument("--top", type=int, default=25)
    p.add_argument("--out", type=Path, default=None, help="write .prof files here")
    args = p.parse_args(argv)
    from corridor_sim.engine.model import run_replication

    base = args.scenario or str(default_scenario())
    ten = load_with(TEN_STATIONS, days=args.days_ten)
    profile_call("ten_stations: one replication, run_replication()", lambda: run_replication(ten, 0),
                 args.top, args.out)
    scenario = load_with(base, days=args.days)
    print(f"\n(base scenario: {base}, {args.days:g} days)")
    profile_call("base: one replication, run_replication()", lambda: run_replication(scenario, 0),
                 args.top, args.out)
    results_breakdown(load_with(base, days=args.results_days), args.replications)
    import_breakdown()


if __name__ == "__main__":
    main()
