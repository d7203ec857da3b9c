"""Services: trains and vessels that run a line's stops in order and carry shipments as a batch.

Each departure is one SimPy process (a *run*). It logs its stops once (engine/stoplog.py) and
records each rider's (run, board, alight) when it alights; a shipment's own process only waits, once
per ride, for the event that the run triggers then.

At each stop a run: lets alighting shipments off; is handled as one vehicle where the node's
handling `applies: always` (a border inspects the train, not each box); dwells; boards waiting
shipments in arrival order while there is room (a shipment that does not fit stops the boarding:
FIFO); then queues for a path into the next segment (the segment's gate) and runs it. Shipments wait
in pools shared by every line that can carry them (engine/pools.py), so a stop's waiting shipments
are those of the pools its line serves there.

Departures are scheduled (`every_h` from `first_h`, at the first stop) or when full (the first stop's
waiting load reaches `capacity_teu`, or `max_wait_h` has passed since the first shipment began to
wait: at the first stop, or at a later stop counting from the last departure if that is later). A
disruption on the service scales its TEU per departure; at factor 0 departures are cancelled.

Statistics of measured departures: TEU boarded (every shipment counted once, wherever it boards),
TEU-km carried, and the load factor (peak TEU on board) against the TEU offered by that departure
(capacity x the disruption factor in force) and against nominal capacity.

Under a factor below 1 a when-full departure keeps the full vehicle's timing, so a cut can never
make a line sail more often than it would uncut: the line keeps the queue the uncut line would have
(the TEU come to the first stop, less `capacity_teu` per departure); a departure is due when that
queue holds `capacity_teu`, or `max_wait_h` after the oldest waiting shipment (counted from the
previous departure if that is later), and it takes the cut TEU.

A service with a `fleet` departs only with one of its vehicles idle at the first stop (see
fleets.py): a scheduled departure without one leaves late when one comes back, or is cancelled; a
when-full line waits for one (and with `reverse: true` a vehicle idle where nothing waits for its
line leaves empty when the other end is due and has none, so vehicles do not gather at the end
without cargo).
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field

import simpy

from corridor_sim.engine.pools import board, in_order, oldest
from corridor_sim.engine.stoplog import line_layout
from corridor_sim.network import Line
from corridor_sim.scenario.schema import Scheduled


@dataclass(slots=True)
class Waiting:
    shipment: int
    teu: float
    board: int
    alight: int
    ready_h: float
    event: simpy.Event  # or the parked journey itself (engine/clock.py Started): what alighting succeeds
    to: str = ""  # the stop it alights at (board and alight are set when a line takes it)
    seq: int = 0  # arrival order across pools


@dataclass
class LineState:
    """A line's boarding pools (groups per stop, set by engine.pools.Pools) and its statistics."""

    line: Line
    index: int  # place index of the line in the records
    capacity_teu: float
    boards: list[list] = field(default_factory=list)  # per stop, the pool groups it boards from
    alights: list[dict] = field(default_factory=list)  # per stop, the index of each later stop
    km: list[float] = field(default_factory=list)  # distance run from the first stop to each stop
    factors: list[float] = field(default_factory=list)
    extra_delays: list = field(default_factory=list)
    arrival: simpy.Event | None = None
    last_departure_h: float = -math.inf
    departures: int = 0
    cancelled: int = 0
    load_factor_sum: float = 0.0  # peak load / TEU offered by the departure
    teu_carried: float = 0.0  # TEU boarded
    load_factor_nominal_sum: float = 0.0  # peak load / nominal capacity
    peak_teu_sum: float = 0.0
    teu_km: float = 0.0
    offered_teu: float = 0.0
    empty_teu: float = 0.0  # empty boxes (engine/empties.py) that alighted from measured departures
    fleet: object = None  # the service's Fleet (engine/fleets.py), if it has one
    uncut_backlog_teu: float | None = None  # under a capacity cut: the uncut line's queue at its last departure
    through_teu: list[float] = field(default_factory=list)  # per stop, TEU on board staying on at its last call (choice.py)
    on_change: object = None  # called when what the line offers changes (route choice's estimates: engine/estimates.py)

    def factor(self) -> float:
        return math.prod(self.factors) if self.factors else 1.0

    def reset_statistics(self) -> None:
        self.departures = 0
        self.cancelled = 0
        self.load_factor_sum = 0.0
        self.teu_carried = 0.0
        self.load_factor_nominal_sum = 0.0
        self.peak_teu_sum = 0.0
        self.teu_km = 0.0
        self.offered_teu = 0.0
        self.empty_teu = 0.0

    def waiting(self) -> int:
        """Shipments waiting in the pools this line boards from."""
        groups = {id(g): g for stop in self.boards for g in stop}
        return sum(len(g.queue) for g in groups.values())

    def has_waiting(self) -> bool:
        """Whether anyone waits in the pools this line boards from."""
        return any(g.queue for groups in self.boards for g in groups)

    def waiting_teu(self) -> float:
        """TEU waiting in the pools this line boards from (a pool shared by lines counts for each)."""
        groups = {id(g): g for stop in self.boards for g in stop}
        return sum(w.teu for g in groups.values() for w in g.queue)


class ServiceRunner:
    """Runs every line of a model: departures, boarding, running, alighting."""

    def __init__(self, model):
        self.model = model
        self.env: simpy.Environment = model.env
        self._layouts: dict[int, tuple[list[int], list[int]]] = {}

    def start(self, state: LineState) -> None:
        dep = state.line.service.departures
        if isinstance(dep, Scheduled):
            self.env.process(self._scheduled(state, dep.every_h, dep.first_h))
        else:
            self.env.process(self._when_full(state, dep.max_wait_h))

    def board_later(self, group, waiting: Waiting) -> None:
        """Put a shipment in its pool's group; the when-full lines serving it are told of it."""
        group.queue.append(waiting)
        for state in group.lines:
            if state.arrival is not None and not state.arrival.triggered:
                state.arrival.succeed()

    def _scheduled(self, state: LineState, every_h: float, first_h: float):
        yield self.env.timeout(first_h)
        while True:
            self._depart(state)
            yield self.env.timeout(every_h)

    def _when_full(self, state: LineState, max_wait_h: float):
        first = state.boards[0]
        while True:
            capacity = state.capacity_teu * state.factor()
            # A departure must be able to take someone: the head of the first stop's queue fits
            # (otherwise, under a disruption that shrinks the vehicle below it, departures would
            # repeat at one instant for ever), or shipments wait further down the line.
            queue = first[0].queue if len(first) == 1 else in_order(first)
            head = queue[0] if queue else None
            head_fits = head is not None and head.teu <= capacity + 1e-9
            cut = capacity < state.capacity_teu
            deadline_h = math.inf
            if head_fits:
                # Under a cut the backlog left by the previous departure starts no new clock.
                since_h = max(head.ready_h, state.last_departure_h) if cut else head.ready_h
                deadline_h = since_h + max_wait_h
            for groups in state.boards[1:-1]:
                later = oldest(groups)
                if later is not None:
                    # Its max_wait_h counts from when it began waiting or from the last departure,
                    # which will pass its stop after it arrived (and take it if there is room).
                    since_h = max(later.ready_h, state.last_departure_h)
                    deadline_h = min(deadline_h, since_h + max_wait_h)
            if state.fleet is not None:
                deadline_h = min(deadline_h, state.fleet.idle_deadline_h(state, max_wait_h))
            if cut:
                if state.uncut_backlog_teu is None:  # a cut begins: the uncut line would have today's backlog
                    state.uncut_backlog_teu = sum(w.teu for w in queue if w.ready_h <= state.last_departure_h)
                uncut_teu = state.uncut_backlog_teu + self._arrived_since_departure_teu(state, queue)
                full = head_fits and uncut_teu >= state.capacity_teu - 1e-9
            else:
                state.uncut_backlog_teu = None
                full = head_fits and self._holds(queue, capacity)
            due = capacity > 0 and (full or self.env.now >= deadline_h)
            if due and (state.fleet is None or state.fleet.ready(state)):
                if cut:  # what the uncut vehicle would have left behind
                    state.uncut_backlog_teu = max(0.0, uncut_teu - state.capacity_teu)
                self._depart(state)
                yield self.env.timeout(0)  # let the run take its load before counting again
                continue
            state.arrival = self.env.event()
            if due:
                yield state.arrival  # no vehicle of the fleet is here: the fleet wakes the line when one is
            elif capacity > 0 and deadline_h < math.inf:
                yield state.arrival | self.env.timeout(deadline_h - self.env.now)
            elif state.has_waiting():
                # Closed, or the head does not fit: wait for the disruption to lift (re-checked at
                # each arrival or a day on).
                yield state.arrival | self.env.timeout(24.0)
            else:
                yield state.arrival

    @staticmethod
    def _holds(queue: deque, capacity_teu: float) -> bool:
        """Whether the queue holds at least capacity_teu (summed from the head, stopping there: a
        fleet's backlog can be long; the prefix sums are those of sum(), so the answer is the same)."""
        teu = 0.0
        for w in queue:
            teu += w.teu
            if teu >= capacity_teu:
                return True
        return False

    @staticmethod
    def _arrived_since_departure_teu(state: LineState, queue: deque) -> float:
        """TEU that came to the first stop after the previous departure (the queue's newest end)."""
        teu = 0.0
        for w in reversed(queue):
            if w.ready_h <= state.last_departure_h:
                break
            teu += w.teu
        return teu

    def _depart(self, state: LineState) -> None:
        capacity = state.capacity_teu * state.factor()
        if capacity <= 0:
            state.cancelled += 1
            return
        vehicle = state.fleet.take(state) if state.fleet is not None else None
        if state.fleet is not None and vehicle is None:
            return  # late (leaves when a vehicle is back) or cancelled: the fleet keeps count
        state.last_departure_h = self.env.now
        run = self.env.process(self._run(state, capacity))
        if vehicle is not None:
            vehicle.taken.succeed(run)  # the vehicle's own process follows its run

    def _run(self, state: LineState, capacity_teu: float):
        model, env, line = self.model, self.env, state.line
        onboard: list[Waiting] = []
        load = 0.0
        peak = 0.0
        boarded = teu_km = empty = 0.0
        km = state.km
        # The stop log (stoplog.py): per stop arrive, service start, service end, ready to leave, depart.
        layout = self._layout(state)
        kinds = layout[0]
        run, log = model.recorder.new_run(state.index, layout)
        ride = model.recorder.ride
        delay = model.service_extra_delay(state)
        last = len(line.stops) - 1
        calls = model.stop_calls.get(line.id)  # berths or yards on the line (terminals.py)
        for k, node in enumerate(line.stops):
            arrive_h = env.now
            log.append(arrive_h)
            if calls and calls[k]:
                yield from calls[k].arrive(onboard, k, k == last)
            if k > 0:
                staying = []
                for w in onboard:
                    if w.alight == k:
                        load -= w.teu
                        boarded += w.teu
                        if w.shipment < 0:
                            empty += w.teu
                        teu_km += w.teu * (km[k] - km[w.board])
                        ride(w.shipment, run, log, kinds, w.board, w.alight, w.ready_h)
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
            if state.through_teu[k] != load:
                state.through_teu[k] = load
                if state.on_change is not None:
                    state.on_change()
            load = board(state.boards[k], k, state.alights[k], load, capacity_teu, onboard)
            peak = max(peak, load)
            if calls and calls[k]:
                yield from calls[k].depart(onboard, k)
            segment = line.segments[k]
            passage = yield from model.enter_segment(segment, node)  # its gate; a single track
            depart_h = env.now
            log += (start_h, end_h, ready_h, depart_h)
            yield from model.run_segment(segment, passage, model.running_time_h(segment) + (delay if k == 0 else 0.0))
        if env.now >= model.warmup_h and capacity_teu > 0:  # an empty run (fleets.py) offers nothing
            state.departures += 1
            state.load_factor_sum += peak / capacity_teu
            state.load_factor_nominal_sum += peak / state.capacity_teu
            state.peak_teu_sum += peak
            state.teu_carried += boarded
            state.teu_km += teu_km
            state.offered_teu += capacity_teu
            state.empty_teu += empty

    def _layout(self, state: LineState) -> tuple[list[int], list[int]]:
        """The stage kind and place of each link of the line's stop log (stoplog.line_layout), once per line."""
        layout = self._layouts.get(state.index)
        if layout is None:
            model, line = self.model, state.line
            layout = self._layouts[state.index] = line_layout(
                state.index, [model.node_place[n] for n in line.stops],
                [int(model.handling_stage(n)) for n in line.stops],
                [model.segment_place[seg.id] for seg in line.segments])
        return layout
