"""Built blocks cached on disk, so that a large generated block is built once per
machine rather than once per command (building a block of 10,000 ERC-20 transfers
among 10,000 holders means deriving 10,000 keys, funding every account, writing every
balance, hashing the pre-state tries and signing every transaction: seconds that a
cached entry saves on every later command).

    built_block(workload, txs, seed) -> (Block, labels)

Only blocks of CACHED_TXS transactions or more of the built-in generated workloads
(the `workloads` package, not recorded blocks nor plug-ins, whose inputs may lie
outside the key) are cached. The key hashes everything a built block depends on: the
workload's class and parameter values, the size and the seed, the source of every
module and contract of the `simulator` and `workloads` packages, and the versions of
Python and of the libraries that build blocks; any change to any of them is another
key. An entry is a pickle of the Block (pre-state database, signed transactions with
their recovered senders, contract sources) and the workload's labels, written to a
temporary file and renamed, so a reader never sees half an entry; an entry that
cannot be read is rebuilt. Entries live in $PEVMSIM_CACHE_DIR/blocks (default
~/.cache/pevmsim/blocks), next to the compiled contracts.

Invariant: a cached block is the block a fresh build makes (checked under
PEVMSIM_DEBUG: its pre-state root is in its database and its senders are its
transactions').
"""

from __future__ import annotations

import hashlib
import os
import pickle
import sys
from functools import lru_cache
from importlib import metadata
from pathlib import Path

from simulator import debug

CACHED_TXS = 200  # smaller blocks build in well under a second: never cached
LIBRARIES = ("py-evm", "py-trie", "rlp", "eth-keys", "coincurve", "eth-abi", "vyper")
FORMAT = 1  # the entry layout; bump it to orphan every older entry
PACKAGES = ("simulator", "workloads")


def built_block(workload, txs: int, seed: int) -> tuple:
    """(workload.block(txs, seed), workload_labels(workload)), from the cache when the
    block is large and the same code built it before."""
    from workloads.api import Workload, workload_labels

    cached = (txs >= CACHED_TXS and isinstance(workload, Workload)
              and type(workload).__module__.split(".")[0] == "workloads")
    if not cached:
        return _build(workload, txs, seed, workload_labels)
    path = cache_dir() / f"{entry_key(workload, txs, seed)}.pickle"
    try:
        block, labels = pickle.loads(path.read_bytes())
    except (OSError, pickle.UnpicklingError, EOFError, AttributeError, ValueError):
        block, labels = _build(workload, txs, seed, workload_labels)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_bytes(pickle.dumps((block, labels), protocol=pickle.HIGHEST_PROTOCOL))
        tmp.replace(path)
        return block, labels
    if debug.ENABLED:
        debug.check(block.pre_state_root in block.db, "a cached block lacks its pre-state")
        debug.check(all(tx.sender == sender for tx, sender in
                        zip(block.transactions, block.senders)),
                    "a cached block's senders are not its transactions'")
    return block, labels


def _build(workload, txs: int, seed: int, workload_labels) -> tuple:
    block = workload.block(txs, seed=seed)
    return block, workload_labels(workload)


def cache_dir() -> Path:
    from workloads.vyper_build import cache_dir as pevmsim_cache

    return pevmsim_cache() / "blocks"


def entry_key(workload, txs: int, seed: int) -> str:
    """The hash naming a block's entry (see the module docstring)."""
    cls = type(workload)
    identity = repr((FORMAT, cls.__module__, cls.__qualname__,
                     sorted(workload.values.items()), txs, seed))
    return hashlib.sha256(f"{identity}\n{_code_hash()}".encode()).hexdigest()


@lru_cache(maxsize=None)
def _code_hash() -> str:
    """The source of both packages and the versions of Python and the libraries."""
    digest = hashlib.sha256(sys.version.encode())
    for library in LIBRARIES:
        try:
            version = metadata.version(library)
        except metadata.PackageNotFoundError:
            version = "absent"
        digest.update(f"\n{library} {version}".encode())
    root = Path(__file__).resolve().parents[1]
    for package in PACKAGES:
        for path in sorted((root / package).rglob("*")):
            if path.suffix in (".py", ".vy") and "__pycache__" not in path.parts:
                digest.update(f"\n{path.relative_to(root)}\n".encode())
                digest.update(path.read_bytes())
    return digest.hexdigest()
