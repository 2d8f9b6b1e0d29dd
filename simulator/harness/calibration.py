"""Calibration: fitting a cost model's sequential constants to measured block times.

Input: a table in pevm's format (`workloads/mainnet_blocks/pevm_benchmark.tsv`, from
risechain/pevm's crates/pevm/benches/README.md: block, txs, gas_used, sequential_ms,
parallel_ms, speedup), and for each of its blocks the features of a real sequential
py-evm execution of that block (`features`): its transactions, their gas, their state
reads split into cold (the first load of a location from the pre-block state, in block
order) and warm (any other read), their writes (plain values and deltas), and the
bytes of contract code among the cold loads, counted exactly as the `revm` cost model
(cost_model.RevmCostModel) counts them for the serial baseline.

Model: a block's sequential time is linear in those features,

    seconds = TX x txs + PER_GAS x gas + COLD_LOAD x cold + WARM_READ x warm
              + WRITE x writes + CODE_BYTE x code_bytes,

fitted by non-negative least squares on the *relative* error (each row divided by its
measured time, so that a 0.1 ms block weighs as much as a 14 ms one). Non-negativity is
kept by the classic active-set rule: a constant the unconstrained fit drives negative
is fixed at zero and the rest refitted, until none is negative (Lawson and Hanson,
Solving Least Squares Problems, 1974, ch. 23; the problem here has five unknowns).
Blocks without transactions carry no information on these constants and are left out.

Invariants: `fit` returns non-negative constants; `features` counts every read of a
final incarnation once, as cold or warm, never both; all iteration is in block order
(no set is iterated into a result), so the same inputs give the same fit.
"""

from __future__ import annotations

import csv
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from .. import debug
from ..costs.cost_model import cold_code_bytes, first_loads
from ..strategies.block_stm import PEVM_MIN_PARALLEL_GAS

TABLE_COLUMNS = ("block", "txs", "gas_used", "sequential_ms", "parallel_ms", "speedup")
FEATURES = ("txs", "gas", "cold", "warm", "writes", "code_bytes")
CONSTANTS = ("TX", "PER_GAS", "COLD_LOAD", "WARM_READ", "WRITE", "CODE_BYTE")  # per feature


class CalibrationError(ValueError):
    """A bad table or features file (the message says which and why)."""


@dataclass(frozen=True)
class Measurement:
    """One row of a benchmark table (times in milliseconds, as pevm publishes them)."""

    block: int
    txs: int
    gas_used: int
    sequential_ms: float
    parallel_ms: float
    speedup: float

    @property
    def ran_parallel(self) -> bool:
        """pevm ran this block in parallel: it falls back to sequential execution for
        fewer transactions than its 12 threads or under 4,000,000 gas, where the table
        reads 1 by construction (pevm.rs, `Pevm::execute`)."""
        return self.txs >= PEVM_THREADS and self.gas_used >= PEVM_MIN_PARALLEL_GAS


PEVM_THREADS = 12  # the concurrency of pevm's published benchmark
# block-stm options that apply pevm's own rules (strategies/block_stm.py)
PEVM_RULES = {"small_block_fallback": 1, "selfdestruct_fallback": 1, "validate_first": 0}


def read_tsv(path, columns: tuple, what: str) -> list:
    """The rows (dicts) of a tab-separated table whose header is `columns`."""
    path = Path(path)
    try:
        with path.open(newline="") as handle:
            rows = list(csv.DictReader(handle, delimiter="\t"))
    except OSError as exc:
        raise CalibrationError(f"cannot read the {what} {path}: {exc.strerror}")
    if not rows or tuple(rows[0]) != columns:
        raise CalibrationError(f"{path}: expected tab-separated columns "
                               f"{', '.join(columns)}")
    return rows


def read_table(path) -> list:
    """The rows of a benchmark table (tab-separated, a header of TABLE_COLUMNS)."""
    rows = read_tsv(path, TABLE_COLUMNS, "benchmark table")
    try:
        return [Measurement(int(r["block"]), int(r["txs"]), int(r["gas_used"]),
                            float(r["sequential_ms"]), float(r["parallel_ms"]),
                            float(r["speedup"])) for r in rows]
    except (TypeError, ValueError) as exc:
        raise CalibrationError(f"{path}: a malformed row ({exc})")


def incarnation_features(incarnations) -> dict:
    """FEATURES of final incarnations run in block order."""
    loaded: set = set()
    cold = warm = writes = gas = code_bytes = 0
    for incarnation in incarnations:
        fresh = first_loads(loaded, incarnation)
        code_bytes += cold_code_bytes(incarnation, fresh)
        cold += len(fresh)
        warm += len(incarnation.reads) - len(fresh)
        writes += len(incarnation.writes) + len(incarnation.deltas)
        gas += incarnation.gas
    if debug.ENABLED:
        debug.check(cold + warm == sum(len(inc.reads) for inc in incarnations),
                    "a read counted twice or not at all")
    return {"txs": len(incarnations), "gas": gas, "cold": cold, "warm": warm,
            "writes": writes, "code_bytes": code_bytes}


def block_features(block) -> dict:
    """Execute `block` sequentially in py-evm (the serial strategy, one worker) and
    count its features."""
    from ..backends.simulated import SimulatedBackend
    from ..costs.cost_model import GasCostModel
    from ..engine.metrics import Metrics
    from ..strategies.serial import Serial
    from ..engine.versioned_state import ExecutionEnv, PreState

    env = ExecutionEnv(block, PreState(block.db, block.pre_state_root), True)
    strategy = Serial(env, GasCostModel(), Metrics())
    SimulatedBackend().run(strategy, 1, Metrics())
    return incarnation_features(strategy.final_incarnations())


def block_order(block) -> tuple:
    """Mainnet blocks (numbers) in order, then gigagas blocks (names) in order."""
    return (isinstance(block, str), block if isinstance(block, int) else 0, str(block))


def write_features(path, rows: dict) -> None:
    """{block: features} as CSV (block, then FEATURES); a block is a mainnet block's
    number or a gigagas block's workload name."""
    with Path(path).open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(("block", *FEATURES))
        for block in sorted(rows, key=block_order):
            writer.writerow((block, *(rows[block][name] for name in FEATURES)))


def read_features(path) -> dict:
    try:
        with Path(path).open(newline="") as handle:
            rows = list(csv.DictReader(handle))
    except OSError as exc:
        raise CalibrationError(f"cannot read the features file {path}: {exc.strerror}")
    if not rows or tuple(rows[0]) != ("block", *FEATURES):
        raise CalibrationError(f"{path}: expected columns block, {', '.join(FEATURES)}")
    try:
        return {int(r["block"]) if r["block"].isdigit() else r["block"]:
                {name: int(r[name]) for name in FEATURES} for r in rows}
    except ValueError as exc:
        raise CalibrationError(f"{path}: a malformed row ({exc})")


@dataclass(frozen=True)
class Fit:
    """Fitted constants (seconds per unit of each feature) and how well they fit."""

    constants: dict  # CONSTANTS -> seconds
    r_squared: float  # of the predicted against the measured times
    median_relative_error: float  # median |predicted - measured| / measured
    blocks: int  # rows used

    def as_dict(self) -> dict:
        return asdict(self)


def _nnls(design: np.ndarray, target: np.ndarray) -> np.ndarray:
    """min ||design x - target|| subject to x >= 0, by fixing at zero whatever the
    free least-squares solution makes negative (active set), one at a time."""
    free = list(range(design.shape[1]))
    solution = np.zeros(design.shape[1])
    while free:
        partial, *_ = np.linalg.lstsq(design[:, free], target, rcond=None)
        if partial.min() >= 0:
            solution[free] = partial
            break
        free.pop(int(np.argmin(partial)))
    return solution


def predict(constants: dict, features: dict) -> float:
    """A block's sequential time in seconds under `constants`."""
    return sum(constants[c] * features[f] for c, f in zip(CONSTANTS, FEATURES))


def relative_errors(predicted, measured) -> np.ndarray:
    predicted, measured = np.asarray(predicted, float), np.asarray(measured, float)
    return np.abs(predicted - measured) / measured


def fit(features: list, seconds: list) -> Fit:
    """Fit CONSTANTS to blocks' features (dicts) and measured sequential seconds."""
    pairs = [(f, s) for f, s in zip(features, seconds) if f["txs"] > 0]
    if len(pairs) < len(CONSTANTS):
        raise CalibrationError(f"{len(pairs)} blocks with transactions: the fit needs at "
                               f"least {len(CONSTANTS)}")
    design = np.array([[f[name] for name in FEATURES] for f, _ in pairs], float)
    measured = np.array([s for _, s in pairs], float)
    # Relative error: divide each row by its measurement; scale the columns so that
    # the solver sees numbers of one magnitude (gas is ~1e6, txs ~1e2).
    scale = design.max(axis=0)
    scale[scale == 0] = 1.0
    weighted = design / scale / measured[:, None]
    solution = _nnls(weighted, np.ones(len(measured))) / scale
    if debug.ENABLED:
        debug.check(bool((solution >= 0).all()), "a fitted constant is negative")
    constants = dict(zip(CONSTANTS, (float(x) for x in solution)))
    predicted = design @ solution
    residual = float(np.sum((measured - predicted) ** 2))
    total = float(np.sum((measured - measured.mean()) ** 2))
    return Fit(constants, 1.0 - residual / total if total else 1.0,
               float(np.median(relative_errors(predicted, measured))), len(pairs))


# -- the parallel constants, from pevm's parallel times ------------------------------
PARALLEL_CONSTANTS = ("PARALLEL", "SCHEDULE", "SHARED_TASK", "SHARED_WRITE",
                      "SHARED_WORK", "SPAWN", "FINALIZE", "CONTENTION")
MICRO = 1e-6
# The grid every parallel fit searches (PARALLEL a factor, the rest seconds), and the
# point a search starts from: each constant's middle value. (The ranges were set after
# a first coarse pass over both tables, so that no fit stops at an edge.)
GRID = {"PARALLEL": (1.25, 1.5, 2.0),
        "SCHEDULE": (2 * MICRO, 4 * MICRO, 8 * MICRO),
        "SHARED_TASK": (0.2 * MICRO, 0.3 * MICRO, 0.45 * MICRO),
        "SHARED_WRITE": (0.0, 0.02 * MICRO),
        # the resource's share of an execution's work (an aborted execution's included):
        # none, or 2% (at 32 workers, 64% of the resource for conflict-free work)
        "SHARED_WORK": (0.0, 0.02),
        "SPAWN": (5 * MICRO, 10 * MICRO, 20 * MICRO),
        "FINALIZE": (0.0, 0.1 * MICRO, 0.2 * MICRO),
        # a share of a task's work per other task in flight (backends/simulated.py):
        # none, or a third of the `gas` model's 1.45% (pevm's 32-thread Uniswap
        # efficiency read as contention alone); the search starts from none
        "CONTENTION": (0.0, 0.005)}


def grid_start(grid=GRID) -> tuple:
    """The search's first point: the middle value of each constant (as indexes)."""
    return tuple((len(grid[name]) - 1) // 2 for name in PARALLEL_CONSTANTS)


def grid_point(indexes: tuple, grid=GRID) -> dict:
    return {name: grid[name][i] for name, i in zip(PARALLEL_CONSTANTS, indexes)}


class GridSearch:
    """Coordinate descent on the grid: from `grid_start`, for each constant in turn try
    every value with the others held, keep the best; repeat until a pass changes
    nothing, at most PASSES passes. Every point visited is evaluated on every target
    once and remembered; `best_visited` then picks, for a subset of the targets (a
    fold's training blocks), the remembered point of least loss on that subset alone."""

    PASSES = 2

    def __init__(self, targets, constants: dict, grid=GRID, progress=None,
                 jobs: int = 1, known=None) -> None:
        self.targets, self.constants, self.grid = targets, constants, grid
        self.progress = progress
        self.jobs = jobs  # processes that simulate a point's targets side by side
        # indexes -> [speedup per target]; `known`: points simulated before (reused)
        self.predictions: dict = dict(known or {})

    def _speedups(self, constants: dict) -> list:
        """Every target's speedup under `constants`, in target order (forked workers
        inherit the targets; each simulation is deterministic, so the same list)."""
        if self.jobs <= 1:
            return [target_speedup(target, constants) for target in self.targets]
        import multiprocessing

        global _FORKED
        _FORKED = self.targets
        with multiprocessing.get_context("fork").Pool(self.jobs) as pool:
            return pool.map(_forked_speedup, [(i, constants)
                                              for i in range(len(self.targets))], chunksize=1)

    def evaluate(self, indexes: tuple) -> list:
        if indexes not in self.predictions:
            point = grid_point(indexes, self.grid)
            self.predictions[indexes] = self._speedups({**self.constants, **point})
            if self.progress is not None:
                self.progress(len(self.predictions), point,
                              loss(self.targets, self.predictions[indexes]))
        return self.predictions[indexes]

    def score(self, indexes: tuple, chosen) -> float:
        predictions = self.evaluate(indexes)
        return loss([self.targets[i] for i in chosen], [predictions[i] for i in chosen])

    def search(self, chosen=None) -> tuple:
        """The grid point (indexes) the descent ends at on the targets `chosen`
        (indexes; default all); ties keep the earlier value."""
        chosen = range(len(self.targets)) if chosen is None else sorted(chosen)
        current = grid_start(self.grid)
        for _ in range(self.PASSES):
            before = current
            for axis, name in enumerate(PARALLEL_CONSTANTS):
                candidates = [current[:axis] + (value,) + current[axis + 1:]
                              for value in range(len(self.grid[name]))]
                current = min(candidates, key=lambda c: (self.score(c, chosen), c[axis]))
            if current == before:
                break
        return current

    def best_visited(self, chosen) -> tuple:
        """The remembered point of least loss on the targets `chosen` (ties: the one
        visited first)."""
        chosen = sorted(chosen)
        order = list(self.predictions)
        return min(order, key=lambda indexes: (self.score(indexes, chosen),
                                               order.index(indexes)))


def reusable_predictions(previous: dict, targets, constants: dict, defaults: dict,
                         grid=GRID) -> dict:
    """From an earlier search (`previous`: the "parallel" object that `pevmsim calibrate
    --fit-parallel --json` writes), the points that would be simulated identically now:
    the same targets in the same order, the same sequential `constants`, every parallel
    constant on this grid (one the record lacks is taken at `defaults`, the model's
    value when that search ran). {indexes: predictions}; empty when the targets or the
    sequential constants differ."""
    names = [target.name for target in targets]
    if [t["block"] for t in previous.get("targets", ())] != names \
            or previous.get("sequential") != constants:
        return {}
    reused = {}
    for entry in previous.get("visited", ()):
        point = {**defaults, **entry["point"]}
        if all(point[name] in grid[name] for name in PARALLEL_CONSTANTS):
            indexes = tuple(grid[name].index(point[name]) for name in PARALLEL_CONSTANTS)
            reused[indexes] = list(entry["predictions"])
    return reused


_FORKED: list = []  # GridSearch's targets, inherited by its forked workers


def _forked_speedup(job: tuple) -> float:
    index, constants = job
    return target_speedup(_FORKED[index], constants)


@dataclass(frozen=True)
class Target:
    """A block pevm ran in parallel, with its measured speedup: a mainnet block (one
    block, predicted directly) or a gigagas block (`blocks` holds the same shape at two
    sizes: predicted at the margin, see `marginal_speedup`)."""

    name: str
    table: str  # "mainnet" or "gigagas"
    threads: int
    measured: float
    blocks: tuple


def _run(block, threads: int, constants: dict) -> tuple:
    """(serial baseline, makespan) of block-stm under pevm's rules (fidelity.PEVM_RULES,
    lazy coinbase and raw transfers) on `threads` workers with the `revm` model,
    `constants` overriding its own. Not checked against serial here: `pevmsim
    fidelity` checks every run it reports."""
    from ..backends.simulated import SimulatedBackend
    from ..costs.cost_model import RevmCostModel
    from ..engine.metrics import Metrics
    from ..engine.versioned_state import ExecutionEnv, PreState
    from ..strategies.block_stm import BlockSTM

    model = RevmCostModel()
    for name, value in constants.items():
        setattr(model, name, value)
    env = ExecutionEnv(block, PreState(block.db, block.pre_state_root), True, True)
    strategy = BlockSTM(env, model, Metrics(), **PEVM_RULES)
    makespan = SimulatedBackend().run(strategy, threads, Metrics())
    return sum(model.serial_costs(strategy.final_incarnations())), makespan


def predicted_speedup(block, threads: int, constants: dict) -> float:
    """The virtual speedup (serial baseline / makespan) of `_run`."""
    serial, makespan = _run(block, threads, constants)
    return serial / makespan if makespan else 1.0


def marginal_speedup(small, large, threads: int, constants: dict) -> float:
    """The speedup of a long block of `small`'s and `large`'s shape (the same
    transactions, more of them): the serial time the extra transactions add over the
    makespan they add. A conflict-free block's first wave of workers starts in lockstep
    and its last wave ends ragged; the difference cancels both, leaving the steady
    rate that a 1-gigagas block (thousands of transactions per worker) runs at."""
    serial_small, makespan_small = _run(small, threads, constants)
    serial_large, makespan_large = _run(large, threads, constants)
    return (serial_large - serial_small) / (makespan_large - makespan_small)


def target_speedup(target: Target, constants: dict) -> float:
    """A target's predicted speedup under `constants`."""
    if len(target.blocks) == 1:
        return predicted_speedup(target.blocks[0], target.threads, constants)
    return marginal_speedup(*target.blocks, target.threads, constants)


def loss(targets, predictions) -> float:
    """The mean over tables of each table's mean squared log ratio predicted /
    measured: each table weighs the same, whatever its number of blocks."""
    tables: dict = {}
    for target, predicted in zip(targets, predictions):
        tables.setdefault(target.table, []).append(
            float(np.log(predicted / target.measured)) ** 2)
    return float(np.mean([np.mean(errors) for errors in tables.values()]))


def fold_of(index: int, k: int) -> int:
    """The fixed rule that splits a table's rows into k folds: row i goes to i mod k."""
    return index % k
