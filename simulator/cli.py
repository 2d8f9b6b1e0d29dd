"""The `pevmsim` command line.

Every bad input ends in one line on stderr, `pevmsim: error: ...`, and exit code 2.
Exit code 3 (EXIT_MISMATCH) means a run did not match serial execution (or, in a
sweep, failed: --resume retries it); 4 (EXIT_FAILURE) a run that could not complete (a
worker process died, a timeout); 130 an interrupt. `run` and `compare` live in
commands.py, the harness in harness/.
"""

from __future__ import annotations

import argparse
import os
import sys

from .backends import BACKENDS
from .cost_model import COST_MODELS
from .strategies import STRATEGIES
from .usage import EXIT_FAILURE, EXIT_INTERRUPTED, EXIT_MISMATCH, EXIT_USAGE, RunFailure, UsageError


class _Parser(argparse.ArgumentParser):
    """Errors are UsageErrors; no option may be abbreviated (--strategy is not
    --strategy-option)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **{**kwargs, "allow_abbrev": False})

    def error(self, message):
        raise UsageError(message)


def _positive(name, kind: type = int):
    """A parser of a positive integer (>= 1) or, with kind=float, a number > 0."""
    noun = "an integer" if kind is int else "a number"

    def parse(text):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{name} must be {noun}, got {text!r}")
        if kind is int and value < 1:
            raise argparse.ArgumentTypeError(f"{name} must be >= 1, got {value}")
        if kind is float and not value > 0:
            raise argparse.ArgumentTypeError(f"{name} must be > 0, got {text}")
        return value
    return parse


def _txs(text):
    """--txs: a positive count, or 'all' (Size.ALL) for recorded blocks."""
    from workloads.api import Size

    return Size.ALL if text == Size.ALL.value else _positive("--txs")(text)


def _list(flag, item, names):
    """A comma-separated list of `item`s: no empty entries, no duplicates."""
    def parse(text):
        parts = [part.strip() for part in text.split(",")]
        if "" in parts:
            raise argparse.ArgumentTypeError(f"{flag} {text!r} has an empty entry; "
                                             f"give {names} separated by single commas")
        values = [item(part) for part in parts]
        repeated = sorted({part for part in parts if parts.count(part) > 1})
        if repeated:
            raise argparse.ArgumentTypeError(f"{flag} names {repeated[0]!r} twice")
        return values
    return parse


def _choice(name, choices):
    def parse(text):
        if text not in choices:
            raise argparse.ArgumentTypeError(
                f"unknown {name} {text!r}; valid: {', '.join(choices)}")
        return text
    return parse


def add_block_arguments(parser) -> None:
    """The options that pick a block: workload, parameters, size, seed."""
    parser.add_argument("--workload", required=True, metavar="NAME|FILE.py:CLASS",
                        help="a built-in or installed workload, or a plug-in class")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="workload parameter (repeatable)")
    parser.add_argument("--txs", type=_txs, required=True, metavar="N|all",
                        help="transactions in the block ('all': every transaction of a "
                             "recorded block, e.g. mainnet)")
    parser.add_argument("--seed", type=int, default=0, help="workload seed (default 0)")


def add_execution_arguments(parser) -> None:
    """The options shared by every command that executes blocks."""
    parser.add_argument("--threads", type=_list("--threads", _positive("--threads"), "counts"),
                        default=[8], metavar="T[,T...]",
                        help="virtual workers, or a list such as 1,2,4,8 (one table row "
                             "each; default 8)")
    parser.add_argument("--cost-model", type=_choice("cost model", list(COST_MODELS)),
                        default="gas", help="gas (deterministic, state in memory; default), "
                        "gas-disk (state on an SSD), revm (fitted to pevm's revm "
                        "timings) or measured (py-evm CPU time)")
    parser.add_argument("--cold-load-us", type=float, metavar="US",
                        help="cost of a cold state load in microseconds (gas models; "
                        "default 0.1 for gas, 80 for gas-disk, 0.32 for revm)")
    parser.add_argument("--backend", type=_choice("backend", list(BACKENDS)),
                        default="simulated",
                        help="simulated (virtual workers in virtual time; default) or "
                             "processes (real worker processes, real time, with the "
                             "simulated prediction beside it)")
    parser.add_argument("--timeout", type=_positive("--timeout", float), metavar="S",
                        help="processes backend: end a run that takes longer than S "
                             "seconds (exit code 4)")
    parser.add_argument("--pipeline", type=_positive("--pipeline"), metavar="D",
                        help="processes backend: requests each worker process holds at "
                             "once, so that it never waits for the coordinator (default "
                             "2; 1 runs the N-worker schedule exactly)")
    parser.add_argument("--serial-repeats", type=_positive("--serial-repeats"), default=3,
                        metavar="K", help="processes backend: time serial py-evm K times "
                                          "and take the median (default 3)")
    parser.add_argument("--no-lazy-beneficiary", dest="lazy_beneficiary",
                        action="store_false",
                        help="credit the coinbase with a read-modify-write per transaction")
    parser.add_argument("--lazy-transfers", action="store_true",
                        help="update raw transfers' senders and recipients as commutative "
                             "deltas (pevm's LazySender/LazyRecipient)")
    parser.add_argument("--deep-check", action="store_true",
                        help="also compare each transaction's writes with serial's")
    parser.add_argument("--repeat", type=_positive("--repeat"), default=1, metavar="K",
                        help="run each configuration K times and report the median "
                             "and spread (measured cost model)")
    add_output_arguments(parser, csv=True)


def add_output_arguments(parser, csv: bool) -> None:
    """--json [PATH] (no PATH or '-': stdout) and, for result rows, --csv PATH."""
    parser.add_argument("--json", metavar="PATH", nargs="?", const="-",
                        help="write JSON to PATH (no PATH or '-': stdout)")
    if csv:
        parser.add_argument("--csv", metavar="PATH",
                            help="write one CSV row per run to PATH ('-': stdout)")


def add_strategy_option_argument(parser) -> None:
    parser.add_argument("--strategy-option", action="append", default=[],
                        metavar="KEY=VALUE", dest="strategy_options",
                        help="strategy parameter, e.g. accuracy=0.8 (repeatable)")


def strategy_options(names, settings) -> dict:
    """--strategy-option settings -> {strategy: {key: value}} (UsageError if bad)."""
    from .strategies.options import OptionError, parse_options

    try:
        return parse_options([STRATEGIES[name] for name in names], settings)
    except OptionError as exc:
        raise UsageError(str(exc))


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="pevmsim", description=(
        "Parallel EVM execution simulator: real py-evm execution under optimistic "
        "parallel strategies, checked against serial execution on every run."))
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser,
                                     metavar="{run,compare,workloads,sweep,report,bench,"
                                     "fetch,explain,calibrate,fidelity}")

    run = commands.add_parser("run", help="run one block under one strategy (at one or "
                                          "more thread counts)")
    add_block_arguments(run)
    run.add_argument("--strategy", type=_choice("strategy", list(STRATEGIES)),
                     default="block-stm", help=f"one of {', '.join(STRATEGIES)}")
    add_strategy_option_argument(run)
    add_execution_arguments(run)

    compare = commands.add_parser("compare", help="run several strategies on one block")
    add_block_arguments(compare)
    compare.add_argument("--strategies", default=list(STRATEGIES),
                         type=_list("--strategies", _choice("strategy", list(STRATEGIES)),
                                    "strategy names"),
                         help=f"comma-separated (default all: {','.join(STRATEGIES)})")
    add_strategy_option_argument(compare)
    add_execution_arguments(compare)

    from .explain import add_explain_command  # its own module: explain.py

    add_explain_command(commands)

    workloads = commands.add_parser("workloads", help="list workloads and their parameters")
    workloads.add_argument("specs", nargs="*", metavar="WORKLOAD",
                           help="list only these (names or FILE.py:CLASS plug-ins)")
    add_output_arguments(workloads, csv=False)
    add_harness_commands(commands)
    from .fetch import add_fetch_command

    add_fetch_command(commands)
    from .fidelity_commands import add_commands as add_fidelity_commands

    add_fidelity_commands(commands)
    return parser


def command_run(args) -> int:
    from .commands import run_command

    return run_command(args, [args.strategy])


def command_compare(args) -> int:
    from .commands import run_command

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


# -- the benchmark harness: sweep, report, bench (simulator/harness/) ---------------
def add_harness_commands(commands) -> None:
    sweep = commands.add_parser("sweep", help="run a benchmark suite into a results dir")
    sweep.add_argument("suite", help="suite file, or a name in bench/suites/ (e.g. smoke)")
    sweep.add_argument("--out", required=True, help="results directory")
    sweep.add_argument("--resume", action="store_true",
                       help="continue a sweep in --out, skipping finished runs and "
                       "retrying failed ones")
    add_parallel_arguments(sweep)
    sweep.add_argument("--txs", type=_list("--txs", _positive("--txs"), "counts"),
                       metavar="N[,N...]", help="run only the suite's blocks of these "
                       "sizes (e.g. --txs 1000 of the paper suite)")
    add_output_arguments(sweep, csv=True)
    report = commands.add_parser("report", help="charts and report.md/.html of a sweep")
    report.add_argument("dir", help="a results directory written by `pevmsim sweep`")
    report.add_argument("--readme", metavar="PATH",
                        help="also rewrite the figures paragraph between the report "
                        "markers in this file (make bench: README.md)")
    bench = commands.add_parser("bench", help="sweep (resuming) and report a suite")
    bench.add_argument("suite", nargs="?", default="default",
                       help="suite file or name (default: default)")
    bench.add_argument("--out", help="results directory (default: reports/SUITE)")
    add_parallel_arguments(bench)


def add_parallel_arguments(parser) -> None:
    """Where a sweep runs: --jobs N local worker processes, or --scheduler ADDRESS."""
    from .harness.cluster import default_jobs

    jobs = default_jobs()
    parser.add_argument("--jobs", type=_positive("--jobs"), metavar="N",
                        help="run block settings on N local Dask worker processes "
                        f"(default: every core, here {jobs}; 1: in this process)")
    parser.add_argument("--scheduler", metavar="ADDRESS",
                        help="run on the Dask cluster of this scheduler (e.g. "
                        "tcp://host:8786) instead; its workers need pevmsim installed")


def command_sweep(args) -> int:
    from .harness.cluster import default_jobs
    from .exports import ExportError, check_outputs, export, to_stdout
    from .harness.cluster import ClusterError
    from .harness.suite import SuiteError, load_suite, select_txs
    from .harness.sweep import SweepError, read_results, sweep

    if args.scheduler is not None and args.jobs is not None:
        raise UsageError("give --jobs (local worker processes) or --scheduler (an "
                         "existing Dask cluster), not both")
    try:
        check_outputs(args.json, args.csv)
        suite = load_suite(args.suite)
        if args.txs:
            suite = select_txs(suite, args.txs)
    except (ExportError, SuiteError) as exc:
        raise UsageError(str(exc))
    try:
        stats = sweep(suite, args.out, resume=args.resume, jobs=args.jobs or default_jobs(),
                      scheduler=args.scheduler)
    except (SweepError, ClusterError) as exc:
        raise UsageError(str(exc))
    except KeyboardInterrupt:
        print(f"pevmsim: interrupted; finished runs are kept in {args.out}, continue "
              "with --resume", file=sys.stderr)
        return EXIT_INTERRUPTED
    rows = read_results(args.out)
    export(args.json, args.csv, rows, rows)
    verdict = (f"{stats.mismatches - stats.failed} DO NOT MATCH SERIAL"
               if stats.mismatches > stats.failed else "all match serial")
    if stats.failed:
        verdict += f", {stats.failed} FAILED (retry them with --resume)"
    if not to_stdout(args.json, args.csv):
        print(f"{suite.name}: {stats.ran} runs ({stats.skipped} already finished), "
              f"{verdict}; results in {args.out}")
    return EXIT_MISMATCH if stats.mismatches else 0


def command_report(args) -> int:
    from .harness.report import ReportError, report

    try:
        written = report(args.dir, args.readme)
    except ReportError as exc:
        raise UsageError(str(exc))
    print(f"wrote {len(written)} files; open {args.dir}/report.html or report.md")
    return 0


def command_bench(args) -> int:
    from .harness.suite import SuiteError, load_suite

    try:
        name = load_suite(args.suite).name
    except SuiteError as exc:
        raise UsageError(str(exc))
    out = args.out or f"reports/{name}"
    code = command_sweep(argparse.Namespace(suite=args.suite, out=out, resume=True,
                                            json=None, csv=None, txs=None, jobs=args.jobs,
                                            scheduler=args.scheduler))
    if code == EXIT_INTERRUPTED:  # interrupted: nothing to report yet
        return code
    return command_report(argparse.Namespace(dir=out, readme=None)) or code


def command_fetch(args) -> int:
    from .fetch import FetchError, fetch_command

    try:
        return fetch_command(args)
    except FetchError as exc:
        raise UsageError(str(exc))


def command_explain(args) -> int:
    from .explain import command_explain as explain

    return explain(args)


def command_calibrate(args) -> int:
    from .fidelity_commands import command_calibrate as calibrate

    return calibrate(args)


def command_fidelity(args) -> int:
    from .fidelity_commands import command_fidelity as fidelity

    return fidelity(args)


COMMANDS = {"calibrate": command_calibrate, "fidelity": command_fidelity, "run": command_run, "compare": command_compare, "explain": command_explain,
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


if __name__ == "__main__":
    sys.exit(main())
