"""Random raw-bytecode programs for any fork, for the EELS differential tests: each
statement computes one value with one instruction (arithmetic, comparison, bitwise,
hashing, environment, storage, transient storage, memory, logs, precompile calls,
calls, value transfers, creations) and stores it in a fresh storage slot, so that every
result lands in the post-state the two oracles compare. Only instructions the fork has
are drawn; operands mix edge values (0, 1, 2^255, 2^256 - 1) with random words.
"""

from __future__ import annotations

import random

from eth.vm.forks import (ByzantiumVM, CancunVM, ConstantinopleVM, IstanbulVM, LondonVM,
                          PragueVM)

from scenarios.raw import RawChain, asm, push

from simulator.chain.forks.osaka import OsakaVM

SSTORE, SLOAD, MSTORE, MLOAD, CALL, STOP = 0x55, 0x54, 0x52, 0x51, 0xF1, 0x00
LOG1, KECCAK, TSTORE, TLOAD, CREATE, SELFDESTRUCT = 0xA1, 0x20, 0x5D, 0x5C, 0xF0, 0xFF
BINARY = [0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x0A, 0x0B, 0x10, 0x11, 0x12, 0x13,
          0x14, 0x16, 0x17, 0x18, 0x1A]  # ADD .. SIGNEXTEND, LT .. EQ, AND, OR, XOR, BYTE
TERNARY = [0x08, 0x09]  # ADDMOD, MULMOD
UNARY = [0x15, 0x19]  # ISZERO, NOT
NULLARY = [0x30, 0x32, 0x33, 0x34, 0x36, 0x3A, 0x41, 0x42, 0x43, 0x44, 0x45, 0x58, 0x59, 0x5A]
SHIFTS = [0x1B, 0x1C, 0x1D]  # SHL, SHR, SAR (Constantinople, EIP-145)
EDGES = (0, 1, 2, 31, 32, 255, 256, 2**255, 2**256 - 1, 2**128, 2**64 - 1)
# ModExp's three lengths. EELS's ModExp before Osaka adds the base length to 96 as a
# U256 and raises OverflowError within 96 of 2^256 (found by these tests, covered by
# tests/test_eels.py on its own), so random lengths stay far below that.
MODEXP_LENGTHS = (0, 1, 2, 32, 33, 64, 1024, 1025, 2**32, 2**64)
# precompile address -> the fork that adds it
PRECOMPILES = [(1, None), (2, None), (3, None), (4, None), (5, ByzantiumVM),
               (6, ByzantiumVM), (7, ByzantiumVM), (8, ByzantiumVM), (9, IstanbulVM),
               (0x0B, PragueVM), (0x0C, PragueVM), (0x100, OsakaVM)]
OTHER = bytes.fromhex("07e4" + "00" * 17 + "01")


def _word(rng: random.Random) -> int:
    roll = rng.random()
    if roll < 0.4:
        return rng.choice(EDGES)
    if roll < 0.7:
        return rng.randrange(0, 1024)
    return rng.getrandbits(256)


def _ops(vm_class) -> tuple:
    binary, unary, nullary = list(BINARY), list(UNARY), list(NULLARY)
    if issubclass(vm_class, ConstantinopleVM):
        binary += SHIFTS
    if issubclass(vm_class, IstanbulVM):
        nullary += [0x46, 0x47]  # CHAINID, SELFBALANCE
    if issubclass(vm_class, LondonVM):
        nullary.append(0x48)  # BASEFEE
    if issubclass(vm_class, CancunVM):
        nullary.append(0x4A)  # BLOBBASEFEE
    if issubclass(vm_class, OsakaVM):
        unary.append(0x1E)  # CLZ
    return binary, unary, nullary


def program(vm_class, rng: random.Random, statements: int = 12) -> bytes:
    """A random program: `statements` results, each SSTOREd in its own slot."""
    binary, unary, nullary = _ops(vm_class)
    precompiles = [a for a, fork in PRECOMPILES if fork is None or issubclass(vm_class, fork)]
    code = []
    for slot in range(statements):
        kind = rng.random()
        if kind < 0.35:
            code += [push(_word(rng)), push(_word(rng)), rng.choice(binary)]
        elif kind < 0.45:
            code += [push(_word(rng)), push(_word(rng)), push(_word(rng)),
                     rng.choice(TERNARY)]
        elif kind < 0.55:
            code += [push(_word(rng)), rng.choice(unary)]
        elif kind < 0.65:
            code += [rng.choice(nullary)]
        elif kind < 0.72:  # read a slot the pre-state may hold, or an earlier result
            code += [push(rng.randrange(0, 4)), SLOAD]
        elif kind < 0.80:  # overwrite a pre-state slot (refunds, EIP-2200/3529 pricing)
            code += [push(rng.choice((0, 1, _word(rng)))), push(rng.randrange(0, 4)),
                     SSTORE, push(1)]
        elif kind < 0.90:  # a precompile on random memory
            address = rng.choice(precompiles)
            size = rng.choice((0, 32, 64, 96, 128, 160, 192, 213))
            for offset in range(0, size, 32):
                word = _word(rng)
                if address == 5 and offset < 96:  # ModExp's lengths: see MODEXP_LENGTHS
                    word = rng.choice(MODEXP_LENGTHS)
                code += [push(word), push(offset), MSTORE]
            code += [push(32), push(0), push(size), push(0), push(0), push(address),
                     push(100_000), CALL, push(1000 + slot), SSTORE, push(0), MLOAD]
        elif kind < 0.94:  # a call with value to another account (exists or not)
            code += [push(0), push(0), push(0), push(0), push(rng.randrange(0, 3)),
                     push(rng.choice((0xdead, int.from_bytes(OTHER, "big")))),
                     push(rng.choice((0, 2300, 50_000))), CALL]
        else:  # a log of a random word (topics and data), then its hash
            code += [push(_word(rng)), push(0), MSTORE, push(_word(rng)), push(32),
                     push(0), LOG1, push(32), push(0), KECCAK]
        code += [push(100 + slot), SSTORE]
    if issubclass(vm_class, CancunVM) and rng.random() < 0.5:  # transient storage
        code += [push(_word(rng)), push(7), TSTORE, push(7), TLOAD, push(99), SSTORE]
    if rng.random() < 0.3:  # a creation (its address and code land in the post-state)
        code += [push(0x600160005560016000F3), push(0), MSTORE,  # init: sstore(0,1), ret
                 push(10), push(22), push(rng.randrange(0, 2)), CREATE, push(98), SSTORE]
    code.append(SELFDESTRUCT if rng.random() < 0.2 else STOP)
    if code[-1] == SELFDESTRUCT:
        code.insert(-1, push(int.from_bytes(OTHER, "big")))
    return asm(*code)


def random_block(vm_class, seed: int, txs: int = 3):
    """A block of `txs` transactions, each running a random program of its own contract
    (whose slots 0..3 hold pre-state values)."""
    rng = random.Random(seed)
    chain = RawChain(vm_class)
    chain.account(OTHER, asm(push(1), push(7), SSTORE, STOP), balance=10)
    keys = [chain.key() for _ in range(2)]
    transactions = []
    for index in range(txs):
        address = bytes([0xC0, index]) + b"\x00" * 17 + bytes([seed % 256])
        chain.account(address, program(vm_class, rng), balance=rng.choice((0, 10**18)),
                      storage={slot: rng.choice((0, 1, _word(rng))) for slot in range(4)})
        transactions.append(chain.tx(keys[index % 2], address, value=rng.choice((0, 1)),
                                     gas=rng.choice((3_000_000, 3_000_000, 150_000))))
    return chain.build(transactions)
