"""`pevmsim compare`: several strategies on one block, one table.

The block is built once and executed serially with stock py-evm once; every strategy
then runs on that same block, the same number of simulated workers and the same cost
model, and is checked against that one serial result.
"""

from __future__ import annotations

import time

from .runner import run_block
from .serial import execute_serial

COLUMNS = (  # summary key, heading, width, format
    ("strategy", "strategy", 16, "{}"),
    ("speedup", "speedup", 8, "{:.2f}"),
    ("speedup_bound", "bound", 7, "{:.2f}"),
    ("executions_per_tx", "exec/tx", 8, "{:.2f}"),
    ("aborts", "aborts", 7, "{}"),
    ("matches_serial", "matches", 8, "{}"),
)


def compare(block, strategies, threads: int, cost_model: str = "gas",
            lazy_beneficiary: bool = True, backend: str = "simulated", labels=None,
            strategy_options=None, deep_check: bool = False,
            cold_load: float | None = None) -> list:
    """One run summary per strategy, in the given order. `strategy_options` maps a
    strategy name to its keyword options; `deep_check` and `cold_load` as in
    run_block."""
    started = time.perf_counter()
    serial_result, _ = execute_serial(block, steps=deep_check)
    serial = (serial_result, time.perf_counter() - started)
    options = strategy_options or {}
    return [run_block(block, name, threads, cost_model, lazy_beneficiary, backend,
                      labels=labels, serial=serial,
                      strategy_options=options.get(name), deep_check=deep_check,
                      cold_load=cold_load).summary
            for name in strategies]


def format_table(summaries) -> str:
    """The comparison table: strategy, speedup, speedup bound, executions per
    transaction, aborts (executions beyond one per transaction), matches serial."""
    def row(cells):
        return "  ".join(cell.ljust(width) if index == 0 else cell.rjust(width)
                         for index, (cell, (_, _, width, _)) in enumerate(zip(cells, COLUMNS)))

    def cell(summary, key, fmt):
        value = summary[key]
        if key == "matches_serial":
            value = "yes" if value else "NO"
        return fmt.format(value)

    lines = [row([heading for _, heading, _, _ in COLUMNS])]
    for summary in summaries:
        lines.append(row([cell(summary, key, fmt) for key, _, _, fmt in COLUMNS]))
    return "\n".join(lines)
