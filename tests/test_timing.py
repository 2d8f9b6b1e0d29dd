"""Tests of time, not only of state: golden makespans worked out by hand under a unit
cost model, the scheduler's invariants after every step of random schedules, and the
cost model's shared accounting (one model for every strategy and the bound)."""

import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scenarios.blocks import independent_transfers, one_sender_chain
from test_random_blocks import OPS, build

from simulator import debug
from simulator.abc import Cost, as_cost
from simulator.costs.cost_model import COST_MODELS, CostModel, GasCostModel
from simulator.runs.runner import run_block
from simulator.abc import TaskKind
from simulator.engine.scheduler import EXECUTED, Scheduler
from simulator.strategies import STRATEGIES
from simulator.runs.spec import RunSpec
from workloads.api import BlockBuilder
from workloads.erc20 import ERC20Workload


class UnitCostModel(CostModel):
    """Every execution that runs to the end takes 1; one cut short, rejected, or a
    validation takes 0; no scheduling cost. Makespans become counts of rounds."""

    name = "unit"

    def __init__(self, cold_load=None) -> None:
        self.loaded: set = set()

    def execution(self, incarnation) -> float:
        return 1.0 if incarnation.outcome is not None else 0.0

    sequential = execution

    def validation(self, reads, measured_seconds) -> float:
        return 0.0

    def serial_costs(self, incarnations) -> list:
        return [1.0] * len(incarnations)

    def split(self, incarnations) -> list:
        return [(0.0, 1.0)] * len(incarnations)

    def constants(self) -> dict:
        return {}


class SharedUnitCostModel(UnitCostModel):
    """The unit model, each execution run to the end then holding the serialized
    resource for a quarter (SHARED)."""

    name = "shared-unit"
    SHARED = 0.25

    def execution(self, incarnation):
        return Cost(1.0, self.SHARED) if incarnation.outcome is not None else Cost(0.0)

    def serialized(self, incarnations) -> float:
        return self.SHARED * len(incarnations)


class StartUpUnitCostModel(UnitCostModel):
    """The unit model with workers started half a unit apart and a tenth of a unit per
    transaction after the parallel phase."""

    name = "start-up-unit"
    SPAWN = 0.5
    FINALIZE = 0.1


class ContendedUnitCostModel(UnitCostModel):
    """The unit model, each task's work longer by half per other task in flight."""

    name = "contended-unit"
    CONTENTION = 0.5


@pytest.fixture
def unit(monkeypatch):
    monkeypatch.setitem(COST_MODELS, "unit", UnitCostModel)
    return "unit"


@pytest.fixture
def shared_unit(monkeypatch):
    monkeypatch.setitem(COST_MODELS, "shared-unit", SharedUnitCostModel)
    monkeypatch.setitem(COST_MODELS, "start-up-unit", StartUpUnitCostModel)
    monkeypatch.setitem(COST_MODELS, "contended-unit", ContendedUnitCostModel)
    return "shared-unit"


def _two_independent_transfers():
    chain = BlockBuilder(0)
    a, b, c, d = chain.accounts(4)
    return chain.build([chain.transfer(a, b.address, 10**15),
                        chain.transfer(c, d.address, 10**15)])


@pytest.mark.parametrize("threads, makespan", [(1, 37.5), (30, 8.5), (32, 8.5), (64, 8.5)])
def test_a_serialized_resource_caps_throughput(shared_unit, threads, makespan):
    # 30 independent executions of 1 unit, each then holding the resource for 0.25:
    # alone, 30 x 1.25; on 30 or more workers every execution's work ends at 1 and the
    # resource serves them one after another: 1 + 30 x 0.25, whatever the workers.
    report = run_block(independent_transfers(), RunSpec("block-stm", threads, shared_unit))
    assert report.summary["virtual_makespan_s"] == makespan
    assert report.matches_serial
    if threads >= 30:  # no schedule beats the resource's 30 x 0.25 either
        assert report.summary["virtual_speedup_bound"] == 30 / 7.5


def test_workers_start_one_after_another_and_the_results_pass_is_sequential(shared_unit):
    # Two independent transactions on two workers: worker 0 runs tx0 over [0, 1],
    # worker 1 starts at 0.5 and runs tx1 over [0.5, 1.5]; then 2 x 0.1 of results.
    block = _two_independent_transfers()
    report = run_block(block, RunSpec("block-stm", 2, "start-up-unit"))
    assert report.summary["virtual_makespan_s"] == pytest.approx(1.7)
    serial = run_block(block, RunSpec("serial", 2, "start-up-unit"))
    assert serial.summary["virtual_makespan_s"] == 2.0  # no workers to start, no pass


def test_a_busy_worker_slows_the_next_task_it_contends_with(shared_unit):
    # tx0 starts alone (work 1); tx1 starts beside it, half as slow again (1.5).
    block = _two_independent_transfers()
    assert run_block(block, RunSpec("block-stm", 2, "contended-unit")).summary[
        "virtual_makespan_s"] == 1.5
    assert run_block(block, RunSpec("block-stm", 1, "contended-unit")).summary[
        "virtual_makespan_s"] == 2.0  # one worker: nothing to contend with


def test_wasted_work_costs_time():
    """On a hot AMM pair, retrying on an ESTIMATE keeps workers busy with work that is
    thrown away; under contention and the shared resource that slows everyone, so the
    abort ablation is slower than Block-STM's suspension (issue 8's missing cost)."""
    from workloads.amm import AMMWorkload

    block = AMMWorkload(hot_ratio=0.5).block(120, seed=3)
    suspend = run_block(block, RunSpec("block-stm", 32, "gas")).summary
    abort = run_block(block, RunSpec("block-stm-abort", 32, "gas")).summary
    assert abort["executions_per_tx"] > 2 * suspend["executions_per_tx"]
    assert abort["virtual_speedup"] < suspend["virtual_speedup"]


def test_costs_add_and_a_number_is_work():
    assert Cost(1.0, 0.5) + Cost(2.0) == Cost(3.0, 0.5)
    assert 2.0 + Cost(1.0, 0.25) == Cost(3.0, 0.25) == as_cost(3.0) + Cost(0.0, 0.25)
    assert as_cost(Cost(1.0, 2.0)).total == 3.0


def hot_receiver_block(hot: int, independent: int):
    """`hot` transfers to one receiver (a chain through its balance) and
    `independent` transfers between fresh accounts."""
    chain = BlockBuilder(0)
    receiver, senders = chain.accounts(1)[0], chain.accounts(hot + 2 * independent)
    txs = [chain.transfer(s, receiver.address, 10**15) for s in senders[:hot]]
    rest = senders[hot:]
    txs += [chain.transfer(rest[2 * k], rest[2 * k + 1].address, 10**15)
            for k in range(independent)]
    return chain.build(txs)


@pytest.mark.parametrize("threads, makespan", [(1, 30), (4, 8), (8, 4), (32, 1)])
def test_independent_transactions_take_ceil_n_over_t(unit, threads, makespan):
    report = run_block(independent_transfers(), RunSpec("block-stm", threads, unit))
    assert report.summary["virtual_makespan_s"] == makespan
    assert report.summary["executions"] == 30


@pytest.mark.parametrize("threads", [1, 2, 8, 32])
def test_a_full_dependency_chain_has_no_speedup(unit, threads):
    # One sender: each transaction needs its predecessor's nonce. Each waits for it
    # (suspended at t=0 at no cost), then runs: 20 transactions take 20.
    report = run_block(one_sender_chain(), RunSpec("block-stm", threads, unit))
    assert report.summary["virtual_makespan_s"] == 20
    assert report.summary["virtual_speedup"] == 1.0
    assert report.summary["virtual_speedup_bound"] == 1.0


def test_a_suspended_transaction_resumes_when_its_blocker_finishes(unit):
    # tx1 (same sender) is rejected at t=0 and suspended on tx0; tx0 ends at 1, tx1
    # then runs from 1 to 2.
    chain = BlockBuilder(0)
    sender, first, second = chain.accounts(3)
    block = chain.build([chain.transfer(sender, first.address, 10**15),
                         chain.transfer(sender, second.address, 10**15)])
    report = run_block(block, RunSpec("block-stm", 2, unit))
    events = [(kind, tx, start, end) for _, kind, tx, _, start, end in report.metrics.events]
    assert events == [("suspended", 1, 0.0, 0.0), ("execution", 0, 0.0, 1.0),
                      ("validation", 0, 1.0, 1.0), ("re-execution", 1, 1.0, 2.0),
                      ("validation", 1, 2.0, 2.0)]  # in the order they end
    assert report.summary["virtual_makespan_s"] == 2 and report.summary["suspensions"] == 1


def test_one_hot_key_bounds_the_oracle_at_the_chain_length(unit):
    # 10 transfers to one receiver (a chain of 10) and 20 independent ones on 4
    # workers: the bound is max(10, 30 / 4) = 10 and the oracle reaches it.
    block = hot_receiver_block(10, 20)
    oracle = run_block(block, RunSpec("oracle", 4, unit, lazy_beneficiary=True)).summary
    assert oracle["virtual_speedup_bound"] == 3.0 and oracle["virtual_makespan_s"] == 10
    assert oracle["virtual_speedup"] == 3.0


# -- the scheduler's invariants under random schedules ---------------------------------
@pytest.mark.parametrize("seed", range(40))
def test_scheduler_invariants_hold_after_every_step(seed):
    assert debug.ENABLED  # tests/conftest.py turns the runtime checks on
    rng = random.Random(seed)
    n = rng.randint(1, 12)
    s = Scheduler(n)
    in_flight = []
    for step in range(20_000):
        if s.done():
            break
        calm = step > 2_000  # eventually no more conflicts, so the block completes
        if in_flight and (rng.random() < 0.5 or not _offer(s, in_flight)):
            task = in_flight.pop(rng.randrange(len(in_flight)))
            follow_up = _finish(s, task, rng, calm)
            if follow_up is not None:
                in_flight.append(follow_up)
        elif not in_flight and not _offer(s, in_flight) and not s.done():
            pytest.fail(f"stuck: nothing in flight and no task (seed {seed})")
        s.check_invariants()
    assert s.done() and s.num_active_tasks == 0


def _offer(s, in_flight) -> bool:
    task = s.next_task()
    if task is not None:
        in_flight.append(task)
    return task is not None


def _finish(s, task, rng, calm):
    tx = task.tx
    if task.kind == TaskKind.EXECUTION:
        lower = [other for other in range(tx) if s.status[other] != EXECUTED]
        if lower and not calm and rng.random() < 0.3 and s.add_dependency(tx, rng.choice(lower)):
            return None
        return s.finish_execution(tx, task.incarnation, rng.random() < 0.3)
    assert task.kind == TaskKind.VALIDATION
    aborted = not calm and rng.random() < 0.3 and s.try_validation_abort(tx, task.incarnation)
    return s.finish_validation(tx, aborted)


# -- one cost model for everyone -------------------------------------------------------
def test_threads_one_costs_every_strategy_at_most_ten_percent():
    block = ERC20Workload(accounts=1000).block(60, seed=7)
    for name in STRATEGIES:
        speedup = run_block(block, RunSpec(name, 1)).summary["virtual_speedup"]
        assert 0.9 <= speedup <= 1.0 + 1e-12, (name, speedup)
    assert run_block(block, RunSpec("serial", 1)).summary["virtual_speedup"] == 1.0


def test_disk_tier_rewards_parallel_loading():
    block = ERC20Workload(accounts=1000).block(60, seed=7)
    memory = run_block(block, RunSpec("block-stm", 16, "gas")).summary
    disk = run_block(block, RunSpec("block-stm", 16, "gas-disk")).summary
    assert disk["virtual_speedup"] > memory["virtual_speedup"]
    assert disk["virtual_serial_time_s"] > memory["virtual_serial_time_s"]


def test_a_reexecution_finds_its_state_warm():
    block = ERC20Workload(accounts=1000).block(5, seed=7)
    report = run_block(block, RunSpec("serial", 1))
    model = GasCostModel()
    first = model.execution(report.incarnations[0]).work
    again = model.execution(report.incarnations[0]).work
    assert again < first  # the same reads, now warm
    cold = len([v for v in report.incarnations[0].reads.values() if v is None])
    assert first - again == pytest.approx(cold * (model.COLD_LOAD - model.WARM_READ))


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(accounts=st.integers(2, 8),
       ops=st.lists(st.tuples(st.sampled_from(OPS), st.integers(0, 7), st.integers(0, 7)),
                    min_size=20, max_size=50),
       seed=st.integers(0, 5), threads=st.sampled_from((5, 8)))
def test_no_schedule_beats_the_bound_when_loading_state_dominates(accounts, ops, seed,
                                                                  threads):
    # On SSD the oracle's warm-ups load shared state for one another: the bound must
    # not charge a transaction's own loads in sequence before it may start.
    block = build(accounts, ops, seed)
    for strategy in ("oracle", "block-stm"):
        summary = run_block(block, RunSpec(strategy, threads, "gas-disk")).summary
        assert summary["virtual_speedup"] <= summary["virtual_speedup_bound"] * (1 + 1e-9)
