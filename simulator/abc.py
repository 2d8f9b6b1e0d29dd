"""The small interfaces that strategies, backends and cost models implement.

A Strategy is bound to one block run. A backend drives it: it first calls `prepare`
with the number of workers, then asks `next_task` for work whenever a worker is idle,
calls `start` when the worker begins a task (the strategy executes it for real, against
memory as it stands at that instant, and says how long it takes), and `finish` when the
task's time is up (its effects become visible then; it may hand the same worker a
follow-up task). The run ends when `done`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import ClassVar

from .scheduler import Task


class Strategy(ABC):
    name: ClassVar[str]
    description: ClassVar[str]
    options: ClassVar[tuple] = ()  # params.Param each: constructor keywords
    shared_queue: ClassVar[bool] = True  # workers take tasks from a shared queue or
    # cursors, paying the cost model's SCHEDULE per task (see backends/simulated.py)

    def __init__(self, env, cost_model, metrics) -> None:
        self.env = env
        self.cost_model = cost_model
        self.metrics = metrics

    def prepare(self, threads: int) -> None:
        """Called by the backend before the run, with the number of workers."""

    @abstractmethod
    def next_task(self) -> Task | None:
        """A task for an idle worker, or None when none is available now."""

    @abstractmethod
    def start(self, worker: int, task: Task) -> tuple:
        """Begin `task` on `worker`: returns (duration in seconds, event kind)."""

    @abstractmethod
    def finish(self, worker: int, task: Task) -> Task | None:
        """`task` on `worker` is over: apply its effects; maybe a follow-up task."""

    @abstractmethod
    def done(self) -> bool:
        """Every transaction has its final, validated incarnation."""

    @abstractmethod
    def final_incarnations(self) -> list:
        """Each transaction's final incarnation, in block order."""


class Backend(ABC):
    name: ClassVar[str]

    @abstractmethod
    def run(self, strategy: Strategy, threads: int, metrics, progress=None) -> float:
        """Drive `strategy` on `threads` workers; returns the makespan in seconds.
        `progress.update(1)` is called as each transaction's first execution ends."""
