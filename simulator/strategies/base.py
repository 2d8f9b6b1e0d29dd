"""The parts every multi-version strategy shares: one MVMemory per run, each
transaction's final incarnation, and executing / validating with the metrics counted
the same way everywhere.

Executions are requested, not performed (abc.py): `run_execution` yields an Execute
request and receives the Incarnation from whichever backend ran it. `execute` also
classifies it as an EventKind: EXECUTION (incarnation 0), RE_EXECUTION, INVALID
(py-evm rejected it on speculative reads) or ABORTED (it read an ESTIMATE and was
abandoned, to be retried later).

Two ways to validate a read set, each strategy saying which it uses:
- `validate` by version (Block-STM's paper and pevm): a read is stale once the entry
  it saw was replaced, even by the same value;
- `validate_values` by value (Sei's multiversion store, Monad's merge): a read is
  stale only if the value it would return now differs from the value the incarnation
  saw (engine/versioned_state.py `current_value`), so a lower write of the same value
  is no conflict. A read that now meets an ESTIMATE is reported apart (Sei: a
  conflict, not a failure). Reads listed in the incarnation's `version_reads` are
  compared by version. Exact either way: an execution is a function of the values it
  reads.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from ..abc import EventKind, Execute, Strategy, TaskRun
from ..engine.mv_memory import EstimateRead, MVMemory, version_writers
from ..engine.versioned_state import current_value


@dataclass(frozen=True)
class ValueCheck:
    """The outcome of `validate_values`."""
    stale: tuple  # locations whose value changed, in the order they were compared
    writers: frozenset  # the transactions whose writes give those locations' values now
    estimates: frozenset  # the transactions whose ESTIMATE a read meets now
    duration: float  # the validation's cost


class SpeculativeStrategy(Strategy):
    def __init__(self, env, cost_model, metrics) -> None:
        super().__init__(env, cost_model, metrics)
        self.size = len(env.transactions)
        self.mv = MVMemory(self.size)
        self.last: list = [None] * self.size  # each transaction's final incarnation

    def final_incarnations(self) -> list:
        return self.last

    def run_execution(self, tx: int, incarnation: int, assume_nonce: bool = False) -> TaskRun:
        """Have `tx` executed for real against the memory as it stands now; counted."""
        result = yield Execute(tx, incarnation, assume_nonce)
        self.metrics.executions += 1
        return result

    def execute(self, tx: int, incarnation: int, assume_nonce: bool = False) -> TaskRun:
        """`run_execution`, classified: returns (Incarnation, EventKind)."""
        result = yield from self.run_execution(tx, incarnation, assume_nonce)
        if result.blocked_on is not None:
            self.metrics.aborted(tx, result.blocked_location)
            return result, EventKind.ABORTED
        if result.error is not None:
            self.metrics.invalid_executions += 1
            return result, EventKind.INVALID
        return result, EventKind.EXECUTION if incarnation == 0 else EventKind.RE_EXECUTION

    def validate(self, tx: int, reads: dict) -> tuple:
        """Re-read `reads`: (the first stale location or None, the validation's cost)."""
        started = time.process_time()
        stale = self.mv.first_invalid_read(reads, tx)
        seconds = time.process_time() - started
        self.metrics.validations += 1
        if stale is not None:
            self.metrics.validation_failures += 1
            self.metrics.aborted(tx, stale)
        return stale, self.cost_model.validation(len(reads), seconds)

    def validate_values(self, tx: int, incarnation, also=()) -> ValueCheck:
        """Re-read `incarnation`'s read set by value, as transaction `tx` sees the
        memory now; `also`: (location, reader) pairs, further locations whose value
        must equal what transaction `reader` sees (Monad's whole account records)."""
        started = time.process_time()
        mv, pre_state = self.mv, self.env.pre_state
        stale, writers, estimates = [], set(), set()
        compared = [(location, incarnation.values[location])
                    for location in incarnation.reads]
        compared += [(location, current_value(mv, pre_state, location, reader)[1])
                     for location, reader in also]
        for location, seen in compared:
            try:
                version, value = current_value(mv, pre_state, location, tx)
            except EstimateRead as hit:
                estimates.add(hit.blocking_tx)
                continue
            if location in incarnation.version_reads:
                changed = version != incarnation.reads[location]
            else:
                changed = value != seen
            if changed:
                stale.append(location)
                writers.update(version_writers(version))
        seconds = time.process_time() - started
        self.metrics.validations += 1
        if stale:
            self.metrics.validation_failures += 1
            self.metrics.aborted(tx, stale[0])
        return ValueCheck(tuple(stale), frozenset(writers), frozenset(estimates),
                          self.cost_model.validation(len(compared), seconds))
