"""EOS transfer function (physics.md §2): DC, bandwidth, causality of the phonon ringing, measured h(t)."""

from functools import partial

import numpy as np
import pytest
from scipy.fft import rfftfreq

from femtospin.analysis import (
    DETECTORS,
    apply_response,
    check_uniform,
    crystal,
    detector_response,
    gaussian_kernel,
    impulse_response,
    load_transfer,
    response_from_samples,
    spin_voltage,
)

DETS = ["gap250", "znte1000"]
F_FINE = np.linspace(0.0, 60.0, 120001)  # THz


@pytest.mark.parametrize("detector", DETS)
def test_response_vanishes_at_dc(detector):
    assert abs(detector_response(np.array([0.0]), detector)[0]) == 0.0
    # and grows from zero like a time derivative (∝ f) at low frequency
    f = np.array([0.01, 0.02, 0.04])
    mag = np.abs(detector_response(f, detector))
    assert mag[1] / mag[0] == pytest.approx(2.0, rel=0.02)
    assert mag[2] / mag[0] == pytest.approx(4.0, rel=0.02)


@pytest.mark.parametrize("detector", DETS)
@pytest.mark.parametrize("probe_fwhm", [10.0, 20.0, 60.0])
def test_peak_magnitude_is_one(detector, probe_fwhm):
    mag = np.abs(detector_response(F_FINE, detector, probe_fwhm_fs=probe_fwhm))
    assert mag.max() == pytest.approx(1.0, abs=1e-4)


def test_gap_reaches_higher_frequencies_than_znte():
    mag = {d: np.abs(detector_response(F_FINE, d)) for d in DETS}
    top = {d: F_FINE[mag[d] > 0.1].max() for d in DETS}
    centroid = {d: np.sum(F_FINE * mag[d]) / np.sum(mag[d]) for d in DETS}
    assert top["gap250"] > top["znte1000"]
    assert top["gap250"] > 2 * top["znte1000"]  # GaP(110) 250 µm is the broadband detector
    assert centroid["gap250"] > centroid["znte1000"]


@pytest.mark.parametrize("detector", DETS)
def test_shorter_probe_widens_the_band(detector):
    f = np.linspace(0.0, 60.0, 6001)
    short = np.abs(detector_response(f, detector, probe_fwhm_fs=10.0))
    long = np.abs(detector_response(f, detector, probe_fwhm_fs=80.0))
    assert np.sum(f * short) / np.sum(short) > np.sum(f * long) / np.sum(long)


def test_unknown_detector_raises():
    with pytest.raises(ValueError, match="quartz"):
        detector_response(np.array([1.0]), "quartz")
    with pytest.raises(ValueError, match="quartz"):
        impulse_response("quartz", 1.0, 64)
    with pytest.raises(ValueError, match="quartz"):
        crystal("quartz")
    assert set(DETS) <= set(DETECTORS)


def _rms(t, h, lo, hi):
    sel = (t >= lo) & (t <= hi)
    return np.sqrt(np.mean(h[sel] ** 2))


@pytest.mark.parametrize("detector", DETS)
@pytest.mark.parametrize("dt, n", [(1.0, 8192), (2.0, 8192)])
def test_impulse_response_phonon_ringing_follows_the_main_feature(detector, dt, n):
    t, h = impulse_response(detector, dt, n)
    assert t[n // 2] == 0.0 and np.allclose(np.diff(t), dt)
    after = _rms(t, h, 500.0, 3000.0)
    before = _rms(t, h, -3000.0, -500.0)
    assert after > 2 * before
    # the main feature itself is within a few hundred fs of t = 0
    assert abs(t[np.argmax(np.abs(h))]) < 300.0


@pytest.mark.parametrize("detector", DETS)
def test_impulse_response_has_no_dc(detector):
    t, h = impulse_response(detector, 2.0, 4096)
    assert abs(h.sum()) < 1e-9 * np.abs(h).max()


@pytest.mark.parametrize("detector", DETS)
@pytest.mark.parametrize("dt, n", [(1.0, 4096), (4.0, 2048), (2.0, 1000)])
def test_round_trip_response_from_samples(detector, dt, n):
    t, h = impulse_response(detector, dt, n)
    f = rfftfreq(n, dt) * 1e3
    f = f[:-1]  # the Nyquist bin of an irfft keeps only the real part
    H = response_from_samples(t, h, f)
    assert np.allclose(H, detector_response(f, detector), atol=1e-10, rtol=0)


@pytest.mark.parametrize("detector", DETS)
def test_measured_h_works_like_the_model(detector):
    """apply_response with the samples of h(t) (a "measured" kernel) gives the model's signal."""
    dt = 4.0
    t = np.arange(-1000.0, 3000.0, dt)
    field = spin_voltage(t, 104.0, 350.0, 0.1, fwhm=40.0)
    # the kernel spans ±16 ps, long enough for the phonon ringing to have died out
    t_h, h = impulse_response(detector, dt, 8192)
    model = apply_response(dt, field, partial(detector_response, detector=detector))
    measured = apply_response(dt, field, partial(response_from_samples, t_h, h))
    assert np.max(np.abs(model - measured)) < 1e-4 * np.max(np.abs(model))


@pytest.mark.parametrize("detector", DETS)
def test_measured_h_is_the_per_sample_kernel(detector):
    """S_j = Σ_k h_k E_{j−k}: the convention documented for response_from_samples."""
    dt = 4.0
    t = np.arange(-1000.0, 3000.0, dt)
    field = 60.0 * gaussian_kernel(t - 300.0, 60.0)  # compact: zero at both ends of the grid
    t_h, h = impulse_response(detector, dt, 2048)
    s = apply_response(dt, field, partial(response_from_samples, t_h, h))
    k0 = int(np.searchsorted(t_h, 0.0))
    lags = np.arange(t_h.size) - k0
    for tj in (0.0, 300.0, 1500.0):
        j = int(np.searchsorted(t, tj))
        src = j - lags
        ok = (src >= 0) & (src < field.size)
        direct = np.sum(h[ok] * field[src[ok]])
        assert s[j] == pytest.approx(direct, abs=1e-9 * np.abs(s).max() + 1e-12)


@pytest.mark.parametrize("detector", DETS)
def test_apply_response_signal_has_no_dc(detector):
    """h(ω=0) = 0: a field that returns to zero gives a signal of zero net area."""
    dt = 2.0
    t = np.arange(-1000.0, 6000.0, dt)
    field = spin_voltage(t, 104.0, 350.0, 0.1, fwhm=40.0)
    s = apply_response(dt, field, partial(detector_response, detector=detector))
    assert abs(s.sum()) < 1e-3 * np.abs(s).sum()


# ------------------------------------------------------------------ measured h(t) from a file
def _write(path, header, rows):
    lines = [header] + [",".join(f"{v!r}" if isinstance(v, float) else str(v) for v in row) for row in rows]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_load_transfer_round_trip(tmp_path):
    t_h, h = impulse_response("gap250", 2.0, 256)
    path = _write(tmp_path / "h_gap.csv", "time_fs,h", zip(map(float, t_h), map(float, h)))
    t_back, h_back = load_transfer(path)
    assert np.array_equal(t_back, t_h)
    assert np.array_equal(h_back, h)
    # works from a str path too
    t2, _ = load_transfer(str(path))
    assert np.array_equal(t2, t_h)


def test_load_transfer_column_order_is_by_name(tmp_path):
    path = _write(tmp_path / "swapped.csv", "h,time_fs", [(0.5 * k, 10.0 * k) for k in range(6)])
    t_h, h = load_transfer(path)
    assert np.allclose(t_h, 10.0 * np.arange(6))
    assert np.allclose(h, 0.5 * np.arange(6))


@pytest.mark.parametrize("case, header, rows", [
    ("missing", "time_fs,g", [(float(k), 0.1 * k) for k in range(8)]),
    ("nan", "time_fs,h", [(float(k), 0.1 * k) for k in range(4)] + [(4.0, "nan")] + [(5.0, 0.2), (6.0, 0.1)]),
    ("nonuniform", "time_fs,h", [(t, 0.1) for t in (0.0, 1.0, 2.0, 3.5, 4.5, 5.5)]),
])
def test_load_transfer_rejects_bad_files_naming_them(tmp_path, case, header, rows):
    path = _write(tmp_path / f"bad_{case}.csv", header, rows)
    with pytest.raises(ValueError) as err:
        load_transfer(path)
    assert path.name in str(err.value)


def test_check_uniform():
    assert check_uniform(np.arange(0.0, 10.0, 0.5)) == pytest.approx(0.5)
    with pytest.raises(ValueError, match="my grid"):
        check_uniform(np.array([0.0, 1.0, 2.0, 4.0]), what="my grid")
    with pytest.raises(ValueError):
        check_uniform(np.array([3.0, 2.0, 1.0, 0.0]))
