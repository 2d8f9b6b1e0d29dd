"""Micro-benchmarks of the engine (pytest-benchmark), run by `make microbench`.

    engine-1-worker  stock serial py-evm vs the `serial` and `block-stm` strategies on
                     one virtual worker, same small ERC-20 block: the price of running
                     through versioned state, the scheduler and the simulator
    mv-memory        multi-version reads: a plain value, and a chain of balance deltas
    scheduler        handing out every execution task of a block
    simulator        the discrete-event loop's cost per task, with a strategy that does
                     no work
    real-parallel    Block-STM on the processes backend, 1 and 2 real worker processes,
                     on independent ERC-20 transfers (accounts=10000): the wall time of
                     the parallel run; its real speedup over serial py-evm and the
                     simulated prediction are kept in the benchmark's extra_info

Results are saved under .benchmarks/ so that `pytest bench/ -o python_files='bench_*.py'
--benchmark-compare` compares against the previous run (e.g. the previous commit).
"""

from __future__ import annotations

import pytest

from simulator.abc import EventKind, Strategy, Task, TaskKind, completed
from simulator.backends.processes import ProcessesBackend
from simulator.backends.simulated import SimulatedBackend
from simulator.costs.cost_model import GasCostModel
from simulator.engine.locations import BALANCE, STORAGE
from simulator.engine.metrics import Metrics
from simulator.engine.mv_memory import MVMemory
from simulator.chain.outcome import assemble
from simulator.runs.real import time_serial
from simulator.runs.runner import run_block
from simulator.runs.spec import RunSpec
from simulator.strategies import STRATEGIES
from simulator.engine.versioned_state import ExecutionEnv, PreState
from simulator.engine.scheduler import Scheduler
from simulator.chain.serial import execute_serial
from workloads.erc20 import ERC20Workload

TXS = 50
ADDRESS = bytes(20)


@pytest.fixture(scope="module")
def block():
    return ERC20Workload(accounts=50).block(TXS, seed=0)


@pytest.fixture(scope="module")
def serial(block):
    return execute_serial(block)[0], 0.0


@pytest.mark.benchmark(group="engine-1-worker")
def test_stock_serial_pyevm(benchmark, block):
    benchmark(execute_serial, block)


@pytest.mark.benchmark(group="engine-1-worker")
@pytest.mark.parametrize("strategy", ["serial", "block-stm"])
def test_strategy_on_one_worker(benchmark, block, serial, strategy):
    # without reuse: each round executes every transaction (bench_reuse.py has reuse)
    report = benchmark(run_block, block, RunSpec(strategy, 1, reuse=False), serial=serial)
    assert report.matches_serial


@pytest.fixture(scope="module")
def memory():
    """1,000 storage slots written by transactions 0..99, and one balance that every
    transaction credits with a delta."""
    mv = MVMemory(101)
    for tx in range(100):
        writes = {(STORAGE, ADDRESS, slot): tx for slot in range(tx * 10, tx * 10 + 10)}
        mv.record(tx, 0, writes, {(BALANCE, ADDRESS): 1})
    return mv


@pytest.mark.benchmark(group="mv-memory")
def test_versioned_read_of_a_value(benchmark, memory):
    version, value, _ = benchmark(memory.read, (STORAGE, ADDRESS, 505), 100)
    assert version == (50, 0) and value == 50


@pytest.mark.benchmark(group="mv-memory")
def test_versioned_read_of_100_deltas(benchmark, memory):
    _, _, delta_sum = benchmark(memory.read, (BALANCE, ADDRESS), 100)
    assert delta_sum == 100


@pytest.mark.benchmark(group="scheduler")
def test_scheduler_picks_1000_tasks(benchmark):
    def pick_all():
        scheduler = Scheduler(1000)
        picked = 0
        while scheduler.next_task() is not None:
            picked += 1
        return picked

    assert benchmark(pick_all) == 1000


class NullStrategy(Strategy):
    """`n` execution tasks of 1 µs that do nothing: only the simulator's own cost."""

    name = "null"
    description = "no work"

    def __init__(self, n: int) -> None:
        super().__init__(None, GasCostModel(), None)
        self.n = n
        self.handed_out = 0
        self.finished = 0

    def next_task(self):
        if self.handed_out == self.n:
            return None
        self.handed_out += 1
        return Task(TaskKind.EXECUTION, self.handed_out - 1, 0)

    def start(self, worker, task):
        return completed(1e-6, EventKind.EXECUTION)

    def finish(self, worker, task):
        self.finished += 1

    def done(self):
        return self.finished == self.n

    def final_incarnations(self):
        return []


@pytest.mark.benchmark(group="simulator")
def test_simulator_cost_of_1000_tasks_on_8_workers(benchmark):
    def simulate():
        return SimulatedBackend().run(NullStrategy(1000), 8, Metrics())

    assert benchmark(simulate) == pytest.approx(1000 / 8 * (1e-6 + GasCostModel.SCHEDULE))


@pytest.fixture(scope="module")
def independent_block():
    return ERC20Workload(accounts=10000).block(400, seed=0)


@pytest.mark.benchmark(group="real-parallel")
@pytest.mark.parametrize("workers", [1, 2])
def test_real_parallel_block_stm(benchmark, independent_block, workers):
    block = independent_block
    serial_result = execute_serial(block)[0]
    serial_s = sum(time_serial(block, 3))
    finals = []

    def setup():
        env = ExecutionEnv(block, PreState(block.db, block.pre_state_root), True)
        return (STRATEGIES["block-stm"](env, GasCostModel(), Metrics()),), {}

    def run(strategy):
        makespan = ProcessesBackend().run(strategy, workers, strategy.metrics)
        finals.append(strategy.final_incarnations())
        return makespan

    benchmark.pedantic(run, setup=setup, rounds=3)
    assert all(assemble(block, final).state_root == serial_result.state_root
               for final in finals)
    benchmark.extra_info["serial_pyevm_s"] = serial_s
    benchmark.extra_info["real_speedup_median"] = serial_s / benchmark.stats.stats.median
