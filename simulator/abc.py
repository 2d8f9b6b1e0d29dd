"""The small interfaces that strategies, backends and cost models implement.

A Strategy is a state machine bound to one block run; a backend drives it and decides
where executions happen. The backend first calls `prepare` with the number of workers,
then asks `next_task` for work whenever a worker is idle and calls `start` when the
worker begins a task. `start` is a generator (a `TaskRun`): it yields an `Execute`
request whenever the task needs a transaction executed in py-evm, against the
multi-version memory as it stands at that instant, receives the `Incarnation`, and
finally returns (duration, EventKind): the duration is what the run's cost model
charged, a `Cost` (work on the worker, then time holding the run's one serialized
resource; for a strategy with yielding reads, first latency spent off any worker,
`io`) or seconds of work; a strategy passes the cost model's values on or adds
them, never makes its own. Executing a request is a pure step: the simulated backend
does it in-process, the processes backend in a worker process over a replica of the
memory. Everything else a task does (validating
read sets, bookkeeping) runs in the strategy. `finish` is called when the task's time
is up: its effects become visible then, and it may hand the same worker a follow-up
task. The run ends when `done`.

A strategy whose reads yield their worker (Monad's fibers: a database read hands
the fiber to the I/O thread and frees its thread) returns a Cost with an `io` part:
the simulated backend frees the worker at once, calls `reads_done` after `io`
seconds, and runs the rest of the task (its work and shared parts) on whichever
worker `next_task` then hands it to; `reads_in_flight` says how many such reads the
strategy can have outstanding at most (the bound's, engine/metrics.py).

Invariants: a Task names a transaction and the incarnation it concerns; a TaskRun
yields only `Execute` requests, each for the task's own transaction (the processes
backend checks this); only a strategy whose `reads_in_flight` is not None returns a
Cost with an `io` part.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from enum import StrEnum
from typing import ClassVar, Generator


class TaskKind(StrEnum):
    EXECUTION = "execution"
    VALIDATION = "validation"
    COMMIT = "commit"  # in-order strategies: validate, re-execute if stale, merge
    WARM_UP = "warm-up"  # load state ahead of execution: the oracle (a transaction's),
    # bal (one location of its access list, `part`)


class EventKind(StrEnum):
    """What a finished task turned out to be (timelines, metrics)."""
    EXECUTION = "execution"  # a transaction's first incarnation, run to the end
    RE_EXECUTION = "re-execution"
    SUSPENDED = "suspended"  # stopped by an ESTIMATE, resumed later
    ABORTED = "aborted"  # stopped by an ESTIMATE and abandoned, retried later
    INVALID = "invalid"  # py-evm rejected it on stale reads
    VALIDATION = "validation"
    FAILED_VALIDATION = "failed-validation"
    WARM_UP = "warm-up"


# The event kinds that are an execution of a transaction in py-evm.
EXECUTION_EVENTS = frozenset({EventKind.EXECUTION, EventKind.RE_EXECUTION,
                              EventKind.SUSPENDED, EventKind.ABORTED, EventKind.INVALID})


@dataclass(frozen=True)
class Task:
    kind: TaskKind
    tx: int
    incarnation: int
    part: int = 0  # which part of the transaction's work (bal: the location prefetched)


@dataclass(frozen=True)
class Execute:
    """A request: execute transaction `tx` as `incarnation` against the memory now
    (`assume_nonce`: with its sender's nonce assumed, engine/versioned_state.py)."""
    tx: int
    incarnation: int
    assume_nonce: bool = False


@dataclass(frozen=True)
class Cost:
    """A task's duration under the run's cost model, in seconds: `work` on the task's
    own worker, then `shared` holding the run's one serialized resource (the scheduler's
    shared counters and the multi-version memory's inserts: the simulated backend
    queues tasks for it in the order their work ends, so its rate caps throughput);
    `io`, before the work, latency the task waits out without holding a worker (a
    yielding read, see the module docstring). Costs add up; a bare number is a Cost
    with no shared part (`as_cost`)."""

    work: float
    shared: float = 0.0
    io: float = 0.0

    def __add__(self, other) -> "Cost":
        other = as_cost(other)
        return Cost(self.work + other.work, self.shared + other.shared, self.io + other.io)

    __radd__ = __add__

    @property
    def total(self) -> float:
        return self.work + self.shared + self.io

    def yielded(self) -> "Cost":
        """The same cost with its work waited out off the worker (a load whose read
        yields the worker: its latency holds no thread)."""
        return Cost(0.0, self.shared, self.io + self.work)


def as_cost(value) -> Cost:
    """A Cost, or a number of seconds of work as a Cost."""
    return value if isinstance(value, Cost) else Cost(float(value))


TaskRun = Generator[Execute, object, tuple]  # receives Incarnations; returns
# (duration under the run's cost model: a Cost or seconds of work, EventKind)


def completed(duration: float, kind: EventKind) -> TaskRun:
    """A TaskRun that executes nothing."""
    yield from ()
    return duration, kind


def run_inline(run: TaskRun, perform) -> tuple:
    """Drive `run` to its end, performing each request with `perform(request)`."""
    try:
        request = next(run)
        while True:
            request = run.send(perform(request))
    except StopIteration as stop:
        return stop.value


class Strategy(ABC):
    name: ClassVar[str]
    description: ClassVar[str]
    options: ClassVar[tuple] = ()  # params.Param each: constructor keywords
    shared_queue: ClassVar[bool] = True  # workers take tasks from a shared queue or
    # cursors, paying the cost model's SCHEDULE per task (see backends/simulated.py)
    shipped_threads: ClassVar[int | None] = None  # a seed system's worker count as it
    # ships (the report's "as shipped" table); None: not a shipped system

    def __init__(self, env, cost_model, metrics) -> None:
        self.env = env
        self.cost_model = cost_model
        self.metrics = metrics

    @classmethod
    def check_options(cls, options: dict) -> None:
        """Refuse a combination of options that makes no sense together (ValueError,
        one line); each option's own value is already checked."""

    def prepare(self, threads: int) -> None:
        """Called by the backend before the run, with the number of workers."""

    @abstractmethod
    def next_task(self) -> Task | None:
        """A task for an idle worker, or None when none is available now."""

    @abstractmethod
    def start(self, worker: int, task: Task) -> TaskRun:
        """Begin `task` on `worker` (see the module docstring)."""

    @abstractmethod
    def finish(self, worker: int, task: Task) -> Task | None:
        """`task` on `worker` is over: apply its effects; maybe a follow-up task."""

    @abstractmethod
    def done(self) -> bool:
        """Every transaction has its final, validated incarnation."""

    @abstractmethod
    def final_incarnations(self) -> list:
        """Each transaction's final incarnation, in block order."""

    def reads_done(self, task: Task) -> None:
        """`task`'s yielded reads (its Cost's `io`) are back: offer it again from
        `next_task`, where it ranks; the backend then runs the rest of it."""
        raise NotImplementedError(f"{self.name} has no yielding reads")

    def reads_in_flight(self) -> int | None:
        """How many yielded reads (Cost.io) this strategy can have outstanding at most
        (the bound lets that many overlap off the workers); None: its loads hold its
        workers, as they do for every strategy without yielding reads."""
        return None

    def bound_dependencies(self) -> list | None:
        """For each transaction, the lower ones that no schedule of this strategy can
        run it before (the edges of its bound, engine.metrics.dependency_bound); None:
        the true dependency graph of the final read sets."""
        return None


class Backend(ABC):
    name: ClassVar[str]

    @abstractmethod
    def run(self, strategy: Strategy, threads: int, metrics, progress=None) -> float:
        """Drive `strategy` on `threads` workers; returns the makespan in seconds.
        `progress.update(1)` is called as each transaction's first execution ends."""
