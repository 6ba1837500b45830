import pytest

from femtospin.acquisition import Session, sim_profile
from femtospin.sim_devices import Noise


@pytest.fixture
def fast_table():
    """CoFeB(5)|Pt(3) on the accelerated simulated table, seeded noise."""
    return sim_profile("CoFeB(5)|Pt(3)", fast=True, seed=1)


@pytest.fixture
def quiet_table():
    """As fast_table, without noise: readings equal the physics exactly."""
    return sim_profile("CoFeB(5)|Pt(3)", fast=True, noise=Noise.off())


@pytest.fixture
def session_factory(tmp_path):
    def make(table, **kwargs):
        return Session(table, tmp_path / "data", **kwargs)

    return make
