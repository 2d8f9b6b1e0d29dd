"""Strategy `dag`: Block-STM guided by a producer-supplied transaction dependency graph,
as Bor runs it (Polygon PIP-16 dependency metadata in the block header, `core/blockstm`;
BSC's TxDAG is the same idea).

Protocol:
- The block producer, who executed the block, ships each transaction's dependencies.
  pevmsim derives them from the serial pre-pass (prepass.py: the lower transactions
  whose writes each transaction read) and then corrupts them, seeded: each true edge
  is dropped with probability `missing_edge_rate`, and each transaction gains, with
  probability `false_edge_rate`, an edge from a uniformly drawn lower transaction.
- Execution is Block-STM (block_stm.py, with its defaults), except that the scheduler
  does not start a transaction's execution before every hinted dependency has
  finished executing at least once (scheduler.defer): with right hints, a transaction
  reads its dependencies' writes instead of speculating and being re-executed.
- Hints are never trusted for correctness: Block-STM's validation still checks every
  read, so a missing edge costs a re-execution and a false edge only parallelism.

- I/O: Bor's state prefetcher (maticnetwork/bor v2.2.8, e7928027944d,
  `core/state_prefetcher.go`, inherited from geth) runs a block's transactions on a
  throwaway state to warm caches, but `core/blockchain.go` (insertChain) starts it only
  for the *following* block of a batch import (`it.peek()`), never for the block being
  executed: a single block gets no read overlap from it, so none is modelled. (Bor's
  ProcessBlock also races its serial processor against the parallel one and keeps the
  first to finish; not modelled.)

Invariants: Block-STM's (scheduler.py, mv_memory.py), whatever the hints.
"""

from __future__ import annotations

import random

from ..params import Param
from ..abc import Task, TaskKind
from .block_stm import WAIT_FOR_SENDER, BlockSTM
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


class DAG(BlockSTM):
    name = "dag"
    description = "Block-STM with producer dependency hints (Bor, PIP-16 / TxDAG)"
    options = (WAIT_FOR_SENDER,) + (
        Param("missing_edge_rate", 0.0, "chance that each true dependency is left out",
              float, 0.0, 1.0),
        Param("false_edge_rate", 0.0, "chance that a transaction gets a false "
              "dependency on a random lower one", float, 0.0, 1.0),
        Param("seed", 0, "seed of the hint errors", int),
    )

    def __init__(self, env, cost_model, metrics, wait_for_sender: int = 1,
                 missing_edge_rate=0.0, false_edge_rate=0.0, seed=0) -> None:
        super().__init__(env, cost_model, metrics, wait_for_sender)
        dependencies = true_dependencies(serial_prepass(env))
        self.hints = producer_hints(dependencies, missing_edge_rate, false_edge_rate,
                                    random.Random(f"dag:{seed}"))

    def _next_task(self) -> Task | None:
        while True:
            task = self.scheduler.next_task()
            if task is None or task.kind != TaskKind.EXECUTION:
                return task
            waiting = [dep for dep in self.hints[task.tx] if self.last[dep] is None]
            if not waiting:
                return task
            self.scheduler.defer(task.tx, waiting[-1])
