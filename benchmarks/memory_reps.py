"""Parent memory for 1 against 10 replications: `run` + write against the streamed run.

    python benchmarks/memory_reps.py [--scenario PATH] [--days 60] [--jobs 2] [--rounds 1] [--json FILE]
    python benchmarks/memory_reps.py worker HOW MODE N [--scenario PATH] [--days D] [--jobs J]
    python benchmarks/memory_reps.py dask [--replications 1000] [--days 10]

Each measurement runs in a fresh process (`worker`), so its peak resident set (ru_maxrss of that
process only, not of its worker processes) is the measurement's own. HOW is `run` (the CLI's way:
`corridor_sim.run`, then `Results.write` of the folder) or `stream` (`experiments.run_streamed`:
blocks appended to the folder as replications complete); MODE is `default` (per-shipment rows,
shipments written) or `summary` (summary-only). One replication runs in the parent whatever
`--jobs` (a single task is not sent to a pool); ten go to `--jobs` worker processes, so the parent
then gathers and reduces. The target (issue 15): 10 replications within 2x the parent memory of 1.
Rounds alternate the order of the 1- and 10-replication runs; figures are medians over rounds.

`dask` streams a summary-only run of many replications of the small M/M/1 scenario
(tests/scenarios/experiments/mm1.yaml, 10 days) from a LocalCluster of 2 worker processes to a
results folder, and prints its wall time, the parent's peak RSS and the most blocks held at once.
"""

from __future__ import annotations

import argparse
import copy
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
INSTC = ROOT / "scenarios" / "instc_2025.yaml"
TARGET = 2.0


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux: KiB


def _load(path: Path, days: float | None):
    from corridor_sim.scenario import load_scenario, scenario_from_dict

    scenario = load_scenario(path)
    if days is None:
        return scenario
    data = copy.deepcopy(scenario.data())
    sim = data.setdefault("simulation", {})
    sim["horizon_days"] = float(days)
    sim["warmup_days"] = min(float(sim.get("warmup_days", 30.0)), days / 3)
    return scenario_from_dict(data, str(path))


def worker(how: str, mode: str, n: int, scenario_path: Path, days: float | None, jobs: int) -> dict:
    """One measurement in this process: the parent's peak memory and times."""
    import pandas as pd

    import corridor_sim
    from corridor_sim.experiments import run_streamed

    scenario = _load(scenario_path, days)
    base_mb = _peak_mb()
    summary_only = mode == "summary"
    t0, c0 = time.perf_counter(), time.process_time()
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "results"
        if how == "run":
            res = corridor_sim.run(scenario, replications=n, jobs=jobs, summary_only=summary_only,
                                   keep_stages=False if summary_only else (0,))
            res.write(out, shipments=not summary_only)
            shipments = int(res.shipments["measured"].sum())
        else:
            streamed = run_streamed(scenario, out, replications=n, jobs=jobs, summary_only=summary_only)
            shipments = 0 if summary_only else len(pd.read_parquet(out / "shipments.parquet", columns=["replication"]))
            del streamed
        size_mb = sum(p.stat().st_size for p in out.rglob("*") if p.is_file()) / 2**20
    return {"how": how, "mode": mode, "replications": n, "jobs": jobs, "base_mb": base_mb, "peak_mb": _peak_mb(),
            "wall_s": time.perf_counter() - t0, "parent_cpu_s": time.process_time() - c0,
            "shipments": shipments, "folder_mb": size_mb}


def dask_stream(replications: int, days: float) -> dict:
    """A summary-only streamed run of many small replications on a 2-process LocalCluster."""
    from dask.distributed import LocalCluster

    from corridor_sim.experiments import run_streamed

    scenario = _load(ROOT / "tests" / "scenarios" / "experiments" / "mm1.yaml", days)
    base_mb = _peak_mb()
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, \
            tempfile.TemporaryDirectory() as tmp:
        t0, c0 = time.perf_counter(), time.process_time()
        streamed = run_streamed(scenario, Path(tmp) / "results", replications=replications,
                                dask=cluster.scheduler_address)
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        rows = len(streamed.flows_by_replication())
    return {"replications": replications, "days": days, "wall_s": wall, "parent_cpu_s": cpu,
            "rows_on_disk": rows, "max_blocks_held": streamed.max_held, "base_mb": base_mb,
            "peak_mb": _peak_mb()}


def measure(args) -> dict:
    """1 and 10 replications of every (how, mode), alternating, in fresh processes."""
    configs = [(how, mode) for how in ("run", "stream") for mode in ("default", "summary")]
    rows = {}
    for how, mode in configs:
        runs = {1: [], 10: []}
        for r in range(args.rounds):
            for n in ((1, 10) if r % 2 == 0 else (10, 1)):
                cmd = [sys.executable, str(Path(__file__).resolve()), "worker", how, mode, str(n),
                       "--scenario", str(args.scenario), "--jobs", str(args.jobs)]
                if args.days is not None:
                    cmd += ["--days", str(args.days)]
                proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
                if proc.returncode != 0:
                    raise RuntimeError(f"{' '.join(cmd)} failed:\n{proc.stderr[-3000:]}")
                out = json.loads([ln for ln in proc.stdout.splitlines() if ln.startswith("{")][-1])
                runs[n].append(out)
                print(f"  {how:<6} {mode:<8} {n:>2} reps: parent peak {out['peak_mb']:7.1f} MB "
                      f"(after imports {out['base_mb']:.0f} MB), {out['wall_s']:6.1f} s, "
                      f"{out['shipments']:,} shipments written", file=sys.stderr, flush=True)
        one = statistics.median(x["peak_mb"] for x in runs[1])
        ten = statistics.median(x["peak_mb"] for x in runs[10])
        base = statistics.median(x["base_mb"] for x in runs[1] + runs[10])
        rows[f"{how}/{mode}"] = {"peak_1_mb": one, "peak_10_mb": ten, "ratio": ten / one,
                                 "above_imports_ratio": (ten - base) / max(one - base, 1e-9), "base_mb": base,
                                 "met": ten / one <= TARGET, "runs": runs}
    return {"scenario": str(args.scenario.relative_to(ROOT) if args.scenario.is_relative_to(ROOT) else args.scenario),
            "days": args.days, "jobs": args.jobs, "rounds": args.rounds, "target": TARGET, "rows": rows}


def table(result: dict) -> str:
    lines = [f"Parent peak RSS, 1 vs 10 replications ({result['scenario']}, {result['days']} days, "
             f"10 replications on {result['jobs']} processes); target: 10 within {result['target']:g}x of 1",
             f"{'how/mode':<16} {'1 rep MB':>9} {'10 reps MB':>10} {'ratio':>6} {'above imports':>13}  met?"]
    for name, r in result["rows"].items():
        lines.append(f"{name:<16} {r['peak_1_mb']:9.1f} {r['peak_10_mb']:10.1f} {r['ratio']:6.2f} "
                     f"{r['above_imports_ratio']:13.2f}  {'yes' if r['met'] else 'NO'}")
    return "\n".join(lines)


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    if argv and argv[0] == "dask":
        p.add_argument("cmd")
        p.add_argument("--replications", type=int, default=1000)
        p.add_argument("--days", type=float, default=10.0)
        args = p.parse_args(argv)
        print(json.dumps(dask_stream(args.replications, args.days)))
        return 0
    if argv and argv[0] == "worker":
        p.add_argument("cmd")
        p.add_argument("how", choices=["run", "stream"])
        p.add_argument("mode", choices=["default", "summary"])
        p.add_argument("n", type=int)
    p.add_argument("--scenario", type=Path, default=INSTC)
    p.add_argument("--days", type=float, default=60.0, help="horizon (default 60 days)")
    p.add_argument("--jobs", type=int, default=2)
    p.add_argument("--rounds", type=int, default=1)
    p.add_argument("--json", type=Path)
    args = p.parse_args(argv)
    if argv and argv[0] == "worker":
        print(json.dumps(worker(args.how, args.mode, args.n, args.scenario, args.days, args.jobs)))
        return 0
    result = measure(args)
    print(table(result))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
