"""Fidelity: pevmsim's predicted speedups against pevm's measured ones, block by block.

For every block of a benchmark table in pevm's format (calibration.read_table; by
default the vendored `workloads/mainnet_blocks/pevm_benchmark.tsv`: pevm on revm, 12
threads, state in memory, Graviton3), `pevmsim fidelity` runs the block under
`block-stm` at the table's thread count with pevm's own rules (PEVM_RULES: its
sequential fallbacks, no validation of transaction 0, lazy raw transfers and a lazy
coinbase) under each cost model asked for, and compares the predicted speedup with
pevm's measured one. Blocks where pevm ran sequentially (fewer transactions than
threads, or under 4,000,000 gas) are listed but kept out of the statistics, which
are: the mean and median absolute relative error of the predicted speedup, the median
ratio predicted / measured, and Spearman's rank correlation.

Invariants: each block is built and executed serially (the check) once, whatever the
number of cost models; every run is checked against that serial execution; rows keep
the table's order; statistics use only blocks pevm ran in parallel.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .calibration import PEVM_RULES, PEVM_THREADS, read_table

DEFAULT_TABLE = Path(__file__).resolve().parents[2] / "workloads" / "mainnet_blocks" \
    / "pevm_benchmark.tsv"
DEFAULT_MODELS = ("revm", "gas", "measured")
DEFAULT_FOLDS = 5
README_BEGIN = "<!-- pevmsim fidelity: begin -->"
README_END = "<!-- pevmsim fidelity: end -->"


def ranks(values) -> np.ndarray:
    """1-based ranks, ties sharing their average rank."""
    values = np.asarray(values, float)
    order = np.argsort(values, kind="stable")
    result = np.empty(len(values))
    position = 0
    while position < len(values):
        end = position
        while end + 1 < len(values) and values[order[end + 1]] == values[order[position]]:
            end += 1
        result[order[position:end + 1]] = (position + end) / 2 + 1
        position = end + 1
    return result


def spearman(x, y) -> float:
    """Spearman's rank correlation: Pearson's correlation of the ranks."""
    if len(x) != len(y) or len(x) < 2:
        raise ValueError("Spearman's correlation needs two equal-length series of 2+")
    rx, ry = ranks(x), ranks(y)
    rx, ry = rx - rx.mean(), ry - ry.mean()
    denominator = float(np.sqrt((rx ** 2).sum() * (ry ** 2).sum()))
    return float((rx * ry).sum() / denominator) if denominator else 0.0


def error_stats(predicted, measured) -> dict:
    """Mean and median |predicted - measured| / measured, the median ratio, Spearman."""
    predicted, measured = np.asarray(predicted, float), np.asarray(measured, float)
    errors = np.abs(predicted - measured) / measured
    return {"blocks": len(measured),
            "mean_abs_relative_error": float(errors.mean()),
            "median_abs_relative_error": float(np.median(errors)),
            "median_ratio": float(np.median(predicted / measured)),
            "spearman": spearman(predicted, measured)}


@dataclass
class BlockRow:
    block: int
    txs: int
    gas_used: int
    measured_speedup: float  # pevm's
    pevm_parallel: bool  # pevm ran it in parallel (else: sequential fallback)
    predicted: dict  # cost model -> predicted speedup
    matches_serial: dict  # cost model -> the run matched serial

    def as_dict(self) -> dict:
        return {"block": self.block, "txs": self.txs, "gas_used": self.gas_used,
                "measured_speedup": self.measured_speedup,
                "pevm_parallel": self.pevm_parallel,
                "predicted_speedup": self.predicted,
                "ratio": {m: p / self.measured_speedup for m, p in self.predicted.items()},
                "matches_serial": self.matches_serial}


def run_fidelity(table=DEFAULT_TABLE, models=DEFAULT_MODELS, blocks=None,
                 progress=None) -> list:
    """One BlockRow per table row (only `blocks` when given), in table order.
    `progress` is a simulator.progress.Progress."""
    from workloads.mainnet import load_block

    from ..runs.runner import run_block
    from ..runs.spec import RunSpec
    from ..chain.serial import execute_serial

    rows = []
    measurements = [m for m in read_table(table) if blocks is None or m.block in blocks]
    for index, m in enumerate(measurements, 1):
        tag = f"[{index}/{len(measurements)}] block {m.block}: "
        block = load_block(m.block)
        stage = (lambda description, total, tag=tag: progress.bar(tag + description, total)) \
            if progress is not None else None
        if stage is None:
            serial = (execute_serial(block)[0], 0.0)
        else:
            with stage("serial py-evm (the check)", len(block)) as bar:
                serial = (execute_serial(block, bar)[0], 0.0)
        predicted, matches = {}, {}
        for model in models:
            spec = RunSpec("block-stm", PEVM_THREADS, model, lazy_beneficiary=True,
                           lazy_transfers=True, strategy_options=PEVM_RULES)
            report = run_block(block, spec, serial=serial, progress=stage)
            predicted[model] = report.summary["virtual_speedup"]
            matches[model] = report.matches_serial
        rows.append(BlockRow(m.block, m.txs, m.gas_used, m.speedup, m.ran_parallel,
                             predicted, matches))
    return rows


def statistics(rows: list, models) -> dict:
    """Per cost model, error_stats over the blocks pevm ran in parallel."""
    parallel = [row for row in rows if row.pevm_parallel]
    if len(parallel) < 2:
        return {}
    measured = [row.measured_speedup for row in parallel]
    return {model: error_stats([row.predicted[model] for row in parallel], measured)
            for model in models}


# -- gigagas blocks ------------------------------------------------------------------
GIGAGAS_TABLE = Path(__file__).resolve().parents[2] / "workloads" \
    / "gigagas_benchmarks.tsv"
GIGAGAS_ENGINE = "pevm"  # the rows that calibrate and fidelity compare with
GIGAGAS_COLUMNS = ("engine", "block", "workload", "txs", "gas_used", "sequential_ms",
                   "parallel_ms", "speedup", "threads", "hardware", "source")
# Transactions of the two blocks of each shape that stand for a 1-gigagas block
# (calibration.marginal_speedup): 2 and 4 waves of 32 workers for the heavy swaps, 10
# and 20 for the transfers.
GIGAGAS_SIZES = {"gigagas-transfers": (320, 640), "gigagas-erc20": (320, 640),
                 "gigagas-uniswap": (64, 128)}


@dataclass(frozen=True)
class GigagasRow:
    engine: str
    block: str
    workload: str
    txs: int
    gas_used: int
    sequential_ms: float
    parallel_ms: float
    speedup: float
    threads: int
    hardware: str
    source: str


def read_gigagas(path=GIGAGAS_TABLE) -> list:
    """The vendored gigagas figures (pevm's, and others' for reference)."""
    from .calibration import CalibrationError, read_tsv

    rows = read_tsv(path, GIGAGAS_COLUMNS, "gigagas table")
    try:
        return [GigagasRow(r["engine"], r["block"], r["workload"], int(r["txs"]),
                           int(r["gas_used"]), float(r["sequential_ms"]),
                           float(r["parallel_ms"]), float(r["speedup"]), int(r["threads"]),
                           r["hardware"], r["source"]) for r in rows]
    except (TypeError, ValueError) as exc:
        raise CalibrationError(f"{path}: a malformed row ({exc})")


def gigagas_blocks(row: GigagasRow, sizes=None) -> tuple:
    """The row's workload built at its two calibration sizes (seed 0)."""
    from workloads.block_cache import built_block
    from workloads.registry import load_workload

    workload = load_workload(row.workload)()
    return tuple(built_block(workload, txs, 0)[0]
                 for txs in (sizes or GIGAGAS_SIZES)[row.workload])


SCALING_THREADS = (1, 2, 4, 8, 16, 32, 64)  # the gigagas scaling curves
DEFAULT_CALIBRATION = Path(__file__).resolve().parents[2] / "reports" / "fidelity" \
    / "calibration.json"


def load_folds(path) -> dict:
    """From `pevmsim calibrate --fit-parallel`'s JSON: {block name: the constants its
    fold was fitted with (fitted without it)}; {} when the file has no parallel fit."""
    import json

    from .calibration import CalibrationError

    try:
        result = json.loads(Path(path).read_text())
    except (OSError, ValueError) as exc:
        raise CalibrationError(f"cannot read the calibration {path}: {exc}")
    parallel = result.get("parallel")
    if not parallel:
        return {}
    if "fold_constants" not in parallel:
        raise CalibrationError(f"{path}: its parallel fit has no k-fold constants (made "
                               "by an older pevmsim calibrate --fit-parallel)")
    constants = {entry["fold"]: entry["constants"] for entry in parallel["fold_constants"]}
    return {target["block"]: constants[target["fold"]] for target in parallel["targets"]
            if target["fold"] in constants}


def run_block_stm(block, threads: int, model: str, serial, progress, constants=None):
    """block-stm under pevm's rules, checked against `serial` (run_block's report);
    `constants` override the cost model's."""
    from ..runs.runner import run_block
    from ..runs.spec import RunSpec

    spec = RunSpec("block-stm", threads, model, lazy_beneficiary=True, lazy_transfers=True,
                   strategy_options=PEVM_RULES, cost_constants=constants or {})
    return run_block(block, spec, serial=serial, progress=progress)


def held_out(rows: list, folds: dict, progress=None) -> dict:
    """Each parallel mainnet block (rows: BlockRow) predicted by the `revm` model with
    its fold's constants: {block: (speedup, matches serial)}."""
    from workloads.mainnet import load_block

    from ..chain.serial import execute_serial

    result = {}
    for row in rows:
        constants = folds.get(str(row.block))
        if not row.pevm_parallel or constants is None:
            continue
        block = load_block(row.block)
        report = run_block_stm(block, PEVM_THREADS, "revm", (execute_serial(block)[0], 0.0),
                               None, constants)
        result[row.block] = (report.summary["virtual_speedup"], report.matches_serial)
        if progress is not None:
            progress.line(f"block {row.block} held out: "
                          f"{report.summary['virtual_speedup']:.2f}x")
    return result


@dataclass
class GigagasResult:
    row: GigagasRow  # pevm's figures
    threads: int
    predicted: dict  # cost model -> predicted speedup of the 1-gigagas block
    held_out: float | None  # revm with the constants of the fold that left it out
    scaling: dict  # workers -> revm's predicted speedup
    matches_serial: bool  # every run that produced these matched serial

    def as_dict(self) -> dict:
        return {"block": self.row.block, "workload": self.row.workload,
                "engine": self.row.engine, "hardware": self.row.hardware,
                "source": self.row.source, "measured_speedup": self.row.speedup,
                "threads": self.threads, "txs_measured": self.row.txs,
                "txs_simulated": list(GIGAGAS_SIZES[self.row.workload]),
                "predicted_speedup": self.predicted, "held_out_revm": self.held_out,
                "scaling_revm": {str(t): s for t, s in self.scaling.items()},
                "calibrated_threads": self.threads, "matches_serial": self.matches_serial}


def marginal(blocks, threads: int, model: str, serials, constants=None) -> tuple:
    """(calibration.marginal_speedup of the two blocks, both runs matched serial), each
    run checked against its block's serial result."""
    reports = [run_block_stm(block, threads, model, serial, None, constants)
               for block, serial in zip(blocks, serials)]
    small, large = (report.summary for report in reports)
    added = large["virtual_serial_time_s"] - small["virtual_serial_time_s"]
    speedup = added / (large["virtual_makespan_s"] - small["virtual_makespan_s"])
    return speedup, all(report.matches_serial for report in reports)


def run_gigagas(rows, models, folds: dict, scaling=SCALING_THREADS, progress=None) -> list:
    """Each gigagas row's block predicted at the row's thread count under each model,
    under `revm` with its fold's constants, and revm's curve over `scaling` workers."""
    from ..chain.serial import execute_serial

    results = []
    for row in rows:
        blocks = gigagas_blocks(row)
        serials = [(execute_serial(block)[0], 0.0) for block in blocks]
        ok = True
        predicted = {}
        for model in models:
            predicted[model], good = marginal(blocks, row.threads, model, serials)
            ok = ok and good
        held = None
        if row.workload in folds:
            held, good = marginal(blocks, row.threads, "revm", serials, folds[row.workload])
            ok = ok and good
        curve = {}
        for threads in scaling:
            if threads == row.threads and "revm" in predicted:
                curve[threads] = predicted["revm"]  # the same runs
                continue
            curve[threads], good = marginal(blocks, threads, "revm", serials)
            ok = ok and good
        if progress is not None:
            progress.line(f"{row.workload}: " + ", ".join(
                f"{m} {p:.2f}x" for m, p in predicted.items()) + f" (pevm {row.speedup}x)")
        results.append(GigagasResult(row, row.threads, predicted, held, curve, ok))
    return results


# -- ground truth on real cores -------------------------------------------------------
@dataclass(frozen=True)
class RealCase:
    """A block to run on real worker processes: a workload with its parameters and
    size, or (workload "mainnet", txs None) every transaction of a vendored block."""

    workload: str
    params: tuple  # (name, value) pairs
    txs: int | None

    @property
    def label(self) -> str:
        values = ", ".join(f"{name}={value}" for name, value in self.params)
        return f"{self.workload} ({values})" if values else self.workload

    def block(self):
        from workloads.mainnet import load_block
        from workloads.registry import build_block

        if self.txs is None:
            return load_block(dict(self.params)["block"])
        return build_block(self.workload, self.txs, 0, dict(self.params))


# A token block, a mixed DeFi block and two vendored mainnet blocks pevm ran in
# parallel (13217637: 1,100 light transactions; 4864590: 195 heavier ones), small
# enough that the whole section takes minutes on two cores.
REAL_CASES = (RealCase("erc20", (("accounts", 10000),), 400),
              RealCase("defi", (), 200),
              RealCase("mainnet", (("block", 13217637),), None),
              RealCase("mainnet", (("block", 4864590),), None))
REAL_WORKERS = (1, 2)  # this machine's cores; 4-16 where a larger machine is lent
REAL_MODELS = ("measured", "revm", "gas")  # the simulated predictions set beside it


def run_real(cases=REAL_CASES, workers=REAL_WORKERS, progress=None) -> list:
    """Each case on the processes backend (block-stm, real forked worker processes) at
    each worker count, and the same block simulated at that count under REAL_MODELS:
    one dict per (case, workers) with the real speedups (against stock serial py-evm,
    and against this engine executing the block in order), the run replayed with its
    observed costs, each model's prediction, and whether every run matched serial."""
    from ..chain.serial import execute_serial
    from ..runs.runner import run_block
    from ..runs.spec import RunSpec

    rows = []
    for case in cases:
        block = case.block()
        serial = (execute_serial(block)[0], 0.0)
        for threads in workers:
            real = run_block(block, RunSpec("block-stm", threads, "revm",
                                            backend="processes"), serial=serial)
            simulated = {model: run_block(block, RunSpec("block-stm", threads, model),
                                          serial=serial) for model in REAL_MODELS}
            summary = real.summary
            rows.append({"case": case.label, "txs": len(block), "workers": threads,
                         "real_speedup": summary["real_speedup"],
                         "real_engine_speedup": summary["real_engine_speedup"],
                         "observed_replay": summary["virtual_speedup"],
                         "predicted": {model: report.summary["virtual_speedup"]
                                       for model, report in simulated.items()},
                         "matches_serial": real.matches_serial and all(
                             report.matches_serial for report in simulated.values())})
            if progress is not None:
                progress.line(f"{case.label} on {threads} worker(s): real "
                              f"{summary['real_speedup']:.2f}x")
    return rows
