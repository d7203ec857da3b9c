"""Executors: replications run serially, in local processes or on a Dask cluster.

A replication is a pure function of (scenario, replication index, seed), so the executor never
changes a result: serial, `jobs=N` processes and Dask give the same numbers bit for bit.
`map_tasks` applies a task function in order on any of them, with an optional progress counter.
"""

from __future__ import annotations

import os
import sys
from typing import Callable

from corridor_sim.engine.model import ReplicationOutput, run_replication
from corridor_sim.errors import UsageError


DASK_ENV = "CORRIDOR_SIM_DASK"


def _task(args: tuple) -> ReplicationOutput:
    scenario, replication, seed, keep_stages, *rest = args
    return run_replication(scenario, replication, seed=seed, keep_stages=keep_stages,
                           summary_only=bool(rest and rest[0]))


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


def require_dask():
    """dask.distributed's Client, if the optional extra is installed.

    Raises:
        UsageError: it is not, with how to install it.
    """
    try:
        from dask.distributed import Client
    except ImportError:
        raise UsageError("--dask (or CORRIDOR_SIM_DASK) needs Dask, which is not installed; "
                         "install it with: pip install 'corridor-sim[dask]'") from None
    return Client


def map_tasks(func: Callable, tasks: list, jobs: int = 1, dask: str | None = None,
              progress: _Progress | None = None) -> list:
    """Apply func to every task, in order: serially, in `jobs` processes, or on a Dask scheduler."""
    dask = dask or os.environ.get(DASK_ENV) or None
    results = []
    if dask:
        Client = require_dask()
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
    from concurrent.futures import ProcessPoolExecutor  # with multiprocessing: only for jobs > 1

    with ProcessPoolExecutor(max_workers=min(jobs, len(tasks))) as pool:
        try:
            for result in pool.map(func, tasks):
                results.append(result)
                if progress:
                    progress.step()
        except BaseException:
            # Interrupted (Ctrl-C, SIGTERM) or failed: do not wait for the replications still running.
            pool.shutdown(wait=False, cancel_futures=True)
            for process in list(getattr(pool, "_processes", {}).values()):
                process.terminate()
            raise
    return results
