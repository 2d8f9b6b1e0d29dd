"""The parts every multi-version strategy shares: one MVMemory per run, each
transaction's final incarnation, and executing / validating with the metrics counted
the same way everywhere.

Executions are requested, not performed (abc.py): `run_execution` yields an Execute
request and receives the Incarnation from whichever backend ran it. `execute` also
classifies it as an EventKind: EXECUTION (incarnation 0), RE_EXECUTION, INVALID
(py-evm rejected it on speculative reads) or ABORTED (it read an ESTIMATE and was
abandoned, to be retried later).
"""

from __future__ import annotations

import time

from ..abc import EventKind, Execute, Strategy, TaskRun
from ..engine.mv_memory import MVMemory


class SpeculativeStrategy(Strategy):
    def __init__(self, env, cost_model, metrics) -> None:
        super().__init__(env, cost_model, metrics)
        self.size = len(env.transactions)
        self.mv = MVMemory(self.size)
        self.last: list = [None] * self.size  # each transaction's final incarnation

    def final_incarnations(self) -> list:
        return self.last

    def run_execution(self, tx: int, incarnation: int) -> TaskRun:
        """Have `tx` executed for real against the memory as it stands now; counted."""
        result = yield Execute(tx, incarnation)
        self.metrics.executions += 1
        return result

    def execute(self, tx: int, incarnation: int) -> TaskRun:
        """`run_execution`, classified: returns (Incarnation, EventKind)."""
        result = yield from self.run_execution(tx, incarnation)
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
