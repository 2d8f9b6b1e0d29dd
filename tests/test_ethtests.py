"""ethereum/tests as the oracle: every block of every vendored BlockchainTests fixture,
imported through a strategy on 8 simulated workers, must pass py-evm's header
validation and leave exactly the fixture's postState. Block-STM runs with the lazy
beneficiary on and off; every other strategy with it on."""

from pathlib import Path

import pytest

from simulator.fixtures import load_fixtures, run_fixture
from simulator.strategies import STRATEGIES

FIXTURES = Path(__file__).parent / "fixtures" / "ethtests" / "BlockchainTests"
FILES = sorted(FIXTURES.rglob("*.json"))
RUNS = [("block-stm", False)] + [(strategy, True) for strategy in STRATEGIES]


def test_all_fixture_files_are_vendored():
    tests = sum(len(load_fixtures(path)) for path in FILES)
    assert (len(FILES), tests) == (119, 1216)


@pytest.mark.parametrize("strategy, lazy", RUNS,
                         ids=[f"{s}-{'lazy' if lazy else 'eager'}" for s, lazy in RUNS])
@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(FIXTURES)))
def test_fixture_file(path, strategy, lazy):
    for name, fixture in load_fixtures(path):
        run_fixture(fixture, strategy, threads=8, lazy_beneficiary=lazy)
