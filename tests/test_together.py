"""The mechanisms compose: one small corridor uses them all, in both record modes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import corridor_sim as cs
from corridor_sim.engine import run_replication

SCENARIO = Path(__file__).parent / "scenarios" / "together" / "all_mechanisms.yaml"


@pytest.mark.parametrize("summary_only", [False, True], ids=["records", "summary-only"])
def test_all_mechanisms_together_conserve_shipments_and_time(summary_only):
    """With berths, yards, fleets, empty boxes, single track, background, seasons and the drain at once, every shipment is delivered or censored and every delivered journey is exactly its stages."""
    scenario = cs.load_scenario(SCENARIO)
    for r in range(scenario.simulation.replications):
        out = run_replication(scenario, r, summary_only=summary_only)
        s = out.shipments
        if summary_only:
            assert (s["created"] >= s["delivered"]).all() and s["delivered"].sum() > 0
            continue
        delivered = ~np.isnan(s["delivered_h"])
        assert delivered.sum() > 1000
        np.testing.assert_allclose(s["stage_totals_h"][delivered].sum(axis=1),
                                   (s["delivered_h"] - s["created_h"])[delivered], rtol=1e-9, atol=1e-6)
        assert s["stage_shipment"].min() >= 0  # empty boxes and background vehicles record nothing
        assert out.extra["empties"]["launched"] > 100
    res = cs.run(scenario, summary_only=summary_only, keep_stages=False)
    flows = res.flows.set_index("flow")
    assert (flows["created"] == flows["delivered"] + flows["censored"]).all()
    summary = res.summary()
    assert summary["services"]["SHIPS"]["vehicles"] == 2
    assert summary["nodes"]["P"]["berth_utilization"] > 0
    assert summary["nodes"]["X"]["background_arrivals_per_day"] > 0
    assert set(summary["flows"]["P-C"]["by_month"]) == {"2025-11", "2025-12", "2026-01"}
