"""corridor_sim: discrete-event simulation of multimodal freight corridors.

Load a scenario, run it, compare it: see README.md and docs/.
"""

from corridor_sim.errors import Problem, ScenarioError
from corridor_sim.experiments import capacity, compare, run, suggest_warmup_days, sweep
from corridor_sim.results import Results
from corridor_sim.results_dir import read_results
from corridor_sim.scenario import Scenario, load_scenario

__version__ = "0.1.0"

__all__ = [
    "Problem", "Results", "Scenario", "ScenarioError", "__version__", "capacity", "compare", "load_scenario",
    "read_results", "run", "suggest_warmup_days", "sweep",
]
