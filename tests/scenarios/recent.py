"""Recent-fork blocks as a JSON-RPC node serves them: a Prague block with EIP-7702
(type-4) transactions and Osaka/BPO blocks (CLZ, P256VERIFY, ModExp at EIP-7823's
bounds, a transaction at EIP-7825's gas cap), written as a block directory
(workloads/block_store.py) that tests/rpc_node.py serves in geth's shapes.

No such mainnet block can be downloaded here (no network), and the vendored set stops at
Cancun, so these are built: real signed transactions over a hand-set pre-state, with the
header's gasUsed and receiptsRoot computed by the executable specification (EELS), not
by py-evm, so that the replay's header check is a check against the specification.
Block hashes are stand-ins (keccak of the number); the fetcher checks only that headers
link by parentHash, which they do.
"""

from __future__ import annotations

import rlp
from eth_hash.auto import keccak

from scenarios.raw import COINBASE, RawChain, asm, push

from simulator.chain.eels import eels_gas_and_receipts_root
from simulator.chain.forks import mainnet_fork
from simulator.sources.block_store import BlockStore

PRAGUE_BLOCK = (22_600_000, 1_748_000_000)  # (number, timestamp) under Prague
OSAKA_BLOCK = (23_940_000, 1_764_800_003)  # under Osaka (after 1764798551)
BPO2_BLOCK = (24_180_000, 1_767_800_003)  # under BPO2 (after 1767747671)


def _hex(value: int) -> str:
    return hex(value)


def _data(value: bytes) -> str:
    return "0x" + value.hex()


def _access_list(items) -> list:
    return [{"address": _data(address), "storageKeys": [_data(key) for key in keys]}
            for address, keys in items]


def rpc_transaction(transaction, number: int, index: int) -> dict:
    """A signed py-evm transaction as `eth_getBlockByNumber(n, true)` lists it (geth)."""
    encoded = transaction.encode() if hasattr(transaction, "type_id") and \
        transaction.type_id is not None else rlp.encode(transaction)
    kind = encoded[0] if encoded[0] < 0x80 else 0
    fields = rlp.decode(encoded[1:] if kind else encoded)
    out = {"hash": _data(keccak(encoded)), "type": _hex(kind), "transactionIndex": _hex(index),
           "blockNumber": _hex(number), "from": _data(transaction.sender)}
    integers = lambda *names: {name: _hex(int.from_bytes(value, "big"))  # noqa: E731
                               for name, value in names}
    if kind == 0:
        nonce, gas_price, gas, to, value, data, v, r, s = fields
        out.update(integers(("nonce", nonce), ("gasPrice", gas_price), ("gas", gas),
                            ("value", value), ("v", v), ("r", r), ("s", s)))
    else:
        chain_id, nonce, *rest = fields
        if kind == 1:
            gas_price, gas, to, value, data, access, *tail = rest
            out.update(integers(("gasPrice", gas_price)))
        else:
            tip, cap, gas, to, value, data, access, *tail = rest
            out.update(integers(("maxPriorityFeePerGas", tip), ("maxFeePerGas", cap)))
        y_parity, r, s = tail[-3:]
        out.update(integers(("chainId", chain_id), ("nonce", nonce), ("gas", gas),
                            ("value", value), ("yParity", y_parity), ("v", y_parity),
                            ("r", r), ("s", s)))
        out["accessList"] = _access_list(access)
        if kind == 3:
            out.update(integers(("maxFeePerBlobGas", tail[0])))
            out["blobVersionedHashes"] = [_data(h) for h in tail[1]]
        if kind == 4:
            out["authorizationList"] = [
                {"chainId": _hex(int.from_bytes(c, "big")), "address": _data(a),
                 "nonce": _hex(int.from_bytes(n, "big")),
                 "yParity": _hex(int.from_bytes(y, "big")),
                 "r": _hex(int.from_bytes(rr, "big")), "s": _hex(int.from_bytes(ss, "big"))}
                for c, a, n, y, rr, ss in tail[0]]
    out["to"] = _data(to) if to else None
    out["input"] = _data(data)
    return out


class RecentChain(RawChain):
    """A RawChain that remembers the pre-state it sets, to write it out."""

    def __init__(self, vm_class) -> None:
        self.pre: dict = {}
        super().__init__(vm_class)
        self.pre[COINBASE] = {}

    def account(self, address: bytes, code: bytes = b"", storage=None, balance: int = 0,
                nonce: int = 0) -> bytes:
        self.pre[address] = dict(storage or {})
        return super().account(address, code, storage, balance, nonce)

    def key(self, balance: int = 10**21):
        key = super().key(balance)
        self.pre[key.public_key.to_canonical_address()] = {}
        return key


def write_block(out, chain: RecentChain, transactions, number: int, timestamp: int) -> None:
    """Write the block (at `number`, `timestamp`, under that time's mainnet fork) and its
    pre-state into the block directory `out`; the header's gasUsed and receiptsRoot are
    EELS's."""
    assert mainnet_fork(number, timestamp) is chain.vm_class
    block = chain.build(transactions, number=number, timestamp=timestamp)
    slots = {(address, slot) for address, storage in chain.pre.items() for slot in storage}
    gas_used, receipts_root = eels_gas_and_receipts_root(block, set(chain.pre), slots)
    codes, pre_state = {}, {}
    account_db = chain.account_db
    for address in sorted(chain.pre):
        entry = {"balance": _hex(account_db.get_balance(address)),
                 "nonce": account_db.get_nonce(address),
                 "storage": {"0x%064x" % slot: _hex(value)
                             for slot, value in sorted(chain.pre[address].items())}}
        code = account_db.get_code(address)
        if code:
            entry["code_hash"] = _data(keccak(code))
            codes[entry["code_hash"]] = _data(code)
        pre_state[_data(address)] = entry
    context = block.execution_context()
    header = {
        "number": _hex(number), "hash": _data(keccak(b"pevmsim recent %d" % number)),
        "parentHash": _data(keccak(b"pevmsim recent %d" % (number - 1))),
        "timestamp": _hex(timestamp), "miner": _data(context.coinbase),
        "gasLimit": _hex(context.gas_limit), "gasUsed": _hex(gas_used),
        "baseFeePerGas": _hex(context.base_fee_per_gas), "difficulty": "0x0",
        "mixHash": _data(context.mix_hash), "nonce": "0x0000000000000000",
        "excessBlobGas": _hex(context.excess_blob_gas), "blobGasUsed": "0x0",
        "receiptsRoot": _data(receipts_root), "extraData": "0x",
        "parentBeaconBlockRoot": _data(b"\x00" * 32), "withdrawals": [], "uncles": [],
        "transactions": [rpc_transaction(tx, number, index)
                         for index, tx in enumerate(transactions)]}
    for tx in header["transactions"]:
        tx["blockHash"] = header["hash"]
    store = BlockStore(out)
    store.prepare(1)
    store.add_codes(codes)
    store.add_hashes({number - 1: bytes.fromhex(header["parentHash"][2:])})
    store.add_block(number, header, pre_state)


# -- the blocks ------------------------------------------------------------------------
SLOAD, SSTORE, ADD, STOP, CALLDATALOAD, CALLDATASIZE, CALLDATACOPY = (
    0x54, 0x55, 0x01, 0x00, 0x35, 0x36, 0x37)
MLOAD, STATICCALL, GAS, RETURNDATASIZE, CLZ = 0x51, 0xFA, 0x5A, 0x3D, 0x1E
COUNTER = asm(b"\x00", SLOAD, b"\x01", ADD, b"\x00", SSTORE, STOP)  # slot 0 += 1
DOUBLER = asm(b"\x01", SLOAD, b"\x02", ADD, b"\x01", SSTORE, STOP)  # slot 1 += 2


def precompile_caller(address: int) -> bytes:
    """Calls precompile `address` with its calldata; stores the call's success in slot
    1, the output's first word in slot 0 and the output's size in slot 2."""
    return asm(CALLDATASIZE, b"\x00", b"\x00", CALLDATACOPY,
               b"\x20", b"\x00", CALLDATASIZE, b"\x00", push(address), GAS, STATICCALL,
               b"\x01", SSTORE, b"\x00", MLOAD, b"\x00", SSTORE, RETURNDATASIZE, b"\x02",
               SSTORE, STOP)


CLZ_PROGRAM = asm(b"\x00", CALLDATALOAD, CLZ, b"\x00", SSTORE, STOP)  # slot 0 = clz(word)
DELEGATE, DELEGATE2 = bytes.fromhex("de1e" + "00" * 18), bytes.fromhex("de1e" + "00" * 17 + "02")


def prague_authorizations(vm_class):
    """Sponsored and self-sponsored EIP-7702 delegations, calls through them, two
    delegations of one authority in one transaction, an authorization for another
    chain (skipped), and a clearing (delegation to the zero address)."""
    chain = RecentChain(vm_class)
    chain.account(DELEGATE, COUNTER)
    chain.account(DELEGATE2, DOUBLER)
    sponsor, alice, bob, carol = (chain.key() for _ in range(4))
    a, c = (key.public_key.to_canonical_address() for key in (alice, carol))
    elsewhere = dict(chain.authorization(bob, DELEGATE, 0), chain_id=5)
    txs = [chain.tx(sponsor, a, authorizations=[chain.authorization(alice, DELEGATE, 0),
                                                elsewhere]),
           chain.tx(bob, a)]  # runs DELEGATE's code in alice's account
    chain._nonces[a] = 1  # the authorization bumped alice's nonce
    txs += [chain.tx(alice, a, authorizations=[chain.authorization(alice, DELEGATE2, 2)]),
            chain.tx(bob, a),
            chain.tx(sponsor, c, authorizations=[chain.authorization(carol, DELEGATE, 0),
                                                 chain.authorization(carol, DELEGATE2, 1)]),
            chain.tx(bob, c)]
    chain._nonces[c] = 2
    txs += [chain.tx(carol, a, value=5, authorizations=[
                chain.authorization(carol, b"\x00" * 20, 3)]),
            chain.tx(bob, c, value=7)]  # carol has no code any more: a plain transfer
    return chain, txs


def modexp_input(base: int, exponent: int, modulus: int, lengths=None) -> bytes:
    sizes = lengths or tuple(max(1, (v.bit_length() + 7) // 8)
                             for v in (base, exponent, modulus))
    return (b"".join(size.to_bytes(32, "big") for size in sizes)
            + b"".join(v.to_bytes(size, "big") for v, size in zip((base, exponent, modulus),
                                                                  sizes)))


def p256_input(valid: bool = True, seed: int = 0) -> bytes:
    """A secp256r1 signature check's input, signed by the `cryptography` package."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec, utils
    key = ec.derive_private_key(int.from_bytes(keccak(b"p256 %d" % seed), "big") % (2**255),
                                ec.SECP256R1())
    digest = keccak(b"message %d" % seed)
    r, s = utils.decode_dss_signature(key.sign(digest,
                                               ec.ECDSA(utils.Prehashed(hashes.SHA256()))))
    public = key.public_key().public_numbers()
    words = (int.from_bytes(digest, "big"), r, s if valid else s ^ 1, public.x, public.y)
    return b"".join(word.to_bytes(32, "big") for word in words)


MODEXP, P256, CLZ_CONTRACT = (bytes.fromhex(prefix + "00" * 19) for prefix in
                              ("05", "10", "1e"))


def osaka_programs(vm_class):
    """CLZ, P256VERIFY (valid, invalid, malformed), ModExp at and above EIP-7823's
    bounds and under EIP-7883's pricing, a transaction at EIP-7825's cap, and an
    EIP-7702 delegation to the CLZ program."""
    chain = RecentChain(vm_class)
    chain.account(MODEXP, precompile_caller(0x05))
    chain.account(P256, precompile_caller(0x100))
    chain.account(CLZ_CONTRACT, CLZ_PROGRAM)
    user, other, delegator = chain.key(), chain.key(), chain.key()
    d = delegator.public_key.to_canonical_address()
    txs = [chain.tx(user, CLZ_CONTRACT, data=(1 << 200).to_bytes(32, "big")),
           chain.tx(other, CLZ_CONTRACT, data=b"\x00" * 32),
           chain.tx(user, P256, data=p256_input()),
           chain.tx(other, P256, data=p256_input(valid=False)),
           chain.tx(user, P256, data=p256_input()[:159]),
           chain.tx(other, MODEXP, data=modexp_input(3**500, 2**300 + 5, 2**700 + 7)),
           chain.tx(user, MODEXP, data=modexp_input(2, 3, 5, lengths=(1024, 1, 1024))),
           chain.tx(other, MODEXP, data=modexp_input(2, 3, 5, lengths=(1025, 1, 1))),
           chain.tx(user, MODEXP, data=modexp_input(0, 0, 7, lengths=(0, 0, 1))),
           chain.tx(other, CLZ_CONTRACT, data=b"\x01" * 32, gas=2**24),
           chain.tx(user, d, data=(5).to_bytes(32, "big"),
                    authorizations=[chain.authorization(delegator, CLZ_CONTRACT, 0)])]
    return chain, txs


def write_recent_blocks(out) -> dict:
    """The Prague and Osaka blocks above (and the Osaka programs under BPO2) in the
    block directory `out`; {name: block number}."""
    from simulator.chain.forks import mainnet_fork as fork
    blocks = {"prague": (PRAGUE_BLOCK, prague_authorizations),
              "osaka": (OSAKA_BLOCK, osaka_programs), "bpo2": (BPO2_BLOCK, osaka_programs)}
    for (number, timestamp), build in blocks.values():
        chain, txs = build(fork(number, timestamp))
        write_block(out, chain, txs, number, timestamp)
    return {name: number for name, ((number, _), _) in blocks.items()}
