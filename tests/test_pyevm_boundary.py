"""Where pevmsim meets py-evm's internals (simulator/engine/pyevm_boundary.py): the four
failures adversarial testing found, each as a regression test, and the defenses that
keep the class from coming back."""

import inspect
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from eth.constants import BLANK_ROOT_HASH
from eth.db import journal
from eth.vm.forks.prague import state as prague_state
from eth.vm.forks.spurious_dragon import _utils as spurious_dragon_utils
from scenarios import raw

from simulator.runs.compare import compare
from simulator.engine.locations import ACCOUNT, NONCE, STORAGE
from simulator.engine.mv_memory import MVMemory
from simulator.runs.runner import run_block
from simulator.strategies import STRATEGIES
from simulator.engine.versioned_state import ExecutionEnv, PreState
from simulator.runs.spec import RunSpec, grid

ROOT = Path(__file__).resolve().parent.parent
PEVMSIM = str(Path(sys.executable).parent / "pevmsim")
PLUGIN = "tests/scenarios/adversarial_plugin.py"


def every_strategy_matches(block, threads=(1, 3, 8), **options):
    for name in STRATEGIES:
        for count in threads:
            report = run_block(block, RunSpec(name, count, **options))
            assert report.summary["mismatches"] == [], (name, count)
            assert report.result.diff == report.serial.diff, (name, count)


# -- 1. CREATE2 onto an account with storage but no code and nonce 0 -------------------
@pytest.mark.parametrize("fork", ["petersburg", "istanbul", "cancun"])
def test_create2_onto_existing_storage_equals_serial(fork):
    block, target = raw.create2_onto_storage(raw.FORKS[fork])
    every_strategy_matches(block)
    report = run_block(block, RunSpec("block-stm", 4))
    assert report.serial.diff[(STORAGE, target, 0)] == 1  # the wipe really happened


def test_failed_create2_onto_existing_storage_equals_serial():
    block, target = raw.create2_onto_storage(fails=True)
    every_strategy_matches(block)
    report = run_block(block, RunSpec("block-stm", 4))
    assert report.serial.diff[(STORAGE, target, 0)] == 0  # py-evm keeps the wipe
    assert report.serial.diff[(ACCOUNT, target)][1] == BLANK_ROOT_HASH


# -- 2. EIP-7702: an ESTIMATE swallowed by py-evm's `except Exception` -------------------
def test_set_code_authorization_is_never_skipped_on_an_estimate():
    block, authority = raw.set_code_authorization_after_read()
    every_strategy_matches(block, threads=(2, 3, 4, 8, 100))
    for wait in (0, 1):
        report = run_block(block, RunSpec("block-stm", 3, strategy_options={"wait_for_sender": wait}))
        assert report.summary["mismatches"] == []
        assert report.serial.diff[(NONCE, authority)] == 2  # tx1, then the authorization


def test_an_estimate_injected_where_py_evm_catches_exception_discards_the_incarnation():
    source = inspect.getsource(prague_state.PragueState.process_set_code_authorizations)
    assert "except Exception" in source  # the path this test is about still swallows
    block, authority = raw.set_code_authorization_after_read()
    env = ExecutionEnv(block, PreState(block.db, block.pre_state_root), True)
    mv = MVMemory(len(block))
    mv.record(1, 0, {(NONCE, authority): 1}, {})
    mv.convert_writes_to_estimates(1)  # tx1 was aborted: its nonce write is an ESTIMATE
    incarnation = env.execute(mv, 2, 0)
    assert incarnation.outcome is None and incarnation.writes == {}
    assert (incarnation.blocked_on, incarnation.blocked_location) == (1, (NONCE, authority))


# -- 3. our journal checkpoints meeting py-evm's own counter -----------------------------
def test_checkpoints_come_from_py_evm_counter_for_thousands_of_executions():
    block = raw.call_heavy()
    env = ExecutionEnv(block, PreState(block.db, block.pre_state_root), True)
    before = journal.get_next_checkpoint()
    for _ in range(350):  # 2,100 executions of 31 call frames each, one process
        mv = MVMemory(len(block))
        for tx in range(len(block)):
            incarnation = env.execute(mv, tx, 0)
            assert incarnation.error is None
            mv.record(tx, 0, incarnation.writes, incarnation.deltas)
    assert journal.get_next_checkpoint() > before + 350 * 6 * 31  # one shared counter


def test_call_heavy_block_under_every_strategy_three_times_in_one_process():
    block = raw.call_heavy()
    for _ in range(3):
        summaries = compare(block, grid(list(STRATEGIES), 8))
        assert all(summary["matches_serial"] for summary in summaries)


# -- 4. the post-state diff of a slot written, then SELFDESTRUCTed -----------------------
def test_write_then_selfdestruct_diff_equals_serial():
    block = raw.write_then_selfdestruct()
    every_strategy_matches(block)
    report = run_block(block, RunSpec("block-stm", 2))
    doomed = block.transactions[0].to
    assert report.result.diff[(STORAGE, doomed, 0)] == 0


# -- 5. set order never reaches results --------------------------------------------------
def test_py_evm_touched_accounts_are_still_a_set_and_are_sorted_for_us():
    assert "to_set" in inspect.getsource(spurious_dragon_utils)
    from eth.vm.forks.spurious_dragon import state

    assert state.collect_touched_accounts.__name__ == "sorted_touched_accounts"


def _json_of(args, seed):
    env = {**os.environ, "PYTHONHASHSEED": str(seed)}
    out = subprocess.run([PEVMSIM, *args, "--json", "-"], cwd=ROOT, env=env, check=True,
                         capture_output=True, text=True).stdout
    payload = json.loads(out)
    rows = payload if isinstance(payload, list) else [payload]
    for row in rows:
        for key in [key for key in row if "wall" in key or key == "peak_rss_mib"]:
            del row[key]  # host figures: real seconds and memory of this process
    return rows


def test_results_do_not_depend_on_the_hash_seed():
    # A pre-Cancun mainnet block with EIP-161 touches by a coinbase that also sends,
    # under the strategy whose executions are most sensitive to read order.
    args = ["run", "--workload", "mainnet", "--set", "block=8889776", "--txs", "120",
            "--strategy", "block-stm-abort", "--threads", "8"]
    assert _json_of(args, 1) == _json_of(args, 2) == _json_of(args, 3)
    args = ["compare", "--workload", f"{PLUGIN}:CallHeavy", "--txs", "6", "--threads", "4"]
    assert _json_of(args, 1) == _json_of(args, 3)


# -- 6. the abort ablation stays bounded -------------------------------------------------
def test_abort_ablation_does_not_spin_on_a_long_writer():
    block = raw.big_writer_and_readers(readers=30, heavy_gas=1_000_000)
    report = run_block(block, RunSpec("block-stm-abort", 32))
    assert report.summary["mismatches"] == []
    assert report.summary["executions_per_tx"] <= 50


def test_a_stopped_incarnation_is_charged_the_gas_it_consumed():
    block = raw.big_writer_and_readers(readers=1, heavy_gas=1_000_000)
    env = ExecutionEnv(block, PreState(block.db, block.pre_state_root), True)
    heavy = block.transactions[0].to
    mv = MVMemory(len(block))
    mv.record(0, 0, {(STORAGE, heavy, 0): 1}, {})
    full = env.execute(mv, 1, 0)  # the reader, run to completion
    mv.convert_writes_to_estimates(0)
    stopped = env.execute(mv, 1, 1)  # stops at the SLOAD of the ESTIMATE
    assert stopped.blocked_on == 0
    assert 21_000 < stopped.gas < full.gas


# -- the deep check ------------------------------------------------------------------------
def test_deep_check_finds_a_wrong_intermediate_write_behind_a_right_final_state():
    block = raw.call_heavy(calls=1, txs=3)  # every transaction bumps the same counter
    report = run_block(block, RunSpec("block-stm", 2, deep_check=True))
    assert report.summary["mismatches"] == []
    from simulator.chain.outcome import step_mismatches

    final = list(report.incarnations)
    slot = next(loc for loc in final[0].writes if loc[0] == STORAGE)
    final[0].writes[slot] += 41  # tx1 overwrites it: the final state stays right
    problems = step_mismatches(block, final, report.serial.steps)
    assert problems and problems[0].startswith("tx 0: storage")
