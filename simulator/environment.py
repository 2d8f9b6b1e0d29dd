"""Where a result was produced: pevmsim's version and git commit, py-evm's and Python's
versions, and the machine. `pevmsim run`/`compare` rows and a sweep's meta.json carry
the same dict, so any figure can be traced to the code and the host that made it.
`peak_rss_mib()` is what the process has needed so far (each run's row carries it).

Invariant: every value is a string, an int or None (JSON-ready); nothing raises when
git or /proc is unavailable (the field is None, or the platform's answer).
"""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from functools import lru_cache
from importlib import metadata
from pathlib import Path


@lru_cache(maxsize=1)
def environment() -> dict:
    return {
        "pevmsim": _version("pevmsim"),
        "git_commit": _git_commit(),
        "py_evm": _version("py-evm"),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpu_model": _cpu_model(),
        "cpu_count": os.cpu_count(),
    }


def usable_cores() -> int:
    """Every core this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def peak_rss_mib() -> float | None:
    """The peak resident memory so far, in MiB, of this process or of the largest
    child process it reaped (a serial check alongside, a worker), whichever is
    higher (None where the platform has no getrusage)."""
    try:
        import resource
    except ImportError:
        return None
    peak = max(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
               resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
    return peak / (2**20 if sys.platform == "darwin" else 2**10)  # bytes there, KiB here


def _version(distribution: str) -> str | None:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return None


def _git_commit() -> str | None:
    """HEAD of the source tree, with '-dirty' when it has uncommitted changes."""
    root = Path(__file__).resolve().parents[1]
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, check=True,
                                capture_output=True, text=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                               cwd=root, check=True, capture_output=True,
                               text=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None
    return commit + ("-dirty" if dirty else "")


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()
