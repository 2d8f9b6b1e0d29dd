"""Golden scenarios for the rules Sei and Monad follow in their released source
(strategies/sei.py, strategies/monad.py): value validation, Monad's exact merge on the
beneficiary, the fiber window, its yielding reads on the disk tier, Sei's rounds, its
historical mode."""

import pytest

from simulator.abc import EXECUTION_EVENTS, EventKind
from simulator.backends.simulated import SimulatedBackend
from simulator.chain.outcome import assemble, mismatches
from simulator.chain.serial import execute_serial
from simulator.costs.cost_model import GasCostModel
from simulator.engine.metrics import Metrics, dependency_bound
from simulator.engine.versioned_state import ExecutionEnv, PreState
from simulator.runs.runner import run_block
from simulator.runs.spec import RunSpec
from simulator.strategies.sei import Sei, single_recipient_transfers
from workloads.api import BlockBuilder
from workloads.registry import BUILTINS


def executions(report) -> list:
    return report.metrics.executions_per_tx(len(report.incarnations))


def independent_transfers(priority_fee: int, count: int = 2):
    chain = BlockBuilder(0)
    chain.priority_fee = priority_fee
    senders, receivers = chain.accounts(count), chain.accounts(count)
    return chain.build([chain.transfer(s, r.address, 10**15)
                        for s, r in zip(senders, receivers)])


def equal_value_write():
    """tx 0 moves 0 tokens to user 2 (it rewrites two balances with their own values);
    tx 1 then credits user 2. No priority fee, so the beneficiary never changes."""
    chain = BlockBuilder(0)
    chain.priority_fee = 0
    users = chain.accounts(3)
    token = chain.deploy("erc20", "Token", "TK", 10**24)
    for user in users:
        chain.call(chain._deployer, token, "transfer", user.address, 10**20)
    return chain.build([chain.call_tx(users[0], token, "transfer", users[2].address, 0),
                        chain.call_tx(users[1], token, "transfer", users[2].address, 10**18)])


def test_monad_exact_merge_retries_after_a_priority_fee():
    block = independent_transfers(10**9)
    exact = run_block(block, RunSpec("monad", 2))
    relaxed = run_block(block, RunSpec("monad", 2, strategy_options={"relaxed_merge": 1}))
    assert exact.matches_serial and relaxed.matches_serial
    # tx 1 read the beneficiary (EIP-3651) before tx 0 merged and paid it a fee
    assert executions(exact) == [1, 2] and executions(relaxed) == [1, 1]
    # an eager credit reads the beneficiary's balance: exact even under relaxed merge
    eager = run_block(block, RunSpec("monad", 2, lazy_beneficiary=False,
                                     strategy_options={"relaxed_merge": 1}))
    assert eager.matches_serial and executions(eager) == [1, 2]


def test_monad_no_fee_no_beneficiary_conflict():
    report = run_block(independent_transfers(0), RunSpec("monad", 2))
    assert report.matches_serial and executions(report) == [1, 1]


@pytest.mark.parametrize("strategy, options", [("monad", {}), ("sei", {})])
def test_an_equal_value_write_is_no_conflict(strategy, options):
    report = run_block(equal_value_write(), RunSpec(strategy, 2, strategy_options=options))
    assert report.matches_serial and executions(report) == [1, 1]


@pytest.mark.parametrize("strategy, options", [
    ("block-stm", {}), ("sei", {"version": "occ-dev-2023", "accuracy": 0.0})])
def test_version_validation_counts_an_equal_value_write(strategy, options):
    report = run_block(equal_value_write(), RunSpec(strategy, 2, strategy_options=options))
    assert report.matches_serial and executions(report)[1] == 2


def in_flight_peak(events, io_waits=()) -> int:
    """The most transactions between their first task's start (or its first wait on
    yielded reads) and their last's end."""
    spans = {}
    for tx, start, end in [(tx, start, end) for _, _, tx, _, start, end in events] \
            + list(io_waits):
        first, last = spans.get(tx, (start, end))
        spans[tx] = (min(first, start), max(last, end))
    moments = sorted({start for start, _ in spans.values()})
    return max(sum(1 for start, end in spans.values() if start <= t < end) for t in moments)


@pytest.mark.parametrize("fibers", [1, 4])
def test_monad_never_more_transactions_in_flight_than_fibers(fibers):
    block = BUILTINS["erc20"](accounts=50).block(60, seed=0)
    report = run_block(block, RunSpec("monad", 8, strategy_options={"fibers": fibers}))
    assert report.matches_serial
    assert in_flight_peak(report.metrics.events) == fibers  # the window binds
    assert max(executions(report)) <= 2


def test_monad_default_window_is_256():
    block = independent_transfers(10**9, count=300)
    report = run_block(block, RunSpec("monad", 32))
    assert report.matches_serial and in_flight_peak(report.metrics.events) == 256


def peak_overlap(intervals) -> int:
    """The most of these (start, end) intervals open at one instant."""
    return max(sum(1 for start, end in intervals if start <= t < end)
               for t in {start for start, _ in intervals})


def monad_disk(block, threads: int, **options):
    return run_block(block, RunSpec("monad", threads, "gas-disk",
                                    strategy_options=options))


def test_monad_yielding_reads_beat_reads_on_the_worker_and_stay_under_the_bound():
    block = BUILTINS["erc20"](accounts=1000).block(60, seed=0)  # cold state, few conflicts
    yielding, holding = monad_disk(block, 4), monad_disk(block, 4, yielding_reads=0)
    for report in (yielding, holding):
        summary = report.summary
        assert report.matches_serial and max(executions(report)) <= 2
        assert summary["virtual_speedup"] <= summary["virtual_speedup_bound"]
    # the reads of many fibers overlap beyond 4 threads: faster, and so is its bound
    assert yielding.summary["virtual_speedup"] > 1.5 * holding.summary["virtual_speedup"]
    assert holding.summary["virtual_speedup"] <= 4  # loads on the workers: <= threads
    assert yielding.summary["virtual_speedup_bound"] > holding.summary["virtual_speedup_bound"]
    assert len(yielding.metrics.io_waits) >= len(block.transactions)
    assert holding.metrics.io_waits == []
    assert peak_overlap([(s, e) for _, s, e in yielding.metrics.io_waits]) > 4


@pytest.mark.parametrize("fibers", [2, 8])
def test_monad_yielded_reads_never_exceed_the_fiber_window(fibers):
    block = BUILTINS["erc20"](accounts=1000).block(40, seed=0)
    report = monad_disk(block, 2, fibers=fibers)
    assert report.matches_serial
    waits = report.metrics.io_waits
    assert peak_overlap([(start, end) for _, start, end in waits]) <= fibers
    assert in_flight_peak(report.metrics.events, waits) == fibers  # the window binds


@pytest.mark.parametrize("cost_model", ["gas", "revm"])
def test_monad_yielding_reads_change_nothing_in_memory(cost_model):
    block = BUILTINS["erc20"](accounts=1000).block(40, seed=0)
    on, off = (run_block(block, RunSpec("monad", 4, cost_model,
                                        strategy_options={"yielding_reads": flag}))
               for flag in (1, 0))
    assert on.metrics.io_waits == [] and on.metrics.events == off.metrics.events
    for key in ("virtual_makespan_s", "virtual_speedup_bound", "utilization"):
        assert on.summary[key] == off.summary[key]


def test_the_bound_with_yielded_loads_takes_them_off_the_workers():
    parts = [(8.0, 2.0)] * 4  # (loads, rest) per transaction, no dependencies
    edges = [[] for _ in parts]
    # on the workers: (4 x 10) / 2; yielded: max(4 x 2 / 2, 4 x 8 / io_slots), or the
    # longest transaction, one load latency (1.0) then its rest
    assert dependency_bound(None, parts, 2, 0.0, 1.0, edges=edges) == 20.0
    assert dependency_bound(None, parts, 2, 0.0, 1.0, edges=edges, io_slots=2) == 16.0
    assert dependency_bound(None, parts, 2, 0.0, 1.0, edges=edges, io_slots=256) == 4.0


def run_sei(block, threads: int, **options):
    env = ExecutionEnv(block, PreState(block.db, block.pre_state_root), True)
    metrics = Metrics()
    sei = Sei(env, GasCostModel(), metrics, **options)
    SimulatedBackend().run(sei, threads, metrics)
    problems = mismatches(assemble(block, sei.final_incarnations()), execute_serial(block)[0])
    return sei, metrics, problems


CONTENDED = [("erc20", {"accounts": 10}), ("amm", {"hot_ratio": 0.5})]


@pytest.mark.parametrize("workload, params", CONTENDED)
@pytest.mark.parametrize("rounds", [1, 2, 10])
def test_sei_rounds_are_capped_before_the_synchronous_round(workload, params, rounds):
    block = BUILTINS[workload](**params).block(60, seed=0)
    sei, _, problems = run_sei(block, 8, rounds=rounds)
    assert problems == []
    assert sei.round <= rounds + 1
    assert sei.synchronous == (sei.round == rounds + 1)


def test_sei_default_cap_is_ten_rounds():
    block = BUILTINS["amm"](hot_ratio=1.0).block(60, seed=0)
    sei, _, problems = run_sei(block, 8)
    assert problems == [] and sei.round == 11 and sei.synchronous


def resets_without_cause(events) -> int:
    """Re-executions of a transaction not preceded, since its previous execution, by
    that execution's abort or a failed validation of the transaction."""
    count = 0
    cause = {}
    for _, kind, tx, _, _, _ in events:
        if kind in EXECUTION_EVENTS:
            if tx in cause and not cause[tx]:
                count += 1
            cause[tx] = kind == EventKind.ABORTED
        elif kind == EventKind.FAILED_VALIDATION:
            cause[tx] = True
    return count


@pytest.mark.parametrize("workload, params", CONTENDED)
def test_sei_never_resets_a_transaction_for_its_predecessor(workload, params):
    block = BUILTINS[workload](**params).block(60, seed=0)
    _, released, problems = run_sei(block, 8, rounds=0)
    assert problems == [] and released.executions > len(block.transactions)
    assert resets_without_cause(released.events) == 0
    # the development branch's cascade does reset transactions for their predecessor
    _, dev, problems = run_sei(block, 8, version="occ-dev-2023", accuracy=0.0)
    assert problems == [] and resets_without_cause(dev.events) > 0


def test_sei_one_recipient_block_runs_sequentially():
    chain = BlockBuilder(0)
    receiver, senders = chain.accounts(1)[0], chain.accounts(64)
    block = chain.build([chain.transfer(s, receiver.address, 10**15) for s in senders])
    assert single_recipient_transfers(block.transactions)
    assert not single_recipient_transfers(block.transactions[:63])
    serial = run_block(block, RunSpec("serial", 8)).summary
    sei = run_block(block, RunSpec("sei", 8)).summary
    off = run_block(block, RunSpec("sei", 8, strategy_options={"one_recipient_rule": 0}))
    assert sei["matches_serial"] and off.matches_serial
    assert sei["virtual_makespan_s"] == serial["virtual_makespan_s"]
    assert sei["sequential_fallbacks"] == 1 and off.summary["sequential_fallbacks"] == 0


# pevmsim's `sei` before it followed the releases (commit 35f43aa), gas cost model as it
# was then (no shared resource, no contention: OLD_GAS), lazy beneficiary, 60
# transactions, seed 0: its makespan (s) and re-executions.
OLD_GAS = {"SHARED_TASK": 0.0, "CONTENTION": 0.0}
HISTORICAL = [
    ("erc20", {"accounts": 10}, 4, {}, 0.004794906999999983, 977),
    ("erc20", {"accounts": 10}, 32, {"accuracy": 0.0, "rounds": 2}, 0.0021977169999999975, 117),
    ("amm", {"hot_ratio": 0.5}, 32, {"cascade": 0}, 0.003571639, 853),
    ("defi", {}, 32, {}, 0.0007668340000000005, 198),
]


@pytest.mark.parametrize("workload, params, threads, options, makespan, reexecutions",
                         HISTORICAL)
def test_sei_historical_mode_reproduces_the_old_figures(workload, params, threads, options,
                                                        makespan, reexecutions):
    block = BUILTINS[workload](**params).block(60, seed=0)
    summary = run_block(block, RunSpec("sei", threads, cost_model="gas", strategy_options={
        "version": "occ-dev-2023", **options}, cost_constants=OLD_GAS)).summary
    assert summary["matches_serial"]
    assert summary["reexecutions"] == reexecutions
    # the same schedule; the shared-resource backend sums task times in another order,
    # so the makespan agrees to rounding, not to the last bit
    assert summary["virtual_makespan_s"] == pytest.approx(makespan, rel=1e-12)
