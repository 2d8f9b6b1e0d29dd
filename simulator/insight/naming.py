"""Names for the locations of one block run, as the conflict tables show them.

`LocationNamer(block, pre_state, incarnations, preimages, labels).name(location)`:

1. a hand-written label (`Workload.labels()`) always wins;
2. a storage slot is named by its source or what its preimages reveal
   (storage_names.py), e.g. `Collection0.totalSupply`, `Token0.balanceOf[0x69d8..07de]`;
3. balances and nonces by whose they are: the coinbase (fees), a sender (its gas
   payments and value), a contract by its name, any other account by its address;
4. what cannot be derived (a slot whose hash was never executed in the block) keeps
   the contract and a shortened slot: `0xa0b8..eb48 slot 0x3608..2bbc`;
5. a well-known mainnet contract without source is named from a small vendored list,
   known_contracts.csv (WETH, USDT, USDC, DAI, Uniswap's routers...: each row names its
   public source, see the list's README below), wherever its address would show:
   `ERC-20 USDT balanceOf[Uniswap V2 Router02]`. A contract with source keeps its own
   name.

`expand_addresses(value, block_addresses(block, incarnations))` writes the shortened
addresses of a summary out in full where the block makes that unambiguous
(`explain --full-addresses`).

known_contracts.csv sources (addresses are public facts; nothing else is copied):
ethereum-lists/tokens (MIT), tokens/eth/<address>.json at commit 55622d80c18c: the
token symbols; Uniswap/docs, docs/contracts/v2/reference/smart-contracts/
08-deployment-addresses.md at commit 0a8ed540146e: V2 Factory and Router02;
Uniswap/v3-periphery, deploys.md at commit 0353a62be107: V3 Factory, SwapRouter,
SwapRouter02, NonfungiblePositionManager, UniversalRouter, Permit2;
Uniswap/universal-router, deploy-addresses/mainnet.json at commit d2575ff4: the first
UniversalRouter.

Invariant: every location gets a non-empty name, and no name holds a full 32-byte hash.
"""

from __future__ import annotations

from ..engine.locations import ACCOUNT, BALANCE, CODE, NONCE, STORAGE
import csv
import re
from functools import lru_cache
from pathlib import Path

from .storage_names import SlotNamer, erc20_balance_maps, short_hex, slot_text

KNOWN_CONTRACTS = Path(__file__).with_name("known_contracts.csv")
SHORT = re.compile(r"0x[0-9a-f]{4}\.\.[0-9a-f]{4}")

GROUP_NAMES = 2  # a group's name lists at most this many names


def abbreviate(name: str, width: int) -> str:
    """A name cut to `width` characters for a table or chart label."""
    return name if len(name) <= width else name[:width - 2] + ".."


class LocationNamer:
    def __init__(self, block, pre_state, incarnations, preimages: dict,
                 labels: dict | None = None) -> None:
        self.labels = labels or {}
        self.coinbase = block.context.coinbase
        self.senders = frozenset(block.senders)
        self.slots = SlotNamer(block.contracts, preimages,
                               erc20_balance_maps(block, pre_state, incarnations, preimages),
                               known_contracts())
        self.pre_state = pre_state

    def name(self, location) -> str:
        """The hand-written label if any, else the derived name."""
        return self.labels.get(location) or self.derived(location)

    def derived(self, location) -> str:
        """The name derived from the block alone (source, preimages, roles)."""
        kind, address = location[0], location[1]
        who = self._account(address)
        if kind == STORAGE:
            return self.slots.name(address, location[2]) or f"{who} slot {slot_text(location[2])}"
        if kind == BALANCE:
            if address == self.coinbase:
                return "coinbase balance (fees)"
            if address in self.senders:
                return f"ETH balance of sender {who} (gas payments, value)"
            return f"ETH balance of {who}"
        if kind == NONCE:
            return f"nonce of {'sender ' if address in self.senders else ''}{who}"
        if kind == CODE:
            return f"code of {who}"
        assert kind == ACCOUNT
        return f"account record of {who} (created or deleted)"

    def _account(self, address: bytes) -> str:
        name = self.slots.contract(address) or self.slots.known.get(address)
        if name is not None:
            return name
        if address not in self.senders and self.pre_state.value((CODE, address)):
            return f"contract {short_hex(address)}"
        return short_hex(address)

    def group_name(self, locations) -> str:
        """A name for several locations: one sender's balance and nonce read as its
        transactions' gas payments, value and nonce."""
        if (len(locations) == 2 and {kind for kind, *_ in locations} == {BALANCE, NONCE}
                and locations[0][1] == locations[1][1] and locations[0][1] in self.senders):
            return (f"transactions of sender {self._account(locations[0][1])} "
                    "(gas payments, value, nonce)")
        names = [self.name(location) for location in locations]
        if len(names) <= GROUP_NAMES:
            return " + ".join(names)
        return " + ".join(names[:GROUP_NAMES - 1]) + f" + {len(names) - GROUP_NAMES + 1} more"

    def derived_names(self, locations) -> dict:
        return {location: self.derived(location) for location in locations}


@lru_cache(maxsize=1)
def known_contracts() -> dict:
    """{address bytes: name} of the vendored well-known mainnet contracts."""
    with KNOWN_CONTRACTS.open(newline="") as handle:
        return {bytes.fromhex(row["address"][2:]): row["name"]
                for row in csv.DictReader(handle)}


def block_addresses(block, incarnations) -> dict:
    """{shortened text: the full 0x-hex} for every account and slot the block's run
    touched, its senders and the targets of its transactions; a shortened text that
    stands for two values maps to None (ambiguous: it stays short)."""
    values = set(block.senders) | {tx.to for tx in block.transactions if tx.to}
    for incarnation in incarnations:
        for location in (*incarnation.reads, *incarnation.writes, *incarnation.deltas):
            if isinstance(location[1], bytes):
                values.add(location[1])
            if len(location) > 2 and isinstance(location[2], int):
                values.add(location[2].to_bytes(32, "big"))
    found: dict = {}
    for value in sorted(values):
        short = short_hex(value)
        full = "0x" + value.hex()
        found[short] = full if found.get(short, full) == full else None
    return found


def expand_addresses(value, addresses: dict):
    """`value` (a summary, or any JSON-shaped value) with every shortened address or
    slot that `addresses` maps unambiguously written out in full."""
    if isinstance(value, str):
        return SHORT.sub(lambda match: addresses.get(match.group(0)) or match.group(0), value)
    if isinstance(value, dict):
        return {key: expand_addresses(item, addresses) for key, item in value.items()}
    if isinstance(value, list):
        return [expand_addresses(item, addresses) for item in value]
    return value
