"""Time the same measurement in two source trees of corridor_sim, alternately: did a change slow it?

    python benchmarks/before_after.py BEFORE_TREE [AFTER_TREE] [--scenario PATH] [--days 365]
                                      [--rounds 3] [--stages]

BEFORE_TREE is a checkout (or `git archive` export) of the code before the change; AFTER_TREE
defaults to this repository. Each round runs `benchmarks/bench_worker.py scenario` once from each
tree, each in a fresh process with its own tree first on PYTHONPATH, in alternating order (before,
after; then after, before; ...). The default measurement is the base scenario's one replication in
summary-only mode (the CLI's `run --replications 1 --no-shipments`); --stages keeps stage rows.
It prints, per tree, the median in-process simulate time (wall and CPU), whole-process wall time
and the shipments simulated (equal counts say both trees simulated the same events), and the
after / before ratios of the medians. The machine is shared: read CPU time first.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def measure(tree: Path, scenario: str, days: float, stages: bool) -> dict:
    """One bench_worker run from `tree`; its JSON plus the whole process's wall time."""
    cmd = [sys.executable, str(tree / "benchmarks" / "bench_worker.py"), "scenario", scenario, "--days", f"{days:g}"]
    if not stages:
        cmd.append("--summary-only")
    env = {**os.environ, "PYTHONPATH": str(tree)}
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=tree, env=env)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed in {tree}:\n{proc.stderr[-2000:]}")
    out = json.loads([ln for ln in proc.stdout.splitlines() if ln.startswith("{")][-1])
    return {**out, "process_wall_s": wall}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("before", type=Path, help="source tree before the change")
    p.add_argument("after", type=Path, nargs="?", default=ROOT, help="source tree after (default: this one)")
    p.add_argument("--scenario", default="scenarios/instc_2025.yaml", help="path inside each tree")
    p.add_argument("--days", type=float, default=365.0)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--stages", action="store_true", help="keep stage rows (default: summary only)")
    args = p.parse_args(argv)
    trees = {"before": args.before.resolve(), "after": args.after.resolve()}
    runs: dict[str, list[dict]] = {k: [] for k in trees}
    for r in range(args.rounds):
        order = ["before", "after"] if r % 2 == 0 else ["after", "before"]
        for name in order:
            out = measure(trees[name], args.scenario, args.days, args.stages)
            runs[name].append(out)
            print(f"round {r + 1} {name:<6} simulate {out['simulate_s']:6.2f} s wall, {out['simulate_cpu_s']:6.2f} s CPU; "
                  f"process {out['process_wall_s']:6.2f} s; {out['shipments']} shipments", file=sys.stderr, flush=True)
    med = {name: {k: statistics.median(x[k] for x in rs) for k in ("simulate_s", "simulate_cpu_s", "process_wall_s")}
           for name, rs in runs.items()}
    print(f"{'tree':<7} {'simulate wall s':>15} {'simulate CPU s':>14} {'process wall s':>14} shipments")
    for name, m in med.items():
        print(f"{name:<7} {m['simulate_s']:15.2f} {m['simulate_cpu_s']:14.2f} {m['process_wall_s']:14.2f} "
              f"{sorted({x['shipments'] for x in runs[name]})}")
    ratios = {k: med["after"][k] / med["before"][k] for k in med["after"]}
    print("after / before (medians of %d): simulate wall %.3f, simulate CPU %.3f, process wall %.3f"
          % (args.rounds, ratios["simulate_s"], ratios["simulate_cpu_s"], ratios["process_wall_s"]))
    print(json.dumps({"medians": med, "ratios": ratios, "rounds": args.rounds, "scenario": args.scenario,
                      "days": args.days, "stages": args.stages}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
