"""Native ETH transfers among `accounts` externally owned accounts.

The Block-STM paper's peer-to-peer workload: each transaction sends a small amount
from a random account to another. Fewer accounts means more conflicts (shared sender
nonces and balances); accounts=2 is maximum contention.
"""

from __future__ import annotations

from .api import BlockBuilder, Param, Workload


class TransferWorkload(Workload):
    name = "transfer"
    description = "native ETH transfers among `accounts` EOAs (the Block-STM paper's p2p)"
    params = (Param("accounts", 1000, "number of EOAs sending and receiving", int, min=2),)

    def setup(self, chain: BlockBuilder) -> None:
        self.holders = chain.accounts(self.accounts)

    def transactions(self, chain: BlockBuilder, n: int) -> list:
        txs = []
        for _ in range(n):
            sender, receiver = chain.rng.sample(self.holders, 2)
            txs.append(chain.transfer(sender, receiver.address, chain.rng.randint(1, 10**15)))
        return txs
