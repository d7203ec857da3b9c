"""Estimators behind the reported figures: censored transit times and backlog trends.

**Censored transit times.** A run follows its measured shipments (those created in the measured
window) past the horizon until they are all delivered or the drain ends. A shipment still under way
then is right-censored: its transit time is known only to exceed `end - created`. Dropping it would
bias every statistic low (the slow ones are the ones missing); counting it at its censoring time
would too. With no censored shipment the plain mean and quantiles are used (`"complete"`); otherwise
the Kaplan-Meier estimate of the survival function (`scipy.stats.ecdf` on `CensoredData`,
`"kaplan-meier"`), whose p-quantile is the first time the estimated CDF reaches p, and whose mean is
the area under the survival curve up to the largest time observed (the *restricted* mean: a lower
bound when the largest time is censored). A quantile that the curve never reaches is None: the data
say only that it exceeds the longest follow-up.

**Backlog trends (stability).** An element *settles* when the amount waiting in it does not grow
over the measured window. Its level (TEU in the system for a flow, shipments or vehicles queueing for
a facility, gate or service) is sampled daily; per replication the least-squares slope of level on
time (per day) is the reported growth. The test of significant growth, documented in
docs/scenario-format.md: the window is cut into `BATCHES` equal batches, and the batch means of all
replications are regressed on batch mid-times (replication as a fixed effect, i.e. on centred data);
growth is significant when the one-sided t-test of that slope rejects zero at `ALPHA` AND the slope
exceeds `FLOOR_SHARE` of the element's daily throughput (so a statistically detectable but
negligible drift, e.g. a queue growing by a thousandth of a day's arrivals a day, is not flagged).
Batch means are nearly independent when batches are much longer than the queue's relaxation time,
which is why daily samples are batched before testing.
"""

from __future__ import annotations

import math

import numpy as np

QUANTILES = (0.10, 0.50, 0.90, 0.95)
BATCHES = 10
ALPHA = 0.01
FLOOR_SHARE = 0.01


def transit_summary(times: np.ndarray, censored: np.ndarray | None = None,
                    qs: tuple[float, ...] = QUANTILES) -> dict:
    """Mean and quantiles of transit times, Kaplan-Meier where some are right-censored.

    Args:
        times: transit times (any unit): the delivered ones exact, the censored ones their
            follow-up time (end of run minus creation).
        censored: True where the time is censored (None: none is).
        qs: the probabilities of the quantiles wanted.

    Returns:
        {"mean", "quantiles" (list, None where not reached), "estimator", "n", "censored"}.
    """
    times = np.asarray(times, dtype=float)
    cens = np.zeros(len(times), dtype=bool) if censored is None else np.asarray(censored, dtype=bool)
    n_cens = int(cens.sum())
    if len(times) == 0:
        return {"mean": math.nan, "quantiles": [math.nan] * len(qs), "estimator": "complete", "n": 0,
                "censored": 0}
    if n_cens == 0:
        return {"mean": float(times.mean()), "quantiles": [float(np.quantile(times, q)) for q in qs],
                "estimator": "complete", "n": len(times), "censored": 0}
    from scipy.stats import CensoredData, ecdf  # heavy import, needed only when something is censored

    exact = times[~cens]
    if len(exact) == 0:
        return {"mean": math.nan, "quantiles": [None] * len(qs), "estimator": "kaplan-meier",
                "n": len(times), "censored": n_cens}
    res = ecdf(CensoredData(uncensored=exact, right=times[cens]))
    t = res.sf.quantiles
    surv = res.sf.probabilities
    # Restricted mean: the area under the step survival curve from 0 to the largest time.
    widths = np.diff(np.concatenate(([0.0], t)))
    before = np.concatenate(([1.0], surv[:-1]))
    mean = float(np.sum(widths * before))
    cdf = 1.0 - surv
    quantiles = []
    for q in qs:
        k = int(np.searchsorted(cdf, q - 1e-12, side="left"))
        quantiles.append(float(t[k]) if k < len(t) else None)
    return {"mean": mean, "quantiles": quantiles, "estimator": "kaplan-meier", "n": len(times),
            "censored": n_cens}


def slope_per_day(times_days: np.ndarray, level: np.ndarray) -> float:
    """Least-squares slope of a sampled level on time (level units per day); NaN under 3 samples."""
    if len(times_days) < 3:
        return math.nan
    t = times_days - times_days.mean()
    denom = float(np.dot(t, t))
    return float(np.dot(t, level - level.mean()) / denom) if denom > 0 else math.nan


def growth_test(series: list[tuple[np.ndarray, np.ndarray]], rate_per_day: float) -> dict:
    """Whether a sampled level grows significantly over the window (see the module docstring).

    Args:
        series: per replication, (sample times in days, level at those times), window only.
        rate_per_day: the element's throughput per day in the level's units (arrivals, TEU created):
            the practical-significance floor is `FLOOR_SHARE` of it.

    Returns:
        {"growth_per_day": mean per-replication slope, "stable": bool, "p_value": float}; the
        p-value of the slope's one-sided t-test is NaN when it cannot decide (a slope under the floor).
    """
    slopes = [slope_per_day(t, y) for t, y in series]
    slopes = [s for s in slopes if not math.isnan(s)]
    if not slopes:
        return {"growth_per_day": math.nan, "stable": True, "p_value": math.nan}
    growth = float(np.mean(slopes))
    xs, ys = [], []
    for t, y in series:
        if len(t) < 2 * BATCHES:
            continue
        edges = np.linspace(t[0], t[-1] + 1e-9, BATCHES + 1)
        idx = np.clip(np.searchsorted(edges, t, side="right") - 1, 0, BATCHES - 1)
        counts = np.bincount(idx, minlength=BATCHES)
        if (counts == 0).any():
            continue
        means = np.bincount(idx, weights=y, minlength=BATCHES) / counts
        mids = (edges[:-1] + edges[1:]) / 2
        xs.append(mids - mids.mean())
        ys.append(means - means.mean())
    if not xs:
        return {"growth_per_day": growth, "stable": True, "p_value": math.nan}
    x, y = np.concatenate(xs), np.concatenate(ys)
    dof = len(x) - len(xs) - 1
    b = float(np.dot(x, y) / np.dot(x, x))
    resid = y - b * x
    s2 = float(np.dot(resid, resid)) / max(dof, 1)
    se = math.sqrt(s2 / float(np.dot(x, x)))
    floor = FLOOR_SHARE * rate_per_day if rate_per_day > 0 else 0.0
    if se == 0:
        p = 0.0 if b > 0 else 1.0
    elif b > floor and growth > floor:
        # The only case where the t-test decides; scipy.special (0.3-0.4 s of CPU to import)
        # is imported for it alone.
        from scipy.special import stdtr

        p = float(1.0 - stdtr(max(dof, 1), b / se))
    else:
        p = math.nan  # not needed: a slope under the floor settles whatever the test would say
    unstable = p < ALPHA and b > floor and growth > floor
    return {"growth_per_day": growth, "stable": not unstable, "p_value": p}

