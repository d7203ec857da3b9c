"""Honest statistics: the measured cohort followed to delivery, censoring, stability, open capacity.

Each theory comparison takes its tolerance from the run: theory must lie in the 99% Student-t
interval of the per-replication values, and that interval must be narrow (half-width under 5%).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

import corridor_sim as cs
from corridor_sim.cohort import replication_transit
from corridor_sim.estimators import growth_test, slope_per_day, transit_summary
from corridor_sim.queueing import mmc_time_in_system_h, mmc_wait_h
from corridor_sim.stability import level_series

HERE = Path(__file__).parent / "scenarios" / "statistics"


def ci99(values) -> tuple[float, float]:
    x = np.asarray(values, dtype=float)
    return float(x.mean()), float(stats.t.ppf(0.995, len(x) - 1) * x.std(ddof=1) / math.sqrt(len(x)))


def assert_theory(label: str, values, theory: float, max_rel_half_width: float = 0.05) -> None:
    """Theory lies in the 99% interval of the per-replication values, and the interval is narrow."""
    mean, half = ci99(values)
    print(f"\n[theory] {label}: simulated {mean:.4f} +- {half:.4f} (99%), theory {theory:.4f}, R={len(values)}")
    assert abs(mean - theory) <= half + 1e-9 * abs(theory), f"{label}: {theory} outside {mean} +- {half}"
    assert half <= max_rel_half_width * abs(theory), f"{label}: interval +-{half:.3g} too wide to judge"


def load(name: str, **simulation) -> cs.Scenario:
    scenario = cs.load_scenario(HERE / name)
    if simulation:
        sim = scenario.simulation.model_copy(update=simulation)
        scenario = scenario.model_copy(update={"simulation": sim})
    return scenario


@pytest.fixture(scope="module")
def censored_road():
    return cs.run(load("censored_road.yaml"), keep_stages=False)


def test_censored_road_default_drain_follows_every_shipment(censored_road):
    """With the default drain every measured shipment of a 1 + U(0, 40) day road is delivered, and its mean and p95 are the truth, 21 d and 39 d."""
    res = censored_road
    row = res.flows.iloc[0]
    assert row.censored == 0 and row.transit_estimator == "complete"
    means = [replication_transit(o, 0)["mean"] for o in res.outputs]
    p95s = [replication_transit(o, 0)["quantiles"][3] for o in res.outputs]
    assert_theory("censored road: mean transit days", means, 21.0)
    assert_theory("censored road: p95 transit days", p95s, 39.0)
    # The first version's figure (delivered by the horizon only) is biased low, far outside that.
    naive = []
    for out in res.outputs:
        s = out.shipments
        by_horizon = s["delivered_h"] <= out.horizon_h
        naive.append(float(((s["delivered_h"] - s["created_h"])[by_horizon]).mean() / 24.0))
    assert np.mean(naive) < 19.0


def test_censored_road_short_drain_uses_kaplan_meier():
    """With a 5-day drain the slowest shipments are still under way; Kaplan-Meier still recovers mean 21 d and p95 39 d."""
    res = cs.run(load("censored_road.yaml", drain_days=5.0), keep_stages=False)
    row = res.flows.iloc[0]
    assert row.censored > 100 and row.transit_estimator == "kaplan-meier"
    assert row.created == pytest.approx(row.delivered + row.censored)
    per = [replication_transit(o, 0) for o in res.outputs]
    assert all(p["estimator"] == "kaplan-meier" for p in per)
    assert_theory("censored road, KM: mean transit days", [p["mean"] for p in per], 21.0)
    assert_theory("censored road, KM: p95 transit days", [p["quantiles"][3] for p in per], 39.0)
    summary = res.summary()["flows"]["TRUCKS"]
    assert summary["censored"] == pytest.approx(row.censored) and summary["transit_days"]["estimator"] == "kaplan-meier"


def test_summary_only_run_censors_the_same_shipments():
    """A summary-only run counts the same censored shipments and gives the same Kaplan-Meier figures to within a histogram bin."""
    scenario = load("censored_road.yaml", drain_days=5.0, replications=3)
    full = cs.run(scenario, keep_stages=False)
    streamed = cs.run(scenario, summary_only=True)
    a, b = full.flows.iloc[0], streamed.flows.iloc[0]
    assert a.censored == b.censored > 0
    assert b.transit_estimator == "kaplan-meier"
    assert abs(a.transit_days_mean - b.transit_days_mean) < 0.02
    assert abs(a.transit_days_p95 - b.transit_days_p95) < 0.05


def test_kaplan_meier_by_hand():
    """The Kaplan-Meier figures of a tiny censored sample are those worked out by hand."""
    # Times 1, 2, 3 exact and 2.5 censored: S = 3/4 after 1, 3/8 after 2 (2 at risk of 4... see below).
    # At 1: 4 at risk, 1 event -> S = 0.75; at 2: 3 at risk, 1 event -> S = 0.5; 2.5 censored; at 3:
    # 1 at risk, 1 event -> S = 0. Restricted mean = 1*1 + 1*0.75 + 1*0.5 = 2.25.
    out = transit_summary(np.array([1.0, 2.0, 3.0, 2.5]), np.array([False, False, False, True]), qs=(0.25, 0.5, 0.9))
    assert out["estimator"] == "kaplan-meier" and out["censored"] == 1
    assert out["mean"] == pytest.approx(2.25)
    assert out["quantiles"] == [1.0, 2.0, 3.0]
    # A quantile the curve never reaches is None: the data only say it exceeds the follow-up.
    open_ended = transit_summary(np.array([1.0, 5.0]), np.array([False, True]), qs=(0.5, 0.9))
    assert open_ended["quantiles"] == [1.0, None]


@pytest.fixture(scope="module")
def weekly():
    return cs.run(load("weekly_vessel_short.yaml"), keep_stages=False)


def test_unstable_weekly_vessel_is_flagged_with_its_growth(weekly):
    """A weekly vessel of K TEU facing more demand is flagged unstable, its backlog growing demand - K/7 TEU a day; the ferry beside it is stable."""
    scenario = weekly.scenario
    demand = scenario.flow("F").teu_per_year / 365.0
    capacity = scenario.services[0].capacity_teu / 7.0
    flows = weekly.flows.set_index("flow")
    assert not flows.loc["F", "stable"] and flows.loc["G", "stable"]
    services = weekly.services.set_index("service")
    assert not services.loc["VESSEL", "stable"] and services.loc["FERRY", "stable"]
    slopes = [slope_per_day(*level_series(o, "flows", "F")) for o in weekly.outputs]
    assert_theory("weekly vessel: backlog growth TEU/day", slopes, demand - capacity)
    assert flows.loc["F", "backlog_growth_teu_per_day"] == pytest.approx(np.mean(slopes))
    summary = weekly.summary()
    assert summary["flows"]["F"]["stable"] is False and summary["flows"]["G"]["stable"] is True
    assert "flow F" in summary["unstable"] and "flow G" not in summary["unstable"]
    text = weekly.format_tables()
    assert "warning: flow F does not settle" in text and "warning: flow G" not in text
    assert "warning: service VESSEL does not settle" in text


def test_growth_test_on_stationary_noise_is_stable():
    """Independent noise around a constant level is not flagged; the same noise on a rising line is."""
    rng = np.random.default_rng(3)
    t = np.arange(300.0)
    flat = [(t, 50 + rng.normal(0, 5, len(t))) for _ in range(5)]
    assert growth_test(flat, rate_per_day=10.0)["stable"]
    rising = [(t, 50 + 0.5 * t + rng.normal(0, 5, len(t))) for _ in range(5)]
    result = growth_test(rising, rate_per_day=10.0)
    assert not result["stable"] and result["growth_per_day"] == pytest.approx(0.5, rel=0.05)
    # Below the practical floor (1% of throughput a day) a significant slope is still stable.
    assert growth_test(rising, rate_per_day=100.0)["stable"]


def test_one_server_at_half_rate_is_mm1_at_half_rate():
    """One M/M/1 server under capacity factor 0.5 serves at half its rate: W and Wq are those of M/M/1 at mu/2."""
    scenario = load("mm1_half_rate.yaml")
    res = cs.run(scenario, keep_stages=False)
    lam, mu = 2628 / 8760.0, 0.5
    W, Wq = [], []
    for out in res.outputs:
        s = out.shipments
        m = (s["created_h"] >= out.warmup_h) & (s["created_h"] < out.horizon_h)
        totals = s["stage_totals_h"][m]
        W.append(float(totals[:, [0, 1]].sum(axis=1).mean()))
        Wq.append(float(totals[:, 0].mean()))
    assert_theory("M/M/1 at factor 0.5: W (h)", W, mmc_time_in_system_h(lam, 1 / mu, 1))
    assert_theory("M/M/1 at factor 0.5: Wq (h)", Wq, mmc_wait_h(lam, 1 / mu, 1), max_rel_half_width=0.06)
    node = res.nodes.iloc[0]
    assert node.utilization == pytest.approx(lam / mu, rel=0.03)
    # The facility's mean wait follows the same cohort as the shipments.
    assert node.mean_wait_h == pytest.approx(np.mean(Wq), rel=0.02)


def test_utilisation_is_measured_against_open_capacity():
    """Ten servers cut to five for half the window are busy 3.8 / 7.5 of the open server time, 3.8 / 10 of the nominal."""
    res = cs.run(load("halved_servers.yaml"), keep_stages=False)
    per = [o.facilities["ORIGIN"] for o in res.outputs]
    assert_theory("halved servers: utilisation of open servers", [p["utilization"] for p in per], 3.8 / 7.5)
    assert_theory("halved servers: utilisation of nominal servers", [p["utilization_nominal"] for p in per], 3.8 / 10)
    node = res.summary()["nodes"]["ORIGIN"]
    assert node["utilization"] > node["utilization_nominal"]
    assert node["stable"] is True


def test_the_run_stops_when_the_cohort_is_delivered(censored_road):
    """The run goes past the horizon only until the last measured shipment is delivered (well before the default drain ends)."""
    for out in censored_road.outputs:
        s = out.shipments
        cohort = (s["created_h"] >= out.warmup_h) & (s["created_h"] < out.horizon_h)
        assert not np.isnan(s["delivered_h"][cohort]).any()
        assert out.end_h == pytest.approx(np.nanmax(s["delivered_h"][cohort]))
        assert out.horizon_h < out.end_h <= out.horizon_h + 41 * 24
        # Arrivals went on during the drain (unmeasured), as they would in reality.
        assert (s["created_h"] > out.horizon_h).sum() > 1000


def test_season_across_the_new_year_shows_in_january_and_december_by_month():
    """A season from 15 Nov to 28 Feb, under way on day 0 (1 Jan), lengthens transit in January, February and December by exactly its delay, and not in July."""
    res = cs.run(load("season_by_month.yaml"), keep_stages=False)
    months = res.summary()["flows"]["TRUCKS"]["by_month"]
    assert sorted(months) == [f"2025-{m:02d}" for m in range(1, 13)]
    for key in ("2025-01", "2025-02", "2025-12"):
        assert months[key]["transit_days"]["mean"] == pytest.approx(3.0), key
        assert months[key]["transit_days"]["p95"] == pytest.approx(3.0), key
    for key in ("2025-03", "2025-07", "2025-10"):
        assert months[key]["transit_days"]["mean"] == pytest.approx(1.0), key
    # November: 14 days out of the season, 16 in it.
    assert months["2025-11"]["transit_days"]["mean"] == pytest.approx(1.0 + 2.0 * 16 / 30, abs=0.01)
    assert months["2025-01"]["created"] == pytest.approx(31 * 24, abs=1)
    assert months["2025-01"]["delivered"] == months["2025-01"]["created"]


def test_a_leap_february_has_29_days_of_shipments():
    """In 2028 February holds 29 days of creations; by_month counts them by calendar month."""
    res = cs.run(load("leap_by_month.yaml"), keep_stages=False)
    months = res.summary()["flows"]["TRUCKS"]["by_month"]
    assert list(months) == ["2028-01", "2028-02", "2028-03"]
    assert months["2028-02"]["created"] == pytest.approx(29 * 24, abs=1)
    assert months["2028-03"]["created"] == pytest.approx(31 * 24, abs=1)
