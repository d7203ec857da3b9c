"""Warm-up: Welch's moving-average curve of transit times by creation time, and a suggested
warm-up read from it.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd

from corridor_sim.results import Results
from corridor_sim.experiments.replications import check_flow


def welch_curve(results: Results, flow: str, bin_days: float = 1.0, window: int | None = None) -> pd.DataFrame:
    """Welch's moving average of transit times by creation time, for one flow.

    Shipments (all of them, warm-up included) are put in bins of `bin_days` by creation time; each
    replication's mean transit per bin is averaged across replications (Welch's Y_i), then smoothed
    with a centred moving average of half-width `window` bins (Welch's w; near the start the window
    shrinks to fit). Bins late in the horizon, where fewer than 95% of the shipments were delivered
    by the end (so the delivered ones are the quick ones), are cut off (`usable` False).

    Returns:
        DataFrame with time_days (bin start), mean_transit_days, smoothed, delivered_fraction, usable.
    """
    check_flow(results.scenario, flow)
    ship = results.shipments[results.shipments["flow"] == flow]
    nbins = max(1, int(math.floor(results.horizon_days / bin_days + 1e-9)))
    sums = np.zeros((results.replications, nbins))
    counts = np.zeros((results.replications, nbins))
    created = np.zeros(nbins)
    for i, out in enumerate(results.outputs):
        mine = ship[ship["replication"] == out.replication]
        b = np.minimum((mine["created_h"].to_numpy() / 24.0 / bin_days).astype(int), nbins - 1)
        created += np.bincount(b, minlength=nbins)
        done = mine["delivered_h"].notna().to_numpy()
        sums[i] = np.bincount(b[done], weights=mine["transit_days"].to_numpy()[done], minlength=nbins)
        counts[i] = np.bincount(b[done], minlength=nbins)
    with np.errstate(invalid="ignore", divide="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        y = np.nanmean(np.where(counts > 0, sums / np.where(counts > 0, counts, 1), np.nan), axis=0)
        delivered = np.where(created > 0, counts.sum(axis=0) / np.where(created > 0, created, 1), np.nan)
    short = np.flatnonzero(delivered < 0.95)
    m = int(short[0]) if len(short) else nbins
    w = window if window is not None else max(1, round(m / 30))
    smoothed = np.full(nbins, np.nan)
    for i in range(max(0, m - w)):
        half = min(i, w)
        part = y[i - half: i + half + 1]
        if np.any(~np.isnan(part)):
            smoothed[i] = np.nanmean(part)
    return pd.DataFrame({"time_days": np.arange(nbins) * bin_days, "mean_transit_days": y, "smoothed": smoothed,
                         "delivered_fraction": delivered, "usable": np.arange(nbins) < m})


def suggest_warmup_days(results: Results, flow: str | None = None, bin_days: float = 1.0,
                        window: int | None = None) -> float:
    """A warm-up suggested by Welch's moving-average method on transit times by creation time.

    For each flow (or the one given) the smoothed Welch curve (see `welch_curve`) is compared with
    its steady level L, the mean of the per-bin averages over the second half of the usable
    horizon. The warm-up ends at the first bin where the curve, coming from the side it started
    on, is within two standard deviations (of the smoothed curve over that second half) of L: it
    has come down from an initial backlog, or up from an empty system. Because the curve is a
    centred average, the answer errs late by up to about w bins, the safe side. With no flow
    given, the longest warm-up over all flows is returned. Run the scenario with a horizon at
    least twice the expected warm-up (the steady level is taken from the second half) and several
    replications.

    Args:
        results: a run, ideally with `warmup_days: 0` (every shipment is used either way).
        flow: a flow id, or None for the longest over all flows.
        bin_days: width of the creation-time bins.
        window: Welch's half-width w in bins (default: about a thirtieth of the usable bins).

    Returns:
        Days of warm-up to discard (a multiple of bin_days); NaN if fewer than 10 usable bins.
    """
    flows = [flow] if flow is not None else [f.id for f in results.scenario.demand]
    best = math.nan
    for fid in flows:
        curve = welch_curve(results, fid, bin_days=bin_days, window=window)
        usable = curve[curve["usable"]]
        m = len(usable)
        if m < 10:
            continue
        y = usable["mean_transit_days"].to_numpy()
        s = usable["smoothed"].to_numpy()
        level = float(np.nanmean(y[m // 2:]))
        tail = s[m // 2:]
        tail = tail[~np.isnan(tail)]
        tol = 2.0 * float(np.std(tail)) if len(tail) > 1 else 0.0
        valid = np.flatnonzero(~np.isnan(s))
        if not len(valid):
            continue
        side = np.sign(s[valid[0]] - level)
        hits = [i for i in valid if side * (s[i] - level) <= tol]
        days = float(hits[0] * bin_days) if hits else float(m * bin_days)
        best = days if math.isnan(best) else max(best, days)
    return best
