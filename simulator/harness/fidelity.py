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
