"""pevm's gigagas raw transfers: independent self-transfers of 1 wei.

risechain/pevm crates/pevm/benches/gigagas.rs `bench_raw_transfers` (commit 9cbd856):
account i of the block sends 1 wei to itself, one transaction each, ceil(1e9 / 21,000)
= 47,620 transactions; nothing is shared but the beneficiary (pevm's lazy coinbase,
pevmsim's lazy beneficiary). Differs: pevm's accounts are the addresses 1000+i with no
key (its EVM takes the caller as given); pevmsim's are keyed accounts (py-evm recovers
nothing, but transactions are signed), so the addresses differ, not the shape.
"""

from __future__ import annotations

from .api import BlockBuilder
from .gigagas import RAW_TRANSFER_GAS, GigagasWorkload


class GigagasTransfersWorkload(GigagasWorkload):
    name = "gigagas-transfers"
    description = "pevm's gigagas block of independent raw self-transfers (1 wei each)"
    PER_TX_GAS = RAW_TRANSFER_GAS

    def transactions(self, chain: BlockBuilder, n: int) -> list:
        return [chain.transfer(account, account.address, 1) for account in chain.accounts(n)]
