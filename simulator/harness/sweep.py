"""The sweep: run every configuration of a suite into a results directory.

    DIR/results.jsonl   one JSON object per finished run, appended and flushed by the
                        client (this process) alone as each run's result arrives:
                        suite, key, workload, params, seed and every key of the run's
                        summary (see `pevmsim run --json`); a run that failed (an
                        exception, a worker that died) is a row with its `error`
    DIR/meta.json       the environment: versions, git commit, CPU, cost-model
                        constants, and the suite (name, path, content, focus)
    DIR/timelines/      per workload, the schedule of one representative run (the
                        suite's focus strategy and threads, on the block where it
                        re-executed most; ties keep the earliest in suite order): its
                        tasks as (worker, kind, start, end) spans, binned to
                        TIMELINE_BINS per worker when there are more than MAX_EVENTS,
                        and its executions per transaction

The unit of work is a block setting (`setting_runs`): the block is built once and
executed serially once, and every configuration on it reuses that serial result. The
settings run in this process (`jobs=1`) or as one Dask task each (cluster.py), so
parallelism never repeats a block's fixed costs.

Invariants: results.jsonl holds each configuration's key at most once; rows arrive in
any order and nothing depends on it (the timeline choice uses suite order). An
interrupted sweep loses nothing: `resume=True` cuts every line that is not a row (a
torn last line, a corrupt one: each named) and the failed rows, then runs exactly the configurations without a row.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass
from pathlib import Path

from workloads.api import WorkloadError
from workloads.registry import load_workload

from workloads.block_cache import built_block
from ..costs.cost_model import COST_MODELS
from ..environment import environment as host_environment
from ..chain.failures import failure_warning
from ..paths import unwritable_folder
from ..progress import Progress
from ..runs.runner import run_block
from ..chain.serial import InvalidBlock, execute_serial
from ..runs.summary import head
from .cluster import Task, executor
from .suite import BlockSpec, Suite

RESULTS = "results.jsonl"
META = "meta.json"
TIMELINES = "timelines"
MAX_EVENTS = 3000  # a timeline keeps up to this many tasks exactly, else bins them
TIMELINE_BINS = 1500  # time bins per worker of a binned timeline


class SweepError(Exception):
    """The sweep cannot start or go on (its message says why and what to do)."""


class SettingError(Exception):
    """A block setting of the suite cannot be built or is invalid (bad input: it
    stops the sweep, as it would stop every later attempt)."""


@dataclass
class SweepStats:
    ran: int = 0
    skipped: int = 0
    mismatches: int = 0
    failed: int = 0


@dataclass(frozen=True)
class Run:
    """What one configuration sends back to the client: its results row, its warning
    (the block's failed transactions, sent with the setting's first run) and, for
    the focus configuration, its timeline."""
    row: dict
    warning: str | None
    timeline: dict | None


def sweep(suite: Suite, out: Path, resume: bool = False, progress: Progress | None = None,
          jobs: int = 1, scheduler: str | None = None) -> SweepStats:
    """Run the suite's unfinished configurations into `out`: in this process with
    `jobs=1`, else on a LocalCluster of `jobs` worker processes, or on the Dask
    cluster at `scheduler`. `progress` defaults to a bar on a terminal stderr and a
    line per run otherwise."""
    out = Path(out)
    if (jobs != 1 or scheduler) and any(c.run.backend != "simulated" for c in suite.configs):
        raise SweepError(f"suite {suite.name} has rows on a real backend (processes): run "
                         "it with --jobs 1, so that no other run shares the cores it times")
    reason = unwritable_folder(out)
    if reason is not None:
        raise SweepError(f"--out {out}: {reason}")
    out.mkdir(parents=True, exist_ok=True)
    results = out / RESULTS
    if results.exists() and results.stat().st_size and not resume:
        raise SweepError(f"{out} already has results; pass --resume to continue that "
                         "sweep, or choose another --out")
    if resume:
        _check_same_suite(out, suite)
    progress = progress or Progress()
    finished = finished_keys(results, progress)
    write_json(out / META, environment(suite))

    stats = SweepStats(skipped=sum(c.key in finished for c in suite.configs))
    tasks = [Task(block, tuple(c for c in configs if c.key not in finished))
             for block, configs in suite.blocks.items()]
    tasks = [task for task in tasks if task.configs]
    order = {config.key: index for index, config in enumerate(suite.configs)}
    focus = (suite.focus_strategy, suite.focus_threads)
    with executor(jobs, scheduler, progress, len(tasks)) as run, \
            open(results, "a") as sink, \
            progress.runs(suite.name, len(suite.configs), stats.skipped) as done:
        for task, runs, error in run(setting_runs, tasks, suite.name, focus):
            if isinstance(error, SettingError):
                raise SweepError(f"{suite.path}: {task.block.describe()}: {error}")
            if error is not None:
                reason = f"{type(error).__name__}: {error}"
                runs = [Run(failed_row(config, suite.name, reason,
                                       workload_name(config.block.workload)), None, None)
                        for config in task.configs if config.key not in finished]
            for item in runs:
                row = item.row
                if row["key"] in finished:  # streamed already, or a rerun's repeat
                    continue
                finished.add(row["key"])
                if item.warning:
                    progress.warn(f"{task.block.describe(row['workload'])}: {item.warning}")
                if item.timeline is not None:
                    keep_timeline(out, item.timeline, order)
                sink.write(json.dumps(row, default=str) + "\n")
                sink.flush()
                stats.ran += 1
                stats.failed += "error" in row
                stats.mismatches += not row["matches_serial"]
                done(f"{task.block.describe(row['workload'])} "
                     f"{row['strategy']}@{row['threads']}"
                     + (f": FAILED: {row['error']}" if "error" in row
                        else "" if row["matches_serial"] else ": DOES NOT MATCH SERIAL"))
    return stats


def setting_runs(block: BlockSpec, configs: tuple, suite_name: str, focus: tuple):
    """One block setting's runs (a generator of Run, in `configs` order): the block
    built and executed serially once, then each configuration on it. A configuration
    that raises becomes a row with its error; a block that cannot be built or is
    invalid raises SettingError. Runs in a Dask worker as well as in the client."""
    try:
        workload = load_workload(block.workload)(**block.param_dict)
        built, labels = built_block(workload, block.txs, block.seed)
    except WorkloadError as exc:
        raise SettingError(str(exc)) from None
    started = time.perf_counter()
    try:
        serial = (execute_serial(built)[0], time.perf_counter() - started)
    except InvalidBlock as exc:  # the workload made an invalid transaction
        raise SettingError(f"workload {workload.name}: {exc}") from None
    warning = failure_warning(serial[0].failures)
    for config in configs:
        row, report = _run(config, (built, labels, serial), suite_name, workload.name)
        timeline = (timeline_of(config, report, workload.name) if report is not None
                    and (config.run.strategy, config.run.threads) == focus else None)
        yield Run(row, warning, timeline)
        warning = None


def workload_name(spec: str) -> str:
    """A suite's workload (a name or a FILE.py:CLASS plug-in) by its `name`, as the
    command line shows it; the spec itself if it cannot be loaded."""
    try:
        return load_workload(spec).name
    except WorkloadError:
        return spec


def _run(config, built: tuple, suite_name: str, name: str) -> tuple:
    """One configuration on `built` (block, labels, serial result) -> (its results row,
    its RunReport or None if it failed); `name` is the workload's name."""
    block, labels, serial = built
    try:
        report = run_block(block, config.run, labels=labels, serial=serial)
    except InvalidBlock as exc:  # a strategy bug: recorded, and flagged by the report
        return failed_row(config, suite_name, exc, name), None
    except Exception as exc:  # any other failure of this run: recorded, the sweep goes on
        return failed_row(config, suite_name, f"{type(exc).__name__}: {exc}", name), None
    return {"suite": suite_name, "key": config.key, **variant(config),
            **head(name, config.block.param_dict, config.block.seed),
            **report.summary}, report


def variant(config) -> dict:
    """A suite variant's row names its strategy options (a strategy at its defaults:
    nothing, as in rows written before variants existed)."""
    return {"strategy_options": config.run.options} if config.run.strategy_options else {}


def failed_row(config, suite_name: str, error, name: str) -> dict:
    """The row of a configuration that did not finish: flagged as not matching serial,
    with its error (which --resume retries); `name` is the workload's name."""
    text = str(error) or type(error).__name__
    return {"suite": suite_name, "key": config.key, **variant(config),
            **head(name, config.block.param_dict, config.block.seed),
            "txs": config.block.txs, "strategy": config.run.strategy,
            "threads": config.run.threads, "cost_model": config.run.cost_model,
            "lazy_beneficiary": config.run.lazy_beneficiary, "backend": config.run.backend,
            "matches_serial": False,
            "mismatches": [text], "error": text}


def timeline_path(out: Path, workload: str) -> Path:
    return Path(out) / TIMELINES / (re.sub(r"[^A-Za-z0-9_.-]+", "_", workload) + ".json")


def keep_timeline(out: Path, timeline: dict, order: dict) -> None:
    """Keep a run's timeline as its workload's if it re-executed more than the one kept
    so far, or as much and comes earlier in suite order (`order`: key -> index), so
    the choice does not depend on the order in which runs finish."""
    path = timeline_path(out, timeline["workload"])
    if path.exists():
        kept = json.loads(path.read_text())
        rank = (-timeline["score"], order.get(timeline["key"], len(order)))
        if (-kept["score"], order.get(kept["key"], len(order))) <= rank:
            return
    path.parent.mkdir(exist_ok=True)
    write_json(path, timeline, compact=True)


def timeline_of(config, report, name: str) -> dict:
    """A run's schedule as a timeline (the JSON of DIR/timelines/); `name` is the
    workload's name (the timeline's file is named by it)."""
    summary = report.summary
    events = report.metrics.events
    kinds = sorted({e[1] for e in events})
    executions = report.metrics.executions_per_tx(summary["txs"])
    makespan = summary["virtual_makespan_s"]
    if len(events) <= MAX_EVENTS:
        spans = sorted((w, kinds.index(k), start, end) for w, k, _, _, start, end in events)
    else:
        spans = _binned_spans(events, kinds, makespan / TIMELINE_BINS)
    return {
        "key": config.key, "workload": name,
        "params": config.block.param_dict, "txs": summary["txs"],
        "strategy": config.run.strategy, "threads": config.run.threads,
        "cost_model": config.run.cost_model,
        "score": summary["reexecutions"] + summary["suspensions"],
        "makespan_us": makespan * 1e6,
        "tasks": len(events), "binned": len(events) > MAX_EVENTS,
        "executions_per_tx": executions, "kinds": kinds,
        "spans": [[w, k, round(start * 1e6, 4), round(end * 1e6, 4)]
                  for w, k, start, end in spans],
    }


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


def parse_results(data: bytes) -> tuple:
    """(rows, bad) of results.jsonl's bytes: every line that is a JSON object with a
    `key`, in file order, and (line number, what is wrong) of every other non-empty
    line (a torn last line, a corrupt one)."""
    rows, bad = [], []
    for number, line in enumerate(data.split(b"\n"), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except ValueError:  # not JSON, or not UTF-8
            bad.append((number, "not a JSON row (torn or corrupt)"))
            continue
        if not isinstance(row, dict) or "key" not in row:
            bad.append((number, "not a results row (no key)"))
            continue
        rows.append(row)
    return rows, bad


def finished_keys(results: Path, progress: Progress | None = None) -> set:
    """Keys of the finished rows in results.jsonl. Lines that are not rows (a torn last
    line of a killed sweep, a corrupt one) are cut, each named on `progress`, and
    failed rows (with an `error`) are dropped, so that they run again."""
    if not results.exists():
        return set()
    data = results.read_bytes()
    rows, bad = parse_results(data)
    for number, what in bad:
        if progress is not None:
            progress.warn(f"{results} line {number}: {what}; cut, its run runs again")
    kept = [row for row in rows if "error" not in row]
    text = "".join(json.dumps(row, default=str) + "\n" for row in kept)
    if bad or len(kept) != len(rows):
        results.write_text(text)
    return {row["key"] for row in kept}


def read_results(out: Path) -> list:
    """The rows of DIR/results.jsonl (lines that are not rows left out)."""
    return checked_results(out)[0]


def checked_results(out: Path) -> tuple:
    """(rows, bad lines) of DIR/results.jsonl, as parse_results."""
    return parse_results((Path(out) / RESULTS).read_bytes())


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
    models = sorted({c.run.cost_model for c in suite.configs})
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
