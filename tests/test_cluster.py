"""Sweeps on Dask (simulator/harness/cluster.py): real LocalClusters of worker
processes give the rows of an in-process sweep; a worker killed mid-sweep costs no
row and duplicates none after --resume; a bad --scheduler is a one-line error."""

from __future__ import annotations

import io
import os
import signal
import time
from contextlib import contextmanager

import dask
import pytest
from distributed import Client, LocalCluster

from simulator.cli.main import main
from simulator.harness.suite import SuiteError, load_suite, select_txs
from simulator.harness.sweep import read_results, sweep
from simulator.progress import Progress
from simulator.runs.summary import HOST_FIELDS

# Four block settings, so that two workers share them unevenly and in any order.
QUAD = """
name = "quad"
txs = 40
threads = [1, 4]
strategies = ["serial", "block-stm", "sei"]

[[workloads]]
name = "erc20"
params = { accounts = 20, hot_ratio = [0.0, 0.8] }

[[workloads]]
name = "transfer"
params = { accounts = [4, 40] }
txs = [40, 60]
"""


def figures(out) -> dict:
    """key -> row without its host figures (time, memory, what the reuse cache of a
    worker held)."""
    rows = read_results(out)
    keyed = {row["key"]: {k: v for k, v in row.items() if k not in HOST_FIELDS} for row in rows}
    assert len(keyed) == len(rows)  # every key once
    return keyed


@pytest.fixture(scope="module")
def suite_path(tmp_path_factory):
    path = tmp_path_factory.mktemp("quad") / "quad.toml"
    path.write_text(QUAD)
    return path


@pytest.fixture(scope="module")
def in_process(suite_path):
    """The suite swept in this process (--jobs 1): the reference rows."""
    out = suite_path.parent / "jobs1"
    assert main(["sweep", str(suite_path), "--out", str(out), "--jobs", "1"]) == 0
    return out


def test_two_local_workers_give_the_rows_and_timelines_of_one_job(suite_path, in_process):
    out = suite_path.parent / "jobs2"
    assert main(["sweep", str(suite_path), "--out", str(out), "--jobs", "2"]) == 0
    reference = figures(in_process)
    assert len(reference) == len(load_suite(str(suite_path)).configs) == 36
    assert figures(out) == reference
    for timeline in sorted((in_process / "timelines").iterdir()):
        assert (out / "timelines" / timeline.name).read_text() == timeline.read_text()


class KillingProgress(Progress):
    """Progress that, when the first run comes back, SIGKILLs every worker process
    that is running a task (what an out-of-memory kill or a lost node does)."""

    def __init__(self, client) -> None:
        super().__init__(io.StringIO())
        self.client = client
        self.killed = []

    @contextmanager
    def runs(self, description, total, initial=0):
        with super().runs(description, total, initial) as done:
            def kill_then_done(text):
                if not self.killed:
                    self.kill_busy_workers()
                done(text)
            yield kill_then_done

    def kill_busy_workers(self) -> None:
        pids = self.client.run(os.getpid)
        deadline = time.monotonic() + 30
        while not self.killed and time.monotonic() < deadline:
            busy = [worker for worker, keys in self.client.processing().items() if keys]
            for worker in busy:
                os.kill(pids[worker], signal.SIGKILL)
                self.killed.append(worker)


def test_a_worker_killed_mid_sweep_leaves_every_row_once_after_resume(suite_path,
                                                                       in_process):
    suite = load_suite(str(suite_path))
    out = suite_path.parent / "killed"
    # Dask gives up on a task at its first dead worker, so the kill costs rows.
    with dask.config.set({"distributed.scheduler.allowed-failures": 0}), \
            LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                         dashboard_address=":0") as cluster, Client(cluster) as client:
        progress = KillingProgress(client)
        first = sweep(suite, out, progress=progress, scheduler=cluster.scheduler_address)
        assert progress.killed
        rows = figures(out)  # complete: a row per configuration, the lost ones failed
        assert sorted(rows) == sorted(c.key for c in suite.configs)
        failed = [key for key, row in rows.items() if "error" in row]
        assert first.failed == len(failed) >= 1
        assert all(rows[key]["error"].startswith("KilledWorker: ") for key in failed)
        client.wait_for_workers(2, timeout=60)  # the nannies restart the killed ones
        again = sweep(suite, out, resume=True, progress=Progress(io.StringIO()),
                      scheduler=cluster.scheduler_address)
    assert (again.ran, again.skipped, again.failed) == (len(failed), 36 - len(failed), 0)
    assert figures(out) == figures(in_process)


@pytest.mark.parametrize("address", ["no-port", "tcp://127.0.0.1:9"])
def test_a_bad_scheduler_address_is_a_one_line_error(suite_path, tmp_path, capsys,
                                                     address):
    out = tmp_path / "out"
    assert main(["sweep", str(suite_path), "--out", str(out), "--scheduler", address]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("pevmsim: error: cannot reach the Dask "
                                               f"scheduler at {address!r}")
    assert not (out / "results.jsonl").exists() or not (out / "results.jsonl").read_text()


def test_jobs_and_scheduler_exclude_each_other(suite_path, tmp_path, capsys):
    assert main(["sweep", str(suite_path), "--out", str(tmp_path), "--jobs", "2",
                 "--scheduler", "tcp://127.0.0.1:8786"]) == 2
    assert "not both" in capsys.readouterr().err


def test_the_txs_filter_keeps_the_blocks_of_those_sizes(suite_path):
    suite = load_suite(str(suite_path))
    sixty = select_txs(suite, [60])
    assert [block.txs for block in sixty.blocks] == [60, 60]
    assert {c.key for c in sixty.configs} < {c.key for c in suite.configs}
    with pytest.raises(SuiteError, match="no block of 50 transactions.*40, 60"):
        select_txs(suite, [50])
