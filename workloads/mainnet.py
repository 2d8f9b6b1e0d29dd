"""Real Ethereum mainnet blocks: the 50 vendored ones (mainnet_blocks/, from
risechain/pevm, MIT), or any block directory `pevmsim fetch` wrote (`dir`).

Each block runs under its own fork (py-evm's mainnet configuration by block number up
to Prague, then Osaka, BPO1 and BPO2 by timestamp: simulator/chain/forks/) with its
real header context, its real signed transactions (types 0 to 4, EIP-7702's set-code
transactions included, re-encoded from the RPC JSON and checked against their published
hashes) and the pre-state of the accounts and slots it touches (an EIP-7702 authority's
included: the prestate tracer lists it). A block of a fork pevmsim does not implement
(after BPO2) is refused, never replayed under the wrong rules. BLOCKHASH is served from
the recorded ancestor hashes.
Only the transactions run: block-level processing (the EIP-4788 beacon root call,
rewards, withdrawals) is outside the measured block. `txs` below the block's size takes
its first transactions, a valid block prefix. A directory of another chain is refused:
py-evm knows the fork schedule of Ethereum mainnet (chain id 1) only.
"""

from __future__ import annotations

from pathlib import Path

import rlp
from eth.db.atomic import AtomicDB
from eth.db.account import AccountDB
from eth.constants import BLANK_ROOT_HASH
from eth_hash.auto import keccak

from eth.db.trie import make_trie_root_and_nodes
from eth.vm.forks.byzantium import ByzantiumVM

from simulator.chain.block import Block, HeaderContext
from simulator.chain.forks import UnmodelledFork, check_modelled, mainnet_fork
from simulator.chain.outcome import py_evm_receipts

from .api import BlockSource, Param, WorkloadError
from simulator.sources.block_store import MAINNET_CHAIN_ID, BlockStore, StoreError

VENDORED = BlockStore(Path(__file__).parent / "mainnet_blocks")


class MainnetBlock(Block):
    """A mainnet block, with what its real header says the transactions must give
    (None when only a prefix of the transactions runs)."""

    expected_receipts_root: bytes | None = None

    def header_check(self, result) -> dict | None:
        """The gas against the header's gasUsed, and from Byzantium on the receipts
        against its receiptsRoot (before, each receipt embeds an intermediate state root
        that a partial pre-state cannot reproduce); None for a prefix of the block."""
        if self.expected_gas_used is None:
            return None
        receipts_root = None
        if issubclass(self.vm_class, ByzantiumVM):
            receipts = py_evm_receipts(self.transactions, result, pre_byzantium=False)
            receipts_root = make_trie_root_and_nodes(receipts)[0] == self.expected_receipts_root
        return {"gas_used": result.gas_used == self.expected_gas_used,
                "receipts_root": receipts_root}


def available_blocks(store: BlockStore = VENDORED) -> list:
    return store.numbers()


def _bytes(hex_text: str) -> bytes:
    return bytes.fromhex(hex_text[2:])


def _int(hex_text) -> int:
    return int(hex_text, 16) if isinstance(hex_text, str) else int(hex_text)


def _access_list(tx: dict) -> list:
    return [[_bytes(item["address"]), [_bytes(key) for key in item["storageKeys"]]]
            for item in tx.get("accessList", [])]


def encode_transaction(tx: dict) -> bytes:
    """The network encoding of an RPC transaction object."""
    to = _bytes(tx["to"]) if tx.get("to") else b""
    common = [_int(tx["nonce"])]
    tail = [_int(tx["gas"]), to, _int(tx["value"]), _bytes(tx["input"])]
    kind = _int(tx.get("type", "0x0"))
    if kind > 4:
        raise WorkloadError(f"transaction {tx['hash']} has type {kind}; pevmsim replays "
                            "types 0 to 4 (legacy, access list, EIP-1559, blob, set code)")
    signature = [_int(tx.get("yParity", tx["v"])), _int(tx["r"]), _int(tx["s"])]
    if kind == 0:
        return rlp.encode(common + [_int(tx["gasPrice"])] + tail
                          + [_int(tx["v"]), _int(tx["r"]), _int(tx["s"])])
    chain_id = [_int(tx["chainId"])]
    if kind == 1:
        fields = chain_id + common + [_int(tx["gasPrice"])] + tail + [_access_list(tx)]
    else:
        fees = [_int(tx["maxPriorityFeePerGas"]), _int(tx["maxFeePerGas"])]
        fields = chain_id + common + fees + tail + [_access_list(tx)]
        if kind == 3:
            fields += [_int(tx["maxFeePerBlobGas"]),
                       [_bytes(h) for h in tx["blobVersionedHashes"]]]
        if kind == 4:  # EIP-7702
            fields += [[[_int(a["chainId"]), _bytes(a["address"]), _int(a["nonce"]),
                         _int(a["yParity"]), _int(a["r"]), _int(a["s"])]
                        for a in tx["authorizationList"]]]
    return bytes([kind]) + rlp.encode(fields + signature)


def decode_transaction(vm_class, tx: dict):
    encoded = encode_transaction(tx)
    if keccak(encoded) != _bytes(tx["hash"]):
        raise WorkloadError(f"transaction {tx['hash']} does not re-encode to its hash")
    builder = vm_class.get_transaction_builder()
    if encoded[0] < 0x80 and hasattr(builder, "decode"):
        return builder.decode(encoded)
    return rlp.decode(encoded, sedes=builder)


def load_block(number: int, txs: int | None = None,
               store: BlockStore = VENDORED) -> MainnetBlock:
    """Block `number` of `store` (its first `txs` transactions; all when None)."""
    try:
        return _load_block(number, txs, store)
    except StoreError as exc:
        raise WorkloadError(str(exc))


def _load_block(number: int, txs: int | None, store: BlockStore) -> MainnetBlock:
    if store.chain_id() != MAINNET_CHAIN_ID:
        raise WorkloadError(f"{store.root} holds blocks of chain {store.chain_id()}; py-evm "
                            f"knows the fork schedule of Ethereum mainnet (chain id 1) only")
    if not (store.root / "blocks").is_dir():
        raise WorkloadError(f"{store.root} is not a block directory (no blocks/ in it); "
                            "write one with `pevmsim fetch`")
    if not store.has(number):
        what = (f"mainnet block {number}" if store is VENDORED
                else f"block {number} in {store.root}")
        raise WorkloadError(f"no {what}; available: "
                            f"{', '.join(map(str, store.numbers())) or 'none'}")
    header = store.block(number)
    pre_state = store.pre_state(number)
    transactions = header["transactions"]
    if txs is not None:
        if txs > len(transactions):
            raise WorkloadError(f"mainnet block {number} has {len(transactions)} "
                                f"transactions, asked for {txs}")
        transactions = transactions[:txs]
    try:
        check_modelled(header, store.block(number - 1) if store.has(number - 1) else None)
    except UnmodelledFork as exc:
        raise WorkloadError(str(exc))
    vm_class = mainnet_fork(number, _int(header["timestamp"]))

    db = AtomicDB()
    account_db = AccountDB(db, BLANK_ROOT_HASH)
    codes = store.codes() if any(a.get("code_hash") for a in pre_state.values()) else {}
    for address_hex, account in pre_state.items():
        address = _bytes(address_hex)
        account_db.set_balance(address, _int(account["balance"]))
        account_db.set_nonce(address, _int(account["nonce"]))
        if account.get("code_hash"):
            account_db.set_code(address, _bytes(codes[account["code_hash"]]))
        for slot, value in account.get("storage", {}).items():
            account_db.set_storage(address, _int(slot), _int(value))
    account_db.persist()

    ancestors = store.ancestor_hashes()
    parent = _bytes(header["parentHash"])
    depth = min(number, 256)
    ancestor_hashes = tuple(parent if k == 0 else ancestors.get(number - 1 - k, b"\x00" * 32)
                            for k in range(depth))
    base_fee = header.get("baseFeePerGas")
    excess_blob_gas = header.get("excessBlobGas")
    context = HeaderContext(
        coinbase=_bytes(header["miner"]), number=number, timestamp=_int(header["timestamp"]),
        gas_limit=_int(header["gasLimit"]),
        base_fee=_int(base_fee) if base_fee is not None else None,
        prev_randao=_bytes(header["mixHash"]), difficulty=_int(header["difficulty"]),
        chain_id=MAINNET_CHAIN_ID,
        excess_blob_gas=_int(excess_blob_gas) if excess_blob_gas is not None else None,
        ancestor_hashes=ancestor_hashes,
    ).execution_context()
    block = MainnetBlock(vm_class, context, db, account_db.state_root,
                         [decode_transaction(vm_class, tx) for tx in transactions])
    if len(transactions) == len(header["transactions"]):
        block.expected_gas_used = _int(header["gasUsed"])
        block.expected_receipts_root = _bytes(header["receiptsRoot"])
    return block


class MainnetWorkload(BlockSource):
    name = "mainnet"
    description = ("a real Ethereum mainnet block with its pre-state (--txs N: its first N, "
                   "--txs all: every one)")
    params = (Param("block", 17034869, "block number (see mainnet_blocks/blocks, or dir)",
                    int, min=0),
              Param("dir", "", "a block directory written by `pevmsim fetch` "
                               "(empty: the 50 vendored blocks)", str))

    @property
    def store(self) -> BlockStore:
        return BlockStore(Path(self.values["dir"])) if self.values["dir"] else VENDORED

    def block(self, n: int, seed: int = 0) -> MainnetBlock:
        """The recorded block's first n transactions (the seed plays no part)."""
        return load_block(self.values["block"], n, self.store)

    def size(self) -> int:
        """The recorded block's transaction count."""
        store, number = self.store, self.values["block"]
        if not store.has(number):
            load_block(number, None, store)  # raises the error naming what is available
        try:
            return len(store.block(number)["transactions"])
        except StoreError as exc:
            raise WorkloadError(str(exc))

    def each_block(self) -> list:
        """These parameters with each block of the directory that holds transactions
        (an empty block has nothing to execute)."""
        store = self.store
        if not store.numbers():
            raise WorkloadError(f"{store.root} holds no blocks; write some with "
                                "`pevmsim fetch`")
        try:
            return [dict(self.values, block=number) for number in store.numbers()
                    if store.block(number)["transactions"]]
        except StoreError as exc:
            raise WorkloadError(str(exc))
