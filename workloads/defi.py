"""A realistic DeFi block: native transfers, ERC-20 transfers, AMM swaps and lending.

The default mix is grevm's (60% native transfers, 20% ERC-20 transfers over 3 tokens,
20% swaps over 2 pairs) plus lending-pool operations with weight 10; the weights are
relative, so the defaults give 60:20:20:10. Built from the other workloads' pieces:
erc20.vy tokens (Token0..Token2, held by every user), two amm_pair.vy pairs
(Token0/Token1 and Token1/Token2, seeded by the first 8 users) and a lending_pool.vy
pool for Token0 (the first 32 users deposit and borrow in set-up; in the block anyone
deposits, those 32 borrow more and repay).

Contention: `users` is the population. `hot_ratio` is the share of transfers (native
and ERC-20) that involve users[0] (the hot account, e.g. an exchange wallet), and the
extra share of ERC-20 transfers and swaps sent to Token0 / pair 0. The lending pool's
totals are written by every lending operation whatever the knobs.
"""

from __future__ import annotations

from simulator.engine.locations import STORAGE

from .amm import Exchange
from .api import BlockBuilder, Param, Workload, weight
from .erc20 import approve_all, deploy_token, token_labels, transfer_tx

TOKENS = 3
BORROWERS = 32  # users with a collateralised loan from set-up
COLLATERAL = 10**24
LOAN = 10**23  # 13% of the 75% the collateral allows; block borrows stay tiny



class DefiWorkload(Workload):
    name = "defi"
    description = "mixed DeFi block: native + ERC-20 transfers, AMM swaps, lending"
    params = (
        Param("users", 1000, "number of user accounts", int, min=BORROWERS),
        Param("hot_ratio", 0.0, "share of transfers involving the hot account, and "
              "extra share of token transfers and swaps on Token0 / pair 0", float,
              min=0.0, max=1.0),
        weight("transfer_weight", 60, "native ETH transfers"),
        weight("erc20_weight", 20, "ERC-20 transfers over 3 tokens"),
        weight("swap_weight", 20, "swaps over 2 AMM pairs"),
        weight("lending_weight", 10, "lending deposit / borrow / repay"),
    )

    def setup(self, chain: BlockBuilder) -> None:
        self.users = chain.accounts(self.users)
        self.tokens = [deploy_token(chain, index, self.users) for index in range(TOKENS)]
        self.exchange = Exchange(chain, list(zip(self.tokens, self.tokens[1:])), self.users)
        self.pool = chain.deploy("lending_pool", self.tokens[0].address,
                                 name="LendingPool")
        approve_all(chain, self.tokens[0], self.users, self.pool.address)
        self.borrowers = self.users[:BORROWERS]
        for borrower in self.borrowers:
            chain.call(borrower, self.pool, "deposit", COLLATERAL)
            chain.call(borrower, self.pool, "borrow", LOAN)

    def _lending_tx(self, chain: BlockBuilder):
        amount = chain.rng.randint(10**15, 10**19)
        kind = chain.rng.choice(("deposit", "borrow", "repay"))
        user = (chain.rng.choice(self.users) if kind == "deposit"
                else chain.rng.choice(self.borrowers))
        return chain.call_tx(user, self.pool, kind, amount)

    def transactions(self, chain: BlockBuilder, n: int) -> list:
        weights = {"transfer": self.transfer_weight, "erc20": self.erc20_weight,
                   "swap": self.swap_weight, "lending": self.lending_weight}
        txs = []
        for _ in range(n):
            kind = chain.choose(weights)
            if kind == "transfer":
                sender, receiver = chain.pick_pair(self.users, self.hot_ratio)
                txs.append(chain.transfer(sender, receiver.address,
                                          chain.rng.randint(1, 10**15)))
            elif kind == "erc20":
                sender, receiver = chain.pick_pair(self.users, self.hot_ratio)
                token = chain.pick(self.tokens, self.hot_ratio)
                txs.append(transfer_tx(chain, token, sender, receiver))
            elif kind == "swap":
                index = chain.pick(range(len(self.exchange.pairs)), self.hot_ratio)
                txs.append(self.exchange.swap_tx(chain, index, chain.rng.choice(self.users)))
            else:
                txs.append(self._lending_tx(chain))
        return txs

    def labels(self) -> dict:
        names = {(STORAGE, self.pool.address, self.pool.slot(variable)):
                 f"lending pool {variable}"
                 for variable in ("total_deposits", "total_borrows")}
        names.update(self.exchange.labels())
        names.update(token_labels(self.tokens, self.users[:1], "hot account"))
        return names
