"""The `pevmsim` command line.

Every bad input ends in one line on stderr, `pevmsim: error: ...`, and exit code 2.
Exit code 3 (EXIT_MISMATCH) means a run did not match serial execution (or, in a
sweep, failed: --resume retries it); 4 (EXIT_FAILURE) a run that could not complete (a
worker process died, a timeout); 130 an interrupt. Each subcommand lives in its own
module beside this one (run.py: run and compare; explain.py; harness.py: sweep,
report, bench; fetch.py; fidelity.py: calibrate and fidelity); arguments.py holds the
option groups they share.
"""

from __future__ import annotations

import argparse
import os
import sys

from ..strategies import STRATEGIES
from ..usage import EXIT_FAILURE, EXIT_INTERRUPTED, EXIT_USAGE, RunFailure, UsageError
from .arguments import (Parser, add_block_arguments, add_execution_arguments,
                        add_output_arguments, add_strategy_option_argument, choice,
                        comma_list)
from .explain import add_explain_command
from .fetch import add_fetch_command, command_fetch
from .fidelity import add_commands as add_fidelity_commands
from .harness import add_harness_commands, command_bench, command_report, command_sweep


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="pevmsim", description=(
        "Parallel EVM execution simulator: real py-evm execution under optimistic "
        "parallel strategies, checked against serial execution on every run. Figures "
        "are virtual unless said otherwise: N virtual workers are simulated cores, "
        "not threads of this machine, and time is the cost model's, not the wall "
        "clock's (`pevmsim keys` lists every result key with its unit)."))
    commands = parser.add_subparsers(dest="command", required=True, parser_class=Parser,
                                     metavar="{run,compare,workloads,sweep,report,bench,"
                                     "fetch,explain,calibrate,fidelity,keys}")

    run = commands.add_parser("run", help="run one block under one strategy (at one or "
                                          "more thread counts)")
    add_block_arguments(run)
    run.add_argument("--strategy", type=choice("strategy", list(STRATEGIES)),
                     default="block-stm",
                     help=f"one of {', '.join(STRATEGIES)} (default block-stm)")
    add_strategy_option_argument(run)
    add_execution_arguments(run)
    add_other_models_argument(run)

    compare = commands.add_parser("compare", help="run several strategies on one block")
    add_block_arguments(compare)
    compare.add_argument("--strategies", default=list(STRATEGIES),
                         type=comma_list("--strategies", choice("strategy", list(STRATEGIES)),
                                    "strategy names"),
                         help=f"comma-separated (default all: {','.join(STRATEGIES)})")
    add_strategy_option_argument(compare)
    add_execution_arguments(compare)
    add_other_models_argument(compare)

    add_explain_command(commands)

    workloads = commands.add_parser("workloads", help="list workloads and their parameters")
    workloads.add_argument("specs", nargs="*", metavar="WORKLOAD",
                           help="list only these (names or FILE.py:CLASS plug-ins)")
    add_output_arguments(workloads, csv=False)
    keys = commands.add_parser("keys", help="every JSON / CSV key of the result rows, its "
                                            "unit and meaning")
    add_output_arguments(keys, csv=False)
    add_harness_commands(commands)
    add_fetch_command(commands)
    add_fidelity_commands(commands)
    return parser


def add_other_models_argument(parser) -> None:
    parser.add_argument("--no-other-models", action="store_true",
                        help="skip re-running the headline runs under the other "
                             "deterministic cost models (the 'other cost models' line)")


def command_run(args) -> int:
    from .run import run_command

    return run_command(args, [args.strategy])


def command_compare(args) -> int:
    from .run import run_command

    return run_command(args, args.strategies)


def command_workloads(args) -> int:
    from workloads.api import WorkloadError
    from workloads.registry import format_listing, list_workloads

    from .exports import ExportError, check_outputs, export

    try:
        check_outputs(args.json, None)
        listing = list_workloads(args.specs, only=bool(args.specs))
    except (ExportError, WorkloadError) as exc:
        raise UsageError(str(exc))
    if args.json:
        export(args.json, None, listing, [])
    if args.json != "-":
        print(format_listing(listing))
    return 0


def command_keys(args) -> int:
    """`pevmsim keys`: runs/summary.py's keys, units and meanings."""
    import textwrap

    from ..runs.summary import keys
    from .exports import ExportError, check_outputs, export

    try:
        check_outputs(args.json, None)
    except ExportError as exc:
        raise UsageError(str(exc))
    listed = keys()
    if args.json:
        export(args.json, None, [{"key": key, "unit": unit, "meaning": meaning,
                                  "json_only": only} for key, unit, meaning, only in listed], [])
    if args.json != "-":
        width = max(len(key) for key, *_ in listed)
        units = max(len(unit) for _, unit, *_ in listed)
        for key, unit, meaning, only in listed:
            text = meaning + (" [JSON only]" if only else "")
            lines = textwrap.wrap(text, max(40, 100 - width - units - 4)) or [""]
            print(f"{key:<{width}}  {unit:<{units}}  {lines[0]}")
            for line in lines[1:]:
                print(" " * (width + units + 4) + line)
        print("\nEvery row of run --json / --csv, compare and a sweep's results.jsonl "
              "holds these keys (a sweep row also suite and key; CSV leaves out the JSON "
              "only ones and writes params as one param.NAME column each).")
    return 0


def command_explain(args) -> int:
    from .explain import command_explain as explain

    return explain(args)


def command_calibrate(args) -> int:
    from .fidelity import command_calibrate as calibrate

    return calibrate(args)


def command_fidelity(args) -> int:
    from .fidelity import command_fidelity as fidelity

    return fidelity(args)


COMMANDS = {"keys": command_keys, "calibrate": command_calibrate, "fidelity": command_fidelity, "run": command_run, "compare": command_compare, "explain": command_explain,
            "workloads": command_workloads, "sweep": command_sweep,
            "report": command_report, "bench": command_bench, "fetch": command_fetch}


def main(argv=None) -> int:
    try:
        args = build_parser().parse_args(argv)
        return COMMANDS[args.command](args)
    except UsageError as exc:  # one line, even if a plug-in's message has several
        print(f"pevmsim: error: {'; '.join(filter(None, str(exc).splitlines()))}",
              file=sys.stderr)
        return EXIT_USAGE
    except RunFailure as exc:
        print(f"pevmsim: error: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    except KeyboardInterrupt:
        print("pevmsim: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # the reader went away (e.g. `| head`): stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1

