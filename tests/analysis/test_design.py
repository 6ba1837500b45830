"""Adaptive design: the information algebra against direct inversion, the sensitivities against the fit's own
errors, the fallbacks, and the noise of sweeps that measure different delays against the truth."""

from __future__ import annotations

import numpy as np
import pytest

from femtospin import analysis
from femtospin.analysis import Sensitivity, choose_batch, covariance, fit_is_poor, sensitivity, space_filling

from .simdata import synthetic_sweeps

DELAYS = np.arange(-600.0, 1500.0 + 1e-9, 10.0)
SAMPLE = "CoFeB(5)|Pt(3)"  # what synthetic_sweeps draws: τ_es 104 fs, τ_ep and R at the sample's values


def _random_problem(seed, n=60, p=3):
    rng = np.random.default_rng(seed)
    J = rng.standard_normal((n, p)) * np.array([1e3, 1.0, 1e-4])[:p]  # parameters of very different scales
    var = rng.uniform(0.5, 2.0, n)
    measured = rng.choice(n, 8, replace=False)
    F = (J[measured] / var[measured, None]).T @ J[measured]
    return J, var, F


@pytest.mark.parametrize("scales", [(1.0, 1.0, 1.0), (1e6, 1.0, 1e-3), (1e-4, 1e2, 1e5)])
def test_covariance_inverts_information_whatever_the_parameter_scales(scales):
    rng = np.random.default_rng(1)
    a = rng.standard_normal((3, 3))
    inner = a @ a.T + 3 * np.eye(3)
    d = np.diag(scales)
    F = d @ inner @ d
    np.testing.assert_allclose(covariance(F), np.linalg.inv(F), rtol=1e-8)


def test_an_uninformed_parameter_gets_no_information_rather_than_a_crash():
    F = np.diag([4.0, 0.0])
    C = covariance(F)
    assert C[0, 0] == pytest.approx(0.25) and np.all(np.isfinite(C))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a_picks_gain_is_the_exact_reduction_of_the_targets_variance(seed):
    J, var, F = _random_problem(seed)
    cand = np.arange(J.shape[0], dtype=float)
    sens = Sensitivity(["a", "b", "c"], J, var, F)
    picks = choose_batch(cand, np.array([]), sens, 1.0, 5, target="b", explore=0.0)
    C = np.linalg.inv(F)
    for pick in picks:
        k = int(pick.delay_fs)
        after = np.linalg.inv(np.linalg.inv(C) + np.outer(J[k], J[k]) / var[k])
        assert pick.information == pytest.approx(C[1, 1] - after[1, 1], rel=1e-6)
        # and no other candidate would have lowered it more
        best = max(C[1, 1] - np.linalg.inv(np.linalg.inv(C) + np.outer(J[j], J[j]) / var[j])[1, 1]
                   for j in range(J.shape[0]) if j not in [int(p.delay_fs) for p in picks[:picks.index(pick)]])
        assert pick.information == pytest.approx(best, rel=1e-6)
        C = after
    assert {p.reason for p in picks} == {"c-optimal"}


def test_the_score_is_information_per_second():
    J, var, F = _random_problem(3)
    cand = np.arange(J.shape[0], dtype=float)
    sens = Sensitivity(["a", "b", "c"], J, var, F)
    first = choose_batch(cand, np.array([]), sens, 1.0, 1, target="a", explore=0.0)[0]
    cost = np.ones(cand.size)
    cost[int(first.delay_fs)] = 1e6  # the most informative delay made very expensive
    second = choose_batch(cand, np.array([]), sens, cost, 1, target="a", explore=0.0)[0]
    assert second.delay_fs != first.delay_fs and second.cost_s == 1.0


def test_without_a_target_the_batch_is_d_optimal():
    J, var, F = _random_problem(4)
    sens = Sensitivity(["a", "b", "c"], J, var, F)
    pick = choose_batch(np.arange(J.shape[0], dtype=float), np.array([]), sens, 1.0, 1, explore=0.0)[0]
    k = int(pick.delay_fs)
    gain = np.linalg.slogdet(F + np.outer(J[k], J[k]) / var[k])[1] - np.linalg.slogdet(F)[1]
    assert pick.reason == "D-optimal" and pick.information == pytest.approx(gain, rel=1e-6)


def test_an_unknown_target_is_refused():
    J, var, F = _random_problem(5)
    with pytest.raises(ValueError, match="not a fitted parameter"):
        choose_batch(np.arange(60.0), np.array([]), Sensitivity(["a", "b", "c"], J, var, F), 1.0, 3, target="x")


def test_space_filling_goes_farthest_from_everything_measured():
    cand = np.arange(0.0, 101.0)
    picks = space_filling(cand, np.array([0.0, 100.0]), 3)
    assert cand[picks[0]] == 50.0 and sorted(cand[picks[1:]]) == [25.0, 75.0]


def test_a_share_of_every_batch_explores():
    J, var, F = _random_problem(6)
    cand = np.arange(J.shape[0], dtype=float)
    picks = choose_batch(cand, np.array([10.0, 11.0]), Sensitivity(["a", "b", "c"], J, var, F), 1.0, 10,
                         target="a", explore=0.2)
    assert [p.reason for p in picks].count("explore") == 2
    assert len({p.delay_fs for p in picks}) == 10  # distinct delays in a batch


def _fit(rows, **kw):
    return analysis.analyze(rows["delay_fs"], rows["signal"], {"magnetization": rows["magnetization"]},
                            repeat=rows["repeat"], sample=SAMPLE, **kw)


def test_the_fishers_information_of_the_measured_points_is_the_fits_own_covariance():
    res = _fit(synthetic_sweeps(DELAYS, sweeps=2, seed=3, additive_V=2e-5), free=("tau_ep_fs",))
    sens = sensitivity(res, DELAYS)
    stated = {k: v["stderr"] for k, v in res.fit.params.items() if v["vary"]}
    predicted = dict(zip(sens.names, np.sqrt(np.diag(covariance(sens.information)))))
    for name in ("tau_es_fs", "tau_ep_fs"):  # amplitude and t0 may carry the drift on top
        assert predicted[name] == pytest.approx(stated[name], rel=0.02), name
    # the noise of one more reading at a measured delay is what the noise model says of that delay
    at = np.searchsorted(DELAYS, np.round(res.delay_fs))
    ratio = sens.variance[at] / (res.noise.sigma**2 * res.noise.n_sweeps)
    assert np.median(ratio) == pytest.approx(1.0, rel=0.05)


def test_a_wrong_model_does_not_design_and_a_right_one_does():
    good = _fit(synthetic_sweeps(DELAYS, sweeps=3, seed=1, additive_V=1e-5))
    assert fit_is_poor(good, "tau_es_fs") is None
    wrong = _fit(synthetic_sweeps(DELAYS, sweeps=3, seed=1, additive_V=1e-5, second=0.3))
    assert "does not describe" in fit_is_poor(wrong, "tau_es_fs")
    assert fit_is_poor(None, "tau_es_fs") == "no fit yet"


def uneven(seed: int, batches: int = 8, per_batch: int = 30, additive_V: float = 2e-5) -> dict:
    """Two coarse sweeps, then batches each over its own random delays (both signs of M at each)."""
    full = synthetic_sweeps(DELAYS, sweeps=2 + batches, seed=seed, additive_V=additive_V)
    rng = np.random.default_rng(seed + 100)
    coarse = DELAYS[np.unique(np.round(np.linspace(0, DELAYS.size - 1, 32)).astype(int))]
    keep = np.zeros(full["signal"].size, bool)
    for r in range(2 + batches):
        chosen = coarse if r < 2 else rng.choice(DELAYS, per_batch, replace=False)
        keep |= (full["repeat"] == r) & np.isin(full["delay_fs"], chosen)
    return {k: v[keep] for k, v in full.items()}


def test_sweeps_over_different_delays_measure_the_noise_they_have():
    res = _fit(uneven(seed=5, batches=12))
    assert res.noise.method == "repeats" and res.noise.dof > 100
    assert res.noise.sigma_alpha == pytest.approx(2e-5, rel=0.15)
    counts = np.array([np.sum(np.isclose(uneven(5, 12)["delay_fs"], d)) for d in res.delay_fs]) / 2
    # a delay measured n times has the noise of one reading over √n
    one = res.noise.sigma * np.sqrt(counts)
    assert np.std(one[res.delay_fs < -200]) / np.mean(one[res.delay_fs < -200]) < 0.05


def test_the_errors_of_a_fit_to_sweeps_over_different_delays_are_honest():
    z = []
    for seed in range(24):
        res = _fit(uneven(seed))
        z.append((res.fit.value("tau_es_fs") - 104.0) / res.fit.stderr("tau_es_fs"))
    rms = float(np.sqrt(np.mean(np.square(z))))
    # 24 honest z-scores: the rms lies in [0.72, 1.26] 95 % of the time
    assert 0.7 < rms < 1.3, z
    assert abs(np.mean(z)) < 3 / np.sqrt(len(z)), z
