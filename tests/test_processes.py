"""The processes backend: every strategy on real worker processes equals serial, under
injected random delays; a worker that dies, an exception in a worker, a timeout and
Ctrl-C each end the run at once, with one line and no process left behind.

Full form (`make test-full`, PEVMSIM_FULL_ORACLES=1): every strategy on 2 and 4 workers,
each with 1 and 2 requests pipelined per worker, over every scenario and the
ethereum/tests slice, 12 random blocks. Default: every strategy on 2 workers (pipeline
2), Block-STM on 4 and Block-STM with pipeline 1, the first ethereum/tests file, 4
random blocks (pipelines 1-3)."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from forms import FULL, matrix
from scenarios.blocks import SCENARIOS
from test_random_blocks import OPS, build

from simulator.backends.simulated import SimulatedBackend
from simulator.costs.cost_model import GasCostModel
from simulator.runs.fixtures import load_fixtures, run_fixture
from simulator.runs.spec import RunSpec
from simulator.engine.metrics import Metrics
from simulator.engine.mv_memory import ESTIMATES, MVMemory, apply_journal
from simulator.runs.runner import run_block
from simulator.strategies import STRATEGIES
from simulator.usage import RunFailure
from simulator.engine.versioned_state import ExecutionEnv, PreState
from workloads.erc20 import ERC20Workload

JITTER = 0.002  # up to 2 ms of random delay before each execution in a worker
FIXTURES = Path(__file__).parent / "fixtures" / "ethtests" / "BlockchainTests"
ETHTESTS = ["GeneralStateTests/stCreate2/create2collisionStorage.json",
            "ValidBlocks/bcStateTests/SuicidesMixingCoinbase2.json",
            "ValidBlocks/bcEIP3675/tipInsideBlock.json"][:None if FULL else 1]
RUNS = matrix(lambda strategy, threads, pipeline: (threads, pipeline) == (2, 2)
              or strategy == "block-stm" and (threads, pipeline) != (4, 1),
              STRATEGIES, (2, 4), (1, 2))


@pytest.fixture(scope="module")
def blocks():
    made = {name: make() for name, make in SCENARIOS.items()}
    made["erc20_accounts_10"] = ERC20Workload(accounts=10).block(40, seed=3)
    return made


@pytest.mark.parametrize("strategy, threads, pipeline", RUNS)
def test_every_strategy_on_real_workers_equals_serial(blocks, strategy, threads, pipeline):
    for name, block in blocks.items():
        report = run_block(block, RunSpec(strategy, threads, backend="processes", backend_options={"jitter": JITTER, "seed": threads,
                                            "pipeline": pipeline}, serial_repeats=1))
        assert report.summary["mismatches"] == [], name
        assert report.result.diff == report.serial.diff, name
        summary = report.summary
        assert summary["real_makespan_s"] > 0 and summary["real_speedup"] > 0
        assert summary["cost_model"] == "observed"
        assert summary["prediction_error"] == pytest.approx(
            summary["virtual_speedup"] / summary["real_speedup"] - 1)
        assert summary["real_engine_speedup"] == pytest.approx(
            summary["real_engine_serial_time_s"] / summary["real_makespan_s"])
        workers = {event[0] for event in report.metrics.events}
        assert workers <= set(range(threads))


@settings(max_examples=12 if FULL else 4, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    accounts=st.integers(2, 6),
    ops=st.lists(st.tuples(st.sampled_from(OPS), st.integers(0, 5), st.integers(0, 5)),
                 min_size=2, max_size=20),
    threads=st.sampled_from((2, 4)),
    strategy=st.sampled_from(sorted(STRATEGIES)),
    seed=st.integers(0, 3),
    pipeline=st.integers(1, 3),
)
def test_random_blocks_on_real_workers_equal_serial(accounts, ops, threads, strategy, seed,
                                                    pipeline):
    report = run_block(build(accounts, ops, seed), RunSpec(strategy, threads, backend="processes", backend_options={"jitter": JITTER, "seed": seed,
                                        "pipeline": pipeline}, serial_repeats=1))
    assert report.summary["mismatches"] == []
    assert report.result.diff == report.serial.diff


@pytest.mark.parametrize("strategy", list(STRATEGIES))
@pytest.mark.parametrize("path", ETHTESTS)
def test_ethereum_tests_on_real_workers(path, strategy):
    for _, fixture in load_fixtures(FIXTURES / path):
        run_fixture(fixture, RunSpec(strategy, 2, backend="processes", serial_repeats=1))


def test_replicas_follow_the_journal(blocks):
    """After a run, replaying the journal on a fresh memory gives the same memory."""
    block = blocks["erc20_accounts_10"]
    env = ExecutionEnv(block, PreState(block.db, block.pre_state_root), True)
    strategy = STRATEGIES["block-stm"](env, GasCostModel(), Metrics())
    journal = strategy.mv.journal = []
    SimulatedBackend().run(strategy, 4, strategy.metrics)
    assert strategy.metrics.validation_failures > 0  # estimates were journaled too
    assert any(entry[0] == ESTIMATES for entry in journal)
    replica = MVMemory(len(block))
    apply_journal(replica, journal)
    assert replica._entries == strategy.mv._entries
    assert replica._writers == strategy.mv._writers


def test_an_exception_in_a_worker_names_the_worker_and_transaction(blocks, monkeypatch):
    original = ExecutionEnv.execute

    def execute(self, mv, tx, incarnation, assume_nonce=False):
        if tx == 5 and os.getpid() != parent:
            raise MemoryError("injected")
        return original(self, mv, tx, incarnation, assume_nonce)

    parent = os.getpid()
    before = set(_children(parent))  # e.g. multiprocessing's resource tracker
    monkeypatch.setattr(ExecutionEnv, "execute", execute)
    with pytest.raises(RunFailure, match=r"worker \d \(pid \d+\) failed \(MemoryError: "
                                         r"injected\) while holding transaction 5"):
        run_block(blocks["independent_transfers"], RunSpec("block-stm", 2, backend="processes"))
    assert set(_children(parent)) <= before


def test_a_timeout_ends_the_run(blocks):
    before = set(_children(os.getpid()))
    with pytest.raises(RunFailure, match="longer than its timeout of 0.05 s"):
        run_block(blocks["independent_transfers"], RunSpec("serial", 2, backend="processes", backend_options={"timeout": 0.05, "jitter": 0.05}))
    assert set(_children(os.getpid())) <= before


def _children(pid: int) -> list:
    """The live child processes of `pid` (from /proc)."""
    children = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        text = (task / "children").read_text().split()
        children += [int(child) for child in text]
    return [child for child in children if Path(f"/proc/{child}").exists()
            and "Z" not in Path(f"/proc/{child}/stat").read_text().split(")")[-1][:3]]


def _start_cli(*args) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "simulator.cli", "run", "--workload", "erc20", "--set",
         "accounts=1000", "--txs", "400", "--strategy", "block-stm", "--threads", "2",
         "--backend", "processes", *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
        preexec_fn=_interruptible)


def _interruptible() -> None:
    """Ctrl-C as at a terminal, even under a runner that started us with SIGINT
    ignored (a background job of a shell without job control): Python then keeps it
    ignored instead of raising KeyboardInterrupt."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _wait_for_workers(cli: subprocess.Popen, count: int) -> list:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        assert cli.poll() is None, cli.communicate()
        workers = _children(cli.pid)
        if len(workers) >= count:
            return workers
        time.sleep(0.02)
    raise AssertionError("the workers never started")


def _process_group_left(cli: subprocess.Popen) -> list:
    left = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                fields = (proc / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[2]) == cli.pid and fields[0] != "Z":  # process group
                left.append(int(proc.name))
    return left


def test_killing_a_worker_ends_the_run_in_one_line():
    cli = _start_cli()
    workers = _wait_for_workers(cli, 2)
    os.kill(workers[0], signal.SIGKILL)
    killed = time.monotonic()
    _, stderr = cli.communicate(timeout=60)
    assert time.monotonic() - killed < 10
    assert cli.returncode == 4
    lines = [line for line in stderr.splitlines() if line.startswith("pevmsim: error")]
    assert len(lines) == 1 and "Traceback" not in stderr, stderr
    assert f"(pid {workers[0]}) " in lines[0] and "signal 9" in lines[0]
    assert "worker 0" in lines[0] or "worker 1" in lines[0]
    assert _process_group_left(cli) == []


def test_ctrl_c_stops_every_worker():
    cli = _start_cli("--json", "-")
    _wait_for_workers(cli, 2)
    os.killpg(cli.pid, signal.SIGINT)  # what a terminal's Ctrl-C does
    _, stderr = cli.communicate(timeout=30)
    assert cli.returncode == 130, stderr
    assert "Traceback" not in stderr
    assert _process_group_left(cli) == []


def test_cli_json_carries_real_and_predicted_speedup():
    result = subprocess.run(
        [sys.executable, "-m", "simulator.cli", "run", "--workload", "erc20", "--set",
         "accounts=1000", "--txs", "30", "--strategy", "monad", "--threads", "2",
         "--backend", "processes", "--serial-repeats", "2", "--json", "-"],
        capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    row = json.loads(result.stdout)
    assert row["matches_serial"] and row["backend"] == "processes"
    assert row["real_speedup"] == pytest.approx(row["real_serial_time_s"]
                                                / row["real_makespan_s"])
    assert set(row["cost_model_constants"]) == {"SCHEDULE", "SYNC"}


@pytest.mark.parametrize("flag", ["--timeout", "--pipeline"])
def test_processes_options_need_the_processes_backend(flag):
    result = subprocess.run(
        [sys.executable, "-m", "simulator.cli", "run", "--workload", "erc20", "--txs", "5",
         flag, "3"], capture_output=True, text=True, timeout=300)
    assert result.returncode == 2
    assert result.stderr.strip() == f"pevmsim: error: {flag} applies to the processes backend"
