"""The ten-station benchmark network in ciw (runs in the benchmark venv, not the project's).

Ten M/M/2 nodes in series, Poisson arrivals 1.6 per hour at node 1, exponential service mean 1 h.
ciw moves a customer to the next node instantly (no hop), which favours ciw slightly. Prints one
JSON line: customers through, mean time in system, and the simulate time (network + run).

    .bench-venv/bin/python benchmarks/bench_ext_ciw.py [--days 830] [--seed 1]
"""

from __future__ import annotations

import time

T_START = time.perf_counter()

import argparse  # noqa: E402
import json  # noqa: E402

import ciw  # noqa: E402

T_IMPORTED = time.perf_counter()
STATIONS = 10


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--days", type=float, default=830.0)
    p.add_argument("--seed", type=int, default=1)
    args = p.parse_args(argv)
    t0 = time.perf_counter()
    network = ciw.create_network(
        arrival_distributions=[ciw.dists.Exponential(rate=1.6)] + [None] * (STATIONS - 1),
        service_distributions=[ciw.dists.Exponential(rate=1.0)] * STATIONS,
        number_of_servers=[2] * STATIONS,
        routing=[[1.0 if j == i + 1 else 0.0 for j in range(STATIONS)] for i in range(STATIONS)],
    )
    ciw.seed(args.seed)
    sim = ciw.Simulation(network)
    sim.simulate_until_max_time(args.days * 24.0)
    t1 = time.perf_counter()
    records = sim.get_all_records()
    first = {r.id_number: r.arrival_date for r in records if r.node == 1}
    done = [r.exit_date - first[r.id_number] for r in records if r.node == STATIONS]
    t2 = time.perf_counter()
    print(json.dumps({"engine": "ciw", "version": ciw.__version__, "customers": len(done),
                      "mean_time_in_system_h": sum(done) / max(len(done), 1),
                      "simulate_s": t1 - t0, "records_s": t2 - t1, "import_s": T_IMPORTED - T_START}))


if __name__ == "__main__":
    main()
