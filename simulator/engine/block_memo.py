"""What runs of one block derive alike, kept while the block lives.

Every run of a block re-derives things that depend only on the block and on values
the run hands over: the pre-state's cache, the execution reuse cache (reuse.py), the
serial pre-pass, the post-state assembled from the final incarnations, the block's
access list. `remembered(block, function, key, compute)` keeps such a value per block,
under the function that derives it and a key that holds *every* input the value
depends on besides the block (compared by equality, never by identity), so that a
remembered value is exactly what `compute()` would return again.

Invariants: a value is dropped with its block (weak keys: nothing outlives the
block); at most `keep` keys per block and function, the oldest dropped first.
"""

from __future__ import annotations

from weakref import WeakKeyDictionary

_MEMOS: WeakKeyDictionary = WeakKeyDictionary()  # block -> {function: {key: value}}


def remembered(block, function, key, compute, keep: int = 4):
    """The value `function` derives from `block` and `key`: `compute()` the first
    time, the remembered one after."""
    per_function = _MEMOS.setdefault(block, {}).setdefault(function, {})
    try:
        return per_function[key]
    except KeyError:
        pass
    value = per_function[key] = compute()
    while len(per_function) > keep:
        del per_function[next(iter(per_function))]
    return value
