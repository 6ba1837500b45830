"""Time-domain models of physics.md §4, checked against closed forms and conservation of area."""

import numpy as np
import pytest
from scipy.integrate import trapezoid
from scipy.optimize import brentq

from femtospin.analysis import (
    causal_exp_convolved,
    convolve_gaussian,
    exponential_offset,
    gaussian_kernel,
    spin_seebeck,
    spin_voltage,
    spin_voltage_weights,
    three_temperature,
)

# (tau_es, tau_ep, R): CoFeB, CoFeB|Pt, NiFe-like, an extreme pair, tau_es > tau_ep, and R = 1
SPIN_VOLTAGE_PARAMS = [
    (104.0, 420.0, 0.1),
    (104.0, 350.0, 0.1),
    (156.0, 417.0, 0.2),
    (30.0, 1000.0, 0.5),
    (300.0, 100.0, 0.3),
    (104.0, 420.0, 1.0),
]


def _midpoint_grid(start, stop, dt):
    """Uniform grid that never samples t = 0 exactly, so a step at 0 is integrated with midpoint accuracy."""
    return np.arange(start, stop, dt) + 0.5 * dt


# ------------------------------------------------------------------ spin voltage (§4a)
@pytest.mark.parametrize("tau_es, tau_ep, R", SPIN_VOLTAGE_PARAMS)
def test_spin_voltage_bracket_is_one_at_zero_plus(tau_es, tau_ep, R):
    assert spin_voltage(np.array([1e-6]), tau_es, tau_ep, R)[0] == pytest.approx(1.0, abs=1e-7)


@pytest.mark.parametrize("tau_es, tau_ep, R", SPIN_VOLTAGE_PARAMS)
def test_spin_voltage_is_causal_without_resolution(tau_es, tau_ep, R):
    t = np.linspace(-1000.0, -1e-6, 101)
    assert np.all(spin_voltage(t, tau_es, tau_ep, R) == 0.0)


@pytest.mark.parametrize("tau_es, tau_ep, R", SPIN_VOLTAGE_PARAMS)
def test_spin_voltage_weights_match_closed_form(tau_es, tau_ep, R):
    g_es, g_ep = 1 / tau_es, 1 / tau_ep
    a_es, a_ep = spin_voltage_weights(tau_es, tau_ep, R)
    assert a_es == pytest.approx((g_es - R * g_ep) / (g_es - g_ep))
    assert a_ep == pytest.approx((1 - R) * g_ep / (g_es - g_ep))
    # the bracket at a positive time, evaluated from the physics.md formula
    t = np.array([37.0, 250.0, 900.0])
    expected = a_es * np.exp(-t / tau_es) - a_ep * np.exp(-t / tau_ep)
    assert np.allclose(spin_voltage(t, tau_es, tau_ep, R), expected, rtol=1e-12, atol=1e-15)


def test_spin_voltage_needs_distinct_times():
    with pytest.raises(ValueError):
        spin_voltage(np.array([0.0, 1.0]), 200.0, 200.0, 0.1)


@pytest.mark.parametrize("tau_es, tau_ep, R", SPIN_VOLTAGE_PARAMS)
def test_spin_voltage_integral_is_R_tau_es(tau_es, tau_ep, R):
    dt = 0.05
    t = np.arange(0.0, 40 * max(tau_es, tau_ep), dt)
    y = spin_voltage(t, tau_es, tau_ep, R)
    assert trapezoid(y, t) == pytest.approx(R * tau_es, rel=1e-5)


@pytest.mark.parametrize("fwhm", [20.0, 40.0, 100.0])
@pytest.mark.parametrize("tau_es, tau_ep, R", SPIN_VOLTAGE_PARAMS)
def test_convolved_spin_voltage_keeps_the_area(tau_es, tau_ep, R, fwhm):
    dt = 0.1
    t = np.arange(-10 * fwhm, 40 * max(tau_es, tau_ep), dt)
    y = spin_voltage(t, tau_es, tau_ep, R, fwhm=fwhm)
    assert trapezoid(y, t) == pytest.approx(R * tau_es, rel=1e-5)


@pytest.mark.parametrize("fwhm", [10.0, 40.0])
@pytest.mark.parametrize("tau_es, tau_ep, R", SPIN_VOLTAGE_PARAMS[:4])
def test_convolved_spin_voltage_matches_numerical_convolution(tau_es, tau_ep, R, fwhm):
    dt = 0.05
    t = _midpoint_grid(-2000.0, 4000.0, dt)
    numeric = convolve_gaussian(t, spin_voltage(t, tau_es, tau_ep, R, fwhm=0.0), fwhm)
    closed = spin_voltage(t, tau_es, tau_ep, R, fwhm=fwhm)
    inner = (t > -1500) & (t < 3000)
    assert np.max(np.abs(closed[inner] - numeric[inner])) < 1e-5 * np.max(np.abs(closed))
    # and the convolution really smooths: at t = 0 the value is well below the bracket's 1
    assert closed[np.argmin(np.abs(t))] < 0.9


# ------------------------------------------------------------------ causal exponential ⊗ Gaussian
@pytest.mark.parametrize("rate", [0.0, 1 / 1000.0, 1 / 104.0, 1 / 10.0, 1.0])
@pytest.mark.parametrize("fwhm", [5.0, 40.0])
def test_causal_exp_convolved_matches_numerical_convolution(rate, fwhm):
    dt = 0.02
    t = _midpoint_grid(-500.0, 1500.0, dt)
    step = np.where(t >= 0, np.exp(-rate * np.clip(t, 0, None)), 0.0)
    numeric = convolve_gaussian(t, step, fwhm)
    closed = causal_exp_convolved(t, rate, fwhm)
    inner = (t > -300) & (t < 1000)
    assert np.max(np.abs(closed[inner] - numeric[inner])) < 1e-5


@pytest.mark.parametrize("rate", [1e-3, 0.1, 10.0, 1e3, 1e6])
@pytest.mark.parametrize("fwhm", [1e-3, 1.0, 40.0, 500.0])
def test_causal_exp_convolved_is_finite_far_out_and_for_fast_rates(rate, fwhm):
    t = np.array([-1e9, -1e6, -1e4, -100.0, -1.0, 0.0, 1.0, 100.0, 1e4, 1e6, 1e9])
    with np.errstate(over="raise", invalid="raise", divide="raise"):  # underflow to 0 is fine
        y = causal_exp_convolved(t, rate, fwhm)
    assert np.all(np.isfinite(y))
    assert np.all(y >= 0.0)
    assert np.all(y <= 1.0 + 1e-12)  # a convolution of a function in [0, 1] with a unit-area kernel
    assert y[0] == 0.0 and y[-1] == 0.0


@pytest.mark.parametrize("fwhm", [20.0, 40.0, 100.0])
def test_causal_exp_convolved_fast_decay_tends_to_kernel_over_rate(fwhm):
    """Θ(t)·exp(−Γt) with Γ ≫ 1/σ is a δ of weight 1/Γ: the convolution tends to gaussian_kernel/Γ."""
    rate = 1e4
    t = np.linspace(-3 * fwhm, 3 * fwhm, 61)
    assert np.allclose(causal_exp_convolved(t, rate, fwhm), gaussian_kernel(t, fwhm) / rate, rtol=1e-3, atol=1e-12)


@pytest.mark.parametrize("fwhm", [20.0, 40.0])
def test_causal_exp_convolved_slow_decay_tends_to_error_function_step(fwhm):
    """rate → 0: the convolution of a step with a Gaussian, 0.5 at t = 0 and 1 far after."""
    y = causal_exp_convolved(np.array([-10 * fwhm, 0.0, 10 * fwhm]), 0.0, fwhm)
    assert y == pytest.approx([0.0, 0.5, 1.0], abs=1e-9)


def test_exponential_offset_levels():
    t = np.array([-1.0, 1e-9, 1e6])
    y = exponential_offset(t, 310.0, offset=0.2)
    assert y == pytest.approx([0.0, 1.2, 0.2], abs=1e-9)


# ------------------------------------------------------------------ Gaussian kernel and convolution
@pytest.mark.parametrize("fwhm", [1.0, 24.0, 40.0, 160.0])
def test_gaussian_kernel_has_unit_area_and_requested_fwhm(fwhm):
    t = np.linspace(-10 * fwhm, 10 * fwhm, 20001)
    k = gaussian_kernel(t, fwhm)
    assert trapezoid(k, t) == pytest.approx(1.0, rel=1e-9)
    peak = gaussian_kernel(np.array([0.0]), fwhm)[0]
    assert k.max() == pytest.approx(peak)
    half_right = brentq(lambda x: gaussian_kernel(np.array([x]), fwhm)[0] - peak / 2, 0.0, 5 * fwhm)
    half_left = brentq(lambda x: gaussian_kernel(np.array([x]), fwhm)[0] - peak / 2, -5 * fwhm, 0.0)
    assert half_right - half_left == pytest.approx(fwhm, rel=1e-9)


@pytest.mark.parametrize("fwhm_over_dt", [1.5, 2.0, 5.0, 20.0])
def test_convolve_gaussian_preserves_area_of_a_pulse(fwhm_over_dt):
    dt = 2.0
    fwhm = fwhm_over_dt * dt
    t = np.arange(-1000.0, 1000.0, dt)
    # a normalized kernel and a compact (rectangular) pulse, both well inside the grid
    pulse = gaussian_kernel(t - 100.0, 30.0)
    box = np.where(np.abs(t - 40.0) <= 60.0, 1.0, 0.0)
    for y in (pulse, box):
        out = convolve_gaussian(t, y, fwhm)
        assert out.sum() * dt == pytest.approx(y.sum() * dt, rel=1e-3)
    # it was broadened: the pulse's peak drops, the box's edges are no longer sharp
    assert convolve_gaussian(t, pulse, fwhm).max() < pulse.max()
    edge = convolve_gaussian(t, box, fwhm)[np.searchsorted(t, 100.0)]
    assert 0.05 < edge < 0.95


def test_convolve_gaussian_preserves_area_when_fwhm_equals_the_step():
    """Documented contract: "The area of y is preserved up to the edges".

    BUG (analysis/_models.py, convolve_gaussian): the sampled kernel
    ``gaussian_kernel(...) * dt`` is not renormalized to sum 1. For fwhm ≲ 1.5·dt the
    Riemann sum of an undersampled Gaussian is not 1 (1.057 at fwhm = dt, 1.88 at
    fwhm = dt/2), so every output is scaled by that factor.
    Fix: ``kernel /= kernel.sum()`` after building it.
    """
    dt = 10.0
    t = np.arange(-500.0, 500.0, dt)
    y = np.zeros_like(t)
    y[t.size // 2] = 1.0  # a unit impulse of area dt
    out = convolve_gaussian(t, y, fwhm=dt)
    assert out.sum() == pytest.approx(1.0, rel=1e-3), (
        f"convolve_gaussian scales the area by {out.sum():.4f} when fwhm == dt: "
        "the discrete kernel is not normalized to unit sum")


def test_convolve_gaussian_of_a_constant_is_the_constant():
    t = np.arange(0.0, 500.0, 1.0)
    assert np.allclose(convolve_gaussian(t, np.full_like(t, 3.0), 40.0), 3.0, rtol=1e-9)


def test_convolve_gaussian_zero_width_is_identity():
    t = np.arange(0.0, 10.0)
    y = np.sin(t)
    out = convolve_gaussian(t, y, 0.0)
    assert np.array_equal(out, y) and out is not y


# ------------------------------------------------------------------ spin Seebeck (§4b)
def test_spin_seebeck_is_zero_before_time_zero():
    t = np.linspace(-2000.0, -1e-6, 50)
    assert np.all(spin_seebeck(t) == 0.0)


@pytest.mark.parametrize("offset", [0.0, 0.25, 0.6])
def test_spin_seebeck_rises_then_decays_to_offset(offset):
    tau_th, tau_ep = 45.0, 310.0
    t = np.arange(0.0, 3000.0, 0.5)
    y = spin_seebeck(t, tau_th=tau_th, tau_ep=tau_ep, offset=offset)
    assert y[0] == 0.0
    i_peak = int(np.argmax(y))
    assert 0 < t[i_peak] < 300.0  # rises over ≈ 100 fs
    assert np.all(np.diff(y[: i_peak + 1]) >= 0)  # monotonic rise
    assert np.all(np.diff(y[i_peak:]) <= 1e-15)  # then monotonic decay
    assert y[i_peak] > offset
    late = spin_seebeck(np.array([40 * tau_ep]), tau_th=tau_th, tau_ep=tau_ep, offset=offset)[0]
    assert late == pytest.approx(offset, abs=1e-12)
    # closed form from physics.md §4b
    tt = np.array([20.0, 100.0, 700.0])
    expected = (1 - np.exp(-tt / tau_th)) * ((1 - offset) * np.exp(-tt / tau_ep) + offset)
    assert np.allclose(spin_seebeck(tt, tau_th, tau_ep, offset), expected, rtol=1e-12)


def _crossing(t, y, level):
    i = int(np.argmax(y >= level))
    return t[i - 1] + (level - y[i - 1]) * (t[i] - t[i - 1]) / (y[i] - y[i - 1])


@pytest.mark.parametrize("tau_th", [20.0, 45.0, 80.0])
def test_spin_seebeck_rise_time_is_2p2_tau_th(tau_th):
    # without the decay (tau_ep → ∞) the rise is 1 − exp(−t/τ_th): 10–90 % in τ_th·ln 9 ≈ 2.2·τ_th
    t = np.arange(0.0, 20 * tau_th, 0.01)
    y = spin_seebeck(t, tau_th=tau_th, tau_ep=1e12, offset=0.25)
    top = y.max()
    rise = _crossing(t, y, 0.9 * top) - _crossing(t, y, 0.1 * top)
    assert rise == pytest.approx(np.log(9.0) * tau_th, rel=1e-3)
    assert rise / tau_th == pytest.approx(2.2, abs=0.01)


@pytest.mark.parametrize("fwhm", [4.0, 40.0])
def test_spin_seebeck_convolved_matches_numerical_convolution(fwhm):
    dt = 0.05
    t = _midpoint_grid(-1000.0, 3000.0, dt)
    numeric = convolve_gaussian(t, spin_seebeck(t), fwhm)
    closed = spin_seebeck(t, fwhm=fwhm)
    inner = (t > -800) & (t < 2500)
    assert np.max(np.abs(closed[inner] - numeric[inner])) < 1e-5


# ------------------------------------------------------------------ three-temperature model (§4d)
TTM = dict(A1=0.04, A2=0.12, A3=0.02, tau_m=100.0, tau_e=500.0, t0_diff=5000.0)


def _ttm_reference(t, A1, A2, tau_m, tau_e, t0_diff):
    """physics.md §4d, bracket only, written out independently."""
    c_m = (A2 * tau_e - A1 * tau_m) / (tau_e - tau_m)
    c_e = tau_e * (A1 - A2) / (tau_e - tau_m)
    return A1 / np.sqrt(t / t0_diff + 1) - c_m * np.exp(-t / tau_m) - c_e * np.exp(-t / tau_e)


@pytest.mark.parametrize("params", [
    TTM,
    dict(A1=0.1, A2=0.3, A3=0.0, tau_m=50.0, tau_e=800.0, t0_diff=2000.0),
    dict(A1=0.2, A2=0.05, A3=0.1, tau_m=600.0, tau_e=200.0, t0_diff=10000.0),
])
def test_three_temperature_without_resolution(params):
    p = dict(params)
    A1, A2, tau_m, tau_e = p["A1"], p["A2"], p["tau_m"], p["tau_e"]
    assert np.all(three_temperature(np.linspace(-3000, -1e-6, 30), **p) == 0.0)
    # the value at t = 0+ is A1 − c_m − c_e, which the closed form makes exactly 0
    c_m = (A2 * tau_e - A1 * tau_m) / (tau_e - tau_m)
    c_e = tau_e * (A1 - A2) / (tau_e - tau_m)
    assert A1 - c_m - c_e == pytest.approx(0.0, abs=1e-15)
    assert three_temperature(np.array([1e-12]), **p)[0] == pytest.approx(A1 - c_m - c_e, abs=1e-13)
    t = np.array([10.0, 150.0, 1000.0, 20000.0])
    ref = _ttm_reference(t, A1, A2, tau_m, tau_e, p["t0_diff"])
    assert np.allclose(three_temperature(t, **p), ref, rtol=1e-12, atol=1e-15)
    # long after both times only the heat-diffusion term A1/√(t/t0 + 1) is left
    late = 100 * max(tau_m, tau_e)
    expected = A1 / np.sqrt(late / p["t0_diff"] + 1)
    assert three_temperature(np.array([late]), **p)[0] == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("tau", [100.0, 250.0])
def test_three_temperature_equal_times_raise(tau):
    p = dict(TTM, tau_m=tau, tau_e=tau)
    with pytest.raises(ValueError):
        three_temperature(np.array([0.0, 10.0]), **p)


@pytest.mark.parametrize("fwhm", [20.0, 50.0])
def test_three_temperature_with_resolution_has_the_A3_spike(fwhm):
    t = np.arange(-500.0, 3000.0, 0.5)
    with_spike = three_temperature(t, **TTM, fwhm=fwhm)
    without = three_temperature(t, **dict(TTM, A3=0.0), fwhm=fwhm)
    spike = with_spike - without
    # documented: the δ term broadened by the cross-correlation is a Gaussian of peak height A3 at t = 0
    assert spike.max() == pytest.approx(TTM["A3"], rel=1e-9)
    assert t[np.argmax(spike)] == 0.0
    assert np.allclose(spike, TTM["A3"] * gaussian_kernel(t, fwhm) / gaussian_kernel(np.array([0.0]), fwhm)[0],
                       atol=1e-12)
    # the spike makes the convolved curve exceed the smooth one right at t = 0
    assert with_spike[t == 0.0][0] > without[t == 0.0][0] + 0.5 * TTM["A3"]
    # no spike without resolution
    assert np.array_equal(three_temperature(t, **TTM), three_temperature(t, **dict(TTM, A3=0.0)))


def test_three_temperature_smooth_part_is_the_convolved_bracket():
    fwhm = 40.0
    dt = 0.05
    t = _midpoint_grid(-1000.0, 3000.0, dt)
    numeric = convolve_gaussian(t, three_temperature(t, **dict(TTM, A3=0.0)), fwhm)
    convolved = three_temperature(t, **dict(TTM, A3=0.0), fwhm=fwhm)
    inner = (t > -700) & (t < 2500)
    # the library integrates on a grid of step min(fwhm/20, 1 fs) = 1 fs: allow its discretization
    assert np.max(np.abs(convolved[inner] - numeric[inner])) < 2e-3 * np.max(np.abs(numeric))


@pytest.mark.parametrize("step, offset", [(10.0, 0.0), (10.0, 3.7), (10.0, 5.0), (40.0, 13.0), (2.5, 1.1)])
def test_the_peak_between_samples_is_found_whatever_the_grid(step, offset):
    from femtospin.analysis import peak_magnitude

    t = np.arange(-300.0, 300.0, step) + offset
    width = 60.0  # a Gaussian of 60 fs rms: its largest sample alone falls short by up to (step/2)²/(2·width²)
    s = -np.exp(-0.5 * (t / width) ** 2)
    assert peak_magnitude(t, s) == pytest.approx(1.0, abs=2e-4 * (step / 10.0) ** 4 + 1e-12)
    near = offset + step * np.arange(-3.0, 4.0)
    parabola = 3.0 - 0.01 * ((near - offset - 0.3 * step) / step) ** 2  # a parabola's vertex is found exactly
    assert peak_magnitude(near, parabola) == pytest.approx(3.0, rel=1e-12)
