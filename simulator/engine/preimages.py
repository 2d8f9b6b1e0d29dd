"""Keccak-256 preimages recorded during execution: how a hashed storage slot is named.

Contracts derive the slots of mapping entries and dynamic arrays by hashing: Vyper puts
`m[key]` at keccak(slot ++ key), Solidity at keccak(key ++ slot) and a Solidity dynamic
array's elements from keccak(slot). `with recording() as table:` collects, for every
SHA3 opcode executed meanwhile by a computation class from `with_preimages`, the
32- and 64-byte inputs (the only sizes these derivations hash) as {hash as int: input
bytes}, so that simulator/insight/storage_names.py can walk a slot back to its variable and keys.

Invariants: the wrapped opcode runs py-evm's own SHA3 first, unchanged (same gas, same
result, same errors), and only then reads the input back from memory, so recording
never changes execution; outside `recording()` nothing is kept. A table belongs to one
run (a context variable), never shared between runs; execution reuse keeps each
execution's own table (`recording_apart`) and adds it to the table of every run that
reuses that execution.
"""

from __future__ import annotations

from contextlib import contextmanager
from contextvars import ContextVar
from functools import lru_cache, update_wrapper

from eth.vm import opcode_values
from eth_hash.auto import keccak

RECORDED_SIZES = (32, 64)

_table: ContextVar = ContextVar("pevmsim_preimages", default=None)


@contextmanager
def recording():
    """Collect the preimages hashed inside the block: yields the {hash: input} table."""
    table: dict = {}
    token = _table.set(table)
    try:
        yield table
    finally:
        _table.reset(token)


@contextmanager
def recording_apart():
    """Collect the preimages hashed inside into a table of their own (one execution's,
    for execution reuse, reuse.py), also added to the recording in progress, if any:
    yields that table."""
    outer = _table.get()
    with recording() as table:
        yield table
    if outer is not None:
        outer.update(table)


def current_table() -> dict | None:
    """The table of the recording in progress, if any (a forked worker process
    records into its own copy and hands it back)."""
    return _table.get()


def _recording_sha3(sha3):
    def recorded(computation) -> None:
        start, size = computation.stack_pop_ints(2)
        computation.stack_push_int(size)
        computation.stack_push_int(start)
        sha3(computation=computation)
        table = _table.get()
        if table is not None and size in RECORDED_SIZES:
            preimage = computation.memory_read_bytes(start, size)
            table[int.from_bytes(keccak(preimage), "big")] = preimage
    update_wrapper(recorded, sha3)  # py-evm's debug log reads __wrapped__.mnemonic
    return recorded


@lru_cache(maxsize=None)
def with_preimages(computation_class: type) -> type:
    """The fork's computation class with a SHA3 that records its preimages."""
    opcodes = dict(computation_class.opcodes)
    opcodes[opcode_values.SHA3] = _recording_sha3(opcodes[opcode_values.SHA3])
    return type(f"Preimage{computation_class.__name__}", (computation_class,),
                {"opcodes": opcodes})
