"""Parallel == serial (state diff, receipts, logs, gas) on every conflict pattern.
Light form (forms.py): the eager beneficiary on 2 and 32 workers only."""

import multiprocessing
import re

import pytest
from forms import matrix
from scenarios.blocks import SCENARIOS

from simulator.chain.block import Block
from simulator.runs.runner import run_block
from simulator.chain.serial import InvalidBlock, start_serial
from simulator.runs.spec import RunSpec
from workloads.erc20 import ERC20Workload

THREADS = (1, 2, 4, 8, 32)


@pytest.fixture(scope="module")
def blocks():
    made = {name: make() for name, make in SCENARIOS.items()}
    for accounts in (2, 10, 1000):
        made[f"erc20_accounts_{accounts}"] = ERC20Workload(accounts=accounts).block(60, seed=7)
    return made


@pytest.mark.parametrize("scenario, threads, lazy", matrix(
    lambda scenario, threads, lazy: lazy or threads in (2, 32),  # eager on 2 and 32
    list(SCENARIOS) + ["erc20_accounts_2", "erc20_accounts_10", "erc20_accounts_1000"],
    THREADS, (True, False)))
def test_block_stm_equals_serial(blocks, scenario, threads, lazy):
    report = run_block(blocks[scenario], RunSpec("block-stm", threads, lazy_beneficiary=lazy, deep_check=True))
    assert report.summary["mismatches"] == []
    assert report.result.state_root == report.serial.state_root
    assert report.result.receipts == report.serial.receipts
    assert report.result.diff == report.serial.diff
    assert report.summary["virtual_speedup"] <= report.summary["virtual_speedup_bound"] + 1e-9


def test_scenarios_exercise_what_they_claim(blocks):
    receipts = run_block(blocks["reverts_and_out_of_gas"], RunSpec("serial", 1)).serial.receipts
    assert not all(r.success for r in receipts) and any(r.success for r in receipts)
    assert any(r.gas_used == 60_000 for r in receipts)  # out of gas burns it all
    payers = run_block(blocks["coinbase_readers_and_payers"], RunSpec("serial", 1)).serial
    assert all(r.success for r in payers.receipts)


def test_full_contention_does_not_collapse(blocks):
    summary = run_block(blocks["erc20_accounts_2"], RunSpec("block-stm", 8)).summary
    assert summary["matches_serial"]
    assert summary["executions"] > summary["txs"]
    assert summary["virtual_speedup"] >= 0.8


def test_one_worker_costs_little(blocks):
    summary = run_block(blocks["erc20_accounts_1000"], RunSpec("block-stm", 1)).summary
    assert summary["executions"] == summary["txs"]
    assert 0.85 <= summary["virtual_speedup"] <= 1.0


def test_gas_cost_model_is_deterministic(blocks):
    keys = ("virtual_speedup", "executions", "validations", "state_root", "virtual_makespan_s")
    first = run_block(blocks["erc20_accounts_10"], RunSpec("block-stm", 8))
    second = run_block(blocks["erc20_accounts_10"], RunSpec("block-stm", 8))
    assert [first.summary[k] for k in keys] == [second.summary[k] for k in keys]
    assert first.metrics.events == second.metrics.events


def test_lazy_beneficiary_removes_fee_conflicts(blocks):
    lazy = run_block(blocks["independent_transfers"], RunSpec("block-stm", 8)).summary
    eager = run_block(blocks["independent_transfers"], RunSpec("block-stm", 8, lazy_beneficiary=False)).summary
    assert lazy["executions"] == lazy["txs"]
    assert eager["executions"] > eager["txs"]
    assert lazy["virtual_speedup"] > 2 * eager["virtual_speedup"]


def test_measured_cost_model_also_matches(blocks):
    summary = run_block(blocks["erc20_accounts_10"], RunSpec("block-stm", 8, cost_model="measured")).summary
    assert summary["matches_serial"] and summary["virtual_makespan_s"] > 0


@pytest.mark.parametrize("threads", (2, 8, 32))
@pytest.mark.parametrize("scenario", ["one_sender_chain", "erc20_accounts_2",
                                      "erc20_accounts_10", "coinbase_readers_and_payers"])
def test_waiting_for_the_sender_keeps_serial_results_and_saves_executions(
        blocks, scenario, threads):
    plain = run_block(blocks[scenario], RunSpec("block-stm", threads)).summary
    waiting = run_block(blocks[scenario], RunSpec("block-stm", threads, strategy_options={"wait_for_sender": 1})).summary
    assert waiting["mismatches"] == []
    assert waiting["executions"] <= plain["executions"]
    if plain["invalid_executions"]:
        assert waiting["invalid_executions"] < plain["invalid_executions"]


def test_conflicts_name_the_hot_locations(blocks):
    conflicts = run_block(blocks["one_sender_chain"], RunSpec("block-stm", 8)).summary["conflicts"]
    assert conflicts and conflicts[0]["reexecutions"] + conflicts[0]["suspensions"] > 0
    assert all(row["label"].startswith(("nonce of sender", "ETH balance of sender"))
               for row in conflicts)


def test_the_serial_check_alongside_equals_the_one_in_this_process(blocks):
    """start_serial(alongside=True) executes in a forked process (on a machine with a
    second core): the same result, steps and diff as in this process, and no process
    left behind."""
    block = blocks["erc20_accounts_10"]
    here, _ = start_serial(block, steps=True).result()
    pending = start_serial(block, steps=True, alongside=True)
    alongside, wall = pending.result()
    assert wall > 0
    assert (alongside.state_root, alongside.receipts, alongside.gas_used,
            alongside.failures, alongside.steps) == (here.state_root, here.receipts,
                                                     here.gas_used, here.failures, here.steps)
    assert alongside.diff == here.diff and alongside.diff
    assert multiprocessing.active_children() == []
    assert pending.result()[0] is alongside  # collected once


def test_an_invalid_block_is_reported_by_the_serial_check_alongside():
    """The parallel run meets the invalid transaction too, but the serial check's
    words (which transaction, and why) are the ones reported, as when it runs first."""
    valid = ERC20Workload(accounts=2).block(6, seed=1)
    repeated = [sender for sender in valid.senders if valid.senders.count(sender) > 1]
    skipped = valid.senders.index(repeated[0])  # its next transaction's nonce is too high
    block = Block(valid.vm_class, valid.context, valid.db, valid.pre_state_root,
                  [tx for index, tx in enumerate(valid.transactions) if index != skipped])
    with pytest.raises(InvalidBlock) as here:
        start_serial(block)
    with pytest.raises(InvalidBlock, match=re.escape(str(here.value))):
        run_block(block, RunSpec(), serial=start_serial(block, alongside=True))
    assert multiprocessing.active_children() == []
