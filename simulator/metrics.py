"""Run metrics: task counters, the per-task event log, conflict attribution and the
dependency bound.

Events are (worker, kind, tx, incarnation, start, end) in virtual seconds, one per task,
for timeline charts. Kinds: "execution" (a transaction's first incarnation),
"re-execution", "suspended" (an execution stopped by an ESTIMATE), "invalid" (py-evm
rejected it, on stale reads) and "validation" / "failed-validation".

The dependency bound is the best makespan any scheduler could reach on N workers: each
transaction's final incarnation depends on the lower transactions whose writes it
read, so no schedule beats the critical path of that graph, nor the total work / N.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from .locations import describe


@dataclass
class Metrics:
    executions: int = 0
    suspensions: int = 0
    invalid_executions: int = 0
    validations: int = 0
    validation_failures: int = 0
    busy_time: float = 0.0
    events: list = field(default_factory=list)
    abort_locations: Counter = field(default_factory=Counter)
    suspension_locations: Counter = field(default_factory=Counter)

    def event(self, worker: int, kind: str, tx: int, incarnation: int,
              start: float, end: float) -> None:
        self.events.append((worker, kind, tx, incarnation, start, end))
        self.busy_time += end - start

    def conflicts(self, labels: dict, limit: int = 10) -> list:
        """The locations that caused the most aborts and suspensions."""
        total = self.abort_locations + self.suspension_locations
        rows = []
        for location, count in sorted(total.items(), key=lambda kv: (-kv[1], repr(kv[0])))[:limit]:
            rows.append({
                "location": describe(location),
                "label": labels.get(location, ""),
                "aborts": self.abort_locations[location],
                "suspensions": self.suspension_locations[location],
            })
        return rows


def dependency_bound(incarnations, costs, threads: int) -> float:
    """max(critical path of the true dependency graph, total work / threads)."""
    finish = []
    for incarnation, cost in zip(incarnations, costs):
        ready = 0.0
        for version in incarnation.reads.values():
            if version is None:
                continue
            for writer, _ in (version if isinstance(version[0], tuple) else (version,)):
                if finish[writer] > ready:
                    ready = finish[writer]
        finish.append(ready + cost)
    critical_path = max(finish, default=0.0)
    return max(critical_path, sum(costs) / threads)
