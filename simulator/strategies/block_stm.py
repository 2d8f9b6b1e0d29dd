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

pevm's execution rules (risechain/pevm, crates/pevm/src/pevm.rs, vm.rs, scheduler.rs),
options off by default so that `block-stm` stays the paper's algorithm:
- `small_block_fallback=1`: a block with fewer transactions than workers, or whose
  header says it used under 4,000,000 gas (pevm's `Pevm::execute`; a block without a
  real header, i.e. a synthetic workload, is judged on its transaction count only),
  runs sequentially: the serial strategy, a plain sequential EVM with no
  multi-version bookkeeping and no shared queue.
- `selfdestruct_fallback=1`: an execution that read an account a lower transaction
  self-destructed (pevm's `ReadError::SelfDestructedAccount`, raised on reading the
  account's code hash) abandons the parallel run: no task starts after it, the tasks
  in flight end (their effects are dropped), and the whole block is then executed
  sequentially from scratch, with nothing loaded (pevm's `execute_revm_sequential`
  over a fresh cache). The makespan is the parallel time wasted plus the sequential
  run.
- `validate_first=0`: transaction 0 is never validated (pevm's scheduler starts its
  validation cursor above it: its reads are all pre-block, never stale).
pevm's lazy raw transfers (`LazySender`/`LazyRecipient`) are an EVM option every
strategy gets (`lazy_transfers`, versioned_state.py), as is its lazy coinbase.
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
from ..engine.locations import NONCE, STORAGE
from ..engine.mv_memory import PRE_BLOCK, version_writers
from ..params import Param
from ..engine.scheduler import Scheduler
from .serial import FallsBackToSerial

PEVM_MIN_PARALLEL_GAS = 4_000_000  # pevm.rs, `Pevm::execute`

WAIT_FOR_SENDER = Param(
    "wait_for_sender", 1, "1 (default): an incarnation py-evm rejects (say, a nonce its "
    "sender's earlier transaction has not written yet) is suspended on that earlier "
    "transaction, as pevm does; 0: the paper's plain rule, recorded and caught by "
    "validation", int, 0, 1)
PEVM_OPTIONS = (
    Param("small_block_fallback", 0, "1: pevm's rule, run a block with fewer "
          "transactions than workers or under 4,000,000 gas sequentially", int, 0, 1),
    Param("selfdestruct_fallback", 0, "1: pevm's rule, re-run the block sequentially "
          "once a transaction reads an account a lower one self-destructed", int, 0, 1),
    Param("validate_first", 1, "0: pevm's rule, never validate transaction 0 (its reads "
          "are all pre-block)", int, 0, 1),
)


def previous_by_sender(senders) -> list:
    """For each transaction, the closest lower one with the same sender (or None)."""
    last_seen: dict = {}
    previous = []
    for tx, sender in enumerate(senders):
        previous.append(last_seen.get(sender))
        last_seen[sender] = tx
    return previous


class BlockSTM(FallsBackToSerial):
    name = "block-stm"
    description = "Block-STM: optimistic execution, validation, ESTIMATE suspension"
    abort_on_estimate = False
    options = (WAIT_FOR_SENDER,) + PEVM_OPTIONS

    def __init__(self, env, cost_model, metrics, wait_for_sender: int = 1,
                 small_block_fallback: int = 0, selfdestruct_fallback: int = 0,
                 validate_first: int = 1) -> None:
        super().__init__(env, cost_model, metrics)
        self.scheduler = Scheduler(self.size, first_validated=0 if validate_first else 1)
        self._running: dict = {}  # worker -> the incarnation or validation verdict
        self._in_flight = 0  # tasks started and not finished (a backend may execute
        # requests elsewhere: a task is in flight before its result is known)
        self.previous = previous_by_sender(env.block.senders) if wait_for_sender else None
        self.small_block_fallback = small_block_fallback
        self.selfdestruct_fallback = selfdestruct_fallback
        self.abandoned = False  # a self-destructed read: no task starts any more

    def prepare(self, threads: int) -> None:
        gas = self.env.block.expected_gas_used
        if self.small_block_fallback and (
                len(self.env.transactions) < threads
                or (gas is not None and gas < PEVM_MIN_PARALLEL_GAS)):
            self._fall_back(self.cost_model)

    def _next_task(self) -> Task | None:
        if self.abandoned:
            if self._in_flight:
                return None  # the tasks in flight end first
            self.mv.clear()  # from scratch: the parallel attempt's writes are dropped
            self._fall_back(self.cost_model.fresh())
            return self.sequential.next_task()
        return self.scheduler.next_task()

    def _done(self) -> bool:
        return self.scheduler.done()

    def _start(self, worker: int, task: Task) -> TaskRun:
        self._in_flight += 1
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

    def _finish(self, worker: int, task: Task) -> Task | None:
        result = self._running.pop(worker)
        self._in_flight -= 1
        if self.abandoned:
            return None
        if (task.kind == TaskKind.EXECUTION and self.selfdestruct_fallback
                and self._read_selfdestructed(result)):
            self.abandoned = True
            return None
        if task.kind == TaskKind.EXECUTION:
            return self._finish_execution(task, result)
        aborted = result is not None and self.scheduler.try_validation_abort(
            task.tx, task.incarnation)
        if aborted:
            self.metrics.validation_failures += 1
            self.metrics.aborted(task.tx, result)
            self.mv.convert_writes_to_estimates(task.tx)
        return self.scheduler.finish_validation(task.tx, aborted)

    def _read_selfdestructed(self, incarnation) -> bool:
        """`incarnation` read a field of an account (not a storage slot) whose latest
        write below it was a lower transaction's SELFDESTRUCT of that account."""
        for location, version in incarnation.reads.items():
            if location[0] != STORAGE and version is not PRE_BLOCK:
                for writer in version_writers(version):
                    if location[1] in self.last[writer].self_destructed:
                        return True
        return False

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
