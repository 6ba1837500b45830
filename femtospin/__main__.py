"""``python -m femtospin`` runs the command line, as the ``femtospin`` entry point does."""

from femtospin.acquisition.cli._cli import entry

entry()
