"""Replications of one scenario (`run`), and batches of several scenarios for the experiments.

Every experiment runs whole scenarios through `map_tasks`, so serial, `jobs=N` and Dask give the
same numbers, and every scenario of one experiment uses the same seed and replication indices:
common random numbers (see engine/streams.py). Replication r of a base and of a variant draw the
same arrivals and the same service times wherever the two scenarios share a flow or a facility,
so their per-replication difference carries little noise and a paired interval is sharp.
"""

from __future__ import annotations

import difflib
from typing import Iterable

from corridor_sim.errors import UsageError
from corridor_sim.results import Results
from corridor_sim.scenario.schema import Scenario
from corridor_sim.experiments.executors import _Progress, _task, map_tasks


def run(scenario: Scenario, replications: int | None = None, seed: int | None = None, jobs: int = 1,
        dask: str | None = None, keep_stages: Iterable[int] | bool = (0,), progress: bool | None = False,
        summary_only: bool = False) -> Results:
    """Run a scenario's replications and gather the results.

    Args:
        scenario: a validated scenario (from `load_scenario`).
        replications: number of replications (default: the scenario's).
        seed: the seed (default: the scenario's).
        jobs: local worker processes (1 = serial).
        dask: address of a Dask scheduler (or set CORRIDOR_SIM_DASK); overrides jobs.
        keep_stages: replications whose per-stage rows are kept (True: all, False: none).
        progress: show a progress counter on a terminal.
        summary_only: stream per-flow statistics instead of per-shipment rows (memory bounded by the
            shipments in flight; percentiles from histograms of 0.02-day bins). Same simulation.

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
    tasks = [(scenario, r, seed, r in keep and not summary_only, summary_only) for r in range(n)]
    outputs = map_tasks(_task, tasks, jobs=jobs, dask=dask,
                        progress=_Progress(n, f"{scenario.name} replications", progress) if progress is not False else None)
    return Results(scenario, seed, outputs)


def _as_scenario(item) -> Scenario:
    if isinstance(item, Scenario):
        return item
    from corridor_sim.scenario import load_scenario

    return load_scenario(item)


def _run_many(scenarios: list[Scenario], replications: int | None, seeds: list[int], jobs: int, dask: str | None,
              label: str, progress: bool | None) -> list[Results]:
    """Run several scenarios' replications as one batch of tasks (so workers stay busy); in order."""
    counts = [replications or s.simulation.replications for s in scenarios]
    tasks = [(s, r, seed, False) for s, n, seed in zip(scenarios, counts, seeds) for r in range(n)]
    bar = _Progress(len(tasks), label, progress) if progress is not False else None
    outputs = map_tasks(_task, tasks, jobs=jobs, dask=dask, progress=bar)
    results, start = [], 0
    for s, n, seed in zip(scenarios, counts, seeds):
        results.append(Results(s, seed, outputs[start:start + n]))
        start += n
    return results


def check_flow(scenario: Scenario, flow_id: str) -> None:
    """Raise a UsageError naming `flow_id` (with a did-you-mean) unless the scenario has that flow."""
    ids = [f.id for f in scenario.demand]
    if flow_id not in ids:
        close = difflib.get_close_matches(flow_id, ids, n=1, cutoff=0.5)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        raise UsageError(f"unknown flow '{flow_id}'{hint}; flows: {', '.join(ids) or 'none'}")
