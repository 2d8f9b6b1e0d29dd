"""Conflict insight of one run: named conflicts, what-if bounds, re-executed transactions.

`analyse(...)` turns a finished run (its final incarnations, its cost model and
metrics, and a LocationNamer of its block) into the parts of `pevmsim run --json` that
explain it. Bounds and the oracle use the run's cost model exactly as the run's own
bound and oracle do (cost_model.split, strategies/oracle.best_plan):

    conflicts   the locations behind the most aborts and suspensions, each with its
                `name` derived from the block (naming.py), never a raw hash, and its
                `label`: the workload's hand-written label if any, else the name
    whatif      the oracle's speedup (next to the run's dependency bound), and for the top
                locations ranked by what removing their conflicts would gain, the bound
                without their conflicts and with their writes as deltas (whatif.py);
                with `oracle_what_if`, also the oracle without their conflicts;
                `together`: the top k = 2, 3, 5 entries removed at once; `ties`: entries
                that gain the same alone, with the dependencies they share and their
                bound removed together; `work_bound`: the bound is the total work over
                the workers (or in order), which no location's fix raises
    reexecuted  the transactions executed most, each with the locations that aborted or
                suspended its executions

Invariant: everything here is derived after the run from what it recorded; it never
changes the run's result or its figures.
"""

from __future__ import annotations

from collections import Counter

from ..engine.locations import describe
from ..engine.metrics import DependencyBound
from .naming import LocationNamer
from ..strategies.oracle import best_plan
from ..strategies.prepass import true_dependencies
from .whatif import TOGETHER, ties, together, what_if

TOP_TRANSACTIONS = 10


def analyse(block, incarnations, cost_model, threads: int, metrics, namer: LocationNamer,
            oracle_what_if: bool = False) -> dict:
    """The insight parts of a run's summary (its `block`, final `incarnations`, ...);
    `oracle_what_if` adds each location's `oracle_if_removed` (about ten oracle
    plannings: `pevmsim explain` asks for it)."""
    serial_time = sum(cost_model.serial_costs(incarnations))
    parts = cost_model.split(incarnations)

    bound = DependencyBound(incarnations, parts, threads, cost_model.SCHEDULE,
                            cost_model.COLD_LOAD, cost_model.serialized(incarnations))

    tail = cost_model.tail(incarnations)

    def makespan(changed) -> float:
        return min(bound.makespan(changed) + tail, serial_time)

    real_oracle = best_plan(true_dependencies(incarnations), incarnations, cost_model,
                            threads, block)[0]

    def oracle(graph) -> float:
        # The real schedule stays valid when edges go, so the better of the two is
        # reachable (greedy list scheduling alone can get worse on fewer edges).
        planned = best_plan(true_dependencies(graph), incarnations, cost_model,
                            threads, block)[0]
        return min(planned, real_oracle)

    conflicts = sorted(metrics.conflict_locations(),
                       key=lambda location: (-metrics.abort_locations[location]
                                             - metrics.suspension_locations[location],
                                             repr(location)))
    analysed = what_if(incarnations, serial_time, makespan, conflicts,
                       oracle=oracle if oracle_what_if else None)
    baseline = serial_time / makespan(None) if makespan(None) else 1.0
    return {
        "conflicts": metrics.conflicts(namer.labels, names=namer.derived_names(conflicts)),
        "whatif": {
            # the true graph's bound, what each location's is set against (a run's own
            # bound may differ: bal's has no dependencies)
            "dependency_bound": serial_time / makespan({}) if makespan({}) else 1.0,
            "oracle_speedup": serial_time / real_oracle if real_oracle else 1.0,
            "locations": [{
                "name": namer.group_name(w.locations),
                "names": [namer.name(location) for location in w.locations],
                "location": " + ".join(describe(location) for location in w.locations),
                "edges": w.edges,
                "conflicts": sum(metrics.abort_locations[location]
                                 + metrics.suspension_locations[location]
                                 for location in w.locations),
                "bound_if_removed": w.removed, "bound_as_deltas": w.delta,
                **({"oracle_if_removed": w.oracle_removed} if oracle_what_if else {}),
            } for w in analysed],
            # the bound is the total work over the workers, not a chain of dependencies
            "work_bound": bound.floor >= makespan(None) or serial_time <= makespan(None),
            "together": [{
                "k": k, "names": [namer.name(location) for location in w.locations],
                "edges": w.edges, "bound_if_removed": w.removed, "bound_as_deltas": w.delta,
            } for k, w in zip(TOGETHER, together(incarnations, serial_time, makespan,
                                                 analysed))],
            "ties": [{"ranks": [index + 1 for index in tie.entries],
                      "shared_edges": tie.shared_edges, "edges": tie.edges,
                      "bound_if_removed_together": tie.removed_together}
                     for tie in ties(incarnations, serial_time, makespan, analysed,
                                     baseline)],
        },
        "reexecuted": _reexecuted(metrics, len(incarnations), namer),
    }


def _reexecuted(metrics, size: int, namer) -> list:
    executions = metrics.executions_per_tx(size)
    ranked = sorted((tx for tx in range(size) if executions[tx] > 1),
                    key=lambda tx: (-executions[tx], tx))[:TOP_TRANSACTIONS]
    return [{"tx": tx, "executions": executions[tx],
             "forced_by": [{"name": namer.name(location), "count": count}
                           for location, count in sorted(
                               metrics.tx_conflicts.get(tx, Counter()).items(),
                               key=lambda kv: (-kv[1], repr(kv[0])))]}
            for tx in ranked]
