"""pevm's gigagas Uniswap block: every swap on its own pool cluster.

risechain/pevm crates/pevm/benches/gigagas.rs `bench_uniswap` and tests/uniswap/mod.rs
`generate_cluster(1, 1)` (commit 9cbd856): for each transaction a fresh cluster (two
tokens, a Uniswap V3 pool between them, a swap router, a SingleSwap contract, and
pevm's factory and WETH9) and one person who calls `sellToken0(2000)`: 2000 units of
token0 in, token1 out, through SingleSwap -> SwapRouter.exactInputSingle ->
UniswapV3Pool.swap -> the router's callback pulling token0 from SingleSwap;
ceil(1e9 / 155,934) = 6,413 transactions. Pool state as pevm sets it: price 1 (sqrt
price 2^96, tick 0), liquidity 111,111,000,000,010,412,955,141, ticks at -600,000 and
600,000 initialised, fee 0.3%, tick spacing 60; each token gives the pool 1.11111e23
and the person 1e18, the person approves SingleSwap for 1e18.

Contracts (next to this file, Vyper): v3_pool.vy, a pool with V3's swap loop and
storage layout per slot (see its header for what differs), v3_router.vy,
v3_single_swap.vy, and erc20.vy for the tokens. Not deployed: the factory (V3's
router derives the pool's address from it without reading it; here the router stores
its pool) and WETH9 (unused by the swap). `swap_direction` "sell0" is pevm's recipe;
grevm's hybrid picks sellToken0 or sellToken1 at random.
"""

from __future__ import annotations

from .api import BlockBuilder, Contract
from .gigagas import UNISWAP_GAS, GigagasWorkload

POOL_BALANCE = 111_111 * 10**18
PERSON_BALANCE = 10**18
LIQUIDITY = 111_111_000_000_010_412_955_141
SQRT_PRICE_1 = 2**96
FEE_PIPS = 3000
TICK_SPACING = 60
OUTER_TICK = 600_000
AMOUNT = 2000  # sellToken0(2000)
GAS_LIMIT = 200_000  # pevm: uniswap::GAS_LIMIT


class Cluster:
    """One pool cluster: two tokens (token0 < token1 by address), the pool, the router
    and SingleSwap; `people` hold both tokens and approve SingleSwap."""

    def __init__(self, chain: BlockBuilder, index: int, people) -> None:
        tokens = sorted((chain.deploy("erc20", f"Token{index}a", "TKA", 0,
                                      name=f"Cluster{index}.TokenA"),
                         chain.deploy("erc20", f"Token{index}b", "TKB", 0,
                                      name=f"Cluster{index}.TokenB")),
                        key=lambda token: token.address)
        self.token0, self.token1 = tokens
        self.pool = chain.deploy("v3_pool", self.token0.address, self.token1.address,
                                 FEE_PIPS, TICK_SPACING, SQRT_PRICE_1, LIQUIDITY,
                                 -OUTER_TICK, OUTER_TICK, name=f"Cluster{index}.Pool")
        self.router = chain.deploy("v3_router", self.pool.address,
                                   name=f"Cluster{index}.Router")
        self.single_swap = chain.deploy("v3_single_swap", self.router.address,
                                        self.token0.address, self.token1.address,
                                        name=f"Cluster{index}.SingleSwap")
        for token in tokens:
            fund(chain, token, [self.pool], POOL_BALANCE, people, PERSON_BALANCE)
            for person in people:
                chain.set_storage(token, "allowance", person, self.single_swap,
                                  value=PERSON_BALANCE)

    def sell_tx(self, chain: BlockBuilder, person, sell_token0: bool = True):
        return chain.call_tx(person, self.single_swap,
                             "sellToken0" if sell_token0 else "sellToken1", AMOUNT,
                             gas=GAS_LIMIT)


def fund(chain: BlockBuilder, token: Contract, pools, pool_balance: int, people,
         balance: int) -> None:
    """Balances straight into the pre-state, totalSupply their sum."""
    for pool in pools:
        chain.set_storage(token, "balanceOf", pool, value=pool_balance)
    for person in people:
        chain.set_storage(token, "balanceOf", person, value=balance)
    chain.set_storage(token, "totalSupply",
                      value=pool_balance * len(pools) + balance * len(people))


class GigagasUniswapWorkload(GigagasWorkload):
    name = "gigagas-uniswap"
    description = "pevm's gigagas block of Uniswap-V3-style swaps, each on its own pool"
    PER_TX_GAS = UNISWAP_GAS

    def transactions(self, chain: BlockBuilder, n: int) -> list:
        txs = []
        for index in range(n):
            person = chain.accounts(1)[0]
            txs.append(Cluster(chain, index, [person]).sell_tx(chain, person))
        return txs
