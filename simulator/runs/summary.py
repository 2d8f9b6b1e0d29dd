"""The shape of a result row: the one place that names the keys of `pevmsim run --json`,
`compare --json`, the sweep's results.jsonl and every `--csv`.

Naming rules: a figure of the simulation (virtual workers in virtual time under the
cost model) starts with `virtual_`; a duration ends in its unit (`_s`); a count of
transactions ends in `_txs`, a size in bytes in `_bytes`; real host time is
`wall_time_s`. A re-execution (an
execution of a transaction beyond its first) is called that everywhere.

Invariants: `run_summary` returns exactly the keys of SUMMARY_FIELDS, in that order;
a row is HEAD_FIELDS (who asked) followed by the summary (and, from `run` and
`compare`, ROW_FIELDS); CSV columns come from the
rows in order of first appearance, so the same rows give the same columns.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass

from ..chain.failures import failure_counts
from .reasons import phases

HEAD_FIELDS = {  # prepended by the command: what was run
    "workload": "workload name",
    "params": "workload parameters (CSV: one param.NAME column each)",
    "seed": "workload seed",
}

SUMMARY_FIELDS = {
    "txs": "transactions in the block",
    "gas_used": "gas used by the block",
    "block_tx_bytes": "bytes of the block's transactions as encoded (its body without "
                      "header, ommers or withdrawals)",
    "bal_bytes": "bytes of the block's EIP-7928 block-level access list, RLP-encoded "
                 "(chain/bal.py: every account and slot its transactions access, the "
                 "post-values of everything they change; the same for every strategy)",
    "bal_bytes_per_tx": "bal_bytes / txs",
    "bal_no_reads_bytes": "bytes of that access list without its storage reads (the "
                          "design that lists only written slots)",
    "bal_items": "the access list's items as EIP-7928 caps them (addresses plus storage "
                 "keys, at most gas_limit / 2000)",
    "failed_txs": "transactions whose receipt has status 0 (serial execution)",
    "reverted_txs": "of which reverted",
    "out_of_gas_txs": "of which ran out of gas",
    "strategy": "parallel execution strategy",
    "threads": "virtual workers",
    "backend": "execution backend",
    "cost_model": "cost model: gas (state in memory), gas-disk (state on SSD), revm "
                  "(fitted to pevm's revm times), measured (py-evm CPU time); observed "
                  "for a processes run's replay",
    "cost_model_constants": "the cost model's constants, seconds (JSON only)",
    "lazy_beneficiary": "coinbase credited as a commutative delta",
    "lazy_transfers": "raw transfers' senders and recipients updated as commutative "
                      "deltas (pevm's LazySender/LazyRecipient)",
    "deep_check": "each transaction's writes were also compared with serial's",
    "repeats": "runs of this configuration (--repeat); figures are the median run's",
    "matches_serial": "post-state, receipts and gas equal stock serial py-evm's",
    "mismatches": "what differs from serial (empty when matching)",
    "header_check": "recorded blocks: gas and receipts root equal the real header's "
                    "(null for generated blocks)",
    "state_root": "post-state root of the parallel run",
    "serial_state_root": "post-state root of serial py-evm",
    "virtual_serial_time_s": "a plain sequential EVM executing the block in order",
    "virtual_makespan_s": "the parallel run's makespan on the virtual workers",
    "virtual_speedup": "virtual_serial_time_s / virtual_makespan_s",
    "virtual_speedup_min": "lowest virtual speedup over the repeats",
    "virtual_speedup_max": "highest virtual speedup over the repeats",
    "virtual_speedup_bound": "serial time / the strategy's bound: no schedule of it does "
                             "better (the dependency bound; for bal, which removes "
                             "every dependency, the same arithmetic without them)",
    "virtual_throughput_tps": "transactions per virtual second",
    "virtual_throughput_gas_per_s": "gas per virtual second",
    "real_makespan_s": "processes backend: real wall-clock seconds of the parallel run "
                       "(null for simulated runs)",
    "real_serial_time_s": "processes backend: stock serial py-evm on the same block in "
                          "the same process, median of --serial-repeats runs",
    "real_speedup": "processes backend: real_serial_time_s / real_makespan_s",
    "real_engine_serial_time_s": "processes backend: this engine (py-evm over the "
                                 "versioned state, as in the workers) executing the "
                                 "block in order in the same process, median of "
                                 "--serial-repeats runs",
    "real_engine_speedup": "processes backend: real_engine_serial_time_s / "
                           "real_makespan_s, the gain of parallelism alone",
    "prediction_error": "processes backend: virtual_speedup (the run replayed in the "
                        "simulated backend with its observed costs) / real_speedup - 1",
    "executions": "transaction executions, first ones and re-executions",
    "executions_per_tx": "executions / txs",
    "reexecutions": "executions beyond one per transaction",
    "suspensions": "executions stopped by an ESTIMATE and resumed later",
    "invalid_executions": "executions py-evm rejected because they read stale state "
                          "(e.g. a nonce not yet written); retried later",
    "validations": "read-set validations",
    "validation_failures": "validations that found a changed read",
    "sequential_fallbacks": "block-stm under pevm's rules: 1 when the block ran "
                            "sequentially (a small block, or a self-destructed read)",
    "utilization": "busy share of the virtual workers' time",
    "virtual_serial_share": "share of the makespan during which at most one worker was "
                            "busy (an in-order merge, a chain of re-executions; "
                            "runs/reasons.py)",
    "virtual_serial_kinds": "seconds of those serial phases per task kind (execution, "
                            "re-execution, validation, ...; JSON only)",
    "conflicts": "locations causing the most re-executions and suspensions (JSON only): "
                 "location, name (derived from the contract's source or layout), label "
                 "(the workload's hand label, else the name), reexecutions, suspensions",
    "whatif": "the dependency bound of the true graph and the oracle's speedup, and the "
              "top locations ranked by what removing "
              "their conflicts would gain: the dependency bound without them and with "
              "their writes as deltas; the top 2, 3 and 5 removed together "
              "(`together`), entries that tie and why (`ties`), and whether the bound "
              "is the total work rather than a dependency chain (`work_bound`) (JSON "
              "only; insight/analysis.py)",
    "reexecuted": "the transactions executed most and the locations that forced each "
                  "re-execution (JSON only)",
    "wall_time_s": "host seconds this simulation took (Python; not a speedup figure)",
    "serial_wall_time_s": "host seconds stock serial py-evm took on the block",
    "peak_rss_mib": "peak resident memory (MiB) of the process that ran this, or of "
                    "the largest child process it ran (serial check alongside, "
                    "workers), from its start to the end of this run (a host figure, "
                    "like wall_time_s)",
    "reuse": "executions were reused (engine/reuse.py): an execution whose every "
             "read value equals an earlier execution's of the same transaction (in "
             "any run of this block and settings) takes that one's outcome instead "
             "of running py-evm again; every other figure is the same either way. "
             "Off with --no-reuse, the measured cost model and the processes backend",
    "reuse_hits": "executions (first ones, re-executions and the strategies' serial "
                  "pre-pass) answered from an earlier identical execution",
    "reuse_misses": "executions run in py-evm and recorded (null without reuse)",
    "reuse_saved_wall_s": "host seconds reuse saved: the py-evm CPU time of the executions "
                     "the hits stand for, less the time all lookups took (a host "
                     "figure, like wall_time_s)",
}

# The summary fields that describe the host rather than the block: they vary from one
# run of the same spec to the next (time, memory) or with which earlier runs shared the
# reuse cache (the counters; a reused execution is charged exactly as the executed one,
# so every other field does not move). Everything else is deterministic.
HOST_FIELDS = frozenset({"wall_time_s", "serial_wall_time_s", "peak_rss_mib", "reuse_hits",
                         "reuse_misses", "reuse_saved_wall_s"})

ROW_FIELDS = {  # appended by `run` and `compare` after the summary
    "other_cost_models": "the headline runs (one strategy: every run; several: the best "
                         "at each thread count) re-run on the same block under every "
                         "other deterministic cost model: {model: {virtual_speedup, "
                         "virtual_speedup_bound, matches_serial}}; null for the "
                         "other rows and with --no-other-models (JSON only)",
    "environment": "pevmsim version and git commit, py-evm and Python versions, "
                   "platform and CPU (JSON only; a sweep's meta.json)",
    "second_oracle": "--oracle: the second serial oracle on serial py-evm: {oracle "
                     "(eels), agrees, disagreements (one line each)}; null without "
                     "--oracle (JSON only)",
}

SWEEP_FIELDS = {  # a sweep's results.jsonl rows, before HEAD_FIELDS
    "suite": "the suite's name",
    "key": "the configuration's stable key (what --resume skips)",
    "strategy_options": "a suite variant's strategy options (absent for a strategy at "
                        "its defaults)",
    "error": "a run that did not finish: why (the row is kept out of the figures and "
             "--resume runs it again)",
}

# Units of the keys the naming rules (module docstring) do not already say.
UNITS = {
    "workload": "name", "params": "JSON", "seed": "integer", "suite": "name", "key": "text",
    "error": "text", "txs": "transactions", "gas_used": "gas", "strategy": "name",
    "threads": "workers", "backend": "name", "cost_model": "name",
    "cost_model_constants": "seconds per unit", "lazy_beneficiary": "true/false",
    "lazy_transfers": "true/false", "deep_check": "true/false", "repeats": "runs",
    "matches_serial": "true/false", "mismatches": "list of text",
    "header_check": "JSON", "state_root": "hex", "serial_state_root": "hex",
    "virtual_speedup": "x", "virtual_speedup_min": "x", "virtual_speedup_max": "x",
    "virtual_speedup_bound": "x", "real_speedup": "x", "real_engine_speedup": "x",
    "prediction_error": "fraction (+0.1 = 10% over)", "executions_per_tx": "per transaction",
    "utilization": "share 0-1", "virtual_serial_share": "share 0-1",
    "virtual_serial_kinds": "seconds per kind", "conflicts": "JSON", "whatif": "JSON",
    "reexecuted": "JSON", "other_cost_models": "JSON", "environment": "JSON",
    "second_oracle": "JSON",
    "peak_rss_mib": "MiB", "reuse": "true/false", "virtual_throughput_tps": "tx per virtual second",
    "virtual_throughput_gas_per_s": "gas per virtual second",
}


def unit(key: str) -> str:
    """A key's unit: from UNITS, else from its name (`_s` seconds, `_txs`
    transactions), else a count."""
    if key in UNITS:
        return UNITS[key]
    if key.endswith("_s"):
        return "seconds" + (" (virtual)" if key.startswith("virtual_") else " (real)")
    if key.endswith("_txs"):
        return "transactions"
    return "count"


def keys() -> list:
    """(key, unit, meaning, JSON only) of every key a result row can hold, in row order:
    a sweep's fields, HEAD_FIELDS, SUMMARY_FIELDS, ROW_FIELDS."""
    return [(key, unit(key), meaning, key in JSON_ONLY)
            for fields in (SWEEP_FIELDS, HEAD_FIELDS, SUMMARY_FIELDS, ROW_FIELDS)
            for key, meaning in fields.items()]


JSON_ONLY = {"conflicts", "whatif", "reexecuted", "environment", "cost_model_constants",
             "virtual_serial_kinds", "other_cost_models",
             "second_oracle", "strategy_options"}  # nested: kept out of CSV (a
# variant's options are in its key)


def head(workload: str, params: dict, seed: int) -> dict:
    """The HEAD_FIELDS of a row."""
    return {"workload": workload, "params": params, "seed": seed}


@dataclass
class RunFigures:
    """What a run measured, beside its RunSpec: the inputs of its summary row."""
    cost_model: str  # the model that priced the run (processes runs: "observed")
    cost_model_constants: dict
    result: object  # chain.outcome.BlockResult of the parallel run
    serial_result: object  # ... of stock serial py-evm
    problems: list  # what differs from serial
    header_check: dict | None
    metrics: object  # engine.metrics.Metrics
    serial_time: float  # virtual seconds of a plain sequential EVM
    makespan: float  # virtual seconds of the parallel run
    bound: float  # the strategy's bound (the dependency bound), virtual seconds
    insight: dict  # insight.analysis.analyse
    wall: float
    serial_wall: float
    peak_rss_mib: float | None
    real: dict | None = None  # processes runs: real_makespan_s, real_serial_time_s,
    # real_engine_serial_time_s
    access_list: object = None  # chain.bal.BlockAccessList of the block (runner.py)
    reuse: object = None  # engine.reuse.ReuseCounts of a run that reused executions


def speedup(serial_time: float, makespan: float) -> float:
    """A virtual speedup: serial time over a makespan (1 for an empty one)."""
    return serial_time / makespan if makespan else 1.0


def run_summary(block, spec, figures: RunFigures) -> dict:
    """One run's summary (the keys of SUMMARY_FIELDS): the block, its RunSpec
    (runs/spec.py) and what the run measured."""
    f = figures
    result, serial_result, metrics, insight, real = (f.result, f.serial_result,
                                                    f.metrics, f.insight, f.real)
    serial_time, makespan, bound, threads = f.serial_time, f.makespan, f.bound, spec.threads
    n = len(block)
    virtual = speedup(serial_time, makespan)
    real_speedup = (real["real_serial_time_s"] / real["real_makespan_s"]
                    if real and real["real_makespan_s"] else None)
    serial_share, serial_kinds = phases(metrics.events,
                                        real["real_makespan_s"] if real else makespan)
    summary = {
        "txs": n,
        "gas_used": result.gas_used,
        "block_tx_bytes": sum(len(tx.encode()) for tx in block.transactions),
        "bal_bytes": f.access_list.size,
        "bal_bytes_per_tx": f.access_list.size / n if n else 0.0,
        "bal_no_reads_bytes": f.access_list.size_without_reads,
        "bal_items": f.access_list.items,
        **failure_counts(serial_result.failures),
        "strategy": spec.strategy,
        "threads": threads,
        "backend": spec.backend,
        "cost_model": f.cost_model,
        "cost_model_constants": f.cost_model_constants,
        "lazy_beneficiary": spec.lazy_beneficiary,
        "lazy_transfers": spec.lazy_transfers,
        "deep_check": spec.deep_check,
        "repeats": 1,
        "matches_serial": not f.problems,
        "mismatches": f.problems,
        "header_check": f.header_check,
        "state_root": "0x" + result.state_root.hex(),
        "serial_state_root": "0x" + serial_result.state_root.hex(),
        "virtual_serial_time_s": serial_time,
        "virtual_makespan_s": makespan,
        "virtual_speedup": virtual,
        "virtual_speedup_min": virtual,
        "virtual_speedup_max": virtual,
        "virtual_speedup_bound": speedup(serial_time, bound),
        "virtual_throughput_tps": n / makespan if makespan else 0.0,
        "virtual_throughput_gas_per_s": result.gas_used / makespan if makespan else 0.0,
        "real_makespan_s": real["real_makespan_s"] if real else None,
        "real_serial_time_s": real["real_serial_time_s"] if real else None,
        "real_speedup": real_speedup,
        "real_engine_serial_time_s": real["real_engine_serial_time_s"] if real else None,
        "real_engine_speedup": (real["real_engine_serial_time_s"] / real["real_makespan_s"]
                                if real_speedup else None),
        "prediction_error": virtual / real_speedup - 1 if real_speedup else None,
        "executions": metrics.executions,
        "executions_per_tx": metrics.executions / n if n else 0.0,
        "reexecutions": metrics.executions - n,
        "suspensions": metrics.suspensions,
        "invalid_executions": metrics.invalid_executions,
        "validations": metrics.validations,
        "validation_failures": metrics.validation_failures,
        "sequential_fallbacks": metrics.sequential_fallbacks,
        "utilization": (metrics.busy_time / (threads * real["real_makespan_s"]) if real
                        else metrics.busy_time / (threads * makespan) if makespan else 0.0),
        "virtual_serial_share": serial_share,
        "virtual_serial_kinds": serial_kinds,
        "conflicts": [{"location": c["location"], "name": c["name"], "label": c["label"],
                       "reexecutions": c["aborts"], "suspensions": c["suspensions"]}
                      for c in insight["conflicts"]],
        "whatif": insight["whatif"],
        "reexecuted": insight["reexecuted"],
        "wall_time_s": f.wall,
        "serial_wall_time_s": f.serial_wall,
        "peak_rss_mib": f.peak_rss_mib,
        "reuse": f.reuse is not None,
        "reuse_hits": f.reuse.hits if f.reuse is not None else 0,
        "reuse_misses": f.reuse.misses if f.reuse is not None else None,
        "reuse_saved_wall_s": f.reuse.saved_s if f.reuse is not None else 0.0,
    }
    assert list(summary) == list(SUMMARY_FIELDS)
    return summary


def median_of_repeats(summaries: list) -> dict:
    """Repeated runs of one configuration as one summary: the run with the median
    virtual speedup (the lower median for an even count; ties keep run order), the
    speedups' min and max over all runs, and matching serial only if every run did."""
    ordered = sorted(summaries, key=lambda s: s["virtual_speedup"])
    speedups = [s["virtual_speedup"] for s in summaries]
    problems = [p for s in summaries for p in s["mismatches"]]
    return {**ordered[(len(ordered) - 1) // 2], "repeats": len(summaries),
            "virtual_speedup_min": min(speedups), "virtual_speedup_max": max(speedups),
            "matches_serial": not problems, "mismatches": problems}


def csv_columns(rows: list) -> list:
    columns: dict = {}
    for row in rows:
        for key, value in row.items():
            if key in JSON_ONLY:
                continue
            if key == "params":
                columns.update((f"param.{name}", None) for name in value)
            else:
                columns[key] = None
    return list(columns)


def csv_cell(value):
    if isinstance(value, (list, tuple)):
        return "; ".join(map(str, value))
    if isinstance(value, dict):
        return json.dumps(value, sort_keys=True)
    return value


def write_csv(handle, rows: list) -> None:
    """Rows as CSV: one column per scalar key and per workload parameter."""
    writer = csv.DictWriter(handle, csv_columns(rows), lineterminator="\n")
    writer.writeheader()
    for row in rows:
        flat = {key: csv_cell(value) for key, value in row.items()
                if key not in JSON_ONLY and key != "params"}
        flat.update((f"param.{name}", value) for name, value in row.get("params", {}).items())
        writer.writerow(flat)
