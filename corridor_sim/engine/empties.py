"""Empty containers going back: boxes that take space and handling but are not shipments.

A flow with `empty_return_share: s` sends that share of its delivered boxes back empty, from its
destination to its origin, `empty_after_h` after delivery (the time to strip the box), along the
flow's route reversed (the route the loaded box took) or along `empty_route`. An empty box is
handled, waits for and rides trains and vessels (taking TEU space in arrival order, like a loaded
box) and drives road legs exactly as a loaded one would, on the loaded journey's own steps, but
it writes no records (its index is EMPTY_BOX, which the recorders ignore): it is not a shipment
and is not measured. Services count the empty TEU they carried (`empty_teu_per_day`).

The share is kept exactly, without random numbers (a loaded run's random streams are untouched):
each delivery adds s x its TEU to the flow's credit, and each time the credit reaches a consignment
(`shipment_teu`) one empty consignment leaves. The cost and CO2 of the empty legs are charged to the
loaded flow (results.py): s x the empty route's cost per TEU.
"""

from __future__ import annotations

from corridor_sim.distributions import sampler_of
from corridor_sim.network import CorridorNetwork, Route
from corridor_sim.scenario.schema import Flow

EMPTY_BOX = -1  # the shipment index of every empty box: records skip it


def empty_paths(network: CorridorNetwork, flow: Flow, routes: list[Route]) -> list[list[str]]:
    """Per loaded route of the flow, the node path its empty boxes take back."""
    if flow.empty_route is not None:
        return [list(flow.empty_route) for _ in routes]
    return [list(reversed(route.nodes)) for route in routes]


def empty_routes(network: CorridorNetwork, flow: Flow, routes: list[Route]) -> list[Route]:
    """Per loaded route of the flow, the Route (legs resolved) of its empty boxes."""
    return [Route(tuple(p), network.legs_for_path(p)) for p in empty_paths(network, flow, routes)]


class EmptyBoxes:
    """Sends the empty boxes of every flow with `empty_return_share` back, and counts them."""

    def __init__(self, model):
        self.model = model
        self.env = model.env
        self.credit: dict[int, float] = {}
        self.launched = 0
        self.returned = 0
        by_flow: dict[int, list[int]] = {}
        for r, (f, _) in enumerate(model.routes):
            by_flow.setdefault(f, []).append(r)
        for f, flow in enumerate(model.scenario.demand):
            if flow.empty_return_share <= 0:
                continue
            self.credit[f] = 0.0
            mine = by_flow.get(f, [])
            back = empty_routes(model.network, flow, [model.routes[r][1] for r in mine])
            after = sampler_of(flow.empty_after_h, model._rng(f"empty_after:{flow.id}")) if flow.empty_after_h else None
            for r, route in zip(mine, back):
                plan = self._plan(route)
                # The last step of a loaded journey (before it is marked delivered) sends the empties.
                model.plans[r] = [*model.plans[r], (self._after_delivery, (f, flow.empty_return_share, after, plan))]

    def _plan(self, route: Route) -> list[tuple]:
        """The loaded journey's steps for this route: the recorders ignore the empty box's index."""
        return self.model.plan(route)

    def _after_delivery(self, shipment: int, teu: float, f: int, share: float, after, plan):
        self.credit[f] += share * teu
        box_teu = self.model.scenario.demand[f].shipment_teu
        while self.credit[f] >= box_teu - 1e-9:
            self.credit[f] -= box_teu
            self.launched += 1
            self.env.process(self._return(box_teu, after, plan))
        return
        yield  # a step of the journey: a generator that takes no time

    def _return(self, teu: float, after, plan):
        """One empty consignment's way back."""
        if after is not None:
            yield self.env.timeout(after())
        for step, args in plan:
            yield from step(EMPTY_BOX, teu, *args)
        self.returned += 1

    def counts(self) -> dict:
        """Empty consignments launched and back so far, and each flow's credit toward the next."""
        return {"launched": self.launched, "returned": self.returned,
                "credit": {self.model.scenario.demand[f].id: c for f, c in self.credit.items()}}

    def statistics(self) -> dict:
        """Empty TEU carried by each line over the measured window, with the counts so far."""
        line_teu = {lid: st.empty_teu for lid, st in self.model.lines.items() if st.empty_teu}
        return {"line_teu": line_teu, **self.counts()}
