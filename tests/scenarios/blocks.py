"""Hand-made blocks for the correctness tests: each exercises one conflict pattern."""

from __future__ import annotations

from pathlib import Path

from workloads.api import BlockBuilder, Contract
from workloads.vyper_build import compile_file

PROBE = Path(__file__).parent / "probe.vy"


def _probe(chain: BlockBuilder) -> Contract:
    return chain.deploy(PROBE)


def independent_transfers(seed=0):
    chain = BlockBuilder(seed)
    senders, receivers = chain.accounts(30), chain.accounts(30)
    return chain.build([chain.transfer(s, r.address, 10**15) for s, r in zip(senders, receivers)])


def one_sender_chain(seed=0):
    chain = BlockBuilder(seed)
    sender, others = chain.accounts(1)[0], chain.accounts(20)
    return chain.build([chain.transfer(sender, r.address, 10**15) for r in others])


def one_recipient(seed=0):
    chain = BlockBuilder(seed)
    receiver, senders = chain.accounts(1)[0], chain.accounts(20)
    return chain.build([chain.transfer(s, receiver.address, 10**15) for s in senders])


def create_then_call(seed=0):
    chain = BlockBuilder(seed)
    users = chain.accounts(8)
    artifact = compile_file(PROBE)
    create, address = chain.create_tx(users[0], artifact.bytecode)
    probe = Contract(address, artifact.abi)
    txs = [create] + [chain.call_tx(u, probe, "bump") for u in users[1:]]
    txs.append(chain.call_tx(users[0], probe, "bump"))
    return chain.build(txs)


def reverts_and_out_of_gas(seed=0):
    chain = BlockBuilder(seed)
    users = chain.accounts(10)
    probe = _probe(chain)
    txs = []
    for index, user in enumerate(users):
        if index % 3 == 0:
            txs.append(chain.call_tx(user, probe, "fail"))
        elif index % 3 == 1:
            txs.append(chain.call_tx(user, probe, "burn", 5000, gas=60_000))  # runs out of gas
        else:
            txs.append(chain.call_tx(user, probe, "bump"))
    return chain.build(txs)


def coinbase_readers_and_payers(seed=0):
    chain = BlockBuilder(seed)
    users = chain.accounts(12)
    probe = _probe(chain)
    txs = []
    for index, user in enumerate(users):
        if index % 4 == 1:
            txs.append(chain.call_tx(user, probe, "read_coinbase"))
        elif index % 4 == 2:
            txs.append(chain.call_tx(user, probe, "pay_coinbase", value=10**16))
        elif index % 4 == 3:
            txs.append(chain.transfer(user, chain.coinbase, 10**15))  # plain payment
        else:
            txs.append(chain.transfer(user, users[0].address, 10**15))
    return chain.build(txs)


def access_lists(seed=0):
    chain = BlockBuilder(seed)
    users = chain.accounts(10)
    probe = _probe(chain)
    access = [(probe.address, (0,))]  # counter is slot 0
    txs = [chain.call_tx(u, probe, "bump", access_list=access) for u in users]
    return chain.build(txs)


SCENARIOS = {
    "independent_transfers": independent_transfers,
    "one_sender_chain": one_sender_chain,
    "one_recipient": one_recipient,
    "create_then_call": create_then_call,
    "reverts_and_out_of_gas": reverts_and_out_of_gas,
    "coinbase_readers_and_payers": coinbase_readers_and_payers,
    "access_lists": access_lists,
}
