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

Where coordinator time goes (measured on independent ERC-20 transfers, Block-STM):
pickling a request with its journal entries and unpickling the Incarnation that comes
back (reads, writes and receipt), the strategy's bookkeeping and validations (the
read-set re-reads), and waiting. Per task it is a small fraction of an execution in
py-evm; `coordinator_busy_s` in the run's observations says how much it was in a run.

Failure handling: a worker that dies (killed, out of memory, an exception) ends the run
with RunFailure naming the worker and the transaction it held; a run past its
`timeout` ends the same way; on any exit, KeyboardInterrupt included, every worker is
terminated and reaped. Workers ignore SIGINT (the coordinator stops them) and exit on
their own when the coordinator's end of the pipe closes.

Invariants: each worker has at most one request outstanding; a request's journal
entries are exactly those appended since its worker's previous request; each worker's
replica, once it has applied a request's entries, equals the coordinator's memory at
the request's dispatch.
"""

from __future__ import annotations

import pickle
import random
import signal
import time
import traceback
from dataclasses import dataclass, field
from multiprocessing import get_context
from multiprocessing.connection import wait

from .. import debug
from ..abc import Backend, EventKind, Execute, Strategy
from ..mv_memory import apply_journal
from ..preimages import current_table
from ..usage import RunFailure

PROTOCOL = pickle.HIGHEST_PROTOCOL


@dataclass
class Observation:
    """What the coordinator saw of one task, in real seconds from the run's start."""
    worker: int
    kind: EventKind
    tx: int
    incarnation: int
    start: float
    end: float
    execute_s: float = 0.0  # py-evm execution time in the worker (0: no execution)
    sync_s: float = 0.0  # the worker applying journal entries to its replica


@dataclass
class Observations:
    tasks: list = field(default_factory=list)  # Observation per task
    wall_s: float = 0.0
    coordinator_busy_s: float = 0.0  # wall time outside waiting for workers


def _worker_main(index: int, connection, env, mv, jitter: float, seed: int) -> None:
    """A worker: apply the journal entries, execute, answer; until told to stop."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    rng = random.Random(f"jitter:{seed}:{index}")
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
            started = time.perf_counter()
            apply_journal(mv, entries)
            synced = time.perf_counter()
            if jitter:
                time.sleep(rng.uniform(0.0, jitter))
            executing = time.perf_counter()
            incarnation = env.execute(mv, request.tx, request.incarnation)
            answer = (incarnation, time.perf_counter() - executing, synced - started)
        except BaseException as exc:  # report it, then die: the run cannot go on
            line = traceback.format_exception_only(type(exc), exc)[-1].strip()
            connection.send_bytes(pickle.dumps(("error", line), PROTOCOL))
            return
        connection.send_bytes(pickle.dumps(answer, PROTOCOL))


class ProcessesBackend(Backend):
    name = "processes"

    def __init__(self, timeout: float | None = None, jitter: float = 0.0,
                 seed: int = 0) -> None:
        """`timeout`: seconds the run may take; `jitter`: each execution first sleeps
        a random 0..jitter seconds (seeded), to shake out races in tests."""
        self.timeout = timeout
        self.jitter = jitter
        self.seed = seed
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
            makespan = _Coordinator(strategy, metrics, progress, pipes, processes,
                                    journal, self.timeout, self.observations).drive()
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


class _Coordinator:
    def __init__(self, strategy, metrics, progress, pipes, processes, journal,
                 timeout, observations: Observations) -> None:
        self.strategy = strategy
        self.metrics = metrics
        self.progress = progress
        self.pipes = pipes
        self.processes = processes
        self.journal = journal
        self.synced = [0] * len(pipes)  # journal entries each worker has been sent
        self.busy: dict = {}  # worker -> (task, run, start)
        self.idle = list(range(len(pipes)))
        self.timeout = timeout
        self.observations = observations

    def now(self) -> float:
        return time.perf_counter() - self.started

    def drive(self) -> float:
        strategy = self.strategy
        self.started = time.perf_counter()
        deadline = None if self.timeout is None else self.started + self.timeout
        waiting = 0.0
        by_pipe = {pipe: worker for worker, pipe in enumerate(self.pipes)}
        by_sentinel = {process.sentinel: worker
                       for worker, process in enumerate(self.processes)}
        while True:
            while self.idle and not strategy.done():
                task = strategy.next_task()
                if task is None:
                    break
                self.begin(self.idle.pop(0), task)
            if not self.busy:
                if strategy.done():
                    break
                raise RuntimeError(f"{strategy.name}: no task in flight, none to start, "
                                   "and the block is not done")
            remaining = None if deadline is None else deadline - time.perf_counter()
            if remaining is not None and remaining <= 0:
                raise RunFailure(f"the run took longer than its timeout of "
                                 f"{self.timeout:g} s ({self._held()})")
            before = time.perf_counter()
            ready = wait([self.pipes[w] for w in sorted(self.busy)] + list(by_sentinel),
                         remaining)
            waiting += time.perf_counter() - before
            answered = sorted(by_pipe[item] for item in ready if item in by_pipe)
            for worker in answered:
                self.answer(worker)
            for item in ready:
                worker = by_sentinel.get(item)
                if worker is not None and worker not in answered:
                    self.died(worker, "died")
            self.idle.sort()
        wall = self.now()
        self.observations.wall_s = wall
        self.observations.coordinator_busy_s = wall - waiting
        return wall

    def _held(self) -> str:
        held = ", ".join(f"worker {w} on transaction {task.tx}"
                         for w, (task, _, _) in sorted(self.busy.items()))
        return held or "no task in flight"

    def died(self, worker: int, how: str) -> None:
        task = self.busy.get(worker, (None,))[0]
        held = f"transaction {task.tx}" if task is not None else "no transaction"
        self.processes[worker].join(1.0)  # its exit status
        code = self.processes[worker].exitcode
        status = (f"signal {-code}" if code is not None and code < 0
                  else f"exit code {code}" if code is not None else "no exit status yet")
        raise RunFailure(f"worker {worker} (pid {self.processes[worker].pid}) {how} "
                         f"while holding {held} ({status})")

    def begin(self, worker: int, task) -> None:
        run = self.strategy.start(worker, task)
        self.advance(worker, task, run, None, self.now(), 0.0, 0.0)

    def answer(self, worker: int) -> None:
        try:
            message = self.pipes[worker].recv_bytes()
        except (EOFError, OSError):
            self.died(worker, "died")
        answer = pickle.loads(message)
        if answer[0] == "error":
            self.died(worker, f"failed ({answer[1]})")
        incarnation, execute_s, sync_s = answer
        task, run, start = self.busy.pop(worker)
        self.advance(worker, task, run, incarnation, start, execute_s, sync_s)

    def advance(self, worker, task, run, value, start, execute_s, sync_s) -> None:
        """Resume `task`'s run with `value` until it requests an execution (sent to
        `worker`) or ends (applied at once; a follow-up task starts on `worker`)."""
        while True:
            try:
                request = next(run) if value is None else run.send(value)
            except StopIteration as stop:
                kind = stop.value[1]
                end = self.now()
                self.metrics.event(worker, kind, task.tx, task.incarnation, start, end)
                self.observations.tasks.append(Observation(
                    worker, kind, task.tx, task.incarnation, start, end, execute_s, sync_s))
                if self.progress is not None and kind == EventKind.EXECUTION:
                    self.progress.update(1)
                follow_up = self.strategy.finish(worker, task)
                if follow_up is None:
                    self.idle.append(worker)
                    return
                task, run, value = follow_up, self.strategy.start(worker, follow_up), None
                start, execute_s, sync_s = self.now(), 0.0, 0.0
                continue
            debug.check(isinstance(request, Execute) and request.tx == task.tx,
                        lambda: f"task {task} requested {request}")
            entries = self.journal[self.synced[worker]:]
            self.synced[worker] = len(self.journal)
            self.busy[worker] = (task, run, start)
            try:
                self.pipes[worker].send_bytes(pickle.dumps((request, entries), PROTOCOL))
            except (BrokenPipeError, OSError):
                self.died(worker, "died")
            return

