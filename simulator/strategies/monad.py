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
- A re-execution is cheaper than a first execution because the state it reads was
  loaded by the first one: the shared cost model charges its reads warm (after a
  first execution that py-evm rejected early, e.g. on a nonce not yet merged, little
  was loaded and the re-execution pays more). No factor of its own: every strategy's
  re-executions get the same warm state.

Invariants: at most two executions per transaction; merged write sets are exactly
the serial ones, since every merged incarnation read the final values of every lower
transaction.
"""

from __future__ import annotations

from .in_order import InOrderCommit


class Monad(InOrderCommit):
    name = "monad"
    description = "Monad: optimistic execution, in-order merge, cheap re-execution on conflict"
    publish_on_finish = False

    def __init__(self, env, cost_model, metrics) -> None:
        super().__init__(env, cost_model, metrics)
        self._next = 0  # the next transaction to execute optimistically

    def _next_execution(self) -> int | None:
        if self._next == self.size:
            return None
        self._next += 1
        return self._next - 1
