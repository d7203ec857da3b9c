"""The ten-station benchmark network in salabim (runs in the benchmark venv, not the project's).

Ten `sim.Resource(capacity=2)` in series (monitors off), Poisson arrivals 1.6 per hour, exponential
service mean 1 h, a 1e-5 h hold between stations (as corridor_sim's 1 m road hops). Generator
processes (`sim.yieldless(False)`), which ran faster here than the greenlet-based yieldless mode.
Prints one JSON line.

    .bench-venv/bin/python benchmarks/bench_ext_salabim.py [--days 830] [--seed 1]
"""

from __future__ import annotations

import time

T_START = time.perf_counter()

import argparse  # noqa: E402
import json  # noqa: E402
import random  # noqa: E402

import salabim as sim  # noqa: E402

T_IMPORTED = time.perf_counter()
STATIONS = 10
HOP_H = 0.001 / 100.0


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--days", type=float, default=830.0)
    p.add_argument("--seed", type=int, default=1)
    args = p.parse_args(argv)
    t0 = time.perf_counter()
    sim.yieldless(False)
    env = sim.Environment(trace=False, random_seed=args.seed)
    rng = random.Random(args.seed)
    stations = [sim.Resource(f"S{i + 1:02d}", capacity=2, monitor=False) for i in range(STATIONS)]
    stats = {"done": 0, "time_sum_h": 0.0}

    class Customer(sim.Component):
        def process(self):
            start = env.now()
            for i, station in enumerate(stations):
                if i:
                    yield self.hold(HOP_H)
                yield self.request(station)
                yield self.hold(rng.expovariate(1.0))
                self.release(station)
            stats["done"] += 1
            stats["time_sum_h"] += env.now() - start

    class Source(sim.Component):
        def process(self):
            while True:
                yield self.hold(rng.expovariate(1.6))
                Customer()

    Source()
    env.run(till=args.days * 24.0)
    t1 = time.perf_counter()
    print(json.dumps({"engine": "salabim", "version": sim.__version__, "customers": stats["done"],
                      "mean_time_in_system_h": stats["time_sum_h"] / max(stats["done"], 1),
                      "simulate_s": t1 - t0, "import_s": T_IMPORTED - T_START}))


if __name__ == "__main__":
    main()
