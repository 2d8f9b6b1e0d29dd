"""Versioned state: py-evm executing one transaction incarnation over multi-version memory.

py-evm's `State` builds its account database from `State.account_db_class`; pevmsim
plugs `VersionedAccountDB` into that seam (see `versioned_state_class`). One database
serves one incarnation of one transaction:

- every read is answered from the incarnation's own writes first, then from the
  multi-version memory (the highest lower transaction that wrote the location), then
  from the pre-block state; the first read of each location records its version in the
  read set (reads inside reverted call frames stay in the read set: they still
  influenced execution);
- every write is buffered in the write set, journaled so that py-evm's
  snapshot/revert/commit of call frames work as usual; nothing reaches the
  multi-version memory until the scheduler records the finished incarnation;
- warm/cold access sets (EIP-2929) are per incarnation and journaled; transient storage
  (EIP-1153) lives in py-evm's own State and is per transaction already;
- a read that meets an ESTIMATE raises `EstimateRead` out of py-evm, ending the
  incarnation early. The database notes the hit (`unserved`) before raising, so an
  incarnation that met one is discarded even where py-evm catches the exception and
  carries on (EIP-7702 authorizations do): an ESTIMATE hit cannot be lost;
- storage reads equal py-evm's AccountDB in every case, wipes included: the
  "original value" (`from_journal=False`, EIP-2200 pricing) of a slot whose storage
  this transaction wiped is what a lower transaction of the block wrote there, else
  zero, as py-evm's locked changes over a fresh trie give;
- journal checkpoints come from py-evm's own counter (pyevm_boundary.py).

Invariants: a finished incarnation met no ESTIMATE (one that did is discarded, see
`unserved`); its whole read set is still current in the multi-version memory when it
finishes, since an execution is atomic in virtual time (asserted under
PEVMSIM_DEBUG=1, see debug.py); a write set holds no storage slot of an address wiped
later in the same incarnation (a wipe removes them).

Values read (for strategies that validate by value, Sei and Monad): a finished
incarnation also carries `values`, the value each read location had as py-evm saw it
(a balance with every lower delta summed; a storage slot after its account's latest
wipe, `effective_storage`), so that `current_value` can tell whether a lower write
changed what it read or only wrote the same value again. A storage slot whose read
depended on whether a lower transaction wrote it at all (the EIP-2200 original value
of a slot of an account this incarnation wiped) is listed in `version_reads`: it can
only be validated by version. An incarnation stopped by an ESTIMATE carries the
locations it had written so far (`partial_writes`: Sei turns them into ESTIMATEs).

Assumed nonce (Monad's `set_original_nonce(sender, tx.nonce)`): an execution asked to
`assume_nonce` reads its sender's nonce as the transaction's own nonce, whatever the
memory holds (the read is still recorded, with that assumed value), so that it runs to
the end and loads its state even before its sender's previous transaction merged; a
validation by value then fails unless the real nonce equals it.

Lazy beneficiary: with `lazy_beneficiary` on, the fee credit to the coinbase (and any
other `delta_balance` on it) is recorded as a DELTA, which commutes, instead of a
read-modify-write of its balance. A transaction that really reads the coinbase balance
(BALANCE, a transfer from it, the EIP-161 emptiness check when its own credit is zero)
reads the base value plus every lower transaction's delta, and depends on all of them.

Lazy raw transfers (pevm's `LazySender` / `LazyRecipient`, risechain/pevm
crates/pevm/src/vm.rs): with `lazy_transfers` on, a transaction whose recipient has no
code (as its execution reads it) is a raw transfer, and neither its sender's nor its
recipient's balance is read: every balance change of either is a DELTA, and so is the
sender's nonce increment (+1). The sender's own checks see pevm's mock: the
transaction's nonce and an unlimited balance (a valid block passes them; every run is
still checked against serial). So transfers from one busy sender, or into one
exchange address, commute like fee payments to a lazy coinbase. Whether a transaction
is lazy depends only on a value it reads (its recipient's code), so an execution stays
a function of the values it reads, which the oracle, Sealevel's declarations and
every validation rely on. Two deviations from pevm, stated: (1) pevm makes a raw
transfer lazy only when its sender or recipient already has an entry in its
multi-version memory (a cost heuristic for its final evaluation of lazy accounts,
which pevmsim does not model, and a condition on timing rather than on values read);
here every raw transfer is lazy; (2) pevm does not validate a lazy transaction;
pevmsim validates it like any other (its few reads: the recipient's code, the
accounts' existence), which keeps every run equal to serial for a cheap validation.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from functools import lru_cache

from eth.abc import AccountDatabaseAPI
from eth.constants import BLANK_ROOT_HASH, EMPTY_SHA3
from eth.db.account import AccountDB
from eth_hash.auto import keccak

from .. import debug
from . import preimages, pyevm_boundary
from .block_memo import remembered
from .locations import ACCOUNT, BALANCE, CODE, NONCE, STORAGE
from .mv_memory import NOT_WRITTEN, PRE_BLOCK, EstimateRead, MVMemory

pyevm_boundary.install()


@lru_cache(maxsize=4096)
def code_hash(code: bytes) -> bytes:
    return keccak(code) if code else EMPTY_SHA3


def effective_storage(account_version, version, value):
    """What a read of a storage slot returns, given the version of its account record
    and the slot's (version, value): a slot written before the account's latest
    creation, deletion or wipe in this block (or only present before the block) reads
    as zero."""
    if account_version is PRE_BLOCK:
        return value
    if version is PRE_BLOCK or version[0] < account_version[0]:
        return 0
    return value


def current_value(mv: MVMemory, pre_state: "PreState", location, tx: int) -> tuple:
    """(version, value) that a read of `location` by transaction `tx` returns now, the
    value as py-evm sees it (see `Incarnation.values`); raises EstimateRead."""
    version, value, delta_sum = mv.read(location, tx)
    if value is NOT_WRITTEN:
        value = pre_state.value(location)
    if delta_sum:
        value = value + delta_sum
    if location[0] == STORAGE:
        value = effective_storage(mv.read((ACCOUNT, location[1]), tx)[0], version, value)
    return version, value


class PreState:
    """The pre-block state, read-only, cached per location (it never changes during a
    block). Backed by a stock py-evm AccountDB over the block's database."""

    def __init__(self, db, state_root: bytes) -> None:
        self._account_db = AccountDB(db, state_root)
        self._cache: dict = {}
        self._had_storage: dict = {}
        self.state_root = state_root

    def had_storage(self, address) -> bool:
        """Whether the account had storage before the block (EIP-7610's collisions,
        pyevm_boundary.py item 11)."""
        try:
            return self._had_storage[address]
        except KeyError:
            root = self._account_db._get_storage_root(address)
            value = self._had_storage[address] = root != BLANK_ROOT_HASH
            return value

    def value(self, location):
        try:
            return self._cache[location]
        except KeyError:
            pass
        kind, address = location[0], location[1]
        adb = self._account_db
        if kind == BALANCE:
            value = adb.get_balance(address)
        elif kind == NONCE:
            value = adb.get_nonce(address)
        elif kind == CODE:
            value = adb.get_code(address)
        elif kind == STORAGE:
            value = adb.get_storage(address, location[2])
        else:
            value = adb.account_exists(address)
        self._cache[location] = value
        return value


def shared_pre_state(block) -> PreState:
    """The one PreState of `block` (read-only, so every run of the block shares its
    cache; dropped with the block)."""
    return remembered(block, PreState, (), lambda: PreState(block.db, block.pre_state_root))


class IncarnationView:
    """Handed to py-evm's State in place of a database: what one incarnation sees."""

    __slots__ = ("tx", "mv", "pre_state")

    def __init__(self, tx: int, mv: MVMemory, pre_state: PreState) -> None:
        self.tx = tx
        self.mv = mv
        self.pre_state = pre_state


class VersionedAccountDB(AccountDatabaseAPI):
    def __init__(self, db: IncarnationView, state_root: bytes = BLANK_ROOT_HASH) -> None:
        self._tx = db.tx
        self._mv = db.mv
        self._pre = db.pre_state
        self.reads: dict = {}  # location -> version read from the multi-version memory
        self.code_sizes: dict = {}  # (CODE, address) read -> the code's length in bytes
        self._base: dict = {}  # location -> (version, value, delta_sum) as read
        self.writes: dict = {}  # location -> value
        self.deltas: dict = {}  # balance location -> commutative increment
        self.wiped: set = set()  # addresses whose storage this incarnation wiped
        self.slots_set: set = set()  # every (address, slot) ever passed to set_storage
        self.unserved: EstimateRead | None = None  # the first ESTIMATE met, if any
        self.estimates_met: list = []  # the location of every ESTIMATE met, in order
        self.lazy: frozenset = frozenset()  # addresses whose balance takes deltas only
        self.lazy_sender = None  # a lazy raw transfer's sender, its checks mocked
        self.lazy_nonce = 0  # that transfer's nonce (the mock pevm's LazySender reads)
        self.assumed_sender = None  # the sender whose nonce is assumed (Monad)
        self.assumed_nonce = 0  # the nonce assumed for it: the transaction's own
        self.version_reads: set = set()  # reads only a version can validate
        self._warm: set = set()
        self._journal: list = []

    # -- reads through the multi-version memory ----------------------------------
    def _read(self, location):
        try:
            return self._base[location]
        except KeyError:
            pass
        try:
            version, value, delta_sum = self._mv.read(location, self._tx)
        except EstimateRead as hit:
            if self.unserved is None:
                self.unserved = hit
            self.estimates_met.append(location)
            raise
        if value is NOT_WRITTEN:
            value = self._pre.value(location)
        if location[0] == CODE:
            self.code_sizes[location] = len(value)
        self.reads[location] = version
        result = self._base[location] = (version, value, delta_sum)
        return result

    def _read_value(self, location):
        _, value, delta_sum = self._read(location)
        return value + delta_sum if delta_sum else value

    def _read_storage(self, address, slot: int) -> int:
        account_version = self._read((ACCOUNT, address))[0]
        version, value, _ = self._read((STORAGE, address, slot))
        return effective_storage(account_version, version, value)

    def read_values(self) -> dict:
        """Each location read -> its value as py-evm saw it (Incarnation.values)."""
        values = {}
        base = self._base
        for location in self.reads:
            version, value, delta_sum = base[location]
            if delta_sum:
                value = value + delta_sum
            if location[0] == STORAGE and location not in self.version_reads:
                value = effective_storage(base[(ACCOUNT, location[1])][0], version, value)
            values[location] = value
        if self.assumed_sender is not None and (NONCE, self.assumed_sender) in values:
            values[(NONCE, self.assumed_sender)] = self.assumed_nonce
        return values

    # -- storage -----------------------------------------------------------------
    def get_storage(self, address, slot: int, from_journal: bool = True) -> int:
        if from_journal:
            value = self.writes.get((STORAGE, address, slot))
            if value is not None:
                return value
            if address in self.wiped:
                return 0
        elif address in self.wiped:
            # py-evm: the locked changes (lower transactions' writes) over a new trie.
            self.version_reads.add((STORAGE, address, slot))
            if self._read((STORAGE, address, slot))[0] is PRE_BLOCK:
                return 0
        return self._read_storage(address, slot)

    def set_storage(self, address, slot: int, value: int) -> None:
        self.writes[(STORAGE, address, slot)] = value
        self.slots_set.add((address, slot))

    def _wipe_own_storage(self, address) -> None:
        writes = self.writes
        for location in [loc for loc in writes if loc[0] == STORAGE and loc[1] == address]:
            del writes[location]
        self.wiped.add(address)

    def delete_storage(self, address) -> None:
        self._ensure_exists(address)
        self._wipe_own_storage(address)
        self.writes[(ACCOUNT, address)] = True

    def is_storage_warm(self, address, slot: int) -> bool:
        return (address, slot) in self._warm

    def mark_storage_warm(self, address, slot: int) -> None:
        self._warm.add((address, slot))

    # -- balance -----------------------------------------------------------------
    def get_balance(self, address) -> int:
        location = (BALANCE, address)
        value = self.writes.get(location)
        if value is not None:
            return value
        if address == self.lazy_sender:
            return LAZY_SENDER_BALANCE + self.deltas.get(location, 0)
        return self._read_value(location) + self.deltas.get(location, 0)

    def set_balance(self, address, balance: int) -> None:
        if debug.ENABLED:
            debug.check(address != self.lazy_sender,
                        "a lazy sender's balance written from its mocked value")
        self._ensure_exists(address)
        location = (BALANCE, address)
        self.writes[location] = balance
        self.deltas.pop(location, None)

    def add_balance_delta(self, address, delta: int) -> None:
        """A commutative balance change: no read of the current balance."""
        self._ensure_exists(address)
        location = (BALANCE, address)
        if location in self.writes:
            self.writes[location] += delta
        else:
            self.deltas[location] = self.deltas.get(location, 0) + delta

    # -- nonce -------------------------------------------------------------------
    def get_nonce(self, address) -> int:
        location = (NONCE, address)
        value = self.writes.get(location)
        if value is not None:
            return value
        if address == self.lazy_sender:
            return self.lazy_nonce + self.deltas.get(location, 0)
        if address == self.assumed_sender:
            self._read(location)  # recorded; its value is the assumed one (values)
            return self.assumed_nonce
        return self._read_value(location)

    def set_nonce(self, address, nonce: int) -> None:
        if debug.ENABLED:
            debug.check(address != self.lazy_sender,
                        "a lazy sender's nonce written from its mocked value")
        self._ensure_exists(address)
        self.writes[(NONCE, address)] = nonce

    def increment_nonce(self, address) -> None:
        if address == self.lazy_sender:  # a commutative +1, as pevm's LazySender
            self._ensure_exists(address)
            location = (NONCE, address)
            self.deltas[location] = self.deltas.get(location, 0) + 1
        else:
            self.set_nonce(address, self.get_nonce(address) + 1)

    # -- code --------------------------------------------------------------------
    def get_code(self, address) -> bytes:
        location = (CODE, address)
        value = self.writes.get(location)
        return self._read_value(location) if value is None else value

    def set_code(self, address, code: bytes) -> None:
        self._ensure_exists(address)
        self.writes[(CODE, address)] = code

    def get_code_hash(self, address) -> bytes:
        return code_hash(self.get_code(address))

    def delete_code(self, address) -> None:
        self.set_code(address, b"")

    # -- accounts ----------------------------------------------------------------
    def had_storage_before_block(self, address) -> bool:
        return self._pre.had_storage(address)

    def account_has_code_or_nonce(self, address) -> bool:
        return self.get_nonce(address) != 0 or self.get_code(address) != b""

    def account_exists(self, address) -> bool:
        value = self.writes.get((ACCOUNT, address))
        return self._read_value((ACCOUNT, address)) if value is None else value

    def _ensure_exists(self, address) -> None:
        if not self.account_exists(address):
            self.writes[(ACCOUNT, address)] = True

    def touch_account(self, address) -> None:
        self._ensure_exists(address)

    def delete_account(self, address) -> None:
        self._wipe_own_storage(address)
        writes = self.writes
        writes[(BALANCE, address)] = 0
        self.deltas.pop((BALANCE, address), None)
        writes[(NONCE, address)] = 0
        writes[(CODE, address)] = b""
        writes[(ACCOUNT, address)] = False

    def account_is_empty(self, address) -> bool:
        location = (BALANCE, address)
        if location not in self.writes and self.deltas.get(location, 0) > 0:
            # A positive pending credit on a non-negative balance: not empty, whatever
            # its code and nonce, so they are not read (no dependency on them).
            return False
        if self.account_has_code_or_nonce(address):
            return False
        return self.get_balance(address) == 0

    def is_address_warm(self, address) -> bool:
        return address in self._warm

    def mark_address_warm(self, address) -> None:
        self._warm.add(address)

    # -- journal (call-frame snapshots) -------------------------------------------
    # Checkpoints must be unique among py-evm's own: its transient storage journals
    # under the same values (pyevm_boundary.py, item 4).
    def record(self):
        checkpoint = pyevm_boundary.next_checkpoint()
        self._journal.append((checkpoint, dict(self.writes), dict(self.deltas),
                              set(self.wiped), set(self._warm)))
        return checkpoint

    def _position(self, checkpoint) -> int:
        for position in range(len(self._journal) - 1, -1, -1):
            if self._journal[position][0] == checkpoint:
                return position
        raise ValueError(f"unknown checkpoint {checkpoint}")

    def discard(self, checkpoint) -> None:
        position = self._position(checkpoint)
        wiped = self.wiped
        _, self.writes, self.deltas, self.wiped, self._warm = self._journal[position]
        del self._journal[position:]
        # py-evm does not undo a storage wipe whose account had no storage object yet
        # (a failed CREATE onto an account with storage but no code: the only wipes
        # EVM execution can revert), see pyevm_boundary.py, item 8.
        for address in sorted(wiped - self.wiped):
            if self.account_exists(address):
                self.delete_storage(address)

    def commit(self, checkpoint) -> None:
        del self._journal[self._position(checkpoint):]

    def lock_changes(self) -> None:
        """One database serves one transaction: nothing to lock."""

    # -- whole-state operations a single incarnation never performs -----------------
    @property
    def state_root(self) -> bytes:
        return self._pre.state_root

    @state_root.setter
    def state_root(self, value: bytes) -> None:
        """py-evm resets the root on revert; the journal already restored the writes."""

    def has_root(self, state_root: bytes) -> bool:
        return False

    def make_state_root(self) -> bytes:
        raise NotImplementedError("an incarnation has no state root: assemble the block")

    def persist(self):
        raise NotImplementedError("an incarnation is never persisted: assemble the block")


# What a lazy sender's balance reads as: pevm's mock (U256::MAX), so that its checks
# pass without reading it.
LAZY_SENDER_BALANCE = 2 ** 256 - 1


def _lazy_delta_balance(state, address, delta: int) -> None:
    db = state._account_db
    if address in db.lazy:
        db.add_balance_delta(address, delta)
    else:
        state.set_balance(address, state.get_balance(address) + delta)


def _no_system_contracts(state) -> None:
    """System contracts are block-level state, already in the pre-state."""


def _gas_noting(computation_class: type) -> type:
    """The fork's computation class, noting in an ESTIMATE that leaves a call frame
    the gas the frame still held (pyevm_boundary.py, item 7)."""

    class GasNotingComputation(computation_class):
        def __exit__(self, exc_type, exc_value, traceback):
            if isinstance(exc_value, EstimateRead):
                exc_value.unspent_gas.append(self.get_gas_remaining())
            return super().__exit__(exc_type, exc_value, traceback)

    GasNotingComputation.__name__ = f"Versioned{computation_class.__name__}"
    return GasNotingComputation


@lru_cache(maxsize=None)
def versioned_state_class(state_class: type) -> type:
    """The fork's State with the versioned account database plugged in (and SHA3
    preimages recorded, see preimages.py); balance changes of the database's lazy
    addresses are deltas."""
    attrs = {
        "account_db_class": VersionedAccountDB,
        "computation_class": _gas_noting(
            preimages.with_preimages(state_class.computation_class)),
        "set_system_contracts": _no_system_contracts,
        "delta_balance": _lazy_delta_balance,
        "has_code_or_nonce": pyevm_boundary.has_code_nonce_or_storage,
    }
    return type(f"Versioned{state_class.__name__}", (state_class,), attrs)


@dataclass(frozen=True)
class TxOutcome:
    """What a transaction's receipt needs."""

    success: bool
    gas_used: int
    logs: tuple


def transaction_outcome(vm_class, transaction, computation) -> TxOutcome:
    return TxOutcome(
        success=not computation.is_error,
        gas_used=vm_class.finalize_gas_used(transaction, computation),
        logs=tuple(computation.get_log_entries()),
    )


@dataclass
class Incarnation:
    """One execution of one transaction, with everything the scheduler needs."""

    tx: int
    incarnation: int
    reads: dict
    writes: dict
    deltas: dict
    wiped: frozenset
    slots_set: frozenset  # storage slots ever set, even if wiped later (diff listing)
    outcome: TxOutcome | None  # None when blocked or invalid
    gas: int = 0  # gas executed: the receipt's, or what was consumed when it stopped
    blocked_on: int | None = None  # the transaction whose ESTIMATE stopped it
    blocked_location: tuple | None = None  # the location of that ESTIMATE
    error: str | None = None  # why py-evm rejected the transaction
    cpu_time: float = 0.0
    self_destructed: frozenset = frozenset()  # accounts its SELFDESTRUCTs deleted
    code_sizes: dict = field(default_factory=dict)  # code read -> its size in bytes
    values: dict = field(default_factory=dict)  # location read -> its value (not
    # for one stopped by an ESTIMATE)
    version_reads: frozenset = frozenset()  # reads only a version can validate
    partial_writes: frozenset = frozenset()  # one stopped by an ESTIMATE: what it
    # had written by then


class ExecutionEnv:
    """Everything constant across the incarnations of one block run."""

    def __init__(self, block, pre_state: PreState, lazy_beneficiary: bool,
                 lazy_transfers: bool = False, reuse=None) -> None:
        self.block = block
        self.reuse = reuse  # reuse.ReuseCache of this block and settings, or None
        self.reuse_counts = None if reuse is None else reuse.counter()  # this run's
        self.vm_class = block.vm_class
        self.transactions = block.transactions
        self.pre_state = pre_state
        self.execution_context = block.execution_context()
        self.state_class = versioned_state_class(block.vm_class.get_state_class())
        self.lazy_beneficiary = lazy_beneficiary
        self.lazy_transfers = lazy_transfers
        self._coinbase = (frozenset([self.execution_context.coinbase])
                          if lazy_beneficiary else frozenset())

    def _make_lazy(self, db: VersionedAccountDB, tx: int, transaction) -> None:
        """Mark the lazy addresses of this execution: the coinbase (lazy_beneficiary),
        and a raw transfer's sender and recipient (lazy_transfers)."""
        db.lazy = self._coinbase
        if (self.lazy_transfers and transaction.to
                and db.get_code(transaction.to) == b""):
            sender = self.block.senders[tx]
            db.lazy = self._coinbase | {sender, transaction.to}
            db.lazy_sender = sender
            db.lazy_nonce = transaction.nonce

    def execute(self, mv: MVMemory, tx: int, incarnation: int,
                assume_nonce: bool = False) -> Incarnation:
        """What executing transaction `tx` in py-evm against `mv` as it stands now
        returns (`assume_nonce`: its sender's nonce read as the transaction's, see the
        module docstring): an earlier execution's outcome when the reuse cache proves
        it identical (reuse.py), else a real execution, recorded."""
        cache = self.reuse
        if cache is None:
            return self.execute_for_real(mv, tx, incarnation, assume_nonce)[0]
        counts = self.reuse_counts
        reused = cache.lookup(self, mv, tx, incarnation, assume_nonce, counts)
        if reused is not None:
            return reused
        with preimages.recording_apart() as table:
            result, db = self.execute_for_real(mv, tx, incarnation, assume_nonce)
        counts.misses += 1
        cache.store(result, db, table)
        return result

    def execute_for_real(self, mv: MVMemory, tx: int, incarnation: int,
                         assume_nonce: bool = False) -> tuple:
        """Execute transaction `tx` in py-evm against `mv` as it stands now:
        (its Incarnation, the VersionedAccountDB it ran on)."""
        started = time.process_time()
        state = self.state_class(
            IncarnationView(tx, mv, self.pre_state),
            self.execution_context,
            self.pre_state.state_root,
        )
        db = state._account_db
        transaction = self.transactions[tx]
        outcome = blocked_on = blocked_location = error = None
        gas = 0
        destructed = frozenset()
        try:
            self._make_lazy(db, tx, transaction)
            if assume_nonce:
                db.assumed_sender = self.block.senders[tx]
                db.assumed_nonce = transaction.nonce
            computation = state.apply_transaction(transaction)
            outcome = transaction_outcome(self.vm_class, transaction, computation)
            gas = outcome.gas_used
            destructed = frozenset(computation.get_accounts_for_deletion())
        except EstimateRead:
            pass  # noted in db.unserved
        except Exception as exc:  # speculative reads can make a transaction invalid
            error = f"{type(exc).__name__}: {exc}"
        hit = db.unserved
        if hit is not None:  # whatever py-evm did with the exception
            if outcome is None:
                gas = hit.gas_consumed(transaction.gas)
            outcome = error = None
            blocked_on, blocked_location = hit.blocking_tx, hit.location
        finished = outcome is not None
        if debug.ENABLED and finished:  # execution is atomic in virtual time
            debug.check(mv.first_invalid_read(db.reads, tx) is None,
                        lambda: f"tx {tx}: a read changed during its own execution")
        cpu_time = time.process_time() - started
        return Incarnation(
            tx=tx,
            incarnation=incarnation,
            reads=db.reads,
            writes=db.writes if finished else {},
            deltas=db.deltas if finished else {},
            wiped=frozenset(db.wiped) if finished else frozenset(),
            slots_set=frozenset(db.slots_set) if finished else frozenset(),
            outcome=outcome,
            gas=gas,
            blocked_on=blocked_on,
            blocked_location=blocked_location,
            error=error,
            cpu_time=cpu_time,
            self_destructed=destructed if finished else frozenset(),
            code_sizes=db.code_sizes,
            values=db.read_values() if hit is None else {},
            version_reads=frozenset(db.version_reads),
            partial_writes=(frozenset(db.writes) | frozenset(db.deltas) if hit is not None
                            else frozenset()),
        ), db
