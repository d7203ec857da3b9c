"""Experiments: replications run serially, in local processes or on a Dask cluster.

A replication is a pure function of (scenario, replication index, seed), so the executor never
changes a result: serial, `jobs=N` processes and Dask give the same numbers bit for bit.

Modules, one experiment kind each: `executors` (serial, processes, Dask: `map_tasks`),
`replications` (`run`, and batches of scenarios with common random numbers), `warmup` (Welch's
curve, `suggest_warmup_days`), `comparison` (`compare`: paired differences), `sweeps` (`sweep`
over a grid of `--set` values) and `capacity_search` (`capacity` by bisection). Every name is
importable from `corridor_sim.experiments`, imported on first use (PEP 562 module `__getattr__`): a run
does not import what compare, sweep or capacity need (pandas among them).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from corridor_sim.lazy import lazy_getattr

# Names importable from the single-module corridor_sim.experiments, kept for its callers: each name and
# the module that defines it, imported when the name is first asked for.
_MODULES = {
    "corridor_sim.engine.model": ("ReplicationOutput", "run_replication"),
    "corridor_sim.errors": ("UsageError",),
    "corridor_sim.estimators": ("slope_per_day",),
    "corridor_sim.results": ("Results", "_json_number", "t_interval"),
    "corridor_sim.scenario.schema": ("Scenario",),
    "corridor_sim.stability": ("level_series",),
    ".executors": ("DASK_ENV", "_Progress", "_task", "default_jobs", "map_tasks", "require_dask"),
    ".replications": ("_as_scenario", "_run_many", "check_flow", "run"),
    ".warmup": ("suggest_warmup_days", "welch_curve"),
    ".comparison": ("COMPARE_METRICS", "_fmt_ci", "_unique_names", "_welch_interval", "compare", "compare_results",
                    "format_compare", "run_compare"),
    ".sweeps": ("MAX_RANGE_POINTS", "_NUM", "_RANGE", "_describe", "_fields_of", "_models_in", "_number",
                "_point_label", "format_sweep", "parse_setting", "parse_values", "set_path", "sweep",
                "sweep_scenarios"),
    ".capacity_search": ("_assess", "_backlog_growth", "capacity", "format_capacity"),
    ".streaming": ("StreamedRun", "completed", "read_blocks", "run_streamed"),
}
_LAZY = {name: module for module, names in _MODULES.items() for name in names}
# The submodules, which `import corridor_sim.experiments` used to load: attributes imported when first used.
_SUBMODULES = {"executors", "replications", "warmup", "comparison", "sweeps", "capacity_search", "streaming"}

if TYPE_CHECKING:
    from corridor_sim.engine.model import ReplicationOutput, run_replication
    from corridor_sim.errors import UsageError
    from corridor_sim.estimators import slope_per_day
    from corridor_sim.results import Results, _json_number, t_interval
    from corridor_sim.scenario.schema import Scenario
    from corridor_sim.stability import level_series
    from corridor_sim.experiments.executors import DASK_ENV, _Progress, _task, default_jobs, map_tasks, require_dask
    from corridor_sim.experiments.replications import _as_scenario, _run_many, check_flow, run
    from corridor_sim.experiments.warmup import suggest_warmup_days, welch_curve
    from corridor_sim.experiments.comparison import (COMPARE_METRICS, _fmt_ci, _unique_names, _welch_interval,
                                                     compare, compare_results, format_compare, run_compare)
    from corridor_sim.experiments.sweeps import (MAX_RANGE_POINTS, _NUM, _RANGE, _describe, _fields_of, _models_in,
                                                 _number, _point_label, format_sweep, parse_setting, parse_values,
                                                 set_path, sweep, sweep_scenarios)
    from corridor_sim.experiments.capacity_search import _assess, _backlog_growth, capacity, format_capacity
    from corridor_sim.experiments.streaming import StreamedRun, completed, read_blocks, run_streamed


__getattr__ = lazy_getattr(__name__, _LAZY, _SUBMODULES, globals())


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
