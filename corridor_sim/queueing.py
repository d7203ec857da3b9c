"""Closed-form queueing theory for corridor routing and engine validation.

The simulator's clock runs in **hours**, so every rate here is "per hour" and
every duration is "hours" unless a name says otherwise (e.g. ``_per_day``).
These formulas are used in two places:

* **Routing** uses them as cheap, analytic estimates of congestion delay at
  terminals, border posts and scheduled services, without running a
  simulation.
* **Engine validation tests** compare long simulation runs of simple
  configurations against these exact steady-state results.

Concepts
--------
Kendall notation ``A/S/c``
    ``A`` is the arrival process, ``S`` the service-time distribution and
    ``c`` the number of identical parallel servers (berths, cranes, customs
    lanes, ...). ``M`` means Markovian (Poisson arrivals or exponential
    service), ``D`` deterministic and ``G`` general. All models here assume
    an infinite waiting room and first-come-first-served discipline.

Arrival rate ``lambda`` and service rate ``mu``
    ``lambda`` is the mean number of arrivals per hour. ``mu = 1 / E[S]`` is
    the rate at which a single busy server completes jobs, where ``E[S]`` is
    the mean service time in hours.

Offered load ``a = lambda / mu`` (Erlangs)
    The mean number of servers that would be busy if there were no limit on
    servers. Dimensionless.

Utilization ``rho = lambda / (c * mu) = a / c``
    The long-run fraction of time each server is busy. A queue is only
    *stable* (has a steady state with finite waits) when ``rho < 1``; every
    waiting-time function raises :class:`ValueError` otherwise.

Erlang B and Erlang C
    Erlang B is the blocking probability of an M/M/c system with no waiting
    room. Erlang C is the probability that an arrival to an M/M/c system with
    an infinite waiting room must wait at all. It is computed from Erlang B
    with the numerically stable recursion
    ``B(0) = 1, B(k) = a B(k-1) / (k + a B(k-1))`` followed by
    ``C = c B / (c - a (1 - B))``. Every intermediate value lies in
    ``[0, 1]``, so there is no overflow of ``a**c`` or ``c!`` even for
    thousands of servers.

``Wq``, ``W``, ``Lq``
    ``Wq`` is the mean wait in queue before service starts (hours), ``W =
    Wq + E[S]`` the mean time in system (hours) and ``Lq`` the mean number
    waiting. Little's law links them: ``Lq = lambda * Wq``.

Pollaczek-Khinchine (P-K) formula
    For a single server with Poisson arrivals and *any* service distribution
    (M/G/1): ``Wq = lambda * E[S^2] / (2 (1 - rho))`` with
    ``E[S^2] = Var[S] + E[S]^2``. Deterministic service (M/D/1) has
    ``Var[S] = 0`` and therefore exactly half the M/M/1 wait at equal ``rho``.

Scheduled departures
    A vessel or block train that leaves every ``H`` hours with ample room
    makes a Poisson (i.e. uniformly-in-time) arrival wait ``H / 2`` hours on
    average, and can carry at most ``capacity * 24 / H`` TEU per day. Several
    timetables serving the same stops merge: the wait is that of the merged
    departures (``merged_timetable_wait_h``).

Jackson networks in series
    In a tandem line of M/M/c stations fed by Poisson arrivals, the departure
    process of each stable station is again Poisson with the same rate
    (Burke's theorem), so each station behaves as an independent M/M/c queue
    and the mean end-to-end time is the sum of the station ``W`` values.

All functions are pure and depend only on the standard library.
"""

from __future__ import annotations

import math
import numbers
import operator
from collections.abc import Sequence
from fractions import Fraction

__all__ = [
    "batch_service_throughput_teu_per_day",
    "erlang_c",
    "jackson_tandem_time_in_system_h",
    "md1_wait_h",
    "mg1_wait_h",
    "mmc_mean_queue",
    "mmc_time_in_system_h",
    "mmc_utilization",
    "mmc_wait_h",
    "merged_timetable_wait_h",
    "scheduled_departure_wait_h",
]

HOURS_PER_DAY = 24.0


# --------------------------------------------------------------------------
# Argument validation helpers
# --------------------------------------------------------------------------


def _real(name: str, value: object) -> float:
    """Return ``value`` as a finite float or raise ValueError."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"{name} must be a real number, got {value!r}")
    result = float(value)
    if not math.isfinite(result):
        raise ValueError(f"{name} must be finite, got {value!r}")
    return result


def _positive(name: str, value: object) -> float:
    """Return ``value`` as a finite float > 0 or raise ValueError."""
    result = _real(name, value)
    if result <= 0.0:
        raise ValueError(f"{name} must be > 0, got {value!r}")
    return result


def _non_negative(name: str, value: object) -> float:
    """Return ``value`` as a finite float >= 0 or raise ValueError."""
    result = _real(name, value)
    if result < 0.0:
        raise ValueError(f"{name} must be >= 0, got {value!r}")
    return result


def _servers(value: object) -> int:
    """Return ``value`` as an int >= 1 or raise ValueError."""
    if isinstance(value, bool):
        raise ValueError(f"servers must be an integer >= 1, got {value!r}")
    try:
        result = operator.index(value)  # accepts int and numpy integers only
    except TypeError:
        raise ValueError(f"servers must be an integer >= 1, got {value!r}") from None
    if result < 1:
        raise ValueError(f"servers must be an integer >= 1, got {value!r}")
    return result


def _stable_load(arrival_rate_per_h: float, mean_service_h: float, servers: int) -> float:
    """Return the offered load ``a`` after checking the queue is stable."""
    load = arrival_rate_per_h * mean_service_h
    if load >= servers:
        raise ValueError(
            f"unstable queue: utilization rho = lambda*E[S]/c = {load / servers:.6g} >= 1 "
            f"(arrival_rate_per_h={arrival_rate_per_h!r}, mean_service_h={mean_service_h!r}, "
            f"servers={servers!r})"
        )
    return load


# --------------------------------------------------------------------------
# M/M/c
# --------------------------------------------------------------------------


def erlang_c(servers: int, offered_load: float) -> float:
    """Probability that an arrival must wait in an M/M/c queue (Erlang C).

    Computed via the stable Erlang B recursion, so it works for thousands of
    servers without overflow. Cost is O(servers).

    Args:
        servers: Number of identical parallel servers ``c`` (integer >= 1).
        offered_load: Offered load ``a = lambda / mu`` in Erlangs
            (dimensionless, >= 0). Must be strictly below ``servers``.

    Returns:
        The probability of waiting, in ``[0, 1)``. Zero when
        ``offered_load == 0``.

    Raises:
        ValueError: If ``servers`` is not an integer >= 1, ``offered_load`` is
            negative or not finite, or ``offered_load >= servers`` (unstable).
    """
    c = _servers(servers)
    a = _non_negative("offered_load", offered_load)
    if a >= c:
        raise ValueError(
            f"unstable queue: offered_load {a!r} Erlangs >= servers {c!r} (rho >= 1)"
        )
    if a == 0.0:
        return 0.0
    blocking = 1.0  # Erlang B with 0 servers
    for k in range(1, c + 1):
        ab = a * blocking
        blocking = ab / (k + ab)
    return c * blocking / (c - a * (1.0 - blocking))


def mmc_utilization(arrival_rate_per_h: float, mean_service_h: float, servers: int) -> float:
    """Per-server utilization ``rho = lambda / (c * mu)`` of an M/M/c queue.

    Unlike the waiting-time functions this does not require stability: a
    result >= 1 signals an overloaded (unstable) station, which is useful for
    routing checks.

    Args:
        arrival_rate_per_h: Mean arrival rate ``lambda`` in arrivals per hour
            (>= 0).
        mean_service_h: Mean service time ``1 / mu`` in hours (> 0).
        servers: Number of parallel servers ``c`` (integer >= 1).

    Returns:
        Utilization ``rho`` (dimensionless, >= 0).

    Raises:
        ValueError: If any argument is out of range.
    """
    lam = _non_negative("arrival_rate_per_h", arrival_rate_per_h)
    s = _positive("mean_service_h", mean_service_h)
    c = _servers(servers)
    return lam * s / c


def mmc_wait_h(arrival_rate_per_h: float, mean_service_h: float, servers: int) -> float:
    """Mean wait in queue ``Wq`` of an M/M/c queue.

    ``Wq = C(c, a) / (c * mu - lambda)`` where ``C`` is :func:`erlang_c`.

    Args:
        arrival_rate_per_h: Mean arrival rate ``lambda`` in arrivals per hour
            (>= 0).
        mean_service_h: Mean (exponential) service time ``1 / mu`` in hours
            (> 0).
        servers: Number of parallel servers ``c`` (integer >= 1).

    Returns:
        Mean time spent waiting before service starts, in hours.

    Raises:
        ValueError: If any argument is out of range or ``rho >= 1``.
    """
    lam = _non_negative("arrival_rate_per_h", arrival_rate_per_h)
    s = _positive("mean_service_h", mean_service_h)
    c = _servers(servers)
    load = _stable_load(lam, s, c)
    if lam == 0.0:
        return 0.0
    # c*mu - lambda = (c - a) / E[S]
    return erlang_c(c, load) * s / (c - load)


def mmc_time_in_system_h(
    arrival_rate_per_h: float, mean_service_h: float, servers: int
) -> float:
    """Mean time in system ``W = Wq + 1 / mu`` of an M/M/c queue.

    Args:
        arrival_rate_per_h: Mean arrival rate ``lambda`` in arrivals per hour
            (>= 0).
        mean_service_h: Mean (exponential) service time ``1 / mu`` in hours
            (> 0).
        servers: Number of parallel servers ``c`` (integer >= 1).

    Returns:
        Mean time from arrival to service completion, in hours.

    Raises:
        ValueError: If any argument is out of range or ``rho >= 1``.
    """
    return mmc_wait_h(arrival_rate_per_h, mean_service_h, servers) + float(mean_service_h)


def mmc_mean_queue(arrival_rate_per_h: float, mean_service_h: float, servers: int) -> float:
    """Mean number waiting in queue ``Lq = lambda * Wq`` (Little's law).

    Args:
        arrival_rate_per_h: Mean arrival rate ``lambda`` in arrivals per hour
            (>= 0).
        mean_service_h: Mean (exponential) service time ``1 / mu`` in hours
            (> 0).
        servers: Number of parallel servers ``c`` (integer >= 1).

    Returns:
        Mean number of jobs waiting (not in service); dimensionless.

    Raises:
        ValueError: If any argument is out of range or ``rho >= 1``.
    """
    wq = mmc_wait_h(arrival_rate_per_h, mean_service_h, servers)
    return float(arrival_rate_per_h) * wq


# --------------------------------------------------------------------------
# Single server, general service (Pollaczek-Khinchine)
# --------------------------------------------------------------------------


def mg1_wait_h(arrival_rate_per_h: float, mean_service_h: float, sd_service_h: float) -> float:
    """Mean wait in queue of an M/G/1 queue (Pollaczek-Khinchine formula).

    ``Wq = lambda * E[S^2] / (2 (1 - rho))`` with
    ``E[S^2] = sd^2 + mean^2`` and ``rho = lambda * mean``.

    Args:
        arrival_rate_per_h: Poisson arrival rate ``lambda`` in arrivals per
            hour (>= 0).
        mean_service_h: Mean service time ``E[S]`` in hours (> 0).
        sd_service_h: Standard deviation of the service time in hours (>= 0).
            ``0`` gives M/D/1, ``mean_service_h`` gives M/M/1.

    Returns:
        Mean time spent waiting before service starts, in hours.

    Raises:
        ValueError: If any argument is out of range or ``rho >= 1``.
    """
    lam = _non_negative("arrival_rate_per_h", arrival_rate_per_h)
    s = _positive("mean_service_h", mean_service_h)
    sd = _non_negative("sd_service_h", sd_service_h)
    rho = _stable_load(lam, s, 1)
    second_moment = sd * sd + s * s
    return lam * second_moment / (2.0 * (1.0 - rho))


def md1_wait_h(arrival_rate_per_h: float, service_h: float) -> float:
    """Mean wait in queue of an M/D/1 queue (deterministic service).

    P-K with zero variance: ``Wq = rho * service_h / (2 (1 - rho))``, exactly
    half the M/M/1 wait at the same utilization.

    Args:
        arrival_rate_per_h: Poisson arrival rate ``lambda`` in arrivals per
            hour (>= 0).
        service_h: Constant service time in hours (> 0).

    Returns:
        Mean time spent waiting before service starts, in hours.

    Raises:
        ValueError: If any argument is out of range or ``rho >= 1``.
    """
    return mg1_wait_h(arrival_rate_per_h, service_h, 0.0)


# --------------------------------------------------------------------------
# Scheduled (batch) services
# --------------------------------------------------------------------------


def scheduled_departure_wait_h(every_h: float) -> float:
    """Mean wait of a Poisson arrival for a service departing every ``H`` hours.

    Assumes the departure always has room (no left-behind cargo), so the wait
    is the residual time to the next departure, uniform on ``[0, H)``.

    Args:
        every_h: Headway between departures ``H`` in hours (> 0).

    Returns:
        Mean wait ``H / 2`` in hours.

    Raises:
        ValueError: If ``every_h`` is not a finite positive number.
    """
    return _positive("every_h", every_h) / 2.0


MAX_MERGED_DEPARTURES = 20_000


def merged_timetable_wait_h(timetables: list[tuple[float, float]]) -> float:
    """Mean wait of a Poisson arrival for the first departure of several periodic timetables.

    Each timetable departs every ``H_i`` hours at phase ``phi_i`` (departures at ``phi_i + n H_i``).
    Merged, the departures cut the clock into gaps ``g``; an arrival falls in a gap with probability
    ``g / T`` and then waits ``g / 2`` on average, so the mean wait is ``sum(g^2) / (2 T)`` over a
    common period ``T`` of the timetables (their least common multiple). Two daily trains 12 h apart
    give 6 h, not the 12 h of either alone. When the headways have no common period within
    ``MAX_MERGED_DEPARTURES`` departures, the merge runs over that many departures instead (an
    approximation whose error is below one gap over the window). Room on board is assumed.

    Args:
        timetables: ``(every_h, phase_h)`` pairs, every_h > 0.

    Returns:
        Mean wait in hours (``H / 2`` for a single timetable).

    Raises:
        ValueError: If there is no timetable or a headway is not a finite positive number.
    """
    if not timetables:
        raise ValueError("merged_timetable_wait_h needs at least one timetable")
    periods = [_positive("every_h", h) for h, _ in timetables]
    if len(periods) == 1:
        return periods[0] / 2.0
    fractions = [Fraction(h).limit_denominator(10_000) for h in periods]
    window = None
    if all(abs(float(f) - h) <= 1e-9 * h for f, h in zip(fractions, periods)):
        num, den = fractions[0].numerator, fractions[0].denominator
        for f in fractions[1:]:
            num, den = math.lcm(num, f.numerator), math.gcd(den, f.denominator)
        window = num / den
    if window is None or sum(window / h for h in periods) > MAX_MERGED_DEPARTURES:
        window = MAX_MERGED_DEPARTURES / sum(1.0 / h for h in periods)
    times = sorted(phase % h + n * h for h, phase in timetables
                   for n in range(math.ceil((window - phase % h) / h)))
    times.append(times[0] + window)
    return sum((b - a) ** 2 for a, b in zip(times, times[1:])) / (2.0 * window)


def batch_service_throughput_teu_per_day(capacity_teu: float, every_h: float) -> float:
    """Maximum throughput of a scheduled service (vessel, block train).

    Args:
        capacity_teu: Capacity of one departure in TEU (> 0).
        every_h: Headway between departures in hours (> 0).

    Returns:
        Maximum throughput ``capacity * 24 / every_h`` in TEU per day.

    Raises:
        ValueError: If either argument is not a finite positive number.
    """
    cap = _positive("capacity_teu", capacity_teu)
    headway = _positive("every_h", every_h)
    return cap * HOURS_PER_DAY / headway


# --------------------------------------------------------------------------
# Networks
# --------------------------------------------------------------------------


def jackson_tandem_time_in_system_h(
    arrival_rate_per_h: float, stations: Sequence[tuple[float, int]]
) -> float:
    """Mean end-to-end time through M/M/c stations in series (Jackson network).

    Every job visits every station once, in order; by Burke's theorem each
    stable station sees Poisson arrivals at ``arrival_rate_per_h``, so the
    total is the sum of each station's :func:`mmc_time_in_system_h`.

    Args:
        arrival_rate_per_h: External Poisson arrival rate ``lambda`` in
            arrivals per hour (>= 0).
        stations: Sequence of ``(mean_service_h, servers)`` pairs, one per
            station, with mean service time in hours (> 0) and server count
            (integer >= 1). An empty sequence gives ``0.0``.

    Returns:
        Mean total time in the network (waiting plus service), in hours.

    Raises:
        ValueError: If any argument is out of range, a station entry is not a
            ``(mean_service_h, servers)`` pair, or any station has
            ``rho >= 1``.
    """
    lam = _non_negative("arrival_rate_per_h", arrival_rate_per_h)
    if isinstance(stations, (str, bytes)) or not isinstance(stations, Sequence):
        raise ValueError(
            f"stations must be a sequence of (mean_service_h, servers) pairs, got {stations!r}"
        )
    total = 0.0
    for index, station in enumerate(stations):
        try:
            mean_service_h, servers = station
        except (TypeError, ValueError):
            raise ValueError(
                f"stations[{index}] must be a (mean_service_h, servers) pair, got {station!r}"
            ) from None
        try:
            total += mmc_time_in_system_h(lam, mean_service_h, servers)
        except ValueError as exc:
            raise ValueError(f"stations[{index}]: {exc}") from None
    return total
