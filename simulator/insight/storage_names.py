"""Naming a storage slot by its source: `Market.listings[7].price`, not a 32-byte hash.

Inputs: the block's contracts with source (`Block.contracts`: address -> ContractSource,
recorded when a workload deploys compiled Vyper), and the Keccak-256 preimages executed
in the block (preimages.py). A slot is named by walking it back:

- a slot inside a variable's [slot, slot + n_slots) is that variable, descended by the
  storage type: struct members (`.price`), static array elements (`[2]`), a dynamic
  array's length word (`len(queue)`) and elements (`queue[0]`);
- a slot h + i where h = keccak(base ++ key) (Vyper's HashMap rule) and `base` names a
  HashMap is that map's entry `[key]`, descended by i into its value type, recursively
  for nested maps (`allowance[0x69d8..07de][0x1c2f..90ab]`). Keys are shown by the
  map's key type: addresses shortened, integers in decimal.

For a contract without source (a mainnet block) the walk uses the Solidity rules too,
keccak(key ++ slot) for map entries and keccak(slot) + i for dynamic array elements,
and names what it can derive: `0xa0b8..eb48 mapping at slot 9 [0x28c6..1d60]`,
`0xa0b8..eb48 array at slot 5 [word 7]`. A contract whose code carries the ERC-20
selectors, called directly with transfer / transferFrom in the block, has its balance
map found from the preimages (the map holding the recipient's key that the call wrote):
`ERC-20 0xa0b8..eb48 balanceOf[0x28c6..1d60]`. A well-known contract (`known`:
naming.known_contracts) is named instead of its shortened address: `ERC-20 USDC
balanceOf[0x28c6..1d60]`.

Invariant: a name is derived only from recorded facts (the compiler's layout and types,
executed preimages, the block's calldata and writes); a slot that cannot be walked back
gets no name (None), never a guess.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..engine.locations import CODE, STORAGE

SMALL_SLOT = 2**32  # a sourceless slot below this is a declared variable, not a hash
MAX_ENTRY_SLOTS = 256  # the largest struct value a map entry is searched for
MAX_RAW_OFFSET = 16  # sourceless: words past a hashed base searched for
MAX_DEPTH = 8  # nested maps walked back

TRANSFER = bytes.fromhex("a9059cbb")  # transfer(address,uint256)
TRANSFER_FROM = bytes.fromhex("23b872dd")  # transferFrom(address,address,uint256)
ERC20_SELECTORS = (TRANSFER, bytes.fromhex("70a08231"),  # balanceOf(address)
                   bytes.fromhex("18160ddd"))  # totalSupply()
PUSH4 = b"\x63"


@dataclass(frozen=True)
class ContractSource:
    """What the compiler says about a deployed contract's storage."""

    name: str
    layout: dict = field(compare=False)  # variable -> {"slot", "n_slots", "type"}
    types: dict = field(compare=False)  # variable -> storage type tree (vyper_build.py)


def short_hex(data: bytes) -> str:
    """'0x69d8..07de': the first and last two bytes."""
    text = data.hex()
    return f"0x{text}" if len(text) <= 8 else f"0x{text[:4]}..{text[-4:]}"


def slot_text(slot: int) -> str:
    """A slot number: decimal when small, else a shortened hash."""
    return str(slot) if slot < SMALL_SLOT else short_hex(slot.to_bytes(32, "big"))


def word_text(word: bytes, contracts: dict) -> str:
    """A 32-byte word of unknown type: small numbers in decimal, addresses by their
    contract's name (`contracts`: address -> name) or shortened."""
    value = int.from_bytes(word, "big")
    if value < 2**64:
        return str(value)
    if value < 2**160:
        return contracts.get(word[12:]) or short_hex(word[12:])
    return short_hex(word)


def key_text(word: bytes, key_type: str, contracts: dict) -> str:
    """A HashMap key as its Vyper type reads (addresses as in word_text)."""
    value = int.from_bytes(word, "big")
    if key_type == "address":
        return contracts.get(word[12:]) or short_hex(word[12:])
    if key_type == "bool":
        return str(bool(value))
    if key_type.startswith("uint"):
        return str(value)
    if key_type.startswith("int"):
        return str(value - 2**256 if value >= 2**255 else value)
    if key_type.startswith(("String", "Bytes[")):
        return f"keccak {short_hex(word)}"  # Vyper hashes bytestring keys first
    return word_text(word, contracts)


def descend(text: str, tree: dict | None, offset: int) -> tuple:
    """Walk `offset` words into a value of type `tree` named `text`: (name, the type
    reached, or None past the type's detail)."""
    while tree is not None:
        kind = tree["kind"]
        if kind == "struct":
            for member, member_tree in tree["members"]:
                if offset < member_tree["n_slots"]:
                    text, tree = f"{text}.{member}", member_tree
                    break
                offset -= member_tree["n_slots"]
            else:
                return None, None
        elif kind in ("array", "dynarray"):
            if kind == "dynarray":
                if offset == 0:
                    return f"len({text})", None
                offset -= 1
            size = tree["element"]["n_slots"]
            text, tree, offset = f"{text}[{offset // size}]", tree["element"], offset % size
        else:  # a value (a bytestring spans several words) or a map's own slot
            return text, tree
    return text, None


class SlotNamer:
    """Names (STORAGE, address, slot) locations of one block; see the module docstring."""

    def __init__(self, contracts: dict, preimages: dict, balance_maps: dict,
                 known: dict | None = None) -> None:
        self.preimages = preimages
        self.balance_maps = balance_maps  # sourceless ERC-20 address -> balance map slot
        self.known = known or {}  # well-known contracts without source: address -> name
        counts: dict = {}
        for source in contracts.values():
            counts[source.name] = counts.get(source.name, 0) + 1
        self.contract_names = {address: source.name if counts[source.name] == 1
                               else f"{source.name}@{short_hex(address)}"
                               for address, source in contracts.items()}
        self.names = {**self.known, **self.contract_names}  # for addresses in keys
        self._variables = {address: _variables(source, self.contract_names[address])
                           for address, source in contracts.items()}
        self._cache: dict = {}

    def contract(self, address: bytes) -> str | None:
        return self.contract_names.get(address)

    def name(self, address: bytes, slot: int) -> str | None:
        key = (address, slot)
        if key not in self._cache:
            self._cache[key] = self._name(address, slot)
        return self._cache[key]

    def _name(self, address: bytes, slot: int) -> str | None:
        if address in self._variables:
            path = self._source_path(self._variables[address], slot, 0)
            return None if path is None else path[0]
        balance_map = self.balance_maps.get(address)
        path = self._raw_path(slot, balance_map, 0)
        if path is None:
            return None
        who = self.known.get(address) or short_hex(address)
        if balance_map is not None:
            return f"ERC-20 {who} {path}"
        return f"{who} {path}"

    # -- contracts with source ---------------------------------------------------------
    def _source_path(self, variables, slot: int, depth: int) -> tuple | None:
        for name, start, n_slots, tree in variables:
            if start <= slot < start + n_slots:
                text, reached = descend(name, tree, slot - start)
                return None if text is None else (text, reached)
        if depth >= MAX_DEPTH:
            return None
        for offset in range(MAX_ENTRY_SLOTS):
            preimage = self.preimages.get(slot - offset)
            if preimage is None or len(preimage) != 64:
                continue
            parent = self._source_path(variables, int.from_bytes(preimage[:32], "big"),
                                       depth + 1)
            if parent is None or parent[1] is None or parent[1]["kind"] != "hashmap":
                continue
            hashmap = parent[1]
            if offset >= hashmap["value"]["n_slots"]:
                continue
            entry = f"{parent[0]}[{key_text(preimage[32:], hashmap['key'], self.names)}]"
            text, reached = descend(entry, hashmap["value"], offset)
            if text is not None:
                return text, reached
        return None

    # -- contracts without source ------------------------------------------------------
    def _raw_path(self, slot: int, balance_map, depth: int) -> str | None:
        if slot < SMALL_SLOT:
            return "balanceOf" if slot == balance_map else f"slot {slot}"
        if depth >= MAX_DEPTH:
            return None
        for offset in range(MAX_RAW_OFFSET):
            preimage = self.preimages.get(slot - offset)
            if preimage is None:
                continue
            suffix = f" +{offset}" if offset else ""
            if len(preimage) == 32:
                base = self._raw_path(int.from_bytes(preimage, "big"), balance_map, depth + 1)
                if base is not None:
                    return f"array at {base} [word {offset}]"
                continue
            # Solidity's keccak(key ++ slot) first, then Vyper's keccak(slot ++ key).
            for key, base_word in ((preimage[:32], preimage[32:]),
                                   (preimage[32:], preimage[:32])):
                base = self._raw_path(int.from_bytes(base_word, "big"), balance_map,
                                      depth + 1)
                if base is None:
                    continue
                if base.startswith("slot "):
                    base = f"mapping at {base} "
                return f"{base}[{word_text(key, self.names)}]{suffix}"
        return None


def _variables(source: ContractSource, contract: str) -> list:
    """(`contract.name`, first slot, n_slots, type tree or None) of every storage
    variable, with imported modules' variables as `contract.module.name`."""
    found = []

    def walk(layout: dict, prefix: str) -> None:
        for name, entry in layout.items():
            if "slot" in entry:
                tree = source.types.get(name) if prefix == f"{contract}." else None
                found.append((prefix + name, entry["slot"], entry["n_slots"], tree))
            else:
                walk(entry, f"{prefix}{name}.")

    walk(source.layout, f"{contract}.")
    return found


def erc20_balance_maps(block, pre_state, incarnations, preimages: dict) -> dict:
    """Sourceless ERC-20 contracts called directly with transfer / transferFrom: the
    slot of the map their call wrote the recipient's entry in, {address: slot}."""
    found: dict = {}
    for transaction, incarnation in zip(block.transactions, incarnations):
        to, data = transaction.to, bytes(transaction.data)
        if not to or to in found or to in block.contracts:
            continue
        if data[:4] == TRANSFER:
            recipient = data[4:36]
        elif data[:4] == TRANSFER_FROM:
            recipient = data[36:68]
        else:
            continue
        code = pre_state.value((CODE, to))
        if len(recipient) != 32 or not all(PUSH4 + s in code for s in ERC20_SELECTORS):
            continue
        for location in incarnation.writes:
            if location[0] != STORAGE or location[1] != to:
                continue
            preimage = preimages.get(location[2])
            if preimage is None or len(preimage) != 64:
                continue
            for key, base in ((preimage[:32], preimage[32:]), (preimage[32:], preimage[:32])):
                slot = int.from_bytes(base, "big")
                if key == recipient and slot < SMALL_SLOT:
                    found[to] = slot
                    break
            if to in found:
                break
    return found
