"""The serial executor: the oracle every parallel run is checked against.

It is stock py-evm: the fork's own State over its own trie-backed AccountDB, one
transaction after another, exactly as a traditional client applies a block. The only
addition is a subclass of AccountDB that notes which accounts and slots were written,
so that the post-state diff can be listed; every value still comes from py-evm.
The serial result also says how each failed transaction failed (`failures.py`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from functools import lru_cache

from eth.db.account import AccountDB

from .failures import classify
from .outcome import BlockResult, location_values, make_receipts, state_diff
from .versioned_state import transaction_outcome


class InvalidBlock(Exception):
    """A transaction of the block cannot be applied (bad nonce, insufficient funds...)."""


@dataclass(eq=False)
class SerialResult(BlockResult):
    # Per transaction: None if it succeeded, else its failures.Failure.
    failures: tuple = ()


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
        self.written_accounts: set = set()
        self.written_slots: set = set()
        self.step_accounts: set = set()  # written by the current transaction
        self.step_slots: set = set()

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
        super().set_storage(address, slot, value)

    def delete_storage(self, address):
        self._written(address)
        super().delete_storage(address)

    def delete_account(self, address):
        self._written(address)
        super().delete_account(address)

    def touch_account(self, address):
        self._written(address)
        super().touch_account(address)


@lru_cache(maxsize=None)
def recording_state_class(state_class: type) -> type:
    return type(f"Recording{state_class.__name__}", (state_class,),
                {"account_db_class": RecordingAccountDB})


def execute_serial(block, progress=None, steps: bool = False) -> tuple:
    """Apply the block serially with stock py-evm. Returns (SerialResult, per-tx seconds).
    `progress.update(1)` is called after each transaction when given. With `steps`,
    the result's `steps` holds, per transaction, the values it left in every location
    it wrote (what the deep check compares each parallel write set with)."""
    state_class = recording_state_class(block.vm_class.get_state_class())
    state = state_class(block.db, block.execution_context(), block.pre_state_root)
    outcomes, seconds, failures, values = [], [], [], []
    for index, transaction in enumerate(block.transactions):
        started = time.perf_counter()
        state.lock_changes()
        try:
            computation = state.apply_transaction(transaction)
        except Exception as exc:
            raise InvalidBlock(f"transaction {index} is invalid: "
                               f"{invalid_reason(transaction, exc)}") from None
        failures.append(classify(computation))
        outcomes.append(transaction_outcome(block.vm_class, transaction, computation))
        seconds.append(time.perf_counter() - started)
        if steps:
            values.append(state._account_db.end_step())
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
    )
    return result, seconds
