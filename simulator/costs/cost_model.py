"""Cost models: how long a task takes on a virtual worker, in seconds. One model per
run, shared by every strategy, the serial baseline and the dependency bound: no
strategy gets a discount the others do not.

A task's duration is an abc.Cost: `work` on its own worker, then `shared` seconds
holding the run's one serialized resource (the scheduler's shared counters, the
multi-version memory's inserts), which the simulated backend serves one task at a time
in the order their work ends: throughput saturates at its rate, and wasted work (an
aborted execution's scheduling and inserts) delays everyone. Where the time goes (the
`gas` models):

    execution   work   = (TX + gas x PER_GAS                      the EVM itself
                          + cold x COLD_LOAD + warm x WARM_READ    state access
                          + reads x MV_READ + writes x MV_WRITE)   multi-version memory
                         x PARALLEL                                caches, bandwidth
                shared = writes x SHARED_WRITE                     inserts, serialized
                         + work x SHARED_WORK                      the resource's share
                                                                   of executed work
    validation  work   = reads x VALIDATED_READ
    per task    work   + SCHEDULE if taken from the shared queue or cursors (not a
                         follow-up a finishing task hands its own worker)
                shared + SHARED_TASK (the scheduler's shared counters)
    per run     worker i starts at i x SPAWN (threads spawned one after another), and
                the run ends FINALIZE x transactions after its last task (a sequential
                pass over the results: receipts, lazily updated accounts)
    contention  a task's work is longer by CONTENTION per other task in flight when it
                starts (memory bandwidth and caches shared by busy workers, wasted
                work included)

The per-task and per-run parts are the backend's (backends/simulated.py) and apply to
a strategy with a shared queue; a strategy without one (`serial`, a sequential
fallback) pays none of them, nor PARALLEL.

- `gas` is what the incarnation executed: the receipt's gas for one that ran to the
  end, the gas it had consumed when it stopped for one cut short by an ESTIMATE
  (read from py-evm's gas meter), zero for one py-evm rejected before executing.
- A read is *cold* when it is the first load of that location from the pre-block state
  by any incarnation in the run, *warm* otherwise (already loaded by anyone, or a
  value another transaction wrote). So a re-execution is cheaper than a first
  execution for every strategy alike, because its state is loaded: Monad's cheap
  re-execution needs no factor of its own.
- The storage tier sets COLD_LOAD: `gas` keeps state in memory (what pevm and grevm
  benchmark), `gas-disk` reads it from an SSD (the case Monad's design is about).

The serial baseline is a plain sequential EVM: each final incarnation's TX + gas + its
state access with cold and warm as a serial run sees them (a location is cold the
first time a transaction, in block order, reads it from the pre-state), and no
multi-version, scheduling, shared or per-run cost. The dependency bound and the
oracle use the same per-transaction costs as a parallel execution (`split`: the cold
loads, which depend on nothing, and the rest, its shared part included); the bound
also never beats the resource's time for one execution per transaction
(`serialized`) and adds the results pass (`tail`).

The interface a strategy sees is small: `execution`, `validation`, `sequential` and
`preload` return the duration of a task it runs (a Cost, or seconds of work, which
add up: an in-order commit is its validation plus its re-execution); it returns that
duration from its TaskRun and the backend does the rest.

Constants of `gas` and their sources (order-of-magnitude figures for a native EVM on
one core; the `revm` model below fits them to pevm's measurements):
- PER_GAS 1 ns: pevm's measured sequential revm times on pevmsim's 50 mainnet blocks
  (workloads/mainnet_blocks, pevm_benchmark.tsv) run 0.07 to 0.75 ns per gas; 1 ns is
  the conservative end, as this model always used.
- TX 1 us: per-transaction work outside opcodes (environment setup, intrinsic checks,
  fee payment, receipt); pevm's table gives 4 to 85 us per transaction in total.
- COLD_LOAD 100 ns in memory: a hash-map lookup that misses the CPU caches (DRAM
  latency is about 80-100 ns); WARM_READ 20 ns: the same lookup cached.
- COLD_LOAD 80 us on disk: an NVMe random read (50-100 us; grevm's disk benchmark
  uses 100 us, where it reports 28-58x); configurable.
- MV_READ, MV_WRITE 50 ns: a multi-version map access (an ordered map lookup plus a
  version compare), as this model always charged.
- VALIDATED_READ 20 ns: re-reading one version during validation.
- SCHEDULE 200 ns: per-task scheduling work on the worker; PARALLEL 1; SPAWN and
  FINALIZE 0 (an idealized engine).
- CONTENTION 1.45% per other busy worker: pevm's 32-thread efficiency on its
  conflict-free gigagas Uniswap block (22.1x, 69%) read as contention alone,
  1 / (1 + 31 x CONTENTION) = 22.1 / 32. (`revm` fits it: it comes out at zero.)
- SHARED_TASK 0.59 us, SHARED_WRITE 0: pevm's raw transfers run at 1.18 us per
  transaction on 32 threads (56.425 ms for 47,620), a throughput no per-thread cost
  explains: read as the serialized resource's time for a transaction's two tasks (an
  execution and a validation). Without it wasted work would cost nothing. SHARED_WORK
  0: no stated figure for a share of executed work (`revm` fits it: zero).
Same inputs give bit-identical durations.

`revm`: the same structure, plus WRITE per write and CODE_BYTE per byte of contract
code among the cold loads (revm analyses a contract's bytecode when it loads it).
Every constant is fitted, jointly, to pevm's measured times on two tables, never per
block, workload or strategy (`pevmsim calibrate`, harness/calibration.py and
cli/fidelity.py; docs/fidelity.md): the 50 vendored mainnet blocks
(workloads/mainnet_blocks/pevm_benchmark.tsv; 12 threads) and pevm's three gigagas
blocks (workloads/gigagas_benchmarks.tsv; 32 threads; simulated as blocks of the same
shape, calibration.marginal_speedup); risechain/pevm, MIT; Graviton3, state in memory.
- Sequential constants: non-negative least squares on relative error over the 52
  blocks' sequential times, features counted from py-evm's incarnations:
    TX 0, PER_GAS 0.0403 ns, COLD_LOAD 379 ns, WARM_READ 185 ns, WRITE 0,
    CODE_BYTE 2.29 ns; R^2 0.65, median relative error 19.6% (5-fold held out: 25.0%).
  TX and WRITE stay at zero: per transaction and per write, revm's time is explained
  by the loads each one makes. MV_READ, MV_WRITE and VALIDATED_READ, which sequential
  times cannot identify, are the `gas` model's.
- Parallel constants (PARALLEL, SCHEDULE, SHARED_TASK, SHARED_WRITE, SHARED_WORK,
  SPAWN, FINALIZE, CONTENTION): the point of a fixed grid where a coordinate descent
  on the speedups' squared log error (block-stm under pevm's rules; each table weighing
  the same) ends:
    PARALLEL 1.5, SCHEDULE 4 us, SHARED_TASK 0.3 us, SHARED_WRITE 0, SHARED_WORK 0,
    SPAWN 10 us, FINALIZE 0.1 us, CONTENTION 0 (a pass over the grid changed none of
    its starting values; CONTENTION 0.5% raises the loss from 0.057 to 0.068,
    SHARED_WORK 2% to 0.058: the two tables do not support either).
  In-sample and 5-fold held-out figures: docs/fidelity.md, `pevmsim fidelity`.

`measured`: an execution costs the CPU time (process time) that very py-evm
incarnation took and a validation the CPU time its re-reads took; the serial
baseline sums the final incarnations' CPU times. Real, but noisy and
machine-dependent; there is no cold/warm split (the loads are inside the CPU time).
"""

from __future__ import annotations

import copy
import statistics
from abc import ABC, abstractmethod

from ..abc import Cost, EventKind
from ..engine.locations import CODE
from ..engine.mv_memory import PRE_BLOCK

NANOSECOND = 1e-9
MICROSECOND = 1e-6

# `revm`, fitted by `pevmsim calibrate` (harness/calibration.py); see the module
# docstring. Sequential constants:
FITTED_TX = 0 * NANOSECOND
FITTED_PER_GAS = 0.04026 * NANOSECOND
FITTED_COLD_LOAD = 379.5 * NANOSECOND
FITTED_WARM_READ = 185.4 * NANOSECOND
FITTED_WRITE = 0 * NANOSECOND
FITTED_CODE_BYTE = 2.289 * NANOSECOND
# Parallel constants (`pevmsim calibrate --fit-parallel`):
FITTED_PARALLEL = 1.5
FITTED_SCHEDULE = 4 * MICROSECOND
FITTED_SHARED_TASK = 0.3 * MICROSECOND
FITTED_SHARED_WRITE = 0 * MICROSECOND
FITTED_SHARED_WORK = 0.0
FITTED_SPAWN = 10 * MICROSECOND
FITTED_FINALIZE = 0.1 * MICROSECOND
FITTED_CONTENTION = 0.0
# `gas`, stated from pevm's gigagas table (see the module docstring): its raw transfers'
# throughput on 32 threads, 56.425 ms / 47,620 transactions of two tasks each (an
# execution and a validation), as the serialized resource's time per task; its
# Uniswap block's 32-thread efficiency (22.1x, 69%) read as contention alone,
# 1 / (1 + 31 x CONTENTION) = 22.1 / 32.
GIGAGAS_SHARED_TASK = 56.425e-3 / 47_620 / 2
GIGAGAS_CONTENTION = (32 / 22.1 - 1) / 31


class CostModel(ABC):
    """A run's cost model. Stateful: it remembers which locations were loaded."""

    name: str
    DETERMINISTIC = True  # the same block and run give bit-identical durations
    SCHEDULE = 0.0  # work per task taken from a shared queue (the backend adds it)
    SHARED_TASK = 0.0  # serialized seconds per task of a shared-queue strategy (backend)
    SPAWN = 0.0  # seconds between one worker's start and the next's (backend)
    FINALIZE = 0.0  # seconds per transaction of the sequential pass after the parallel one
    CONTENTION = 0.0  # extra share of a task's work per other task in flight (backend)
    COLD_LOAD = 0.0  # the latency of one cold state load (the bound's, see metrics.py)

    @abstractmethod
    def execution(self, incarnation) -> "Cost | float":
        """The duration of this execution in a parallel strategy, now (it loads what it
        reads): a Cost (work, and time on the serialized resource) or seconds."""

    @abstractmethod
    def validation(self, reads: int, measured_seconds: float) -> "Cost | float":
        """The duration of re-reading `reads` versions."""

    def preload(self, incarnation) -> "Cost | float":
        """Load what `incarnation` reads from the pre-block state, ahead of its
        execution (the oracle's warm-up); its cost."""
        return 0.0

    def loads_are_io(self) -> bool:
        """Whether a cold load is device I/O worth overlapping with other work: it
        costs more than taking a task from the queue (state on an SSD, `gas-disk`;
        not state in memory, `gas` and `revm`). bal's prefetch and Monad's yielding
        reads apply only then."""
        return self.COLD_LOAD > self.SCHEDULE

    def serialized(self, incarnations) -> float:
        """The serialized resource's time if each transaction ran once as its final
        incarnation (a floor of any parallel makespan: the bound's, metrics.py)."""
        return 0.0

    def tail(self, incarnations) -> float:
        """The sequential pass after a parallel run over these final incarnations
        (collecting each result, evaluating lazily updated accounts)."""
        return len(incarnations) * self.FINALIZE

    def fresh(self) -> "CostModel":
        """A copy with the same constants and nothing loaded yet (for dry runs)."""
        return copy.copy(self)

    @abstractmethod
    def sequential(self, incarnation) -> "Cost | float":
        """The duration of this execution on a plain sequential EVM, now (no
        multi-version bookkeeping; it loads what it reads)."""

    @abstractmethod
    def serial_costs(self, incarnations) -> list:
        """Each final incarnation's cost on a plain sequential EVM, in block order."""

    @abstractmethod
    def split(self, incarnations) -> list:
        """(loads, rest) per final incarnation: its parallel execution cost, split
        into cold loads (which depend on nothing) and the rest; a location is cold for
        the first transaction in block order that reads it from the pre-state."""

    @abstractmethod
    def constants(self) -> dict:
        """The model's constants, for reports."""

    def identity(self) -> tuple | None:
        """A value equal for two models that price every task alike given the same
        `priced` inputs (so what they derive can be shared), or None when none is
        known."""
        return None


def priced(incarnation) -> tuple:
    """Everything of an incarnation that a deterministic cost model reads: which
    locations it read and whether from the pre-block state, in read order, its gas,
    how many locations it wrote, the code sizes it read, and whether it finished
    (tests/test_reuse.py checks that the models read nothing else)."""
    return (incarnation.tx, incarnation.gas, len(incarnation.writes),
            len(incarnation.deltas), incarnation.outcome is None,
            tuple([(location, version is PRE_BLOCK)
                   for location, version in incarnation.reads.items()]),
            tuple(incarnation.code_sizes.items()))


def cold_code_bytes(incarnation, cold) -> int:
    """The bytes of contract code among the `cold` locations the incarnation read."""
    sizes = incarnation.code_sizes
    return sum(sizes[location] for location in cold if location[0] == CODE)


def first_loads(loaded: set, incarnation) -> list:
    """The incarnation's pre-state reads not in `loaded` yet, in read order; adds them."""
    cold = [location for location, version in incarnation.reads.items()
            if version is PRE_BLOCK and location not in loaded]
    loaded.update(cold)
    return cold


def pre_state_reads(incarnation) -> list:
    """The locations an incarnation read from the pre-block state."""
    return [location for location, version in incarnation.reads.items()
            if version is PRE_BLOCK]


class GasCostModel(CostModel):
    name = "gas"
    TX = 1000 * NANOSECOND
    PER_GAS = 1 * NANOSECOND
    COLD_LOAD = 100 * NANOSECOND
    WARM_READ = 20 * NANOSECOND
    MV_READ = 50 * NANOSECOND
    MV_WRITE = 50 * NANOSECOND
    VALIDATED_READ = 20 * NANOSECOND
    SCHEDULE = 200 * NANOSECOND
    PARALLEL = 1.0
    SHARED_TASK = GIGAGAS_SHARED_TASK
    SHARED_WRITE = 0.0
    SHARED_WORK = 0.0
    CONTENTION = GIGAGAS_CONTENTION

    def __init__(self, cold_load: float | None = None) -> None:
        if cold_load is not None:
            self.COLD_LOAD = cold_load
        self.loaded: set = set()

    def _loads(self, incarnation, cold: list) -> float:
        """The cost of loading the `cold` locations (the incarnation's first loads)."""
        return len(cold) * self.COLD_LOAD

    def _evm(self, incarnation, cold: list) -> float:
        warm = len(incarnation.reads) - len(cold)
        return (self.TX + incarnation.gas * self.PER_GAS
                + self._loads(incarnation, cold) + warm * self.WARM_READ)

    def _multi_version(self, incarnation) -> float:
        writes = len(incarnation.writes) + len(incarnation.deltas)
        return len(incarnation.reads) * self.MV_READ + writes * self.MV_WRITE

    def fresh(self) -> "GasCostModel":
        clone = copy.copy(self)
        clone.loaded = set()
        return clone

    def _parallel_work(self, incarnation, cold: list) -> float:
        """An execution's work on its worker in a parallel strategy."""
        return (self._evm(incarnation, cold) + self._multi_version(incarnation)) \
            * self.PARALLEL

    def _shared(self, incarnation, work: float) -> float:
        """An execution's serialized time: inserting its writes into the multi-version
        memory, and SHARED_WORK of its `work` (the resource's share of executed work)."""
        return ((len(incarnation.writes) + len(incarnation.deltas)) * self.SHARED_WRITE
                + work * self.SHARED_WORK)

    def execution(self, incarnation) -> Cost:
        work = self._parallel_work(incarnation, first_loads(self.loaded, incarnation))
        return Cost(work, self._shared(incarnation, work))

    def sequential(self, incarnation) -> Cost:
        return Cost(self._evm(incarnation, first_loads(self.loaded, incarnation)))

    def validation(self, reads: int, measured_seconds: float) -> Cost:
        return Cost(reads * self.VALIDATED_READ)

    def preload(self, incarnation) -> Cost:
        return Cost(self._loads(incarnation, first_loads(self.loaded, incarnation))
                    * self.PARALLEL)

    def serialized(self, incarnations) -> float:
        loaded: set = set()
        total = 0.0
        for incarnation in incarnations:
            work = self._parallel_work(incarnation, first_loads(loaded, incarnation))
            total += self.SHARED_TASK + self._shared(incarnation, work)
        return total

    def serial_costs(self, incarnations) -> list:
        loaded: set = set()
        return [self._evm(inc, first_loads(loaded, inc)) for inc in incarnations]

    def split(self, incarnations) -> list:
        loaded: set = set()
        parts = []
        for incarnation in incarnations:
            cold = first_loads(loaded, incarnation)
            loads = self._loads(incarnation, cold) * self.PARALLEL
            work = self._parallel_work(incarnation, cold)
            parts.append((loads, work - loads + self._shared(incarnation, work)
                          + self.SHARED_TASK))
        return parts

    def identity(self) -> tuple:
        return (type(self), tuple(sorted(self.constants().items())))

    def constants(self) -> dict:
        return {name: getattr(self, name) for name in (
            "TX", "PER_GAS", "COLD_LOAD", "WARM_READ", "MV_READ", "MV_WRITE",
            "VALIDATED_READ", "PARALLEL", "SCHEDULE", "SHARED_TASK", "SHARED_WRITE",
            "SHARED_WORK", "SPAWN", "FINALIZE", "CONTENTION")}


class DiskGasCostModel(GasCostModel):
    name = "gas-disk"
    COLD_LOAD = 80 * MICROSECOND


class MeasuredCostModel(CostModel):
    name = "measured"
    DETERMINISTIC = False  # CPU time: noisy, machine-dependent

    def __init__(self, cold_load: float | None = None) -> None:
        if cold_load is not None:
            raise ValueError("the measured cost model has no cold-load constant")

    def execution(self, incarnation) -> float:
        return incarnation.cpu_time

    sequential = execution

    def validation(self, reads: int, measured_seconds: float) -> float:
        return measured_seconds

    def serial_costs(self, incarnations) -> list:
        return [incarnation.cpu_time for incarnation in incarnations]

    def split(self, incarnations) -> list:
        return [(0.0, incarnation.cpu_time) for incarnation in incarnations]

    def constants(self) -> dict:
        return {}


class RevmCostModel(GasCostModel):
    """`revm`: the gas model's structure, every constant fitted to pevm's measured
    times on its mainnet and gigagas tables (see the module docstring)."""

    name = "revm"
    TX = FITTED_TX
    PER_GAS = FITTED_PER_GAS
    COLD_LOAD = FITTED_COLD_LOAD
    WARM_READ = FITTED_WARM_READ
    WRITE = FITTED_WRITE
    CODE_BYTE = FITTED_CODE_BYTE
    SCHEDULE = FITTED_SCHEDULE
    PARALLEL = FITTED_PARALLEL
    SHARED_TASK = FITTED_SHARED_TASK
    SHARED_WRITE = FITTED_SHARED_WRITE
    SHARED_WORK = FITTED_SHARED_WORK
    SPAWN = FITTED_SPAWN
    FINALIZE = FITTED_FINALIZE
    CONTENTION = FITTED_CONTENTION

    def _loads(self, incarnation, cold: list) -> float:
        return (len(cold) * self.COLD_LOAD
                + cold_code_bytes(incarnation, cold) * self.CODE_BYTE)

    def _evm(self, incarnation, cold: list) -> float:
        writes = len(incarnation.writes) + len(incarnation.deltas)
        return super()._evm(incarnation, cold) + writes * self.WRITE

    def constants(self) -> dict:
        return {**super().constants(), "WRITE": self.WRITE, "CODE_BYTE": self.CODE_BYTE}


class ObservedCostModel(CostModel):
    """`observed`: what a run on the processes backend really took, to replay it in
    the simulated backend (its prediction, set beside the real speedup). Not a user
    choice: it is built from one real run.

    - An execution run to the end costs the worker time its transaction's last
      complete execution took in that run, plus the median time a worker spent
      bringing its replica up to date before an execution (`SYNC`); one cut short by
      an ESTIMATE the same, scaled by the share of that execution's gas it consumed.
    - A validation costs the CPU time its re-reads take in the replay.
    - SCHEDULE: the median, over the run's executions, of the time their worker spent
      between the end of its previous execution and the start of this one, less
      the sync: pickling, the pipe both ways, and waiting for the coordinator.
    - The serial baseline: each transaction's stock serial py-evm time (the median
      serial run), so the replay's speedup is against the same serial time as the
      real one.
    """

    name = "observed"
    DETERMINISTIC = False  # one real run's timings

    def __init__(self, execution_s: dict, execution_gas: dict, serial_s: list,
                 schedule: float, sync: float) -> None:
        self.execution_s = execution_s  # tx -> seconds of its last complete execution
        self.execution_gas = execution_gas  # tx -> that execution's gas
        self.serial_s = serial_s
        self.SCHEDULE = schedule
        self.SYNC = sync

    @classmethod
    def from_run(cls, tasks, final, serial_s: list) -> "ObservedCostModel":
        """From a processes run's observations (backends/processes.Observation each),
        its final incarnations and the serial per-transaction seconds."""
        execution_s: dict = {}
        overheads, syncs = [], []
        for task in sorted(tasks, key=lambda task: task.end):
            if task.execute_s <= 0:
                continue
            syncs.append(task.sync_s)
            if task.gap_s is not None:
                overheads.append(task.gap_s)
            if task.kind in (EventKind.EXECUTION, EventKind.RE_EXECUTION):
                execution_s[task.tx] = task.execute_s
        gas = {incarnation.tx: incarnation.gas for incarnation in final}
        return cls(execution_s, gas, serial_s,
                   statistics.median(overheads) if overheads else 0.0,
                   statistics.median(syncs) if syncs else 0.0)

    def execution(self, incarnation) -> float:
        full = self.execution_s[incarnation.tx]
        if incarnation.outcome is None:
            full *= min(1.0, incarnation.gas / max(1, self.execution_gas[incarnation.tx]))
        return self.SYNC + full

    def sequential(self, incarnation) -> float:
        return self.serial_s[incarnation.tx]

    def validation(self, reads: int, measured_seconds: float) -> float:
        return measured_seconds

    def serial_costs(self, incarnations) -> list:
        return [self.serial_s[incarnation.tx] for incarnation in incarnations]

    def split(self, incarnations) -> list:
        return [(0.0, self.SYNC + self.execution_s[incarnation.tx])
                for incarnation in incarnations]

    def constants(self) -> dict:
        return {"SCHEDULE": self.SCHEDULE, "SYNC": self.SYNC}


COST_MODELS = {model.name: model for model in (GasCostModel, DiskGasCostModel,
                                               RevmCostModel, MeasuredCostModel)}
