"""Strategy `sealevel`: Solana's Sealevel, declared access sets and a lock-based
scheduler, over the EVM.

Protocol:
- Every transaction declares up front which locations it reads, writes, or only adds
  to (the lazy-beneficiary fee credit, which commutes with other additions). A
  transaction that carries an EIP-2930 access list declares from it: its sender, its
  target and every listed address (balance, nonce, code, account record) and listed
  slot as written, plus the coinbase. Otherwise the declaration comes from the serial
  pre-pass (prepass.py: the locations it really reads and writes), which then
  under-declares (one declared location dropped) with probability
  `under_declare_rate` and over-declares (a write of another transaction's location
  added) with probability `over_declare_rate`, per transaction, seeded.
- Locks are taken in block order: a transaction waits for every lower transaction
  whose declaration conflicts with its own (write against anything, read against add)
  to release its locks, then runs (in_order.PredecessorGated). Locks are released
  when the execution ends if no violation (below) is known at or below it, otherwise
  when the transaction commits.
- When an execution ends, its actual reads, writes and additions are compared with
  its declaration. A transaction that touched an undeclared location is never
  trusted: it is re-executed in order, at its commit, when every lower transaction is
  final. Below the first such violation the locks alone order every real conflict,
  so those transactions commit without validation; from the first violation on (an
  undeclared write may have been missed by a higher transaction) every transaction's
  reads are validated at commit, and a stale one is re-executed there too.

Invariants: those of in_order.py (at most two executions per transaction, committed
write sets equal to serial ones), whatever the declarations.
"""

from __future__ import annotations

import random
from enum import Enum

from ..engine.locations import ACCOUNT, BALANCE, CODE, NONCE, STORAGE
from .in_order import PredecessorGated
from ..params import Param
from .prepass import serial_prepass

class Access(Enum):
    """How a transaction declares a location."""
    READ = "read"
    ADD = "add"  # only adds to it (a commutative balance credit)
    WRITE = "write"


READ, ADD, WRITE = Access
ACCOUNT_FIELDS = (BALANCE, NONCE, CODE, ACCOUNT)


def declaration_from_execution(incarnation) -> dict:
    """location -> READ / ADD / WRITE, exactly what the incarnation accessed."""
    declaration = {location: READ for location in incarnation.reads}
    for location in incarnation.deltas:
        declaration[location] = WRITE if location in declaration else ADD
    for location in incarnation.writes:
        declaration[location] = WRITE
    return declaration


def declaration_from_access_list(env, tx: int) -> dict:
    transaction = env.transactions[tx]
    addresses = {env.block.senders[tx]} | ({transaction.to} if transaction.to else set())
    declaration = {}
    for address, slots in transaction.access_list:
        addresses.add(address)
        for slot in slots:
            declaration[(STORAGE, address, slot)] = WRITE
    for address in addresses:
        for kind in ACCOUNT_FIELDS:
            declaration[(kind, address)] = WRITE
    coinbase = env.execution_context.coinbase
    declaration.setdefault((ACCOUNT, coinbase), READ)
    declaration.setdefault((BALANCE, coinbase), ADD if env.lazy_beneficiary else WRITE)
    return declaration


def misdeclare(declarations, under_rate: float, over_rate: float, rng: random.Random) -> None:
    """Drop one declared location / add a foreign write, per transaction, in place."""
    pool = sorted({location for declaration in declarations for location in declaration})
    for declaration in declarations:
        if declaration and rng.random() < under_rate:
            del declaration[rng.choice(sorted(declaration))]
        if pool and rng.random() < over_rate:
            declaration[rng.choice(pool)] = WRITE


def lock_predecessors(declarations) -> list:
    """For each transaction, the lower ones whose declarations conflict with it (only
    the nearest of each chain: waiting for them implies waiting for the rest)."""
    last_write: dict = {}  # location -> the last transaction that declared a write
    shared: dict = {}  # location -> {READ: [...], ADD: [...]} declared since that write
    predecessors = []
    for tx, declaration in enumerate(declarations):
        before = set()
        for location, mode in declaration.items():
            if location in last_write:
                before.add(last_write[location])
            since = shared.setdefault(location, {READ: [], ADD: []})
            for other_mode, holders in since.items():
                if mode == WRITE or mode != other_mode:
                    before.update(holders)
            if mode == WRITE:
                last_write[location] = tx
                shared[location] = {READ: [], ADD: []}
            else:
                since[mode].append(tx)
        predecessors.append(before)
    return predecessors


def undeclared_access(declaration: dict, incarnation):
    """The first location the incarnation accessed beyond its declaration, or None."""
    for location in incarnation.reads:
        if declaration.get(location, ADD) == ADD:
            return location
    for location in incarnation.writes:
        if declaration.get(location) != WRITE:
            return location
    for location in incarnation.deltas:
        if location not in declaration or declaration[location] == READ:
            return location
    return None


class Sealevel(PredecessorGated):
    name = "sealevel"
    description = "Solana Sealevel: declared read/write sets, lock-based scheduling"
    options = (
        Param("under_declare_rate", 0.0, "chance that a pre-pass declaration omits one "
              "location", float, 0.0, 1.0),
        Param("over_declare_rate", 0.0, "chance that a pre-pass declaration adds a write "
              "of another transaction's location", float, 0.0, 1.0),
        Param("seed", 0, "seed of the declaration errors", int),
    )

    def __init__(self, env, cost_model, metrics, under_declare_rate=0.0,
                 over_declare_rate=0.0, seed=0) -> None:
        listed = {tx for tx, transaction in enumerate(env.transactions)
                  if getattr(transaction, "access_list", ())}
        self.declarations = [
            declaration_from_access_list(env, tx) if tx in listed
            else declaration_from_execution(incarnation)
            for tx, incarnation in enumerate(serial_prepass(env))]
        misdeclare([declaration for tx, declaration in enumerate(self.declarations)
                    if tx not in listed],
                   under_declare_rate, over_declare_rate, random.Random(f"sealevel:{seed}"))
        super().__init__(env, cost_model, metrics, lock_predecessors(self.declarations))
        self.violations: dict = {}  # tx -> the first undeclared location it accessed
        self.first_violation = self.size

    def _executed(self, tx: int, result) -> None:
        location = undeclared_access(self.declarations[tx], result)
        if location is not None:
            self.violations[tx] = location
            self.first_violation = min(self.first_violation, tx)
        if tx < self.first_violation:
            self._release(tx)  # correct by the locks alone (see above)

    def _must_validate(self, tx: int) -> bool:
        return tx >= self.first_violation

    def _forced_reexecution(self, tx: int, result):
        return self.violations.get(tx)
