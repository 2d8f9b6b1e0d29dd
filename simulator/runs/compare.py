"""Several configurations of one block, one table: `pevmsim compare`, and `pevmsim run`
with a list of thread counts.

The block is built once and executed serially with stock py-evm once; every strategy
at every thread count then runs on that same block under the same cost model, and is
checked against that one serial result. With `repeat` > 1 each configuration runs that
many times (for the measured cost model, whose timings are noisy) and reports the
median run with the spread of its virtual speedups.
"""

from __future__ import annotations

import textwrap

from ..chain.serial import start_serial
from .runner import run_block, run_headline
from .summary import median_of_repeats


def compare(block, specs, *, repeat: int = 1, labels=None, serial=None,
            progress=None, headline: bool = False) -> list:
    """One run summary per RunSpec of `specs`, in their order (the command line puts
    strategies outermost, then thread counts). `repeat` runs each spec that many
    times and reports the median run; `serial` may pass (SerialResult, wall seconds)
    of the block or a serial.PendingSerial; `progress` is a simulator.progress.Progress;
    `labels` as in run_block; with `headline`, each run's figures are run_headline's
    (and `repeat` must be 1)."""
    if headline and repeat != 1:
        raise ValueError("headline figures are of one run: repeat must be 1")
    if serial is None:
        serial = start_serial(block, any(spec.deep_check for spec in specs))
    configurations = [(spec, k) for spec in specs for k in range(repeat)]
    summaries, runs = [], []
    for index, (spec, k) in enumerate(configurations, 1):
        def bar(description, total, tag=f"[{index}/{len(configurations)}] "):
            return progress.bar((tag if len(configurations) > 1 else "") + description,
                                total)

        shown = bar if progress is not None else None
        runs.append(run_headline(block, spec, serial=serial, progress=shown) if headline
                    else run_block(block, spec, labels=labels, serial=serial,
                                   progress=shown).summary)
        if k == repeat - 1:
            summaries.append(runs[0] if repeat == 1 else median_of_repeats(runs))
            runs = []
    return summaries


COLUMNS = (  # summary key, heading, width
    ("strategy", "strategy", 16),
    ("threads", "threads", 7),
    ("virtual_speedup", "speedup", 8),
    ("virtual_speedup_bound", "bound", 7),
    ("executions_per_tx", "exec/tx", 8),
    ("reexecutions", "re-exec", 7),
    ("suspensions", "suspend", 7),
    ("matches_serial", "matches", 8),
)
REAL_COLUMNS = (("real_speedup", "real", 6),)  # processes backend rows
LEGEND = ("speedup and bound are virtual (simulated workers, cost model time; * the "
          "best at its thread count); bound: "
          "the dependency bound, the most any schedule could reach (bal, whose access "
          "list removes every dependency: the same without them; monad on gas-disk, "
          "whose reads yield its threads: the same with its loads off the workers); "
          "re-exec: executions "
          "beyond one per transaction; suspend: executions paused on an unfinished "
          "write")
REAL_LEGEND = ("; real: the processes backend's wall-clock speedup over serial py-evm "
               "(speedup is then its simulated prediction)")


def _cell(summary: dict, key: str) -> str:
    value = summary[key]
    if value is None:
        return "-"
    if key == "matches_serial":
        return "yes" if value else "NO"
    if key == "virtual_speedup_bound" and summary["strategy"] == "serial":
        return "-"  # one worker in order: no parallel bound applies
    if key == "virtual_speedup" and summary["repeats"] > 1:
        return (f"{value:.2f} ({summary['virtual_speedup_min']:.2f}-"
                f"{summary['virtual_speedup_max']:.2f})")
    if isinstance(value, float):
        return f"{value:.2f}"
    return str(value)


def format_table(summaries) -> str:
    """The comparison table, one row per summary (the best virtual speedup at each
    thread count marked *), and its legend."""
    real = any(s["real_speedup"] is not None for s in summaries)
    columns = COLUMNS[:3] + REAL_COLUMNS + COLUMNS[3:] if real else COLUMNS
    best = {}
    for s in summaries:
        best[s["threads"]] = max(best.get(s["threads"], 0.0), round(s["virtual_speedup"], 2))
    cells = [[_cell(s, key) + ("*" if key == "virtual_speedup" and len(summaries) > 1
                               and round(s[key], 2) == best[s["threads"]] else "")
              for key, _, _ in columns] for s in summaries]
    widths = [max([width, len(heading)] + [len(row[i]) for row in cells])
              for i, (_, heading, width) in enumerate(columns)]

    def line(row):
        return "  ".join(cell.ljust(w) if i == 0 else cell.rjust(w)
                         for i, (cell, w) in enumerate(zip(row, widths))).rstrip()

    lines = [line([heading for _, heading, _ in columns])] + [line(row) for row in cells]
    return "\n".join(lines + textwrap.wrap(LEGEND + (REAL_LEGEND if real else ""), 88))
