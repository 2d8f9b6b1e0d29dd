"""Strategy `block-stm`: Block-STM (Gelashvili et al., PPoPP'23) over py-evm.

Workers take tasks from the collaborative scheduler (scheduler.py). An execution task
runs the incarnation for real in py-evm over the multi-version memory (mv_memory.py,
versioned_state.py): reads happen when the task starts, and the write set is recorded
when it ends. An execution that reads an ESTIMATE stops there (its task lasts as long
as the work done up to that read) and is suspended on the blocking transaction at
that instant, to be re-executed once it finishes; if the blocking transaction has
finished by then, it is re-executed at once. A validation task re-reads the last
incarnation's read set when it starts; if any version changed, the incarnation is
aborted when the task ends: its writes become ESTIMATEs and it is re-executed.
Nonces (`wait_for_sender`, on by default, as in pevm, Bor and grevm): an incarnation
that py-evm rejects, typically for a nonce its sender's earlier transaction has not
written yet, is suspended on that earlier transaction instead of being recorded as
invalid. `wait_for_sender=0` is the paper's plain rule (the ablation).
Strategy `block-stm-abort` (the ablation of suspension): an ESTIMATE read aborts the
incarnation outright when its task ends, wasting the gas it had consumed, and the
transaction goes back to the execution queue instead of onto the blocking
transaction's dependency list. It models a scheduler that retries rather than waits,
with one concession that keeps simulations bounded: a retry is never made while the
blocking transaction's execution is still running (nothing the reader saw can change
before that execution ends), only after it ends, however it ends. While the blocking
transaction is not running (queued, or itself suspended) the reader retries at once
and may meet the same ESTIMATE again: that repeated waste is what the ablation shows.
"""

from __future__ import annotations

import time

from ..abc import EventKind, Task, TaskKind, TaskRun
from ..locations import NONCE
from ..params import Param
from ..scheduler import Scheduler
from .base import SpeculativeStrategy


def previous_by_sender(senders) -> list:
    """For each transaction, the closest lower one with the same sender (or None)."""
    last_seen: dict = {}
    previous = []
    for tx, sender in enumerate(senders):
        previous.append(last_seen.get(sender))
        last_seen[sender] = tx
    return previous


class BlockSTM(SpeculativeStrategy):
    name = "block-stm"
    description = "Block-STM: optimistic execution, validation, ESTIMATE suspension"
    abort_on_estimate = False
    options = (Param("wait_for_sender", 1, "1 (default): an incarnation py-evm rejects "
                     "(say, a nonce its sender's earlier transaction has not written yet) "
                     "is suspended on that earlier transaction, as pevm does; 0: the "
                     "paper's plain rule, recorded and caught by validation", int, 0, 1),)

    def __init__(self, env, cost_model, metrics, wait_for_sender: int = 1) -> None:
        super().__init__(env, cost_model, metrics)
        self.scheduler = Scheduler(self.size)
        self._running: dict = {}  # worker -> the incarnation or validation verdict
        self.previous = previous_by_sender(env.block.senders) if wait_for_sender else None

    def next_task(self) -> Task | None:
        return self.scheduler.next_task()

    def done(self) -> bool:
        return self.scheduler.done()

    def start(self, worker: int, task: Task) -> TaskRun:
        if task.kind == TaskKind.EXECUTION:
            return (yield from self._start_execution(worker, task))
        started = time.process_time()
        reads = self.last[task.tx].reads
        stale = self.mv.first_invalid_read(reads, task.tx)
        seconds = time.process_time() - started
        self.metrics.validations += 1
        self._running[worker] = stale
        kind = EventKind.VALIDATION if stale is None else EventKind.FAILED_VALIDATION
        return self.cost_model.validation(len(reads), seconds), kind

    def _start_execution(self, worker: int, task: Task) -> TaskRun:
        incarnation = yield from self.run_execution(task.tx, task.incarnation)
        self._running[worker] = incarnation
        cost = self.cost_model.execution(incarnation)
        if incarnation.blocked_on is not None:
            return cost, EventKind.ABORTED if self.abort_on_estimate else EventKind.SUSPENDED
        if incarnation.error is not None:
            return cost, (EventKind.INVALID if self._sender_before(task.tx) is None
                          else EventKind.SUSPENDED)
        return cost, EventKind.EXECUTION if task.incarnation == 0 else EventKind.RE_EXECUTION

    def _sender_before(self, tx: int) -> int | None:
        """With wait_for_sender: the sender's previous transaction in the block."""
        return self.previous[tx] if self.previous is not None else None

    def finish(self, worker: int, task: Task) -> Task | None:
        result = self._running.pop(worker)
        if task.kind == TaskKind.EXECUTION:
            return self._finish_execution(task, result)
        aborted = result is not None and self.scheduler.try_validation_abort(
            task.tx, task.incarnation)
        if aborted:
            self.metrics.validation_failures += 1
            self.metrics.aborted(task.tx, result)
            self.mv.convert_writes_to_estimates(task.tx)
        return self.scheduler.finish_validation(task.tx, aborted)

    def _finish_execution(self, task: Task, result) -> Task | None:
        """Suspensions take effect now, at the instant of the read that stopped it."""
        scheduler, metrics = self.scheduler, self.metrics
        scheduler.execution_ended(task.tx)
        if result.blocked_on is not None:
            if self.abort_on_estimate:
                metrics.aborted(task.tx, result.blocked_location)
                scheduler.abort_execution(task.tx, result.blocked_on)
                return None
            metrics.suspensions += 1
            metrics.suspended(task.tx, result.blocked_location)
            if scheduler.add_dependency(task.tx, result.blocked_on):
                return None
            return task  # the blocking transaction finished meanwhile: read again
        if result.error is not None:
            previous = self._sender_before(task.tx)
            if previous is not None and scheduler.add_dependency(task.tx, previous):
                metrics.suspensions += 1
                metrics.suspended(task.tx, (NONCE, self.env.block.senders[task.tx]))
                return None
            metrics.invalid_executions += 1
        wrote_new = self.mv.record(task.tx, task.incarnation, result.writes, result.deltas)
        self.last[task.tx] = result
        return scheduler.finish_execution(task.tx, task.incarnation, wrote_new)


class BlockSTMAbort(BlockSTM):
    name = "block-stm-abort"
    description = "Block-STM ablation: abort on ESTIMATE instead of suspending"
    abort_on_estimate = True
