"""Multi-version memory: every transaction's latest writes, keyed by location.

Protocol (Block-STM, Gelashvili et al., PPoPP'23, section 3):
- For each location the memory keeps at most one entry per transaction index:
  (incarnation, value, kind) where kind is FULL (a plain value), DELTA (an integer
  increment that commutes with other deltas: a balance, or a lazy raw transfer's
  sender nonce, see versioned_state.py) or ESTIMATE (the incarnation that wrote
  here was aborted; a new incarnation will probably write here again).
- A read by transaction `tx` sees the entry of the highest transaction below `tx` that
  wrote the location. No entry below `tx` means the pre-block value. A DELTA entry is
  summed with every entry below it down to a FULL entry or the pre-block value, and the
  read's version is the tuple of every version visited.
- An ESTIMATE seen by a read raises `EstimateRead(blocking_tx)`: the reader must wait
  for that transaction's next incarnation.
- `record` replaces a transaction's whole write set atomically and reports whether it
  wrote a location its previous incarnation did not (which obliges the scheduler to
  revalidate every higher transaction).
- `first_invalid_read` re-reads every recorded read and succeeds only if each one still
  returns the same version (never comparing values, so it is exact for any value type).

- `journal`: when a list (the processes backend), every `record`,
  `convert_writes_to_estimates` and `clear` is also appended to it, as (RECORD, tx,
  incarnation, writes, deltas), (ESTIMATES, tx) or (CLEAR,); `apply_journal` replays
  entries on a replica, which then equals this memory.

Invariant: after the scheduler is done, each location's entries are exactly the final
incarnations' writes, none of them ESTIMATE, so folding them in transaction order gives
the serial result.
"""

from __future__ import annotations

from bisect import bisect_left, insort
from enum import IntEnum


class EntryKind(IntEnum):
    FULL = 0
    DELTA = 1
    ESTIMATE = 2


class JournalOp(IntEnum):
    RECORD = 0
    ESTIMATES = 1
    CLEAR = 2


FULL, DELTA, ESTIMATE = EntryKind
RECORD, ESTIMATES, CLEAR = JournalOp

# The version of a value read from the pre-block state.
PRE_BLOCK = None


class _NotWritten:
    """The value of a read that found no entry: the caller reads the pre-block state."""

    def __repr__(self) -> str:
        return "NOT_WRITTEN"


NOT_WRITTEN = _NotWritten()


def version_writers(version) -> tuple:
    """The transactions whose writes a read of this version saw (none: pre-block)."""
    if version is PRE_BLOCK:
        return ()
    if isinstance(version[0], tuple):  # a delta chain
        return tuple(writer for writer, _ in version)
    return (version[0],)


class EstimateRead(Exception):
    """A read of `location` hit an ESTIMATE of transaction `blocking_tx`. Each py-evm
    call frame it leaves appends the gas that frame still held to `unspent_gas`."""

    def __init__(self, blocking_tx: int, location) -> None:
        super().__init__(blocking_tx, location)
        self.blocking_tx = blocking_tx
        self.location = location
        self.unspent_gas: list = []

    def gas_consumed(self, gas_limit: int) -> int:
        """The gas the transaction had consumed when the read stopped it: its limit
        less what the open frames held; zero if it stopped before execution began."""
        if not self.unspent_gas:
            return 0
        return max(0, gas_limit - sum(self.unspent_gas))


class MVMemory:
    def __init__(self, block_size: int) -> None:
        self.journal: list | None = None
        self._empty(block_size)

    def _empty(self, block_size: int) -> None:
        self._entries: dict = {}  # location -> {tx: (incarnation, value, kind)}
        self._writers: dict = {}  # location -> sorted list of tx indices with an entry
        self._last_written: list = [frozenset()] * block_size

    def clear(self) -> None:
        """Forget every entry (a run that starts over)."""
        if self.journal is not None:
            self.journal.append((CLEAR,))
        self._empty(len(self._last_written))

    # -- reads -------------------------------------------------------------------
    def read(self, location, tx: int):
        """Return (version, value, delta_sum) as seen by transaction `tx`.

        `value` is NOT_WRITTEN when the chain ends at the pre-block state; the caller
        adds `delta_sum` to the base value."""
        writers = self._writers.get(location)
        if not writers:
            return PRE_BLOCK, NOT_WRITTEN, 0
        pos = bisect_left(writers, tx) - 1
        if pos < 0:
            return PRE_BLOCK, NOT_WRITTEN, 0
        entries = self._entries[location]
        writer = writers[pos]
        incarnation, value, kind = entries[writer]
        if kind == FULL:
            return (writer, incarnation), value, 0
        if kind == ESTIMATE:
            raise EstimateRead(writer, location)
        # A chain of deltas: walk down to the base value.
        versions = [(writer, incarnation)]
        delta_sum = value
        while pos > 0:
            pos -= 1
            writer = writers[pos]
            incarnation, value, kind = entries[writer]
            if kind == ESTIMATE:
                raise EstimateRead(writer, location)
            versions.append((writer, incarnation))
            if kind == FULL:
                return tuple(versions), value, delta_sum
            delta_sum += value
        return tuple(versions), NOT_WRITTEN, delta_sum

    def first_invalid_read(self, reads: dict, tx: int):
        """The first recorded read whose version changed (or is now an ESTIMATE), or
        None when the whole read set is still valid."""
        read = self.read
        for location, version in reads.items():
            try:
                if read(location, tx)[0] != version:
                    return location
            except EstimateRead:
                return location
        return None

    # -- writes ------------------------------------------------------------------
    def record(self, tx: int, incarnation: int, writes: dict, deltas: dict) -> bool:
        """Install an incarnation's write set; True if it wrote a new location."""
        if self.journal is not None:
            self.journal.append((RECORD, tx, incarnation, writes, deltas))
        previous = self._last_written[tx]
        wrote_new = False
        for location, value in writes.items():
            wrote_new |= self._put(location, tx, (incarnation, value, FULL), previous)
        for location, delta in deltas.items():
            wrote_new |= self._put(location, tx, (incarnation, delta, DELTA), previous)
        current = frozenset(writes) | frozenset(deltas) if deltas else frozenset(writes)
        for location in previous - current:
            del self._entries[location][tx]
            writers = self._writers[location]
            writers.pop(bisect_left(writers, tx))
        self._last_written[tx] = current
        return wrote_new

    def _put(self, location, tx: int, entry: tuple, previous: frozenset) -> bool:
        entries = self._entries.get(location)
        if entries is None:
            entries = self._entries[location] = {}
            self._writers[location] = []
        entries[tx] = entry
        if location in previous:
            return False
        insort(self._writers[location], tx)
        return True

    def convert_writes_to_estimates(self, tx: int) -> None:
        if self.journal is not None:
            self.journal.append((ESTIMATES, tx))
        for location in self._last_written[tx]:
            entries = self._entries[location]
            incarnation = entries[tx][0]
            entries[tx] = (incarnation, None, ESTIMATE)

    # -- inspection ----------------------------------------------------------------
    def written_locations(self, tx: int) -> frozenset:
        return self._last_written[tx]


def apply_journal(mv: MVMemory, entries) -> None:
    """Replay journal entries (see MVMemory.journal) on a replica."""
    for entry in entries:
        if entry[0] == RECORD:
            mv.record(*entry[1:])
        elif entry[0] == ESTIMATES:
            mv.convert_writes_to_estimates(entry[1])
        else:
            mv.clear()
