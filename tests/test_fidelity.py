"""Calibration, fidelity statistics, pevm's rules and lazy raw transfers."""

import json
from pathlib import Path

import numpy as np
import pytest

from simulator.harness import calibration
from simulator.harness.calibration import (CONSTANTS, FEATURES, GRID, PARALLEL_CONSTANTS,
                                           GridSearch, Target, block_features, fit,
                                           fold_of, grid_point, incarnation_features,
                                           loss, predict, read_table)
from simulator.cli.main import main
from simulator.costs.cost_model import NANOSECOND, RevmCostModel
from simulator.harness.calibration import PEVM_RULES
from simulator.harness.fidelity import (DEFAULT_TABLE, GIGAGAS_TABLE, error_stats, ranks,
                                        spearman)
from simulator.runs.runner import run_block
from simulator.strategies import STRATEGIES
from simulator.runs.spec import RunSpec
from workloads.mainnet import load_block
from workloads.transfer import TransferWorkload


def synthetic_features(rng, blocks: int) -> list:
    features = []
    for _ in range(blocks):
        txs = int(rng.integers(1, 1500))
        features.append({"txs": txs, "gas": int(txs * rng.integers(21_000, 200_000)),
                         "cold": int(txs * rng.integers(2, 12)),
                         "warm": int(txs * rng.integers(0, 10)),
                         "writes": int(txs * rng.integers(2, 8)),
                         "code_bytes": int(rng.integers(0, 2_000_000))})
    return features


def test_fit_recovers_the_constants_that_generated_the_times():
    rng = np.random.default_rng(9)
    truth = dict(zip(CONSTANTS, (x * NANOSECOND for x in (900, 0.05, 300, 40, 25, 2))))
    features = synthetic_features(rng, 50)
    seconds = [predict(truth, f) for f in features]
    result = fit(features, seconds)
    for name in CONSTANTS:
        assert result.constants[name] == pytest.approx(truth[name], rel=1e-6)
    assert result.r_squared == pytest.approx(1.0)
    assert result.median_relative_error < 1e-9


def test_fit_keeps_constants_non_negative():
    rng = np.random.default_rng(3)
    features = synthetic_features(rng, 40)
    truth = dict(zip(CONSTANTS, (1e-6, 0.1e-9, 0, 0, 0, 0)))
    # The times fall with writes: a free fit would give WRITE a negative constant.
    seconds = [predict(truth, f) - 5e-9 * f["writes"] + 3e-9 * f["writes"] ** 0.5 for f in features]
    seconds = [max(s, 1e-6) for s in seconds]
    assert min(fit(features, seconds).constants.values()) >= 0


def test_the_features_predict_what_the_revm_model_charges_serially():
    """calibration's features and RevmCostModel's serial baseline count the same."""
    block = load_block(1150000)
    report = run_block(block, RunSpec("serial", 1, "revm"))
    features = incarnation_features(report.incarnations)
    assert features == block_features(block)
    assert set(features) == set(FEATURES) and features["txs"] == len(block)
    model = RevmCostModel()
    constants = {name: getattr(model, name) for name in CONSTANTS}
    assert predict(constants, features) == pytest.approx(
        report.summary["virtual_serial_time_s"], rel=1e-12)
    assert features["code_bytes"] > 0


def test_spearman_and_error_helpers():
    assert list(ranks([10, 30, 20, 20])) == [1, 4, 2.5, 2.5]
    assert spearman([1, 2, 3, 4], [10, 20, 30, 400]) == pytest.approx(1.0)
    assert spearman([1, 2, 3, 4], [4, 3, 2, 1]) == pytest.approx(-1.0)
    # Textbook example: d^2 sum 4 over n=5 without ties -> 1 - 6*4/(5*24) = 0.8
    assert spearman([1, 2, 3, 4, 5], [2, 1, 4, 3, 5]) == pytest.approx(0.8)
    stats = error_stats([2.0, 1.0, 3.0], [1.0, 1.0, 2.0])
    assert stats["median_abs_relative_error"] == pytest.approx(0.5)
    assert stats["mean_abs_relative_error"] == pytest.approx(0.5)
    assert stats["median_ratio"] == pytest.approx(1.5)


def test_the_vendored_table_lists_the_vendored_blocks():
    table = read_table(DEFAULT_TABLE)
    assert len(table) == 50
    assert sum(m.ran_parallel for m in table) == 35
    assert all(m.speedup == 1 for m in table if not m.ran_parallel)


def test_fidelity_cli_json(tmp_path, capsys):
    fold = {"PARALLEL": 1.25, "SCHEDULE": 1e-6, "SHARED_TASK": 1e-7}
    calibration_json = tmp_path / "calibration.json"
    calibration_json.write_text(json.dumps({"parallel": {
        "folds": 5, "fold_constants": [{"fold": 3, "constants": fold}],
        "targets": [{"block": "4369999", "fold": 3}, {"block": "gigagas-transfers", "fold": 3},
                    {"block": "46147", "fold": 0}]}}))
    code = main(["fidelity", "--blocks", "46147,4369999", "--cost-models", "revm,gas",
                 "--calibration", str(calibration_json), "--gigagas-workloads",
                 "gigagas-transfers", "--json", "-", "--out", str(tmp_path)])
    assert code == 0
    result = json.loads(capsys.readouterr().out)
    held = {row["block"]: row["held_out_revm"] for row in result["blocks"]}
    assert held[46147] is None  # pevm ran it sequentially; no fold constants either
    parallel_row = result["blocks"][1]
    assert held[4369999] is not None and held[4369999] != parallel_row["predicted_speedup"]["revm"]
    (giga,) = result["gigagas"]
    assert giga["block"] == "raw-transfers" and giga["measured_speedup"] == 2.82
    assert giga["threads"] == 32 and set(giga["predicted_speedup"]) == {"revm", "gas"}
    assert giga["held_out_revm"] is not None and giga["matches_serial"]
    assert list(giga["scaling_revm"]) == ["1", "2", "4", "8", "16", "32", "64"]
    assert giga["scaling_revm"]["32"] == giga["predicted_speedup"]["revm"]
    assert (tmp_path / "fidelity_scaling.png").stat().st_size > 0
    assert [row["block"] for row in result["blocks"]] == [46147, 4369999]
    sequential, parallel = result["blocks"]
    assert not sequential["pevm_parallel"] and parallel["pevm_parallel"]
    assert sequential["predicted_speedup"] == {"revm": 1.0, "gas": 1.0}  # pevm's fallback
    for row in result["blocks"]:
        assert row["matches_serial"] == {"revm": True, "gas": True}
    assert result["statistics"] == {}  # one parallel block: no statistics
    for name in ("fidelity.png", "fidelity.svg", "fidelity.json", "fidelity.csv",
                 "fidelity.md"):
        assert (tmp_path / name).stat().st_size > 0


def test_fidelity_cli_rejects_bad_input(capsys):
    assert main(["fidelity", "--blocks", "12345"]) == 2
    assert main(["fidelity", "--cost-models", "nope"]) == 2
    assert main(["calibrate", "--table", "/nonexistent.tsv"]) == 2
    assert main(["calibrate", "--folds", "1"]) == 2
    assert main(["fidelity", "--gigagas-workloads", "nope"]) == 2
    assert main(["fidelity", "--calibration", "/nonexistent.json"]) == 2
    assert capsys.readouterr().err.count("pevmsim: error:") == 6


@pytest.mark.parametrize("number,threads", [(46147, 12), (1150000, 12), (4369999, 32)])
def test_small_block_fallback_fires_and_matches_serial(number, threads):
    block = load_block(number)
    report = run_block(block, RunSpec("block-stm", threads, "revm", strategy_options={"small_block_fallback": 1}))
    assert report.matches_serial
    assert report.summary["sequential_fallbacks"] == 1
    assert report.summary["virtual_speedup"] == pytest.approx(1.0)
    assert report.summary["validations"] == 0


def test_no_validation_of_transaction_zero_matches_serial():
    block = load_block(4369999)
    plain = run_block(block, RunSpec("block-stm", 4, "revm"))
    pevm = run_block(block, RunSpec("block-stm", 4, "revm", strategy_options={"validate_first": 0}))
    assert plain.matches_serial and pevm.matches_serial

    def validated(report) -> set:
        return {tx for _, kind, tx, *_ in report.metrics.events if "validation" in kind}

    assert 0 in validated(plain) and 0 not in validated(pevm)
    assert validated(pevm) == set(range(1, len(block)))


def test_pevm_rules_together_match_serial_on_a_parallel_block():
    report = run_block(load_block(4369999), RunSpec("block-stm", 12, "revm", strategy_options=PEVM_RULES, lazy_transfers=True))
    assert report.matches_serial
    assert report.summary["sequential_fallbacks"] == 0


@pytest.mark.parametrize("strategy", sorted(STRATEGIES))
def test_lazy_transfers_match_serial(strategy):
    block = TransferWorkload(accounts=3).block(40, seed=5)
    report = run_block(block, RunSpec(strategy, 8, lazy_transfers=True, deep_check=True))
    assert report.summary["mismatches"] == []
    assert report.summary["lazy_transfers"]


def test_lazy_transfers_remove_conflicts_of_a_busy_sender():
    """Block 2179522: one sender in a third of the transactions."""
    block = load_block(2179522)
    eager = run_block(block, RunSpec("block-stm", 12, "revm")).summary
    lazy = run_block(block, RunSpec("block-stm", 12, "revm", lazy_transfers=True)).summary
    assert eager["matches_serial"] and lazy["matches_serial"]
    assert lazy["suspensions"] + lazy["reexecutions"] < eager["suspensions"] + eager["reexecutions"]
    assert lazy["virtual_speedup"] > eager["virtual_speedup"]


def test_selfdestruct_fallback_fires_and_matches_serial():
    """Block 11114732: pevm measured 0.89x, its self-destruct fallback."""
    block = load_block(11114732)
    report = run_block(block, RunSpec("block-stm", 12, "revm", strategy_options={"selfdestruct_fallback": 1}))
    assert report.matches_serial
    assert report.summary["sequential_fallbacks"] == 1
    assert report.summary["virtual_speedup"] < 1  # the wasted parallel attempt
    plain = run_block(block, RunSpec("block-stm", 12, "revm")).summary
    assert plain["matches_serial"] and plain["sequential_fallbacks"] == 0


def synthetic_targets(truth: dict, count: int) -> list:
    """Targets whose "measured" speedups the synthetic model below gives at `truth`."""
    return [Target(f"t{i}", "mainnet" if i % 3 else "gigagas", 12, _synthetic(i, truth), ())
            for i in range(count)]


def _synthetic(index: int, point: dict) -> float:
    """Target i's speedup grows with parallel constant i mod 8 alone."""
    name = PARALLEL_CONSTANTS[index % len(PARALLEL_CONSTANTS)]
    return 1.0 + (1 + index) * point[name] / max(GRID[name])


@pytest.fixture
def synthetic(monkeypatch):
    monkeypatch.setattr(calibration, "target_speedup",
                        lambda target, constants: _synthetic(int(target.name[1:]), constants))


def test_grid_search_finds_the_point_that_generated_the_speedups(synthetic):
    truth_indexes = (2, 0, 1, 1, 1, 0, 2, 1)
    targets = synthetic_targets(grid_point(truth_indexes), 16)
    search = GridSearch(targets, {})
    assert search.search() == truth_indexes
    assert loss(targets, search.predictions[truth_indexes]) == 0.0
    assert all(loss(targets, p) > 0 for i, p in search.predictions.items() if i != truth_indexes)


def test_a_folds_search_sees_only_its_training_targets(synthetic):
    """A held-out target that contradicts the rest changes the fit on everything, not
    the choice of the fold that leaves it out."""
    truth_indexes = (0, 1, 2, 0, 1, 1, 1, 1)
    liar = Target("t16", "mainnet", 12, 1000.0, ())  # wants the largest PARALLEL
    search = GridSearch(synthetic_targets(grid_point(truth_indexes), 16) + [liar], {})
    training = [i for i in range(17) if fold_of(i, 5) != fold_of(16, 5)]
    assert 16 not in training
    assert search.search()[0] == len(GRID["PARALLEL"]) - 1  # the liar pulls it
    assert search.best_visited(training) == truth_indexes


def test_a_search_reuses_the_points_an_earlier_one_simulated(synthetic, monkeypatch):
    """Points recorded by an earlier search on the same targets and sequential
    constants are not simulated again, a constant the record lacks is read at its
    default, and a record of other targets or constants is not reused."""
    truth_indexes = (1, 1, 1, 0, 0, 1, 1, 0)
    targets = synthetic_targets(grid_point(truth_indexes), 16)
    first = GridSearch(targets, {})
    first.search()
    record = {"targets": [{"block": t.name} for t in targets], "sequential": {"TX": 1.0},
              "visited": [{"point": {name: value for name, value in grid_point(i).items()
                                     if name != "CONTENTION"}, "predictions": p}
                          for i, p in first.predictions.items() if i[-1] == 0]}
    defaults = {"CONTENTION": 0.0}
    known = calibration.reusable_predictions(record, targets, {"TX": 1.0}, defaults)
    assert known and all(i[-1] == 0 and known[i] == first.predictions[i] for i in known)
    assert calibration.reusable_predictions(record, targets, {"TX": 2.0}, defaults) == {}
    assert calibration.reusable_predictions(record, targets[1:], {"TX": 1.0}, defaults) == {}

    def no_simulation(target, constants):
        raise AssertionError("a reused point was simulated again")

    again = GridSearch(targets, {}, known=known)
    monkeypatch.setattr(calibration, "target_speedup", no_simulation)
    assert all(again.evaluate(i) == known[i] for i in known)


def test_fold_of_is_a_fixed_rule():
    assert [fold_of(i, 5) for i in range(12)] == [0, 1, 2, 3, 4, 0, 1, 2, 3, 4, 0, 1]


SMALL_BLOCKS = (46147, 116525, 1150000, 1796867, 2641321, 2674998, 2675000, 2688148,
                9068998, 19426587, 19923400, 19933122, 19934116)


def test_calibrate_cli_json(tmp_path, capsys):
    table = tmp_path / "table.tsv"
    rows = [line for line in DEFAULT_TABLE.read_text().splitlines()
            if line.startswith("block") or int(line.split("\t")[0]) in SMALL_BLOCKS]
    table.write_text("\n".join(rows) + "\n")
    gigagas = tmp_path / "gigagas.tsv"  # pevm's raw transfers only: a light block
    gigagas.write_text("\n".join(line for line in GIGAGAS_TABLE.read_text().splitlines()
                                 if line.startswith("engine\t")
                                 or line.startswith("pevm\traw-transfers")) + "\n")
    features = tmp_path / "features.csv"
    argv = ["calibrate", "--table", str(table), "--gigagas", str(gigagas), "--features",
            str(features), "--json", "-"]
    assert main(argv) == 0
    result = json.loads(capsys.readouterr().out)
    assert features.exists()  # computed once, then reused
    assert result["fit"]["blocks"] == len(SMALL_BLOCKS) + 1  # and the gigagas block
    assert set(result["fit"]["constants"]) == set(CONSTANTS)
    assert min(result["fit"]["constants"].values()) >= 0
    held = result["held_out"]
    assert result["folds"] == 5 and held["blocks"] == len(SMALL_BLOCKS) + 1
    assert set(held["per_block"]) == {str(b) for b in SMALL_BLOCKS} | {"gigagas-transfers"}
    assert "gigagas-transfers" in result["features"]
    assert main(argv) == 0
    assert json.loads(capsys.readouterr().out) == result


def test_revm_pevm_rules_and_lazy_transfers_do_not_depend_on_the_hash_seed():
    from test_pyevm_boundary import _json_of

    args = ["run", "--workload", "mainnet", "--set", "block=2179522", "--txs", "120",
            "--strategy", "block-stm", "--threads", "12", "--cost-model", "revm",
            "--lazy-transfers", "--strategy-option", "validate_first=0",
            "--strategy-option", "selfdestruct_fallback=1"]
    assert _json_of(args, 1) == _json_of(args, 2)


def test_fidelity_on_a_subset_never_replaces_the_full_report(tmp_path):
    """From a folder holding the committed 50-block report, `--blocks` writes a folder
    of its own; naming the full report's folder is refused, one line, nothing run."""
    import shutil
    import subprocess
    import sys

    full = tmp_path / "reports" / "fidelity"
    shutil.copytree(Path(__file__).resolve().parent.parent / "reports" / "fidelity", full)
    before = {path.name: path.read_bytes() for path in full.iterdir()}
    pevmsim = Path(sys.executable).with_name("pevmsim")

    def run(*args):
        return subprocess.run([str(pevmsim), "fidelity", "--blocks", "46147",
                               "--cost-models", "gas", "--gigagas-workloads", "none",
                               "--calibration", "", *args], capture_output=True,
                              text=True, cwd=tmp_path)

    done = run()
    assert done.returncode == 0, done.stderr
    subset = json.loads((tmp_path / "reports/fidelity-blocks-46147/fidelity.json").read_text())
    assert [row["block"] for row in subset["blocks"]] == [46147]
    refused = run("--out", "reports/fidelity")
    assert refused.returncode == 2 and refused.stderr.count("\n") == 1
    assert "holds a 50-block fidelity report" in refused.stderr
    assert {path.name: path.read_bytes() for path in full.iterdir()} == before


def test_the_default_cost_model_is_the_best_calibrated_one():
    """costs/default.py's rule applied to the committed fidelity report gives the
    default the command line uses."""
    from simulator.cli.main import build_parser
    from simulator.costs.default import DEFAULT_COST_MODEL, best_calibrated

    report = json.loads((Path(__file__).resolve().parent.parent / "reports" / "fidelity"
                         / "fidelity.json").read_text())
    assert best_calibrated(report["statistics"]) == DEFAULT_COST_MODEL
    for command in ("run", "compare", "explain"):
        args = build_parser().parse_args([command, "--workload", "erc20", "--txs", "9"])
        assert args.cost_model == DEFAULT_COST_MODEL
    ranked = {"a-model": {"median_abs_relative_error": 0.2, "spearman": 0.5},
              "measured": {"median_abs_relative_error": 0.01, "spearman": 0.9}}
    assert best_calibrated({**ranked, "gas": {"median_abs_relative_error": 0.2,
                                              "spearman": 0.6}}) == "gas"  # ties: Spearman
    assert best_calibrated(ranked) is None  # measured is not deterministic


def test_real_cores_section_sets_real_runs_beside_the_predictions(tmp_path, monkeypatch,
                                                                   capsys):
    """`pevmsim fidelity --real`: every case at every worker count runs on real worker
    processes and is simulated under each prediction model, all checked against serial;
    real.json and real.md are written, and fidelity.md carries the table."""
    from simulator.cli import fidelity as cli_fidelity
    from simulator.harness import fidelity

    tiny = (fidelity.RealCase("erc20", (("accounts", 40),), 12),)
    monkeypatch.setattr(fidelity, "REAL_CASES", tiny)
    assert main(["fidelity", "--real", "--real-workers", "1", "--out", str(tmp_path),
                 "--json", "-"]) == 0
    result = json.loads(capsys.readouterr().out)
    (row,) = result["rows"]
    assert row["workers"] == 1 and row["txs"] == 12 and row["matches_serial"]
    assert row["real_speedup"] > 0 and row["real_engine_speedup"] > 0
    assert set(row["predicted"]) == set(fidelity.REAL_MODELS)
    assert json.loads((tmp_path / "real.json").read_text()) == result
    assert "| erc20 (accounts=40) | 12 | 1 |" in (tmp_path / "real.md").read_text()
    assert "## Real cores" in cli_fidelity.real_section(tmp_path)
    assert cli_fidelity.real_section(tmp_path / "none") == ""
