"""Clock: a simpy.Environment with the same semantics and a cheaper event loop.

SimPy processes every event through `Environment.step()`, one method call with its own exception
handling per event, and builds every timeout through `Timeout.__init__` and `Environment.schedule`.
A corridor run is mostly that loop (about 30 events per shipment on ten stations in series), so its
fixed cost per event is a large share of the run. The Clock keeps everything SimPy defines (the
event queue of (time, priority, id, event) entries, the callbacks, processes, interrupts,
conditions, `StopSimulation`, failed events crashing the run) and changes only how it is driven:

- `run()` pops and processes events in one loop, without a `step()` call per event. The order is
  SimPy's own (the same keys), so a run gives the same events in the same order and
  results are bit-identical to a plain `simpy.Environment`: tests/test_clock.py checks both.
- `timeout()` makes a `Timeout` directly, pushing its queue entry in one step.
- An event scheduled for now at normal priority (a `succeed()`: a facility's queue head started, a
  ride's alighting, a process's end; a `timeout(0)`) gets the same (time, priority, id) key as in
  SimPy, but goes to a FIFO of such entries (`_now_queue`) instead of the heap: its keys only grow
  (the time never goes back, the ids count up), so its head is its least, and the loop takes
  whichever of the heap's head and the FIFO's head has the lesser key, which is the order the one
  heap would give. Each such event is spared a push and a pop on a heap of thousands of timeouts
  (about one queue entry in five on the INSTC).

Measured on 10^6 chained timeouts: about 1.3 us an event with `simpy.Environment`, 0.9 us with the
Clock (docs/performance.md has the whole-run figures).
"""

from __future__ import annotations

from collections import deque
from heapq import heappop, heappush
from types import MethodType
from typing import Any

import simpy
from simpy.core import BoundClass, EmptySchedule, StopSimulation
from simpy.events import NORMAL, URGENT, Event, EventPriority, Timeout


class FastTimeout(Timeout):
    """A simpy Timeout scheduled in one step (the same queue entry `Timeout.__init__` makes).

    A timeout is triggered, and successful, from birth: `_ok` and a value of None are the class's,
    so only the instance's own attributes are set."""

    _ok = True
    _value = None

    def __init__(self, env: Clock, delay: float, value: Any = None):
        if delay < 0:
            raise ValueError(f"Negative delay {delay}")
        self.env = env
        self.callbacks = []
        if value is not None:
            self._value = value
        self._delay = delay
        if delay:
            heappush(env._queue, (env._now + delay, NORMAL, next(env._eid), self))
        else:  # due now: on a Clock, the FIFO of such entries (Clock.schedule)
            env.schedule(self, NORMAL, delay)


class Clock(simpy.Environment):
    """simpy.Environment whose `run()` processes events in one loop (same order, same results)."""

    def __init__(self, initial_time: float = 0):
        super().__init__(initial_time)
        # SimPy binds `process`, `event`, `all_of`, ... to the instance for speed, but only those
        # of the instance's own class: bind the parent's here, and `timeout` to FastTimeout.
        for name, obj in simpy.Environment.__dict__.items():
            if type(obj) is BoundClass:
                setattr(self, name, MethodType(obj.cls, self))
        self.timeout = MethodType(FastTimeout, self)
        self._now_queue: deque = deque()  # entries due now at NORMAL priority, in key order

    def schedule(self, event: Event, priority: EventPriority = NORMAL, delay: float = 0) -> None:
        """As `simpy.Environment.schedule`: the same key; an entry due now at normal priority goes
        to the FIFO of such entries rather than the heap (the loop merges the two in key order)."""
        if delay == 0 and priority == NORMAL:
            self._now_queue.append((self._now + delay, priority, next(self._eid), event))
        else:
            heappush(self._queue, (self._now + delay, priority, next(self._eid), event))

    def _pop(self) -> tuple:
        """The entry of least key of the heap and the FIFO of entries due now."""
        now_queue, queue = self._now_queue, self._queue
        if now_queue and not (queue and queue[0] < now_queue[0]):
            return now_queue.popleft()
        try:
            return heappop(queue)
        except IndexError:
            raise EmptySchedule from None

    def peek(self) -> float:
        """As `simpy.Environment.peek`: the time of the next event (infinity if there is none)."""
        now_queue, queue = self._now_queue, self._queue
        if now_queue and not (queue and queue[0] < now_queue[0]):
            return now_queue[0][0]
        return queue[0][0] if queue else simpy.core.Infinity

    def step(self) -> None:
        """As `simpy.Environment.step`: process the next event (from the heap or the FIFO)."""
        self._now, _, _, event = self._pop()
        callbacks, event.callbacks = event.callbacks, None
        for callback in callbacks:
            callback(event)
        if not event._ok and not hasattr(event, "_defused"):
            exc = type(event._value)(*event._value.args)
            exc.__cause__ = event._value
            raise exc

    def run(self, until: float | Event | None = None) -> Any:
        """As `simpy.Environment.run`: to the time or the event `until`, or until no events are left.

        An environment whose `step` was replaced (to watch every event, as tests do) runs SimPy's
        own loop, which calls it."""
        if "step" in self.__dict__:
            return super().run(until)
        if until is not None:
            if not isinstance(until, Event):
                at = until if isinstance(until, int) else float(until)
                if at <= self.now:
                    raise ValueError(f"until ({at}) must be greater than the current simulation time")
                until = Event(self)  # scheduled before all regular events at that time, as SimPy does
                until._ok = True
                until._value = None
                self.schedule(until, URGENT, at - self.now)
            elif until.callbacks is None:
                return until.value
            until.callbacks.append(StopSimulation.callback)
        try:
            self._loop()
        except StopSimulation as exc:
            return exc.args[0]
        except EmptySchedule:
            if until is not None:
                assert not until.triggered
                raise RuntimeError(f'No scheduled events left but "until" event was not triggered: {until}') from None
        return None

    def _loop(self) -> None:
        """`simpy.Environment.step()` inlined in a loop: stops by StopSimulation or EmptySchedule."""
        queue, now_queue = self._queue, self._now_queue
        pop, popleft = heappop, now_queue.popleft
        while True:
            if now_queue and not (queue and queue[0] < now_queue[0]):
                self._now, _, _, event = popleft()
            else:
                try:
                    self._now, _, _, event = pop(queue)
                except IndexError:
                    raise EmptySchedule from None
            callbacks, event.callbacks = event.callbacks, None
            try:
                for callback in callbacks:
                    callback(event)
            except StopSimulation:
                # As SimPy: keep the callbacks not yet called, to be run when the simulation resumes.
                event.callbacks = callbacks[callbacks.index(callback) + 1:]
                self.schedule(event, EventPriority(-1))
                raise
            if not event._ok and not hasattr(event, "_defused"):
                # A failed event nobody handled crashes the run, with a copy of its exception.
                exc = type(event._value)(*event._value.args)
                exc.__cause__ = event._value
                raise exc


class _Go:
    """What a process is resumed with when it starts: a successful event's value (None)."""

    _ok = True
    _value = None


_GO = _Go()


class Started(simpy.Process):
    """A process whose generator starts at once, inside the caller, instead of at an Initialize event.

    SimPy starts a new process at an `Initialize` event of urgent priority at the current time. When
    the caller runs from the callback of a normal-priority event, no other urgent event can be due at
    that time (they all run before normal ones), so that Initialize is the very next event: running
    the generator's first step at once is the same order of events, without the event. Callers do
    their own scheduling first, as they would have before the Initialize ran (engine/arrivals.py).

    Nothing waits on a journey: when its generator returns, the process is marked processed at once
    rather than scheduled as an event with no callbacks (`_resume`). Anything that waits on a Started
    process (`yield proc`, a condition) from before it ends gets SimPy's event as usual.
    """

    def __init__(self, env: Clock, generator):
        self.env = env
        self.callbacks = []
        self._generator = generator
        self._target = None
        active = env._active_proc
        self._resume(_GO)  # type: ignore[arg-type]
        env._active_proc = active

    def _resume(self, event: Event) -> None:
        """`simpy.Process._resume` (SimPy 4.1, MIT licence), with one change: a process that ends
        well while nothing waits on it is marked processed at once instead of being scheduled as an
        event nobody would see (a journey's end: one event a shipment fewer)."""
        env = self.env
        env._active_proc = self
        generator = self._generator
        while True:
            try:
                if event._ok:
                    event = generator.send(event._value)
                else:
                    event._defused = True  # the process handles the failure (or fails itself)
                    exc = type(event._value)(*event._value.args)
                    exc.__cause__ = event._value
                    event = generator.throw(exc)
            except StopIteration as stop:
                event = None
                self._ok = True
                self._value = stop.args[0] if stop.args else None
                if self.callbacks:
                    env.schedule(self)
                else:
                    self.callbacks = None  # processed: as SimPy would leave it, without the event
                break
            except BaseException as err:
                event = None
                self._ok = False
                err.__traceback__ = err.__traceback__.tb_next
                self._value = err
                env.schedule(self)  # a failure crashes the run unless something handles it
                break
            try:
                if event.callbacks is not None:
                    event.callbacks.append(self._resume)
                    break
            except AttributeError:
                if hasattr(event, "callbacks"):
                    raise
                raise RuntimeError(f'Invalid yield value "{event}"') from None
        self._target = event
        env._active_proc = None
