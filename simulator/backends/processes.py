"""The `processes` backend: real parallel execution on N operating-system processes.

The coordinator (this process) runs the strategy, unchanged: it hands out tasks, runs
each task's own logic (validations re-read the coordinator's multi-version memory,
which holds every read set) and applies finished tasks. Each `Execute` request a task
makes is sent to that task's worker process, which executes the transaction for real in
py-evm against its replica of the multi-version memory and sends the Incarnation back.

Workers are forked after the block, its pre-state, its recovered senders and the
strategy's pre-pass exist, so they share them copy-on-write and build nothing. The
replicas follow the coordinator's memory through an append-only journal: every
`record` and `convert_writes_to_estimates` of the coordinator's MVMemory is appended
to it once (mv_memory.py), and a request carries the entries its worker has not seen
yet, so a worker's replica equals the coordinator's memory as it stood when the task
started: the simulated backend's semantics (reads when a task starts, effects when it
ends), with real time and real concurrency.

Pipelining: the coordinator keeps up to `pipeline` requests queued on each worker
process (default 2). The strategy sees N x pipeline slots (slot s runs on process
s mod N) and hands tasks to them as to workers; a process executes its requests in
order, so while it executes one, the next waits in its pipe and the round trip to the
coordinator (answer, bookkeeping, validation, the next request) overlaps execution
instead of idling the worker. A queued request reads the memory as it stood when it
was sent, which may be staler than a thread of the real algorithm would see: the
strategy's validation catches it as any stale read, at the cost of re-executions
(`pipeline=1` gives each process one task at a time, the N-worker schedule exactly).
Timelines put each task on its process: an execution spans its worker's own time on
it, a task that executed nothing (a validation) the coordinator's, which may overlap
the process's next execution.

Where time goes (independent ERC-20 transfers, Block-STM, 2 workers on 2 cores,
`observations`): per task the coordinator spends about 0.1 ms (unpickling the
Incarnation, about 0.9 kB, the strategy's bookkeeping and validations, pickling the
next request with its journal entries), 10-15% of an execution in py-evm; a worker
spends about 0.07 ms between executions (pickling its answer, reading and applying the
next request). Without pipelining each task also waited about 0.3 ms for the round
trip. The garbage collector is paused in the coordinator and the workers during the
run, as while timing serial py-evm; in forked workers it would also copy the shared
pages it scans.

Failure handling: a worker that dies (killed, out of memory, an exception) ends the run
with RunFailure naming the worker and the transaction it held; a run past its
`timeout` ends the same way; on any exit, KeyboardInterrupt included, every worker is
terminated and reaped. Workers ignore SIGINT (the coordinator stops them) and exit on
their own when the coordinator's end of the pipe closes.

Invariants: each process has at most `pipeline` requests outstanding, answered in the
order sent; a request's journal entries are exactly those appended since its
process's previous request; a process's replica, once it has applied a request's
entries, equals the coordinator's memory at that request's dispatch.
"""

from __future__ import annotations

import gc
import pickle
import random
import selectors
import signal
import time
import traceback
from collections import deque
from dataclasses import dataclass, field
from multiprocessing import get_context

from .. import debug
from ..abc import Backend, EventKind, Execute, Strategy
from ..engine.mv_memory import apply_journal
from ..engine.preimages import current_table
from ..usage import RunFailure

PROTOCOL = pickle.HIGHEST_PROTOCOL
DEFAULT_PIPELINE = 2


@dataclass
class Observation:
    """What the coordinator saw of one task, in real seconds from the run's start.
    A task that executed spans its worker's time on it (from taking up its first
    request to answering its last); one that did not, the coordinator's."""
    worker: int
    kind: EventKind
    tx: int
    incarnation: int
    start: float
    end: float
    execute_s: float = 0.0  # py-evm execution time in the worker (0: no execution)
    sync_s: float = 0.0  # the worker applying journal entries to its replica
    gap_s: float | None = None  # the worker's time from its previous execution's end
    # to this one's start, less sync (None for a worker's first execution)


@dataclass
class Observations:
    tasks: list = field(default_factory=list)  # Observation per task
    wall_s: float = 0.0
    coordinator_busy_s: float = 0.0  # wall time outside waiting for workers


def _worker_main(index: int, connection, env, mv, jitter: float, seed: int) -> None:
    """A worker: apply the journal entries, execute, answer; until told to stop.
    Its answer carries perf_counter times, which are the same clock in every process."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    gc.disable()  # as while timing serial py-evm (runs/real.py, time_serial); also keeps the
    # collector from touching, and so copying, the pages shared with the coordinator
    rng = random.Random(f"jitter:{seed}:{index}")
    previous_end = None
    while True:
        try:
            message = connection.recv_bytes()
        except (EOFError, OSError):
            return  # the coordinator is gone
        request, entries = pickle.loads(message)
        if request is None:
            connection.send_bytes(pickle.dumps(current_table(), PROTOCOL))
            return
        try:
            began = time.perf_counter()
            apply_journal(mv, entries)
            synced = time.perf_counter()
            if jitter:
                time.sleep(rng.uniform(0.0, jitter))
            executing = time.perf_counter()
            incarnation = env.execute(mv, request.tx, request.incarnation,
                                      request.assume_nonce)
            executed = time.perf_counter()
            gap = None if previous_end is None else began - previous_end
            previous_end = executed
            answer = (incarnation, began, executing, executed, synced - began, gap)
        except BaseException as exc:  # report it, then die: the run cannot go on
            line = traceback.format_exception_only(type(exc), exc)[-1].strip()
            connection.send_bytes(pickle.dumps(("error", line), PROTOCOL))
            return
        connection.send_bytes(pickle.dumps(answer, PROTOCOL))


class ProcessesBackend(Backend):
    name = "processes"

    def __init__(self, timeout: float | None = None, jitter: float = 0.0,
                 seed: int = 0, pipeline: int = DEFAULT_PIPELINE) -> None:
        """`timeout`: seconds the run may take; `jitter`: each execution first sleeps
        a random 0..jitter seconds (seeded), to shake out races in tests; `pipeline`:
        requests a worker process holds at once (see the module docstring)."""
        if pipeline < 1:
            raise ValueError(f"pipeline must be at least 1, not {pipeline}")
        self.timeout = timeout
        self.jitter = jitter
        self.seed = seed
        self.pipeline = pipeline
        self.observations = Observations()

    def run(self, strategy: Strategy, threads: int, metrics, progress=None) -> float:
        strategy.prepare(threads)
        mv = strategy.mv
        journal: list = []
        context = get_context("fork")
        pipes, processes = [], []
        try:
            mv.journal = None  # the replicas start as forked copies of the memory
            for index in range(threads):
                ours, theirs = context.Pipe()
                process = context.Process(
                    target=_worker_main, name=f"pevmsim-worker-{index}", daemon=True,
                    args=(index, theirs, strategy.env, mv, self.jitter, self.seed))
                process.start()
                theirs.close()
                pipes.append(ours)
                processes.append(process)
            mv.journal = journal
            enabled = gc.isenabled()
            gc.disable()  # as while timing serial py-evm (runs/real.py, time_serial)
            try:
                makespan = _Coordinator(self, strategy, metrics, progress, pipes,
                                        processes, journal).drive()
            finally:
                if enabled:
                    gc.enable()
            for index, pipe in enumerate(pipes):  # the preimages the workers recorded
                pipe.send_bytes(pickle.dumps((None, ()), PROTOCOL))
                table = current_table()
                worker_table = pickle.loads(pipe.recv_bytes())
                if table is not None and worker_table:
                    table.update(worker_table)
            return makespan
        finally:
            mv.journal = None
            _stop(processes, pipes)


def _stop(processes, pipes) -> None:
    """Terminate and reap every worker, whatever state it is in."""
    for pipe in pipes:
        pipe.close()
    for process in processes:
        if process.is_alive():
            process.terminate()
    deadline = time.monotonic() + 5.0
    for process in processes:
        process.join(max(0.0, deadline - time.monotonic()))
        if process.is_alive():
            process.kill()
            process.join()


@dataclass
class _Timing:
    """A task's last execution as its worker timed it (None/0: it executed nothing)."""
    end: float | None = None
    execute_s: float = 0.0
    sync_s: float = 0.0
    gap_s: float | None = None


@dataclass
class _InFlight:
    """A task whose run waits on an execution request sent to a worker process."""
    slot: int
    task: object
    run: object
    start: float | None = None  # the task's start (None: its worker's first answer)
    timing: _Timing = field(default_factory=_Timing)


class _Coordinator:
    def __init__(self, backend: "ProcessesBackend", strategy, metrics, progress, pipes,
                 processes, journal) -> None:
        """`backend` gives the run's timeout, pipeline depth and observations."""
        pipeline = backend.pipeline
        self.strategy = strategy
        self.metrics = metrics
        self.progress = progress
        self.pipes = pipes
        self.processes = processes
        self.journal = journal
        self.synced = [0] * len(pipes)  # journal entries each process has been sent
        self.queues = [deque() for _ in pipes]  # each process's requests, in order
        self.idle = list(range(len(pipes) * pipeline))  # slot s is on process s % N
        self.pipeline = pipeline
        self.timeout = backend.timeout
        self.observations = backend.observations

    def now(self) -> float:
        return time.perf_counter() - self.started

    def drive(self) -> float:
        self.started = time.perf_counter()
        deadline = None if self.timeout is None else self.started + self.timeout
        with selectors.DefaultSelector() as selector:  # registered once: cheap to poll
            for worker, (pipe, process) in enumerate(zip(self.pipes, self.processes)):
                selector.register(pipe, selectors.EVENT_READ, (worker, True))
                selector.register(process.sentinel, selectors.EVENT_READ, (worker, False))
            waiting = self._loop(selector, deadline)
        wall = self.now()
        self.observations.wall_s = wall
        self.observations.coordinator_busy_s = wall - waiting
        return wall

    def _loop(self, selector, deadline) -> float:
        """Hand out tasks and take answers until the block is done; returns the
        seconds spent waiting for workers."""
        strategy = self.strategy
        waiting = 0.0
        while True:
            while self.idle and not strategy.done():
                task = strategy.next_task()
                if task is None:
                    break
                self.begin(self.idle.pop(0), task)
            if not any(self.queues):
                if strategy.done():
                    return waiting
                raise RuntimeError(f"{strategy.name}: no task in flight, none to start, "
                                   "and the block is not done")
            remaining = None if deadline is None else deadline - time.perf_counter()
            if remaining is not None and remaining <= 0:
                raise RunFailure(f"the run took longer than its timeout of "
                                 f"{self.timeout:g} s ({self._held()})")
            before = time.perf_counter()
            ready = sorted(key.data for key, _ in selector.select(remaining))
            waiting += time.perf_counter() - before
            answered = [worker for worker, is_pipe in ready if is_pipe]
            for worker in answered:  # an answer before its sender's exit: its error
                self.answer(worker)
            for worker, is_pipe in ready:
                if not is_pipe and worker not in answered:
                    self.died(worker, "died")
            self.idle.sort()

    def _held(self) -> str:
        held = ", ".join(f"worker {w} on transaction {queue[0].task.tx}"
                         for w, queue in enumerate(self.queues) if queue)
        return held or "no task in flight"

    def died(self, worker: int, how: str) -> None:
        queue = self.queues[worker]
        held = f"transaction {queue[0].task.tx}" if queue else "no transaction"
        self.processes[worker].join(1.0)  # its exit status
        code = self.processes[worker].exitcode
        status = (f"signal {-code}" if code is not None and code < 0
                  else f"exit code {code}" if code is not None else "no exit status yet")
        raise RunFailure(f"worker {worker} (pid {self.processes[worker].pid}) {how} "
                         f"while holding {held} ({status})")

    def begin(self, slot: int, task) -> None:
        run = self.strategy.start(slot, task)
        self.advance(_InFlight(slot, task, run), None)

    def answer(self, worker: int) -> None:
        """The oldest request sent to `worker` is answered: resume its task."""
        try:
            message = self.pipes[worker].recv_bytes()
        except (EOFError, OSError):
            self.died(worker, "died")
        answer = pickle.loads(message)
        if answer[0] == "error":
            self.died(worker, f"failed ({answer[1]})")
        incarnation, began, executing, executed, sync_s, gap_s = answer
        flight = self.queues[worker].popleft()
        if flight.start is None:
            flight.start = began - self.started
        flight.timing = _Timing(executed - self.started, executed - executing, sync_s, gap_s)
        self.advance(flight, incarnation)

    def advance(self, flight: _InFlight, value) -> None:
        """Resume the task's run with `value` until it requests an execution (queued
        on its slot's process) or ends (applied at once; a follow-up task starts on
        the same slot)."""
        while True:
            try:
                request = next(flight.run) if value is None else flight.run.send(value)
            except StopIteration as stop:
                self.finished(flight, stop.value[1])
                follow_up = self.strategy.finish(flight.slot, flight.task)
                if follow_up is None:
                    self.idle.append(flight.slot)
                    return
                flight = _InFlight(flight.slot, follow_up,
                                   self.strategy.start(flight.slot, follow_up))
                value = None
                continue
            task = flight.task
            debug.check(isinstance(request, Execute) and request.tx == task.tx,
                        lambda: f"task {task} requested {request}")
            worker = flight.slot % len(self.pipes)
            entries = self.journal[self.synced[worker]:]
            self.synced[worker] = len(self.journal)
            self.queues[worker].append(flight)
            debug.check(len(self.queues[worker]) <= self.pipeline,
                        lambda: f"process {worker} holds more than {self.pipeline} requests")
            try:
                self.pipes[worker].send_bytes(pickle.dumps((request, entries), PROTOCOL))
            except (BrokenPipeError, OSError):
                self.died(worker, "died")
            return

    def finished(self, flight: _InFlight, kind: EventKind) -> None:
        """Record a task that ended: its span, on its slot's process."""
        timing = flight.timing
        worker = flight.slot % len(self.pipes)
        start = self.now() if flight.start is None else flight.start
        end = max(start, self.now() if timing.end is None else timing.end)
        task = flight.task
        self.metrics.event(worker, kind, task.tx, task.incarnation, start, end)
        self.observations.tasks.append(Observation(
            worker, kind, task.tx, task.incarnation, start, end, timing.execute_s,
            timing.sync_s, timing.gap_s))
        if self.progress is not None and kind == EventKind.EXECUTION:
            self.progress.update(1)
