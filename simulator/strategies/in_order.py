"""Speculative execution with one in-order committer: the shape that `monad` and
`sealevel` share.

Protocol:
- Workers execute transactions speculatively, as the subclass hands them out
  (`_next_execution`), each for real against the multi-version memory as it stands
  when the task starts. A finished execution is the transaction's pending result; with
  `publish_on_finish` its writes enter the memory at once, otherwise only at commit.
- One committer at a time takes pending results in block order. Committing
  transaction i happens only after 0..i-1 are committed, so the memory then holds the
  final writes of everything below i: if i's read set is still valid (`_commit_check`:
  the same versions, or for Monad the same values) its result is final; if not, or if
  the subclass distrusts it (`_forced_reexecution`), i is re-executed right there, as part of the commit task,
  and that incarnation is final because every input is. Either way the final writes
  are recorded and the next transaction may commit.
- Commit tasks come before new executions. A subclass may skip the validation of
  transactions it can prove correct (`_must_validate`); those commit inline, at no cost.
- With yielding reads (`yielding_reads`, Monad's fibers on the disk tier) an
  execution's cold loads are the cost model's `preload` of what it read, waited out
  off the worker (abc.Cost.io), and the execution then reads them warm: the pricing
  the oracle's and bal's prefetch pay, with the latency off the threads. A task back
  from its reads ranks after the commit and before new executions, lowest index
  first (Monad's priority pool).

Invariants: every transaction executes at most twice (once speculatively, at most
once more at commit); a committed incarnation read only final values, so folding the
committed write sets in order gives the serial result.
"""

from __future__ import annotations

import heapq
from typing import ClassVar

from ..abc import EventKind, Task, TaskKind, TaskRun, as_cost
from .base import SpeculativeStrategy


class InOrderCommit(SpeculativeStrategy):
    publish_on_finish: ClassVar[bool]
    assume_sender_nonce: ClassVar[bool] = False  # first executions assume the
    # sender's nonce (engine/versioned_state.py; Monad's set_original_nonce)
    yielding_reads = False  # a subclass's: cold loads wait off the worker (see above)

    def __init__(self, env, cost_model, metrics) -> None:
        super().__init__(env, cost_model, metrics)
        self.pending: list = [None] * self.size  # each speculative result, until committed
        self.committed = 0  # transactions [0, committed) are final
        self._committing = False
        self._running: dict = {}  # task -> the incarnation it produced (a task with
        # yielded reads may finish on another worker than the one that started it)
        self._resumed: list = []  # heap of (tx, task): back from their yielded reads

    # -- hooks -----------------------------------------------------------------------
    def _next_execution(self) -> int | None:
        """The next transaction to execute speculatively, or None for now."""
        raise NotImplementedError

    def _executed(self, tx: int, result) -> None:
        """A speculative execution of `tx` just finished."""

    def _committed(self, tx: int) -> None:
        """`tx` is final."""

    def _must_validate(self, tx: int) -> bool:
        return True

    def _forced_reexecution(self, tx: int, result):
        """A location that makes `result` untrustworthy whatever its reads, or None."""
        return None

    def _commit_check(self, tx: int, result) -> tuple:
        """Whether `result` may commit: (a stale location or None, the check's cost);
        by version unless the subclass says otherwise."""
        return self.validate(tx, result.reads)

    # -- the Strategy interface ----------------------------------------------------------
    def done(self) -> bool:
        return self.committed == self.size

    def next_task(self) -> Task | None:
        tx = self.committed
        if not self._committing and tx < self.size and self.pending[tx] is not None:
            self._committing = True
            return Task(TaskKind.COMMIT, tx, self.pending[tx].incarnation)
        if self._resumed:
            return heapq.heappop(self._resumed)[1]
        tx = self._next_execution()
        return None if tx is None else Task(TaskKind.EXECUTION, tx, 0)

    def start(self, worker: int, task: Task) -> TaskRun:
        if task.kind == TaskKind.EXECUTION:
            result, kind = yield from self.execute(task.tx, 0, self.assume_sender_nonce)
            self._running[task] = result
            return self._execution_cost(result), kind
        result = self.pending[task.tx]
        stale = self._forced_reexecution(task.tx, result)
        if stale is None:
            stale, duration = self._commit_check(task.tx, result)
        else:
            self.metrics.aborted(task.tx, stale)
            duration = 0.0  # known since the execution ended
        if stale is None:
            self._running[task] = result
            return duration, EventKind.VALIDATION
        final, kind = yield from self.execute(task.tx, result.incarnation + 1)
        self._running[task] = final
        return duration + self._execution_cost(final), kind

    def _execution_cost(self, incarnation):
        """An execution's cost; with yielding reads its cold loads off the worker."""
        if not self.yielding_reads:
            return self.cost_model.execution(incarnation)
        loads = as_cost(self.cost_model.preload(incarnation)).yielded()
        return loads + self.cost_model.execution(incarnation)

    def reads_done(self, task: Task) -> None:
        heapq.heappush(self._resumed, (task.tx, task))

    def finish(self, worker: int, task: Task) -> Task | None:
        result = self._running.pop(task)
        if task.kind == TaskKind.EXECUTION:
            self.pending[task.tx] = result
            if self.publish_on_finish:
                self.mv.record(task.tx, result.incarnation, result.writes, result.deltas)
            self._executed(task.tx, result)
        else:
            self._committing = False
            self._commit(task.tx, result)
        while (not self._committing and self.committed < self.size
               and self.pending[self.committed] is not None
               and not self._must_validate(self.committed)):
            self._commit(self.committed, self.pending[self.committed])
        return None

    def _commit(self, tx: int, final) -> None:
        if final is not self.pending[tx] or not self.publish_on_finish:
            self.mv.record(tx, final.incarnation, final.writes, final.deltas)
        self.last[tx] = final
        self.committed += 1
        self._committed(tx)


class PredecessorGated(InOrderCommit):
    """Executes a transaction once each of its predicted predecessors (lower
    transactions) is released, lowest index first. A transaction is released when it
    commits, so its successors read its final writes: a wrong prediction makes only
    the transaction that missed a predecessor stale, never its successors. A subclass
    that can prove a result final earlier may release it then. Writes are published
    on finish."""

    publish_on_finish = True

    def __init__(self, env, cost_model, metrics, predecessors) -> None:
        super().__init__(env, cost_model, metrics)
        self._unfinished = [len(set(p)) for p in predecessors]
        self._successors: list = [[] for _ in predecessors]
        for tx, before in enumerate(predecessors):
            for predecessor in set(before):
                self._successors[predecessor].append(tx)
        self._ready = [tx for tx, count in enumerate(self._unfinished) if count == 0]
        heapq.heapify(self._ready)
        self._released = [False] * self.size

    def _next_execution(self) -> int | None:
        return heapq.heappop(self._ready) if self._ready else None

    def _release(self, tx: int) -> None:
        """`tx`'s successors need not wait for it any longer."""
        if self._released[tx]:
            return
        self._released[tx] = True
        for successor in self._successors[tx]:
            self._unfinished[successor] -= 1
            if self._unfinished[successor] == 0:
                heapq.heappush(self._ready, successor)

    def _committed(self, tx: int) -> None:
        self._release(tx)
