"""A second serial oracle: the executable specification (EELS, PyPI ethereum-execution
2.20.0) executes the block's transactions from the same pre-state, and every
transaction's status, gas, logs and post-values are compared with py-evm's.

    problems = eels_disagreements(block)     # [] when they agree; one line each

py-evm's side is a serial execution of its own (chain/serial.py, noting what it reads
as well as what it writes). EELS runs each transaction through its fork's own
`fork.process_transaction` with a `vm.BlockEnvironment` built from the block's header
context (only the transactions, as pevmsim measures them: no system calls, rewards or
withdrawals). Its state is an
EELS `State` filled from the block's py-evm pre-state database with every account and
slot that serial py-evm read or wrote; should EELS read a location py-evm never touched
and the pre-state has it, the block is executed again with it loaded (a partial
pre-state must not stand in for a disagreement).

What is compared, per transaction: valid or invalid; success; gas used; logs
(address, topics, data); and after it, every account field (balance, nonce, code hash,
existence) and storage slot that either side wrote, against py-evm's value at that
point of the block.

Seams in EELS (what it does not promise), each guarded by the differential tests:
- `Trie._data` is a dict read with `get` and written with item assignment and `del`,
  and snapshots copy it with `copy.copy`: a dict subclass there notes written and
  missed keys.
- `fork.process_message_call` is looked up in the fork module at call time: a wrapper
  notes each transaction's output (its `error` is the status, also before Byzantium,
  where receipts carry none).

Invariants: the oracle never changes the block or its database (it reads the pre-state
through a fresh AccountDB); its result depends only on the block (sorted iteration
everywhere), so it is the same under any hash seed; between transactions EELS's state
holds no open snapshot, and every transaction EELS completes produced exactly one
message-call output (both asserted under PEVMSIM_DEBUG).
"""

from __future__ import annotations

import copy
import dataclasses
import importlib
from enum import Enum
from functools import lru_cache

import ethereum_rlp
import rlp
from eth.constants import BLANK_ROOT_HASH, EMPTY_SHA3
from eth.db.account import AccountDB
from eth_hash.auto import keccak
from ethereum.exceptions import EthereumException
from ethereum_types.numeric import U64, U256, Uint

from .. import debug
from ..engine.locations import ACCOUNT, BALANCE, CODE, NONCE, STORAGE, describe
from .serial import InvalidBlock, execute_serial

# py-evm's fork names -> EELS's fork packages. Mainnet's Constantinople activated with
# Petersburg's rules, which is what EELS's `constantinople` specifies; py-evm's own
# ConstantinopleVM (EIP-1283 in, never on mainnet) has no counterpart.
EELS_FORKS = {
    "frontier": "frontier", "homestead": "homestead", "tangerine-whistle": "tangerine_whistle",
    "spurious-dragon": "spurious_dragon", "byzantium": "byzantium",
    "petersburg": "constantinople", "istanbul": "istanbul", "muir-glacier": "muir_glacier",
    "berlin": "berlin", "london": "london", "arrow-glacier": "arrow_glacier",
    "gray-glacier": "gray_glacier", "paris": "paris", "shanghai": "shanghai",
    "cancun": "cancun", "prague": "prague", "osaka": "osaka", "bpo1": "bpo1", "bpo2": "bpo2",
}
MAX_ROUNDS = 8  # pre-state reloads before giving up (each adds what EELS alone read)


class Oracle(Enum):
    """A second serial oracle beside py-evm (`--oracle`)."""

    EELS = "eels"


class OracleError(Exception):
    """EELS cannot check this block (a fork it does not specify; one line)."""


class _Noting(dict):
    """A trie's data that notes the keys written (`log`) and read while absent
    (`misses`), as (owner, key): owner is None for accounts, the address for slots."""

    __slots__ = ("owner", "log", "misses")

    def get(self, key, default=None):
        if not dict.__contains__(self, key):
            self.misses.add((self.owner, key))
        return dict.get(self, key, default)

    def __setitem__(self, key, value):
        self.log.add((self.owner, key))
        dict.__setitem__(self, key, value)

    def __delitem__(self, key):
        self.log.add((self.owner, key))
        dict.__delitem__(self, key)

    def __copy__(self):
        return _noting(dict(self), self.owner, self.log, self.misses)


def _noting(data: dict, owner, log: set, misses: set) -> _Noting:
    noting = _Noting(data)
    noting.owner, noting.log, noting.misses = owner, log, misses
    return noting


@dataclasses.dataclass
class _Fork:
    """The EELS modules of one fork."""

    fork: object
    state: object
    vm: object
    types: object
    transactions: object
    trie: object
    outputs: list  # the message-call outputs of the transactions run, in order


@lru_cache(maxsize=None)
def eels_fork(name: str) -> _Fork:
    package = f"ethereum.forks.{name}"
    modules = [importlib.import_module(f"{package}.{module}") for module in
               ("fork", "state", "vm", "fork_types", "transactions", "trie")]
    fork = _Fork(*modules, outputs=[])
    original = fork.fork.process_message_call

    def noting_call(message):
        output = original(message)
        fork.outputs.append(output)
        return output

    fork.fork.process_message_call = noting_call
    return fork


def eels_fork_of(vm_class) -> _Fork:
    name = EELS_FORKS.get(vm_class.fork)
    if name is None:
        raise OracleError(f"EELS specifies no fork matching py-evm's {vm_class.__name__} "
                          "(mainnet forks only)")
    return eels_fork(name)


class _EelsRun:
    """One execution of the block by EELS over a given preloaded set."""

    def __init__(self, block, fork: _Fork, accounts, slots) -> None:
        self.block, self.fork = block, fork
        self.pre = AccountDB(block.db, block.pre_state_root)
        self.log: set = set()
        self.misses: set = set()
        self.loaded_accounts = frozenset(accounts)
        self.loaded_slots = frozenset(slots)
        self.state = fork.state.State()
        main = {}
        storage = {}
        for address in sorted(accounts):
            if self.pre.account_exists(address):
                main[address] = fork.types.Account(
                    nonce=Uint(self.pre.get_nonce(address)),
                    balance=U256(self.pre.get_balance(address)),
                    code=self.pre.get_code(address))
                if self.pre._get_storage_root(address) != BLANK_ROOT_HASH:
                    storage[address] = {}
        for address, slot in sorted(slots):
            value = self.pre.get_storage(address, slot) if address in storage else 0
            if value:
                storage[address][slot.to_bytes(32, "big")] = U256(value)
        self.state._main_trie._data = _noting(main, None, self.log, self.misses)
        for address, data in storage.items():
            trie = fork.trie.Trie(secured=True, default=U256(0))
            trie._data = _noting(data, address, self.log, self.misses)
            self.state._storage_tries[address] = trie

    def environment(self):
        context = self.block.execution_context()
        depth = min(context.block_number, 256)
        ancestors = list(context.prev_hashes)[:depth]
        hashes = [b"\x00" * 32] * (depth - len(ancestors)) + ancestors[::-1]
        values = dict(
            chain_id=U64(context.chain_id), state=self.state,
            block_gas_limit=Uint(context.gas_limit), block_hashes=hashes,
            coinbase=context.coinbase, number=Uint(context.block_number),
            base_fee_per_gas=Uint(context._base_fee_per_gas or 0),
            time=U256(context.timestamp), prev_randao=context.mix_hash,
            difficulty=Uint(context.difficulty),
            excess_blob_gas=U64(context._excess_blob_gas or 0),
            parent_beacon_block_root=b"\x00" * 32)
        names = [field.name for field in dataclasses.fields(self.fork.vm.BlockEnvironment)]
        return self.fork.vm.BlockEnvironment(**{name: values[name] for name in names})

    def decode(self, transaction):
        module = self.fork.transactions
        if getattr(transaction, "type_id", None) is None:
            legacy = getattr(module, "LegacyTransaction", None) or module.Transaction
            return ethereum_rlp.decode_to(legacy, rlp.encode(transaction))
        return module.decode_transaction(transaction.encode())

    def missing(self) -> tuple:
        """(accounts, slots) EELS read while absent that the pre-state has."""
        accounts, slots = set(), set()
        for owner, key in self.misses:
            if owner is None:
                if key not in self.loaded_accounts and self.pre.account_exists(key):
                    accounts.add(key)
            else:
                slot = int.from_bytes(key, "big")
                if (owner, slot) not in self.loaded_slots and self.pre.get_storage(owner,
                                                                                    slot):
                    slots.add((owner, slot))
        return accounts, slots

    # -- values ------------------------------------------------------------------------
    def value(self, location):
        kind, address = location[0], location[1]
        if kind == STORAGE:
            return int(self.fork.state.get_storage(self.state, address,
                                                   location[2].to_bytes(32, "big")))
        account = self.fork.state.get_account_optional(self.state, address)
        if kind == ACCOUNT:
            return account is not None
        if account is None:
            return EMPTY_SHA3 if kind == CODE else 0
        if kind == CODE:
            return keccak(account.code) if account.code else EMPTY_SHA3
        return int(account.balance if kind == BALANCE else account.nonce)

    def written(self) -> set:
        """The locations EELS wrote since the last call (fresh storage tries included:
        EELS makes them with plain dicts, which are given noting ones here)."""
        for address, trie in self.state._storage_tries.items():
            if not isinstance(trie._data, _Noting):
                self.log.update((address, key) for key in trie._data)
                trie._data = _noting(trie._data, address, self.log, self.misses)
        locations = set()
        for owner, key in self.log:
            if owner is None:
                locations.update((kind, key) for kind in (BALANCE, NONCE, CODE, ACCOUNT))
            else:
                locations.add((STORAGE, owner, int.from_bytes(key, "big")))
        self.log.clear()
        return locations


def _logs(entries) -> list:
    return [(bytes(address), [int(topic) for topic in topics], bytes(data))
            for address, topics, data in entries]


def _eels_logs(logs) -> list:
    return [(bytes(log.address), [int.from_bytes(topic, "big") for topic in log.topics],
             bytes(log.data)) for log in logs]


def _compare(run: _EelsRun, serial, pre_value, invalid: tuple | None) -> list:
    """Execute the block in EELS, comparing with py-evm transaction by transaction;
    `invalid` is (index, reason) of the transaction py-evm refused, if any."""
    fork, block = run.fork, run.block
    environment = run.environment()
    output = fork.vm.BlockOutput()
    py_view: dict = {}
    problems = []
    for index, transaction in enumerate(block.transactions):
        fork.outputs.clear()
        gas_before = output.block_gas_used
        logs_before = len(output.block_logs)
        try:
            fork.fork.process_transaction(environment, output, run.decode(transaction),
                                          Uint(index))
        except EthereumException as exc:
            if invalid is None or invalid[0] != index:
                problems.append(f"tx {index}: valid in py-evm, invalid in EELS "
                                f"({type(exc).__name__}: {exc})")
            return problems
        except Exception as exc:  # noqa: BLE001 - the specification itself failed
            problems.append(f"tx {index}: EELS raised {type(exc).__name__} "
                            f"({str(exc) or 'no message'}); py-evm "
                            + (f"refused it ({invalid[1]})" if invalid and invalid[0] == index
                               else "executed it"))
            return problems
        if debug.ENABLED:
            debug.check(not run.state._snapshots and len(fork.outputs) == 1,
                        lambda: f"tx {index}: EELS left {len(run.state._snapshots)} "
                                f"snapshots and {len(fork.outputs)} outputs")
        if invalid is not None and invalid[0] == index:
            problems.append(f"tx {index}: invalid in py-evm ({invalid[1]}), valid in EELS")
            return problems
        problems += _outcome_problems(index, serial.receipts[index], fork.outputs[-1],
                                      int(output.block_gas_used - gas_before),
                                      output.block_logs[logs_before:])
        steps = serial.steps[index]
        py_view.update(steps)
        for location in sorted(set(steps) | run.written(), key=repr):
            ours = py_view[location] if location in py_view else pre_value(location)
            theirs = run.value(location)
            if ours != theirs:
                problems.append(f"tx {index}: {describe(location)}: py-evm {_show(ours)}, "
                                f"EELS {_show(theirs)}")
    return problems


def _outcome_problems(index: int, receipt, message_output, gas: int, logs) -> list:
    problems = []
    success = message_output.error is None
    if receipt.success != success:
        problems.append(f"tx {index}: status: py-evm "
                        f"{'success' if receipt.success else 'failure'}, EELS "
                        f"{'success' if success else 'failure'} "
                        f"({type(message_output.error).__name__})")
    if receipt.gas_used != gas:
        problems.append(f"tx {index}: gas used: py-evm {receipt.gas_used}, EELS {gas}")
    if _logs(receipt.logs) != _eels_logs(logs):
        problems.append(f"tx {index}: logs: py-evm {len(receipt.logs)} "
                        f"{_logs(receipt.logs)!r:.200}, EELS {len(logs)} "
                        f"{_eels_logs(logs)!r:.200}")
    return problems


def _show(value) -> str:
    return "0x" + value.hex() if isinstance(value, bytes) else repr(value)


def _prefix(block, count: int):
    """The block's first `count` transactions (a valid prefix of a block py-evm
    refuses at transaction `count`)."""
    prefix = copy.copy(block)
    prefix.transactions = block.transactions[:count]
    prefix.senders = block.senders[:count]
    return prefix


def eels_disagreements(block) -> list:
    """Every disagreement between serial py-evm and EELS on `block`, one line each
    ([] when they agree). A transaction py-evm refuses EELS must refuse too."""
    fork = eels_fork_of(block.vm_class)
    invalid = None
    try:
        serial, _ = execute_serial(block, steps=True, touched=True)
    except InvalidBlock as exc:
        invalid = (exc.index, str(exc))
        serial, _ = execute_serial(_prefix(block, exc.index), steps=True, touched=True)
    accounts, slots = serial.touched
    for address in block.senders:  # the refused transaction's sender is read too
        accounts = accounts | {address}
    pre = AccountDB(block.db, block.pre_state_root)

    reads = {BALANCE: pre.get_balance, NONCE: pre.get_nonce, CODE: pre.get_code_hash,
             ACCOUNT: pre.account_exists}

    def pre_value(location):
        if location[0] == STORAGE:
            return pre.get_storage(location[1], location[2])
        return reads[location[0]](location[1])

    for _ in range(MAX_ROUNDS):
        run = _EelsRun(block, fork, accounts, slots)
        problems = _compare(run, serial, pre_value, invalid)
        more_accounts, more_slots = run.missing()
        if not more_accounts and not more_slots:
            return problems
        accounts, slots = accounts | more_accounts, slots | more_slots
    raise OracleError(f"EELS kept reading pre-state locations py-evm never touched "
                      f"({MAX_ROUNDS} reloads)")


def eels_gas_and_receipts_root(block, accounts, slots) -> tuple:
    """(gas used, receipts root) of the block as EELS executes it from the pre-state's
    `accounts` and `slots` (what a header built by the specification would carry)."""
    run = _EelsRun(block, eels_fork_of(block.vm_class), accounts, slots)
    environment, output = run.environment(), run.fork.vm.BlockOutput()
    for index, transaction in enumerate(block.transactions):
        run.fork.fork.process_transaction(environment, output, run.decode(transaction),
                                          Uint(index))
    if run.missing() != (set(), set()):
        raise OracleError("the given pre-state lacks locations the block reads")
    return int(output.block_gas_used), bytes(run.fork.trie.root(output.receipts_trie))
