"""Who wins at each thread count: the strategy x threads matrix of one block (`pevmsim
compare` with several --threads, and each setting of `pevmsim report`), and where the
dependency bound saturates.

    matrix(rows)      strategies (rows, in order of first appearance) x thread counts
                      (columns, ascending): the virtual speedup of each; `serial` once,
                      as one row (it runs on one worker whatever the count);
                      the dependency bound as the last row; the best strategy of each
                      column marked (ties at the printed precision all marked)
    saturation(...)   the thread count after which more workers raise the bound by
                      less than SATURATION (5%), up to the largest count run

Invariants: every column has at least one marked cell; a cell is a row's figure
rounded for display, never recomputed; the bound row is never marked.
"""

from __future__ import annotations

from dataclasses import dataclass

from .. import debug

SATURATION = 0.05  # more workers buying less than this share of the bound: saturated
SERIAL = "serial"


@dataclass(frozen=True)
class Matrix:
    threads: tuple  # column thread counts, ascending
    strategies: tuple  # row names, serial (if run) first as given
    speedup: dict  # (strategy, threads) -> value (a row's figure), serial under threads[0]
    spread: dict  # (strategy, threads) -> (min, max) when repeats or seeds differ
    bound: dict  # threads -> dependency bound
    winners: dict  # threads -> tuple of the strategies marked best

    def cell(self, strategy: str, threads: int) -> float | None:
        if strategy == SERIAL:
            return self.speedup.get((SERIAL, self.threads[0]))
        return self.speedup.get((strategy, threads))


def matrix(rows: list, value: str = "virtual_speedup") -> Matrix:
    """The matrix of summary rows of one block (one row per strategy and count)."""
    threads = tuple(sorted({row["threads"] for row in rows}))
    strategies = tuple(dict.fromkeys(row["strategy"] for row in rows))
    speedup, spread, bound = {}, {}, {}
    for row in rows:
        key = (row["strategy"], threads[0] if row["strategy"] == SERIAL else row["threads"])
        speedup.setdefault(key, row[value])
        low, high = row.get(f"{value}_min"), row.get(f"{value}_max")
        if low is not None and high is not None and low != high:
            spread.setdefault(key, (low, high))
        if row["strategy"] != SERIAL:
            bound.setdefault(row["threads"], row["virtual_speedup_bound"])
    built = Matrix(threads, strategies, speedup, spread, bound, {})
    winners = {}
    for count in threads:
        values = {s: built.cell(s, count) for s in strategies}
        values = {s: v for s, v in values.items() if v is not None}
        if values:
            best = max(round(v, 2) for v in values.values())
            winners[count] = tuple(s for s, v in values.items() if round(v, 2) == best)
    if debug.ENABLED:
        debug.check(all(winners.get(count) for count in threads if any(
            built.cell(s, count) is not None for s in strategies)),
            lambda: f"a column without a marked best: {winners}")
    return Matrix(threads, strategies, speedup, spread, bound, winners)


def saturation(threads, bounds) -> int | None:
    """The lowest thread count from which the bound grows by less than SATURATION up to
    the largest count, if that is not already the largest count (else None)."""
    pairs = [(t, b) for t, b in zip(threads, bounds) if b is not None]
    if len(pairs) < 2:
        return None
    top = pairs[-1][1]
    for count, value in pairs[:-1]:
        if top < value * (1 + SATURATION):
            return count
    return None


def saturation_note(threads, bounds, what: str = "the dependency bound") -> str | None:
    """'saturation: ...' when the bound stops growing before the largest count."""
    count = saturation(threads, bounds)
    if count is None:
        return None
    values = dict(zip(threads, bounds))
    top = max(threads)
    return (f"saturation: {what} grows less than {SATURATION:.0%} beyond {count} workers "
            f"({values[count]:.2f}x at {count}, {values[top]:.2f}x at {top}): more "
            "workers buy (almost) nothing on this block")


def cells(m: Matrix, mark: str = "*") -> list:
    """The matrix as rows of text cells: a header, a row per strategy (a winner's cell
    ends in `mark`, others in a space), the bound."""
    def text(strategy, count):
        value = m.cell(strategy, count)
        if value is None:
            return "-"
        key = (strategy, m.threads[0] if strategy == SERIAL else count)
        cell = f"{value:.2f}"
        if key in m.spread:
            low, high = m.spread[key]
            cell += f" ({low:.2f}-{high:.2f})"
        return cell + (mark if strategy in m.winners.get(count, ()) else " ")

    header = ["strategy"] + [f"{count} workers" for count in m.threads]
    body = [[s + (" (1 worker)" if s == SERIAL else "")]
            + [text(s, count) for count in m.threads] for s in m.strategies]
    bound = ["dependency bound"] + [f"{m.bound[c]:.2f} " if c in m.bound else "-"
                                    for c in m.threads]
    return [header] + body + [bound]


def format_matrix(m: Matrix, mark: str = "*") -> list:
    """The matrix as aligned text lines (cells())."""
    table = cells(m, mark)
    widths = [max(len(row[i]) for row in table) for i in range(len(table[0]))]
    return ["  ".join(cell.ljust(w) if i == 0 else cell.rjust(w)
                      for i, (cell, w) in enumerate(zip(row, widths))).rstrip()
            for row in table]
