"""The processes backend's real-timing steps: what a run on real worker processes adds
after its parallel execution.

Its makespan is wall-clock time, set against stock serial py-evm timed in this
process (median of `spec.serial_repeats` runs, garbage collector paused), and also
against this engine executing the block in order in this process (the `serial`
strategy, no worker processes): py-evm over the versioned state is lighter than over
its journaled trie-backed AccountDB, so the second speedup isolates what parallelism
gains. The run is then replayed in the simulated backend under the costs it observed
(costs.cost_model.ObservedCostModel): the virtual figures of such a run are that
prediction, and `prediction_error` says how far it was from the real.

Invariant: every timing is taken with the garbage collector paused and restored to
its previous state afterwards.
"""

from __future__ import annotations

import gc
import time
from dataclasses import dataclass

from ..backends.simulated import SimulatedBackend
from ..chain.serial import execute_serial
from ..costs.cost_model import COST_MODELS, ObservedCostModel
from ..engine.metrics import Metrics
from ..engine.versioned_state import ExecutionEnv, PreState
from ..strategies import STRATEGIES


@dataclass
class RealTiming:
    figures: dict  # real_makespan_s, real_serial_time_s, real_engine_serial_time_s
    model: ObservedCostModel  # the costs the run observed
    makespan: float  # the run replayed in the simulated backend under those costs


def measure(block, spec, engine, makespan: float, final: list, bar) -> RealTiming:
    """The real figures of a processes run whose wall-clock makespan was `makespan`
    and whose final incarnations are `final`; `bar(description)` shows progress."""
    serial_seconds = time_serial(block, spec.serial_repeats)
    figures = {"real_makespan_s": makespan, "real_serial_time_s": sum(serial_seconds),
               "real_engine_serial_time_s": time_engine_serial(block, spec)}
    model = ObservedCostModel.from_run(engine.observations.tasks, final, serial_seconds)
    with bar(f"{spec.strategy} replayed, simulated") as replay_bar:
        replay = STRATEGIES[spec.strategy](
            ExecutionEnv(block, PreState(block.db, block.pre_state_root),
                         spec.lazy_beneficiary, spec.lazy_transfers),
            model, Metrics(), **spec.options)
        replayed = SimulatedBackend().run(replay, spec.threads, replay.metrics, replay_bar)
    return RealTiming(figures, model, replayed)


def time_serial(block, repeats: int) -> list:
    """Each transaction's seconds in stock serial py-evm: the run with the median
    total of `repeats`, the garbage collector paused while timing."""
    runs = sorted(_timed_with_gc_paused(lambda: execute_serial(block)[1], repeats), key=sum)
    return runs[(len(runs) - 1) // 2]


def time_engine_serial(block, spec) -> float:
    """Seconds this engine takes to execute the block in order in this process: the
    `serial` strategy (py-evm over the versioned state, what every worker runs) from a
    fresh pre-state cache, without the processes backend; median of
    `spec.serial_repeats`, the garbage collector paused while timing."""
    def once() -> float:
        env = ExecutionEnv(block, PreState(block.db, block.pre_state_root),
                           spec.lazy_beneficiary, spec.lazy_transfers)
        metrics = Metrics()
        started = time.perf_counter()
        SimulatedBackend().run(STRATEGIES["serial"](env, COST_MODELS["gas"](None), metrics),
                               1, metrics)
        return time.perf_counter() - started
    runs = sorted(_timed_with_gc_paused(once, spec.serial_repeats))
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
