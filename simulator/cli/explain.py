"""`pevmsim explain`: which locations to fix, and what fixing them would buy.

Runs one block like `pevmsim run` (same options, checked against serial execution) and
prints its conflict insight (insight.py): the top locations ranked by the dependency
bound without their conflicts, with the bound if their writes were deltas and the
oracle without their conflicts; the hottest locations of the run; the transactions
executed most and what forced their re-executions. `--graph PATH.png` draws the block's
dependency graph (graph_plot.py); `--json PATH` writes what `run --json` writes, plus
each location's `oracle_if_removed`.
"""

from __future__ import annotations

from pathlib import Path

from ..usage import UsageError
from .arguments import (choice, add_block_arguments, add_execution_arguments,
                  add_strategy_option_argument)
from .run import header_ok, run_workload
from .exports import ExportError, check_outputs, export, to_stdout
from ..insight.naming import abbreviate
from ..usage import EXIT_MISMATCH
from ..strategies import STRATEGIES


def add_explain_command(commands) -> None:
    explain = commands.add_parser(
        "explain", help="rank hot locations by what removing their conflicts would gain")
    add_block_arguments(explain)
    explain.add_argument("--strategy", type=choice("strategy", list(STRATEGIES)),
                         default="block-stm", help="the strategy whose run is explained")
    add_strategy_option_argument(explain)
    add_execution_arguments(explain)
    explain.add_argument("--graph", metavar="PATH.png",
                         help="draw the dependency graph of the block (small blocks)")


def command_explain(args) -> int:
    from ..insight.graph_plot import MAX_TXS, draw

    try:
        check_outputs(args.json, args.csv)
    except ExportError as exc:
        raise UsageError(str(exc))
    if args.graph and not args.graph.endswith(".png"):
        raise UsageError(f"--graph writes a PNG file; got {args.graph!r}")
    if args.graph and not Path(args.graph).resolve().parent.is_dir():
        raise UsageError(f"--graph {args.graph}: no such directory")

    def check_block(block) -> None:
        if args.graph and len(block) > MAX_TXS:
            raise UsageError(f"--graph draws blocks of at most {MAX_TXS} transactions; "
                             f"this one has {len(block)}")

    block, report, summary = run_workload(args, check_block, oracle_what_if=True)
    if args.graph:
        try:
            draw(report.incarnations, report.namer.name,
                 report.metrics.executions_per_tx(len(block)), args.graph,
                 f"{summary['workload']} {summary['params']}: dependency graph of "
                 f"{len(block)} transactions")
        except OSError as exc:
            raise UsageError(f"cannot write {args.graph}: {exc.strerror}")
    export(args.json, args.csv, summary, [summary])
    if not to_stdout(args.json, args.csv):
        print(format_explanation(summary))
        if args.graph:
            print(f"\ndependency graph written to {args.graph}")
    return 0 if summary["matches_serial"] and header_ok(summary) else EXIT_MISMATCH


def format_explanation(s: dict) -> str:
    whatif = s["whatif"]
    lines = [
        f"{s['workload']} {s['params']} ({s['txs']} txs): {s['strategy']} on {s['threads']} "
        f"virtual workers, speedup {s['virtual_speedup']:.2f}x (virtual), "
        f"matches serial: {'yes' if s['matches_serial'] else 'NO'}",
        f"dependency bound {whatif['dependency_bound']:.2f}x, "
        f"oracle {whatif['oracle_speedup']:.2f}x",
        "",
        "What fixing a location would buy (best first; bound = dependency bound):",
        f"  {'#':>2}  {'location':<58} {'edges':>5} {'conflicts':>9}  "
        f"{'bound if removed':>16} {'as deltas':>9} {'oracle if removed':>17}",
    ]
    for rank, entry in enumerate(whatif["locations"], start=1):
        lines.append(
            f"  {rank:>2}  {abbreviate(entry['name'], 58):<58} {entry['edges']:>5} "
            f"{entry['conflicts']:>9}  "
            f"{_gain(whatif['dependency_bound'], entry['bound_if_removed']):>16} "
            f"{entry['bound_as_deltas']:>8.2f}x {entry['oracle_if_removed']:>16.2f}x")
        if len(entry["names"]) > 2:  # a group named in part: list its members
            lines.append(f"      = {abbreviate(', '.join(entry['names']), 110)}")
    if not whatif["locations"]:
        lines.append("  (no dependencies: nothing to fix)")
    lines += ["", f"Hot locations under {s['strategy']} (re-executions + suspensions):"]
    for entry in s["conflicts"]:
        lines.append(f"  {entry['reexecutions'] + entry['suspensions']:>6}  {entry['label']}")
    if not s["conflicts"]:
        lines.append("  (none)")
    lines += ["", "Most re-executed transactions, and the locations that forced it:"]
    for entry in s["reexecuted"]:
        causes = ", ".join(f"{cause['name']} ({cause['count']})"
                           for cause in entry["forced_by"]) or "-"
        lines.append(f"  tx {entry['tx']:>4}: {entry['executions']:>3} executions; {causes}")
    if not s["reexecuted"]:
        lines.append("  (none: every transaction executed once)")
    return "\n".join(lines)


def _gain(bound: float, what_if: float) -> str:
    return f"{bound:.2f}x -> {what_if:.2f}x"
