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
from ..paths import unwritable_file
from .exports import ExportError, check_outputs, export, to_stdout
from ..insight.naming import abbreviate, block_addresses, expand_addresses
from ..usage import EXIT_MISMATCH
from ..strategies import STRATEGIES


def add_explain_command(commands) -> None:
    explain = commands.add_parser(
        "explain", help="rank hot locations by what removing their conflicts would gain")
    add_block_arguments(explain)
    explain.add_argument("--strategy", type=choice("strategy", list(STRATEGIES)),
                         default="block-stm",
                         help="the strategy whose run is explained (default block-stm)")
    add_strategy_option_argument(explain)
    add_execution_arguments(explain)
    explain.add_argument("--graph", metavar="PATH.png",
                         help="draw the dependency graph of the block (small blocks)")
    explain.add_argument("--full-addresses", action="store_true",
                         help="print addresses whole (0xc02aaa39...), not cut to "
                              "0xc02a..6cc2, wherever the block makes that unambiguous")


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
    reason = args.graph and unwritable_file(args.graph)
    if reason:
        raise UsageError(f"--graph {args.graph}: {reason}")

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
    if args.full_addresses:
        summary = expand_addresses(summary, block_addresses(block, report.incarnations))
    export(args.json, args.csv, summary, [summary])
    if not to_stdout(args.json, args.csv):
        print(format_explanation(summary, width=None if args.full_addresses else NAME_WIDTH))
        if args.graph:
            print(f"\ndependency graph written to {args.graph}")
    return 0 if summary["matches_serial"] and header_ok(summary) else EXIT_MISMATCH


NAME_WIDTH = 58  # a location's column; names are cut to it (not with --full-addresses)


def format_explanation(s: dict, width: int | None = NAME_WIDTH) -> str:
    """The ranking (rows that gain nothing folded into one line, ties explained), the
    top locations fixed together, the hot locations and the re-executed transactions.
    `width` cuts names to a column (None: whole names)."""
    whatif = s["whatif"]
    bound = s["virtual_speedup_bound"]
    column = width or max([8] + [len(e["name"]) for e in whatif["locations"]])

    def cut(name: str) -> str:
        return name if width is None else abbreviate(name, width)

    lines = [
        f"{s['workload']} {s['params']} ({s['txs']} txs): {s['strategy']} on {s['threads']} "
        f"virtual workers, speedup {s['virtual_speedup']:.2f}x (virtual, {s['cost_model']} "
        f"cost model), matches serial: {'yes' if s['matches_serial'] else 'NO'}",
        f"dependency bound {bound:.2f}x, oracle {whatif['oracle_speedup']:.2f}x",
        "",
        "What fixing a location would buy (best first; bound = dependency bound):",
        f"  {'#':>2}  {'location':<{column}} {'edges':>5} {'conflicts':>9}  "
        f"{'bound if removed':>16} {'as deltas':>9} {'oracle if removed':>17}",
    ]
    tied = {rank: tie for tie in whatif.get("ties", ()) for rank in tie["ranks"]}
    idle = []  # ranks whose removal alone gains nothing
    for rank, entry in enumerate(whatif["locations"], start=1):
        if f"{entry['bound_if_removed']:.2f}" == f"{bound:.2f}":
            idle.append(rank)
            continue
        lines.append(
            f"  {rank:>2}  {cut(entry['name']):<{column}} {entry['edges']:>5} "
            f"{entry['conflicts']:>9}  {_gain(bound, entry['bound_if_removed']):>16} "
            f"{entry['bound_as_deltas']:>8.2f}x {entry['oracle_if_removed']:>16.2f}x")
        if len(entry["names"]) > 2:  # a group named in part: list its members
            members = ", ".join(entry["names"])
            lines.append(f"      = {members if width is None else abbreviate(members, 110)}")
        tie = tied.get(rank)
        if tie and rank == tie["ranks"][0]:
            lines.append(_tie_text(tie, whatif["locations"]))
    if idle:
        names = [cut(whatif["locations"][rank - 1]["name"]) for rank in idle]
        lines.append(f"  {len(idle)} more location{'s' if len(idle) > 1 else ''} gain "
                     f"nothing removed alone (bound stays {bound:.2f}x: another "
                     f"dependency chain is as long): {'; '.join(names)}")
    if not whatif["locations"]:
        lines.append("  (no dependencies: nothing to fix)")
    if whatif.get("work_bound"):
        lines.append(f"  the bound is not a chain of dependencies: {bound:.2f}x is the total "
                     f"work on {s['threads']} workers (or running in order), so no "
                     "location's fix raises it; more workers or less work per "
                     "transaction would")
    if whatif.get("together"):
        lines += ["", "Fixing the top locations together (the best k entries above, at once):"]
        for entry in whatif["together"]:
            lines.append(f"  top {entry['k']}: bound {_gain(bound, entry['bound_if_removed'])}, "
                         f"as deltas {entry['bound_as_deltas']:.2f}x ({entry['edges']} "
                         f"edges, {len(entry['names'])} locations)")
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


def _tie_text(tie: dict, entries: list) -> str:
    ranks = ", ".join(f"#{rank}" for rank in tie["ranks"])
    shared = (f"they induce the same {tie['edges']} dependencies"
              if tie["shared_edges"] == tie["edges"]
              else f"they share {tie['shared_edges']} of the {tie['edges']} dependencies "
                   "they induce")
    return (f"      tie: {ranks} each give "
            f"{entries[tie['ranks'][0] - 1]['bound_if_removed']:.2f}x alone: {shared}; the "
            "longest remaining chain runs through the others, so removing one leaves it; "
            f"removed together: {tie['bound_if_removed_together']:.2f}x")


def _gain(bound: float, what_if: float) -> str:
    return f"{bound:.2f}x -> {what_if:.2f}x"
