"""Tests for corridor_sim.queueing against textbook closed-form values.

Expected numbers are derived by hand (shown in comments) or by independent
exact rational arithmetic, never by re-running the formula under test.
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from corridor_sim.queueing import (
    batch_service_throughput_teu_per_day,
    erlang_c,
    jackson_tandem_time_in_system_h,
    md1_wait_h,
    mg1_wait_h,
    mmc_mean_queue,
    mmc_time_in_system_h,
    mmc_utilization,
    mmc_wait_h,
    scheduled_departure_wait_h,
)

# --------------------------------------------------------------------------
# Independent reference implementations (exact arithmetic)
# --------------------------------------------------------------------------


def _erlang_c_fraction(c: int, a: Fraction) -> Fraction:
    """Erlang C by the textbook definition with exact rationals.

    P(wait) = (a^c/c! * c/(c-a)) / (sum_{k<c} a^k/k! + a^c/c! * c/(c-a)).
    """
    term = Fraction(1)  # a^k / k! for k = 0
    head = Fraction(0)
    for k in range(c):
        head += term
        term = term * a / (k + 1)
    tail = term * c / (c - a)  # term is now a^c / c!
    return tail / (head + tail)


def _erlang_c_integer(c: int, a: int) -> Fraction:
    """Erlang C for integer load, exactly, with everything scaled by c! * (c - a).

    Multiplying numerator and denominator by c! turns a^k/k! into the integer
    a^k * c!/k!, so the sum is done in Python big ints (fast even for c=1000).
    """
    powers = [1]
    for _ in range(c):
        powers.append(powers[-1] * a)
    falling = 1  # c!/k!, starting at k = c
    head = 0
    for k in range(c - 1, -1, -1):
        falling *= k + 1
        head += powers[k] * falling
    tail = powers[c] * c  # (a^c/c! * c/(c-a)) * c! * (c-a)
    return Fraction(tail, head * (c - a) + tail)


# --------------------------------------------------------------------------
# Erlang C: textbook values
# --------------------------------------------------------------------------


def test_erlang_c_two_servers_one_erlang_is_one_third() -> None:
    """Erlang C for c=2 and a=1 Erlang equals the textbook value 1/3."""
    # P0 = [1 + 1 + (1/2)*(1/(1-1/2))]^-1 = 1/3; C = (1/2)*2*P0 = 1/3.
    assert erlang_c(2, 1.0) == pytest.approx(1.0 / 3.0, rel=1e-12)


def test_erlang_c_single_server_equals_utilization() -> None:
    """For one server the probability of waiting equals rho (M/M/1 PASTA result)."""
    for rho in (0.1, 0.5, 0.9, 0.999):
        assert erlang_c(1, rho) == pytest.approx(rho, rel=1e-12)


def test_erlang_c_zero_load_is_zero() -> None:
    """With no offered load nobody ever waits."""
    assert erlang_c(5, 0.0) == 0.0


def test_erlang_c_matches_exact_fraction_sum_moderate_c() -> None:
    """Erlang C for c=50, a=45 (and a non-integer load) matches an exact Fraction sum."""
    for a in (Fraction(45), Fraction(91, 2), Fraction(1, 3)):
        expected = float(_erlang_c_fraction(50, a))
        assert erlang_c(50, float(a)) == pytest.approx(expected, rel=1e-12)


def test_erlang_c_large_c_finite_and_matches_exact_integer_sum() -> None:
    """Erlang C for c=1000, a=950 is finite, in (0, 1), and matches exact big-int arithmetic."""
    value = erlang_c(1000, 950.0)
    assert math.isfinite(value)
    assert 0.0 < value < 1.0
    assert value == pytest.approx(float(_erlang_c_integer(1000, 950)), rel=1e-10)


def test_erlang_c_very_large_c_matches_log_space_poisson_sum() -> None:
    """For c in the tens of thousands Erlang C agrees with a direct log-space Poisson sum."""
    # Independent route: Erlang B = P[N=c] / P[N<=c] for N ~ Poisson(a), summing
    # the pmf terms exp(k ln a - a - ln k!) directly (relative to the largest
    # term to avoid underflow); then C = c B / (c - a (1 - B)).
    for c, a in ((5_000, 4_900.0), (20_000, 19_950.0), (20_000, 15_000.0)):
        logs = [k * math.log(a) - math.lgamma(k + 1) for k in range(c + 1)]
        peak = max(logs)
        cdf = math.fsum(math.exp(x - peak) for x in logs)
        b = math.exp(logs[c] - peak) / cdf
        expected = c * b / (c - a * (1.0 - b))
        value = erlang_c(c, a)
        assert 0.0 <= value < 1.0
        assert value == pytest.approx(expected, rel=1e-8, abs=1e-300)


def test_erlang_c_accepts_numpy_integer_servers() -> None:
    """A numpy integer server count is accepted like a Python int."""
    assert erlang_c(np.int64(2), 1.0) == pytest.approx(1.0 / 3.0)


# --------------------------------------------------------------------------
# M/M/1 and M/M/c: textbook values
# --------------------------------------------------------------------------


def test_mm1_half_utilization_textbook_values() -> None:
    """M/M/1 with lambda=1/h, mu=2/h (rho=0.5) gives Wq=0.5 h, W=1 h, Lq=0.5."""
    # Wq = rho/(mu - lambda) = 0.5/1 = 0.5 h; W = 1/(mu - lambda) = 1 h;
    # Lq = rho^2/(1 - rho) = 0.25/0.5 = 0.5.
    assert mmc_utilization(1.0, 0.5, 1) == pytest.approx(0.5)
    assert mmc_wait_h(1.0, 0.5, 1) == pytest.approx(0.5, rel=1e-12)
    assert mmc_time_in_system_h(1.0, 0.5, 1) == pytest.approx(1.0, rel=1e-12)
    assert mmc_mean_queue(1.0, 0.5, 1) == pytest.approx(0.5, rel=1e-12)


def test_mm1_three_quarter_utilization_textbook_values() -> None:
    """M/M/1 with lambda=3/h, mu=4/h (rho=0.75) gives Wq=0.75 h, W=1 h, Lq=2.25."""
    # Wq = 0.75/(4-3) = 0.75 h; W = 1/(4-3) = 1 h; Lq = 0.75^2/0.25 = 2.25.
    assert mmc_wait_h(3.0, 0.25, 1) == pytest.approx(0.75, rel=1e-12)
    assert mmc_time_in_system_h(3.0, 0.25, 1) == pytest.approx(1.0, rel=1e-12)
    assert mmc_mean_queue(3.0, 0.25, 1) == pytest.approx(2.25, rel=1e-12)


def test_mm3_textbook_example() -> None:
    """M/M/3 with lambda=2/h, mu=1/h gives C=4/9, Wq=4/9 h, Lq=8/9, W=13/9 h."""
    # a = 2, rho = 2/3.
    # P0 = [1 + 2 + 2^2/2! + (2^3/3!) * 1/(1 - 2/3)]^-1 = [1 + 2 + 2 + 4]^-1 = 1/9.
    # C  = (2^3/3!) * 1/(1 - 2/3) * P0 = (4/3)*3*(1/9) = 4/9.
    # Wq = C / (c*mu - lambda) = (4/9)/(3 - 2) = 4/9 h.
    # Lq = lambda * Wq = 8/9;  W = Wq + 1/mu = 13/9 h.
    assert erlang_c(3, 2.0) == pytest.approx(4.0 / 9.0, rel=1e-12)
    assert mmc_utilization(2.0, 1.0, 3) == pytest.approx(2.0 / 3.0)
    assert mmc_wait_h(2.0, 1.0, 3) == pytest.approx(4.0 / 9.0, rel=1e-12)
    assert mmc_mean_queue(2.0, 1.0, 3) == pytest.approx(8.0 / 9.0, rel=1e-12)
    assert mmc_time_in_system_h(2.0, 1.0, 3) == pytest.approx(13.0 / 9.0, rel=1e-12)


def test_mm2_one_erlang_wait() -> None:
    """M/M/2 with lambda=1/h and 1 h service waits 1/3 h on average."""
    # C = 1/3 (see above); Wq = C/(c*mu - lambda) = (1/3)/(2 - 1) = 1/3 h.
    assert mmc_wait_h(1.0, 1.0, 2) == pytest.approx(1.0 / 3.0, rel=1e-12)


def test_mmc_zero_arrivals_has_no_wait() -> None:
    """An idle M/M/c queue has zero wait and time in system equal to the service time."""
    assert mmc_wait_h(0.0, 2.0, 3) == 0.0
    assert mmc_mean_queue(0.0, 2.0, 3) == 0.0
    assert mmc_time_in_system_h(0.0, 2.0, 3) == pytest.approx(2.0)


def test_mmc_utilization_reports_overload_without_raising() -> None:
    """Utilization is reported even for overloaded stations so routing can detect them."""
    # lambda * E[S] / c = 10 * 1 / 4 = 2.5
    assert mmc_utilization(10.0, 1.0, 4) == pytest.approx(2.5)


# --------------------------------------------------------------------------
# P-K formulas
# --------------------------------------------------------------------------


def test_md1_textbook_value_and_half_of_mm1() -> None:
    """M/D/1 with rho=0.5 and 1 h service waits 0.5 h, half the M/M/1 wait of 1 h."""
    # P-K with Var=0: Wq = lambda*s^2/(2(1-rho)) = 0.5*1/(2*0.5) = 0.5 h.
    # M/M/1: Wq = rho/(mu - lambda) = 0.5/(1 - 0.5) = 1 h.
    assert md1_wait_h(0.5, 1.0) == pytest.approx(0.5, rel=1e-12)
    assert mmc_wait_h(0.5, 1.0, 1) == pytest.approx(1.0, rel=1e-12)


def test_mg1_erlang2_service_textbook_value() -> None:
    """M/G/1 with Erlang-2 service (sd = mean/sqrt 2) at rho=0.5 waits 0.75 h."""
    # E[S]=1, Var=1/2 -> E[S^2] = 1.5; Wq = 0.5*1.5/(2*(1-0.5)) = 0.75 h.
    assert mg1_wait_h(0.5, 1.0, 1.0 / math.sqrt(2.0)) == pytest.approx(0.75, rel=1e-12)


def test_mg1_reduces_to_mm1_and_md1() -> None:
    """M/G/1 with sd=mean reproduces M/M/1 and with sd=0 reproduces M/D/1."""
    # lambda=2/h, E[S]=0.4 h: rho=0.8, mu=2.5. M/M/1 Wq = 0.8/(2.5-2) = 1.6 h; M/D/1 = 0.8 h.
    assert mg1_wait_h(2.0, 0.4, 0.4) == pytest.approx(1.6, rel=1e-12)
    assert mg1_wait_h(2.0, 0.4, 0.0) == pytest.approx(0.8, rel=1e-12)
    assert md1_wait_h(2.0, 0.4) == pytest.approx(0.8, rel=1e-12)


# --------------------------------------------------------------------------
# Scheduled services and networks
# --------------------------------------------------------------------------


def test_scheduled_departure_wait_is_half_headway() -> None:
    """A Poisson arrival waits on average half the headway for the next departure."""
    assert scheduled_departure_wait_h(24.0) == pytest.approx(12.0)
    assert scheduled_departure_wait_h(168.0) == pytest.approx(84.0)


def test_batch_service_throughput() -> None:
    """Scheduled-service capacity per day is capacity times departures per day."""
    # 100 TEU every 12 h -> 2 departures/day -> 200 TEU/day.
    assert batch_service_throughput_teu_per_day(100.0, 12.0) == pytest.approx(200.0)
    # Weekly 4000 TEU vessel: 4000 / 7 TEU/day.
    assert batch_service_throughput_teu_per_day(4000.0, 168.0) == pytest.approx(4000.0 / 7.0)


def test_jackson_tandem_textbook_value() -> None:
    """A tandem of M/M/1 (mu=2) and M/M/3 (mu=1) at lambda=1/h takes 45/22 h end to end."""
    # Station 1: M/M/1, W = 1/(mu - lambda) = 1/(2 - 1) = 1 h.
    # Station 2: M/M/3, a = 1, rho = 1/3.
    #   P0 = [1 + 1 + 1/2 + (1/6)*(1/(1 - 1/3))]^-1 = [2.5 + 0.25]^-1 = 4/11.
    #   C  = (1/6)*(3/2)*(4/11) = 1/11; Wq = C/(3 - 1) = 1/22; W = 1 + 1/22 = 23/22 h.
    # Total = 1 + 23/22 = 45/22 h.
    total = jackson_tandem_time_in_system_h(1.0, [(0.5, 1), (1.0, 3)])
    assert total == pytest.approx(45.0 / 22.0, rel=1e-12)


def test_jackson_tandem_empty_is_zero() -> None:
    """A tandem network with no stations adds no time."""
    assert jackson_tandem_time_in_system_h(1.0, []) == 0.0


# --------------------------------------------------------------------------
# Argument validation
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("servers", "load"),
    [(2, 2.0), (2, 3.5), (1, 1.0), (1000, 1000.0)],
)
def test_erlang_c_unstable_load_raises(servers: int, load: float) -> None:
    """Erlang C raises ValueError when the offered load reaches the server count."""
    with pytest.raises(ValueError, match="unstable"):
        erlang_c(servers, load)


@pytest.mark.parametrize(
    ("servers", "load"),
    [
        (0, 0.5),
        (-1, 0.5),
        (2.5, 0.5),
        (True, 0.5),
        ("3", 0.5),
        (3, -0.1),
        (3, math.nan),
        (3, math.inf),
        (3, "1"),
    ],
)
def test_erlang_c_bad_arguments_raise(servers: object, load: object) -> None:
    """Erlang C rejects non-integer/non-positive servers and negative/non-finite loads."""
    with pytest.raises(ValueError):
        erlang_c(servers, load)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "func", [mmc_wait_h, mmc_time_in_system_h, mmc_mean_queue]
)
def test_mmc_unstable_raises(func) -> None:
    """M/M/c waiting measures raise ValueError when rho >= 1."""
    with pytest.raises(ValueError, match="unstable"):
        func(3.0, 1.0, 3)  # rho = 1
    with pytest.raises(ValueError, match="unstable"):
        func(5.0, 1.0, 2)  # rho = 2.5


@pytest.mark.parametrize(
    "func", [mmc_wait_h, mmc_time_in_system_h, mmc_mean_queue, mmc_utilization]
)
@pytest.mark.parametrize(
    ("lam", "service", "servers"),
    [(-1.0, 1.0, 2), (1.0, 0.0, 2), (1.0, -1.0, 2), (1.0, math.nan, 2), (1.0, 1.0, 0)],
)
def test_mmc_bad_arguments_raise(func, lam: float, service: float, servers: int) -> None:
    """M/M/c functions reject negative rates, non-positive service times and zero servers."""
    with pytest.raises(ValueError):
        func(lam, service, servers)


def test_pk_unstable_and_bad_arguments_raise() -> None:
    """P-K functions raise on rho >= 1, negative sd and non-positive service time."""
    with pytest.raises(ValueError, match="unstable"):
        md1_wait_h(1.0, 1.0)
    with pytest.raises(ValueError, match="unstable"):
        mg1_wait_h(2.0, 1.0, 0.5)
    with pytest.raises(ValueError):
        mg1_wait_h(0.5, 1.0, -0.1)
    with pytest.raises(ValueError):
        md1_wait_h(0.5, 0.0)
    with pytest.raises(ValueError):
        md1_wait_h(-0.5, 1.0)


def test_scheduled_service_bad_arguments_raise() -> None:
    """Headways and capacities must be finite and positive."""
    with pytest.raises(ValueError):
        scheduled_departure_wait_h(0.0)
    with pytest.raises(ValueError):
        scheduled_departure_wait_h(math.inf)
    with pytest.raises(ValueError):
        batch_service_throughput_teu_per_day(0.0, 12.0)
    with pytest.raises(ValueError):
        batch_service_throughput_teu_per_day(100.0, -12.0)


def test_jackson_tandem_bad_stations_raise() -> None:
    """Malformed or overloaded stations in a tandem network raise ValueError."""
    with pytest.raises(ValueError, match=r"stations\[1\]"):
        jackson_tandem_time_in_system_h(1.0, [(0.5, 1), (2.0, 1)])  # rho = 2 at station 1
    with pytest.raises(ValueError, match=r"stations\[0\]"):
        jackson_tandem_time_in_system_h(1.0, [(0.5,)])  # type: ignore[list-item]
    with pytest.raises(ValueError):
        jackson_tandem_time_in_system_h(1.0, "ab")  # type: ignore[arg-type]


# --------------------------------------------------------------------------
# Properties (hypothesis)
# --------------------------------------------------------------------------

_rho = st.floats(min_value=0.01, max_value=0.99, allow_nan=False)
_service = st.floats(min_value=0.01, max_value=100.0, allow_nan=False)
_servers = st.integers(min_value=1, max_value=200)


@settings(max_examples=40, deadline=None)
@given(rho=_rho, service=_service, servers=_servers)
def test_more_servers_never_increase_wait(rho: float, service: float, servers: int) -> None:
    """Adding a server to a stable M/M/c queue never increases Wq or P(wait)."""
    lam = rho * servers / service
    a = lam * service
    assert erlang_c(servers + 1, a) <= erlang_c(servers, a) * (1 + 1e-12)
    assert mmc_wait_h(lam, service, servers + 1) <= mmc_wait_h(lam, service, servers) * (
        1 + 1e-12
    )


@settings(max_examples=40, deadline=None)
@given(servers=_servers, frac1=_rho, frac2=_rho)
def test_erlang_c_is_a_probability_increasing_in_load(
    servers: int, frac1: float, frac2: float
) -> None:
    """Erlang C lies in (0, 1) and does not decrease as offered load grows."""
    lo, hi = sorted((frac1 * servers, frac2 * servers))
    c_lo, c_hi = erlang_c(servers, lo), erlang_c(servers, hi)
    assert 0.0 < c_lo <= c_hi * (1 + 1e-12)
    assert c_hi < 1.0


@settings(max_examples=40, deadline=None)
@given(rho=_rho, service=_service)
def test_md1_wait_is_half_mm1_wait(rho: float, service: float) -> None:
    """At equal utilization the M/D/1 wait is exactly half the M/M/1 wait."""
    lam = rho / service
    mm1 = rho * service / (1.0 - rho)  # textbook rho/(mu - lambda)
    assert md1_wait_h(lam, service) == pytest.approx(mm1 / 2.0, rel=1e-9)
    assert mmc_wait_h(lam, service, 1) == pytest.approx(mm1, rel=1e-9)


@settings(max_examples=40, deadline=None)
@given(rho=_rho, service=_service, servers=_servers)
def test_mmc_identities(rho: float, service: float, servers: int) -> None:
    """W = Wq + E[S], Lq = lambda Wq, and utilization = lambda E[S] / c for stable M/M/c."""
    lam = rho * servers / service
    wq = mmc_wait_h(lam, service, servers)
    assert wq >= 0.0
    assert mmc_time_in_system_h(lam, service, servers) == pytest.approx(wq + service)
    assert mmc_mean_queue(lam, service, servers) == pytest.approx(lam * wq)
    assert mmc_utilization(lam, service, servers) == pytest.approx(rho)


@settings(max_examples=40, deadline=None)
@given(servers=st.integers(min_value=1, max_value=60), frac=_rho)
def test_erlang_c_matches_exact_fraction_property(servers: int, frac: float) -> None:
    """Erlang C matches the exact rational definition for arbitrary small systems."""
    a = Fraction(frac * servers).limit_denominator(1000)
    if a <= 0 or a >= servers:
        return
    assert erlang_c(servers, float(a)) == pytest.approx(
        float(_erlang_c_fraction(servers, a)), rel=1e-10, abs=1e-300
    )
