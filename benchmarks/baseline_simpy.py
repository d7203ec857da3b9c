"""A minimal hand-written SimPy model of the ten-station benchmark network.

Ten M/M/2 stations in series, each a plain `simpy.Resource(capacity=2)`; Poisson arrivals 1.6 per
hour at the first station; exponential service with mean 1 h; a negligible hop (a timeout of
1e-5 h, the same as corridor_sim's 1 m road segments at 100 km/h) between stations. It records what
a hand-written model would: customers through and their total time in system.

This is the yardstick for corridor_sim's engine overhead (benchmarks/scenarios/ten_stations.yaml is
the same network). Run as a script it prints one JSON line:

    python benchmarks/baseline_simpy.py [--days 830] [--seed 1]

Analytic check (M/M/2, lambda 1.6, mu 1): W = 1/mu + Wq = 1 + 1.778 = 2.778 h per station, so the
mean time in system is 27.78 h plus 9 hops.
"""

from __future__ import annotations

import argparse
import json
import random
import time

import simpy

STATIONS = 10
SERVERS = 2
ARRIVAL_RATE_PER_H = 1.6
SERVICE_MEAN_H = 1.0
HOP_H = 0.001 / 100.0  # 1 m at 100 km/h, as in the corridor_sim scenario


def simulate(days: float = 830.0, seed: int = 1, hop_h: float = HOP_H) -> dict:
    """Build and run the model; return customers through and mean time in system (h)."""
    rng = random.Random(seed)
    env = simpy.Environment()
    stations = [simpy.Resource(env, capacity=SERVERS) for _ in range(STATIONS)]
    stats = {"done": 0, "time_sum_h": 0.0, "created": 0}
    service_rate = 1.0 / SERVICE_MEAN_H

    def customer(env):
        start = env.now
        for i, station in enumerate(stations):
            if i:
                yield env.timeout(hop_h)
            with station.request() as req:
                yield req
                yield env.timeout(rng.expovariate(service_rate))
        stats["done"] += 1
        stats["time_sum_h"] += env.now - start

    def source(env):
        while True:
            yield env.timeout(rng.expovariate(ARRIVAL_RATE_PER_H))
            stats["created"] += 1
            env.process(customer(env))

    env.process(source(env))
    env.run(until=days * 24.0)
    return {"customers": stats["done"], "created": stats["created"],
            "mean_time_in_system_h": stats["time_sum_h"] / max(stats["done"], 1)}


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--days", type=float, default=830.0)
    p.add_argument("--seed", type=int, default=1)
    args = p.parse_args(argv)
    t0 = time.perf_counter()
    out = simulate(args.days, args.seed)
    out["simulate_s"] = time.perf_counter() - t0
    out["engine"] = "simpy-baseline"
    out["simpy"] = simpy.__version__ if hasattr(simpy, "__version__") else ""
    print(json.dumps(out))


if __name__ == "__main__":
    main()
