"""Where pevmsim depends on py-evm's internals, in one place, each with its guard.

pevmsim runs stock py-evm (0.12.1b1) and plugs into it at a few seams. Every use of
something py-evm does not promise (a private attribute, an exception path, a shared
counter, an iteration order) is listed here; tests/test_pyevm_boundary.py fails if
py-evm changes under any of them.

1. `State.account_db_class` (versioned_state.py): py-evm builds the state's account
   database from this class attribute; pevmsim's `VersionedAccountDB` implements
   `AccountDatabaseAPI`. Guard: the differential test drives it and py-evm's
   `AccountDB` through random API sequences and compares every read.
2. `State._account_db` (private; versioned_state.py, serial.py): how pevmsim reaches the
   database of a state it built. Guard: every test run goes through it (the read and
   write sets come from that object).
3. Exceptions that py-evm swallows: `except Exception` in Prague's
   `process_set_code_authorizations` (EIP-7702) would swallow the ESTIMATE signal.
   Guard: the versioned database records every read it could not serve *before*
   raising, and an incarnation so marked is discarded whatever py-evm did with the
   exception (`VersionedAccountDB.unserved`); a test injects the signal there.
4. Journal checkpoints: py-evm's transient storage journals under the checkpoint
   values an account database hands out, next to checkpoints from py-evm's own counter
   (`eth.db.journal.get_next_checkpoint`). A second counter would eventually collide
   with it ("Tried to record with an existing checkpoint"). Guard: `next_checkpoint`
   draws from py-evm's counter itself.
5. Set iteration order: `collect_touched_accounts` (EIP-161 clearing, Spurious Dragon
   on) is decorated with `to_set`, so the order in which touched accounts are read
   follows the per-process hash seed; read order decides which ESTIMATE an incarnation
   meets first. Guard: `install()` replaces the module-level name py-evm's executor
   looks up with a sorted version (the same accounts, a fixed order; results of stock
   py-evm do not depend on it). `get_accounts_for_deletion` also returns set order, but
   deleting accounts reads nothing, so its order cannot reach a result.
6. py-evm's `AccountDB._get_storage_root` (private; outcome.py, state_commit.py) to
   list storage-root changes in post-state diffs, and as the storage root a batch
   commit starts from: the pre-state's, or empty once wiped (item 8 is the one case
   it does not cover). Guard: the differential and diff tests call it; the batch
   commit is checked against py-evm's own persist (tests/test_state_commit.py), and
   every run's root against serial py-evm's.
7. Computations are context managers: `Computation.__exit__` sees an exception
   leaving a call frame. The versioned state's computation class uses it to note the
   gas each open frame still held when an ESTIMATE stopped the incarnation, so an
   execution cut short is charged the gas it had consumed. Guard: a test checks the
   charge against the gas of the same transaction run to completion.
8. A reverted storage wipe that py-evm does not undo. `AccountDB.delete_storage` sets
   the storage root to empty *before* it creates the account's storage object, so an
   account whose storage was not touched earlier in the block gets a storage object
   over an empty trie; a revert restores the account record but not that object, and
   the wipe stands (reads give zero, the post-state root has empty storage). EVM
   execution reverts a wipe only when a CREATE fails onto an address without code and
   with nonce 0 (an account with storage only, EIP-7610), which is exactly that case.
   pevmsim's versioned state reproduces it so that parallel equals serial py-evm.
   Since item 11 (EIP-7610) such a creation fails before it starts, so no EVM
   execution reaches this any more; the versioned database keeps py-evm's API
   semantics for it. Guard: the differential test's failing creations.
9. A signed transaction's `sender` is a `cached_property` (the value lives in the
   object's `__dict__` under "sender"). The block builder (workloads/api.py) puts the
   signing key's address there instead of recovering it from the signature again.
   Guard: a test recovers every sender of built blocks from the signatures and
   compares (were py-evm to cache elsewhere, the primed value would go unused and the
   sender would be recovered as before).
10. A ModExp with an empty base. py-evm's `eth.precompiles.modexp._modexp` returns 0
   whenever the base length is 0; the specification reads an empty base as the number 0
   and returns 0 ** 0 mod m = 1 mod m when the exponent is 0 too (EIP-198; ethereum-
   execution 2.20.0, ethereum/forks/byzantium .. bpo2, vm/precompiled_contracts/
   modexp.py, computes pow(base, exp, modulus)). Found by the EELS oracle. `install()`
   replaces the module-level `_modexp` that py-evm's `modexp` looks up with
   `modexp_result`, equal to py-evm's on every other input (Osaka's own ModExp,
   chain/forks/osaka.py, follows the specification already). Guard:
   tests/test_eels.py runs that input against EELS under every fork that has ModExp,
   and checks that py-evm's own function still differs there and only there.
11. EIP-7610 (Final, retroactive to Frontier): a creation onto an address that has
   storage fails like one onto code or a nonce. py-evm 0.12.1b1 asks
   `State.has_code_or_nonce` at its two collision checks (a creation transaction,
   eth/vm/forks/frontier/state.py `build_computation`; CREATE/CREATE2,
   eth/vm/logic/system.py) and looks at code and nonce only; found by the EELS oracle
   (EELS asks `account_has_code_or_nonce or account_has_storage`). pevmsim's serial and
   versioned state classes answer with `has_code_nonce_or_storage`: code or nonce now,
   or storage before the block. Storage before the block is exactly storage now at a
   creation's target: an address without code and nonce cannot gain or lose storage
   within a block (no code runs there, a creation onto it fails, and since EIP-161 a
   created account has nonce 1; before, a CREATE address never repeats), so the answer
   needs no versioned read. Item 8 (a reverted wipe) is thereby out of EVM execution's
   reach; the account databases keep py-evm's API semantics for it. Guard:
   tests/test_eels.py runs the EIP-7610 block against EELS, tests/test_pyevm_boundary.py
   under every strategy.
"""

from __future__ import annotations

import importlib

from eth.db import journal
from eth.vm.forks.spurious_dragon import state as spurious_dragon_state


def next_checkpoint() -> int:
    """A journal checkpoint unique among all of py-evm's (see 4 above)."""
    return journal.get_next_checkpoint()


_collect_touched_accounts = spurious_dragon_state.collect_touched_accounts


# the module (the package exports its curried `modexp` function under the same name)
modexp_module = importlib.import_module("eth.precompiles.modexp")
PY_EVM_MODEXP = modexp_module._modexp  # py-evm's own, kept for the guard


def modexp_result(data: bytes) -> int:
    """ModExp's result as the specification computes it (see 10 above)."""
    base_length, exponent_length, modulus_length = modexp_module.extract_lengths(data)
    if base_length == 0 and modulus_length:
        exponent = int.from_bytes(data[96:96 + exponent_length].ljust(exponent_length,
                                                                      b"\x00"), "big")
        modulus = int.from_bytes(
            data[96 + exponent_length:96 + exponent_length + modulus_length].ljust(
                modulus_length, b"\x00"), "big")
        return pow(0, exponent, modulus) if modulus else 0
    return PY_EVM_MODEXP(data)


def has_code_nonce_or_storage(state, address) -> bool:
    """A creation's collision test as EIP-7610 has it (see 11 above); the account
    database answers `had_storage_before_block`."""
    account_db = state._account_db
    return (account_db.account_has_code_or_nonce(address)
            or account_db.had_storage_before_block(address))


def sorted_touched_accounts(computation, ancestor_had_error: bool = False) -> list:
    """py-evm's EIP-161 touched accounts, in address order (see 5 above)."""
    return sorted(_collect_touched_accounts(computation, ancestor_had_error))


def install() -> None:
    """Make py-evm's iteration orders independent of the hash seed (5 above) and its
    ModExp follow the specification (10 above). Idempotent."""
    spurious_dragon_state.collect_touched_accounts = sorted_touched_accounts
    modexp_module._modexp = modexp_result
