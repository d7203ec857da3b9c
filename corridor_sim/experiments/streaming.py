"""Streamed runs: many replications written to a results folder as they complete, none kept.

`run` gathers every replication's output in the parent before building `Results`, so its memory
grows with the number of replications (a summary-only INSTC replication still carries its transit
histograms, over 10 MB; a default one its per-shipment columns). `run_streamed` is the same
simulation for runs too large for that. Each replication is reduced where it ran, in the worker,
to a `Block` of columnar per-replication rows (pandas tables), and only that travels back. At most
`window` replications are submitted and not yet consumed (to local processes, a Dask cluster, or
one at a time in the parent). Blocks are appended to Parquet files in the results folder a batch
at a time, then dropped, so the parent holds at most `batch` blocks, whatever the number of
replications.

A replication is a pure function of (scenario, replication index, seed), so the blocks on disk are
those of a serial run with the same seed, whatever the executor, the number of workers or the
order in which replications complete (rows are sorted by replication when read back).

The folder (written atomically by `results.write_folder`, with scenario.yaml and run.json):

- `flows_by_replication.parquet`: one row per replication and flow, the rows of
  `Results.flows_by_replication` (transit mean, throughput, created, delivered, costs, stage days);
- `nodes_by_replication.parquet`: one row per replication and facility (utilisation, nominal
  utilisation, mean queue, waiting at the end, arrivals per day);
- `shipments.parquet` (unless summary-only): the measured shipments, replication by replication;
- `stream.json`: the run (seed, replications, executor, window, batch, the most blocks held) and
  the across-replication estimates that need only per-replication values: per flow the mean transit
  and throughput with their 95% t-intervals and the mean counts, costs and stage days; per facility
  the utilisation with its interval. They equal the same columns of `Results.flows` and
  `Results.nodes` of `run`. Pooled percentiles and the backlog (stability) tests need every
  shipment or every daily sample at once and are left to `run`.
"""

from __future__ import annotations

import itertools
import json
import os
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

import pandas as pd

from corridor_sim.experiments.executors import DASK_ENV, _Progress, _task, require_dask
from corridor_sim.results import Results, _json_number, t_interval, write_folder
from corridor_sim.scenario.schema import Scenario

FLOW_MEANS = ["created", "delivered", "in_transit", "censored", "cost_usd_per_teu", "co2_kg_per_teu",
              "empty_cost_usd_per_teu", "empty_co2_kg_per_teu"]
NODE_COLUMNS = ["utilization", "utilization_nominal", "mean_queue", "waiting_at_end", "arrivals_per_day"]


def completed(func: Callable, tasks: list, jobs: int = 1, dask: str | None = None,
              window: int | None = None) -> Iterator[tuple[int, object]]:
    """(task index, func(task)) for every task as it completes, with at most `window` tasks
    submitted and not yet yielded (default: twice the workers), so that results wait on the
    workers, not in the caller. Serially (jobs=1, no Dask) the tasks run one at a time, in order.

    Args:
        func: a picklable function of one task.
        tasks: the tasks.
        jobs: local worker processes.
        dask: a Dask scheduler address (or CORRIDOR_SIM_DASK); overrides jobs.
        window: the most tasks in flight.
    """
    dask = dask or os.environ.get(DASK_ENV) or None
    if dask:
        yield from _completed_dask(func, tasks, dask, window)
    elif jobs <= 1 or len(tasks) <= 1:
        for i, task in enumerate(tasks):
            yield i, func(task)
    else:
        yield from _completed_processes(func, tasks, jobs, window or 2 * jobs)


def _completed_processes(func: Callable, tasks: list, jobs: int, window: int) -> Iterator[tuple[int, object]]:
    pending = iter(enumerate(tasks))
    with ProcessPoolExecutor(max_workers=min(jobs, len(tasks))) as pool:
        running = {}
        try:
            for i, task in itertools.islice(pending, max(1, window)):
                running[pool.submit(func, task)] = i
            while running:
                done, _ = wait(running, return_when=FIRST_COMPLETED)
                for future in sorted(done, key=running.get):
                    i = running.pop(future)
                    yield i, future.result()
                    nxt = next(pending, None)
                    if nxt is not None:
                        running[pool.submit(func, nxt[1])] = nxt[0]
        except BaseException:
            # Interrupted or failed: do not wait for the replications still running (as map_tasks).
            pool.shutdown(wait=False, cancel_futures=True)
            for process in list(getattr(pool, "_processes", {}).values()):
                process.terminate()
            raise


def _completed_dask(func: Callable, tasks: list, address: str, window: int | None) -> Iterator[tuple[int, object]]:
    Client = require_dask()
    from dask.distributed import as_completed

    with Client(address) as client:
        if window is None:
            window = 2 * max(1, sum(client.nthreads().values()))
        pending = iter(enumerate(tasks))
        index = {}

        def submit(item):
            future = client.submit(func, item[1], pure=False)
            index[future.key] = item[0]
            return future

        first = [submit(item) for item in itertools.islice(pending, max(1, window))]
        stream = as_completed(first)
        for future in stream:
            i = index.pop(future.key)
            result = future.result()
            future.release()  # the cluster may forget it: nothing refers to it any more
            del future
            nxt = next(pending, None)
            if nxt is not None:
                stream.add(submit(nxt))  # keep the window full while this result is reduced
            yield i, result


@dataclass
class StreamedRun:
    """What `run_streamed` wrote: the folder and the across-replication tables of stream.json."""

    folder: Path
    replications: int
    max_held: int  # the most replication blocks held in the parent at once
    flows: pd.DataFrame
    nodes: pd.DataFrame

    def flows_by_replication(self) -> pd.DataFrame:
        """The per-replication flow rows, sorted by replication (flows in scenario order)."""
        return read_blocks(self.folder / "flows_by_replication.parquet")

    def nodes_by_replication(self) -> pd.DataFrame:
        """The per-replication facility rows, sorted by replication."""
        return read_blocks(self.folder / "nodes_by_replication.parquet")


def read_blocks(path: str | Path) -> pd.DataFrame:
    """A per-replication Parquet table of a streamed run, sorted by replication (stable, so the
    rows of one replication keep their order)."""
    df = pd.read_parquet(path)
    return df.sort_values("replication", kind="stable").reset_index(drop=True)


class _Blocks:
    """Appends DataFrames with one schema to a Parquet file, one row group per block."""

    def __init__(self, path: Path):
        self.path, self.writer, self.rows = path, None, 0

    def append(self, df: pd.DataFrame) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        table = pa.Table.from_pandas(df, preserve_index=False)
        if self.writer is None:
            self.writer = pq.ParquetWriter(self.path, table.schema)
        self.writer.write_table(table.cast(self.writer.schema))
        self.rows += len(df)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


@dataclass
class Block:
    """One replication reduced where it ran: the columnar rows that a streamed run writes."""

    replication: int
    flows: pd.DataFrame              # its flows_by_replication rows
    nodes: pd.DataFrame              # its facility rows
    shipments: pd.DataFrame | None   # its measured shipments (None when summary-only)


def replication_block(args: tuple) -> Block:
    """Run one replication (the task of `run`) and reduce it to its Block, in the worker, so that
    only per-replication rows travel back, never the replication's output."""
    scenario, _, seed, _, summary_only = args
    out = _task(args)
    res = Results(scenario, seed, [out])
    ships = None if summary_only else res.shipments[res.shipments["measured"]].reset_index(drop=True)
    return Block(out.replication, res.flows_by_replication, _node_rows(scenario, [out]), ships)


def _node_rows(scenario: Scenario, outputs: list) -> pd.DataFrame:
    """One row per replication and facility, the per-replication values behind `Results.nodes`."""
    rows = []
    for out in outputs:
        for node in scenario.network.nodes:
            if node.handling is None:
                continue
            p = out.facilities[node.id]
            rows.append({"replication": out.replication, "node": node.id, "utilization": p["utilization"],
                         "utilization_nominal": p["utilization_nominal"], "mean_queue": p["mean_queue"],
                         "waiting_at_end": p["waiting_at_end"],
                         "arrivals_per_day": p["arrivals"] / p["span_h"] * 24})
    return pd.DataFrame(rows, columns=["replication", "node", *NODE_COLUMNS])


def summarise(scenario: Scenario, flows_by_rep: pd.DataFrame,
              nodes_by_rep: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Across-replication estimates from the per-replication rows, named as the columns of
    `Results.flows` and `Results.nodes`: per flow the mean transit and the throughput with their 95%
    t-intervals and the means of the counts, costs and stage days; per facility the utilisation with
    its interval and the means of the other columns."""
    stage_days = [c for c in flows_by_rep.columns if c.endswith("_days") and c != "transit_days_mean"]
    flows = []
    for flow in scenario.demand:
        r = flows_by_rep[flows_by_rep["flow"] == flow.id]
        mean, lo, hi = t_interval(r["transit_days_mean"])
        tp, tp_lo, tp_hi = t_interval(r["throughput_teu_per_day"])
        flows.append({"flow": flow.id, "replications": len(r),
                      "transit_days_mean": mean, "transit_days_ci95_low": lo, "transit_days_ci95_high": hi,
                      "throughput_teu_per_day": tp, "throughput_ci95_low": tp_lo, "throughput_ci95_high": tp_hi,
                      **{c: float(r[c].mean()) for c in FLOW_MEANS + stage_days}})
    nodes = []
    for node in dict.fromkeys(nodes_by_rep["node"]):
        r = nodes_by_rep[nodes_by_rep["node"] == node]
        util, lo, hi = t_interval(r["utilization"])
        nodes.append({"node": node, "utilization": util, "utilization_ci95_low": lo, "utilization_ci95_high": hi,
                      **{c: float(r[c].mean()) for c in NODE_COLUMNS[1:]}})
    return (pd.DataFrame(flows), pd.DataFrame(nodes, columns=["node", "utilization", "utilization_ci95_low",
                                                               "utilization_ci95_high", *NODE_COLUMNS[1:]]))


def _records(df: pd.DataFrame, key: str) -> dict:
    return {str(row[key]): {k: _json_number(v) if isinstance(v, float) else v for k, v in row.items() if k != key}
            for row in df.to_dict("records")}


def run_streamed(scenario: Scenario, out_dir: str | Path, replications: int | None = None, seed: int | None = None,
                 jobs: int = 1, dask: str | None = None, summary_only: bool = True, window: int | None = None,
                 batch: int | None = None, force: bool = False, command: str = "",
                 progress: bool | None = False) -> StreamedRun:
    """Run a scenario's replications, streaming each one's per-replication blocks to a results folder.

    Same simulation and seeds as `run` (so the same per-replication rows). Each replication is
    reduced to its Block in the worker; the parent appends a batch of blocks at a time to the
    folder's Parquet files and drops them, so its memory does not grow with `replications`.

    Args:
        scenario: a validated scenario.
        out_dir: the results folder (written atomically; an existing one only replaced with `force`).
        replications, seed, jobs, dask, progress: as for `run`.
        summary_only: stream per-flow statistics in the workers (no per-shipment rows); otherwise the
            measured shipments are written too (shipments.parquet).
        window: the most replications submitted and not yet consumed (default: twice the workers
            on Dask, where results wait on the workers; `jobs` for local processes, whose results
            wait in the parent).
        batch: replications written together (one Parquet row group), the most blocks held in
            the parent besides those waiting (default: 16 summary-only, 1 with shipments).

    Returns:
        A StreamedRun: the folder, the most blocks held at once, and the across-replication tables.
    """
    n = replications or scenario.simulation.replications
    seed = scenario.simulation.seed if seed is None else seed
    on_dask = bool(dask or os.environ.get(DASK_ENV))
    serial = not on_dask and (jobs <= 1 or n <= 1)
    if window is None and not on_dask:
        window = max(1, jobs)
    batch = batch or (16 if summary_only else 1)
    tasks = [(scenario, r, seed, False, summary_only) for r in range(n)]
    bar = _Progress(n, f"{scenario.name} replications", progress) if progress is not False else None
    held = {"max": 0}
    tables: dict = {}

    def fill(tmp: Path) -> None:
        files = {"flows": _Blocks(tmp / "flows_by_replication.parquet"),
                 "nodes": _Blocks(tmp / "nodes_by_replication.parquet")}
        if not summary_only:
            files["shipments"] = _Blocks(tmp / "shipments.parquet")
        buffer: list[Block] = []

        def write() -> None:  # one row group per batch: a few replications' rows together
            buffer.sort(key=lambda b: b.replication)
            for name, blocks in files.items():
                blocks.append(pd.concat([getattr(b, name) for b in buffer], ignore_index=True))
            buffer.clear()

        try:
            for _, block in completed(replication_block, tasks, jobs=jobs, dask=dask, window=window):
                buffer.append(block)
                del block  # the buffer is the only reference: write() frees it
                held["max"] = max(held["max"], len(buffer))
                if bar:
                    bar.step()
                if len(buffer) >= batch:
                    write()
            if buffer:
                write()
        finally:
            for blocks in files.values():
                blocks.close()
        flows, nodes = summarise(scenario, read_blocks(tmp / "flows_by_replication.parquet"),
                                 read_blocks(tmp / "nodes_by_replication.parquet"))
        tables.update(flows=flows, nodes=nodes)
        executor = "dask" if on_dask else ("serial" if serial else f"{jobs} processes")
        (tmp / "stream.json").write_text(json.dumps({
            "scenario": scenario.name, "seed": seed, "replications": n, "summary_only": summary_only,
            "executor": executor, "window": window, "batch": batch, "max_blocks_held": held["max"],
            "flows": _records(flows, "flow"), "nodes": _records(nodes, "node")}, indent=2))

    folder = write_folder(out_dir, scenario, fill, command=command, seed=seed, replications=n, force=force,
                          extra_meta={"experiment": "streamed run", "summary_only": summary_only})
    return StreamedRun(folder=folder, replications=n, max_held=held["max"], flows=tables["flows"],
                       nodes=tables["nodes"])
