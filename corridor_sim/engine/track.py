"""Single track: both directions of a segment on one track, in block sections between passing loops.

A segment with `tracks: 1` is one SingleTrack. It is cut into `sections` equal block sections; the
nodes at its ends hold any number of vehicles, and between two sections lies a passing loop with one
track for each direction (so two opposing trains can meet there, one on each track).

A vehicle crosses the segment section by section, each taking its share of the running time. Before
it moves into a section it must claim, at once, the section and its place at the far end (the loop
track of its direction, or the end node, which is never full); it then gives up the loop track it
stood on. A claim is granted when:

- no vehicle of the opposite direction is in the section;
- a vehicle of the same direction entered the section at least `headway_h` ago (following), and
  no opposing vehicle that could go is waiting for the section (then the section *alternates*:
  the followers wait until it has cleared and the opposing vehicle has crossed);
- if the section was last used the other way, `switch_h` has passed since it cleared (the time to
  change direction: route setting, clearing the block).

Waiting vehicles are served first come first served at each place and direction; when a section is
free and vehicles wait at both of its ends, it goes to the direction that did not use it last.

Why it cannot deadlock: the station-to-station reservation of MATSim's railsim. A vehicle inside a
section already holds its place at the far end, so it always leaves the section after its running
time, never waiting on anything. A vehicle standing at a loop waits only for (a) a section whose
occupants are all running out of it, which takes finite time, and (b) the loop track ahead of it in
its own direction, held by a vehicle further along in the same direction; following that chain
forward it ends at a vehicle whose place ahead is free or is the end node. No chain of waits can
close on itself, so some vehicle can always move. (Alternation holds a follower back only for an
opposing vehicle that can go at once, so it adds no wait cycle either.)

Saturated from both ends, a one-section track therefore carries one vehicle each way per cycle of
2 (T + switch_h) hours, T the running time: 24 / (T + switch_h) vehicles a day in all, which is
Scott's formula 1440 / (T + t) x E with the block time t = switch_h and efficiency E = 1.

Statistics: the share of time each section is occupied (averaged over sections), the vehicles that
entered, how many of them were background traffic, the meets (a vehicle held where an opposing
vehicle is on the section or waits for it) and the total time spent waiting for a path.
"""

from __future__ import annotations

import math
from collections import deque

import simpy

from corridor_sim.scenario.schema import Segment


class SingleTrack:
    """One single-track segment shared by both directions.

    Args:
        env: the simulation environment.
        segment: the segment (`tracks: 1`), giving `sections`, `headway_h` and `switch_h`.
    """

    def __init__(self, env: simpy.Environment, segment: Segment):
        self.env = env
        self.segment = segment
        self.n = segment.sections
        self.headway_h = segment.headway_h
        self.switch_h = segment.switch_h
        n = self.n
        self.dir = [0] * n            # +1 from -> to, -1 to -> from, 0 empty
        self.inside = [0] * n
        self.last_dir = [0] * n
        self.last_entry_h = [-math.inf] * n
        self.cleared_h = [-math.inf] * n
        # Loop j (1..n-1) lies between sections j-1 and j; one track per direction.
        self.loop_held: dict[tuple[int, int], bool] = {(j, d): False for j in range(1, n) for d in (1, -1)}
        # Vehicles waiting at place j (0 = the from node, n = the to node) in direction d, FIFO.
        self.waiting: dict[tuple[int, int], deque] = {(j, d): deque() for j in range(n + 1) for d in (1, -1)}
        self._n_waiting = 0  # vehicles in all those queues: a scan with none has nothing to grant
        self._timer_h = math.inf
        self.reset_statistics()

    def reset_statistics(self) -> None:
        """Start measuring afresh (called at the end of the warm-up)."""
        now = self.env.now
        self.since_h = now
        self._occupied_since = [now if self.inside[s] else None for s in range(self.n)]
        self.occupied_h = [0.0] * self.n
        self.entered = 0
        self.entered_background = 0
        self.meets = 0
        self.wait_sum_h = 0.0
        self.crossed = {1: 0, -1: 0}

    # ------------------------------------------------------------------ a vehicle's crossing

    def direction(self, from_node: str) -> int:
        return 1 if from_node == self.segment.from_ else -1

    def enter(self, d: int, background: bool = False):
        """Wait for the first section (and the place beyond it), then hold it; returns the passage."""
        arrived_h = self.env.now
        place = 0 if d > 0 else self.n
        yield from self._claim(place, d)
        self.wait_sum_h += self.env.now - arrived_h
        self.entered += 1
        if background:
            self.entered_background += 1
        return [place, d]

    def run(self, passage: list, time_h: float, sleeps: bool = False):
        """Run the sections in turn, `time_h` in all, claiming each next section at its loop.

        `sleeps`: the vehicle is a `Started` process (engine/clock.py), which sleeps a section's
        time by yielding its hours (the same queue entry as a timeout); a plain SimPy process (a
        service run) cannot, and waits on a timeout."""
        place, d = passage
        section_h = time_h / self.n
        for step in range(self.n):
            if step > 0:
                arrived_h = self.env.now
                yield from self._claim(place, d)
                self.wait_sum_h += self.env.now - arrived_h
            section = place if d > 0 else place - 1
            yield section_h if sleeps else self.env.timeout(section_h)
            self._leave(section)
            place += d
        self.crossed[d] += 1

    # ------------------------------------------------------------------ claims

    def _section(self, place: int, d: int) -> int:
        return place if d > 0 else place - 1

    def _ahead_free(self, place: int, d: int) -> bool:
        ahead = place + d
        return ahead in (0, self.n) or not self.loop_held[(ahead, d)]

    def _claim(self, place: int, d: int):
        queue = self.waiting[(place, d)]
        if not queue and self._grantable(place, d) is True:
            self._grant(place, d)
            return
        section = self._section(place, d)
        other = (section + 1, -1) if d > 0 else (section, 1)
        if (self.inside[section] and self.dir[section] == -d) or self.waiting[other]:
            self.meets += 1  # held for an opposing vehicle: on the section, or waiting with the right of way
        event = self.env.event()
        queue.append(event)
        self._n_waiting += 1
        self._scan()
        if not event.triggered:
            yield event

    def _grantable(self, place: int, d: int):
        """True if the head at (place, d) may go now, else the time it may (inf: not by time)."""
        # _section and _ahead_free inline (this runs for every waiting head at every scan).
        n, held = self.n, self.loop_held
        if d > 0:
            s = place
            other = (s + 1, -1)  # where an opposing vehicle waits for s
        else:
            s = place - 1
            other = (s, 1)
        ahead = place + d
        if ahead != 0 and ahead != n and held[(ahead, d)]:
            return math.inf
        if self.inside[s] and self.dir[s] == -d:
            return math.inf
        opposing = False
        if self.waiting[other]:
            beyond = other[0] - d  # the place ahead of the opposing head (its direction is -d)
            opposing = beyond == 0 or beyond == n or not held[(beyond, -d)]
        if self.last_dir[s] == -d:  # free (checked above), last used the other way: switch first
            ready_h = self.cleared_h[s] + self.switch_h
        elif self.last_dir[s] == d and opposing:
            return math.inf  # following, or free after us, while the other side waits: its turn
        else:
            ready_h = self.last_entry_h[s] + self.headway_h
        return True if self.env.now >= ready_h - 1e-12 else ready_h

    def _grant(self, place: int, d: int) -> None:
        s = self._section(place, d)
        now = self.env.now
        if not self.inside[s]:
            self._occupied_since[s] = now
        self.inside[s] += 1
        self.dir[s] = self.last_dir[s] = d
        self.last_entry_h[s] = now
        ahead = place + d
        if ahead not in (0, self.n):
            self.loop_held[(ahead, d)] = True
        if place not in (0, self.n):
            self.loop_held[(place, d)] = False

    def _leave(self, s: int) -> None:
        self.inside[s] -= 1
        if not self.inside[s]:
            self.dir[s] = 0
            self.cleared_h[s] = self.env.now
            self.occupied_h[s] += self.env.now - max(self._occupied_since[s], self.since_h)
            self._occupied_since[s] = None
        self._scan()

    def _scan(self) -> None:
        """Grant every waiting head that may go; set a timer for the earliest that may go later."""
        if not self._n_waiting:
            return  # nobody waits: nothing to grant and no time to wake at (the loop below would find so)
        soonest = math.inf
        progress = True
        while progress:
            progress = False
            soonest = math.inf
            for (place, d), queue in self.waiting.items():
                if not queue:
                    continue
                ok = self._grantable(place, d)
                if ok is True:
                    self._grant(place, d)
                    queue.popleft().succeed()
                    self._n_waiting -= 1
                    progress = True
                    break
                soonest = min(soonest, ok)
        if soonest < self._timer_h:
            # One pending wake-up at the earliest time a waiting vehicle may go (headway, switch).
            self._timer_h = soonest
            timer = self.env.timeout(max(0.0, soonest - self.env.now))
            timer.callbacks.append(lambda _event, at=soonest: self._on_timer(at))

    def _on_timer(self, at_h: float) -> None:
        if at_h == self._timer_h:
            self._timer_h = math.inf
        self._scan()

    # ------------------------------------------------------------------ results

    def statistics(self) -> dict:
        """Measured statistics since the last reset, up to now."""
        now = self.env.now
        span = max(now - self.since_h, 1e-12)
        occupied = [h + (now - max(t, self.since_h) if t is not None else 0.0)
                    for h, t in zip(self.occupied_h, self._occupied_since)]
        return {
            "segment": self.segment.id,
            "sections": self.n,
            "occupation_share": sum(occupied) / (self.n * span),
            "entered": self.entered,
            "entered_background": self.entered_background,
            "meets": self.meets,
            "wait_sum_h": self.wait_sum_h,
            "span_h": span,
            "waiting_at_end": sum(len(q) for q in self.waiting.values()),
            "crossed_forward": self.crossed[1], "crossed_back": self.crossed[-1],
        }
