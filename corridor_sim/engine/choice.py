"""Route and mode choice per shipment on the live state of the corridor.

A flow with `choice` has candidate routes (its `routes`, else the `among` expected-fastest served
routes the network offers across modes; see `CorridorNetwork.routes_for`), each planned once. When
a shipment is created (and, with `at: every_transfer`, wherever it changes vehicle) it takes the
candidate of least generalised cost

    GC = money cost per TEU of the rest of the route (`by: cost` only)
         + value_of_time_usd_per_teu_h x expected hours from here to the door,

or, with `logit_scale` theta > 0, candidate i with probability softmax(-theta x GC)_i (a
multinomial logit). The expected hours are the route's expected running, waiting and handling
times (network.py) plus what the live state adds on the way: queues at facilities, gates, single
tracks and boarding pools, fleets, freight already on its way, closures (engine/estimates.py).

State estimates are cheap: each element of the live state is read at a bounded rate, about once
per its own time step (a facility's mean handling time, a gate's interval between paths, a pool's
interval between departures, at least once a day; engine/estimates.py), when a candidate that meets
it is priced; a decision point (the origin, or a transfer node) keeps its options' expected hours
until the first of their readings falls due, and keeps them in a short ring buffer;
`information_lag_h` makes choosers see the newest estimate whose state is at least that old (a
*lagged*, not smoothed, view: before any such estimate exists, the expected times of the empty
corridor).

With `at: every_transfer` a shipment also re-chooses where its way on is closed: at the start of a
leg that cannot move on (`Chooser.closed_now`), and, when a closure begins, if it waits at the gate
or in the pool it shuts (`Chooser.closed`, `FlowChooser.turn_back`): it leaves the queue by a SimPy
interrupt, and `FlowChooser.resume` says how it goes on along the new candidate from that node.

Draws come from the flow's own stream `choice:<flow id>`, so a flow without `choice` draws exactly
what it drew before, and runs are the same on any number of workers.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections import deque

import numpy as np
import simpy

from corridor_sim.calendar import windows
from corridor_sim.engine.estimates import PIPELINE_TAU_H, StateEstimates
from corridor_sim.engine.records import Stage
from corridor_sim.network import RideLeg, RoadLeg, Route, changes_vehicle

WEEK_H = 7 * 24.0
HOURS_PER_YEAR = 365.0 * 24.0
WAIT = int(Stage.WAIT)


def route_label(route: Route, routes: list[Route]) -> str:
    """A route's label: its node ids in order joined by " ", with its modes ("by road+rail") added
    when another candidate of the flow runs over the same nodes."""
    label = " ".join(route.nodes)
    if sum(r.nodes == route.nodes for r in routes) > 1:
        label += " by " + route_modes(route)
    return label


def route_modes(route: Route) -> str:
    """The modes of a route in order of first use, joined by "+" (e.g. "road+rail")."""
    seen: list[str] = []
    for leg in route.legs:
        for seg in leg.segments:
            if seg.mode not in seen:
                seen.append(seg.mode)
    return "+".join(seen)


class _Candidate:
    """One candidate route of a flow: its plan, where each leg's steps start, and per leg the
    static expected hours, the money cost and the live-state elements of the rest of the route."""

    def __init__(self, chooser: "Chooser", r: int, route: Route):
        model = chooser.model
        self.r = r
        self.route = route
        # What a shipment meets on this route: its legs (segments, pools and their services).
        # (as a small integer: a nested tuple would be hashed again at every look-up)
        key = tuple((type(leg).__name__, leg.origin, tuple(sg.id for sg in leg.segments),
                     getattr(leg, "services", None)) for leg in route.legs)
        self.key = chooser.route_keys.setdefault(key, len(chooser.route_keys))
        self.starts: list[int] = []  # each leg's first step, then the destination's (model.plan)
        self.plan = model.plan(route, self.starts)
        n = len(route.legs)
        # Legs where the shipment changes vehicle (a re-choice may happen there).
        self.transfers = [i for i in range(1, n) if changes_vehicle(route.legs, i)]
        # Each leg's first step -> (leg, whether it is a transfer, a test of its closure now); and the
        # steps done at the leg's start node before it moves on (the step before the next leg's start).
        self.blocked = [chooser.closed_now(route, i) for i in range(n)]
        self.leg_at = {self.starts[i]: (i, i in self.transfers, self.blocked[i]) for i in range(1, n)}
        self.before_move = [tuple(self.plan[self.starts[i]:self.starts[i + 1] - 1]) for i in range(n)]
        # Each step -> the first decision point after it (a leg start of leg_at), else the plan's end:
        # the steps a journey takes in one go between the chooser's looks.
        points = sorted(self.leg_at) + [len(self.plan)]
        self.leg_end = [next(p for p in points if p > k) for k in range(len(self.plan))]
        tail = [e.total_h for e in route.leg_expected]
        self.static_h = [sum(tail[i:]) for i in range(n)]
        self.cost_usd = [chooser.tail_cost(route, i) for i in range(n)]
        # The pools it rides from, with the expected hours from the origin to each.
        self.rides = [(j, model.pools.group(route.legs[j].pool_key), self.static_h[0] - self.static_h[j])
                      for j in range(n) if isinstance(route.legs[j], RideLeg)]
        self.estimates = chooser.estimates

    def elements(self, i: int) -> tuple[int, ...]:
        """The indices of the live-state elements from leg i to the door, in route order (registered
        only for the legs a decision point offers, so nothing is read that no one asks about)."""
        est, route = self.estimates, self.route
        pipes = [e for j, group, _ in self.rides if j > i
                 for e in est.pipeline(route.legs[j], group, self.static_h[i] - self.static_h[j])]
        return tuple(sum((est.leg(route, j) for j in range(i, len(route.legs))), []) + pipes + est.end(route))

    def next_transfer(self, i: int) -> int | None:
        j = bisect_right(self.transfers, i)
        return self.transfers[j] if j < len(self.transfers) else None


class FlowChooser:
    """The choices of one flow: its candidates, its decision points and what it chose."""

    def __init__(self, chooser: "Chooser", f: int, flow, route_ids: list[int]):
        self.model = chooser.model
        self.flow = flow
        self.choice = flow.choice
        self.rng = chooser.model._rng(f"choice:{flow.id}")
        self.shared = chooser.estimates
        self.cands = [_Candidate(chooser, r, chooser.model.routes[r][1]) for r in route_ids]
        self.en_route = self.choice.at == "every_transfer"
        self.theta = self.choice.logit_scale
        self.vot = self.choice.value_of_time_usd_per_teu_h
        self.by_cost = self.choice.by == "cost"
        # Decision points: (candidate, leg) options at the origin and at each transfer node; there,
        # every candidate with a leg starting at the node is an option (a truck may drive on).
        self.points: dict[str, list[tuple[int, int]]] = {"": [(c, 0) for c in range(len(self.cands))]}
        if self.en_route:
            # Every node where a candidate's leg starts: a transfer, or where a closure may turn it.
            for c, cand in enumerate(self.cands):
                starts = {}
                for i, leg in enumerate(cand.route.legs[1:], start=1):
                    starts.setdefault(leg.origin, i)
                for node, i in starts.items():
                    self.points.setdefault(node, []).append((c, i))
        self.live: dict = {}  # journey process -> [candidate, step, since_h, re-chose] (Chooser.closed)
        # The TEU an hour each candidate is being chosen at, smoothed over PIPELINE_TAU_H: freight
        # committed to the pools ahead but not there yet (read by StateEstimates.pipeline).
        self.rate = [0.0] * len(self.cands)
        self.rate_h = [0.0] * len(self.cands)
        for c, cand in enumerate(self.cands):
            for _, group, hours in cand.rides:
                self.shared.pool_users.setdefault(id(group), []).append((self, c, hours))
        self.inflow = [[self.shared.inflow(group) for _, group, _ in cand.rides] for cand in self.cands]
        self.snapshots: dict[str, deque] = {key: deque() for key in self.points}
        self.until = {key: -math.inf for key in self.points}  # decision point -> when its newest snapshot falls due
        # Per option of a decision point: (static hours, its sum's slot (shared by equal tails), its elements).
        self.terms = {key: [(self.cands[c].static_h[i], self.shared.slot((self.cands[c].key, i)), self.cands[c].elements(i))
                            for c, i in opts] for key, opts in self.points.items()}
        self.picked: dict[str, tuple] = {}  # decision point -> (the estimate it was made on, its choice, until when)
        self.lagless = self.choice.information_lag_h <= 0
        self.static = {key: [self.cands[c].static_h[i] for c, i in opts] for key, opts in self.points.items()}
        self.money = {key: [self.cands[c].cost_usd[i] if self.by_cost else 0.0 for c, i in opts]
                      for key, opts in self.points.items()}
        months = len(chooser.model.month_edges_h) - 1
        self.month_edges = chooser.model.month_edges_h.tolist()  # (bisect on a list: no numpy scalars)
        self.warmup_h, self.horizon_h = chooser.model.warmup_h, chooser.model.horizon_h
        weeks = max(1, math.ceil((self.horizon_h - self.warmup_h) / WEEK_H))
        # TEU chosen per candidate by month and week of creation (lists: cheaper to add to one by one).
        self.month_teu = [[0.0] * max(months, 1) for _ in self.cands]
        self._span = (math.inf, -math.inf, 0, 0)  # (from h, to h, month, week) of the last count at the origin
        self.week_teu = [[0.0] * weeks for _ in self.cands]
        self.rechosen = 0

    # ------------------------------------------------------------------ estimates and the choice

    def expected_h(self, key: str, now: float) -> np.ndarray:
        """Expected hours to the door of each option at a decision point, as the chooser sees them."""
        snaps = self.snapshots[key]
        if now >= self.until[key]:
            # Flows with the same candidate share its sum (formed again once an element is due).
            hours, self.until[key] = self.shared.hours(self.terms[key], now)
            if self.choice.information_lag_h <= 0:
                snaps.clear()  # without a lag only the newest estimate is ever read
            snaps.append((now, hours))  # stamped now: nothing in it was read later
        lag = self.choice.information_lag_h
        if lag <= 0:
            return snaps[-1][1]
        seen_h = now - lag
        while len(snaps) > 1 and snaps[1][0] <= seen_h:
            snaps.popleft()  # the ring buffer keeps one estimate at least `lag` old, and newer ones
        return snaps[0][1] if snaps[0][0] <= seen_h else self.static[key]

    def forget(self) -> None:
        """Price every decision point afresh at its next ask (a closure has begun)."""
        self.picked.clear()
        for key in self.until:
            self.until[key] = -math.inf

    def pick(self, key: str, now: float, allowed: list[bool] | None = None) -> int:
        """The option chosen at a decision point: the least GC (the first of equals), or a logit draw;
        only among the `allowed` options if given (at least one must be)."""
        cached = self.picked.get(key)
        if allowed is None and cached is not None and now < cached[2] and self.lagless:
            # Chosen on an estimate that still holds (without a lag expected_h would return it): the
            # same GCs, so the same choice, or the same logit shares with a draw of its own.
            choice = cached[1]
            if self.theta == 0:
                return choice
            cum, total = choice
            return min(bisect_right(cum, self.rng.random() * total), len(cum) - 1)
        options = self.points[key]
        if len(options) == 1:
            return 0
        hours = self.expected_h(key, now)
        if allowed is None and cached is not None and cached[0] is hours:
            choice = cached[1]  # the same estimate as the last shipment here: the same GCs
        else:
            # Plain Python on a handful of candidates: cheaper than numpy on tiny arrays.
            vot = self.vot
            gc = [usd + vot * h for usd, h in zip(self.money[key], hours)]
            if allowed is not None:
                gc = [g if ok else math.inf for g, ok in zip(gc, allowed)]
            best = min(gc)
            if self.theta == 0:
                choice = gc.index(best)
            else:
                cum, total = [], 0.0
                for g in gc:
                    total += math.exp(-self.theta * (g - best))
                    cum.append(total)
                choice = (cum, total)
            if allowed is None:
                self.picked[key] = (hours, choice, self.until[key])
        if self.theta == 0:
            return choice
        cum, total = choice
        return min(bisect_right(cum, self.rng.random() * total), len(options) - 1)

    def origin(self, now: float, teu: float) -> int:
        """Choose a new shipment's candidate at its origin (counted by its month and week of creation)."""
        c = self.pick("", now)
        if self.warmup_h <= now < self.horizon_h:
            if not self._span[0] <= now < self._span[1]:
                self._locate(now)
            self.month_teu[c][self._span[2]] += teu  # as _count(c, now, teu, 1.0), shipments in time order
            self.week_teu[c][self._span[3]] += teu
        self._commit(c, now, teu)
        return c

    def _commit(self, c: int, now: float, teu: float) -> None:
        """Count `teu` chosen for candidate c now in its smoothed rate (TEU an hour)."""
        rate = self.rate
        if rate[c] == 0.0:
            for _, group, _ in self.cands[c].rides:
                self.shared.chosen(group)  # its rate counts in the pools ahead from now on
        added = teu / PIPELINE_TAU_H
        for bound in self.inflow[c]:
            bound[2] += added  # the pools' bounds of their committed freight (StateEstimates.inflow)
        rate[c] = rate[c] * math.exp((self.rate_h[c] - now) / PIPELINE_TAU_H) + added
        self.rate_h[c] = now

    def _month_week(self, created_h: float) -> tuple[int, int]:
        """The month and week indices a shipment created at `created_h` is counted in."""
        month = max(0, bisect_right(self.month_edges, created_h) - 1)
        week = int((created_h - self.warmup_h) / WEEK_H)
        return min(month, len(self.month_teu[0]) - 1), min(week, len(self.week_teu[0]) - 1)

    def _locate(self, now: float) -> None:
        """Keep the month and week of `now` with a span of times around it that share them: shipments
        are created in time order, so most need no look-up (the span stops a millionth of an hour
        short of a week's ends, where the division could round either way)."""
        month, week = self._month_week(now)
        edges = self.month_edges
        m = bisect_right(edges, now) - 1
        lo_h = max(edges[m] if m >= 0 else -math.inf, self.warmup_h + week * WEEK_H + 1e-6)
        hi_h = min(edges[m + 1] if m + 1 < len(edges) else math.inf, self.warmup_h + (week + 1) * WEEK_H - 1e-6)
        self._span = (lo_h, hi_h, month, week)  # (within a millionth of an hour of a week's end it
        # does not hold `now`: the next shipment looks up again)

    def _count(self, c: int, created_h: float, teu: float, sign: float) -> None:
        """Add sign x teu to candidate c's TEU of the month and of the week it was created in."""
        month, week = self._month_week(created_h)
        self.month_teu[c][month] += sign * teu
        self.week_teu[c][week] += sign * teu

    def journey(self, shipment: int, c: int, teu: float, created_h: float):
        """Carry a shipment along its candidate, re-choosing the rest where it changes vehicle, where
        the next leg is closed when it gets there, and where it waits when its next leg closes."""
        model = self.model
        env = model.env
        me = env.active_process
        cand, k = self.cands[c], 0
        at = self.live[me] = [c, 0, 0.0, False]  # candidate, step, since when, re-chose (Chooser.closed)
        decided = False
        while k < len(cand.plan):
            if not decided and k in cand.leg_at:
                i, transfer, closed = cand.leg_at[k]
                if transfer or (closed is not None and closed()):
                    key = cand.route.legs[i].origin
                    c2, i2 = self.points[key][self.pick(key, env.now)]
                    if c2 != c:
                        self._switch(shipment, c, c2, teu, created_h, at)
                        c, cand, k, decided = c2, self.cands[c2], self.cands[c2].starts[i2], True
                        continue
            decided = False
            end = cand.leg_end[k]
            at[0] = c
            try:  # the steps up to the next decision point, inline (model.journey sets at[1], at[2])
                yield from model.journey(shipment, cand.plan, teu, k, end, at)
            except simpy.Interrupt as stop:  # its next segment or service closed while it waited
                c2, k2, first, stage, place = stop.cause
                model.recorder.stage(shipment, stage, place, at[2], env.now)
                self._switch(shipment, c, c2, teu, created_h, at)
                c, cand, k, decided = c2, self.cands[c2], k2, True
                at[0], at[1] = c, -1  # not waiting to move on while it takes the steps first
                for step, args in first:
                    yield from step(shipment, teu, *args)
                continue
            k = end
        del self.live[me]
        model.recorder.delivered(shipment, env.now)

    def _switch(self, shipment: int, c: int, c2: int, teu: float, created_h: float, at: list) -> None:
        """A shipment leaves candidate c for c2: move its count, record its new route."""
        if self.warmup_h <= created_h < self.horizon_h:
            self._count(c, created_h, teu, -1.0)
            self._count(c2, created_h, teu, 1.0)
            if not at[3]:
                self.rechosen += 1
        at[3] = True
        self._commit(c2, self.model.env.now, teu)
        _set_route(self.model.recorder, shipment, self.cands[c2].r)

    def turn_back(self, at: list) -> tuple[int, int, tuple] | None:
        """Where a shipment waiting to move on from a node whose way on has just closed goes instead:
        (candidate, step to resume at, steps to take first), or None to stay on its candidate.

        The options are the candidates with a leg starting at that node (`resume`), chosen as at a
        transfer; staying is one of them (its expected time counts the closure's remaining hours)."""
        c, k = at[0], at[1]
        cand = self.cands[c]
        i = bisect_right(cand.starts, k) - 1
        key = cand.route.legs[i].origin if i > 0 else ""
        if key not in self.points:
            return None
        done = cand.before_move[i]
        options = self.points[key]
        ways = [self.resume(done, o, j) for o, j in options]
        c2, _ = options[self.pick(key, self.model.env.now, [w is not None for w in ways])]
        if c2 == c:
            return None
        return (c2,) + ways[[o for o, _ in options].index(c2)]

    def resume(self, done: tuple, c2: int, i2: int) -> tuple[int, tuple] | None:
        """How a shipment that took the steps `done` at a node goes on along leg i2 of candidate c2
        from there: (step index, steps to take first), or None if it cannot.

        With the same steps there (the same handling, dwell, yard), straight to the leg's movement.
        Otherwise the leg's own steps there, after handling again if it was handled for the leg it
        leaves and the new leg has none (a box unloaded from a truck for a train is loaded back).
        A yard on either side allows only the first case (a box holds yard room until it leaves)."""
        cand2 = self.cands[c2]
        steps = cand2.before_move[i2]
        if steps == done:
            return cand2.starts[i2 + 1] - 1, ()
        if any(_named(s, YARD_STEPS) for s in done + steps):
            return None
        handled = [s for s in done if _named(s, HANDLING_STEPS)]
        if handled and not any(_named(s, HANDLING_STEPS) for s in steps):
            return cand2.starts[i2], tuple(handled[:1])
        return cand2.starts[i2], ()

    def outputs(self) -> dict:
        return {"routes": [cand.r for cand in self.cands], "month_teu": np.array(self.month_teu),
                "week_teu": np.array(self.week_teu), "rechosen": self.rechosen}


YARD_STEPS = ("yard_in", "yard_out")
HANDLING_STEPS = ("handle", "handle_timed")


def _named(step: tuple, names: tuple) -> bool:
    """Whether a plan step (function, arguments) is one of the named engine steps."""
    return getattr(step[0], "__name__", "") in names


def _stopped(state) -> bool:
    """Whether a line runs no departures now: capacity factor 0, or its fleet has no vehicle in service."""
    return state.factor() == 0 or (state.fleet is not None and state.fleet.target == 0)


def _set_route(recorder, shipment: int, r: int) -> None:
    """Record the candidate a shipment now follows (the shipments table's `route` column)."""
    if hasattr(recorder, "active"):
        recorder.active[shipment][1] = r
    else:
        recorder.route[shipment] = r


class Chooser:
    """Every flow's choices in one model, and the live-state estimates they read (engine/estimates.py)."""

    def __init__(self, model):
        self.model = model
        self.network = model.network
        limit_h = model.horizon_h + model.drain_h
        start = model.scenario.simulation.start_date
        # Closure windows by target: a facility, segment or service shut (factor 0).
        self.closures: dict[str, list[tuple[float, float]]] = {}
        for dis in model.scenario.disruptions:
            if dis.capacity_factor == 0 or dis.vehicles_factor == 0:
                self.closures.setdefault(dis.target, []).extend(
                    (w.start_h, w.end_h) for w in windows(dis, start, 0.0, limit_h))
        for spans in self.closures.values():
            spans.sort()
        self.estimates = StateEstimates(model, self.closures)  # the live state, read at a bounded rate
        self.fixed_teu_per_h = self.estimates.fixed_teu_per_h  # id(pool group) -> TEU an hour of flows that do not choose
        for f, route in model.routes:
            flow = model.scenario.demand[f]
            if flow.choice is None:
                for leg in route.legs:
                    if isinstance(leg, RideLeg):
                        key = id(model.pools.group(leg.pool_key))
                        self.fixed_teu_per_h[key] = (self.fixed_teu_per_h.get(key, 0.0)
                                                     + flow.teu_per_year / HOURS_PER_YEAR * route.share)
        self.route_keys: dict[tuple, int] = {}
        self.flows: dict[int, FlowChooser] = {}
        by_flow: dict[int, list[int]] = {}
        for r, (f, _) in enumerate(model.routes):
            by_flow.setdefault(f, []).append(r)
        for f, flow in enumerate(model.scenario.demand):
            if flow.choice is not None:
                self.flows[f] = FlowChooser(self, f, flow, by_flow[f])
        # The TEU an hour that may come to each pool: the flows that do not choose, and every choosing
        # flow with a candidate riding from it (its whole demand, once).
        inflow = dict(self.fixed_teu_per_h)
        for fc in self.flows.values():
            for key in {id(group) for cand in fc.cands for _, group, _ in cand.rides}:
                inflow[key] = inflow.get(key, 0.0) + fc.flow.teu_per_year / HOURS_PER_YEAR
        self.estimates.set_pool_steps(inflow)

    def outputs(self) -> dict:
        return {self.model.scenario.demand[f].id: fc.outputs() for f, fc in self.flows.items()}

    # ------------------------------------------------------------------ closures met on the way

    def closed_now(self, route: Route, i: int):
        """A test (no arguments) of whether leg i cannot move on now: its handling facility has no
        server open, a segment gate of it is shut, or every line of its pool is stopped (capacity
        factor 0, or a fleet with no vehicle in service). None if nothing on it can close."""
        model, leg = self.model, route.legs[i]
        tests = []
        facility = model.facilities.get(leg.origin)
        if facility is not None and leg.origin in self.closures and self.network.handles(
                leg.origin, changes_vehicle(route.legs, i)):
            tests.append(lambda: facility.servers == 0)
        for j, seg in enumerate(leg.segments):
            gate = model.gate(seg, leg.nodes[j] if isinstance(leg, RideLeg) else leg.origin)
            if gate is not None and seg.id in self.closures:
                tests.append(lambda gate=gate: gate.factor == 0)
        if isinstance(leg, RideLeg):
            states = [model.lines[line.id] for line, _, _ in self.network.pool_lines(*leg.pool_key)]
            if all(s.line.service.id in self.closures for s in states):
                tests.append(lambda: all(_stopped(s) for s in states))
        if not tests:
            return None
        return tests[0] if len(tests) == 1 else (lambda: any(t() for t in tests))

    def closed(self, target: str) -> None:
        """A closure (of `target`) has begun: every shipment of a flow choosing at every transfer that
        waits to move on from a node, at a segment gate or in a boarding pool, where its way on is
        now shut re-chooses from where it stands (`FlowChooser.turn_back`); one that takes another
        candidate leaves the queue (its wait so far is recorded) and goes on along the new one."""
        model = self.model
        self.estimates.invalidate()  # the state has just changed: read it afresh when next asked
        for fc in self.flows.values():
            fc.forget()
            for proc, at in list(fc.live.items()):
                cand = fc.cands[at[0]]
                k = at[1]
                if k < 0:
                    continue  # taking the steps of a re-choice
                i = bisect_right(cand.starts, k) - 1
                if i >= len(cand.blocked):
                    continue  # at its destination
                blocked = cand.blocked[i]
                if k != cand.starts[i + 1] - 1 or blocked is None or not blocked():
                    continue  # not waiting to move on (handled, on board, driving), or its way is open
                leg, event = cand.route.legs[i], proc.target
                if isinstance(leg, RoadLeg):
                    gate = model.gate(leg.segment, leg.origin)
                    queue, entry = (gate.queue, event) if gate is not None and event in gate.queue else (None, None)
                    place = model.segment_place[leg.segment.id]
                else:
                    group = model.pools.group(leg.pool_key)
                    queue = group.queue
                    # parked in the pool (engine/clock.py), or waiting on its event (off a Clock)
                    entry = next((w for w in queue if w.event is proc or w.event is event), None)
                    place = group.lines[0].index if group.lines else 0  # the wait is a line's, as in services.py
                if entry is None:
                    continue
                turn = fc.turn_back(at)
                if turn is not None:
                    queue.remove(entry)
                    proc.interrupt(turn + (WAIT, place))

    # ------------------------------------------------------------------ what a route costs from a leg on

    def tail_cost(self, route: Route, i: int) -> float:
        """USD per TEU of the route from leg i on (running and handling, as results.route_cost)."""
        from corridor_sim.results import route_cost  # results imports the engine: imported late

        return route_cost(self.network, Route(route.nodes, route.legs[i:]))[0]


# ---------------------------------------------------------------------- outputs over replications


def choice_summary(outputs: list, flow_id: str, routes: list[Route]) -> dict:
    """A choice flow's summary over replications (means of per-replication shares).

    Shares are of the measured cohort's TEU (shipments created in the window), by the candidate each
    one finally followed (with `at: every_transfer`, the one it re-chose last).

    Args:
        outputs: the ReplicationOutputs.
        flow_id: the flow.
        routes: the flow's candidate routes, in the engine's order.

    Returns:
        `route_shares` {label: share}, `route_shares_by_month` {"YYYY-MM": {label: share}},
        `modal_split` {modes: share}, `rechosen` (shipments a replication that re-chose on the way,
        mean) and `route_shares_by_week` {"week_start_days": [...], "shares": {label: [...]}}.
    """
    parts = [o.extra.get("choice", {}).get(flow_id) for o in outputs]
    parts = [p for p in parts if p is not None]
    if not parts:
        return {}
    labels = [route_label(r, routes) for r in routes]
    modes = [route_modes(r) for r in routes]
    first = outputs[0]
    months = [m for m in range(len(first.month_keys))
              if first.month_edges_h[m] < first.horizon_h and first.month_edges_h[m + 1] > first.warmup_h]

    def shares(teu: np.ndarray) -> np.ndarray:
        total = teu.sum(axis=0)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(total > 0, teu / np.where(total > 0, total, 1.0), np.nan)

    def mean_over(values: list[np.ndarray]) -> np.ndarray:
        stack = np.array(values)
        with np.errstate(invalid="ignore"):
            ok = ~np.isnan(stack)
            return np.where(ok.any(axis=0), np.nansum(stack, axis=0) / np.maximum(ok.sum(axis=0), 1), np.nan)

    overall = mean_over([shares(p["month_teu"].sum(axis=1, keepdims=True))[:, 0] for p in parts])
    monthly = mean_over([shares(p["month_teu"]) for p in parts])
    weekly = mean_over([shares(p["week_teu"]) for p in parts])
    split: dict[str, float] = {}
    for k, m in enumerate(modes):
        split[m] = split.get(m, 0.0) + float(overall[k])
    warmup_days = first.warmup_h / 24.0
    return {
        "route_shares": {labels[k]: float(overall[k]) for k in range(len(routes))},
        "route_shares_by_month": {first.month_keys[m]: {labels[k]: float(monthly[k, m]) for k in range(len(routes))}
                                  for m in months if m < monthly.shape[1]},
        "modal_split": split,
        "rechosen": float(np.mean([p["rechosen"] for p in parts])),
        "route_shares_by_week": {"week_start_days": [warmup_days + 7.0 * w for w in range(weekly.shape[1])],
                                 "shares": {labels[k]: [None if math.isnan(x) else round(float(x), 6) for x in weekly[k]]
                                            for k in range(len(routes))}},
    }
