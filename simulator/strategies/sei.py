"""Strategy `sei`: Sei v2's optimistic concurrency control (sei-cosmos OCC scheduler).

Protocol:
- Before the block, a predictor guesses each transaction's write set from what it can
  see without executing: the transaction's type (target contract and 4-byte selector;
  see prepass.transaction_type). pevmsim stands it in with the true write sets from the
  serial pre-pass (prepass.py): with probability `accuracy` (a seeded draw per
  transaction) it predicts the transaction's true write locations, otherwise the true
  write locations of another transaction of the same type (none if it has no such
  sibling). Each predicted location is pre-filled in the multi-version memory as an
  ESTIMATE of that transaction.
- Rounds: "execute all pending" (every pending transaction, lowest index first, each
  against the memory as it stands when it starts; an execution that reads an ESTIMATE
  is abandoned and stays pending), a barrier, then "validate all" (every executed
  transaction from the first non-final one on re-reads its read set; a failed one turns
  its writes into ESTIMATEs and becomes pending), a barrier. After a validation round,
  the longest prefix of transactions that all passed is final: nothing below them
  changed during the round.
- After `rounds` rounds, the rest of the block is executed sequentially, in order, on
  one worker (each such execution is final: everything below it is).

Invariants: a final transaction's read set was valid while every lower transaction
was final; the final write sets are the serial ones, whatever the predictions.
"""

from __future__ import annotations

import random
from collections import defaultdict, deque

from ..scheduler import EXECUTION, VALIDATION, Task
from .base import SpeculativeStrategy
from ..params import Param
from .prepass import serial_prepass, transaction_type, written_locations


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
    description = "Sei v2 OCC: predicted write estimates, execute-all / validate-all rounds"
    options = (
        Param("accuracy", 0.9, "chance that a transaction's write set is predicted right",
              float, 0.0, 1.0),
        Param("rounds", 10, "parallel rounds before the sequential fallback", int, 1),
        Param("seed", 0, "seed of the predictor", int),
    )

    def __init__(self, env, cost_model, metrics, accuracy=0.9, rounds=10, seed=0) -> None:
        super().__init__(env, cost_model, metrics)
        predictions = predict_writes(env, serial_prepass(env), accuracy,
                                     random.Random(f"sei:{seed}"))
        for tx, locations in enumerate(predictions):
            if locations:
                self.mv.record(tx, 0, dict.fromkeys(locations), {})
                self.mv.convert_writes_to_estimates(tx)
        self.rounds = rounds
        self.round = 1
        self.sequential = False
        self.final_prefix = 0  # transactions [0, final_prefix) are final
        self.incarnation = [0] * self.size  # the next incarnation of each transaction
        self.latest: list = [None] * self.size  # each one's latest complete execution
        self._phase = EXECUTION
        self._queue = deque(range(self.size))  # what the current phase still hands out
        self._in_flight = 0
        self._pending: set = set()  # to execute in the next round
        self._running: dict = {}  # worker -> execution result or stale location

    def done(self) -> bool:
        return self.final_prefix == self.size

    def next_task(self) -> Task | None:
        if not self._queue or (self.sequential and self._in_flight):
            return None
        tx = self._queue.popleft()
        self._in_flight += 1
        return Task(self._phase, tx, self.incarnation[tx])

    def start(self, worker: int, task: Task) -> tuple:
        if task.kind == EXECUTION:
            result, kind = self.execute(task.tx, task.incarnation)
            self._running[worker] = result
            return self.cost_model.execution(result), kind
        stale, duration = self.validate(task.tx, self.latest[task.tx].reads)
        self._running[worker] = stale
        return duration, "validation" if stale is None else "failed-validation"

    def finish(self, worker: int, task: Task) -> Task | None:
        outcome = self._running.pop(worker)
        tx = task.tx
        self._in_flight -= 1
        if task.kind == VALIDATION:
            if outcome is not None:
                self.mv.convert_writes_to_estimates(tx)
                self._pending.add(tx)
        else:
            self.incarnation[tx] += 1
            if outcome.blocked_on is not None:
                self._pending.add(tx)
            else:
                self.mv.record(tx, outcome.incarnation, outcome.writes, outcome.deltas)
                self.latest[tx] = outcome
                if self.sequential:
                    self.last[tx] = outcome
                    self.final_prefix += 1
        if not self._queue and not self._in_flight and not self.sequential:
            self._end_phase()
        return None

    def _end_phase(self) -> None:
        if self._phase == EXECUTION:
            self._phase = VALIDATION
            self._queue = deque(tx for tx in range(self.final_prefix, self.size)
                                if tx not in self._pending)
            if self._queue:
                return
        while self.final_prefix < self.size and self.final_prefix not in self._pending:
            self.last[self.final_prefix] = self.latest[self.final_prefix]
            self.final_prefix += 1
        self._phase = EXECUTION
        if self.round == self.rounds:
            self.sequential = True
            self._queue = deque(range(self.final_prefix, self.size))
        else:
            self.round += 1
            self._queue = deque(sorted(self._pending))
        self._pending = set()
