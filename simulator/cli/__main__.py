"""`python -m simulator.cli`: the same entry point as the installed `pevmsim`."""

import sys

from .main import main

sys.exit(main())
