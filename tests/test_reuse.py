"""Execution reuse (simulator/engine/reuse.py): a reused execution is exactly the real
one, and runs with reuse on and off report the same figures.

Every test here runs with PEVMSIM_DEBUG (conftest.py) and with the cross-check on for
every hit (`CROSS_CHECK_EVERY = 1`): each reused Incarnation is also executed for real
and compared field by field. Light form (forms.py): every strategy on one small block
at 8 workers; the full form adds 32 workers, the eager beneficiary and lazy transfers.
"""

import json
from dataclasses import fields, replace

import pytest
from forms import FULL, matrix
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scenarios.blocks import SCENARIOS
from test_random_blocks import OPS, build

from simulator.chain.serial import execute_serial
from simulator.cli.main import main
from simulator.costs.cost_model import COST_MODELS, priced
from simulator.engine import reuse
from simulator.engine.mv_memory import MVMemory
from simulator.engine.versioned_state import ExecutionEnv, Incarnation, shared_pre_state
from simulator.runs.compare import compare
from simulator.runs.runner import run_block
from simulator.runs.spec import RunSpec, grid
from simulator.strategies import STRATEGIES
from simulator.runs.summary import HOST_FIELDS
from workloads.mainnet import load_block
from workloads.registry import BUILTINS

# What may differ between a run with reuse and one without: host figures and the
# reuse counters themselves.
HOST = HOST_FIELDS | {"reuse"}


@pytest.fixture(autouse=True)
def cross_check_every_hit(monkeypatch):
    monkeypatch.setattr(reuse, "CROSS_CHECK_EVERY", 1)


def figures(summary: dict) -> str:
    return json.dumps({key: value for key, value in summary.items() if key not in HOST},
                      sort_keys=True, default=str)


def same_with_and_without(block, specs) -> list:
    """The specs run without reuse and then with it on the same block: every figure
    equal; returns the summaries with reuse."""
    serial = (execute_serial(block)[0], 0.0)
    off = compare(block, [replace(spec, reuse=False) for spec in specs], serial=serial)
    on = compare(block, specs, serial=serial)
    for a, b in zip(off, on):
        assert not a["reuse"] and a["reuse_hits"] == 0
        assert b["reuse"], b["strategy"]
        assert figures(a) == figures(b), (b["strategy"], b["threads"])
    return on


@pytest.mark.parametrize("threads, lazy, lazy_transfers", matrix(
    lambda threads, lazy, lazy_transfers: threads == 8 and lazy and not lazy_transfers,
    [8, 32], [True, False], [False, True]))
def test_every_strategy_reports_the_same_with_reuse(threads, lazy, lazy_transfers):
    block = BUILTINS["defi"](hot_ratio=0.5).block(40, seed=1)
    on = same_with_and_without(block, grid(STRATEGIES, threads, RunSpec(
        lazy_beneficiary=lazy, lazy_transfers=lazy_transfers)))
    assert all(summary["matches_serial"] for summary in on)
    # the first run records every transaction; the later ones find them
    assert sum(summary["reuse_hits"] for summary in on) > len(block) * (len(on) - 2)


def test_historical_sei_and_monad_reuse_across_thread_counts():
    block = BUILTINS["erc20"](accounts=4).block(20, seed=2)
    specs = (grid(["sei"], [4, 16], RunSpec(strategy_options={"version": "occ-dev-2023"}))
             + grid(["monad", "block-stm-abort"], [4, 16]))
    on = same_with_and_without(block, specs)
    assert on[1]["reuse_hits"] > 0 and on[1]["reuse_misses"] < on[1]["executions"]


@settings(max_examples=8 if not FULL else 60, deadline=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(
    accounts=st.integers(2, 5),
    ops=st.lists(st.tuples(st.sampled_from(OPS), st.integers(0, 5), st.integers(0, 5)),
                 min_size=1, max_size=16),
    lazy=st.booleans(),
    seed=st.integers(0, 3),
)
def test_random_blocks_report_the_same_with_reuse(accounts, ops, lazy, seed):
    block = build(accounts, ops, seed)
    same_with_and_without(block, grid(["block-stm", "monad", "sei"], [2, 8],
                                      RunSpec(lazy_beneficiary=lazy)))


def test_a_mainnet_block_reports_the_same_with_reuse():
    block = load_block(19426587 if not FULL else 15537394)  # Cancun (blobs); the Merge
    same_with_and_without(block, grid(["serial", "block-stm", "sei"] if FULL
                                      else ["block-stm"], [8, 32]))


def test_a_run_without_reuse_executes_everything():
    block = BUILTINS["transfer"](accounts=5).block(20, seed=0)
    report = run_block(block, RunSpec("block-stm", 8, reuse=False))
    assert report.summary["reuse_misses"] is None and report.summary["reuse_hits"] == 0
    for spec in (RunSpec("block-stm", 8, cost_model="measured"),
                 RunSpec("block-stm", 2, backend="processes")):
        assert not spec.reuses  # timed for real: never reused
    assert RunSpec("block-stm", 8).reuses


def env_of(block, cache):
    return ExecutionEnv(block, shared_pre_state(block), True, False, cache)


def test_a_record_replays_only_while_its_values_hold():
    block = SCENARIOS["one_sender_chain"]()  # each transaction reads its predecessor's nonce
    cache = reuse.ReuseCache()
    env = env_of(block, cache)
    mv = MVMemory(len(block))
    first = env.execute(mv, 0, 0)
    assert (env.reuse_counts.hits, env.reuse_counts.misses) == (0, 1)
    again = env.execute(mv, 0, 3)
    assert env.reuse_counts.hits == 1 and again.incarnation == 3
    assert reuse.same_execution(replace(again, incarnation=0), first)
    stale = env.execute(mv, 1, 0)  # tx 1 before tx 0's writes: a stale nonce
    assert stale.error is not None
    mv.record(0, 0, first.writes, first.deltas)
    fresh = env.execute(mv, 1, 1)  # its nonce read changed: executed for real
    assert fresh.error is None and env.reuse_counts.misses == 3
    assert set(fresh.reads.values()) != set(stale.reads.values())


def test_a_blocked_execution_replays_only_on_an_estimate():
    block = SCENARIOS["one_sender_chain"]()
    cache = reuse.ReuseCache()
    env = env_of(block, cache)
    mv = MVMemory(len(block))
    first = env.execute(mv, 0, 0)
    mv.record(0, 0, first.writes, first.deltas)
    mv.convert_writes_to_estimates(0)
    blocked = env.execute(mv, 1, 0)
    assert blocked.blocked_on == 0
    replayed = env.execute(mv, 1, 1)
    assert env.reuse_counts.hits == 1 and replayed.blocked_on == 0
    mv.record(0, 1, first.writes, first.deltas)  # the ESTIMATE is gone: it reads on
    done = env.execute(mv, 1, 2)
    assert done.blocked_on is None and done.outcome is not None
    assert env.reuse_counts.hits == 1


def test_an_assumed_nonce_shares_records_with_the_real_one():
    block = SCENARIOS["one_sender_chain"]()
    env = env_of(block, reuse.ReuseCache())
    mv = MVMemory(len(block))
    first = env.execute(mv, 0, 0)
    mv.record(0, 0, first.writes, first.deltas)
    real = env.execute(mv, 1, 0)
    assumed = env.execute(mv, 1, 1, assume_nonce=True)  # the same nonce either way
    assert env.reuse_counts.hits == 1 and assumed.outcome == real.outcome
    before = MVMemory(len(block))  # tx 0 not merged yet
    early = env.execute(before, 1, 0, assume_nonce=True)  # its balance differs: real
    assert early.outcome is not None and env.reuse_counts.hits == 1
    plain = env.execute(before, 1, 1)  # without the assumption its nonce is stale
    assert plain.error is not None and env.reuse_counts.hits == 1


def test_records_per_transaction_are_bounded(monkeypatch):
    monkeypatch.setattr(reuse, "RECORDS_PER_TX", 2)
    block = BUILTINS["erc20"](accounts=3).block(12, seed=0)
    serial = (execute_serial(block)[0], 0.0)
    compare(block, grid(["block-stm", "block-stm-abort"], [2, 8, 32]), serial=serial)
    cache = reuse.block_cache(block, True, False)
    assert 0 < len(cache) <= 2 * len(block)


class Reading:
    """An incarnation that notes which of its fields are read."""

    def __init__(self, incarnation: Incarnation, seen: set) -> None:
        self._incarnation, self._seen = incarnation, seen

    def __getattr__(self, name):
        self._seen.add(name)
        return getattr(self._incarnation, name)


def test_priced_holds_everything_a_deterministic_cost_model_reads():
    """best_plan keeps plans by `priced`: no model may read a field it leaves out."""
    block = BUILTINS["defi"]().block(12, seed=0)
    final = run_block(block, RunSpec("serial", 1)).incarnations
    kept = {"tx", "gas", "writes", "deltas", "outcome", "reads", "code_sizes"}
    for name, model_class in COST_MODELS.items():
        model = model_class(None)
        if model.identity() is None:
            continue
        seen: set = set()
        wrapped = [Reading(incarnation, seen) for incarnation in final]
        model.split(wrapped), model.serial_costs(wrapped), model.serialized(wrapped)
        model.tail(wrapped)
        for incarnation in wrapped:
            model.execution(incarnation), model.sequential(incarnation)
            model.preload(incarnation)
        assert seen <= kept, (name, seen - kept)
    assert {item.name for item in fields(Incarnation)} >= kept
    assert priced(final[0]) == priced(replace(final[0], incarnation=5, cpu_time=1.0))


def test_no_reuse_on_the_command_line_gives_the_same_json(tmp_path, capsys):
    paths = {}
    for flags in ([], ["--no-reuse"]):
        path = paths[bool(flags)] = tmp_path / f"run{len(flags)}.json"
        assert main(["run", "--workload", "transfer", "--set", "accounts=4", "--txs", "12",
                     "--strategy", "sei", "--threads", "4", "--no-other-models",
                     "--json", str(path), *flags]) == 0
    with_reuse, without = (json.loads(paths[key].read_text()) for key in (False, True))
    assert with_reuse["reuse"] and not without["reuse"]
    assert figures({k: v for k, v in with_reuse.items() if k != "environment"}) == \
        figures({k: v for k, v in without.items() if k != "environment"})
    assert "reuse" in capsys.readouterr().out
