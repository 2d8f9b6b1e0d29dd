"""Every strategy reproduces serial execution; the oracle bounds them all.
Light form (forms.py): the eager beneficiary on 8 workers only."""

import json
from collections import Counter
from functools import lru_cache

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from forms import matrix
from scenarios.blocks import SCENARIOS
from test_random_blocks import OPS, build

from simulator.cli.main import main
from simulator.runs.compare import compare
from simulator.engine.locations import NONCE
from simulator.runs.runner import run_block
from simulator.chain.serial import execute_serial
from simulator.strategies import STRATEGIES
from simulator.strategies.bal import Variant
from simulator.runs.spec import RunSpec, grid
from workloads.registry import BUILTINS

EXECUTION_KINDS = {"execution", "re-execution", "invalid", "aborted", "suspended"}
SMALL = {"transfer": {"accounts": 5}, "erc20": {"accounts": 10}, "amm": {"hot_ratio": 0.5},
         "nft": {}, "defi": {}, "supply-chain": {}}
# Strategies that know more than the dependency graph (a block access list's
# post-values): the oracle does not bound them; their own bound does.
BEYOND_DEPENDENCIES = {"bal"}
# With state on an SSD, Monad's reads yield their threads (strategies/monad.py): the
# oracle's loads hold its workers, so it does not bound Monad there; its own bound does.
BEYOND_THE_ORACLE_ON_DISK = {"monad"}
WRONG = {  # knowledge as wrong as it gets
    "dag": {"missing_edge_rate": 0.5, "false_edge_rate": 0.5},
    "sealevel": {"under_declare_rate": 0.5, "over_declare_rate": 0.5},
    "sei": {"version": "occ-dev-2023", "accuracy": 0.0, "rounds": 2},
}


@lru_cache(maxsize=None)
def workload_block(name, n=60, seed=0):
    block = BUILTINS[name](**SMALL.get(name, {})).block(n, seed=seed)
    return block, (execute_serial(block)[0], 0.0)


def executions_per_tx(metrics) -> Counter:
    return Counter(event[2] for event in metrics.events if event[1] in EXECUTION_KINDS)


@pytest.mark.parametrize("lazy, threads, workload, strategy", matrix(
    lambda lazy, threads, workload, strategy: lazy or threads == 8,  # eager on 8 workers
    [True, False], [1, 8, 32], ["transfer", "erc20"], STRATEGIES))
def test_strategy_equals_serial(strategy, workload, threads, lazy):
    block, serial = workload_block(workload)
    report = run_block(block, RunSpec(strategy, threads, lazy_beneficiary=lazy), serial=serial)
    assert report.summary["mismatches"] == []
    summary = report.summary
    assert summary["virtual_speedup"] <= summary["virtual_speedup_bound"] * (1 + 1e-12)


@pytest.mark.parametrize("workload", [w for (w,) in matrix(
    lambda w: w != "gigagas-hybrid",  # light form: the hybrid mixes the others' shapes
    sorted(set(BUILTINS) - {"transfer", "erc20"}))])
def test_every_strategy_on_other_workloads(workload):
    block, serial = workload_block(workload)
    for summary in compare(block, grid(STRATEGIES, 8)):
        assert summary["mismatches"] == [], summary["strategy"]


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
@pytest.mark.parametrize("lazy", [True, False])
def test_every_strategy_on_conflict_scenarios(scenario, lazy):
    block = SCENARIOS[scenario]()
    for summary in compare(block, grid(STRATEGIES, 4, RunSpec(lazy_beneficiary=lazy))):
        assert summary["mismatches"] == [], summary["strategy"]


@pytest.mark.parametrize("strategy", sorted(WRONG))
@pytest.mark.parametrize("workload", ["transfer", "erc20", "amm"])
def test_wrong_knowledge_still_gives_serial(strategy, workload):
    block, serial = workload_block(workload)
    report = run_block(block, RunSpec(strategy, 8, strategy_options=WRONG[strategy]), serial=serial)
    assert report.summary["mismatches"] == []


def test_wrong_knowledge_is_exercised():
    block, serial = workload_block("erc20")
    sealevel = run_block(block, RunSpec("sealevel", 8, strategy_options=WRONG["sealevel"]), serial=serial).summary
    dag = run_block(block, RunSpec("dag", 8, strategy_options=WRONG["dag"]), serial=serial).summary
    sei = run_block(block, RunSpec("sei", 8, strategy_options=WRONG["sei"]), serial=serial).summary
    assert sealevel["reexecutions"] > 0 and dag["reexecutions"] > 0 and sei["reexecutions"] > 0


@pytest.mark.parametrize("workload, threads, cost_model", [
    ("transfer", 4, "gas"), ("transfer", 32, "gas-disk"), ("erc20", 4, "gas-disk"),
    ("erc20", 32, "gas"), ("amm", 8, "gas"), ("nft", 4, "gas-disk"), ("nft", 32, "gas"),
])
def test_oracle_beats_every_strategy(workload, threads, cost_model):
    block, _ = workload_block(workload)
    summaries = {s["strategy"]: s for s in compare(block, grid(STRATEGIES, threads, RunSpec(cost_model=cost_model)))}
    oracle = summaries["oracle"]["virtual_makespan_s"]
    beyond = BEYOND_DEPENDENCIES | (BEYOND_THE_ORACLE_ON_DISK if cost_model == "gas-disk"
                                    else set())
    for name, summary in summaries.items():
        if name not in beyond:
            assert summary["virtual_makespan_s"] >= oracle * (1 - 1e-12), name
        # the strategy's bound holds for every schedule, the oracle's included
        bound = summary["virtual_speedup_bound"]
        assert summary["virtual_speedup"] <= bound * (1 + 1e-12), name


@pytest.mark.parametrize("strategy", ["monad", "sealevel"])
@pytest.mark.parametrize("workload", ["transfer", "erc20", "amm"])
def test_in_order_commit_executes_at_most_twice(strategy, workload):
    block, serial = workload_block(workload)
    options = WRONG.get(strategy, {})
    report = run_block(block, RunSpec(strategy, 8, strategy_options=options), serial=serial)
    assert max(executions_per_tx(report.metrics).values()) <= 2
    assert report.summary["matches_serial"]


def test_oracle_and_serial_execute_once():
    block, serial = workload_block("erc20")
    for strategy in ("oracle", "serial"):
        report = run_block(block, RunSpec(strategy, 8), serial=serial)
        assert set(executions_per_tx(report.metrics).values()) == {1}


def test_block_stm_abort_never_suspends_on_an_estimate():
    block, serial = workload_block("erc20")
    report = run_block(block, RunSpec("block-stm-abort", 8), serial=serial)
    assert report.summary["matches_serial"] and report.metrics.abort_locations
    # only the nonce rule (wait_for_sender) suspends; ESTIMATE reads abort
    assert {location[0] for location in report.metrics.suspension_locations} <= {NONCE}
    plain = run_block(block, RunSpec("block-stm-abort", 8, strategy_options={"wait_for_sender": 0}), serial=serial).summary
    assert plain["suspensions"] == 0 and plain["matches_serial"]


def test_strategies_are_deterministic():
    block, serial = workload_block("erc20")
    for strategy in STRATEGIES:
        first, second = (run_block(block, RunSpec(strategy, 8), serial=serial).summary
                         for _ in range(2))
        assert first["virtual_makespan_s"] == second["virtual_makespan_s"], strategy


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    accounts=st.integers(2, 6),
    ops=st.lists(st.tuples(st.sampled_from(OPS), st.integers(0, 5), st.integers(0, 5)),
                 min_size=1, max_size=25),
    threads=st.sampled_from((1, 3, 8, 32)),
    lazy=st.booleans(),
    seed=st.integers(0, 3),
    sei=st.one_of(
        st.fixed_dictionaries({"version": st.just("occ-dev-2023"),
                               "accuracy": st.sampled_from((0.0, 0.5, 1.0)),
                               "rounds": st.sampled_from((0, 3)),
                               "cascade": st.sampled_from((0, 1))}),
        st.fixed_dictionaries({"rounds": st.sampled_from((0, 1, 3, 10))})),
    monad=st.fixed_dictionaries({"fibers": st.sampled_from((1, 3, 256)),
                                 "relaxed_merge": st.sampled_from((0, 1))}),
    wait_for_sender=st.sampled_from((0, 1)),
    variant=st.sampled_from(list(Variant)),
)
def test_random_blocks_every_strategy(accounts, ops, threads, lazy, seed, sei, monad,
                                      wait_for_sender, variant):
    block = build(accounts, ops, seed)
    options = {**WRONG, "sei": sei, "monad": monad,
               "dag": {**WRONG["dag"], "wait_for_sender": wait_for_sender},
               "block-stm-abort": {"wait_for_sender": wait_for_sender},
               "bal": {"variant": variant}}
    summaries = compare(block, grid(STRATEGIES, threads, RunSpec(lazy_beneficiary=lazy), options))
    oracle = next(s for s in summaries if s["strategy"] == "oracle")
    for summary in summaries:
        assert summary["mismatches"] == [], summary["strategy"]
        assert summary["virtual_speedup"] <= summary["virtual_speedup_bound"] * (1 + 1e-12)
        if summary["strategy"] not in BEYOND_DEPENDENCIES:
            assert summary["virtual_makespan_s"] >= oracle["virtual_makespan_s"] * (1 - 1e-12)


def test_cli_compare_json(capsys):
    code = main(["compare", "--workload", "erc20", "--set", "accounts=10", "--txs", "30",
                 "--threads", "4", "--json", "-"])
    rows = json.loads(capsys.readouterr().out)
    assert code == 0
    assert [row["strategy"] for row in rows] == list(STRATEGIES)
    for row in rows:
        assert row["matches_serial"] and row["workload"] == "erc20" and row["seed"] == 0
        assert row["params"]["accounts"] == 10
    oracle = next(row for row in rows if row["strategy"] == "oracle")
    assert all(row["virtual_speedup"] <= oracle["virtual_speedup"] + 1e-9 for row in rows
               if row["strategy"] not in BEYOND_DEPENDENCIES)
    assert len({row["bal_bytes"] for row in rows}) == 1  # the block's, whoever ran it


def test_cli_compare_table(capsys):
    code = main(["compare", "--workload", "transfer", "--txs", "10",
                 "--strategies", "serial,monad,sei", "--strategy-option", "relaxed_merge=1"])
    out = capsys.readouterr().out
    assert code == 0 and "monad" in out and "block-stm" not in out


@pytest.mark.parametrize("argv, message", [
    (["compare", "--strategies", "serial,magic"], "unknown strategy 'magic'"),
    (["compare", "--strategy-option", "nope=1"], "unknown strategy option 'nope'"),
    (["compare", "--strategy-option", "accuracy"], "KEY=VALUE"),
    (["run", "--strategy", "sei", "--strategy-option", "accuracy=2"], "<= 1.0"),
    (["run", "--strategy", "sei", "--strategy-option", "rounds=x"], "must be int"),
    (["run", "--strategy", "dag", "--strategy-option", "accuracy=0.5"], "valid: "
     "false_edge_rate, missing_edge_rate, seed, wait_for_sender"),
    (["run", "--strategy", "monad", "--strategy-option", "accuracy=0.5"],
     "valid: fibers, relaxed_merge"),
    (["run", "--strategy", "sei", "--strategy-option", "cascade=0"],
     "option cascade applies to version=occ-dev-2023 only"),
    (["run", "--strategy", "sei", "--strategy-option", "version=v9"],
     "version must be one of v0.3, occ-dev-2023"),
    (["run", "--strategy", "sei", "--strategy-option", "version=occ-dev-2023",
      "--strategy-option", "one_recipient_rule=0"], "applies to version=v0.3 only"),
    (["run", "--strategy", "monad", "--strategy-option", "fibers=0"], ">= 1"),
])
def test_cli_bad_strategy_options(argv, message, capsys):
    assert main(argv + ["--workload", "transfer", "--txs", "5"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("pevmsim: error:") and message in err and "\n" not in err


@pytest.mark.parametrize("cascade", [0, 1])
def test_sei_validation_passes_never_keep_a_stale_read(cascade):
    # A block where, without the cascade, a transaction validated in the same pass as
    # a lower one that then failed kept a stale read (sei.py, validateAll).
    block = BUILTINS["erc20"](accounts=100).block(300, seed=0)
    summary = run_block(block, RunSpec("sei", 32, strategy_options={
        "version": "occ-dev-2023", "accuracy": 0.0, "cascade": cascade})).summary
    assert summary["mismatches"] == []
