"""pevm's gigagas ERC-20 block: one shared token, every holder transferring to itself.

risechain/pevm crates/pevm/benches/gigagas.rs `bench_erc20` and tests/erc20/mod.rs
`generate_cluster(block_size, 1, 1)` (commit 9cbd856): block_size "families" of one
person, so each sender's recipient is itself; one token (pevm's ERC20Token.sol; here
erc20.vy) holding every sender's balance; each sends `rand::random::<u8>()` (below 256)
tokens; ceil(1e9 / ESTIMATED_GAS_USED) transactions (29,738: 33,628 transfers;
`estimated_gas=26938` gives the 37,123 of pevm's published table). The shared state is
the token's code and its unchanging slots; every balance slot is its sender's own.
"""

from __future__ import annotations

from .api import BlockBuilder, Param
from .erc20 import deploy_token
from .gigagas import ERC20_GAS, GigagasWorkload, gas_param

HOLDER_BALANCE = 10**18  # pevm: 1e18 tokens per person


class GigagasERC20Workload(GigagasWorkload):
    name = "gigagas-erc20"
    description = "pevm's gigagas block of ERC-20 self-transfers on one shared token"
    params = (gas_param(),
              Param("estimated_gas", ERC20_GAS, "per-transaction gas that sizes the block "
                    "(pevm's ESTIMATED_GAS_USED; 26938 for its published table)", int,
                    min=1))

    def per_transaction_gas(self) -> int:
        return self.estimated_gas

    def transactions(self, chain: BlockBuilder, n: int) -> list:
        holders = chain.accounts(n)
        token = deploy_token(chain, 0, holders, HOLDER_BALANCE)
        return [chain.call_tx(holder, token, "transfer", holder.address,
                              chain.rng.randrange(256), gas=35_000)
                for holder in holders]
