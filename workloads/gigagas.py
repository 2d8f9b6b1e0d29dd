"""pevm's and grevm's "gigagas" blocks: what the four gigagas workloads share.

A gigagas block is sized by gas, not by a transaction count: `ceil(gas / G)`
transactions, where G is the benchmark's own per-transaction gas constant and `gas`
defaults to 1,000,000,000 (risechain/pevm crates/pevm/benches/gigagas.rs, GIGA_GAS;
Galxe/grevm benches/gigagas.rs). `--txs all` builds the gas-sized block; `--txs N`
builds N transactions of the same shape (what tests and calibration use: the blocks
are conflict-free or hot-set shaped, so their per-transaction structure does not
depend on N). The beneficiary is the zero address, as in pevm's benchmark
(`BlockEnv::default()`, an empty account at Address::ZERO).

Per-transaction gas constants (pevm at commit 9cbd856, 2026-05-19; the same in grevm
at 25b71ed):
- raw transfer 21,000 (`RAW_TRANSFER_GAS_LIMIT`; grevm `TRANSFER_GAS_LIMIT`);
- ERC-20 transfer 29,738 (`erc20::ESTIMATED_GAS_USED`, since pevm 7cbb05c,
  2024-10-24); pevm's published table predates it and used 26,938 (its `GAS_LIMIT`
  then: 37,123 transfers);
- Uniswap swap 155,934 (`uniswap::ESTIMATED_GAS_USED`).

grevm's contention knobs (benches/gigagas.rs `pick_account_idx`): NUM_EOA accounts;
with HOT_RATIO > 0 the hot set is the top 10% of account indexes, and each pick is a
uniform hot account with probability HOT_RATIO, else a uniform other one; with
HOT_RATIO = 0 the pick is uniform over all accounts.
"""

from __future__ import annotations

import math

from .api import Param, Workload

GIGA_GAS = 1_000_000_000
RAW_TRANSFER_GAS = 21_000
ERC20_GAS = 29_738
ERC20_GAS_PUBLISHED = 26_938  # pevm's block size when its README table was measured
UNISWAP_GAS = 155_934
ZERO_ADDRESS = b"\x00" * 20
HOT_SHARE = 0.1  # grevm: the hot set is the top 10% of the accounts


def gas_param(default: float = GIGA_GAS) -> Param:
    return Param("gas", float(default), "the block's gas, which sizes it for --txs all: "
                 "ceil(gas / per-transaction gas) transactions", float, min=1.0)


def transactions_for(gas: float, per_transaction: int) -> int:
    """pevm's block size: ceil(gas / per-transaction gas)."""
    return math.ceil(gas / per_transaction)


class GigagasWorkload(Workload):
    """A workload sized by gas (`size()` for --txs all), its beneficiary the zero
    address. Subclasses set PER_TX_GAS (or override `per_transaction_gas`); by default
    there is no shared pre-state: each transaction brings its own (`transactions`)."""

    coinbase = ZERO_ADDRESS
    params = (gas_param(),)
    PER_TX_GAS = RAW_TRANSFER_GAS

    def setup(self, chain) -> None:
        """Nothing shared: `transactions` makes each transaction's state."""

    def per_transaction_gas(self) -> int:
        return self.PER_TX_GAS

    def size(self) -> int:
        return transactions_for(self.gas, self.per_transaction_gas())


def hot_index(rng, accounts: int, hot_ratio: float) -> int:
    """grevm's pick_account_idx: an account index, uniform when hot_ratio is 0; else a
    uniform index among the top HOT_SHARE of the accounts with probability hot_ratio,
    and a uniform one among the others otherwise."""
    if hot_ratio <= 0:
        return rng.randrange(accounts)
    hot_start = int(accounts * (1 - HOT_SHARE))
    if rng.random() < hot_ratio:
        return hot_start + rng.randrange(accounts - hot_start)
    return rng.randrange(hot_start)
