"""Arrivals: a flow's shipments created at their arrival times, one event each.

A flow creates a shipment of `shipment_teu` every `HOURS_PER_YEAR * shipment_teu / teu_per_year`
hours on average: Poisson arrivals (exponential gaps) or regular ones after a random phase. Each
arrival picks the shipment's route (by the flow's shares, or by its `choice`, engine/choice.py),
records it and starts its journey.

An arrival is a timeout whose callback does this, not a process resumed by it: a source process
would cost an extra resume per arrival and its journey an `Initialize` event, a third of the events
of a short route. The events are the same and in the same order as those of the source process
this replaces (the next arrival scheduled first, then the journey's first step; engine/clock.py
`Started`), and the random numbers are the same, drawn from the same streams in the same order.
The flow's Arrivals object is itself that timeout, put back in the queue at each arrival (with the
key a new timeout would get), rather than a Timeout made per arrival.
"""

from __future__ import annotations

from bisect import bisect_right
from heapq import heappush

import numpy as np
from simpy.events import NORMAL

from corridor_sim.distributions import _blocks
from corridor_sim.engine.clock import Started
from corridor_sim.workload import HOURS_PER_YEAR


class Arrivals:
    """The arrivals of one flow (index `f`) over its routes `route_ids` (indices into model.routes).

    An event that recurs: the Clock processes it as a successful timeout (its `callbacks`, `_ok` and
    `_value`), and `_arrive` puts it back in the queue for the next arrival."""

    _ok = True
    _value = None

    def __init__(self, model, f: int, flow, route_ids: list[int]):
        self.model = model
        self.env = model.env
        self.f = f
        self.route_ids = route_ids
        self.teu = flow.shipment_teu
        rng = model._rng(f"arrivals:{flow.id}")
        self.mean_gap_h = HOURS_PER_YEAR * flow.shipment_teu / flow.teu_per_year
        self.poisson = flow.arrivals == "poisson"
        # Block draws (the stream serves nothing else): the numbers of one-by-one numpy calls, in order.
        self.gap = _blocks(lambda n: rng.exponential(self.mean_gap_h, n)) if self.poisson else None
        shares = np.array([model.routes[r][1].share for r in route_ids])
        self.pick = _route_picker(model._rng(f"routes:{flow.id}"), shares) if len(route_ids) > 1 else None
        self.chooser = None  # the flow's chooser, looked up at the first arrival (built after the sources)
        self._first = True
        first_h = self.gap() if self.poisson else rng.uniform(0, self.mean_gap_h)  # a random phase, then regular
        self._callbacks = [self._arrive]
        self._next(first_h)

    def _next(self, delay: float) -> None:
        """Be in the queue as the next arrival, `delay` hours from now: the entry `timeout(delay)` makes."""
        env = self.env
        self.callbacks = self._callbacks  # the loop takes them off while it runs them
        if delay:
            heappush(env._queue, (env._now + delay, NORMAL, next(env._eid), self))
        else:
            env.schedule(self)

    def _arrive(self, _event) -> None:
        model, env = self.model, self.env
        if self._first:
            self._first = False
            self.chooser = model.choice.flows.get(self.f) if model.choice is not None else None
        # The next arrival first: a source process scheduled it before its journey's first step ran.
        self._next(self.gap() if self.poisson else self.mean_gap_h)
        now, teu, chooser = env._now, self.teu, self.chooser
        if chooser is not None:
            c = chooser.origin(now, teu)
            r = self.route_ids[c]
        else:
            r = self.route_ids[0] if self.pick is None else self.route_ids[self.pick()]
        index = model.recorder.new_shipment(self.f, r, teu, now)
        if chooser is not None and chooser.en_route:
            Started(env, chooser.journey(index, c, teu, now))
        else:
            Started(env, model.journey(index, model.plans[r], teu))


def _route_picker(rng: np.random.Generator, shares: np.ndarray):
    """`int(rng.choice(len(shares), p=shares))` one call at a time, from uniforms drawn in blocks:
    numpy's choice with p draws one `random()` and searches the normalised cumulative shares
    (side='right'), so this gives the same routes from the same stream."""
    cdf = shares.cumsum()
    cdf /= cdf[-1]
    cdf = cdf.tolist()
    uniform = _blocks(rng.random)
    return lambda: bisect_right(cdf, uniform())
