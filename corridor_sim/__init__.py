"""corridor_sim: discrete-event simulation of multimodal freight corridors.

Load a scenario, run it, compare it: see README.md and docs/.

The public names are imported on first use (PEP 562 module `__getattr__`), so that a process pays
only for what it uses: a summary-only run never imports pandas, a `validate` never the engine.
`from corridor_sim import run` works as before.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from corridor_sim.errors import Problem, ScenarioError
from corridor_sim.lazy import lazy_getattr

__version__ = "0.1.0"

__all__ = [
    "Problem", "Results", "Scenario", "ScenarioError", "__version__", "capacity", "compare", "load_scenario",
    "read_results", "run", "suggest_warmup_days", "sweep",
]

# Each lazy public name and the module that defines it.
_LAZY = {
    "capacity": "corridor_sim.experiments", "compare": "corridor_sim.experiments", "run": "corridor_sim.experiments",
    "suggest_warmup_days": "corridor_sim.experiments", "sweep": "corridor_sim.experiments",
    "Results": "corridor_sim.results", "read_results": "corridor_sim.results_dir",
    "Scenario": "corridor_sim.scenario", "load_scenario": "corridor_sim.scenario",
}

# Submodules that `import corridor_sim` used to load as a side effect: still reachable as attributes
# (`corridor_sim.results.t_interval`), imported when first used.
_SUBMODULES = {"calendar", "cohort", "distributions", "engine", "errors", "estimators", "experiments",
               "infrastructure", "network", "outdir", "queueing", "results", "results_dir", "scenario", "stability"}

if TYPE_CHECKING:
    from corridor_sim.experiments import capacity, compare, run, suggest_warmup_days, sweep
    from corridor_sim.results import Results
    from corridor_sim.results_dir import read_results
    from corridor_sim.scenario import Scenario, load_scenario


__getattr__ = lazy_getattr(__name__, _LAZY, _SUBMODULES, globals())


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
