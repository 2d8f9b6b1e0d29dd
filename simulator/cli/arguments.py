"""The command line's shared argument parsers: the parser class (errors are one-line
UsageErrors, no abbreviations), typed values (positive counts, comma lists, choices)
and the option groups several subcommands share (block, execution, output, strategy
options, where a sweep runs).
"""

from __future__ import annotations

import argparse

from ..backends import BACKENDS
from ..chain.eels import Oracle
from ..costs.cost_model import COST_MODELS
from ..costs.default import DEFAULT_COST_MODEL
from ..strategies import STRATEGIES
from ..usage import UsageError


class Parser(argparse.ArgumentParser):
    """Errors are UsageErrors; no option may be abbreviated (--strategy is not
    --strategy-option)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **{**kwargs, "allow_abbrev": False})

    def error(self, message):
        raise UsageError(message)


def positive(name, kind: type = int):
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


def txs_count(text):
    """--txs: a positive count, or 'all' (Size.ALL) for recorded blocks."""
    from workloads.api import Size

    return Size.ALL if text == Size.ALL.value else positive("--txs")(text)


def comma_list(flag, item, names):
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


def choice(name, choices):
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
    parser.add_argument("--txs", type=txs_count, required=True, metavar="N|all",
                        help="transactions in the block ('all': every transaction of a "
                             "recorded block, e.g. mainnet)")
    parser.add_argument("--seed", type=int, default=0, help="workload seed (default 0)")


def add_execution_arguments(parser) -> None:
    """The options shared by every command that executes blocks."""
    parser.add_argument("--threads", type=comma_list("--threads", positive("--threads"), "counts"),
                        default=[8], metavar="T[,T...]",
                        help="virtual workers (simulated cores in virtual time, not "
                             "threads of this machine), or a list such as 1,2,4,8 (one "
                             "column each; default 8)")
    parser.add_argument("--cost-model", type=choice("cost model", list(COST_MODELS)),
                        default=DEFAULT_COST_MODEL,
                        help=f"default {DEFAULT_COST_MODEL}: the best-calibrated "
                        "deterministic model by the fidelity report (costs/default.py). "
                        "gas (state in memory), gas-disk (state on an SSD), revm "
                        "(fitted to pevm's revm timings), measured (py-evm CPU time)")
    parser.add_argument("--cold-load-us", type=float, metavar="US",
                        help="cost of a cold state load in microseconds (gas models; "
                        "default 0.1 for gas, 80 for gas-disk, 0.32 for revm)")
    parser.add_argument("--backend", type=choice("backend", list(BACKENDS)),
                        default="simulated",
                        help="simulated (virtual workers in virtual time; default) or "
                             "processes (real worker processes, real time, with the "
                             "simulated prediction beside it)")
    parser.add_argument("--timeout", type=positive("--timeout", float), metavar="S",
                        help="processes backend: end a run that takes longer than S "
                             "seconds (exit code 4)")
    parser.add_argument("--pipeline", type=positive("--pipeline"), metavar="D",
                        help="processes backend: requests each worker process holds at "
                             "once, so that it never waits for the coordinator (default "
                             "2; 1 runs the N-worker schedule exactly)")
    parser.add_argument("--serial-repeats", type=positive("--serial-repeats"), default=3,
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
    add_reuse_argument(parser)
    parser.add_argument("--repeat", type=positive("--repeat"), default=1, metavar="K",
                        help="run each configuration K times and report the median "
                             "and spread (measured cost model)")
    add_output_arguments(parser, csv=True)


def add_reuse_argument(parser) -> None:
    parser.add_argument("--no-reuse", dest="reuse", action="store_false",
                        help="execute every request in py-evm, even one that provably "
                             "equals an earlier execution of the block (the same "
                             "figures, more host time; engine/reuse.py)")


def add_oracle_argument(parser) -> None:
    parser.add_argument("--oracle", type=choice("oracle", [o.value for o in Oracle]),
                        help="also check serial py-evm against a second serial oracle: "
                             "eels (the executable specification, ethereum-execution), "
                             "transaction by transaction; one line per disagreement, "
                             "exit code 3 if any")


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
    from ..strategies.options import OptionError, parse_options

    try:
        return parse_options([STRATEGIES[name] for name in names], settings)
    except OptionError as exc:
        raise UsageError(str(exc))


def add_parallel_arguments(parser) -> None:
    """Where a sweep runs: --jobs N local worker processes, or --scheduler ADDRESS."""
    from ..harness.cluster import default_jobs

    jobs = default_jobs()
    parser.add_argument("--jobs", type=positive("--jobs"), metavar="N",
                        help="run block settings on N local Dask worker processes "
                        f"(default: every core, here {jobs}; 1: in this process)")
    parser.add_argument("--scheduler", metavar="ADDRESS",
                        help="run on the Dask cluster of this scheduler (e.g. "
                        "tcp://host:8786) instead; its workers need pevmsim installed")
