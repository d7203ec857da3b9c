"""Services: trains and vessels that run a line's stops in order and carry shipments as a batch.

Each departure is one SimPy process (a *run*). It stamps the records of its whole load; a shipment's
own process only waits, once per ride, for the event that the run triggers when it alights.

At each stop a run: lets alighting shipments off; is handled as one vehicle where the node's
handling `applies: always` (a border inspects the train, not each box); dwells; boards waiting
shipments in arrival order while there is room (a shipment that does not fit stops the boarding:
FIFO); then queues for a path into the next segment (the segment's gate) and runs it.

Departures are scheduled (`every_h` from `first_h`, at the first stop) or when full (the first stop's
waiting load reaches `capacity_teu`, or `max_wait_h` has passed since the first shipment began to
wait: at the first stop, or at a later stop counting from the last departure if that is later). A
disruption on the service scales its TEU per departure; at factor 0 departures are cancelled.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field

import simpy

from corridor_sim.engine.records import Stage
from corridor_sim.network import Line
from corridor_sim.scenario.schema import Scheduled


@dataclass(slots=True)
class Waiting:
    shipment: int
    teu: float
    board: int
    alight: int
    ready_h: float
    event: simpy.Event


@dataclass
class LineState:
    """A line's waiting queues (one per stop) and its statistics."""

    line: Line
    index: int  # place index of the line in the records
    capacity_teu: float
    queues: list[deque] = field(default_factory=list)
    factors: list[float] = field(default_factory=list)
    extra_delays: list = field(default_factory=list)
    arrival: simpy.Event | None = None
    last_departure_h: float = -math.inf
    departures: int = 0
    cancelled: int = 0
    load_factor_sum: float = 0.0
    teu_carried: float = 0.0

    def factor(self) -> float:
        return math.prod(self.factors) if self.factors else 1.0

    def reset_statistics(self) -> None:
        self.departures = 0
        self.cancelled = 0
        self.load_factor_sum = 0.0
        self.teu_carried = 0.0


class ServiceRunner:
    """Runs every line of a model: departures, boarding, running, alighting."""

    def __init__(self, model):
        self.model = model
        self.env: simpy.Environment = model.env

    def start(self, state: LineState) -> None:
        state.queues = [deque() for _ in state.line.stops]
        dep = state.line.service.departures
        if isinstance(dep, Scheduled):
            self.env.process(self._scheduled(state, dep.every_h, dep.first_h))
        else:
            self.env.process(self._when_full(state, dep.max_wait_h))

    def board_later(self, state: LineState, waiting: Waiting, stop: int) -> None:
        """Put a shipment in the queue at a stop; a when-full line is told of any arrival."""
        state.queues[stop].append(waiting)
        if state.arrival is not None and not state.arrival.triggered:
            state.arrival.succeed()

    def _scheduled(self, state: LineState, every_h: float, first_h: float):
        yield self.env.timeout(first_h)
        while True:
            self._depart(state)
            yield self.env.timeout(every_h)

    def _when_full(self, state: LineState, max_wait_h: float):
        queue = state.queues[0]
        while True:
            capacity = state.capacity_teu * state.factor()
            # A departure must be able to take someone: the head of the first stop's queue fits
            # (otherwise, under a disruption that shrinks the vehicle below it, departures would
            # repeat at one instant for ever), or shipments wait further down the line.
            head_fits = bool(queue) and queue[0].teu <= capacity + 1e-9
            deadline_h = queue[0].ready_h + max_wait_h if head_fits else math.inf
            for later in state.queues[1:-1]:
                if later:
                    # Its max_wait_h counts from when it began waiting or from the last departure,
                    # which will pass its stop after it arrived (and take it if there is room).
                    since_h = max(later[0].ready_h, state.last_departure_h)
                    deadline_h = min(deadline_h, since_h + max_wait_h)
            full = head_fits and sum(w.teu for w in queue) >= capacity
            if capacity > 0 and (full or self.env.now >= deadline_h):
                self._depart(state)
                yield self.env.timeout(0)  # let the run take its load before counting again
                continue
            state.arrival = self.env.event()
            if capacity > 0 and deadline_h < math.inf:
                yield state.arrival | self.env.timeout(deadline_h - self.env.now)
            elif any(state.queues):
                # Closed, or the head does not fit: wait for the disruption to lift (re-checked at
                # each arrival or a day on).
                yield state.arrival | self.env.timeout(24.0)
            else:
                yield state.arrival

    def _depart(self, state: LineState) -> None:
        capacity = state.capacity_teu * state.factor()
        if capacity <= 0:
            state.cancelled += 1
            return
        state.last_departure_h = self.env.now
        self.env.process(self._run(state, capacity))

    def _run(self, state: LineState, capacity_teu: float):
        model, env, line = self.model, self.env, state.line
        onboard: list[Waiting] = []
        load = 0.0
        peak = 0.0
        # The stop log: per stop, (arrive, service start, service end, ready to leave, depart).
        log: list[tuple[float, float, float, float, float]] = []
        delay = model.service_extra_delay(state)
        last = len(line.stops) - 1
        calls = model.stop_calls.get(line.id)  # berths or yards on the line (terminals.py)
        for k, node in enumerate(line.stops):
            arrive_h = env.now
            if calls and calls[k]:
                yield from calls[k].arrive(onboard, k, k == last)
            if k > 0:
                staying = []
                for w in onboard:
                    if w.alight == k:
                        load -= w.teu
                        self._stamp(state, w, log, arrive_h)
                        w.event.succeed()
                    else:
                        staying.append(w)
                onboard = staying
            if k == last:
                break
            start_h = end_h = arrive_h
            facility = model.vehicle_facility(node) if k > 0 else None
            if facility is not None:
                wait = facility.request()
                if wait is not None:
                    yield wait
                start_h = env.now
                yield env.timeout(model.vehicle_handling_time_h(node, line.service.mode))
                facility.release()
                end_h = env.now
            if k > 0:
                dwell = model.dwell_sampler(state)()
                if dwell:
                    yield env.timeout(dwell)
            ready_h = env.now
            queue = state.queues[k]
            while queue and load + queue[0].teu <= capacity_teu + 1e-9:
                w = queue.popleft()
                load += w.teu
                onboard.append(w)
            peak = max(peak, load)
            if calls and calls[k]:
                yield from calls[k].depart(onboard, k)
            segment = line.segments[k]
            passage = yield from model.enter_segment(segment, node)  # its gate; a single track
            depart_h = env.now
            log.append((arrive_h, start_h, end_h, ready_h, depart_h))
            yield from model.run_segment(segment, passage, model.running_time_h(segment) + (delay if k == 0 else 0.0))
        if env.now >= model.warmup_h:
            state.departures += 1
            state.load_factor_sum += peak / state.capacity_teu
            state.teu_carried += peak

    def _stamp(self, state: LineState, w: Waiting, log, arrive_h: float) -> None:
        """Write a shipment's ride into the records, stop by stop, when it alights."""
        model, line, rec = self.model, state.line, self.model.recorder
        rec.stage(w.shipment, Stage.WAIT, state.index, w.ready_h, log[w.board][4])
        for k in range(w.board, w.alight):
            depart_h = log[k][4]
            next_arrive_h = log[k + 1][0] if k + 1 < len(log) else arrive_h
            rec.stage(w.shipment, Stage.TRAVEL, model.segment_place[line.segments[k].id], depart_h, next_arrive_h)
            if k + 1 < w.alight:
                a, s, e, r, d = log[k + 1]
                node = line.stops[k + 1]
                place = model.node_place[node]
                rec.stage(w.shipment, Stage.QUEUE, place, a, s)
                rec.stage(w.shipment, model.handling_stage(node), place, s, e)
                rec.stage(w.shipment, Stage.DWELL, place, e, r)
                rec.stage(w.shipment, Stage.WAIT, state.index, r, d)
