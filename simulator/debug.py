"""The debug switch: runtime checks of the invariants that each module states.

With PEVMSIM_DEBUG=1 in the environment (the test suite sets it, tests/conftest.py),
modules assert their invariants after every step that could break them: the
scheduler after every event, the versioned state after every incarnation. Off by
default: the checks cost time and never change a result.
"""

from __future__ import annotations

import os

ENABLED = os.environ.get("PEVMSIM_DEBUG", "") not in ("", "0")


class InvariantViolation(AssertionError):
    """A stated invariant does not hold: a bug in pevmsim, never in the input."""


def check(condition: bool, message) -> None:
    """Raise InvariantViolation when `condition` is false (call only under ENABLED;
    `message` may be a callable, to build the text only on failure)."""
    if not condition:
        raise InvariantViolation(message() if callable(message) else message)
