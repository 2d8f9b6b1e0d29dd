"""Failed transactions: why a valid transaction's receipt has status 0, and revert reasons.

A transaction that can be applied may still fail: it reverts (REVERT, e.g. a Vyper
`assert` or `raise`), runs out of gas, or halts on another exceptional condition
(invalid opcode, bad jump, stack underflow...). py-evm's computation knows which:
`computation.error` is a `Revert`, an `OutOfGas`, or another `VMError`. The failure is
part of the block (a failed receipt, gas charged), so it is never an error of pevmsim;
but a benchmark whose transactions mostly fail measures failures, so runs count them.

Invariants: `classify` returns None exactly when the computation succeeded (receipt
status 1); `revert_reason` never raises, whatever bytes it is given.
"""

from __future__ import annotations

import enum
from collections import Counter
from dataclasses import dataclass

import eth_abi
from eth.exceptions import OutOfGas, Revert

ERROR_SELECTOR = bytes.fromhex("08c379a0")  # Error(string)
PANIC_SELECTOR = bytes.fromhex("4e487b71")  # Panic(uint256)
MOST_FAIL = 0.5  # warn when more than this share of a block's transactions fail


class FailureKind(enum.Enum):
    REVERTED = "reverted"
    OUT_OF_GAS = "out of gas"
    HALTED = "exceptional halt"  # any other VMError: invalid opcode, bad jump, ...


@dataclass(frozen=True)
class Failure:
    kind: FailureKind
    reason: str  # the decoded revert reason, py-evm's error name, or "" (out of gas)


def revert_reason(output: bytes) -> str:
    """Readable revert data: Error(string) as its quoted message, Panic(uint256) as
    its code, nothing as 'no reason given', anything else as hex."""
    try:
        if output[:4] == ERROR_SELECTOR:
            return repr(eth_abi.decode(["string"], output[4:])[0])
        if output[:4] == PANIC_SELECTOR:
            return f"panic 0x{eth_abi.decode(['uint256'], output[4:])[0]:02x}"
    except Exception:  # malformed ABI data: shown raw below
        pass
    return f"0x{output.hex()}" if output else "no reason given"


def classify(computation) -> Failure | None:
    """How a py-evm computation failed, or None if it succeeded."""
    if not computation.is_error:
        return None
    error = computation.error
    if isinstance(error, Revert):
        return Failure(FailureKind.REVERTED, revert_reason(computation.output))
    if isinstance(error, OutOfGas):
        return Failure(FailureKind.OUT_OF_GAS, "")
    return Failure(FailureKind.HALTED, type(error).__name__)


def failure_counts(failures) -> dict:
    """{'failed_txs', 'reverted_txs', 'out_of_gas_txs'} of per-transaction failures
    (None for a transaction that succeeded)."""
    kinds = Counter(failure.kind for failure in failures if failure is not None)
    return {"failed_txs": sum(kinds.values()),
            "reverted_txs": kinds[FailureKind.REVERTED],
            "out_of_gas_txs": kinds[FailureKind.OUT_OF_GAS]}


def failure_warning(failures) -> str | None:
    """A one-line warning when more than half of the transactions failed, naming the
    most common cause; None otherwise."""
    failed = [failure for failure in failures if failure is not None]
    if not failures or len(failed) <= MOST_FAIL * len(failures):
        return None
    counts = failure_counts(failures)
    (kind, reason), times = sorted(Counter((f.kind.value, f.reason) for f in failed).items(),
                                   key=lambda item: (-item[1], item[0]))[0]
    return (f"{counts['failed_txs']} of {len(failures)} transactions failed "
            f"({counts['reverted_txs']} reverted, {counts['out_of_gas_txs']} out of gas); "
            f"most often {kind}{': ' + reason if reason else ''} ({times}x). The block "
            "measures failing "
            "transactions: check the workload's arguments and gas limits")
