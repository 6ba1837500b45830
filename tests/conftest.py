import os

import pytest

from femtospin.acquisition import Session, sim_profile
from femtospin.sim_devices import Noise

# Commands default to the embedded catalog; tests that are about the catalog ask for it. Its ingest
# services (child processes, which inherit these) stop soon after a test and retry quickly.
os.environ["FEMTOSPIN_CATALOG"] = "off"
os.environ["FEMTOSPIN_CATALOG_LINGER_S"] = "20"
os.environ["FEMTOSPIN_CATALOG_BACKOFF_S"] = "1"
os.environ["FEMTOSPIN_CATALOG_TIMEOUT_S"] = "2"


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
