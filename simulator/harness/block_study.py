"""The report's block study: when a sweep ran many recorded blocks (a suite entry
with `blocks = "all"`, or a list of `block` values), how the speedup is distributed
over them.

    a per-block table     txs, gas, the dependency bound and each strategy's speedup
                          at the focus threads, and the check against the real header
    block_speedups chart  a histogram of the focus strategy's speedup over blocks and
                          the cumulative distribution of every strategy's and of the
                          dependency bound
    worst and best        the blocks with the lowest and highest focus speedup, with the
                          locations behind most of their aborts and suspensions

A setting is a recorded block when its parameters include `block` (the mainnet
source's, for the vendored set and for directories `pevmsim fetch` wrote). The study
appears with two or more such settings, in block order.
"""

from __future__ import annotations

import statistics

import matplotlib.pyplot as plt
from matplotlib.ticker import MaxNLocator

from .charts import Charts, Data, num, shorten

EXTREMES = 3  # worst and best blocks shown
TOP_CONFLICTS = 3  # locations shown per extreme block


def block_sections(d: Data, charts: Charts) -> list:
    """Report parts (see report._sections) for the recorded blocks of a sweep."""
    settings = sorted((s for s in d.settings if "block" in dict(s[1])),
                      key=lambda s: (dict(s[1]).get("dir", ""), dict(s[1])["block"], s))
    if len(settings) < 2:
        return []
    names = _block_names(settings)
    focus = {s: d.mean(s, d.focus_strategy, d.focus_threads, "virtual_speedup") for s in settings}
    ranked = sorted((s for s in settings if focus[s] is not None),
                    key=lambda s: (focus[s], names[s]))
    values = [focus[s] for s in ranked]
    chart = _distribution_chart(d, charts, settings)
    parts = [("h", 2, f"Speedup over {len(settings)} recorded blocks"),
             ("p", f"{d.focus_strategy} at {d.focus_threads} threads: median "
                   f"{statistics.median(values):.2f}x, mean {statistics.mean(values):.2f}x, "
                   f"from {values[0]:.2f}x (block {names[ranked[0]]}) to {values[-1]:.2f}x "
                   f"(block {names[ranked[-1]]})."),
             ("img", chart, "speedup distribution over blocks"),
             ("table", ["block", "txs", "Mgas", "dependency bound"] + d.strategies
              + ["executions per tx", "real header"],
              [[names[s], str(s[2]), f"{_first(d, s, 'gas_used') / 1e6:.1f}",
                num(d.mean(s, d.focus_strategy, d.focus_threads, "virtual_speedup_bound"))]
               + [num(d.mean(s, strategy, d.focus_threads, "virtual_speedup"))
                  for strategy in d.strategies]
               + [num(d.mean(s, d.focus_strategy, d.focus_threads, "executions_per_tx")),
                  _header(d, s)] for s in settings]),
             ("p", f"Speedups at {d.focus_threads} threads (x, virtual time, "
                   f"{d.model_text}; {d.over_seeds(settings)}). Real header: "
                   "the block's gas against the header's gasUsed and, from Byzantium on, "
                   "its receipts against the receiptsRoot.")]
    count = min(EXTREMES, len(ranked) // 2)
    for title, chosen in (("Worst", ranked[:count]), ("Best", ranked[::-1][:count])):
        parts.append(("h", 3, f"{title} blocks and their top conflicts"))
        for s in chosen:
            conflicts = d.conflicts(s)[:TOP_CONFLICTS]
            parts.append(("p", f"Block {names[s]} ({s[2]} txs): {focus[s]:.2f}x, dependency "
                               f"bound {num(d.mean(s, d.focus_strategy, d.focus_threads, 'virtual_speedup_bound'))}x"
                               + ("" if conflicts else "; no conflicts.")))
            if conflicts:
                parts.append(("table", ["name", "location", "re-executions", "suspensions"],
                              [[e["label"] or "-", shorten(e["location"]),
                                str(e["reexecutions"]), str(e["suspensions"])]
                               for e in conflicts]))
    return parts


def _block_names(settings: list) -> dict:
    """'15537394', or 'DIR:15537394' when blocks come from several directories."""
    params = {s: dict(s[1]) for s in settings}
    several = len({p.get("dir", "") for p in params.values()}) > 1
    return {s: (f"{params[s].get('dir') or 'vendored'}:" if several else "")
            + str(params[s]["block"]) for s in settings}


def _first(d: Data, setting, key: str):
    return d.groups[setting][0][key]


def _header(d: Data, setting) -> str:
    checks = [row.get("header_check") for row in d.groups[setting]]
    if not all(checks):
        return "-"
    if any(False in check.values() for check in checks):
        return "DIFFERS"
    return "matches" if all(check["receipts_root"] for check in checks) else "gas matches"


def _distribution_chart(d: Data, charts: Charts, settings: list) -> str:
    figure, (histogram, cdf) = plt.subplots(1, 2, figsize=(11, 4.2))
    focus = [v for v in (d.mean(s, d.focus_strategy, d.focus_threads, "virtual_speedup")
                         for s in settings) if v is not None]
    histogram.hist(focus, bins=min(max(len(focus) // 3, 5), 30),
                   color=d.strategy_colour(d.focus_strategy), edgecolor="white")
    histogram.yaxis.set_major_locator(MaxNLocator(integer=True))
    histogram.set(title=f"{d.focus_strategy} at {d.focus_threads} threads",
                  xlabel="speedup over serial (x, virtual time)", ylabel="blocks")
    series = [(strategy, "virtual_speedup", d.strategy_colour(strategy), "-")
              for strategy in d.strategies]
    series.append((d.focus_strategy, "virtual_speedup_bound", "black", ":"))
    for strategy, key, colour, style in series:
        values = sorted(v for v in (d.mean(s, strategy, d.focus_threads, key)
                                    for s in settings) if v is not None)
        shares = [i / len(values) for i in range(len(values) + 1)]
        cdf.step(values[:1] + values, shares, where="post", color=colour, ls=style,
                 label="dependency bound" if key == "virtual_speedup_bound" else strategy)
    cdf.set(title=f"Cumulative distribution over {len(settings)} blocks",
            xlabel="speedup over serial (x)", ylabel="share of blocks at or below",
            ylim=(0, 1.02))
    cdf.legend(fontsize=7, frameon=False)
    figure.suptitle(f"Speedup distribution over recorded blocks ({d.suite} suite, "
                    f"{d.model_text})")
    figure.tight_layout()
    return charts.save(figure, "block_speedups")
