"""Strategy `bal`: a validator holding the block's EIP-7928 block-level access list.

Source: ethereum/EIPs, EIPS/eip-7928.md at 6c666b8d646d (2026-07-09, status Review):
the block builder attaches every account and slot the block touches with the
post-transaction value of everything it changes, and the BAL is a validity condition
("Reduced execution time to `parallel IO + parallel EVM`"). The BAL itself is built
by bal.py from the serial pre-pass (what the builder, who executed the block, knows).

Protocol (variant `full`):
- Prefetch: every pre-state location the BAL lists is loaded up front, one job per
  location (the cost model's `preload` of that one location, the same loading the
  oracle's warm-up pays), all of them queued from t = 0 in block order of first use,
  so the cold loads of all transactions overlap on the N workers. A job is worth
  taking only when a cold load costs more than taking a job from the queue
  (cost_model.loads_are_io, COLD_LOAD > SCHEDULE: state on an SSD, `gas-disk`);
  otherwise, state in memory, there is no prefetch and each execution loads what it
  reads, as in every strategy. A prefetch job holds its worker for the load's
  latency: bal's loads overlap across the N workers, not beyond them.
- Execution: each transaction executes once, for real in py-evm, against the pre-state
  plus the BAL's post-values of every lower transaction (BlockAccessList.view): its
  inputs from lower transactions are in the BAL, so it waits on none of them, only on
  the prefetch of the locations it reads. Ready executions are taken before prefetch
  jobs, lowest index first.
- Validation: after its execution each transaction's reads and writes are checked
  against the BAL (bal.transaction_problem: every account and slot it touched listed,
  every change it made listed at its index with exactly its post-value, nothing listed
  at its index that it did not make), costed as a validation of the locations checked;
  after the last one, every listed account and storage read must have been accessed
  (bal.block_problem). Any disagreement makes the block invalid (InvalidAccessList,
  the first in block order, one line naming the transaction and the location), as a
  client rejects it; a run never assembles a state from a BAL that disagrees.
Variants (`variant`):
- `no-storage-reads`: the BAL without storage_reads (only written slots listed). A
  read-only slot is not prefetched: its load happens, cold, inside the execution; the
  validation cannot require reads to be listed.
- `io-only`: the BAL used for I/O only: the same prefetch, then the executions in block
  order, one at a time, each against the state the lower ones left (no post-value is
  used), validated the same way. Set against `full` it separates what prefetching buys
  from what dependency-free execution buys.
Every job pays what every strategy pays under the run's cost model: SCHEDULE per job
taken from the shared queue, `preload` per prefetched location, `execution` per
execution, `validation` per check.

Bound: a BAL removes every dependency between transactions, so the dependency bound
(metrics.py) does not bound `bal`. Its own bound (`bound_dependencies`) is the same
arithmetic over a graph without edges: max(the longest transaction, its cold state
ready after one load latency; total work / N); for `io-only`, over the chain of
executions in block order.

What `bal` leaves out: the BAL's network cost (its bytes are reported, bal_bytes, not
charged), parallel state-root computation (pevmsim commits every strategy's state the
same way), the system calls and withdrawals at indices 0 and n + 1 (outside pevmsim's
block), and the early rejection of phantom storage reads by a gas budget (a corrupted
BAL is rejected after the last transaction here, never accepted).

Invariants: every transaction executes exactly once, after the prefetch of every
location it reads (asserted under PEVMSIM_DEBUG); with the BAL of the block's serial
execution every check passes, and every variant's final incarnations equal serial
execution's writes (the run is checked against serial like any other).
"""

from __future__ import annotations

import heapq
import time
from dataclasses import replace
from enum import StrEnum

from .. import debug
from ..abc import EventKind, Task, TaskKind, TaskRun
from ..chain.bal import (Corruption, InvalidAccessList, block_access_list, block_problem,
                         corrupted, state_before, transaction_problem, transaction_step)
from ..costs.cost_model import pre_state_reads
from ..engine.locations import STORAGE
from ..params import Param
from ..usage import UsageError
from .base import SpeculativeStrategy
from .prepass import serial_prepass


class Variant(StrEnum):
    FULL = "full"
    NO_STORAGE_READS = "no-storage-reads"
    IO_ONLY = "io-only"


class Bal(SpeculativeStrategy):
    name = "bal"
    description = ("EIP-7928 block-level access list: prefetch everything listed, "
                   "execute every transaction at once against the listed post-values")
    options = (
        Param("variant", Variant.FULL, "full (default): prefetch and execute at once; "
              "no-storage-reads: a BAL without storage reads (read-only slots not "
              "prefetched); io-only: prefetch in parallel, execute in block order", Variant),
        Param("corrupt", Corruption.NONE, "robustness check: none (default), wrong-value "
              "(one post-value off by one), missing-slot (one slot left out) or "
              "extra-account (an account no transaction touches); the block is then "
              "refused", Corruption),
        Param("corrupt_seed", 0, "which entry `corrupt` alters", int, 0),
    )

    def __init__(self, env, cost_model, metrics, variant: Variant = Variant.FULL,
                 corrupt: Corruption = Corruption.NONE, corrupt_seed: int = 0) -> None:
        super().__init__(env, cost_model, metrics)
        self.variant = Variant(variant)
        self.prepass = serial_prepass(env)
        listed = block_access_list(env.pre_state, self.prepass)
        if self.variant == Variant.NO_STORAGE_READS:
            listed = listed.without_reads()
        try:
            self.access_list = corrupted(listed, Corruption(corrupt), corrupt_seed)
        except ValueError as exc:
            raise UsageError(f"bal: corrupt={corrupt}: {exc}") from None
        self.in_order = self.variant == Variant.IO_ONLY
        if not self.in_order:
            self.mv = self.access_list.view(self.size)
        self.steps: list = [None] * self.size
        self.problems: dict = {}  # tx -> why it disagrees with the BAL
        self._running: dict = {}

    def prepare(self, threads: int) -> None:
        """Plan the prefetch: one job per listed pre-state location, owned by the first
        transaction that reads it; each execution waits for the jobs of the locations
        it reads (and, io-only, for the previous execution)."""
        self.parts: list = []  # prefetch job -> (its transaction, the location)
        self.waiting: list = []  # prefetch job -> the transactions whose execution waits
        self.unmet = [int(self.in_order and tx > 0) for tx in range(self.size)]
        if self.cost_model.loads_are_io():
            owner: dict = {}
            for tx, incarnation in enumerate(self.prepass):
                for location in self._prefetched(incarnation):
                    if location not in owner:
                        owner[location] = len(self.parts)
                        self.parts.append((tx, location))
                        self.waiting.append([])
                    self.waiting[owner[location]].append(tx)
                    self.unmet[tx] += 1
        self.ready = [tx for tx, unmet in enumerate(self.unmet) if not unmet]
        self.next_part = 0
        self.remaining = self.size

    def _prefetched(self, incarnation) -> list:
        """The pre-state locations `incarnation` reads that the BAL lists, in read
        order: what a prefetch of the BAL loads for it."""
        listed, slots = self.access_list.addresses, self.access_list.slots
        return [location for location in pre_state_reads(incarnation)
                if location[1] in listed
                and (location[0] != STORAGE or (location[1], location[2]) in slots)]

    def bound_dependencies(self) -> list:
        """The only order a BAL leaves: none, or (io-only) block order."""
        return [[tx - 1] if self.in_order and tx else [] for tx in range(self.size)]

    def done(self) -> bool:
        return not self.remaining

    def next_task(self) -> Task | None:
        if self.ready:
            return Task(TaskKind.EXECUTION, heapq.heappop(self.ready), 0)
        if self.next_part < len(self.parts):
            part, self.next_part = self.next_part, self.next_part + 1
            return Task(TaskKind.WARM_UP, self.parts[part][0], 0, part)
        return None

    def start(self, worker: int, task: Task) -> TaskRun:
        if task.kind == TaskKind.WARM_UP:
            tx, location = self.parts[task.part]
            incarnation = self.prepass[tx]
            one = replace(incarnation, reads={location: incarnation.reads[location]})
            return self.cost_model.preload(one), EventKind.WARM_UP
        incarnation, kind = yield from self.execute(task.tx, 0)
        self._running[worker] = incarnation
        started = time.process_time()
        self._check(task.tx, incarnation)
        seconds = time.process_time() - started
        checked = len(incarnation.reads) + len(incarnation.writes) + len(incarnation.deltas)
        self.metrics.validations += 1
        return (self.cost_model.execution(incarnation)
                + self.cost_model.validation(checked, seconds)), kind

    def _check(self, tx: int, incarnation) -> None:
        """Validate `tx`'s execution against the BAL (noting any problem)."""
        if incarnation.error is not None:
            self.problems[tx] = (f"transaction {tx} cannot be applied over the BAL's "
                                 f"values: {incarnation.error}")
            return
        step = transaction_step(incarnation, state_before(self.mv, self.env.pre_state, tx))
        self.steps[tx] = step
        problem = transaction_problem(self.access_list, tx, step,
                                      self.variant != Variant.NO_STORAGE_READS)
        if problem is not None:
            self.problems[tx] = problem

    def finish(self, worker: int, task: Task) -> Task | None:
        if task.kind == TaskKind.WARM_UP:
            self._release(self.waiting[task.part])
            return None
        incarnation = self._running.pop(worker)
        if debug.ENABLED:
            debug.check(self.last[task.tx] is None and not self.unmet[task.tx],
                        lambda: f"bal executed tx {task.tx} twice, or before its loads")
        self.last[task.tx] = incarnation
        self.remaining -= 1
        if self.in_order:
            self.mv.record(task.tx, 0, incarnation.writes, incarnation.deltas)
            self._release([task.tx + 1] if task.tx + 1 < self.size else [])
        if self.done():
            self._verdict()
        return None

    def _release(self, txs) -> None:
        """One thing each of `txs`' executions waited for is done."""
        for tx in txs:
            self.unmet[tx] -= 1
            if not self.unmet[tx]:
                heapq.heappush(self.ready, tx)

    def _verdict(self) -> None:
        """The block is invalid if any transaction, or the BAL as a whole, disagrees."""
        if self.problems:
            self.metrics.validation_failures += 1
            raise InvalidAccessList(self.problems[min(self.problems)])
        problem = block_problem(self.access_list, self.steps,
                                self.variant != Variant.NO_STORAGE_READS)
        if problem is not None:
            self.metrics.validation_failures += 1
            raise InvalidAccessList(problem)
