"""Committing a folded state change to the trie in one batch, instead of key by key.

py-evm persists an AccountDB's changes by inserting every changed key into its tries
one at a time, re-encoding and re-hashing every node on the key's path for each key;
for a block that touches 10,000 accounts and 10,000 slots that is most of the time it
takes outside EVM execution. Here the changes are applied to each trie in one pass
over the changed keys in sorted order: every node on a changed path is read once,
rebuilt once and hashed once.

    update_trie(db, root, {key: value})   a hexary trie's new root (value b"" deletes)
    commit(db, root, account_db, addresses, slots)
                                          the state root after an AccountDB's changes

Invariants:
- A hexary Merkle-Patricia trie is determined by its key/value content, so
  `update_trie` gives the root py-trie's key-by-key insertion gives (the test suite
  checks it against py-trie on random tries, and every run's root against serial
  py-evm's). Every node of the new trie that is not embedded in its parent is written
  to `db` (py-trie also leaves the nodes of intermediate tries behind; this writes
  only the final ones); nodes of the old trie are never deleted.
- `commit` reads the changes folded into an AccountDB through py-evm's own reads
  (balance, nonce, code, existence, storage through the journals) and writes them as
  py-evm's `persist` would: for each address, a storage trie updated at `slots` from
  the account's storage root as the AccountDB holds it (empty once wiped), then the
  account record, or its deletion where the account does not exist and has no
  storage (py-evm's rule), and new contract code under its hash. The AccountDB itself
  is left unpersisted. `addresses` and `slots` must cover every location written.
  The one py-evm state this cannot see is a storage wipe reverted on an account with
  storage only (pyevm_boundary.py, item 8): the parallel side folds that wipe
  explicitly, and a block set-up cannot produce it (a failing CREATE onto an address
  that only a set-up storage write could have given storage).
"""

from __future__ import annotations

import rlp
from eth.constants import BLANK_ROOT_HASH, EMPTY_SHA3
from eth.rlp.accounts import Account
from eth_hash.auto import keccak
from rlp.codec import encode_raw

BLANK = b""
_HEX_DIGITS = b"0123456789abcdef"
_FROM_HEX = bytes.maketrans(_HEX_DIGITS, bytes(range(16)))
_TO_HEX = bytes.maketrans(bytes(range(16)), _HEX_DIGITS)


def _nibbles(data: bytes) -> tuple:
    """The nibbles of `data`, high first."""
    return tuple(data.hex().encode().translate(_FROM_HEX))


def _hex_prefix(path: tuple, leaf: bool) -> bytes:
    """A leaf's or extension's encoded path (the Yellow Paper's hex-prefix encoding)."""
    flag = 2 if leaf else 0
    nibbles = (flag + 1, *path) if len(path) % 2 else (flag, 0, *path)
    return bytes.fromhex(bytes(nibbles).translate(_TO_HEX).decode())


def _path(node) -> tuple:
    """(nibbles, is a leaf) of a leaf or extension node's encoded path."""
    encoded = node[0]
    flag = encoded[0] >> 4
    nibbles = _nibbles(encoded[1:])
    if flag & 1:
        nibbles = (encoded[0] & 15, *nibbles)
    return nibbles, flag >= 2


def update_trie(db, root_hash: bytes, changes: dict) -> bytes:
    """Apply `changes` (trie key -> value; b"" deletes the key) to the hexary trie at
    `root_hash` in `db`, write the new nodes to `db` and return the new root hash."""
    if not changes:
        return root_hash
    items = sorted((_nibbles(key), value) for key, value in changes.items())
    root = _TrieBatch(db).update(_load(db, root_hash), items, 0)
    if root == BLANK:
        return BLANK_ROOT_HASH
    encoded = encode_raw(root)
    root_hash = keccak(encoded)
    db[root_hash] = encoded  # the root is stored by hash even when it is short
    return root_hash


def _load(db, reference):
    """The node a parent's reference (a hash, an embedded node or blank) stands for."""
    if isinstance(reference, list):
        return reference
    if reference in (BLANK, BLANK_ROOT_HASH):
        return BLANK
    return rlp.decode(db[reference] if len(reference) == 32 else reference)


class _TrieBatch:
    """One batch update. Items are (nibbles, value) sorted by nibbles; `depth` is how
    many leading nibbles of every item the node being updated already accounts for."""

    def __init__(self, db) -> None:
        self.db = db

    def reference(self, node):
        """How a parent refers to `node`: embedded when its encoding is under 32
        bytes, else by hash (and the node is written to the database)."""
        if node == BLANK:
            return BLANK
        encoded = encode_raw(node)
        if len(encoded) < 32:
            return node
        node_hash = keccak(encoded)
        self.db[node_hash] = encoded
        return node_hash

    def update(self, node, items, depth: int):
        if node == BLANK:
            return self.build([(key, value) for key, value in items if value], depth)
        if len(node) == 17:
            return self.update_branch(list(node), items, depth)
        path, leaf = _path(node)
        if leaf:
            if len(items) == 1 and items[0][0][depth:] == path:  # a value replaced
                return [node[0], items[0][1]] if items[0][1] else BLANK
            entries = {key[depth:]: value for key, value in items}
            entries.setdefault(path, node[1])
            return self.build(sorted((key, value) for key, value in entries.items()
                                     if value), 0)
        end = depth + len(path)
        if all(key[depth:end] == path for key, _ in items):
            return self.prefixed(path, self.update(_load(self.db, node[1]), items, end))
        # Some key leaves the extension's path: the extension as a branch of one child.
        branch = [BLANK] * 17
        branch[path[0]] = (node[1] if len(path) == 1 else
                           self.reference([_hex_prefix(path[1:], False), node[1]]))
        return self.update_branch(branch, items, depth)

    def update_branch(self, branch: list, items, depth: int):
        start = 0
        while start < len(items):
            key, value = items[start]
            if len(key) == depth:
                branch[16] = value
                start += 1
                continue
            nibble = key[depth]
            end = start + 1
            while end < len(items) and items[end][0][depth] == nibble:
                end += 1
            child = self.update(_load(self.db, branch[nibble]), items[start:end],
                                depth + 1)
            branch[nibble] = self.reference(child)
            start = end
        children = [nibble for nibble in range(16) if branch[nibble] != BLANK]
        if len(children) + bool(branch[16]) > 1:
            return branch
        if branch[16]:
            return [_hex_prefix((), True), branch[16]]
        if not children:
            return BLANK
        only = children[0]
        return self.prefixed((only,), _load(self.db, branch[only]))

    def prefixed(self, path: tuple, node):
        """`node` moved down by `path` nibbles (merged into a leaf or extension)."""
        if not path or node == BLANK:
            return node
        if len(node) == 17:
            return [_hex_prefix(path, False), self.reference(node)]
        below, leaf = _path(node)
        return [_hex_prefix(path + below, leaf), node[1]]

    def build(self, items, depth: int):
        """A fresh (sub)trie of distinct keys with non-empty values."""
        if not items:
            return BLANK
        if len(items) == 1:
            return [_hex_prefix(items[0][0][depth:], True), items[0][1]]
        first, last = items[0][0], items[-1][0]
        common = depth
        while common < min(len(first), len(last)) and first[common] == last[common]:
            common += 1
        if common > depth:
            return self.prefixed(first[depth:common], self.build(items, common))
        branch = [BLANK] * 17
        start = 0
        while start < len(items):
            key = items[start][0]
            if len(key) == depth:
                branch[16] = items[start][1]
                start += 1
                continue
            end = start + 1
            while end < len(items) and items[end][0][depth] == key[depth]:
                end += 1
            branch[key[depth]] = self.reference(self.build(items[start:end], depth + 1))
            start = end
        return branch


def commit(db, state_root: bytes, account_db, addresses, slots) -> bytes:
    """Write the changes folded into `account_db` (an unpersisted py-evm AccountDB over
    `db` at `state_root`) at `addresses` and at the storage `slots` ((address, slot)
    pairs) into `db`, and return the new state root."""
    slots_of: dict = {}
    for address, slot in slots:
        slots_of.setdefault(address, []).append(slot)
    accounts = {}
    for address in sorted(set(addresses) | set(slots_of)):
        storage_root = account_db._get_storage_root(address)
        if address in slots_of:
            storage_root = update_trie(db, storage_root, {
                keccak(slot.to_bytes(32, "big")):
                    rlp.encode(value) if (value := account_db.get_storage(address, slot))
                    else BLANK
                for slot in slots_of[address]})
        if account_db.account_exists(address) or storage_root != BLANK_ROOT_HASH:
            code_hash = account_db.get_code_hash(address)
            if code_hash != EMPTY_SHA3 and code_hash not in db:
                db[code_hash] = account_db.get_code(address)
            record = Account(account_db.get_nonce(address), account_db.get_balance(address),
                             storage_root, code_hash)
            accounts[keccak(address)] = rlp.encode(record, sedes=Account)
        else:
            accounts[keccak(address)] = BLANK
    return update_trie(db, state_root, accounts)
