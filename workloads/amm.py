"""Uniswap-V2-style AMM traffic: swaps both ways and liquidity changes over `pairs` pairs.

Each pair (amm_pair.vy) trades its own two ERC-20 tokens (erc20.vy) with real
constant-product math: 0.3% fee on the input, and the x*y=k check on the pair's token
balances in the contract. Every trader holds both tokens of every pair and has approved
the pairs (a pre-state allocation); the first 8 traders seed each pair with real
add_liquidity calls during set-up.

The block is swaps (direction 50/50, amounts small next to the reserves, so every swap
succeeds in any order) and a share `liquidity_ratio` of add_liquidity / remove_liquidity
(half each). Each operation lands on pair 0, the busiest pair, with probability
`hot_ratio`, otherwise on a uniformly chosen pair (pair 0 included). Every operation
on a pair reads and writes its two reserve slots, the classic hot key: pairs=1 or
hot_ratio=1 makes the whole block one dependency chain; more pairs and more traders
mean fewer conflicts.

`Exchange` is the building block that the defi workload reuses.
"""

from __future__ import annotations

from simulator.engine.locations import STORAGE

from .api import BlockBuilder, Param, Workload
from .erc20 import approve_all, deploy_token

PROVIDERS = 8  # traders that seed every pair in set-up
LIQUIDITY = 10**24  # each seed provider's deposit of each token


class Exchange:
    """AMM pairs over the given (token0, token1) contracts: the traders (who must hold
    the tokens) approve every pair, and the first PROVIDERS traders add liquidity."""

    def __init__(self, chain: BlockBuilder, token_pairs, traders) -> None:
        self.pairs = []
        self.providers = traders[:PROVIDERS]
        for token0, token1 in token_pairs:
            pair = chain.deploy("amm_pair", token0.address, token1.address,
                                name=f"Pair{len(self.pairs)}")
            for token in (token0, token1):
                approve_all(chain, token, traders, pair.address)
            for provider in self.providers:
                chain.call(provider, pair, "add_liquidity", LIQUIDITY, LIQUIDITY)
            self.pairs.append((pair, token0, token1))

    def swap_tx(self, chain: BlockBuilder, index: int, trader):
        """A swap of a small random amount, in a random direction, on pair `index`."""
        pair, token0, token1 = self.pairs[index]
        token_in = chain.rng.choice((token0, token1))
        return chain.call_tx(trader, pair, "swap", token_in.address,
                             chain.rng.randint(10**15, 10**19), 1, trader.address)

    def add_liquidity_tx(self, chain: BlockBuilder, index: int, trader):
        # At most `amount` of token0 and twice that of token1: the pair takes what
        # matches its current price (about 1:1).
        amount = chain.rng.randint(10**18, 10**20)
        return chain.call_tx(trader, self.pairs[index][0], "add_liquidity", amount, 2 * amount)

    def remove_liquidity_tx(self, chain: BlockBuilder, index: int):
        """A seed provider withdraws a sliver (at most 1e-4) of its liquidity."""
        provider = chain.rng.choice(self.providers)
        return chain.call_tx(provider, self.pairs[index][0], "remove_liquidity",
                             chain.rng.randint(10**18, 10**20))

    def labels(self) -> dict:
        names = {}
        for index, (pair, token0, token1) in enumerate(self.pairs):
            for variable in ("reserve0", "reserve1", "totalSupply"):
                names[(STORAGE, pair.address, pair.slot(variable))] = (
                    f"AMM pair {index} {variable}")
            for side, token in enumerate((token0, token1)):
                names[(STORAGE, token.address, token.slot("balanceOf", pair.address))] = (
                    f"AMM pair {index} balance of token{side}")
        return names


class AMMWorkload(Workload):
    name = "amm"
    description = "Uniswap-V2-style swaps and liquidity changes over `pairs` pairs"
    params = (
        Param("pairs", 4, "number of pairs, each with its own two ERC-20 tokens", int,
              min=1),
        Param("traders", 200, "number of trading accounts", int, min=PROVIDERS),
        Param("hot_ratio", 0.0, "share of operations forced onto pair 0 (the rest "
              "spread uniformly over all pairs)", float, min=0.0, max=1.0),
        Param("liquidity_ratio", 0.1, "share of add/remove liquidity (the rest swaps)",
              float, min=0.0, max=1.0),
    )

    def setup(self, chain: BlockBuilder) -> None:
        self.trader_accounts = chain.accounts(self.traders)
        tokens = [deploy_token(chain, index, self.trader_accounts)
                  for index in range(2 * self.pairs)]
        self.exchange = Exchange(chain, list(zip(tokens[::2], tokens[1::2])),
                                 self.trader_accounts)

    def transactions(self, chain: BlockBuilder, n: int) -> list:
        txs = []
        indexes = range(self.pairs)
        for _ in range(n):
            index = chain.pick(indexes, self.hot_ratio)
            trader = chain.rng.choice(self.trader_accounts)
            kind = chain.choose({"swap": 1 - self.liquidity_ratio,
                                 "add": self.liquidity_ratio / 2,
                                 "remove": self.liquidity_ratio / 2})
            if kind == "swap":
                txs.append(self.exchange.swap_tx(chain, index, trader))
            elif kind == "add":
                txs.append(self.exchange.add_liquidity_tx(chain, index, trader))
            else:
                txs.append(self.exchange.remove_liquidity_tx(chain, index))
        return txs

    def labels(self) -> dict:
        return self.exchange.labels()
