"""The SimPy engine: one replication of a scenario on one simpy.Environment.

`run_replication(scenario, replication)` is a pure function of its arguments: the same scenario and
replication index give the same output, in any process.
"""

from corridor_sim.engine.model import CorridorModel, ReplicationOutput, run_replication

__all__ = ["CorridorModel", "ReplicationOutput", "run_replication"]
