"""Engine behaviour on small hand-made scenarios (tests/scenarios/theory/), read off the stage rows.

Each stage row is one interval of one shipment at one place (a node, a segment or a service line);
`out.places[stage_place]` names the place. A ride's TRAVEL row on its first segment starts at the
departure time the run logged, so shipments that left on the same departure share that start exactly.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from corridor_sim import load_scenario
from corridor_sim.engine import CorridorModel, run_replication
from corridor_sim.engine.records import Stage

SCENARIOS = Path(__file__).parent / "scenarios" / "theory"


def outputs(name: str) -> list:
    scenario = load_scenario(SCENARIOS / name)
    return [run_replication(scenario, r) for r in range(scenario.simulation.replications)]


def rows(out, place: str | None = None, kind: Stage | None = None) -> dict[str, np.ndarray]:
    """The stage rows at one place and of one kind (either may be None for all)."""
    s = out.shipments
    mask = np.ones(len(s["stage_kind"]), dtype=bool)
    if place is not None:
        mask &= s["stage_place"] == out.places.index(place)
    if kind is not None:
        mask &= s["stage_kind"] == int(kind)
    return {"shipment": s["stage_shipment"][mask], "start": s["stage_start_h"][mask], "end": s["stage_end_h"][mask],
            "kind": s["stage_kind"][mask], "place": s["stage_place"][mask]}


def flow_index(name: str, flow_id: str) -> int:
    return [f.id for f in load_scenario(SCENARIOS / name).demand].index(flow_id)


def departures(out, segment: str) -> dict[float, np.ndarray]:
    """Shipments (indices) by the departure that took them onto a line's first segment (TRAVEL rows).

    (WAIT rows would miss the shipment whose arrival fills a when-full vehicle: it waits 0 h.)
    """
    travel = rows(out, segment, Stage.TRAVEL)
    return {d: travel["shipment"][travel["start"] == d] for d in np.unique(travel["start"])}


# ---------------------------------------------------------------------- when-full services


def test_when_full_sails_full_under_high_demand():
    """A when-full line with demand far above its size sails every departure full, long before max_wait_h."""
    for out in outputs("when_full.yaml"):
        line = out.lines["HIGH"]
        assert line["departures"] > 100
        assert line["load_factor_sum"] == pytest.approx(line["departures"])  # every measured departure full
        s = out.shipments
        for depart_h, who in departures(out, "H_SEA").items():
            assert s["teu"][who].sum() == 20.0, depart_h
        busy = s["flow"] == flow_index("when_full.yaml", "BUSY")
        waits = s["stage_totals_h"][busy & ~np.isnan(s["delivered_h"]), Stage.WAIT]
        assert waits.max() < 24.0  # the load, not the clock, triggered every departure
        assert waits.mean() < 5.0  # about (20 - 1) / 2 arrivals at 100 a day: 2.3 h


def test_when_full_sails_after_max_wait_under_low_demand():
    """A when-full line that never fills sails max_wait_h after the first waiting shipment arrived; nobody waits longer."""
    for out in outputs("when_full.yaml"):
        s = out.shipments
        trips = departures(out, "L_SEA")
        assert len(trips) >= 10
        quiet = s["flow"] == flow_index("when_full.yaml", "QUIET")
        waits = s["stage_totals_h"][quiet, Stage.WAIT]
        assert waits.max() <= 48.0 + 1e-9
        for depart_h, who in trips.items():
            assert 0 < s["teu"][who].sum() < 20.0
            first = who[np.argmin(s["created_h"][who])]
            assert depart_h - s["created_h"][first] == pytest.approx(48.0, abs=1e-9)
        line = out.lines["LOW"]
        assert line["load_factor_sum"] / line["departures"] < 0.5


# ---------------------------------------------------------------------- FIFO boarding


def test_boarding_is_fifo_and_a_shipment_that_does_not_fit_stops_it():
    """Shipments board in arrival order; a departure that cannot take the next in line takes no one behind it."""
    for out in outputs("fifo.yaml"):
        s = out.shipments
        order = np.argsort(s["created_h"], kind="stable")
        delivered = ~np.isnan(s["delivered_h"][order])
        # No train is running at the horizon (last departure 699 h, arrival 703 h), so the boarded are
        # exactly the delivered, and they must be the earliest arrivals.
        assert delivered.sum() > 100 and (~delivered).sum() > 50
        assert not np.any(~delivered[:-1] & delivered[1:]), "a later shipment boarded before an earlier one"
        depart = s["created_h"] + s["stage_totals_h"][:, Stage.WAIT]  # no handling at A: waits from creation
        boarded = order[delivered]
        assert np.all(np.diff(depart[boarded]) >= -1e-9), "a later shipment left on an earlier train"
        trips = departures(out, "RAIL")
        assert len(trips) >= 29  # 30 departures; the first (at 3 h) may find no one waiting
        for depart_h, who in trips.items():
            load = s["teu"][who].sum()
            assert load <= 10.0
            # The next in line at this departure was left behind: it must not have fitted.
            on_board = set(who.tolist())
            later = order[s["created_h"][order] <= depart_h]
            behind = [i for i in later if i not in on_board and (np.isnan(s["delivered_h"][i]) or depart[i] > depart_h)]
            if behind:
                assert load + s["teu"][behind[0]] > 10.0, (depart_h, load, s["teu"][behind[0]])
        big = s["flow"] == flow_index("fifo.yaml", "BIG")
        assert set(np.unique(s["teu"][big])) == {3.0}


# ---------------------------------------------------------------------- gauge change


def test_gauge_change_node_handles_shipments_changing_gauge():
    """A shipment changing gauge is handled at the gauge-change node between its two trains; one staying on its train is not."""
    for out in outputs("gauge.yaml"):
        s = out.shipments
        done = ~np.isnan(s["delivered_h"])
        change = (s["flow"] == flow_index("gauge.yaml", "AB")) & done
        stay = (s["flow"] == flow_index("gauge.yaml", "AC")) & done
        assert change.sum() > 100 and stay.sum() > 100
        handling = rows(out, kind=Stage.HANDLING)
        assert set(handling["place"]) == {out.places.index("G")}
        at_g = rows(out, "G", Stage.HANDLING)
        counts = np.bincount(at_g["shipment"], minlength=len(s["flow"]))
        assert np.all(counts[change] == 1)
        assert np.all(counts[stay] == 0)
        assert np.all(s["stage_totals_h"][change, Stage.HANDLING] == pytest.approx(3.0))
        # Handled (after any queue) from the moment the standard-gauge train reaches G until the
        # shipment starts waiting for the broad-gauge train.
        arrive = rows(out, "AG", Stage.TRAVEL)
        arrived_at = dict(zip(arrive["shipment"], arrive["end"]))
        wait_w2 = rows(out, "W2", Stage.WAIT)
        waits_from = dict(zip(wait_w2["shipment"], wait_w2["start"]))
        for i, start, end in zip(at_g["shipment"], at_g["start"], at_g["end"]):
            if done[i]:
                queued = s["stage_totals_h"][i, Stage.QUEUE]
                assert start - queued == pytest.approx(arrived_at[i])
                assert end == pytest.approx(waits_from.get(i, end))


# ---------------------------------------------------------------------- border on a train route


def test_border_on_train_route_is_recorded_once_per_passage():
    """A train passing an `applies: always` border is inspected as one unit: every box on board records one BORDER stage of the inspection time."""
    for out in outputs("border_train.yaml"):
        s = out.shipments
        done = ~np.isnan(s["delivered_h"])
        through = np.isin(s["flow"], [flow_index("border_train.yaml", f) for f in ("A-B", "B-A")]) & done
        ending = (s["flow"] == flow_index("border_train.yaml", "A-X")) & done
        assert through.sum() > 500 and ending.sum() > 50
        border = rows(out, "X", Stage.BORDER)
        counts = np.bincount(border["shipment"], minlength=len(s["flow"]))
        assert np.all(counts[through] == 1)
        assert np.all(counts[ending] == 1)
        assert np.all(s["stage_totals_h"][through | ending, Stage.BORDER] == pytest.approx(2.0))
        assert len(rows(out, kind=Stage.HANDLING)["shipment"]) == 0  # a border node records border time
        # One inspection per train: all boxes on a train share its start, so there are about as many
        # distinct starts as trains (two a day), far fewer than boxes.
        on_trains = np.isin(border["shipment"], np.flatnonzero(through))
        # The run follows its measured shipments past the horizon: count what started before it.
        before = border["start"] < out.horizon_h
        starts = np.unique(border["start"][on_trains & before])
        assert len(starts) <= 2 * 30 and len(starts) >= 2 * 25
        # The facility served those trains plus the boxes that end at X, one each.
        measured = (border["start"] >= out.warmup_h) & before
        trains = len(np.unique(border["start"][on_trains & measured]))
        boxes = int((~on_trains & measured).sum())
        assert 0 <= out.facilities["X"]["started"] - (trains + boxes) <= 2  # trains still running at the horizon


# ---------------------------------------------------------------------- disruptions with extra delay


def test_disruption_extra_delay_adds_running_time_in_its_window():
    """A disruption's extra_delay_h lengthens each road passage started, and each departure made, inside its window only."""
    window = (10 * 24.0, 20 * 24.0)
    for out in outputs("delays.yaml"):
        road = rows(out, "ROAD", Stage.TRAVEL)
        inside = (road["start"] >= window[0]) & (road["start"] < window[1])
        assert inside.sum() > 100 and (~inside).sum() > 100
        np.testing.assert_allclose((road["end"] - road["start"])[inside], 2.0 + 5.0)
        np.testing.assert_allclose((road["end"] - road["start"])[~inside], 2.0)
        sea = rows(out, "SEA", Stage.TRAVEL)
        inside = (sea["start"] >= window[0]) & (sea["start"] < window[1])
        assert len(np.unique(sea["start"][inside])) == 10  # departures at 5 + 24k h, k = 10..19
        np.testing.assert_allclose((sea["end"] - sea["start"])[inside], 4.0 + 7.0)
        np.testing.assert_allclose((sea["end"] - sea["start"])[~inside], 4.0)


# ---------------------------------------------------------------------- when-full edge cases


def run_guarded(name: str, replication: int, max_events: int = 2_000_000):
    """Run one replication step by step, failing (not hanging) if time stops advancing."""
    model = CorridorModel(load_scenario(SCENARIOS / name), replication=replication)
    events = 0
    while model.env.peek() < model.horizon_h:
        model.env.step()
        events += 1
        assert events < max_events, f"simulation stuck at t = {model.env.now} h"
    return model.run()


def test_when_full_line_sails_for_freight_waiting_at_a_later_stop():
    """A when-full line whose freight all boards at an intermediate stop still sails, within max_wait_h plus the run to that stop."""
    flow = flow_index("when_full_edges.yaml", "M-B")
    for r in range(2):
        out = run_guarded("when_full_edges.yaml", r)
        s = out.shipments
        mine = s["flow"] == flow
        assert mine.sum() > 20 and out.lines["MID"]["departures"] > 3
        waits = s["stage_totals_h"][mine, Stage.WAIT]
        assert waits.max() <= 48.0 + 4.0 + 1e-9  # 48 h, then the vessel's 4 h run from A to M
        old = mine & (s["created_h"] < out.horizon_h - 48.0 - 8.0)
        assert not np.isnan(s["delivered_h"][old]).any()


def test_when_full_line_shrunk_below_a_shipment_waits_for_the_disruption_to_end():
    """A when-full vessel cut by a disruption below one shipment's size sails no one in the window and resumes after it, without stalling the clock."""
    window = (5 * 24.0, 6 * 24.0)
    flow = flow_index("when_full_edges.yaml", "C-D")
    for r in range(2):
        out = run_guarded("when_full_edges.yaml", r)
        s = out.shipments
        sailings = np.unique(rows(out, "CD", Stage.TRAVEL)["start"])
        assert not np.any((sailings >= window[0]) & (sailings < window[1]))
        assert np.any(sailings == window[1])  # the backlog leaves as soon as the vessel is whole
        mine = s["flow"] == flow
        old = mine & (s["created_h"] < out.horizon_h - 48.0 - 8.0)
        assert old.sum() > 100 and not np.isnan(s["delivered_h"][old]).any()
