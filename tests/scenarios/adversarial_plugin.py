"""A file plug-in serving the adversarial raw-bytecode blocks to the CLI, e.g.
`pevmsim compare --workload tests/scenarios/adversarial_plugin.py:CallHeavy --txs 6`."""

import sys
from pathlib import Path

from workloads.api import BlockSource, Param

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from scenarios import raw  # noqa: E402


class CallHeavy(BlockSource):
    name = "call-heavy"
    description = "Cancun: each transaction makes `calls` plain CALLs to one contract"
    params = (Param("calls", 30, "CALLs per transaction", int, 1, 1000),)

    def block(self, n: int, seed: int = 0):
        return raw.call_heavy(self.calls, n)


class BigWriter(BlockSource):
    name = "big-writer"
    description = "one transaction of `gas` gas, then n-1 cheap readers of its write"
    params = (Param("gas", 8_000_000, "gas of the first transaction", int, 100_000,
                    29_000_000),)

    def block(self, n: int, seed: int = 0):
        return raw.big_writer_and_readers(n - 1, self.gas)


class OverBlobMaximum(BlockSource):
    name = "over-blob-maximum"
    description = ("Prague: n blob transactions of 10 blobs each, over the block's 9 "
                   "(py-evm leaves that check to block validation, EELS refuses the "
                   "first)")
    params = ()

    def block(self, n: int, seed: int = 0):
        chain = raw.RawChain(raw.FORKS["prague"])
        to = chain.account(b"\xb1" * 20, raw.asm(0x00))
        return chain.build([chain.blob_tx(chain.key(), to, 10) for _ in range(n)])
