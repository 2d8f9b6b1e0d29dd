"""Memory locations: the granularity at which pevmsim detects conflicts.

A location is a small tuple whose first item is its kind:

    (BALANCE, address)        an account's balance (takes deltas)
    (NONCE, address)          an account's nonce (takes deltas: lazy raw transfers)
    (CODE, address)           an account's code (bytes; the code hash is derived)
    (STORAGE, address, slot)  one storage slot
    (ACCOUNT, address)        the account record itself: whether it exists, and its
                              storage generation. Written when an account is created,
                              deleted (SELFDESTRUCT, EIP-161) or has its storage wiped
                              (CREATE onto the address). A storage slot written before
                              the latest ACCOUNT write of its account reads as zero.

Transient storage (EIP-1153) and warm/cold access sets (EIP-2929) are per transaction
and never become locations.
"""

from __future__ import annotations

BALANCE = 0
NONCE = 1
CODE = 2
STORAGE = 3
ACCOUNT = 4

KIND_NAMES = ("balance", "nonce", "code", "storage", "account")

Location = tuple


def describe(location: Location) -> str:
    """A short human-readable form, e.g. 'storage 0xab..cd[5]'."""
    kind, address = location[0], location[1]
    text = f"{KIND_NAMES[kind]} 0x{address.hex()}"
    if kind == STORAGE:
        text += f"[{location[2]:#x}]"
    return text
