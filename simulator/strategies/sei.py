"""Strategy `sei`: Sei v2's optimistic concurrency control, as sei-cosmos runs it
(`tasks/scheduler.go`, ProcessAll).

Protocol:
- Before the block, a predictor guesses each transaction's write set from what it can
  see without executing: the transaction's type (target contract and 4-byte selector;
  see prepass.transaction_type). pevmsim stands it in with the true write sets from the
  serial pre-pass (prepass.py): with probability `accuracy` (a seeded draw per
  transaction) it predicts the transaction's true write locations, otherwise the true
  write locations of another transaction of the same type (none if it has no such
  sibling). Each predicted location is pre-filled in the multi-version memory as an
  ESTIMATE of that transaction (sei-cosmos PrefillEstimates).
- Statuses: PENDING, EXECUTED, ABORTED (the execution read an ESTIMATE), VALIDATED
  and WAITING (failed validation while a transaction it conflicts with is not yet
  validated).
- Until every transaction is VALIDATED, a round runs:
  1. executeAll: the transactions to run execute on the workers, lowest index first,
     each against the memory as it stands when it starts. Each one is validated as
     soon as it has executed and, when the transaction just below it is in the same
     batch, that one has been validated (waitOnPreviousAndValidate): if it did not end
     up VALIDATED, this one is reset to PENDING without validating (sei-cosmos's
     "cascade"; option `cascade=0` is the what-if without it); otherwise its read set
     is re-read (findConflicts). Valid: VALIDATED. Invalid: its writes become
     ESTIMATEs and, if every transaction it conflicts with is VALIDATED, it is
     PENDING (to re-execute), else WAITING on them. An ABORTED one is PENDING.
  2. validateAll: every transaction from the first non-VALIDATED one on is checked
     again: PENDING or ABORTED ones are to re-execute; EXECUTED and VALIDATED ones
     are re-validated as above; WAITING ones are to re-execute once all their
     conflicts are VALIDATED. Those to re-execute form the next round's batch.
     pevmsim's one addition, for correctness: the pass also starts no later than just
     above the lowest transaction whose writes changed since the previous pass began.
     Validations of one pass run in parallel, so a transaction can pass before a lower
     one fails and turns its writes into ESTIMATEs; if every transaction is VALIDATED
     once that lower one re-executes, sei-cosmos's pass (from the first non-VALIDATED)
     would not look at it again and could keep a stale read (with `cascade=0` pevmsim
     found such a block; the cascade usually hides it).
  The first non-VALIDATED transaction always validates in the next round (everything
  below it is final), so the loop ends.
- Validations are tasks on the same workers as executions (sei-cosmos runs them on
  goroutines of their own; the cores are shared either way), served before new
  executions.
- `rounds` (0, the default: no cap, as sei-cosmos) optionally caps the rounds, after
  which the rest of the block runs sequentially on one worker, in order.

Invariants: a VALIDATED transaction's reads were valid while every lower transaction
was VALIDATED; when all are VALIDATED at the end of a validateAll pass, the write sets
are the serial ones, whatever the predictions.
"""

from __future__ import annotations

import random
from collections import defaultdict, deque
from enum import Enum

from ..abc import EventKind, Task, TaskKind, TaskRun
from ..engine.mv_memory import EstimateRead, version_writers
from ..params import Param
from .base import SpeculativeStrategy
from .prepass import serial_prepass, transaction_type, written_locations


class Status(Enum):
    PENDING = "pending"
    EXECUTED = "executed"
    ABORTED = "aborted"
    VALIDATED = "validated"
    WAITING = "waiting"


class Phase(Enum):
    EXECUTE_ALL = "executeAll"
    VALIDATE_ALL = "validateAll"
    SEQUENTIAL = "sequential"


def predict_writes(env, prepass, accuracy: float, rng: random.Random) -> list:
    """Each transaction's predicted write locations (see the module docstring)."""
    siblings = defaultdict(list)
    for tx in range(len(prepass)):
        siblings[transaction_type(env, tx)].append(tx)
    predictions = []
    for tx, incarnation in enumerate(prepass):
        if rng.random() < accuracy:
            predictions.append(written_locations(incarnation))
            continue
        others = [other for other in siblings[transaction_type(env, tx)] if other != tx]
        predictions.append(written_locations(prepass[rng.choice(others)]) if others
                           else frozenset())
    return predictions


class Sei(SpeculativeStrategy):
    name = "sei"
    description = "Sei v2 OCC (sei-cosmos): predicted estimates, in-order validation, waiting"
    options = (
        Param("accuracy", 0.9, "chance that a transaction's write set is predicted right",
              float, 0.0, 1.0),
        Param("rounds", 0, "cap on rounds before a sequential fallback (0: none, as "
              "sei-cosmos)", int, 0),
        Param("seed", 0, "seed of the predictor", int),
        Param("cascade", 1, "1 (sei-cosmos): a transaction whose predecessor in the "
              "batch failed validation is reset unvalidated; 0: validated anyway", int,
              0, 1),
    )

    def __init__(self, env, cost_model, metrics, accuracy=0.9, rounds=0, seed=0,
                 cascade=1) -> None:
        super().__init__(env, cost_model, metrics)
        predictions = predict_writes(env, serial_prepass(env), accuracy,
                                     random.Random(f"sei:{seed}"))
        for tx, locations in enumerate(predictions):
            if locations:
                self.mv.record(tx, 0, dict.fromkeys(sorted(locations, key=repr)), {})
                self.mv.convert_writes_to_estimates(tx)
        self.max_rounds = rounds
        self.cascade = bool(cascade)
        self.round = 0
        self.status = [Status.PENDING] * self.size
        self.waiting_on: list = [()] * self.size
        self.incarnation = [0] * self.size
        self.latest: list = [None] * self.size  # each one's latest complete execution
        self.finished = self.size == 0
        self._changed = self.size  # the lowest tx whose writes changed since the last pass
        self._running: dict = {}  # worker -> execution result or validation verdict
        self._in_flight = 0
        self._start_round(list(range(self.size)))

    # -- rounds ------------------------------------------------------------------------
    def _start_round(self, batch: list) -> None:
        self.round += 1
        if self.max_rounds and self.round > self.max_rounds:
            self.phase = Phase.SEQUENTIAL
            batch = list(range(self._first_unvalidated(), self.size))
        else:
            self.phase = Phase.EXECUTE_ALL
        self._batch = batch
        self._in_batch = set(batch)
        self._executions = deque(batch)
        self._validations: deque = deque()
        self._executed: set = set()
        self._chain = 0  # the position in the batch of the next in-order validation
        self._chain_busy = False

    def _first_unvalidated(self) -> int:
        return next((tx for tx in range(self.size) if self.status[tx] != Status.VALIDATED),
                    self.size)

    def done(self) -> bool:
        return self.finished

    # -- handing out tasks -----------------------------------------------------------------
    def next_task(self) -> Task | None:
        if self._validations:
            kind, tx = TaskKind.VALIDATION, self._validations.popleft()
        elif self._executions and not (self.phase == Phase.SEQUENTIAL and self._in_flight):
            kind, tx = TaskKind.EXECUTION, self._executions.popleft()
        else:
            return None
        self._in_flight += 1
        return Task(kind, tx, self.incarnation[tx])

    def start(self, worker: int, task: Task) -> TaskRun:
        if task.kind == TaskKind.EXECUTION:
            result, kind = yield from self.execute(task.tx, task.incarnation)
            self._running[worker] = result
            return self.cost_model.execution(result), kind
        verdict, duration = self._find_conflicts(task.tx)
        self._running[worker] = verdict
        return duration, (EventKind.VALIDATION if verdict == Status.VALIDATED
                          else EventKind.FAILED_VALIDATION)

    def _find_conflicts(self, tx: int) -> tuple:
        """Validate tx's latest execution: (its new status, the validation's cost)."""
        reads = self.latest[tx].reads
        stale, duration = self.validate(tx, reads)
        if stale is None:
            return Status.VALIDATED, duration
        conflicts = set()
        for location, version in reads.items():
            try:
                current = self.mv.read(location, tx)[0]
            except EstimateRead as hit:
                conflicts.add(hit.blocking_tx)
                continue
            if current != version:
                conflicts.update(version_writers(current))
        self.waiting_on[tx] = tuple(sorted(conflicts))
        return (Status.PENDING if self._all_validated(conflicts) else Status.WAITING), duration

    def _all_validated(self, transactions) -> bool:
        return all(self.status[tx] == Status.VALIDATED for tx in transactions)

    # -- finishing tasks ---------------------------------------------------------------------
    def finish(self, worker: int, task: Task) -> Task | None:
        result = self._running.pop(worker)
        self._in_flight -= 1
        if task.kind == TaskKind.EXECUTION:
            self._finish_execution(task.tx, result)
        else:
            if result != Status.VALIDATED:
                self.mv.convert_writes_to_estimates(task.tx)  # invalidateTask
                self._changed = min(self._changed, task.tx)
            self.status[task.tx] = result
            if self.phase == Phase.EXECUTE_ALL:
                self._chain_busy = False
                self._chain += 1
        if self.phase == Phase.EXECUTE_ALL:
            self._advance_chain()
        if not (self._in_flight or self._executions or self._validations):
            self._end_phase()
        return None

    def _finish_execution(self, tx: int, result) -> None:
        self.incarnation[tx] += 1
        if result.blocked_on is not None:
            self.status[tx] = Status.ABORTED
        else:
            self.mv.record(tx, result.incarnation, result.writes, result.deltas)
            self._changed = min(self._changed, tx)
            self.latest[tx] = result
            self.status[tx] = Status.EXECUTED
        if self.phase == Phase.SEQUENTIAL:  # everything below is final: so is this
            self.status[tx] = Status.VALIDATED
        self._executed.add(tx)

    def _advance_chain(self) -> None:
        """waitOnPreviousAndValidate: the batch is validated in order, each transaction
        once it has executed and the one just below it, if in the batch, has been."""
        batch = self._batch
        while not self._chain_busy and self._chain < len(batch):
            tx = batch[self._chain]
            if tx not in self._executed:
                return
            cascaded = (self.cascade and tx - 1 in self._in_batch
                        and self.status[tx - 1] != Status.VALIDATED)
            if cascaded or self.status[tx] == Status.ABORTED:
                self.status[tx] = Status.PENDING  # the cascade, or an aborted execution
                self._chain += 1
                continue
            self._chain_busy = True
            self._validations.append(tx)

    def _end_phase(self) -> None:
        if self.phase == Phase.EXECUTE_ALL:  # then validateAll
            self.phase = Phase.VALIDATE_ALL
            start = min(self._first_unvalidated(), self._changed + 1)
            self._changed = self.size
            for tx in range(start, self.size):
                if self.status[tx] in (Status.EXECUTED, Status.VALIDATED):
                    self._validations.append(tx)
            if self._validations:
                return
        rerun = [tx for tx in range(self.size)
                 if self.status[tx] in (Status.PENDING, Status.ABORTED)
                 or (self.status[tx] == Status.WAITING
                     and self._all_validated(self.waiting_on[tx]))]
        if rerun:
            self._start_round(rerun)
            return
        if self.phase != Phase.SEQUENTIAL:
            assert all(status == Status.VALIDATED for status in self.status), self.status
        self.last = list(self.latest)
        self.finished = True
