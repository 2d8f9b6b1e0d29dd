"""ERC-20 traffic: transfer, approve and transferFrom among `accounts` holders.

Every holder owns an equal balance of each of `tokens` tokens (erc20.vy). A share
`hot_ratio` of transactions involves the first holder (the "hot" account, e.g. an
exchange wallet); the rest pick holders uniformly. Fewer accounts or a higher
hot_ratio means more conflicts; accounts=2 is maximum contention.

`deploy_token` and `approve_all` are the building blocks the amm and defi workloads
reuse: balances and allowances are written straight into the pre-state (a genesis
allocation), with totalSupply kept equal to the sum of balances.
"""

from __future__ import annotations

from simulator.engine.locations import STORAGE

from .api import BlockBuilder, Contract, Param, Workload

BALANCE = 10**27  # each holder's balance of each token
MAX_UINT = 2**256 - 1


def deploy_token(chain: BlockBuilder, index: int, holders, balance: int = BALANCE) -> Contract:
    """Deploy erc20.vy as Token<index> and give each holder `balance` in the pre-state."""
    token = chain.deploy("erc20", f"Token{index}", f"TK{index}", 0, name=f"Token{index}")
    for holder in holders:
        chain.set_storage(token, "balanceOf", holder, value=balance)
    chain.set_storage(token, "totalSupply", value=balance * len(holders))
    return token


def approve_all(chain: BlockBuilder, token: Contract, owners, spender: bytes) -> None:
    """Every owner approves `spender` (e.g. an AMM pair) for an unlimited amount."""
    for owner in owners:
        chain.set_storage(token, "allowance", owner, spender, value=MAX_UINT)


def transfer_tx(chain: BlockBuilder, token: Contract, sender, receiver):
    """A plain token transfer of a random small amount."""
    return chain.call_tx(sender, token, "transfer", receiver.address,
                         chain.rng.randint(1, 10**18))


def token_labels(tokens, holders, who: str) -> dict:
    """Names for the balance slots of `holders` in each token, e.g. 'Token0 balance of
    hot holder'."""
    return {(STORAGE, token.address, token.slot("balanceOf", holder)):
            f"Token{index} balance of {who}"
            for index, token in enumerate(tokens) for holder in holders}


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
        self.token_contracts = [deploy_token(chain, index, self.holders)
                                for index in range(self.tokens)]

    def transactions(self, chain: BlockBuilder, n: int) -> list:
        txs = []
        while len(txs) < n:
            token = chain.rng.choice(self.token_contracts)
            sender, receiver = chain.pick_pair(self.holders, self.hot_ratio)
            if n - len(txs) >= 2 and chain.rng.random() < self.approve_ratio:
                # The receiver is approved to pull from the sender, then does.
                amount = chain.rng.randint(1, 10**18)
                txs.append(chain.call_tx(sender, token, "approve", receiver.address, amount))
                txs.append(chain.call_tx(receiver, token, "transferFrom",
                                         sender.address, receiver.address, amount))
            else:
                txs.append(transfer_tx(chain, token, sender, receiver))
        return txs

    def labels(self) -> dict:
        return token_labels(self.token_contracts, self.holders[:1], "hot holder")

