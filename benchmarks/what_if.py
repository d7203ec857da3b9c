"""What-if measurements: proposed engine changes tried as in-process subclasses, never edits.

    python benchmarks/what_if.py [--scenario PATH] [--days-ten 830] [--days 120] [--scale 1] [--rounds 3]

Each variant below is a subclass of the current CorridorModel (or a patched sampler) that lives
only in this process; corridor_sim's files are not touched. Variants are timed alternately on the
ten-station network and on the base scenario (one replication each, in-process, median of
--rounds), and each variant's shipment records are compared with the unchanged engine's: "same"
means bit-identical. CPU time (process_time) is the figure to read on a shared machine.

  inline      journey() as one generator over (kind, args) steps: no `yield from` sub-generator per
              handling, drive or ride
  blockrng    handling, delay, dwell and arrival samplers draw blocks of 1024 from their numpy
              Generator (block draws give the same numbers as scalar draws: results bit-identical)
  gc-off      the unchanged engine with Python's cyclic garbage collector off during the model's
              build and env.run() (objects are freed by reference counting as before; the
              collector's passes over every live process and event are what it saves)
  all         inline + blockrng
  all+gc-off  all, with the collector off
  no-stages   the unchanged engine with keep_stages=False (what stage rows cost)
"""

from __future__ import annotations

import argparse
import gc
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from bench_worker import TEN_STATIONS, load_with  # noqa: E402

from corridor_sim import distributions as D  # noqa: E402
from corridor_sim.engine import model as M  # noqa: E402
from corridor_sim.engine.records import Stage  # noqa: E402

QUEUE, TRAVEL, WAIT = int(Stage.QUEUE), int(Stage.TRAVEL), int(Stage.WAIT)
HANDLE, DRIVE, RIDE = 0, 1, 2


class InlineModel(M.CorridorModel):
    """The current engine with journey() as one generator: no sub-generator per step.

    The engine's plan is (bound method, args) per step and journey() does `yield from step(...)`,
    which creates a generator object (and a frame) for every handling, drive and ride. Here the
    plan is turned into (kind, args) once and the steps are inlined.
    """

    inline = True
    block_arrivals = False

    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        if self.inline:
            kinds = {"handle": HANDLE, "drive": DRIVE, "ride": RIDE}
            self.plans[:] = [[(kinds[fn.__name__], args) for fn, args in plan] for plan in self.plans]

    def _rng(self, name):
        rng = super()._rng(name)
        return BlockRng(rng) if self.block_arrivals and name.startswith("arrivals:") else rng

    def journey(self, shipment, plan, teu):
        if not self.inline:
            yield from super().journey(shipment, plan, teu)
            return
        env, stage = self.env, self.recorder.stage
        for kind, args in plan:
            if kind == HANDLE:
                facility, place, kind_h = args
                arrived_h = env.now
                wait = facility.request()
                if wait is not None:
                    yield wait
                started_h = env.now
                yield env.timeout(facility.sample_service_time_h())
                facility.release()
                if started_h > arrived_h:
                    stage(shipment, QUEUE, place, arrived_h, started_h)
                stage(shipment, kind_h, place, started_h, env.now)
            elif kind == DRIVE:
                segment, place, gate = args
                if gate is not None:
                    arrived_h = env.now
                    yield gate.enter()
                    stage(shipment, WAIT, place, arrived_h, env.now)
                start_h = env.now
                yield env.timeout(self.running_time_h(segment))
                stage(shipment, TRAVEL, place, start_h, env.now)
            else:
                yield from self.ride(shipment, teu, *args)
        self.recorder.delivered(shipment, env.now)


class BlockRng:
    """A flow's arrival Generator drawing exponential gaps in blocks (same numbers, same order)."""

    def __init__(self, rng, block: int = 1024):
        self.rng, self.block = rng, block
        self._scale, self._buf, self._i = None, [], 0

    def exponential(self, scale, size=None):
        if size is not None:  # the engine draws its arrival gaps in blocks itself now (model._source)
            return self.rng.exponential(scale, size)
        if self._i >= len(self._buf) or scale != self._scale:  # a flow's gap scale never changes
            self._scale, self._buf, self._i = scale, self.rng.exponential(scale, self.block).tolist(), 0
        value = self._buf[self._i]
        self._i += 1
        return value

    def uniform(self, low, high):
        return self.rng.uniform(low, high)  # a regular flow's phase: drawn once


def block_sampler(spec, rng, block: int = 1024):
    """A sampler like spec.sampler(rng) that draws `block` values at a time."""
    spec = D.as_spec(spec)
    if isinstance(spec, D.Constant):
        return spec.sampler(rng)
    if isinstance(spec, D.Normal):  # rejection at zero: keep scalar semantics (draw count varies)
        return spec.sampler(rng)
    if isinstance(spec, D.Exponential):
        draw = lambda n: rng.exponential(spec.mean_, n)  # noqa: E731
    elif isinstance(spec, D.Uniform):
        draw = lambda n: rng.uniform(spec.low, spec.high, n)  # noqa: E731
    elif isinstance(spec, D.Triangular):
        draw = lambda n: rng.triangular(spec.low, spec.mode, spec.high, n)  # noqa: E731
    elif isinstance(spec, D.Lognormal):
        import math

        s2 = math.log(1 + (spec.sd / spec.mean_) ** 2)
        mu, sigma = math.log(spec.mean_) - s2 / 2, math.sqrt(s2)
        draw = lambda n: rng.lognormal(mu, sigma, n)  # noqa: E731
    elif isinstance(spec, D.Gamma):
        draw = lambda n: rng.gamma((spec.mean_ / spec.sd) ** 2, spec.sd**2 / spec.mean_, n)  # noqa: E731
    elif isinstance(spec, D.Empirical):
        values = np.asarray(spec.values, dtype=float)
        draw = lambda n: values[rng.integers(len(values), size=n)]  # noqa: E731
    else:
        return spec.sampler(rng)
    state = {"buf": [], "i": 0}

    def sample():
        i = state["i"]
        buf = state["buf"]
        if i >= len(buf):
            buf = state["buf"] = draw(block).tolist()
            i = 0
        state["i"] = i + 1
        return buf[i]

    return sample


def variant_class(inline=False, blockrng=False):
    return type("Variant", (InlineModel,), {"inline": inline, "block_arrivals": blockrng})


VARIANTS = {
    "unchanged": dict(),
    "inline": dict(inline=True),
    "blockrng": dict(blockrng=True),
    "gc-off": dict(),
    "all": dict(inline=True, blockrng=True),
    "all+gc-off": dict(inline=True, blockrng=True),
    "no-stages": dict(),
}


def run_variant(name, scenario):
    opts = VARIANTS[name]
    cls = variant_class(**opts) if opts else M.CorridorModel
    patched = opts.get("blockrng", False)
    original = M.sampler_of
    if patched:
        M.sampler_of = block_sampler
    try:
        gc.collect()  # start every variant from the same heap
        t0, c0 = time.perf_counter(), time.process_time()
        if name.endswith("gc-off"):
            gc.disable()
        model = cls(scenario, replication=0, keep_stages=(name != "no-stages"))
        out = model.run()
        return (time.perf_counter() - t0, time.process_time() - c0), out
    finally:
        gc.enable()
        M.sampler_of = original


def same(a, b) -> str:
    sa, sb = a.shipments, b.shipments
    keys = [k for k in sa if k in sb]
    if len(sa["flow"]) != len(sb["flow"]):
        return f"differs ({len(sa['flow'])} vs {len(sb['flow'])} shipments)"
    for k in keys:
        if not np.array_equal(sa[k], sb[k], equal_nan=True):
            ta = np.nanmean(sa["delivered_h"] - sa["created_h"])
            tb = np.nanmean(sb["delivered_h"] - sb["created_h"])
            return f"differs in {k} (mean transit {ta:.3f} h vs {tb:.3f} h)"
    return "same"


def compare(label, scenario, rounds):
    times = {k: [] for k in VARIANTS}
    cpus = {k: [] for k in VARIANTS}
    outs = {}
    names = list(VARIANTS)
    for r in range(rounds):
        order = names if r % 2 == 0 else names[::-1]
        for name in order:
            (t, c), out = run_variant(name, scenario)
            times[name].append(t)
            cpus[name].append(c)
            outs.setdefault(name, out)
    base = statistics.median(times["unchanged"])
    base_cpu = statistics.median(cpus["unchanged"])
    print(f"\n== {label}: unchanged engine {base:.2f} s wall, {base_cpu:.2f} s CPU (medians of {rounds}; "
          f"load average {os.getloadavg()[0]:.1f})")
    print(f"{'variant':<11} {'CPU s':>7} {'CPU vs unchanged':>17} {'wall s':>7} {'wall vs':>8}  records")
    for name in names:
        m, c = statistics.median(times[name]), statistics.median(cpus[name])
        rec = "stage rows dropped" if name == "no-stages" else same(outs["unchanged"], outs[name])
        print(f"{name:<11} {c:7.2f} {100 * (c - base_cpu) / base_cpu:+16.1f}% {m:7.2f} "
              f"{100 * (m - base) / base:+7.1f}%  {rec}")


def main(argv=None):
    from run_all import default_scenario

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--scenario", default=None)
    p.add_argument("--days-ten", type=float, default=830.0)
    p.add_argument("--days", type=float, default=120.0, help="base scenario horizon")
    p.add_argument("--scale", type=float, default=1.0, help="multiply the base scenario's demand")
    p.add_argument("--rounds", type=int, default=3)
    args = p.parse_args(argv)
    compare(f"ten-station, {args.days_ten:g} days", load_with(TEN_STATIONS, days=args.days_ten), args.rounds)
    base = args.scenario or str(default_scenario())
    compare(f"{base}, {args.days:g} days, demand x{args.scale:g}", load_with(base, days=args.days, scale=args.scale),
            args.rounds)


if __name__ == "__main__":
    main()
