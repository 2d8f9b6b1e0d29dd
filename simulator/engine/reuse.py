"""Execution reuse: an execution that provably equals an earlier one is not run again.

An execution of transaction `tx` is a deterministic function of the values it reads
(the oracle, Sealevel's declarations and every validation by value already rely on
this): it reads its first location, whose value decides what it reads next, and so
on. So if every location an earlier execution of the same transaction read still has,
as the transaction sees the memory now (`current_value`, the same function
`validate_values` uses), the value that execution saw, an execution now would read the
same locations in the same order, see the same values, and end the same way. The
cache records, for each real execution, its transaction, its reads with their values in
read order, and its outcome; before a request is executed the records of its
transaction are replayed against the current view, most recent first, and the first
that replays identically is the result. At the first difference the transaction is executed for
real in py-evm, and recorded.

- Records are kept per transaction. Under `assume_nonce` (Monad) the sender's nonce
  read gives the transaction's own nonce whatever the memory holds (the only
  difference the setting makes), so a request with it replays that read only for its
  version and for an ESTIMATE, and only a record that saw the transaction's own nonce
  there serves it; a request without it compares the value as any other. Executions
  with and without the assumption serve each other wherever they are identical.
- A record of an execution stopped by an ESTIMATE holds the reads made before the stop
  (and after it, where py-evm caught the signal and went on: EIP-7702) and every
  location where it met an ESTIMATE, first the one that stopped it. It replays only if
  every one of those locations is an ESTIMATE now, whoever's; `blocked_on` is then
  whose ESTIMATE the first one is now, which is what a real execution would report.
- Lazy locations (a lazy raw transfer's sender balance and nonce, deltas on a lazy
  coinbase) are not reads: the execution never looked at them, nor does the replay.
- The reused Incarnation's `reads` holds the versions read *now* (in the recorded
  order), not the recorded ones: validation by version and the cost model's cold loads
  (a PRE_BLOCK version) depend on them, and incarnation numbers differ between runs;
  `incarnation` is the requested one. Every other field is the record's; `cpu_time`
  is the py-evm time of the recorded execution.
- Executions with `version_reads` (the EIP-2200 original value of a slot of an account
  the transaction wiped: what it saw depends on whether a lower transaction wrote the
  slot at all, not on a value) are never recorded: rare, and not a function of values.
- SHA3 preimages (preimages.py) an execution hashed are recorded with it and replayed
  into the run's table on a hit, so slot names do not depend on reuse.

One cache serves one block and execution environment (`block_cache`: the block, hence
its fork and pre-state, and the lazy_beneficiary and lazy_transfers settings, the only
inputs of an execution besides the memory); the strategies, thread counts and cost
models of that block share it. Records are immutable once stored and shared between
the incarnations built from them: nobody mutates an Incarnation's dictionaries.

Memory: at most RECORDS_PER_TX distinct records per transaction, the least recently used
dropped first; a record holds one Incarnation (its writes, deltas, values, shared with
the incarnations built from it) and its reads as (location, value) pairs: a few KiB
for a typical transaction, so at most a few hundred MiB for a 10,000-transaction block
whose every transaction kept four, and typically one to two records per transaction.

Invariants (asserted under PEVMSIM_DEBUG, debug.py): a reused Incarnation equals, field
for field but `cpu_time`, with every dictionary in the same order, what executing the
transaction for real at that instant returns (checked on every CROSS_CHECK_EVERY-th
hit); the records of one transaction are distinct.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, fields

from .. import debug
from . import preimages
from .block_memo import remembered
from .locations import NONCE
from .mv_memory import EstimateRead
from .versioned_state import Incarnation, current_value

RECORDS_PER_TX = 4  # distinct executions kept per transaction
CROSS_CHECK_EVERY = 16  # under PEVMSIM_DEBUG: every n-th hit is also executed for real


@dataclass
class ReuseCounts:
    """One run's use of the cache."""

    hits: int = 0  # requests answered from a record
    misses: int = 0  # requests executed in py-evm
    saved_s: float = 0.0  # py-evm CPU seconds of the hits' records, less the lookups'


class _Record:
    """One real execution: its reads in order, where it met ESTIMATEs, its outcome."""

    __slots__ = ("reads", "estimates", "result", "preimages")

    def __init__(self, reads: tuple, estimates: tuple, result: Incarnation,
                 table: dict) -> None:
        self.reads = reads  # ((location, value seen), ...) in read order
        self.estimates = estimates  # locations met as an ESTIMATE, the blocking first
        self.result = result  # the execution's Incarnation (its reads are not used)
        self.preimages = table  # SHA3 preimages it recorded


class ReuseCache:
    """The real executions of one block in one execution environment (module
    docstring)."""

    def __init__(self) -> None:
        self._records: dict = {}  # tx -> [_Record], most recent first
        self._hits = 0  # every hit ever, for the cross-check's sample

    @staticmethod
    def counter() -> ReuseCounts:
        """Fresh counts for one run (ExecutionEnv.reuse_counts)."""
        return ReuseCounts()

    def lookup(self, env, mv, tx: int, incarnation: int, assume_nonce: bool,
               counts: ReuseCounts) -> Incarnation | None:
        """The Incarnation an execution of `tx` against `mv` now would return, from
        a record that replays identically; None when no record does."""
        records = self._records.get(tx)
        if not records:
            return None
        started = time.perf_counter()
        pre_state = env.pre_state
        assumed = ((NONCE, env.block.senders[tx]), env.transactions[tx].nonce) \
            if assume_nonce else (None, None)
        for position, record in enumerate(records):
            found = _replay(record, mv, pre_state, tx, assumed)
            if found is not None:
                break
        else:
            counts.saved_s -= time.perf_counter() - started
            return None
        versions, blocked_on = found
        if position:  # most recently used first
            records.insert(0, records.pop(position))
        base = record.result
        hit = Incarnation(
            tx=tx, incarnation=incarnation, reads=versions, writes=base.writes,
            deltas=base.deltas, wiped=base.wiped, slots_set=base.slots_set,
            outcome=base.outcome, gas=base.gas, blocked_on=blocked_on,
            blocked_location=base.blocked_location, error=base.error,
            cpu_time=base.cpu_time, self_destructed=base.self_destructed,
            code_sizes=base.code_sizes, values=base.values,
            version_reads=base.version_reads, partial_writes=base.partial_writes)
        table = preimages.current_table()
        if table is not None and record.preimages:
            table.update(record.preimages)
        counts.hits += 1
        counts.saved_s += base.cpu_time - (time.perf_counter() - started)
        self._hits += 1
        if debug.ENABLED and self._hits % CROSS_CHECK_EVERY == 0:
            real = env.execute_for_real(mv, tx, incarnation, assume_nonce)[0]
            debug.check(same_execution(hit, real),
                        lambda: f"tx {tx}: a reused execution differs from a real one")
        return hit

    def store(self, result: Incarnation, db, table: dict) -> None:
        """Record a real execution (`db`: its VersionedAccountDB, `table`: the SHA3
        preimages it hashed; under an assumed nonce its values hold that nonce)."""
        if result.version_reads:
            return  # not a function of the values read (module docstring)
        values = result.values if result.blocked_on is None else db.read_values()
        reads = tuple((location, values[location]) for location in result.reads)
        estimates = tuple(dict.fromkeys(db.estimates_met))
        record = _Record(reads, estimates, result, table)
        records = self._records.setdefault(result.tx, [])
        records[:] = [kept for kept in records
                      if kept.reads != reads or kept.estimates != estimates]
        records.insert(0, record)
        del records[RECORDS_PER_TX:]

    def __len__(self) -> int:
        """Records held."""
        return sum(len(records) for records in self._records.values())


def _replay(record: _Record, mv, pre_state, tx: int, assumed: tuple) -> tuple | None:
    """(the reads' current versions in order, the transaction whose ESTIMATE stops
    the execution now or None) if `record` replays identically now, else None;
    `assumed`: (the location of an assumed nonce, its value) or (None, None)."""
    versions = {}
    read = mv.read
    assumed_location, assumed_nonce = assumed
    try:
        for location, seen in record.reads:
            if location == assumed_location:
                if seen != assumed_nonce:
                    return None
                versions[location] = read(location, tx)[0]
                continue
            version, value = current_value(mv, pre_state, location, tx)
            if value != seen:
                return None
            versions[location] = version
    except EstimateRead:
        return None
    blocked_on = None
    for location in record.estimates:
        try:
            read(location, tx)
        except EstimateRead as hit:
            if blocked_on is None:
                blocked_on = hit.blocking_tx
            continue
        return None  # an ESTIMATE it met is gone: it would read on
    return versions, blocked_on


def same_execution(reused: Incarnation, real: Incarnation) -> bool:
    """Whether two Incarnations are equal in every field but `cpu_time`, their
    dictionaries in the same order."""
    for item in fields(Incarnation):
        if item.name == "cpu_time":
            continue
        a, b = getattr(reused, item.name), getattr(real, item.name)
        if a != b or (isinstance(a, dict) and list(a) != list(b)):
            return False
    return True


def block_cache(block, lazy_beneficiary: bool, lazy_transfers: bool) -> ReuseCache:
    """The one cache of `block` under these settings (dropped with the block)."""
    return remembered(block, ReuseCache, (lazy_beneficiary, lazy_transfers), ReuseCache)
