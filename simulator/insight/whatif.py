"""What-if: what fixing one hot location would buy, as the dependency bound says.

The dependency graph of a block comes from its final incarnations: transaction i depends
on the writers of every version it read (metrics.dependency_bound). Each location
induces the edges of the reads of it; for a candidate location L this module feeds the
dependency bound (metrics.DependencyBound, which recomputes only what a rewrite
changes) a graph rewritten two ways:

    removed  as if L did not conflict: every read of L is dropped, so the edges that
             only L induced disappear (an edge another location also induces stays);
    delta    as if L's read-modify-writes were commutative deltas, like the lazy
             coinbase credit: a transaction that reads and writes L no longer reads it;
             a transaction that only reads L still needs its value, so it depends on
             every delta below it back to the latest plain write of L (one that did
             not read L first), or to the block's start.

Locations that induce exactly the same edges (a pair's two reserves and its balances
in both tokens, written by every swap) are also analysed together, since removing one
alone buys nothing, and so are an account's balance and nonce (one sender's
transactions are chained by both).

Both rewrites only drop edges or replace an edge to the latest writer of L by edges to
the writers below it on one chain of read-modify-writes, each of which the latest
writer itself waited for; so a what-if makespan is never longer than the real one: a
what-if bound (speedup) is never below the real bound. Candidates are the locations
that induce the most edges plus the run's conflict locations; they are ranked by their
`removed` bound, best first.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import Enum

from ..engine.locations import BALANCE, NONCE
from ..engine.mv_memory import version_writers

CANDIDATES = 12  # locations with the most induced edges that are always analysed


class Rewrite(Enum):
    REMOVED = "removed"
    DELTA = "delta"


@dataclass(frozen=True)
class WhatIf:
    locations: tuple  # one location, or an account's balance and nonce
    edges: int  # dependency edges the locations induce in the real graph
    removed: float  # speedup bound without its conflicts
    delta: float  # speedup bound with its writes as commutative deltas
    oracle_removed: float | None = None  # the oracle's speedup without its conflicts


def induced_edges(incarnations) -> dict:
    """location -> the set of (writer, reader) dependency edges its reads induce."""
    edges: dict = {}
    for reader, incarnation in enumerate(incarnations):
        for location, version in incarnation.reads.items():
            for writer in version_writers(version):
                edges.setdefault(location, set()).add((writer, reader))
    return edges


def touching(incarnations) -> dict:
    """location -> the transactions that read or write it, in block order."""
    txs: dict = {}
    for tx, incarnation in enumerate(incarnations):
        for location in {*incarnation.reads, *incarnation.writes, *incarnation.deltas}:
            txs.setdefault(location, []).append(tx)
    return txs


def rewritten_reads(incarnations, locations, how: Rewrite, txs: dict) -> dict:
    """tx -> its read set with the reads of `locations` rewritten (see the docstring),
    for the transactions whose reads change; `txs` is `touching(incarnations)`. Added
    dependencies are reads of a ("what-if", location, writer) key at the writer's
    version."""
    chains: dict = {location: [] for location in locations}  # writers back to a plain write
    changed = {}
    for tx in sorted({tx for location in locations for tx in txs.get(location, ())}):
        incarnation = incarnations[tx]
        reads = None
        for location, chain in chains.items():
            reads_it = location in incarnation.reads
            writes_it = location in incarnation.writes or location in incarnation.deltas
            if reads_it:
                reads = dict(incarnation.reads) if reads is None else reads
                del reads[location]
                if how is Rewrite.DELTA and not writes_it:
                    reads.update({("what-if", location, writer): (writer, 0)
                                  for writer in chain})
            if writes_it:
                plain = location in incarnation.writes and not reads_it
                chains[location] = [tx] if plain else chain + [tx]
        if reads is not None:
            changed[tx] = reads
    return changed


def rewrite(incarnations, locations, how: Rewrite) -> list:
    """The incarnations with the reads of `locations` rewritten (rewritten_reads); the
    others are returned as they are."""
    changed = rewritten_reads(incarnations, locations, how, touching(incarnations))
    return [replace(incarnation, reads=changed[tx]) if tx in changed else incarnation
            for tx, incarnation in enumerate(incarnations)]


def what_if(incarnations, serial_time: float, makespan, conflicts, limit: int = 10,
            oracle=None) -> list:
    """The `limit` best WhatIfs over the candidate locations. `makespan(changed)` is
    the dependency bound's makespan of the graph with the read sets of `changed` (tx ->
    reads) replaced; `conflicts` the run's conflict locations (most first);
    `oracle(incarnations)`, when given, the oracle's makespan (computed for the `limit`
    best only)."""
    edges = induced_edges(incarnations)
    txs = touching(incarnations)
    ranked = sorted(edges, key=lambda location: (-len(edges[location]), repr(location)))
    singles = ranked[:CANDIDATES]
    singles += [location for location in conflicts if location not in singles]
    candidates = [(location,) for location in singles]
    same_edges: dict = {}
    for location in ranked:
        same_edges.setdefault(frozenset(edges[location]), []).append(location)
    for location in singles:
        group = tuple(same_edges.get(frozenset(edges.get(location, ())), ()))
        if len(group) > 1 and group not in candidates:
            candidates.append(group)
        account = ((BALANCE, location[1]), (NONCE, location[1]))
        if location[0] == NONCE and account[0] in singles and account not in candidates:
            candidates.append(account)
    results = [_analysed(incarnations, serial_time, makespan, group, (edges, txs))
               for group in candidates]
    results.sort(key=lambda w: (-w.removed, -w.delta, -w.edges, repr(w.locations)))
    if oracle is None:
        return results[:limit]
    return [replace(w, oracle_removed=_speedup(serial_time, oracle(
        rewrite(incarnations, w.locations, Rewrite.REMOVED)))) for w in results[:limit]]


def _analysed(incarnations, serial_time: float, makespan, group: tuple, indexes) -> WhatIf:
    """The WhatIf of the locations `group`; `indexes` is (induced_edges, touching) of
    the incarnations."""
    edges, txs = indexes
    return WhatIf(
        locations=group, edges=len(set().union(*(edges.get(l, ()) for l in group))),
        removed=_speedup(serial_time, makespan(rewritten_reads(
            incarnations, group, Rewrite.REMOVED, txs))),
        delta=_speedup(serial_time, makespan(rewritten_reads(
            incarnations, group, Rewrite.DELTA, txs))))


def _speedup(serial_time: float, makespan: float) -> float:
    return serial_time / makespan if makespan else 1.0


TOGETHER = (2, 3, 5)  # how many of the best locations `together` removes at once


def together(incarnations, serial_time: float, makespan, ranked: list,
             sizes=TOGETHER) -> list:
    """What fixing the top k entries of `ranked` (WhatIfs, best first) at once would
    buy, for each k of `sizes` that many distinct entries allow: WhatIfs over the union
    of their locations (an entry whose locations are all among the better ones adds
    nothing and is passed over). A bound of several locations removed is never below
    the bound of any one of them removed alone (fewer edges)."""
    txs = touching(incarnations)
    edges = induced_edges(incarnations)
    chosen: list = []
    for entry in ranked:
        if not set(entry.locations) <= {l for w in chosen for l in w.locations}:
            chosen.append(entry)
    found = []
    for k in sizes:
        if k > len(chosen):
            break
        group = tuple(dict.fromkeys(l for w in chosen[:k] for l in w.locations))
        found.append(_analysed(incarnations, serial_time, makespan, group, (edges, txs)))
    return found


@dataclass(frozen=True)
class Tie:
    """Entries of the ranking whose bound, each removed alone, is the same."""
    entries: tuple  # indexes into the ranking
    shared_edges: int  # dependency edges every one of them induces
    edges: int  # edges any of them induces
    removed_together: float  # the bound with all of them removed at once


def ties(incarnations, serial_time: float, makespan, ranked: list, baseline: float,
         digits: int = 2) -> list:
    """Groups of two or more entries of `ranked` that gain the same (to `digits`
    decimals) over `baseline` (the real bound): what they share, and what removing
    them together buys. Removing any one of them leaves the block's longest chain of
    dependencies the same length; the shared edges say how much of that chain they
    have in common, the joint removal whether the others then set it."""
    edges = induced_edges(incarnations)
    txs = touching(incarnations)
    groups: dict = {}
    for index, entry in enumerate(ranked):
        if round(entry.removed, digits) > round(baseline, digits):
            groups.setdefault(round(entry.removed, digits), []).append(index)
    found = []
    for indexes in groups.values():
        if len(indexes) < 2:
            continue
        sets = [set().union(*(edges.get(l, ()) for l in ranked[i].locations))
                for i in indexes]
        group = tuple(dict.fromkeys(l for i in indexes for l in ranked[i].locations))
        found.append(Tie(tuple(indexes), len(set.intersection(*sets)), len(set.union(*sets)),
                         _speedup(serial_time, makespan(rewritten_reads(
                             incarnations, group, Rewrite.REMOVED, txs)))))
    return found
