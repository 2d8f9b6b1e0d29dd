"""The report: a results directory -> charts (PNG + SVG) and report.md / report.html.

Rows are grouped into settings (workload, parameters, txs, cost model, lazy
beneficiary), averaged over seeds. A setting is named by its workload plus whatever
varies between that workload's settings ("defi (hot_ratio=0.5)"), and a workload's
settings are ordered from low to high contention by their dependency bound (the best
speedup any scheduler could reach), so no workload has to say which parameter is its
contention knob.

Charts (DIR/charts/NAME.png and .svg):
    overview      the focus strategy's speedup vs threads, one line per setting (but the
                  SSD twins of the storage_tiers chart)
    speedup       per setting: every strategy, the ideal line and the dependency bound
    throughput    tx/s and Mgas/s (virtual time) vs contention at the focus threads
    executions    executions per tx vs threads, and the causes of wasted executions
    conflicts     the storage slots and accounts behind the most re-executions / suspensions
    storage_tiers with settings run under both `gas` (state in memory) and `gas-disk`
                  (state on an SSD): the focus strategy's speedup under each tier
    real_parallel with rows run on the processes backend: per such setting, each
                  strategy's real speedup (solid) and its simulated prediction (dashed)
                  against real worker processes; these settings stay out of every
                  other chart, whose figures are all virtual
    whatif        per setting, the dependency bound if its top locations did not conflict
    timeline_W    per workload W: the schedule of one run and executions per tx index
    block_speedups  with several recorded blocks: the speedup distribution over them
                  (block_study.py, with the per-block table and worst and best blocks)
    bal_sizes     with several recorded blocks: each one's EIP-7928 access list size
                  against its gas used (block_study.py)

Rows that do not match serial execution are flagged at the top of both reports.
`report(out, readme=PATH)` also rewrites the figures paragraph between README_BEGIN and
README_END in that file, so the README quotes this report and nothing copied by hand.
"""

from __future__ import annotations

import html
import json
from collections import defaultdict
from pathlib import Path

from .charts import PALETTE, Charts, Data, num, shorten  # first: it picks matplotlib's backend

import matplotlib.pyplot as plt  # noqa: E402

from ..insight.naming import abbreviate  # noqa: E402
from .block_study import block_sections  # noqa: E402
from .sweep import META, TIMELINES, read_results  # noqa: E402

README_BEGIN = "<!-- pevmsim report: figures begin -->"
README_END = "<!-- pevmsim report: figures end -->"


class ReportError(Exception):
    """The directory holds no sweep results."""


def report(out: Path, readme: Path | None = None) -> list:
    """Write the charts, report.md and report.html (and the figures paragraph of
    `readme`, between its markers); returns the paths written."""
    out = Path(out)
    if not (out / META).exists() or not (out / "results.jsonl").exists():
        raise ReportError(f"{out} holds no sweep results (results.jsonl and meta.json); "
                          "run `pevmsim sweep SUITE --out DIR` first")
    meta = json.loads((out / META).read_text())
    rows = read_results(out)
    if not rows:
        raise ReportError(f"{out}/results.jsonl is empty; run the sweep first")
    data = Data(rows, meta)
    charts = Charts(out / "charts", data)
    sections = _sections(data, charts, out)
    written = charts.written + [out / "report.md", out / "report.html"]
    (out / "report.md").write_text(to_markdown(sections))
    (out / "report.html").write_text(to_html(sections, f"pevmsim report: {data.suite}"))
    if readme is not None:
        update_readme(Path(readme), data, out)
        written.append(Path(readme))
    return written


def update_readme(readme: Path, d: "Data", out: Path) -> None:
    """Replace the text between README_BEGIN and README_END with `summary(d)`."""
    text = readme.read_text()
    if README_BEGIN not in text or README_END not in text:
        raise ReportError(f"{readme} has no {README_BEGIN} ... {README_END} section")
    head, rest = text.split(README_BEGIN, 1)
    _, tail = rest.split(README_END, 1)
    readme.write_text(f"{head}{README_BEGIN}\n{summary(d, out)}\n{README_END}{tail}")


def summary(d: "Data", out: Path) -> str:
    """The headline figures: the focus strategy at low and high contention, and the
    range of every other strategy, at the focus thread count."""
    def values(strategy, settings):
        return [v for v in (d.mean(s, strategy, d.focus_threads, "virtual_speedup")
                            for s in settings) if v is not None]

    def span(numbers):
        low, high = min(numbers), max(numbers)
        return f"{low:.1f}x" if f"{low:.1f}" == f"{high:.1f}" else f"{low:.1f}-{high:.1f}x"

    memory = [s for s in d.settings if s[3] != "gas-disk"]
    per_workload = defaultdict(list)
    for setting in memory:
        per_workload[setting[0]].append(setting)
    low = [settings[0] for settings in per_workload.values()]
    high = [settings[-1] for settings in per_workload.values() if len(settings) > 1]
    txs = sorted({s[2] for s in memory})
    lines = [f"From [the {d.suite} report]({out.as_posix()}/report.md) "
             f"({len(d.rows)} runs, {len(d.rows) - len(d.bad)} matching serial py-evm "
             f"exactly): on {'/'.join(map(str, txs))}-transaction blocks at "
             f"{d.focus_threads} virtual workers, {d.focus_strategy} reaches "
             f"{span(values(d.focus_strategy, low))} at low contention"
             + (f" and {span(values(d.focus_strategy, high))} at high contention"
                if high else "") + "."]
    others = [f"{strategy} {span(values(strategy, memory))}"
              for strategy in d.strategies
              if strategy not in (d.focus_strategy, "serial") and values(strategy, memory)]
    if others:
        lines.append(f"Over the same settings: {', '.join(others)}.")
    disk = [s for s in d.settings if s[3] == "gas-disk"]
    if disk:
        lines.append(f"With state on an SSD (`gas-disk`), {d.focus_strategy} reaches "
                     f"{span(values(d.focus_strategy, disk))} on "
                     f"{', '.join(d.labels[s] for s in disk)}.")
    return " ".join(lines)


def _sections(d: Data, charts: Charts, out: Path) -> list:
    """The report as a list of parts: ("h", level, text), ("p", text), ("alert",
    text), ("table", header, rows), ("img", chart name, alt text)."""
    meta = d.meta
    parts = [("h", 1, f"pevmsim benchmark report: {d.suite} suite")]
    if meta["suite"].get("description"):
        parts.append(("p", meta["suite"]["description"]))
    if d.bad:
        parts.append(("alert", f"{len(d.bad)} OF {len(d.rows)} RUNS DO NOT MATCH SERIAL "
                               "EXECUTION. Their numbers are wrong; see the table below."))
        parts.append(("table", ["configuration", "problem"],
                      [[row["key"], "; ".join(row["mismatches"])] for row in d.bad]))
    else:
        parts.append(("p", f"All {len(d.rows)} runs match stock serial py-evm execution "
                           "(post-state, every receipt, block gas and state root)."))
    parts += _method_sections()
    parts.append(("p", f"{len(d.settings)} block settings, strategies "
                       f"{', '.join(d.strategies)}, threads "
                       f"{', '.join(map(str, d.threads))}; speedups are in virtual time "
                       f"under the cost model; the focus configuration is "
                       f"{d.focus_strategy} at {d.focus_threads} threads. Environment: "
                       f"pevmsim {meta['pevmsim']} ({meta['git_commit'] or 'no git'}), "
                       f"py-evm {meta['py_evm']}, Python {meta['python']}, "
                       f"{meta['cpu_model']} x {meta['cpu_count']}."))

    parts += [("h", 2, "Speedup"), ("img", "overview", "speedup overview"),
              ("table", ["setting", "txs", "dependency bound"] + d.strategies,
               [[d.labels[s], str(s[2]), num(d.mean(s, d.focus_strategy, d.focus_threads,
                                                     "virtual_speedup_bound"))]
                + [num(d.mean(s, strategy, d.focus_threads, "virtual_speedup"))
                   for strategy in d.strategies] for s in d.settings]),
              ("p", f"Speedup at {d.focus_threads} threads (x, mean over seeds). The "
                    "dependency bound is the best any scheduler could do on this block "
                    "under the same cost model: each transaction executed exactly once, "
                    "after the transactions whose writes it reads and no earlier than one "
                    "cold load (any workers may load its state from the start), on this "
                    "many workers (or sequentially, if that is faster); it ignores "
                    "validation and re-execution costs, so it is optimistic. `bal`, "
                    "whose block access list removes every dependency, can exceed it: "
                    "its own bound is the same arithmetic without dependencies."),
              *_access_list_section(d),
              ("img", "speedup", "speedup per setting"),
              ("h", 2, "Throughput vs contention"), ("img", "throughput", "throughput"),
              *_tier_sections(d), *_real_sections(d),
              ("h", 2, "Executions and aborts"), ("img", "executions", "executions")]

    parts += block_sections(d, charts)
    parts += [("h", 2, "Conflict explainer"),
              ("p", f"The locations whose writes caused the most aborts and suspensions "
                    f"under {d.focus_strategy} at {d.focus_threads} threads, summed over "
                    "seeds."),
              ("img", "conflicts", "conflicts")]
    for setting in d.settings:
        top = d.conflicts(setting)[:5]
        if top:
            parts += [("h", 3, d.labels[setting]),
                      ("table", ["name", "location", "re-executions", "suspensions"],
                       [[e["label"] or "-", shorten(e["location"]), str(e["reexecutions"]),
                         str(e["suspensions"])] for e in top])]

    parts += whatif_section(d, charts)
    parts.append(("h", 2, "Schedule timelines"))
    for path in sorted((out / TIMELINES).glob("*.json")):
        timeline = json.loads(path.read_text())
        name = charts.timeline(timeline, path.stem)
        parts += [("p", f"{timeline['workload']}: the run where {timeline['strategy']} at "
                        f"{timeline['threads']} threads re-executed most "
                        f"({timeline['score']} aborts + suspensions). Blue: first "
                        "executions, red: re-executions, orange: suspended executions, "
                        "green: validations, black: failed validations."),
                  ("img", name, f"timeline {timeline['workload']}")]
    return parts


def _access_list_section(d: Data) -> list:
    """Each setting's EIP-7928 block access list beside its block (rows written before
    the figures existed leave the section out)."""
    rows = [[d.labels[s], str(s[2])] + [f"{value:,.0f}" for value in values]
            for s in d.settings
            if None not in (values := [d.groups[s][0].get(key) for key in (
                "block_tx_bytes", "bal_bytes", "bal_bytes_per_tx", "bal_no_reads_bytes",
                "bal_items")])]
    if not rows:
        return []
    return [("h", 2, "Block-level access lists (EIP-7928)"),
            ("table", ["setting", "txs", "transactions (bytes)", "access list (bytes)",
                       "per tx", "without storage reads", "items"], rows),
            ("p", "Each block's access list as the `bal` strategy receives it: every "
                  "account and slot its transactions access, with the post-value of "
                  "everything they change, RLP-encoded (simulator/chain/bal.py); the "
                  "same whatever strategy ran the block. Items: what EIP-7928 caps at "
                  "gas_limit / 2000.")]


def _tier_sections(d: Data) -> list:
    if not d.tier_pairs():
        return []
    return [("h", 2, "Storage tier"),
            ("p", "The same blocks with state read from memory (`gas`) and from an SSD "
                  "(`gas-disk`: a cold load costs 80 µs). Loading state dominates on "
                  "disk, and loads of different transactions overlap, so parallel "
                  "execution gains more there."),
            ("img", "storage_tiers", "storage tiers")]


def _real_sections(d: Data) -> list:
    if not d.real_settings:
        return []
    rows = [[d.labels[setting], strategy, str(threads), num(real), num(engine),
             num(predicted), f"{predicted / real - 1:+.0%}"]
            for setting in d.real_settings for strategy in d.strategies
            for threads in d.threads
            for real, engine, predicted in [
                (d.mean(setting, strategy, threads, "real_speedup"),
                 d.mean(setting, strategy, threads, "real_engine_speedup"),
                 d.mean(setting, strategy, threads, "virtual_speedup"))]
            if real is not None]
    return [("h", 2, "Real parallel execution"),
            ("p", "Settings run on the processes backend: the strategies on real worker "
                  "processes, timed by the wall clock against stock serial py-evm on the "
                  "same block and machine (`real`) and against this engine executing "
                  "the block in order in one process (`engine`: the gain of "
                  "parallelism alone, without py-evm's heavier trie-backed state), and "
                  "the same run replayed in the simulated backend with the costs it "
                  "observed (`predicted`). Worker counts above the machine's cores "
                  "oversubscribe it."),
            ("img", "real_parallel", "real and predicted speedup"),
            ("table", ["setting", "strategy", "workers", "real", "engine", "predicted",
                       "error"], rows)]


def _method_sections() -> list:
    return [("h", 2, "Method: what changed and why"),
            ("p", "Since the fair-comparisons rework every strategy, the serial baseline "
                  "and the dependency bound share one cost model (simulator/"
                  "costs/cost_model.py): per-transaction cost, gas, cold and warm state loads "
                  "(a re-execution finds its state warm, for every strategy alike, "
                  "instead of a discount for Monad and the oracle only), multi-version "
                  "bookkeeping and a scheduling cost per task. An execution cut short "
                  "is charged the gas it had consumed, and the serial baseline is a "
                  "plain sequential EVM (no dispatch, no multi-version costs), so "
                  "speedups are no longer inflated by a padded baseline. Sei follows "
                  "sei-cosmos (in-order validation as transactions finish, a waiting "
                  "status, no round cap, and its cascade of resets), dag follows Bor "
                  "(Block-STM that holds a transaction until its hinted dependencies "
                  "have executed), and block-stm waits for the sender's previous "
                  "transaction on a nonce, as pevm, Bor and grevm do.")]


WHATIF_TOP = 3  # locations per setting in the what-if chart


def whatif_section(d: Data, charts: Charts) -> list:
    """The what-if chart and table: for each setting, the dependency bound at the focus
    threads and the bound if each of its top locations did not conflict (what-if data
    of the focus run of the lowest seed; runs swept before what-if existed have none)."""
    rows = {}
    for setting in d.settings:
        focus = sorted((row for row in d.groups[setting]
                        if (row["strategy"], row["threads"]) == (d.focus_strategy,
                                                                  d.focus_threads)
                        and "whatif" in row), key=lambda row: row["seed"])
        if focus:
            rows[setting] = focus[0]
    parts = [("h", 2, "What-if: what fixing a hot location would buy")]
    if not rows:
        return parts + [("p", "These results hold no what-if data; sweep them again "
                              "with this version of pevmsim.")]
    bars = []  # (label, bound, colour, delta or None), top to bottom
    table = []
    for setting, row in rows.items():
        bars.append((f"{d.labels[setting]}: dependency bound", row["virtual_speedup_bound"],
                     "#888888", None))
        for entry in row["whatif"]["locations"][:WHATIF_TOP]:
            bars.append((f"   if no conflict on {abbreviate(entry['name'], 60)}",
                         entry["bound_if_removed"], PALETTE[0], entry["bound_as_deltas"]))
            table.append([d.labels[setting], entry["name"], num(row["virtual_speedup_bound"]),
                          num(entry["bound_if_removed"]), num(entry["bound_as_deltas"])])
    figure, ax = plt.subplots(figsize=(10, 0.3 * len(bars) + 1.4))
    positions = range(len(bars))[::-1]
    ax.barh(positions, [bound for _, bound, _, _ in bars],
            color=[colour for *_, colour, _ in bars], height=0.7)
    for position, (_, bound, _, _) in zip(positions, bars):
        ax.annotate(f"{bound:.2f}x", (bound, position), xytext=(4, 0),
                    textcoords="offset points", va="center", fontsize=7)
    deltas = [(position, delta) for position, (*_, delta) in zip(positions, bars)
              if delta is not None]
    ax.scatter([delta for _, delta in deltas], [position for position, _ in deltas],
               marker="D", s=18, color="black", zorder=3,
               label="bound if its writes were commutative deltas")
    ax.set_yticks(list(positions), [label for label, *_ in bars], fontsize=7)
    ax.set_xlim(0, max(max(bound for _, bound, _, _ in bars),
                       max((delta for _, delta in deltas), default=0)) * 1.12)
    ax.set(title=f"What-if: the dependency bound at {d.focus_threads} threads if a hot "
                 "location did not conflict", xlabel="speedup bound (x)")
    ax.legend(fontsize=7, frameon=False, loc="lower right")
    charts.save(figure, "whatif")
    return parts + [
        ("p", f"For each setting, the dependency bound at {d.focus_threads} threads (grey) "
              f"and, for its top {WHATIF_TOP} locations ranked by what removing their "
              "conflicts would gain, the bound without the dependencies they induce "
              "(bars) and with their writes as commutative deltas (diamonds). Locations "
              "that induce the same dependencies are one entry."),
        ("img", "whatif", "what-if bounds"),
        ("table", ["setting", "location", "bound", "if removed", "as deltas"], table)]


def to_markdown(parts: list) -> str:
    lines = []
    for part in parts:
        kind = part[0]
        if kind == "h":
            lines += ["#" * part[1] + " " + part[2], ""]
        elif kind == "p":
            lines += [part[1], ""]
        elif kind == "alert":
            lines += [f"> **WARNING: {part[1]}**", ""]
        elif kind == "table":
            lines.append("| " + " | ".join(part[1]) + " |")
            lines.append("|" + "---|" * len(part[1]))
            lines += ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |"
                      for row in part[2]]
            lines.append("")
        else:
            lines += [f"![{part[2]}](charts/{part[1]}.png)", ""]
    return "\n".join(lines)


def to_html(parts: list, title: str) -> str:
    body = []
    for part in parts:
        kind = part[0]
        if kind == "h":
            body.append(f"<h{part[1]}>{html.escape(part[2])}</h{part[1]}>")
        elif kind == "p":
            body.append(f"<p>{html.escape(part[1])}</p>")
        elif kind == "alert":
            body.append(f'<p class="alert">WARNING: {html.escape(part[1])}</p>')
        elif kind == "table":
            head = "".join(f"<th>{html.escape(cell)}</th>" for cell in part[1])
            rows = "".join("<tr>" + "".join(f"<td>{html.escape(cell)}</td>" for cell in row)
                           + "</tr>" for row in part[2])
            body.append(f"<table><tr>{head}</tr>{rows}</table>")
        else:
            body.append(f'<p><img src="charts/{part[1]}.svg" alt="{html.escape(part[2])}">'
                        "</p>")
    style = ("body{font-family:sans-serif;max-width:1200px;margin:auto;padding:1em}"
             "img{max-width:100%}table{border-collapse:collapse;font-size:90%}"
             "td,th{border:1px solid #ccc;padding:2px 6px;text-align:left}"
             ".alert{background:#c00;color:#fff;font-weight:bold;padding:1em;font-size:130%}")
    return (f"<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>"
            f"{html.escape(title)}</title><style>{style}</style></head><body>\n"
            + "\n".join(body) + "\n</body></html>\n")
