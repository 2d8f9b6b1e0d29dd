"""Run metrics: task counters, the per-task event log, conflict attribution and the
dependency bound.

Events are (worker, kind, tx, incarnation, start, end) in virtual seconds, one per task,
for timeline charts; kinds are abc.EventKind (a commit task of the in-order strategies
is a "validation", or the "re-execution" it turned into).

The dependency bound is the best makespan any scheduler could reach on N workers: each
transaction's final incarnation depends on the lower transactions whose writes it
read, so no schedule beats the critical path of that graph, nor the total work / N.
Costs are the run's cost model's, the same for every strategy; a transaction's cold
state loads depend on nothing, so they may run before its dependencies finish (what a
warm re-execution exploits).

A strategy whose reads yield their worker (abc.Strategy.reads_in_flight: Monad's
fibers on the disk tier) is held to the same bound with the loads off the workers:
total work / N counts only the rest, and the loads, at most `io_slots` outstanding at
a time, cannot take less than their total / io_slots. Every other strategy's loads
occupy a worker, as they do in its runs.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from heapq import heapify, heappop, heappush

from ..abc import EXECUTION_EVENTS
from .locations import describe
from .mv_memory import version_writers


@dataclass
class Metrics:
    executions: int = 0
    suspensions: int = 0
    invalid_executions: int = 0
    validations: int = 0
    validation_failures: int = 0
    sequential_fallbacks: int = 0  # block-stm under pevm's rules ran the block sequentially
    busy_time: float = 0.0
    events: list = field(default_factory=list)
    io_waits: list = field(default_factory=list)  # (tx, start, end) of each task's
    # yielded reads, off any worker (abc.Cost.io; only strategies with yielding reads)
    abort_locations: Counter = field(default_factory=Counter)
    suspension_locations: Counter = field(default_factory=Counter)
    # tx -> Counter of the locations that aborted or suspended its executions
    tx_conflicts: dict = field(default_factory=dict)

    def aborted(self, tx: int, location) -> None:
        """An execution of `tx` was aborted (stale read, or an ESTIMATE) at `location`."""
        self.abort_locations[location] += 1
        self.tx_conflicts.setdefault(tx, Counter())[location] += 1

    def suspended(self, tx: int, location) -> None:
        """An execution of `tx` was suspended on an ESTIMATE at `location`."""
        self.suspension_locations[location] += 1
        self.tx_conflicts.setdefault(tx, Counter())[location] += 1

    def event(self, worker: int, kind: str, tx: int, incarnation: int,
              start: float, end: float) -> None:
        self.events.append((worker, kind, tx, incarnation, start, end))
        self.busy_time += end - start

    def io_wait(self, tx: int, start: float, end: float) -> None:
        """A task of `tx` waited on its yielded reads from `start` to `end`."""
        self.io_waits.append((tx, start, end))

    def executions_per_tx(self, size: int) -> list:
        """How many times each of the block's `size` transactions was executed."""
        executions = [0] * size
        for _, kind, tx, *_ in self.events:
            if kind in EXECUTION_EVENTS:
                executions[tx] += 1
        return executions

    def conflict_locations(self) -> list:
        """Every location that aborted or suspended an execution, in a fixed order."""
        return sorted(set(self.abort_locations) | set(self.suspension_locations), key=repr)

    def conflicts(self, labels: dict, limit: int = 10, names: dict | None = None) -> list:
        """The locations that caused the most aborts and suspensions; `label` is the
        hand-written label if any, else the derived name from `names`."""
        total = self.abort_locations + self.suspension_locations
        rows = []
        names = names or {}
        for location, count in sorted(total.items(), key=lambda kv: (-kv[1], repr(kv[0])))[:limit]:
            rows.append({
                "location": describe(location),
                "name": names.get(location, ""),
                "label": labels.get(location) or names.get(location, ""),
                "aborts": self.abort_locations[location],
                "suspensions": self.suspension_locations[location],
            })
        return rows


def dependency_bound(incarnations, parts, threads: int, schedule: float = 0.0,
                     load_latency: float = 0.0, serialized: float = 0.0,
                     edges: list | None = None, io_slots: int | None = None) -> float:
    """The least makespan any schedule can reach on `threads` workers: max(critical
    path of the true dependency graph, total work / threads), each transaction executed
    exactly once at its cost under the run's cost model. `parts` is the cost model's
    (loads, rest) per transaction. Total work counts every load, every rest and one
    scheduling cost per transaction. On the critical path a transaction's rest waits
    for the transactions whose writes it read, and for its cold state, which depends on
    nothing: any workers may load it from t = 0, in parallel, so it is ready after one
    load (`load_latency`, at most its own loads). Nor can any schedule beat the
    serialized resource's time, `serialized` (cost_model.serialized). `edges` (for
    each transaction, the lower ones it waits for) replaces the true graph: a
    strategy's own bound (Strategy.bound_dependencies; a block access list removes
    every edge). `io_slots` (Strategy.reads_in_flight): the loads wait off the workers,
    at most that many at a time (see the module docstring)."""
    return DependencyBound(incarnations, parts, threads, schedule, load_latency,
                           serialized, edges, io_slots).makespan()


def read_writers(reads: dict) -> list:
    """The transactions whose writes a read set saw (the dependency edges into it)."""
    return [writer for version in reads.values() for writer in version_writers(version)]


class DependencyBound:
    """dependency_bound of a block's graph, and of that graph with some transactions'
    read sets replaced (`makespan(changed)`, what whatif.py asks for each candidate
    location): only the transactions downstream of a change are recomputed, in
    transaction order, with exactly the arithmetic of the full computation, so both
    give the same floats."""

    def __init__(self, incarnations, parts, threads: int, schedule: float = 0.0,
                 load_latency: float = 0.0, serialized: float = 0.0,
                 edges: list | None = None, io_slots: int | None = None) -> None:
        self.start = [min(loads, load_latency) for loads, _ in parts]
        self.rest = [rest for _, rest in parts]
        self.writers = (edges if edges is not None else
                        [read_writers(incarnation.reads) for incarnation in incarnations])
        self.readers: list = [[] for _ in self.writers]  # tx -> the txs that read it
        self.finish: list = []
        for tx, writers in enumerate(self.writers):
            for writer in writers:
                self.readers[writer].append(tx)
            self.finish.append(self._finish(tx, writers, self.finish))
        self.latest = sorted(range(len(self.finish)), key=lambda tx: -self.finish[tx])
        if io_slots is None:  # the loads hold workers
            work = sum(loads + rest for loads, rest in parts) + schedule * len(parts)
            self.floor = max(work / threads, serialized)
        else:  # yielded: off the workers, at most io_slots at a time
            work = sum(rest for _, rest in parts) + schedule * len(parts)
            self.floor = max(work / threads, sum(loads for loads, _ in parts) / io_slots,
                             serialized)

    def _finish(self, tx: int, writers, finish) -> float:
        ready = self.start[tx]
        for writer in writers:
            if finish[writer] > ready:
                ready = finish[writer]
        return ready + self.rest[tx]

    def makespan(self, changed: dict | None = None) -> float:
        """The bound; with `changed` (tx -> its replacement read set), the bound of the
        graph where those transactions read that instead."""
        changed = changed or {}
        moved: dict = {}  # tx -> its finish where it differs from self.finish

        class Finish:  # finish times of the changed graph, read through `moved`
            def __getitem__(_, tx):
                return moved.get(tx, self.finish[tx])

        finish = Finish()
        queue = sorted(changed)
        queued = set(queue)
        heapify(queue)
        while queue:
            tx = heappop(queue)
            writers = read_writers(changed[tx]) if tx in changed else self.writers[tx]
            value = self._finish(tx, writers, finish)
            if value != finish[tx]:
                moved[tx] = value
                for reader in self.readers[tx]:
                    if reader not in queued:
                        queued.add(reader)
                        heappush(queue, reader)
        unmoved = next((self.finish[tx] for tx in self.latest if tx not in moved), 0.0)
        return max(max(moved.values(), default=unmoved), unmoved, self.floor)
