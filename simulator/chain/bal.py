"""EIP-7928 block-level access lists (BALs): what a block builder attaches to a block so
that a client can prefetch its state in one pass and execute its transactions at once.

Source: ethereum/EIPs, EIPS/eip-7928.md at 6c666b8d646d (2026-07-09, status Review),
and the executable spec, ethereum/execution-specs,
src/ethereum/forks/amsterdam/block_access_lists.py at 73470cd40543 (`update_builder_from_tx`,
`_build_from_builder`, `validate_block_access_list_gas_limit`). The structure is the
EIP's: a list of AccountChanges, one per address the block accesses, each

    [address, storage_changes, storage_reads, balance_changes, nonce_changes, code_changes]

with storage_changes = [[slot, [[index, post_value], ...]], ...], storage_reads = [slot,
...], and [[index, post_value], ...] for balances, nonces and code. The index of
transaction i (0-based, as everywhere in pevmsim) is i + 1: 0 is the pre-execution
system calls and n + 1 the post-execution ones and withdrawals, which lie outside
pevmsim's Block (it starts after py-evm's block pre-processing and ends before its
finalisation: workloads/mainnet.py), so this BAL has transaction indices only.

Recording rules (the EIP's "Recording Semantics", the spec's net-zero filtering):
- an address is listed when a transaction reads or writes any of its fields (pevmsim's
  read and write sets at slot granularity: locations.py), with empty lists when nothing
  of it changes;
- a change is listed at a transaction's index when the location's value after the
  transaction differs from its value before it (lower transactions' changes over the
  pre-state): a balance that changes and comes back, a no-op SSTORE, are not changes;
- a slot read or written but never changed in the block is a storage read; a slot with
  a change is never also a read.
Ordering: accounts by address, slots by key, changes by index (the EIP's "Ordering,
Uniqueness and Determinism"). Encoding: RLP, integers as minimal big-endian strings
(slots are integers, as the spec encodes them), addresses as 20 bytes; `size` is the
encoding's length in bytes, `items` the EIP's bal_items (addresses plus storage keys,
capped at gas_limit // 2000).

Beyond the EIP, the `markers`: pevmsim's ACCOUNT writes (an account created, deleted or
its storage wiped), per transaction. From Cancun on (EIP-6780) an account can be deleted
only in the transaction that created it, so Amsterdam's BAL needs no such field; the
older forks pevmsim replays delete and wipe existing accounts, which the EIP's lists
cannot express (the wiped slots are not enumerated). The markers keep the validator
exact on those blocks; they are not part of the encoding or its size. A transaction that
writes an account's marker restarts that account's storage (its slots read as zero
from then on), so a slot of it that the transaction writes is a change when its value
is not zero, even if that was its value before.

Invariants: accounts are sorted by address and unique; within an account slots are
sorted and unique, each slot's changes sorted by index with at least one change, and no
slot is both changed and read; every change list is sorted by index with one entry per
index (checked under PEVMSIM_DEBUG by `check_structure`).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, replace
from enum import StrEnum
from functools import cached_property

import rlp
from eth_hash.auto import keccak

from .. import debug
from ..engine.block_memo import remembered
from ..engine.locations import ACCOUNT, BALANCE, CODE, NONCE, STORAGE, describe
from ..engine.mv_memory import MVMemory
from ..engine.versioned_state import IncarnationView, VersionedAccountDB
from .serial import InvalidBlock

ITEM_COST = 2000  # gas per BAL item (GasCosts.BLOCK_ACCESS_LIST_ITEM in the spec)
FIELDS = (BALANCE, NONCE, CODE)  # the account fields whose changes a BAL lists


class InvalidAccessList(InvalidBlock):
    """A block whose access list disagrees with its execution: the block is invalid."""

    def __init__(self, problem: str) -> None:
        super().__init__(f"the block access list is invalid: {problem}")


@dataclass(frozen=True)
class AccountChanges:
    address: bytes
    storage_changes: tuple = ()  # ((slot, ((index, value), ...)), ...)
    storage_reads: tuple = ()  # (slot, ...)
    balance_changes: tuple = ()  # ((index, balance), ...)
    nonce_changes: tuple = ()  # ((index, nonce), ...)
    code_changes: tuple = ()  # ((index, code), ...)

    def field_changes(self, kind: int) -> tuple:
        return {BALANCE: self.balance_changes, NONCE: self.nonce_changes,
                CODE: self.code_changes}[kind]

    def encoded(self) -> list:
        return [self.address,
                [[slot, [list(change) for change in changes]]
                 for slot, changes in self.storage_changes],
                list(self.storage_reads),
                [list(change) for change in self.balance_changes],
                [list(change) for change in self.nonce_changes],
                [list(change) for change in self.code_changes]]


@dataclass(frozen=True)
class Step:
    """What one transaction did, as a BAL sees it."""

    addresses: frozenset  # every address it read or wrote
    slots: frozenset  # every (address, slot) it read or wrote
    changes: dict  # location -> its value after the transaction, where it changed
    markers: dict  # address -> the ACCOUNT value it wrote (pevmsim's extension)


@dataclass(frozen=True)
class BlockAccessList:
    accounts: tuple  # AccountChanges, sorted by address
    markers: tuple = ()  # (index, address, value), sorted: pevmsim's extension

    # -- the EIP's encoding and size ---------------------------------------------
    def encode(self) -> bytes:
        return rlp.encode([account.encoded() for account in self.accounts])

    @cached_property
    def size(self) -> int:
        """Bytes of the RLP encoding (what the header's block_access_list_hash hashes)."""
        return len(self.encode())

    def hash(self) -> bytes:
        return keccak(self.encode())

    @property
    def items(self) -> int:
        """The EIP's bal_items: addresses plus storage keys (changed or read)."""
        return sum(1 + len(account.storage_changes) + len(account.storage_reads)
                   for account in self.accounts)

    @cached_property
    def size_without_reads(self) -> int:
        """Bytes of the RLP encoding of `without_reads`."""
        return self.without_reads().size

    def without_reads(self) -> "BlockAccessList":
        """The design without storage reads: only written slots are listed."""
        return replace(self, accounts=tuple(replace(account, storage_reads=())
                                            for account in self.accounts))

    # -- lookups -------------------------------------------------------------------
    @cached_property
    def addresses(self) -> frozenset:
        return frozenset(account.address for account in self.accounts)

    @cached_property
    def slots(self) -> frozenset:
        """Every listed (address, slot), changed or read."""
        return frozenset((account.address, slot) for account in self.accounts
                         for slot in (*(s for s, _ in account.storage_changes),
                                      *account.storage_reads))

    @cached_property
    def read_slots(self) -> frozenset:
        return frozenset((account.address, slot) for account in self.accounts
                         for slot in account.storage_reads)

    @cached_property
    def _by_index(self) -> dict:
        """index -> ({location: post value}, {address: marker})."""
        indexed: dict = {}

        def at(index):
            return indexed.setdefault(index, ({}, {}))

        for account in self.accounts:
            address = account.address
            for slot, changes in account.storage_changes:
                for index, value in changes:
                    at(index)[0][(STORAGE, address, slot)] = value
            for kind in FIELDS:
                for index, value in account.field_changes(kind):
                    at(index)[0][(kind, address)] = value
        for index, address, value in self.markers:
            at(index)[1][address] = value
        return indexed

    def changes_at(self, index: int) -> dict:
        return self._by_index.get(index, ({}, {}))[0]

    def markers_at(self, index: int) -> dict:
        return self._by_index.get(index, ({}, {}))[1]

    def view(self, size: int) -> MVMemory:
        """A multi-version memory holding the listed post-values: transaction i reading
        a location sees the value after the highest lower transaction that changed it,
        else the pre-state, as if every lower transaction had executed."""
        memory = MVMemory(size)
        for tx in range(size):
            writes = dict(self.changes_at(tx + 1))
            writes.update(((ACCOUNT, address), value)
                          for address, value in self.markers_at(tx + 1).items())
            if writes:
                memory.record(tx, 0, writes, {})
        return memory


# -- building ------------------------------------------------------------------------
def state_before(memory: MVMemory, pre_state, tx: int):
    """value(location): the location's value when transaction `tx` starts, read through
    the versioned state exactly as an execution of `tx` over `memory` reads it."""
    db = VersionedAccountDB(IncarnationView(tx, memory, pre_state))
    readers = {BALANCE: db.get_balance, NONCE: db.get_nonce, CODE: db.get_code}

    def value(location):
        if location[0] == STORAGE:
            return db.get_storage(location[1], location[2])
        return readers[location[0]](location[1])
    return value


def transaction_step(incarnation, before) -> Step:
    """The Step of a finished incarnation; `before(location)` is the location's value
    when the transaction starts (state_before)."""
    touched = (*incarnation.reads, *incarnation.writes, *incarnation.deltas)
    markers = {location[1]: value for location, value in incarnation.writes.items()
               if location[0] == ACCOUNT}
    changes = {}
    for location, value in incarnation.writes.items():
        if location[0] == ACCOUNT:
            continue
        # A marker restarts the account's storage: its slots are zero from here on.
        restarted = location[0] == STORAGE and location[1] in markers
        if value != (0 if restarted else before(location)):
            changes[location] = value
    for location, delta in incarnation.deltas.items():
        old = before(location)
        if delta:
            changes[location] = old + delta
    slots = {(location[1], location[2]) for location in touched if location[0] == STORAGE}
    return Step(addresses=frozenset(location[1] for location in touched)
                | incarnation.wiped,
                slots=frozenset(slots) | incarnation.slots_set,
                changes=changes, markers=markers)


def serial_steps(pre_state, incarnations) -> list:
    """The Steps of a block's final incarnations, each against the state the lower ones
    left. The memory is filled in block order, each transaction's deltas recorded as
    the values they leave (its `before` plus the delta): a read by a higher
    transaction sees the same value as through the delta chain, without walking it
    (a lazy beneficiary's chain holds every transaction of the block)."""
    memory = MVMemory(len(incarnations))
    steps = []
    for tx, incarnation in enumerate(incarnations):
        before = state_before(memory, pre_state, tx)
        steps.append(transaction_step(incarnation, before))
        memory.record(tx, 0, {**incarnation.writes,
                              **{location: before(location) + delta
                                 for location, delta in incarnation.deltas.items()}}, {})
    return steps


def build(steps) -> BlockAccessList:
    """The BAL of a block whose transactions did `steps`, in block order."""
    accounts: dict = {}  # address -> {"slots": {slot: [(index, value)]}, kinds..., "seen"}
    markers = []

    def entry(address):
        return accounts.setdefault(address, {"storage": {}, "read": set(), BALANCE: [],
                                             NONCE: [], CODE: []})

    for tx, step in enumerate(steps):
        index = tx + 1
        for address in step.addresses:
            entry(address)
        for address, slot in step.slots:
            entry(address)["read"].add(slot)
        for location, value in step.changes.items():
            data = entry(location[1])
            if location[0] == STORAGE:
                data["storage"].setdefault(location[2], []).append((index, value))
            else:
                data[location[0]].append((index, value))
        markers.extend((index, address, value) for address, value in step.markers.items())
    listed = tuple(
        AccountChanges(
            address=address,
            storage_changes=tuple((slot, tuple(sorted(changes)))
                                  for slot, changes in sorted(data["storage"].items())),
            storage_reads=tuple(sorted(data["read"] - set(data["storage"]))),
            balance_changes=tuple(sorted(data[BALANCE])),
            nonce_changes=tuple(sorted(data[NONCE])),
            code_changes=tuple(sorted(data[CODE])))
        for address, data in sorted(accounts.items()))
    access_list = BlockAccessList(listed, tuple(sorted(markers)))
    if debug.ENABLED:
        check_structure(access_list)
    return access_list


def block_access_list(pre_state, incarnations) -> BlockAccessList:
    """The BAL of a block (its `pre_state`) from its final (serial-equivalent)
    incarnations; the same for incarnations of the same content (everything read
    here), once per pre-state (block_memo.py)."""
    key = tuple((tuple(inc.reads), tuple(inc.writes.items()), tuple(inc.deltas.items()),
                 inc.wiped, inc.slots_set) for inc in incarnations)
    return remembered(pre_state, block_access_list, key,
                      lambda: build(serial_steps(pre_state, incarnations)))


def check_structure(access_list: BlockAccessList) -> None:
    """The module's invariants (ordering, uniqueness), under PEVMSIM_DEBUG."""
    addresses = [account.address for account in access_list.accounts]
    debug.check(addresses == sorted(set(addresses)), "BAL accounts sorted and unique")
    for account in access_list.accounts:
        slots = [slot for slot, _ in account.storage_changes]
        debug.check(slots == sorted(set(slots)), "BAL slots sorted and unique")
        debug.check(list(account.storage_reads) == sorted(set(account.storage_reads)),
                    "BAL storage reads sorted and unique")
        debug.check(not set(slots) & set(account.storage_reads),
                    "a BAL slot both changed and read")
        lists = [changes for _, changes in account.storage_changes] + [
            account.field_changes(kind) for kind in FIELDS]
        for changes in lists:
            indices = [index for index, _ in changes]
            debug.check(indices == sorted(set(indices)), "BAL changes sorted by index")
        debug.check(all(changes for _, changes in account.storage_changes),
                    "a BAL slot without a change")


# -- validation ------------------------------------------------------------------------
def transaction_problem(access_list: BlockAccessList, tx: int, step: Step,
                        reads_listed: bool) -> str | None:
    """Why transaction `tx`'s Step disagrees with the BAL (the first reason, in a fixed
    order), or None. With `reads_listed`, every slot it touches must be listed; without
    (the design without storage reads), only those it changes."""
    for address in sorted(step.addresses):
        if address not in access_list.addresses:
            return f"transaction {tx} accesses account 0x{address.hex()}, which the BAL does not list"
    if reads_listed:
        for address, slot in sorted(step.slots):
            if (address, slot) not in access_list.slots:
                return (f"transaction {tx} accesses {describe((STORAGE, address, slot))}, "
                        "which the BAL does not list")
    listed = access_list.changes_at(tx + 1)
    for location in sorted(set(listed) | set(step.changes), key=repr):
        made, said = step.changes.get(location), listed.get(location)
        if made == said:
            continue
        if said is None:
            return (f"transaction {tx} changes {describe(location)} to {made!r}, which the "
                    "BAL does not list")
        if made is None:
            return (f"the BAL lists a change of {describe(location)} to {said!r} at "
                    f"transaction {tx}, which it does not make")
        return (f"transaction {tx} changes {describe(location)} to {made!r}, the BAL says "
                f"{said!r}")
    markers = access_list.markers_at(tx + 1)
    for address in sorted(set(markers) | set(step.markers)):
        if markers.get(address) != step.markers.get(address):
            return (f"transaction {tx} creates, deletes or wipes account 0x{address.hex()} "
                    "otherwise than the BAL's markers say")
    return None


def block_problem(access_list: BlockAccessList, steps, reads_listed: bool) -> str | None:
    """After the last transaction: a listed account or storage read that no transaction
    accessed (spurious entries invalidate the block too), or None."""
    accessed = frozenset().union(*(step.addresses for step in steps))
    for address in sorted(access_list.addresses - accessed):
        return f"the BAL lists account 0x{address.hex()}, which no transaction accesses"
    if reads_listed:
        touched = frozenset().union(*(step.slots for step in steps))
        for address, slot in sorted(access_list.read_slots - touched):
            return (f"the BAL lists a read of {describe((STORAGE, address, slot))}, which "
                    "no transaction makes")
    return None


# -- corruption (robustness checks: what a faulty or malicious builder could send) ------
class Corruption(StrEnum):
    NONE = "none"
    WRONG_VALUE = "wrong-value"  # one listed post-value off by one
    MISSING_SLOT = "missing-slot"  # one listed slot left out
    EXTRA_ACCOUNT = "extra-account"  # an account no transaction touches


def corrupted(access_list: BlockAccessList, corruption: Corruption,
              seed: int) -> BlockAccessList:
    """`access_list` with one `corruption`, its place picked by `seed`; ValueError when
    the list has nothing to corrupt that way."""
    if corruption == Corruption.NONE:
        return access_list
    rng = random.Random(seed)
    accounts = list(access_list.accounts)
    if corruption == Corruption.EXTRA_ACCOUNT:
        address = bytes(rng.randrange(256) for _ in range(20))
        while address in access_list.addresses:
            address = bytes(rng.randrange(256) for _ in range(20))
        accounts.append(AccountChanges(address))
        return replace(access_list, accounts=tuple(sorted(accounts, key=lambda a: a.address)))
    if corruption == Corruption.MISSING_SLOT:
        places = [(n, slot) for n, account in enumerate(accounts)
                  for slot in (*(s for s, _ in account.storage_changes), *account.storage_reads)]
        if not places:
            raise ValueError("the block's BAL lists no storage slot to leave out")
        n, slot = rng.choice(places)
        account = accounts[n]
        accounts[n] = replace(
            account, storage_changes=tuple(c for c in account.storage_changes if c[0] != slot),
            storage_reads=tuple(s for s in account.storage_reads if s != slot))
        return replace(access_list, accounts=tuple(accounts))
    places = [(n, kind, position) for n, account in enumerate(accounts)
              for kind, changes in ((STORAGE, account.storage_changes),
                                    *((kind, account.field_changes(kind)) for kind in FIELDS))
              for position in range(len(changes))]
    if not places:
        raise ValueError("the block's BAL lists no change to alter")
    n, kind, position = rng.choice(places)
    return replace(access_list, accounts=tuple(
        _altered(account, kind, position) if m == n else account
        for m, account in enumerate(accounts)))


def _off_by_one(value):
    return value + b"\x00" if isinstance(value, bytes) else value + 1


def _altered(account: AccountChanges, kind: int, position: int) -> AccountChanges:
    """`account` with its `position`-th change of `kind` off by one (a storage slot's:
    its last change)."""
    if kind == STORAGE:
        slots = list(account.storage_changes)
        slot, changes = slots[position]
        index, value = changes[-1]
        slots[position] = (slot, changes[:-1] + ((index, _off_by_one(value)),))
        return replace(account, storage_changes=tuple(slots))
    changes = list(account.field_changes(kind))
    index, value = changes[position]
    changes[position] = (index, _off_by_one(value))
    name = {BALANCE: "balance_changes", NONCE: "nonce_changes", CODE: "code_changes"}[kind]
    return replace(account, **{name: tuple(changes)})
