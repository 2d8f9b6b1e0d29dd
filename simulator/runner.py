"""One run: a block, a strategy, N workers, a cost model -> a checked report.

Every run also executes the block serially with stock py-evm and compares: the run
`matches_serial` only if the post-state, every receipt (status, gas, logs) and the
block's gas equal the serial ones. Post-states are compared by state root, a commitment
to every account field and storage slot, so equal roots mean equal diffs; when roots
differ, both diffs are listed to name the locations that disagree.
"""

from __future__ import annotations

import time
from contextlib import nullcontext
from dataclasses import dataclass

from .backends.simulated import BACKENDS
from .cost_model import COST_MODELS
from .insight import analyse
from .metrics import Metrics, dependency_bound
from .naming import LocationNamer
from .outcome import BlockResult, assemble, mismatches
from .preimages import recording
from .serial import InvalidBlock, execute_serial
from .strategies import STRATEGIES
from .versioned_state import ExecutionEnv, PreState


@dataclass
class RunReport:
    summary: dict  # the keys of `pevmsim run --json`
    result: BlockResult  # the parallel result
    serial: BlockResult  # the stock py-evm serial result
    metrics: Metrics
    incarnations: list  # each transaction's final incarnation, in block order
    namer: LocationNamer  # names the block's locations (hand labels first)

    @property
    def matches_serial(self) -> bool:
        return self.summary["matches_serial"]


def run_block(block, strategy: str = "block-stm", threads: int = 8, cost_model: str = "gas",
              lazy_beneficiary: bool = True, backend: str = "simulated", labels=None,
              serial=None, intermediate_roots: bool = False, progress=None,
              strategy_options=None, oracle_what_if: bool = False) -> RunReport:
    """Run `block` under `strategy` and check it against serial execution.
    `serial` may pass an earlier (BlockResult, wall seconds) of the same block;
    `intermediate_roots` keeps the state root after each transaction; `progress`, a
    factory (description, total) -> context manager with update(k), shows progress;
    `strategy_options` are keyword arguments of the strategy (its `options`);
    `oracle_what_if` adds the oracle to the what-if analysis (insight.py)."""
    def bar(description):
        return progress(description, len(block)) if progress else nullcontext()

    if serial is None:
        started = time.perf_counter()
        with bar("serial py-evm") as serial_bar:
            serial_result, _ = execute_serial(block, serial_bar)
        serial = (serial_result, time.perf_counter() - started)
    serial_result, serial_wall = serial

    started = time.perf_counter()
    model = COST_MODELS[cost_model]()
    metrics = Metrics()
    env = ExecutionEnv(block, PreState(block.db, block.pre_state_root), lazy_beneficiary)
    with recording() as preimages, bar(f"{strategy} on {threads} workers") as parallel_bar:
        runner = STRATEGIES[strategy](env, model, metrics, **(strategy_options or {}))
        makespan = BACKENDS[backend]().run(runner, threads, metrics, parallel_bar)
    final = runner.final_incarnations()
    for index, incarnation in enumerate(final):
        if incarnation.error is not None:
            raise InvalidBlock(f"transaction {index} is invalid: {incarnation.error}")
    result = assemble(block, final, intermediate_roots)
    wall = time.perf_counter() - started

    namer = LocationNamer(block, env.pre_state, final, preimages, labels)
    costs = [model.execution(incarnation) for incarnation in final]
    serial_time = sum(costs)
    factor = getattr(runner, "reexecution_factor", model.REEXECUTION_FACTOR)
    bound = dependency_bound(final, costs, threads, factor)
    problems = mismatches(result, serial_result)
    n = len(block)
    summary = {
        "txs": n,
        "gas_used": result.gas_used,
        "strategy": strategy,
        "threads": threads,
        "backend": backend,
        "cost_model": cost_model,
        "lazy_beneficiary": lazy_beneficiary,
        "matches_serial": not problems,
        "mismatches": problems,
        "state_root": "0x" + result.state_root.hex(),
        "serial_state_root": "0x" + serial_result.state_root.hex(),
        "serial_time": serial_time,
        "parallel_time": makespan,
        "speedup": serial_time / makespan if makespan else 1.0,
        "speedup_bound": serial_time / bound if bound else 1.0,
        "throughput_tps": n / makespan if makespan else 0.0,
        "throughput_gas_per_s": result.gas_used / makespan if makespan else 0.0,
        "executions": metrics.executions,
        "executions_per_tx": metrics.executions / n if n else 0.0,
        "aborts": metrics.executions - n,
        "suspensions": metrics.suspensions,
        "invalid_executions": metrics.invalid_executions,
        "validations": metrics.validations,
        "validation_failures": metrics.validation_failures,
        "utilization": metrics.busy_time / (threads * makespan) if makespan else 0.0,
        **analyse(final, costs, threads, factor, metrics, namer, oracle_what_if),
        "wall_time_s": wall,
        "serial_wall_time_s": serial_wall,
    }
    return RunReport(summary, result, serial_result, metrics, final, namer)
