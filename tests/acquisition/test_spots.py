"""One substrate, two spots: the F|N stack and its ferromagnet alone, compared in one run (sim-spots)."""

import numpy as np
import pytest

from femtospin.acquisition import Session, load_profile
from femtospin.plans import thz_emission
from femtospin.sim_devices import get_sample, spot_map


def test_the_spot_stage_reaches_the_f_n_stack_and_its_ferromagnet_each_analysed_as_itself(tmp_path):
    t = load_profile("sim-spots:fast", seed=3)
    assert [r["sample"] for r in t.metadata["spots"]] == ["CoFeB(5)|Pt(3)", "CoFeB(5)"]
    session = Session(t, tmp_path, live=True)
    (uid,) = session.run(thz_emission(
        t.lockin, t.stage, np.arange(-1000.0, 1500.0, 40.0), magnet=t.magnet, sample_rotation=t.sample_rotation,
        spot=t.spot, power_meter=t.power_meter, magnetization=(1, -1), angles=(0.0, 180.0), spots=(5.0, 20.0),
        repeats=2, setup=t.setup))
    assert session.live.wait(120)
    by_spot = {g.group["spot_mm"]: g.result for g in session.live.state.results}
    f_n, f = by_spot[5.0], by_spot[20.0]
    # the F|N spin current reverses under turning (S−); the ferromagnet's dM/dt field does not (S+)
    assert (f_n.component, f.component) == ("minus_angle", "plus_angle")
    truth_n, truth_f = get_sample("CoFeB(5)|Pt(3)"), get_sample("CoFeB(5)")
    for r, s in ((f_n, truth_n), (f, truth_f)):
        assert abs(r.fit.value("tau_es_fs") - s.tau_es_fs) < 3 * r.fit.stderr("tau_es_fs")
    # ≈ 100× smaller: the published ratio of the demagnetization field to an F|N spin-current signal
    ratio = f.fit.value("amplitude") / f_n.fit.value("amplitude")
    err = ratio * np.hypot(f.fit.stderr("amplitude") / f.fit.value("amplitude"),
                           f_n.fit.stderr("amplitude") / f_n.fit.value("amplitude"))
    assert abs(ratio - truth_f.demag_amplitude / truth_n.js_amplitude) < 3 * err
    assert 0.005 < ratio < 0.02


def test_between_the_spots_is_bare_substrate_and_a_stack_without_its_ferromagnet_is_refused():
    t = load_profile("sim-spots:fast", seed=3)
    t.sim.set_knob("spot_mm", 12.5)
    assert np.all(t.sim.waveform(np.linspace(-500.0, 1500.0, 50)) == 0.0)
    with pytest.raises(ValueError, match="no ferromagnet-alone spot"):
        spot_map("YIG(3um)|Pt(5.5)")
    with pytest.raises(ValueError, match="no ferromagnet-alone spot"):
        load_profile("sim-spots:fast", sample="CoFeB(5)")
