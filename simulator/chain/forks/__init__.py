"""The forks pevmsim adds to py-evm 0.12.1b1, and Ethereum mainnet's schedule.

py-evm knows mainnet's forks up to Prague, by block number
(`eth.chains.mainnet.MAINNET_VM_CONFIGURATION`; Prague from block 22,431,084). After it
the schedule is by timestamp: Osaka, BPO1 and BPO2 (osaka.py, bpo1.py, bpo2.py; times
from EIP-7607, EIP-8134 and EIP-8135, the same as ethereum-execution 2.20.0's
`FORK_CRITERIA`). No fork after BPO2 has an activation time (EIP-8138's BPO3 and
EIP-7773's Glamsterdam are drafts), so a block of a later fork cannot be told by its
timestamp: `check_modelled` refuses a block whose header carries a field no fork up to
BPO2 has (Glamsterdam adds blockAccessListHash, EIP-7928, and slotNumber, EIP-7843), or
more blob gas than its fork allows, or (given its parent's header) an excess blob gas
its fork's rule does not give (a blob-parameter fork pevmsim does not know).

Invariants: `mainnet_fork` is a pure function of (number, timestamp), non-decreasing in
both along the chain (the timestamp schedule ascends, each fork a subclass of the one
before: asserted under PEVMSIM_DEBUG); a block `check_modelled` accepts runs under
exactly the fork that mainnet ran it under, as far as its header can tell.
"""

from __future__ import annotations

from eth.chains.mainnet import MAINNET_VM_CONFIGURATION
from eth.vm.forks.cancun import CancunVM
from eth.vm.forks.cancun.constants import MAX_BLOB_GAS_PER_BLOCK as CANCUN_MAX_BLOB_GAS
from eth.vm.forks.prague import PragueVM
from eth.vm.forks.prague.constants import MAX_BLOB_GAS_PER_BLOCK as PRAGUE_MAX_BLOB_GAS

from ... import debug
from .bpo1 import Bpo1VM
from .bpo2 import Bpo2VM
from .osaka import GAS_PER_BLOB, OsakaVM, excess_blob_gas

# (activation timestamp, VM), after py-evm's schedule by number.
MAINNET_TIMESTAMP_FORKS = ((1_764_798_551, OsakaVM), (1_765_290_071, Bpo1VM),
                           (1_767_747_671, Bpo2VM))
LAST_FORK = "BPO2"
if debug.ENABLED:
    debug.check(all(earlier[0] < later[0] and issubclass(later[1], earlier[1])
                    for earlier, later in zip(MAINNET_TIMESTAMP_FORKS,
                                              MAINNET_TIMESTAMP_FORKS[1:])),
                "the timestamp schedule must ascend, each fork on the one before")
ADDED_FORKS = {vm.fork: vm for _, vm in MAINNET_TIMESTAMP_FORKS}

# The keys of `eth_getBlockByNumber` (geth's shapes) up to BPO2: header fields and
# what the node adds (hash, size, totalDifficulty, the body).
KNOWN_BLOCK_KEYS = frozenset((
    "parentHash", "sha3Uncles", "miner", "stateRoot", "transactionsRoot", "receiptsRoot",
    "logsBloom", "difficulty", "number", "gasLimit", "gasUsed", "timestamp", "extraData",
    "mixHash", "nonce", "baseFeePerGas", "withdrawalsRoot", "blobGasUsed", "excessBlobGas",
    "parentBeaconBlockRoot", "requestsHash", "hash", "size", "totalDifficulty",
    "transactions", "uncles", "withdrawals", "sealFields", "author"))
LATER_FIELDS = {"blockAccessListHash": "EIP-7928, Glamsterdam",
                "slotNumber": "EIP-7843, Glamsterdam"}


class UnmodelledFork(Exception):
    """A block of a fork pevmsim does not implement (one line)."""


def mainnet_fork(number: int, timestamp: int):
    """The VM class mainnet ran block `number` (at `timestamp`) under."""
    vm_class = None
    for start, candidate in MAINNET_VM_CONFIGURATION:
        if number >= start:
            vm_class = candidate
    for start, candidate in MAINNET_TIMESTAMP_FORKS:
        if timestamp >= start:
            vm_class = candidate
    return vm_class


def _int(value) -> int:
    return int(value, 16) if isinstance(value, str) else int(value)


def check_modelled(block: dict, parent: dict | None = None) -> None:
    """Raise UnmodelledFork if the RPC block `block` (optionally with its parent's
    header) is not of a fork pevmsim implements."""
    number, timestamp = _int(block["number"]), _int(block["timestamp"])
    where = f"block {number} (timestamp {timestamp})"
    unknown = sorted(set(block) - KNOWN_BLOCK_KEYS)
    if unknown:
        named = ", ".join(f"{key} ({LATER_FIELDS[key]})" if key in LATER_FIELDS else key
                          for key in unknown)
        raise UnmodelledFork(f"{where} is of a fork after {LAST_FORK}, the last pevmsim "
                             f"implements: its header has {named}")
    vm_class = mainnet_fork(number, timestamp)
    if not issubclass(vm_class, CancunVM) or block.get("blobGasUsed") is None:
        return
    used, most = _int(block["blobGasUsed"]), max_blob_gas(vm_class)
    if used > most:
        raise UnmodelledFork(f"{where} uses {used // GAS_PER_BLOB} blobs, above "
                             f"{vm_class.fork}'s maximum of {most // GAS_PER_BLOB}: it is "
                             "of a later blob schedule than pevmsim implements")
    if parent is not None and parent.get("excessBlobGas") is not None and issubclass(
            vm_class, OsakaVM):
        schedule = vm_class.get_state_class().blob_schedule
        expected = excess_blob_gas(_int(parent["excessBlobGas"]),
                                   _int(parent["blobGasUsed"]),
                                   _int(parent["baseFeePerGas"]), schedule)
        if _int(block["excessBlobGas"]) != expected:
            raise UnmodelledFork(f"{where} has excess blob gas {_int(block['excessBlobGas'])}"
                                 f", {vm_class.fork}'s rule gives {expected} from its "
                                 "parent: it is of a later blob schedule than pevmsim "
                                 "implements")


def max_blob_gas(vm_class) -> int:
    """The most blob gas a block of this (Cancun or later) fork may use."""
    if issubclass(vm_class, OsakaVM):
        return vm_class.get_state_class().blob_schedule.max_blob_gas
    if issubclass(vm_class, PragueVM):
        return PRAGUE_MAX_BLOB_GAS
    return CANCUN_MAX_BLOB_GAS
