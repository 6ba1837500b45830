"""The simulated table follows the symmetries and instrument behaviour of physics.md §3–5."""

import math
import re

import numpy as np
import pytest

from femtospin.analysis import noise_bandwidth, settle_time
from femtospin.devices import FS_PER_MM_DOUBLE_PASS, N_AIR
from femtospin.sim_devices import (
    LIBRARY,
    Detection,
    Noise,
    SimClock,
    SimTable,
    bi_co,
    get_sample,
)

DELAYS = np.arange(-1000.0, 3000.0, 5.0)
F_N = ["CoFeB(5)|Pt(3)", "CoFe(3)|Pt(3)", "NiFe(9)|Pt(3)", "CoFeB(5)|W(3)", "YIG(3um)|Pt(5.5)"]
SINGLE_F = {"CoFeB(5)": "CoFeB(5)|Pt(3)", "CoFe(3)": "CoFe(3)|Pt(3)", "NiFe(9)": "NiFe(9)|Pt(3)"}


def make(sample="CoFeB(5)|Pt(3)", noise=None, **kwargs):
    s = get_sample(sample) if isinstance(sample, str) else sample
    return SimTable(s, noise=Noise.off() if noise is None else noise, clock=SimClock(accelerated=True), **kwargs)


def saturate(table, sign, field=50.0):
    """Saturate along ±field, then return to zero field (removes the Nernst part)."""
    table.set_field(sign * field)
    table.set_field(0.0)


def rms(x):
    return float(np.sqrt(np.mean(np.square(x))))


def corr(a, b):
    return float(np.corrcoef(a, b)[0, 1])


def motor_mm_for(delay_fs, table):
    return table.true_time_zero_mm + delay_fs / (FS_PER_MM_DOUBLE_PASS * N_AIR)


def turning_parts(table):
    table.set_knob("angle_deg", 0)
    a = table.waveform(DELAYS)
    table.set_knob("angle_deg", 180)
    b = table.waveform(DELAYS)
    table.set_knob("angle_deg", 0)
    return (a + b) / 2, (a - b) / 2, a, b


def m_parts(table):
    saturate(table, +1)
    a = table.waveform(DELAYS)
    saturate(table, -1)
    b = table.waveform(DELAYS)
    return (a - b) / 2, (a + b) / 2


# ------------------------------------------------------------------ sample library
def test_library_holds_the_published_samples():
    for name in ["CoFeB(5)|Pt(3)", "CoFeB(5)", "CoFe(3)|Pt(3)", "CoFe(3)", "NiFe(9)|Pt(3)", "NiFe(9)",
                 "CoFeB(5)|W(3)", "YIG(3um)|Pt(5.5)"]:
        assert name in LIBRARY
        assert get_sample(name) is LIBRARY[name]
    valves = [s for s in LIBRARY.values() if s.model == "spin_valve"]
    assert valves and any("Co" in s.stack and "Pt" in s.stack for s in valves)
    valve = valves[0]
    assert len(valve.layers) == 2 and valve.layers[0].coercive_mT != valve.layers[1].coercive_mT
    assert LIBRARY["YIG(3um)|Pt(5.5)"].model == "spin_seebeck"
    # W reverses the sign of the spin Hall angle of Pt
    assert LIBRARY["CoFeB(5)|W(3)"].js_amplitude < 0 < LIBRARY["CoFeB(5)|Pt(3)"].js_amplitude
    # NiFe decays about 50 % more slowly than CoFeB (physics.md §4a)
    assert LIBRARY["NiFe(9)"].tau_es_fs / LIBRARY["CoFeB(5)"].tau_es_fs == pytest.approx(1.5, rel=0.1)


@pytest.mark.parametrize("x", [2.0, 10.0, 25.5])
def test_bi_co_any_thickness(x):
    name = f"Bi({x:g})|Co(5)"
    s = get_sample(name)
    assert s.name == name
    assert s == bi_co(x)
    assert s.helicity_amplitude > 0 and s.js_amplitude > 0


def test_bi_co_parts_grow_with_thickness():
    thin, thick = bi_co(2.0), bi_co(50.0)
    assert thick.js_amplitude > thin.js_amplitude
    assert thick.helicity_amplitude > thin.helicity_amplitude
    # the photo-spin current has the longer diffusion length: relatively more of it is gained
    assert thick.helicity_amplitude / thin.helicity_amplitude > thick.js_amplitude / thin.js_amplitude


@pytest.mark.parametrize("name", ["Unobtainium(3)", "CoFeB(5)|Au(3)", "Bi(10)|Co(6)"])
def test_unknown_sample_is_named_in_the_error(name):
    with pytest.raises(ValueError, match=re.escape(name)):
        get_sample(name)


# ------------------------------------------------------------------ 180° turning
@pytest.mark.parametrize("sample", F_N)
def test_f_n_signal_reverses_under_turning(sample):
    table = make(sample)
    saturate(table, +1)
    s_plus, s_minus, a, b = turning_parts(table)
    assert rms(s_minus) > 20 * rms(s_plus)
    assert corr(a, b) < -0.99  # waveform(180°) ≈ −waveform(0°)
    assert np.max(np.abs(a + b)) < 0.1 * np.max(np.abs(a))


@pytest.mark.parametrize("single, stack", SINGLE_F.items())
def test_single_f_layer_has_turning_even_demagnetization_field(single, stack):
    f = make(single)
    saturate(f, +1)
    s_plus, s_minus, a, _ = turning_parts(f)
    peak = np.max(np.abs(a))
    assert peak > 0
    assert np.max(np.abs(s_plus)) > 0.2 * peak  # E_M ∝ dM/dt does not reverse
    assert np.max(np.abs(s_minus)) > 0.1 * peak  # the spurious electric dipole does
    fn = make(stack)
    saturate(fn, +1)
    ratio = np.max(np.abs(fn.waveform(DELAYS))) / peak
    assert 20 < ratio < 500  # about 100× smaller than the F|N signal


def test_single_f_turning_even_part_follows_magnetization():
    """S+ of a single F holds E_M ∝ dM/dt: its M-odd part is the demagnetization field."""
    table = make("CoFeB(5)")
    saturate(table, +1)
    plus_m, _, _, _ = turning_parts(table)
    saturate(table, -1)
    minus_m, _, _, _ = turning_parts(table)
    demag = (plus_m - minus_m) / 2
    assert rms(demag) > 0.3 * rms(plus_m)


# ------------------------------------------------------------------ ±M
@pytest.mark.parametrize("sample", F_N + ["Bi(10)|Co(5)"])
def test_magnetization_odd_part(sample):
    table = make(sample)
    saturate(table, +1)
    assert table.magnetization == 1.0
    saturate(table, -1)
    assert table.magnetization == -1.0
    odd, even = m_parts(table)
    assert rms(odd) > 0
    assert rms(even) < 0.1 * rms(odd)


def test_magnetization_odd_part_of_cofeb_pt_is_the_spin_current():
    table = make("CoFeB(5)|Pt(3)")
    odd, even = m_parts(table)
    assert np.max(np.abs(even)) < 0.02 * np.max(np.abs(odd))
    # and it reverses when the sample is turned (it is j_s, an electric dipole)
    table.set_knob("angle_deg", 180)
    odd_turned, _ = m_parts(table)
    assert corr(odd, odd_turned) < -0.999


def test_tungsten_reverses_the_sign_of_platinum():
    odd_pt, _ = m_parts(make("CoFeB(5)|Pt(3)"))
    odd_w, _ = m_parts(make("CoFeB(5)|W(3)"))
    assert corr(odd_pt, odd_w) < -0.99
    expected = abs(LIBRARY["CoFeB(5)|W(3)"].js_amplitude / LIBRARY["CoFeB(5)|Pt(3)"].js_amplitude)
    assert np.max(np.abs(odd_w)) / np.max(np.abs(odd_pt)) == pytest.approx(expected, rel=0.05)


# ------------------------------------------------------------------ helicity
def _helicity_odd(table):
    table.set_knob("pump_qwp_deg", 45)
    sp = table.waveform(DELAYS)
    table.set_knob("pump_qwp_deg", 135)
    sm = table.waveform(DELAYS)
    table.set_knob("pump_qwp_deg", 0)
    return (sp - sm) / 2, sp


def test_bi_co_has_a_helicity_odd_part_even_without_net_magnetization():
    table = make("Bi(100)|Co(5)")  # thicker than the photo-spin current's diffusion length √(D·τ_s) ≈ 49 nm
    saturate(table, +1)
    hd, sp = _helicity_odd(table)
    assert np.max(np.abs(hd)) > 0.05 * np.max(np.abs(sp))
    # bring M to zero: half of the hysterons switched at −H_c
    table.set_field(-table.sample.coercive_mT)
    table.set_field(0.0)
    assert abs(table.magnetization) < 0.05
    hd0, _ = _helicity_odd(table)
    assert np.allclose(hd0, hd, rtol=1e-9, atol=1e-12)
    # photo-spin current: a broader waveform than the M-odd (demagnetization-driven) one
    odd, _ = m_parts(table)

    def width(y):
        y = np.abs(y)
        return np.sum(y > 0.5 * y.max()) * (DELAYS[1] - DELAYS[0])

    assert width(hd) > 1.1 * width(odd)  # through the detector; the bandwidths of j_s: tests/analysis


@pytest.mark.parametrize("psi", [0.0, 30.0, 90.0])
def test_a_thz_polarizer_separates_the_photo_spin_current_from_the_m_odd_field(psi):
    """The photo-spin current's field is polarized across the M-odd one: a polarizer at ψ passes cos ψ of the
    M-odd field and sin ψ of the helicity-odd one (ψ = 0 removes the photo-spin current, 90° the spin current)."""
    bare = make("Bi(100)|Co(5)")
    hd_bare, _ = _helicity_odd(bare)
    odd_bare, _ = m_parts(bare)
    table = make("Bi(100)|Co(5)", detection=Detection(polarizer_deg=psi))
    hd, _ = _helicity_odd(table)
    odd, _ = m_parts(table)
    c, s = np.cos(np.radians(psi)), np.sin(np.radians(psi))
    scale = np.max(np.abs(odd_bare))
    np.testing.assert_allclose(odd, c * odd_bare, atol=1e-12 * scale)
    np.testing.assert_allclose(hd, s * hd_bare, atol=1e-12 * scale)
    # the two components add in quadrature over the polarizer angle: nothing is lost, only projected
    assert np.max(np.abs(odd)) ** 2 / np.max(np.abs(odd_bare)) ** 2 + \
        np.max(np.abs(hd)) ** 2 / np.max(np.abs(hd_bare)) ** 2 == pytest.approx(1.0)


def test_a_polarizer_angle_must_be_finite():
    with pytest.raises(ValueError, match="polarizer angle must be finite"):
        Detection(polarizer_deg=float("nan"))


def test_cofeb_pt_has_no_helicity_odd_part():
    table = make("CoFeB(5)|Pt(3)")
    saturate(table, +1)
    hd, sp = _helicity_odd(table)
    assert np.max(np.abs(hd)) < 1e-3 * np.max(np.abs(sp))


def test_quarter_wave_plate_sweep_decomposes_into_c_l1_l2_d():
    """S(φ) = C·sin 2φ + L1·sin 4φ + L2·cos 4φ + D at a fixed delay, physics.md §3."""
    table = make("Bi(20)|Co(5)")
    saturate(table, +1)
    phis = np.arange(0.0, 180.0, 7.5)
    d = np.array([150.0])
    signal = []
    for phi in phis:
        table.set_knob("pump_qwp_deg", phi)
        signal.append(table.waveform(d)[0])
    p = np.radians(phis)
    design = np.column_stack([np.sin(2 * p), np.sin(4 * p), np.cos(4 * p), np.ones_like(p)])
    (c, l1, l2, dc), res, *_ = np.linalg.lstsq(design, np.array(signal), rcond=None)
    assert np.allclose(design @ [c, l1, l2, dc], signal, atol=1e-12)  # the model is exact
    s = table.sample
    assert c / l1 == pytest.approx(s.helicity_amplitude / s.linear_qwp[0], rel=1e-6)
    assert l2 / l1 == pytest.approx(s.linear_qwp[1] / s.linear_qwp[0], rel=1e-6)
    assert abs(c) > 0 and abs(dc) > 0


# ------------------------------------------------------------------ Nernst part
@pytest.mark.parametrize("sample", ["CoFeB(5)|Pt(3)", "CoFeB(5)|W(3)", "YIG(3um)|Pt(5.5)"])
def test_nernst_part_grows_linearly_with_field(sample):
    table = make(sample)
    table.set_field(60.0)  # saturate positive: M stays +1 at every field below
    b0, step = 20.0, 10.0
    waves = []
    for k in range(4):
        table.set_field(b0 + k * step)
        assert table.magnetization == 1.0
        waves.append(table.waveform(DELAYS))
    d1, d2, d3 = (w - waves[0] for w in waves[1:])
    assert rms(d1) > 0
    assert np.allclose(d2, 2 * d1, rtol=1e-9, atol=1e-15)
    assert np.allclose(d3, 3 * d1, rtol=1e-9, atol=1e-15)
    # slope per mT as in the sample parameters (shape normalized to a peak of 1)
    # (the shape's peak is normalized on the 1 fs grid; DELAYS samples it every 5 fs)
    assert np.max(np.abs(d1)) == pytest.approx(abs(table.sample.nernst_per_mT) * step, rel=1e-3)
    # at zero field after saturating, the Nernst part is gone
    table.set_field(0.0)
    assert np.allclose(waves[0] - table.waveform(DELAYS), d1 * b0 / step, rtol=1e-9, atol=1e-15)


# ------------------------------------------------------------------ hysteresis
HYST = ["CoFeB(5)|Pt(3)", "CoFe(3)|Pt(3)", "YIG(3um)|Pt(5.5)", "Bi(10)|Co(5)"]


def _sweep(table, fields):
    """Magnetization after each field of a sweep."""
    m = []
    for b in fields:
        table.set_field(b)
        m.append(table.magnetization)
    return np.array(m)


@pytest.mark.parametrize("sample", HYST + ["NiFe(9)|Pt(3)"])
def test_hysteresis_loop_switches_at_the_coercive_field(sample):
    table = make(sample)
    hc = table.sample.coercive_mT
    step = 0.05
    top = 10 * hc + 5
    table.set_field(top)
    assert table.magnetization == 1.0
    down = np.arange(top, -top - step / 2, -step)
    m_down = _sweep(table, down)
    assert table.magnetization == -1.0
    assert np.all(np.diff(m_down) <= 0)
    b_down = down[np.argmax(m_down <= 0)]  # first field where M has reversed (half the hysterons)
    up = np.arange(-top, top + step / 2, step)
    m_up = _sweep(table, up)
    assert table.magnetization == 1.0
    assert np.all(np.diff(m_up) >= 0)
    b_up = up[np.argmax(m_up >= 0)]
    # remanence: at zero field on either branch M keeps its sign
    assert m_down[np.argmin(np.abs(down))] == 1.0
    assert m_up[np.argmin(np.abs(up))] < 0
    assert b_down == pytest.approx(-hc, abs=step + 1e-9)
    assert b_up == pytest.approx(hc, abs=step + 1e-9)


@pytest.mark.parametrize("sample", HYST)
def test_minor_loop_below_coercive_field_keeps_magnetization(sample):
    table = make(sample)
    s = table.sample
    reverse = s.coercive_mT - 3 * s.switching_width_mT
    assert reverse > 0
    for sign in (+1, -1):
        saturate(table, sign)
        table.set_field(-sign * reverse)
        assert table.magnetization == sign
        table.set_field(0.0)
        assert table.magnetization == sign
        # a reverse field beyond the switching distribution does flip it
        table.set_field(-sign * (s.coercive_mT + 3 * s.switching_width_mT))
        assert table.magnetization == -sign


def test_thz_amplitude_loop_follows_magnetization_loop():
    """§3: a THz-amplitude-vs-field loop must match the magnetization hysteresis loop."""
    table = make("CoFeB(5)|Pt(3)")
    d = np.array([_peak_delay(table)])
    table.set_field(20.0)
    fields = np.concatenate([np.arange(20.0, -20.0, -0.25), np.arange(-20.0, 20.0, 0.25)])
    m, s = [], []
    for b in fields:
        table.set_field(b)
        m.append(table.magnetization)
        s.append(table.waveform(d)[0])
    m, s = np.array(m), np.array(s)
    # the loop is the magnetization loop up to a scale, apart from the small M-independent parts
    # (background, field-linear Nernst), each at most its amplitude since every shape peaks at 1
    scale = s[0] / m[0]
    sample = table.sample
    allowed = 2 * (sample.background + abs(sample.nernst_per_mT) * np.max(np.abs(fields)))
    assert np.max(np.abs(s - scale * m)) <= allowed
    assert allowed < 0.1 * abs(scale)
    # both branches switch: the loop is open at zero field
    zero = np.flatnonzero(fields == 0.0)
    assert np.sign(s[zero[0]]) == -np.sign(s[zero[1]])


def test_spin_valve_antiparallel_state():
    """§4e: saturate, then a reverse field between the two coercive fields flips only the soft layer."""
    table = make("Co/Pt spin valve")
    soft, hard = (layer.coercive_mT for layer in table.sample.layers)
    table.set_field(2 * hard)
    table.set_field(0.0)
    assert [mg.m for mg in table.magnets] == [1.0, 1.0]
    table.set_field(-(soft + hard) / 2)
    table.set_field(0.0)
    assert [mg.m for mg in table.magnets] == [-1.0, 1.0]
    assert table.magnetization == -1.0


# ------------------------------------------------------------------ temperature (§4b)
def _settle_temperature(table, temperature):
    table.thermal.set(table.clock.now(), temperature, 0)
    table.clock.advance(50 * table.thermal.lag_s)
    assert table.temperature_K() == pytest.approx(temperature, abs=1e-6)


def test_yig_pt_amplitude_follows_curie_power_law():
    table = make("YIG(3um)|Pt(5.5)")
    t_c, alpha = 550.0, 2.0
    amplitude = {}
    for temperature in (300.0, 400.0, 500.0):
        _settle_temperature(table, temperature)
        odd, _ = m_parts(table)
        amplitude[temperature] = rms(odd)
    for temperature in (400.0, 500.0):
        expected = ((t_c - temperature) / (t_c - 300.0)) ** alpha
        assert amplitude[temperature] / amplitude[300.0] == pytest.approx(expected, rel=1e-6)
    # above T_C the ferrimagnet is gone
    _settle_temperature(table, 560.0)
    odd, _ = m_parts(table)
    assert rms(odd) == 0.0


def test_heater_is_first_order():
    table = make("YIG(3um)|Pt(5.5)")
    lag = table.thermal.lag_s
    start = table.clock.now()
    table.thermal.set(start, 400.0, 0)
    table.clock.advance(lag)
    now = table.clock.now()
    assert now - start >= lag
    assert table.temperature_K(now) == pytest.approx(400.0 - 100.0 * math.exp(-(now - start) / lag), abs=1e-9)


# ------------------------------------------------------------------ noise
def test_same_seed_gives_identical_readings_and_different_seeds_differ():
    def run(seed):
        table = make("CoFeB(5)|Pt(3)", Noise(seed=seed))  # drift included: simulated time is exact
        table.move_stage(motor_mm_for(100.0, table))
        table.clock.advance(10.0)
        return [table.lockin_output() for _ in range(20)]

    assert run(7) == run(7)
    assert run(7) != run(8)
    xs = np.array([x for x, _, _ in run(7)])
    assert np.std(xs) > 0


def test_polling_the_power_meter_changes_no_reading_of_a_seeded_run():
    def run(polls):
        table = make("CoFeB(5)|Pt(3)", Noise(seed=7))
        readings = []
        for _ in range(10):
            table.clock.advance(1.3)
            for _ in range(polls):  # the laser watch reads it on its own, as often as wall time allows
                table.pump_power_W()
            readings.append((table.pump_power_W(), table.lockin_output()))
        return readings

    quiet, polled = run(0), run(5)
    assert quiet == polled
    powers = [p for p, _ in quiet]
    assert len(set(powers)) == len(powers)  # noisy from one instant to the next, not frozen


@pytest.mark.parametrize("tau, slope", [(0.4, 24), (0.1, 6), (1.0, 12), (0.03, 18)])
def test_noise_scales_with_sqrt_noise_bandwidth(tau, slope):
    def std_x(time_constant, slope_db):
        table = make("CoFeB(5)|Pt(3)", Noise(seed=11))
        table.lockin.time_constant_s = time_constant
        table.lockin.slope_db = slope_db
        table.move_stage(motor_mm_for(-2000.0, table))  # before time zero: additive noise only
        table.clock.advance(100.0)
        return np.std([table.lockin_output()[0] for _ in range(1500)])

    reference = std_x(0.1, 24)
    assert reference == pytest.approx(Noise().additive_V, rel=0.1)  # the model is referred to τ = 100 ms, 24 dB
    expected = math.sqrt(noise_bandwidth(tau, slope) / noise_bandwidth(0.1, 24))
    assert std_x(tau, slope) / reference == pytest.approx(expected, rel=0.01)


def test_noise_grows_with_signal_on_the_peak():
    """σ² = σ_α² + σ_β²μ² + σ_τ²(dμ/dt)²: the peak is noisier than the baseline."""
    def std_at(delay):
        table = make("CoFeB(5)|Pt(3)", Noise(seed=3, drift_rms=0.0))
        table.move_stage(motor_mm_for(delay, table))
        table.clock.advance(10.0)
        return np.std([table.lockin_output()[0] for _ in range(800)])

    table = make("CoFeB(5)|Pt(3)")
    peak_delay = DELAYS[np.argmax(np.abs(table.waveform(DELAYS)))]
    assert std_at(peak_delay) > 1.5 * std_at(-2000.0)


# ------------------------------------------------------------------ lock-in filter, overload
def _peak_delay(table):
    return float(DELAYS[np.argmax(np.abs(table.waveform(DELAYS)))])


@pytest.mark.parametrize("slope", [6, 12, 24])
def test_lockin_output_settles_after_settle_time(slope):
    table = make("CoFeB(5)|Pt(3)")
    tau = 0.3
    table.lockin.time_constant_s = tau
    table.lockin.slope_db = slope
    table.move_stage(motor_mm_for(-20000.0, table))
    table.clock.advance(100 * tau)
    assert table.waveform(np.array([table.delay_fs()]))[0] == 0.0  # long before time zero
    table.move_stage(motor_mm_for(_peak_delay(table), table))
    settled = table.waveform(np.array([table.delay_fs()]))[0]
    assert abs(settled) > 1e-4
    x_now, _, _ = table.lockin_output()
    assert abs(x_now - settled) > 0.5 * abs(settled)  # read at once: not settled
    table.clock.advance(tau)
    x_tau, _, _ = table.lockin_output()
    n = slope // 6
    expected_fraction = 1 - math.exp(-1) * sum(1 / math.factorial(k) for k in range(n))  # P(n, 1)
    assert x_tau / settled == pytest.approx(expected_fraction, abs=0.01)
    table.clock.advance(settle_time(tau, slope) - tau)
    x_late, _, _ = table.lockin_output()
    assert abs(x_late - settled) < 0.02 * abs(settled)


def test_lockin_phase_rotates_x_into_y():
    table = make("CoFeB(5)|Pt(3)")
    table.move_stage(motor_mm_for(_peak_delay(table), table))
    table.clock.advance(10.0)
    x0, y0, _ = table.lockin_output()
    table.lockin.phase_deg = 90.0
    x90, y90, _ = table.lockin_output()
    assert y0 == pytest.approx(0.0, abs=1e-12)
    assert x90 == pytest.approx(0.0, abs=1e-12)
    assert abs(y90) == pytest.approx(abs(x0), rel=1e-9)


def test_overload_clips_to_sensitivity():
    table = make("CoFeB(5)|Pt(3)")
    table.move_stage(motor_mm_for(_peak_delay(table), table))
    table.clock.advance(10.0)
    settled = table.waveform(np.array([table.delay_fs()]))[0]
    table.lockin.sensitivity_V = 2 * abs(settled)
    x, _, overload = table.lockin_output()
    assert not overload and x == pytest.approx(settled, rel=1e-9)
    table.lockin.sensitivity_V = 0.5 * abs(settled)
    x, _, overload = table.lockin_output()
    assert overload
    assert x == pytest.approx(np.sign(settled) * table.lockin.sensitivity_V, rel=1e-12)


# ------------------------------------------------------------------ delay stage
def test_backlash_between_approach_directions():
    table = make()
    table.move_stage(20.0)
    table.move_stage(21.0)
    from_below = table.carriage_mm
    table.move_stage(22.0)
    table.move_stage(21.0)
    from_above = table.carriage_mm
    assert from_above - from_below == pytest.approx(table.backlash_mm, abs=1e-12)
    # within the play the carriage does not follow the motor
    table.move_stage(21.0 + 0.5 * table.backlash_mm)
    assert table.carriage_mm == from_above


def test_delay_follows_double_pass_calibration():
    table = make()
    table.move_stage(table.true_time_zero_mm + 0.001)  # 1 µm up
    expected = 1e-3 * 2 * N_AIR / 299.792458e-6 - table.backlash_mm / 2 * FS_PER_MM_DOUBLE_PASS * N_AIR
    assert table.delay_fs() == pytest.approx(expected)
    assert FS_PER_MM_DOUBLE_PASS * 1e-3 == pytest.approx(6.671, abs=1e-3)  # 1 µm ↔ 6.671 fs


# ------------------------------------------------------------------ fluence, measured h(t)
def test_signal_is_linear_in_fluence():
    from femtospin.sim_devices import Pump

    low = make(pump=Pump(fluence_mJcm2=0.05))
    high = make(pump=Pump(fluence_mJcm2=0.2))
    assert np.allclose(high.waveform(DELAYS), 4 * low.waveform(DELAYS), rtol=1e-12, atol=1e-18)


def test_laser_off_gives_no_signal():
    table = make()
    table.set_knob("laser_on", 0)
    assert np.all(table.waveform(DELAYS) == 0.0)


def test_unknown_knob_raises():
    with pytest.raises(AttributeError, match="colour"):
        make().set_knob("colour", 1)


def test_detection_rejects_unknown_detector_and_mode():
    with pytest.raises(ValueError, match="quartz"):
        Detection(detector="quartz")
    with pytest.raises(ValueError, match="thz"):
        Detection(mode="thz")


def test_measured_transfer_function_sets_the_time_origin():
    """A measured h(t) (Detection.transfer) is used as S = h ∗ E: a δ kernel at +50 fs delays the signal by 50 fs."""
    from femtospin.analysis import spin_voltage

    t_h = tuple(float(k) for k in range(64))  # 1 fs steps, like the table's grid
    h = tuple(1.0 if k == 50 else 0.0 for k in range(64))
    table = make(detection=Detection(transfer=(t_h, h)))
    s = table.sample
    odd, _ = m_parts(table)
    shape = spin_voltage(DELAYS - 50.0, s.tau_es_fs, s.tau_ep_fs, s.R, fwhm=table.pump.fwhm_fs)
    expected = (s.js_amplitude + s.demag_amplitude) * shape / np.max(np.abs(shape))
    assert np.allclose(odd, expected, rtol=0, atol=1e-3 * np.max(np.abs(expected)))
    # with the detector model instead, the field's time derivative is seen: the shapes differ
    model_odd, _ = m_parts(make())
    assert corr(odd, model_odd) < 0.9


def test_spin_valve_accumulation_from_p_and_ap_states():
    """§4e: Δμ_s = Δθ̄ − Δε̄ cancels the magnetization; (P ± AP)/2 separate free and reference layers."""
    from femtospin.analysis import spin_voltage

    table = make("Co/Pt spin valve", detection=Detection(mode="moke"))
    s = table.sample
    soft, hard = (layer.coercive_mT for layer in s.layers)

    def mu_s():
        table.set_knob("probe_qwp_deg", 0)  # Kerr rotation
        rotation = table.waveform(DELAYS) / s.kerr_rotation_V
        table.set_knob("probe_qwp_deg", 45)  # Kerr ellipticity
        ellipticity = table.waveform(DELAYS) / s.kerr_ellipticity_V
        return rotation - ellipticity, rotation

    table.set_field(2 * hard)
    table.set_field(0.0)
    mu_p, rotation_p = mu_s()
    table.set_field(-(soft + hard) / 2)
    table.set_field(0.0)
    assert [mg.m for mg in table.magnets] == [-1.0, 1.0]
    mu_ap, _ = mu_s()
    free, ref = (mu_p + mu_ap) / 2, (mu_p - mu_ap) / 2
    shape = spin_voltage(DELAYS, s.tau_es_fs, s.tau_ep_fs, s.R, fwhm=table.pump.fwhm_fs)
    assert np.allclose(free, s.layers[0].accumulation * shape, atol=1e-9)
    assert np.allclose(ref, s.layers[1].accumulation * shape, atol=1e-9)
    # the normalized rotation alone still holds the (much larger) demagnetization
    assert np.max(np.abs(rotation_p - mu_p)) > 3 * np.max(np.abs(mu_p))


def test_the_bulk_magnetization_and_the_spin_current_follow_t_c_with_their_own_exponents():
    """YIG|Pt: the THz amplitude goes as (T_C − T)^2, the bulk magnetization (static Kerr) as (T_C − T)^0.5."""
    s = get_sample("YIG(3um)|Pt(5.5)")
    temps = np.array([320.0, 400.0, 480.0, 540.0])
    x = np.log((s.curie_K - temps) / (s.curie_K - 300.0))
    signal = [s.temperature_factor(T) for T in temps]
    bulk = [s.bulk_magnetization(T) for T in temps]
    assert np.polyfit(x, np.log(signal), 1)[0] == pytest.approx(2.0)
    assert np.polyfit(x, np.log(bulk), 1)[0] == pytest.approx(0.5)
    assert s.bulk_magnetization(600.0) == 0.0
    # the static Kerr signal a MOKE table reads follows the bulk magnetization
    table = make("YIG(3um)|Pt(5.5)", detection=Detection(mode="moke"))
    saturate(table, +1)
    room = table.static_kerr_mrad()
    table.thermal = type(table.thermal)(480.0, lag_s=1.0)
    assert table.static_kerr_mrad() / room == pytest.approx(s.bulk_magnetization(480.0))
