"""One run: a block and a RunSpec (strategy, N workers, cost model, ...) -> a checked
report.

Every run also executes the block serially with stock py-evm and compares: the run
`matches_serial` only if the post-state, every receipt (status, gas, logs) and the
block's gas equal the serial ones. Post-states are compared by state root, a commitment
to every account field and storage slot, so equal roots mean equal diffs; when roots
differ, both diffs are listed to name the locations that disagree. With
`spec.deep_check`, each transaction's final write set is also compared with what that
transaction did in the serial run (outcome.step_mismatches).

On the processes backend the run is real: real.py adds its wall-clock figures and
replays it in the simulated backend under the costs it observed.
"""

from __future__ import annotations

import time
from contextlib import nullcontext
from dataclasses import dataclass

from ..backends import BACKENDS
from ..backends.simulated import SimulatedBackend
from ..chain.bal import block_access_list
from ..chain.outcome import BlockResult, assemble, mismatches, step_mismatches
from ..chain.serial import InvalidBlock, PendingSerial, start_serial
from ..costs.cost_model import COST_MODELS
from ..engine.metrics import Metrics, dependency_bound
from ..engine.preimages import recording
from ..engine.reuse import block_cache
from ..engine.versioned_state import ExecutionEnv, shared_pre_state
from ..environment import peak_rss_mib
from ..insight.analysis import analyse
from ..insight.naming import LocationNamer
from ..strategies import STRATEGIES
from . import real as real_timing
from .spec import RunSpec
from .summary import RunFigures, run_summary, speedup


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


def workers(spec: RunSpec) -> str:
    """'8 workers', '1 worker', 'one worker' for the serial strategy (it uses one)."""
    if spec.strategy == "serial":
        return "one worker"
    return f"{spec.threads} worker{'' if spec.threads == 1 else 's'}"


def run_block(block, spec: RunSpec = RunSpec(), *, labels=None, serial=None,
              progress=None, intermediate_roots: bool = False,
              oracle_what_if: bool = False) -> RunReport:
    """Run `block` as `spec` describes and check it against serial execution.
    `labels` names locations by hand; `serial` may pass an earlier (BlockResult, wall
    seconds) of the same block, or a serial.PendingSerial (one running alongside is
    collected once the run is over; with `spec.deep_check` it must have been made with
    steps); `progress`, a factory (description, total) -> context manager with
    update(k), shows progress; `intermediate_roots` keeps the state root after each
    transaction; `oracle_what_if` adds the oracle to the what-if analysis
    (insight/analysis.py)."""
    run = _run(block, spec, serial, progress, intermediate_roots)
    namer = LocationNamer(block, run.env.pre_state, run.final, run.preimages, labels)
    insight = analyse(block, run.final, run.model, spec.threads, run.metrics, namer,
                      oracle_what_if)
    serial_result, serial_wall, problems = _checked(block, spec, run)
    figures = RunFigures(
        cost_model=run.model.name, cost_model_constants=run.model.constants(),
        result=run.result, serial_result=serial_result, problems=problems,
        header_check=block.header_check(run.result), metrics=run.metrics,
        serial_time=run.serial_time, makespan=run.makespan, bound=run.bound,
        insight=insight, wall=run.wall, serial_wall=serial_wall,
        peak_rss_mib=peak_rss_mib(), real=run.real,
        access_list=block_access_list(run.env.pre_state, run.final),
        reuse=run.env.reuse_counts)
    summary = run_summary(block, spec, figures)
    return RunReport(summary, run.result, serial_result, run.metrics, run.final, namer)


def run_headline(block, spec: RunSpec = RunSpec(), *, serial=None, progress=None) -> dict:
    """The figures that head a run's output, {virtual_speedup, virtual_speedup_bound,
    matches_serial}, each exactly as run_block's summary gives it, without what only
    the rest of the summary needs (the insight analysis, the access list, the
    naming of locations); `serial` and `progress` as in run_block."""
    run = _run(block, spec, serial, progress, False)
    problems = _checked(block, spec, run)[2]
    return {"virtual_speedup": speedup(run.serial_time, run.makespan),
            "virtual_speedup_bound": speedup(run.serial_time, run.bound),
            "matches_serial": not problems}


@dataclass
class _Run:
    """A finished run of a block, before the serial check: what both run_block and
    run_headline derive their figures from."""
    env: ExecutionEnv
    model: object  # the cost model that priced it (processes runs: the observed one)
    metrics: Metrics
    final: list  # each transaction's final incarnation, in block order
    preimages: dict  # engine/preimages.py: the keccak preimages its executions made
    result: BlockResult
    makespan: float
    serial_time: float
    bound: float
    wall: float
    real: dict | None
    serial: object  # the serial check, as run_block takes it


def _run(block, spec: RunSpec, serial, progress, intermediate_roots: bool) -> _Run:
    def bar(description):
        return progress(description, len(block)) if progress else nullcontext()

    if serial is None:
        with bar("serial py-evm") as serial_bar:
            serial = start_serial(block, spec.deep_check, progress=serial_bar)

    started = time.perf_counter()
    model = COST_MODELS[spec.cost_model](spec.cold_load)
    known = model.constants()
    for name, value in spec.cost_constants:
        if name not in known:
            raise ValueError(f"the {spec.cost_model} cost model has no constant {name}")
        setattr(model, name, value)
    metrics = Metrics()
    env = ExecutionEnv(block, shared_pre_state(block), spec.lazy_beneficiary,
                       spec.lazy_transfers,
                       block_cache(block, spec.lazy_beneficiary, spec.lazy_transfers)
                       if spec.reuses else None)
    engine = BACKENDS[spec.backend](**spec.backend_kwargs)
    try:
        with recording() as preimages, \
                bar(f"{spec.strategy} on {workers(spec)}") as parallel_bar:
            runner = STRATEGIES[spec.strategy](env, model, metrics, **spec.options)
            makespan = engine.run(runner, spec.threads, metrics, parallel_bar)
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
    if spec.backend != SimulatedBackend.name:
        timing = real_timing.measure(block, spec, engine, makespan, final, bar)
        real, model, makespan = timing.figures, timing.model, timing.makespan
    wall = time.perf_counter() - started

    serial_time = sum(model.serial_costs(final))
    # No schedule beats the dependency bound (a strategy that knows more, such as a
    # block access list's post-values, states its own edges; one whose reads yield
    # their worker, how many it overlaps), nor need any be slower than running the
    # block sequentially (the oracle and pevm fall back to that).
    bound = min(dependency_bound(final, model.split(final), spec.threads, model.SCHEDULE,
                                 model.COLD_LOAD, model.serialized(final),
                                 runner.bound_dependencies(), runner.reads_in_flight())
                + model.tail(final), serial_time)
    return _Run(env, model, metrics, final, preimages, result, makespan, serial_time,
                bound, wall, real, serial)


def _checked(block, spec: RunSpec, run: _Run) -> tuple:
    """(serial result, its wall seconds, what differs from it) of a run; a serial
    check alongside ends here."""
    serial_result, serial_wall = (run.serial.result()
                                  if isinstance(run.serial, PendingSerial) else run.serial)
    problems = mismatches(run.result, serial_result)
    if spec.deep_check:
        if serial_result.steps is None:
            raise ValueError("deep_check needs a serial run made with steps=True")
        problems += step_mismatches(block, run.final, serial_result.steps)
    return serial_result, serial_wall, problems
