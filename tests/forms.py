"""The two forms of the heaviest oracle matrices. `make test` runs a lighter form, each
still covering every strategy, workload, scenario and fixture file; `make test-full`
(PEVMSIM_FULL_ORACLES=1) runs every combination."""

import os
from itertools import product

FULL = os.environ.get("PEVMSIM_FULL_ORACLES", "") not in ("", "0")


def matrix(light, *axes) -> list:
    """The product of `axes`: every combination in the full form, only those that
    `light(*combination)` accepts in the default one."""
    return [case for case in product(*axes) if FULL or light(*case)]
