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
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..paths import unwritable_folder
from ..usage import EXIT_MISMATCH, UsageError

MODEL_COLOURS = {"revm": "#1f77b4", "gas": "#ff7f0e", "measured": "#2ca02c"}


def add_commands(commands) -> None:
    from .arguments import add_output_arguments, comma_list, positive
    from ..costs.cost_model import COST_MODELS
    from ..harness.fidelity import (DEFAULT_CALIBRATION, DEFAULT_FOLDS, DEFAULT_MODELS,
                           DEFAULT_TABLE, GIGAGAS_TABLE)

    calibrate = commands.add_parser(
        "calibrate", help="fit the revm cost model's constants to a benchmark table")
    calibrate.add_argument("--table", default=str(DEFAULT_TABLE), metavar="TSV",
                           help="benchmark table in pevm's format (default: the vendored "
                                "pevm_benchmark.tsv)")
    calibrate.add_argument("--features", metavar="CSV",
                           help="per-block features: read if the file exists, else "
                                "computed (py-evm) and written there")
    calibrate.add_argument("--gigagas", default=str(GIGAGAS_TABLE), metavar="TSV",
                           help="gigagas figures (default: the vendored "
                                "gigagas_benchmarks.tsv; pevm's rows are fitted)")
    calibrate.add_argument("--folds", type=_folds, default=DEFAULT_FOLDS, metavar="K",
                           help=f"k-fold cross-validation (default {DEFAULT_FOLDS})")
    calibrate.add_argument("--jobs", type=positive("--jobs"), default=1, metavar="N",
                           help="with --fit-parallel: processes that simulate a grid "
                                "point's blocks side by side (default 1)")
    calibrate.add_argument("--fit-parallel", action="store_true",
                           help="also fit the parallel constants to both tables' "
                                "parallel times (runs block-stm on every parallel block "
                                "per grid point: about an hour)")
    calibrate.add_argument("--reuse", metavar="JSON",
                           help="with --fit-parallel: an earlier --fit-parallel --json "
                                "output; its grid points that would be simulated alike "
                                "(same targets, same sequential constants) are not "
                                "simulated again")
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
    fidelity.add_argument("--calibration", default=str(DEFAULT_CALIBRATION), metavar="JSON",
                          help="`pevmsim calibrate --fit-parallel --json` output: each "
                               "block's fold constants, for the k-fold held-out figures "
                               "(default reports/fidelity/calibration.json; '' skips them)")
    fidelity.add_argument("--gigagas", default=str(GIGAGAS_TABLE), metavar="TSV",
                          help="gigagas figures (default: the vendored table; pevm's rows)")
    fidelity.add_argument("--gigagas-workloads", metavar="W[,W...]",
                          type=comma_list("--gigagas-workloads", str, "names"),
                          help="only these gigagas blocks (default all; 'none' for none)")
    fidelity.add_argument("--real", action="store_true",
                          help="instead, the ground truth on real cores: block-stm on the "
                               "processes backend (forked worker processes) on a few "
                               "blocks, set beside the simulated predictions; writes "
                               "real.md and real.json in the report folder and leaves the "
                               "simulated report as it is (fidelity.md carries it when "
                               "next written)")
    fidelity.add_argument("--real-workers", default=None, metavar="T[,T...]",
                          type=comma_list("--real-workers", positive("--real-workers"),
                                          "counts"),
                          help="with --real: worker processes (default 1,2; more than "
                               "the machine's cores oversubscribe it)")
    add_output_arguments(fidelity, csv=True)


def _folds(text):
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 2:
        raise UsageError(f"--folds takes a whole number of folds, 2 or more, got {text!r}")
    return value


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
    from ..harness.fidelity import read_gigagas
    from ..progress import Progress

    if args.features and not Path(args.features).exists() \
            and not Path(args.features).resolve().parent.is_dir():
        raise UsageError(f"--features {args.features}: no such directory to write it in")
    try:
        check_outputs(args.json, None)
        table = read_table(args.table)
        gigagas = calibration_rows(read_gigagas(args.gigagas))
        previous = _previous_search(args.reuse) if args.reuse else {}
        features = _features(table, gigagas, args.features, Progress())
        result = calibrate(table, gigagas, features, args.folds)
    except (CalibrationError, ExportError) as exc:
        raise UsageError(str(exc))
    if args.fit_parallel:
        result["parallel"] = parallel_constants(table, gigagas, features, args.folds,
                                                Progress(), args.jobs, previous)
    if args.json:
        export(args.json, None, result, [])
    if args.json != "-":
        print(format_calibration(result))
    return 0


def calibration_rows(rows) -> list:
    """The gigagas rows measured on the engine that the mainnet table measured."""
    from ..harness.fidelity import GIGAGAS_ENGINE

    return [row for row in rows if row.engine == GIGAGAS_ENGINE]


def _features(table, gigagas, path, progress) -> dict:
    """Each mainnet block's features (by number) and each gigagas block's (by workload
    name, counted on the larger of its calibration blocks)."""
    from workloads.mainnet import load_block

    from ..harness.calibration import block_features, read_features, write_features
    from ..harness.fidelity import gigagas_blocks

    wanted = [m.block for m in table] + [row.workload for row in gigagas]
    if path and Path(path).exists():
        rows = read_features(path)
        missing = [block for block in wanted if block not in rows]
        if missing:
            raise UsageError(f"{path} has no features for block {missing[0]}")
        return rows
    rows = {}
    for index, m in enumerate(table, 1):
        block = load_block(m.block)
        with progress.stage(f"[{index}/{len(table)}] block {m.block}: py-evm, in order",
                            len(block)):
            rows[m.block] = block_features(block)
    for row in gigagas:
        block = gigagas_blocks(row)[-1]
        with progress.stage(f"{row.workload} ({len(block)} txs): py-evm, in order",
                            len(block)):
            rows[row.workload] = block_features(block)
    if path:
        write_features(path, rows)
    return rows


@dataclass(frozen=True)
class SequentialRow:
    """One block's sequential time to fit: `seconds` measured for the transactions
    whose `features` were counted (a gigagas block's time scaled to its calibration
    block's transactions), and its fold."""

    block: object  # a mainnet block number or a gigagas workload name
    features: dict
    seconds: float
    fold: int


def sequential_rows(table, gigagas, features: dict, folds: int) -> list:
    """The blocks with transactions, each table's rows in order, fold = its row
    index mod `folds` (calibration.fold_of)."""
    from ..harness.calibration import fold_of

    rows = [SequentialRow(m.block, features[m.block], m.sequential_ms / 1e3,
                          fold_of(index, folds)) for index, m in enumerate(table)]
    rows += [SequentialRow(row.workload, features[row.workload],
                           row.sequential_ms / 1e3 * features[row.workload]["txs"] / row.txs,
                           fold_of(index, folds)) for index, row in enumerate(gigagas)]
    return [row for row in rows if row.features["txs"] > 0]


def _fit(rows):
    from ..harness.calibration import fit

    return fit([row.features for row in rows], [row.seconds for row in rows])


def calibrate(table, gigagas, features: dict, folds: int) -> dict:
    """The sequential fit on every block of both tables, and k-fold held-out errors:
    each fold's blocks predicted by constants fitted on the other folds."""
    from ..harness.calibration import block_order, predict, relative_errors

    rows = sequential_rows(table, gigagas, features, folds)
    whole = _fit(rows)
    held_out = {}
    for fold in range(folds):
        train = [row for row in rows if row.fold != fold]
        test = [row for row in rows if row.fold == fold]
        if not test:
            continue
        constants = _fit(train).constants
        for row in test:
            held_out[str(row.block)] = float(relative_errors(
                [predict(constants, row.features)], [row.seconds])[0])
    errors = list(held_out.values())
    return {"fit": whole.as_dict(), "folds": folds,
            "held_out": {"blocks": len(errors),
                         "median_relative_error": float(np.median(errors)),
                         "mean_relative_error": float(np.mean(errors)),
                         "per_block": held_out},
            "in_sample_per_block": {str(row.block): float(relative_errors(
                [predict(whole.constants, row.features)], [row.seconds])[0])
                for row in rows},
            "features": {str(block): features[block]
                         for block in sorted(features, key=block_order)}}


def parallel_targets(table, gigagas, folds: int) -> tuple:
    """(targets, their folds): the mainnet blocks pevm ran in parallel (at the table's
    thread count) and the gigagas blocks (at theirs), folds as in sequential_rows."""
    from workloads.mainnet import load_block

    from ..harness.calibration import PEVM_THREADS, Target, fold_of
    from ..harness.fidelity import gigagas_blocks

    targets, target_folds = [], []
    for index, m in enumerate(table):
        if m.ran_parallel:
            targets.append(Target(str(m.block), "mainnet", PEVM_THREADS, m.speedup,
                                  (load_block(m.block),)))
            target_folds.append(fold_of(index, folds))
    for index, row in enumerate(gigagas):
        targets.append(Target(row.workload, "gigagas", row.threads, row.speedup,
                              gigagas_blocks(row)))
        target_folds.append(fold_of(index, folds))
    return targets, target_folds


def _previous_search(path) -> dict:
    """The "parallel" object of an earlier `calibrate --fit-parallel --json` output."""
    from ..harness.calibration import CalibrationError

    try:
        return json.loads(Path(path).read_text()).get("parallel") or {}
    except (OSError, ValueError, AttributeError) as exc:
        raise CalibrationError(f"--reuse {path}: not a calibration JSON ({exc})")


def parallel_constants(table, gigagas, features: dict, folds: int, progress,
                       jobs: int = 1, previous=None) -> dict:
    """The parallel constants (calibration.PARALLEL_CONSTANTS): the grid point that
    calibration.GridSearch ends at on both tables' parallel blocks, with the
    sequential constants of the joint fit; and k-fold held-out speedups: for each fold,
    the sequential constants refitted without it, the visited grid point of least loss
    on the other folds' blocks only, and the fold's blocks simulated again with those
    constants. (Stated leaks: the visited points were chosen by the search on every
    block, and simulated with the joint fit's sequential constants.) `previous`: an
    earlier search's record, whose matching points are reused (reusable_predictions)."""
    from ..costs.cost_model import RevmCostModel
    from ..harness.calibration import (PARALLEL_CONSTANTS, GridSearch, grid_point, loss,
                                       reusable_predictions, target_speedup)

    rows = sequential_rows(table, gigagas, features, folds)
    sequential = _fit(rows).constants
    targets, target_folds = parallel_targets(table, gigagas, folds)

    def report(count, point, score):
        progress.line(f"grid point {count}: " + ", ".join(
            f"{name} {value:g}" for name, value in point.items()) + f": loss {score:.4f}")

    defaults = {name: getattr(RevmCostModel, name) for name in PARALLEL_CONSTANTS}
    known = reusable_predictions(previous or {}, targets, sequential, defaults)
    if known:
        progress.line(f"{len(known)} grid points reused from --reuse")
    search = GridSearch(targets, sequential, progress=report, jobs=jobs, known=known)
    best = search.search()
    held_out, fold_constants = {}, []
    for fold in range(folds):
        chosen = [i for i, f in enumerate(target_folds) if f != fold]
        if len(chosen) == len(targets):
            continue
        constants = {**_fit([row for row in rows if row.fold != fold]).constants,
                     **grid_point(search.best_visited(chosen))}
        fold_constants.append({"fold": fold, "constants": constants})
        for i, target in enumerate(targets):
            if target_folds[i] == fold:
                held_out[target.name] = target_speedup(target, constants)
                progress.line(f"fold {fold}: {target.name} held out: "
                              f"{held_out[target.name]:.2f}x (pevm {target.measured}x)")
    in_sample = search.predictions[best]
    return {"constants": grid_point(best), "sequential": sequential,
            "loss": loss(targets, in_sample), "folds": folds,
            "fold_constants": fold_constants,
            "targets": [{"block": t.name, "table": t.table, "threads": t.threads,
                         "measured": t.measured, "fold": f, "in_sample": p,
                         "held_out": held_out.get(t.name)}
                        for t, f, p in zip(targets, target_folds, in_sample)],
            "visited": [{"point": grid_point(indexes), "predictions": predictions}
                        for indexes, predictions in search.predictions.items()]}


def format_calibration(result: dict) -> str:
    from ..harness.fidelity import error_stats

    fit = result["fit"]
    lines = [f"fitted on {fit['blocks']} blocks (relative least squares, constants >= 0):"]
    lines += [f"  {name:<10} {value * 1e9:12.4f} ns" for name, value in fit["constants"].items()]
    lines.append(f"  R^2 {fit['r_squared']:.3f}, median relative error "
                 f"{fit['median_relative_error']:.1%}")
    held = result["held_out"]
    lines.append(f"{result['folds']}-fold held out, {held['blocks']} blocks: median relative "
                 f"error {held['median_relative_error']:.1%}, mean "
                 f"{held['mean_relative_error']:.1%}")
    if "parallel" in result:
        found = result["parallel"]
        lines.append("parallel constants (coordinate descent on the grid, "
                     f"{len(found['visited'])} points visited): " + ", ".join(
                         f"{name} {value:g}" for name, value in found["constants"].items())
                     + f"; loss {found['loss']:.4f}")
        for label, key in (("in-sample", "in_sample"), ("held out", "held_out")):
            for table in ("mainnet", "gigagas"):
                chosen = [t for t in found["targets"] if t["table"] == table
                          and t[key] is not None]
                if len(chosen) >= 2:
                    s = error_stats([t[key] for t in chosen], [t["measured"] for t in chosen])
                    lines.append(f"  {label} {table}, {s['blocks']} blocks: Spearman "
                                 f"{s['spearman']:.2f}, median |error| "
                                 f"{s['median_abs_relative_error']:.1%}, median ratio "
                                 f"{s['median_ratio']:.2f}")
        for t in found["targets"]:
            if t["table"] == "gigagas":
                lines.append(f"  {t['block']}: in-sample {t['in_sample']:.2f}x, held out "
                             f"{t['held_out']:.2f}x, pevm {t['measured']}x")
    return "\n".join(lines)


# -- fidelity ----------------------------------------------------------------------
def command_fidelity(args) -> int:
    from ..harness.calibration import CalibrationError, read_table
    from .exports import ExportError, check_outputs, export, to_stdout
    from ..harness.fidelity import (README_BEGIN, README_END, error_stats, held_out, load_folds,
                           read_gigagas, run_fidelity, run_gigagas, statistics)
    from ..progress import Progress

    try:
        check_outputs(args.json, args.csv)
        table = read_table(args.table)
        gigagas = calibration_rows(read_gigagas(args.gigagas))
        folds = load_folds(args.calibration) if args.calibration else {}
    except (CalibrationError, ExportError) as exc:
        raise UsageError(str(exc))
    if args.blocks:
        unknown = sorted(set(args.blocks) - {m.block for m in table})
        if unknown:
            raise UsageError(f"block {unknown[0]} is not in {args.table}")
    if args.gigagas_workloads is not None:
        wanted = [] if args.gigagas_workloads == ["none"] else args.gigagas_workloads
        known = [row.workload for row in gigagas]
        unknown = [name for name in wanted if name not in known]
        if unknown:
            raise UsageError(f"--gigagas-workloads: {unknown[0]} is not a gigagas block of "
                             f"{args.gigagas}; valid: {', '.join(known)}")
        gigagas = [row for row in gigagas if row.workload in wanted]
    if args.readme:
        text = Path(args.readme).read_text() if Path(args.readme).is_file() else ""
        if README_BEGIN not in text or README_END not in text:
            raise UsageError(f"{args.readme} has no {README_BEGIN} ... {README_END} section")
    out = report_folder(args.out, args.blocks)
    reason = unwritable_folder(out)
    if reason is not None:
        raise UsageError(f"--out {out}: {reason}")
    if args.real_workers and not args.real:
        raise UsageError("--real-workers goes with --real")
    if args.real:
        return command_real(out, args.real_workers, args.json)
    if args.readme and not out.resolve().is_relative_to(Path(args.readme).resolve().parent):
        raise UsageError(f"--out {out} must be inside the folder of --readme {args.readme}, "
                         "so that the README can show its chart")
    models = args.cost_models
    progress = Progress()
    rows = run_fidelity(args.table, models, set(args.blocks) if args.blocks else None,
                        progress)
    stats = statistics(rows, models)
    held = held_out(rows, folds, progress)
    held_rows = [row for row in rows if row.block in held]
    held_stats = (error_stats([held[row.block][0] for row in held_rows],
                              [row.measured_speedup for row in held_rows])
                  if len(held_rows) >= 2 else {})
    giga = run_gigagas(gigagas, models, folds, progress=progress)
    result = {"cost_models": models, "threads": 12, "rules": "pevm",
              "blocks": [{**row.as_dict(), "held_out_revm": held.get(row.block, (None,))[0]}
                         for row in rows],
              "statistics": stats,
              "held_out": {"folds": _fold_count(args.calibration), "cost_model": "revm",
                           "statistics": held_stats},
              "gigagas": [entry.as_dict() for entry in giga],
              "threads_note": THREADS_NOTE}
    export(args.json, args.csv, result, [_csv_row(row, models) for row in rows])
    out.mkdir(parents=True, exist_ok=True)
    written = write_report(out, rows, stats, models, result)
    if args.readme:
        update_readme(Path(args.readme), out, stats, models, len(rows), result)
    if not to_stdout(args.json, args.csv):
        print(format_table(rows, stats, models))
        print(format_extra(result))
        print(f"wrote {', '.join(str(path) for path in written)}")
    ok = (all(all(row.matches_serial.values()) for row in rows)
          and all(good for _, good in held.values())
          and all(entry.matches_serial for entry in giga))
    return 0 if ok else EXIT_MISMATCH


def command_real(out: Path, workers, json_path) -> int:
    """`pevmsim fidelity --real`: run_real, written to out/real.json and out/real.md."""
    from ..harness.fidelity import REAL_CASES, REAL_WORKERS, run_real
    from ..progress import Progress
    from .exports import export, to_stdout

    import os

    before = os.getloadavg()[0]
    rows = run_real(REAL_CASES, workers or REAL_WORKERS, Progress())
    result = {"strategy": "block-stm", "backend": "processes", "rows": rows,
              "cores": os.cpu_count(), "load_average": [before, os.getloadavg()[0]],
              "note": REAL_NOTE}
    if json_path:
        export(json_path, None, result, [])
    out.mkdir(parents=True, exist_ok=True)
    (out / "real.json").write_text(json.dumps(result, indent=1) + "\n")
    (out / "real.md").write_text("# pevmsim fidelity: real cores\n\nWritten by "
                                 "`pevmsim fidelity --real`.\n\n" + format_real(result)
                                 + "\n")
    if not to_stdout(json_path, None):
        print(format_real(result))
    return 0 if all(row["matches_serial"] for row in rows) else EXIT_MISMATCH


REAL_NOTE = ("Real: block-stm on N forked worker processes of this machine (py-evm), "
             "wall-clock, against stock serial py-evm timed in the same process (median "
             "of 3) and against this engine executing the block in order; observed: the "
             "run replayed in the simulated backend with the costs it observed; measured, "
             "revm, gas: the same block simulated on N virtual workers under that cost "
             "model (measured: py-evm's CPU time per execution, the prediction for "
             "py-evm; revm and gas predict a native EVM). A speedup is a measurement only "
             "on an otherwise idle machine with at least N cores.")


def format_real(result: dict) -> str:
    """The real-cores table (a Markdown table and its note)."""
    models = list(result["rows"][0]["predicted"]) if result["rows"] else []
    lines = ["| block | txs | workers | real vs serial py-evm | real vs engine in order | "
             "observed replay | " + " | ".join(f"{m} predicted" for m in models)
             + " | matches serial |",
             "| --- | --- | --- | --- | --- | --- | " + " | ".join("---" for _ in models)
             + " | --- |"]
    for row in result["rows"]:
        lines.append(f"| {row['case']} | {row['txs']} | {row['workers']} | "
                     f"{row['real_speedup']:.2f}x | {row['real_engine_speedup']:.2f}x | "
                     f"{row['observed_replay']:.2f}x | " + " | ".join(
                         f"{row['predicted'][m]:.2f}x" for m in models)
                     + f" | {'yes' if row['matches_serial'] else 'NO'} |")
    load = result["load_average"]
    return ("\n".join(lines) + f"\n\nOn {result['cores']} cores; 1-minute load average "
            f"{load[0]:.1f} before, {load[1]:.1f} after (other work on the machine "
            "slows the real runs). " + result["note"])


THREADS_NOTE = ("Calibrated thread counts: 12 for the mainnet blocks (pevm's table), 32 for "
                "the gigagas blocks (pevm's); every other thread count, and the scaling "
                "curves' points other than 32, are extrapolations of the fitted model.")


def _fold_count(path) -> int | None:
    if not path or not Path(path).is_file():
        return None
    return json.loads(Path(path).read_text()).get("parallel", {}).get("folds")


def format_extra(result: dict) -> str:
    """The held-out statistics and the gigagas table."""
    lines = []
    held = result["held_out"]
    if held["statistics"]:
        lines.append(f"{held['folds']}-fold held out: " + format_stats("revm",
                                                                        held["statistics"]))
    if result["gigagas"]:
        models = list(result["gigagas"][0]["predicted_speedup"])
        lines.append("")
        lines.append(f"{'gigagas block':<18} {'threads':>7} {'pevm':>7} " + " ".join(
            f"{m:>9}" for m in models) + f" {'held out':>9}")
        for entry in result["gigagas"]:
            held_revm = entry["held_out_revm"]
            lines.append(f"{entry['block']:<18} {entry['threads']:>7} "
                         f"{entry['measured_speedup']:>6.2f}x " + " ".join(
                             f"{entry['predicted_speedup'][m]:>8.2f}x" for m in models)
                         + (f" {held_revm:>8.2f}x" if held_revm is not None else ""))
        lines.append("revm scaling (predicted speedup by workers): " + "; ".join(
            entry["block"] + " " + ", ".join(f"{t}: {s:.1f}x"
                                             for t, s in entry["scaling_revm"].items())
            for entry in result["gigagas"]))
    lines.append(result["threads_note"])
    return "\n".join(lines)


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


def write_report(out: Path, rows, stats, models, result: dict) -> list:
    chart = out / "fidelity"
    written = scatter(rows, stats, models, chart, result)
    if result["gigagas"]:
        written += scaling_chart(result["gigagas"], out / "fidelity_scaling")
    (out / "fidelity.json").write_text(json.dumps(result, indent=1) + "\n")
    with (out / "fidelity.csv").open("w", newline="") as handle:
        records = [_csv_row(row, models) for row in rows]
        writer = csv.DictWriter(handle, fieldnames=list(records[0]) if records else ["block"])
        writer.writeheader()
        writer.writerows(records)
    held = result["held_out"]
    (out / "fidelity.md").write_text(
        "# pevmsim fidelity: predicted vs pevm-measured speedups\n\n"
        "Written by `pevmsim fidelity`. block-stm with pevm's rules (sequential "
        "fallbacks, no validation of tx 0, lazy raw transfers and coinbase); pevm: revm, "
        "Graviton3 (risechain/pevm, MIT); mainnet blocks at 12 virtual workers (pevm's "
        "12 threads), gigagas blocks at 32 (pevm's 32). Statistics over the mainnet "
        "blocks pevm ran in parallel.\n\n"
        "In-sample (the fitted constants):\n\n"
        + "\n".join(f"- {format_stats(m, stats[m])}" for m in models if m in stats)
        + ("\n\nHeld out (each block predicted by the constants of the "
           f"{held['folds']}-fold cross-validation that left it out, "
           "`pevmsim calibrate --fit-parallel`):\n\n- "
           + format_stats("revm", held["statistics"]) if held["statistics"] else "")
        + "\n\n![fidelity](fidelity.png)\n\n"
        + ("![gigagas scaling](fidelity_scaling.png)\n\n" if result["gigagas"] else "")
        + "```\n" + format_table(rows, stats, models) + "\n" + format_extra(result)
        + "\n```\n" + real_section(out))
    return written + [out / "fidelity.json", out / "fidelity.csv", out / "fidelity.md"]


def real_section(out: Path) -> str:
    """The real-cores section of fidelity.md, from out/real.json (`pevmsim fidelity
    --real`) when it is there."""
    path = out / "real.json"
    if not path.is_file():
        return ""
    return ("\n## Real cores (`pevmsim fidelity --real`)\n\n"
            + format_real(json.loads(path.read_text())) + "\n")


def scatter(rows, stats, models, path: Path, result: dict) -> list:
    """Predicted vs measured speedup, one colour per model, the diagonal drawn; hollow
    markers for the blocks pevm ran sequentially, squares for the gigagas blocks, and
    crosses for revm's held-out predictions. PNG and SVG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams.update({"svg.hashsalt": "pevmsim", "font.size": 9})
    figure, ax = plt.subplots(figsize=(6.4, 5.2))
    giga = result["gigagas"]
    values = [row.measured_speedup for row in rows] + [
        row.predicted[m] for row in rows for m in models] + [
        entry["measured_speedup"] for entry in giga] + [
        p for entry in giga for p in entry["predicted_speedup"].values()]
    top = max(values + [1.0]) * 1.08
    ax.plot([1, top], [1, top], color="#888888", linewidth=1, label="predicted = measured")
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
        if giga:
            ax.scatter([entry["measured_speedup"] for entry in giga],
                       [entry["predicted_speedup"][model] for entry in giga], s=46,
                       marker="s", color=colour,
                       label=f"{model}, gigagas blocks (32 workers)")
    held = [row for row in result["blocks"] if row.get("held_out_revm") is not None]
    if held:
        ax.scatter([row["measured_speedup"] for row in held],
                   [row["held_out_revm"] for row in held], s=20, marker="x",
                   color="#d62728", label="revm held out (k-fold)")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlim(0.7, top)
    ax.set_ylim(0.7, top)
    ax.set_xlabel("pevm's measured speedup (revm; 12 threads, gigagas 32)")
    ax.set_ylabel("pevmsim's predicted speedup (block-stm, pevm's rules)")
    ax.set_title(f"pevmsim vs pevm on {len(rows)} mainnet blocks and {len(giga)} gigagas "
                 "blocks (hollow: pevm ran sequentially)", fontsize=8)
    ax.grid(alpha=0.3, which="both")
    ax.legend(loc="upper left", fontsize=7)
    return _save(figure, path)


def scaling_chart(giga, path: Path) -> list:
    """revm's predicted speedup of each gigagas block by workers, pevm's measured point
    at its thread count marked."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams.update({"svg.hashsalt": "pevmsim", "font.size": 9})
    figure, ax = plt.subplots(figsize=(6.4, 4.4))
    for index, entry in enumerate(giga):
        colour = f"C{index}"
        threads = [int(t) for t in entry["scaling_revm"]]
        ax.plot(threads, list(entry["scaling_revm"].values()), marker="o", color=colour,
                label=f"{entry['block']} (revm, predicted)")
        ax.scatter([entry["threads"]], [entry["measured_speedup"]], marker="*", s=120,
                   color=colour, edgecolors="black", zorder=3,
                   label=f"{entry['block']}: pevm, {entry['threads']} threads")
    ax.set_xscale("log", base=2)
    ax.set_xlabel("workers (calibrated at 32; the rest extrapolated)")
    ax.set_ylabel("speedup over sequential")
    ax.set_title("Gigagas blocks: predicted scaling 1-64 workers (block-stm, pevm's rules)")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=7)
    return _save(figure, path)


def _save(figure, path: Path) -> list:
    import matplotlib.pyplot as plt

    written = []
    for ext, metadata in (("png", {"Software": None}), ("svg", {"Date": None})):
        target = path.with_suffix(f".{ext}")
        figure.savefig(target, format=ext, metadata=metadata, dpi=110, bbox_inches="tight")
        written.append(target)
    plt.close(figure)
    return written


def update_readme(readme: Path, out: Path, stats: dict, models, blocks: int,
                  result: dict) -> None:
    from ..harness.fidelity import README_BEGIN, README_END

    text = readme.read_text()
    head, rest = text.split(README_BEGIN, 1)
    _, tail = rest.split(README_END, 1)
    chart = (out / "fidelity.png").resolve().relative_to(readme.resolve().parent)
    lines = [f"`pevmsim fidelity --readme {readme.name}` on {blocks} blocks: predicted "
             "(block-stm, 12 virtual workers, pevm's rules) against pevm's measured "
             "speedups, over the blocks pevm ran in parallel:", ""]
    lines += [f"- {format_stats(model, stats[model])}" for model in models if model in stats]
    held = result["held_out"]
    if held["statistics"]:
        lines += ["", f"Held out ({held['folds']}-fold cross-validation: each block "
                  "predicted by constants fitted without it):", "",
                  f"- {format_stats('revm', held['statistics'])}"]
    if result["gigagas"]:
        lines += ["", "Gigagas blocks at 32 workers (pevm: 32 threads), predicted / "
                  "pevm's measured:", "", "| block | pevm | " + " | ".join(
                      result["gigagas"][0]["predicted_speedup"]) + " | revm held out |",
                  "| --- | --- | " + " | ".join(
                      "---" for _ in result["gigagas"][0]["predicted_speedup"]) + " | --- |"]
        for entry in result["gigagas"]:
            held_revm = entry["held_out_revm"]
            lines.append(f"| {entry['block']} | {entry['measured_speedup']:.2f}x | "
                         + " | ".join(f"{p:.2f}x" for p in entry["predicted_speedup"].values())
                         + f" | {'' if held_revm is None else f'{held_revm:.2f}x'} |")
    lines += ["", f"![predicted vs measured speedup]({chart.as_posix()})"]
    readme.write_text(f"{head}{README_BEGIN}\n" + "\n".join(lines) + f"\n{README_END}{tail}")
