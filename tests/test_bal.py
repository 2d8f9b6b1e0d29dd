"""EIP-7928 block-level access lists (simulator/chain/bal.py) and strategy `bal`
(simulator/strategies/bal.py): the BAL of a block is what stock serial py-evm did,
encoded as the EIP says; `bal` matches serial under every variant; a corrupted BAL is
refused in one line naming the transaction and the location."""

from functools import lru_cache

import pytest
import rlp
from eth.db.account import AccountDB
from eth_hash.auto import keccak
from scenarios.blocks import SCENARIOS

from simulator.chain.bal import (BlockAccessList, Corruption, InvalidAccessList,
                                 block_access_list, corrupted)
from simulator.chain.serial import execute_serial
from simulator.cli.main import main
from simulator.engine.locations import BALANCE, CODE, NONCE, STORAGE
from simulator.engine.versioned_state import ExecutionEnv, PreState
from simulator.runs.runner import run_block
from simulator.runs.spec import RunSpec
from simulator.strategies.bal import Variant
from simulator.strategies.prepass import serial_prepass
from workloads.mainnet import load_block
from workloads.registry import BUILTINS

SMALL = {"transfer": {"accounts": 5}, "erc20": {"accounts": 10}, "amm": {"hot_ratio": 0.5},
         "nft": {}, "defi": {"hot_ratio": 0.5}, "supply-chain": {}}
EMPTY_BAL_HASH = bytes.fromhex(
    "1dcc4de8dec75d7aab85b567b6ccd41ad312451b948a7413f0a142fd40d49347")  # the EIP's


@lru_cache(maxsize=None)
def workload_block(name, n=40):
    block = BUILTINS[name](**SMALL[name]).block(n, seed=0)
    return block, (execute_serial(block, steps=True)[0], 0.0)


def access_list_of(block, lazy=False):
    env = ExecutionEnv(block, PreState(block.db, block.pre_state_root), lazy)
    return block_access_list(env.pre_state, serial_prepass(env))


def test_an_empty_access_list_is_the_eips():
    empty = BlockAccessList(())
    assert empty.encode() == b"\xc0" and empty.hash() == EMPTY_BAL_HASH
    assert empty.size == 1 and empty.items == 0


@pytest.mark.parametrize("workload", sorted(SMALL))
def test_the_access_list_is_what_stock_serial_py_evm_did(workload):
    """Every change is the value stock py-evm left after that transaction, every value
    a transaction changed is listed, and the encoding decodes to the same lists."""
    block, (serial, _) = workload_block(workload)
    access_list = access_list_of(block)
    listed = {}
    for account in access_list.accounts:
        for slot, changes in account.storage_changes:
            for index, value in changes:
                listed[(index, (STORAGE, account.address, slot))] = value
        for kind, changes in ((BALANCE, account.balance_changes),
                              (NONCE, account.nonce_changes), (CODE, account.code_changes)):
            for index, value in changes:
                listed[(index, (kind, account.address))] = keccak(value) if kind == CODE else value
    account_db = AccountDB(block.db, block.pre_state_root)
    before: dict = {}

    def value_before(location):
        if location not in before:
            kind, address = location[0], location[1]
            before[location] = (account_db.get_storage(address, location[2]) if kind == STORAGE
                                else account_db.get_balance(address) if kind == BALANCE
                                else account_db.get_nonce(address) if kind == NONCE
                                else account_db.get_code_hash(address))
        return before[location]

    expected = {}
    for tx, step in enumerate(serial.steps):
        for location, value in step.items():
            if location[0] in (BALANCE, NONCE, CODE, STORAGE) and value != value_before(location):
                expected[(tx + 1, location)] = value
        for location, value in step.items():
            before[location] = value
    # the BAL's extra changes are slots a restarted (created) account wrote: none here
    assert listed == expected
    decoded = rlp.decode(access_list.encode())
    assert [bytes(entry[0]) for entry in decoded] == sorted(a.address for a in access_list.accounts)
    assert access_list.size == len(access_list.encode())


@pytest.mark.parametrize("workload", ["transfer", "erc20", "defi"])
def test_the_access_list_does_not_depend_on_lazy_updates(workload):
    block, _ = workload_block(workload)
    assert access_list_of(block, lazy=True) == access_list_of(block, lazy=False)


@pytest.mark.parametrize("variant", list(Variant))
@pytest.mark.parametrize("workload", sorted(SMALL))
@pytest.mark.parametrize("cost_model", ["gas", "gas-disk"])
def test_every_variant_equals_serial(workload, variant, cost_model):
    block, serial = workload_block(workload)
    for threads in (1, 8, 32):
        report = run_block(block, RunSpec("bal", threads, cost_model, deep_check=True,
                                          strategy_options={"variant": variant}),
                           serial=serial)
        summary = report.summary
        assert summary["mismatches"] == [], (threads, summary["mismatches"])
        assert summary["executions"] == summary["txs"]  # each transaction once
        assert summary["virtual_speedup"] <= summary["virtual_speedup_bound"] * (1 + 1e-12)


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_bal_on_conflict_scenarios(scenario):
    block = SCENARIOS[scenario]()
    for variant in Variant:
        for lazy in (True, False):
            summary = run_block(block, RunSpec("bal", 4, lazy_beneficiary=lazy,
                                               strategy_options={"variant": variant})).summary
            assert summary["mismatches"] == [], (variant, lazy)


def test_a_one_sender_chain_runs_in_parallel_under_bal():
    """Every transaction depends on the previous one (the sender's nonce and balance):
    optimistic strategies serialize, the BAL's post-values remove the chain."""
    block = SCENARIOS["one_sender_chain"]()
    summaries = {name: run_block(block, RunSpec(name, 8)).summary
                 for name in ("serial", "block-stm", "block-stm-abort", "monad", "sei", "bal")}
    bal = summaries.pop("bal")
    assert bal["matches_serial"] and bal["virtual_speedup"] > 2
    for name, summary in summaries.items():
        assert bal["virtual_makespan_s"] < summary["virtual_makespan_s"], name


def test_prefetching_alone_gains_on_an_ssd_and_not_in_memory():
    block, serial = workload_block("defi")
    io = {cost_model: run_block(block, RunSpec("bal", 8, cost_model, strategy_options={
        "variant": "io-only"}), serial=serial).summary for cost_model in ("gas", "gas-disk")}
    assert io["gas-disk"]["virtual_speedup"] > 2 > 1.05 > io["gas"]["virtual_speedup"]
    full = run_block(block, RunSpec("bal", 8, "gas-disk"), serial=serial).summary
    assert full["virtual_speedup"] > io["gas-disk"]["virtual_speedup"]


CORRUPTIONS = {  # corruption -> what the one line names
    Corruption.WRONG_VALUE: ("transaction ", ", the BAL says "),
    Corruption.MISSING_SLOT: ("transaction ", "which the BAL does not list"),
    Corruption.EXTRA_ACCOUNT: ("the BAL lists account 0x", "which no transaction accesses"),
}


@pytest.mark.parametrize("variant", list(Variant))
@pytest.mark.parametrize("corruption", sorted(CORRUPTIONS))
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a_corrupted_access_list_is_refused(corruption, variant, seed):
    block, serial = workload_block("defi")
    with pytest.raises(InvalidAccessList) as refused:
        run_block(block, RunSpec("bal", 8, strategy_options={
            "variant": variant, "corrupt": corruption, "corrupt_seed": seed}), serial=serial)
    message = str(refused.value)
    assert message.startswith("the block access list is invalid: ") and "\n" not in message
    for part in CORRUPTIONS[corruption]:
        assert part in message


def test_a_wrong_value_names_the_transaction_and_location_it_altered():
    block, _ = workload_block("erc20")
    right = access_list_of(block)
    wrong = corrupted(right, Corruption.WRONG_VALUE, 5)
    (altered,) = [(a, b) for a, b in zip(right.accounts, wrong.accounts) if a != b]
    with pytest.raises(InvalidAccessList) as refused:
        run_block(block, RunSpec("bal", 8, strategy_options={"corrupt": "wrong-value",
                                                             "corrupt_seed": 5}))
    assert f"0x{altered[0].address.hex()}" in str(refused.value)


@pytest.mark.parametrize("corruption", sorted(CORRUPTIONS))
def test_the_cli_refuses_a_corrupted_access_list_in_one_line(corruption, capsys):
    code = main(["run", "--workload", "erc20", "--set", "accounts=10", "--txs", "30",
                 "--strategy", "bal", "--strategy-option", f"corrupt={corruption}"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert err[-1].startswith("pevmsim: error: workload erc20: the block access list is "
                              "invalid: ")


def test_every_run_reports_the_block_access_list_size():
    block, serial = workload_block("erc20")
    sizes = {run_block(block, RunSpec(name, 4), serial=serial).summary["bal_bytes"]
             for name in ("serial", "block-stm", "bal", "oracle")}
    assert sizes == {access_list_of(block).size}


def test_prefetching_the_storage_reads_pays_on_an_ssd():
    """A recorded block with many read-only slots: without storage reads in the BAL
    they are loaded cold during execution, so that design is slower on an SSD."""
    block = load_block(16257471)
    speedups = {variant: run_block(block, RunSpec("bal", 32, "gas-disk", strategy_options={
        "variant": variant})).summary for variant in (Variant.FULL, Variant.NO_STORAGE_READS)}
    full, no_reads = speedups[Variant.FULL], speedups[Variant.NO_STORAGE_READS]
    assert full["matches_serial"] and no_reads["matches_serial"]
    assert full["bal_no_reads_bytes"] < full["bal_bytes"]
    assert full["virtual_speedup"] > 2 * no_reads["virtual_speedup"]


def test_bal_reports_the_true_dependency_bound_beside_its_own():
    """The what-if analysis sets locations against the true graph's bound, which a
    BAL's own bound (no dependencies) exceeds; for other strategies the two agree."""
    block, serial = workload_block("defi")
    bal = run_block(block, RunSpec("bal", 8), serial=serial).summary
    stm = run_block(block, RunSpec("block-stm", 8), serial=serial).summary
    assert bal["whatif"]["dependency_bound"] == stm["whatif"]["dependency_bound"]
    assert stm["whatif"]["dependency_bound"] == stm["virtual_speedup_bound"]
    assert bal["virtual_speedup"] > stm["virtual_speedup_bound"]
    assert bal["virtual_speedup_bound"] > bal["whatif"]["dependency_bound"]
