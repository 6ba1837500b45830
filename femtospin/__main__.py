"""``python -m femtospin`` runs the command line, as the ``femtospin`` entry point does."""

from femtospin.acquisition._cli import entry

entry()
