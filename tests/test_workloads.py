"""The built-in workloads (and the docs' voting example): deterministic blocks of
valid transactions, semantic invariants on the post-state, and parallel == serial.

Small blocks and populations keep the suite quick; the light form (forms.py) runs the
eager beneficiary on 8 workers only. Post-state checks read view
functions at the parallel result's state root (persisted in block.db by the runner);
the result matches serial, so they hold for the serial post-state too.
"""

from __future__ import annotations

import eth_abi
from eth.db.account import AccountDB
import pytest
from eth_hash.auto import keccak
from forms import matrix

from simulator.runs.runner import run_block
from simulator.chain.serial import execute_serial
from simulator.runs.spec import RunSpec
from workloads.api import view
from workloads.registry import load_workload

N = 60
SEED = 7
VOTING = "docs/examples/voting.py:VotingWorkload"

SMALL = {
    "transfer": {"accounts": 30},
    "erc20": {"accounts": 30, "tokens": 2},
    "amm": {"pairs": 2, "traders": 20},
    "defi": {"users": 40},
    "nft": {"collections": 2, "holders": 16},
    "supply-chain": {"items": 40, "parties": 8},
    VOTING: {"voters": 80},
}
HOT = {"erc20", "amm", "defi", "nft", "supply-chain", VOTING}
CASES = list(SMALL.items()) + [
    (spec, {**SMALL[spec], "hot_ratio": 0.5}) for spec in SMALL if spec in HOT]
IDS = [f"{spec.split(':')[-1]}-{'hot' if 'hot_ratio' in params else 'default'}"
       for spec, params in CASES]


def topic_of(signature: str) -> int:
    return int.from_bytes(keccak(signature.encode()), "big")


class Case:
    """A workload's block, with its serial and one parallel run, built once."""

    def __init__(self, spec: str, params: dict) -> None:
        self.workload = load_workload(spec)(**params)
        self.block = self.workload.block(N, SEED)
        self.serial = execute_serial(self.block)
        self.report = run_block(self.block, RunSpec(threads=8), serial=self.serial)
        self.root = self.report.result.state_root

    def view(self, contract, function, *args, root=None):
        return view(self.block, root or self.root, contract, function, *args)

    def events(self, contract, signature: str):
        """(topics, data) of every `signature` event `contract` logged in the block."""
        topic = topic_of(signature)
        return [(topics, data) for receipt in self.report.result.receipts
                for address, topics, data in receipt.logs
                if address == contract.address and topics[0] == topic]


_cases: dict = {}


@pytest.fixture(params=CASES, ids=IDS)
def case(request) -> Case:
    spec, params = request.param
    key = (spec, tuple(sorted(params.items())))
    if key not in _cases:
        _cases[key] = Case(spec, params)
    return _cases[key]


def test_deterministic_for_a_seed(case):
    again = type(case.workload)(**case.workload.values).block(N, SEED)
    assert again.pre_state_root == case.block.pre_state_root
    assert [tx.hash for tx in again.transactions] == [tx.hash for tx in case.block.transactions]
    other = type(case.workload)(**case.workload.values).block(N, SEED + 1)
    assert [tx.hash for tx in other.transactions] != [tx.hash for tx in case.block.transactions]


def test_every_transaction_succeeds(case):
    result, _ = case.serial
    assert len(result.receipts) == N
    assert [index for index, receipt in enumerate(result.receipts) if not receipt.success] == []


def test_labels_name_locations(case):
    for location, label in case.workload.labels().items():
        assert isinstance(location, tuple) and isinstance(label, str) and label


@pytest.mark.parametrize("lazy, threads", matrix(
    lambda lazy, threads: lazy or threads == 8, [True, False], [1, 8, 32]))
def test_parallel_matches_serial(case, threads, lazy):
    report = run_block(case.block, RunSpec(threads=threads, lazy_beneficiary=lazy), serial=case.serial)
    assert report.matches_serial, report.summary


# -- semantic checks on the post-state ---------------------------------------------------

def assert_supply_conserved(case, token, holders) -> None:
    """Balances of everyone who can hold the token add up to its totalSupply."""
    addresses = {getattr(holder, "address", holder) for holder in holders}
    total = sum(case.view(token, "balanceOf", address) for address in addresses)
    assert total == case.view(token, "totalSupply")


def assert_k_never_decreases(case, pair, token0, token1) -> None:
    """Along the block, every swap leaves reserve0 * reserve1 at least as large."""
    reserves = (case.view(pair, "reserve0", root=case.block.pre_state_root),
                case.view(pair, "reserve1", root=case.block.pre_state_root))
    swap_topic, sync_topic = (
        topic_of("Swap(address,address,uint256,uint256,address)"),
        topic_of("Sync(uint256,uint256)"))
    swaps = 0
    for receipt in case.report.result.receipts:
        logs = [log for log in receipt.logs if log[0] == pair.address]
        syncs = [eth_abi.decode(["uint256", "uint256"], data)
                 for _, topics, data in logs if topics[0] == sync_topic]
        if not syncs:
            continue
        if any(topics[0] == swap_topic for _, topics, _ in logs):
            swaps += 1
            assert syncs[-1][0] * syncs[-1][1] >= reserves[0] * reserves[1]
        reserves = syncs[-1]
    assert reserves == (case.view(pair, "reserve0"), case.view(pair, "reserve1"))
    assert swaps > 0
    for token, reserve in zip((token0, token1), reserves):
        assert case.view(token, "balanceOf", pair.address) == reserve


def test_semantics(case):
    SEMANTICS[case.workload.name](case)


def check_transfer(case):
    """Native transfers only move ether: what leaves the accounts is the burnt base
    fee plus the tips that reach the coinbase."""
    block, result = case.block, case.report.result
    accounts = [holder.address for holder in case.workload.holders] + [block.context.coinbase]
    pre, post = (AccountDB(block.db, root) for root in (block.pre_state_root, case.root))
    burnt = result.gas_used * block.context.base_fee_per_gas
    assert (sum(map(post.get_balance, accounts))
            == sum(map(pre.get_balance, accounts)) - burnt)


def check_erc20(case):
    workload = case.workload
    for token in workload.token_contracts:
        assert_supply_conserved(case, token, workload.holders)


def check_amm(case):
    exchange = case.workload.exchange
    for pair, token0, token1 in exchange.pairs:
        assert_k_never_decreases(case, pair, token0, token1)
    pairs = [pair.address for pair, _, _ in exchange.pairs]
    for _, token0, token1 in exchange.pairs:
        for token in (token0, token1):
            assert_supply_conserved(case, token, case.workload.trader_accounts + pairs)


def check_defi(case):
    workload = case.workload
    pool, users = workload.pool, workload.users
    pairs = [pair.address for pair, _, _ in workload.exchange.pairs]
    for pair, token0, token1 in workload.exchange.pairs:
        assert_k_never_decreases(case, pair, token0, token1)
    for token in workload.tokens:
        assert_supply_conserved(case, token, users + pairs + [pool.address])
    deposits = sum(case.view(pool, "deposits", user.address) for user in users)
    debts = sum(case.view(pool, "debts", user.address) for user in workload.borrowers)
    assert deposits == case.view(pool, "total_deposits")
    assert debts == case.view(pool, "total_borrows")
    assert (case.view(workload.tokens[0], "balanceOf", pool.address)
            == deposits - debts)


def check_nft(case):
    workload = case.workload
    holders = {holder.address for holder in workload.collectors}
    transfer = "Transfer(address,address,uint256)"
    for nft in workload.nfts:
        before = case.view(nft, "totalSupply", root=case.block.pre_state_root)
        mints = [topics for topics, _ in case.events(nft, transfer) if topics[1] == 0]
        supply = case.view(nft, "totalSupply")
        assert supply == before + len(mints)
        owners = [case.view(nft, "ownerOf", token_id) for token_id in range(1, supply + 1)]
        assert all(owner in holders for owner in owners)  # exactly one, a real holder
        assert sum(case.view(nft, "balanceOf", holder) for holder in holders) == supply


def check_supply_chain(case):
    workload = case.workload
    registry = workload.registry
    parties = {party.address for party in workload.members}
    count = case.view(registry, "item_count")
    before = case.view(registry, "item_count", root=case.block.pre_state_root)
    assert count == before + len(case.events(registry, "ItemCreated(uint256,address)"))
    custodians = [case.view(registry, "custodian", item) for item in range(1, count + 1)]
    assert all(custodian in parties for custodian in custodians)
    assert sum(case.view(registry, "held", party) for party in parties) == count


def check_voting(case):
    poll = case.workload.poll
    votes = [case.view(poll, "votes", proposal) for proposal in range(case.workload.proposals)]
    assert sum(votes) == case.view(poll, "turnout") == N


SEMANTICS = {"transfer": check_transfer, "erc20": check_erc20, "amm": check_amm, "defi": check_defi,
             "nft": check_nft, "supply-chain": check_supply_chain, "voting": check_voting}
