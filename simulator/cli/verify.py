"""`pevmsim verify`: serial py-evm checked against the executable specification (EELS)
on every block of a block directory.

    pevmsim verify myblocks                   # every block `pevmsim fetch` wrote there
    pevmsim verify vendored --blocks 19426587  # the vendored mainnet blocks

One line per block (its fork, its transactions, the verdict), then one line per
disagreement (simulator/chain/eels.py says what is compared). Exit code 0 when EELS
agrees on every block, 3 (EXIT_MISMATCH) when it does not, 2 for bad input.
"""

from __future__ import annotations

import time
from pathlib import Path

from workloads.api import WorkloadError
from workloads.mainnet import VENDORED, load_block

from ..chain.eels import OracleError, eels_disagreements
from ..sources.block_store import BlockStore
from ..sources.fetch import BlockRange, FetchError
from ..usage import EXIT_MISMATCH, UsageError

ALL_VENDORED = "vendored"


def add_verify_command(commands) -> None:
    verify = commands.add_parser(
        "verify", help="check serial py-evm against the executable specification (EELS) "
                       "on every block of a block directory")
    verify.add_argument("dir", metavar="DIR",
                        help=f"a block directory (`pevmsim fetch`), or {ALL_VENDORED!r} "
                             "for the vendored mainnet blocks")
    verify.add_argument("--blocks", metavar="N[..M]",
                        help="only the blocks in this range (default: all)")


def command_verify(args) -> int:
    store = VENDORED if args.dir == ALL_VENDORED else BlockStore(Path(args.dir))
    if not store.root.is_dir():
        raise UsageError(f"{args.dir} is not a directory")
    numbers = store.numbers()
    if args.blocks is not None:
        try:
            wanted = BlockRange.parse(args.blocks)
        except FetchError as exc:
            raise UsageError(str(exc))
        numbers = [n for n in numbers if wanted.first <= n <= wanted.last]
    if not numbers:
        where = f" in {args.blocks}" if args.blocks else ""
        raise UsageError(f"{args.dir} holds no block{where}; write some with "
                         "`pevmsim fetch`")
    disagreeing = 0
    for number in numbers:
        try:
            block = load_block(number, None, store)
        except WorkloadError as exc:
            raise UsageError(str(exc))
        started = time.perf_counter()
        try:
            problems = eels_disagreements(block)
        except OracleError as exc:
            raise UsageError(f"block {number}: {exc}")
        verdict = (f"{len(problems)} disagreement{'s' * (len(problems) != 1)}" if problems
                   else "EELS agrees")
        print(f"block {number} ({block.vm_class.fork}, {len(block)} txs): {verdict} "
              f"({time.perf_counter() - started:.1f} s)", flush=True)
        for problem in problems:
            print(f"  block {number}: {problem}")
        disagreeing += bool(problems)
    print(f"EELS agrees with serial py-evm on {len(numbers) - disagreeing} of "
          f"{len(numbers)} blocks")
    return EXIT_MISMATCH if disagreeing else 0
