"""Strategy `monad`: Monad's optimistic execution with in-order merge, as
category-labs/monad runs it.

Source: category-labs/monad at commit c67c9f22e44b (2026-08-21; newest tag v0.16.0):
`category/execution/ethereum/execute_block.cpp` (execute_block_transactions),
`execute_transaction.cpp` (ExecuteTransaction::operator(), execute_impl2,
execute_final), `state2/block_state.cpp` (can_merge, merge, read_account),
`state3/state.cpp` (access_account, set_original_nonce, try_fix_account_mismatch),
`core/fiber/fiber_group.hpp` and `priority_queue.hpp`, `cmd/monad/main.cpp`
(--nthreads 4, --nfibers 256). Relaxed merge is off since commit 249ab18b5
(2025-09-28, "disable relaxed merge").

Protocol (the in-order-commit shape, in_order.py):
- Every transaction runs in a fiber that holds it until it has merged; a fixed pool of
  `fibers` (default 256, Monad's --nfibers) takes transactions in block order, so at
  most `fibers` are in flight: transaction k starts only once k - fibers has merged.
  The fibers run on the run's `--threads` workers (Monad's --nthreads, 4 by default),
  lowest index first (the merge of the lowest unmerged transaction before any new
  execution).
- A first execution runs against the merged state (the multi-version memory holds
  only merged writes) with its sender's nonce assumed to be the transaction's
  (set_original_nonce), so it runs to the end and loads its state even before its
  sender's previous transaction merged.
- Merges run one at a time, in block order. The merge check (can_merge) compares
  VALUES (base.validate_values): the whole account record of every account the
  execution accessed (balance, nonce, code, existence; a change of any field is a
  mismatch) and every storage slot it read. With EIP-3651 (Shanghai and later) every
  transaction accesses the beneficiary (host.access_account), so the beneficiary's
  record is in every read set: under the exact merge, a transaction is retried
  whenever a lower one that merged after its first execution began paid the
  beneficiary a non-zero fee. `relaxed_merge=1` (the mode disabled by 249ab18b5)
  tolerates an account whose balance alone changed when the execution did not read
  that balance (try_fix_account_mismatch without validate_exact_balance).
- The fee is credited inside the merge (execute_final) on the merged state: the
  credit itself never conflicts, which the run's lazy beneficiary (the default: fee
  credits as deltas) models; whether the beneficiary conflicts is decided by the
  merge check above. With the eager beneficiary the run asks every strategy alike for
  a read-modify-write credit: the execution then reads the beneficiary's balance, so
  even the relaxed merge compares it exactly.
- A mismatch retries the transaction inside its merge, once: every lower transaction
  has merged, so the retry is final, and nothing after it merges until it ends. The
  retry's reads are warm when the first execution loaded them (the shared cost model;
  every strategy's re-executions get the same warm state).

Stated approximations:
- Reads at access time: Monad's reads see the merged state at each access; pevmsim
  executes a task atomically when it starts, so its execution sees only what had
  merged by then, and its beneficiary and other accounts are compared with their
  values at that start. Error direction: more retries than Monad (a merge between a
  transaction's start and its read is a conflict here, not in Monad), so the speedup
  is underestimated, slightly where executions are short.
- Relaxed merge is applied to accounts whose balance the execution did not read;
  pevmsim's eager execution reads a balance to credit it, so an account credited
  without a read (other than the beneficiary) counts as read: relaxed merge's benefit
  is underestimated there.
- The serial section is the merge check (priced as a validation of the compared
  locations, every strategy's validation cost) plus the retry; execute_final and the
  write-back are inside the execution's cost, as for every other strategy.
- I/O (`yielding_reads`, on by default; state on an SSD only): a fiber's database
  read yields its thread. TrieDb::read_account / read_storage
  (category/execution/ethereum/db/trie_db.cpp) go to mpt::RODb::find, whose
  find_fiber_blocking (category/mpt/db.cpp, RWOnDisk at c67c9f22e44b) submits a
  fiber_find_request_t to the triedb worker thread and waits on a boost::fibers
  future: the fiber is suspended, its thread runs the next ready fiber (priority
  pool, lowest index first), so up to `fibers` reads are in flight while `--threads`
  workers run EVM code. Modelled when the run's cost model says a cold load is
  device I/O (cost_model.loads_are_io: `gas-disk`; in memory, `gas` and `revm`, a
  load is a cache hit and nothing changes): each execution's cold loads are the cost
  model's `preload` of what it read (the same price the oracle's warm-up and bal's
  prefetch pay), waited out off the worker before its work (abc.Cost.io,
  backends/simulated.py), and the execution then reads them warm; a task back from
  its reads takes a worker after the merge and before new executions, lowest index
  first. Approximations, and the direction of their error: (a) a transaction's loads
  are one wait before its EVM work, not interleaved with it; the total latency is the
  same, and its reads are still those at its start (above). (b) The device serves
  every outstanding read at the full COLD_LOAD latency however many there are: 256
  reads of 80 us is 3.2M reads/s, beyond one NVMe drive, and the triedb thread's own
  work per read is not charged: both overestimate Monad's overlap on the disk tier.
  (c) The cross-block cache (10M accounts, 256 MiB of storage) is not modelled: every
  location is cold once per block, as for every strategy (the same error for all).
  Bound: Monad with yielding reads is held to the dependency bound with its loads
  off the workers, at most `fibers` at a time (engine/metrics.py, reads_in_flight).

Invariants: at most two executions per transaction; never more than `fibers`
transactions started and not merged (so never more than `fibers` yielded reads
outstanding); merged write sets are exactly the serial ones,
since every merged incarnation read values equal to the final values of every lower
transaction.
"""

from __future__ import annotations

from eth.vm.forks import ShanghaiVM

from .. import debug
from ..engine.locations import ACCOUNT, BALANCE, CODE, NONCE
from ..params import Param
from .in_order import InOrderCommit

ACCOUNT_FIELDS = (BALANCE, NONCE, CODE, ACCOUNT)  # Monad's account record
NFIBERS = 256  # cmd/monad/main.cpp
NTHREADS = 4  # cmd/monad/main.cpp (the run's --threads stands for it)


class Monad(InOrderCommit):
    name = "monad"
    description = "Monad: fibers, optimistic execution, in-order merge by value, one retry"
    publish_on_finish = False
    assume_sender_nonce = True
    shipped_threads = NTHREADS
    options = (
        Param("fibers", NFIBERS, "transactions in flight at most (Monad's --nfibers)",
              int, 1),
        Param("relaxed_merge", 0, "1: the relaxed merge (disabled in Monad since "
              "249ab18b5): a balance-only change of an account whose balance the "
              "execution did not read is no conflict", int, 0, 1),
        Param("yielding_reads", 1, "1 (default): with state on an SSD (gas-disk), a "
              "fiber's cold reads yield its thread (up to `fibers` in flight); 0: they "
              "hold the worker, as in every other strategy", int, 0, 1),
    )

    def __init__(self, env, cost_model, metrics, fibers: int = NFIBERS,
                 relaxed_merge: int = 0, yielding_reads: int = 1) -> None:
        super().__init__(env, cost_model, metrics)
        self.fibers = fibers
        self.relaxed_merge = bool(relaxed_merge)
        self.yielding_reads = bool(yielding_reads) and cost_model.loads_are_io()
        self.beneficiary = (env.execution_context.coinbase
                            if issubclass(env.vm_class, ShanghaiVM) else None)  # EIP-3651
        self._next = 0  # the next transaction to execute optimistically
        self.started_at = [0] * self.size  # transactions merged when each first ran

    def _next_execution(self) -> int | None:
        if self._next == self.size or self._next >= self.committed + self.fibers:
            return None
        tx = self._next
        self.started_at[tx] = self.committed
        self._next += 1
        if debug.ENABLED:
            debug.check(self._next - self.committed <= self.fibers,
                        lambda: f"more than {self.fibers} transactions in flight")
        return tx

    def reads_in_flight(self) -> int | None:
        return self.fibers if self.yielding_reads else None

    def _commit_check(self, tx: int, result) -> tuple:
        """can_merge: the execution's reads by value, and the rest of the record of
        every account it accessed (the beneficiary's included) as at its start."""
        addresses = {location[1] for location in result.reads}
        if self.beneficiary is not None:
            addresses.add(self.beneficiary)
        also = [((field, address), self.started_at[tx])
                for address in sorted(addresses) for field in ACCOUNT_FIELDS
                if (field, address) not in result.reads
                and not (self.relaxed_merge and field == BALANCE)]
        check = self.validate_values(tx, result, also)
        return (check.stale[0] if check.stale else None), check.duration
