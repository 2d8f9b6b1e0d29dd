"""`pevmsim calibrate` and `pevmsim fidelity`: the command lines of calibration.py and
fidelity.py, and the fidelity report (table, statistics, scatter chart, README section).

calibrate: the benchmark table (default: the vendored pevm table) and each block's
features (executed in py-evm, or read from `--features`, which is also where computed
ones are written) -> the fitted constants, R^2, median relative error, and a held-out
split: the blocks with transactions in table order, alternately into halves A and B;
constants fitted on one half are evaluated on the other, both ways.

fidelity: every block of the table (or `--blocks`) under each cost model (fidelity.py)
-> a table per block and per model, the statistics, and with `--out DIR` (default
reports/fidelity; with `--blocks`, reports/fidelity-blocks-N-M: a subset never
replaces a fuller report) fidelity.md, fidelity.json, fidelity.csv and
fidelity.png/.svg;
`--readme PATH` also rewrites the section between fidelity.README_BEGIN and
README_END in that file. Exit code 3 when a run does not match serial.

Invariants: every option and output path is checked before any block runs; progress
goes to stderr, results to stdout.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

from ..paths import unwritable_folder
from ..usage import EXIT_MISMATCH, UsageError

MODEL_COLOURS = {"revm": "#1f77b4", "gas": "#ff7f0e", "measured": "#2ca02c"}


def add_commands(commands) -> None:
    from .arguments import add_output_arguments, comma_list
    from ..costs.cost_model import COST_MODELS
    from ..harness.fidelity import DEFAULT_MODELS, DEFAULT_TABLE

    calibrate = commands.add_parser(
        "calibrate", help="fit the revm cost model's constants to a benchmark table")
    calibrate.add_argument("--table", default=str(DEFAULT_TABLE), metavar="TSV",
                           help="benchmark table in pevm's format (default: the vendored "
                                "pevm_benchmark.tsv)")
    calibrate.add_argument("--features", metavar="CSV",
                           help="per-block features: read if the file exists, else "
                                "computed (py-evm) and written there")
    calibrate.add_argument("--fit-parallel", action="store_true",
                           help="also fit PARALLEL and SCHEDULE to the table's parallel "
                                "times (runs block-stm on every parallel block per grid "
                                "point: tens of minutes)")
    add_output_arguments(calibrate, csv=False)

    fidelity = commands.add_parser(
        "fidelity", help="predicted vs pevm-measured speedups on the vendored blocks")
    fidelity.add_argument("--table", default=str(DEFAULT_TABLE), metavar="TSV",
                          help="benchmark table in pevm's format (default: vendored)")

    def block_number(text):
        try:
            return int(text)
        except ValueError:
            raise UsageError(f"--blocks takes block numbers, got {text!r}")

    fidelity.add_argument("--blocks", type=comma_list("--blocks", block_number, "numbers"),
                          metavar="N[,N...]", help="only these blocks of the table")
    fidelity.add_argument("--cost-models", default=list(DEFAULT_MODELS), metavar="M[,M...]",
                          type=comma_list("--cost-models", _model(list(COST_MODELS)), "names"),
                          help=f"default {','.join(DEFAULT_MODELS)} (the first is the "
                               "headline)")
    fidelity.add_argument("--out", metavar="DIR",
                          help="write fidelity.md/.json/.csv and the chart here (default "
                               f"{FULL_REPORT}; with --blocks, {SUBSET_REPORT.format('N-M')}, "
                               "so a subset never replaces the full report)")
    fidelity.add_argument("--readme", metavar="PATH",
                          help="also rewrite the fidelity section of this file")
    add_output_arguments(fidelity, csv=True)


FULL_REPORT = "reports/fidelity"  # the committed report of every block of the table
SUBSET_REPORT = "reports/fidelity-blocks-{}"  # where a --blocks run goes by default


def report_folder(out: str | None, blocks) -> Path:
    """Where the fidelity report goes: --out, else the full report's folder, or for
    --blocks a folder of its own. A UsageError if that folder holds a report of other
    blocks than these (a subset must never replace a fuller report)."""
    folder = Path(out or (SUBSET_REPORT.format("-".join(map(str, blocks))) if blocks
                          else FULL_REPORT))
    existing = folder / "fidelity.json"
    if blocks and existing.is_file():
        try:
            held = {row["block"] for row in json.loads(existing.read_text())["blocks"]}
        except (OSError, ValueError, KeyError, TypeError):
            held = None
        if held is None or not held <= set(blocks):
            count = "an unreadable" if held is None else f"a {len(held)}-block"
            raise UsageError(f"--out {folder} holds {count} fidelity report; this run has "
                             f"{len(blocks)} block(s) and would replace it: choose another "
                             "--out")
    return folder


def _model(names):
    def parse(text):
        if text not in names:
            raise UsageError(f"unknown cost model {text!r}; valid: {', '.join(names)}")
        return text
    return parse


# -- calibrate ---------------------------------------------------------------------
def command_calibrate(args) -> int:
    from ..harness.calibration import CalibrationError, read_table
    from .exports import ExportError, check_outputs, export
    from ..progress import Progress

    if args.features and not Path(args.features).exists() \
            and not Path(args.features).resolve().parent.is_dir():
        raise UsageError(f"--features {args.features}: no such directory to write it in")
    try:
        check_outputs(args.json, None)
        table = read_table(args.table)
        features = _features(table, args.features, Progress())
        result = calibrate(table, features)
    except (CalibrationError, ExportError) as exc:
        raise UsageError(str(exc))
    if args.fit_parallel:
        result["parallel"] = parallel_constants(table, features, Progress())
    if args.json:
        export(args.json, None, result, [])
    if args.json != "-":
        print(format_calibration(result))
    return 0


def _features(table, path, progress) -> dict:
    from workloads.mainnet import load_block

    from ..harness.calibration import block_features, read_features, write_features

    if path and Path(path).exists():
        rows = read_features(path)
        missing = [m.block for m in table if m.block not in rows]
        if missing:
            raise UsageError(f"{path} has no features for block {missing[0]}")
        return rows
    rows = {}
    for index, m in enumerate(table, 1):
        block = load_block(m.block)
        with progress.stage(f"[{index}/{len(table)}] block {m.block}: py-evm, in order",
                            len(block)):
            rows[m.block] = block_features(block)
    if path:
        write_features(path, rows)
    return rows


def halves(table) -> tuple:
    """The rows with transactions, alternately into two halves (table order)."""
    rows = [m for m in table if m.txs > 0]
    return rows[0::2], rows[1::2]


def calibrate(table, features: dict) -> dict:
    """The fit on every block, and the held-out split both ways."""
    from ..harness.calibration import evaluate, fit

    def fitted(rows):
        return fit([features[m.block] for m in rows], [m.sequential_ms / 1e3 for m in rows])

    def scored(constants, rows):
        return evaluate(constants, [features[m.block] for m in rows],
                        [m.sequential_ms / 1e3 for m in rows])

    whole = fitted(table)
    first, second = halves(table)
    split = []
    for name, train, test in (("A->B", first, second), ("B->A", second, first)):
        model = fitted(train)
        split.append({"fit_on": [m.block for m in train], "evaluated_on": [m.block for m in test],
                      "direction": name, "constants": model.constants,
                      "train_median_relative_error": model.median_relative_error,
                      "held_out": scored(model.constants, test)})
    return {"fit": whole.as_dict(), "split": split,
            "features": {str(block): features[block] for block in sorted(features)}}


def parallel_constants(table, features: dict, progress) -> dict:
    """calibration.fit_parallel on the blocks the table ran in parallel, and the
    held-out split: sequential constants, PARALLEL and SCHEDULE fitted on one half, the
    predicted speedups scored (fidelity.error_stats) on the other half's parallel
    blocks, both ways."""
    from workloads.mainnet import load_block

    from ..harness.calibration import PEVM_THREADS, fit, fit_parallel, predicted_speedup
    from ..harness.fidelity import error_stats

    loaded: dict = {}

    def blocks(rows):
        return [loaded.setdefault(m.block, load_block(m.block)) for m in rows]

    def fitted(rows, constants, label):
        parallel = [m for m in rows if m.ran_parallel]
        return fit_parallel(blocks(parallel), [m.speedup for m in parallel], PEVM_THREADS,
                            constants, progress=lambda factor, value, score: progress.line(
                                f"{label}PARALLEL {factor:g}, SCHEDULE {value * 1e6:g} us: "
                                f"squared log error {score:.3f}"))

    result = fitted(table, None, "")
    split = []
    for name, train, test in (("A->B", *halves(table)), ("B->A", *halves(table)[::-1])):
        constants = fit([features[m.block] for m in train],
                        [m.sequential_ms / 1e3 for m in train]).constants
        found = fitted(train, constants, f"split {name}: ")
        constants.update(PARALLEL=found["PARALLEL"], SCHEDULE=found["SCHEDULE"])
        parallel = [m for m in test if m.ran_parallel]
        predicted = [predicted_speedup(block, PEVM_THREADS, constants)
                     for block in blocks(parallel)]
        split.append({"direction": name, "constants": constants,
                      "held_out_speedups": error_stats(predicted,
                                                       [m.speedup for m in parallel])})
    result["split"] = split
    return result


def format_calibration(result: dict) -> str:
    fit = result["fit"]
    lines = [f"fitted on {fit['blocks']} blocks (relative least squares, constants >= 0):"]
    lines += [f"  {name:<10} {value * 1e9:12.4f} ns" for name, value in fit["constants"].items()]
    lines.append(f"  R^2 {fit['r_squared']:.3f}, median relative error "
                 f"{fit['median_relative_error']:.1%}")
    for half in result["split"]:
        held = half["held_out"]
        lines.append(f"split {half['direction']}: fit on {len(half['fit_on'])} blocks "
                     f"(median error {half['train_median_relative_error']:.1%}), held-out "
                     f"{held['blocks']} blocks: median relative error "
                     f"{held['median_relative_error']:.1%}, mean {held['mean_relative_error']:.1%}")
    if "parallel" in result:
        found = result["parallel"]
        lines.append(f"PARALLEL {found['PARALLEL']:g}, SCHEDULE {found['SCHEDULE'] * 1e6:g} us "
                     "from pevm's parallel times (least squared log error of the speedups; "
                     f"{len(found['scores'])} grid points)")
        for half in found["split"]:
            held = half["held_out_speedups"]
            lines.append(f"split {half['direction']}: PARALLEL {half['constants']['PARALLEL']:g}, "
                         f"SCHEDULE {half['constants']['SCHEDULE'] * 1e6:g} us; held-out "
                         f"speedups of {held['blocks']} parallel blocks: Spearman "
                         f"{held['spearman']:.2f}, median |error| "
                         f"{held['median_abs_relative_error']:.1%}, mean "
                         f"{held['mean_abs_relative_error']:.1%}, median ratio "
                         f"{held['median_ratio']:.2f}")
    return "\n".join(lines)


# -- fidelity ----------------------------------------------------------------------
def command_fidelity(args) -> int:
    from ..harness.calibration import CalibrationError, read_table
    from .exports import ExportError, check_outputs, export, to_stdout
    from ..harness.fidelity import README_BEGIN, README_END, run_fidelity, statistics
    from ..progress import Progress

    try:
        check_outputs(args.json, args.csv)
        table = read_table(args.table)
    except (CalibrationError, ExportError) as exc:
        raise UsageError(str(exc))
    if args.blocks:
        unknown = sorted(set(args.blocks) - {m.block for m in table})
        if unknown:
            raise UsageError(f"block {unknown[0]} is not in {args.table}")
    if args.readme:
        text = Path(args.readme).read_text() if Path(args.readme).is_file() else ""
        if README_BEGIN not in text or README_END not in text:
            raise UsageError(f"{args.readme} has no {README_BEGIN} ... {README_END} section")
    out = report_folder(args.out, args.blocks)
    reason = unwritable_folder(out)
    if reason is not None:
        raise UsageError(f"--out {out}: {reason}")
    if args.readme and not out.resolve().is_relative_to(Path(args.readme).resolve().parent):
        raise UsageError(f"--out {out} must be inside the folder of --readme {args.readme}, "
                         "so that the README can show its chart")
    models = args.cost_models
    rows = run_fidelity(args.table, models, set(args.blocks) if args.blocks else None,
                        Progress())
    stats = statistics(rows, models)
    result = {"cost_models": models, "threads": 12, "rules": "pevm",
              "blocks": [row.as_dict() for row in rows], "statistics": stats}
    export(args.json, args.csv, result, [_csv_row(row, models) for row in rows])
    out.mkdir(parents=True, exist_ok=True)
    written = write_report(out, rows, stats, models)
    if args.readme:
        update_readme(Path(args.readme), out, stats, models, len(rows))
    if not to_stdout(args.json, args.csv):
        print(format_table(rows, stats, models))
        print(f"wrote {', '.join(str(path) for path in written)}")
    ok = all(all(row.matches_serial.values()) for row in rows)
    return 0 if ok else EXIT_MISMATCH


def _csv_row(row, models) -> dict:
    record = {"block": row.block, "txs": row.txs, "gas_used": row.gas_used,
              "measured_speedup": row.measured_speedup, "pevm_parallel": row.pevm_parallel}
    for model in models:
        record[f"predicted_{model}"] = row.predicted[model]
        record[f"ratio_{model}"] = row.predicted[model] / row.measured_speedup
        record[f"matches_serial_{model}"] = row.matches_serial[model]
    return record


def format_table(rows, stats, models) -> str:
    header = f"{'block':>9} {'txs':>5} {'pevm':>6} " + " ".join(
        f"{model:>9} {'ratio':>6}" for model in models)
    lines = [header]
    for row in rows:
        cells = " ".join(f"{row.predicted[m]:>8.2f}x {row.predicted[m] / row.measured_speedup:>6.2f}"
                         for m in models)
        mark = "" if row.pevm_parallel else "  (pevm: sequential)"
        bad = "" if all(row.matches_serial.values()) else "  DOES NOT MATCH SERIAL"
        lines.append(f"{row.block:>9} {row.txs:>5} {row.measured_speedup:>5.2f}x {cells}{mark}{bad}")
    lines.append("")
    lines += [format_stats(model, stats[model]) for model in models if model in stats]
    return "\n".join(lines)


def format_stats(model: str, s: dict) -> str:
    return (f"{model}: {s['blocks']} parallel blocks: Spearman {s['spearman']:.2f}, "
            f"median |error| {s['median_abs_relative_error']:.1%}, mean |error| "
            f"{s['mean_abs_relative_error']:.1%}, median predicted/measured "
            f"{s['median_ratio']:.2f}")


def write_report(out: Path, rows, stats, models) -> list:
    chart = out / "fidelity"
    written = scatter(rows, stats, models, chart)
    (out / "fidelity.json").write_text(json.dumps(
        {"cost_models": models, "blocks": [row.as_dict() for row in rows],
         "statistics": stats}, indent=1) + "\n")
    with (out / "fidelity.csv").open("w", newline="") as handle:
        records = [_csv_row(row, models) for row in rows]
        writer = csv.DictWriter(handle, fieldnames=list(records[0]) if records else ["block"])
        writer.writeheader()
        writer.writerows(records)
    (out / "fidelity.md").write_text(
        "# pevmsim fidelity: predicted vs pevm-measured speedups\n\n"
        "Written by `pevmsim fidelity`. block-stm at 12 virtual workers with pevm's rules "
        "(sequential fallbacks, no validation of tx 0, lazy raw transfers and coinbase); "
        "pevm: revm, 12 threads, Graviton3 (risechain/pevm, MIT). Statistics over the "
        "blocks pevm ran in parallel.\n\n"
        + "\n".join(f"- {format_stats(m, stats[m])}" for m in models if m in stats)
        + "\n\n![fidelity](fidelity.png)\n\n```\n" + format_table(rows, stats, models)
        + "\n```\n")
    return written + [out / "fidelity.json", out / "fidelity.csv", out / "fidelity.md"]


def scatter(rows, stats, models, path: Path) -> list:
    """Predicted vs measured speedup, one colour per model, the diagonal drawn; hollow
    markers for the blocks pevm ran sequentially. PNG and SVG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams.update({"svg.hashsalt": "pevmsim", "font.size": 9})
    figure, ax = plt.subplots(figsize=(6.4, 5.2))
    values = [row.measured_speedup for row in rows] + [
        row.predicted[m] for row in rows for m in models]
    top = max(values + [1.0]) * 1.08
    ax.plot([0, top], [0, top], color="#888888", linewidth=1, label="predicted = measured")
    for model in models:
        colour = MODEL_COLOURS.get(model, "#9467bd")
        label = model + (f" (Spearman {stats[model]['spearman']:.2f}, median |error| "
                         f"{stats[model]['median_abs_relative_error']:.0%})"
                         if model in stats else "")
        for parallel, face in ((True, colour), (False, "none")):
            chosen = [row for row in rows if row.pevm_parallel == parallel]
            ax.scatter([row.measured_speedup for row in chosen],
                       [row.predicted[model] for row in chosen], s=22, edgecolors=colour,
                       facecolors=face, label=label if parallel else None)
    ax.set_xlim(0, top)
    ax.set_ylim(0, top)
    ax.set_xlabel("pevm's measured speedup (revm, 12 threads)")
    ax.set_ylabel("pevmsim's predicted speedup (block-stm, 12 workers)")
    ax.set_title(f"pevmsim vs pevm on {len(rows)} mainnet blocks "
                 "(hollow: pevm ran sequentially)")
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right", fontsize=8)
    written = []
    for ext, metadata in (("png", {"Software": None}), ("svg", {"Date": None})):
        target = path.with_suffix(f".{ext}")
        figure.savefig(target, format=ext, metadata=metadata, dpi=110, bbox_inches="tight")
        written.append(target)
    plt.close(figure)
    return written


def update_readme(readme: Path, out: Path, stats: dict, models, blocks: int) -> None:
    from ..harness.fidelity import README_BEGIN, README_END

    text = readme.read_text()
    head, rest = text.split(README_BEGIN, 1)
    _, tail = rest.split(README_END, 1)
    chart = (out / "fidelity.png").resolve().relative_to(readme.resolve().parent)
    lines = [f"`pevmsim fidelity --readme {readme.name}` on {blocks} blocks: predicted "
             "(block-stm, 12 virtual workers, pevm's rules) against pevm's measured "
             "speedups, over the blocks pevm ran in parallel:", ""]
    lines += [f"- {format_stats(model, stats[model])}" for model in models if model in stats]
    lines += ["", f"![predicted vs measured speedup]({chart.as_posix()})"]
    readme.write_text(f"{head}{README_BEGIN}\n" + "\n".join(lines) + f"\n{README_END}{tail}")
