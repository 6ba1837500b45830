"""Condition averaging and the symmetry components of physics.md §3, against known parts."""

import numpy as np
import pytest

from femtospin.analysis import average_conditions, components, delay_points

T = np.arange(-500.0, 1000.0, 10.0)
JS, DEMAG, HEL, BG = (np.sin(T / 97.0), np.cos(T / 53.0), np.exp(-((T / 300.0) ** 2)), 0.3 + 0 * T)


def signal(m, angle, hel):
    turn = np.cos(np.radians(angle))
    return m * (turn * JS + DEMAG) + turn * hel * HEL + BG


def long_format(ms, angles, hels, repeats=1, noise=0.0, seed=0):
    rng = np.random.default_rng(seed)
    rows = {"delay_fs": [], "signal": [], "magnetization": [], "angle_deg": [], "helicity": []}
    for _ in range(repeats):
        for m in ms:
            for a in angles:
                for h in hels:
                    rows["delay_fs"].append(T)
                    rows["signal"].append(signal(m, a, h) + noise * rng.standard_normal(T.size))
                    rows["magnetization"].append(np.full(T.size, m))
                    rows["angle_deg"].append(np.full(T.size, a))
                    rows["helicity"].append(np.full(T.size, h))
    return {k: np.concatenate(v) for k, v in rows.items()}


def split(rows):
    return rows["delay_fs"], rows["signal"], {k: rows[k] for k in ("magnetization", "angle_deg", "helicity")}


def test_components_isolate_the_parts():
    comps = components(average_conditions(*split(long_format([1, -1], [0, 180], [1, -1]))))
    assert np.allclose(comps["minus_angle"].value, JS)  # F|N spin current
    assert np.allclose(comps["plus_angle"].value, DEMAG)  # magnetic dipole
    assert np.allclose(comps["odd_M"].value, JS + DEMAG)  # at 0°
    assert np.allclose(comps["odd_helicity"].value, HEL)  # at 0°
    assert np.allclose(comps["mean"].value, BG)


def test_only_present_conditions_form_components():
    rows = long_format([1], [0, 180], [0])
    comps = components(average_conditions(*split(rows)))
    assert set(comps) == {"mean", "plus_angle", "minus_angle"}
    # without ±M the angle pair is formed from the raw signal: S− = js + hel·HEL (hel = 0 here)
    assert np.allclose(comps["minus_angle"].value, JS)
    assert np.allclose(comps["plus_angle"].value, DEMAG + BG)
    with pytest.raises(ValueError, match="odd_M.*magnetization.*-1"):
        components(average_conditions(*split(rows)), require=["odd_M"])


@pytest.mark.parametrize("repeats", [3, 8])
def test_standard_errors_follow_the_scatter(repeats):
    noise = 0.01
    rows = long_format([1, -1], [0], [0], repeats=repeats, noise=noise, seed=repeats)
    avg = average_conditions(*split(rows))
    assert avg.has_repeats
    comps = components(avg)
    # odd_M is a half difference of two means of `repeats` samples: σ/√(2·repeats)
    expected = noise / np.sqrt(2 * repeats)
    assert np.median(comps["odd_M"].stderr) == pytest.approx(expected, rel=0.25)
    assert np.std(comps["odd_M"].value - (JS + DEMAG)) == pytest.approx(expected, rel=0.25)


def test_single_samples_have_no_stderr():
    avg = average_conditions(*split(long_format([1, -1], [0], [0])))
    assert not avg.has_repeats
    assert np.all(np.isnan(components(avg)["odd_M"].stderr))


def test_errors_name_the_problem():
    d, s, c = split(long_format([1, -1], [0], [0]))
    bad = s.copy()
    bad[5] = np.nan
    with pytest.raises(ValueError, match="signal.*row 6"):
        average_conditions(d, bad, c)
    c2 = dict(c, magnetization=np.where(np.arange(d.size) == 3, 0.5, c["magnetization"]))
    with pytest.raises(ValueError, match="magnetization.*row 4"):
        average_conditions(d, s, c2)
    with pytest.raises(ValueError, match="unknown condition"):
        average_conditions(d, s, {"polarization": c["helicity"]})


def test_a_delay_one_condition_missed_is_left_out_of_the_components_that_need_it():
    d, s, c = split(long_format([1, -1], [0], [0]))
    keep = ~((c["magnetization"] == -1) & (d == 100.0))
    comps = components(average_conditions(d[keep], s[keep], {k: v[keep] for k, v in c.items()}))
    assert 100.0 not in comps["odd_M"].delay_fs and comps["odd_M"].delay_fs.size == T.size - 1
    assert 100.0 in comps["mean"].delay_fs or comps["mean"].delay_fs.size == T.size - 1
    assert np.allclose(comps["odd_M"].value, (JS + DEMAG)[T != 100.0])


def test_readbacks_that_differ_between_sweeps_are_one_delay_point():
    rng = np.random.default_rng(0)
    d = np.concatenate([T + 0.05 * rng.standard_normal(T.size) for _ in range(3)])
    centres, index = delay_points(d)
    assert centres.size == T.size
    assert np.allclose(centres, T, atol=0.1)
    assert np.all(np.bincount(index) == 3)


@pytest.mark.parametrize("explicit", [True, False])
def test_sweeps_are_the_repeat_column_or_the_order_a_delay_recurs(explicit):
    rows = long_format([1, -1], [0], [0], repeats=4, noise=0.01, seed=2)
    repeat = np.repeat(np.arange(4), rows["delay_fs"].size // 4) if explicit else None
    avg = average_conditions(*split(rows), repeat=repeat)
    comp = components(avg)["odd_M"]
    assert comp.n_sweeps == 4
    # sweep r of the component is formed from sweep r of each condition set
    first = rows["signal"][: T.size] - rows["signal"][T.size: 2 * T.size]
    assert np.allclose(comp.sweeps[0], first / 2)
    assert np.allclose(comp.sweeps.mean(axis=0), comp.value)
    assert comp.coef == {(-1.0, 0.0, 0.0): -0.5, (1.0, 0.0, 0.0): 0.5}


def test_coefficients_of_the_angle_components():
    comps = components(average_conditions(*split(long_format([1, -1], [0, 180], [0]))))
    coef = comps["minus_angle"].coef
    assert coef == {(1.0, 0.0, 0.0): 0.25, (-1.0, 0.0, 0.0): -0.25, (1.0, 180.0, 0.0): -0.25,
                    (-1.0, 180.0, 0.0): 0.25}
