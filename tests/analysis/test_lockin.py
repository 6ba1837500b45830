"""Lock-in low-pass filter: n cascaded RC stages (physics.md §5)."""

import math

import numpy as np
import pytest
from scipy.integrate import quad
from scipy.optimize import brentq

from femtospin.analysis import SLOPES_DB, filter_order, noise_bandwidth, settle_time, step_response

ORDERS = {6: 1, 12: 2, 18: 3, 24: 4}


def _residual(n, x):
    """1 − P(n, x): what is left of a unit step after x time constants through n RC stages."""
    return math.exp(-x) * sum(x**k / math.factorial(k) for k in range(n))


def _expected_settle(n, tolerance):
    return brentq(lambda x: _residual(n, x) - tolerance, 1e-9, 200.0, xtol=1e-13)


@pytest.mark.parametrize("slope, rule_of_thumb", [(6, 4.6), (12, 6.6), (18, 8.4), (24, 10.0)])
def test_settle_time_one_percent_is_the_manuals_rule(slope, rule_of_thumb):
    expected = _expected_settle(ORDERS[slope], 0.01)
    assert settle_time(1.0, slope, 0.01) == pytest.approx(expected, rel=1e-9)
    assert settle_time(1.0, slope, 0.01) == pytest.approx(rule_of_thumb, abs=0.06)


@pytest.mark.parametrize("slope, taus", [(6, 6.91), (12, 9.23), (18, 11.23), (24, 13.06)])
def test_a_step_reading_settles_to_a_thousandth_by_default(slope, taus):
    assert settle_time(1.0, slope) == pytest.approx(_expected_settle(ORDERS[slope], 1e-3), rel=1e-9)
    assert settle_time(1.0, slope) == pytest.approx(taus, abs=0.01)


@pytest.mark.parametrize("slope", SLOPES_DB)
@pytest.mark.parametrize("tolerance", [0.1, 0.01, 1e-4])
@pytest.mark.parametrize("tau", [1e-3, 0.1, 3.0])
def test_settle_time_matches_closed_form_and_step_response(slope, tolerance, tau):
    t = settle_time(tau, slope, tolerance)
    assert t == pytest.approx(tau * _expected_settle(ORDERS[slope], tolerance), rel=1e-9)
    assert step_response(t, tau, slope) == pytest.approx(1 - tolerance, rel=1e-9)


@pytest.mark.parametrize("slope", SLOPES_DB)
def test_settle_time_scales_linearly_with_tau(slope):
    base = settle_time(1.0, slope)
    for tau in (0.01, 0.3, 10.0):
        assert settle_time(tau, slope) == pytest.approx(tau * base, rel=1e-12)


def test_steeper_filters_settle_later():
    times = [settle_time(0.1, s) for s in SLOPES_DB]
    assert times == sorted(times) and len(set(times)) == 4


@pytest.mark.parametrize("slope", SLOPES_DB)
def test_step_response_closed_form(slope):
    n = ORDERS[slope]
    tau = 0.3
    t = np.array([0.05, 0.3, 1.0, 3.0])
    expected = [1 - _residual(n, ti / tau) for ti in t]
    assert np.allclose(step_response(t, tau, slope), expected, rtol=1e-10, atol=1e-14)
    # nothing before (or at) the step, and it is monotonic towards 1
    assert step_response(0.0, tau, slope) == 0.0
    assert step_response(-1.0, tau, slope) == 0.0
    dense = step_response(np.linspace(0, 20 * tau, 200), tau, slope)
    assert np.all(np.diff(dense) >= 0) and dense[-1] < 1.0 + 1e-15


@pytest.mark.parametrize("slope", SLOPES_DB)
def test_step_response_depends_on_t_over_tau_only(slope):
    x = np.array([0.5, 2.0, 7.0])
    assert np.allclose(step_response(x * 0.01, 0.01, slope), step_response(x * 5.0, 5.0, slope), rtol=1e-12)


@pytest.mark.parametrize("slope, closed", [(6, 1 / 4), (12, 1 / 8), (18, 3 / 32), (24, 5 / 64)])
@pytest.mark.parametrize("tau", [0.01, 0.1, 1.0])
def test_noise_bandwidth(slope, closed, tau):
    assert noise_bandwidth(tau, slope) == pytest.approx(closed / tau, rel=1e-12)
    # the definition: ∫₀^∞ |H(f)|² df with |H|² = (1 + (2πfτ)²)^(−n)
    n = ORDERS[slope]
    numeric, _ = quad(lambda f: (1 + (2 * np.pi * f * tau) ** 2) ** (-n), 0, np.inf)
    assert noise_bandwidth(tau, slope) == pytest.approx(numeric, rel=1e-6)


@pytest.mark.parametrize("bad", [0, 3, 9, 30, -6, 6.5])
def test_bad_slope_raises(bad):
    with pytest.raises(ValueError, match="slope"):
        filter_order(bad)
    with pytest.raises(ValueError):
        settle_time(0.1, bad)
    with pytest.raises(ValueError):
        step_response(1.0, 0.1, bad)
    with pytest.raises(ValueError):
        noise_bandwidth(0.1, bad)


@pytest.mark.parametrize("tau", [0.0, -0.1])
def test_non_positive_time_constant_raises(tau):
    with pytest.raises(ValueError, match="time constant"):
        settle_time(tau, 24)


def test_non_positive_time_constant_rejected_by_every_filter_function():
    """BUG (analysis/_lockin.py): only settle_time validates τ > 0.

    noise_bandwidth(0, 24) returns inf and noise_bandwidth(-0.1, 24) a negative bandwidth
    (−0.78 Hz); step_response(1, 0, 24) returns 1 and step_response(1, -0.1, 24) NaN, all
    silently. SimTable.lockin_output takes sqrt(noise_bandwidth(...)), so a bad τ turns
    into NaN readings instead of an error. Fix: the same ``if tau <= 0: raise ValueError``
    as settle_time at the top of noise_bandwidth and step_response.
    """
    accepted = []
    for name, func in (("noise_bandwidth", lambda tau: noise_bandwidth(tau, 24)),
                       ("step_response", lambda tau: step_response(1.0, tau, 24))):
        for tau in (0.0, -0.1):
            try:
                with np.errstate(all="ignore"):
                    result = func(tau)
            except ValueError:
                continue
            accepted.append(f"{name}(tau={tau}) -> {result!r}")
    assert not accepted, "non-positive time constant accepted silently: " + "; ".join(accepted)


@pytest.mark.parametrize("tolerance", [0.0, 1.0, -0.01, 1.5])
def test_bad_tolerance_raises(tolerance):
    with pytest.raises(ValueError, match="tolerance"):
        settle_time(0.1, 24, tolerance)


def test_filter_orders():
    assert [filter_order(s) for s in SLOPES_DB] == [1, 2, 3, 4]
