"""Strategy `block-stm`: Block-STM (Gelashvili et al., PPoPP'23) over py-evm.

Workers take tasks from the collaborative scheduler (scheduler.py). An execution task
runs the incarnation for real in py-evm over the multi-version memory (mv_memory.py,
versioned_state.py): reads happen when the task starts, and the write set is recorded
when it ends. An execution that reads an ESTIMATE is suspended on the blocking
transaction and re-executed once it finishes. A validation task re-reads the last
incarnation's read set when it starts; if any version changed, the incarnation is
aborted when the task ends: its writes become ESTIMATEs and it is re-executed.
Option `wait_for_sender=1` (pevm's treatment of nonces): an incarnation that py-evm
rejects, typically for a nonce its sender's earlier transaction has not written yet,
is suspended on that earlier transaction instead of being recorded as invalid.
Strategy `block-stm-abort` (the ablation of suspension): an ESTIMATE read aborts the
incarnation outright when its task ends; it is re-executed as soon as a worker is free,
without waiting for the blocking transaction.
"""

from __future__ import annotations

import time

from ..abc import Strategy
from ..locations import NONCE
from ..mv_memory import MVMemory
from ..params import Param
from ..scheduler import EXECUTION, Scheduler, Task

ABORTED = object()  # the verdict of an execution abandoned on an ESTIMATE


def previous_by_sender(senders) -> list:
    """For each transaction, the closest lower one with the same sender (or None)."""
    last_seen: dict = {}
    previous = []
    for tx, sender in enumerate(senders):
        previous.append(last_seen.get(sender))
        last_seen[sender] = tx
    return previous


class BlockSTM(Strategy):
    name = "block-stm"
    description = "Block-STM: optimistic execution, validation, ESTIMATE suspension"
    abort_on_estimate = False
    options = (Param("wait_for_sender", 0, "1: an incarnation py-evm rejects (say, a "
                     "nonce its sender's earlier transaction has not written yet) is "
                     "suspended on that earlier transaction, as pevm does, instead of "
                     "being recorded and caught by validation", int, 0, 1),)

    def __init__(self, env, cost_model, metrics, wait_for_sender: int = 0) -> None:
        super().__init__(env, cost_model, metrics)
        n = len(env.transactions)
        self.mv = MVMemory(n)
        self.scheduler = Scheduler(n)
        self.last: list = [None] * n  # each transaction's latest recorded incarnation
        self._running: dict = {}  # worker -> the incarnation or validation verdict
        self.previous = previous_by_sender(env.block.senders) if wait_for_sender else None

    def next_task(self) -> Task | None:
        return self.scheduler.next_task()

    def done(self) -> bool:
        return self.scheduler.done()

    def final_incarnations(self) -> list:
        return self.last

    def start(self, worker: int, task: Task) -> tuple:
        if task.kind == EXECUTION:
            return self._start_execution(worker, task)
        started = time.process_time()
        reads = self.last[task.tx].reads
        stale = self.mv.first_invalid_read(reads, task.tx)
        seconds = time.process_time() - started
        self.metrics.validations += 1
        self._running[worker] = stale
        kind = "validation" if stale is None else "failed-validation"
        return self.cost_model.validation(len(reads), seconds), kind

    def _start_execution(self, worker: int, task: Task) -> tuple:
        metrics = self.metrics
        while True:
            incarnation = self.env.execute(self.mv, task.tx, task.incarnation)
            metrics.executions += 1
            if incarnation.blocked_on is None:
                break
            if self.abort_on_estimate:
                metrics.aborted(task.tx, incarnation.blocked_location)
                self._running[worker] = ABORTED
                return self.cost_model.execution(incarnation), "aborted"
            metrics.suspensions += 1
            metrics.suspended(task.tx, incarnation.blocked_location)
            if self.scheduler.add_dependency(task.tx, incarnation.blocked_on):
                self._running[worker] = None
                return self.cost_model.execution(incarnation), "suspended"
            # The blocking transaction finished meanwhile: read again.
        if incarnation.error is not None and self._wait_for_sender(task.tx):
            self._running[worker] = None
            return self.cost_model.execution(incarnation), "suspended"
        self._running[worker] = incarnation
        if incarnation.error is not None:
            metrics.invalid_executions += 1
            kind = "invalid"
        else:
            kind = "execution" if task.incarnation == 0 else "re-execution"
        return self.cost_model.execution(incarnation), kind

    def _wait_for_sender(self, tx: int) -> bool:
        """With wait_for_sender: suspend `tx` on its sender's previous transaction
        unless that one has already finished executing."""
        previous = self.previous[tx] if self.previous is not None else None
        if previous is None or not self.scheduler.add_dependency(tx, previous):
            return False
        self.metrics.suspensions += 1
        self.metrics.suspended(tx, (NONCE, self.env.block.senders[tx]))
        return True

    def finish(self, worker: int, task: Task) -> Task | None:
        result = self._running.pop(worker)
        if task.kind == EXECUTION:
            if result is None:  # suspended: the scheduler already knows
                return None
            if result is ABORTED:
                self.scheduler.abort_execution(task.tx)
                return None
            wrote_new = self.mv.record(task.tx, task.incarnation, result.writes, result.deltas)
            self.last[task.tx] = result
            return self.scheduler.finish_execution(task.tx, task.incarnation, wrote_new)
        aborted = result is not None and self.scheduler.try_validation_abort(
            task.tx, task.incarnation)
        if aborted:
            self.metrics.validation_failures += 1
            self.metrics.aborted(task.tx, result)
            self.mv.convert_writes_to_estimates(task.tx)
        return self.scheduler.finish_validation(task.tx, aborted)


class BlockSTMAbort(BlockSTM):
    name = "block-stm-abort"
    description = "Block-STM ablation: abort on ESTIMATE instead of suspending"
    abort_on_estimate = True
