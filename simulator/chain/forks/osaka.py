"""Osaka, the execution layer of the Fusaka upgrade (EIP-7607), on py-evm 0.12.1b1's Prague.

py-evm 0.12.1b1 stops at Prague (eth/vm/forks/prague). This module adds Osaka in the
shape of py-evm's fork folders: a computation (opcodes, precompiles), a state
(transaction validity, blob fee) and a VM (block validity), each a subclass of
Prague's. Mainnet activation: timestamp 1764798551 (2025-12-03 21:49:11 UTC; EIP-7607).
Source of truth: the EIPs (ethereum/EIPs at f767a1e8078e17c9b381a91d35a09492189ede1b) and
the executable specification (PyPI ethereum-execution 2.20.0, ethereum/forks/osaka),
which pevmsim's `--oracle eels` runs against this code.

Execution-layer changes, each where it lives below:
- EIP-7939 CLZ (0x1e): pops x, pushes the number of leading zero bits of the 256-bit
  word (256 for 0); 5 gas (`clz`, `OSAKA_OPCODES`).
- EIP-7951 P256VERIFY at 0x100: secp256r1 signature check, 6900 gas whatever the input;
  32-byte 1 on success, empty output on any failure, never an exceptional halt
  (`p256verify`, secp256r1.py).
- EIP-7823 ModExp bounds: a base, exponent or modulus length above 1024 bytes is an
  exceptional halt (all gas consumed), checked before anything is charged (`modexp`).
- EIP-7883 ModExp pricing: minimum 500, no division by 3, a 32-byte floor on the
  multiplication complexity (16, then 2 * words^2 above 32 bytes), 16 iterations per
  exponent byte beyond 32 (`modexp_gas`).
- EIP-7825 transaction gas cap: gas limit above 2^24 makes a transaction invalid
  (`OsakaState.validate_transaction`).
- EIP-7594 (PeerDAS): at most 6 blobs per transaction (`OsakaState.validate_transaction`).
- EIP-7892 blob schedule (target 6, max 9, update fraction 5,007,716: Prague's values,
  now a per-fork parameter that BPO forks change; `BlobSchedule`, `blob_base_fee`).
- EIP-7918 blob base fee bounded by execution cost: the excess blob gas a header must
  carry (`excess_blob_gas`, `OsakaVM.validate_block_blobs`).
- EIP-7934 block RLP size limit 8,388,608 bytes (`OsakaVM.validate_block`).
EIP-7642, 7910, 7935 and 7917 change no execution rule.

pevmsim replays only a block's transactions, so what it exercises is the computation and
the state; the VM's block checks complete the fork for py-evm's own block import (the
excess-blob-gas rule is also how a recorded header is checked, see forks/__init__.py).

Invariants: every Osaka class is the Prague class with exactly the changes above;
`blob_base_fee` and `excess_blob_gas` are pure functions of a header's fields and the
fork's `BlobSchedule`.
"""

from __future__ import annotations

from dataclasses import dataclass

import rlp
from eth import constants
from eth._utils.address import force_bytes_to_address
from eth.exceptions import VMError
from eth.vm.forks.cancun.constants import BLOB_TX_TYPE
from eth.vm.forks.cancun.state import fake_exponential, get_total_blob_gas
from eth.vm.forks.prague import PragueVM
from eth.vm.forks.prague.computation import PRAGUE_PRECOMPILES, PragueComputation
from eth.vm.forks.prague.opcodes import PRAGUE_OPCODES
from eth.vm.forks.prague.state import PragueState
from eth.vm.opcode import as_opcode
from eth_utils import ValidationError

from . import secp256r1

CLZ = 0x1E
GAS_CLZ = constants.GAS_LOW  # 5 (EIP-7939)
P256VERIFY_ADDRESS = force_bytes_to_address(b"\x01\x00")
GAS_P256VERIFY = 6900  # EIP-7951
MODEXP_ADDRESS = force_bytes_to_address(b"\x05")
MODEXP_MAX_LENGTH = 1024  # bytes, EIP-7823
TX_GAS_LIMIT_CAP = 2 ** 24  # EIP-7825
BLOBS_PER_TRANSACTION = 6  # EIP-7594
GAS_PER_BLOB = 2 ** 17  # EIP-4844
BLOB_BASE_COST = 2 ** 13  # EIP-7918
MAX_RLP_BLOCK_SIZE = 10_485_760 - 2_097_152  # EIP-7934


@dataclass(frozen=True)
class BlobSchedule:
    """A fork's blob parameters (EIP-7892): blobs per block targeted and allowed, and the
    blob base fee's update fraction."""

    target: int
    max: int
    update_fraction: int

    @property
    def max_blob_gas(self) -> int:
        return self.max * GAS_PER_BLOB


OSAKA_BLOBS = BlobSchedule(target=6, max=9, update_fraction=5_007_716)


def blob_base_fee(excess_blob_gas: int, schedule: BlobSchedule) -> int:
    """EIP-4844's blob base fee, with the fork's update fraction (EIP-7892)."""
    return fake_exponential(1, excess_blob_gas, schedule.update_fraction)


def excess_blob_gas(parent_excess: int, parent_used: int, parent_base_fee: int,
                    schedule: BlobSchedule) -> int:
    """The excess blob gas of a block from its parent's header fields (EIP-7918)."""
    target = schedule.target * GAS_PER_BLOB
    if parent_excess + parent_used < target:
        return 0
    if BLOB_BASE_COST * parent_base_fee > GAS_PER_BLOB * blob_base_fee(parent_excess,
                                                                       schedule):
        return parent_excess + parent_used * (schedule.max - schedule.target) // schedule.max
    return parent_excess + parent_used - target


# -- EIP-7939 -------------------------------------------------------------------------
def clz(computation) -> None:
    value = computation.stack_pop1_int()
    computation.stack_push_int(256 - value.bit_length())


OSAKA_OPCODES = dict(PRAGUE_OPCODES)
OSAKA_OPCODES[CLZ] = as_opcode(logic_fn=clz, mnemonic="CLZ", gas_cost=GAS_CLZ)


# -- EIP-7823 and EIP-7883 ------------------------------------------------------------
class ModExpInputTooLarge(VMError):
    """A ModExp length above EIP-7823's bound: an exceptional halt."""


def _word(data: bytes, start: int, size: int) -> int:
    """Big-endian integer of data[start:start+size], zero-padded on the right."""
    chunk = data[start:start + size]
    return int.from_bytes(chunk + b"\x00" * (size - len(chunk)), "big")


def modexp_gas(base_length: int, exponent_length: int, modulus_length: int,
               exponent_head: int) -> int:
    """EIP-7883's price; `exponent_head` is the exponent's first (up to) 32 bytes."""
    longest = max(base_length, modulus_length)
    complexity = 16 if longest <= 32 else 2 * ((longest + 7) // 8) ** 2
    head_bits = max(exponent_head.bit_length() - 1, 0)
    if exponent_length <= 32:
        iterations = head_bits
    else:
        iterations = 16 * (exponent_length - 32) + head_bits
    return max(500, complexity * max(iterations, 1))


def modexp(computation):
    data = computation.msg.data_as_bytes
    lengths = [_word(data, offset, 32) for offset in (0, 32, 64)]
    if max(lengths) > MODEXP_MAX_LENGTH:
        raise ModExpInputTooLarge(f"ModExp input length above {MODEXP_MAX_LENGTH} bytes")
    base_length, exponent_length, modulus_length = lengths
    exponent_start = 96 + base_length
    head = _word(data, exponent_start, min(32, exponent_length))
    computation.consume_gas(modexp_gas(base_length, exponent_length, modulus_length, head),
                            reason="MODEXP precompile")
    if base_length == 0 and modulus_length == 0:
        computation.output = b""
        return computation
    base = _word(data, 96, base_length)
    exponent = _word(data, exponent_start, exponent_length)
    modulus = _word(data, exponent_start + exponent_length, modulus_length)
    result = pow(base, exponent, modulus) if modulus else 0
    computation.output = result.to_bytes(modulus_length, "big")
    return computation


# -- EIP-7951 -------------------------------------------------------------------------
def p256verify(computation):
    computation.consume_gas(GAS_P256VERIFY, reason="P256VERIFY precompile")
    data = computation.msg.data_as_bytes
    if len(data) == 160 and secp256r1.verify(*(int.from_bytes(data[i:i + 32], "big")
                                               for i in range(0, 160, 32))):
        computation.output = (1).to_bytes(32, "big")
    else:
        computation.output = b""
    return computation


OSAKA_PRECOMPILES = {**PRAGUE_PRECOMPILES, MODEXP_ADDRESS: modexp,
                     P256VERIFY_ADDRESS: p256verify}


class OsakaComputation(PragueComputation):
    opcodes = OSAKA_OPCODES
    _precompiles = OSAKA_PRECOMPILES


class OsakaState(PragueState):
    computation_class = OsakaComputation
    blob_schedule = OSAKA_BLOBS

    def validate_transaction(self, transaction) -> None:
        if transaction.gas > TX_GAS_LIMIT_CAP:
            raise ValidationError(f"transaction gas limit {transaction.gas} above the cap "
                                  f"{TX_GAS_LIMIT_CAP} (EIP-7825)")
        blobs = (len(transaction.blob_versioned_hashes)
                 if transaction.type_id == BLOB_TX_TYPE else 0)
        if blobs > BLOBS_PER_TRANSACTION:
            raise ValidationError(f"{blobs} blobs in one transaction, above "
                                  f"{BLOBS_PER_TRANSACTION} (EIP-7594)")
        super().validate_transaction(transaction)

    @property
    def blob_base_fee(self) -> int:
        return blob_base_fee(self.execution_context.excess_blob_gas, self.blob_schedule)


class OsakaVM(PragueVM):
    fork = "osaka"
    _state_class = OsakaState

    def validate_block(self, block) -> None:
        size = len(rlp.encode(block))
        if size > MAX_RLP_BLOCK_SIZE:
            raise ValidationError(f"block RLP size {size} above {MAX_RLP_BLOCK_SIZE} "
                                  "(EIP-7934)")
        super().validate_block(block)

    def validate_block_blobs(self, block) -> None:
        schedule = self.get_state_class().blob_schedule
        parent = self.chaindb.get_block_header_by_hash(block.header.parent_hash)
        expected = excess_blob_gas(getattr(parent, "excess_blob_gas", 0) or 0,
                                   getattr(parent, "blob_gas_used", 0) or 0,
                                   getattr(parent, "base_fee_per_gas", 0) or 0, schedule)
        if block.header.excess_blob_gas != expected:
            raise ValidationError(f"excess blob gas {block.header.excess_blob_gas}, the "
                                  f"parent gives {expected} (EIP-7918)")
        used = sum(get_total_blob_gas(tx) for tx in block.transactions)
        if used > schedule.max_blob_gas:
            raise ValidationError(f"blob gas {used} above the block maximum "
                                  f"{schedule.max_blob_gas} (EIP-7892)")
        if block.header.blob_gas_used != used:
            raise ValidationError(f"header blob gas used {block.header.blob_gas_used}, the "
                                  f"transactions use {used}")


def blob_parameter_fork(name: str, schedule: BlobSchedule, base_vm: type = OsakaVM):
    """The VM of a blob-parameter-only fork (EIP-7892): `base_vm`'s (the fork before
    it), with `schedule` as its blob parameters and nothing else changed."""
    title, module = name.capitalize(), f"{__package__}.{name}"  # e.g. Bpo1VM in bpo1.py
    state = type(f"{title}State", (base_vm.get_state_class(),),
                 {"blob_schedule": schedule, "__module__": module})
    return type(f"{title}VM", (base_vm,),
                {"fork": name, "_state_class": state, "__module__": module})
