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
    shipped       the seed systems (Monad, Sei) at their shipped worker counts and
                  at 8 and 32, per setting (with the "as shipped" table and, from the
                  suite's [[variants]], the sensitivity to their options)
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

import csv
import html
import json
import sys
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from .charts import PALETTE, Charts, Data, num, shorten  # first: it picks matplotlib's backend

import matplotlib.pyplot as plt  # noqa: E402

from ..insight.naming import abbreviate  # noqa: E402
from ..runs.matrix import cells, matrix, saturation_note  # noqa: E402
from ..runs.reasons import reasons  # noqa: E402
from ..runs.spec import options_text  # noqa: E402
from ..strategies import STRATEGIES  # noqa: E402
from .block_study import block_sections  # noqa: E402
from ..paths import unwritable_file, unwritable_folder  # noqa: E402
from .sweep import META, RESULTS, TIMELINES, checked_results  # noqa: E402

README_BEGIN = "<!-- pevmsim report: figures begin -->"
README_END = "<!-- pevmsim report: figures end -->"


class ReportError(Exception):
    """The directory holds no sweep results, or the report cannot be written there."""


@dataclass(frozen=True)
class Written:
    """What `report` wrote, and what it read: the runs of the sweep found, the runs
    its suite plans, and the lines of results.jsonl skipped (line number, why)."""
    paths: list
    suite: str
    runs: int
    planned: int | None
    skipped: tuple

    def headline(self) -> str:
        """'suite: N of M runs' (and what is missing)."""
        return f"{self.suite} report: {runs_text(self.runs, self.planned)}"


def runs_text(runs: int, planned: int | None) -> str:
    """'384 runs' for a complete sweep, '293 of 1,760 runs (1,467 missing: ...)' for a
    partial one."""
    if planned is None or runs >= planned:
        return f"all {runs:,} runs of the suite" if planned else f"{runs:,} runs"
    return (f"{runs:,} of {planned:,} runs ({planned - runs:,} missing: a partial "
            "sweep; `pevmsim sweep SUITE --out DIR --resume` runs the rest)")


def report(out: Path, readme: Path | None = None) -> Written:
    """Write the charts, report.md and report.html (and the figures paragraph of
    `readme`, between its markers). Nothing is written unless every output can be:
    the folders are tried first (simulator/paths.py)."""
    out = Path(out)
    if not (out / META).exists() or not (out / RESULTS).exists():
        raise ReportError(f"{out} holds no sweep results (results.jsonl and meta.json); "
                          "run `pevmsim sweep SUITE --out DIR` first")
    for folder in (out, out / "charts"):
        reason = unwritable_folder(folder)
        if reason is not None:
            raise ReportError(f"cannot write the report in {folder}: {reason}")
    if readme is not None:
        reason = unwritable_file(readme)
        if reason is not None:
            raise ReportError(f"--readme {readme}: {reason}")
    try:
        meta = json.loads((out / META).read_text())
        rows, skipped = checked_results(out)
    except (OSError, ValueError) as exc:
        raise ReportError(f"cannot read the sweep in {out}: {exc}")
    if not rows:
        raise ReportError(f"{out}/results.jsonl holds no results rows; run the sweep first")
    data = Data(rows, meta)
    try:
        charts = Charts(out / "charts", data)
        sections = _sections(data, charts, out, skipped)
        written = charts.written + [out / "report.md", out / "report.html"]
        written += [out / SUMMARY_CSV] if (out / SUMMARY_CSV).exists() else []
        (out / "report.md").write_text(to_markdown(sections))
        (out / "report.html").write_text(to_html(sections, f"pevmsim report: {data.suite}"))
        if readme is not None:
            update_readme(Path(readme), data, out)
            written.append(Path(readme))
    except OSError as exc:
        raise ReportError(f"cannot write the report in {out}: {exc.strerror or exc}")
    return Written(written, data.suite, len(rows), data.planned, tuple(skipped))


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
    def values(strategy, settings, threads=d.focus_threads):
        return [v for v in (d.mean(s, strategy, threads, "virtual_speedup")
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
    def others_on(settings):
        return [f"{strategy} {span(values(strategy, settings))}" for strategy in d.strategies
                if strategy not in (d.focus_strategy, "serial") and values(strategy, settings)]

    others = others_on(memory)
    if others:
        lines.append(f"Over the same settings: {', '.join(others)}.")
    disk = [s for s in d.settings if s[3] == "gas-disk"]
    if disk:
        others = others_on(disk)
        lines.append(f"With state on an SSD (`gas-disk`), {d.focus_strategy} reaches "
                     f"{span(values(d.focus_strategy, disk))} on "
                     f"{', '.join(d.labels[s] for s in disk)}"
                     + (f" ({', '.join(others)})" if others else "") + ".")
    shipped = []
    for strategy in d.strategies:
        threads = STRATEGIES[strategy].shipped_threads
        in_memory, on_disk = values(strategy, memory, threads), values(strategy, disk, threads)
        if in_memory:
            shipped.append(f"{strategy} at {threads} workers {span(in_memory)} in memory"
                           + (f", {span(on_disk)} on an SSD" if on_disk else ""))
    if shipped:
        lines.append(f"As shipped: {'; '.join(shipped)}.")
    return " ".join(lines)


def _sections(d: Data, charts: Charts, out: Path, skipped=()) -> list:
    """The report as a list of parts: ("h", level, text), ("p", text), ("alert",
    text), ("table", header, rows), ("img", chart name, alt text). The first line
    after the title says how many runs of how many the sweep holds."""
    meta = d.meta
    parts = [("h", 1, f"pevmsim benchmark report: {d.suite} suite"),
             ("p", f"This report covers {runs_text(len(d.rows), d.planned)}.")]
    if d.planned is not None and len(d.rows) < d.planned:
        parts.append(("alert", f"PARTIAL SWEEP: {len(d.rows):,} OF {d.planned:,} RUNS. "
                               "Figures of the missing runs are absent; means are over "
                               "the seeds that ran."))
    for number, what in skipped:
        parts.append(("alert", f"results.jsonl line {number} was skipped: {what}."))
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
    parts += _method_sections(d)
    parts.append(("p", f"{len(d.settings)} block settings, strategies "
                       f"{', '.join(d.strategies)}, threads "
                       f"{', '.join(map(str, d.threads))}; speedups are in virtual time "
                       f"under the {d.model_text}; the focus configuration is "
                       f"{d.focus_strategy} at {d.focus_threads} threads. Environment: "
                       f"pevmsim {meta['pevmsim']} ({meta['git_commit'] or 'no git'}), "
                       f"py-evm {meta['py_evm']}, Python {meta['python']}, "
                       f"{meta['cpu_model']} x {meta['cpu_count']}."))
    parts += _host_section(d)

    parts += [("h", 2, "Speedup"), ("img", "overview", "speedup overview"),
              ("table", ["setting", "txs", "seeds", "dependency bound"] + d.strategies,
               [[d.labels[s], str(s[2]), str(d.seeds(s)),
                 d.cell(s, d.focus_strategy, d.focus_threads, "virtual_speedup_bound")]
                + [d.cell(s, strategy, d.focus_threads) for strategy in d.strategies]
                for s in d.settings]),
              ("p", f"Speedup at {d.focus_threads} threads (x, virtual time, {d.model_text}; "
                    f"{d.over_seeds()}); the dependency bound as in the Method "
                    "section. `bal`, whose block access list removes every dependency, "
                    "can exceed it: its own bound is the same arithmetic without "
                    "dependencies; `monad` on gas-disk, whose reads yield its threads, "
                    "is held to the same bound with its loads off the workers."),
              *_access_list_section(d),
              ("img", "speedup", "speedup per setting"),
              *shipped_sections(d, charts),
              *matrix_sections(d, out),
              ("h", 2, "Throughput vs contention"), ("img", "throughput", "throughput"),
              *_tier_sections(d), *_real_sections(d),
              ("h", 2, "Executions and aborts"), ("img", "executions", "executions")]

    parts += block_sections(d, charts)
    parts += [("h", 2, "Conflict explainer"),
              ("p", f"The locations whose writes caused the most aborts and suspensions "
                    f"under {d.focus_strategy} at {d.focus_threads} threads ({d.model_text}), "
                    "summed over seeds."),
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
                        f"({timeline['score']} aborts + suspensions; "
                        f"{timeline.get('cost_model', 'gas')} cost model). Blue: first "
                        "executions, red: re-executions, orange: suspended executions, "
                        "green: validations, black: failed validations."),
                  ("img", name, f"timeline {timeline['workload']}")]
    return parts


COMPARED_THREADS = (8, 32)  # the worker counts each shipped system is set beside
REFERENCE = "block-stm"  # the reference column of the "as shipped" table


def shipped_sections(d: Data, charts: Charts) -> list:
    """"As shipped": each seed system (a strategy with `shipped_threads`) at its
    shipped worker count beside itself at COMPARED_THREADS, the reference strategy and
    the dependency bound; then the sensitivity to its options: the suite's variants
    of it, each at the threads it ran, against the defaults at the same threads."""
    systems = [s for s in d.strategies if STRATEGIES[s].shipped_threads is not None]
    if not systems:
        return []
    columns = []  # (header, strategy, threads)
    for system in systems:
        shipped = STRATEGIES[system].shipped_threads
        for threads in sorted({shipped, *COMPARED_THREADS} & set(d.threads)):
            mark = " (shipped)" if threads == shipped else ""
            columns.append((f"{system} {threads}{mark}", system, threads))
    columns += [(f"{REFERENCE} {threads}", REFERENCE, threads)
                for threads in COMPARED_THREADS if threads in d.threads
                and REFERENCE in d.strategies]
    top = COMPARED_THREADS[-1] if COMPARED_THREADS[-1] in d.threads else max(d.threads)
    table = [[d.labels[s]] + [d.cell(s, strategy, threads) for _, strategy, threads in columns]
             + [d.cell(s, REFERENCE if REFERENCE in d.strategies else systems[0], top,
                       "virtual_speedup_bound")] for s in d.settings]
    parts = [("h", 2, "The seed systems as shipped"),
             ("p", "Each seed system at its shipped worker count ("
                   + ", ".join(f"{s} {STRATEGIES[s].shipped_threads}" for s in systems)
                   + ": Monad's --nthreads default, cmd/monad/main.cpp; Sei's "
                   "max(10, min(2 x NumCPU, 128)) on a 16-core validator, sei-chain "
                   "#2423) and at " + " and ".join(map(str, COMPARED_THREADS))
                   + f" workers, beside {REFERENCE} and the dependency bound at {top} "
                   f"(speedup, x, virtual time, {d.model_text}; {d.over_seeds()}). Monad "
                   "with state on an SSD is held to its own bound (its reads yield their "
                   "threads), in the `bound` of its rows."),
             ("table", ["setting"] + [header for header, *_ in columns]
              + [f"dependency bound {top}"], table)]
    parts += _shipped_chart(d, charts, columns)
    variants = sorted({(row["strategy"], row["threads"], json.dumps(row["strategy_options"],
                                                                    sort_keys=True))
                       for rows in d.variants.values() for row in rows},
                      key=lambda v: (systems.index(v[0]) if v[0] in systems else len(systems),
                                     v[0], v[1], v[2]))
    if not variants:
        return parts
    rows = []
    for strategy, threads, options in variants:
        if [strategy, threads] not in [row[:2] for row in rows]:
            rows.append([strategy, threads, "defaults"] + [
                d.cell(s, strategy, threads) for s in d.settings])
        options = json.loads(options)
        rows.append([strategy, threads, options_text(options)] + [
            _moved(d, s, strategy, threads, options) for s in d.settings])
    return parts + [
        ("h", 3, "Sensitivity: the modelling choices that move each number"),
        ("p", "The same blocks with one option changed (the suite's [[variants]]): each "
              "row beside the strategy's defaults at the same worker count; in "
              "brackets, the change against the defaults. relaxed_merge=1: Monad's "
              "relaxed merge (disabled at its HEAD); fibers: its window of transactions "
              "in flight; yielding_reads=0: its reads holding the thread (state on an "
              "SSD only); version=occ-dev-2023: Sei's 2023 development branch (predicted "
              "estimates, in-order validation, the cascade); rounds: Sei's cap on "
              "rounds before the synchronous one (0: none). Blank: the variant does not "
              "run on that setting's cost model."),
        ("table", ["strategy", "threads", "options"] + [d.labels[s] for s in d.settings],
         [[row[0], str(row[1])] + row[2:] for row in rows])]


def _moved(d: Data, setting, strategy: str, threads: int, options: dict) -> str:
    """A variant's speedup and its change against the defaults ('1.52 (+0.55)')."""
    value = d.mean(setting, strategy, threads, "virtual_speedup", options)
    base = d.mean(setting, strategy, threads, "virtual_speedup")
    if value is None:
        return ""
    return num(value) + (f" ({value - base:+.2f})" if base is not None else "")


def _shipped_chart(d: Data, charts: Charts, columns: list) -> list:
    """Bars per setting: each column of the "as shipped" table."""
    settings = d.settings
    figure, ax = plt.subplots(figsize=(10, 0.5 * len(settings) * len(columns) / 4 + 1.6))
    height = 0.8 / len(columns)
    for index, (header, strategy, threads) in enumerate(columns):
        values = [d.mean(s, strategy, threads, "virtual_speedup") or 0.0 for s in settings]
        positions = [len(settings) - 1 - i + 0.4 - (index + 0.5) * height
                     for i in range(len(settings))]
        ax.barh(positions, values, height=height, label=header,
                color=PALETTE[index % len(PALETTE)],
                hatch="//" if "(shipped)" in header else None)
    ax.set_yticks(range(len(settings))[::-1], [d.labels[s] for s in settings], fontsize=7)
    ax.axvline(1.0, color="#888888", linewidth=0.8)
    ax.set(title=f"The seed systems as shipped and at {', '.join(map(str, COMPARED_THREADS))} "
                 f"workers ({d.model_text})", xlabel="speedup over serial (x)")
    ax.legend(fontsize=7, frameon=False, loc="lower right")
    charts.save(figure, "shipped")
    return [("img", "shipped", "the seed systems as shipped")]


def _host_section(d: Data) -> list:
    """The sweep's host time and what execution reuse saved (rows written before the
    reuse figures existed leave the reuse sentence out); every finished run, variants
    included."""
    wall = sum(row["wall_time_s"] for row in d.finished)
    text = f"Host time: the {len(d.finished):,} runs took {wall:,.1f} s of simulation"
    counted = [row for row in d.finished if row.get("reuse")]
    if counted:
        hits = sum(row["reuse_hits"] for row in counted)
        misses = sum(row["reuse_misses"] for row in counted)
        saved = sum(row["reuse_saved_wall_s"] for row in counted)
        text += (f"; execution reuse (engine/reuse.py; {len(counted):,} runs) took "
                 f"{hits:,} of {hits + misses:,} executions from an identical earlier "
                 f"one of the same block and ran {misses:,} in py-evm, saving "
                 f"{saved:,.1f} s (every figure is the same without it)")
    return [("p", text + ".")]


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


def _method_sections(d: Data) -> list:
    """What the figures are, as the code is now: what is modelled, where each
    strategy's model comes from (the first paragraph of its module's docstring, which
    cites its source), and what the dependency bound assumes."""
    strategies = [[name, STRATEGIES[name].description, _source(STRATEGIES[name])]
                  for name in d.strategies if name in STRATEGIES]
    return [("h", 2, "Method"),
            ("p", "Every transaction and every re-execution is executed for real in "
                  "py-evm, against a multi-version memory at storage-slot granularity "
                  "(balances, nonces, code, each storage slot, account existence), on N "
                  "virtual workers driven by a discrete-event simulation; every run's "
                  "post-state, receipts and gas are compared with stock serial py-evm. "
                  "Time is virtual: one cost model (simulator/costs/) prices every task "
                  "of every strategy, the serial baseline (a plain sequential EVM: no "
                  "dispatch, no multi-version costs) and the dependency bound alike: "
                  "per-transaction cost, gas, cold and warm state loads (a re-execution "
                  "finds its state warm, for every strategy), multi-version bookkeeping, "
                  "validations and a scheduling cost per task taken from a shared "
                  "queue. An execution cut short is charged the gas it consumed. "
                  "Speedup is serial time over the parallel makespan under that model."),
            ("p", "The dependency bound is the best any scheduler could do on the block "
                  "under the same cost model: each transaction executed exactly once, "
                  "after the transactions whose writes it reads (its true dependencies, "
                  "from the final incarnations) and no earlier than one cold load, on "
                  "the same number of workers, or sequentially if that is faster. It "
                  "ignores validation and re-execution costs, so it is optimistic. Two "
                  "strategies are held to their own: `bal` (no dependencies: its access "
                  "list gives every input) and `monad` with state on an SSD (its fibers' "
                  "reads yield their threads: the loads off the workers, at most "
                  "`fibers` at a time); a cold load holds a worker for every other "
                  "strategy (Bor's prefetcher warms only the next block of a batch "
                  "import)."),
            ("p", "The strategies and what each models (from its module in "
                  "simulator/strategies/, which cites the source it follows):"),
            ("table", ["strategy", "what it models", "its module: the design and its source"],
             strategies)]


def _source(cls) -> str:
    """The first paragraph of a strategy module's docstring, on one line."""
    text = (sys.modules[cls.__module__].__doc__ or "").strip()
    return " ".join(text.split("\n\n")[0].split())


def matrix_sections(d: Data, out: Path) -> list:
    """Per setting, the strategy x threads matrix (runs/matrix.py: serial once, the
    best at each thread count marked, the bound last), its saturation note and the
    reasons for surprising results; and DIR/summary.csv with every setting, strategy
    and thread count."""
    parts = [("h", 2, "Who wins: strategy x threads per setting"),
             ("p", f"Speedup over serial (x, virtual time, {d.model_text}; "
                   f"{d.over_seeds()}); * marks the best at each worker count; the last "
                   "row is the dependency bound. Every figure, with its spread and "
                   "counters, is in summary.csv.")]
    records = []
    for setting in d.settings:
        rows = mean_rows(d, setting)
        if not rows:
            continue
        m = matrix(rows)
        lines = [[cell.strip() for cell in row] for row in cells(m, " *")]
        parts += [("h", 3, f"{d.labels[setting]} ({setting[2]} txs, {setting[3]} cost "
                           f"model, {d.seeds(setting)} seed{'s' if d.seeds(setting) > 1 else ''})"),
                  ("table", lines[0], lines[1:])]
        note = saturation_note(m.threads, [m.bound.get(t) for t in m.threads])
        why = reasons(first_seed_rows(d, setting))
        if note or why:
            parts.append(("p", " ".join(([note[0].upper() + note[1:] + "."] if note else [])
                                        + [f"Why: {line}." for line in why])))
        records += [{"setting": d.labels[setting], "workload": setting[0],
                     "params": json.dumps(dict(setting[1]), sort_keys=True),
                     "txs": setting[2], "cost_model": setting[3],
                     "lazy_beneficiary": setting[4], "seeds": d.seeds(setting),
                     "strategy": row["strategy"], "threads": row["threads"],
                     "virtual_speedup_mean": row["virtual_speedup"],
                     "virtual_speedup_min": row["virtual_speedup_min"],
                     "virtual_speedup_max": row["virtual_speedup_max"],
                     "virtual_speedup_bound": row["virtual_speedup_bound"],
                     "executions_per_tx": row["executions_per_tx"],
                     "best_at_threads": row["strategy"] in m.winners.get(row["threads"], ())}
                    for row in rows]
    if records:
        with (out / SUMMARY_CSV).open("w", newline="") as handle:
            writer = csv.DictWriter(handle, list(records[0]), lineterminator="\n")
            writer.writeheader()
            writer.writerows(records)
    return parts


SUMMARY_CSV = "summary.csv"


def mean_rows(d: Data, setting) -> list:
    """One row per strategy and thread count of a setting, its figures the means over
    seeds (with the speedup's min and max), in the shape runs/matrix.py reads."""
    rows = []
    for strategy in d.strategies:
        for threads in d.threads:
            speedup = d.mean(setting, strategy, threads, "virtual_speedup")
            if speedup is None:
                continue
            low, high = (d.spread(setting, strategy, threads, "virtual_speedup")
                         or (speedup, speedup))
            rows.append({"strategy": strategy, "threads": threads, "virtual_speedup": speedup,
                         "virtual_speedup_min": low, "virtual_speedup_max": high,
                         "virtual_speedup_bound": d.mean(setting, strategy, threads,
                                                         "virtual_speedup_bound"),
                         "executions_per_tx": d.mean(setting, strategy, threads,
                                                     "executions_per_tx")})
    return rows


def first_seed_rows(d: Data, setting) -> list:
    """The rows of a setting's lowest seed (real runs, each with its own counters)."""
    rows = d.groups[setting]
    seed = min(row["seed"] for row in rows)
    return [row for row in rows if row["seed"] == seed and "virtual_serial_share" in row]


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
                 f"location did not conflict ({d.model_text})", xlabel="speedup bound (x)")
    ax.legend(fontsize=7, frameon=False, loc="lower right")
    charts.save(figure, "whatif")
    return parts + [
        ("p", f"For each setting, the dependency bound at {d.focus_threads} threads "
              f"({d.model_text}; grey) "
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
