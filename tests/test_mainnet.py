"""Real mainnet blocks as the oracle: under Block-STM on 8 workers, each block's gas
must equal its real header's gasUsed and (from Byzantium on, where receipts carry a
status) its receipts must hash to the header's receiptsRoot; and parallel == serial.
Under `bal` (its block access list), one or two blocks per era in the default form;
every vendored block under every variant in the full form (forms.py)."""

import pytest
from forms import FULL
from eth.db.trie import make_trie_root_and_nodes
from eth.vm.forks.byzantium import ByzantiumVM

from simulator.chain.outcome import py_evm_receipts
from simulator.runs.runner import run_block
from simulator.runs.spec import RunSpec
from simulator.strategies.bal import Variant
from workloads.api import WorkloadError
from workloads.mainnet import MainnetWorkload, available_blocks, load_block

# One or two blocks per era: Frontier, Homestead, the DAO-era fork boundary,
# Byzantium, Istanbul, the Merge, Shanghai and Cancun (with blob transactions).
BLOCKS = (46147, 1150000, 2675000, 4370000, 9069000, 15537394, 17034869, 19426587,
          19923400, 19933122)


def test_all_fifty_blocks_are_vendored():
    assert len(available_blocks()) == 50


@pytest.mark.parametrize("number", BLOCKS)
def test_mainnet_block_under_block_stm(number):
    block = load_block(number)
    report = run_block(block, RunSpec("block-stm", 8))
    assert report.summary["mismatches"] == []
    assert report.result.gas_used == block.expected_gas_used
    if issubclass(block.vm_class, ByzantiumVM):
        receipts = py_evm_receipts(block.transactions, report.result, pre_byzantium=False)
        assert make_trie_root_and_nodes(receipts)[0] == block.expected_receipts_root


@pytest.mark.parametrize("number, variant", [
    (number, variant) for number in (available_blocks() if FULL else BLOCKS)
    for variant in (Variant if FULL else [Variant.FULL])])
def test_mainnet_block_under_bal(number, variant):
    block = load_block(number)
    report = run_block(block, RunSpec("bal", 8, strategy_options={"variant": variant}))
    assert report.summary["mismatches"] == []
    assert report.summary["executions"] == len(block)
    assert report.result.gas_used == block.expected_gas_used


def test_a_prefix_is_a_valid_block():
    block = MainnetWorkload(block=17034869).block(10)
    assert len(block) == 10 and block.expected_gas_used is None
    assert run_block(block, RunSpec("block-stm", 4)).matches_serial


def test_unknown_block_and_oversized_prefix_are_named():
    with pytest.raises(WorkloadError, match="no mainnet block 5"):
        load_block(5)
    with pytest.raises(WorkloadError, match="has 93 transactions"):
        load_block(17034869, 94)
