"""What a strategy may know before the block runs: a serial pre-pass.

Sei's predictor, Sealevel's declarations, the DAG strategy's producer hints and the
oracle's dependency graph all stand for knowledge that some party has ahead of
execution (a predictor trained on history, a wallet's access list, a block producer
who already executed the block). pevmsim derives it from one serial pass over the same
versioned state: each transaction executed once, in order, against the writes of every
lower one, which gives the final read set (with the writer of every value read), write
set and cost of each transaction. The pass is bookkeeping, not part of any schedule: it
takes no virtual time and is not counted in the metrics. It is cached per block and
lazy-beneficiary setting, so strategies compared on one block share it.

Strategies that use it must stay correct when it is wrong: they perturb it (seeded)
and validate everything they execute.
"""

from __future__ import annotations

from ..engine.block_memo import remembered
from ..engine.locations import CODE
from ..engine.mv_memory import MVMemory, version_writers


def serial_prepass(env) -> list:
    """Each transaction's incarnation from a serial pass (shared; do not mutate)."""
    def run() -> list:
        mv = MVMemory(len(env.transactions))
        incarnations = []
        for tx in range(len(env.transactions)):
            incarnation = env.execute(mv, tx, 0)
            mv.record(tx, 0, incarnation.writes, incarnation.deltas)
            incarnations.append(incarnation)
        return incarnations
    return remembered(env.block, serial_prepass,
                      (env.lazy_beneficiary, env.lazy_transfers), run)


def true_dependencies(incarnations) -> list:
    """For each transaction, the sorted lower transactions whose writes it read."""
    return [sorted({writer for version in incarnation.reads.values()
                    for writer in version_writers(version)})
            for incarnation in incarnations]


def written_locations(incarnation) -> frozenset:
    return frozenset(incarnation.writes) | frozenset(incarnation.deltas)


def transaction_type(env, tx: int) -> tuple:
    """What a predictor can see without executing: the target contract and 4-byte
    selector; all plain transfers to accounts without code are one type, and all
    contract creations another."""
    transaction = env.transactions[tx]
    if not transaction.to:
        return ("create",)
    if not env.pre_state.value((CODE, transaction.to)):
        return ("transfer",)
    return (transaction.to, bytes(transaction.data[:4]))
