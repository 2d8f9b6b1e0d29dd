"""Block results and the serial-equivalence check.

A BlockResult is what any executor, serial or parallel, must agree on: the post-state
root, the post-state diff (every account field and storage slot that changed, account
deletions included), each transaction's receipt (status, gas used, cumulative gas,
logs) and the block's gas. Parallel results are assembled by folding each transaction's
final write set, in transaction order, into a stock py-evm AccountDB over the pre-state
and committing it in one batch (state_commit.py); the serial side's root comes from
py-evm's own key-by-key persist, so every run also checks the batch commit.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

from eth.db.account import AccountDB

from ..engine.block_memo import remembered
from ..engine.locations import ACCOUNT, BALANCE, CODE, NONCE, STORAGE, describe
from .state_commit import commit


@dataclass(frozen=True)
class Receipt:
    success: bool
    gas_used: int
    cumulative_gas_used: int
    logs: tuple


@dataclass(eq=False)
class BlockResult:
    state_root: bytes
    receipts: tuple
    gas_used: int
    intermediate_roots: tuple = ()
    steps: tuple | None = None  # serial only, on request: each tx's written values
    # Lists the diff on demand: equal state roots already prove equal post-states.
    diff_lister: object = field(default=None, repr=False)

    @cached_property
    def diff(self) -> dict:
        """location -> post value, for every location that changed."""
        return self.diff_lister()


def make_receipts(outcomes) -> tuple:
    cumulative = 0
    receipts = []
    for outcome in outcomes:
        cumulative += outcome.gas_used
        receipts.append(Receipt(outcome.success, outcome.gas_used, cumulative, outcome.logs))
    return tuple(receipts)


def py_evm_receipts(transactions, result: "BlockResult", pre_byzantium: bool) -> tuple:
    """py-evm receipt objects for a result: what receipts roots are made of. Before
    Byzantium a receipt carries the state root after its transaction instead of a
    status (the result must then hold `intermediate_roots`)."""
    built = []
    for index, (transaction, receipt) in enumerate(zip(transactions, result.receipts)):
        if pre_byzantium:
            status = result.intermediate_roots[index]
        else:
            status = b"\x01" if receipt.success else b""
        built.append(transaction.make_receipt(status, receipt.cumulative_gas_used,
                                              receipt.logs))
    return tuple(built)


def location_values(account_db: AccountDB, addresses, slots) -> dict:
    """location -> value for every field of `addresses` and every slot in `slots`."""
    values = {}
    for address in addresses:
        values[(BALANCE, address)] = account_db.get_balance(address)
        values[(NONCE, address)] = account_db.get_nonce(address)
        values[(CODE, address)] = account_db.get_code_hash(address)
        values[(ACCOUNT, address)] = account_db.account_exists(address)
    for address, slot in slots:
        values[(STORAGE, address, slot)] = account_db.get_storage(address, slot)
    return values


def step_mismatches(block, incarnations, serial_steps, limit: int = 5) -> list:
    """The deep check: fold the final incarnations one by one and compare, after each
    transaction, every location that it or its serial counterpart wrote: a location
    serial wrote must hold serial's value, one only the parallel side wrote must be
    unchanged by the transaction. By induction the two states agree after every
    transaction, so a wrong intermediate state cannot hide behind a right final one."""
    account_db = AccountDB(block.db, block.pre_state_root)
    problems = []
    for tx, (incarnation, expected) in enumerate(zip(incarnations, serial_steps)):
        written = (*incarnation.writes, *incarnation.deltas, *expected)
        addresses = {location[1] for location in written}
        slots = {(location[1], location[2]) for location in written
                 if location[0] == STORAGE}
        before = location_values(account_db, addresses, slots)
        account_db.lock_changes()
        apply_incarnation(account_db, incarnation)
        after = location_values(account_db, addresses, slots)
        for location in sorted(after, key=repr):
            wanted = expected.get(location, before[location])
            if after[location] != wanted:
                problems.append(f"tx {tx}: {describe(location)}: {after[location]!r} != "
                                f"serial {wanted!r} after this transaction")
                if len(problems) >= limit:
                    return problems
    return problems


def state_diff(pre: AccountDB, post: AccountDB, addresses, slots) -> dict:
    """Every field of `addresses` and every slot in `slots` whose value changed.
    `post` must have computed its state root (so storage roots are up to date)."""
    diff = {}
    for address in addresses:
        for kind, read in (
            (BALANCE, AccountDB.get_balance),
            (NONCE, AccountDB.get_nonce),
            (CODE, AccountDB.get_code_hash),
        ):
            before, after = read(pre, address), read(post, address)
            if before != after:
                diff[(kind, address)] = after
        before = (pre.account_exists(address), pre._get_storage_root(address))
        after = (post.account_exists(address), post._get_storage_root(address))
        if before != after:
            diff[(ACCOUNT, address)] = after
    for address, slot in slots:
        before, after = pre.get_storage(address, slot), post.get_storage(address, slot)
        if before != after:
            diff[(STORAGE, address, slot)] = after
    return diff


def apply_incarnation(account_db: AccountDB, incarnation) -> None:
    """Fold one transaction's final write set into a stock account database."""
    for address in incarnation.wiped:
        account_db.delete_storage(address)
    accounts = []
    for location, value in incarnation.writes.items():
        kind, address = location[0], location[1]
        if kind == BALANCE:
            account_db.set_balance(address, value)
        elif kind == NONCE:
            account_db.set_nonce(address, value)
        elif kind == CODE:
            account_db.set_code(address, value)
        elif kind == STORAGE:
            account_db.set_storage(address, location[2], value)
        else:
            accounts.append((address, value))
    for (kind, address), delta in incarnation.deltas.items():
        if kind == NONCE:  # a lazy raw transfer's sender (versioned_state.py)
            account_db.set_nonce(address, account_db.get_nonce(address) + delta)
        else:
            account_db.set_balance(address, account_db.get_balance(address) + delta)
    for address, exists in accounts:
        if exists:
            account_db.touch_account(address)
        else:
            account_db.delete_account(address)


def assemble(block, incarnations, intermediate_roots: bool = False) -> BlockResult:
    """The block result from each transaction's final incarnation, in order. The write
    sets are folded into a stock py-evm AccountDB over the pre-state and committed to
    the block's database in one batch (state_commit.py; tries are content-addressed,
    so the pre-state stays intact). With `intermediate_roots`, each transaction is
    folded and committed on its own, and the state root after each is kept too
    (pre-Byzantium receipts need it). Runs of a block whose final incarnations have
    the same content (everything read here) share one result (block_memo.py)."""
    key = (intermediate_roots, tuple(
        (tuple(inc.writes.items()), tuple(inc.deltas.items()), inc.wiped, inc.slots_set,
         inc.outcome) for inc in incarnations))
    return remembered(block, assemble, key,
                      lambda: _assemble(block, incarnations, intermediate_roots))


def _assemble(block, incarnations, intermediate_roots: bool) -> BlockResult:
    groups = ([[incarnation] for incarnation in incarnations] if intermediate_roots
              else [incarnations])
    root = block.pre_state_root
    addresses, slots = set(), set()
    roots = []
    for group in groups:
        account_db = AccountDB(block.db, root)
        written, set_slots = set(), set()
        for incarnation in group:
            account_db.lock_changes()
            apply_incarnation(account_db, incarnation)
            written.update(location[1] for location in incarnation.writes)
            written.update(location[1] for location in incarnation.deltas)
            written.update(incarnation.wiped)
            set_slots |= incarnation.slots_set  # as serial's: slots ever set, wiped or not
        root = commit(block.db, root, account_db, written, set_slots)
        roots.append(root)
        addresses |= written
        slots |= set_slots
    receipts = make_receipts(inc.outcome for inc in incarnations)
    return BlockResult(
        state_root=root,
        receipts=receipts,
        gas_used=receipts[-1].cumulative_gas_used if receipts else 0,
        intermediate_roots=tuple(roots) if intermediate_roots else (),
        diff_lister=lambda: state_diff(AccountDB(block.db, block.pre_state_root),
                                       AccountDB(block.db, root), addresses, slots),
    )


def mismatches(result: BlockResult, reference: BlockResult, limit: int = 5) -> list:
    """Human-readable differences between a result and the serial reference."""
    problems = []
    if result.gas_used != reference.gas_used:
        problems.append(f"gas used {result.gas_used} != serial {reference.gas_used}")
    for index, (ours, theirs) in enumerate(zip(result.receipts, reference.receipts)):
        if ours != theirs:
            problems.append(f"receipt of tx {index} differs: {ours} != serial {theirs}")
            break
    if len(result.receipts) != len(reference.receipts):
        problems.append("different number of receipts")
    if result.state_root != reference.state_root and result.diff != reference.diff:
        for location in sorted(set(result.diff) | set(reference.diff), key=repr):
            ours, theirs = result.diff.get(location), reference.diff.get(location)
            if ours != theirs:
                problems.append(f"{describe(location)}: {ours!r} != serial {theirs!r}")
                if len(problems) >= limit:
                    break
    if result.state_root != reference.state_root:
        problems.append(
            f"state root 0x{result.state_root.hex()} != serial 0x{reference.state_root.hex()}"
        )
    return problems
