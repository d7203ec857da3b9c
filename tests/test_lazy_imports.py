"""Process startup: a summary-only run imports none of the heavy packages it does not use."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SMALL = Path(__file__).parent / "scenarios" / "reliability" / "small.yaml"
HEAVY = ("pandas", "pyarrow", "matplotlib", "scipy.stats", "dask", "searoute")


def run_python(code: str) -> dict:
    """Run code in a fresh interpreter on this tree; the JSON document it prints last."""
    prelude = f"import sys\nsys.path.insert(0, {str(ROOT)!r})\n"
    proc = subprocess.run([sys.executable, "-c", prelude + textwrap.dedent(code)], capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_summary_only_cli_run_imports_no_heavy_package(tmp_path):
    """`corridor-sim run --no-shipments` on a small scenario writes its whole folder without importing pandas, pyarrow, matplotlib, scipy.stats, dask or searoute."""
    out = tmp_path / "res"
    doc = run_python(f"""
        import contextlib, io, json
        from corridor_sim.cli import main
        with contextlib.redirect_stdout(io.StringIO()):
            status = main(["run", {str(SMALL)!r}, "--jobs", "1", "--no-shipments", "--out", {str(out)!r}])
        print(json.dumps({{"status": status, "loaded": [m for m in {HEAVY!r} if m in sys.modules]}}))
    """)
    assert doc == {"status": 0, "loaded": []}
    written = {p.name for p in out.iterdir()}
    assert {"summary.json", "run.json", "flows.csv", "flows_by_replication.csv", "nodes.csv", "services.csv",
            "segments.csv", "queues.csv", "scenario.yaml"} <= written
    run_info = json.loads((out / "run.json").read_text())
    from importlib.metadata import version

    assert run_info["pandas"] == version("pandas")  # recorded without importing it


def test_summary_only_api_run_builds_dataframes_only_when_asked(tmp_path):
    """run(summary_only=True) gives summary() and format_tables() without pandas; `results.flows` then imports it and is a DataFrame."""
    doc = run_python(f"""
        import json
        import corridor_sim as cs
        results = cs.run(cs.load_scenario({str(SMALL)!r}), replications=1, summary_only=True)
        summary, text = results.summary(), results.format_tables()
        before = [m for m in {HEAVY!r} if m in sys.modules]
        flows = results.flows
        print(json.dumps({{"before": before, "after": "pandas" in sys.modules, "type": type(flows).__name__,
                          "flows": list(flows["flow"]), "in_summary": sorted(summary["flows"]),
                          "text": "Busiest" in text}}))
    """)
    assert doc == {"before": [], "after": True, "type": "DataFrame", "flows": ["F"], "in_summary": ["F"], "text": True}


def test_lazy_public_names_are_the_defining_modules_objects():
    """Every public name of corridor_sim and corridor_sim.experiments, and the submodules they used to load, resolve to the objects of the modules that define them."""
    import importlib

    import corridor_sim as cs
    import corridor_sim.experiments as experiments

    star: dict = {}
    exec("from corridor_sim import *", star)
    for name in cs.__all__:
        assert star[name] is getattr(cs, name)
    assert cs.run is importlib.import_module("corridor_sim.experiments.replications").run
    assert cs.Results is importlib.import_module("corridor_sim.results").Results
    assert cs.results.t_interval is importlib.import_module("corridor_sim.results").t_interval
    for name, module in experiments._LAZY.items():
        assert getattr(experiments, name) is getattr(importlib.import_module(module, "corridor_sim.experiments"), name)
    assert experiments.comparison.compare is experiments.compare
    for package in (cs, experiments):
        try:
            package.no_such_name
        except AttributeError:
            pass
        else:
            raise AssertionError("an unknown name must raise AttributeError")


def test_default_cli_run_writes_parquet_without_pandas(tmp_path):
    """`corridor-sim run` with its default outputs on a scenario with services writes shipments,
    stages, rides and runs Parquet files without importing pandas, and they read back."""
    example = Path(__file__).parent / "scenarios" / "example.yaml"
    out = tmp_path / "res"
    doc = run_python(f"""
        import contextlib, io, json
        from corridor_sim.cli import main
        with contextlib.redirect_stdout(io.StringIO()):
            status = main(["run", {str(example)!r}, "--jobs", "1", "--replications", "1", "--out", {str(out)!r}])
        print(json.dumps({{"status": status, "pandas": "pandas" in sys.modules}}))
    """)
    assert doc == {"status": 0, "pandas": False}
    import corridor_sim as cs

    back = cs.read_results(out)
    assert {"shipments.parquet", "stages.parquet", "rides.parquet", "runs.parquet"} <= {p.name for p in out.iterdir()}
    assert len(back.shipments) > 0 and set(back.stages()["stage"].astype(str)) >= {"travel", "handling"}
