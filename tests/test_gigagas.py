"""The gigagas workloads: pevm's recipes (sizes by gas, shapes, the zero beneficiary),
grevm's hot set and hybrid mix, the V3-like pool's swaps, and their runs under pevm's
rules matching serial, bit-identically under any hash seed."""

import random
from collections import Counter

import pytest
from eth_utils import function_signature_to_4byte_selector

from simulator.chain import serial
from simulator.harness.calibration import PEVM_RULES
from simulator.runs.runner import run_block
from simulator.runs.spec import RunSpec
from workloads.gigagas import ZERO_ADDRESS, hot_index
from workloads.gigagas_erc20 import GigagasERC20Workload
from workloads.gigagas_hybrid import GigagasHybridWorkload
from workloads.gigagas_transfers import GigagasTransfersWorkload
from workloads.gigagas_uniswap import GigagasUniswapWorkload

PEVM = RunSpec("block-stm", 32, "revm", lazy_transfers=True, strategy_options=PEVM_RULES)


def test_blocks_are_sized_by_gas_as_pevm_and_grevm_size_them():
    assert GigagasTransfersWorkload().size() == 47_620
    assert GigagasERC20Workload().size() == 33_628
    assert GigagasERC20Workload(estimated_gas=26_938).size() == 37_123  # pevm's table
    assert GigagasUniswapWorkload().size() == 6_413
    assert GigagasHybridWorkload().size() == 36_580  # grevm's doc: 36,580 txs
    assert GigagasTransfersWorkload(gas=42_000).size() == 2



def test_raw_transfers_are_independent_self_transfers_of_one_wei():
    block = GigagasTransfersWorkload().block(8)
    assert block.execution_context().coinbase == ZERO_ADDRESS
    senders = [tx.sender for tx in block.transactions]
    assert len(set(senders)) == 8
    assert all(tx.to == tx.sender and tx.value == 1 and tx.gas == 21_000
               for tx in block.transactions)


def test_erc20_senders_transfer_to_themselves_on_one_token():
    block = GigagasERC20Workload().block(16)
    selector = function_signature_to_4byte_selector("transfer(address,uint256)")
    assert len({tx.to for tx in block.transactions}) == 1
    for tx in block.transactions:
        assert tx.data[:4] == selector
        assert tx.data[4 + 12:4 + 32] == tx.sender  # the recipient is the sender
        assert int.from_bytes(tx.data[36:68], "big") < 256


def test_each_swap_has_its_own_pool_and_costs_v3s_gas_magnitude():
    block = GigagasUniswapWorkload().block(3)
    assert len({tx.to for tx in block.transactions}) == 3  # its own SingleSwap each
    report = run_block(block, PEVM)
    assert report.matches_serial and report.summary["failed_txs"] == 0
    per_swap = report.summary["gas_used"] / 3
    assert 0.85 * 155_934 < per_swap < 1.15 * 155_934  # pevm's ESTIMATED_GAS_USED
    assert report.summary["reexecutions"] == 0  # nothing shared but the lazy coinbase


def test_hot_index_follows_grevm():
    rng = random.Random(1)
    assert {hot_index(rng, 100, 1.0) for _ in range(500)} == set(range(90, 100))
    cold = Counter(hot_index(rng, 100, 0.0) for _ in range(5000))
    assert set(cold) == set(range(100))  # uniform over every account
    hot = sum(hot_index(rng, 100, 0.3) >= 90 for _ in range(5000))
    assert 0.25 * 5000 < hot < 0.35 * 5000


def test_hybrid_keeps_grevms_mix_and_matches_serial():
    workload = GigagasHybridWorkload(num_eoa=50, hot_ratio=0.3)
    assert workload.counts(200) == (158, 12, 3)
    block = workload.block(200)
    report = run_block(block, PEVM)
    assert report.matches_serial and report.summary["failed_txs"] == 0
    assert report.summary["reexecutions"] + report.summary["suspensions"] > 0  # hot set


@pytest.mark.parametrize("workload", ["gigagas-erc20", "gigagas-transfers"])
def test_gigagas_runs_do_not_depend_on_the_hash_seed(workload):
    from test_pyevm_boundary import _json_of

    args = ["run", "--workload", workload, "--txs", "64", "--strategy", "block-stm",
            "--threads", "32", "--cost-model", "revm", "--lazy-transfers",
            "--strategy-option", "validate_first=0"]
    assert _json_of(args, 0) == _json_of(args, 3)


def test_persisting_mid_block_changes_no_state(monkeypatch):
    """The block builder's flushes and the serial executor's persists once many
    accounts' storage is dirty (chain/serial.py, DIRTY_STORES) leave the pre-state,
    the post-state and the receipts as they are without any."""
    def built(limit):
        monkeypatch.setattr(serial, "DIRTY_STORES", limit)
        block = GigagasUniswapWorkload().block(6)
        return block, serial.execute_serial(block)[0]

    (plain, plain_result), (flushed, flushed_result) = built(10**9), built(1)
    # the flushes really happened: their intermediate tries are in the database too
    assert len(flushed.db.wrapped_db.kv_store) > len(plain.db.wrapped_db.kv_store)
    assert flushed.pre_state_root == plain.pre_state_root
    assert flushed_result.state_root == plain_result.state_root
    assert flushed_result.receipts == plain_result.receipts
    assert flushed_result.failures == plain_result.failures == (None,) * 6
