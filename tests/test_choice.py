"""Route and mode choice (engine/choice.py) against theory, on tests/scenarios/choice/two_posts.yaml.

Two border posts side by side, one exponential server each (M/M/1), on road routes of free-flow
length L1 = 2 h and L2 = 4 h. Tolerances come from the runs themselves: the 99% Student-t interval
of per-replication means, whose half-width must also be small (under 5% of the value compared).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import yaml
from scipy import stats

from corridor_sim import load_scenario
from corridor_sim.engine import run_replication
from corridor_sim.engine.model import CorridorModel
from corridor_sim.experiments import run

CHOICE = Path(__file__).parent / "scenarios" / "choice"
EXAMPLE = Path(__file__).parent / "scenarios" / "example.yaml"
HOURS_PER_YEAR = 8760.0
MAX_REL_HALF_WIDTH = 0.05


def interval99(values) -> tuple[float, float, float]:
    """Mean and 99% Student-t interval of per-replication values."""
    x = np.asarray(values, dtype=float)
    half = stats.t.ppf(0.995, len(x) - 1) * x.std(ddof=1) / math.sqrt(len(x))
    return float(x.mean()), float(x.mean() - half), float(x.mean() + half)


def variant(tmp_path: Path, edit, base: Path = CHOICE / "two_posts.yaml"):
    """The base scenario with `edit(data)` applied, loaded (and checked) from a file."""
    data = yaml.safe_load(base.read_text())
    edit(data)
    path = tmp_path / "variant.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return load_scenario(path)


def free_flow_h(scenario, route: list[str]) -> float:
    segs = {(s.from_, s.to): s for s in scenario.network.segments}
    return sum(segs[(a, b)].length_km / segs[(a, b)].speed_kmh for a, b in zip(route, route[1:]))


def wardrop_mm1(lam: float, mu: float, l1: float, l2: float) -> tuple[float, float]:
    """(rate on route 1, common time) of the user equilibrium t1 = t2 with t_i = L_i + 1/(mu - x_i)."""
    def gap(x1):
        return (l1 + 1 / (mu - x1)) - (l2 + 1 / (mu - (lam - x1)))
    lo, hi = max(0.0, lam - mu) + 1e-12, min(lam, mu) - 1e-12
    assert gap(lo) < 0 < gap(hi), "the equilibrium uses both routes"
    for _ in range(200):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if gap(mid) < 0 else (lo, mid)
    x1 = (lo + hi) / 2
    return x1, l1 + 1 / (mu - x1)


def measured_routes(out, flow: int = 0):
    """(route index, created_h) of the measured shipments (created in the window) of a flow."""
    s = out.shipments
    keep = (s["flow"] == flow) & (s["created_h"] >= out.warmup_h) & (s["created_h"] < out.horizon_h)
    return s["route"][keep], s["created_h"][keep]


# ---------------------------------------------------------------------- theory


@pytest.mark.slow
def test_choice_by_time_beats_wardrop_and_is_stable():
    """Choosing by expected time on the live queues is stable, uses both posts and is no slower
    door to door than the Wardrop user equilibrium of the two M/M/1 routes."""
    sc = load_scenario(CHOICE / "two_posts.yaml")
    lam = sc.demand[0].teu_per_year / HOURS_PER_YEAR
    mu = 1.0 / sc.node("P1").handling.time_h.mean
    l1, l2 = free_flow_h(sc, ["O", "P1", "D"]), free_flow_h(sc, ["O", "P2", "D"])
    assert lam > mu  # more traffic than one post can take
    x1, t_ue = wardrop_mm1(lam, mu, l1, l2)
    res = run(sc, keep_stages=False)
    doc = res.summary()
    assert doc["flows"]["TRUCKS"]["stable"] and doc["nodes"]["P1"]["stable"] and doc["nodes"]["P2"]["stable"]
    hours = res.flows_by_replication["transit_days_mean"].to_numpy() * 24.0
    mean, low, high = interval99(hours)
    assert (high - low) / 2 < MAX_REL_HALF_WIDTH * t_ue
    assert high <= t_ue, f"mean {mean:.3f} h [{low:.3f}, {high:.3f}] above the Wardrop time {t_ue:.3f} h"
    shares = doc["flows"]["TRUCKS"]["route_shares"]
    assert min(shares.values()) > 0.1  # both posts used
    assert doc["nodes"]["P1"]["utilization"] < 1 and doc["nodes"]["P2"]["utilization"] < 1


@pytest.mark.parametrize("scale", [10.0, 40.0])
def test_choice_by_time_beats_wardrop_at_any_time_scale(tmp_path, scale):
    """The same two posts with every time `scale` times shorter (inspections of 6 or 1.5 minutes, 15
    or 60 trucks an hour): the live state is read on the posts' own time scale, so choosing by time
    still does no worse than Wardrop (a fixed hourly reading herds each hour's trucks onto one post:
    at 10x its mean was 0.86 h against Wardrop's 0.72 h)."""
    def edit(data):
        for node in data["network"]["nodes"][1:3]:
            node["handling"]["time_h"]["mean"] /= scale
        for seg in data["network"]["segments"]:
            seg["length_km"] /= scale
        data["demand"][0]["teu_per_year"] *= scale
        data["simulation"].update(horizon_days=400 / scale, warmup_days=20 / scale, drain_days=20 / scale,
                                  replications=5)
    sc = variant(tmp_path, edit)
    lam = sc.demand[0].teu_per_year / HOURS_PER_YEAR
    mu = 1.0 / sc.node("P1").handling.time_h.mean
    x1, t_ue = wardrop_mm1(lam, mu, free_flow_h(sc, ["O", "P1", "D"]), free_flow_h(sc, ["O", "P2", "D"]))
    res = run(sc, keep_stages=False)
    hours = res.flows_by_replication["transit_days_mean"].to_numpy() * 24.0
    mean, low, high = interval99(hours)
    assert (high - low) / 2 < MAX_REL_HALF_WIDTH * t_ue
    assert high <= t_ue, f"mean {mean:.4f} h [{low:.4f}, {high:.4f}] above the Wardrop time {t_ue:.4f} h"
    assert min(res.summary()["flows"]["TRUCKS"]["route_shares"].values()) > 0.1


@pytest.mark.slow
def test_logit_shares_equal_the_closed_form(tmp_path):
    """With ample capacity (no queue ever forms) the logit shares are softmax(-theta x GC), GC the
    value of time x the expected time of each route (running plus mean inspection)."""
    theta, vot = 0.05, 10.0

    def edit(data):
        for node in data["network"]["nodes"][1:3]:
            node["handling"]["servers"] = 200
        data["demand"][0]["choice"] = {"by": "time", "value_of_time_usd_per_teu_h": vot, "logit_scale": theta}
        data["simulation"]["horizon_days"] = 70

    sc = variant(tmp_path, edit)
    inspect_h = sc.node("P1").handling.time_h.mean
    gc = np.array([vot * (free_flow_h(sc, ["O", "P1", "D"]) + inspect_h),
                   vot * (free_flow_h(sc, ["O", "P2", "D"]) + inspect_h)])
    p = np.exp(-theta * gc) / np.exp(-theta * gc).sum()
    shares = []
    for r in range(sc.simulation.replications):
        routes, _ = measured_routes(run_replication(sc, r, keep_stages=False))
        shares.append(np.mean(routes == 0))
    mean, low, high = interval99(shares)
    assert low <= p[0] <= high, f"share {mean:.4f} [{low:.4f}, {high:.4f}] against softmax {p[0]:.4f}"
    assert (high - low) / 2 < MAX_REL_HALF_WIDTH * p[0]


def test_closed_post_sends_trucks_to_the_other(tmp_path):
    """A post closed for ten days sends more than 90% of the trucks created meanwhile to the other."""
    def edit(data):
        data["demand"][0]["teu_per_year"] = 0.6 * HOURS_PER_YEAR  # one post could take them all
        data["disruptions"] = [{"id": "shut", "target": "P1", "start_day": 40, "end_day": 50, "capacity_factor": 0}]
        data["simulation"]["horizon_days"] = 60

    sc = variant(tmp_path, edit)
    out = run_replication(sc, 0, keep_stages=False)
    routes, created_h = measured_routes(out)
    closed = (created_h >= 40 * 24) & (created_h < 50 * 24)
    assert closed.sum() > 100
    assert np.mean(routes[closed] == 1) > 0.9
    assert np.mean(routes[~closed] == 0) > 0.5  # open, the shorter post takes most


def test_by_cost_picks_the_cheaper_route_when_times_are_equal(tmp_path):
    """With equal times, `by: cost` sends every truck the cheaper way; `by: time` keeps the first."""
    def edit(data, by):
        for seg in data["network"]["segments"]:
            seg["length_km"] = 100
        data["network"]["segments"][0]["cost_usd_per_teu_km"] = 2.0  # via P1: dearer
        data["network"]["segments"][2]["cost_usd_per_teu_km"] = 1.0
        for node in data["network"]["nodes"][1:3]:
            node["handling"]["servers"] = 200
        data["demand"][0]["choice"] = {"by": by}
        data["simulation"]["horizon_days"] = 30

    for by, expected in (("cost", 1), ("time", 0)):
        sc = variant(tmp_path, lambda d: edit(d, by))
        routes, _ = measured_routes(run_replication(sc, 0, keep_stages=False))
        assert len(routes) > 500 and np.all(routes == expected), by


# ---------------------------------------------------------------------- re-choice on the way


def test_every_transfer_rechooses_when_the_railway_closes(tmp_path):
    """Freight that set off for the railway while it ran takes the road at the transfer node once
    the railway has closed (`at: every_transfer`); with `at: origin` nobody re-chooses."""
    base = rail_or_road(every_h=6.0)
    base["disruptions"] = [{"id": "shut", "target": "TRAIN", "start_day": 30, "end_day": 45, "capacity_factor": 0}]
    path = tmp_path / "h.yaml"
    path.write_text(yaml.safe_dump(base, sort_keys=False))
    sc = load_scenario(path)
    out = run_replication(sc, 0, keep_stages=False)
    rechosen = out.extra["choice"]["F"]["rechosen"]
    routes, created_h = measured_routes(out)
    # Set off in the day before the closure (24 h on the road to H): rail at the origin, road at H.
    late = (created_h >= 29 * 24 + 1) & (created_h < 30 * 24 - 1)
    assert rechosen >= late.sum() > 20
    assert np.all(routes[late] == 1)
    assert np.mean(routes[created_h < 28 * 24] == 0) > 0.95  # the railway is faster while it runs
    base["demand"][0]["choice"] = {"at": "origin"}
    path.write_text(yaml.safe_dump(base, sort_keys=False))
    out = run_replication(load_scenario(path), 0, keep_stages=False)
    assert out.extra["choice"]["F"]["rechosen"] == 0


def rail_or_road(every_h: float = 6.0, first_h: float = 0.0, fleet=None) -> dict:
    """A flow from O by road to the terminal H, then by train or on by road to D (24 h by road to H,
    10 h by train H-D, 25 h by road H-D), choosing at every transfer."""
    train = {"id": "TRAIN", "mode": "rail", "stops": ["H", "D"], "capacity_teu": 1000,
             "departures": {"every_h": every_h, "first_h": first_h}}
    if fleet is not None:
        train["fleet"] = fleet
    return {
        "name": "rail or road from H",
        "simulation": {"horizon_days": 60, "warmup_days": 5, "replications": 1, "seed": 3, "drain_days": 20},
        "network": {
            "nodes": [{"id": "O", "kind": "city", "lon": 40, "lat": 40},
                      {"id": "H", "kind": "rail_terminal", "lon": 41, "lat": 40,
                       "handling": {"servers": 50, "time_h": 1.0}},
                      {"id": "D", "kind": "rail_terminal", "lon": 42, "lat": 40,
                       "handling": {"servers": 50, "time_h": 1.0}}],
            "segments": [{"id": "O-H", "from": "O", "to": "H", "mode": "road", "length_km": 1200, "speed_kmh": 50},
                         {"id": "H-D-rail", "from": "H", "to": "D", "mode": "rail", "length_km": 1000,
                          "speed_kmh": 100, "gauge_mm": 1435},
                         {"id": "H-D-road", "from": "H", "to": "D", "mode": "road", "length_km": 1000,
                          "speed_kmh": 40}]},
        "services": [train],
        "demand": [{"id": "F", "origin": "O", "destination": "D", "teu_per_year": 2 * HOURS_PER_YEAR,
                    "routes": [{"path": ["O", "H", "D"], "modes": ["road", "rail"]},
                               {"path": ["O", "H", "D"], "modes": ["road"]}],
                    "choice": {"at": "every_transfer"}}],
    }


def run_file(tmp_path: Path, data: dict, keep_stages: bool = False):
    path = tmp_path / "scenario.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return run_replication(load_scenario(path), 0, keep_stages=keep_stages)


def test_freight_waiting_for_a_train_that_stops_takes_the_road(tmp_path):
    """Boxes already waiting at H for the daily train when it is cancelled for 15 days are loaded back
    onto trucks and driven on (`every_transfer`): delivered within the road's time, not after the
    closure, their wait and second handling at H recorded; with `at: origin` they wait it out."""
    data = rail_or_road(every_h=24.0, first_h=12.0)
    data["disruptions"] = [{"id": "shut", "target": "TRAIN", "start_day": 30, "end_day": 45, "capacity_factor": 0}]
    out = run_file(tmp_path, data, keep_stages=True)
    routes, created_h = measured_routes(out)
    s = out.shipments
    keep = (s["created_h"] >= out.warmup_h) & (s["created_h"] < out.horizon_h)
    transit_h = (s["delivered_h"] - s["created_h"])[keep]
    # In H's pool at the closure (day 30, 0 h): joined it (25 h after creation: 24 h drive, 1 h
    # handling) after the last train (day 29, 12 h), so created between day 28 11 h and 23 h.
    waiting = (created_h > 28 * 24 + 11.5) & (created_h < 28 * 24 + 22.5)
    assert waiting.sum() > 15
    assert np.all(routes[waiting] == 1)
    # At most: 25 h to H's pool, the wait there (< 12.5 h), handling again 1 h, 25 h of road, 1 h at D.
    assert np.all(transit_h[waiting] <= 25 + 12.5 + 1 + 25 + 1 + 1e-6)
    assert out.extra["choice"]["F"]["rechosen"] >= waiting.sum()
    # Their stage totals still add up to their transit (the wait in the pool is recorded).
    totals = s["stage_totals_h"][keep][waiting].sum(axis=1)
    assert np.allclose(totals, transit_h[waiting])
    data["demand"][0]["choice"] = {"at": "origin"}
    out = run_file(tmp_path, data)
    routes, created_h = measured_routes(out)
    s = out.shipments
    keep = (s["created_h"] >= out.warmup_h) & (s["created_h"] < out.horizon_h)
    waiting = (created_h > 28 * 24 + 11.5) & (created_h < 28 * 24 + 22.5)
    assert np.all(((s["delivered_h"] - s["created_h"])[keep][waiting]) > 15 * 24 - 1)


def test_trucks_queueing_at_a_closed_gate_turn_to_the_other_road(tmp_path):
    """Trucks queueing for the paths of a road gate when it shuts, and those reaching it while it is
    shut, drive the other way from the junction; none is driven through it during the closure."""
    node = lambda i, x: {"id": i, "kind": "city", "lon": 40 + x, "lat": 40}  # noqa: E731
    road = lambda a, b, km, **kw: {"id": f"{a}-{b}", "from": a, "to": b, "mode": "road",  # noqa: E731
                                   "length_km": km, "speed_kmh": 50, **kw}
    data = {
        "name": "a junction and a gated road",
        "simulation": {"horizon_days": 50, "warmup_days": 5, "replications": 1, "seed": 5, "drain_days": 10},
        # 10 h from O to the junction X; from X, 2 h through a gate of 20 trucks a day, or 8 h via Y.
        "network": {"nodes": [node("O", 0), node("X", 1), node("Y", 2), node("D", 3)],
                    "segments": [road("O", "X", 500), road("X", "D", 100, capacity_per_day=20),
                                 road("X", "Y", 200), road("Y", "D", 200)]},
        # A truck an hour, regularly, against a path every 1.2 h: a queue is always there to choose on.
        "demand": [{"id": "TRUCKS", "origin": "O", "destination": "D", "teu_per_year": HOURS_PER_YEAR,
                    "arrivals": "regular", "routes": [{"path": ["O", "X", "D"]}, {"path": ["O", "X", "Y", "D"]}],
                    "choice": {"at": "every_transfer"}}],
        # A slowdown in the 12 h before the closure: trucks already on their way queue at the gate
        # when it shuts (however the queue the choices keep happens to stand then).
        "disruptions": [{"id": "slow", "target": "X-D", "start_day": 29.5, "end_day": 30, "capacity_factor": 0.2},
                        {"id": "shut", "target": "X-D", "start_day": 30, "end_day": 40, "capacity_factor": 0}],
    }
    path = tmp_path / "scenario.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    model = CorridorModel(load_scenario(path), replication=0, keep_stages=True)
    chooser = model.choice.flows[0]
    at_origin = {}  # creation hour -> the candidate chosen at the origin (arrivals are regular)
    origin = chooser.origin

    def recorded(now, teu):
        at_origin[now] = origin(now, teu)
        return at_origin[now]
    chooser.origin = recorded
    out = model.run()
    routes, created_h = measured_routes(out)
    s = out.shipments
    keep = (s["created_h"] >= out.warmup_h) & (s["created_h"] < out.horizon_h)
    delivered_h = s["delivered_h"][keep]
    open_h, close_h = 30 * 24.0, 40 * 24.0
    first = np.array([at_origin[h] for h in created_h])
    # Nobody drives X-D (2 h) while it is shut.
    assert not np.any((routes == 0) & (delivered_h > open_h + 2.0 + 1e-9) & (delivered_h < close_h))
    # Those that set off before the closure and reach X during it (10 h on the road) go via Y.
    reach = (created_h > open_h - 10.0) & (created_h < open_h - 0.5)
    assert reach.sum() > 3 and np.all(routes[reach] == 1)
    # Those queued at the gate when it shut turned back: sent through the gate, created before it,
    # routed via Y, and delivered within their drive, wait and the 8 h way round, not after it.
    turned = ((first == 0) & (created_h < open_h - 10.0) & (routes == 1)
              & (delivered_h > open_h) & (delivered_h < open_h + 9.0))
    assert turned.sum() >= 2
    # Every re-choice is one of these (nobody else leaves the gate's road, nor comes back to it).
    assert np.sum(first != routes) == np.sum(reach & (first == 0)) + turned.sum()
    assert out.extra["choice"]["TRUCKS"]["rechosen"] == np.sum(first != routes)
    totals = s["stage_totals_h"][keep].sum(axis=1)
    assert np.allclose(totals, delivered_h - created_h)  # the waits at the gate are recorded


def test_a_train_its_fleet_cannot_run_often_is_seen_as_rare(tmp_path):
    """Choosers see a fleet's round trip: one train whose cycle is 120 h departs every 120 h, not at
    its 6 h timetable, so by expected time (10 h + a 60 h wait against 25 h) freight takes the road."""
    data = rail_or_road(every_h=6.0, fleet={"vehicles": 1, "turnaround_h": 50})
    data["services"][0]["reverse"] = True  # cycle: 2 x (10 h run + 50 h turnaround) = 120 h
    data["demand"][0]["teu_per_year"] = 0.2 * HOURS_PER_YEAR
    out = run_file(tmp_path, data)
    routes, _ = measured_routes(out)
    assert len(routes) > 200
    assert np.mean(routes == 1) > 0.95
    data["services"][0].pop("fleet")  # without the fleet: a train every 6 h, faster than the road
    routes, _ = measured_routes(run_file(tmp_path, data))
    assert np.mean(routes == 0) > 0.95


def test_choosing_at_the_origin_sees_freight_already_on_its_way(tmp_path):
    """Freight choosing at the origin, two days' drive from a daily train that takes half of it,
    sees what is already on its way to the train: the train runs full and door to door the mean is
    within 2% of the Wardrop time (the road's free-flow time, which both routes share at the
    equilibrium), the train's freight no slower than the road's by more than 3%."""
    data = rail_or_road(every_h=24.0)
    data["network"]["segments"][0]["length_km"] = 2400  # 48 h to H
    data["network"]["segments"][2]["length_km"] = 2000  # 50 h on by road (40 km/h), against 10 h by train
    data["services"][0]["capacity_teu"] = 24  # 1 TEU an hour against 2 arriving
    data["demand"][0]["choice"] = {"at": "origin"}
    data["simulation"].update(horizon_days=200, warmup_days=20, drain_days=60)
    path = tmp_path / "pipeline.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    sc = load_scenario(path)
    ue_h = free_flow_h(sc, ["O", "H"]) + 2000 / 40 + sc.node("D").handling.time_h
    means, rail_share, rail_h = [], [], []
    for r in range(4):
        out = run_replication(sc, r, keep_stages=False)
        s = out.shipments
        keep = (s["created_h"] >= out.warmup_h) & (s["created_h"] < out.horizon_h)
        transit_h, routes = (s["delivered_h"] - s["created_h"])[keep], s["route"][keep]
        means.append(transit_h.mean())
        rail_share.append(np.mean(routes == 0))
        rail_h.append(transit_h[routes == 0].mean())
    mean, low, high = interval99(means)
    assert high <= 1.02 * ue_h, f"mean {mean:.2f} h [{low:.2f}, {high:.2f}] against Wardrop {ue_h:.2f} h"
    assert interval99(rail_h)[2] <= 1.03 * ue_h
    assert interval99(rail_share)[1] > 0.47  # the train carries (nearly) its 1 TEU an hour of 2


# ---------------------------------------------------------------------- reproducible, unchanged without choice


def test_state_is_read_at_a_bounded_rate(tmp_path):
    """Each element of the live state is read again only once its last reading is as old as its own
    time step (a closure's when its reading falls due), or after a closure begins; it is read far
    fewer times than shipments choose; and every choice is made on readings younger than their steps."""
    data = rail_or_road(every_h=6.0)
    data["disruptions"] = [{"id": "shut", "target": "TRAIN", "start_day": 30, "end_day": 45, "capacity_factor": 0}]
    path = tmp_path / "scenario.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    model = CorridorModel(load_scenario(path), replication=0, keep_stages=False, summary_only=True)
    est = model.choice.estimates
    shut_h = 30 * 24.0
    last: dict[int, float] = {}  # element -> when it was last read
    reads, picks, steps_seen = [], [], set()

    def counted(j, element):
        def read(now):
            if j in last and est.untils[j] is None:
                assert now - last[j] >= est.steps[j] - 1e-9 or last[j] < shut_h <= now
            reads.append(j)
            last[j] = now
            return element(now)
        return read
    est.elements[:] = [counted(j, e) for j, e in enumerate(est.elements)]
    fc = model.choice.flows[0]
    pick = fc.pick

    def checked_pick(key, now, allowed=None):
        choice = pick(key, now, allowed)
        for _, _, indices in fc.terms[key] if len(fc.points[key]) > 1 else ():
            for j in indices:
                if est.untils[j] is None:
                    assert now - last[j] < est.steps[j]
                    steps_seen.add(est.steps[j])
                else:
                    assert now < est.due[j]
        picks.append(now)
        return choice
    fc.pick = checked_pick
    model.run()
    assert len(picks) > 1000 and len(reads) > 100
    assert len(reads) < 0.5 * len(picks) * len(est.elements)
    # the terminals' handling (1 h) and the train's pool (a departure every 6 h) have steps of their own
    assert len(steps_seen) >= 2 and max(steps_seen) >= 6.0


def test_a_pools_offer_is_read_again_when_its_lines_change(tmp_path):
    """What a pool's lines offer is kept between readings until a line changes: through a run whose
    train calls at X before H (freight from X stays on board), has its capacity cut, then half its
    fleet taken out, every kept offer equals one formed afresh at each choice."""
    data = rail_or_road(every_h=12.0, fleet={"vehicles": 4, "turnaround_h": 20})
    net = data["network"]
    net["nodes"].append({"id": "X", "kind": "rail_terminal", "lon": 40.5, "lat": 40.5,
                         "handling": {"servers": 50, "time_h": 1.0}})
    net["segments"].append({"id": "X-H", "from": "X", "to": "H", "mode": "rail", "length_km": 200,
                            "speed_kmh": 100, "gauge_mm": 1435})
    train = data["services"][0]
    train.update(stops=["X", "H", "D"], capacity_teu=30, reverse=True)
    data["demand"].append({"id": "THROUGH", "origin": "X", "destination": "D", "teu_per_year": 0.8 * HOURS_PER_YEAR})
    data["disruptions"] = [{"id": "cut", "target": "TRAIN", "start_day": 15, "end_day": 25, "capacity_factor": 0.5},
                           {"id": "out", "target": "TRAIN", "start_day": 35, "end_day": 45, "vehicles_factor": 0.5}]
    path = tmp_path / "scenario.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    model = CorridorModel(load_scenario(path), replication=0, keep_stages=False, summary_only=True)
    est = model.choice.estimates
    pool_now = est._pool_now
    lines_of, checked, offers = {}, [0], set()

    def kept(key, lines):
        lines_of[key] = lines
        return pool_now(key, lines)
    est._pool_now = kept
    hours = est.hours

    def checked_hours(terms, now):
        out = hours(terms, now)
        for key, lines in lines_of.items():
            cached = pool_now(key, lines)
            est._rates.pop(key)
            assert pool_now(key, lines) == cached
            offers.add(cached)
            checked[0] += 1
        return out
    est.hours = checked_hours
    model.run()
    assert checked[0] > 100 and len(offers) >= 4  # the offer did change, and was followed


@pytest.mark.parametrize("at", ["origin", "every_transfer"])
def test_choice_among_one_route_changes_nothing(tmp_path, at):
    """A flow choosing among its one route draws nothing shared: every shipment, stage and facility
    figure is bit-identical to the flow without `choice`."""
    plain = load_scenario(EXAMPLE)

    def edit(data):
        flow = data["demand"][0]
        flow["routes"] = [{"path": flow.pop("route")}]
        flow["choice"] = {"at": at}

    chosen = variant(tmp_path, edit, base=EXAMPLE)
    a, b = run_replication(plain, 0), run_replication(chosen, 0)
    for key in a.shipments:
        assert np.array_equal(a.shipments[key], b.shipments[key], equal_nan=True), key
    assert a.facilities == b.facilities and a.events == b.events


def test_candidates_across_modes(tmp_path):
    """Without `routes` the candidates are the network's best served routes across modes, labelled by
    their nodes (and modes where two share the nodes), and the modal split adds up to one."""
    from corridor_sim.network import CorridorNetwork

    def edit(data):
        data["demand"][1]["choice"] = {"among": 3}

    sc = variant(tmp_path, edit, base=EXAMPLE)
    routes = CorridorNetwork.from_scenario(sc).routes_for(sc.demand[1])
    assert 1 <= len(routes) <= 3
    assert all(r.nodes[0] == "CITY" and r.nodes[-1] == "HUB" for r in routes)
    res = run(sc, replications=2, keep_stages=False)
    doc = res.summary()["flows"]["CITY-HUB"]
    assert sum(doc["route_shares"].values()) == pytest.approx(1.0)
    assert sum(doc["modal_split"].values()) == pytest.approx(1.0)
    assert set(doc["route_shares_by_month"]) <= set(res.summary()["flows"]["CITY-HUB"]["by_month"])
    assert "Route choice" in res.format_tables()


def test_teu_by_month_and_week_are_those_of_the_shipments(tmp_path):
    """The TEU each candidate was chosen for, by month and by week of creation, are the measured
    shipments' own, counted again from the shipments table (choosing at the origin only)."""
    sc = variant(tmp_path, lambda d: d["simulation"].update(horizon_days=100, warmup_days=3))
    out = run_replication(sc, 0, keep_stages=False)
    s = out.shipments
    keep = (s["created_h"] >= out.warmup_h) & (s["created_h"] < out.horizon_h)
    created_h, route, teu = s["created_h"][keep], s["route"][keep], s["teu"][keep]
    month = np.searchsorted(out.month_edges_h, created_h, side="right") - 1
    week = np.floor((created_h - out.warmup_h) / (7 * 24.0)).astype(int)
    part = out.extra["choice"]["TRUCKS"]
    assert part["month_teu"].shape[1] >= 4 and part["week_teu"].shape[1] >= 13
    for r in range(2):
        assert np.allclose(part["month_teu"][r], np.bincount(month[route == r], teu[route == r],
                                                              part["month_teu"].shape[1]))
        assert np.allclose(part["week_teu"][r], np.bincount(week[route == r], teu[route == r],
                                                             part["week_teu"].shape[1]))


def test_route_shares_figure(tmp_path):
    """The route-shares figure draws a panel per choosing flow and does not apply without choice."""
    import matplotlib

    matplotlib.use("Agg")
    from corridor_sim.plotting import FIGURE_NAMES, NotApplicable, plot_route_shares

    assert FIGURE_NAMES["route_shares"] == "plot_route_shares"
    sc = variant(tmp_path, lambda d: d["simulation"].update(horizon_days=40))
    fig = plot_route_shares(run(sc, replications=1, keep_stages=False))
    assert len(fig.axes) == 1 and len(fig.axes[0].collections) == 2  # one band per candidate
    with pytest.raises(NotApplicable):
        plot_route_shares(run(load_scenario(EXAMPLE), replications=1, keep_stages=False))


def test_information_lag_shows_the_state_as_it_was(tmp_path):
    """With `information_lag_h` of two days, trucks keep choosing the closed post for the first two
    days of its closure (they see it open) and avoid it afterwards."""
    def edit(data):
        data["demand"][0]["teu_per_year"] = 0.6 * HOURS_PER_YEAR
        data["demand"][0]["choice"]["information_lag_h"] = 48
        data["disruptions"] = [{"id": "shut", "target": "P1", "start_day": 40, "end_day": 50, "capacity_factor": 0}]
        data["simulation"]["horizon_days"] = 60

    out = run_replication(variant(tmp_path, edit), 0, keep_stages=False)
    routes, created_h = measured_routes(out)
    blind = (created_h >= 40 * 24 + 1) & (created_h < 42 * 24 - 1)
    seen = (created_h >= 42 * 24 + 1) & (created_h < 50 * 24)
    assert np.mean(routes[blind] == 0) > 0.5
    assert np.mean(routes[seen] == 1) > 0.9
