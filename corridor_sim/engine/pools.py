"""Boarding pools: shipments wait for any line that can carry them, not for one line.

A shipment riding from stop a to stop b (rail or sea) waits in the *pool* of its ride: the stops and
segments from a to b on its route, and the route's named services. Every line (of those services,
if named) that calls at a and later at b running that way boards from the pool, so the shipment
leaves on the first departure with room of any of them: two daily trains 12 h apart are one
departure every 12 h for it, not two separate timetables.
The run that takes it alights it at b and records its ride on the line it actually took.

Pools served by exactly the same line stops are kept as one *group*, a single FIFO queue, since no
line could tell their shipments apart. A line calling at a stop boards from the groups it serves
there in arrival order across them (a shipment that does not fit stops the boarding: FIFO), and a
when-full line is told of every arrival in the groups it serves. Where each stop of a line is
served by that line alone, its stop has one group, holding exactly what a per-line queue held:
boarding, random numbers and results are those of per-line queues.
"""

from __future__ import annotations

import itertools
from collections import deque
from dataclasses import dataclass, field

from corridor_sim.network import CorridorNetwork


@dataclass(eq=False)
class Group:
    """Shipments waiting at one node for the same set of line stops, in arrival order."""

    node: str
    servers: frozenset  # (line id, stop index) pairs that board from this group
    queue: deque = field(default_factory=deque)
    lines: list = field(default_factory=list)  # the LineStates to tell of an arrival


class Pools:
    """The groups of a model, and for every line stop the groups it boards from.

    Args:
        network: the corridor network (its `pool_lines` says which lines serve a pool).
        lines: the model's LineStates by line id; each gets `boards` (groups per stop), `alights`
            (per stop, the index of each later stop by node) and `km` (distance run to each stop).
    """

    def __init__(self, network: CorridorNetwork, lines: dict):
        self.network = network
        self.lines = lines
        self._groups: dict[tuple[str, frozenset], Group] = {}
        self._by_pool: dict[tuple, Group] = {}
        self._seq = itertools.count()
        for state in lines.values():
            stops = state.line.stops
            state.boards = [[] for _ in stops]
            state.through_teu = [0.0] * len(stops)
            state.alights = [{node: stops.index(node, k + 1) for node in stops[k + 1:]} for k in range(len(stops))]
            km = [0.0]
            for seg in state.line.segments:
                km.append(km[-1] + seg.length_km)
            state.km = km

    def group(self, key: tuple) -> Group:
        """The group a shipment of pool `key` = (nodes, segment ids, services) waits in."""
        found = self._by_pool.get(key)
        if found is not None:
            return found
        members = self.network.pool_lines(*key)
        servers = frozenset((line.id, k) for line, k, _ in members)
        node = key[0][0]
        found = self._groups.get((node, servers))
        if found is None:
            found = self._groups[(node, servers)] = Group(node, servers)
            for line, k, _ in members:
                state = self.lines[line.id]
                state.boards[k].append(found)
                if state not in found.lines:
                    found.lines.append(state)
        self._by_pool[key] = found
        return found

    def next_seq(self) -> int:
        """A number that orders arrivals across groups (FIFO over every group a stop serves)."""
        return next(self._seq)


def oldest(groups: list[Group]):
    """The first-arrived shipment waiting in any of the groups, or None."""
    if len(groups) == 1:
        queue = groups[0].queue
        return queue[0] if queue else None
    heads = [g.queue[0] for g in groups if g.queue]
    return min(heads, key=lambda w: w.seq) if heads else None


def in_order(groups: list[Group]) -> list:
    """The shipments waiting in the groups, in arrival order across them."""
    return sorted((w for g in groups for w in g.queue), key=lambda w: w.seq)


def waiting_teu(groups: list[Group]) -> float:
    """TEU waiting in the groups."""
    return sum(w.teu for g in groups for w in g.queue)


def board(groups: list[Group], k: int, alights: dict, load: float, capacity_teu: float, onboard: list) -> float:
    """Board shipments from the groups at stop k in arrival order while they fit; the new load."""
    if len(groups) == 1:
        queue = groups[0].queue
        while queue and load + queue[0].teu <= capacity_teu + 1e-9:
            w = queue.popleft()
            w.board, w.alight = k, alights[w.to]
            load += w.teu
            onboard.append(w)
        return load
    while True:
        head = None
        for g in groups:
            if g.queue and (head is None or g.queue[0].seq < head.queue[0].seq):
                head = g
        if head is None or load + head.queue[0].teu > capacity_teu + 1e-9:
            return load
        w = head.queue.popleft()
        w.board, w.alight = k, alights[w.to]
        load += w.teu
        onboard.append(w)
