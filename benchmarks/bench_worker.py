"""One corridor_sim measurement in a fresh process; prints one JSON line (used by run_all.py).

Every measurement that run_all.py reports for corridor_sim is taken by running this script as a
subprocess, so that each starts from a cold interpreter (import costs count, memory peaks are the
measurement's own). It can also be run by hand:

    python benchmarks/bench_worker.py ten      [--days 830]
    python benchmarks/bench_worker.py scenario PATH [--days 365] [--scale 1] [--replications 1]
                                                    [--jobs 1] [--summary-only] [--tracemalloc]
    python benchmarks/bench_worker.py dask     [--tasks 200]

Times are perf_counter seconds: `import_s` (corridor_sim and its dependencies), `load_s` (read and
validate the scenario), `simulate_s` (the replications: model build + run + record arrays; with
jobs > 1 this includes the process pool), `results_s` (building the Results tables); `simulate_cpu_s` and `results_cpu_s` are the CPU
seconds of the same parts (with jobs > 1, the pool workers' too), which a busy machine disturbs less
than wall time. Memory:
`maxrss_mb` (this process's peak resident set), `children_maxrss_mb` (the largest worker's), `tree_peak_mb`
(with jobs > 1: peak of this process plus all its workers' proportional set size, PSS, so that
pages shared after fork() count once, sampled every 50 ms), `base_rss_mb` (RSS after
imports and loading, before simulating), and with --tracemalloc `py_peak_mb` (the peak of Python
and numpy allocations during simulate + results, which tracemalloc slows about 2x: times from such a
run are not reported).
"""

from __future__ import annotations

import time

T_START = time.perf_counter()

import argparse  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import resource  # noqa: E402
import sys  # noqa: E402
import threading  # noqa: E402
from pathlib import Path  # noqa: E402

HERE = Path(__file__).resolve().parent
TEN_STATIONS = HERE / "scenarios" / "ten_stations.yaml"


def _maxrss_mb(who=resource.RUSAGE_SELF) -> float:
    return resource.getrusage(who).ru_maxrss / 1024.0  # Linux: KiB


def _children_cpu_s() -> float:
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)  # workers that have been waited for
    return ru.ru_utime + ru.ru_stime


def _rss_mb() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


class TreeSampler:
    """Peak PSS (else RSS) of this process and all its descendants, sampled in a thread (needs psutil)."""

    def __init__(self, every_s: float = 0.05, enabled: bool = True):
        self.every_s, self.peak_mb, self._stop = every_s, 0.0, threading.Event()
        self._thread = None
        if not enabled:
            return
        try:
            import psutil
        except ImportError:  # the figure is then left out
            self._thread = None
            return
        self._proc = psutil.Process()
        self._psutil = psutil
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def _loop(self) -> None:
        while not self._stop.is_set():
            total = 0
            try:
                procs = [self._proc] + self._proc.children(recursive=True)
                for p in procs:
                    try:  # PSS: pages shared after fork() are split between the processes
                        total += p.memory_full_info().pss
                    except (self._psutil.Error, AttributeError):
                        try:
                            total += p.memory_info().rss
                        except self._psutil.Error:
                            pass
            except self._psutil.Error:
                pass
            self.peak_mb = max(self.peak_mb, total / 2**20)
            self._stop.wait(self.every_s)

    def __enter__(self):
        if self._thread is not None:
            self._thread.start()
        return self

    def __exit__(self, *exc):
        if self._thread is not None:
            self._stop.set()
            self._thread.join()


def load_with(path: str | Path, days: float | None = None, scale: float = 1.0):
    """Load a scenario, optionally with another horizon and every flow's demand multiplied."""
    from corridor_sim.scenario import load_scenario, scenario_from_dict

    scenario = load_scenario(path)
    if days is None and scale == 1.0:
        return scenario
    data = json.loads(json.dumps(scenario.data()))  # a deep copy of the merged plain data
    if days is not None:
        sim = data.setdefault("simulation", {})
        sim["horizon_days"] = float(days)
        if sim.get("warmup_days", 30.0) >= days:
            sim["warmup_days"] = 0.0
    for flow in data.get("demand", []):
        flow["teu_per_year"] = flow["teu_per_year"] * scale
    return scenario_from_dict(data, str(path))


def _timed_task(args):
    """experiments._task, also returning the CPU seconds it took and the process that ran it."""
    from corridor_sim.experiments import _task

    c0 = time.process_time()
    out = _task(args)
    return out, time.process_time() - c0, os.getpid()


def measure(scenario, replications: int, jobs: int, keep_stages, dask: str | None = None,
            trace_memory: bool = False) -> dict:
    """Run replications the way experiments.run does (map_tasks, then Results), timing each part."""
    from corridor_sim.experiments import map_tasks
    from corridor_sim.results import Results

    seed = scenario.simulation.seed
    if keep_stages is True:
        keep = set(range(replications))
    elif keep_stages is False:
        keep = set()
    else:
        keep = set(keep_stages)
    # keep_stages=False is the summary-only mode (CLI --no-shipments): streamed statistics.
    tasks = [(scenario, r, seed, r in keep, keep_stages is False) for r in range(replications)]
    out = {"base_rss_mb": _rss_mb()}
    if trace_memory:
        import tracemalloc

        tracemalloc.start()
    # The sampler thread only runs where there are worker processes to add up (it costs a little
    # GIL time, which would bias serial comparisons); serially the process's own maxrss is the peak.
    with TreeSampler(enabled=jobs > 1 or dask is not None) as tree:
        c0, k0 = time.process_time(), _children_cpu_s()
        t0 = time.perf_counter()
        timed = map_tasks(_timed_task, tasks, jobs=jobs, dask=dask)
        t1 = time.perf_counter()
        outputs = [o for o, _, _ in timed]
        c1, k1 = time.process_time(), _children_cpu_s()
        results = Results(scenario, seed, outputs)
        t2 = time.perf_counter()
        c2 = time.process_time()
    if trace_memory:
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        out["py_peak_mb"] = peak / 2**20
    def counts(s: dict) -> tuple[int, int]:
        if "summary_only" in s:  # streamed statistics: per-flow counters, no per-shipment rows
            return int(s["created_all"].sum()), int(s["delivered_all"].sum())
        return len(s["flow"]), int((s["delivered_h"] == s["delivered_h"]).sum())

    created = sum(counts(o.shipments)[0] for o in outputs)
    delivered = sum(counts(o.shipments)[1] for o in outputs)
    stage_rows = sum(len(o.shipments.get("stage_shipment", ())) for o in outputs)
    # What an idle machine would take: the busiest worker's CPU (tasks are spread as pool.map gave
    # them out), then the parent's Results. On a shared machine this is steadier than wall time.
    per_pid: dict[int, float] = {}
    for _, cpu, pid in timed:
        per_pid[pid] = per_pid.get(pid, 0.0) + cpu
    out.update(task_cpu_s=[c for _, c, _ in timed], busiest_worker_cpu_s=max(per_pid.values()),
               workers_used=len(per_pid), load_avg=os.getloadavg()[0])
    out.update(simulate_s=t1 - t0, results_s=t2 - t1,
               simulate_cpu_s=(c1 - c0) + (k1 - k0), results_cpu_s=c2 - c1, shipments=created, delivered=delivered,
               stage_rows=stage_rows, replications=replications, jobs=jobs,
               maxrss_mb=_maxrss_mb(), children_maxrss_mb=_maxrss_mb(resource.RUSAGE_CHILDREN),
               tree_peak_mb=tree.peak_mb or None, results=results)
    return out


def cmd_ten(args) -> dict:
    t0 = time.perf_counter()
    import corridor_sim.experiments  # noqa: F401
    import corridor_sim.results  # noqa: F401
    import corridor_sim.scenario  # noqa: F401

    t1 = time.perf_counter()
    scenario = load_with(TEN_STATIONS, days=args.days)
    t2 = time.perf_counter()
    m = measure(scenario, 1, 1, (0,))
    results = m.pop("results")
    flow = results.flows.iloc[0]
    return {**m, "engine": "corridor_sim", "import_s": t1 - t0, "load_s": t2 - t1,
            "customers": int(m["delivered"]), "mean_time_in_system_h": float(flow["transit_days_mean"]) * 24.0,
            "startup_s": t0 - T_START}


def cmd_scenario(args) -> dict:
    t0 = time.perf_counter()
    import corridor_sim.experiments  # noqa: F401
    import corridor_sim.results  # noqa: F401

    t1 = time.perf_counter()
    scenario = load_with(args.path, days=args.days, scale=args.scale)
    t2 = time.perf_counter()
    keep = False if args.summary_only else (0,)
    m = measure(scenario, args.replications, args.jobs, keep, trace_memory=args.tracemalloc)
    m.pop("results")
    return {**m, "scenario": scenario.name, "days": scenario.simulation.horizon_days, "scale": args.scale,
            "summary_only": args.summary_only, "import_s": t1 - t0, "load_s": t2 - t1,
            "tracemalloc": args.tracemalloc}


def _noop(x):
    return x


def cmd_dask(args) -> dict:
    """LocalCluster startup, per-task overhead of tiny tasks, and of tiny corridor_sim replications."""
    import logging

    logging.getLogger("distributed").setLevel(logging.ERROR)
    from dask.distributed import Client, LocalCluster

    from corridor_sim.experiments import _task, map_tasks

    out = {}
    t0 = time.perf_counter()
    cluster = LocalCluster(n_workers=args.workers, threads_per_worker=1, processes=True, dashboard_address=None)
    client = Client(cluster)
    client.wait_for_workers(args.workers)
    out["startup_s"] = time.perf_counter() - t0
    try:
        # Warm every worker (first task imports and unpickles) before timing.
        client.gather(client.map(_noop, range(4 * args.workers), pure=False))
        n = args.tasks
        t = time.perf_counter()
        client.gather(client.map(_noop, range(n), pure=False))
        out["noop_tasks"] = n
        out["noop_per_task_ms"] = (time.perf_counter() - t) / n * 1e3
        # A tiny replication: the ten-station network for one simulated day (~40 shipments).
        scenario = load_with(TEN_STATIONS, days=1.0)
        tasks = [(scenario, r, 1, False) for r in range(n)]
        t = time.perf_counter()
        for task in tasks:
            _task(task)
        serial = (time.perf_counter() - t) / n
        map_tasks(_task, tasks[: 2 * args.workers], dask=cluster.scheduler_address)  # warm the imports
        t = time.perf_counter()
        map_tasks(_task, tasks, dask=cluster.scheduler_address)
        dask_wall = time.perf_counter() - t
        out["tiny_replications"] = n
        out["tiny_serial_per_rep_ms"] = serial * 1e3
        # With w workers the ideal wall is n * serial / w; the rest is overhead per replication.
        out["tiny_dask_per_rep_ms"] = dask_wall / n * 1e3
        out["tiny_dask_overhead_per_rep_ms"] = (dask_wall - n * serial / args.workers) / n * 1e3
        # map_tasks opens a Client per call: the cost of that connection, with no tasks at all.
        t = time.perf_counter()
        map_tasks(_task, [], dask=cluster.scheduler_address)
        out["client_connect_s"] = time.perf_counter() - t
    finally:
        t = time.perf_counter()
        client.close()
        cluster.close()
        out["shutdown_s"] = time.perf_counter() - t
    out["workers"] = args.workers
    return out


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description="One corridor_sim benchmark measurement (JSON on stdout).")
    sub = p.add_subparsers(dest="cmd", required=True)
    t = sub.add_parser("ten", help="the ten-station network, one replication, like `run()`")
    t.add_argument("--days", type=float, default=830.0)
    s = sub.add_parser("scenario", help="a scenario file, optionally rescaled")
    s.add_argument("path")
    s.add_argument("--days", type=float, default=None, help="horizon (default: the scenario's)")
    s.add_argument("--scale", type=float, default=1.0, help="multiply every flow's teu_per_year")
    s.add_argument("--replications", type=int, default=1)
    s.add_argument("--jobs", type=int, default=1)
    s.add_argument("--summary-only", action="store_true", help="keep_stages=False (CLI --no-shipments)")
    s.add_argument("--tracemalloc", action="store_true", help="measure the Python allocation peak")
    d = sub.add_parser("dask", help="Dask LocalCluster overheads")
    d.add_argument("--workers", type=int, default=2)
    d.add_argument("--tasks", type=int, default=200)
    args = p.parse_args(argv)
    result = {"ten": cmd_ten, "scenario": cmd_scenario, "dask": cmd_dask}[args.cmd](args)
    result["cmd"] = args.cmd
    print(json.dumps(result))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
