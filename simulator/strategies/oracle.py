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
              `warm-up`, `warm-up-first`: when the cost model charges cold state loads,
              each transaction also has a warm-up job with no dependencies that loads
              the state it reads from the pre-block state (cost_model.split, the
              same split the dependency bound uses), and its execution then finds
              that state warm. `warm-up` orders both jobs of a transaction by its
              priority; `warm-up-first` puts executions first.
  So the oracle can hide state loading exactly as any strategy whose first execution
  warms the state for a cheaper re-execution can.
  If no plan beats running the block sequentially as a plain EVM (one worker, no
  multi-version bookkeeping, no shared queue: what `serial` does and what pevm falls
  back to), the oracle does that (mode `sequential`).

Why no strategy beats it: every real strategy runs each transaction's final
incarnation after the final incarnations of its dependencies, at no less than the
oracle's execution cost, and pays at least one full execution (or warm-up plus
execution) per transaction. The greedy rules are heuristics, so the oracle's margin is
checked empirically (tests/test_strategies.py), not proved. Two strategies are beyond
it: `bal` (its access list removes every dependency) and `monad` with state on an SSD
(its fibers' reads yield their threads, while the oracle's loads, warm-ups included,
hold its workers); each is held to its own bound (engine/metrics.py).
"""

from __future__ import annotations

import heapq
from functools import partial

from ..abc import EventKind, Strategy, Task, TaskKind, TaskRun, completed
from ..backends.simulated import SimulatedBackend
from ..costs.cost_model import priced
from ..engine.block_memo import remembered
from ..engine.metrics import Metrics
from .base import SpeculativeStrategy
from .prepass import serial_prepass, true_dependencies

PRIORITIES = ("index", "critical-path", "longest-first", "roots-first")
MODES = ("single", "warm-up", "warm-up-first")
EXECUTION, WARM_UP = TaskKind.EXECUTION, TaskKind.WARM_UP
SEQUENTIAL = "sequential"


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
        warm = mode in MODES[1:]
        self.unmet = [len(before) + warm for before in dependencies]
        self.ready: list = []
        for tx in range(n):
            if warm:
                self._push(WARM_UP, tx)
            elif not self.unmet[tx]:
                self._push(EXECUTION, tx)
        self.remaining = n

    def order(self) -> tuple:
        """The transactions by priority, highest first: with the mode, all that the
        schedule depends on of its priority (the ready heap compares keys only)."""
        return tuple(sorted(range(len(self.key)), key=self.key.__getitem__))

    def _push(self, kind: TaskKind, tx: int) -> None:
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

    def __init__(self, schedule: ListSchedule, durations, cost_model) -> None:
        self.schedule = schedule
        self.durations = durations
        self.cost_model = cost_model  # for the backend's scheduling cost

    def next_task(self) -> Task | None:
        return self.schedule.next()

    def start(self, worker: int, task: Task) -> TaskRun:
        return completed(self.durations(task), EventKind(task.kind))

    def finish(self, worker: int, task: Task) -> Task | None:
        self.schedule.finished(task)
        return None

    def done(self) -> bool:
        return not self.schedule.remaining

    def final_incarnations(self) -> list:
        return []


def best_plan(dependencies, incarnations, cost_model, threads: int, block=None) -> tuple:
    """(makespan, (priority, mode)) of the best plan for executing `incarnations` under
    the dependency graph `dependencies` on `threads` workers: dry runs of every list
    schedule, each under a fresh copy of `cost_model` (the same loads in the same order
    as a real run makes), and the sequential plan. Nothing is executed. Given the
    `block` they are of, the plan is kept for the same inputs (the graph, the model's
    identity, the workers and what the model reads of each incarnation, block_memo.py)."""
    identity = cost_model.identity()
    if block is None or identity is None:
        return _best_plan(dependencies, incarnations, cost_model, threads)
    key = (identity, threads, tuple(map(tuple, dependencies)),
           tuple(map(priced, incarnations)))
    return remembered(block, best_plan, key,
                      lambda: _best_plan(dependencies, incarnations, cost_model, threads))


def _best_plan(dependencies, incarnations, cost_model, threads: int) -> tuple:
    parts = cost_model.split(incarnations)
    costs = [loads + rest for loads, rest in parts]
    modes = MODES if any(loads for loads, _ in parts) else MODES[:1]
    best = None
    planned = set()  # (job order, mode) of the plans dry-run so far
    for plan in ((priority, mode) for priority in PRIORITIES for mode in modes):
        schedule = ListSchedule(dependencies, costs, *plan)
        # Two priorities that order the transactions alike make the same schedule and
        # so the same makespan, which cannot beat the first one's (with no
        # dependencies, roots-first is block order and critical-path longest-first).
        alike = (schedule.order(), plan[1])
        if alike in planned:
            continue
        planned.add(alike)
        planner = _Plan(schedule, partial(_planned, incarnations, cost_model.fresh()),
                        cost_model)
        makespan = SimulatedBackend().run(planner, threads, Metrics())
        if best is None or makespan < best[0]:
            best = (makespan, plan)
    sequential = sum(cost_model.serial_costs(incarnations))
    if sequential <= best[0]:
        best = (sequential, ("index", SEQUENTIAL))
    return best


def _planned(incarnations, model, task: Task) -> float:
    """A job's duration in a dry run under `model`."""
    if task.kind == WARM_UP:
        return model.preload(incarnations[task.tx])
    return model.execution(incarnations[task.tx])


class Oracle(SpeculativeStrategy):
    name = "oracle"
    description = "upper bound: the true dependency graph list-scheduled on N workers"

    def __init__(self, env, cost_model, metrics) -> None:
        super().__init__(env, cost_model, metrics)
        self.prepass = serial_prepass(env)
        self.dependencies = true_dependencies(self.prepass)
        self._running: dict = {}

    def prepare(self, threads: int) -> None:
        """Pick the plan with the shortest dry-run makespan on `threads` workers."""
        self.plan = best_plan(self.dependencies, self.prepass, self.cost_model, threads,
                              self.env.block)[1]
        self.shared_queue = not self.sequential
        costs = [loads + rest for loads, rest in self.cost_model.split(self.prepass)]
        self.schedule = ListSchedule(self.dependencies, costs, *self.plan)

    @property
    def sequential(self) -> bool:
        return self.plan[1] == SEQUENTIAL

    def done(self) -> bool:
        return not self.schedule.remaining

    def next_task(self) -> Task | None:
        if self.sequential and self._running:
            return None
        return self.schedule.next()

    def start(self, worker: int, task: Task) -> TaskRun:
        if task.kind == WARM_UP:
            return self.cost_model.preload(self.prepass[task.tx]), EventKind.WARM_UP
        incarnation, kind = yield from self.execute(task.tx, 0)
        self._running[worker] = incarnation
        if self.sequential:
            return self.cost_model.sequential(incarnation), kind
        return self.cost_model.execution(incarnation), kind

    def finish(self, worker: int, task: Task) -> Task | None:
        if task.kind == EXECUTION:
            incarnation = self._running.pop(worker)
            self.mv.record(task.tx, 0, incarnation.writes, incarnation.deltas)
            self.last[task.tx] = incarnation
        self.schedule.finished(task)
        return None
