"""``python -m nbtune``: the ``nbtune`` command (see :mod:`nbtune.cli`)."""
import sys

from .cli import main

sys.exit(main())
