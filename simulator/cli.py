"""The `pevmsim` command line.

Every bad input ends in one line on stderr, `pevmsim: error: ...`, and exit code 2.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

from .backends.simulated import BACKENDS
from .cost_model import COST_MODELS
from .params import split_setting
from .strategies import STRATEGIES


class UsageError(Exception):
    """Bad input: reported as one line, exit code 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        raise UsageError(message)


def _positive(name):
    def parse(text):
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{name} must be an integer, got {text!r}")
        if value < 1:
            raise argparse.ArgumentTypeError(f"{name} must be >= 1, got {value}")
        return value
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
    parser.add_argument("--workload", required=True, help="workload name or file.py:Class")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="workload parameter (repeatable)")
    parser.add_argument("--txs", type=_positive("--txs"), required=True,
                        help="transactions in the block")
    parser.add_argument("--seed", type=int, default=0, help="workload seed (default 0)")


def add_execution_arguments(parser) -> None:
    """The options shared by every command that executes blocks."""
    parser.add_argument("--threads", type=_positive("--threads"), default=8,
                        help="virtual workers (default 8)")
    parser.add_argument("--cost-model", type=_choice("cost model", list(COST_MODELS)),
                        default="gas", help="gas (deterministic, default) or measured")
    parser.add_argument("--backend", type=_choice("backend", list(BACKENDS)),
                        default="simulated", help="simulated (default)")
    parser.add_argument("--no-lazy-beneficiary", dest="lazy_beneficiary",
                        action="store_false",
                        help="credit the coinbase with a read-modify-write per transaction")
    parser.add_argument("--json", metavar="PATH", help="write JSON here ('-' = stdout)")


def add_strategy_option_argument(parser) -> None:
    parser.add_argument("--strategy-option", action="append", default=[],
                        metavar="KEY=VALUE", dest="strategy_options",
                        help="strategy parameter, e.g. accuracy=0.8 (repeatable)")


def _strategy_list(text):
    names = [name.strip() for name in text.split(",") if name.strip()]
    unknown = [name for name in names if name not in STRATEGIES]
    if unknown or not names:
        raise argparse.ArgumentTypeError(
            f"unknown strategy {(unknown or [text])[0]!r}; valid: {', '.join(STRATEGIES)}")
    return names


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
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    run = commands.add_parser("run", help="run one block under one strategy")
    add_block_arguments(run)
    run.add_argument("--strategy", type=_choice("strategy", list(STRATEGIES)),
                     default="block-stm", help=f"one of {', '.join(STRATEGIES)}")
    add_strategy_option_argument(run)
    add_execution_arguments(run)

    compare = commands.add_parser("compare", help="run several strategies on one block")
    add_block_arguments(compare)
    compare.add_argument("--strategies", type=_strategy_list, default=list(STRATEGIES),
                         help=f"comma-separated (default all: {','.join(STRATEGIES)})")
    add_strategy_option_argument(compare)
    add_execution_arguments(compare)

    from .explain import add_explain_command  # its own module: explain.py

    add_explain_command(commands)

    workloads = commands.add_parser("workloads", help="list workloads and their parameters")
    workloads.add_argument("--json", action="store_true", help="print JSON")
    add_harness_commands(commands)
    return parser


def parse_settings(workload_class, settings) -> dict:
    params = {p.name: p for p in workload_class.params}
    values = {}
    for setting in settings:
        try:
            key, text = split_setting(setting, "--set")
        except ValueError as exc:
            raise UsageError(str(exc))
        if key not in params:
            raise UsageError(f"unknown parameter {key!r} for workload {workload_class.name}; "
                             f"valid: {', '.join(params) or 'none'}")
        try:
            values[key] = params[key].parse(text)
        except ValueError as exc:
            raise UsageError(str(exc))
    return values


def make_block(args):
    """(workload instance, its parameters, the block) for the block options."""
    from workloads.api import WorkloadError
    from workloads.registry import load_workload

    try:
        workload_class = load_workload(args.workload)
    except WorkloadError as exc:
        raise UsageError(str(exc))
    values = parse_settings(workload_class, args.set)
    workload = workload_class(**values)
    try:
        block = workload.block(args.txs, seed=args.seed)
    except WorkloadError as exc:
        raise UsageError(str(exc))
    return workload, dict(workload.values), block


def write_json(path, payload) -> None:
    text = json.dumps(payload, indent=2, default=str)
    if path == "-":
        print(text)
    else:
        with open(path, "w") as handle:
            handle.write(text + "\n")


def format_summary(s: dict) -> str:
    verdict = "yes" if s["matches_serial"] else "NO: " + "; ".join(s["mismatches"])
    return "\n".join([
        f"workload        {s['workload']} {s['params']}  ({s['txs']} txs, {s['gas_used']:,} gas)",
        f"strategy        {s['strategy']} on {s['threads']} {s['backend']} workers, "
        f"{s['cost_model']} cost model"
        + ("" if s["lazy_beneficiary"] else ", no lazy beneficiary"),
        f"matches serial  {verdict}",
        f"speedup         {s['speedup']:.2f}x  (dependency bound {s['speedup_bound']:.2f}x)",
        f"time            parallel {s['parallel_time'] * 1e3:.3f} ms, "
        f"serial {s['serial_time'] * 1e3:.3f} ms (virtual)",
        f"throughput      {s['throughput_tps']:,.0f} tx/s, "
        f"{s['throughput_gas_per_s'] / 1e6:,.1f} Mgas/s",
        f"executions      {s['executions']} ({s['executions_per_tx']:.2f} per tx), "
        f"{s['aborts']} re-executions, {s['suspensions']} suspensions, "
        f"{s['invalid_executions']} rejected on stale reads",
        f"validations     {s['validations']} ({s['validation_failures']} failed), "
        f"worker utilization {s['utilization']:.0%}",
        f"wall time       {s['wall_time_s']:.2f} s (serial py-evm {s['serial_wall_time_s']:.2f} s)",
    ])


def progress_bar(description: str, total: int):
    """A progress bar on stderr, shown only on a terminal."""
    from tqdm import tqdm

    return tqdm(total=total, desc=description, unit="tx", leave=False, disable=None)


def run_workload(args, check_block=None, oracle_what_if: bool = False) -> tuple:
    """Build the block of the block options and run it under --strategy, checked
    against serial: (block, RunReport, the `run --json` summary). `check_block(block)`
    may reject the block (UsageError) before it runs."""
    from .runner import run_block
    from .serial import InvalidBlock

    options = strategy_options([args.strategy], args.strategy_options)[args.strategy]
    workload, params, block = make_block(args)
    if check_block is not None:
        check_block(block)
    try:
        report = run_block(block, args.strategy, args.threads, args.cost_model,
                           args.lazy_beneficiary, args.backend, labels=workload.labels(),
                           progress=progress_bar, strategy_options=options,
                           oracle_what_if=oracle_what_if)
    except InvalidBlock as exc:
        raise UsageError(f"workload {workload.name}: {exc}")
    summary = {"workload": workload.name, "params": params, "seed": args.seed,
               **report.summary}
    return block, report, summary


def command_run(args) -> int:
    _, _, summary = run_workload(args)
    if args.json:
        write_json(args.json, summary)
    if args.json != "-":
        print(format_summary(summary))
    return 0 if summary["matches_serial"] else 1


def command_compare(args) -> int:
    from .compare import compare, format_table
    from .serial import InvalidBlock

    options = strategy_options(args.strategies, args.strategy_options)
    workload, params, block = make_block(args)
    try:
        summaries = compare(block, args.strategies, args.threads, args.cost_model,
                            args.lazy_beneficiary, args.backend, labels=workload.labels(),
                            strategy_options=options)
    except InvalidBlock as exc:
        raise UsageError(f"workload {workload.name}: {exc}")
    rows = [{"workload": workload.name, "params": params, "seed": args.seed, **summary}
            for summary in summaries]
    if args.json:
        write_json(args.json, rows)
    if args.json != "-":
        print(f"{workload.name} {params} ({len(block)} txs), {args.threads} "
              f"{args.backend} workers, {args.cost_model} cost model"
              + ("" if args.lazy_beneficiary else ", no lazy beneficiary"))
        print(format_table(summaries))
    return 0 if all(row["matches_serial"] for row in rows) else 1


def command_workloads(args) -> int:
    from workloads.registry import list_workloads

    listing = list_workloads()
    if args.json:
        write_json("-", listing)
        return 0
    for item in listing:
        print(f"{item['name']:14} {item['description']}")
        for param in item["params"]:
            print(f"    {param['name']}={param['default']!r:10} {param['help']}")
    return 0


# -- the benchmark harness: sweep, report, bench (simulator/harness/) ---------------
def add_harness_commands(commands) -> None:
    sweep = commands.add_parser("sweep", help="run a benchmark suite into a results dir")
    sweep.add_argument("suite", help="suite file, or a name in bench/suites/ (e.g. smoke)")
    sweep.add_argument("--out", required=True, help="results directory")
    sweep.add_argument("--resume", action="store_true",
                       help="continue a sweep in --out, skipping finished runs")
    report = commands.add_parser("report", help="charts and report.md/.html of a sweep")
    report.add_argument("dir", help="a results directory written by `pevmsim sweep`")
    bench = commands.add_parser("bench", help="sweep (resuming) and report a suite")
    bench.add_argument("suite", nargs="?", default="default",
                       help="suite file or name (default: default)")
    bench.add_argument("--out", help="results directory (default: reports/SUITE)")


def command_sweep(args) -> int:
    from .harness.suite import SuiteError, load_suite
    from .harness.sweep import SweepError, sweep

    try:
        suite = load_suite(args.suite)
    except SuiteError as exc:
        raise UsageError(str(exc))
    try:
        stats = sweep(suite, args.out, resume=args.resume)
    except SweepError as exc:
        raise UsageError(str(exc))
    except KeyboardInterrupt:
        print(f"pevmsim: interrupted; finished runs are kept in {args.out}, continue "
              "with --resume", file=sys.stderr)
        return 130
    verdict = (f"{stats.mismatches} DO NOT MATCH SERIAL" if stats.mismatches
               else "all match serial")
    print(f"{suite.name}: {stats.ran} runs ({stats.skipped} already finished), {verdict}; "
          f"results in {args.out}")
    return 1 if stats.mismatches else 0


def command_report(args) -> int:
    from .harness.report import ReportError, report

    try:
        written = report(args.dir)
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
    code = command_sweep(argparse.Namespace(suite=args.suite, out=out, resume=True))
    if code == 130:  # interrupted: nothing to report yet
        return code
    return command_report(argparse.Namespace(dir=out)) or code


def command_explain(args) -> int:
    from .explain import command_explain as explain

    return explain(args)


COMMANDS = {"run": command_run, "compare": command_compare, "explain": command_explain,
            "workloads": command_workloads, "sweep": command_sweep,
            "report": command_report, "bench": command_bench}


def main(argv=None) -> int:
    try:
        args = build_parser().parse_args(argv)
        return COMMANDS[args.command](args)
    except UsageError as exc:
        print(f"pevmsim: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("pevmsim: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # the reader went away (e.g. `| head`): stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1


if __name__ == "__main__":
    sys.exit(main())
