"""What-if: what fixing one hot location would buy, as the dependency bound says.

The dependency graph of a block comes from its final incarnations: transaction i depends
on the writers of every version it read (metrics.dependency_bound). Each location
induces the edges of the reads of it; for a candidate location L this module feeds the
existing bound function a graph rewritten two ways:

    removed  as if L did not conflict: every read of L is dropped, so the edges that
             only L induced disappear (an edge another location also induces stays);
    delta    as if L's read-modify-writes were commutative deltas, like the lazy
             coinbase credit: a transaction that reads and writes L no longer reads it;
             a transaction that only reads L still needs its value, so it depends on
             every delta below it back to the latest plain write of L (one that did
             not read L first), or to the block's start.

Both rewrites only drop edges or replace an edge to the latest writer of L by edges to
the writers below it on one chain of read-modify-writes, each of which the latest
writer itself waited for; so a what-if makespan is never longer than the real one: a
what-if bound (speedup) is never below the real bound. Candidates are the locations
that induce the most edges plus the run's conflict locations; they are ranked by their
`removed` bound, best first.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, replace
from enum import Enum

from .mv_memory import version_writers

CANDIDATES = 12  # locations with the most induced edges that are always analysed


class Rewrite(Enum):
    REMOVED = "removed"
    DELTA = "delta"


@dataclass(frozen=True)
class WhatIf:
    location: tuple
    edges: int  # dependency edges the location induces in the real graph
    removed: float  # speedup bound without its conflicts
    delta: float  # speedup bound with its writes as commutative deltas
    oracle_removed: float | None = None  # the oracle's speedup without its conflicts


def induced_edges(incarnations) -> Counter:
    """location -> the number of (reader, writer) dependency edges its reads induce."""
    edges: Counter = Counter()
    for incarnation in incarnations:
        for location, version in incarnation.reads.items():
            writers = version_writers(version)
            if writers:
                edges[location] += len(writers)
    return edges


def rewrite(incarnations, location, how: Rewrite) -> list:
    """The incarnations with the reads of `location` rewritten (see the docstring); the
    others are returned as they are. Added dependencies are reads of a
    ("what-if", location, writer) key at the writer's version."""
    chain: list = []  # writers of `location` so far, back to the latest plain write
    rewritten = []
    for tx, incarnation in enumerate(incarnations):
        reads_it = location in incarnation.reads
        writes_it = location in incarnation.writes or location in incarnation.deltas
        if reads_it:
            reads = dict(incarnation.reads)
            del reads[location]
            if how is Rewrite.DELTA and not writes_it:
                reads.update({("what-if", location, writer): (writer, 0) for writer in chain})
            incarnation = replace(incarnation, reads=reads)
        rewritten.append(incarnation)
        if writes_it:
            plain = location in incarnation.writes and not reads_it
            chain = [tx] if plain else chain + [tx]
    return rewritten


def what_if(incarnations, serial_time: float, makespan, conflicts, limit: int = 10,
            oracle=None) -> list:
    """The `limit` best WhatIfs over the candidate locations. `makespan(incarnations)`
    is the dependency bound's makespan of a graph; `conflicts` the run's conflict
    locations (most first); `oracle(incarnations)`, when given, the oracle's makespan."""
    edges = induced_edges(incarnations)
    candidates = [location for location, _ in
                  sorted(edges.items(), key=lambda kv: (-kv[1], repr(kv[0])))[:CANDIDATES]]
    candidates += [location for location in conflicts if location not in candidates]
    results = []
    for location in candidates:
        removed = rewrite(incarnations, location, Rewrite.REMOVED)
        results.append(WhatIf(
            location=location, edges=edges[location],
            removed=_speedup(serial_time, makespan(removed)),
            delta=_speedup(serial_time, makespan(rewrite(incarnations, location,
                                                         Rewrite.DELTA))),
            oracle_removed=None if oracle is None else _speedup(serial_time, oracle(removed))))
    results.sort(key=lambda w: (-w.removed, -w.delta, -w.edges, repr(w.location)))
    return results[:limit]


def _speedup(serial_time: float, makespan: float) -> float:
    return serial_time / makespan if makespan else 1.0
