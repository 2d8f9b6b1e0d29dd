"""Run metrics: task counters, the per-task event log, conflict attribution and the
dependency bound.

Events are (worker, kind, tx, incarnation, start, end) in virtual seconds, one per task,
for timeline charts. Kinds: "execution" (a transaction's first incarnation),
"re-execution", "suspended" (an execution stopped by an ESTIMATE), "aborted" (one
stopped by an ESTIMATE and abandoned, retried later), "invalid" (py-evm rejected it, on
stale reads), "validation" / "failed-validation" (in-order strategies: a commit that
validated, or that re-executed, as "re-execution") and "warm-up" (the oracle loading a
transaction's state).

The dependency bound is the best makespan any scheduler could reach on N workers: each
transaction's final incarnation depends on the lower transactions whose writes it
read, so no schedule beats the critical path of that graph, nor the total work / N.
Costs are the run's cost model's, the same for every strategy; a transaction's cold
state loads depend on nothing, so they may run before its dependencies finish (what a
warm re-execution exploits).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from .locations import describe
from .mv_memory import version_writers

# The event kinds that are an execution of a transaction in py-evm.
EXECUTION_KINDS = ("execution", "re-execution", "suspended", "aborted", "invalid")


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

    def executions_per_tx(self, size: int) -> list:
        """How many times each of the block's `size` transactions was executed."""
        executions = [0] * size
        for _, kind, tx, *_ in self.events:
            if kind in EXECUTION_KINDS:
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
                     load_latency: float = 0.0) -> float:
    """The least makespan any schedule can reach on `threads` workers: max(critical
    path of the true dependency graph, total work / threads), each transaction executed
    exactly once at its cost under the run's cost model. `parts` is the cost model's
    (loads, rest) per transaction. Total work counts every load, every rest and one
    scheduling cost per transaction. On the critical path a transaction's rest waits
    for the transactions whose writes it read, and for its cold state, which depends on
    nothing: any workers may load it from t = 0, in parallel, so it is ready after one
    load (`load_latency`, at most its own loads)."""
    finish = []
    for incarnation, (loads, rest) in zip(incarnations, parts):
        ready = min(loads, load_latency)
        for version in incarnation.reads.values():
            for writer in version_writers(version):
                if finish[writer] > ready:
                    ready = finish[writer]
        finish.append(ready + rest)
    critical_path = max(finish, default=0.0)
    work = sum(loads + rest for loads, rest in parts) + schedule * len(parts)
    return max(critical_path, work / threads)
