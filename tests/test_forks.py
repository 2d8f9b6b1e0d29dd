"""The forks pevmsim adds to py-evm (simulator/chain/forks/: Osaka, BPO1, BPO2) against
the executable specification's constants and functions (ethereum-execution 2.20.0),
their EIPs' rules one by one, the mainnet schedule, the refusal of later forks, and
parallel == serial under every strategy on Prague (EIP-7702) and Osaka blocks."""

import dataclasses
import importlib
import random

import pytest
from scenarios.raw import FORKS, RawChain
from scenarios.recent import (CLZ_CONTRACT, P256, modexp_input, osaka_programs, p256_input,
                              prague_authorizations)

from simulator.chain.eels import eels_disagreements
from simulator.chain.forks import (MAINNET_TIMESTAMP_FORKS, UnmodelledFork, check_modelled,
                                   mainnet_fork)
from simulator.chain.forks import osaka, secp256r1
from simulator.chain.forks.bpo1 import Bpo1VM
from simulator.chain.forks.bpo2 import Bpo2VM
from simulator.chain.serial import InvalidBlock, execute_serial
from simulator.runs.runner import run_block
from simulator.runs.spec import RunSpec
from simulator.strategies import STRATEGIES
from workloads.mainnet import VENDORED, available_blocks

ADDED = (("osaka", osaka.OsakaVM), ("bpo1", Bpo1VM), ("bpo2", Bpo2VM))


def eels(fork: str, module: str):
    return importlib.import_module(f"ethereum.forks.{fork}.{module}")


@pytest.mark.parametrize("name, vm_class", ADDED)
def test_schedule_and_blob_parameters_are_the_specifications(name, vm_class):
    start = int(importlib.import_module(f"ethereum.forks.{name}").FORK_CRITERIA.timestamp)
    assert (start, vm_class) in MAINNET_TIMESTAMP_FORKS
    assert mainnet_fork(23_000_000, start) is vm_class
    assert mainnet_fork(23_000_000, start - 1) is not vm_class
    gas = eels(name, "vm.gas")
    schedule = vm_class.get_state_class().blob_schedule
    assert (schedule.target, schedule.max, schedule.update_fraction) == (
        gas.BLOB_SCHEDULE_TARGET, gas.BLOB_SCHEDULE_MAX, gas.BLOB_BASE_FEE_UPDATE_FRACTION)
    assert schedule.max_blob_gas == eels(name, "fork").MAX_BLOB_GAS_PER_BLOCK
    Header = eels(name, "blocks").Header
    rng = random.Random(name)
    for _ in range(300):
        excess, used = rng.randrange(0, 2**27), rng.randrange(0, schedule.max + 1) * 2**17
        base_fee = rng.choice((0, 1, 7, rng.randrange(0, 2**40)))
        zero = {field.name: field.type(0) if field.type.__name__ in ("Uint", "U64", "U256")
                else field.type(b"\x00" * 8 if field.name == "nonce" else
                                b"\x00" * (256 if field.name == "bloom" else
                                           20 if field.name == "coinbase" else 32))
                if field.name != "extra_data" else b"" for field in dataclasses.fields(Header)}
        header = Header(**dict(zero, excess_blob_gas=gas.U64(excess),
                               blob_gas_used=gas.U64(used),
                               base_fee_per_gas=gas.Uint(base_fee)))
        assert osaka.excess_blob_gas(excess, used, base_fee, schedule) == \
            gas.calculate_excess_blob_gas(header)
        assert osaka.blob_base_fee(excess, schedule) == gas.calculate_blob_gas_price(
            gas.U64(excess))


def test_mainnet_schedule_up_to_prague_is_py_evms():
    assert mainnet_fork(22_431_083, 1_746_612_299).fork == "cancun"
    assert mainnet_fork(22_431_084, 1_746_612_311).fork == "prague"
    assert mainnet_fork(15_537_394, 1_663_224_179).fork == "paris"


def test_modexp_price_is_the_specifications():
    rng = random.Random(7883)
    for _ in range(2000):
        lengths = [rng.choice((0, 1, 31, 32, 33, 64, 500, 1024, rng.randrange(0, 1025)))
                   for _ in range(3)]
        head = rng.choice((0, 1, 2**255, rng.getrandbits(rng.randrange(1, 257))))
        spec = eels("osaka", "vm.precompiled_contracts.modexp").gas_cost
        U256 = eels("osaka", "vm.gas").U256
        assert osaka.modexp_gas(lengths[0], lengths[1], lengths[2], head) == spec(
            U256(lengths[0]), U256(lengths[2]), U256(lengths[1]), U256(head))


def test_p256verify_checks_every_rule_of_eip_7951():
    good = p256_input()
    words = [int.from_bytes(good[i:i + 32], "big") for i in range(0, 160, 32)]
    assert secp256r1.verify(*words)
    assert not secp256r1.verify(*words[:2], words[2] ^ 1, *words[3:])
    h, r, s, qx, qy = words
    for bad in ((h, 0, s, qx, qy), (h, secp256r1.N, s, qx, qy), (h, r, 0, qx, qy),
                (h, r, secp256r1.N + s, qx, qy), (h, r, s, 0, 0), (h, r, s, qx, qy ^ 1),
                (h, r, s, qx + secp256r1.P, qy)):
        assert not secp256r1.verify(*bad)
    for seed in range(1, 6):  # more keys, each against EELS's verifier
        spec = eels("osaka", "vm.precompiled_contracts.p256verify")
        data = p256_input(seed=seed)
        assert secp256r1.verify(*(int.from_bytes(data[i:i + 32], "big")
                                  for i in range(0, 160, 32)))
        assert spec.secp256r1_verify(*(spec.U256.from_be_bytes(data[i:i + 32])
                                       for i in range(32, 160, 32)),
                                     data[:32]) is None


def test_clz_is_an_opcode_under_osaka_and_invalid_under_prague():
    for vm_class, ok in ((osaka.OsakaVM, True), (FORKS["prague"], False)):
        chain = RawChain(vm_class)
        chain.account(CLZ_CONTRACT, osaka_programs.__globals__["CLZ_PROGRAM"])
        users = [chain.key() for _ in range(3)]
        words = (1 << 200, 0, 2**256 - 1)
        block = chain.build([chain.tx(user, CLZ_CONTRACT, data=word.to_bytes(32, "big"),
                                      gas=100_000) for user, word in zip(users, words)])
        result, _ = execute_serial(block, steps=True)
        assert [r.success for r in result.receipts] == [ok] * 3
        if ok:  # slot 0 = clz(word): 55, 256, 0
            assert [step.get((3, CLZ_CONTRACT, 0)) for step in result.steps] == [55, 256, 0]
        else:  # an invalid opcode consumes all the gas
            assert [r.gas_used for r in result.receipts] == [100_000] * 3


def test_p256verify_is_a_precompile_from_osaka_only():
    """Transactions 2-4 of the Osaka programs call 0x100 with a valid signature, an
    invalid one and a 159-byte input; the caller stores the output's size in slot 2."""
    for vm_class, sizes in ((osaka.OsakaVM, [32, 0, 0]), (Bpo2VM, [32, 0, 0]),
                            (FORKS["prague"], [0, 0, 0])):  # an empty account there
        chain, txs = osaka_programs(vm_class)
        result, _ = execute_serial(chain.build(txs), steps=True)
        assert [result.steps[i].get((3, P256, 2), 0) for i in (2, 3, 4)] == sizes
        if sizes[0]:
            assert result.steps[2][(3, P256, 0)] == 1


@pytest.mark.parametrize("vm_class", [vm for _, vm in ADDED])
def test_transaction_gas_cap(vm_class):
    for gas, valid in ((2**24, True), (2**24 + 1, False)):
        chain = RawChain(vm_class)
        block = chain.build([chain.tx(chain.key(), CLZ_CONTRACT, gas=gas)])
        if valid:
            execute_serial(block)
        else:
            with pytest.raises(InvalidBlock, match="above the cap 16777216"):
                execute_serial(block)
    chain = RawChain(FORKS["prague"])  # no cap before Osaka
    execute_serial(chain.build([chain.tx(chain.key(), CLZ_CONTRACT, gas=2**24 + 1)]))


@pytest.mark.parametrize("vm_class", [osaka.OsakaVM, Bpo2VM], ids=["osaka", "bpo2"])
def test_blobs_per_transaction(vm_class):
    """EIP-7594: from Osaka on, at most 6 blobs per transaction; both oracles refuse
    the same transaction."""
    for blobs, valid in ((6, True), (7, False)):
        chain = RawChain(vm_class)
        block = chain.build([chain.blob_tx(chain.key(), CLZ_CONTRACT, blobs)])
        if valid:
            execute_serial(block)
        else:
            with pytest.raises(InvalidBlock, match="7 blobs in one transaction"):
                execute_serial(block)
        assert eels_disagreements(block) == []


def test_a_block_over_its_blob_maximum_is_valid_to_py_evms_state_only():
    """Prague allows 9 blobs per block. py-evm checks that in its VM's block
    validation, which a replay of the transactions never reaches; EELS checks it as
    each transaction is included. The oracle names the transaction."""
    chain = RawChain(FORKS["prague"])
    block = chain.build([chain.blob_tx(chain.key(), CLZ_CONTRACT, 10)])
    execute_serial(block)
    problems = eels_disagreements(block)
    assert problems == ["tx 0: valid in py-evm, invalid in EELS "
                        "(BlobGasLimitExceededError: blob gas limit exceeded)"]


def test_blob_base_fee_follows_each_forks_schedule():
    """BLOBBASEFEE under the same excess blob gas: Prague's and Osaka's update fraction
    (5,007,716), BPO1's (8,346,193) and BPO2's (11,684,671); EELS agrees."""
    fees = {}
    for vm_class in (FORKS["prague"], osaka.OsakaVM, Bpo1VM, Bpo2VM):
        chain = RawChain(vm_class)
        program = chain.account(b"\xbb" * 20, bytes([0x4A, 0x5F, 0x55, 0x00]))
        block = chain.build([chain.tx(chain.key(), program, gas=100_000)],
                            excess_blob_gas=40_000_000)
        result, _ = execute_serial(block, steps=True)
        fees[vm_class.fork] = result.steps[0][(3, program, 0)]
        assert eels_disagreements(block) == []
    assert fees == {fork: osaka.blob_base_fee(40_000_000, schedule) for fork, schedule in (
        ("prague", osaka.OSAKA_BLOBS), ("osaka", osaka.OSAKA_BLOBS),
        ("bpo1", Bpo1VM.get_state_class().blob_schedule),
        ("bpo2", Bpo2VM.get_state_class().blob_schedule))}
    assert len(set(fees.values())) == 3


def test_modexp_bounds_halt_and_price():
    chain = RawChain(osaka.OsakaVM)
    from scenarios.recent import MODEXP, precompile_caller
    chain.account(MODEXP, precompile_caller(0x05))
    users = [chain.key() for _ in range(3)]
    inputs = (modexp_input(2, 3, 5, lengths=(1024, 1, 1024)),
              modexp_input(2, 3, 5, lengths=(1025, 1, 1)),
              modexp_input(2, 3, 5, lengths=(1, 1, 1)))
    block = chain.build([chain.tx(user, MODEXP, data=data, gas=3_000_000)
                         for user, data in zip(users, inputs)])
    result, _ = execute_serial(block, steps=True)
    called = [step.get((3, MODEXP, 1)) for step in result.steps]
    assert called == [1, 0, 1]  # above 1024 bytes: an exceptional halt (call fails)
    assert result.steps[2][(3, MODEXP, 0)] >> 248 == 3  # 2^3 mod 5: one byte of output


def test_later_forks_are_refused():
    block = dict(VENDORED.block(19426587))
    check_modelled(block)
    with pytest.raises(UnmodelledFork, match=r"block 19426587 \(timestamp \d+\) is of a "
                       r"fork after BPO2.*blockAccessListHash \(EIP-7928, Glamsterdam\)"):
        check_modelled(dict(block, blockAccessListHash="0x" + "00" * 32))
    with pytest.raises(UnmodelledFork, match="uses 7 blobs, above cancun's maximum of 6"):
        check_modelled(dict(block, blobGasUsed=hex(7 * 2**17)))
    bpo2 = dict(block, number=hex(24_200_000), timestamp=hex(1_768_000_000),
                blobGasUsed="0x0", excessBlobGas="0x0")
    parent = dict(bpo2, excessBlobGas=hex(30 * 2**17), blobGasUsed=hex(2**17),
                  baseFeePerGas="0x1")
    with pytest.raises(UnmodelledFork, match="excess blob gas 0, bpo2's rule gives"):
        check_modelled(bpo2, parent)


def test_every_vendored_block_is_of_a_modelled_fork():
    for number in available_blocks():
        check_modelled(VENDORED.block(number))


@pytest.mark.parametrize("strategy", list(STRATEGIES))
def test_prague_and_osaka_blocks_match_serial_under_every_strategy(strategy):
    for build, vm_class in ((prague_authorizations, FORKS["prague"]),
                            (osaka_programs, osaka.OsakaVM), (osaka_programs, Bpo1VM)):
        chain, txs = build(vm_class)
        for threads in (2, 8):
            report = run_block(chain.build(txs), RunSpec(strategy=strategy, threads=threads,
                                                         deep_check=True))
            assert report.summary["mismatches"] == []


def _osaka_chain():
    """py-evm's own MiningChain running pevmsim's Osaka VM from genesis."""
    from eth.chains.base import MiningChain
    from eth.tools.builder.chain import build, disable_pow_check, fork_at, genesis
    from eth_hash.auto import keccak
    from eth_keys import keys

    key = keys.PrivateKey(keccak(b"osaka chain"))
    chain = build(MiningChain, fork_at(osaka.OsakaVM, 0), disable_pow_check(), genesis(
        params={"gas_limit": 60_000_000, "difficulty": 0, "nonce": b"\x00" * 8},
        state={key.public_key.to_canonical_address(): {
            "balance": 10**21, "nonce": 0, "code": b"", "storage": {}}}))
    return chain, key


def test_py_evm_imports_osaka_blocks_and_checks_eip_7918_and_7934():
    from eth_utils import ValidationError

    chain, key = _osaka_chain()
    builder = chain.get_vm().get_transaction_builder()
    tx = builder.new_unsigned_dynamic_fee_transaction(
        chain_id=1, nonce=0, max_priority_fee_per_gas=1, max_fee_per_gas=10**10, gas=21_000,
        to=b"\x11" * 20, value=1, data=b"", access_list=()).as_signed_transaction(key)
    chain.apply_transaction(tx)
    block = chain.mine_block()
    vm = chain.get_vm(block.header)
    vm.validate_block_blobs(block)  # excess blob gas 0 from a genesis that used none
    with pytest.raises(ValidationError, match="EIP-7918"):
        vm.validate_block_blobs(block.copy(header=block.header.copy(excess_blob_gas=1)))
    big = builder.create_unsigned_transaction(  # a legacy one: 1 MiB of calldata
        nonce=1, gas_price=10**10, gas=21_000, to=b"\x11" * 20, value=0,
        data=b"\x01" * 2**20).as_signed_transaction(key)
    with pytest.raises(ValidationError, match="above 8388608 .EIP-7934."):
        vm.validate_block(block.copy(transactions=[big] * 9))
