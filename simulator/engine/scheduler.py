"""Block-STM's collaborative scheduler (Gelashvili et al., PPoPP'23, section 4).

Protocol:
- Each transaction has (incarnation, status); status moves READY_TO_EXECUTE ->
  EXECUTING -> EXECUTED, and to ABORTING when a validation fails or when an execution
  reads an ESTIMATE and suspends on the blocking transaction. Leaving ABORTING always
  goes back to READY_TO_EXECUTE with the incarnation number increased.
- Two cursors, `execution_idx` and `validation_idx`, only ever decrease through
  `_decrease_*`. `next_task` serves the lower cursor
  first (validation when the validation cursor is strictly lower).
- `finish_execution`: dependents suspended on this transaction become ready again;
  if the incarnation wrote a location its previous one did not, every higher
  transaction must be revalidated (validation_idx drops to this one); otherwise only
  this transaction is validated.
- An execution that reads an ESTIMATE of a lower transaction is suspended
  (`add_dependency`) and re-executed, as the next incarnation, once that transaction
  finishes executing.
- `finish_validation` after an abort: the transaction is re-incarnated and every
  higher transaction is revalidated (validation_idx drops to tx + 1).
- Commit rule: the block is done when both cursors are past the last transaction, no
  task is in flight, and no cursor moved while that was being checked. At that point
  every transaction's latest incarnation has been validated after every lower
  transaction's latest write, so the multi-version memory holds the serial result.

- `first_validated` (pevm's rule, strategies/block_stm.py): transactions below it are
  never validated (pevm skips transaction 0, whose reads are all pre-block and so can
  never be stale); the validation cursor never drops below it.

- `defer`: a transaction about to start is held until another finishes executing (the
  producer-hint rule of Bor's Block-STM, strategies/dag.py); unlike a suspension this
  keeps its incarnation number.

Invariants (asserted after every call under PEVMSIM_DEBUG=1, see `check_invariants`):
each transaction is in exactly one status; incarnation numbers never decrease; a
transaction READY_TO_EXECUTE is never below the execution cursor (the cursor cannot
skip it); one waiting on another (suspended, deferred or retrying) is ABORTING or
READY_TO_EXECUTE and listed under exactly one lower transaction; `num_active_tasks`
is never negative.

pevmsim runs the workers in virtual time, one event at a time, so the paper's atomic
operations are plain assignments here; their order is still the paper's.
"""

from __future__ import annotations

from enum import IntEnum

from .. import debug
from ..abc import Task, TaskKind


class TxStatus(IntEnum):
    READY_TO_EXECUTE = 0
    EXECUTING = 1
    EXECUTED = 2
    ABORTING = 3


READY_TO_EXECUTE, EXECUTING, EXECUTED, ABORTING = TxStatus


class Scheduler:
    def __init__(self, block_size: int, first_validated: int = 0) -> None:
        self.block_size = block_size
        self.first_validated = first_validated
        self.execution_idx = 0
        self.validation_idx = first_validated
        self.num_active_tasks = 0
        self.done_marker = block_size == 0
        self.incarnation = [0] * block_size
        self.status = [READY_TO_EXECUTE] * block_size
        self.dependents: list = [[] for _ in range(block_size)]
        self.retry_after: list = [[] for _ in range(block_size)]  # the abort ablation
        self.deferred: list = [[] for _ in range(block_size)]  # held by producer hints
        self._seen_incarnations = [0] * block_size if debug.ENABLED else None

    # -- invariants (debug) ----------------------------------------------------------
    def check_invariants(self) -> None:
        debug.check(self.num_active_tasks >= 0, "negative active task count")
        debug.check(all(isinstance(status, TxStatus) for status in self.status),
                    "unknown status")
        for tx in range(self.block_size):
            debug.check(self.incarnation[tx] >= self._seen_incarnations[tx],
                        lambda: f"tx {tx}: incarnation decreased")
            self._seen_incarnations[tx] = self.incarnation[tx]
            if self.status[tx] == READY_TO_EXECUTE:
                debug.check(tx >= self.execution_idx,
                            lambda: f"tx {tx} is ready below the execution cursor "
                                    f"{self.execution_idx}")
        waiting = []
        for lists in (self.dependents, self.retry_after, self.deferred):
            for blocking, waiters in enumerate(lists):
                for tx in waiters:
                    debug.check(tx > blocking, lambda: f"tx {tx} waits on tx {blocking}")
                    waiting.append(tx)
        debug.check(len(waiting) == len(set(waiting)),
                    lambda: f"a transaction waits twice: {sorted(waiting)}")
        for tx in waiting:
            debug.check(self.status[tx] == ABORTING,
                        lambda: f"tx {tx} waits but its status is {self.status[tx]}")

    # -- cursors -------------------------------------------------------------------
    def _decrease_execution_idx(self, target: int) -> None:
        if target < self.execution_idx:
            self.execution_idx = target

    def _decrease_validation_idx(self, target: int) -> None:
        target = max(target, self.first_validated)
        if target < self.validation_idx:
            self.validation_idx = target

    def done(self) -> bool:
        return self.done_marker

    def _check_done(self) -> None:
        # The paper also counts cursor decreases to catch one made concurrently with
        # this check; with one event at a time nothing can move in between.
        if (min(self.execution_idx, self.validation_idx) >= self.block_size
                and self.num_active_tasks == 0):
            self.done_marker = True

    # -- handing out tasks -----------------------------------------------------------
    def _try_incarnate(self, tx: int) -> Task | None:
        if tx < self.block_size and self.status[tx] == READY_TO_EXECUTE:
            self.status[tx] = EXECUTING
            return Task(TaskKind.EXECUTION, tx, self.incarnation[tx])
        self.num_active_tasks -= 1
        return None

    def _next_version_to_execute(self) -> Task | None:
        if self.execution_idx >= self.block_size:
            self._check_done()
            return None
        self.num_active_tasks += 1
        tx = self.execution_idx
        self.execution_idx += 1
        return self._try_incarnate(tx)

    def _next_version_to_validate(self) -> Task | None:
        if self.validation_idx >= self.block_size:
            self._check_done()
            return None
        self.num_active_tasks += 1
        tx = self.validation_idx
        self.validation_idx += 1
        if self.status[tx] == EXECUTED:
            return Task(TaskKind.VALIDATION, tx, self.incarnation[tx])
        self.num_active_tasks -= 1
        return None

    def next_task(self) -> Task | None:
        """The next task, or None when none is available now (check `done`)."""
        task = self._next_task()
        if debug.ENABLED:
            self.check_invariants()
        return task

    def _next_task(self) -> Task | None:
        n = self.block_size
        while self.execution_idx < n or self.validation_idx < n:
            if self.validation_idx < self.execution_idx:
                task = self._next_version_to_validate()
            else:
                task = self._next_version_to_execute()
            if task is not None:
                return task
        self._check_done()
        return None

    # -- suspensions on ESTIMATE ------------------------------------------------------
    def add_dependency(self, tx: int, blocking_tx: int) -> bool:
        """Suspend `tx` until `blocking_tx` finishes executing. False means the
        blocking transaction has already finished: the reader should simply retry."""
        if self.status[blocking_tx] == EXECUTED:
            return False
        self.status[tx] = ABORTING
        self.dependents[blocking_tx].append(tx)
        self.num_active_tasks -= 1
        return True

    def abort_execution(self, tx: int, blocking_tx: int) -> None:
        """The running execution of `tx` read an ESTIMATE of `blocking_tx` and gave up
        (the abort ablation): `tx` is ready again, as the next incarnation, at once,
        unless `blocking_tx` is executing now; then once that execution ends, however
        it ends (the ESTIMATE cannot change before), see `execution_ended`."""
        self.num_active_tasks -= 1
        if self.status[blocking_tx] == EXECUTING:
            self.status[tx] = ABORTING
            self.retry_after[blocking_tx].append(tx)
        else:
            self._set_ready(tx)
            self._decrease_execution_idx(tx)

    def execution_ended(self, tx: int) -> None:
        """An execution task of `tx` ended: aborted readers waiting on it retry."""
        retries, self.retry_after[tx] = self.retry_after[tx], []
        for reader in retries:
            self._set_ready(reader)
        if retries:
            self._decrease_execution_idx(min(retries))

    def _set_ready(self, tx: int) -> None:
        self.incarnation[tx] += 1
        self.status[tx] = READY_TO_EXECUTE

    def defer(self, tx: int, blocking_tx: int) -> None:
        """`tx`, just handed out for execution, does not start: it waits, with its
        incarnation unchanged, until `blocking_tx` finishes an execution."""
        self.status[tx] = ABORTING
        self.deferred[blocking_tx].append(tx)
        self.num_active_tasks -= 1

    # -- finishing tasks ----------------------------------------------------------------
    def finish_execution(self, tx: int, incarnation: int, wrote_new_location: bool) -> Task | None:
        self.status[tx] = EXECUTED
        dependents, self.dependents[tx] = self.dependents[tx], []
        for dependent in dependents:
            self._set_ready(dependent)
        deferred, self.deferred[tx] = self.deferred[tx], []
        for waiting in deferred:
            self.status[waiting] = READY_TO_EXECUTE
        if dependents or deferred:
            self._decrease_execution_idx(min(dependents + deferred))
        if self.validation_idx > tx:
            if wrote_new_location:
                self._decrease_validation_idx(tx)
            elif tx >= self.first_validated:
                return Task(TaskKind.VALIDATION, tx, incarnation)
        self.num_active_tasks -= 1
        return None

    def try_validation_abort(self, tx: int, incarnation: int) -> bool:
        if self.incarnation[tx] == incarnation and self.status[tx] == EXECUTED:
            self.status[tx] = ABORTING
            return True
        return False

    def finish_validation(self, tx: int, aborted: bool) -> Task | None:
        if aborted:
            self._set_ready(tx)
            self._decrease_validation_idx(tx + 1)
            if self.execution_idx > tx:
                task = self._try_incarnate(tx)
                if task is not None:
                    return task  # the active task carries over to the re-execution
                return None  # _try_incarnate already retired the active task
        self.num_active_tasks -= 1
        return None
