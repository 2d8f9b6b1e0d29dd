"""The batch commit (simulator/chain/state_commit.py) gives what py-evm's key-by-key persist
gives: the same trie roots and readable tries, the same pre-states of generated
blocks, and the same senders as recovering them from the signatures."""

from __future__ import annotations

import inspect
import random
from pathlib import Path

import pytest
from eth._utils.transactions import extract_transaction_sender
from eth.constants import BLANK_ROOT_HASH
from eth.db.account import AccountDB
from eth.db.atomic import AtomicDB
from trie import HexaryTrie

from simulator.chain.state_commit import commit, update_trie
from workloads.api import BlockBuilder
from workloads.registry import BUILTINS


def _key(rng: random.Random) -> bytes:
    # Short keys make embedded nodes, prefix keys and branch values.
    return rng.randbytes(32) if rng.random() < 0.5 else rng.randbytes(rng.randint(1, 3))


@pytest.mark.parametrize("seed", range(60))
def test_update_trie_matches_py_trie(seed):
    rng = random.Random(seed)
    db, reference = AtomicDB(), HexaryTrie(AtomicDB())
    root, keys = BLANK_ROOT_HASH, []
    for _ in range(rng.randint(1, 5)):
        changes = {}
        for _ in range(rng.randint(0, 60)):
            key = rng.choice(keys) if keys and rng.random() < 0.4 else _key(rng)
            keys.append(key)
            changes[key] = b"" if rng.random() < 0.3 else rng.randbytes(
                rng.choice([1, 2, 5, 40]))
        for key, value in changes.items():
            if value:
                reference[key] = value
            else:
                del reference[key]
        root = update_trie(db, root, changes)
        assert root == reference.root_hash
        trie = HexaryTrie(db, root)
        for key in keys:
            assert trie.get(key) == reference.get(key)


def _pre_state(db) -> bytes:
    adb = AccountDB(db)
    for index in range(40):
        address = bytes([index + 1]) * 20
        adb.set_balance(address, 10**18 + index)
        adb.set_nonce(address, index % 3)
        if index % 4 == 0:
            adb.set_code(address, bytes([0x60, index, 0x00]))
            for slot in range(index % 7 + 1):
                adb.set_storage(address, slot, slot + index)
    adb.persist()
    return adb.state_root


@pytest.mark.parametrize("seed", range(30))
def test_commit_matches_py_evm_persist(seed):
    """Random AccountDB changes over a pre-state (writes, deletions, wipes, touches of
    new and old accounts, storage cleared and rewritten): the batch commit's root is
    the root of py-evm's persist, and its state reads back the same."""
    rng = random.Random(seed)
    db = AtomicDB()
    pre = _pre_state(db)
    ours, stock = AccountDB(db, pre), AccountDB(db, pre)
    addresses, slots = set(), set()
    for _ in range(rng.randint(1, 4)):  # transactions
        for adb in (ours, stock):
            adb.lock_changes()
        for _ in range(rng.randint(1, 25)):
            address = bytes([rng.randint(1, 50)]) * 20
            addresses.add(address)
            operation = rng.choice(["balance", "nonce", "code", "storage", "storage",
                                    "wipe", "delete", "touch"])
            slot, value = rng.randint(0, 8), rng.choice([0, 1, rng.randint(2, 2**200)])
            if operation == "storage":
                slots.add((address, slot))
            for adb in (ours, stock):
                {"balance": lambda: adb.set_balance(address, value),
                 "nonce": lambda: adb.set_nonce(address, value % 2**64),
                 "code": lambda: adb.set_code(address, bytes([0x60, slot])),
                 "storage": lambda: adb.set_storage(address, slot, value),
                 "wipe": lambda: adb.delete_storage(address),
                 "delete": lambda: adb.delete_account(address),
                 "touch": lambda: adb.touch_account(address)}[operation]()
    root = commit(db, pre, ours, addresses, slots)
    stock.persist()
    assert root == stock.state_root
    after = AccountDB(db, root)
    for address in sorted(addresses):
        assert after.get_code(address) == stock.get_code(address)
        for slot in range(9):
            assert after.get_storage(address, slot) == stock.get_storage(address, slot)


GENERATED = sorted(name for name, cls in BUILTINS.items() if name != "mainnet")
SMALL = {"gigagas-hybrid": {"num_eoa": 20}}  # grevm's 100,000 accounts take minutes


@pytest.mark.parametrize("name", GENERATED)
def test_built_pre_state_is_py_evm_persist(name):
    """A generated block's batch-committed pre-state is the one py-evm's own persist
    of the same set-up gives, and its primed senders are the recovered ones."""
    workload = BUILTINS[name](**SMALL.get(name, {}))
    block = workload.block(12, seed=3)
    # The same set-up and transactions again (deterministic for the seed; a gigagas
    # workload makes each transaction's state as it makes the transaction), persisted
    # key by key.
    again = BUILTINS[name](**SMALL.get(name, {}))
    chain = BlockBuilder(3, contracts_dir=Path(inspect.getfile(type(workload))).parent,
                         coinbase=again.coinbase)
    again.setup(chain)
    list(again.transactions(chain, 12))
    chain._state.persist()
    assert chain._state.state_root == block.pre_state_root
    assert block.senders == tuple(extract_transaction_sender(tx)
                                  for tx in block.transactions)

