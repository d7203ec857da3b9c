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

from collections import deque

import simpy


class Facility:
    """Handling at a node: `servers` parallel servers, FIFO, with time-weighted statistics."""

    def __init__(self, env: simpy.Environment, node_id: str, servers: int, service_time_h):
        self.env = env
        self.id = node_id
        self.nominal_servers = servers
        self.servers = servers
        self.sample_service_time_h = service_time_h
        self.busy = 0
        self.queue: deque = deque()
        self._factors: list[float] = []
        self.reset_statistics()

    def reset_statistics(self) -> None:
        """Start measuring afresh (called at the end of the warm-up)."""
        self._last_h = self.env.now
        self.since_h = self.env.now
        self.queue_area = 0.0
        self.busy_area = 0.0
        self.arrivals = 0
        self.started = 0
        self.wait_sum_h = 0.0

    def _advance(self) -> None:
        now = self.env.now
        dt = now - self._last_h
        if dt:
            self.queue_area += len(self.queue) * dt
            self.busy_area += self.busy * dt
            self._last_h = now

    def request(self) -> simpy.Event | None:
        """Seize a server for this arrival: None if one was free, else an event that fires (FIFO)
        when one is. Returning None spares the event a shipment would otherwise wait on for nothing."""
        self._advance()
        self.arrivals += 1
        if self.busy < self.servers and not self.queue:
            self.busy += 1
            self.started += 1
            return None
        event = self.env.event()
        self.queue.append((event, self.env.now))
        return event

    def release(self) -> None:
        """Free one server and start the next waiting arrival if a server is available."""
        self._advance()
        self.busy -= 1
        self._start_waiting()

    def _start_waiting(self) -> None:
        while self.queue and self.busy < self.servers:
            event, arrived_h = self.queue.popleft()
            self.busy += 1
            self.started += 1
            self.wait_sum_h += self.env.now - arrived_h
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
        # A partial factor keeps at least one server: 0 is the only way to close a facility.
        self.servers = 0 if product == 0 else max(1, round(self.nominal_servers * product))
        self._start_waiting()

    def statistics(self) -> dict:
        """Measured statistics since the last reset, up to now."""
        self._advance()
        span = max(self.env.now - self.since_h, 1e-12)
        return {
            "servers": self.nominal_servers,
            "utilization": self.busy_area / (self.nominal_servers * span),
            "mean_queue": self.queue_area / span,
            "mean_busy": self.busy_area / span,
            "arrivals": self.arrivals,
            "started": self.started,
            "wait_sum_h": self.wait_sum_h,
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
