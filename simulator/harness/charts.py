"""A sweep's results as the report sees them (Data: rows grouped into settings, the
per-setting means) and the charts drawn from them (Charts: PNG and SVG files in
DIR/charts/). report.py and block_study.py lay out the pages around them.
"""

from __future__ import annotations

import re
from collections import defaultdict
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (after choosing the backend)

from ..strategies import STRATEGIES  # noqa: E402

SETTING_FIELDS = ("txs", "cost_model", "lazy_beneficiary", "backend")
REAL = "processes"  # the backend whose rows are real runs
TIERS = {"gas": "state in memory", "gas-disk": "state on SSD"}
KIND_COLOURS = {"warm-up": "#a6c8e8", "execution": "#4c72b0", "re-execution": "#dd3333",
                "suspended": "#f0a030", "aborted": "#8b1a1a", "invalid": "#8c3fa8",
                "validation": "#55a868", "failed-validation": "#222222"}
WASTE = (("validation_failures", "failed validation (re-executed)", "#dd3333"),
         ("suspensions", "suspended on an ESTIMATE", "#f0a030"),
         ("other", "other aborts (e.g. on an ESTIMATE read)", "#8c3fa8"))
# tab10 without its grey, which the ideal line uses
PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
           "#bcbd22", "#17becf")
SAVE = {"dpi": 110, "bbox_inches": "tight"}



# -- data -----------------------------------------------------------------------------
class Data:
    """Results rows grouped into settings, with the per-setting means the charts use."""

    def __init__(self, rows: list, meta: dict) -> None:
        self.meta = meta
        self.suite = meta["suite"]["name"]
        self.focus_strategy = meta["suite"]["focus"]["strategy"]
        self.focus_threads = meta["suite"]["focus"]["threads"]
        self.planned = meta["suite"].get("configurations")  # runs the suite plans
        self.rows = rows
        self.bad = [row for row in rows if not row["matches_serial"]]
        self.finished = [row for row in rows if "error" not in row]  # variants too
        self.ok = [row for row in self.finished if "strategy_options" not in row]
        # a suite's variants (a strategy with options): only their own section reads them
        self.variants = defaultdict(list)  # setting -> rows
        for row in self.finished:
            if "strategy_options" in row:
                self.variants[self.setting(row)].append(row)
        order = list(STRATEGIES)  # registry order, whatever order the rows finished in
        self.strategies = sorted(dict.fromkeys(row["strategy"] for row in self.ok),
                                 key=lambda s: (order.index(s) if s in order else len(order), s))
        self.threads = sorted({row["threads"] for row in self.ok})
        self.groups = defaultdict(list)  # setting -> rows
        for row in self.ok:
            self.groups[self.setting(row)].append(row)
        self.workloads = list(dict.fromkeys(s[0] for s in self.groups))
        self.labels = self._labels()
        bound = {s: self.mean(s, self.focus_strategy, self.focus_threads, "virtual_speedup_bound")
                 or 0.0 for s in self.groups}
        # low contention first: the highest dependency bound
        ordered = sorted(self.groups, key=lambda s: (self.workloads.index(s[0]),
                                                     -bound[s], self.labels[s]))
        self.settings = [s for s in ordered if s[-1] != REAL]  # virtual figures
        self.real_settings = [s for s in ordered if s[-1] == REAL]

    @staticmethod
    def setting(row) -> tuple:
        return (row["workload"], tuple(sorted(row["params"].items())),
                *(row.get(field, "simulated") for field in SETTING_FIELDS))

    def _labels(self) -> dict:
        """Workload plus whatever differs between that workload's settings."""
        labels = {}
        for workload in self.workloads:
            settings = [s for s in self.groups if s[0] == workload]
            described = [dict(s[1], **dict(zip(SETTING_FIELDS, s[2:]))) for s in settings]
            varying = [key for key in described[0]
                       if len({repr(d[key]) for d in described}) > 1]
            for setting, values in zip(settings, described):
                inner = ", ".join(f"{key}={values[key]}" for key in varying)
                labels[setting] = f"{workload} ({inner})" if inner else workload
        return labels

    def mean(self, setting, strategy, threads, key, options: dict | None = None):
        """The mean of `key` over seeds, or None when that configuration did not run
        (or its rows lack the figure: written before it existed); with `options`, of
        the suite variant with those strategy options."""
        rows = self.variants[setting] if options else self.groups[setting]
        values = [row[key] for row in rows
                  if row["strategy"] == strategy and row["threads"] == threads
                  and row.get("strategy_options", {}) == (options or {})
                  and row.get(key) is not None]
        return sum(values) / len(values) if values else None

    def spread(self, setting, strategy, threads, key) -> tuple | None:
        """(min, max) of `key` over the seeds when they differ, else None."""
        values = [row[key] for row in self.groups[setting]
                  if row["strategy"] == strategy and row["threads"] == threads
                  and row.get(key) is not None]
        return (min(values), max(values)) if values and min(values) != max(values) else None

    def seeds(self, setting) -> int:
        """How many seeds of this setting ran."""
        return len({row["seed"] for row in self.groups[setting]})

    def cell(self, setting, strategy, threads, key="virtual_speedup") -> str:
        """A table cell: the mean over seeds, with its min-max when seeds differ."""
        value = self.mean(setting, strategy, threads, key)
        spread = self.spread(setting, strategy, threads, key)
        return num(value) + (f" ({spread[0]:.2f}-{spread[1]:.2f})" if spread else "")

    def over_seeds(self, settings=None) -> str:
        """'one seed' or 'mean over 3 seeds (min-max in brackets)'."""
        counts = sorted({self.seeds(s) for s in (settings or self.settings)})
        if counts == [1]:
            return "one seed"
        return (f"mean over {'/'.join(map(str, counts))} seeds, min-max over seeds in "
                "brackets")

    @property
    def model_text(self) -> str:
        """The cost model(s) the figures are under: 'revm cost model'."""
        models = sorted({s[3] for s in self.settings}) or sorted({s[3] for s in self.groups})
        return (f"{models[0]} cost model" if len(models) == 1
                else f"cost models {', '.join(models)} (per setting)")

    def series(self, setting, strategy, key) -> tuple:
        points = [(t, self.mean(setting, strategy, t, key)) for t in self.threads]
        points = [(t, v) for t, v in points if v is not None]
        return [t for t, _ in points], [v for _, v in points]

    def conflicts(self, setting) -> list:
        """The focus configuration's conflict locations, summed over the seeds."""
        totals: dict = {}
        for row in self.groups[setting]:
            if (row["strategy"], row["threads"]) != (self.focus_strategy,
                                                     self.focus_threads):
                continue
            for item in row["conflicts"]:
                entry = totals.setdefault(item["location"], {**item, "reexecutions": 0,
                                                             "suspensions": 0})
                entry["reexecutions"] += item["reexecutions"]
                entry["suspensions"] += item["suspensions"]
        return sorted(totals.values(),
                      key=lambda e: (-(e["reexecutions"] + e["suspensions"]), e["location"]))

    def workload_colour(self, setting) -> tuple:
        """Colour by workload; line style by step up in contention."""
        base = PALETTE[self.workloads.index(setting[0]) % len(PALETTE)]
        same = [s for s in self.settings if s[0] == setting[0]]
        return base, ["-", "--", ":", "-."][same.index(setting) % 4]

    def tier_pairs(self) -> list:
        """(memory setting, disk setting) pairs: the same block under both tiers."""
        settings = set(self.settings)
        pairs = []
        for setting in self.settings:
            if setting[3] == "gas":
                twin = setting[:3] + ("gas-disk",) + setting[4:]
                if twin in settings:
                    pairs.append((setting, twin))
        return pairs

    def strategy_colour(self, strategy):
        return PALETTE[self.strategies.index(strategy) % len(PALETTE)]


# -- charts -----------------------------------------------------------------------------
class Charts:
    def __init__(self, directory: Path, data: Data) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.dir = directory
        self.data = data
        self.written: list = []
        plt.rcParams.update({"svg.hashsalt": "pevmsim", "font.size": 9,
                             "axes.grid": True, "grid.alpha": 0.3})
        self.overview()
        self.speedup()
        self.throughput()
        self.executions()
        self.conflicts()
        if self.data.tier_pairs():
            self.storage_tiers()
        if self.data.real_settings:
            self.real_parallel()

    def save(self, figure, name: str) -> str:
        for ext, metadata in (("png", {"Software": None}), ("svg", {"Date": None})):
            path = self.dir / f"{name}.{ext}"
            figure.savefig(path, format=ext, metadata=metadata, **SAVE)
            self.written.append(path)
        plt.close(figure)
        return name

    def _threads_axis(self, ax) -> None:
        ax.set_xscale("log", base=2)
        ax.set_xticks(self.data.threads, [str(t) for t in self.data.threads])
        ax.minorticks_off()

    @staticmethod
    def _title_and_legend(figure, ax, title: str) -> None:
        """A figure-wide title, and the legend of `ax` for all panels below them."""
        figure.suptitle(title)
        figure.tight_layout()
        handles, names = ax.get_legend_handles_labels()
        figure.legend(handles, names, loc="upper center", ncol=min(len(names), 5),
                      bbox_to_anchor=(0.5, 0.0), frameon=False)

    def _ideal(self, ax) -> None:
        ax.plot(self.data.threads, self.data.threads, color="grey", lw=1, ls="--",
                label="ideal (linear)")

    def overview(self) -> None:
        d = self.data
        figure, ax = plt.subplots(figsize=(7.5, 4.8))
        # Blocks also run with state on SSD have the storage_tiers chart of their own.
        disk = {twin for _, twin in d.tier_pairs()}
        settings = [s for s in d.settings if s not in disk]
        top = 1.0
        for setting in settings:
            colour, style = d.workload_colour(setting)
            x, y = d.series(setting, d.focus_strategy, "virtual_speedup")
            ax.plot(x, y, marker="o", ms=4, color=colour, ls=style, label=d.labels[setting])
            top = max([top, *y])
        self._ideal(ax)
        ax.set_ylim(0, max(top * 1.15, 2))
        self._threads_axis(ax)
        ax.set(title=f"{d.focus_strategy} speedup over serial execution ({d.suite} suite, "
                     f"{d.model_text})",
               xlabel="virtual workers (threads)", ylabel="speedup (x, virtual time)")
        ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1), frameon=False)
        self.save(figure, "overview")

    def speedup(self) -> None:
        d = self.data
        count = len(d.settings)
        columns = min(count, 3)
        rows = -(-count // columns)
        figure, axes = plt.subplots(rows, columns, figsize=(3.6 * columns, 3.0 * rows),
                                    sharex=True, squeeze=False)
        for ax, setting in zip(axes.flat, d.settings):  # each panel on its own scale
            top = max(max(r["virtual_speedup"], r["virtual_speedup_bound"])
                      for r in d.groups[setting])
            for strategy in d.strategies:
                x, y = d.series(setting, strategy, "virtual_speedup")
                ax.plot(x, y, marker="o", ms=3, color=d.strategy_colour(strategy),
                        label=strategy)
                spreads = [d.spread(setting, strategy, t, "virtual_speedup") for t in x]
                if any(spreads):  # the band of the seeds' min-max
                    ax.fill_between(x, [lo for lo, _ in (r or (v, v) for r, v in zip(spreads, y))],
                                    [hi for _, hi in (r or (v, v) for r, v in zip(spreads, y))],
                                    color=d.strategy_colour(strategy), alpha=0.15, lw=0)
            x, y = d.series(setting, d.focus_strategy, "virtual_speedup_bound")
            ax.plot(x, y, color="black", ls=":", lw=1.5, label="dependency bound")
            self._ideal(ax)
            ax.set_title(d.labels[setting], fontsize=8)
            ax.set_ylim(0, max(top * 1.1, 2))
            self._threads_axis(ax)
        for ax in axes.flat[count:]:
            ax.set_visible(False)
        for ax in axes[-1]:
            ax.set_xlabel("virtual workers (threads)")
        for ax in axes[:, 0]:
            ax.set_ylabel("speedup (x)")
        self._title_and_legend(figure, axes.flat[0], f"{d.model_text}, {d.over_seeds()}: "
                               "speedup vs threads per workload "
                               f"and strategy ({d.suite} suite, virtual time)")
        self.save(figure, "speedup")

    def throughput(self) -> None:
        d = self.data
        figure, axes = plt.subplots(2, len(d.workloads), squeeze=False,
                                    figsize=(max(3.6 * len(d.workloads), 6), 6.0))
        metrics = (("virtual_throughput_tps", 1.0, "throughput (tx/s)"),
                   ("virtual_throughput_gas_per_s", 1e-6, "throughput (Mgas/s)"))
        for column, workload in enumerate(d.workloads):
            settings = [s for s in d.settings if s[0] == workload]
            ticks = [d.labels[s].removeprefix(workload).strip(" ()") or workload
                     for s in settings]
            for row, (key, scale, label) in enumerate(metrics):
                ax = axes[row][column]
                for strategy in d.strategies:
                    values = [d.mean(s, strategy, d.focus_threads, key) for s in settings]
                    points = [(i, v * scale) for i, v in enumerate(values) if v is not None]
                    ax.plot([i for i, _ in points], [v for _, v in points], marker="o",
                            ms=4, color=d.strategy_colour(strategy), label=strategy)
                ax.set_yscale("log")
                plain_ticks(ax.yaxis)
                ax.set_xticks(range(len(settings)), ticks, rotation=20, ha="right",
                              fontsize=7)
                ax.set_xlim(-0.4, len(settings) - 0.6)
                ax.set_ylabel(label)
                if row == 0:
                    ax.set_title(workload)
                else:
                    ax.set_xlabel("contention: low -> high")
        self._title_and_legend(figure, axes[0][0], f"{d.model_text}: throughput vs contention at "
                               f"{d.focus_threads} threads (virtual time)")
        self.save(figure, "throughput")

    def executions(self) -> None:
        d = self.data
        bars = max(len(d.strategies) - 1, 1) * len(d.settings)
        figure, (left, right) = plt.subplots(1, 2, figsize=(max(12.0, 6 + 0.28 * bars), 4.8),
                                             gridspec_kw={"width_ratios": [1, 1.4]})
        for setting in d.settings:
            colour, style = d.workload_colour(setting)
            x, y = d.series(setting, d.focus_strategy, "executions_per_tx")
            left.plot(x, y, marker="o", ms=4, color=colour, ls=style, label=d.labels[setting])
        left.axhline(1, color="grey", lw=1, ls="--")
        self._threads_axis(left)
        left.set_yscale("log")
        plain_ticks(left.yaxis)
        left.set(title=f"{d.focus_strategy}: executions per transaction ({d.model_text})",
                 xlabel="virtual workers (threads)",
                 ylabel="executions per tx (1 = no waste)")
        left.legend(fontsize=6.5, frameon=False)

        parallel = [s for s in d.strategies if s != "serial"] or d.strategies
        width = 0.8 / len(parallel)
        tops = []  # (x, stacked total, strategy) of every bar
        for index, strategy in enumerate(parallel):
            bottom = [0.0] * len(d.settings)
            for key, label, colour in WASTE:
                values = []
                for position, setting in enumerate(d.settings):
                    txs = setting[2]
                    if key == "other":
                        parts = [d.mean(setting, strategy, d.focus_threads, k)
                                 for k in ("reexecutions", "validation_failures", "suspensions")]
                        value = (None if parts[0] is None
                                 else max(parts[0] - parts[1] - parts[2], 0))
                    else:
                        value = d.mean(setting, strategy, d.focus_threads, key)
                    values.append((value or 0.0) / txs)
                positions = [i + (index - (len(parallel) - 1) / 2) * width
                             for i in range(len(d.settings))]
                right.bar(positions, values, width * 0.9, bottom=bottom, color=colour,
                          edgecolor="white", lw=0.3, label=label if index == 0 else None)
                bottom = [b + v for b, v in zip(bottom, values)]
            tops += [(position, total, strategy) for position, total in zip(positions, bottom)]
        # One runaway bar must not flatten the rest: clip far outliers, print their value.
        totals = sorted(total for _, total, _ in tops)
        cap = max(3 * totals[int(0.9 * (len(totals) - 1))], 1.0)
        if totals[-1] > cap:
            right.set_ylim(0, cap * 1.1)
        for position, total, strategy in tops:
            clipped = total > cap
            right.annotate(f"{strategy} ({total:.0f}, clipped)" if clipped else strategy,
                           (position, min(total, cap * 1.1)), rotation=90, fontsize=7,
                           ha="center", va="top" if clipped else "bottom",
                           color="white" if clipped else "black",
                           xytext=(0, -2 if clipped else 2), textcoords="offset points")
        right.set_xticks(range(len(d.settings)), [d.labels[s] for s in d.settings],
                         rotation=25, ha="right", fontsize=7)
        right.set(title=f"Wasted executions by cause at {d.focus_threads} threads "
                        f"({d.model_text})",
                  ylabel="wasted executions per tx")
        right.legend(fontsize=7, frameon=False)
        figure.tight_layout()
        self.save(figure, "executions")

    def conflicts(self) -> None:
        d = self.data
        items = []
        for setting in d.settings:
            for entry in d.conflicts(setting)[:4]:
                items.append((d.labels[setting], entry))
        items.sort(key=lambda item: -(item[1]["reexecutions"] + item[1]["suspensions"]))
        items = items[:14][::-1]
        figure, ax = plt.subplots(figsize=(9, 0.35 * len(items) + 1.4))
        names = [f"{label}: {entry['label'] or shorten(entry['location'])}"
                 for label, entry in items]
        aborts = [entry["reexecutions"] for _, entry in items]
        suspensions = [entry["suspensions"] for _, entry in items]
        ax.barh(names, aborts, color=KIND_COLOURS["re-execution"],
                label="re-executions (failed validation)")
        ax.barh(names, suspensions, left=aborts, color=KIND_COLOURS["suspended"],
                label="suspensions (ESTIMATE read)")
        ax.tick_params(axis="y", labelsize=7)
        ax.set(title=f"Hottest locations: {d.focus_strategy} at {d.focus_threads} threads "
                     f"({d.model_text})",
               xlabel="re-executions + suspensions caused (summed over seeds)")
        ax.legend(fontsize=7, frameon=False, loc="lower right")
        if not items:
            ax.text(0.5, 0.5, "no conflicts", transform=ax.transAxes, ha="center")
        self.save(figure, "conflicts")

    def storage_tiers(self) -> None:
        d = self.data
        figure, ax = plt.subplots(figsize=(7.5, 4.6))
        for index, (memory, disk) in enumerate(d.tier_pairs()):
            name = re.sub(r"(, )?cost_model=gas(, )?", lambda m: ", " if m.group(1)
                          and m.group(2) else "", d.labels[memory]).replace(" ()", "")
            for setting, style in ((memory, "-"), (disk, "--")):
                x, y = d.series(setting, d.focus_strategy, "virtual_speedup")
                ax.plot(x, y, marker="o", ms=4, color=PALETTE[index % len(PALETTE)],
                        ls=style, label=f"{name}: {TIERS[setting[3]]}")
        self._ideal(ax)
        self._threads_axis(ax)
        ax.set(title=f"{d.focus_strategy}: state in memory (gas, solid) vs on SSD "
                     "(gas-disk, dashed)",
               xlabel="virtual workers (threads)", ylabel="speedup (x, virtual time)")
        ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1), frameon=False)
        self.save(figure, "storage_tiers")

    def real_parallel(self) -> None:
        d = self.data
        count = len(d.real_settings)
        figure, axes = plt.subplots(1, count, figsize=(4.2 * count, 3.6), squeeze=False)
        for ax, setting in zip(axes.flat, d.real_settings):
            top = 1.0
            for strategy in d.strategies:
                for key, style in (("real_speedup", "-"), ("virtual_speedup", "--")):
                    x, y = d.series(setting, strategy, key)
                    if x:
                        ax.plot(x, y, marker="o", ms=3, ls=style,
                                color=d.strategy_colour(strategy),
                                label=strategy if style == "-" else None)
                        top = max([top, *y])
            self._ideal(ax)
            ax.set_ylim(0, max(top * 1.15, 2))
            self._threads_axis(ax)
            ax.set(title=d.labels[setting], xlabel="worker processes",
                   ylabel="speedup over serial py-evm (x)")
        self._title_and_legend(figure, axes.flat[0], "Real speedup (solid) and the "
                               "simulated prediction (dashed), processes backend")
        self.save(figure, "real_parallel")

    def timeline(self, timeline: dict, name: str) -> str:
        kinds = timeline["kinds"]
        micro = timeline["makespan_us"] < 2000
        scale, unit = (1.0, "µs") if micro else (1e-3, "ms")
        figure, (gantt, bars) = plt.subplots(
            2, 1, figsize=(11, 6.5), gridspec_kw={"height_ratios": [3, 1.2]})
        spans = defaultdict(list)
        for worker, kind, start, end in timeline["spans"]:
            spans[(worker, kinds[kind])].append((start * scale, (end - start) * scale))
        for kind in KIND_COLOURS:
            first = True
            for (worker, event_kind), ranges in sorted(spans.items()):
                if event_kind == kind:
                    gantt.broken_barh(ranges, (worker - 0.4, 0.8), color=KIND_COLOURS[kind],
                                      label=kind if first else None, edgecolor="white",
                                      lw=0.3)
                    first = False
        gantt.set_xlim(0, timeline["makespan_us"] * scale)
        gantt.set_ylim(timeline["threads"] - 0.5, -0.5)
        tasks = f"{timeline['tasks']:,} tasks" + (
            ", each slot drawn as the kind that filled most of it" if timeline["binned"]
            else "")
        params = ", ".join(f"{k}={v}" for k, v in timeline["params"].items())
        gantt.set(title=f"{timeline['workload']}, {timeline['txs']} txs: "
                        f"{timeline['strategy']} on {timeline['threads']} virtual workers, "
                        f"{timeline.get('cost_model', 'gas')} cost model"
                        f"\n({params})",
                  xlabel=f"virtual time ({unit}); makespan "
                         f"{timeline['makespan_us'] * scale:,.1f} {unit}; {tasks}",
                  ylabel="virtual worker")
        gantt.grid(False)
        gantt.legend(fontsize=7, ncol=6, loc="upper center", bbox_to_anchor=(0.5, -0.13),
                     frameon=False)
        executions = timeline["executions_per_tx"]
        bars.bar(range(len(executions)), executions, width=1.0,
                 color=[KIND_COLOURS["re-execution"] if n > 1 else KIND_COLOURS["execution"]
                        for n in executions])
        bars.set(xlabel="transaction index in the block",
                 ylabel="executions", xlim=(-0.5, len(executions) - 0.5),
                 title="executions per transaction (red: re-executed)")
        figure.tight_layout()
        return self.save(figure, f"timeline_{name}")


# -- the documents --------------------------------------------------------------------
def plain_ticks(axis) -> None:
    """A log axis labelled 2, 5, 10, not 2x10^0 (major and minor ticks alike)."""
    from matplotlib.ticker import FuncFormatter, LogLocator

    axis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    axis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
    axis.set_minor_formatter(FuncFormatter(lambda value, _: ""))


def shorten(location: str) -> str:
    """'balance 0x69d8...07de': long hex numbers cut to their ends."""
    return re.sub(r"0x([0-9a-f]{4})[0-9a-f]{6,}([0-9a-f]{4})", r"0x\1...\2", location)


def num(value) -> str:
    return "-" if value is None else f"{value:.2f}"
