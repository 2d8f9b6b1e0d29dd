"""ethereum/tests as the oracle: every block of every vendored BlockchainTests fixture,
imported through a strategy on 8 simulated workers, must pass py-evm's header
validation and leave exactly the fixture's postState (but for one file filled before
EIP-7610, whose header pevmsim must refuse: BEFORE_EIP_7610).

Full form (`make test-full`, or PEVMSIM_FULL_ORACLES=1): every file under every
strategy, Block-STM with the lazy beneficiary on and off, every other strategy with it
on (1,071 runs, about 4 minutes on 2 cores). Default (`make test`): every file under
Block-STM, with the lazy beneficiary on for every other file and off for the rest,
and under one other strategy, taken in turn, so that every strategy imports a seventh
of the files (238 runs)."""

from pathlib import Path

import pytest
from eth_utils import ValidationError

from forms import FULL

from simulator.runs.fixtures import load_fixtures, run_fixture
from simulator.runs.spec import RunSpec
from simulator.strategies import STRATEGIES

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
        if path.name == BEFORE_EIP_7610:  # parallel == serial, but the header is outdated
            with pytest.raises(ValidationError, match="Mismatch between locally executed "
                               "block and proposed block"):
                run_fixture(fixture, RunSpec(strategy, 8, lazy_beneficiary=lazy))
        else:
            run_fixture(fixture, RunSpec(strategy, 8, lazy_beneficiary=lazy))
