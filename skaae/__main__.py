"""``python -m skaae``: the ``skaae`` command line (see :mod:`skaae.cli`)."""

import sys

from .cli import main

sys.exit(main())
