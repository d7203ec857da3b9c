"""Reliability (issue 16): work no run can hold is refused before simulating, results folders are
never lost or clobbered, YAML edge cases and command-line mistakes end in exit 2 without a traceback.

Bad scenario values and YAML faults that have a file of their own are in tests/scenarios/bad/ (see
test_validation.py); the cases here need a temporary folder, a second process or a signal.
"""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import yaml
from scipy.special import stdtrit

from corridor_sim import ScenarioError, load_scenario
from corridor_sim.cli import main
from corridor_sim.outdir import OutputLock
from corridor_sim.workload import DEFAULT_MAX_WORK, check_work, estimate_work

HERE = Path(__file__).parent / "scenarios"
SMALL = HERE / "reliability" / "small.yaml"
ROOT = Path(__file__).resolve().parents[1]


def small_with(tmp_path: Path, name: str = "small.yaml", **changes) -> Path:
    """The small scenario with `changes` ("demand.0.teu_per_year" = value) written to tmp_path."""
    data = yaml.safe_load(SMALL.read_text())
    for dotted, value in changes.items():
        node = data
        *parts, last = [int(p) if p.isdigit() else p for p in dotted.split("__")]
        for part in parts:
            node = node[part]
        node[last] = value
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def cli(*args: str, timeout: float = 120, cwd: Path | None = None) -> subprocess.CompletedProcess:
    """`corridor-sim ARGS` in a fresh process (this worktree's package first on the path)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "corridor_sim", *args], capture_output=True, text=True,
                          timeout=timeout, env=env, cwd=cwd)


def hidden_entries(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


# ---------------------------------------------------------------------------------- work estimate


@pytest.mark.parametrize(("changes", "key_path"), [
    ({"demand__0__teu_per_year": 1e9}, "demand[0].teu_per_year"),
    ({"demand__0__shipment_teu": 1e-6}, "demand[0].teu_per_year"),
    ({"simulation__horizon_days": 1e9}, "services[0].departures.every_h"),
    ({"simulation__horizon_days": 1e7, "demand__0__teu_per_year": 1}, "services[0].departures.every_h"),
    ({"simulation__horizon_days": 1e7, "demand__0__teu_per_year": 1, "services__0__departures__every_h": 1e9,
      "disruptions__0__every_days": 0.1, "disruptions__0__end_day": 5.05}, "disruptions[0].every_days"),
], ids=["teu_per_year", "shipment_teu", "horizon_days", "every_h", "recurring_window"])
def test_work_no_run_can_hold_is_refused_at_once(tmp_path, changes, key_path):
    """A run whose estimated shipments, departures or windows exceed the limit exits 2 within seconds, naming the key, the estimate and the limit, and writes nothing."""
    path = small_with(tmp_path, **changes)
    out = tmp_path / "out"
    start = time.perf_counter()
    done = cli("run", str(path), "--out", str(out), "--jobs", "1", timeout=60)
    assert time.perf_counter() - start < 60
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    assert done.stderr.startswith(f"error: {path}: {key_path}: the run would make about "), done.stderr
    assert f"more than the limit {DEFAULT_MAX_WORK:.3g}" in done.stderr and "--max-work" in done.stderr
    assert "simulation.horizon_days" in done.stderr  # the span that multiplies every count
    assert not out.exists()


def test_estimate_matches_what_a_run_creates():
    """The estimate's shipments are the Poisson mean a run creates (inside the 99% t-interval of replications) and its departures exactly the run's count."""
    scenario = load_scenario(SMALL)
    scenario = scenario.model_copy(update={"simulation": scenario.simulation.model_copy(
        update={"warmup_days": 0.0, "horizon_days": 200.0, "replications": 10})})
    from corridor_sim.experiments import run

    results = run(scenario, progress=False, keep_stages=False)
    drivers = {d.key_path: d.count for d in estimate_work(scenario, 200.0 * 24)}
    created = results.flows_by_replication["created_all"].to_numpy(dtype=float)
    half = stdtrit(len(created) - 1, 0.995) * created.std(ddof=1) / math.sqrt(len(created))
    assert abs(created.mean() - drivers["demand[0].teu_per_year"]) < half
    assert half < 0.05 * created.mean()
    # Service T departs from A at 1, 13, 25, ... h on both of its lines: floor((4800 - 1) / 12) + 1 each.
    assert drivers["services[0].departures.every_h"] == 2 * (math.floor((4800 - 1) / 12) + 1)
    departures = results.services.set_index("service").loc["T", "departures"]
    assert departures == drivers["services[0].departures.every_h"]
    # The weekly window from day 5 recurs floor((200 - 5) / 7) + 1 times.
    assert drivers["disruptions[0].every_days"] == math.floor((200 - 5) / 7) + 1


def test_estimate_is_fast():
    """The estimate costs well under a millisecond per scenario (it runs before every run)."""
    scenario = load_scenario(ROOT / "scenarios" / "instc_2025.yaml")
    start = time.perf_counter()
    for _ in range(100):
        estimate_work(scenario, 395 * 24.0)
    assert (time.perf_counter() - start) / 100 < 2e-3


def test_max_work_flag_raises_and_lowers_the_limit(tmp_path, capsys):
    """`--max-work` sets the limit: a small run is refused below its estimate and runs at the default."""
    scenario = load_scenario(SMALL)
    estimate = check_work(scenario, 2, (20 + 30) * 24.0)
    assert 0 < estimate < DEFAULT_MAX_WORK
    with pytest.raises(ScenarioError):
        check_work(scenario, 2, (20 + 30) * 24.0, max_work=estimate / 2)
    assert main(["run", str(SMALL), "--out", str(tmp_path / "a"), "--jobs", "1",
                 "--max-work", str(estimate / 2)]) == 2
    assert "--max-work" in capsys.readouterr().err and not (tmp_path / "a").exists()
    assert main(["run", str(SMALL), "--out", str(tmp_path / "b"), "--jobs", "1", "--no-shipments"]) == 0
    assert (tmp_path / "b" / "summary.json").is_file()


def test_overflowing_counts_are_refused_not_crashed(tmp_path):
    """Counts that overflow a float (horizon 1e300 days) are an infinite estimate, refused, not an OverflowError."""
    scenario = load_scenario(small_with(tmp_path, simulation__horizon_days=1e300, simulation__warmup_days=0))
    with pytest.raises(ScenarioError) as info:
        check_work(scenario, 10**400, 1e300 * 24)
    assert "infinitely many" in str(info.value)


# ---------------------------------------------------------------------------------- results folders


@pytest.fixture(scope="module")
def results_folder(tmp_path_factory) -> Path:
    """A genuine results folder of the small scenario (copied by the tests that change it)."""
    out = tmp_path_factory.mktemp("genuine") / "res"
    assert main(["run", str(SMALL), "--out", str(out), "--jobs", "1"]) == 0
    return out


def copy_folder(src: Path, dst: Path) -> Path:
    import shutil

    shutil.copytree(src, dst)
    return dst


def test_force_never_replaces_a_file(tmp_path, capsys):
    """`--force` pointed at a file exits 2 and leaves the file as it was."""
    target = tmp_path / "thesis.docx"
    target.write_text("my thesis")
    assert main(["run", str(SMALL), "--out", str(target), "--force", "--jobs", "1"]) == 2
    assert "not a folder" in capsys.readouterr().err
    assert target.read_text() == "my thesis"


def test_force_never_replaces_a_folder_that_is_not_results(tmp_path, capsys):
    """`--force` on a folder without a run record exits 2 and touches nothing in it."""
    target = tmp_path / "thesis"
    target.mkdir()
    (target / "draft.tex").write_text("chapter 1")
    assert main(["run", str(SMALL), "--out", str(target), "--force", "--jobs", "1"]) == 2
    assert "not a corridor_sim results folder" in capsys.readouterr().err
    assert [p.name for p in target.iterdir()] == ["draft.tex"]
    assert hidden_entries(tmp_path) == []


def test_force_never_replaces_a_results_folder_holding_other_files(results_folder, tmp_path, capsys):
    """`--force` on a results folder into which the user put a file of their own exits 2 and keeps both."""
    target = copy_folder(results_folder, tmp_path / "res")
    (target / "notes.txt").write_text("keep me")
    before = sorted(p.name for p in target.iterdir())
    assert main(["run", str(SMALL), "--out", str(target), "--force", "--jobs", "1"]) == 2
    assert "notes.txt" in capsys.readouterr().err
    assert sorted(p.name for p in target.iterdir()) == before


def test_force_never_replaces_the_current_folder(results_folder, tmp_path, monkeypatch, capsys):
    """`--out . --force` from inside a results folder exits 2 and the folder stays."""
    target = copy_folder(results_folder, tmp_path / "res")
    monkeypatch.chdir(target)
    assert main(["run", str(SMALL), "--out", ".", "--force", "--jobs", "1"]) == 2
    assert "current folder" in capsys.readouterr().err
    assert (target / "run.json").is_file()


def test_force_replaces_a_results_folder_with_its_figures_and_report(results_folder, tmp_path):
    """`--force` replaces a results folder, also once `plot` and `report` have added to it, and leaves no hidden folder."""
    target = copy_folder(results_folder, tmp_path / "res")
    (target / "figures").mkdir()
    (target / "figures" / "map.png").write_bytes(b"png")
    (target / "report.html").write_text("<html></html>")
    assert main(["run", str(SMALL), "--out", str(target), "--force", "--jobs", "1", "--seed", "11"]) == 0
    record = json.loads((target / "run.json").read_text())
    assert record["seed"] == 11 and "summary.json" in record["files"]
    assert not (target / "figures").exists() and hidden_entries(tmp_path) == []


def test_bad_out_is_found_before_simulating(tmp_path, monkeypatch, capsys):
    """An --out under a file, or empty, exits 2 before any replication runs."""
    import corridor_sim.experiments as experiments

    def no_run(*args, **kwargs):
        raise AssertionError("simulated despite a bad --out")

    monkeypatch.setattr(experiments, "run", no_run)
    blocker = tmp_path / "file"
    blocker.write_text("x")
    assert main(["run", str(SMALL), "--out", str(blocker / "res")]) == 2
    assert "is a file, not a folder" in capsys.readouterr().err
    assert main(["run", str(SMALL), "--out", ""]) == 2
    assert "empty" in capsys.readouterr().err
    assert blocker.read_text() == "x"


def test_second_run_on_a_locked_folder_fails_at_once(tmp_path):
    """While another process holds a folder's lock, a run writing that folder exits 2 at once, naming that process, and the folder is not written."""
    out = tmp_path / "res"
    holder = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(f"""
            import sys, time
            sys.path.insert(0, {str(ROOT)!r})
            from corridor_sim.outdir import OutputLock
            with OutputLock({str(out)!r}):
                print("locked", flush=True)
                time.sleep(60)
        """)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        done = cli("run", str(SMALL), "--out", str(out), "--jobs", "1")
        assert done.returncode == 2, done.stderr
        assert f"is being written by process {holder.pid}" in done.stderr
        assert "Traceback" not in done.stderr and not out.exists()
    finally:
        holder.kill()
        holder.wait()
    # The holder was killed without releasing: its lock is stale and the next run takes it.
    done = cli("run", str(SMALL), "--out", str(out), "--jobs", "1", "--no-shipments")
    assert done.returncode == 0, done.stderr
    assert (out / "summary.json").is_file() and not (tmp_path / ".res.lock").exists()


def test_lock_is_exclusive_and_reentrant(tmp_path):
    """The lock is re-entrant in its own process, removed on the last release, and a lock file left by a dead writer is taken over."""
    out = tmp_path / "res"
    with OutputLock(out) as lock:
        with OutputLock(out):
            assert lock.path.is_file()
        assert lock.path.is_file()
    assert not lock.path.exists()
    lock.path.write_text("999999999\n")  # left by a killed run: nobody holds it
    with OutputLock(out):
        assert lock.path.read_text().strip() == str(os.getpid())
    assert not lock.path.exists()


def test_sigterm_while_writing_leaves_no_temporary_folder(tmp_path):
    """SIGTERM while the results folder is being filled exits 143 and removes the temporary folder and the lock, like Ctrl-C."""
    out = tmp_path / "res"
    script = textwrap.dedent(f"""
        import os, signal, sys
        sys.path.insert(0, {str(ROOT)!r})
        from corridor_sim import results
        from corridor_sim.cli import main

        def queues(self):  # called while the temporary folder is being filled
            os.kill(os.getpid(), signal.SIGTERM)
            raise AssertionError("SIGTERM did not interrupt")

        results.Results.queues = queues
        sys.exit(main(["run", {str(SMALL)!r}, "--out", {str(out)!r}, "--jobs", "1"]))
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 143, done.stderr
    assert "terminated" in done.stderr and "Traceback" not in done.stderr
    assert not out.exists() and hidden_entries(tmp_path) == []


@pytest.mark.parametrize("blocked", [False, True], ids=["plain", "started-with-sigterm-blocked"])
def test_sigterm_during_a_run_exits_cleanly(tmp_path, blocked):
    """A real SIGTERM to `corridor-sim run` mid-simulation ends it with 143, no results folder and no lock
    left, also when the process that started it had SIGTERM blocked (a mask the child inherits)."""
    out = tmp_path / "res"
    path = small_with(tmp_path, simulation__horizon_days=20000, simulation__replications=1)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}

    def block() -> None:
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})

    proc = subprocess.Popen([sys.executable, "-m", "corridor_sim", "run", str(path), "--out", str(out), "--jobs", "1"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                            preexec_fn=block if blocked else None)
    lock = tmp_path / ".res.lock"
    deadline = time.monotonic() + 60
    while not lock.exists() and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)
    held = lock.exists()
    proc.terminate()
    out_text, err = proc.communicate(timeout=60)
    assert held, f"the run never held its lock (exit {proc.returncode}): {out_text[-300:]} {err[-300:]}"
    assert proc.returncode == 143, err
    assert "Traceback" not in err
    assert not out.exists() and hidden_entries(tmp_path) == []


@pytest.mark.parametrize("command", ["plot", "report"])
def test_plot_and_report_leave_a_folder_that_is_not_results_alone(tmp_path, command, capsys):
    """`plot` and `report` on a folder without a run record exit 2 and create nothing in it."""
    folder = tmp_path / "thesis"
    folder.mkdir()
    (folder / "summary.json").write_text("{}")
    (folder / "flows.csv").write_text("flow\nA\n")
    assert main([command, str(folder)]) == 2
    assert "not a corridor_sim results folder" in capsys.readouterr().err
    assert sorted(p.name for p in folder.iterdir()) == ["flows.csv", "summary.json"]


@pytest.mark.parametrize(("name", "text"), [("summary.json", "{\"flows\": "), ("flows.csv", "\x00\x01garbage"),
                                            ("summary.json", "[1, 2, 3]"), ("flows.csv", "")])
@pytest.mark.parametrize("command", ["plot", "report"])
def test_malformed_results_files_exit_2(results_folder, tmp_path, command, name, text, capsys):
    """A truncated or edited results file makes `plot` and `report` exit 2 with a message, not a traceback."""
    folder = copy_folder(results_folder, tmp_path / "res")
    (folder / name).write_text(text)
    assert main([command, str(folder)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and str(folder) in err and "Traceback" not in err


# ---------------------------------------------------------------------------------- command line


def test_negative_seed_is_a_usage_error(capsys):
    """`--seed -5` is refused by the parser (exit 2) like a negative simulation.seed in a file."""
    with pytest.raises(SystemExit) as info:
        main(["run", str(SMALL), "--seed", "-5"])
    assert info.value.code == 2
    assert "--seed" in capsys.readouterr().err


def test_empty_out_is_refused(capsys):
    """`--out ""` is refused (it used to fall back silently to the default folder)."""
    assert main(["run", str(SMALL), "--out", ""]) == 2
    assert "--out" in capsys.readouterr().err
    assert main(["report", str(HERE), "--out", ""]) == 2


def test_dask_without_the_extra_says_how_to_install_it(tmp_path, monkeypatch, capsys):
    """`--dask` when Dask is not installed exits 2 before simulating, with the pip command, not an ImportError traceback."""
    monkeypatch.setitem(sys.modules, "dask", None)  # makes `import dask.distributed` fail
    monkeypatch.setitem(sys.modules, "dask.distributed", None)
    assert main(["run", str(SMALL), "--out", str(tmp_path / "res"), "--dask", "tcp://127.0.0.1:1"]) == 2
    err = capsys.readouterr().err
    assert "pip install 'corridor-sim[dask]'" in err and "Traceback" not in err
    assert not (tmp_path / "res").exists()


# ---------------------------------------------------------------------------------- YAML edge cases


def test_huge_value_is_shortened_in_the_message(tmp_path):
    """A 1 MB value in a faulty key is not echoed whole: the message stays under a few kB and says how much was left out."""
    text = SMALL.read_text().replace("kind: city", "kind: " + "x" * 1_000_000)
    path = tmp_path / "huge.yaml"
    path.write_text(text)
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    [problem] = info.value.problems
    assert problem.key_path == "network.nodes[2].kind"
    assert len(str(problem)) < 2000 and "characters left out" in problem.message


def test_unknown_huge_id_is_shortened(tmp_path):
    """A reference to a 1 MB id is reported shortened, quickly (no did-you-mean search over it)."""
    path = small_with(tmp_path, demand__0__destination="Z" * 1_000_000)
    start = time.perf_counter()
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    assert time.perf_counter() - start < 10
    assert all(len(str(p)) < 2000 for p in info.value.problems)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes")
def test_a_pipe_or_device_is_refused_without_reading(tmp_path):
    """A named pipe or a device as the scenario, or as its parent, is refused at once instead of blocking."""
    fifo = tmp_path / "pipe.yaml"
    os.mkfifo(fifo)
    with pytest.raises(ScenarioError) as info:
        load_scenario(fifo)
    assert "not a regular file" in info.value.problems[0].message
    child = tmp_path / "child.yaml"
    child.write_text(f"name: child\nextends: {os.devnull}\n")
    with pytest.raises(ScenarioError) as info:
        load_scenario(child)
    [problem] = info.value.problems
    assert (problem.file, problem.key_path) == (str(child), "extends")
    assert "not a regular file" in problem.message and "(line 2)" in problem.message


def test_errors_from_a_grandparent_that_is_not_a_scenario_are_located_in_its_child(tmp_path):
    """child -> parent -> a non-scenario file: the error is at the parent's `extends`, the file that names it."""
    (tmp_path / "junk.txt").write_text("just words\n")
    (tmp_path / "parent.yaml").write_text(SMALL.read_text() + "extends: junk.txt\n")
    (tmp_path / "child.yaml").write_text("extends: parent.yaml\nname: child\n")
    with pytest.raises(ScenarioError) as info:
        load_scenario(tmp_path / "child.yaml")
    [problem] = info.value.problems
    assert problem.file == str(tmp_path / "parent.yaml") and problem.key_path == "extends"
    assert "top level must be a mapping" in problem.message


def test_every_problem_found_in_one_child_merge_is_reported(tmp_path):
    """A child with a list id, a duplicate id and an unknown removal gets all three problems at once, each with its line."""
    (tmp_path / "parent.yaml").write_text(SMALL.read_text())
    (tmp_path / "child.yaml").write_text(textwrap.dedent("""\
        extends: parent.yaml
        network:
          nodes:
            - {id: [A], lon: 1}
            - {id: B, lon: 2}
            - {id: B, lon: 3}
        disruptions:
          - {id: nope, remove: true}
    """))
    with pytest.raises(ScenarioError) as info:
        load_scenario(tmp_path / "child.yaml")
    found = [(p.key_path, p.message.rsplit(" (line ", 1)[1]) for p in info.value.problems]
    assert found == [("network.nodes[0].id", "4)"), ("network.nodes[2].id", "6)"), ("disruptions[0].remove", "8)")]

