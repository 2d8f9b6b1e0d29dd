"""Strategy `monad`: Monad's optimistic execution with in-order merge (Monad docs,
"Parallel Execution").

Protocol (the in-order-commit shape, in_order.py):
- Every transaction is executed once, optimistically, in block order as workers free
  up, against the state known when it starts: the multi-version memory holds only the
  writes of transactions already merged, so a first execution sees the pre-block state
  plus the merged prefix. Its read set (locations with the versions seen) and write set
  form a pending result; nothing is published.
- Pending results merge one at a time, in block order (one merger at a time; a merge
  task is a validation of the read set under the cost model). If an earlier merge
  changed any input (a version differs), the transaction is re-executed inside its
  merge; all lower transactions are merged by then, so that execution is final, and
  nothing after it merges until it finishes.
- A re-execution is cheaper than a first execution (the state it reads is cached and
  the sender recovered): it costs `reexecution_factor` times the execution cost,
  by default the cost model's REEXECUTION_FACTOR, provided the first execution ran to
  completion; after one that py-evm rejected early (e.g. a nonce not yet merged), it
  loaded almost nothing, and the re-execution pays the full cost.

Invariants: at most two executions per transaction; merged write sets are exactly
the serial ones, since every merged incarnation read the final values of every lower
transaction.
"""

from __future__ import annotations

from .in_order import InOrderCommit
from ..params import Param


class Monad(InOrderCommit):
    name = "monad"
    description = "Monad: optimistic execution, in-order merge, cheap re-execution on conflict"
    options = (Param("reexecution_factor", None, "re-execution cost / execution cost "
                      "(default: the cost model's REEXECUTION_FACTOR)", float, 0.0, 1.0),)
    publish_on_finish = False

    def __init__(self, env, cost_model, metrics, reexecution_factor=None) -> None:
        super().__init__(env, cost_model, metrics)
        self.reexecution_factor = (cost_model.REEXECUTION_FACTOR if reexecution_factor is None
                                   else reexecution_factor)
        self._next = 0  # the next transaction to execute optimistically

    def _next_execution(self) -> int | None:
        if self._next == self.size:
            return None
        self._next += 1
        return self._next - 1

    def _reexecution_cost(self, incarnation, first) -> float:
        factor = self.reexecution_factor if first.outcome is not None else 1.0
        return factor * self.cost_model.execution(incarnation)
