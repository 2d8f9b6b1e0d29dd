"""Strategy `dag`: a producer-supplied transaction dependency graph (Polygon PIP-16's
dependency metadata, BSC's TxDAG).

Protocol:
- The block producer, who executed the block, ships each transaction's dependencies.
  pevmsim derives them from the serial pre-pass (prepass.py: the lower transactions
  whose writes each transaction read) and then corrupts them, seeded: each true edge
  is dropped with probability `missing_edge_rate`, and each transaction gains, with
  probability `false_edge_rate`, an edge from a uniformly drawn lower transaction.
- The executor runs a transaction once its hinted predecessors have committed,
  lowest index first (in_order.PredecessorGated).
- Hints are never trusted: one committer validates every result in block order and
  re-executes, inside the commit, a transaction whose inputs changed (a missing edge
  let it run before a writer it depends on was final). False edges only cost
  parallelism.

Invariants: those of in_order.py (at most two executions per transaction, committed
write sets equal to serial ones), whatever the hints.
"""

from __future__ import annotations

import random

from .in_order import PredecessorGated
from ..params import Param
from .prepass import serial_prepass, true_dependencies


def producer_hints(dependencies, missing_edge_rate: float, false_edge_rate: float,
                   rng: random.Random) -> list:
    """The true dependency lists with edges dropped and false edges added."""
    hints = []
    for tx, edges in enumerate(dependencies):
        kept = {edge for edge in edges if rng.random() >= missing_edge_rate}
        if tx > 0 and rng.random() < false_edge_rate:
            kept.add(rng.randrange(tx))
        hints.append(sorted(kept))
    return hints


class DAG(PredecessorGated):
    name = "dag"
    description = "producer-supplied dependency DAG (PIP-16 / TxDAG), validated in order"
    options = (
        Param("missing_edge_rate", 0.0, "chance that each true dependency is left out",
              float, 0.0, 1.0),
        Param("false_edge_rate", 0.0, "chance that a transaction gets a false "
              "dependency on a random lower one", float, 0.0, 1.0),
        Param("seed", 0, "seed of the hint errors", int),
    )

    def __init__(self, env, cost_model, metrics, missing_edge_rate=0.0,
                 false_edge_rate=0.0, seed=0) -> None:
        dependencies = true_dependencies(serial_prepass(env))
        hints = producer_hints(dependencies, missing_edge_rate, false_edge_rate,
                               random.Random(f"dag:{seed}"))
        super().__init__(env, cost_model, metrics, hints)
