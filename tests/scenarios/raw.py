"""Blocks from raw EVM bytecode and hand-set pre-state, under any fork: what the
adversarial regression tests need (accounts with storage but no code, EIP-7702
authorizations, call-heavy contracts, SELFDESTRUCT of pre-block storage)."""

from __future__ import annotations

from eth.chains.mainnet import MAINNET_VM_CONFIGURATION
from eth.constants import BLANK_ROOT_HASH
from eth.db.account import AccountDB
from eth.db.atomic import AtomicDB
from eth.vm.forks import CancunVM, LondonVM, PragueVM
from eth.vm.forks.prague.constants import MAGIC
from eth_hash.auto import keccak
from eth_keys import keys
import rlp

from simulator.chain.block import Block, HeaderContext

FORKS = {vm.fork: vm for _, vm in MAINNET_VM_CONFIGURATION}
COINBASE = bytes.fromhex("c0ffee00000000000000000000000000000000c0")


def asm(*parts) -> bytes:
    """Bytecode from opcodes (ints) and PUSH operands (bytes, pushed with PUSHn)."""
    code = bytearray()
    for part in parts:
        if isinstance(part, (bytes, bytearray)):
            code.append(0x5F + len(part))
            code += part
        else:
            code.append(part)
    return bytes(code)


def push(value: int) -> bytes:
    return value.to_bytes(max(1, (value.bit_length() + 7) // 8), "big")


class RawChain:
    chain_id = 1
    gas_price = 10**9

    def __init__(self, vm_class) -> None:
        self.vm_class = vm_class
        self.db = AtomicDB()
        self.account_db = AccountDB(self.db, BLANK_ROOT_HASH)
        self._nonces: dict = {}
        self._keys = 0
        self.account_db.set_balance(COINBASE, 1)

    def account(self, address: bytes, code: bytes = b"", storage=None, balance: int = 0,
                nonce: int = 0) -> bytes:
        db = self.account_db
        db.set_balance(address, balance)
        db.set_nonce(address, nonce)
        if code:
            db.set_code(address, code)
        for slot, value in (storage or {}).items():
            db.set_storage(address, slot, value)
        return address

    def key(self, balance: int = 10**21):
        key = keys.PrivateKey(keccak(b"raw chain key %d" % self._keys))
        self._keys += 1
        self.account_db.set_balance(key.public_key.to_canonical_address(), balance)
        return key

    def authorization(self, key, delegate: bytes, nonce: int) -> dict:
        """An EIP-7702 set-code authorization signed by `key`."""
        message = MAGIC + rlp.encode([self.chain_id, delegate, nonce])
        signature = key.sign_msg(message)
        return dict(chain_id=self.chain_id, address=delegate, nonce=nonce,
                    y_parity=signature.v, r=signature.r, s=signature.s)

    def blob_tx(self, key, to: bytes, blobs: int, max_fee_per_blob_gas: int = 10**12):
        """A blob transaction (EIP-4844) carrying `blobs` versioned hashes."""
        sender = key.public_key.to_canonical_address()
        nonce = self._nonces.get(sender, 0)
        self._nonces[sender] = nonce + 1
        unsigned = self.vm_class.get_transaction_builder().new_unsigned_blob_transaction(
            chain_id=self.chain_id, nonce=nonce, max_priority_fee_per_gas=self.gas_price,
            max_fee_per_gas=2 * self.gas_price, gas=100_000, to=to, value=0, data=b"",
            access_list=(), max_fee_per_blob_gas=max_fee_per_blob_gas,
            blob_versioned_hashes=[b"\x01" + keccak(b"blob %d" % i)[1:]
                                   for i in range(blobs)])
        return unsigned.as_signed_transaction(key)

    def tx(self, key, to: bytes | None, data: bytes = b"", value: int = 0,
           gas: int = 1_000_000, authorizations=()):
        sender = key.public_key.to_canonical_address()
        nonce = self._nonces.get(sender, 0)
        self._nonces[sender] = nonce + 1
        builder = self.vm_class.get_transaction_builder()
        if authorizations:
            unsigned = builder.new_unsigned_set_code_transaction(
                chain_id=self.chain_id, nonce=nonce, max_priority_fee_per_gas=self.gas_price,
                max_fee_per_gas=2 * self.gas_price, gas=gas, to=to, value=value, data=data,
                access_list=(), authorization_list=list(authorizations))
            return unsigned.as_signed_transaction(key)
        if issubclass(self.vm_class, LondonVM):
            unsigned = builder.new_unsigned_dynamic_fee_transaction(
                chain_id=self.chain_id, nonce=nonce, max_priority_fee_per_gas=self.gas_price,
                max_fee_per_gas=2 * self.gas_price, gas=gas, to=to or b"", value=value,
                data=data, access_list=())
            return unsigned.as_signed_transaction(key)
        unsigned = builder.create_unsigned_transaction(  # unprotected: valid in every fork
            nonce=nonce, gas_price=self.gas_price, gas=gas, to=to or b"", value=value,
            data=data)
        return unsigned.as_signed_transaction(key)

    def build(self, transactions, number: int = 20_000_000,
              timestamp: int = 1_750_000_000, excess_blob_gas: int = 0) -> Block:
        self.account_db.persist()
        london = issubclass(self.vm_class, LondonVM)
        cancun = issubclass(self.vm_class, CancunVM)
        header = HeaderContext(
            coinbase=COINBASE, number=number, timestamp=timestamp,
            gas_limit=30_000_000, base_fee=self.gas_price if london else None,
            difficulty=0 if london else 10**12, chain_id=self.chain_id,
            excess_blob_gas=excess_blob_gas if cancun else None,
            ancestor_hashes=(keccak(b"raw chain parent"),))
        return Block(self.vm_class, header.execution_context(), self.db,
                     self.account_db.state_root, transactions)


__all__ = ["FORKS", "RawChain", "asm", "push", "PragueVM", "COINBASE"]


# -- the adversarial blocks (issue: correctness where pevmsim meets py-evm) -----------

STOP, SLOAD, SSTORE, MSTORE, ADD, POP, CALL, GAS, CREATE2, SELFDESTRUCT = (
    0x00, 0x54, 0x55, 0x52, 0x01, 0x50, 0xF1, 0x5A, 0xF5, 0xFF)
COUNTER_CODE = asm(b"\x00", SLOAD, b"\x01", ADD, b"\x00", SSTORE, STOP)  # slot0 += 1


def create2_onto_storage(vm_class=FORKS["cancun"], fails: bool = False):
    """A factory CREATE2s onto an address that has storage (slot 0 = 5) but no code and
    nonce 0; the init code stores 1 in slot 0 (ethereum/tests create2collisionStorage),
    then stops, or with `fails` hits INVALID (the creation fails and reverts)."""
    chain = RawChain(vm_class)
    init = asm(b"\x01", b"\x00", SSTORE, 0xFE if fails else STOP)
    factory = bytes.fromhex("fac7000000000000000000000000000000000001")
    chain.account(factory, asm(init, b"\x00", MSTORE,  # memory[32 - len(init):32] = init
                               b"\x00", push(len(init)), push(32 - len(init)), b"\x00",
                               CREATE2, POP, STOP))
    target = keccak(b"\xff" + factory + b"\x00" * 32 + keccak(init))[12:]
    chain.account(target, storage={0: 5})
    users = [chain.key() for _ in range(3)]
    return chain.build([chain.tx(user, factory, gas=200_000) for user in users]), target


def set_code_authorization_after_read():
    """Prague: tx0 writes a contract slot, tx1 (sent by A) reads it, tx2 (sent by B)
    carries A's EIP-7702 authorization at nonce 1 (valid only after tx1)."""
    chain = RawChain(FORKS["prague"])
    counter = chain.account(bytes.fromhex("c0de000000000000000000000000000000000001"),
                            COUNTER_CODE)
    writer, authority, relayer = chain.key(), chain.key(), chain.key()
    delegate = counter
    txs = [
        chain.tx(writer, counter, gas=100_000),
        chain.tx(authority, counter, gas=100_000),
        chain.tx(relayer, relayer.public_key.to_canonical_address(), gas=100_000,
                 authorizations=[chain.authorization(authority, delegate, nonce=1)]),
    ]
    return chain.build(txs), authority.public_key.to_canonical_address()


def call_heavy(calls: int = 30, txs: int = 6):
    """Cancun: `txs` transactions that each make `calls` plain CALLs to a contract."""
    chain = RawChain(FORKS["cancun"])
    callee = chain.account(bytes.fromhex("ca11ee0000000000000000000000000000000001"),
                           COUNTER_CODE)
    one_call = asm(b"\x00", b"\x00", b"\x00", b"\x00", b"\x00", callee, GAS, CALL, POP)
    caller = chain.account(bytes.fromhex("ca11e40000000000000000000000000000000001"),
                           one_call * calls + bytes([STOP]))
    users = [chain.key() for _ in range(txs)]
    return chain.build([chain.tx(user, caller, gas=2_000_000) for user in users])


def write_then_selfdestruct(vm_class=FORKS["shanghai"]):
    """Pre-Cancun: a contract with a pre-block slot writes that slot and then
    SELFDESTRUCTs in the same transaction."""
    chain = RawChain(vm_class)
    heir = bytes.fromhex("4e17000000000000000000000000000000000001")
    doomed = chain.account(bytes.fromhex("d00d000000000000000000000000000000000001"),
                           asm(b"\x07", b"\x00", SSTORE, heir, SELFDESTRUCT),
                           storage={0: 5, 1: 6}, balance=10**18)
    users = [chain.key() for _ in range(2)]
    return chain.build([chain.tx(user, doomed, gas=100_000) for user in users])


def big_writer_and_readers(readers: int = 30, heavy_gas: int = 8_000_000):
    """One transaction of about `heavy_gas` gas that then bumps a counter, and `readers`
    cheap transactions that bump the same counter: the abort ablation's worst case."""
    chain = RawChain(FORKS["cancun"])
    CALLDATASIZE, JUMPDEST, JUMPI, SWAP1, SUB, DUP1 = 0x36, 0x5B, 0x57, 0x90, 0x03, 0x80
    iterations = (heavy_gas - 50_000) // 26  # 26 gas per loop iteration
    code = asm(CALLDATASIZE, b"\x12", JUMPI,  # with calldata: skip the loop
               iterations.to_bytes(3, "big"), JUMPDEST,  # offset 8: the loop head
               b"\x01", SWAP1, SUB, DUP1, b"\x08", JUMPI, POP,
               JUMPDEST) + COUNTER_CODE  # offset 18
    assert code[8] == JUMPDEST and code[18] == JUMPDEST
    counter = chain.account(bytes.fromhex("4ea7000000000000000000000000000000000001"), code)
    users = [chain.key() for _ in range(readers + 1)]
    txs = [chain.tx(users[0], counter, gas=heavy_gas + 100_000)]
    txs += [chain.tx(user, counter, data=b"\x01", gas=100_000) for user in users[1:]]
    return chain.build(txs)
