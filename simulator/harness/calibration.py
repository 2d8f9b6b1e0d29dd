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


def read_table(path) -> list:
    """The rows of a benchmark table (tab-separated, a header of TABLE_COLUMNS)."""
    path = Path(path)
    try:
        with path.open(newline="") as handle:
            rows = list(csv.DictReader(handle, delimiter="\t"))
    except OSError as exc:
        raise CalibrationError(f"cannot read the benchmark table {path}: {exc.strerror}")
    if not rows or tuple(rows[0]) != TABLE_COLUMNS:
        raise CalibrationError(f"{path}: expected tab-separated columns "
                               f"{', '.join(TABLE_COLUMNS)}")
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


def write_features(path, rows: dict) -> None:
    """{block: features} as CSV (block, then FEATURES)."""
    with Path(path).open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(("block", *FEATURES))
        for block in sorted(rows):
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
        return {int(r["block"]): {name: int(r[name]) for name in FEATURES} for r in rows}
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


def evaluate(constants: dict, features: list, seconds: list) -> dict:
    """Median and mean relative error of `constants` on blocks it may not have seen."""
    pairs = [(f, s) for f, s in zip(features, seconds) if f["txs"] > 0]
    errors = relative_errors([predict(constants, f) for f, _ in pairs],
                             [s for _, s in pairs])
    return {"blocks": len(pairs), "median_relative_error": float(np.median(errors)),
            "mean_relative_error": float(np.mean(errors))}


# -- the parallel-only constants: PARALLEL and SCHEDULE, from pevm's parallel times --
PARALLEL_GRID = (1.0, 1.5, 2.0, 3.0)  # execution cost in parallel / sequential
SCHEDULE_GRID = tuple(x * 1e-6 for x in (1, 2, 4, 8))  # seconds per task


def predicted_speedup(block, threads: int, constants: dict) -> float:
    """block-stm under pevm's rules (PEVM_RULES, lazy coinbase and raw
    transfers) on `threads` workers with the `revm` model, `constants` overriding
    its own: the virtual speedup (serial baseline / makespan). Not checked against
    serial here: `pevmsim fidelity` checks every run it reports."""
    from ..backends.simulated import SimulatedBackend
    from ..costs.cost_model import RevmCostModel
    from ..engine.metrics import Metrics
    from ..strategies.block_stm import BlockSTM
    from ..engine.versioned_state import ExecutionEnv, PreState

    model = RevmCostModel()
    for name, value in constants.items():
        setattr(model, name, value)
    env = ExecutionEnv(block, PreState(block.db, block.pre_state_root), True, True)
    strategy = BlockSTM(env, model, Metrics(), **PEVM_RULES)
    makespan = SimulatedBackend().run(strategy, threads, Metrics())
    serial = sum(model.serial_costs(strategy.final_incarnations()))
    return serial / makespan if makespan else 1.0


def fit_parallel(blocks: list, measured: list, threads: int, constants=None,
                 parallel_grid=PARALLEL_GRID, schedule_grid=SCHEDULE_GRID,
                 progress=None) -> dict:
    """PARALLEL and SCHEDULE: the pair of the grids whose predicted speedups (the
    `revm` model, `constants` overriding its own) have the least sum of squared log
    ratios to `measured` (pevm's speedups on blocks it ran in parallel), and every
    pair's score, as [PARALLEL, SCHEDULE, score] rows."""
    scores = []
    for parallel in parallel_grid:
        for schedule in schedule_grid:
            overrides = {**(constants or {}), "PARALLEL": parallel, "SCHEDULE": schedule}
            logs = [float(np.log(predicted_speedup(block, threads, overrides) / speedup))
                    for block, speedup in zip(blocks, measured)]
            scores.append([parallel, schedule, float(np.sum(np.square(logs)))])
            if progress is not None:
                progress(parallel, schedule, scores[-1][2])
    parallel, schedule, _ = min(scores, key=lambda row: (row[2], row[0], row[1]))
    return {"PARALLEL": parallel, "SCHEDULE": schedule, "scores": scores}
