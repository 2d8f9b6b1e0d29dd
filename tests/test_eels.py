"""The executable specification (EELS, ethereum-execution 2.20.0) as a second serial
oracle: serial py-evm (with the forks pevmsim adds, simulator/chain/forks/) and EELS
must agree, transaction by transaction, on validity, status, gas, logs and every
post-value, on the vendored mainnet blocks, the ethereum/tests files, random
raw-bytecode blocks of every fork from Frontier to BPO2, Prague blocks with EIP-7702
authorizations and Osaka programs; and where py-evm departs from the specification
(EIP-7610, see below), the oracle must say so.

Default form (`make test`): seven vendored blocks spanning the eras, every seventh
fixture file and the known cases, two random blocks per fork. Full form
(`make test-full`, PEVMSIM_FULL_ORACLES=1): all 50 vendored blocks (about 7 minutes on
one core), every fixture file, twelve random blocks per fork."""

from pathlib import Path

import pytest
from eth.chains.mainnet import MAINNET_VM_CONFIGURATION
from eth_utils import ValidationError
from forms import FULL
from scenarios import raw
from scenarios.programs import random_block
from scenarios.recent import modexp_input, osaka_programs, prague_authorizations

from simulator.chain.eels import OracleError, eels_disagreements
from simulator.chain.forks import ADDED_FORKS
from simulator.engine import pyevm_boundary
from simulator.runs.fixtures import load_fixtures, run_fixture
from simulator.runs.spec import RunSpec
from workloads.mainnet import available_blocks, load_block

FORKS = [vm for _, vm in MAINNET_VM_CONFIGURATION] + list(ADDED_FORKS.values())
LIGHT_BLOCKS = (46147, 1150000, 2675000, 4369999, 9068998, 19426587, 19923400)
FIXTURES = Path(__file__).parent / "fixtures" / "ethtests" / "BlockchainTests"
FILES = sorted(FIXTURES.rglob("*.json"))
# EIP-7610 (Final, retroactive to Frontier): a creation onto an address with storage
# fails. pevmsim follows it (pyevm_boundary item 11), as EELS does; this fixture was
# filled in 2020 (Geth 1.9.14), before EIP-7610, and expects the creation to succeed.
EIP_7610_FILE = "create2collisionStorage.json"
# py-evm's ConstantinopleVM (EIP-1283, never on mainnet): no EELS fork specifies it.
NO_EELS_FORK_FILE = "refundReset.json"


@pytest.mark.parametrize("number", [n for n in available_blocks()
                                    if FULL or n in LIGHT_BLOCKS])
def test_vendored_block_agrees_with_eels(number):
    assert eels_disagreements(load_block(number)) == []


@pytest.mark.parametrize("path", [p for i, p in enumerate(FILES) if FULL or i % 7 == 0
                                  or p.name in (EIP_7610_FILE, NO_EELS_FORK_FILE)],
                         ids=lambda p: str(p.relative_to(FIXTURES)))
def test_fixture_file_agrees_with_eels(path):
    for _, fixture in load_fixtures(path):
        if path.name == EIP_7610_FILE:  # EELS agrees; the outdated header does not
            with pytest.raises(ValidationError, match="Mismatch between locally executed "
                               "block and proposed block"):
                run_fixture(fixture, RunSpec(threads=4), eels=True)
        elif path.name == NO_EELS_FORK_FILE and fixture["network"] == "Constantinople":
            with pytest.raises(OracleError, match="no fork matching"):
                run_fixture(fixture, RunSpec(threads=4), eels=True)
        else:
            run_fixture(fixture, RunSpec(threads=4), eels=True)


@pytest.mark.parametrize("vm_class", FORKS, ids=lambda vm: vm.fork)
@pytest.mark.parametrize("seed", range(12 if FULL else 2))
def test_random_program_block_agrees_with_eels(vm_class, seed):
    assert eels_disagreements(random_block(vm_class, seed)) == []


@pytest.mark.parametrize("vm_class", [vm for vm in FORKS if vm.fork in
                                      ("prague", "osaka", "bpo1", "bpo2")],
                         ids=lambda vm: vm.fork)
def test_authorizations_and_osaka_programs_agree_with_eels(vm_class):
    chain, txs = prague_authorizations(vm_class)
    assert eels_disagreements(chain.build(txs)) == []
    chain, txs = osaka_programs(vm_class)  # under Prague: CLZ invalid, 0x100 empty
    assert eels_disagreements(chain.build(txs)) == []


def test_set_code_after_read_agrees_with_eels():
    assert eels_disagreements(raw.set_code_authorization_after_read()[0]) == []


@pytest.mark.parametrize("fails", [False, True], ids=["stops", "fails"])
def test_creation_onto_storage_collides_as_eip_7610_says(fails):
    """CREATE2 onto an address with storage but no code: stock py-evm would create the
    contract over the storage; the specification (EIP-7610) and pevmsim's reference
    (pyevm_boundary item 11) make the creation fail."""
    block, _ = raw.create2_onto_storage(fails=fails)
    assert eels_disagreements(block) == []


@pytest.mark.parametrize("vm_class", [vm for vm in FORKS if vm.fork not in (
    "frontier", "homestead", "tangerine-whistle", "spurious-dragon")],
                         ids=lambda vm: vm.fork)
def test_modexp_with_an_empty_base_follows_the_specification(vm_class):
    """py-evm returns 0 for an empty base whatever the exponent; 0 ** 0 mod 7 is 1
    (pyevm_boundary item 10), and EELS agrees with pevmsim's reference."""
    data = modexp_input(0, 0, 7, lengths=(0, 0, 1))
    assert pyevm_boundary.PY_EVM_MODEXP(data) == 0  # py-evm's own: what item 10 replaces
    assert pyevm_boundary.modexp_result(data) == 1
    for other in (modexp_input(3, 5, 7), modexp_input(0, 2, 7, lengths=(0, 1, 1)),
                  modexp_input(2, 0, 7), modexp_input(0, 0, 0, lengths=(0, 0, 1))):
        assert pyevm_boundary.modexp_result(other) == pyevm_boundary.PY_EVM_MODEXP(other)
    chain = raw.RawChain(vm_class)
    caller = chain.account(b"\xca" * 20, raw.asm(
        0x36, b"\x00", b"\x00", 0x37, b"\x20", b"\x00", 0x36, b"\x00", b"\x05", 0x5A,
        0xFA, b"\x00", 0x51, b"\x00", 0x55, 0x00))  # slot 0 = ModExp(calldata)
    block = chain.build([chain.tx(chain.key(), caller, data=data, gas=200_000)])
    assert eels_disagreements(block) == []


PLUGIN = "tests/scenarios/adversarial_plugin.py"


def test_compare_with_the_eels_oracle_prints_each_disagreement_and_exits_3(capsys):
    from simulator.cli.main import main

    assert main(["compare", "--workload", f"{PLUGIN}:OverBlobMaximum", "--txs", "1",
                 "--strategies", "block-stm,monad", "--oracle", "eels"]) == 3
    out = capsys.readouterr().out
    assert ("EELS DISAGREES with serial py-evm (1):\n  tx 0: valid in py-evm, invalid in "
            "EELS (BlobGasLimitExceededError: blob gas limit exceeded)") in out
    assert main(["run", "--workload", f"{PLUGIN}:CallHeavy", "--txs", "4",
                 "--oracle", "eels"]) == 0
    assert "EELS agrees with serial py-evm on all 4 transactions" in capsys.readouterr().out


@pytest.mark.parametrize("args, complaint", [
    (["/nonexistent"], "/nonexistent is not a directory"),
    (["vendored", "--blocks", "9..3"], "--blocks 9..3: need 0 <= N <= M"),
    (["vendored", "--blocks", "3..4"], "holds no block in 3..4"),
])
def test_verify_refuses_bad_input_in_one_line(args, complaint, capsys):
    from simulator.cli.main import main

    assert main(["verify", *args]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("pevmsim: error: ") and complaint in err[0]


def test_verify_checks_each_block_of_a_directory(capsys):
    from simulator.cli.main import main

    assert main(["verify", "vendored", "--blocks", "2674998..2675000"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("block 2674998 (tangerine-whistle, 16 txs): EELS agrees")
    assert out[1].startswith("block 2675000 (spurious-dragon, 15 txs): EELS agrees")
    assert out[2] == "EELS agrees with serial py-evm on 2 of 2 blocks"


def test_eels_overflowing_on_a_huge_modexp_length_is_one_line():
    """EELS's ModExp before Osaka computes 96 + base length as a U256, which overflows
    (a Python OverflowError, no EVM outcome) for a base length within 96 of 2^256;
    py-evm prices the call (EIP-198: astronomically) and it runs out of gas. The oracle
    says so in one line instead of failing; from Osaka on, EIP-7823's bound comes first
    and both agree."""
    byzantium = next(vm for vm in FORKS if vm.fork == "byzantium")
    for vm_class, agrees in ((byzantium, False), (ADDED_FORKS["osaka"], True)):
        chain = raw.RawChain(vm_class)
        caller = chain.account(b"\xca" * 20, raw.asm(
            0x36, b"\x00", b"\x00", 0x37, b"\x20", b"\x00", 0x36, b"\x00", b"\x05",
            raw.push(100_000), 0xFA, b"\x01", 0x55, 0x00))
        data = (2**256 - 1).to_bytes(32, "big") + bytes(64)
        block = chain.build([chain.tx(chain.key(), caller, data=data, gas=300_000)])
        problems = eels_disagreements(block)
        assert problems == ([] if agrees else [
            "tx 0: EELS raised OverflowError (no message); py-evm executed it"])
