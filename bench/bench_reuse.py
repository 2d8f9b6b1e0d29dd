"""Execution reuse (pytest-benchmark), run by `make microbench`: what a study of one
block costs with and without it.

    reuse-compare    every strategy at 8 and 32 virtual workers (`compare`) on a DeFi
                     block and an ERC-20 block of 200 transactions, reuse on and off.
                     Each round runs on a fresh copy of the block (the reuse cache and
                     everything else kept per block start empty), so a round with
                     reuse pays for its own first executions; the hits and misses of
                     the last round are kept in the benchmark's extra_info.

The figures of the two modes are equal (tests/test_reuse.py); only the time differs.
"""

from __future__ import annotations

import pickle

import pytest

from simulator.chain.serial import execute_serial
from simulator.runs.compare import compare
from simulator.runs.spec import RunSpec, grid
from simulator.strategies import STRATEGIES
from workloads.defi import DefiWorkload
from workloads.erc20 import ERC20Workload

TXS = 200
WORKLOADS = {"defi": lambda: DefiWorkload(hot_ratio=0.5),
             "erc20": lambda: ERC20Workload(accounts=100)}


@pytest.fixture(scope="module", params=sorted(WORKLOADS))
def built(request):
    block = WORKLOADS[request.param]().block(TXS, seed=0)
    return pickle.dumps(block), (execute_serial(block)[0], 0.0)


@pytest.mark.benchmark(group="reuse-compare")
@pytest.mark.parametrize("reuse", [True, False], ids=["reuse", "no-reuse"])
def test_compare_every_strategy(benchmark, built, reuse):
    data, serial = built
    specs = grid(STRATEGIES, [8, 32], RunSpec(reuse=reuse))
    summaries = benchmark.pedantic(lambda block: compare(block, specs, serial=serial),
                                   setup=lambda: ((pickle.loads(data),), {}), rounds=2)
    assert all(summary["matches_serial"] for summary in summaries)
    benchmark.extra_info["reuse_hits"] = sum(s["reuse_hits"] for s in summaries)
    benchmark.extra_info["executions"] = sum(s["executions"] for s in summaries)
