"""Facilities (handling with parallel servers) and segment gates (vehicles admitted per day).

A Facility is a FIFO multi-server station whose number of servers can change while it runs (a
disruption scales it). It keeps time-weighted areas of its queue length and busy servers, updated at
every state change, so mean queue and utilisation come out exactly, without tracing.

A SegmentGate admits vehicles into one direction of a segment at most `capacity_per_day` a day: it
releases the head of its FIFO queue, then stays shut for 24 / (capacity x factor) hours. A factor
of 0 closes it until the disruption ends; vehicles wait, none is lost. It integrates its factor over
time (`open_h`), so its utilisation is measured against the paths actually available: a gate
closed half the time and used to the full while open reads 1.0, not 0.5.
"""

from __future__ import annotations

import math
from collections import deque

import simpy

from corridor_sim.engine.clock import PARK, Started


class Facility:
    """Handling at a node: `servers` parallel servers, FIFO, with time-weighted statistics.

    A capacity factor f (disruptions multiply) changes the capacity exactly: the facility keeps
    ceil(n x f) servers open, each working at rate n x f / ceil(n x f) of normal (service times of
    services that start while the factor holds are divided by it), so one server at 0.5 serves at
    half its rate and 10 servers at 0.5 are 5 servers at full rate. Utilisation is measured against
    the servers actually open (`utilization`) and against the nominal ones (`utilization_nominal`).

    Waits follow the measured cohort: the waits of arrivals in the measured window (`window_h`),
    whenever they start service; the time-weighted areas are cumulative from time 0 and the
    statistics subtract their values at the last reset.
    """

    def __init__(self, env: simpy.Environment, node_id: str, servers: int, service_time_h,
                 window_h: tuple[float, float] = (0.0, math.inf)):
        self.env = env
        self.id = node_id
        self.nominal_servers = servers
        self.servers = servers
        self.rate = 1.0
        self._base_sampler = service_time_h
        self.sample_service_time_h = service_time_h
        self.busy = 0
        self.queue: deque = deque()
        self._factors: list[float] = []
        self.window_h = window_h
        # Cumulative time-weighted areas since time 0: queue length, busy servers, busy servers that
        # are open (a server finishing its work while closed is busy but not open), open servers.
        self._last_h = env.now
        self.queue_total = 0.0
        self.busy_total = 0.0
        self.busy_open_total = 0.0
        self.open_total = 0.0
        self.reset_statistics()

    def reset_statistics(self) -> None:
        """Start measuring afresh (called at the end of the warm-up)."""
        self._advance()
        self.since_h = self.env.now
        self._base = (self.queue_total, self.busy_total, self.busy_open_total, self.open_total)
        self.arrivals = 0
        self.started = 0
        self.wait_sum_h = 0.0
        self.waited = 0

    def _advance(self) -> None:
        now = self.env.now
        dt = now - self._last_h
        if dt:
            self.queue_total += len(self.queue) * dt
            self.busy_total += self.busy * dt
            self.busy_open_total += min(self.busy, self.servers) * dt
            self.open_total += self.servers * dt
            self._last_h = now

    def areas(self) -> tuple[float, float, float, float]:
        """Cumulative (queue, busy, busy-and-open, open) areas in hours, up to now."""
        self._advance()
        return self.queue_total, self.busy_total, self.busy_open_total, self.open_total

    def request(self, parked: Started | None = None) -> simpy.Event | None:
        """Seize a server for this arrival: None if one was free, else an event that fires (FIFO)
        when one is. Returning None spares the event a shipment would otherwise wait on for nothing.

        `parked`, a Started process on a Clock (engine/clock.py), waits in the queue itself rather
        than on an event: it is then given PARK to yield, and woken (`succeed()`) when its turn comes."""
        now = self.env._now
        dt = now - self._last_h
        if dt:  # _advance, inline: it runs at every arrival at and departure from every facility
            busy, servers = self.busy, self.servers
            self.queue_total += len(self.queue) * dt
            self.busy_total += busy * dt
            self.busy_open_total += (busy if busy < servers else servers) * dt
            self.open_total += servers * dt
            self._last_h = now
        self.arrivals += 1
        if self.busy < self.servers and not self.queue:
            self.busy += 1
            self.started += 1
            return None
        if parked is not None:
            self.queue.append((parked, now))
            return PARK
        event = self.env.event()
        self.queue.append((event, now))
        return event

    def release(self) -> None:
        """Free one server and start the next waiting arrival if a server is available."""
        now = self.env._now
        dt = now - self._last_h
        if dt:  # _advance, inline: it runs at every arrival at and departure from every facility
            busy, servers = self.busy, self.servers
            self.queue_total += len(self.queue) * dt
            self.busy_total += busy * dt
            self.busy_open_total += (busy if busy < servers else servers) * dt
            self.open_total += servers * dt
            self._last_h = now
        self.busy -= 1
        if self.queue:
            self._start_waiting()

    def _start_waiting(self) -> None:
        start_h, end_h = self.window_h
        while self.queue and self.busy < self.servers:
            event, arrived_h = self.queue.popleft()
            self.busy += 1
            self.started += 1
            if start_h <= arrived_h < end_h:
                self.wait_sum_h += self.env.now - arrived_h
                self.waited += 1
            event.succeed()

    def scale(self, factor: float, on: bool) -> None:
        """Apply (on=True) or lift (on=False) a disruption factor; active factors multiply."""
        self._advance()
        if on:
            self._factors.append(factor)
        else:
            self._factors.remove(factor)
        product = 1.0
        for f in self._factors:
            product *= f
        capacity = self.nominal_servers * product
        if capacity <= 0:
            self.servers, self.rate = 0, 1.0
        else:
            # ceil with a tolerance, so that 10 x 0.3 is 3 servers and not 4 slow ones.
            self.servers = max(1, math.ceil(capacity - 1e-9))
            self.rate = capacity / self.servers
        if self.rate == 1.0:
            self.sample_service_time_h = self._base_sampler
        else:
            base, rate = self._base_sampler, self.rate
            self.sample_service_time_h = lambda: base() / rate
        self._start_waiting()

    def waiting_in_window(self) -> int:
        """Arrivals of the measured window still queueing now (censored waits)."""
        start_h, end_h = self.window_h
        return sum(1 for _, arrived_h in self.queue if start_h <= arrived_h < end_h)

    def statistics(self) -> dict:
        """Measured statistics since the last reset, up to now."""
        q, b, bo, o = (x - base for x, base in zip(self.areas(), self._base))
        span = max(self.env.now - self.since_h, 1e-12)
        return {
            "servers": self.nominal_servers,
            "utilization": bo / o if o > 0 else math.nan,
            "utilization_nominal": b / (self.nominal_servers * span),
            "open_servers_mean": o / span,
            "mean_queue": q / span,
            "mean_busy": b / span,
            "arrivals": self.arrivals,
            "started": self.started,
            "wait_sum_h": self.wait_sum_h,
            "waited": self.waited,
            "span_h": span,
        }


class SegmentGate:
    """Admits vehicles into one direction of a segment, at most `capacity_per_day` a day."""

    def __init__(self, env: simpy.Environment, name: str, capacity_per_day: float | None):
        self.env = env
        self.name = name
        self.capacity_per_day = capacity_per_day
        self.factor = 1.0
        self._factors: list[float] = []
        self.queue: deque = deque()
        self.next_free_h = 0.0
        self._wake: simpy.Event | None = None
        self.entered = 0
        self.since_h = 0.0
        self._open_h = 0.0  # integral of the factor since since_h, up to _last_h
        self._last_h = 0.0
        env.process(self._admit())

    def enter(self) -> simpy.Event:
        """An event that fires when this vehicle may enter the segment."""
        event = self.env.event()
        if not self.queue and self.factor > 0 and self.env.now >= self.next_free_h:
            self._let_in(event)
        else:
            self.queue.append(event)
            self._poke()
        return event

    def _headway_h(self) -> float:
        # Without capacity_per_day a gate only exists to be closed by a disruption (factor 0).
        return 0.0 if self.capacity_per_day is None else 24.0 / (self.capacity_per_day * self.factor)

    def _let_in(self, event: simpy.Event) -> None:
        self.next_free_h = self.env.now + self._headway_h()
        self.entered += 1
        event.succeed()

    def _poke(self) -> None:
        if self._wake is not None and not self._wake.triggered:
            self._wake.succeed()

    def _admit(self):
        while True:
            if not self.queue or self.factor == 0:
                self._wake = self.env.event()
                yield self._wake
                continue
            if self.env.now < self.next_free_h:
                self._wake = self.env.event()
                yield self._wake | self.env.timeout(self.next_free_h - self.env.now)
                continue
            self._let_in(self.queue.popleft())

    def open_h(self) -> float:
        """Hours of full capacity available since the last reset: the integral of the factor."""
        return self._open_h + self.factor * (self.env.now - self._last_h)

    def scale(self, factor: float, on: bool) -> None:
        self._open_h = self.open_h()
        self._last_h = self.env.now
        if on:
            self._factors.append(factor)
        else:
            self._factors.remove(factor)
        self.factor = 1.0
        for f in self._factors:
            self.factor *= f
        if self.factor > 0:
            # A changed rate applies from now: the gap already promised shrinks or grows with it.
            self.next_free_h = min(self.next_free_h, self.env.now + self._headway_h())
        self._poke()

    def reset_statistics(self) -> None:
        self.entered = 0
        self.since_h = self.env.now
        self._open_h = 0.0
        self._last_h = self.env.now
