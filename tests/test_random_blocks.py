"""hypothesis: random blocks mixing every conflict pattern; parallel == serial."""

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scenarios.blocks import PROBE

from simulator.runs.runner import run_block
from simulator.runs.spec import RunSpec
from workloads.api import BlockBuilder
from workloads.vyper_build import compile_file

OPS = ("transfer", "erc20", "bump", "read_coinbase", "pay_coinbase", "fail", "pay_coinbase_eoa",
       "create", "approve_pull")


def build(accounts: int, ops, seed: int):
    chain = BlockBuilder(seed)
    users = chain.accounts(accounts)
    token = chain.deploy("erc20", "Token", "TK", 10**24)
    for user in users:
        chain.call(chain._deployer, token, "transfer", user.address, 10**20)
    probe = chain.deploy(PROBE)
    txs = []
    for op, a, b in ops:
        sender, other = users[a % accounts], users[b % accounts]
        if op == "transfer":
            txs.append(chain.transfer(sender, other.address, 10**15))
        elif op == "erc20":
            txs.append(chain.call_tx(sender, token, "transfer", other.address, 10**18))
        elif op == "pay_coinbase_eoa":
            txs.append(chain.transfer(sender, chain.coinbase, 10**15))
        elif op == "pay_coinbase":
            txs.append(chain.call_tx(sender, probe, "pay_coinbase", value=10**15))
        elif op == "create":
            txs.append(chain.create_tx(sender, compile_file(PROBE).bytecode)[0])
        elif op == "approve_pull":
            txs.append(chain.call_tx(sender, token, "approve", other.address, 10**18))
            txs.append(chain.call_tx(other, token, "transferFrom", sender.address,
                                     other.address, 10**18))
        else:  # bump, read_coinbase, fail: calls on the shared probe contract
            txs.append(chain.call_tx(sender, probe, op))
    return chain.build(txs)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    accounts=st.integers(2, 6),
    ops=st.lists(st.tuples(st.sampled_from(OPS), st.integers(0, 5), st.integers(0, 5)),
                 min_size=1, max_size=30),
    threads=st.sampled_from((1, 2, 4, 8, 32)),
    lazy=st.booleans(),
    wait_for_sender=st.sampled_from((0, 1)),
    seed=st.integers(0, 3),
)
def test_random_block_block_stm_equals_serial(accounts, ops, threads, lazy, wait_for_sender,
                                               seed):
    block = build(accounts, ops, seed)
    report = run_block(block, RunSpec("block-stm", threads, lazy_beneficiary=lazy, strategy_options={"wait_for_sender": wait_for_sender}, deep_check=True))
    assert report.summary["mismatches"] == []
    assert report.result.diff == report.serial.diff
    assert report.summary["virtual_speedup"] <= report.summary["virtual_speedup_bound"] + 1e-9
