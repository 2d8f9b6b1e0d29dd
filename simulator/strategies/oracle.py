"""Strategy `oracle`: the upper bound, list scheduling over the true dependency graph.

Protocol:
- The true dependency graph comes from the serial pre-pass (prepass.py): transaction i
  depends on every lower transaction whose writes its final read set saw. Each
  transaction is executed exactly once, for real, after all of its dependencies have
  finished, so that execution is final; nothing is ever validated or re-executed.
- The schedule is greedy list scheduling on the backend's N workers: whenever a worker
  is idle it takes the ready job of highest priority. The oracle plans several
  priority rules against the pre-pass costs (dry runs of the simulated backend, no
  execution) and runs the one with the shortest makespan:
    priority  `index` (block order), `critical-path` (longest remaining chain first),
              `longest-first` (costliest transaction first) or `roots-first` (those
              with no dependency first, then block order);
    mode      `single`: one job per transaction;
              `warm-up`, `warm-up-first`: when re-execution is cheaper than execution
              (`reexecution_factor` < 1, by default the cost model's, the same factor
              `monad` gets), each transaction also has a warm-up job with no
              dependencies that loads its state, costing (1 - factor) x its execution,
              and its execution then costs factor x. `warm-up` orders both jobs of a
              transaction by its priority; `warm-up-first` puts executions first.
  So the oracle can hide state loading exactly as any strategy that pays a full first
  execution and a cheap re-execution can, never paying more work than serial.

Why no strategy beats it: every real strategy runs each transaction's final
incarnation after the final incarnations of its dependencies, at no less than the
oracle's execution cost, and pays at least one full execution (or warm-up plus
execution) per transaction. The greedy rules are heuristics, so the oracle's margin is
checked empirically (tests/test_strategies.py), not proved.
"""

from __future__ import annotations

import heapq
from functools import partial

from ..abc import Strategy
from ..backends.simulated import SimulatedBackend
from ..metrics import Metrics
from ..scheduler import EXECUTION, Task
from .base import SpeculativeStrategy
from ..params import Param
from .prepass import serial_prepass, true_dependencies

WARM_UP = "warm-up"
PRIORITIES = ("index", "critical-path", "longest-first", "roots-first")
MODES = ("single", "warm-up", "warm-up-first")


class ListSchedule:
    """Greedy list-scheduling state: which jobs are ready, in priority order."""

    def __init__(self, dependencies, costs, priority: str, mode: str) -> None:
        n = len(dependencies)
        self.successors: list = [[] for _ in range(n)]
        for tx, before in enumerate(dependencies):
            for dependency in before:
                self.successors[dependency].append(tx)
        if priority == "critical-path":
            remaining = list(costs)  # the longest chain from each transaction to the end
            for tx in reversed(range(n)):
                remaining[tx] += max((remaining[s] for s in self.successors[tx]), default=0.0)
            self.key = [(-remaining[tx], tx) for tx in range(n)]
        elif priority == "longest-first":
            self.key = [(-costs[tx], tx) for tx in range(n)]
        elif priority == "roots-first":
            self.key = [(bool(dependencies[tx]), tx) for tx in range(n)]
        else:
            self.key = [(tx,) for tx in range(n)]
        self.mode = mode
        warm = mode != "single"
        self.unmet = [len(before) + warm for before in dependencies]
        self.ready: list = []
        for tx in range(n):
            if warm:
                self._push(WARM_UP, tx)
            elif not self.unmet[tx]:
                self._push(EXECUTION, tx)
        self.remaining = n

    def _push(self, kind: str, tx: int) -> None:
        group = 0 if self.mode != "warm-up-first" or kind == EXECUTION else 1
        heapq.heappush(self.ready, (group, self.key[tx], kind == EXECUTION, tx, kind))

    def next(self) -> Task | None:
        if not self.ready:
            return None
        *_, tx, kind = heapq.heappop(self.ready)
        return Task(kind, tx, 0)

    def finished(self, task: Task) -> None:
        ready = self.successors[task.tx] if task.kind == EXECUTION else [task.tx]
        if task.kind == EXECUTION:
            self.remaining -= 1
        for tx in ready:
            self.unmet[tx] -= 1
            if not self.unmet[tx]:
                self._push(EXECUTION, tx)


class _Plan(Strategy):
    """A dry run of one list schedule: planned durations, nothing executed."""

    name = "oracle-plan"
    description = "a dry run of one oracle schedule"

    def __init__(self, schedule: ListSchedule, durations) -> None:
        self.schedule = schedule
        self.durations = durations

    def next_task(self) -> Task | None:
        return self.schedule.next()

    def start(self, worker: int, task: Task) -> tuple:
        return self.durations(task), task.kind

    def finish(self, worker: int, task: Task) -> Task | None:
        self.schedule.finished(task)
        return None

    def done(self) -> bool:
        return not self.schedule.remaining

    def final_incarnations(self) -> list:
        return []


def job_duration(cost: float, mode: str, kind: str, reexecution_factor: float) -> float:
    """A job's duration under a plan's mode, from its transaction's execution cost."""
    if mode == "single":
        return cost
    return (reexecution_factor if kind == EXECUTION else 1 - reexecution_factor) * cost


def best_plan(dependencies, costs, threads: int, reexecution_factor: float) -> tuple:
    """(dry-run makespan, (priority, mode)) of the best list schedule of a dependency
    graph on `threads` workers: what the oracle reaches, without executing anything."""
    modes = MODES if reexecution_factor < 1 else MODES[:1]
    best = None
    for plan in ((priority, mode) for priority in PRIORITIES for mode in modes):
        schedule = ListSchedule(dependencies, costs, *plan)
        durations = partial(_planned, costs, plan[1], reexecution_factor)
        makespan = SimulatedBackend().run(_Plan(schedule, durations), threads, Metrics())
        if best is None or makespan < best[0]:
            best = (makespan, plan)
    return best


def _planned(costs, mode: str, reexecution_factor: float, task: Task) -> float:
    return job_duration(costs[task.tx], mode, task.kind, reexecution_factor)


class Oracle(SpeculativeStrategy):
    name = "oracle"
    description = "upper bound: the true dependency graph list-scheduled on N workers"
    options = (Param("reexecution_factor", None, "execution cost after a warm-up / full "
                      "cost (default: the cost model's REEXECUTION_FACTOR)", float, 0.0, 1.0),)

    def __init__(self, env, cost_model, metrics, reexecution_factor=None) -> None:
        super().__init__(env, cost_model, metrics)
        prepass = serial_prepass(env)
        self.dependencies = true_dependencies(prepass)
        self.costs = [cost_model.execution(incarnation) for incarnation in prepass]
        self.reexecution_factor = (cost_model.REEXECUTION_FACTOR if reexecution_factor is None
                                   else reexecution_factor)
        self.plan = ("index", "single")
        self.schedule = ListSchedule(self.dependencies, self.costs, *self.plan)
        self._running: dict = {}

    def _duration(self, mode: str, task: Task, incarnation=None) -> float:
        """A job's duration; an execution's from its incarnation when it ran for real."""
        cost = (self.costs[task.tx] if incarnation is None
                else self.cost_model.execution(incarnation))
        return job_duration(cost, mode, task.kind, self.reexecution_factor)

    def prepare(self, threads: int) -> None:
        """Pick the plan with the shortest dry-run makespan on `threads` workers."""
        self.plan = best_plan(self.dependencies, self.costs, threads,
                              self.reexecution_factor)[1]
        self.schedule = ListSchedule(self.dependencies, self.costs, *self.plan)

    def done(self) -> bool:
        return not self.schedule.remaining

    def next_task(self) -> Task | None:
        return self.schedule.next()

    def start(self, worker: int, task: Task) -> tuple:
        if task.kind == WARM_UP:
            return self._duration(self.plan[1], task), WARM_UP
        incarnation, kind = self.execute(task.tx, 0)
        self._running[worker] = incarnation
        return self._duration(self.plan[1], task, incarnation), kind

    def finish(self, worker: int, task: Task) -> Task | None:
        if task.kind == EXECUTION:
            incarnation = self._running.pop(worker)
            self.mv.record(task.tx, 0, incarnation.writes, incarnation.deltas)
            self.last[task.tx] = incarnation
        self.schedule.finished(task)
        return None
