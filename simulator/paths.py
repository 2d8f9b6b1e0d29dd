"""Where a command will write, checked before any work: a file it will replace, or a
folder it will fill.

Permission bits do not say whether a write will succeed (root ignores them; /proc,
read-only mounts and immutable files refuse root too), so both checks try it: they
create, and remove, the very temporary file a write would make.

Invariants: `unwritable_file` and `unwritable_folder` leave nothing behind, and create
no folder; each returns None (writable) or a short reason for one error line.
"""

from __future__ import annotations

import os
from pathlib import Path


def temporary(target: Path) -> Path:
    """The temporary file a write of `target` goes through (then renamed)."""
    return target.with_name(f".{target.name}.{os.getpid()}.tmp")


def _try(probe: Path) -> str | None:
    try:
        with open(probe, "x"):
            pass
    except OSError as exc:
        return exc.strerror or type(exc).__name__
    try:
        probe.unlink()
    except OSError:
        pass
    return None


def unwritable_file(path) -> str | None:
    """Why `path` (a file, created or replaced) cannot be written, or None."""
    target = Path(path)
    if target.is_dir():
        return "is a folder; give a file path"
    if not target.parent.is_dir():
        return f"folder {target.parent} does not exist"
    reason = _try(temporary(target))
    return None if reason is None else f"not writable ({reason})"


def unwritable_folder(path) -> str | None:
    """Why files cannot be written in folder `path`, or None. A folder that does not
    exist yet is judged by the nearest existing folder above it (where it would be
    created)."""
    folder = Path(path)
    if folder.exists() and not folder.is_dir():
        return "is a file, not a folder"
    existing = folder
    while not existing.exists():
        if existing.parent == existing:
            return "no folder above it exists"
        existing = existing.parent
    if not existing.is_dir():
        return f"{existing} is a file, not a folder"
    reason = _try(temporary(existing / "probe"))
    return None if reason is None else f"not writable ({reason})"
