"""One run: a block, a strategy, N workers, a cost model -> a checked report.

Every run also executes the block serially with stock py-evm and compares: the run
`matches_serial` only if the post-state, every receipt (status, gas, logs) and the
block's gas equal the serial ones. Post-states are compared by state root, a commitment
to every account field and storage slot, so equal roots mean equal diffs; when roots
differ, both diffs are listed to name the locations that disagree. With `deep_check`,
each transaction's final write set is also compared with what that transaction did
in the serial run (outcome.step_mismatches).

On the processes backend the run is real: its makespan is wall-clock time, set
against stock serial py-evm timed in this process (median of `serial_repeats` runs,
garbage collector paused), and also against this engine executing the block in order
in this process (the `serial` strategy, no worker processes): py-evm over the
versioned state is lighter than over its journaled trie-backed AccountDB, so the
second speedup isolates what parallelism gains. The run is also replayed in the simulated backend under
the costs it observed (cost_model.ObservedCostModel): the virtual figures of such a
run are that prediction, and `prediction_error` says how far it was from the real.
"""

from __future__ import annotations

import gc
import time
from contextlib import nullcontext
from dataclasses import dataclass

from .backends import BACKENDS
from .backends.simulated import SimulatedBackend
from .cost_model import COST_MODELS, ObservedCostModel
from .environment import peak_rss_mib
from .insight import analyse
from .metrics import Metrics, dependency_bound
from .naming import LocationNamer
from .outcome import BlockResult, assemble, mismatches, step_mismatches
from .preimages import recording
from .serial import InvalidBlock, PendingSerial, execute_serial, start_serial
from .strategies import STRATEGIES
from .summary import run_summary
from .versioned_state import ExecutionEnv, PreState


@dataclass
class RunReport:
    summary: dict  # summary.SUMMARY_FIELDS
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
              strategy_options=None, deep_check: bool = False,
              cold_load: float | None = None, oracle_what_if: bool = False,
              backend_options=None, serial_repeats: int = 3,
              lazy_transfers: bool = False) -> RunReport:
    """Run `block` under `strategy` and check it against serial execution.
    `serial` may pass an earlier (BlockResult, wall seconds) of the same block, or a
    serial.PendingSerial (one running alongside is collected once the run is over);
    `intermediate_roots` keeps the state root after each transaction; `progress`, a
    factory (description, total) -> context manager with update(k), shows progress;
    `strategy_options` are keyword arguments of the strategy (its `options`);
    `deep_check` compares every transaction's writes with serial's (the serial run
    passed in must then have been made with steps); `cold_load` (seconds) overrides
    the cost model's COLD_LOAD (the storage tier's latency); `oracle_what_if` adds
    the oracle to the what-if analysis (insight.py); `backend_options` are keyword
    arguments of the backend (processes: timeout, jitter, seed); `serial_repeats`
    how many serial runs a processes run times (the median counts); `lazy_transfers`
    updates raw transfers' senders and recipients as deltas (pevm's,
    versioned_state.py)."""
    def bar(description):
        return progress(description, len(block)) if progress else nullcontext()

    if serial is None:
        with bar("serial py-evm") as serial_bar:
            serial = start_serial(block, deep_check, progress=serial_bar)

    started = time.perf_counter()
    model = COST_MODELS[cost_model](cold_load)
    metrics = Metrics()
    env = ExecutionEnv(block, PreState(block.db, block.pre_state_root), lazy_beneficiary,
                       lazy_transfers)
    engine = BACKENDS[backend](**(backend_options or {}))
    try:
        with recording() as preimages, bar(f"{strategy} on {threads} workers") as parallel_bar:
            runner = STRATEGIES[strategy](env, model, metrics, **(strategy_options or {}))
            makespan = engine.run(runner, threads, metrics, parallel_bar)
            final = runner.final_incarnations()
            for index, incarnation in enumerate(final):
                if incarnation.error is not None:
                    raise InvalidBlock(f"transaction {index} is invalid: {incarnation.error}")
    except Exception:
        if isinstance(serial, PendingSerial):  # an invalid block: the serial check,
            serial.result()  # run first when not alongside, says which tx and why
        raise
    result = assemble(block, final, intermediate_roots)
    real = None
    if backend != SimulatedBackend.name:
        serial_seconds = time_serial(block, serial_repeats)
        real = {"real_makespan_s": makespan, "real_serial_time_s": sum(serial_seconds),
                "real_engine_serial_time_s": time_engine_serial(
                    block, serial_repeats, lazy_beneficiary, lazy_transfers)}
        cost_model = ObservedCostModel.name
        model = ObservedCostModel.from_run(engine.observations.tasks, final, serial_seconds)
        with bar(f"{strategy} replayed, simulated") as replay_bar:
            replay = STRATEGIES[strategy](
                ExecutionEnv(block, PreState(block.db, block.pre_state_root),
                             lazy_beneficiary, lazy_transfers),
                model, Metrics(), **(strategy_options or {}))
            makespan = SimulatedBackend().run(replay, threads, replay.metrics, replay_bar)
    wall = time.perf_counter() - started

    namer = LocationNamer(block, env.pre_state, final, preimages, labels)
    serial_time = sum(model.serial_costs(final))
    # No schedule beats the dependency bound, nor need any be slower than running the
    # block sequentially (the oracle and pevm fall back to that).
    bound = min(dependency_bound(final, model.split(final), threads, model.SCHEDULE,
                                 model.COLD_LOAD), serial_time)
    insight = analyse(final, model, threads, metrics, namer, oracle_what_if)
    serial_result, serial_wall = (serial.result() if isinstance(serial, PendingSerial)
                                  else serial)  # a serial check alongside ends here
    problems = mismatches(result, serial_result)
    if deep_check:
        if serial_result.steps is None:
            raise ValueError("deep_check needs a serial run made with steps=True")
        problems += step_mismatches(block, final, serial_result.steps)
    summary = run_summary(
        block=block, strategy=strategy, threads=threads, backend=backend,
        cost_model=cost_model, cost_model_constants=model.constants(),
        lazy_beneficiary=lazy_beneficiary, lazy_transfers=lazy_transfers, deep_check=deep_check, result=result,
        serial_result=serial_result, problems=problems,
        header_check=block.header_check(result), metrics=metrics,
        serial_time=serial_time, makespan=makespan, bound=bound,
        insight=insight,
        wall=wall, serial_wall=serial_wall, peak_rss_mib=peak_rss_mib(), real=real)
    return RunReport(summary, result, serial_result, metrics, final, namer)


def time_serial(block, repeats: int) -> list:
    """Each transaction's seconds in stock serial py-evm: the run with the median
    total of `repeats`, the garbage collector paused while timing."""
    runs = sorted(_timed_with_gc_paused(lambda: execute_serial(block)[1], repeats), key=sum)
    return runs[(len(runs) - 1) // 2]


def time_engine_serial(block, repeats: int, lazy_beneficiary: bool,
                       lazy_transfers: bool) -> float:
    """Seconds this engine takes to execute the block in order in this process: the
    `serial` strategy (py-evm over the versioned state, what every worker runs) from a
    fresh pre-state cache, without the processes backend; median of `repeats`, the
    garbage collector paused while timing."""
    def once() -> float:
        env = ExecutionEnv(block, PreState(block.db, block.pre_state_root),
                           lazy_beneficiary, lazy_transfers)
        metrics = Metrics()
        started = time.perf_counter()
        SimulatedBackend().run(STRATEGIES["serial"](env, COST_MODELS["gas"](None), metrics),
                               1, metrics)
        return time.perf_counter() - started
    runs = sorted(_timed_with_gc_paused(once, repeats))
    return runs[(len(runs) - 1) // 2]


def _timed_with_gc_paused(run, repeats: int) -> list:
    """`run()`'s result, `repeats` times, with the garbage collector paused."""
    results = []
    enabled = gc.isenabled()
    gc.collect()
    gc.disable()
    try:
        for _ in range(repeats):
            results.append(run())
    finally:
        if enabled:
            gc.enable()
    return results
