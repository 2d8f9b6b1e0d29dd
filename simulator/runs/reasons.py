"""Why a result surprises: one line, from the run's own counters, when a strategy runs
below serial or loses speed as workers are added.

    phases(events, makespan)   the share of the makespan during which at most one
                               worker was busy, and which task kinds filled it (the
                               summary's `virtual_serial_share`, `virtual_serial_kinds`)
    reason(row, lower)         the line for a row, or None when nothing surprises:
                               `lower` is the same strategy's row at the next lower
                               thread count, if any

A reason names the largest cause the counters show, in this order: wasted executions
(more than WASTE executions per transaction), then serial phases (at least SERIAL_PHASE
of the makespan with at most one worker busy: an in-order merge, a chain of
re-executions), else the work the workers did against the serial time (the cost
model's per-task and parallel overheads).

Invariants: a reason is derived from the row alone (and its lower sibling); nothing
here changes a figure; the serial phases never exceed the makespan, and the time of
their kinds never exceeds the phases (checked under PEVMSIM_DEBUG).
"""

from __future__ import annotations

from .. import debug

WASTE = 1.5  # executions per transaction above which waste is the reason
SERIAL_PHASE = 0.5  # share of the makespan with <= 1 busy worker that makes it the reason
KIND_WORDS = {"validation": "validations (in-order commits)",
              "failed-validation": "failed validations",
              "re-execution": "re-executions", "execution": "first executions",
              "suspended": "suspended executions", "aborted": "aborted executions",
              "invalid": "executions rejected on stale reads", "warm-up": "warm-up loads"}


def phases(events, makespan: float) -> tuple:
    """(share of the makespan with at most one busy worker, {kind: seconds of those
    phases that tasks of that kind filled}), from (worker, kind, tx, incarnation,
    start, end) events; kinds in sorted order, so the result is deterministic."""
    if not makespan:
        return 0.0, {}
    edges = sorted({0.0, makespan, *(e[4] for e in events), *(e[5] for e in events)})
    starts = sorted((e[4], e[5], str(e[1])) for e in events)
    alone = 0.0
    kinds: dict = {}
    active: list = []
    index = 0
    for left, right in zip(edges, edges[1:]):
        while index < len(starts) and starts[index][0] <= left:
            active.append(starts[index])
            index += 1
        active = [task for task in active if task[1] > left]
        if len(active) <= 1 and right > left:
            alone += right - left
            for _, _, kind in active:
                kinds[kind] = kinds.get(kind, 0.0) + right - left
    if debug.ENABLED:
        debug.check(alone <= makespan * (1 + 1e-9) and sum(kinds.values()) <= alone * (1 + 1e-9),
                    lambda: f"serial phases {alone} (kinds {kinds}) beyond makespan {makespan}")
    return min(alone / makespan, 1.0), dict(sorted(kinds.items()))


def reason(row: dict, lower: dict | None = None) -> str | None:
    """The one-line reason for `row`, or None (see the module docstring)."""
    if row["strategy"] == "serial" or not row.get("matches_serial", True):
        return None
    speedup = row["virtual_speedup"]
    below = speedup < 1
    falls = lower is not None and speedup < lower["virtual_speedup"] * 0.995
    if not (below or falls):
        return None
    what = (f"{row['strategy']} at {workers(row['threads'])}: {speedup:.2f}x"
            + (f", down from {lower['virtual_speedup']:.2f}x at {lower['threads']}"
               if falls else ", below serial"))
    return f"{what}: {cause(row, lower)}"


def cause(row: dict, lower: dict | None) -> str:
    per_tx = row["executions_per_tx"]
    if per_tx > WASTE:
        grew = (f", up from {lower['executions_per_tx']:.2f} at {lower['threads']}"
                if lower and lower["executions_per_tx"] < per_tx * 0.95 else "")
        failed = (f", {row['validation_failures']:,} of {row['validations']:,} "
                  "validations failed" if row.get("validations") else "")
        return (f"{per_tx:.2f} executions per transaction{grew} "
                f"({row['reexecutions']:,} re-executions{failed})")
    share = row.get("virtual_serial_share")
    if share is not None and share >= SERIAL_PHASE and row["threads"] > 1:
        kinds = row.get("virtual_serial_kinds") or {}
        main = max(kinds, key=lambda kind: (kinds[kind], kind)) if kinds else None
        mostly = f", mostly {KIND_WORDS.get(main, main)}" if main else ""
        return (f"serial phases: at most one of {workers(row['threads'])} busy for "
                f"{share:.0%} of the makespan{mostly}")
    work = row["utilization"] * row["threads"] * row["virtual_makespan_s"]
    overhead = work / row["virtual_serial_time_s"] if row["virtual_serial_time_s"] else 0.0
    return (f"the workers did {overhead:.1f}x the serial work in {workers(row['threads'])} x "
            f"{row['utilization']:.0%} of the makespan ({per_tx:.2f} executions per "
            f"transaction; the rest is the {row['cost_model']} cost model's per-task and "
            "parallel overheads)")


def workers(count: int) -> str:
    return f"{count} worker{'' if count == 1 else 's'}"


def reasons(rows: list) -> list:
    """The reason lines of a block's rows (several strategies and thread counts), in
    row order."""
    lines = []
    for row in rows:
        lower = [other for other in rows if other["strategy"] == row["strategy"]
                 and other["threads"] < row["threads"]]
        sibling = max(lower, key=lambda other: other["threads"]) if lower else None
        line = reason(row, sibling)
        if line:
            lines.append(line)
    return lines
