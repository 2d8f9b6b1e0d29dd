"""ethereum/tests as the oracle: every block of every vendored BlockchainTests fixture,
imported through a strategy on 8 simulated workers, must pass py-evm's header
validation and leave exactly the fixture's postState (but for one file filled before
EIP-7610, whose header pevmsim must refuse: BEFORE_EIP_7610).

Full form (`make test-full`, or PEVMSIM_FULL_ORACLES=1): every file under every
strategy, Block-STM with the lazy beneficiary on and off, every other strategy with it
on (1,190 runs, about 4 minutes on 2 cores), and every file under `bal`'s other
variants. Default (`make test`): every file under Block-STM, with the lazy
beneficiary on for every other file and off for the rest, and under one other
strategy, taken in turn, so that every strategy imports an eighth of the files (238
runs); `bal`'s other variants on an eighth of the files too."""

from pathlib import Path

import pytest
from eth_utils import ValidationError

from forms import FULL

from simulator.runs.fixtures import load_fixtures, run_fixture
from simulator.runs.spec import RunSpec
from simulator.strategies import STRATEGIES
from simulator.strategies.bal import Variant

FIXTURES = Path(__file__).parent / "fixtures" / "ethtests" / "BlockchainTests"
FILES = sorted(FIXTURES.rglob("*.json"))
# Filled in 2020 (Geth 1.9.14), before EIP-7610 (a creation onto an address with
# storage fails), which pevmsim follows (engine/pyevm_boundary.py item 11, checked
# against the executable specification in tests/test_eels.py): its header and postState
# expect the CREATE2 onto storage to succeed.
BEFORE_EIP_7610 = "create2collisionStorage.json"
RUNS = [("block-stm", False)] + [(strategy, True) for strategy in STRATEGIES]
OTHERS = [run for run in RUNS if run[0] != "block-stm"]
CASES = [(path, strategy, lazy) for index, path in enumerate(FILES)
         for strategy, lazy in RUNS
         if FULL or (strategy, lazy) == ("block-stm", index % 2 == 0)
         or OTHERS[index % len(OTHERS)] == (strategy, lazy)]


def test_all_fixture_files_are_vendored():
    tests = sum(len(load_fixtures(path)) for path in FILES)
    assert (len(FILES), tests) == (119, 1216)


def test_the_default_form_still_covers_every_file_and_strategy():
    assert {path for path, _, _ in CASES} == set(FILES)
    assert {strategy for _, strategy, _ in CASES} == set(STRATEGIES)
    assert {lazy for _, strategy, lazy in CASES if strategy == "block-stm"} == {True, False}


@pytest.mark.parametrize("path, strategy, lazy", CASES, ids=[
    f"{path.relative_to(FIXTURES)}-{strategy}-{'lazy' if lazy else 'eager'}"
    for path, strategy, lazy in CASES])
def test_fixture_file(path, strategy, lazy):
    for name, fixture in load_fixtures(path):
        check_fixture(path, fixture, RunSpec(strategy, 8, lazy_beneficiary=lazy))


def check_fixture(path, fixture, spec) -> None:
    """The fixture through `spec`; the file filled before EIP-7610 still runs
    parallel == serial, but its header is outdated and refused."""
    if path.name == BEFORE_EIP_7610:
        with pytest.raises(ValidationError, match="Mismatch between locally executed "
                           "block and proposed block"):
            run_fixture(fixture, spec)
    else:
        run_fixture(fixture, spec)


BAL_VARIANTS = [variant for variant in Variant if variant != Variant.FULL]


@pytest.mark.parametrize("variant", BAL_VARIANTS)
@pytest.mark.parametrize("path", FILES if FULL else FILES[3::8],
                         ids=lambda path: str(path.relative_to(FIXTURES)))
def test_fixture_file_under_bal_variants(path, variant):
    for name, fixture in load_fixtures(path):
        check_fixture(path, fixture, RunSpec("bal", 8, strategy_options={"variant": variant}))
