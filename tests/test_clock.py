"""The Clock (engine/clock.py) drives SimPy's events in SimPy's own order: every result is the same."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import simpy

import corridor_sim.engine.model as model_module
from corridor_sim import load_scenario
from corridor_sim.engine.clock import PARK, Clock, Started
from corridor_sim.engine.model import CorridorModel

SCENARIOS = Path(__file__).parent / "scenarios"


def _toy(env: simpy.Environment) -> list:
    """A model using every SimPy feature the engine uses; returns its trace of (time, what)."""
    trace: list = []
    rng = np.random.default_rng(7)
    server = simpy.Resource(env, capacity=2)
    store = simpy.Store(env)

    def customer(i):
        with server.request() as req:
            yield req
            trace.append((env.now, "start", i))
            yield env.timeout(float(rng.exponential(1.0)))
        store.put(i)
        trace.append((env.now, "done", i))

    def source():
        for i in range(300):
            yield env.timeout(float(rng.exponential(0.6)))
            env.process(customer(i))
        yield env.timeout(1.0)

    def collector():
        while True:
            got = yield store.get() | env.timeout(5.0)
            trace.append((env.now, "got", tuple(sorted(str(v) for v in got.values()))))

    def sleeper():
        try:
            yield env.timeout(1e6)
        except simpy.Interrupt as stop:
            trace.append((env.now, "interrupted", stop.cause))
        yield env.all_of([env.timeout(2.0), env.timeout(3.0)])
        trace.append((env.now, "both"))
        failing = env.event()
        failing.fail(ValueError("handled"))
        try:
            yield failing
        except ValueError as err:
            trace.append((env.now, "caught", str(err)))

    def waker(victim):
        yield env.timeout(42.0)
        victim.interrupt("wake")

    env.process(source())
    env.process(collector())
    env.process(waker(env.process(sleeper())))
    env.run(until=100.0)
    trace.append((env.now, "paused"))
    env.run(until=env.timeout(50.0))
    trace.append((env.now, "paused again"))
    env.run(until=400.0)
    return trace


def test_clock_gives_simpys_trace_event_for_event():
    """Resources, stores, conditions, interrupts, a handled failure and runs resumed after `until`
    give the same trace, at the same times, with the Clock as with simpy.Environment."""
    plain, fast = _toy(simpy.Environment()), _toy(Clock())
    assert len(plain) > 900 and fast == plain


def test_clock_crashes_on_an_unhandled_failure_as_simpy_does():
    """A failed event nobody waits on stops the run with (a copy of) its exception."""
    for env in (simpy.Environment(), Clock()):
        env.timeout(1.0)
        env.event().fail(KeyError("nobody handles this"))
        with pytest.raises(KeyError, match="nobody handles this"):
            env.run(until=10.0)


def test_clock_keeps_simpys_until_rules():
    """`until` at or before now is refused; an event already processed returns its value at once;
    with no events left before `until` the run ends at `until`."""
    env = Clock()
    env.run(until=5.0)
    assert env.now == 5.0
    with pytest.raises(ValueError):
        env.run(until=5.0)
    done = env.timeout(1.0, value="v")
    assert env.run(until=done) == "v" and env.now == 6.0
    assert env.run(until=done) == "v"
    with pytest.raises(RuntimeError, match="No scheduled events left"):
        env.run(until=env.event())


def test_started_process_runs_as_an_initialized_one():
    """A process started at once from a normal event's callback (Started) gives the same trace as one
    started by SimPy's Initialize event; it is alive until its generator returns, and its value is
    the generator's."""

    def run(start_now: bool) -> tuple[list, object]:
        env = Clock()
        trace: list = []

        def job(i):
            trace.append((env.now, "begin", i))
            yield env.timeout(0.5 * (i % 3))
            trace.append((env.now, "end", i))
            return i * 10

        procs = []

        def arrive(i):
            def callback(_event):
                nxt = env.timeout(1.0)  # the next arrival first, as a source process would
                if i < 20:
                    nxt.callbacks.append(arrive(i + 1))
                procs.append(Started(env, job(i)) if start_now else env.process(job(i)))
            return callback

        env.timeout(0.25).callbacks.append(arrive(0))
        other = env.timeout(1.25)  # ties with arrivals: order must follow the queue's ids
        other.callbacks.append(lambda e: trace.append((env.now, "other")))
        env.run(until=30.0)
        return trace, [p.value for p in procs]

    initialized, started = run(False), run(True)
    assert len(initialized[0]) == 43 and started == initialized


@pytest.mark.parametrize("name", ["together/all_mechanisms.yaml", "choice/two_posts.yaml",
                                  "infrastructure/single_track_meet.yaml", "fleets/shuttle.yaml",
                                  "infrastructure/border_background.yaml", "infrastructure/one_lane_bridge_freight.yaml",
                                  "infrastructure/single_track_saturated.yaml",
                                  "infrastructure/one_lane_bridge_empties.yaml"])
def test_model_results_are_bit_identical_to_a_plain_simpy_environment(monkeypatch, name):
    """A replication on the Clock gives exactly the arrays and statistics it gives on simpy.Environment
    (background vehicles and single tracks, whose vehicles sleep and park on the Clock, included)."""
    sc = load_scenario(SCENARIOS / name)
    outputs = []
    for env_class in (simpy.Environment, Clock):
        monkeypatch.setattr(model_module, "Clock", env_class)
        outputs.append(CorridorModel(sc, seed=11).run())
    plain, fast = outputs
    vehicles = len(plain.shipments["flow"]) + sum(plain.extra.get("background", {}).get("arrivals", {}).values())
    assert vehicles > 50
    for key in plain.shipments:
        np.testing.assert_array_equal(plain.shipments[key], fast.shipments[key], err_msg=key)
    assert plain.facilities == fast.facilities and plain.lines == fast.lines and plain.gates == fast.gates
    assert plain.end_h == fast.end_h
    np.testing.assert_equal(plain.extra, fast.extra)  # tracks, berths, background counts, fleets


def test_started_process_ends_without_an_event_unless_waited_on():
    """A Started process that ends with nothing waiting is processed at once, without an event (one
    event, its timeout, against SimPy's three); one that a process waits on ends with SimPy's event,
    which hands the waiter its value; a failure still crashes the run."""

    def events_of(start) -> tuple[int, object]:
        env = Clock()

        def job():
            yield env.timeout(1.0)
            return "done"

        before = next(env._eid)
        proc = start(env, job())
        env.run(until=5.0)
        # Less the `until` event, its rescheduling when the run stops, and this count's own id.
        return next(env._eid) - before - 3, proc

    n_started, lone = events_of(Started)
    n_simpy, _ = events_of(lambda env, g: env.process(g))
    assert (n_started, n_simpy) == (1, 3) and lone.processed and lone.value == "done"

    env = Clock()
    got: list = []

    def job(delay, value):
        yield env.timeout(delay)
        return value

    def waiter(proc):
        got.append((yield proc))

    watched = Started(env, job(2.0, "watched"))
    env.process(waiter(watched))
    env.run(until=3.0)
    assert got == ["watched"] and watched.processed

    def broken():
        yield env.timeout(1.0)
        raise ZeroDivisionError("inside a journey")

    Started(env, broken())
    with pytest.raises(ZeroDivisionError, match="inside a journey"):
        env.run(until=10.0)


def test_a_replaced_step_sees_every_event():
    """An environment whose `step` is replaced (an observer of every event) runs SimPy's loop, which
    calls it once an event, and the run's trace is unchanged."""
    env = Clock()
    step, calls = env.step, []

    def watched_step():
        calls.append(env.peek())
        step()

    env.step = watched_step
    trace = _toy(env)
    assert trace == _toy(simpy.Environment()) and len(calls) > 1000


def test_a_finished_started_process_is_freed_without_the_cycle_collector():
    """A journey's process holds no reference cycle: once it ends and nothing refers to it, reference
    counting frees it (the engine makes the cycle collector rare during a run)."""
    import gc
    import weakref

    env = Clock()

    def job():
        yield env.timeout(1.0)

    gc.disable()
    try:
        ref = weakref.ref(Started(env, job()))
        env.run(until=2.0)
        assert ref() is None
    finally:
        gc.enable()


def test_events_due_now_keep_simpys_order_among_timeouts_at_the_same_time():
    """Events scheduled for now at normal priority (succeed, timeout(0)) run in SimPy's key order
    against heap entries of the same time: after a timeout pushed before them, after an urgent event
    pushed after them, and in their own order; `peek` and `step` see them too."""

    def ties(env: simpy.Environment, stepwise: bool) -> list:
        trace: list = []

        def note(name):
            return lambda _event: trace.append((env.now, name))

        def chain(name, depth):
            def callback(_event):
                trace.append((env.now, name))
                if depth:
                    env.event().succeed().callbacks.append(chain(f"{name}>", depth - 1))
            return callback

        def at_one(_event):
            trace.append((env.now, "wake"))
            env.event().succeed().callbacks.append(chain("now-a", 2))
            env.timeout(0).callbacks.append(note("zero"))
            env.timeout(0.0, value="v").callbacks.append(note("zero-value"))
            urgent = env.event()
            urgent._ok, urgent._value = True, None
            env.schedule(urgent, simpy.core.URGENT)
            urgent.callbacks.append(note("urgent"))
            env.event().succeed().callbacks.append(note("now-b"))

        env.timeout(1.0).callbacks.append(at_one)
        env.timeout(1.0).callbacks.append(note("timeout pushed first"))
        env.timeout(0.5).callbacks.append(
            lambda _e: env.timeout(0.5).callbacks.append(note("timeout pushed later")))
        env.timeout(2.0).callbacks.append(note("later"))
        if stepwise:
            while env.peek() < float("inf"):
                trace.append(("peek", env.peek()))
                env.step()
        else:
            env.run()
        return trace

    expected = ties(simpy.Environment(), True)
    assert ties(Clock(), True) == expected
    plain = [t for t in expected if t[0] != "peek"]
    assert ties(Clock(), False) == plain == ties(simpy.Environment(), False)
    assert [name for _, name in plain].index("urgent") < [name for _, name in plain].index("now-a")


def _sleepers(env: simpy.Environment, fast: bool) -> list:
    """Started jobs that sleep (a float, a numpy float, an int, zero), queue for one server, are
    interrupted while asleep or queued and hit a negative delay; `fast` writes the sleeps as numbers
    and the queueing as parking (engine/clock.py), otherwise as timeouts and events. Returns the trace."""
    trace: list = []
    rng = np.random.default_rng(3)
    waiting: list = []
    busy = [False]
    jobs: dict = {}

    def sleep(delay):
        return delay if fast else env.timeout(delay)

    def release():
        busy[0] = False
        if waiting:
            busy[0] = True  # handed straight to the next, as a facility does
            waiting.pop(0).succeed()

    def job(i):
        serving, token = False, None
        try:
            yield sleep(float(rng.exponential(0.5)))
            trace.append((env.now, "queue", i))
            if busy[0]:
                token = env.active_process if fast else env.event()  # what the server's release succeeds
                waiting.append(token)
                yield PARK if fast else token
            busy[0] = serving = True
            trace.append((env.now, "serve", i))
            yield sleep(np.float64(rng.exponential(0.4)))
            serving = False
            release()
            yield sleep(1 if i % 2 else 0)
            trace.append((env.now, "slept", i))
        except simpy.Interrupt as stop:
            trace.append((env.now, "interrupted", i, stop.cause, serving))
            if serving:
                release()
            elif any(w is token for w in waiting):  # queued: leaves the queue
                waiting.remove(token)
            if stop.cause % 2:
                return -i  # ends at once: a sleep it was in must not resume it
            yield sleep(0.25)
        try:
            yield sleep(-1.0)
        except ValueError as err:
            trace.append((env.now, "refused", i, str(err)))
        return i

    def arrive(i):
        def callback(_event):
            if i < 200:
                env.timeout(float(rng.exponential(0.3))).callbacks.append(arrive(i + 1))
            jobs[i] = Started(env, job(i))
        return callback

    def interrupter():
        for k in range(40):
            yield env.timeout(1.1)
            victim = jobs.get(max(jobs, default=0) - 3)
            if victim is not None and victim.is_alive:
                victim.interrupt(k)

    env.timeout(0.1).callbacks.append(arrive(0))
    env.process(interrupter())
    env.run(until=200.0)
    return trace + [(i, p.value if p.triggered else "alive") for i, p in sorted(jobs.items())]


def test_sleeping_and_parking_give_the_trace_of_timeouts_and_events():
    """Started processes that sleep by yielding numbers and wait parked, with interrupts during both,
    give the trace (times, order, values) of the same processes on timeouts and events."""
    plain, fast = _sleepers(simpy.Environment(), False), _sleepers(Clock(), True)
    assert fast == plain
    assert sum(t[1] == "interrupted" for t in plain) >= 5 and sum(t[1] == "refused" for t in plain) > 150
    on_clock_with_timeouts = _sleepers(Clock(), False)
    assert on_clock_with_timeouts == plain


def test_a_started_process_sleeps_on_a_plain_environment_by_a_timeout():
    """Off a Clock (simpy.Environment) a yielded number is a timeout; parking is refused."""
    env, trace = simpy.Environment(), []

    def job():
        yield 2.5
        trace.append(env.now)
        yield PARK

    Started(env, job())
    with pytest.raises(RuntimeError, match="park only on a Clock"):
        env.run(until=10.0)
    assert trace == [2.5]
