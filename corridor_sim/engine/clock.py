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
- A journey (a `Started` process) may sleep by yielding its delay in hours, a number, instead of a
  `timeout`: its queue entry is (time, NORMAL, id, the process itself), the key `timeout()` would
  have given, and the loop resumes the process directly. No Timeout, no callbacks list, no
  callback call: most of a shipment's events are such sleeps (handling and running times).
- A journey that waits for a server or a ride may park instead (`yield PARK`), leaving itself in
  the facility's queue or the boarding pool in place of an event: what would have succeeded the
  event calls the process's `succeed()`, which puts the same entry in the FIFO of entries due now.

Measured on 10^6 chained timeouts: about 1.3 us an event with `simpy.Environment`, 0.9 us with the
Clock (docs/performance.md has the whole-run figures).
"""

from __future__ import annotations

from collections import deque
from heapq import heappop, heappush
from types import MethodType
from typing import Any

import simpy
from numpy import float64
from simpy.core import BoundClass, EmptySchedule, StopSimulation
from simpy.events import NORMAL, PENDING, URGENT, Event, EventPriority, Timeout


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
        self._now, _, eid, event = self._pop()
        if event.__class__ is Started:  # a sleep's end: resume the process (unless interrupted)
            if event._wake == eid:
                event._resume(_GO)
            return
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
        pop, push, popleft, ids = heappop, heappush, now_queue.popleft, self._eid
        while True:
            if now_queue and not (queue and queue[0] < now_queue[0]):
                self._now, _, eid, event = popleft()
            else:
                try:
                    self._now, _, eid, event = pop(queue)
                except IndexError:
                    raise EmptySchedule from None
            if event.__class__ is Started:
                # A sleep's end (passed over if an interrupt cut it short): Started._resume with its
                # first step inline, as far as the process's next sleep, the most common case.
                if event._wake != eid:
                    continue
                self._active_proc = event
                try:
                    delay = event._generator.send(None)
                except StopIteration as stop:
                    if event.callbacks:
                        event._end(True, stop.value)
                    else:  # `_end` inline, for a journey's end: processed, nothing waits on it
                        event._ok, event._value, event.callbacks = True, stop.value, None
                        self._active_proc = None
                    continue
                except BaseException as err:
                    err.__traceback__ = err.__traceback__.tb_next
                    event._end(False, err)
                    continue
                cls = delay.__class__
                if (cls is float or cls is float64) and delay > 0:
                    event._wake = eid = next(ids)
                    push(queue, (self._now + delay, NORMAL, eid, event))
                    self._active_proc = None
                elif delay is PARK:
                    event._target = _ASLEEP
                    self._active_proc = None
                else:
                    event._go_on(event._follow(delay))
                continue
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


class _Asleep:
    """What a sleeping process waits on (its `target`): no event, so nothing to take it off."""

    class _Callbacks(list):
        def remove(self, value) -> None:  # an interrupt takes the process off its target's callbacks
            pass

    callbacks = _Callbacks()
    triggered = False


_ASLEEP = _Asleep()


class _Park:
    """What a Started process yields to wait, parked, until something calls its `succeed()`."""

    def __repr__(self) -> str:
        return "PARK"


PARK = _Park()


class Started(simpy.Process):
    """A process whose generator starts at once, inside the caller, instead of at an Initialize event,
    and that may sleep by yielding a delay (hours, a number) instead of a timeout.

    SimPy starts a new process at an `Initialize` event of urgent priority at the current time. When
    the caller runs from the callback of a normal-priority event, no other urgent event can be due at
    that time (they all run before normal ones), so that Initialize is the very next event: running
    the generator's first step at once is the same order of events, without the event. Callers do
    their own scheduling first, as they would have before the Initialize ran (engine/arrivals.py).

    A sleep of `d` hours puts the entry (now + d, NORMAL, id, the process) in the Clock's queue: the
    key `timeout(d)` would have had, so the same order of events, and the loop resumes the process
    when it comes up, with no Timeout made and no callback called. `_wake` is the entry's id: an
    interrupt during a sleep cancels it (the entry is then passed over) and resumes the process at
    once, with the Interrupt, as it would a process waiting on a timeout.

    A process that waits for a server or a ride may park (`yield PARK`): it leaves itself, in place
    of an event, in the queue it waits in, and the waker calls its `succeed()`, which puts the entry
    an event's `succeed()` would have made (now, NORMAL, id) in the FIFO of entries due now. A parked
    process must be taken out of that queue before it is interrupted (the closures of
    engine/choice.py do), or its waker would wake it later, where an event would have woken nobody.

    Nothing waits on a journey: when its generator returns, the process is marked processed at once
    rather than scheduled as an event with no callbacks (`_resume`). Anything that waits on a Started
    process (`yield proc`, a condition) from before it ends is resumed by an event that carries its
    outcome; one that failed crashes the run, as in SimPy, unless something waits on it.
    """

    _wake = -1  # the queue entry id of the sleep under way (-1: not asleep)

    def __init__(self, env: Clock, generator):
        self.env = env
        self.callbacks = []
        self._generator = generator
        self._target = None
        self._sleeps = isinstance(env, Clock)  # elsewhere (tests on simpy.Environment) a sleep is a timeout
        active = env._active_proc
        self._resume(_GO)  # type: ignore[arg-type]
        env._active_proc = active

    def succeed(self, value: Any = None) -> Started:
        """Wake the parked process (it yielded PARK): the queue entry an event's `succeed()` would
        have made, so the process resumes in the same order as one waiting on that event. Only for
        a parked process (one asleep or waiting on an event is woken by its own entry or event)."""
        env = self.env
        self._wake = eid = next(env._eid)
        env._now_queue.append((env._now, NORMAL, eid, self))
        return self

    def interrupt(self, cause: Any = None) -> None:
        """As `simpy.Process.interrupt`; a sleep under way is cancelled."""
        super().interrupt(cause)
        self._wake = -1

    def _resume(self, event: Event) -> None:
        """`simpy.Process._resume` (SimPy 4.1, MIT licence), with two changes: a yielded number is a
        sleep of that many hours, and a process that ends well while nothing waits on it is marked
        processed at once instead of being scheduled as an event nobody would see (a journey's end:
        one event a shipment fewer)."""
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
                self._end(True, stop.args[0] if stop.args else None)
                return
            except BaseException as err:
                err.__traceback__ = err.__traceback__.tb_next
                self._end(False, err)  # a failure crashes the run unless something handles it
                return
            cls = event.__class__
            if (cls is float or cls is float64) and event > 0 and self._sleeps:  # a sleep, the most common
                self._wake = eid = next(env._eid)
                heappush(env._queue, (env._now + event, NORMAL, eid, self))
                self._target = _ASLEEP
                break
            event = self._follow(event)
            if event is None:
                break
        env._active_proc = None

    def _follow(self, value: Any) -> Event | None:
        """Take up what the generator yielded: sleep or wait on an event (None), or the event to
        resume it with at once (one already processed, or the failure of a negative delay)."""
        env = self.env
        if value is PARK:
            if not self._sleeps:
                raise RuntimeError("a process can park only on a Clock")
            self._target = _ASLEEP
            return None
        cls = value.__class__
        if cls is float or cls is float64 or cls is int:
            if not self._sleeps:  # on a plain simpy.Environment: a timeout
                if value < 0:
                    return _failed(ValueError(f"Negative delay {value}"))
                value = env.timeout(value)
            elif value > 0:
                self._wake = eid = next(env._eid)
                heappush(env._queue, (env._now + value, NORMAL, eid, self))
                self._target = _ASLEEP
                return None
            elif value == 0:  # due now: behind the entries already due now, as a timeout(0)
                self._wake = eid = next(env._eid)
                env._now_queue.append((env._now, NORMAL, eid, self))
                self._target = _ASLEEP
                return None
            else:
                return _failed(ValueError(f"Negative delay {value}"))
        try:
            if value.callbacks is not None:
                value.callbacks.append(self._resume)
                self._target = value
                return None
        except AttributeError:
            if hasattr(value, "callbacks"):
                raise
            raise RuntimeError(f'Invalid yield value "{value}"') from None
        return value

    def _go_on(self, event: Event | None) -> None:
        """After `_follow` from the Clock's loop: resume at once with `event`, or leave it waiting."""
        if event is None:
            self.env._active_proc = None
        else:
            self._resume(event)

    def _end(self, ok: bool, value: Any) -> None:
        """The generator has returned (ok) or raised: mark the process processed, and pass its outcome
        on by an event if anything waits on it or it failed (so that the failure crashes the run)."""
        self._ok, self._value = ok, value
        self.env._active_proc = None
        callbacks, self.callbacks = self.callbacks, None
        if callbacks or not ok:
            outcome = Event(self.env)
            outcome._ok, outcome._value, outcome.callbacks = ok, value, callbacks
            self.env.schedule(outcome)


def sleeper(env: simpy.Environment) -> Started | None:
    """The running process if it may sleep (yield hours) and park (yield PARK): a Started process
    on a Clock; else None (a plain SimPy process, or any process off a Clock), which must wait on
    timeouts and events."""
    me = env._active_proc
    return me if me.__class__ is Started and me._sleeps else None


def _failed(exc: BaseException) -> Event:
    """An event that has failed with `exc`: what a process is resumed with to raise it inside."""
    event = _Failure()
    event._value = exc
    return event


class _Failure:
    _ok = False
    _value: BaseException
