"""grevm's gigagas hybrid block: 60% raw transfers, 20% ERC-20 transfers over three
tokens, 20% Uniswap swaps over two pools, among `num_eoa` accounts with a hot set.

Galxe/grevm benches/gigagas.rs `bench_hybrid` (commit 25b71ed): by gas, ceil(0.6 gas /
21,000) raw transfers of 1 wei, ceil(0.2 gas / 29,738) ERC-20 transfers of 900 split
evenly over 3 tokens (integer division: 2,242 each at 1 Ggas), ceil(0.2 gas / 155,934)
swaps split over 2 pool clusters (641 each), in that order; every sender, recipient and
swapper is picked by grevm's `pick_account_idx` (gigagas.hot_index: HOT_RATIO of the
picks land in the top 10% of the accounts). Every account holds every token and has
approved each SingleSwap. `--txs N` keeps the mix's shares. Differs: grevm disables
the nonce check, so one sender's transactions do not wait for each other there;
pevmsim's transactions are signed with increasing nonces, as a real block's are.
"""

from __future__ import annotations

import math

from .api import BlockBuilder, Param
from .erc20 import deploy_token
from .gigagas import (ERC20_GAS, RAW_TRANSFER_GAS, UNISWAP_GAS, GigagasWorkload,
                      gas_param, hot_index)
from .gigagas_uniswap import Cluster

TOKENS = 3  # grevm NUM_ERC20_SCA
POOLS = 2  # grevm NUM_UNISWAP_CLUSTER
AMOUNT = 900  # grevm's ERC-20 transfer amount
SHARES = ((0.6, RAW_TRANSFER_GAS), (0.2, ERC20_GAS), (0.2, UNISWAP_GAS))
ACCOUNT_BALANCE = 10**18  # grevm mock_eoa_account: 1e18 wei (and, here, of each token)


def mix(gas: float) -> tuple:
    """(raw transfers, ERC-20 transfers per token, swaps per pool) of a block of `gas`."""
    raw, erc20, swaps = (math.ceil(gas * share / per_tx) for share, per_tx in SHARES)
    return raw, erc20 // TOKENS, swaps // POOLS


class GigagasHybridWorkload(GigagasWorkload):
    name = "gigagas-hybrid"
    description = "grevm's hybrid gigagas block: raw, ERC-20 and swaps with a hot set"
    params = (gas_param(),
              Param("num_eoa", 100_000, "accounts (grevm NUM_EOA)", int, min=10),
              Param("hot_ratio", 0.0, "share of picks in the hot 10% of accounts (grevm "
                    "HOT_RATIO; 0: uniform)", float, min=0.0, max=1.0))

    def size(self) -> int:
        raw, erc20, swaps = mix(self.gas)
        return raw + TOKENS * erc20 + POOLS * swaps

    def setup(self, chain: BlockBuilder) -> None:
        self.people = chain.accounts(self.num_eoa, balance=ACCOUNT_BALANCE)
        self.tokens = [deploy_token(chain, index, self.people, ACCOUNT_BALANCE)
                       for index in range(TOKENS)]
        self.clusters = [Cluster(chain, index, self.people) for index in range(POOLS)]

    def _pick(self, chain: BlockBuilder):
        return self.people[hot_index(chain.rng, self.num_eoa, self.hot_ratio)]

    def counts(self, n: int) -> tuple:
        """`mix` scaled to n transactions (the remainder goes to raw transfers)."""
        raw, erc20, swaps = mix(self.gas)
        total = raw + TOKENS * erc20 + POOLS * swaps
        erc20, swaps = erc20 * n // total, swaps * n // total
        return n - TOKENS * erc20 - POOLS * swaps, erc20, swaps

    def transactions(self, chain: BlockBuilder, n: int) -> list:
        raw, erc20, swaps = self.counts(n)
        txs = [chain.transfer(self._pick(chain), self._pick(chain).address, 1)
               for _ in range(raw)]
        for token in self.tokens:
            txs += [chain.call_tx(self._pick(chain), token, "transfer",
                                  self._pick(chain).address, AMOUNT, gas=35_000)
                    for _ in range(erc20)]
        for cluster in self.clusters:
            txs += [cluster.sell_tx(chain, self._pick(chain), chain.rng.random() < 0.5)
                    for _ in range(swaps)]
        return txs
