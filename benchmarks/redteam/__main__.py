"""``python -m benchmarks.redteam``: every family, counted."""

import sys

from . import main

sys.exit(main())
