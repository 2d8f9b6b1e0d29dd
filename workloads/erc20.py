"""ERC-20 traffic: transfer, approve and transferFrom among `accounts` holders.

Every holder owns an equal share of each of `tokens` tokens (erc20.vy). A share
`hot_ratio` of transactions involves the first holder (the "hot" account, e.g. an
exchange wallet); the rest pick holders uniformly. Fewer accounts or a higher
hot_ratio means more conflicts; accounts=2 is maximum contention.
"""

from __future__ import annotations

from .api import BlockBuilder, Param, Workload

SUPPLY = 10**30


class ERC20Workload(Workload):
    name = "erc20"
    description = "ERC-20 transfer / approve / transferFrom among `accounts` holders"
    params = (
        Param("accounts", 1000, "number of token holders", int, min=2),
        Param("tokens", 1, "number of ERC-20 contracts", int, min=1),
        Param("hot_ratio", 0.0, "share of transactions touching the hot holder", float,
              min=0.0, max=1.0),
        Param("approve_ratio", 0.1, "share of approve + transferFrom pairs", float,
              min=0.0, max=1.0),
    )

    def setup(self, chain: BlockBuilder) -> None:
        self.holders = chain.accounts(self.accounts)
        self.token_contracts = []
        share = SUPPLY // (2 * self.accounts)
        for index in range(self.tokens):
            token = chain.deploy("erc20", f"Token{index}", f"TK{index}", SUPPLY)
            for holder in self.holders:
                chain.call(chain._deployer, token, "transfer", holder.address, share)
            self.token_contracts.append(token)

    def _pick(self, chain: BlockBuilder):
        if chain.rng.random() < self.hot_ratio:
            other = chain.rng.choice(self.holders[1:])
            return (self.holders[0], other) if chain.rng.random() < 0.5 else (other, self.holders[0])
        sender, receiver = chain.rng.sample(self.holders, 2)
        return sender, receiver

    def transactions(self, chain: BlockBuilder, n: int) -> list:
        txs = []
        while len(txs) < n:
            token = chain.rng.choice(self.token_contracts)
            sender, receiver = self._pick(chain)
            amount = chain.rng.randint(1, 10**18)
            if n - len(txs) >= 2 and chain.rng.random() < self.approve_ratio:
                # The receiver is approved to pull from the sender, then does.
                txs.append(chain.call_tx(sender, token, "approve", receiver.address, amount))
                txs.append(chain.call_tx(receiver, token, "transferFrom",
                                         sender.address, receiver.address, amount))
            else:
                txs.append(chain.call_tx(sender, token, "transfer", receiver.address, amount))
        return txs
