"""Strategy `serial`: the traditional chain, one transaction after another on one
worker, through the same versioned state as every other strategy but costed as a
plain sequential EVM (cost_model.sequential: no multi-version bookkeeping, no shared
queue), so it reproduces the serial baseline exactly. Extra workers stay idle."""

from __future__ import annotations

from ..abc import Strategy
from ..mv_memory import MVMemory
from ..scheduler import EXECUTION, Task


class Serial(Strategy):
    name = "serial"
    description = "serial execution in block order (the traditional chain)"
    shared_queue = False

    def __init__(self, env, cost_model, metrics) -> None:
        super().__init__(env, cost_model, metrics)
        self.mv = MVMemory(len(env.transactions))
        self.last: list = []
        self._running = None

    def next_task(self) -> Task | None:
        if self._running is not None or self.done():
            return None
        return Task(EXECUTION, len(self.last), 0)

    def start(self, worker: int, task: Task) -> tuple:
        self._running = self.env.execute(self.mv, task.tx, 0)
        self.metrics.executions += 1
        return self.cost_model.sequential(self._running), "execution"

    def finish(self, worker: int, task: Task) -> Task | None:
        incarnation, self._running = self._running, None
        self.mv.record(task.tx, 0, incarnation.writes, incarnation.deltas)
        self.last.append(incarnation)
        return None

    def done(self) -> bool:
        return len(self.last) == len(self.env.transactions)

    def final_incarnations(self) -> list:
        return self.last
