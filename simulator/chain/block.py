"""The block model: everything execution needs, nothing a strategy may change.

A Block is the fork (a py-evm VM class), the header's execution context (coinbase,
number, timestamp, gas limit, base fee, prev randao, ancestor hashes for BLOCKHASH; a
HeaderContext makes one), the
pre-state (a state trie in a py-evm database at `pre_state_root`) and the ordered signed
transactions. Senders are recovered once, when the block is built (a generated
block's builder caches each signer's address instead), and cached on the transaction
objects that every (re-)execution then reuses. `contracts` maps the address
of each contract deployed from source to its `ContractSource` (storage_names.py), what
names its storage slots; blocks without source have none.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from eth.vm.execution_context import ExecutionContext


@dataclass(frozen=True)
class HeaderContext:
    coinbase: bytes
    number: int
    timestamp: int
    gas_limit: int
    base_fee: int | None = None
    prev_randao: bytes = b"\x00" * 32
    difficulty: int = 0
    chain_id: int = 1
    excess_blob_gas: int | None = None
    # Hashes of the ancestors, newest first (what BLOCKHASH serves).
    ancestor_hashes: tuple = field(default=(), repr=False)

    def execution_context(self) -> ExecutionContext:
        return ExecutionContext(
            coinbase=self.coinbase,
            timestamp=self.timestamp,
            block_number=self.number,
            difficulty=self.difficulty,
            mix_hash=self.prev_randao,
            gas_limit=self.gas_limit,
            prev_hashes=self.ancestor_hashes,
            chain_id=self.chain_id,
            base_fee_per_gas=self.base_fee,
            excess_blob_gas=self.excess_blob_gas,
        )


class Block:
    # The gas the block's real header says it used; None without a real header (a
    # synthetic workload) or for a prefix of a recorded block.
    expected_gas_used: int | None = None

    def __init__(self, vm_class, context: ExecutionContext, db, pre_state_root: bytes,
                 transactions, contracts: dict | None = None) -> None:
        self.vm_class = vm_class
        self.context = context
        self.db = db
        self.pre_state_root = pre_state_root
        self.transactions = tuple(transactions)
        # Recover every sender once; py-evm caches it on the transaction object.
        self.senders = tuple(tx.sender for tx in self.transactions)
        self.contracts = dict(contracts or {})

    def __len__(self) -> int:
        return len(self.transactions)

    def execution_context(self) -> ExecutionContext:
        return self.context

    def header_check(self, result) -> dict | None:
        """How a result compares with the block's real header (a recorded block):
        {"gas_used": bool, "receipts_root": bool or None where the header's root cannot
        be rebuilt}; None when there is no header to compare with."""
        return None
