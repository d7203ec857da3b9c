"""Experiments: replications run serially, in local processes or on a Dask cluster.

A replication is a pure function of (scenario, replication index, seed), so the executor never
changes a result: serial, `jobs=N` processes and Dask give the same numbers bit for bit.
"""

from __future__ import annotations

import os
import sys
from concurrent.futures import ProcessPoolExecutor
from typing import Callable, Iterable

from corridor_sim.engine.model import ReplicationOutput, run_replication
from corridor_sim.results import Results
from corridor_sim.scenario.schema import Scenario

DASK_ENV = "CORRIDOR_SIM_DASK"


def _task(args: tuple) -> ReplicationOutput:
    scenario, replication, seed, keep_stages = args
    return run_replication(scenario, replication, seed=seed, keep_stages=keep_stages)


class _Progress:
    """A one-line progress counter on stderr, shown only when stderr is a terminal."""

    def __init__(self, total: int, label: str, enabled: bool | None = None):
        self.total, self.label, self.done = total, label, 0
        self.enabled = sys.stderr.isatty() if enabled is None else enabled

    def step(self) -> None:
        self.done += 1
        if self.enabled:
            end = "\n" if self.done == self.total else ""
            print(f"\r{self.label}: {self.done}/{self.total}", end=end, file=sys.stderr, flush=True)


def default_jobs() -> int:
    return max(1, os.cpu_count() or 1)


def map_tasks(func: Callable, tasks: list, jobs: int = 1, dask: str | None = None,
              progress: _Progress | None = None) -> list:
    """Apply func to every task, in order: serially, in `jobs` processes, or on a Dask scheduler."""
    dask = dask or os.environ.get(DASK_ENV) or None
    results = []
    if dask:
        from dask.distributed import Client  # optional extra: pip install corridor-sim[dask]

        with Client(dask) as client:
            futures = client.map(func, tasks, pure=False)
            for future in futures:
                results.append(future.result())
                if progress:
                    progress.step()
        return results
    if jobs <= 1 or len(tasks) <= 1:
        for task in tasks:
            results.append(func(task))
            if progress:
                progress.step()
        return results
    with ProcessPoolExecutor(max_workers=min(jobs, len(tasks))) as pool:
        for result in pool.map(func, tasks):
            results.append(result)
            if progress:
                progress.step()
    return results


def run(scenario: Scenario, replications: int | None = None, seed: int | None = None, jobs: int = 1,
        dask: str | None = None, keep_stages: Iterable[int] | bool = (0,), progress: bool | None = False) -> Results:
    """Run a scenario's replications and gather the results.

    Args:
        scenario: a validated scenario (from `load_scenario`).
        replications: number of replications (default: the scenario's).
        seed: the seed (default: the scenario's).
        jobs: local worker processes (1 = serial).
        dask: address of a Dask scheduler (or set CORRIDOR_SIM_DASK); overrides jobs.
        keep_stages: replications whose per-stage rows are kept (True: all, False: none).
        progress: show a progress counter on a terminal.

    Returns:
        Results with pandas tables (flows, nodes, services, segments, shipments).
    """
    n = replications or scenario.simulation.replications
    seed = scenario.simulation.seed if seed is None else seed
    if keep_stages is True:
        keep = set(range(n))
    elif keep_stages is False:
        keep = set()
    else:
        keep = set(keep_stages)
    tasks = [(scenario, r, seed, r in keep) for r in range(n)]
    outputs = map_tasks(_task, tasks, jobs=jobs, dask=dask,
                        progress=_Progress(n, f"{scenario.name} replications", progress) if progress is not False else None)
    return Results(scenario, seed, outputs)
