"""What the live state of the corridor adds to a route's expected time, read at a bounded rate.

Route choice (engine/choice.py) prices a candidate by its expected hours to the door: the static
expected times of network.py plus what the state adds on the way. That addition is a sum of
*elements*, each a function of the clock reading one thing a shipment meets:

- a handling facility (with the modes it changes between): nothing if a server is free and nobody
  queues, else (queue + 1) / open servers x mean handling / rate (the work ahead of an arrival:
  with one exponential server, (n + 1) / mu for n in the system);
- a segment gate: its queue x 24 / (paths per day x factor), plus the time to its next free path;
- a single-track entry: the vehicles waiting there x 2 (section time + switch_h), the cycle of an
  alternating section (Scott's formula);
- a boarding pool: the TEU already waiting / TEU per departure (the mean of its lines, disrupted
  capacity included), whole departures, x the headway (twice the pool's expected wait); with a
  fleet on a line of the pool, that line departs at most every round trip / vehicles in service
  (`fleet_wait`); at an intermediate stop a departure offers only the room its last call there left
  (`_room`);
- freight already on its way to a pool some hours ahead (`pipeline`): its excess over what the
  pool's lines carry by the time the chooser gets there;
- a closure (a disruption with `capacity_factor: 0`, or `vehicles_factor: 0` on a service) of a
  facility, segment or service: the hours until its window ends.

Each distinct element exists once however many candidates meet it (the INSTC base with choice on
every flow has 54 candidate tails of about 10 elements each, but only about 180 distinct
elements). A candidate's leg keeps the indices of its elements, in its order along the route.

Bounded refresh, on each element's own time scale: an element is read when a candidate that meets
it is priced and its last reading is as old as its *time step*, the time in which what it measures
moves by about one unit of itself:

- a facility: its mean handling time (with c servers and n ahead, its wait n / c x mean moves by
  about utilisation x mean in that time, whatever c);
- a gate: the interval between its paths, 24 / paths per day;
- a single track: its cycle;
- a boarding pool and the freight on its way to it: the interval between its departures (twice
  its expected wait) or, if shorter, the time the flows that may ride from it take to fill a tenth
  of a departure (choices move these themselves: read sooner, fewer follow one another onto it
  unseen); a pool's pipeline elements are read together;
- a closure: a quarter of the time it still has to run, and at its end (and everything is read
  afresh when a closure begins: `invalidate`);

and never less often than once every MAX_STALE_H hours. So the reading a chooser sees is as fresh
relative to what it measures in a corridor of port queues and daily trains as at border posts of
six-minute inspections: the choices do not depend on the unit of time (a fixed refresh of an hour
herds a whole hour's trucks onto one fast post, and its mean time rises above Wardrop's). Each
candidate tail's sum (shared by every flow and decision point with that candidate) is kept until
its first element is due, and a decision point's choice until its first option's sum is due, so
the cost is per element reading, not per shipment or per candidate.

The pipeline term, whose committed sums would be formed over every user of the pool, is first
bounded: each pool keeps an upper bound of its users' smoothed rates (a choice adds to it; it
decays when read), and while that bound and the flows that do not choose stay below what the
pool's lines carry, the element is exactly 0 and the sums are not formed (`_may_overload`).
"""

from __future__ import annotations

import math
from bisect import bisect_left
from functools import partial
from itertools import accumulate
from operator import mul

from corridor_sim.distributions import mean_of
from corridor_sim.engine.fleets import cycle_legs_h
from corridor_sim.network import RideLeg, RoadLeg, Route, changes_vehicle, handling_time
from corridor_sim.scenario.schema import Scheduled

PIPELINE_TAU_H = 24.0  # the choice rates behind the pipeline estimate are smoothed over a day
MAX_STALE_H = 24.0  # every element of the state is read at least once a day (when it is asked for)
CLOSED_FOR_EVER_H = 1e6  # a closure without end (a season of every day) counts as this many hours
NO_ROOM_H = 1e4  # a pool whose trains last came through full: no departure with room in sight


class StateEstimates:
    """The live-state elements of every candidate of a model, their last readings and each
    candidate leg's sum of them.

    Args:
        model: the CorridorModel.
        closures: closure windows [(start h, end h)] by target id (sorted), as Chooser builds them.
    """

    def __init__(self, model, closures: dict[str, list[tuple[float, float]]]):
        self.model = model
        self.network = model.network
        self.closures = closures
        self.elements: list = []  # functions of the clock: hours the state adds at one element
        self.steps: list[float] = []  # each element's time step: it is read again once its reading is this old
        self.untils: list = []  # None, or a function of the clock: when a closure's reading falls due
        self._index: dict[tuple, int] = {}  # an element's signature -> its index in `elements`
        self.values: list[float] = []  # each element's last reading (hours)
        self.due: list[float] = []  # each element's hour from which it must be read again
        self._slots: dict[tuple, int] = {}  # (route key, leg) -> its sum's slot in the two lists below
        self._sum_due: list[float] = []  # per slot: the hour its sum falls due (its first element's)
        self._sum_h: list[float] = []  # per slot: the summed hours
        self.pool_users: dict[int, list] = {}  # id(pool group) -> [(FlowChooser, candidate, hours to it)]
        self.fixed_teu_per_h: dict[int, float] = {}  # id(pool group) -> TEU an hour of flows that do not choose
        # id(pool group) -> what its lines offer, as _pool_now read it: kept until a line changes
        self._rates: dict[int, tuple] = {}
        self._changed: set[int] = set()  # pools one of whose lines has changed since _pool_now read them
        self._pools_of: dict[int, list[int]] = {}  # id(LineState) -> the pools it serves (LineState.on_change)
        self._active: dict[int, list] = {}  # id(pool group) -> its users chosen at least once
        # id(pool group) -> [decayed sum, when, added since]: a bound of its users' smoothed rates (inflow)
        self._inflow: dict[int, list] = {}
        self._pool_steps: dict[int, list] = {}  # id(pool group) -> [headway h, TEU a departure, its elements]
        self._pipe_of: dict[int, list] = {}  # id(pool group) -> [(element, hours ahead, TEU of flows that do not choose)]

    # ------------------------------------------------------------------ readings and sums

    def invalidate(self) -> None:
        """The state has just changed (a closure began): every element and sum is due now."""
        n = len(self.elements)
        self.due = [-math.inf] * n
        self._sum_due = [-math.inf] * len(self._sum_h)

    def slot(self, key: tuple) -> int:
        """The slot of the sum named `key` (a candidate's route key and leg): the same for every flow
        and decision point with that candidate, so that they share it."""
        j = self._slots.get(key)
        if j is None:
            j = self._slots[key] = len(self._sum_h)
            self._sum_due.append(-math.inf)
            self._sum_h.append(0.0)
        return j

    def hours(self, terms: list, now: float) -> tuple[list[float], float]:
        """Expected hours of the options `terms` [(static hours, slot, element indices)] now, and the
        hour until which they hold: static + the hours the state adds at the elements, summed in
        their order along the route. A sum is formed again once one of its elements is due, and
        then only the elements due are read."""
        sum_due, sum_h = self._sum_due, self._sum_h
        values, due, elements = self.values, self.due, self.elements
        out = []
        until = math.inf
        for base, slot, indices in terms:
            good = sum_due[slot]
            if now < good:
                out.append(base + sum_h[slot])
                if good < until:
                    until = good
                continue
            extra = 0.0
            good = math.inf
            for j in indices:
                if now >= due[j]:
                    values[j] = elements[j](now)
                    due[j] = self._due(j, now)
                extra += values[j]
                if due[j] < good:
                    good = due[j]
            sum_due[slot] = good
            sum_h[slot] = extra
            out.append(base + extra)
            if good < until:
                until = good
        return out, until

    def _due(self, j: int, now: float) -> float:
        """When element j, read now, falls due again."""
        until = self.untils[j]
        return now + self.steps[j] if until is None else until(now)

    def chosen(self, group) -> None:
        """A candidate riding from pool `group` has been chosen for the first time: its rate counts
        in the pool's committed freight from now on (users never chosen have rate 0 and add 0)."""
        self._active.pop(id(group), None)

    def inflow(self, group) -> list[float]:
        """The upper bound kept of the sum of pool `group`'s users' smoothed rates (TEU an hour), for
        `_may_overload`: [decayed sum, when, added since]. A choice adds teu / PIPELINE_TAU_H to
        "added since" (FlowChooser.origin); that part is not decayed until the pool is next read, so
        the bound never falls below the sum (each rate decays by the same factor)."""
        return self._inflow.setdefault(id(group), [0.0, 0.0, 0.0])

    def _element(self, signature: tuple, make, step_h: float, until=None) -> list[int]:
        """[index] of the element with this signature, `make()` (a function of the clock) the first
        time it is asked for; it is read again `step_h` (at most MAX_STALE_H) after a reading, or
        when `until(now)` says if given."""
        j = self._index.get(signature)
        if j is None:
            j = self._index[signature] = len(self.elements)
            self.elements.append(make())
            if isinstance(step_h, list):  # a pool's: set once every flow is known (set_pool_steps)
                step_h[2].append(j)
                step_h = step_h[0]
            self.steps.append(min(max(step_h, 0.0), MAX_STALE_H))
            self.untils.append(until)
            self.values.append(0.0)
            self.due.append(-math.inf)
        return [j]

    # ------------------------------------------------------------------ a candidate's elements

    def leg(self, route: Route, i: int) -> list[int]:
        """Elements of leg i: handling where it starts, then its gate, track or pool."""
        leg = route.legs[i]
        out = []
        if self.network.handles(leg.origin, changes_vehicle(route.legs, i)):
            arrived = route.legs[i - 1].mode if i > 0 else None
            out += self.facility(leg.origin, arrived, leg.mode)
        if isinstance(leg, RoadLeg):
            out += self.segment(leg.segment, leg.origin)
        else:
            out += self.ride(leg)
        return out

    def end(self, route: Route) -> list[int]:
        """Elements of the handling at the destination."""
        if self.network.handles(route.nodes[-1], True):
            return self.facility(route.nodes[-1], route.legs[-1].mode, None)
        return []

    def closed(self, target: str) -> list[int]:
        """The hours until the closure of `target` in force ends (0 if none); [] if it never closes."""
        spans = self.closures.get(target)
        if not spans:
            return []

        def remaining(now: float) -> float:
            for start_h, end_h in spans:
                if start_h <= now < end_h:
                    return CLOSED_FOR_EVER_H if end_h == math.inf else end_h - now
                if start_h > now:
                    break
            return 0.0

        def until(now: float) -> float:
            """Read again when a quarter of the closure's remaining time has passed (at its end once
            less than a sixteenth of its window is left), or when the next begins."""
            for start_h, end_h in spans:
                if start_h <= now < end_h:
                    left_h = end_h - now
                    return now + left_h / 4.0 if left_h > (end_h - start_h) / 16.0 else end_h
                if start_h > now:
                    return start_h
            return math.inf
        return self._element(("closed", target), lambda: remaining, MAX_STALE_H, until)

    def facility(self, node_id: str, from_mode: str | None, to_mode: str | None) -> list[int]:
        facility = self.model.facilities.get(node_id)
        if facility is None:
            return []

        mean_h = mean_of(handling_time(self.network.nodes[node_id].handling, from_mode, to_mode))

        def make():
            def wait(now: float) -> float:
                if facility.busy < facility.servers and not facility.queue:
                    return 0.0
                servers = facility.servers or facility.nominal_servers
                return (len(facility.queue) + 1) / servers * mean_h / facility.rate
            return wait
        return self._element(("facility", node_id, from_mode, to_mode), make, mean_h) + self.closed(node_id)

    def segment(self, seg, from_node: str) -> list[int]:
        out = []
        gate = self.model.gate(seg, from_node)
        if gate is not None and gate.capacity_per_day is not None:
            def gate_wait(now: float) -> float:
                rate = gate.capacity_per_day * (gate.factor or 1.0)
                return len(gate.queue) * 24.0 / rate + max(0.0, gate.next_free_h - now)
            out += self._element(("gate", id(gate)), lambda: gate_wait, 24.0 / gate.capacity_per_day)
        track = self.model.shared.tracks.get(seg.id)
        if track is not None:
            place = 0 if track.direction(from_node) > 0 else track.n
            queue = track.waiting[(place, track.direction(from_node))]
            cycle_h = 2.0 * (seg.length_km / seg.speed_kmh / track.n + track.switch_h)
            out += self._element(("track", id(queue), cycle_h), lambda: lambda now: len(queue) * cycle_h, cycle_h)
        return out + self.closed(seg.id)

    def ride(self, leg: RideLeg) -> list[int]:
        lines = self.pool_lines(leg)
        fleet = any(s.fleet is not None for s, _, _, _ in lines)
        out = self._element(("pool", leg.pool_key), lambda: (self.fleet_wait if fleet else self.backlog)(leg, lines),
                            self._pool_step(leg, lines))
        for service in dict.fromkeys(s.line.service.id for s, _, _, _ in lines):
            out += self.closed(service)
        for j, seg in enumerate(leg.segments):
            out += self.segment(seg, leg.nodes[j])
        return out

    def backlog(self, leg: RideLeg, lines: list):
        """The ride element of a pool without a fleet: the whole departures' worth of TEU waiting."""
        group = self.model.pools.group(leg.pool_key)
        headway_h = 2.0 * self.network.pool_wait_h(*leg.pool_key)
        key = id(group)

        def wait(now: float) -> float:
            queue = group.queue
            if not queue:
                return 0.0
            rates = self._pool_now(key, lines)
            room, capacity = rates[2], rates[3]
            if capacity <= 0:
                return 0.0  # stopped: the closure elements count how long for
            # Room per departure: capacity less what its last call brought through (a train that
            # arrives full from upstream takes nobody here).
            if room <= 1e-9:
                return NO_ROOM_H
            return math.floor(_waiting_teu(queue) / room + 1e-9) * headway_h
        return wait

    def fleet_wait(self, leg: RideLeg, lines: list):
        """The ride element of a pool with a fleet on one of its lines: departures come at most every
        max(own interval, C / N) per line, C the fleet's round trip and N its vehicles in service, so
        the wait for the next departure grows by half of what the fleet stretches the pool's interval,
        and the TEU already waiting take whole departures of that interval."""
        group = self.model.pools.group(leg.pool_key)
        key = id(group)
        static_wait_h = self.network.pool_wait_h(*leg.pool_key)

        def wait(now: float) -> float:
            departures_per_h, teu_per_h, _, _ = self._pool_now(key, lines)
            if departures_per_h == 0 or math.isinf(departures_per_h):
                return 0.0
            interval_h = 1.0 / departures_per_h
            extra = max(0.0, interval_h / 2.0 - static_wait_h)
            queue = group.queue
            if queue and teu_per_h <= 1e-9:
                return NO_ROOM_H
            if queue:
                extra += math.floor(_waiting_teu(queue) / (teu_per_h * interval_h) + 1e-9) * interval_h
            return extra
        return wait

    def _pool_step(self, leg: RideLeg, lines: list) -> list:
        """A pool's time step, as a list [hours] filled in by `set_pool_steps` once every flow is known."""
        key = id(self.model.pools.group(leg.pool_key))
        entry = self._pool_steps.get(key)
        if entry is None:
            headway_h = 2.0 * self.network.pool_wait_h(*leg.pool_key)  # between departures
            capacity = sum(s.capacity_teu for s, _, _, _ in lines) / len(lines)
            entry = self._pool_steps[key] = [headway_h, capacity, []]
        return entry

    def set_pool_steps(self, inflow_teu_per_h: dict[int, float]) -> None:
        """Give each pool's elements their time step, knowing the TEU an hour of every flow that may
        ride from the pool (`inflow_teu_per_h`, by id(pool group)): the interval between its departures,
        or, if shorter, the time that freight takes to fill a tenth of a departure (the choices
        themselves move a pool's queue and the freight on its way to it: read sooner, fewer follow
        one another onto it unseen)."""
        for key, (headway_h, capacity, elements) in self._pool_steps.items():
            inflow = inflow_teu_per_h.get(key, 0.0)
            step_h = min(headway_h, 0.1 * capacity / inflow) if inflow > 0 else headway_h
            for j in elements:
                self.steps[j] = min(max(step_h, 0.0), MAX_STALE_H)

    def pool_lines(self, leg: RideLeg) -> list:
        """(LineState, own interval h, fleet round trip h or 0, stop index) of each line serving a
        ride's pool; each line tells the pool's cached offer (`_pool_now`) when it changes."""
        out = []
        key = id(self.model.pools.group(leg.pool_key))
        for line, k, _ in self.network.pool_lines(*leg.pool_key):
            s = self.model.lines[line.id]
            pools = self._pools_of.get(id(s))
            if pools is None:
                pools = self._pools_of[id(s)] = []
                s.on_change = partial(self._changed.update, pools)
            if key not in pools:
                pools.append(key)
            cycle_h = sum(cycle_legs_h(self.network, s.line.service)) if s.fleet is not None else 0.0
            timetable = isinstance(s.line.service.departures, Scheduled)
            # Own interval: the timetable's; a when-full line leaves as often as it fills (0).
            out.append((s, s.line.service.departures.every_h if timetable else 0.0, cycle_h, k))
        return out

    def _pool_now(self, key: int, lines: list) -> tuple:
        """(departures an hour, TEU an hour, mean room per departure, TEU per departure offered) of
        a pool's lines now, kept until one of them changes (its room at the stop, its capacity
        factor, its fleet's vehicles in service: LineState.on_change)."""
        cached = self._rates.get(key)
        if cached is None or key in self._changed:
            self._changed.discard(key)
            # _pool_rate and _room in one pass (each line's factor read once), the same arithmetic.
            departures_per_h = teu_per_h = 0.0
            room = capacity = 0
            when_full = False
            for s, own_h, cycle_h, k in lines:
                factors, fleet = s.factors, s.fleet
                factor = math.prod(factors) if factors else 1.0  # s.factor(), without the call
                offered = s.capacity_teu * factor
                free = max(0.0, offered - s.through_teu[k])
                room += free
                capacity += offered
                n = fleet.target if fleet is not None else 1
                if when_full or factor <= 0 or n == 0:
                    continue
                interval_h = own_h if fleet is None else max(own_h, cycle_h / n)
                if interval_h <= 0 and k == 0:
                    when_full = True  # vehicles whenever it fills (as _pool_rate)
                    continue
                interval_h = max(interval_h, 1e-6)
                departures_per_h += 1.0 / interval_h
                teu_per_h += free / interval_h
            if when_full:
                departures_per_h = teu_per_h = math.inf
            cached = self._rates[key] = (departures_per_h, teu_per_h, room / len(lines), capacity)
        return cached

    def pipeline(self, leg: RideLeg, group, hours: float) -> list[int]:
        """The extra wait at a pool `hours` ahead from freight already committed to it.

        By the time a shipment choosing now gets there, the pool receives what choosing flows have
        sent towards it and not yet delivered to it (each candidate's smoothed choice rate x the
        hours it takes to get there, at most `hours`: what left before it), plus the flows that do
        not choose (their expected TEU an hour x `hours`), and its lines carry their TEU an hour
        x `hours`. Any excess is queue on top of today's, and waits excess / TEU an hour. Zero
        while the pool's lines keep up: this term only sees an overload building in the pipeline
        (freight set off for a pool that a queue there does not show yet)."""
        lines = self.pool_lines(leg)
        key = id(group)
        headway_h = 2.0 * self.network.pool_wait_h(*leg.pool_key)
        if hours < headway_h or math.isinf(_pool_rate(lines)[1]):
            # less than a departure's interval away (the queue there shows it next), or vehicles
            # come whenever one fills
            return []

        step = self._pool_step(leg, lines)
        signature = ("pipeline", leg.pool_key, hours)
        if signature in self._index:
            return [self._index[signature]]
        pipes = self._pipe_of.setdefault(key, [])
        j = len(self.elements)
        pipes.append((j, hours, self.fixed_teu_per_h.get(key, 0.0) * hours))
        return self._element(signature, lambda: lambda now: self._pipeline_now(key, lines, pipes, now, j), step)

    def _pipeline_now(self, key: int, lines: list, pipes: list, now: float, asked: int) -> float:
        """Read every pipeline element of pool `key` at once (they share its time step: one pass over
        its users' rates serves them all): each one's value is set and falls due together; returns
        the value of element `asked`."""
        values, due, steps = self.values, self.due, self.steps
        teu_per_h = self._pool_now(key, lines)[1]
        if teu_per_h <= 0 or math.isinf(teu_per_h) or not self._may_overload(key, now, teu_per_h):
            # what _committed would find cannot exceed what the lines carry: every element is 0
            for j, _, _ in pipes:
                values[j], due[j] = 0.0, now + steps[j]
            return 0.0
        committed = self._committed(key, now)
        for j, hours, fixed in pipes:
            excess = fixed + committed(hours) - teu_per_h * hours
            values[j], due[j] = (excess / teu_per_h if excess > 0 else 0.0), now + steps[j]
        return values[asked]

    def _may_overload(self, key: int, now: float, teu_per_h: float) -> bool:
        """Whether freight on its way may exceed what pool `key`'s lines carry (`teu_per_h`), before
        _committed reads its users' rates.

        The inflow of a pipeline element `hours` ahead is at most hours x (TEU an hour of the flows
        that do not choose + the sum of the users' smoothed rates, `committed`), whatever `hours`; while
        that is below hours x `teu_per_h` the element is 0 and _committed need not be formed. The sum
        kept is never below the true one, and the margins (1e-9, against 1e-16 of rounding) keep the
        verdict on the side of forming it, so every value is the one _committed would give."""
        total = self._inflow.get(key)
        rates = 0.0
        if total is not None and (total[0] or total[2]):
            # Every user's rate decays by the same factor; what was added since the last reading is
            # counted whole (more than it is now).
            rates = total[0] = total[0] * math.exp((total[1] - now) / PIPELINE_TAU_H) + total[2]
            total[1], total[2] = now, 0.0
        return self.fixed_teu_per_h.get(key, 0.0) + rates * (1.0 + 1e-9) >= teu_per_h * (1.0 - 1e-9)

    def _committed(self, key: int, now: float):
        """A function of `hours`: the TEU the choosing flows have sent towards pool `key` that get
        there within `hours`, the sum over its users of smoothed rate x min(hours to it, `hours`).
        The users' rates are read once, sorted by their hours, with prefix sums, so each element is
        a bisection, not a loop over every flow. Only users chosen at least once are read (the
        others have rate 0)."""
        users = self._active.get(key)
        if users is None:
            users = self.pool_users.get(key, [])
            users.sort(key=lambda u: u[2])  # by hours to the pool
            # (its flow's rates and their times, the candidate, hours to the pool) of each
            users = self._active[key] = [(fc.rate, fc.rate_h, c, to_h) for fc, c, to_h in users if fc.rate[c] != 0.0]
        exp = math.exp
        # Each user's smoothed rate now (FlowChooser.origin's decay, to now).
        rates = [rate[c] * exp((rate_h[c] - now) / PIPELINE_TAU_H) for rate, rate_h, c, _ in users]
        to = [u[3] for u in users]
        # Prefix sums: of rate x hours of the users nearer than each, and of the rates from each on.
        before = list(accumulate(map(mul, rates, to), initial=0.0))
        after = list(accumulate(reversed(rates), initial=0.0))
        after.reverse()

        def within(hours: float) -> float:
            j = bisect_left(to, hours)
            return before[j] + hours * after[j]
        return within


def _waiting_teu(queue) -> float:
    """The TEU waiting in a pool's queue, in O(1): the count x the mean of the first and last
    shipment's TEU (exact where one shipment size waits, as on most pools; a long queue is not
    summed)."""
    return len(queue) * (queue[0].teu + queue[-1].teu) / 2.0


def _pool_rate(lines: list) -> tuple[float, float]:
    """(departures an hour, TEU an hour) the lines of a pool offer now: each departs every max(own
    interval, fleet round trip / vehicles in service), with its capacity factor; stopped lines none."""
    departures_per_h = teu_per_h = 0.0
    for s, own_h, cycle_h, k in lines:
        n = s.fleet.target if s.fleet is not None else 1
        if s.factor() <= 0 or n == 0:
            continue  # stopped: the closure elements count how long for
        interval_h = own_h if s.fleet is None else max(own_h, cycle_h / n)
        if interval_h <= 0 and k == 0:
            return math.inf, math.inf  # a when-full line without a fleet: vehicles whenever it fills
        interval_h = max(interval_h, 1e-6)
        departures_per_h += 1.0 / interval_h
        teu_per_h += _room(s, k) / interval_h
    return departures_per_h, teu_per_h


def _room(state, k: int) -> float:
    """TEU a departure of a line offers at its stop k: capacity (factor included) less what its last
    call there kept on board from upstream."""
    return max(0.0, state.capacity_teu * state.factor() - state.through_teu[k])
