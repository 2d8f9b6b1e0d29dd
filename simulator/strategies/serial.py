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


class FallsBackToSerial(SpeculativeStrategy):
    """A parallel strategy that may hand the block, or the rest of it, to a plain
    sequential run (`_fall_back`): from then on every call goes to a `Serial` over
    this strategy's memory (the one every backend executes requests against). A
    subclass implements the parallel run as `_next_task`, `_start`, `_finish` and
    `_done`."""

    sequential: Serial | None = None

    def _fall_back(self, cost_model) -> None:
        self.shared_queue = False  # one worker, block order: no queue to contend
        self.sequential = Serial(self.env, cost_model, self.metrics)
        self.sequential.mv = self.mv
        self.metrics.sequential_fallbacks += 1

    def _next_task(self) -> Task | None:
        raise NotImplementedError

    def _start(self, worker: int, task: Task) -> TaskRun:
        raise NotImplementedError

    def _finish(self, worker: int, task: Task) -> Task | None:
        raise NotImplementedError

    def _done(self) -> bool:
        raise NotImplementedError

    def next_task(self) -> Task | None:
        if self.sequential is not None:
            return self.sequential.next_task()
        return self._next_task()

    def start(self, worker: int, task: Task) -> TaskRun:
        if self.sequential is not None:
            return (yield from self.sequential.start(worker, task))
        return (yield from self._start(worker, task))

    def finish(self, worker: int, task: Task) -> Task | None:
        if self.sequential is not None:
            self.sequential.finish(worker, task)
            # The sequential run hands its one worker the next transaction itself.
            return None if self.sequential.done() else self.sequential.next_task()
        return self._finish(worker, task)

    def done(self) -> bool:
        if self.sequential is not None:
            return self.sequential.done()
        return self._done()

    def final_incarnations(self) -> list:
        if self.sequential is not None:
            return self.sequential.final_incarnations()
        return self.last
