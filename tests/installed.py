"""The installed `pevmsim` command, as a user runs it: a run of it, and the check that
an error is one line with exit code 2."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

PEVMSIM = Path(sys.executable).with_name("pevmsim")


def pevmsim(*args, cwd=None):
    return subprocess.run([str(PEVMSIM), *map(str, args)], capture_output=True, text=True,
                          cwd=cwd)


def assert_usage_error(done, *words):
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    assert done.stderr.count("\n") == 1 and done.stderr.startswith("pevmsim: error:")
    for word in words:
        assert word in done.stderr, done.stderr
