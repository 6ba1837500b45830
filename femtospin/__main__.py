"""``python -m femtospin`` runs the command line, as the ``femtospin`` entry point does."""

import sys

from femtospin.acquisition import main

sys.exit(main())
