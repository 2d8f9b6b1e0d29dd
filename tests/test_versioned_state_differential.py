"""Differential test: pevmsim's VersionedAccountDB against py-evm's own AccountDB.

hypothesis drives both through random sequences of the AccountDB API (reads, writes,
storage wipes, account deletions, call-frame checkpoints, and transaction boundaries,
where the versioned side publishes its write set to multi-version memory and the next
transaction reads through it) and compares every read. Storage semantics must equal
py-evm's in every case: wiped storage, original values across a wipe (EIP-2200's
`from_journal=False`), creation onto existing storage, deletion of pre-block storage.

The sequences are those EVM execution can produce: storage is wiped only by a
contract creation (onto an address without code and with nonce 0, inside its own call
frame, which may fail and revert), accounts are deleted only when the transaction is
finalized (no call frame open), and storage is read or written only where code runs
(an account with code, or one being created; SLOAD and SSTORE act on the executing
account's own storage).
"""

from eth.constants import BLANK_ROOT_HASH
from eth.db.account import AccountDB
from eth.db.atomic import AtomicDB
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from simulator.engine.mv_memory import MVMemory
from simulator.engine.versioned_state import IncarnationView, PreState, VersionedAccountDB

ADDRESSES = [bytes([n]) * 20 for n in (0xAA, 0xBB, 0xCC)]
PRE = {  # a contract with storage; storage but no code and nonce 0; nothing
    ADDRESSES[0]: dict(balance=10, nonce=1, code=b"\x60\x00", storage={0: 5, 1: 7}),
    ADDRESSES[1]: dict(balance=0, nonce=0, code=b"", storage={0: 3}),
}
TRANSACTIONS = 12

addresses = st.sampled_from(ADDRESSES)
slots = st.integers(0, 2)
values = st.integers(0, 3)


class AccountDBs(RuleBasedStateMachine):
    @initialize()
    def setup(self):
        db = AtomicDB()
        pre = AccountDB(db, BLANK_ROOT_HASH)
        for address, account in PRE.items():
            pre.set_balance(address, account["balance"])
            pre.set_nonce(address, account["nonce"])
            if account["code"]:
                pre.set_code(address, account["code"])
            for slot, value in account["storage"].items():
                pre.set_storage(address, slot, value)
        pre.persist()
        self.stock = AccountDB(db, pre.state_root)
        self.pre_state = PreState(db, pre.state_root)
        self.mv = MVMemory(TRANSACTIONS)
        self.tx = 0
        self.checkpoints = []
        self._begin()

    def _begin(self):
        self.versioned = VersionedAccountDB(IncarnationView(self.tx, self.mv, self.pre_state))

    def both(self, method, *args):
        return getattr(self.stock, method)(*args), getattr(self.versioned, method)(*args)

    def same(self, method, *args):
        stock, versioned = self.both(method, *args)
        assert stock == versioned, (method, args, stock, versioned)

    # -- reads ---------------------------------------------------------------------
    @rule(address=addresses, slot=slots, from_journal=st.booleans())
    def get_storage(self, address, slot, from_journal):
        if self.stock.get_code(address):
            self.same("get_storage", address, slot, from_journal)

    @rule(address=addresses)
    def read_account(self, address):
        for method in ("get_balance", "get_nonce", "get_code", "get_code_hash",
                       "account_exists", "account_is_empty", "account_has_code_or_nonce"):
            self.same(method, address)

    # -- writes --------------------------------------------------------------------
    @rule(address=addresses, slot=slots, value=values)
    def set_storage(self, address, slot, value):
        if self.stock.get_code(address):
            self.both("set_storage", address, slot, value)

    @rule(address=addresses, slot=slots, value=values, fails=st.booleans())
    def create(self, address, slot, value, fails):
        """CREATE/CREATE2 onto `address`: its own frame wipes the storage, the init
        code stores a value (reading its original value first), then it fails and
        reverts, or deploys code."""
        if self.stock.get_code(address) or self.stock.get_nonce(address):
            return  # a collision: py-evm fails the creation without touching storage
        checkpoints = self.both("record")
        self.both("delete_storage", address)
        self.both("set_nonce", address, 1)
        self.same("get_storage", address, slot, False)
        self.both("set_storage", address, slot, value)
        self.same("get_storage", address, slot)
        if fails:
            self.stock.discard(checkpoints[0])
            self.versioned.discard(checkpoints[1])
        else:
            self.both("set_code", address, b"\x00")
            self.stock.commit(checkpoints[0])
            self.versioned.commit(checkpoints[1])

    @precondition(lambda self: not self.checkpoints)
    @rule(address=addresses)
    def delete_account(self, address):
        self.both("delete_account", address)

    @rule(address=addresses)
    def touch_account(self, address):
        self.both("touch_account", address)

    @rule(address=addresses, value=values)
    def set_balance(self, address, value):
        self.both("set_balance", address, value)

    @rule(address=addresses, delta=st.integers(0, 3))
    def add_balance(self, address, delta):
        self.stock.set_balance(address, self.stock.get_balance(address) + delta)
        self.versioned.add_balance_delta(address, delta)

    @rule(address=addresses)
    def increment_nonce(self, address):
        self.both("increment_nonce", address)

    @rule(address=addresses, value=values)
    def set_nonce(self, address, value):
        self.both("set_nonce", address, value)

    @rule(address=addresses, code=st.sampled_from([b"", b"\x00", b"\x60\x01"]))
    def set_code(self, address, code):
        self.both("set_code", address, code)

    # -- call frames and transactions ------------------------------------------------
    @rule()
    def record(self):
        self.checkpoints.append(self.both("record"))

    @precondition(lambda self: self.checkpoints)
    @rule(revert=st.booleans())
    def end_frame(self, revert):
        stock, versioned = self.checkpoints.pop()
        method = "discard" if revert else "commit"
        getattr(self.stock, method)(stock)
        getattr(self.versioned, method)(versioned)

    @precondition(lambda self: self.tx < TRANSACTIONS - 1)
    @rule()
    def end_transaction(self):
        while self.checkpoints:
            stock, versioned = self.checkpoints.pop()
            self.stock.commit(stock)
            self.versioned.commit(versioned)
        self.stock.lock_changes()
        db = self.versioned
        self.mv.record(self.tx, 0, db.writes, db.deltas)
        self.tx += 1
        self._begin()

    @invariant()
    def no_estimate_was_met(self):
        assert getattr(self, "versioned", None) is None or self.versioned.unserved is None


AccountDBs.TestCase.settings = settings(max_examples=300, stateful_step_count=40,
                                        deadline=None)
TestVersionedAccountDBEqualsPyEvm = AccountDBs.TestCase
