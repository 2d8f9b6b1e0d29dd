"""Strategy `serial`: the traditional chain, one transaction after another on one
worker, through the same versioned state as every other strategy but costed as a
plain sequential EVM (cost_model.sequential: no multi-version bookkeeping, no shared
queue), so it reproduces the serial baseline exactly. Extra workers stay idle."""

from __future__ import annotations

from ..abc import EventKind, Task, TaskKind, TaskRun
from .base import SpeculativeStrategy


class Serial(SpeculativeStrategy):
    name = "serial"
    description = "serial execution in block order (the traditional chain)"
    shared_queue = False

    def __init__(self, env, cost_model, metrics) -> None:
        super().__init__(env, cost_model, metrics)
        self.next = 0  # the next transaction to execute
        self._running = None

    def next_task(self) -> Task | None:
        if self._running is not None or self.done():
            return None
        self._running = Task(TaskKind.EXECUTION, self.next, 0)
        return self._running

    def start(self, worker: int, task: Task) -> TaskRun:
        incarnation = yield from self.run_execution(task.tx, 0)
        self.last[task.tx] = incarnation
        return self.cost_model.sequential(incarnation), EventKind.EXECUTION

    def finish(self, worker: int, task: Task) -> Task | None:
        incarnation, self._running = self.last[task.tx], None
        self.mv.record(task.tx, 0, incarnation.writes, incarnation.deltas)
        self.next += 1
        return None

    def done(self) -> bool:
        return self.next == self.size
