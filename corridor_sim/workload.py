"""The work a run would do, estimated before simulating, so that no run starts that cannot end.

A scenario can be valid key by key and still ask for more than any machine holds: 1e9 TEU a year
in consignments of 1e-6 TEU, a horizon of a billion days, a departure every few minutes for a
century. Simulating such a run would hang for days or die of MemoryError. So before simulating, the
command line counts, in closed form (no routing, no simulation; microseconds), the things a
replication creates over the simulated span:

- shipments: `teu_per_year / shipment_teu` a year for each flow;
- departures: `span / every_h` for each line of a scheduled service (a service with `reverse` has
  two lines); a when-full service departs only with shipments aboard, so they are counted already;
- disruption windows: one, or `span / every_days` for a recurring one;
- queue samples: one a day.

Each counts as one unit of work (a shipment makes some 8 SimPy events, a departure a few per stop:
the count is an estimate of size, not of seconds). Over all replications the total must stay within
`DEFAULT_MAX_WORK`, about an hour of simulating on one core and a few GB of shipment rows;
`corridor-sim run --max-work N` raises it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from corridor_sim.errors import Problem, ScenarioError
from corridor_sim.scenario.schema import Scheduled, Scenario

DEFAULT_MAX_WORK = 50_000_000
"""Shipments, departures, disruption windows and queue samples of a whole run (all replications)."""

HOURS_PER_YEAR = 365.0 * 24.0


@dataclass(frozen=True)
class Driver:
    """One source of work: its key path, how it was counted, and the count per replication."""

    key_path: str
    description: str
    count: float


def _count(x: float) -> float:
    """A non-negative count; an overflow (inf, or nan from inf - inf) counts as infinite."""
    return math.inf if math.isnan(x) else max(0.0, x)


def estimate_work(scenario: Scenario, span_h: float) -> list[Driver]:
    """What one replication creates over `span_h` simulated hours, by the key that drives it.

    Args:
        scenario: a validated scenario.
        span_h: the simulated span in hours (the horizon plus any drain after it).

    Returns:
        One Driver per flow, scheduled service line group, disruption and the queue sampler, the
        largest first.
    """
    drivers = []
    for i, flow in enumerate(scenario.demand):
        count = _count(flow.teu_per_year / flow.shipment_teu * (span_h / HOURS_PER_YEAR))
        drivers.append(Driver(f"demand[{i}].teu_per_year",
                              f"{flow.teu_per_year:g} / shipment_teu {flow.shipment_teu:g} = {_fmt(count)} shipments",
                              count))
    for i, service in enumerate(scenario.services):
        dep = service.departures
        if isinstance(dep, Scheduled):
            lines = 2 if service.reverse else 1
            count = _count(lines * math.floor(_count(span_h - dep.first_h) / dep.every_h + 1)
                           if span_h >= dep.first_h else 0.0)
            drivers.append(Driver(f"services[{i}].departures.every_h",
                                  f"{dep.every_h:g} on {lines} line(s) = {_fmt(count)} departures", count))
    for i, dis in enumerate(scenario.disruptions):
        if dis.every_days is None:
            count = 1.0
        else:
            count = _count(math.floor(_count(span_h / 24.0 - dis.start_day) / dis.every_days) + 1)
        drivers.append(Driver(f"disruptions[{i}].every_days" if dis.every_days else f"disruptions[{i}]",
                              f"{dis.every_days:g} = {_fmt(count)} windows" if dis.every_days
                              else "one window", count))
    samples = _count(span_h / 24.0 + 1)
    drivers.append(Driver("simulation.horizon_days", f"{_fmt(samples)} daily queue samples", samples))
    return sorted(drivers, key=lambda d: -d.count)


def check_work(scenario: Scenario, replications: int, span_h: float, max_work: float = DEFAULT_MAX_WORK) -> float:
    """Refuse a run whose estimated work exceeds `max_work`; return the estimate otherwise.

    Raises:
        ScenarioError: naming the keys that drive the work, the estimate and the limit.
    """
    drivers = estimate_work(scenario, span_h)
    total = _count(sum(d.count for d in drivers) * float(min(replications, 10**300)))
    if total <= max_work:
        return total
    top = "; ".join(f"{d.key_path}: {d.description}" for d in drivers[:3] if d.count > 0)
    message = (f"the run would make about {_fmt(total)} shipments, departures, disruption windows and queue "
               f"samples ({replications} replication(s) of {_fmt(span_h / 24.0)} simulated days: simulation.horizon_days "
               f"{scenario.simulation.horizon_days:g} and the drain after it), more than "
               f"the limit {_fmt(max_work)} (raise it with --max-work); per replication: {top}")
    raise ScenarioError([Problem(scenario.source_file or "<scenario>", drivers[0].key_path, message)])


def _fmt(x: float) -> str:
    return "infinitely many" if math.isinf(x) else (f"{x:,.0f}" if x < 1e7 else f"{x:.3g}")
