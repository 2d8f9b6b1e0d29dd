"""`pevmsim sweep`, `report` and `bench`: the benchmark harness (simulator/harness/) on
the command line."""

from __future__ import annotations

import argparse
import sys

from ..usage import EXIT_INTERRUPTED, EXIT_MISMATCH, UsageError
from .arguments import (add_output_arguments, add_parallel_arguments, add_reuse_argument,
                        comma_list, positive)


def add_harness_commands(commands) -> None:
    sweep = commands.add_parser("sweep", help="run a benchmark suite into a results dir")
    sweep.add_argument("suite", help="suite file, or a name in bench/suites/ (e.g. smoke)")
    sweep.add_argument("--out", required=True, help="results directory")
    sweep.add_argument("--resume", action="store_true",
                       help="continue a sweep in --out, skipping finished runs and "
                       "retrying failed ones")
    add_parallel_arguments(sweep)
    sweep.add_argument("--txs", type=comma_list("--txs", positive("--txs"), "counts"),
                       metavar="N[,N...]", help="run only the suite's blocks of these "
                       "sizes (e.g. --txs 1000 of the paper suite)")
    add_reuse_argument(sweep)
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
    add_reuse_argument(bench)


def command_sweep(args) -> int:
    from ..harness.cluster import default_jobs
    from .exports import ExportError, check_outputs, export, to_stdout
    from ..harness.cluster import ClusterError
    from ..harness.suite import SuiteError, load_suite, select_txs, with_reuse
    from ..harness.sweep import SweepError, read_results, sweep

    if args.scheduler is not None and args.jobs is not None:
        raise UsageError("give --jobs (local worker processes) or --scheduler (an "
                         "existing Dask cluster), not both")
    try:
        check_outputs(args.json, args.csv)
        suite = load_suite(args.suite)
        if args.txs:
            suite = select_txs(suite, args.txs)
        suite = with_reuse(suite, args.reuse)
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
    from ..harness.report import ReportError, report

    try:
        written = report(args.dir, args.readme)
    except ReportError as exc:
        raise UsageError(str(exc))
    print(written.headline())
    for number, what in written.skipped:
        print(f"pevmsim: warning: {args.dir}/results.jsonl line {number} skipped: {what}",
              file=sys.stderr)
    print(f"wrote {len(written.paths)} files; open {args.dir}/report.html or report.md")
    return 0


def command_bench(args) -> int:
    from ..harness.suite import SuiteError, load_suite

    try:
        name = load_suite(args.suite).name
    except SuiteError as exc:
        raise UsageError(str(exc))
    out = args.out or f"reports/{name}"
    code = command_sweep(argparse.Namespace(suite=args.suite, out=out, resume=True,
                                            json=None, csv=None, txs=None, jobs=args.jobs,
                                            scheduler=args.scheduler, reuse=args.reuse))
    if code == EXIT_INTERRUPTED:  # interrupted: nothing to report yet
        return code
    return command_report(argparse.Namespace(dir=out, readme=None)) or code
