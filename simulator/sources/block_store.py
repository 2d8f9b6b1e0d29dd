"""A block directory: recorded blocks with their pre-state, on disk.

The layout of `workloads/mainnet_blocks/` (the 50 vendored blocks) and of every
directory `pevmsim fetch` writes, so every tool reads both:

    blocks/<n>/block.json       the block as `eth_getBlockByNumber(n, true)` returns it
    blocks/<n>/pre_state.json   {address: {balance: hex, nonce: int, code_hash?: hex,
                                 storage: {slot: value}}}: what the block touches, as it
                                 was before the block; a slot not listed reads 0
    codes.json.gz               {code_hash: "0x<bytecode>"}, keccak(code) == code_hash
    block_hashes.json           {number: hash} of ancestors (for BLOCKHASH)
    chain.json                  {"chain_id": N}; absent means Ethereum mainnet (1), as
                                in the vendored set

Invariants:
- A block is present exactly when `blocks/<n>/` exists. A writer builds it in a
  hidden temporary directory (`blocks/.partial-<n>`) and renames it into place only
  after the codes and ancestor hashes it needs are on disk, so an interrupted writer
  leaves either the whole block or nothing (a stale temporary directory is swept by
  the next writer and never listed).
- Shared files (codes, hashes, chain) only grow, and are replaced atomically (written
  to a temporary file, then renamed): a reader never sees half a file.
"""

from __future__ import annotations

import gzip
import json
import os
import shutil
from functools import lru_cache
from pathlib import Path

BLOCKS = "blocks"
BLOCK = "block.json"
PRE_STATE = "pre_state.json"
CODES = "codes.json.gz"
HASHES = "block_hashes.json"
CHAIN = "chain.json"
PARTIAL = ".partial-"
MAINNET_CHAIN_ID = 1


class StoreError(Exception):
    """The directory is not a block directory, or lacks what was asked for."""


class BlockStore:
    """Read and (for `pevmsim fetch`) write one block directory."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    # -- reading ----------------------------------------------------------------------
    def numbers(self) -> list:
        """The block numbers present, ascending."""
        folder = self.root / BLOCKS
        if not folder.is_dir():
            return []
        return sorted(int(path.name) for path in folder.iterdir()
                      if path.is_dir() and path.name.isdigit())

    def has(self, number: int) -> bool:
        return (self.root / BLOCKS / str(number)).is_dir()

    def block(self, number: int) -> dict:
        """block.json of a present block."""
        return _read_json(self.root / BLOCKS / str(number) / BLOCK)

    def pre_state(self, number: int) -> dict:
        return _read_json(self.root / BLOCKS / str(number) / PRE_STATE)

    def codes(self) -> dict:
        return _read_gzip_json(self.root / CODES)

    def ancestor_hashes(self) -> dict:
        """{number: hash bytes} of the recorded ancestors (none before the first)."""
        path = self.root / HASHES
        return {int(number): bytes.fromhex(value[2:])
                for number, value in (_read_json(path) if path.exists() else {}).items()}

    def chain_id(self) -> int:
        path = self.root / CHAIN
        return _read_json(path)["chain_id"] if path.exists() else MAINNET_CHAIN_ID

    # -- writing ----------------------------------------------------------------------
    def prepare(self, chain_id: int) -> None:
        """Make the directory (or check that it holds the same chain) and sweep the
        temporary directories an interrupted writer left."""
        if self.root.exists() and not self.root.is_dir():
            raise StoreError(f"{self.root} is not a directory")
        if self.numbers() and self.chain_id() != chain_id:
            raise StoreError(f"{self.root} holds blocks of chain {self.chain_id()}, "
                             f"not chain {chain_id}; choose another directory")
        (self.root / BLOCKS).mkdir(parents=True, exist_ok=True)
        for path in (self.root / BLOCKS).glob(PARTIAL + "*"):
            shutil.rmtree(path)
        if not (self.root / CHAIN).exists():
            _write_atomically(self.root / CHAIN, json.dumps({"chain_id": chain_id}) + "\n")

    def add_codes(self, codes: dict) -> None:
        """Merge {code_hash: code} into the code table (rewritten only if it grows)."""
        table = dict(self.codes()) if (self.root / CODES).exists() else {}
        new = {key: value for key, value in codes.items() if key not in table}
        if new:
            table.update(new)
            text = json.dumps(dict(sorted(table.items())))
            _write_atomically(self.root / CODES, gzip.compress(text.encode(), 6, mtime=0))

    def add_hashes(self, hashes: dict) -> None:
        """Merge {number: hash bytes} into block_hashes.json."""
        known = self.ancestor_hashes()
        if all(known.get(number) == value for number, value in hashes.items()):
            return
        known.update(hashes)
        text = json.dumps({str(n): "0x" + known[n].hex() for n in sorted(known)}, indent=1)
        _write_atomically(self.root / HASHES, text + "\n")

    def add_block(self, number: int, block: dict, pre_state: dict) -> None:
        """Write blocks/<number>/ whole, or not at all (call after add_codes and
        add_hashes, so a present block always finds what it needs)."""
        partial = self.root / BLOCKS / f"{PARTIAL}{number}"
        if partial.exists():
            shutil.rmtree(partial)
        partial.mkdir()
        (partial / BLOCK).write_text(json.dumps(block) + "\n")
        (partial / PRE_STATE).write_text(json.dumps(pre_state) + "\n")
        os.rename(partial, self.root / BLOCKS / str(number))


def _write_atomically(path: Path, content) -> None:
    temporary = path.with_name(path.name + ".tmp")
    if isinstance(content, bytes):
        temporary.write_bytes(content)
    else:
        temporary.write_text(content)
    os.replace(temporary, path)


def _read_json(path: Path):
    try:
        return _cached_json(path, *_stamp(path))
    except FileNotFoundError:
        raise StoreError(f"{path} is missing")
    except ValueError as exc:
        raise StoreError(f"{path} is not valid JSON: {exc}")


def _read_gzip_json(path: Path):
    try:
        return _cached_gzip_json(path, *_stamp(path))
    except FileNotFoundError:
        raise StoreError(f"{path} is missing")
    except (OSError, ValueError) as exc:
        raise StoreError(f"{path} is not gzipped JSON: {exc}")


def _stamp(path: Path) -> tuple:
    """What identifies a version of a file for the caches below."""
    status = path.stat()
    return status.st_mtime_ns, status.st_size


@lru_cache(maxsize=8)
def _cached_json(path: Path, mtime_ns: int, size: int):
    return json.loads(path.read_text())


@lru_cache(maxsize=2)
def _cached_gzip_json(path: Path, mtime_ns: int, size: int):
    with gzip.open(path, "rt") as handle:
        return json.load(handle)
