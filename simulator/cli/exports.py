"""`--json [PATH]` and `--csv PATH`: where result rows go, checked before any work.

A PATH of '-' (and `--json` with no PATH) means stdout; then the human-readable
output is left out so stdout holds only the export. Paths are checked when the command
starts, so a typo costs nothing: the folder must exist and be writable, and the path
must not be a folder, and a trial write must succeed (simulator/paths.py). At most
one export may go to stdout.

Invariant: `check_outputs` raises ExportError (one line) or returns; `write` never
leaves a half-written file behind (it writes a temporary file and renames it).
"""

from __future__ import annotations

import io
import json
import re
import sys
from pathlib import Path

from ..paths import temporary, unwritable_file
from ..runs.summary import write_csv

STDOUT = "-"


class ExportError(ValueError):
    """An unusable output path (the message names the flag and the path)."""


def check_outputs(json_path: str | None, csv_path: str | None) -> None:
    if json_path == STDOUT and csv_path == STDOUT:
        raise ExportError("--json and --csv cannot both go to stdout; give one a PATH")
    for flag, path in (("--json", json_path), ("--csv", csv_path)):
        if path is None or path == STDOUT:
            continue
        if re.search(r"\.py:\w+$", path):
            raise ExportError(f"{flag} took the workload {path} as its PATH; give "
                              f"{flag} a file name, or put it after the workloads")
        reason = unwritable_file(path)
        if reason is not None:
            raise ExportError(f"{flag} {path}: {reason}")


def to_stdout(json_path: str | None, csv_path: str | None) -> bool:
    return STDOUT in (json_path, csv_path)


def json_text(payload) -> str:
    return json.dumps(payload, indent=2, default=str) + "\n"


def csv_text(rows: list) -> str:
    buffer = io.StringIO()
    write_csv(buffer, rows)
    return buffer.getvalue()


def write(path: str, text: str) -> None:
    if path == STDOUT:
        sys.stdout.write(text)
        sys.stdout.flush()
        return
    target = Path(path)
    tmp = temporary(target)
    tmp.write_text(text)
    tmp.replace(target)


def export(json_path: str | None, csv_path: str | None, payload, rows: list) -> None:
    """Write `payload` as JSON and `rows` as CSV where asked."""
    if json_path is not None:
        write(json_path, json_text(payload))
    if csv_path is not None:
        write(csv_path, csv_text(rows))
