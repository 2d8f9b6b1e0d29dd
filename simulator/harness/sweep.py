"""The sweep: run every configuration of a suite into a results directory.

    DIR/results.jsonl   one JSON object per finished run, appended and flushed at once:
                        suite, key, workload, params, seed and every key of the run's
                        summary (see `pevmsim run --json`)
    DIR/meta.json       the environment: versions, git commit, CPU, cost-model
                        constants, and the suite (name, path, content, focus)
    DIR/timelines/      per workload, the schedule of one representative run (the
                        suite's focus strategy and threads, on the block where it
                        re-executed most): its tasks as (worker, kind, start, end)
                        spans, binned to TIMELINE_BINS per worker when there are more
                        than MAX_EVENTS, and its executions per transaction

Each block is built once and executed serially once; every configuration on it then
reuses that serial result. An interrupted sweep loses nothing: `resume=True` skips the
configurations whose key is already in results.jsonl (a torn last line is dropped).
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass
from pathlib import Path

from workloads.api import WorkloadError, workload_labels

from ..cost_model import COST_MODELS
from ..environment import environment as host_environment
from ..failures import failure_warning
from ..progress import Progress
from ..runner import run_block
from ..serial import InvalidBlock, execute_serial
from ..summary import head
from .suite import Suite

RESULTS = "results.jsonl"
META = "meta.json"
TIMELINES = "timelines"
MAX_EVENTS = 3000  # a timeline keeps up to this many tasks exactly, else bins them
TIMELINE_BINS = 1500  # time bins per worker of a binned timeline


class SweepError(Exception):
    """The sweep cannot start (its message says why and what to do)."""


@dataclass
class SweepStats:
    ran: int = 0
    skipped: int = 0
    mismatches: int = 0


def sweep(suite: Suite, out: Path, resume: bool = False,
          progress: Progress | None = None) -> SweepStats:
    """Run the suite's unfinished configurations into `out`; `progress` defaults to
    a bar on a terminal stderr and a line per run otherwise."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    results = out / RESULTS
    if results.exists() and results.stat().st_size and not resume:
        raise SweepError(f"{out} already has results; pass --resume to continue that "
                         "sweep, or choose another --out")
    if resume:
        _check_same_suite(out, suite)
    finished = finished_keys(results)
    write_json(out / META, environment(suite))

    stats = SweepStats(skipped=sum(c.key in finished for c in suite.configs))
    pending = [(block, [c for c in configs if c.key not in finished])
               for block, configs in suite.blocks.items()]
    progress = progress or Progress()
    with open(results, "a") as sink, progress.runs(suite.name, len(suite.configs),
                                                   stats.skipped) as done:
        for block, configs in pending:
            if not configs:
                continue
            workload = suite.workload_classes[block.workload](**block.param_dict)
            try:
                built = workload.block(block.txs, seed=block.seed)
                labels = workload_labels(workload)
            except WorkloadError as exc:
                raise SweepError(f"{suite.path}: {block.describe()}: {exc}") from None
            started = time.perf_counter()
            try:
                serial = (execute_serial(built)[0], time.perf_counter() - started)
            except InvalidBlock as exc:  # the workload made an invalid transaction
                raise SweepError(f"{suite.path}: {block.describe()}: workload "
                                 f"{workload.name}: {exc}") from None
            warning = failure_warning(serial[0].failures)
            if warning:
                progress.warn(f"{block.describe()}: {warning}")
            for config in configs:
                row, report = _run(config, built, labels, serial, suite.name)
                if (report is not None and config.strategy == suite.focus_strategy
                        and config.threads == suite.focus_threads):
                    save_timeline(out, config, report)
                sink.write(json.dumps(row, default=str) + "\n")
                sink.flush()
                stats.ran += 1
                stats.mismatches += not row["matches_serial"]
                done(config.describe()
                     + ("" if row["matches_serial"] else ": DOES NOT MATCH SERIAL"))
    return stats


def _run(config, block, labels, serial, suite_name: str) -> tuple:
    """One configuration -> (its results row, its RunReport or None if it failed)."""
    first = {"suite": suite_name, "key": config.key,
             **head(config.block.workload, config.block.param_dict, config.block.seed)}
    try:
        report = run_block(block, config.strategy, config.threads, config.cost_model,
                           config.lazy_beneficiary, labels=labels, serial=serial)
    except InvalidBlock as exc:  # a strategy bug: recorded, and flagged by the report
        return {**first, "txs": config.block.txs, "strategy": config.strategy,
                "threads": config.threads, "cost_model": config.cost_model,
                "lazy_beneficiary": config.lazy_beneficiary, "matches_serial": False,
                "mismatches": [str(exc)], "error": str(exc)}, None
    return {**first, **report.summary}, report


def timeline_path(out: Path, workload: str) -> Path:
    return Path(out) / TIMELINES / (re.sub(r"[^A-Za-z0-9_.-]+", "_", workload) + ".json")


def save_timeline(out: Path, config, report) -> None:
    """Keep this run's schedule as its workload's timeline if it re-executed more than
    the one kept so far (ties keep the earlier run, so the choice is deterministic)."""
    path = timeline_path(out, config.block.workload)
    summary = report.summary
    score = summary["reexecutions"] + summary["suspensions"]
    if path.exists() and json.loads(path.read_text())["score"] >= score:
        return
    events = report.metrics.events
    kinds = sorted({e[1] for e in events})
    executions = report.metrics.executions_per_tx(summary["txs"])
    makespan = summary["virtual_makespan_s"]
    if len(events) <= MAX_EVENTS:
        spans = sorted((w, kinds.index(k), start, end) for w, k, _, _, start, end in events)
    else:
        spans = _binned_spans(events, kinds, makespan / TIMELINE_BINS)
    path.parent.mkdir(exist_ok=True)
    write_json(path, {
        "key": config.key, "workload": config.block.workload,
        "params": config.block.param_dict, "txs": summary["txs"],
        "strategy": config.strategy, "threads": config.threads,
        "cost_model": config.cost_model, "score": score, "makespan_us": makespan * 1e6,
        "tasks": len(events), "binned": len(events) > MAX_EVENTS,
        "executions_per_tx": executions, "kinds": kinds,
        "spans": [[w, k, round(start * 1e6, 4), round(end * 1e6, 4)]
                  for w, k, start, end in spans],
    }, compact=True)


def _binned_spans(events, kinds: list, width: float) -> list:
    """The schedule at chart resolution: each worker's time cut into bins of `width`,
    each bin given the kind (or idleness) that filled most of it, runs of equal bins
    merged into (worker, kind index, start, end) spans."""
    busy: dict = {}  # (worker, bin) -> [time per kind]
    for worker, kind, _, _, start, end in events:
        k = kinds.index(kind)
        for b in range(int(start / width), min(int(end / width), TIMELINE_BINS - 1) + 1):
            overlap = min(end, (b + 1) * width) - max(start, b * width)
            if overlap > 0:
                busy.setdefault((worker, b), [0.0] * len(kinds))[k] += overlap
    spans = []
    for (worker, b), times in sorted(busy.items()):
        k = max(range(len(kinds)), key=lambda i: times[i])
        if times[k] < width - sum(times):  # mostly idle
            continue
        last = spans[-1] if spans else None
        if last and last[0] == worker and last[1] == k and last[3] == b * width:
            last[3] = (b + 1) * width
        else:
            spans.append([worker, k, b * width, (b + 1) * width])
    return spans


def finished_keys(results: Path) -> set:
    """Keys of the rows in results.jsonl; a torn last line (a killed sweep) is cut off."""
    if not results.exists():
        return set()
    data = results.read_bytes()
    if data and not data.endswith(b"\n"):
        data = data[:data.rfind(b"\n") + 1]
        results.write_bytes(data)
    return {json.loads(line)["key"] for line in data.decode().splitlines() if line}


def read_results(out: Path) -> list:
    return [json.loads(line) for line in (Path(out) / RESULTS).read_text().splitlines()
            if line]


def _check_same_suite(out: Path, suite: Suite) -> None:
    meta = out / META
    if meta.exists():
        previous = json.loads(meta.read_text())["suite"]["name"]
        if previous != suite.name:
            raise SweepError(f"{out} holds a sweep of suite {previous!r}, not "
                             f"{suite.name!r}; choose another --out")


def write_json(path: Path, payload, compact: bool = False) -> None:
    text = (json.dumps(payload, separators=(",", ":"), default=str) if compact
            else json.dumps(payload, indent=1, default=str))
    path.write_text(text + "\n")


# -- environment --------------------------------------------------------------------
def environment(suite: Suite) -> dict:
    models = sorted({c.cost_model for c in suite.configs})
    return {
        **host_environment(),
        "cost_models": {name: COST_MODELS[name]().constants() for name in models},
        "suite": {"name": suite.name, "path": str(suite.path),
                  "description": suite.description,
                  "focus": {"strategy": suite.focus_strategy,
                            "threads": suite.focus_threads},
                  "configurations": len(suite.configs), "blocks": len(suite.blocks),
                  "content": suite.text},
    }
