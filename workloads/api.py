"""The Workload API: how pevmsim gets a block of realistic traffic.

A workload is a class with a `name`, a `description`, typed `params` (each with a
default), and two methods:

    setup(chain)            fund accounts and deploy contracts into the pre-state
    transactions(chain, n)  return n signed transactions for the measured block

Both receive a `BlockBuilder`, which does the common parts: deterministic funded
accounts with keys, deploying Vyper source (compiled by the vyper package) or raw
bytecode by really running the constructor in py-evm, set-up calls that must succeed,
ABI-encoded call transactions with nonce tracking, and finally the Block. Randomness
must come from `chain.rng` (seeded), so a workload is deterministic for a seed.

Helpers that keep workloads short:

    chain.set_storage(contract, "balanceOf", holder, value=...)
                            a genesis-style pre-state write of a Vyper storage variable
                            (HashMap keys follow the name); fast population set-up
    chain.pick(items, hot_ratio)
                            items[0] with probability hot_ratio, else uniform
    chain.other(accounts, excluded)
                            a random account other than `excluded`
    chain.pick_pair(accounts, hot_ratio)
                            (sender, receiver), one of them accounts[0] w.p. hot_ratio
    chain.choose({"swap": 0.2, ...})
                            a key drawn with the given relative weights
    contract.slot("reserve0"), contract.slot("balanceOf", holder)
                            storage slot numbers, e.g. for `Workload.labels()`
    view(block, root, contract, "totalSupply")
                            read a view function against any persisted state root
    validate_block(block, plugin)
                            run the block serially; an invalid transaction (bad nonce,
                            insufficient funds...) becomes a WorkloadError naming it
"""

from __future__ import annotations

import inspect
import random
from abc import ABC, abstractmethod
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import ClassVar

import eth_abi
from eth._utils.address import generate_contract_address
from eth.constants import BLANK_ROOT_HASH
from eth.db.atomic import AtomicDB
from eth.vm.message import Message
from eth.abc import SignedTransactionAPI
from eth.vm.forks.cancun import CancunVM
from eth_hash.auto import keccak
from eth_keys import keys
from eth_utils import function_signature_to_4byte_selector

from simulator.chain.block import Block, HeaderContext
from simulator.chain.failures import FailureKind, classify
from simulator.params import Param
from simulator.chain.serial import recording_state_class
from simulator.chain.state_commit import commit
from simulator.insight.storage_names import ContractSource

from .vyper_build import Artifact, compile_file, find_contract


class WorkloadError(Exception):
    """A workload could not set up or produce its block (its message says why)."""


def weight(name: str, default: float, what: str) -> Param:
    """A relative mix weight parameter (weights need not sum to 1; see chain.choose)."""
    return Param(name, float(default), f"relative weight of {what}", float, min=0.0)


class BlockSource(ABC):
    """Anything that yields blocks: a name, a description, typed parameters, and
    `block(n, seed)`. Workloads generate their blocks; the mainnet source replays
    recorded ones."""

    name: ClassVar[str]
    description: ClassVar[str]
    params: ClassVar[tuple] = ()

    def __init__(self, **values) -> None:
        known = {p.name: p for p in self.params}
        for key, value in values.items():
            if key not in known:
                raise ValueError(
                    f"unknown parameter {key!r} for workload {self.name}; "
                    f"valid: {', '.join(known) or 'none'}")
            known[key].check(value)
        self.values = {p.name: values.get(p.name, p.default) for p in self.params}

    def __getattr__(self, name):  # parameters read as attributes: self.accounts
        values = self.__dict__.get("values", {})
        if name in values:
            return values[name]
        raise AttributeError(name)

    def labels(self) -> dict:
        """Human names for locations, e.g. {(STORAGE, pair, 8): 'AMM pair 0 reserves'}."""
        return {}

    @abstractmethod
    def block(self, n: int, seed: int = 0) -> Block:
        """A block of n transactions, deterministic for `seed` (`--txs all` passes a
        recorded source's `size()`)."""

    def size(self) -> int | None:
        """A recorded block's transaction count; None for a source that makes blocks
        of any size."""
        return None

    def each_block(self) -> list | None:
        """A recorded source: the parameters of each block it holds (e.g. every block
        of a directory); None for a source that makes its blocks."""
        return None


class Size(Enum):
    """A block size that is not a number."""
    ALL = "all"  # the whole recorded block


def block_size(source: BlockSource, txs: "int | Size") -> int:
    """`txs` as a number of transactions: Size.ALL is the recorded block's size."""
    if txs is not Size.ALL:
        return txs
    size = source.size()
    if size is None:
        raise WorkloadError(f"workload {source.name} makes blocks of any size; 'all' "
                            "needs a recorded block (e.g. the mainnet workload)")
    if size == 0:
        raise WorkloadError(f"workload {source.name} {source.values}: the block has no "
                            "transactions")
    return size


class Workload(BlockSource):
    """A generated workload: a fresh pre-state from `setup`, then `transactions`.
    `coinbase`: the block's beneficiary (None: BlockBuilder's)."""

    coinbase: ClassVar[bytes | None] = None

    @abstractmethod
    def setup(self, chain: "BlockBuilder") -> None:
        """Fund accounts and deploy contracts (the pre-state)."""

    @abstractmethod
    def transactions(self, chain: "BlockBuilder", n: int):
        """Exactly n signed transactions for the block (a list, or any iterable such
        as a generator), from chain.rng."""

    def block(self, n: int, seed: int = 0) -> Block:
        """Set up a fresh pre-state and make the block of n transactions; any failure
        is a WorkloadError naming this workload and the phase that failed.
        `transactions` may return any iterable (a generator too) of signed
        transactions; bare contract names in `chain.deploy` are looked up next to the
        workload's own file first."""
        chain = BlockBuilder(seed, contracts_dir=Path(inspect.getfile(type(self))).parent,
                             coinbase=self.coinbase)
        self._run("setup", self.setup, chain)
        transactions = self._run("transactions", lambda: list(self.transactions(chain, n)))
        for index, transaction in enumerate(transactions):
            if not isinstance(transaction, SignedTransactionAPI):
                raise WorkloadError(
                    f"workload {self.name}: transactions() item {index} is a "
                    f"{type(transaction).__name__}, not a signed transaction (make them "
                    "with chain.call_tx, chain.transfer or chain.create_tx)")
        if len(transactions) != n:
            raise WorkloadError(f"workload {self.name}: transactions() made "
                                f"{len(transactions)} transactions, asked for {n}")
        return chain.build(transactions)

    def _run(self, phase: str, method, *args):
        try:
            return method(*args)
        except Exception as exc:
            cause = str(exc) if isinstance(exc, WorkloadError) else f"{type(exc).__name__}: {exc}"
            raise WorkloadError(f"workload {self.name}: {phase} failed: {cause}") from exc


def workload_labels(source: BlockSource) -> dict:
    """`source.labels()`, checked: a failure or a non-dict is a WorkloadError naming it.
    Call it after `block()`, which sets up what the labels name."""
    try:
        labels = source.labels()
    except Exception as exc:
        raise WorkloadError(f"workload {source.name}: labels() failed: "
                            f"{type(exc).__name__}: {exc}") from exc
    if not isinstance(labels, dict):
        raise WorkloadError(f"workload {source.name}: labels() returned a "
                            f"{type(labels).__name__}, not a dict of location -> name")
    return labels


@dataclass(frozen=True)
class Account:
    key: keys.PrivateKey
    address: bytes


def _abi_type(item: dict) -> str:
    """The canonical type of an ABI input/output ("(address,uint256)" for a struct)."""
    if item["type"].startswith("tuple"):
        inner = ",".join(_abi_type(c) for c in item["components"])
        return f"({inner}){item['type'][len('tuple'):]}"
    return item["type"]


def _plain(value):
    """An Account or Contract as its address; anything else as it is."""
    return value.address if isinstance(value, (Account, Contract)) else value


def _word(key) -> bytes:
    """A HashMap key as the 32-byte word Vyper hashes (addresses left-padded)."""
    key = _plain(key)
    if isinstance(key, bytes):
        return key.rjust(32, b"\0")
    return int(key).to_bytes(32, "big")


class Contract:
    """A deployed contract: address, ABI (calldata, return types) and storage layout.
    Arguments of type address may be given as an Account or a Contract."""

    def __init__(self, address: bytes, abi, layout: dict | None = None,
                 name: str = "contract") -> None:
        self.address = address
        self.layout = layout or {}
        self.name = name
        self._functions = {}
        for item in abi:
            if item.get("type") == "function":
                inputs = [_abi_type(i) for i in item["inputs"]]
                outputs = [_abi_type(o) for o in item.get("outputs", ())]
                self._functions[(item["name"], len(inputs))] = (inputs, outputs)

    def _function(self, function: str, count: int) -> tuple:
        try:
            return self._functions[(function, count)]
        except KeyError:
            known = ", ".join(f"{f}({','.join(types)})"
                              for (f, _), (types, _) in sorted(self._functions.items()))
            raise WorkloadError(f"{self.name} has no function {function} taking {count} "
                                f"arguments; it has: {known or 'no functions'}") from None

    def calldata(self, function: str, *args) -> bytes:
        types, _ = self._function(function, len(args))
        signature = f"{function}({','.join(types)})"
        try:
            encoded = eth_abi.encode(types, [_plain(arg) for arg in args])
        except Exception as exc:  # eth_abi's encoding errors name the value and type
            raise WorkloadError(f"{self.name}.{signature} cannot take {args!r}: "
                                f"{type(exc).__name__}: {exc}") from None
        return function_signature_to_4byte_selector(signature) + encoded

    def slot(self, variable: str, *keys) -> int:
        """The storage slot of a variable, or of a HashMap entry (one key per level):
        Vyper 0.4 puts map[key] at keccak(slot ++ key)."""
        try:
            slot = self.layout[variable]["slot"]
        except KeyError:
            raise WorkloadError(f"contract has no storage variable {variable}")
        for key in keys:
            slot = int.from_bytes(keccak(slot.to_bytes(32, "big") + _word(key)), "big")
        return slot


class BlockBuilder:
    """Builds a block's pre-state with real py-evm execution, then its transactions."""

    vm_class = CancunVM
    chain_id = 1
    base_fee = 10**9
    priority_fee = 10**9
    coinbase = bytes.fromhex("c0ffee0000000000000000000000000000c0ffee")
    default_balance = 10**26

    def __init__(self, seed: int = 0, contracts_dir: Path | None = None,
                 coinbase: bytes | None = None) -> None:
        if coinbase is not None:
            self.coinbase = coinbase
        self.rng = random.Random(seed)
        self.contracts_dir = contracts_dir  # where bare contract names are looked up first
        self.db = AtomicDB()
        self.header = HeaderContext(
            coinbase=self.coinbase, number=1, timestamp=1_700_000_000,
            gas_limit=30_000_000, base_fee=self.base_fee,
            prev_randao=keccak(b"pevmsim prev randao"), chain_id=self.chain_id,
            excess_blob_gas=0,
            ancestor_hashes=(keccak(b"pevmsim block 0"),))
        # Notes what it writes, so that build() can commit exactly that in one batch
        # over what earlier flushes committed (`_flush`).
        self._root = BLANK_ROOT_HASH
        self._state = self._open(self._root)
        self._nonces: dict = {}
        self._accounts = 0
        self._contracts: dict = {}  # address -> ContractSource, for naming slots
        self._state.set_balance(self.coinbase, 1)
        self._deployer = self.accounts(1)[0]

    # -- pre-state -----------------------------------------------------------------
    def accounts(self, count: int, balance: int | None = None) -> list:
        """`count` new externally owned accounts with keys, funded in the pre-state."""
        made = []
        for _ in range(count):
            key = keys.PrivateKey(keccak(b"pevmsim account %d" % self._accounts))
            self._accounts += 1
            account = Account(key, key.public_key.to_canonical_address())
            self._state.set_balance(account.address,
                                    self.default_balance if balance is None else balance)
            made.append(account)
        return made

    def deploy(self, contract, *args, deployer: Account | None = None, value: int = 0,
               gas: int = 10_000_000, name: str | None = None) -> Contract:
        """Deploy Vyper source (a .vy path; a bare name is NAME.vy next to the
        workload's file, else a built-in contract), an Artifact, or raw init bytecode
        (bytes), running its constructor in py-evm with `gas`. Source is remembered by
        `name` (default: the source file's name) so that conflict tables name its
        storage slots (`Token0.balanceOf[0x69d8..07de]`)."""
        if isinstance(contract, bytes):
            artifact = Artifact("bytecode", contract, ())
        elif isinstance(contract, Artifact):
            artifact = contract
        else:
            artifact = compile_file(find_contract(
                contract, () if self.contracts_dir is None else (self.contracts_dir,)))
        types = []
        for item in artifact.abi:
            if item.get("type") == "constructor":
                types = [i["type"] for i in item["inputs"]]
        data = artifact.bytecode + (eth_abi.encode(types, list(args)) if types else b"")
        deployer = deployer or self._deployer
        address = generate_contract_address(deployer.address, self._nonce(deployer))
        self.execute(self._sign(deployer, None, value, data, gas),
                     f"deploying {artifact.name}")
        if artifact.layout:
            self._contracts[address] = ContractSource(name or artifact.name, artifact.layout,
                                                      artifact.types)
        return Contract(address, artifact.abi, artifact.layout, artifact.name)

    def call(self, sender: Account, contract: Contract, function: str, *args,
             value: int = 0, gas: int = 1_000_000) -> None:
        """A set-up call with `gas`, executed now; it must succeed."""
        self.execute(self.call_tx(sender, contract, function, *args, value=value, gas=gas),
                     f"set-up call {function}")

    def set_storage(self, contract: Contract, variable: str, *keys, value: int) -> None:
        """Write a storage variable straight into the pre-state (like a genesis alloc):
        much faster than a set-up call per holder, but it bypasses the contract's code,
        so keep the contract's invariants (e.g. totalSupply) yourself."""
        self._state.set_storage(contract.address, contract.slot(variable, *keys), value)

    def execute(self, transaction, what: str = "set-up transaction") -> None:
        """Apply a signed transaction to the pre-state now; it must succeed (a revert
        is a WorkloadError with its decoded reason)."""
        self._flush()
        self._state.lock_changes()
        computation = self._state.apply_transaction(transaction)
        failure = classify(computation)
        if failure is None:
            return
        if failure.kind is FailureKind.REVERTED:
            raise WorkloadError(f"{what} reverted: {failure.reason}")
        if failure.kind is FailureKind.OUT_OF_GAS:
            raise WorkloadError(f"{what} ran out of gas (gas limit {transaction.gas:,}; "
                                "pass a larger gas=)")
        raise WorkloadError(f"{what} failed: {failure.reason}")

    # -- block transactions ------------------------------------------------------------
    def pick(self, items, hot_ratio: float):
        """items[0] (the hot one) with probability hot_ratio, else uniform over all."""
        if self.rng.random() < hot_ratio:
            return items[0]
        return self.rng.choice(items)

    def other(self, items, excluded):
        """A uniform element of `items` other than `excluded`."""
        while (item := self.rng.choice(items)) == excluded:
            pass
        return item

    def pick_pair(self, accounts, hot_ratio: float) -> tuple:
        """Two distinct accounts (sender, receiver): with probability hot_ratio one of
        them, sender or receiver alike, is accounts[0] (the hot account, e.g. an
        exchange wallet); otherwise both are uniform."""
        if self.rng.random() < hot_ratio:
            other = self.rng.choice(accounts[1:])
            return (accounts[0], other) if self.rng.random() < 0.5 else (other, accounts[0])
        sender, receiver = self.rng.sample(accounts, 2)
        return sender, receiver

    def choose(self, weights: dict):
        """A key of `weights` drawn with probability proportional to its value."""
        keys = [key for key, weight in weights.items() if weight > 0]
        if not keys:
            raise WorkloadError(f"all mix weights are zero: {weights}")
        return self.rng.choices(keys, [weights[key] for key in keys])[0]

    def transfer(self, sender: Account, to, value: int, gas: int = 21_000,
                 access_list=()):
        """A signed ETH transfer to an address, Account or Contract (paying a contract
        runs its code: give it the gas that needs)."""
        return self._sign(sender, _plain(to), value, b"", gas, access_list)

    def call_tx(self, sender: Account, contract: Contract, function: str, *args,
                value: int = 0, gas: int = 300_000, access_list=()):
        return self._sign(sender, contract.address, value,
                          contract.calldata(function, *args), gas, access_list)

    def create_tx(self, sender: Account, init_code: bytes, value: int = 0,
                  gas: int = 3_000_000):
        """A contract creation in the block; returns (transaction, new address)."""
        address = generate_contract_address(sender.address, self._nonce(sender))
        return self._sign(sender, None, value, init_code, gas), address

    def _nonce(self, account: Account) -> int:
        if account.address not in self._nonces:
            self._nonces[account.address] = self._state.get_nonce(account.address)
        return self._nonces[account.address]

    def _sign(self, sender: Account, to, value: int, data: bytes, gas: int, access_list=()):
        nonce = self._nonce(sender)
        self._nonces[sender.address] = nonce + 1
        unsigned = self.vm_class.get_transaction_builder().new_unsigned_dynamic_fee_transaction(
            chain_id=self.chain_id, nonce=nonce,
            max_priority_fee_per_gas=self.priority_fee,
            max_fee_per_gas=self.base_fee + self.priority_fee, gas=gas,
            to=to or b"", value=value, data=data, access_list=tuple(access_list))
        signed = unsigned.as_signed_transaction(sender.key)
        # The signer is the sender: cache it as py-evm would after recovering it from
        # the signature, which costs as much as signing (pyevm_boundary.py, item 9).
        signed.__dict__["sender"] = sender.address
        return signed

    def _open(self, root: bytes):
        return recording_state_class(self.vm_class.get_state_class())(
            self.db, self.header.execution_context(), root)

    def _commit(self) -> bytes:
        """The root of the pre-state so far: what the state wrote since the last flush,
        committed in one batch over it (simulator/chain/state_commit.py): the root and
        the state py-evm's key-by-key persist would give, in far less time."""
        account_db = self._state._account_db
        return commit(self.db, self._root, account_db, account_db.written_accounts,
                      account_db.written_slots)

    def _flush(self) -> None:
        """Commit the pre-state so far and go on over its root once py-evm holds the
        storage of many accounts dirty, which would make every later set-up
        transaction slower (simulator/chain/serial.py, DIRTY_STORES); the pre-state
        and its root are the same."""
        account_db = self._state._account_db
        if not account_db.many_stores():
            return
        self._root = self._commit()
        self._state = self._open(self._root)
        self._state._account_db.continues(account_db)

    def build(self, transactions) -> Block:
        """Freeze the pre-state and wrap the transactions into a Block."""
        pre_state_root = self._commit()
        gas = sum(tx.gas for tx in transactions)
        header = HeaderContext(**{**self.header.__dict__,
                                  "gas_limit": max(self.header.gas_limit, gas)})
        return Block(self.vm_class, header.execution_context(), self.db,
                     pre_state_root, transactions, self._contracts)



def view(block: Block, state_root: bytes, contract: Contract, function: str, *args,
         returns=None):
    """Call a view function against the state at `state_root` (persisted in block.db)
    without committing anything. Return types come from the ABI unless `returns` (a
    list of ABI types) is given; a single return value is unwrapped, and addresses
    come back as 20 bytes."""
    state = block.vm_class.get_state_class()(block.db, block.execution_context(), state_root)
    inputs, outputs = contract._function(function, len(args))
    caller = b"\0" * 20
    message = Message(gas=10_000_000, to=contract.address, sender=caller, value=0,
                      data=contract.calldata(function, *args),
                      code=state.get_code(contract.address))
    context = state.get_transaction_context_class()(gas_price=0, origin=caller)
    computation = state.computation_class.apply_message(state, message, context)
    if computation.is_error:
        raise WorkloadError(f"view {function}{args} failed: {computation.error!r}")
    types = list(returns or outputs)
    values = [bytes.fromhex(value[2:]) if kind == "address" else value  # as in py-evm
              for kind, value in zip(types, eth_abi.decode(types, computation.output))]
    return values[0] if len(values) == 1 else tuple(values)


def validate_block(block: Block, plugin: str):
    """Run the block serially (stock py-evm) and return its BlockResult. A transaction
    that cannot be applied (bad nonce, insufficient funds, gas above the limit...) raises
    WorkloadError naming the plug-in, the transaction's index and the reason."""
    from simulator.chain.serial import InvalidBlock, execute_serial

    try:
        result, _ = execute_serial(block)
    except InvalidBlock as exc:
        raise WorkloadError(f"workload {plugin}: {exc}") from None
    return result
