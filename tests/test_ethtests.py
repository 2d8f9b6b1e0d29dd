"""ethereum/tests as the oracle: every block of every vendored BlockchainTests fixture,
imported through Block-STM on 8 simulated workers, must pass py-evm's header
validation and leave exactly the fixture's postState."""

from pathlib import Path

import pytest

from simulator.fixtures import load_fixtures, run_fixture

FIXTURES = Path(__file__).parent / "fixtures" / "ethtests" / "BlockchainTests"
FILES = sorted(FIXTURES.rglob("*.json"))


def test_all_fixture_files_are_vendored():
    tests = sum(len(load_fixtures(path)) for path in FILES)
    assert (len(FILES), tests) == (118, 1213)


@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(FIXTURES)))
def test_fixture_file_under_block_stm(path):
    for name, fixture in load_fixtures(path):
        run_fixture(fixture, "block-stm", threads=8)
