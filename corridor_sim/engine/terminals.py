"""Terminals: berths (and rail loading tracks), yards, and dwell that is not a queue.

**Berths.** A node with `berths: {count, fixed_h, teu_per_hour}` has `count` berths, worked first
come first served. Every call of a vehicle of the berths' mode (vessels at a port, trains
elsewhere: loading tracks; `mode` overrides) occupies one berth for `fixed_h` plus the TEU it
unloads and loads there divided by `teu_per_hour`. A call is: wait for a berth; unload (the fixed
time and the TEU off); the boxes alight; load the boxes that board; leave the berth. The time counts
on the vehicle and so on everyone aboard (as dwell while it waits and unloads, as wait while it
loads) or waiting for it (as wait); an alighting box records its wait for the berth as queue and
its unloading as handling at the node.

**Yards.** `yard_teu` bounds the boxes standing at a node: a box is in the yard from when it arrives
there to stop (created there, unloaded, or brought by truck) until it leaves (loaded onto a vehicle,
driven away, or delivered). A box brought by truck, or created, waits outside while the yard is
full (queue time). A vehicle whose unloading would overflow the yard keeps its berth (and its
boxes) until there is room for all it unloads. Boxes are never lost: the yard's arrivals equal its
departures plus what stands in it. A yard can block for good only if the boxes filling it can leave
by nothing but the vehicle it blocks; give it room for at least one unloading besides them.

**Dwell.** A node's `dwell_h` delays every shipment that stops there (customs, documents, storage)
with no capacity: a delay station (M/G/infinity), so its mean is the dwell mean at any load.
`handling` stays a queue of real servers.
"""

from __future__ import annotations

from collections import deque

import numpy as np
import simpy

from corridor_sim.engine.records import Stage
from corridor_sim.scenario.schema import Berths as BerthsSpec
from corridor_sim.scenario.schema import Node

QUEUE, HANDLING = int(Stage.QUEUE), int(Stage.HANDLING)
EPS_TEU = 1e-9


def berth_mode(node: Node) -> str:
    """The mode of the vehicles that call at a node's berths: the given one, else sea at a port."""
    if node.berths.mode is not None:
        return node.berths.mode
    return "sea" if node.kind == "port" else "rail"


class BerthGroup:
    """`count` berths at a node, FIFO, with time-weighted occupancy and queue statistics."""

    def __init__(self, env: simpy.Environment, node_id: str, spec: BerthsSpec):
        self.env = env
        self.id = node_id
        self.count = spec.count
        self.fixed_h = spec.fixed_h
        self.teu_per_hour = spec.teu_per_hour
        self.busy = 0
        self.queue: deque = deque()
        self.queue_samples: list[int] = []
        self.reset_statistics()

    def reset_statistics(self) -> None:
        self._last_h = self.since_h = self.env.now
        self.busy_area = self.queue_area = 0.0
        self.calls = self.calls_background = 0
        self.wait_sum_h = 0.0
        self.started = 0
        self.queue_samples = []

    def _advance(self) -> None:
        dt = self.env.now - self._last_h
        if dt:
            self.busy_area += self.busy * dt
            self.queue_area += len(self.queue) * dt
            self._last_h = self.env.now

    def request(self, background: bool = False) -> simpy.Event | None:
        """Seize a berth: None if one is free, else an event that fires when one is (FIFO)."""
        self._advance()
        self.calls += 1
        self.calls_background += background
        if self.busy < self.count and not self.queue:
            self.busy += 1
            self.started += 1
            return None
        event = self.env.event()
        self.queue.append((event, self.env.now))
        return event

    def release(self) -> None:
        self._advance()
        self.busy -= 1
        if self.queue:
            event, arrived_h = self.queue.popleft()
            self.busy += 1
            self.started += 1
            self.wait_sum_h += self.env.now - arrived_h
            event.succeed()

    def work_h(self, teu: float) -> float:
        return teu / self.teu_per_hour

    def statistics(self) -> dict:
        self._advance()
        span = max(self.env.now - self.since_h, 1e-12)
        waiting_h = sum(self.env.now - t for _, t in self.queue)
        return {
            "berths": self.count,
            "utilization": self.busy_area / (self.count * span),
            "mean_queue": self.queue_area / span,
            "calls": self.calls, "calls_background": self.calls_background,
            "started": self.started,
            # Calls still waiting count with the wait they have had so far.
            "wait_sum_h": self.wait_sum_h + waiting_h,
            "waits": self.started + len(self.queue),
            "queue_at_end": len(self.queue),
            "queue_slope_per_day": _slope_per_day(self.queue_samples),
            "span_h": span,
        }


def _slope_per_day(samples: list[int]) -> float:
    """Least-squares slope of daily queue samples (calls per day); 0 with fewer than 3 samples."""
    if len(samples) < 3:
        return 0.0
    y = np.asarray(samples, dtype=float)
    return float(np.polyfit(np.arange(len(y)), y, 1)[0])


class Yard:
    """Room for `capacity_teu` TEU of boxes at a node; FIFO admission when full."""

    def __init__(self, env: simpy.Environment, node_id: str, capacity_teu: float):
        self.env = env
        self.id = node_id
        self.capacity_teu = capacity_teu
        self.level = 0.0
        self.waiting: deque = deque()
        self.reset_statistics()

    def reset_statistics(self) -> None:
        self._last_h = self.since_h = self.env.now
        self.level_area = self.full_h = 0.0
        self.peak = self.level
        self.teu_in = self.teu_out = 0.0
        self.level_at_start = self.level

    def _advance(self) -> None:
        dt = self.env.now - self._last_h
        if dt:
            self.level_area += self.level * dt
            if self.waiting or self.level >= self.capacity_teu - EPS_TEU:
                self.full_h += dt
            self._last_h = self.env.now

    def put(self, teu: float) -> simpy.Event | None:
        """Place boxes: None if there is room now, else an event that fires when there is (FIFO)."""
        self._advance()
        if not self.waiting and self.level + teu <= self.capacity_teu + EPS_TEU:
            self._admit(teu)
            return None
        event = self.env.event()
        self.waiting.append((teu, event))
        return event

    def _admit(self, teu: float) -> None:
        self.level += teu
        self.teu_in += teu
        self.peak = max(self.peak, self.level)

    def get(self, teu: float) -> None:
        """Boxes leave; admit those waiting that now fit, in order."""
        self._advance()
        self.level -= teu
        self.teu_out += teu
        # (Checks make every vehicle unloading here fit in the empty yard, so the head always can.)
        while self.waiting and self.level + self.waiting[0][0] <= self.capacity_teu + EPS_TEU:
            teu_in, event = self.waiting.popleft()
            self._admit(teu_in)
            event.succeed()

    def statistics(self) -> dict:
        self._advance()
        span = max(self.env.now - self.since_h, 1e-12)
        return {
            "yard_teu": self.capacity_teu,
            "mean_occupancy_teu": self.level_area / span,
            "peak_occupancy_teu": self.peak,
            "share_time_full": self.full_h / span,
            "teu_in": self.teu_in, "teu_out": self.teu_out,
            "level_at_start": self.level_at_start, "level_at_end": self.level,
            "waiting_teu_at_end": sum(t for t, _ in self.waiting),
        }


class StopCall:
    """What a vehicle does at a stop with berths (of its mode) or a yard: the two halves of a call."""

    def __init__(self, model, node: Node, berths: BerthGroup | None, yard: Yard | None):
        self.model = model
        self.env = model.env
        self.node = node
        self.place = model.node_place[node.id]
        self.berths = berths
        self.yard = yard

    def arrive(self, onboard: list, k: int, last: bool, background_teu: float | None = None):
        """Take a berth, wait for yard room, unload the boxes alighting at stop k (a generator).

        `background_teu` is the TEU a background vehicle moves here (it carries no shipments).
        """
        env, rec = self.env, self.model.recorder
        arrived_h = env.now
        off = [w for w in onboard if w.alight == k] if background_teu is None else []
        off_teu = sum(w.teu for w in off)
        if self.berths is not None:
            wait = self.berths.request(background_teu is not None)
            if wait is not None:
                yield wait
        if self.yard is not None and off_teu:
            room = self.yard.put(off_teu)
            if room is not None:
                yield room
        started_h = env.now
        if self.berths is not None:
            work_teu = off_teu if background_teu is None else background_teu
            yield env.timeout(self.berths.fixed_h + self.berths.work_h(work_teu))
            if last or background_teu is not None:
                self.berths.release()
        for w in off:
            rec.stage(w.shipment, QUEUE, self.place, arrived_h, started_h)
            rec.stage(w.shipment, HANDLING, self.place, started_h, env.now)

    def depart(self, onboard: list, k: int):
        """Boxes that boarded at stop k leave the yard; load them and leave the berth (a generator)."""
        on = [w for w in onboard if w.board == k]
        on_teu = sum(w.teu for w in on)
        if self.yard is not None:
            for w in on:
                self.yard.get(w.teu)
        if self.berths is not None:
            if on_teu:
                yield self.env.timeout(self.berths.work_h(on_teu))
            self.berths.release()


def yard_in(model, shipment: int, teu: float, yard: Yard, place: int):
    """A box arriving to stop at a node takes yard room, waiting outside while the yard is full."""
    arrived_h = model.env.now
    room = yard.put(teu)
    if room is not None:
        yield room
        model.recorder.stage(shipment, QUEUE, place, arrived_h, model.env.now)


def yard_out(model, shipment: int, teu: float, yard: Yard, place: int):
    """A box leaves the yard by road, or is delivered."""
    yard.get(teu)
    return
    yield  # a generator like every other step


def dwell(model, shipment: int, teu: float, sample, place: int, stage: int):
    """Delay the shipment by its own draw of the node's dwell: no server, no queue (M/G/inf)."""
    start_h = model.env.now
    yield model.env.timeout(sample())
    model.recorder.stage(shipment, stage, place, start_h, model.env.now)
