"""`pevmsim run` and `pevmsim compare`: one block, its strategies x thread counts x
repeats, a table or a summary, JSON and CSV rows.

Order of work, so that mistakes cost nothing: every option and output path is checked
first; then the block is built and executed serially (the check every run is held
to), which is where a plug-in's mistakes surface; only then do the strategies run.
Progress goes to stderr (simulator/progress.py), results to stdout.

Exit codes: 0 when every run matches serial (and a recorded block its real header),
usage.EXIT_MISMATCH (3) when one does not, 2 for bad input (`pevmsim: error: ...`,
one line).
"""

from __future__ import annotations

import time
from dataclasses import replace

from ..runs.spec import RunSpec
from .arguments import strategy_options
from ..environment import environment
from .exports import ExportError, check_outputs, export, to_stdout
from ..chain.failures import failure_warning
from ..progress import Progress
from ..runs.reasons import reasons
from ..runs.summary import head
from ..usage import EXIT_MISMATCH, UsageError


def parse_settings(workload_class, settings) -> dict:
    from ..params import split_setting

    params = {p.name: p for p in workload_class.params}
    values = {}
    for setting in settings:
        try:
            key, text = split_setting(setting, "--set")
        except ValueError as exc:
            raise UsageError(str(exc))
        if key in values:
            raise UsageError(f"--set {key} given twice")
        if key not in params:
            raise UsageError(f"unknown parameter {key!r} for workload {workload_class.name}; "
                             f"valid: {', '.join(params) or 'none'}")
        try:
            values[key] = params[key].parse(text)
        except ValueError as exc:
            raise UsageError(f"--set {exc}")
    return values


def prepare(args, progress: Progress, check_block=None) -> tuple:
    """(workload, params, block, labels, serial.PendingSerial) for the block options:
    the block built, labelled and its serial check started, or a UsageError (also one
    that `check_block(block)` raises, before anything is printed). The serial check
    runs alongside, on another core, while the strategies run, unless something of
    the run is timed for real: the processes backend, or the `measured` cost model
    (whose per-transaction CPU times another busy core would perturb for the first
    strategies only); there it runs first, alone. Its figures and any warning about
    failed transactions print once its result is in hand (nothing for a block it
    finds invalid: that is the error)."""
    from workloads.api import WorkloadError, block_size
    from workloads.registry import load_workload

    from workloads.block_cache import built_block
    from ..chain.serial import InvalidBlock, start_serial

    try:
        workload_class = load_workload(args.workload)
    except WorkloadError as exc:
        raise UsageError(str(exc))
    workload = workload_class(**parse_settings(workload_class, args.set))
    started = time.perf_counter()
    try:
        with progress.stage(f"building the {workload.name} block", log=False):
            block, labels = built_block(workload, block_size(workload, args.txs),
                                        args.seed)
    except WorkloadError as exc:
        raise UsageError(str(exc))
    if check_block is not None:
        check_block(block)
    built = time.perf_counter() - started

    def noted(serial_result, wall: float) -> None:
        progress.line(f"built the {workload.name} block ({len(block)} txs) in "
                      f"{built:.1f} s, executed it serially in {wall:.1f} s")
        warning = failure_warning(serial_result.failures)
        if warning:
            progress.warn(f"workload {workload.name}: {warning}")

    alongside = args.backend == "simulated" and args.cost_model != "measured"
    try:
        with progress.stage("serial py-evm (the check)", None if alongside else len(block),
                            log=False) as bar:
            serial = start_serial(block, args.deep_check, alongside, bar, noted)
    except InvalidBlock as exc:
        raise UsageError(f"workload {workload.name}: {exc}")
    return workload, dict(workload.values), block, labels, serial


def format_summary(s: dict) -> str:
    """One run, readable: what ran, whether it matches serial, the virtual figures,
    the work done, and the real (host) time it took."""
    verdict = "yes" if s["matches_serial"] else "NO: " + "; ".join(s["mismatches"])
    failed = (f"{s['failed_txs']} failed ({s['reverted_txs']} reverted, "
              f"{s['out_of_gas_txs']} out of gas)" if s["failed_txs"] else "none failed")
    spread = (f", {s['repeats']} repeats: {s['virtual_speedup_min']:.2f}x-"
              f"{s['virtual_speedup_max']:.2f}x" if s["repeats"] > 1 else "")
    return "\n".join([
        f"workload        {s['workload']} {s['params']}  ({s['txs']} txs, {s['gas_used']:,} gas)",
        f"transactions    {failed}",
        f"strategy        {s['strategy']} on {workers_text(s)}, "
        f"{s['cost_model']} cost model"
        + ("" if s["lazy_beneficiary"] else ", no lazy beneficiary")
        + (", lazy transfers" if s["lazy_transfers"] else ""),
        f"matches serial  {verdict}",
        *([f"real header     {_header_verdict(s['header_check'])}"]
          if s.get("header_check") else []),
        *([f"real speedup    {s['real_speedup']:.2f}x: parallel "
           f"{s['real_makespan_s']:.3f} s on {s['threads']} worker processes, serial "
           f"py-evm {s['real_serial_time_s']:.3f} s (median); predicted "
           f"{s['virtual_speedup']:.2f}x, error {s['prediction_error']:+.0%}",
           f"                {s['real_engine_speedup']:.2f}x over this engine run in "
           f"order in one process ({s['real_engine_serial_time_s']:.3f} s): "
           f"the gain of parallelism alone"]
          if s["real_speedup"] is not None else []),
        f"speedup         {s['virtual_speedup']:.2f}x virtual{spread}  "
        f"({'its own' if s['strategy'] == 'bal' else 'dependency'} bound "
        f"{s['virtual_speedup_bound']:.2f}x; {s['cost_model']} cost model)",
        *(["other models    " + ", ".join(
            f"{model} {_speedup(value)}x (bound "
            f"{value['virtual_speedup_bound']:.2f}x)"
            for model, value in s["other_cost_models"].items())
           + " (the same block re-run under each)"] if s.get("other_cost_models") else []),
        *([f"why             {reasons([s])[0]}"] if reasons([s]) else []),
        f"access list     {access_list_figures(s)}",
        f"virtual time    parallel {s['virtual_makespan_s'] * 1e3:.3f} ms, "
        f"serial {s['virtual_serial_time_s'] * 1e3:.3f} ms",
        f"throughput      {s['virtual_throughput_tps']:,.0f} tx/s, "
        f"{s['virtual_throughput_gas_per_s'] / 1e6:,.1f} Mgas/s (virtual)",
        f"executions      {s['executions']} ({s['executions_per_tx']:.2f} per tx): "
        f"{s['reexecutions']} re-executions, {s['suspensions']} suspensions, "
        f"{s['invalid_executions']} rejected by py-evm on stale reads (e.g. a nonce not "
        "yet written)",
        f"validations     {s['validations']} ({s['validation_failures']} failed), "
        f"worker utilization {s['utilization']:.0%}",
        f"host time       simulation {s['wall_time_s']:.2f} s, serial py-evm "
        f"{s['serial_wall_time_s']:.2f} s (real seconds of this Python tool, not a speedup)",
        f"reuse           {reuse_figures([s])}",
        *([f"host memory     peak {s['peak_rss_mib']:,.0f} MiB resident"]
          if s["peak_rss_mib"] is not None else []),
    ])


def reuse_figures(rows: list) -> str:
    """How many of the runs' executions were reused (engine/reuse.py), and the host
    time that saved."""
    if not any(row["reuse"] for row in rows):
        return "off (every execution ran in py-evm)"
    hits = sum(row["reuse_hits"] for row in rows)
    misses = sum(row["reuse_misses"] or 0 for row in rows)
    saved = sum(row["reuse_saved_wall_s"] for row in rows)
    return (f"{hits:,} of {hits + misses:,} executions taken from an identical earlier "
            f"one, {misses:,} run in py-evm; {saved:.2f} s of host time saved")


def access_list_figures(s: dict) -> str:
    """The block's EIP-7928 access list: its size beside the block's."""
    return (f"{s['bal_bytes']:,} bytes RLP ({s['bal_bytes_per_tx']:,.0f} per tx; "
            f"{s['bal_no_reads_bytes']:,} without storage reads), {s['bal_items']:,} "
            f"items; the transactions {s['block_tx_bytes']:,} bytes")


def workers_text(s: dict) -> str:
    """'8 virtual workers (simulated backend)', '2 worker processes (processes backend)',
    'one worker, in order' for the serial strategy."""
    if s["strategy"] == "serial":
        return "one worker, in order"
    plural = "" if s["threads"] == 1 else "s"
    if s["backend"] == "simulated":
        return f"{s['threads']} virtual worker{plural} (simulated in virtual time)"
    return f"{s['threads']} worker process{'' if s['threads'] == 1 else 'es'} ({s['backend']} backend)"


def run_command(args, strategies: list) -> int:
    """run (one strategy) and compare (several): the rows, printed and exported."""
    from ..runs.compare import compare
    from ..chain.serial import InvalidBlock

    try:
        check_outputs(args.json, args.csv)
    except ExportError as exc:
        raise UsageError(str(exc))
    if args.repeat > 1 and args.cost_model != "measured":
        raise UsageError(f"--repeat {args.repeat} needs --cost-model measured: the "
                         f"{args.cost_model} cost model gives the same figures every time")
    options = strategy_options(strategies, args.strategy_options)
    base = run_spec(args)
    specs = [replace(base, strategy=name, threads=count).with_options(options.get(name))
             for name in strategies for count in args.threads]
    progress = Progress()
    workload, params, block, labels, serial = prepare(args, progress)
    try:
        summaries = compare(block, specs, repeat=args.repeat, labels=labels,
                            serial=serial, progress=progress)
    except InvalidBlock as exc:
        raise UsageError(f"workload {workload.name}: {exc}")
    others = ({} if args.no_other_models or base.backend != "simulated"
              else other_models(block, headline_specs(specs, summaries), serial, progress))
    rows = [{**head(workload.name, params, args.seed), **summary,
             "other_cost_models": others.get(spec),
             "environment": environment()} for spec, summary in zip(specs, summaries)]
    verdict = second_oracle(block, args.oracle, progress)
    for row in rows:
        row["second_oracle"] = verdict
    single = args.command == "run" and len(rows) == 1
    export(args.json, args.csv, rows[0] if single else rows, rows)
    if not to_stdout(args.json, args.csv):
        if single:
            print(format_summary(rows[0]))
        else:
            first = rows[0]
            failed = (f", {first['failed_txs']} failed: {first['reverted_txs']} reverted, "
                      f"{first['out_of_gas_txs']} out of gas" if first["failed_txs"] else "")
            print(f"{workload.name} {params} ({len(block)} txs{failed}), "
                  f"{first['cost_model']} cost model"
                  + ("" if args.lazy_beneficiary else ", no lazy beneficiary")
                  + (", lazy transfers" if args.lazy_transfers else "")
                  + (f", median of {args.repeat} repeats (min-max)" if args.repeat > 1
                     else ""))
            print(format_rows(rows))
            print(f"block access list (EIP-7928): {access_list_figures(first)}")
            print(f"execution reuse: {reuse_figures(rows)}")
        if verdict is not None:
            print(format_verdict(verdict, len(block)))
        for flag, path in (("JSON", args.json), ("CSV", args.csv)):
            if path is not None:
                print(f"{flag} written to {path}")
    agrees = verdict is None or verdict["agrees"]
    return 0 if agrees and all(row["matches_serial"] and header_ok(row) and all(
        other["matches_serial"] for other in (row["other_cost_models"] or {}).values())
        for row in rows) else EXIT_MISMATCH


def format_rows(rows: list) -> str:
    """Several runs of one block: with several thread counts on the simulated backend,
    the strategy x threads matrix (runs/matrix.py), its saturation note and the
    verdict; otherwise the table of runs/compare.py. Then the line of the other cost
    models and the reasons for surprising results."""
    from ..runs.compare import format_table
    from ..runs.matrix import format_matrix, matrix, saturation_note

    counts = sorted({row["threads"] for row in rows})
    lines = []
    if len(counts) > 1 and all(row["real_speedup"] is None for row in rows):
        m = matrix(rows)
        lines.append(f"speedup over serial (x, virtual time, {rows[0]['cost_model']} cost "
                     "model); * the best at each worker count")
        lines += format_matrix(m)
        note = saturation_note(m.threads, [m.bound.get(t) for t in m.threads])
        lines += [note] if note else []
        wrong = [f"{row['strategy']}@{row['threads']}: {'; '.join(row['mismatches'])}"
                 for row in rows if not row["matches_serial"]]
        lines.append(f"DO NOT MATCH SERIAL: {', '.join(wrong)}" if wrong
                     else f"matches serial py-evm: all {len(rows)} runs")
    else:
        lines.append(format_table(rows))
    line = other_models_line(rows)
    lines += [line] if line else []
    lines += [f"why: {text}" for text in reasons(rows)]
    return "\n".join(lines)


def headline_specs(specs: list, summaries: list) -> list:
    """The runs whose speedup heads the output: every run of one strategy, else the
    best strategy at each thread count (the first one on a tie)."""
    if len({spec.strategy for spec in specs}) == 1:
        return list(specs)
    best: dict = {}
    for spec, summary in zip(specs, summaries):
        held = best.get(spec.threads)
        if held is None or summary["virtual_speedup"] > held[1]["virtual_speedup"]:
            best[spec.threads] = (spec, summary)
    return [spec for spec, _ in best.values()]


def other_models(block, specs: list, serial, progress) -> dict:
    """{spec: {model: {virtual_speedup, virtual_speedup_bound, matches_serial}}}: each
    of `specs` run again on the same block, checked against the same serial result,
    under every other deterministic cost model at its own constants
    (costs/default.py); only these headline figures are derived (run_headline)."""
    from ..costs.default import deterministic_models
    from ..runs.compare import compare

    found: dict = {}
    for model in deterministic_models():
        chosen = [spec for spec in specs if spec.cost_model != model]
        if not chosen:
            continue
        progress.line(f"the same runs under the {model} cost model")
        again = compare(block, [replace(spec, cost_model=model, cold_load=None)
                                for spec in chosen], serial=serial, progress=progress,
                        headline=True)
        for spec, figures in zip(chosen, again):
            found.setdefault(spec, {})[model] = figures
    return found


def _speedup(figures: dict) -> str:
    return f"{figures['virtual_speedup']:.2f}" + (
        "" if figures["matches_serial"] else " (DOES NOT MATCH SERIAL)")


def other_models_line(rows: list) -> str | None:
    """'other cost models  revm 0.83/1.37/1.67x, gas-disk ...': the headline runs'
    speedups under the other deterministic models, in one line."""
    headline = [row for row in rows if row.get("other_cost_models")]
    if not headline:
        return None
    models = list(dict.fromkeys(model for row in headline for model in row["other_cost_models"]))
    parts = []
    for model in models:
        values = "/".join(_speedup(row["other_cost_models"][model])
                          for row in headline if model in row["other_cost_models"])
        parts.append(f"{model} {values}x")
    who = sorted({row["strategy"] for row in headline})
    counts = "/".join(str(row["threads"]) for row in headline)
    return (f"other cost models  {', '.join(parts)} ({'/'.join(who)} at {counts} "
            f"workers, the same block re-run; this table: {rows[0]['cost_model']})")


def second_oracle(block, oracle: str | None, progress: Progress) -> dict | None:
    """--oracle: the second serial oracle's verdict on serial py-evm (None without)."""
    if oracle is None:
        return None
    from ..chain.eels import Oracle, OracleError, eels_disagreements

    with progress.stage(f"{Oracle(oracle).value} (the second serial oracle)", log=False):
        try:
            problems = eels_disagreements(block)
        except OracleError as exc:
            raise UsageError(str(exc))
    return {"oracle": oracle, "agrees": not problems, "disagreements": problems}


def format_verdict(verdict: dict, txs: int) -> str:
    """The second oracle's verdict: one line, then one per disagreement."""
    name = verdict["oracle"].upper()
    if verdict["agrees"]:
        return (f"{name} agrees with serial py-evm on all {txs} transactions (status, "
                "gas, logs, post-values)")
    problems = verdict["disagreements"]
    return "\n".join([f"{name} DISAGREES with serial py-evm ({len(problems)}):"]
                     + [f"  {problem}" for problem in problems])


def run_workload(args, check_block=None, oracle_what_if: bool = False) -> tuple:
    """One strategy (--strategy) at one thread count on the block of the block options,
    checked against serial: (block, RunReport, its row). `check_block(block)` may
    reject the block (UsageError) before it runs; `oracle_what_if` as in run_block."""
    from ..runs.runner import run_block
    from ..chain.serial import InvalidBlock

    if len(args.threads) > 1 or args.repeat > 1:
        raise UsageError(f"pevmsim {args.command} runs one configuration: give one "
                         "--threads count and no --repeat")
    options = strategy_options([args.strategy], args.strategy_options)[args.strategy]
    spec = replace(run_spec(args), strategy=args.strategy,
                   threads=args.threads[0]).with_options(options)
    workload, params, block, labels, serial = prepare(args, Progress(), check_block)
    try:
        report = run_block(block, spec, labels=labels, serial=serial,
                           oracle_what_if=oracle_what_if)
    except InvalidBlock as exc:
        raise UsageError(f"workload {workload.name}: {exc}")
    row = {**head(workload.name, params, args.seed), **report.summary,
           "environment": environment()}
    return block, report, row


def run_spec(args) -> RunSpec:
    """The RunSpec of the execution options (strategy and threads are the caller's to
    vary): a UsageError for an option that does not apply."""
    return RunSpec(cost_model=args.cost_model, lazy_beneficiary=args.lazy_beneficiary,
                   backend=args.backend, deep_check=args.deep_check,
                   cold_load=cold_load_seconds(args), backend_options=backend_options(args),
                   serial_repeats=args.serial_repeats, lazy_transfers=args.lazy_transfers,
                   reuse=args.reuse)


def backend_options(args) -> dict:
    """--timeout and --pipeline for the processes backend (a UsageError on the
    simulated one)."""
    if args.backend == "simulated":
        for flag, value in (("--timeout", args.timeout), ("--pipeline", args.pipeline)):
            if value is not None:
                raise UsageError(f"{flag} applies to the processes backend")
        return {}
    options = {"timeout": args.timeout}
    if args.pipeline is not None:
        options["pipeline"] = args.pipeline
    return options


def cold_load_seconds(args) -> float | None:
    """--cold-load-us in seconds (a UsageError for a bad value or model)."""
    if args.cold_load_us is None:
        return None
    if not args.cold_load_us >= 0:
        raise UsageError("--cold-load-us must be a number >= 0")
    if args.cost_model == "measured":
        raise UsageError("--cold-load-us applies to the gas cost models, not measured")
    return args.cold_load_us * 1e-6


def _header_verdict(check: dict) -> str:
    names = {"gas_used": "gasUsed", "receipts_root": "receiptsRoot"}
    return ", ".join(f"{names[key]} " + {True: "matches", False: "DIFFERS",
                                         None: "not checkable before Byzantium"}[value]
                     for key, value in check.items())


def header_ok(summary: dict) -> bool:
    """No check of a recorded block against its real header failed."""
    return False not in (summary.get("header_check") or {}).values()
