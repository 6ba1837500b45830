"""femtospin: acquisition and live analysis of ultrafast spin transport.

The subpackages live in the repository's top-level folders (see pyproject.toml):
``femtospin.analysis``, ``femtospin.sim_devices``, ``femtospin.devices``,
``femtospin.plans`` and ``femtospin.acquisition``.
"""

__version__ = "0.1.0"
