"""The parts every multi-version strategy shares: one MVMemory per run, each
transaction's final incarnation, and executing / validating with the metrics counted
the same way everywhere.

Event kinds returned by `execute`: "execution" (incarnation 0), "re-execution",
"invalid" (py-evm rejected it on speculative reads) and "aborted" (it read an ESTIMATE
and was abandoned, to be retried later).
"""

from __future__ import annotations

import time

from ..abc import Strategy
from ..mv_memory import MVMemory


class SpeculativeStrategy(Strategy):
    def __init__(self, env, cost_model, metrics) -> None:
        super().__init__(env, cost_model, metrics)
        self.size = len(env.transactions)
        self.mv = MVMemory(self.size)
        self.last: list = [None] * self.size  # each transaction's final incarnation

    def final_incarnations(self) -> list:
        return self.last

    def execute(self, tx: int, incarnation: int) -> tuple:
        """Execute `tx` for real against the memory as it stands now:
        (Incarnation, event kind)."""
        result = self.env.execute(self.mv, tx, incarnation)
        metrics = self.metrics
        metrics.executions += 1
        if result.blocked_on is not None:
            metrics.aborted(tx, result.blocked_location)
            return result, "aborted"
        if result.error is not None:
            metrics.invalid_executions += 1
            return result, "invalid"
        return result, "execution" if incarnation == 0 else "re-execution"

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
