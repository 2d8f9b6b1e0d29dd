"""The serial executor: the oracle every parallel run is checked against.

It is stock py-evm: the fork's own State over its own trie-backed AccountDB, one
transaction after another, exactly as a traditional client applies a block. The only
addition is a subclass of AccountDB that notes which accounts and slots were written,
so that the post-state diff can be listed; every value still comes from py-evm. The
database is persisted between transactions when the storage of many accounts is
dirty (DIRTY_STORES), which changes no value and no root, only py-evm's cost.
The serial result also says how each failed transaction failed (`failures.py`).

`start_serial` can run the check alongside: a forked process executes the block while
this one goes on with the parallel run, on another core, and `result()` collects it.
The forked process sees the block as it was at the fork and changes only its own copy;
its result carries everything but the diff, which this process lists on demand by
executing the block again (only a run that does not match needs it).
"""

from __future__ import annotations

import os
import pickle
import time
import traceback
from dataclasses import dataclass, replace
from functools import lru_cache
from multiprocessing import get_context

from eth.constants import BLANK_ROOT_HASH
from eth.db.account import AccountDB

from ..environment import usable_cores
from .failures import classify
from .outcome import BlockResult, location_values, make_receipts, state_diff
from ..engine import pyevm_boundary
from ..engine.versioned_state import transaction_outcome


# py-evm's AccountDB snapshots, commits and locks the storage of every account whose
# storage it holds dirty at every call frame and transaction, and keeps a journal entry
# for each, until it persists: a block that writes the storage of many accounts (each
# swap of gigagas-uniswap its own pool's and tokens') would cost time and memory
# quadratic in its length. So the serial executor persists between transactions once
# more than DIRTY_STORES accounts' storage is dirty, as py-evm does at a block's end:
# the tries are content-addressed and a persist locks the changes as lock_changes
# does, so every later value, original values (EIP-2200) included, and the post-state
# root are the same.
DIRTY_STORES = 64


class InvalidBlock(Exception):
    """A transaction of the block cannot be applied (bad nonce, insufficient funds...);
    `index` is that transaction's position when known."""

    def __init__(self, message: str, index: int | None = None) -> None:
        super().__init__(message)
        self.index = index


@dataclass(eq=False)
class SerialResult(BlockResult):
    # Per transaction: None if it succeeded, else its failures.Failure.
    failures: tuple = ()
    # On request: (accounts, slots) the block read or wrote, as frozensets.
    touched: tuple | None = None


def invalid_reason(transaction, exc: Exception) -> str:
    """Why py-evm could not apply a transaction, in the user's terms where py-evm's
    message is cryptic (a gas limit below the intrinsic gas)."""
    try:
        intrinsic = transaction.intrinsic_gas
    except Exception:  # the transaction is malformed in another way: py-evm's words
        intrinsic = 0
    if transaction.gas < intrinsic:
        return f"gas limit {transaction.gas} below the intrinsic gas {intrinsic}"
    return f"{type(exc).__name__}: {exc}"


class RecordingAccountDB(AccountDB):
    def __init__(self, db, state_root) -> None:
        super().__init__(db, state_root)
        self._pre_block = AccountDB(db, state_root)
        self.written_accounts: set = set()
        self.written_slots: set = set()
        self.step_accounts: set = set()  # written by the current transaction
        self.step_slots: set = set()
        self.stores: set = set()  # addresses whose storage py-evm holds dirty

    def had_storage_before_block(self, address) -> bool:
        """EIP-7610's collisions (engine/pyevm_boundary.py item 11)."""
        return self._pre_block._get_storage_root(address) != BLANK_ROOT_HASH

    def continues(self, earlier: "RecordingAccountDB") -> None:
        """This database, opened on what `earlier` committed, goes on with its block:
        what was there before the block is still `earlier`'s."""
        self._pre_block = earlier._pre_block

    def many_stores(self) -> bool:
        """Whether py-evm holds more than DIRTY_STORES accounts' storage dirty."""
        return len(self.stores) > DIRTY_STORES

    def persist(self):
        self.stores = set()
        return super().persist()

    def _written(self, address) -> None:
        self.written_accounts.add(address)
        self.step_accounts.add(address)

    def end_step(self) -> dict:
        """The values after the current transaction of every location it wrote."""
        values = location_values(self, self.step_accounts, self.step_slots)
        self.step_accounts, self.step_slots = set(), set()
        return values

    def set_balance(self, address, balance):
        self._written(address)
        super().set_balance(address, balance)

    def set_nonce(self, address, nonce):
        self._written(address)
        super().set_nonce(address, nonce)

    def set_code(self, address, code):
        self._written(address)
        super().set_code(address, code)

    def delete_code(self, address):
        self._written(address)
        super().delete_code(address)

    def set_storage(self, address, slot, value):
        self._written(address)
        self.written_slots.add((address, slot))
        self.step_slots.add((address, slot))
        self.stores.add(address)
        super().set_storage(address, slot, value)

    def delete_storage(self, address):
        self._written(address)
        self.stores.add(address)
        super().delete_storage(address)

    def delete_account(self, address):
        self._written(address)
        super().delete_account(address)

    def touch_account(self, address):
        self._written(address)
        super().touch_account(address)


def _noting_read(name: str):
    """AccountDB's read `name`, noting the account it reads (and the slot)."""

    def read(self, address, *args, **kwargs):
        self.read_accounts.add(address)
        if name == "get_storage":
            self.read_slots.add((address, args[0] if args else kwargs["slot"]))
        return getattr(super(TouchRecordingAccountDB, self), name)(address, *args, **kwargs)

    read.__name__ = name
    return read


class TouchRecordingAccountDB(RecordingAccountDB):
    """Also notes every account and slot read (what a second oracle must preload)."""

    def __init__(self, db, state_root) -> None:
        super().__init__(db, state_root)
        self.read_accounts: set = set()
        self.read_slots: set = set()

    def touched(self) -> tuple:
        return (frozenset(self.read_accounts | self.written_accounts),
                frozenset(self.read_slots | self.written_slots))

    get_balance = _noting_read("get_balance")
    get_nonce = _noting_read("get_nonce")
    get_code = _noting_read("get_code")
    get_code_hash = _noting_read("get_code_hash")
    account_exists = _noting_read("account_exists")
    account_is_empty = _noting_read("account_is_empty")
    account_has_code_or_nonce = _noting_read("account_has_code_or_nonce")
    get_storage = _noting_read("get_storage")


@lru_cache(maxsize=None)
def recording_state_class(state_class: type, account_db_class: type = RecordingAccountDB
                          ) -> type:
    return type(f"Recording{state_class.__name__}", (state_class,),
                {"account_db_class": account_db_class,
                 "has_code_or_nonce": pyevm_boundary.has_code_nonce_or_storage})


def execute_serial(block, progress=None, steps: bool = False, touched: bool = False
                   ) -> tuple:
    """Apply the block serially with stock py-evm. Returns (SerialResult, per-tx seconds).
    `progress.update(1)` is called after each transaction when given. With `steps`,
    the result's `steps` holds, per transaction, the values it left in every location
    it wrote (what the deep check compares each parallel write set with); with
    `touched`, its `touched` holds every account and slot read or written."""
    state_class = recording_state_class(
        block.vm_class.get_state_class(),
        TouchRecordingAccountDB if touched else RecordingAccountDB)
    state = state_class(block.db, block.execution_context(), block.pre_state_root)
    outcomes, seconds, failures, values = [], [], [], []
    for index, transaction in enumerate(block.transactions):
        started = time.perf_counter()
        state.lock_changes()
        try:
            computation = state.apply_transaction(transaction)
        except Exception as exc:
            raise InvalidBlock(f"transaction {index} is invalid: "
                               f"{invalid_reason(transaction, exc)}", index) from None
        failures.append(classify(computation))
        outcomes.append(transaction_outcome(block.vm_class, transaction, computation))
        seconds.append(time.perf_counter() - started)
        if steps:
            values.append(state._account_db.end_step())
        if state._account_db.many_stores():
            state._account_db.persist()  # see DIRTY_STORES
        if progress is not None:
            progress.update(1)
    account_db = state._account_db
    account_db.persist()
    receipts = make_receipts(outcomes)
    result = SerialResult(
        state_root=account_db.state_root,
        receipts=receipts,
        gas_used=receipts[-1].cumulative_gas_used if receipts else 0,
        steps=tuple(values) if steps else None,
        diff_lister=lambda: state_diff(AccountDB(block.db, block.pre_state_root), account_db,
                                       account_db.written_accounts, account_db.written_slots),
        failures=tuple(failures),
        touched=account_db.touched() if touched else None,
    )
    return result, seconds


class PendingSerial:
    """The serial check of a block, started by `start_serial`; `result()` gives
    (SerialResult, wall seconds), waiting for it if it runs alongside. `noted(result,
    wall)` is called once, when the result is first in hand."""

    def __init__(self, block, steps: bool, alongside: bool, progress=None,
                 noted=None) -> None:
        self.block = block
        self._value = None
        self._noted = noted
        if not alongside:
            started = time.perf_counter()
            self._done(execute_serial(block, progress, steps)[0],
                       time.perf_counter() - started)
            return
        fork = get_context("fork")
        self._pipe, theirs = fork.Pipe(duplex=False)
        self._process = fork.Process(
            target=_serial_alongside, args=(block, steps, theirs), daemon=True,
            name="pevmsim-serial")
        self._process.start()
        theirs.close()

    def result(self) -> tuple:
        if self._value is None:
            try:
                answer = pickle.loads(self._pipe.recv_bytes())
            except EOFError:
                self._pipe.close()
                self._process.join()
                raise RuntimeError(f"the serial check's process died (exit code "
                                   f"{self._process.exitcode})") from None
            self._pipe.close()
            self._process.join()
            kind, value, wall = answer
            if kind == "invalid":
                raise InvalidBlock(value)
            if kind == "error":
                raise RuntimeError(f"the serial check failed: {value}")
            block = self.block
            self._done(replace(value, diff_lister=lambda: execute_serial(block)[0].diff),
                       wall)
        return self._value

    def _done(self, result, wall: float) -> None:
        self._value = (result, wall)
        if self._noted is not None:
            self._noted(result, wall)


def start_serial(block, steps: bool = False, alongside: bool = False,
                 progress=None, noted=None) -> PendingSerial:
    """The serial check of `block`: with `alongside`, in a forked process while this
    one goes on, when this process may use another core (and can fork); else now,
    `progress.update(1)` after each transaction when given. `noted` as in
    PendingSerial."""
    return PendingSerial(block, steps,
                         alongside and hasattr(os, "fork") and usable_cores() > 1,
                         progress, noted)


def _serial_alongside(block, steps: bool, connection) -> None:
    """In the forked process: execute the block, send (kind, result or message, wall)."""
    started = time.perf_counter()
    try:
        result = execute_serial(block, steps=steps)[0]
        answer = ("ok", replace(result, diff_lister=None), time.perf_counter() - started)
    except InvalidBlock as exc:
        answer = ("invalid", str(exc), 0.0)
    except Exception as exc:  # noqa: BLE001 - reported to the parent, one line
        answer = ("error", traceback.format_exception_only(type(exc), exc)[-1].strip(), 0.0)
    connection.send_bytes(pickle.dumps(answer, pickle.HIGHEST_PROTOCOL))
    connection.close()
