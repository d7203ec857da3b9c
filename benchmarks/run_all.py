"""corridor_sim benchmarks: every figure of docs/performance.md, by one command.

    python benchmarks/run_all.py [--quick] [--scenario PATH] [--json FILE] [--skip-external] [--skip-dask]

Run it with the project's venv python (e.g. .venv/bin/python). It measures:

  targets    issue 15's targets, each side by side in one run (benchmarks/targets.py): default
             outputs / --no-shipments on the base scenario, the README command's folder size, the
             ten-station network against hand-written SimPy (default and summary-only, whole
             process), this engine against the first version (fb3bce3) on that version's INSTC
             file, and time per shipment x1 / x4 / x16 on a network that carries the demand;

  engine     the ten-station M/M/2 network (benchmarks/scenarios/ten_stations.yaml) in corridor_sim
             against a hand-written SimPy model (benchmarks/baseline_simpy.py), alternately, each
             run as its own process: ratios of whole-process wall time (imports count for both) and
             CPU time, and of in-process simulate time;
  external   the same network in ciw and salabim, as customers/s ratios. They are installed into a
             separate venv (default .bench-venv in the repository, made on first use from
             benchmarks/requirements-bench.txt; never a project dependency);
  base       the base scenario (scenarios/instc_2025.yaml once it validates, else
             tests/scenarios/example.yaml; or --scenario) for one simulated year: one replication
             (wall time, peak memory) and ten replications with jobs=2;
  scaling    the base scenario with every flow's teu_per_year x1, x4, x16: time and memory per
             shipment, with stage rows kept and in summary-only mode (keep_stages=False);
  memory     summary-only peak memory on the stable ten-station network, horizon x1, x4, x16;
  parallel   ten replications serial against jobs=2;
  dask       LocalCluster startup and per-task overheads;
  memory_reps  parent peak RSS for 1 against 10 replications of the base scenario, `run` + write
             and the streamed run, default and summary-only (benchmarks/memory_reps.py; 60 days).

It ends with a table: figure, value, target, met?. Rounds alternate the order of the programs being
compared; ratios are medians of per-round ratios, with the ratio of the fastest runs beside them;
the machine is shared, so read small differences with care.
Horizons: ten-station 830 days; one replication of the base scenario 365 days; ten replications
with jobs=2 365 days; scaling 60 days (so that x16 stays in memory and time); parallel 90 days.
--quick runs fewer rounds and shorter horizons (about 6 minutes instead of about 25 on the INSTC
scenario). Wall and CPU time are both reported: on a shared machine CPU time is the steadier.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
import targets  # noqa: E402  (benchmarks/targets.py: issue 15's ratios)

INSTC = ROOT / "scenarios" / "instc_2025.yaml"
EXAMPLE = ROOT / "tests" / "scenarios" / "example.yaml"
DEFAULT_BENCH_VENV = Path(os.environ.get("CORRIDOR_SIM_BENCH_VENV",
                                          Path(__file__).resolve().parent.parent / ".bench-venv"))
PY = sys.executable


# ---------------------------------------------------------------------- helpers


def default_scenario() -> Path:
    """The INSTC base scenario if it exists and validates, else the example scenario."""
    if INSTC.exists():
        proc = subprocess.run([PY, "-m", "corridor_sim", "validate", str(INSTC)], capture_output=True, text=True)
        if proc.returncode == 0:
            return INSTC
        print(f"note: {INSTC.relative_to(ROOT)} does not validate yet; using {EXAMPLE.relative_to(ROOT)}",
              file=sys.stderr)
    return EXAMPLE


def run_json(cmd: list[str]) -> tuple[dict, float, float]:
    """Run a command that prints one JSON line last; return (its dict, wall s, CPU s of the process tree)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    return json.loads(lines[-1]), wall, cpu


def med(values) -> float:
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else float("nan")


def ensure_bench_venv(venv: Path) -> Path | None:
    """The benchmark venv's python with ciw and salabim, created on first use; None if impossible."""
    py = venv / "bin" / "python"
    check = [str(py), "-c", "import ciw, salabim, simpy"]
    if py.exists() and subprocess.run(check, capture_output=True).returncode == 0:
        return py
    print(f"creating the benchmark venv {venv} (ciw, salabim; not project dependencies) ...", file=sys.stderr)
    base = getattr(sys, "_base_executable", None) or "python3"
    steps = [[base, "-m", "venv", str(venv)],
             [str(py), "-m", "pip", "install", "-q", "-r", str(HERE / "requirements-bench.txt")]]
    for step in steps:
        if subprocess.run(step).returncode != 0:
            print(f"warning: could not set up {venv}; ciw and salabim are skipped", file=sys.stderr)
            return None
    return py if subprocess.run(check, capture_output=True).returncode == 0 else None


def machine() -> dict:
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_gb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    versions = {}
    for mod in ("simpy", "numpy", "pandas", "scipy", "pydantic", "dask", "distributed"):
        try:
            versions[mod] = __import__(mod).__version__
        except Exception:  # noqa: BLE001 - informative only
            versions[mod] = None
    return {"cpu": cpu, "cores": os.cpu_count(), "memory_gb": round(mem_gb, 1),
            "python": platform.python_version(), "platform": platform.platform(), **versions}


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# ---------------------------------------------------------------------- sections


def bench_engine(args, bench_py: Path | None) -> dict:
    """Ten-station network: corridor_sim vs baseline (and ciw, salabim), alternating, medians."""
    days = args.days_ten
    progs = {
        "corridor_sim": [PY, str(HERE / "bench_worker.py"), "ten", "--days", str(days)],
        "baseline": [PY, str(HERE / "baseline_simpy.py"), "--days", str(days)],
    }
    if bench_py is not None:
        progs["ciw"] = [str(bench_py), str(HERE / "bench_ext_ciw.py"), "--days", str(days)]
        progs["salabim"] = [str(bench_py), str(HERE / "bench_ext_salabim.py"), "--days", str(days)]
    runs: dict[str, list] = {k: [] for k in progs}
    names = list(progs)
    for r in range(args.rounds):
        order = names[r % len(names):] + names[: r % len(names)]
        if r % 2:
            order = order[::-1]
        for name in order:
            if name in ("ciw", "salabim") and r >= args.ext_rounds:
                continue
            out, wall, cpu = run_json(progs[name])
            runs[name].append({**out, "wall_s": wall, "cpu_s": cpu})
            log(f"  engine round {r + 1}/{args.rounds} {name:<13} wall {wall:6.2f} s  "
                f"simulate {out['simulate_s']:6.2f} s  customers {out['customers']}")
    summary = {"days": days, "rounds": args.rounds, "runs": runs}
    for name, rs in runs.items():
        if not rs:
            continue
        sim = med([x["simulate_s"] for x in rs])
        customers = med([x["customers"] for x in rs])
        summary[name] = {"wall_s": med([x["wall_s"] for x in rs]), "cpu_s": med([x["cpu_s"] for x in rs]),
                         "simulate_s": sim, "customers": customers, "customers_per_s": customers / sim,
                         "customers_per_s_whole": customers / med([x["wall_s"] for x in rs]),
                         "mean_time_in_system_h": med([x["mean_time_in_system_h"] for x in rs]),
                         "import_s": med([x.get("import_s") for x in rs]),
                         "simulate_cpu_s": med([x.get("simulate_cpu_s") for x in rs]),
                         "results_s": med([x.get("results_s") for x in rs])}
    c, b = summary["corridor_sim"], summary["baseline"]
    # Ratios of medians; per-round ratios (same round, adjacent in time) as a check on noise.
    pairs = list(zip(runs["corridor_sim"], runs["baseline"]))
    # Primary: the median of per-round ratios (the two programs ran back to back, under about the
    # same load). Beside it, the ratio of the fastest runs (the least disturbed by other processes).
    summary["ratio_whole_wall"] = med([x["wall_s"] / y["wall_s"] for x, y in pairs])
    summary["ratio_whole_cpu"] = med([x["cpu_s"] / y["cpu_s"] for x, y in pairs])
    summary["ratio_simulate"] = med([x["simulate_s"] / y["simulate_s"] for x, y in pairs])
    fastest = {k: min(x["simulate_s"] for x in rs) for k, rs in runs.items() if rs}
    summary["ratio_whole_wall_fastest"] = (min(x["wall_s"] for x in runs["corridor_sim"])
                                           / min(x["wall_s"] for x in runs["baseline"]))
    summary["ratio_whole_cpu_fastest"] = (min(x["cpu_s"] for x in runs["corridor_sim"])
                                          / min(x["cpu_s"] for x in runs["baseline"]))
    summary["ratio_simulate_fastest"] = fastest["corridor_sim"] / fastest["baseline"]
    summary["ratio_simulate_plus_results"] = (c["simulate_s"] + c["results_s"]) / b["simulate_s"]
    summary["ratio_whole_wall_per_round"] = [x["wall_s"] / y["wall_s"] for x, y in pairs]
    summary["ratio_simulate_per_round"] = [x["simulate_s"] / y["simulate_s"] for x, y in pairs]
    for ext in ("ciw", "salabim"):
        if ext in summary:
            e = summary[ext]
            summary[f"speed_vs_{ext}"] = c["customers_per_s"] / e["customers_per_s"]
            summary[f"speed_vs_{ext}_fastest"] = ((runs["corridor_sim"][0]["customers"] / fastest["corridor_sim"])
                                                  / (runs[ext][0]["customers"] / fastest[ext]))
            summary[f"speed_vs_{ext}_whole"] = c["customers_per_s_whole"] / e["customers_per_s_whole"]
    return summary


def worker(*extra: str) -> list[str]:
    return [PY, str(HERE / "bench_worker.py"), "scenario", *extra]


def bench_base(args, scenario: Path) -> dict:
    """One simulated year of the base scenario: one replication; ten with jobs=2."""
    days = str(args.days)
    one = []
    for r in range(args.base_rounds):
        out, wall, cpu = run_json(worker(str(scenario), "--days", days))
        one.append({**out, "wall_s": wall, "cpu_s": cpu})
        log(f"  base 1 replication round {r + 1}: wall {wall:.2f} s, simulate {out['simulate_s']:.2f} s, "
            f"{out['shipments']} shipments, maxrss {out['maxrss_mb']:.0f} MB")
    traced = run_json(worker(str(scenario), "--days", days, "--tracemalloc"))[0] if args.tracemalloc else {}
    ten, wall10, cpu10 = run_json(worker(str(scenario), "--days", str(args.ten_days), "--replications", "10",
                                         "--jobs", "2"))
    log(f"  base 10 replications jobs=2: wall {wall10:.2f} s, tree peak {ten['tree_peak_mb']:.0f} MB")
    return {
        "scenario": str(scenario.relative_to(ROOT)) if scenario.is_relative_to(ROOT) else str(scenario),
        "days": args.days, "shipments": one[0]["shipments"],
        "one_wall_s": med([x["wall_s"] for x in one]), "one_cpu_s": med([x["cpu_s"] for x in one]),
        "one_simulate_s": med([x["simulate_s"] for x in one]),
        "one_results_s": med([x["results_s"] for x in one]),
        "one_import_s": med([x["import_s"] for x in one]),
        "one_maxrss_mb": med([x["maxrss_mb"] for x in one]),
        "one_base_rss_mb": med([x["base_rss_mb"] for x in one]),
        "one_py_peak_mb": traced.get("py_peak_mb"), "ten_days": args.ten_days,
        "ten_jobs2_wall_s": wall10, "ten_jobs2_cpu_s": cpu10, "ten_jobs2_simulate_s": ten["simulate_s"], "ten_jobs2_results_s": ten["results_s"],
        "ten_jobs2_tree_peak_mb": ten["tree_peak_mb"], "ten_jobs2_parent_maxrss_mb": ten["maxrss_mb"],
        "ten_jobs2_worker_maxrss_mb": ten["children_maxrss_mb"], "ten_shipments": ten["shipments"],
    }


def bench_scaling(args, scenario: Path) -> dict:
    """Demand x1, x4, x16: time and memory per shipment, stages kept and summary-only."""
    rows = []
    for mode in ("stages", "summary"):
        flag = ["--summary-only"] if mode == "summary" else []
        for scale in args.scales:
            base = [str(scenario), "--days", str(args.scale_days), "--scale", str(scale), *flag]
            timed = []
            for _ in range(args.scale_rounds):
                out, wall, _ = run_json(worker(*base))
                timed.append(out)
            traced = run_json(worker(*base, "--tracemalloc"))[0] if args.tracemalloc else {}
            n = timed[0]["shipments"]
            row = {"mode": mode, "scale": scale, "shipments": n, "delivered": timed[0]["delivered"],
                   "stage_rows": timed[0]["stage_rows"],
                   "simulate_s": med([x["simulate_s"] for x in timed]),
                   "simulate_cpu_s": med([x["simulate_cpu_s"] for x in timed]),
                   "results_s": med([x["results_s"] for x in timed]),
                   "maxrss_mb": med([x["maxrss_mb"] for x in timed]),
                   "base_rss_mb": med([x["base_rss_mb"] for x in timed]),
                   "py_peak_mb": traced.get("py_peak_mb")}
            row["us_per_shipment"] = row["simulate_s"] / n * 1e6
            row["cpu_us_per_shipment"] = row["simulate_cpu_s"] / n * 1e6
            row["us_per_shipment_with_results"] = (row["simulate_s"] + row["results_s"]) / n * 1e6
            row["rss_growth_mb"] = row["maxrss_mb"] - row["base_rss_mb"]
            row["rss_bytes_per_shipment"] = row["rss_growth_mb"] * 2**20 / n
            if row["py_peak_mb"] is not None:
                row["py_bytes_per_shipment"] = row["py_peak_mb"] * 2**20 / n
            rows.append(row)
            log(f"  scaling {mode:<7} x{scale:<3g} {n:7d} shipments  {row['us_per_shipment']:6.1f} us/shipment "
                f"(CPU {row['cpu_us_per_shipment']:6.1f})  peak RSS {row['maxrss_mb']:.0f} MB, "
                f"+{row['rss_growth_mb']:.0f} MB over the loaded scenario ({row['rss_bytes_per_shipment']:.0f} B/shipment)")
    return {"days": args.scale_days, "rows": rows}


def bench_memory(args) -> dict:
    """Summary-only memory against shipments on a stable network: the ten-station horizon x1, x4, x16.

    Scaling the base scenario's demand overloads it, so shipments in transit (each a live process
    with its events) pile up whatever is recorded; on the ten-station network (rho = 0.8) the
    number in transit stays bounded and only what is kept per shipment can grow.
    """
    rows = []
    for k in (1, 4, 16):
        days = args.mem_days * k / 16
        out, _, _ = run_json(worker(str(HERE / "scenarios" / "ten_stations.yaml"), "--days", f"{days:g}",
                                    "--summary-only"))
        row = {"days": days, "shipments": out["shipments"], "in_transit": out["shipments"] - out["delivered"],
               "maxrss_mb": out["maxrss_mb"], "rss_growth_mb": out["maxrss_mb"] - out["base_rss_mb"]}
        row["rss_bytes_per_shipment"] = row["rss_growth_mb"] * 2**20 / row["shipments"]
        rows.append(row)
        log(f"  memory summary-only ten-station {days:6.1f} d: {row['shipments']:6d} shipments, "
            f"{row['in_transit']} in transit at the end, peak RSS +{row['rss_growth_mb']:.1f} MB")
    return {"rows": rows}


def bench_memory_reps(args, scenario: Path) -> dict:
    """Parent peak RSS for 1 against 10 replications (benchmarks/memory_reps.py, fresh processes)."""
    import memory_reps

    opts = argparse.Namespace(scenario=scenario, days=args.reps_days, jobs=2, rounds=1)
    return memory_reps.measure(opts)


def bench_parallel(args, scenario: Path) -> dict:
    """Ten replications serial vs jobs=2, alternating, medians of in-process time."""
    serial, par = [], []
    for r in range(args.par_rounds):
        order = [("serial", "1"), ("jobs2", "2")]
        if r % 2:
            order.reverse()
        for name, jobs in order:
            out, wall, _ = run_json(worker(str(scenario), "--days", str(args.par_days), "--replications", "10",
                                           "--jobs", jobs))
            (serial if name == "serial" else par).append({**out, "wall_s": wall})
            log(f"  parallel round {r + 1} {name:<6}: simulate {out['simulate_s']:.2f} s + results "
                f"{out['results_s']:.2f} s (process {wall:.2f} s); replication CPU median "
                f"{med(out['task_cpu_s']):.2f} s, busiest worker {out['busiest_worker_cpu_s']:.1f} s; "
                f"load average {out['load_avg']:.1f}")
    s_run = med([x["simulate_s"] + x["results_s"] for x in serial])
    p_run = med([x["simulate_s"] + x["results_s"] for x in par])
    # Idle-machine estimate from CPU time: serial CPU over (busiest worker's CPU + parent's Results).
    s_cpu = med([x["simulate_cpu_s"] + x["results_cpu_s"] for x in serial])
    p_crit = med([x["busiest_worker_cpu_s"] + x["results_cpu_s"] for x in par])
    return {"days": args.par_days, "rounds": args.par_rounds,
            "speedup_cpu_estimate": s_cpu / p_crit, "serial_cpu_s": s_cpu, "jobs2_critical_cpu_s": p_crit,
            "serial_task_cpu_s": med([med(x["task_cpu_s"]) for x in serial]),
            "jobs2_task_cpu_s": med([med(x["task_cpu_s"]) for x in par]),
            "load_avg": [x["load_avg"] for x in serial + par],
            "serial_run_s": s_run, "jobs2_run_s": p_run, "speedup_run": s_run / p_run,
            "speedup_simulate": med([x["simulate_s"] for x in serial]) / med([x["simulate_s"] for x in par]),
            "speedup_whole": med([x["wall_s"] for x in serial]) / med([x["wall_s"] for x in par]),
            "serial_wall_s": med([x["wall_s"] for x in serial]), "jobs2_wall_s": med([x["wall_s"] for x in par])}


def bench_dask(args) -> dict:
    out, wall, _ = run_json([PY, str(HERE / "bench_worker.py"), "dask", "--tasks", str(args.dask_tasks)])
    out["process_wall_s"] = wall
    log(f"  dask: startup {out['startup_s']:.2f} s, no-op task {out['noop_per_task_ms']:.2f} ms, "
        f"tiny replication overhead {out['tiny_dask_overhead_per_rep_ms']:.1f} ms")
    return out


# ---------------------------------------------------------------------- table


def table(res: dict) -> list[tuple[str, str, str, str]]:
    rows = []

    def add(figure, value, target="", met=None):
        rows.append((figure, value, target, "" if met is None else ("yes" if met else "NO")))

    e = res.get("engine")
    if e:
        c, b = e["corridor_sim"], e["baseline"]
        add(f"ten-station ({e['days']:g} d): corridor_sim / SimPy baseline, whole process, wall",
            f"{e['ratio_whole_wall']:.2f}x (fastest runs {e['ratio_whole_wall_fastest']:.2f}x; medians "
            f"{c['wall_s']:.2f} / {b['wall_s']:.2f} s)", "<= 1.5x", e["ratio_whole_wall"] <= 1.5)
        add("  same, whole process, CPU", f"{e['ratio_whole_cpu']:.2f}x (fastest runs {e['ratio_whole_cpu_fastest']:.2f}x; "
            f"medians {c['cpu_s']:.2f} / {b['cpu_s']:.2f} s)", "<= 1.5x", e["ratio_whole_cpu"] <= 1.5)
        add("  same, in-process simulate only, wall",
            f"{e['ratio_simulate']:.2f}x (fastest runs {e['ratio_simulate_fastest']:.2f}x; medians "
            f"{c['simulate_s']:.2f} / {b['simulate_s']:.2f} s)", "<= 1.5x", e["ratio_simulate"] <= 1.5)
        add("  corridor_sim import (in its process)", f"{c['import_s']:.2f} s")
        for ext in ("ciw", "salabim"):
            if f"speed_vs_{ext}" in e:
                x = e[ext]
                add(f"  customers/s corridor_sim / {ext}, simulate",
                    f"{e[f'speed_vs_{ext}']:.2f}x (fastest runs {e[f'speed_vs_{ext}_fastest']:.2f}x; medians "
                    f"{c['customers_per_s']:.0f} / {x['customers_per_s']:.0f})",
                    "> 1x", e[f"speed_vs_{ext}"] > 1)
                add(f"  customers/s corridor_sim / {ext}, whole process", f"{e[f'speed_vs_{ext}_whole']:.2f}x",
                    "> 1x", e[f"speed_vs_{ext}_whole"] > 1)
        add("  mean time in system, h (analytic 27.78)",
            ", ".join(f"{k} {v['mean_time_in_system_h']:.2f}" for k, v in e.items()
                      if isinstance(v, dict) and "mean_time_in_system_h" in v))
    b = res.get("base")
    if b:
        add(f"base {b['scenario']}, {b['days']:g} d, 1 replication, whole process",
            f"{b['one_wall_s']:.1f} s wall, {b['one_cpu_s']:.1f} s CPU (import {b['one_import_s']:.1f}, "
            f"simulate {b['one_simulate_s']:.1f}, results {b['one_results_s']:.2f}); {b['shipments']} shipments",
            "< 10 s", b["one_wall_s"] < 10)
        extra = f"; Python peak {b['one_py_peak_mb']:.0f} MB" if b.get("one_py_peak_mb") else ""
        add("  peak memory, 1 replication",
            f"{b['one_maxrss_mb']:.0f} MB RSS ({b['one_base_rss_mb']:.0f} after imports and loading){extra}")
        add(f"  10 replications, jobs=2, {b['ten_days']:g} d: whole process",
            f"{b['ten_jobs2_wall_s']:.1f} s wall, {b['ten_jobs2_cpu_s']:.1f} s CPU; {b['ten_shipments']} shipments")
        add("  peak memory, 10 replications jobs=2",
            f"{b['ten_jobs2_tree_peak_mb']:.0f} MB PSS all processes (parent {b['ten_jobs2_parent_maxrss_mb']:.0f} "
            f"MB RSS, largest worker {b['ten_jobs2_worker_maxrss_mb']:.0f} MB RSS)")
    s = res.get("scaling")
    if s:
        for mode, label in (("stages", "stage rows kept"), ("summary", "summary-only")):
            rs = [r for r in s["rows"] if r["mode"] == mode]
            if not rs:
                continue
            scales = "/x".join(f"{r['scale']:g}" for r in rs)
            per = [r["us_per_shipment"] for r in rs]
            cpu = [r["cpu_us_per_shipment"] for r in rs]
            spread, cpu_spread = max(per) / min(per), max(cpu) / min(cpu)
            add(f"time per shipment x{scales}, {label}, {s['days']:g} d, wall",
                " / ".join(f"{p:.0f}" for p in per) + f" us (max/min {spread:.2f})", "flat within 25%",
                spread <= 1.25)
            add("  same, CPU", " / ".join(f"{p:.0f}" for p in cpu) + f" us (max/min {cpu_spread:.2f})",
                "flat within 25%", cpu_spread <= 1.25)
            add(f"  peak RSS, {label}", " / ".join(f"{r['maxrss_mb']:.0f}" for r in rs) + " MB; growth per shipment "
                + " / ".join(f"{r['rss_bytes_per_shipment']:.0f}" for r in rs) + " B")
            if mode == "summary":
                growth = rs[-1]["rss_growth_mb"] / max(rs[0]["rss_growth_mb"], 1.0)
                add(f"  summary-only memory growth x{rs[-1]['scale']:g} / x{rs[0]['scale']:g} "
                    "(peak RSS over the loaded scenario)",
                    f"{growth:.1f}x ({rs[0]['rss_growth_mb']:.0f} -> {rs[-1]['rss_growth_mb']:.0f} MB)",
                    "not growing (<= 1.25x)", growth <= 1.25)
    mem = res.get("memory")
    if mem:
        rs = mem["rows"]
        growth = rs[-1]["rss_growth_mb"] / max(rs[0]["rss_growth_mb"], 1.0)
        add("summary-only memory, ten-station (stable), horizon x1/x4/x16",
            " / ".join(f"+{r['rss_growth_mb']:.0f}" for r in rs) + f" MB for "
            + " / ".join(f"{r['shipments']}" for r in rs) + f" shipments ({growth:.1f}x; "
            f"{rs[-1]['rss_bytes_per_shipment']:.0f} B/shipment)", "not growing (<= 1.25x)", growth <= 1.25)
    p = res.get("parallel")
    if p:
        add(f"10 replications, {p['days']:g} d: serial / jobs=2, run() in process, wall",
            f"{p['speedup_run']:.2f}x ({p['serial_run_s']:.1f} / {p['jobs2_run_s']:.1f} s)", ">= 1.8x",
            p["speedup_run"] >= 1.8)
        add("  same, whole process, wall", f"{p['speedup_whole']:.2f}x ({p['serial_wall_s']:.1f} / {p['jobs2_wall_s']:.1f} s)")
        add("  idle-machine estimate from CPU (serial CPU / busiest worker + Results)",
            f"{p['speedup_cpu_estimate']:.2f}x ({p['serial_cpu_s']:.1f} / {p['jobs2_critical_cpu_s']:.1f} s); "
            f"CPU per replication serial {p['serial_task_cpu_s']:.2f} s, in a worker {p['jobs2_task_cpu_s']:.2f} s",
            ">= 1.8x", p["speedup_cpu_estimate"] >= 1.8)
        add("  load average during these runs", " ".join(f"{x:.1f}" for x in p["load_avg"]))
    mr = res.get("memory_reps")
    if mr:
        for name, r in mr["rows"].items():
            add(f"parent peak RSS 10 / 1 replications, {name}, {mr['days']:g} d",
                f"{r['ratio']:.2f}x ({r['peak_1_mb']:.0f} -> {r['peak_10_mb']:.0f} MB)", "<= 2x", r["met"])
    d = res.get("dask")
    if d:
        add("Dask LocalCluster (2 worker processes): startup", f"{d['startup_s']:.2f} s (shutdown {d['shutdown_s']:.2f} s)")
        add("  per no-op task", f"{d['noop_per_task_ms']:.2f} ms")
        add("  per tiny replication, beyond ideal 2-way parallel", f"{d['tiny_dask_overhead_per_rep_ms']:.1f} ms "
            f"(serial {d['tiny_serial_per_rep_ms']:.1f} ms, on Dask {d['tiny_dask_per_rep_ms']:.1f} ms per rep)")
        add("  Client connect per map_tasks call", f"{d['client_connect_s']:.2f} s")
    return rows


def print_table(rows) -> None:
    w0 = max(len(r[0]) for r in rows)
    w1 = max(len(r[1]) for r in rows)
    w2 = max(len(r[2]) for r in rows)
    print(f"\n{'figure':<{w0}}  {'value':<{w1}}  {'target':<{w2}}  met?")
    print("-" * (w0 + w1 + w2 + 10))
    for f, v, t, m in rows:
        print(f"{f:<{w0}}  {v:<{w1}}  {t:<{w2}}  {m}")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    p.add_argument("--quick", action="store_true", help="fewer rounds, shorter horizons")
    p.add_argument("--scenario", type=Path, default=None,
                   help="base scenario (default: scenarios/instc_2025.yaml if it validates, else the example)")
    p.add_argument("--bench-venv", type=Path, default=DEFAULT_BENCH_VENV,
                   help="venv for ciw and salabim (default .bench-venv in the repository, or $CORRIDOR_SIM_BENCH_VENV)")
    p.add_argument("--skip-external", action="store_true", help="leave out ciw and salabim")
    p.add_argument("--skip-dask", action="store_true", help="leave out the Dask overheads")
    p.add_argument("--only", nargs="+", choices=["targets", "engine", "base", "scaling", "memory", "parallel", "dask",
                                                    "memory_reps"],
                   help="run only these sections")
    p.add_argument("--targets", nargs="+", choices=list(targets.SECTIONS), default=None,
                   help="which of issue 15's targets the targets section measures (default: all)")
    p.add_argument("--tracemalloc", action="store_true",
                   help="also measure Python allocation peaks (extra runs, each about 2x slower)")
    p.add_argument("--json", type=Path, help="also write every measurement to this JSON file")
    args = p.parse_args(argv)
    quick = args.quick
    args.rounds = 3 if quick else 5          # corridor_sim and baseline runs on the ten-station network
    args.ext_rounds = 1 if quick else 3      # ciw and salabim runs (slower)
    args.days_ten = 200.0 if quick else 830.0
    args.days = 365.0                        # "one simulated year", one replication
    args.base_rounds = 1
    args.ten_days = 60.0 if quick else 365.0  # ten replications with jobs=2
    args.scales = [1, 4, 16]
    args.scale_days = 20.0 if quick else 60.0
    args.scale_rounds = 1
    args.mem_days = 830.0                    # ten-station horizons 52, 208, 830 days (cheap)
    args.par_days = 30.0 if quick else 90.0
    args.par_rounds = 1 if quick else 2
    args.dask_tasks = 100 if quick else 200
    args.reps_days = 30.0 if quick else 60.0  # memory_reps: 1 vs 10 replications
    sections = set(args.only or ["targets", "engine", "base", "scaling", "memory", "parallel", "dask", "memory_reps"])
    if args.skip_dask:
        sections.discard("dask")

    scenario = (args.scenario.resolve() if args.scenario else default_scenario())
    import hashlib

    git = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=ROOT)
    dirty = subprocess.run(["git", "status", "--porcelain", "corridor_sim"], capture_output=True, text=True, cwd=ROOT)
    res: dict = {"machine": machine(), "quick": quick, "scenario": str(scenario),
                 "scenario_md5": hashlib.md5(scenario.read_bytes()).hexdigest(),
                 "git": git.stdout.strip() + (" + uncommitted engine changes" if dirty.stdout.strip() else ""),
                 "load_before": os.getloadavg(), "started": time.strftime("%Y-%m-%d %H:%M:%S")}
    log(f"corridor_sim benchmarks ({'quick' if quick else 'full'}); base scenario {scenario}")
    t0 = time.perf_counter()
    if "targets" in sections:  # issue 15's ratios, side by side (benchmarks/targets.py)
        targ = argparse.Namespace(rounds=3, quick=quick, only=args.targets, days_ten=830.0, scale_days=120.0)
        targets.prepare(targ)
        res["targets"] = targets.run(targ)
    if "engine" in sections:
        bench_py = None if args.skip_external else ensure_bench_venv(args.bench_venv)
        res["engine"] = bench_engine(args, bench_py)
    if "base" in sections:
        res["base"] = bench_base(args, scenario)
    if "scaling" in sections:
        res["scaling"] = bench_scaling(args, scenario)
    if "memory" in sections:
        res["memory"] = bench_memory(args)
    if "parallel" in sections:
        res["parallel"] = bench_parallel(args, scenario)
    if "memory_reps" in sections:
        res["memory_reps"] = bench_memory_reps(args, scenario)
    if "dask" in sections:
        try:
            res["dask"] = bench_dask(args)
        except RuntimeError as exc:  # dask is an optional extra
            log(f"  dask skipped: {str(exc).splitlines()[0]}")
    res["load_after"] = os.getloadavg()
    res["total_s"] = time.perf_counter() - t0
    m = res["machine"]
    print(f"\nMachine: {m['cpu']}, {m['cores']} cores, {m['memory_gb']} GB; Python {m['python']}, simpy {m['simpy']}, "
          f"numpy {m['numpy']}, pandas {m['pandas']}; load average before {res['load_before'][0]:.2f}, "
          f"after {res['load_after'][0]:.2f}; {res['total_s']:.0f} s; code {res['git']}; "
          f"scenario {scenario.name} md5 {res['scenario_md5'][:8]}")
    rows = table(res) + (targets.table(res["targets"]) if "targets" in res else [])
    res["table"] = rows
    print_table(rows)
    if args.json:
        args.json.write_text(json.dumps(res, indent=2, default=str))
        print(f"\nAll measurements written to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
