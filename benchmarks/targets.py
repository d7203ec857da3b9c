"""The speed and size targets of issue 15, each measured side by side in one run.

    python benchmarks/targets.py [--rounds 3] [--quick] [--only outputs ten first scaling folder]
                                 [--json FILE]

(`run_all.py` runs it as its `targets` section.) Every comparison runs its programs as separate
processes, alternately (the order flips each round), and reports the median of the per-round
ratios of wall time and of CPU time (user + system of the process and its children), the CPU
ratio being the steadier on a shared machine. Every program runs from compiled bytecode
(`compile_bytecode`: this tree, the first version's and the hand-written script), as Python leaves
it after a first run; a machine with PYTHONDONTWRITEBYTECODE set (as the development and CI
machines are) would otherwise recompile corridor_sim's sources, about 0.2 s, in every process.
Figures:

  outputs  base INSTC (scenarios/instc_2025.yaml), one replication, `corridor-sim run` as a user
           runs it, writing its results folder: default / `--no-shipments` (target <= 1.3);
  folder   the README's main command (`corridor-sim run scenarios/instc_2025.yaml --plots --force`:
           base INSTC, its 5 replications, figures and GeoJSON): the results folder's size
           (target <= 25 MB);
  ten      the ten-station network (benchmarks/scenarios/ten_stations.yaml) by `corridor-sim run`,
           whole process, default outputs / the hand-written SimPy model (benchmarks/baseline_simpy.py)
           (target <= 1.5), and `--no-shipments` / that model (target <= 1.0);
  first    the base INSTC scenario file of the first version (commit fb3bce3), one replication of
           365 days, summary only, this tree / the first version's code (`git archive fb3bce3` into
           a temporary directory) on that same file, each by its own benchmarks/bench_worker.py
           (target <= 0.75);
  scaling  time per shipment (simulate CPU) on the ten-station network with demand and servers
           both x1, x4, x16 (so the network carries it: utilisation 0.8 throughout), 120 days,
           default outputs and summary only: largest / smallest (target <= 1.25).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
PY = sys.executable
INSTC = ROOT / "scenarios" / "instc_2025.yaml"
TEN = HERE / "scenarios" / "ten_stations.yaml"
FIRST_VERSION = "fb3bce3"


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def timed(cmd: list[str], cwd: Path = ROOT, env: dict | None = None) -> dict:
    """Run a command; its wall and CPU seconds (with children), and its last JSON line if any."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=cwd, env=env)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    out = json.loads(lines[-1]) if lines else {}
    return {**out, "wall_s": wall,
            "cpu_s": (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)}


def alternate(progs: dict[str, tuple], rounds: int, label: str) -> dict[str, list[dict]]:
    """Run each program once a round, the order rotating and flipping; every run's measurement."""
    runs: dict[str, list[dict]] = {k: [] for k in progs}
    names = list(progs)
    for r in range(rounds):
        order = names[r % len(names):] + names[:r % len(names)]
        if r % 2:
            order = order[::-1]
        for name in order:
            cmd, kw = progs[name]
            m = timed(cmd, **kw)
            runs[name].append(m)
            log(f"  {label} round {r + 1}/{rounds} {name:<14} wall {m['wall_s']:7.2f} s  CPU {m['cpu_s']:7.2f} s")
    return runs


def ratios(runs: dict[str, list[dict]], num: str, den: str, keys=("wall_s", "cpu_s")) -> dict:
    """Medians of the per-round ratios num / den, and the medians of each program."""
    out = {}
    for k in keys:
        per = [a[k] / b[k] for a, b in zip(runs[num], runs[den])]
        out[f"ratio_{k}"] = statistics.median(per)
        out[f"ratio_{k}_per_round"] = per
        out[f"{num}_{k}"] = statistics.median(x[k] for x in runs[num])
        out[f"{den}_{k}"] = statistics.median(x[k] for x in runs[den])
    return out


def compile_bytecode(*paths: Path) -> None:
    """Write the .pyc files of the Python sources under `paths` (into their __pycache__ folders,
    which git ignores), as a first import does where bytecode may be written."""
    subprocess.run([PY, "-m", "compileall", "-q", *map(str, paths)], check=True, capture_output=True)


def cli_run(scenario: Path, out: Path, *flags: str) -> list[str]:
    return [PY, "-m", "corridor_sim", "run", str(scenario), "--jobs", "1", "--out", str(out), "--force", *flags]


def folder_mb(folder: Path) -> float:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) / 1e6


def bench_outputs(args, tmp: Path) -> dict:
    progs = {"default": (cli_run(INSTC, tmp / "default", "--replications", "1"), {}),
             "no_shipments": (cli_run(INSTC, tmp / "summary", "--replications", "1", "--no-shipments"), {})}
    res = ratios(alternate(progs, args.rounds, "outputs"), "default", "no_shipments")
    res["target"] = 1.3
    return res


def bench_folder(args, tmp: Path) -> dict:
    out = tmp / "readme"
    # The README's command: the scenario's replications (5), default outputs, figures and GeoJSON.
    m = timed([PY, "-m", "corridor_sim", "run", str(INSTC), "--plots", "--force", "--out", str(out)])
    sizes = {p.name: p.stat().st_size / 1e6 for p in sorted(out.iterdir()) if p.is_file()}
    extra = {d.name: folder_mb(d) for d in sorted(out.iterdir()) if d.is_dir()}
    log(f"  folder: {folder_mb(out):.1f} MB in {m['wall_s']:.0f} s "
        f"({', '.join(f'{k} {v:.1f}' for k, v in {**sizes, **extra}.items() if v > 0.5)})")
    return {"folder_mb": folder_mb(out), "files_mb": sizes, "dirs_mb": extra, "wall_s": m["wall_s"],
            "cpu_s": m["cpu_s"], "target": 25.0}


def bench_ten(args, tmp: Path) -> dict:
    days = args.days_ten
    data = TEN.read_text().replace("horizon_days: 830", f"horizon_days: {days:g}")
    scenario = tmp / "ten_stations.yaml"
    scenario.write_text(data)
    progs = {"default": (cli_run(scenario, tmp / "ten_default"), {}),
             "no_shipments": (cli_run(scenario, tmp / "ten_summary", "--no-shipments"), {}),
             "simpy": ([PY, str(HERE / "baseline_simpy.py"), "--days", f"{days:g}"], {})}
    runs = alternate(progs, args.rounds, "ten")
    return {"days": days, "default": ratios(runs, "default", "simpy"), "summary": ratios(runs, "no_shipments", "simpy"),
            "target_default": 1.5, "target_summary": 1.0}


def bench_first(args, tmp: Path) -> dict:
    first = tmp / "first"
    first.mkdir()
    archive = subprocess.run(["git", "archive", FIRST_VERSION], cwd=ROOT, capture_output=True, check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(first)], input=archive, check=True)
    compile_bytecode(first / "corridor_sim", first / "benchmarks")
    scenario = first / "scenarios" / "instc_2025.yaml"  # the first version's file, read by both trees
    cmd = ["benchmarks/bench_worker.py", "scenario", str(scenario), "--days", "365", "--summary-only"]
    progs = {"now": ([PY, str(ROOT / cmd[0]), *cmd[1:]], {"cwd": ROOT, "env": {**os.environ, "PYTHONPATH": str(ROOT)}}),
             "first": ([PY, str(first / cmd[0]), *cmd[1:]], {"cwd": first, "env": {**os.environ, "PYTHONPATH": str(first)}})}
    runs = alternate(progs, args.rounds, "first")
    res = ratios(runs, "now", "first", keys=("wall_s", "cpu_s", "simulate_cpu_s", "simulate_s"))
    res["shipments"] = {k: sorted({x["shipments"] for x in v}) for k, v in runs.items()}
    res["target"] = 0.75
    return res


def bench_scaling(args, tmp: Path) -> dict:
    rows = []
    text = TEN.read_text().replace("horizon_days: 830", f"horizon_days: {args.scale_days:g}")
    for mode in ("default", "summary"):
        for k in (1, 4, 16):
            data = text.replace("servers: 2,", f"servers: {2 * k},").replace("teu_per_year: 14016",
                                                                              f"teu_per_year: {14016 * k}")
            path = tmp / f"ten_x{k}.yaml"
            path.write_text(data)
            flags = ["--summary-only"] if mode == "summary" else []
            ms = [timed([PY, str(HERE / "bench_worker.py"), "scenario", str(path), *flags]) for _ in range(args.scale_rounds)]
            n = ms[0]["shipments"]
            cpu = statistics.median(m["simulate_cpu_s"] for m in ms)
            rows.append({"mode": mode, "scale": k, "shipments": n, "us_per_shipment_cpu": cpu / n * 1e6,
                         "delivered": ms[0]["delivered"]})
            log(f"  scaling {mode:<7} x{k:<2} {n:7d} shipments  {cpu / n * 1e6:6.1f} us CPU per shipment")
    spread = {mode: max(r["us_per_shipment_cpu"] for r in rows if r["mode"] == mode)
              / min(r["us_per_shipment_cpu"] for r in rows if r["mode"] == mode) for mode in ("default", "summary")}
    return {"days": args.scale_days, "rows": rows, "spread": spread, "target": 1.25}


def table(res: dict) -> list[tuple[str, str, str, str]]:
    rows = []

    def add(figure, value, target, met):
        rows.append((figure, value, target, "yes" if met else "NO"))

    if "outputs" in res:
        o = res["outputs"]
        add("base INSTC 1 replication, default / --no-shipments (CLI, whole process)",
            f"CPU {o['ratio_cpu_s']:.2f}x, wall {o['ratio_wall_s']:.2f}x", "<= 1.3x", o["ratio_cpu_s"] <= 1.3)
    if "folder" in res:
        f = res["folder"]
        add("README command results folder (base INSTC, 5 replications)", f"{f['folder_mb']:.1f} MB", "<= 25 MB",
            f["folder_mb"] <= 25.0)
    if "ten" in res:
        t = res["ten"]
        for key, label, target in (("default", "default outputs", 1.5), ("summary", "--no-shipments", 1.0)):
            r = t[key]
            add(f"ten-station {t['days']:g} d, corridor-sim run {label} / hand-written SimPy (whole process)",
                f"CPU {r['ratio_cpu_s']:.2f}x, wall {r['ratio_wall_s']:.2f}x", f"<= {target}x", r["ratio_cpu_s"] <= target)
    if "first" in res:
        f = res["first"]
        add("first version's INSTC file, 1 replication summary-only: now / first version (whole process)",
            f"CPU {f['ratio_cpu_s']:.2f}x, wall {f['ratio_wall_s']:.2f}x", "<= 0.75x", f["ratio_cpu_s"] <= 0.75)
        add("  same, simulate only (in-process)", f"CPU {f['ratio_simulate_cpu_s']:.2f}x, wall {f['ratio_simulate_s']:.2f}x",
            "<= 0.75x", f["ratio_simulate_cpu_s"] <= 0.75)
    if "scaling" in res:
        s = res["scaling"]
        for mode in ("default", "summary"):
            us = [f"{r['us_per_shipment_cpu']:.0f}" for r in s["rows"] if r["mode"] == mode]
            add(f"time per shipment x1 / x4 / x16, ten-station carrying it, {mode}",
                f"{' / '.join(us)} us (x{s['spread'][mode]:.2f})", "flat within 25%", s["spread"][mode] <= 1.25)
    return rows


def print_table(rows) -> None:
    w = [max(len(r[i]) for r in rows) for i in range(3)]
    print(f"\n{'figure':<{w[0]}}  {'value':<{w[1]}}  {'target':<{w[2]}}  met?")
    for r in rows:
        print(f"{r[0]:<{w[0]}}  {r[1]:<{w[1]}}  {r[2]:<{w[2]}}  {r[3]}")


SECTIONS = {"outputs": bench_outputs, "folder": bench_folder, "ten": bench_ten, "first": bench_first,
            "scaling": bench_scaling}


def run(args) -> dict:
    compile_bytecode(ROOT / "corridor_sim", HERE)  # here, so that run_all.py's targets section has it too
    res = {"load_avg_start": os.getloadavg()}
    tmp = Path(tempfile.mkdtemp(prefix="corridor-sim-targets-"))
    try:
        for name in args.only or list(SECTIONS):
            log(f"{name} ...")
            res[name] = SECTIONS[name](args, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    res["load_avg_end"] = os.getloadavg()
    return res


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--quick", action="store_true", help="two rounds, shorter ten-station and scaling runs, no folder")
    p.add_argument("--only", nargs="+", choices=list(SECTIONS))
    p.add_argument("--days-ten", type=float, default=830.0)
    p.add_argument("--scale-days", type=float, default=120.0)
    p.add_argument("--json", type=Path)
    args = p.parse_args(argv)
    prepare(args)
    res = run(args)
    print_table(table(res))
    print(f"load average: start {res['load_avg_start'][0]:.1f}, end {res['load_avg_end'][0]:.1f}")
    if args.json:
        args.json.write_text(json.dumps(res, indent=2, default=str))
    return 0


def prepare(args) -> None:
    """Settings of --quick: fewer rounds and shorter runs, and no 5-replication folder run."""
    args.scale_rounds = 1 if args.quick else 2
    if args.quick:
        args.rounds = min(args.rounds, 2)
        args.days_ten = min(args.days_ten, 300.0)
        args.scale_days = min(args.scale_days, 60.0)
        if args.only is None:
            args.only = [s for s in SECTIONS if s != "folder"]


if __name__ == "__main__":
    sys.exit(main())
